//! Protocol contacts: the shared contacts with their Protocol conversation and last activity.

use super::{cursor_anchor, into_page, push_page};
use crate::dialect::Db;
use crate::sql::contacts::{ContactRow, COLUMNS};
use crate::sql::conversations::{delete_in_tx, Conn};
use crate::sql::util::{at_opt, db};
use confab_core::model::*;
use confab_core::{ContactId, ConversationId, Result, TenantId};
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

/// Deletes the contact's Protocol conversation (with its messages), if it has one. 404 when the
/// contact is not the tenant's.
pub(crate) async fn delete_conversation(pool: &Pool<Db>, ctx: &Ctx, id: ContactId) -> Result<()> {
    let now = confab_core::time::now();
    let mut tx = pool.begin().await.map_err(db)?;
    crate::sql::contacts::load_for_update(&mut tx, ctx.tenant, id).await?;
    let conv: Option<(Uuid,)> = sqlx::query_as(
        "SELECT id FROM conversations WHERE tenant_id = $1 AND contact_id = $2 AND source = 'protocol'
         AND group_id IS NULL",
    )
    .bind(ctx.tenant.0)
    .bind(id.0)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?;
    if let Some((conv,)) = conv {
        delete_in_tx(&mut tx, ctx, ConversationId(conv), Some("contact deleted".into()), now).await?;
    }
    tx.commit().await.map_err(db)?;
    Ok(())
}
