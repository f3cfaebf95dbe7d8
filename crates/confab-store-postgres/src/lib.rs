//! Confab's storage on PostgreSQL, the scale-out engine: several Confab nodes share one database.
//!
//! The SQL is shared with SQLite (see `confab-store/sql`); what differs is in `dialect.rs`: row locks
//! for read-modify-write transactions, `SKIP LOCKED` claims for background work, and the relay that
//! gives events commit-ordered stream positions.

#![forbid(unsafe_code)]

mod dialect;
#[path = "../../confab-store/sql/mod.rs"]
mod sql;

use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use std::time::Duration;

/// The PostgreSQL store. Reads and writes share one pool.
#[derive(Clone)]
pub struct SqlStore {
    pub(crate) read: PgPool,
    pub(crate) write: PgPool,
}

impl SqlStore {
    /// Connects to `url` (`postgres://user@host/db`).
    pub async fn open(url: &str) -> Result<Self, sqlx::Error> {
        let pool =
            PgPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(30)).connect(url).await?;
        Ok(Self { read: pool.clone(), write: pool })
    }

    /// Applies pending migrations (sqlx takes an advisory lock, so two nodes starting together are safe).
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        sqlx::migrate!("./migrations").run(&self.write).await
    }

    /// Closes the pool, waiting for in-flight queries.
    pub async fn close(&self) {
        self.write.close().await;
    }

    /// The pool, for tests that need to inspect the database directly.
    pub fn pool(&self) -> &PgPool {
        &self.write
    }
}
