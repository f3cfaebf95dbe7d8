//! Protocol contacts: the shared contacts with their Protocol conversation and last activity.
//!
//! Every contact event's snapshot (`contact.created/updated/deleted`, and each contact inside a
//! group's snapshot) is the serde JSON of the [`Contact`] plus two keys Protocol's webhook payload
//! needs ([`Extras`]): `protocol_conversation_id` (the contact's channel-less Protocol
//! conversation, or `null`) and `protocol_last_active_at` (the newest message time of its
//! conversations, RFC 3339, or `null`). They are read inside the transaction that appends the event,
//! so the webhook renders the contact without querying the store; a deleted contact's snapshot
//! carries the values it had just before the deletion.

use super::{cursor_anchor, into_page, push_page};
use crate::dialect::Db;
use crate::sql::contacts::{ContactRow, COLUMNS};
use crate::sql::conversations::{delete_in_tx, Conn};
use crate::sql::util::{at_opt, db, Tx};
use confab_core::model::*;
use confab_core::{ContactId, ConversationId, Error, Result, TenantId, Time};
use confab_store::{Cursor, CursorList, ProtocolContact};
use sqlx::{Pool, QueryBuilder};
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct Row {
    #[sqlx(flatten)]
    contact: ContactRow,
    p_conversation_id: Option<Uuid>,
    p_last_active_at: Option<i64>,
}

impl From<Row> for ProtocolContact {
    fn from(r: Row) -> Self {
        ProtocolContact {
            contact: r.contact.into(),
            conversation_id: r.p_conversation_id.map(ConversationId),
            last_active_at: at_opt(r.p_last_active_at),
        }
    }
}

fn select() -> String {
    let cols = COLUMNS.split(',').map(|c| format!("ct.{}", c.trim())).collect::<Vec<_>>().join(", ");
    format!(
        "SELECT {cols},
            (SELECT pc.id FROM conversations pc WHERE pc.tenant_id = ct.tenant_id AND pc.contact_id = ct.id
                AND pc.source = 'protocol' AND pc.group_id IS NULL) AS p_conversation_id,
            (SELECT MAX(lc.last_message_at) FROM conversations lc WHERE lc.tenant_id = ct.tenant_id
                AND lc.contact_id = ct.id) AS p_last_active_at
         FROM contacts ct"
    )
}

/// The contacts `ids` of the tenant, in that order (missing ones skipped).
pub(crate) async fn load(conn: &mut Conn, tenant: TenantId, ids: &[Uuid]) -> Result<Vec<ProtocolContact>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = QueryBuilder::<Db>::new(select());
    q.push(" WHERE ct.tenant_id = ").push_bind(tenant.0).push(" AND ct.id IN (");
    let mut sep = q.separated(", ");
    for id in ids {
        sep.push_bind(*id);
    }
    q.push(")");
    let rows: Vec<Row> = q.build_query_as().fetch_all(&mut *conn).await.map_err(db)?;
    let mut found: Vec<ProtocolContact> = rows.into_iter().map(Into::into).collect();
    let mut out = Vec::with_capacity(found.len());
    for id in ids {
        if let Some(i) = found.iter().position(|c| c.contact.id.0 == *id) {
            out.push(found.swap_remove(i));
        }
    }
    Ok(out)
}

pub(crate) async fn list(pool: &Pool<Db>, ctx: &Ctx, cursor: Cursor) -> Result<CursorList<ProtocolContact>> {
    let mut conn = pool.acquire().await.map_err(db)?;
    let anchor = cursor_anchor(&mut conn, "contacts", ctx.tenant, cursor, "contact").await?;
    let mut q = QueryBuilder::<Db>::new(select());
    q.push(" WHERE ct.tenant_id = ").push_bind(ctx.tenant.0);
    push_page(&mut q, "ct", cursor, anchor);
    let rows: Vec<Row> = q.build_query_as().fetch_all(&mut *conn).await.map_err(db)?;
    Ok(into_page(rows.into_iter().map(Into::into).collect(), cursor))
}

/// What a contact's event snapshot adds for Protocol (see the module doc).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Extras {
    conversation_id: Option<Uuid>,
    last_active_at: Option<Time>,
}

impl Extras {
    pub(crate) fn of(p: &ProtocolContact) -> Self {
        Extras { conversation_id: p.conversation_id.map(|c| c.0), last_active_at: p.last_active_at }
    }

    /// Adds `protocol_conversation_id` and `protocol_last_active_at` to a contact's snapshot.
    pub(crate) fn add_to(self, snapshot: &mut serde_json::Value) -> Result<()> {
        if let Some(map) = snapshot.as_object_mut() {
            map.insert("protocol_conversation_id".into(), serde_json::json!(self.conversation_id));
            map.insert(
                "protocol_last_active_at".into(),
                serde_json::to_value(self.last_active_at).map_err(Error::internal)?,
            );
        }
        Ok(())
    }
}

/// The [`Extras`] of contact `id`, read now (all `null` for a contact that does not exist).
pub(crate) async fn extras(conn: &mut Conn, tenant: TenantId, id: ContactId) -> Result<Extras> {
    let (conversation_id, last_active_at): (Option<Uuid>, Option<i64>) = sqlx::query_as(
        "SELECT
            (SELECT pc.id FROM conversations pc WHERE pc.tenant_id = $1 AND pc.contact_id = $2
                AND pc.source = 'protocol' AND pc.group_id IS NULL),
            (SELECT MAX(lc.last_message_at) FROM conversations lc WHERE lc.tenant_id = $1 AND lc.contact_id = $2)",
    )
    .bind(tenant.0)
    .bind(id.0)
    .fetch_one(&mut *conn)
    .await
    .map_err(db)?;
    Ok(Extras { conversation_id, last_active_at: at_opt(last_active_at) })
}

/// A contact's event snapshot: the contact's serde JSON with its [`Extras`].
pub(crate) fn snapshot(p: &ProtocolContact) -> Result<serde_json::Value> {
    let mut v = serde_json::to_value(&p.contact).map_err(Error::internal)?;
    Extras::of(p).add_to(&mut v)?;
    Ok(v)
}

/// Deletes the contact's Protocol conversation (with its messages; `conversation.deleted`), if it
/// has one, inside the caller's transaction. The caller has locked the contact.
pub(crate) async fn delete_conversation(tx: &mut Tx, ctx: &Ctx, id: ContactId, now: Time) -> Result<()> {
    let conv: Option<(Uuid,)> = sqlx::query_as(
        "SELECT id FROM conversations WHERE tenant_id = $1 AND contact_id = $2 AND source = 'protocol'
         AND group_id IS NULL",
    )
    .bind(ctx.tenant.0)
    .bind(id.0)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db)?;
    if let Some((conv,)) = conv {
        delete_in_tx(tx, ctx, ConversationId(conv), Some("contact deleted".into()), now).await?;
    }
    Ok(())
}
