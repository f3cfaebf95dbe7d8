//! Helpers shared by the SQL implementation: error mapping, JSON and instant conversion.

use crate::dialect::Db;
use confab_core::model::{Actor, PageRequest};
use confab_core::{time, Error, Time};
use sqlx::types::Json;

/// A write transaction on the backend's writer.
pub(crate) type Tx = sqlx::Transaction<'static, Db>;

/// Maps a driver error to an internal error (the cause is logged by the API boundary).
pub(crate) fn db(e: sqlx::Error) -> Error {
    Error::internal(e)
}

/// The constraint a unique violation names, as text both engines make recognisable: PostgreSQL gives
/// the index name (`ux_contacts_phone`), SQLite the columns (`contacts.tenant_id, contacts.phone`).
/// Index names list their columns, so callers test with `contains("phone")`.
pub(crate) fn unique_violation(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            Some(d.constraint().map(str::to_string).unwrap_or_else(|| d.message().to_string()))
        }
        _ => None,
    }
}

pub(crate) fn us(t: Time) -> i64 {
    time::to_micros(t)
}

pub(crate) fn us_opt(t: Option<Time>) -> Option<i64> {
    t.map(time::to_micros)
}

pub(crate) fn at(v: i64) -> Time {
    time::from_micros(v)
}

pub(crate) fn at_opt(v: Option<i64>) -> Option<Time> {
    v.map(time::from_micros)
}

pub(crate) fn actor_json(a: &Option<Actor>) -> Option<Json<Actor>> {
    a.clone().map(Json)
}

/// Page size and offset as bind values.
pub(crate) fn limit_offset(page: PageRequest) -> (i64, i64) {
    (i64::from(page.per_page), page.offset().min(i64::MAX as u64) as i64)
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern and wraps it in `%…%`, lower-cased.
pub(crate) fn like_pattern(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('%');
    for c in s.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}
