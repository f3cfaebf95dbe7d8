//! Attachments: files stored in the database, unattached until a message refers to them; they go
//! with their message (and its conversation).
//!
//! Events, each in the transaction of its change: an upload appends `attachment.created`, a rename
//! that changes the name `attachment.updated`, a delete `attachment.deleted` (its last state);
//! attaching an attachment to a message or detaching it (`POST /messages`, `PUT /messages/:id`)
//! changes its `message_id` and appends `attachment.updated` after the message's own event. An
//! attachment that goes with its message or conversation (deleted by the database's cascade)
//! appends no event of its own: `message.deleted` / `conversation.deleted` stand for it.
//!
//! An attachment event's snapshot ([`snapshot`]) is `{id, message_id, conversation_id, filename,
//! content_type, size, created_at}` (the attachment as the store returns it, time RFC 3339).

use super::{cursor_anchor, emit, into_page, push_page};
use crate::dialect::{Db, FOR_UPDATE};
use crate::sql::conversations::Conn;
use crate::sql::util::{at, db, us, Tx};
use confab_core::model::*;
use confab_core::{AttachmentId, ConversationId, Error, MessageId, Resource, Result, TenantId, Time};
use confab_store::{Attachment, Cursor, CursorList, NewAttachment};
use sqlx::{Pool, QueryBuilder};
use std::collections::HashMap;
use uuid::Uuid;

const COLUMNS: &str = "a.id, a.message_id, a.conversation_id, a.filename, a.content_type, a.size, a.created_at";

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    message_id: Option<Uuid>,
    conversation_id: Option<Uuid>,
    filename: String,
    content_type: String,
    size: i64,
    created_at: i64,
}

impl From<Row> for Attachment {
    fn from(r: Row) -> Self {
        Attachment {
            id: AttachmentId(r.id),
            message_id: r.message_id.map(MessageId),
            conversation_id: r.conversation_id.map(ConversationId),
            filename: r.filename,
            content_type: r.content_type,
            size: r.size,
            created_at: at(r.created_at),
        }
    }
}

/// An attachment event's snapshot (see the module doc).
pub(crate) fn snapshot(a: &Attachment) -> serde_json::Value {
    serde_json::json!({
        "id": a.id,
        "message_id": a.message_id,
        "conversation_id": a.conversation_id,
        "filename": a.filename,
        "content_type": a.content_type,
        "size": a.size,
        "created_at": a.created_at,
    })
}

/// Appends `event_type` for `a` (its conversation's, when it has one).
async fn emit_for(
    tx: &mut Tx,
    ctx: &Ctx,
    event_type: EventType,
    a: &Attachment,
    data: serde_json::Value,
    now: Time,
) -> Result<()> {
    emit(tx, ctx, event_type, a.id.0, a.conversation_id, snapshot(a), data, now).await
}

/// `attachment.updated` for each of `ids` whose message changed (`message_id`), as it is now.
pub(crate) async fn emit_moved(tx: &mut Tx, ctx: &Ctx, ids: &[AttachmentId], now: Time) -> Result<()> {
    for id in ids {
        let a = load_one(tx, Some(ctx.tenant), *id).await?;
        emit_for(tx, ctx, EventType::AttachmentUpdated, &a, serde_json::json!({ "changed": ["message_id"] }), now)
            .await?;
    }
    Ok(())
}

/// The attachments of each of `messages`, oldest first.
pub(crate) async fn of_messages(conn: &mut Conn, messages: &[Uuid]) -> Result<HashMap<Uuid, Vec<Attachment>>> {
    let mut out: HashMap<Uuid, Vec<Attachment>> = HashMap::new();
    if messages.is_empty() {
        return Ok(out);
    }
    let mut q = QueryBuilder::<Db>::new(format!("SELECT {COLUMNS} FROM attachments a WHERE a.message_id IN ("));
    let mut sep = q.separated(", ");
    for id in messages {
        sep.push_bind(*id);
    }
    q.push(") ORDER BY a.created_at, a.id");
    let rows: Vec<Row> = q.build_query_as().fetch_all(&mut *conn).await.map_err(db)?;
    for r in rows {
        let a: Attachment = r.into();
        if let Some(m) = a.message_id {
            out.entry(m.0).or_default().push(a);
        }
    }
    Ok(out)
}

/// Attaches `ids` (each unattached, or already this message's) to `message`. 404 naming
/// `attachments` otherwise.
pub(crate) async fn attach(tx: &mut Tx, tenant: TenantId, message: &Message, ids: &[AttachmentId]) -> Result<()> {
    for id in ids {
        let done = sqlx::query(
            "UPDATE attachments SET message_id = $1, conversation_id = $2
             WHERE tenant_id = $3 AND id = $4 AND (message_id IS NULL OR message_id = $1)",
        )
        .bind(message.id.0)
        .bind(message.conversation_id.0)
        .bind(tenant.0)
        .bind(id.0)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found_field(Resource::Attachment, "attachments"));
        }
    }
    Ok(())
}

/// Makes a message's attachments unattached again.
pub(crate) async fn detach_all(tx: &mut Tx, message: MessageId) -> Result<()> {
    sqlx::query("UPDATE attachments SET message_id = NULL, conversation_id = NULL WHERE message_id = $1")
        .bind(message.0)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    Ok(())
}

pub(crate) async fn create(pool: &Pool<Db>, ctx: &Ctx, new: NewAttachment) -> Result<Attachment> {
    let now = confab_core::time::now();
    let id = AttachmentId(Uuid::now_v7());
    let mut tx = pool.begin().await.map_err(db)?;
    sqlx::query(
        "INSERT INTO attachments (id, tenant_id, message_id, conversation_id, filename, content_type, size, data,
            created_at) VALUES ($1, $2, NULL, NULL, $3, $4, $5, $6, $7)",
    )
    .bind(id.0)
    .bind(ctx.tenant.0)
    .bind(&new.filename)
    .bind(&new.content_type)
    .bind(new.data.len() as i64)
    .bind(&new.data)
    .bind(us(now))
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    let a = load_one(&mut tx, Some(ctx.tenant), id).await?;
    emit_for(&mut tx, ctx, EventType::AttachmentCreated, &a, serde_json::Value::Null, now).await?;
    tx.commit().await.map_err(db)?;
    Ok(a)
}

/// An attachment of the tenant, locked on PostgreSQL. 404 otherwise.
async fn load_for_update(tx: &mut Tx, tenant: TenantId, id: AttachmentId) -> Result<Attachment> {
    let row: Option<Row> = sqlx::query_as::<Db, Row>(&format!(
        "SELECT {COLUMNS} FROM attachments a WHERE a.tenant_id = $1 AND a.id = $2{FOR_UPDATE}"
    ))
    .bind(tenant.0)
    .bind(id.0)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db)?;
    row.map(Into::into).ok_or_else(|| Error::not_found(Resource::Attachment))
}

/// One attachment (of `tenant`, when given).
pub(crate) async fn load_one(conn: &mut Conn, tenant: Option<TenantId>, id: AttachmentId) -> Result<Attachment> {
    let row: Option<Row> = sqlx::query_as::<Db, Row>(&format!(
        "SELECT {COLUMNS} FROM attachments a WHERE a.id = $1 AND ($2 IS NULL OR a.tenant_id = $2)"
    ))
    .bind(id.0)
    .bind(tenant.map(|t| t.0))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    row.map(Into::into).ok_or_else(|| Error::not_found(Resource::Attachment))
}

pub(crate) async fn list(
    pool: &Pool<Db>,
    ctx: &Ctx,
    conversation: Option<ConversationId>,
    cursor: Cursor,
) -> Result<CursorList<Attachment>> {
    let mut conn = pool.acquire().await.map_err(db)?;
    let anchor = cursor_anchor(&mut conn, "attachments", ctx.tenant, cursor, "attachment").await?;
    let mut q = QueryBuilder::<Db>::new(format!("SELECT {COLUMNS} FROM attachments a WHERE a.tenant_id = "));
    q.push_bind(ctx.tenant.0);
    if let Some(c) = conversation {
        q.push(" AND a.conversation_id = ").push_bind(c.0);
    }
    push_page(&mut q, "a", cursor, anchor);
    let rows: Vec<Row> = q.build_query_as().fetch_all(&mut *conn).await.map_err(db)?;
    Ok(into_page(rows.into_iter().map(Into::into).collect(), cursor))
}

pub(crate) async fn rename(pool: &Pool<Db>, ctx: &Ctx, id: AttachmentId, filename: String) -> Result<Attachment> {
    let now = confab_core::time::now();
    let mut tx = pool.begin().await.map_err(db)?;
    let mut a = load_for_update(&mut tx, ctx.tenant, id).await?;
    if a.filename == filename {
        tx.commit().await.map_err(db)?;
        return Ok(a);
    }
    sqlx::query("UPDATE attachments SET filename = $1 WHERE tenant_id = $2 AND id = $3")
        .bind(&filename)
        .bind(ctx.tenant.0)
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    a.filename = filename;
    emit_for(&mut tx, ctx, EventType::AttachmentUpdated, &a, serde_json::json!({ "changed": ["filename"] }), now)
        .await?;
    tx.commit().await.map_err(db)?;
    Ok(a)
}

pub(crate) async fn delete(pool: &Pool<Db>, ctx: &Ctx, id: AttachmentId) -> Result<()> {
    let now = confab_core::time::now();
    let mut tx = pool.begin().await.map_err(db)?;
    let a = load_for_update(&mut tx, ctx.tenant, id).await?;
    sqlx::query("DELETE FROM attachments WHERE tenant_id = $1 AND id = $2")
        .bind(ctx.tenant.0)
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    emit_for(&mut tx, ctx, EventType::AttachmentDeleted, &a, serde_json::Value::Null, now).await?;
    tx.commit().await.map_err(db)?;
    Ok(())
}

pub(crate) async fn data(pool: &Pool<Db>, id: AttachmentId) -> Result<(Attachment, Vec<u8>)> {
    let mut conn = pool.acquire().await.map_err(db)?;
    let a = load_one(&mut conn, None, id).await?;
    let (bytes,): (Vec<u8>,) = sqlx::query_as("SELECT data FROM attachments WHERE id = $1")
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?
        .ok_or_else(|| Error::not_found(Resource::Attachment))?;
    Ok((a, bytes))
}
