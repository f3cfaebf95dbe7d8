//! Airy's `conversations.list`: the conversations a Lucene filter (`confab_query`) matches, in Airy's
//! order, with an exact total.
//!
//! **Fields.** The filter reads each conversation exactly as the Airy face renders it
//! (`confab-api/src/faces/airy/render.rs`), so that what a client sees is what it can filter on, and so
//! that the in-memory evaluator (`confab_query::matches`) over a conversation's Airy JSON agrees with
//! this SQL (the API tests hold them to it on both engines):
//!
//! | field | SQL |
//! |---|---|
//! | `id`, `channel_id` | the ids as lowercase hyphenated text; `channel_id` NULL without a channel |
//! | `source` | the channel's type (`whatsapp`, `sms`, …), the JSON's `channel.source`; NULL without a channel |
//! | `display_name` | `metadata.contact.display_name`: the contact's name, trimmed, else Airy's default `"<Source> <last 5 characters of the id>"` |
//! | `created_at` | the creation time in epoch milliseconds |
//! | `unread_count` | the unread count |
//! | `tag_ids` | the ids of the conversation's tags |
//! | `metadata.<path>` | the JSON's `metadata`: `{contact: {display_name, avatar_url}, tags: {<id>: ""}, state, unread_count, user_data}`, built in SQL per engine |
//!
//! The default display name capitalises the first letter of the source with the engine's `upper()`,
//! which SQLite applies to ASCII letters only (Rust to every letter): sources are channel types, all
//! ASCII, so they agree.
//!
//! The `metadata` document holds only the top-level keys the query's paths name (a path reads only
//! its key's subtree), so that `metadata.state:CLOSED` does not build names and tags for every row.
//!
//! **Order.** The newest last message first; conversations without messages after the others, the
//! newest created first; ties by id, descending (DESIGN.md, Faces: Airy). `LIMIT`/`OFFSET` page it.
//! Unfiltered, the page comes from the order's index and the total from a count.
//!
//! **Bounded time.** The filter compiles to expressions no index serves (normalised text, JSON
//! built per row), so a filtered list evaluates it on every conversation of the tenant — once: the
//! matches (id and sort keys) are materialised, counted and paged in one statement, and only the
//! page's conversations are then read whole. That is linear, never worse, since the query language
//! bounds the expression (4096 bytes, 32 levels, 256 terms). Measured on one tenant (debug build, a
//! development machine): 100,000 conversations take 0.06 to 0.8 s on SQLite and up to 1.6 s on
//! PostgreSQL; at 1,000,000, Airy's inbox filter `id:* AND NOT metadata.state:CLOSED` takes 3.8 s
//! (SQLite) and 2.4 s (PostgreSQL), `display_name:*grace*` about 4 s, and
//! `metadata.contact.display_name:…` (the contact's JSON built for every row) is refused at the
//! limit. So filtered reads run in a read transaction bounded to [`TIME_LIMIT`] per statement
//! (PostgreSQL: `statement_timeout`, and JIT off, which costs more than it saves on these
//! expressions; SQLite: a progress handler that interrupts the statement — see each `dialect.rs`).
//! Past it the list is refused with `FILTER_TOO_SLOW` (a client error: the filter must be
//! narrowed), never a 500.

use super::{view_select, views, Conn, ViewRow};
use crate::dialect::{
    after_last_dot, bound_reads, capitalized_or, is_time_limit, json_object, json_object_agg, json_value, trim_chars,
    uuid_last5, uuid_text, Db, QUERY_DIALECT,
};
use crate::sql::util::db;
use confab_core::model::*;
use confab_core::{Error, Result, TenantId};
use confab_query::{to_sql, Bind, Field, Node, Query, Schema, TagSource};
use sqlx::{Pool, QueryBuilder};
use std::collections::BTreeSet;
use std::time::Duration;
use uuid::Uuid;

/// The longest a statement of a filtered list may run.
pub(crate) const TIME_LIMIT: Duration = Duration::from_secs(5);

/// The code of the refusal of a filter that ran past [`TIME_LIMIT`].
pub(crate) const FILTER_TOO_SLOW: &str = "FILTER_TOO_SLOW";

/// The characters Rust's `str::trim` removes (Unicode `White_Space`), so that a name the face trims
/// to nothing is blank here too.
const WHITESPACE: [u32; 25] = [
    0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006,
    0x2007, 0x2008, 0x2009, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000,
];

/// The tables the fields read beside `conversations c` (the view's query joins them too).
const JOINS: &str = " LEFT JOIN contacts ct ON ct.id = c.contact_id LEFT JOIN channels ch ON ch.id = c.channel_id";

/// Airy's order (see the module docs).
const ORDER: &str = " ORDER BY c.last_message_at DESC NULLS LAST, c.created_at DESC, c.id DESC";

/// `metadata.contact.display_name` as the face renders it: the contact's name, trimmed, else
/// `"<PrettySource> <last 5 characters of the id>"`, PrettySource being the last dot-segment of the
/// channel type (else the conversation's `source`; `conversation` when blank), first letter in
/// capitals (`Conversation` when that segment is empty).
fn display_name() -> String {
    let source = "COALESCE(c.channel_type, c.source)";
    let source = format!("CASE WHEN {} <> '' THEN {source} ELSE 'conversation' END", trim_chars(source, &WHITESPACE));
    let pretty = capitalized_or(&after_last_dot(&source), "Conversation");
    format!("COALESCE(NULLIF({}, ''), {pretty} || ' ' || {})", trim_chars("ct.name", &WHITESPACE), uuid_last5("c.id"))
}

/// The conversation's Airy `metadata` document, with only its top-level keys in `keys` (those a
/// query's `metadata.<key>…` paths name: a path reads only its key's subtree, so leaving the others
/// out changes no answer and spares building them for every row).
fn metadata(keys: &BTreeSet<&str>) -> String {
    let mut pairs = Vec::new();
    if keys.contains("contact") {
        let contact = json_object(&[("display_name", display_name()), ("avatar_url", "ct.avatar_url".into())]);
        pairs.push(("contact", contact));
    }
    if keys.contains("tags") {
        let tags = json_object_agg(
            &uuid_text("airy_g.tag_id"),
            "CAST('' AS TEXT)",
            "conversation_tags airy_g WHERE airy_g.conversation_id = c.id",
        );
        pairs.push(("tags", tags));
    }
    if keys.contains("state") {
        let state = "COALESCE(c.state_label, CASE WHEN c.status = 'closed' THEN 'CLOSED' ELSE 'OPEN' END)";
        pairs.push(("state", state.to_string()));
    }
    if keys.contains("unread_count") {
        pairs.push(("unread_count", "c.unread_count".into()));
    }
    if keys.contains("user_data") {
        pairs.push(("user_data", json_value("c.metadata")));
    }
    json_object(&pairs)
}

/// The first keys of the `metadata.<key>…` paths of `node`.
fn metadata_keys<'a>(node: &'a Node, out: &mut BTreeSet<&'a str>) {
    match node {
        Node::All(_) => {}
        Node::Leaf(leaf) => {
            if let Field::Metadata(path) = &leaf.field {
                out.extend(path.first().map(String::as_str));
            }
        }
        Node::Bool(b) => b.clauses.iter().for_each(|c| metadata_keys(&c.node, out)),
    }
}

/// The fields of the query language over `conversations c` and [`JOINS`], for `query`.
pub(crate) fn schema(query: &Query) -> Schema {
    let mut keys = BTreeSet::new();
    metadata_keys(query.root(), &mut keys);
    Schema {
        dialect: QUERY_DIALECT,
        id: uuid_text("c.id"),
        channel_id: uuid_text("c.channel_id"),
        source: "ch.channel_type".into(),
        display_name: display_name(),
        created_at_ms: "(c.created_at / 1000)".into(),
        unread_count: "c.unread_count".into(),
        tags: TagSource {
            from_where: "conversation_tags airy_t WHERE airy_t.conversation_id = c.id".into(),
            tag_id: uuid_text("airy_t.tag_id"),
        },
        metadata: metadata(&keys),
    }
}

fn too_slow() -> Error {
    Error::Refused {
        code: FILTER_TOO_SLOW,
        message: format!(
            "The filter took longer than {} seconds to run; narrow it (for example with channel_id, source or \
             tag_ids, or without leading wildcards).",
            TIME_LIMIT.as_secs()
        ),
    }
}

pub(crate) async fn list(
    pool: &Pool<Db>,
    tenant: TenantId,
    query: Option<&Query>,
    offset: u64,
    limit: u32,
) -> Result<Page<ConversationView>> {
    let offset = offset.min(i64::MAX as u64) as i64;
    let mut tx = pool.begin().await.map_err(db)?;
    let page = match query {
        None => unfiltered(&mut tx, tenant, offset, limit).await?,
        Some(query) => {
            // Bounded until the end of this block, before the commit.
            let _bound = bound_reads(&mut tx, TIME_LIMIT).await?;
            filtered(&mut tx, tenant, query, offset, limit).await?
        }
    };
    tx.commit().await.map_err(db)?;
    Ok(page)
}

/// Every conversation: the page straight from the order's index, and the count.
async fn unfiltered(conn: &mut Conn, tenant: TenantId, offset: i64, limit: u32) -> Result<Page<ConversationView>> {
    let rows: Vec<ViewRow> =
        sqlx::query_as::<Db, ViewRow>(&format!("{} WHERE c.tenant_id = $1{ORDER} LIMIT $2 OFFSET $3", view_select()))
            .bind(tenant.0)
            .bind(i64::from(limit))
            .bind(offset)
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?;
    let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM conversations c WHERE c.tenant_id = $1")
        .bind(tenant.0)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
    Ok(Page { items: views(conn, rows).await?, total: total.max(0) as u64 })
}

/// The conversations `query` matches. The filter is evaluated once per conversation: the matches
/// (id and sort keys) are materialised, counted and paged in one statement, then the page's views
/// are read by id.
async fn filtered(
    conn: &mut Conn,
    tenant: TenantId,
    query: &Query,
    offset: i64,
    limit: u32,
) -> Result<Page<ConversationView>> {
    // `$1` is the tenant; the filter's placeholders follow, then the page's.
    let filter = to_sql(query, &schema(query), 1);
    let next = 2 + filter.binds.len();
    let sql = format!(
        "WITH m AS MATERIALIZED (
             SELECT c.id, c.last_message_at, c.created_at FROM conversations c{JOINS}
             WHERE c.tenant_id = $1 AND ({filter})
         )
         SELECT t.total, p.id FROM (SELECT COUNT(*) AS total FROM m) AS t
         LEFT JOIN (
             SELECT c.id, c.last_message_at, c.created_at FROM m AS c{ORDER} LIMIT ${next} OFFSET ${after}
         ) AS p ON TRUE
         ORDER BY p.last_message_at DESC NULLS LAST, p.created_at DESC, p.id DESC",
        filter = filter.sql,
        after = next + 1,
    );
    let mut q = sqlx::query_as::<Db, (i64, Option<Uuid>)>(&sql).bind(tenant.0);
    for b in &filter.binds {
        q = match b {
            Bind::Text(t) => q.bind(t.clone()),
            Bind::Int(n) => q.bind(*n),
        };
    }
    let found = q.bind(i64::from(limit)).bind(offset).fetch_all(&mut *conn).await.map_err(|e| {
        if is_time_limit(&e) {
            too_slow()
        } else {
            db(e)
        }
    })?;
    let total = found.first().map_or(0, |(total, _)| (*total).max(0) as u64);
    let ids: Vec<Uuid> = found.into_iter().filter_map(|(_, id)| id).collect();
    if ids.is_empty() {
        return Ok(Page { items: Vec::new(), total });
    }
    let mut q = QueryBuilder::<Db>::new(view_select());
    q.push(" WHERE c.tenant_id = ").push_bind(tenant.0).push(" AND c.id IN (");
    let mut sep = q.separated(", ");
    for id in &ids {
        sep.push_bind(*id);
    }
    q.push(")");
    let mut rows: Vec<ViewRow> = q.build_query_as().fetch_all(&mut *conn).await.map_err(db)?;
    rows.sort_by_key(|r| ids.iter().position(|id| *id == r.conv.id));
    Ok(Page { items: views(conn, rows).await?, total })
}
