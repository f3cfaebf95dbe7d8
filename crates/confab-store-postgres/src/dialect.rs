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
    tx.commit().await.map_err(Error::internal)?;
    Ok(done)
}
