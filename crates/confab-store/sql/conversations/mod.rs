//! Conversations: loading a conversation with the names it refers to and its last message (one
//! query, plus one for the tags of a whole page), saving it, and the lifecycle operations.

mod actions;
mod airy;
mod delete;
mod lifecycle;
mod list;
mod participants;

pub(crate) use delete::delete_in_tx;
pub(crate) use lifecycle::{active_on_channel, close_in_tx};
pub(crate) use participants::add_participant;

use super::events::append;
use super::util::{actor_json, at, at_opt, db, us, us_opt, Tx};
use crate::dialect::{Db, FOR_UPDATE};
use confab_core::model::*;
use confab_core::{
    time, BotId, ChannelId, ContactId, ConversationId, Error, GroupId, InboxId, MessageId, Resource, Result, TagId,
    TenantId, Time,
};
use sqlx::types::Json;
use sqlx::QueryBuilder;
use std::collections::HashMap;
use uuid::Uuid;

/// A connection of the backend, from a pool or inside a transaction (`&mut **tx`).
pub(crate) type Conn = <Db as sqlx::Database>::Connection;

const CONV_COLUMNS: &str = "c.id, c.tenant_id, c.channel_id, c.channel_type, c.contact_id, c.subject, c.status,
    c.snoozed_until, c.state_label, c.priority, c.assignee_type, c.assignee_id, c.bot_id, c.metadata, c.message_count,
    c.unread_count, c.first_message_at, c.last_message_at, c.last_message_id, c.closed_at, c.closed_by, c.resolution,
    c.closure_reason, c.reopened_at, c.reopened_by, c.assigned_at, c.assigned_by, c.transferred_at,
    c.transferred_by, c.source, c.inbox_id, c.group_id, c.pinned_message_id, c.is_pinned, c.is_muted,
    c.archived_at, c.created_at, c.updated_at";

/// The view's query: the conversation with its channel, contact, assignee, bot and last message in
/// one pass (the last message by primary key, its columns prefixed `lm_`).
pub(crate) fn view_select() -> String {
    let last_message = super::messages::prefixed_columns("lm", "lm_");
    format!(
        "SELECT {CONV_COLUMNS}, {last_message},
            ch.name AS ch_name, ch.channel_type AS ch_type,
            ct.name AS ct_name, ct.phone AS ct_phone, ct.email AS ct_email, ct.avatar_url AS ct_avatar,
            ct.metadata AS ct_metadata,
            COALESCE(au.name, ab.name) AS assignee_name,
            b.name AS bot_name, b.active AS bot_active
         FROM conversations c
         LEFT JOIN channels ch ON ch.id = c.channel_id
         LEFT JOIN contacts ct ON ct.id = c.contact_id
         LEFT JOIN users au ON c.assignee_type = 'user' AND au.id = c.assignee_id
         LEFT JOIN bots ab ON c.assignee_type = 'bot' AND ab.id = c.assignee_id
         LEFT JOIN bots b ON b.id = c.bot_id
         LEFT JOIN messages lm ON lm.id = c.last_message_id"
    )
}

#[derive(sqlx::FromRow)]
pub(crate) struct ConvRow {
    id: Uuid,
    tenant_id: Uuid,
    channel_id: Option<Uuid>,
    channel_type: Option<String>,
    contact_id: Option<Uuid>,
    subject: Option<String>,
    status: String,
    snoozed_until: Option<i64>,
    state_label: Option<String>,
    priority: i64,
    assignee_type: Option<String>,
    assignee_id: Option<Uuid>,
    bot_id: Option<Uuid>,
    metadata: Json<JsonMap>,
    message_count: i64,
    unread_count: i64,
    first_message_at: Option<i64>,
    last_message_at: Option<i64>,
    last_message_id: Option<Uuid>,
    closed_at: Option<i64>,
    closed_by: Option<Json<Actor>>,
    resolution: Option<String>,
    closure_reason: Option<String>,
    reopened_at: Option<i64>,
    reopened_by: Option<Json<Actor>>,
    assigned_at: Option<i64>,
    assigned_by: Option<Json<Actor>>,
    transferred_at: Option<i64>,
    transferred_by: Option<Json<Actor>>,
    source: Option<String>,
    inbox_id: Option<Uuid>,
    group_id: Option<Uuid>,
    pinned_message_id: Option<Uuid>,
    is_pinned: bool,
    is_muted: bool,
    archived_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl From<ConvRow> for Conversation {
    fn from(r: ConvRow) -> Self {
        let assignee = match (r.assignee_type.as_deref().and_then(ActorKind::parse), r.assignee_id) {
            (Some(kind), Some(id)) => Some(Assignee { kind, id }),
            _ => None,
        };
        Conversation {
            id: ConversationId(r.id),
            tenant_id: TenantId(r.tenant_id),
            channel_id: r.channel_id.map(ChannelId),
            channel_type: r.channel_type,
            contact_id: r.contact_id.map(ContactId),
            subject: r.subject,
            status: Status::parse(&r.status).unwrap_or(Status::Open),
            snoozed_until: at_opt(r.snoozed_until),
            state_label: r.state_label,
            priority: Priority::from_rank(r.priority),
            assignee,
            bot_id: r.bot_id.map(BotId),
            metadata: r.metadata.0,
            message_count: r.message_count,
            unread_count: r.unread_count,
            first_message_at: at_opt(r.first_message_at),
            last_message_at: at_opt(r.last_message_at),
            last_message_id: r.last_message_id.map(MessageId),
            closed_at: at_opt(r.closed_at),
            closed_by: r.closed_by.map(|j| j.0),
            resolution: r.resolution.as_deref().and_then(Resolution::parse),
            closure_reason: r.closure_reason,
            reopened_at: at_opt(r.reopened_at),
            reopened_by: r.reopened_by.map(|j| j.0),
            assigned_at: at_opt(r.assigned_at),
            assigned_by: r.assigned_by.map(|j| j.0),
            transferred_at: at_opt(r.transferred_at),
            transferred_by: r.transferred_by.map(|j| j.0),
            source: r.source,
            inbox_id: r.inbox_id.map(InboxId),
            group_id: r.group_id.map(GroupId),
            pinned_message_id: r.pinned_message_id.map(MessageId),
            is_pinned: r.is_pinned,
            is_muted: r.is_muted,
            archived_at: at_opt(r.archived_at),
            created_at: at(r.created_at),
            updated_at: at(r.updated_at),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ViewRow {
    #[sqlx(flatten)]
    conv: ConvRow,
    ch_name: Option<String>,
    ch_type: Option<String>,
    ct_name: Option<String>,
    ct_phone: Option<String>,
    ct_email: Option<String>,
    ct_avatar: Option<String>,
    ct_metadata: Option<Json<JsonMap>>,
    assignee_name: Option<String>,
    bot_name: Option<String>,
    bot_active: Option<bool>,
    #[sqlx(flatten)]
    last_message: super::messages::LastMessageRow,
}

impl ViewRow {
    fn into_view(self, tags: Vec<(String, TagId)>) -> ConversationView {
        let conversation: Conversation = self.conv.into();
        let channel = conversation.channel_id.map(|id| ChannelRef {
            id,
            channel_type: self.ch_type.as_deref().and_then(ChannelType::parse).unwrap_or(ChannelType::Api),
            name: self.ch_name.unwrap_or_default(),
        });
        let contact = conversation.contact_id.map(|id| ContactRef {
            id,
            name: self.ct_name,
            phone: self.ct_phone,
            email: self.ct_email,
            avatar_url: self.ct_avatar,
            metadata: self.ct_metadata.map(|j| j.0).unwrap_or_default(),
        });
        let assignee_ref = conversation.assignee.map(|a| Actor {
            kind: a.kind,
            id: Some(a.id),
            name: self.assignee_name.unwrap_or_default(),
        });
        let bot = conversation.bot_id.map(|id| BotRef {
            id,
            name: self.bot_name.unwrap_or_default(),
            active: self.bot_active.unwrap_or(false),
        });
        let last_message = self.last_message.into_message();
        let (tags, tag_ids) = tags.into_iter().unzip();
        ConversationView { conversation, channel, contact, assignee_ref, bot, tags, tag_ids, last_message }
    }
}

/// Tag names and ids of each of `ids`, in the order they were added: one query for a whole page.
pub(crate) async fn tags_of(conn: &mut Conn, ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<(String, TagId)>>> {
    let mut out: HashMap<Uuid, Vec<(String, TagId)>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let mut q = QueryBuilder::<Db>::new(
        "SELECT ct.conversation_id, t.name, t.id FROM conversation_tags ct JOIN tags t ON t.id = ct.tag_id
         WHERE ct.conversation_id IN (",
    );
    let mut sep = q.separated(", ");
    for id in ids {
        sep.push_bind(*id);
    }
    q.push(") ORDER BY ct.position");
    let rows: Vec<(Uuid, String, Uuid)> = q.build_query_as().fetch_all(&mut *conn).await.map_err(db)?;
    for (id, name, tag) in rows {
        out.entry(id).or_default().push((name, TagId(tag)));
    }
    Ok(out)
}

/// Turns view rows into views, loading their tags in one query.
pub(crate) async fn views(conn: &mut Conn, rows: Vec<ViewRow>) -> Result<Vec<ConversationView>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.conv.id).collect();
    let mut tags = tags_of(conn, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let t = tags.remove(&r.conv.id).unwrap_or_default();
            r.into_view(t)
        })
        .collect())
}

/// The view of one conversation of the tenant.
pub(crate) async fn load_view(
    conn: &mut Conn,
    tenant: TenantId,
    id: ConversationId,
) -> Result<Option<ConversationView>> {
    let row: Option<ViewRow> =
        sqlx::query_as::<Db, ViewRow>(&format!("{} WHERE c.tenant_id = $1 AND c.id = $2", view_select()))
            .bind(tenant.0)
            .bind(id.0)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
    match row {
        None => Ok(None),
        Some(row) => Ok(views(conn, vec![row]).await?.pop()),
    }
}

/// Loads a conversation for a read-modify-write (locked on PostgreSQL). 404 when it is not the
/// tenant's.
pub(crate) async fn load_for_update(tx: &mut Tx, tenant: TenantId, id: ConversationId) -> Result<Conversation> {
    let row: Option<ConvRow> = sqlx::query_as::<Db, ConvRow>(&format!(
        "SELECT {CONV_COLUMNS} FROM conversations c WHERE c.tenant_id = $1 AND c.id = $2{FOR_UPDATE}"
    ))
    .bind(tenant.0)
    .bind(id.0)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db)?;
    row.map(Into::into).ok_or_else(|| Error::not_found(Resource::Conversation))
}

/// Maps a violation of the one-active-conversation index to 409 `CONVERSATION_EXISTS`.
pub(crate) fn conversation_conflict(e: sqlx::Error) -> Error {
    match super::util::unique_violation(&e) {
        Some(c) if c.contains("contact_id") => Error::conflict(
            "CONVERSATION_EXISTS",
            "The contact already has an active (open, pending or snoozed) conversation on this channel.",
        ),
        _ => db(e),
    }
}

/// Writes every mutable column of `c`.
pub(crate) async fn save(tx: &mut Tx, c: &Conversation) -> Result<()> {
    sqlx::query(
        "UPDATE conversations SET channel_id = $3, contact_id = $4, subject = $5, status = $6, snoozed_until = $7,
            priority = $8, assignee_type = $9, assignee_id = $10, bot_id = $11, metadata = $12, message_count = $13,
            unread_count = $14, first_message_at = $15, last_message_at = $16, closed_at = $17, closed_by = $18,
            resolution = $19, closure_reason = $20, reopened_at = $21, reopened_by = $22, assigned_at = $23,
            assigned_by = $24, transferred_at = $25, transferred_by = $26, source = $27, updated_at = $28,
            last_message_id = $29, state_label = $30, inbox_id = $31, group_id = $32, pinned_message_id = $33,
            is_pinned = $34, is_muted = $35, archived_at = $36
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(c.tenant_id.0)
    .bind(c.id.0)
    .bind(c.channel_id.map(|x| x.0))
    .bind(c.contact_id.map(|x| x.0))
    .bind(&c.subject)
    .bind(c.status.as_str())
    .bind(us_opt(c.snoozed_until))
    .bind(c.priority.rank())
    .bind(c.assignee.map(|a| a.kind.as_str()))
    .bind(c.assignee.map(|a| a.id))
    .bind(c.bot_id.map(|x| x.0))
    .bind(Json(&c.metadata))
    .bind(c.message_count)
    .bind(c.unread_count)
    .bind(us_opt(c.first_message_at))
    .bind(us_opt(c.last_message_at))
    .bind(us_opt(c.closed_at))
    .bind(actor_json(&c.closed_by))
    .bind(c.resolution.map(|r| r.as_str()))
    .bind(&c.closure_reason)
    .bind(us_opt(c.reopened_at))
    .bind(actor_json(&c.reopened_by))
    .bind(us_opt(c.assigned_at))
    .bind(actor_json(&c.assigned_by))
    .bind(us_opt(c.transferred_at))
    .bind(actor_json(&c.transferred_by))
    .bind(&c.source)
    .bind(us(c.updated_at))
    .bind(c.last_message_id.map(|m| m.0))
    .bind(&c.state_label)
    .bind(c.inbox_id.map(|x| x.0))
    .bind(c.group_id.map(|x| x.0))
    .bind(c.pinned_message_id.map(|x| x.0))
    .bind(c.is_pinned)
    .bind(c.is_muted)
    .bind(us_opt(c.archived_at))
    .execute(&mut **tx)
    .await
    .map_err(conversation_conflict)?;
    Ok(())
}

/// The INSERT of a new conversation row (no messages yet), before any conflict clause.
const INSERT: &str =
    "INSERT INTO conversations (id, tenant_id, channel_id, channel_type, contact_id, subject, status, snoozed_until,
        priority, assignee_type, assignee_id, bot_id, metadata, message_count, unread_count, assigned_at,
        assigned_by, source, created_at, updated_at, inbox_id, group_id, is_pinned, is_muted, archived_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0, 0, $14, $15, $16, $17, $17, $18, $19, $20, $21,
        $22)";

/// Inserts a new conversation row; a violation of the one-active index is 409 `CONVERSATION_EXISTS`.
pub(crate) async fn insert(tx: &mut Tx, c: &Conversation) -> Result<()> {
    insert_with(tx, c, "").await.map(|_| ())
}

/// Inserts a new active conversation unless the contact already has an active one on the channel
/// (then nothing is written and it returns `false`: the caller reads that one). The conflict clause
/// names the partial index of the one-active rule, so a concurrent insert neither fails nor leaves a
/// PostgreSQL transaction aborted: it waits for the other transaction and then inserts nothing.
pub(crate) async fn insert_unless_active(tx: &mut Tx, c: &Conversation) -> Result<bool> {
    insert_with(
        tx,
        c,
        " ON CONFLICT (tenant_id, contact_id, channel_id)
          WHERE status <> 'closed' AND contact_id IS NOT NULL AND channel_id IS NOT NULL DO NOTHING",
    )
    .await
}

async fn insert_with(tx: &mut Tx, c: &Conversation, on_conflict: &str) -> Result<bool> {
    let done = sqlx::query(&format!("{INSERT}{on_conflict}"))
        .bind(c.id.0)
        .bind(c.tenant_id.0)
        .bind(c.channel_id.map(|x| x.0))
        .bind(&c.channel_type)
        .bind(c.contact_id.map(|x| x.0))
        .bind(&c.subject)
        .bind(c.status.as_str())
        .bind(us_opt(c.snoozed_until))
        .bind(c.priority.rank())
        .bind(c.assignee.map(|a| a.kind.as_str()))
        .bind(c.assignee.map(|a| a.id))
        .bind(c.bot_id.map(|x| x.0))
        .bind(Json(&c.metadata))
        .bind(us_opt(c.assigned_at))
        .bind(actor_json(&c.assigned_by))
        .bind(&c.source)
        .bind(us(c.created_at))
        .bind(c.inbox_id.map(|x| x.0))
        .bind(c.group_id.map(|x| x.0))
        .bind(c.is_pinned)
        .bind(c.is_muted)
        .bind(us_opt(c.archived_at))
        .execute(&mut **tx)
        .await
        .map_err(conversation_conflict)?;
    Ok(done.rows_affected() == 1)
}

/// Ends a change: reads the conversation back as a view, appends the event with that snapshot, and
/// returns the view. The caller commits.
pub(crate) async fn finish(
    tx: &mut Tx,
    ctx: &Ctx,
    id: ConversationId,
    event_type: Option<EventType>,
    data: serde_json::Value,
    now: Time,
) -> Result<ConversationView> {
    let view = load_view(tx, ctx.tenant, id).await?.ok_or_else(|| Error::not_found(Resource::Conversation))?;
    if let Some(event_type) = event_type {
        let event = NewEvent {
            event_type,
            subject_id: id.0,
            conversation_id: Some(id),
            snapshot: serde_json::to_value(&view).map_err(Error::internal)?,
            data,
        };
        append(tx, ctx.tenant, &ctx.actor, event, now).await?;
    }
    Ok(view)
}

/// The ids of tags named `names` (trimmed, validated), creating the missing ones (each with its
/// `tag.created` event).
pub(crate) async fn ensure_tags(tx: &mut Tx, ctx: &Ctx, names: &[String]) -> Result<Vec<TagId>> {
    let tenant = ctx.tenant;
    let at_time = time::now();
    let now = us(at_time);
    let mut ids = Vec::with_capacity(names.len());
    for name in names {
        let created = sqlx::query(
            "INSERT INTO tags (id, tenant_id, name, color, created_at) VALUES ($1, $2, $3, 'tag-blue', $4)
             ON CONFLICT (tenant_id, name) DO NOTHING",
        )
        .bind(Uuid::now_v7())
        .bind(tenant.0)
        .bind(name)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
        let (id, color): (Uuid, String) =
            sqlx::query_as("SELECT id, color FROM tags WHERE tenant_id = $1 AND name = $2")
                .bind(tenant.0)
                .bind(name)
                .fetch_one(&mut **tx)
                .await
                .map_err(db)?;
        if created.rows_affected() > 0 {
            let tag = Tag { id: TagId(id), tenant_id: tenant, name: name.clone(), color, created_at: at_time };
            crate::sql::tags::emit_tag_created(tx, ctx, &tag, at_time).await?;
        }
        if !ids.contains(&TagId(id)) {
            ids.push(TagId(id));
        }
    }
    Ok(ids)
}

/// Replaces the tags of a conversation with `names`, in that order.
pub(crate) async fn set_tags(tx: &mut Tx, ctx: &Ctx, id: ConversationId, names: &[String]) -> Result<()> {
    let tag_ids = ensure_tags(tx, ctx, names).await?;
    sqlx::query("DELETE FROM conversation_tags WHERE conversation_id = $1")
        .bind(id.0)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    for (pos, tag) in tag_ids.iter().enumerate() {
        sqlx::query("INSERT INTO conversation_tags (conversation_id, tag_id, position) VALUES ($1, $2, $3)")
            .bind(id.0)
            .bind(tag.0)
            .bind(pos as i64)
            .execute(&mut **tx)
            .await
            .map_err(db)?;
    }
    Ok(())
}

/// Appends tags (by name) after the existing ones; tags already there are kept where they are.
pub(crate) async fn add_tags(tx: &mut Tx, ctx: &Ctx, id: ConversationId, names: &[String]) -> Result<()> {
    let tag_ids = ensure_tags(tx, ctx, names).await?;
    let (max,): (Option<i64>,) =
        sqlx::query_as("SELECT MAX(position) FROM conversation_tags WHERE conversation_id = $1")
            .bind(id.0)
            .fetch_one(&mut **tx)
            .await
            .map_err(db)?;
    let mut next = max.map_or(0, |m| m + 1);
    for tag in tag_ids {
        let done = sqlx::query(
            "INSERT INTO conversation_tags (conversation_id, tag_id, position) VALUES ($1, $2, $3)
             ON CONFLICT (conversation_id, tag_id) DO NOTHING",
        )
        .bind(id.0)
        .bind(tag.0)
        .bind(next)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
        next += done.rows_affected() as i64;
    }
    Ok(())
}
