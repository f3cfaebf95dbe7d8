//! Confab's storage on SQLite, the embedded default.
//!
//! One file, WAL journal, foreign keys on, `synchronous = FULL` (a write is acknowledged only once
//! it is durable), one writer connection (SQLite has one writer anyway; queuing in the pool is
//! cheaper than `SQLITE_BUSY` retries) and a pool of read-only readers that never wait for it.
//! The SQL itself is shared with PostgreSQL: see `confab-store/sql`.

#![forbid(unsafe_code)]

mod dialect;
#[path = "../../confab-store/sql/mod.rs"]
mod sql;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::str::FromStr;
use std::time::Duration;

/// The SQLite store: a writer and a pool of readers on one database file.
#[derive(Clone)]
pub struct SqlStore {
    pub(crate) read: SqlitePool,
    pub(crate) write: SqlitePool,
}

impl SqlStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://confab.db`, `sqlite:///abs/path.db`).
    pub async fn open(url: &str) -> Result<Self, sqlx::Error> {
        let base = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("temp_store", "memory")
            .pragma("cache_size", "-16000");
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(base.clone())
            .await?;
        // Make sure the file and its WAL exist before readers open it read-only.
        sqlx::query("SELECT 1").execute(&write).await?;
        let readers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(2, 8) as u32;
        let read = SqlitePoolOptions::new()
            .max_connections(readers)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(base.read_only(true).create_if_missing(false))
            .await?;
        Ok(Self { read, write })
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        sqlx::migrate!("./migrations").run(&self.write).await
    }

    /// Closes both pools, waiting for in-flight queries.
    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}
