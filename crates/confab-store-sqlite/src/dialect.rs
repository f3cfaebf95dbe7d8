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
