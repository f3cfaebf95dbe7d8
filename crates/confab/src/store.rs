//! Opening the store: the only place that picks a backend, from the URL's scheme.

use confab_store::DynStore;
use std::sync::Arc;

/// An opened store, with what is needed to close it cleanly.
pub struct Opened {
    pub store: DynStore,
    closer: Closer,
}

enum Closer {
    Sqlite(confab_store_sqlite::SqlStore),
    Postgres(confab_store_postgres::SqlStore),
}

impl Opened {
    /// Waits for in-flight queries and closes the connections.
    pub async fn close(self) {
        match self.closer {
            Closer::Sqlite(s) => s.close().await,
            Closer::Postgres(s) => s.close().await,
        }
    }
}

/// Why the database could not be used.
#[derive(Debug)]
pub struct OpenError(pub String);

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OpenError {}

/// Opens `url` (`sqlite://…` or `postgres://…`/`postgresql://…`) and applies pending migrations.
pub async fn open(url: &str) -> Result<Opened, OpenError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| OpenError(format!("{what} {}: {e}", redact(url)));
    if url.starts_with("sqlite:") {
        let s = confab_store_sqlite::SqlStore::open(url).await.map_err(|e| fail("cannot open", &e))?;
        s.migrate().await.map_err(|e| fail("cannot migrate", &e))?;
        Ok(Opened { store: Arc::new(s.clone()), closer: Closer::Sqlite(s) })
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let s = confab_store_postgres::SqlStore::open(url).await.map_err(|e| fail("cannot connect to", &e))?;
        s.migrate().await.map_err(|e| fail("cannot migrate", &e))?;
        Ok(Opened { store: Arc::new(s.clone()), closer: Closer::Postgres(s) })
    } else {
        Err(OpenError(format!(
            "unsupported database URL {}: use sqlite://path.db or postgres://user@host/db",
            redact(url)
        )))
    }
}

/// The URL with its password hidden, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(super::redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(super::redact("sqlite://confab.db"), "sqlite://confab.db");
    }
}
