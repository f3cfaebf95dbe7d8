//! What Airy's `messages.*` need beyond the other faces: a conversation's messages from a message on
//! (`messages.list` cursors are message ids), and the resend of a failed message.
//!
//! Decisions:
//! - **Order** newest first: created time, then id, both descending — the order of every other
//!   message list and of the conversation's last message, so the first message of the first page
//!   is the conversation's `last_message` (ids are time-ordered, so the tie still puts the newer
//!   first; Airy breaks ties by id ascending).
//! - **Cursor**: the page starts *at* the message named (included) — Airy's `next_cursor` is the
//!   first message of the next page. A message of another conversation (or none) is 400 naming
//!   `cursor`; Airy answered 500, and ignored the cursor altogether when the conversation had no
//!   more than a page of messages, which Confab does not copy.
//! - **Resend** (`message.sent` again): the message goes back to `pending` as a new send — status
//!   history gains a `pending` step, the error and the sent/delivered/failed stamps are cleared (the
//!   history keeps them) — and `message.sent` is appended again (data `{conversationId, resent:
//!   true}`), the event connectors and webhooks already deliver outbound messages from. Only a
//!   `failed` message can be resent (409 `MESSAGE_NOT_FAILED` otherwise, Airy's "Message is not in a
//!   failed state"); only outbound messages ever fail. The conversation is not touched: its last
//!   message is read live.

use super::{conversation_exists, emit, load, update, MessageRow, COLUMNS};
use crate::dialect::Db;
use crate::sql::util::{db, Tx};
use confab_core::model::*;
use confab_core::{time, ConversationId, Error, MessageId, Result, TenantId};
use confab_store::MessagesFrom;
use serde_json::json;
use sqlx::Pool;
use uuid::Uuid;

/// The code of resending a message that has not failed.
pub(crate) const MESSAGE_NOT_FAILED: &str = "MESSAGE_NOT_FAILED";

pub(crate) async fn messages_from(
    pool: &Pool<Db>,
    tenant: TenantId,
    id: ConversationId,
    from: Option<MessageId>,
    limit: u32,
) -> Result<MessagesFrom> {
    if limit == 0 {
        return Err(Error::invalid("page_size", "must be at least 1"));
    }
    // One read transaction: the page and the total from the same state (SQLite; PostgreSQL reads
    // each statement's committed state).
    let mut tx = pool.begin().await.map_err(db)?;
    conversation_exists(&mut tx, tenant, id).await?;
    let start: Option<(i64, Uuid)> = match from {
        None => None,
        Some(m) => Some(
            sqlx::query_as(
                "SELECT created_at, id FROM messages WHERE tenant_id = $1 AND conversation_id = $2 AND id = $3",
            )
            .bind(tenant.0)
            .bind(id.0)
            .bind(m.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
            .ok_or_else(|| Error::invalid("cursor", "is not a message of this conversation"))?,
        ),
    };
    let mut sql = format!("SELECT {COLUMNS} FROM messages WHERE conversation_id = $1 AND tenant_id = $2");
    if start.is_some() {
        sql.push_str(" AND (created_at, id) <= ($4, $5)");
    }
    sql.push_str(" ORDER BY created_at DESC, id DESC LIMIT $3");
    let mut q = sqlx::query_as::<Db, MessageRow>(&sql).bind(id.0).bind(tenant.0).bind(i64::from(limit) + 1);
    if let Some((micros, at_id)) = start {
        q = q.bind(micros).bind(at_id);
    }
    let rows = q.fetch_all(&mut *tx).await.map_err(db)?;
    let mut items: Vec<Message> = rows.into_iter().map(Into::into).collect();
    let next = (items.len() > limit as usize).then(|| items[limit as usize].id);
    items.truncate(limit as usize);
    let (total,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM messages WHERE conversation_id = $1 AND tenant_id = $2")
            .bind(id.0)
            .bind(tenant.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(MessagesFrom { items, next, total: total.max(0) as u64 })
}

/// Puts a failed message back to pending (see the module docs). Returns it after the change.
pub(crate) async fn resend(tx: &mut Tx, ctx: &Ctx, id: MessageId) -> Result<Message> {
    let now = time::now();
    let mut m = load(tx, ctx.tenant, id, true).await?;
    if m.status != MessageStatus::Failed {
        return Err(Error::conflict(MESSAGE_NOT_FAILED, "Message is not in a failed state"));
    }
    m.status = MessageStatus::Pending;
    m.status_history.push(StatusStep { status: MessageStatus::Pending, at: now, error: None });
    m.error = None;
    m.sent_at = None;
    m.delivered_at = None;
    m.failed_at = None;
    update(tx, &m).await?;
    let data = json!({ "conversationId": m.conversation_id, "resent": true });
    emit(tx, ctx.tenant, &ctx.actor, &m, EventType::MessageSent, data, now).await?;
    Ok(m)
}
