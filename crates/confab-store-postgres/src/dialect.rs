//! What PostgreSQL spells differently from SQLite, for the shared SQL in `confab-store/sql`.

use confab_core::{Error, Result};
use sqlx::PgPool;

/// The `sqlx` database the shared SQL is compiled for.
pub(crate) type Db = sqlx::Postgres;

/// Concurrent transactions commit out of order, so a position given at insert would not be
/// commit-ordered: events are inserted without one and [`assign_event_positions`] gives it.
pub(crate) const POSITION_AT_INSERT: &str = "NULL";

/// Locks the rows a read-modify-write transaction reads, so concurrent changes queue.
pub(crate) const FOR_UPDATE: &str = " FOR UPDATE";

/// Claims rows for background work without waiting for (or taking) rows another node holds.
pub(crate) const FOR_UPDATE_SKIP_LOCKED: &str = " FOR UPDATE SKIP LOCKED";

/// An arbitrary constant naming the relay's advisory lock: one relay at a time across nodes.
const RELAY_LOCK: i64 = 0x636f_6e66_6162_0001;

/// The relay: gives positions, in one batch, to every committed event whose transaction id is below
/// the oldest transaction still running (the watermark). An event's transaction cannot commit after
/// the watermark has passed it, so an event positioned later always commits later: a reader that has
/// seen position N never sees a position below N appear afterwards.
pub(crate) async fn assign_event_positions(pool: &PgPool) -> Result<u64> {
    let mut tx = pool.begin().await.map_err(Error::internal)?;
    let (locked,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_xact_lock($1)")
        .bind(RELAY_LOCK)
        .fetch_one(&mut *tx)
        .await
        .map_err(Error::internal)?;
    if !locked {
        return Ok(0);
    }
    let done = sqlx::query(
        "WITH base AS (SELECT COALESCE(MAX(position), 0) AS p FROM events),
         todo AS (
             SELECT seq, row_number() OVER (ORDER BY seq) AS rn FROM events
             WHERE position IS NULL AND xid < pg_snapshot_xmin(pg_current_snapshot())
             ORDER BY seq LIMIT 5000
         )
         UPDATE events e SET position = base.p + todo.rn FROM todo, base WHERE e.seq = todo.seq",
    )
    .execute(&mut *tx)
    .await
    .map_err(Error::internal)?
    .rows_affected();
    if done > 0 {
        // Delivered at commit to every node's listener (`listen_for_events`).
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(EVENTS_CHANNEL)
            .execute(&mut *tx)
            .await
            .map_err(Error::internal)?;
    }
    tx.commit().await.map_err(Error::internal)?;
    Ok(done)
}

/// The LISTEN/NOTIFY channel on which the relay announces newly positioned events.
const EVENTS_CHANNEL: &str = "confab_events";

/// Listens on [`EVENTS_CHANNEL`] with one connection of the pool (held while listening; `sqlx`
/// reconnects it when it drops, and we then call `on_event` since notifications may be lost).
pub(crate) async fn listen_for_events(pool: &PgPool, on_event: &(dyn Fn() + Send + Sync)) -> Result<()> {
    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await.map_err(Error::internal)?;
    listener.listen(EVENTS_CHANNEL).await.map_err(Error::internal)?;
    on_event();
    loop {
        // `None`: the connection was lost and the next call re-establishes it; catch up either way.
        let _ = listener.try_recv().await.map_err(Error::internal)?;
        on_event();
    }
}

/// Appends a condition: the row `alias` of `target`'s table has a word starting with `word` (a word
/// of [`crate::sql::search::split`]), through the GIN index on `confab_search_vector(column)`
/// (`0003_search.sql`): the expression here is the indexed one, so that the index serves it.
pub(crate) fn push_word_match(
    q: &mut sqlx::QueryBuilder<'_, Db>,
    target: crate::sql::search::Target,
    alias: &str,
    word: &str,
) {
    use crate::sql::search::Target;
    let column = |q: &mut sqlx::QueryBuilder<'_, Db>, column: &str| {
        q.push(format!(" confab_search_vector({alias}.{column}) @@ confab_search_prefix("))
            .push_bind(word.to_string())
            .push(")");
    };
    match target {
        Target::ContactName => column(q, "name"),
        Target::ContactNames => {
            q.push(" (");
            column(q, "name");
            q.push(" OR");
            column(q, "display_name");
            q.push(")");
        }
        Target::MessageText => column(q, "text"),
    }
}

/// Appends a subquery: `column` of the rows of `target`'s table, of `tenant`, that have a word
/// starting with `word` (through the GIN index, as [`push_word_match`]).
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
    q.push(format!("SELECT t.{column} FROM {table} t WHERE"));
    push_word_match(q, target, "t", word);
    q.push(" AND t.tenant_id = ").push_bind(tenant);
}

/// Written before a column in a condition to keep SQLite from using an index for it: nothing here
/// (PostgreSQL's planner has statistics).
pub(crate) const NO_INDEX: &str = "";

/// The engine the query language (`confab_query`) compiles filters for.
pub(crate) const QUERY_DIALECT: confab_query::Dialect = confab_query::Dialect::Postgres;

/// A UUID column as its lowercase hyphenated text, NULL when it is NULL.
pub(crate) fn uuid_text(e: &str) -> String {
    format!("{e}::text")
}

/// The last five characters of [`uuid_text`].
pub(crate) fn uuid_last5(e: &str) -> String {
    format!("right({e}::text, 5)")
}

/// The text `e` with its first character in capitals (PostgreSQL's `upper()`, by the database's
/// locale), or `empty` when `e` is empty. Inline: cheaper on PostgreSQL than a subquery per row.
pub(crate) fn capitalized_or(e: &str, empty: &str) -> String {
    format!("COALESCE(NULLIF(upper(left({e}, 1)) || substr({e}, 2), ''), '{empty}')")
}

/// `e` without the characters `chars` (code points) at either end.
pub(crate) fn trim_chars(e: &str, chars: &[u32]) -> String {
    let set: Vec<String> = chars.iter().map(|c| format!("chr({c})")).collect();
    format!("btrim({e}, {})", set.join(" || "))
}

/// What follows the last `.` of the text `e` (all of it without a dot).
pub(crate) fn after_last_dot(e: &str) -> String {
    format!("reverse(split_part(reverse({e}), '.', 1))")
}

/// A JSON object of constant keys and SQL values (`jsonb`).
pub(crate) fn json_object(pairs: &[(&str, String)]) -> String {
    let items: Vec<String> = pairs.iter().map(|(k, v)| format!("'{k}', {v}")).collect();
    format!("jsonb_build_object({})", items.join(", "))
}

/// The JSON object `{key: value}` of the rows of `from_where` (`{}` without rows).
pub(crate) fn json_object_agg(key: &str, value: &str, from_where: &str) -> String {
    format!("(SELECT COALESCE(jsonb_object_agg({key}, {value}), '{{}}'::jsonb) FROM {from_where})")
}

/// A JSONB column as a value of [`json_object`]: as it is.
pub(crate) fn json_value(e: &str) -> String {
    e.to_string()
}

/// Bounds the filtered reads of the transaction open on `conn` (a list whose filter cannot use an
/// index): `statement_timeout` = `limit` (PostgreSQL cancels a statement running longer, code
/// 57014, which [`is_time_limit`] recognises), and no JIT compilation (it costs ~150 ms on the big
/// expressions filters compile to, more than most such reads take). Both are `SET LOCAL`: they end
/// with the transaction, also when the request is cancelled half-way.
pub(crate) async fn bound_reads(conn: &mut sqlx::PgConnection, limit: std::time::Duration) -> Result<ReadBound> {
    let ms = limit.as_millis().max(1);
    for set in ["SET LOCAL jit = off".to_string(), format!("SET LOCAL statement_timeout = {ms}")] {
        sqlx::query(&set).execute(&mut *conn).await.map_err(Error::internal)?;
    }
    Ok(ReadBound)
}

/// Nothing to undo: the settings of [`bound_reads`] end with their transaction.
pub(crate) struct ReadBound;

/// Whether `e` is a statement cancelled by the `statement_timeout` of [`bound_reads`].
pub(crate) fn is_time_limit(e: &sqlx::Error) -> bool {
    // query_canceled.
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("57014"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Connection;

    /// Runs with `CONFAB_TEST_POSTGRES` (a server URL); skipped without it.
    #[tokio::test]
    async fn a_bounded_read_is_cancelled_at_its_limit_without_jit_and_only_in_its_transaction() {
        let Some(url) = std::env::var("CONFAB_TEST_POSTGRES").ok().filter(|u| !u.trim().is_empty()) else {
            return;
        };
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        let before: String = sqlx::query_scalar("SHOW statement_timeout").fetch_one(&mut conn).await.unwrap();
        let mut tx = conn.begin().await.unwrap();
        bound_reads(&mut tx, std::time::Duration::from_millis(100)).await.unwrap();
        let jit: String = sqlx::query_scalar("SHOW jit").fetch_one(&mut *tx).await.unwrap();
        assert_eq!(jit, "off");
        let started = std::time::Instant::now();
        let err = sqlx::query("SELECT pg_sleep(5)").execute(&mut *tx).await.unwrap_err();
        assert!(is_time_limit(&err), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(4));
        drop(tx);
        let after: String = sqlx::query_scalar("SHOW statement_timeout").fetch_one(&mut conn).await.unwrap();
        assert_eq!(after, before);
        assert!(!is_time_limit(&sqlx::Error::RowNotFound));
    }
}
