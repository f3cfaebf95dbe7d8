//! Protocol conversations: the cursor list with its boolean filters, one conversation per contact
//! (channel-less, `source = 'protocol'`) and per group, the partial update, per-user last-opened.

use super::{cursor_anchor, into_page, push_page};
use crate::dialect::Db;
use crate::sql::conversations::{finish, insert, load_for_update, load_view, save, view_select, views, ViewRow};
use crate::sql::util::{at, db, us, Tx};
use confab_core::model::*;
use confab_core::{ConversationId, Error, GroupId, Resource, Result, Time, UserId};
use confab_store::{Cursor, CursorList, ProtocolConversationFilter, ProtocolConversationPatch, ProtocolTarget};
use serde_json::json;
use sqlx::{Pool, QueryBuilder};
use std::collections::HashMap;
use uuid::Uuid;

/// The source that marks a contact's Protocol conversation (and a group's).
pub(crate) const SOURCE: &str = "protocol";

pub(crate) async fn list(
    pool: &Pool<Db>,
    ctx: &Ctx,
    f: &ProtocolConversationFilter,
    cursor: Cursor,
) -> Result<CursorList<ConversationView>> {
    let mut conn = pool.acquire().await.map_err(db)?;
    let anchor = cursor_anchor(&mut conn, "conversations", ctx.tenant, cursor, "conversation").await?;
    let mut q = QueryBuilder::<Db>::new(view_select());
    q.push(" WHERE c.tenant_id = ").push_bind(ctx.tenant.0);
    if let Some(muted) = f.muted {
        q.push(" AND c.is_muted = ").push_bind(muted);
    }
    if let Some(pinned) = f.pinned {
        q.push(" AND c.is_pinned = ").push_bind(pinned);
    }
    match f.archived {
        Some(true) => {
            q.push(" AND c.archived_at IS NOT NULL");
        }
        Some(false) => {
            q.push(" AND c.archived_at IS NULL");
        }
        None => {}
    }
    if let Some(g) = f.group_id {
        q.push(" AND c.group_id = ").push_bind(g.0);
    }
    push_page(&mut q, "c", cursor, anchor);
    let rows: Vec<ViewRow> = q.build_query_as().fetch_all(&mut *conn).await.map_err(db)?;
    let items = views(&mut conn, rows).await?;
    Ok(into_page(items, cursor))
}

/// The conversation of a contact (channel-less, Protocol's) or of a group, if it exists.
async fn existing(tx: &mut Tx, ctx: &Ctx, target: ProtocolTarget) -> Result<Option<ConversationId>> {
    let row: Option<(Uuid,)> = match target {
        ProtocolTarget::Contact(id) => sqlx::query_as(
            "SELECT id FROM conversations WHERE tenant_id = $1 AND contact_id = $2 AND source = 'protocol'
             AND group_id IS NULL",
        )
        .bind(ctx.tenant.0)
        .bind(id.0),
        ProtocolTarget::Group(id) => {
            sqlx::query_as("SELECT id FROM conversations WHERE tenant_id = $1 AND group_id = $2")
                .bind(ctx.tenant.0)
                .bind(id.0)
        }
    }
    .fetch_optional(&mut **tx)
    .await
    .map_err(db)?;
    Ok(row.map(|(id,)| ConversationId(id)))
}

/// The target's conversation, created (with `conversation.created`) when it has none; `true` when
/// it was created. 404 naming `contact_id`/`group_id` when the target does not exist.
pub(crate) async fn open(
    tx: &mut Tx,
    ctx: &Ctx,
    target: ProtocolTarget,
    now: Time,
) -> Result<(ConversationView, bool)> {
    let (table, id, resource, field) = match target {
        ProtocolTarget::Contact(id) => ("contacts", id.0, Resource::Contact, "contact_id"),
        ProtocolTarget::Group(id) => ("contact_groups", id.0, Resource::Group, "group_id"),
    };
    let found: Option<(Uuid,)> = sqlx::query_as(&format!("SELECT id FROM {table} WHERE tenant_id = $1 AND id = $2"))
        .bind(ctx.tenant.0)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)?;
    if found.is_none() {
        return Err(Error::not_found_field(resource, field));
    }
    if let Some(id) = existing(tx, ctx, target).await? {
        let view = load_view(tx, ctx.tenant, id).await?.ok_or_else(|| Error::not_found(Resource::Conversation))?;
        return Ok((view, false));
    }
    let mut c = Conversation::new(ctx.tenant, now);
    c.source = Some(SOURCE.to_string());
    match target {
        ProtocolTarget::Contact(id) => c.contact_id = Some(id),
        ProtocolTarget::Group(id) => c.group_id = Some(id),
    }
    insert(tx, &c).await?;
    let view = finish(tx, ctx, c.id, Some(EventType::ConversationCreated), json!({}), now).await?;
    Ok((view, true))
}

/// The group's conversation id, if any.
pub(crate) async fn of_group(conn: &mut crate::sql::conversations::Conn, group: GroupId) -> Result<Option<Uuid>> {
    let row: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM conversations WHERE group_id = $1")
        .bind(group.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    Ok(row.map(|(id,)| id))
}

pub(crate) async fn update(
    pool: &Pool<Db>,
    ctx: &Ctx,
    id: ConversationId,
    patch: ProtocolConversationPatch,
) -> Result<ConversationView> {
    let now = confab_core::time::now();
    let mut tx = pool.begin().await.map_err(db)?;
    let mut conv = load_for_update(&mut tx, ctx.tenant, id).await?;
    let mut changed = Vec::new();
    if let Some(pinned) = patch.pinned_message_id {
        if let Some(m) = pinned {
            let found: Option<(Uuid,)> =
                sqlx::query_as("SELECT id FROM messages WHERE tenant_id = $1 AND id = $2 AND conversation_id = $3")
                    .bind(ctx.tenant.0)
                    .bind(m.0)
                    .bind(id.0)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
            if found.is_none() {
                return Err(Error::not_found_field(Resource::Message, "pinned_message_id"));
            }
        }
        if conv.pinned_message_id != pinned {
            conv.pinned_message_id = pinned;
            changed.push("pinnedMessageId");
        }
    }
    if let Some(v) = patch.is_pinned.filter(|v| *v != conv.is_pinned) {
        conv.is_pinned = v;
        changed.push("isPinned");
    }
    if let Some(v) = patch.is_muted.filter(|v| *v != conv.is_muted) {
        conv.is_muted = v;
        changed.push("isMuted");
    }
    if let Some(v) = patch.archived_at.filter(|v| *v != conv.archived_at) {
        conv.archived_at = v;
        changed.push("archivedAt");
    }
    if changed.is_empty() {
        let view = load_view(&mut tx, ctx.tenant, id).await?.ok_or_else(|| Error::not_found(Resource::Conversation))?;
        tx.commit().await.map_err(db)?;
        return Ok(view);
    }
    conv.updated_at = now;
    save(&mut tx, &conv).await?;
    let view =
        finish(&mut tx, ctx, id, Some(EventType::ConversationUpdated), json!({ "changed": changed }), now).await?;
    tx.commit().await.map_err(db)?;
    Ok(view)
}

pub(crate) async fn last_opened(
    pool: &Pool<Db>,
    user: UserId,
    ids: &[ConversationId],
) -> Result<HashMap<ConversationId, Time>> {
    let mut out = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let mut q = QueryBuilder::<Db>::new("SELECT conversation_id, opened_at FROM conversation_reads WHERE user_id = ");
    q.push_bind(user.0).push(" AND conversation_id IN (");
    let mut sep = q.separated(", ");
    for id in ids {
        sep.push_bind(id.0);
    }
    q.push(")");
    let rows: Vec<(Uuid, i64)> = q.build_query_as().fetch_all(pool).await.map_err(db)?;
    for (id, t) in rows {
        out.insert(ConversationId(id), at(t));
    }
    Ok(out)
}

pub(crate) async fn record_opened(pool: &Pool<Db>, user: UserId, opened: &[(ConversationId, Time)]) -> Result<()> {
    let mut tx = pool.begin().await.map_err(db)?;
    for (id, t) in opened {
        // A conversation deleted meanwhile is skipped (no row to refer to).
        sqlx::query(
            "INSERT INTO conversation_reads (conversation_id, user_id, opened_at)
             SELECT c.id, $2, $3 FROM conversations c WHERE c.id = $1
             ON CONFLICT (conversation_id, user_id) DO UPDATE SET opened_at =
                CASE WHEN excluded.opened_at > conversation_reads.opened_at THEN excluded.opened_at
                     ELSE conversation_reads.opened_at END",
        )
        .bind(id.0)
        .bind(user.0)
        .bind(us(*t))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    }
    tx.commit().await.map_err(db)?;
    Ok(())
}
