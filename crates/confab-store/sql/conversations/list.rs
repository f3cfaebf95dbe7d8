//! The conversation list: filters, sorts and an exact total, each filter and sort backed by an index
//! (see the migrations), bound parameters only. `search` is full text: every word (a prefix) must
//! match the contact's name or the text of one of the conversation's messages, with the semantics of
//! `sql/search.rs`.

use super::{view_select, views, ViewRow};
use crate::dialect::{push_matching, Db, NO_INDEX};
use crate::sql::search::{query_words, Target};
use crate::sql::util::{db, limit_offset, us};
use confab_core::model::*;
use confab_core::{Result, TenantId};
use sqlx::{Pool, QueryBuilder};

/// Appends the WHERE clause of `filter` (the alias of conversations is `c`).
///
/// `words` are the words of `f.search` ([`query_words`]): every one must match the contact's name or
/// the text of one of the conversation's messages.
fn push_filters(q: &mut QueryBuilder<'_, Db>, tenant: TenantId, f: &ConversationFilter, words: &[String]) {
    // A search drives the list by its matches (the tenant condition is then no index's).
    let no_index = if words.is_empty() { "" } else { NO_INDEX };
    q.push(format!(" WHERE {no_index}c.tenant_id = ")).push_bind(tenant.0);
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
    if let Some(id) = f.inbox_id {
        q.push(" AND c.inbox_id = ").push_bind(id.0);
    }
    if let Some(p) = f.priority {
        q.push(" AND c.priority = ").push_bind(p.rank());
    }
    if let Some(t) = f.created_from {
        q.push(" AND c.created_at >= ").push_bind(us(t));
    }
    if let Some(t) = f.created_to {
        q.push(" AND c.created_at <= ").push_bind(us(t));
    }
    for word in words {
        // The word matches the contact's name or the text of one of the conversation's messages:
        // both halves are driven by their full-text index (see `sql/search.rs`).
        q.push(" AND c.id IN (SELECT sc.id FROM conversations sc WHERE sc.tenant_id = ")
            .push_bind(tenant.0)
            .push(" AND sc.contact_id IN (");
        push_matching(q, Target::ContactName, "id", tenant.0, word);
        q.push(") UNION ");
        push_matching(q, Target::MessageText, "conversation_id", tenant.0, word);
        q.push(")");
    }
}

pub(crate) async fn list(
    pool: &Pool<Db>,
    tenant: TenantId,
    f: &ConversationFilter,
    page: PageRequest,
) -> Result<Page<ConversationView>> {
    let words = query_words(f.search.as_deref())?.unwrap_or_default();
    let mut q = QueryBuilder::<Db>::new(view_select());
    push_filters(&mut q, tenant, f, &words);
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
    push_filters(&mut count, tenant, f, &words);
    let (total,): (i64,) = count.build_query_as().fetch_one(&mut *conn).await.map_err(db)?;
    Ok(Page { items: views(&mut conn, rows).await?, total: total as u64 })
}
