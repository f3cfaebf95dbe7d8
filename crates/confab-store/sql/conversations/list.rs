//! The conversation list: filters, sorts and an exact total, each filter and sort backed by an index
//! (see the migrations), bound parameters only.

use super::{view_select, views, ViewRow};
use crate::dialect::Db;
use crate::sql::util::{db, like_pattern, limit_offset, us};
use confab_core::model::*;
use confab_core::{Result, TenantId};
use sqlx::{Pool, QueryBuilder};

/// Appends the WHERE clause of `filter` (the alias of conversations is `c`).
fn push_filters(q: &mut QueryBuilder<'_, Db>, tenant: TenantId, f: &ConversationFilter) {
    q.push(" WHERE c.tenant_id = ").push_bind(tenant.0);
    if !f.statuses.is_empty() {
        q.push(" AND c.status IN (");
        let mut sep = q.separated(", ");
        for s in &f.statuses {
            sep.push_bind(s.as_str());
        }
        q.push(")");
    }
    if let Some(id) = f.channel_id {
        q.push(" AND c.channel_id = ").push_bind(id.0);
    }
    if let Some(t) = &f.channel_type {
        q.push(" AND c.channel_type = ").push_bind(t.clone());
    }
    if let Some(id) = f.assignee_id {
        q.push(" AND c.assignee_id = ").push_bind(id);
    }
    if let Some(id) = f.contact_id {
        q.push(" AND c.contact_id = ").push_bind(id.0);
    }
    if let Some(id) = f.bot_id {
        q.push(" AND c.bot_id = ").push_bind(id.0);
    }
    if let Some(t) = f.created_from {
        q.push(" AND c.created_at >= ").push_bind(us(t));
    }
    if let Some(t) = f.created_to {
        q.push(" AND c.created_at <= ").push_bind(us(t));
    }
    if let Some(search) = f.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        // Every word must appear in the contact's name (message text joins in with messages).
        for word in search.split_whitespace().take(8) {
            q.push(" AND c.contact_id IN (SELECT s.id FROM contacts s WHERE s.tenant_id = ")
                .push_bind(tenant.0)
                .push(" AND lower(s.name) LIKE ")
                .push_bind(like_pattern(word))
                .push(" ESCAPE '\\')");
        }
    }
}

pub(crate) async fn list(
    pool: &Pool<Db>,
    tenant: TenantId,
    f: &ConversationFilter,
    page: PageRequest,
) -> Result<Page<ConversationView>> {
    let mut q = QueryBuilder::<Db>::new(view_select());
    push_filters(&mut q, tenant, f);
    let column = match f.sort {
        ConversationSort::UpdatedAt => "c.updated_at",
        ConversationSort::CreatedAt => "c.created_at",
        ConversationSort::LastMessageAt => "c.last_message_at",
        ConversationSort::Priority => "c.priority",
    };
    let dir = match f.order {
        SortOrder::Asc => "ASC",
        SortOrder::Desc => "DESC",
    };
    // Conversations without a last message come last in both directions, on both engines.
    let nulls = if f.sort == ConversationSort::LastMessageAt { " NULLS LAST" } else { "" };
    q.push(format!(" ORDER BY {column} {dir}{nulls}, c.id {dir}"));
    let (limit, offset) = limit_offset(page);
    q.push(" LIMIT ").push_bind(limit).push(" OFFSET ").push_bind(offset);

    let mut conn = pool.acquire().await.map_err(db)?;
    let rows: Vec<ViewRow> = q.build_query_as().fetch_all(&mut *conn).await.map_err(db)?;
    let mut count = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM conversations c");
    push_filters(&mut count, tenant, f);
    let (total,): (i64,) = count.build_query_as().fetch_one(&mut *conn).await.map_err(db)?;
    Ok(Page { items: views(&mut conn, rows).await?, total: total as u64 })
}
