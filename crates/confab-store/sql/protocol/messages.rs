//! Protocol messages: the shared messages with their reactions, attachments and edit time.
//!
//! The message events of the Protocol paths (`message.sent` of `POST /messages`, `message.updated`
//! of `PUT /messages/:id`) carry a snapshot ([`snapshot`]) that is the message's serde JSON (its
//! existing keys, read by the other faces and the event stream) plus what Protocol's webhook payload
//! needs: `protocol_reactions` (`{emoji: [usernames]}`), `protocol_attachments` (attachment
//! snapshots, `attachments.rs`), `protocol_edited_at` (the last `PUT` that changed it, RFC 3339, or
//! `null`) and `protocol_sender` (the sending contact's snapshot, `contacts.rs`, for a message from a
//! contact; `null` otherwise). The shared append writes `message.sent` before the attachments are
//! attached, so `send` rewrites that event's snapshot in the same, uncommitted transaction: no
//! reader has seen it yet. Attaching or detaching attachments appends their `attachment.updated`
//! after the message's event. The shared message paths give their later events (status changes,
//! read receipts, the delete's last state, taken before the row goes) the same keys through
//! [`load_one`] and [`snapshot`] (`sql/messages.rs`, `full_snapshot`).

use super::attachments;
use super::{contacts, cursor_anchor, into_page, push_page};
use crate::dialect::Db;
use crate::sql::conversations::load_for_update;
use crate::sql::conversations::Conn;
use crate::sql::events::append;
use crate::sql::messages::{append_in_tx, prefixed_columns, MessageRow, NewMessage};
use crate::sql::util::{at_opt, db, us, Tx};
use confab_core::model::*;
use confab_core::{AttachmentId, ConversationId, Error, MessageId, Resource, Result, TenantId};
use confab_store::{Cursor, CursorList, ProtocolMessage, ProtocolMessagePatch};
use serde_json::json;
use sqlx::types::Json;
use sqlx::{Pool, QueryBuilder};
use std::collections::BTreeMap;
use uuid::Uuid;

type Reactions = BTreeMap<String, Vec<String>>;

#[derive(sqlx::FromRow)]
struct Row {
    #[sqlx(flatten)]
    message: MessageRow,
    p_reactions: Json<Reactions>,
    p_edited_at: Option<i64>,
}

fn select() -> String {
    format!(
        "SELECT {}, m.reactions AS p_reactions, m.edited_at AS p_edited_at FROM messages m",
        prefixed_columns("m", "")
    )
}

/// Rows into messages with their attachments (one query for the page).
async fn with_attachments(conn: &mut Conn, rows: Vec<Row>) -> Result<Vec<ProtocolMessage>> {
    let parts: Vec<(Message, Reactions, Option<i64>)> =
        rows.into_iter().map(|r| (r.message.into(), r.p_reactions.0, r.p_edited_at)).collect();
    let ids: Vec<Uuid> = parts.iter().map(|(m, _, _)| m.id.0).collect();
    let mut files = attachments::of_messages(conn, &ids).await?;
    Ok(parts
        .into_iter()
        .map(|(message, reactions, edited)| ProtocolMessage {
            attachments: files.remove(&message.id.0).unwrap_or_default(),
            reactions,
            updated_at: at_opt(edited),
            message,
        })
        .collect())
}

/// A message event's snapshot on the Protocol paths (see the module doc).
pub(crate) async fn snapshot(conn: &mut Conn, tenant: TenantId, m: &ProtocolMessage) -> Result<serde_json::Value> {
    let sender = match (m.message.sender.kind, m.message.sender.id) {
        (ActorKind::Contact, Some(id)) => contacts::load(conn, tenant, &[id]).await?.pop(),
        _ => None,
    };
    let mut v = crate::sql::messages::snapshot(conn, &m.message).await?;
    if let Some(map) = v.as_object_mut() {
        map.insert("protocol_reactions".into(), json!(m.reactions));
        map.insert("protocol_attachments".into(), m.attachments.iter().map(attachments::snapshot).collect());
        map.insert("protocol_edited_at".into(), serde_json::to_value(m.updated_at).map_err(Error::internal)?);
        map.insert("protocol_sender".into(), sender.as_ref().map(contacts::snapshot).transpose()?.into());
    }
    Ok(v)
}

/// Replaces the snapshot of message `id`'s `message.sent` event, appended earlier in this same
/// transaction (see the module doc).
async fn resnapshot_sent(tx: &mut Tx, tenant: TenantId, id: MessageId, snapshot: serde_json::Value) -> Result<()> {
    sqlx::query("UPDATE events SET snapshot = $1 WHERE tenant_id = $2 AND subject_id = $3 AND event_type = $4")
        .bind(Json(&snapshot))
        .bind(tenant.0)
        .bind(id.0)
        .bind(EventType::MessageSent.as_str())
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    Ok(())
}

pub(crate) async fn load_one(conn: &mut Conn, tenant: TenantId, id: MessageId) -> Result<ProtocolMessage> {
    let row: Option<Row> = sqlx::query_as::<Db, Row>(&format!("{} WHERE m.tenant_id = $1 AND m.id = $2", select()))
        .bind(tenant.0)
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    let row = row.ok_or_else(|| Error::not_found(Resource::Message))?;
    Ok(with_attachments(conn, vec![row]).await?.pop().expect("one row in, one message out"))
}

pub(crate) async fn list(
    pool: &Pool<Db>,
    ctx: &Ctx,
    conversation: Option<ConversationId>,
    cursor: Cursor,
) -> Result<CursorList<ProtocolMessage>> {
    let mut conn = pool.acquire().await.map_err(db)?;
    if let Some(c) = conversation {
        let found: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM conversations WHERE tenant_id = $1 AND id = $2")
            .bind(ctx.tenant.0)
            .bind(c.0)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
        if found.is_none() {
            return Err(Error::not_found_field(Resource::Conversation, "conversation_id"));
        }
    }
    let anchor = cursor_anchor(&mut conn, "messages", ctx.tenant, cursor, "message").await?;
    let mut q = QueryBuilder::<Db>::new(select());
    q.push(" WHERE m.tenant_id = ").push_bind(ctx.tenant.0);
    if let Some(c) = conversation {
        q.push(" AND m.conversation_id = ").push_bind(c.0);
    }
    push_page(&mut q, "m", cursor, anchor);
    let rows: Vec<Row> = q.build_query_as().fetch_all(&mut *conn).await.map_err(db)?;
    let items = with_attachments(&mut conn, rows).await?;
    Ok(into_page(items, cursor))
}

/// An outbound text message from the context's actor with its attachments, in one transaction (the
/// shared append: counters, last message, `message.sent`). 404 naming `conversation_id` or
/// `attachments`; `CHANNEL_NOT_CONNECTED` (refused) when the conversation's channel is inactive.
pub(crate) async fn send(
    pool: &Pool<Db>,
    ctx: &Ctx,
    conversation: ConversationId,
    text: String,
    files: &[AttachmentId],
) -> Result<ProtocolMessage> {
    let now = confab_core::time::now();
    let mut tx = pool.begin().await.map_err(db)?;
    let mut conv = load_for_update(&mut tx, ctx.tenant, conversation).await.map_err(|e| match e {
        Error::NotFound { .. } => Error::not_found_field(Resource::Conversation, "conversation_id"),
        e => e,
    })?;
    if let Some(channel) = conv.channel_id {
        let status: Option<(String,)> = sqlx::query_as("SELECT status FROM channels WHERE tenant_id = $1 AND id = $2")
            .bind(ctx.tenant.0)
            .bind(channel.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if status.is_some_and(|(s,)| s != "active") {
            return Err(Error::Refused {
                code: "CHANNEL_NOT_CONNECTED",
                message: "The channel is inactive: activate it before it takes or sends messages.".into(),
            });
        }
    }
    let mut content = JsonMap::new();
    content.insert("type".into(), json!("text"));
    content.insert("text".into(), json!(text));
    let new = NewMessage {
        direction: Direction::Outbound,
        sender: ctx.actor.clone(),
        content,
        metadata: JsonMap::new(),
        external_id: None,
        sent_at: None,
    };
    let message = append_in_tx(&mut tx, ctx, &mut conv, new, now).await?;
    attachments::attach(&mut tx, ctx.tenant, &message, files).await?;
    let out = load_one(&mut tx, ctx.tenant, message.id).await?;
    let snap = snapshot(&mut tx, ctx.tenant, &out).await?;
    resnapshot_sent(&mut tx, ctx.tenant, message.id, snap).await?;
    let mut moved: Vec<AttachmentId> = Vec::new();
    for id in files {
        if !moved.contains(id) {
            moved.push(*id);
        }
    }
    attachments::emit_moved(&mut tx, ctx, &moved, now).await?;
    tx.commit().await.map_err(db)?;
    Ok(out)
}

pub(crate) async fn update(
    pool: &Pool<Db>,
    ctx: &Ctx,
    id: MessageId,
    patch: ProtocolMessagePatch,
) -> Result<ProtocolMessage> {
    let now = confab_core::time::now();
    let mut tx = pool.begin().await.map_err(db)?;
    let before = load_one(&mut tx, ctx.tenant, id).await?;
    let mut changed = Vec::new();
    let mut moved: Vec<AttachmentId> = Vec::new();
    if let Some(text) = patch.text.filter(|t| Some(t) != before.message.text.as_ref()) {
        let mut content = JsonMap::new();
        content.insert("type".into(), json!("text"));
        content.insert("text".into(), json!(text));
        sqlx::query("UPDATE messages SET content = $1, content_type = 'text', text = $2 WHERE id = $3")
            .bind(Json(&content))
            .bind(&text)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        changed.push("text");
    }
    if let Some(reactions) = patch.reactions.filter(|r| *r != before.reactions) {
        sqlx::query("UPDATE messages SET reactions = $1 WHERE id = $2")
            .bind(Json(&reactions))
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        changed.push("reactions");
    }
    if let Some(files) = patch.attachments {
        let current: Vec<_> = before.attachments.iter().map(|a| a.id).collect();
        if files != current {
            attachments::detach_all(&mut tx, id).await?;
            attachments::attach(&mut tx, ctx.tenant, &before.message, &files).await?;
            changed.push("attachments");
            // Detached ones and newly attached ones changed their `message_id`.
            for a in current.iter().filter(|a| !files.contains(a)).chain(files.iter().filter(|a| !current.contains(a)))
            {
                if !moved.contains(a) {
                    moved.push(*a);
                }
            }
        }
    }
    if changed.is_empty() {
        tx.commit().await.map_err(db)?;
        return Ok(before);
    }
    sqlx::query("UPDATE messages SET edited_at = $1 WHERE id = $2")
        .bind(us(now))
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    let after = load_one(&mut tx, ctx.tenant, id).await?;
    let event = NewEvent {
        event_type: EventType::MessageUpdated,
        subject_id: id.0,
        conversation_id: Some(after.message.conversation_id),
        snapshot: snapshot(&mut tx, ctx.tenant, &after).await?,
        data: json!({ "conversationId": after.message.conversation_id, "changed": changed,
            "reactions": after.reactions }),
    };
    append(&mut tx, ctx.tenant, &ctx.actor, event, now).await?;
    attachments::emit_moved(&mut tx, ctx, &moved, now).await?;
    tx.commit().await.map_err(db)?;
    Ok(after)
}
