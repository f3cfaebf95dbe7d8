//! What SQLite spells differently from PostgreSQL, for the shared SQL in `confab-store/sql`.

use confab_core::Result;
use sqlx::SqlitePool;

/// The `sqlx` database the shared SQL is compiled for.
pub(crate) type Db = sqlx::Sqlite;

/// The single writer commits in insert order, so an event's position is given as it is inserted.
pub(crate) const POSITION_AT_INSERT: &str = "(SELECT COALESCE(MAX(position), 0) + 1 FROM events)";

/// Row locks: SQLite's one writer already serialises read-modify-write transactions.
pub(crate) const FOR_UPDATE: &str = "";

/// Claiming rows for background work: nothing to skip with one writer.
pub(crate) const FOR_UPDATE_SKIP_LOCKED: &str = "";

/// Positions are given at insert: nothing for the relay to do.
pub(crate) async fn assign_event_positions(_pool: &SqlitePool) -> Result<u64> {
    Ok(0)
}

/// One process writes a SQLite file: its relay sees every event without notifications.
pub(crate) async fn listen_for_events(_pool: &SqlitePool, _on_event: &(dyn Fn() + Send + Sync)) -> Result<()> {
    Ok(())
}

/// The word of an FTS5 query that matches the words starting with `word` (a word of
/// [`crate::sql::search::split`]) in `target`'s columns, and the FTS5 table to ask: `"word"*`
/// (quotes doubled, though a word has none), bound, never spliced into the SQL.
fn fts_query(target: crate::sql::search::Target, word: &str) -> (&'static str, String) {
    use crate::sql::search::Target;
    let phrase = format!("\"{}\"*", word.replace('"', "\"\""));
    match target {
        Target::ContactName => ("contacts_fts", format!("name : {phrase}")),
        Target::ContactNames => ("contacts_fts", format!("{{name display_name}} : {phrase}")),
        Target::MessageText => ("messages_fts", phrase),
    }
}

/// Appends a condition: the row `alias` of `target`'s table has a word starting with `word`,
/// through the FTS5 index of that table (`0003_search.sql`).
pub(crate) fn push_word_match(
    q: &mut sqlx::QueryBuilder<'_, Db>,
    target: crate::sql::search::Target,
    alias: &str,
    word: &str,
) {
    let (fts, query) = fts_query(target, word);
    q.push(format!(" {alias}.rowid IN (SELECT rowid FROM {fts} WHERE {fts} MATCH ")).push_bind(query).push(")");
}

/// Appends a subquery: `column` of the rows of `target`'s table, of `tenant`, that have a word
/// starting with `word`. The FTS5 index drives it (`CROSS JOIN` fixes the join order: without
/// statistics, SQLite would rather walk the tenant's rows in a `tenant_id` index).
pub(crate) fn push_matching(
    q: &mut sqlx::QueryBuilder<'_, Db>,
    target: crate::sql::search::Target,
    column: &str,
    tenant: uuid::Uuid,
    word: &str,
) {
    use crate::sql::search::Target;
    let table = match target {
        Target::ContactName | Target::ContactNames => "contacts",
        Target::MessageText => "messages",
    };
    let (fts, query) = fts_query(target, word);
    q.push(format!("SELECT t.{column} FROM {fts} f CROSS JOIN {table} t ON t.rowid = f.rowid WHERE f.{fts} MATCH "))
        .push_bind(query)
        .push(" AND t.tenant_id = ")
        .push_bind(tenant);
}

/// Written before a column in a condition, keeps SQLite from using an index for that condition
/// (unary `+`): a full-text search drives the conversation list by its matches rather than by the
/// tenant's rows (which SQLite, without statistics, takes for a selective index).
pub(crate) const NO_INDEX: &str = "+";

/// The engine the query language (`confab_query`) compiles filters for.
pub(crate) const QUERY_DIALECT: confab_query::Dialect = confab_query::Dialect::Sqlite;

/// A 16-byte UUID column as its lowercase hyphenated text (`0190…-…`), NULL when it is NULL.
pub(crate) fn uuid_text(e: &str) -> String {
    let part = |from: u32, len: u32| format!("substr(hex({e}), {from}, {len})");
    format!(
        "CASE WHEN {e} IS NULL THEN NULL ELSE lower({} || '-' || {} || '-' || {} || '-' || {} || '-' || {}) END",
        part(1, 8),
        part(9, 4),
        part(13, 4),
        part(17, 4),
        part(21, 12)
    )
}

/// The last five characters of [`uuid_text`] (of the last five hex digits).
pub(crate) fn uuid_last5(e: &str) -> String {
    format!("lower(substr(hex({e}), 28))")
}

/// The text `e` with its first character in capitals (ASCII letters only: SQLite's `upper()`), or
/// `empty` when `e` is empty. A subquery names `e` once (cheaper on SQLite than repeating it).
pub(crate) fn capitalized_or(e: &str, empty: &str) -> String {
    format!(
        "(SELECT CASE WHEN airy_c.l = '' THEN '{empty}' ELSE upper(substr(airy_c.l, 1, 1)) || substr(airy_c.l, 2) END \
         FROM (SELECT {e} AS l) AS airy_c)"
    )
}

/// `e` without the characters `chars` (code points) at either end.
pub(crate) fn trim_chars(e: &str, chars: &[u32]) -> String {
    let set: Vec<String> = chars.iter().map(u32::to_string).collect();
    format!("trim({e}, char({}))", set.join(", "))
}

/// What follows the last `.` of the text `e` (all of it without a dot).
pub(crate) fn after_last_dot(e: &str) -> String {
    // rtrim with every character of the text but the dot leaves the text up to its last dot.
    format!("(SELECT substr(x, length(rtrim(x, replace(x, '.', ''))) + 1) FROM (SELECT {e} AS x) AS airy_dot)")
}

/// A JSON object of constant keys and SQL values (JSON values made by [`json_value`] stay JSON).
pub(crate) fn json_object(pairs: &[(&str, String)]) -> String {
    let items: Vec<String> = pairs.iter().map(|(k, v)| format!("'{k}', {v}")).collect();
    format!("json_object({})", items.join(", "))
}

/// The JSON object `{key: value}` of the rows of `from_where` (`{}` without rows), as a value of
/// [`json_object`].
pub(crate) fn json_object_agg(key: &str, value: &str, from_where: &str) -> String {
    format!("json((SELECT json_group_object({key}, {value}) FROM {from_where}))")
}

/// A column holding JSON text, as a JSON value of [`json_object`] (not a string).
pub(crate) fn json_value(e: &str) -> String {
    format!("json({e})")
}

/// Bounds the time of the filtered reads on `conn` (a list whose filter cannot use an index): once
/// `limit` has passed, the statement running is interrupted (`SQLITE_INTERRUPT`, which
/// [`is_time_limit`] recognises). SQLite has no statement timeout; a progress handler, called every
/// few thousand virtual-machine instructions, checks the clock. The handler stays on the pooled
/// connection until the next one replaces it, so it is disarmed when the returned guard is
/// dropped (also when the request is cancelled half-way): then it never interrupts anything.
pub(crate) async fn bound_reads(conn: &mut sqlx::SqliteConnection, limit: std::time::Duration) -> Result<ReadBound> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let armed = std::sync::Arc::new(AtomicBool::new(true));
    let deadline = std::time::Instant::now() + limit;
    let flag = armed.clone();
    let mut handle = conn.lock_handle().await.map_err(confab_core::Error::internal)?;
    handle.set_progress_handler(10_000, move || !flag.load(Ordering::Relaxed) || std::time::Instant::now() < deadline);
    Ok(ReadBound(armed))
}

/// Disarms the progress handler of [`bound_reads`] when dropped.
pub(crate) struct ReadBound(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Drop for ReadBound {
    fn drop(&mut self) {
        self.0.store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Whether `e` is a statement interrupted by [`bound_reads`].
pub(crate) fn is_time_limit(e: &sqlx::Error) -> bool {
    // SQLITE_INTERRUPT.
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("9"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Connection;

    #[tokio::test]
    async fn a_bounded_read_is_interrupted_at_its_limit_and_the_connection_lives_on() {
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:").await.unwrap();
        let endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n";
        let started = std::time::Instant::now();
        let bound = bound_reads(&mut conn, std::time::Duration::from_millis(100)).await.unwrap();
        let err = sqlx::query_scalar::<_, i64>(endless).fetch_one(&mut conn).await.unwrap_err();
        assert!(is_time_limit(&err), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        // Disarmed, the handler left on the connection interrupts nothing any more.
        drop(bound);
        std::thread::sleep(std::time::Duration::from_millis(150));
        let n: i64 = sqlx::query_scalar(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000) SELECT count(*) FROM n",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(n, 300_000);
        assert!(!is_time_limit(&sqlx::Error::RowNotFound));
    }
}
