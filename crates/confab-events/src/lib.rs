//! Background work driven by the database: the snooze timer and the event-position relay. Later:
//! webhook delivery and realtime fan-out, fed by the same event log.
//!
//! Every worker listens to one shutdown signal and finishes its current batch before it stops.
//! Work is claimed in the database (`FOR UPDATE SKIP LOCKED`, an advisory lock for the relay), so
//! any number of nodes can run the same workers against one PostgreSQL.

#![forbid(unsafe_code)]

use confab_core::time;
use confab_store::DynStore;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long the snooze timer sleeps at most between looks at the next due time, so a conversation
/// snoozed for a shorter time (possibly on another node) wakes at most this late.
pub const SNOOZE_POLL: Duration = Duration::from_millis(500);
/// How often the relay gives positions to newly committed events (PostgreSQL).
pub const RELAY_POLL: Duration = Duration::from_millis(50);
const WAKE_BATCH: u32 = 200;

/// A shutdown signal: `true` once the process is stopping.
pub type Shutdown = watch::Receiver<bool>;

/// Sleeps for `d`, returning early (with `true`) when shutdown is signalled.
async fn sleep_or_stop(d: Duration, shutdown: &mut Shutdown) -> bool {
    if *shutdown.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = shutdown.changed() => true,
    }
}

/// Opens snoozed conversations at their `snoozedUntil`, also those whose time passed while Confab
/// was down.
pub fn spawn_snooze_timer(store: DynStore, mut shutdown: Shutdown) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let now = time::now();
            let failed = match store.wake_snoozed(now, WAKE_BATCH).await {
                // A full batch: more may be due already.
                Ok(n) if n == WAKE_BATCH && !*shutdown.borrow() => continue,
                Ok(n) => {
                    if n > 0 {
                        tracing::debug!(woken = n, "snoozed conversations reopened");
                    }
                    false
                }
                Err(e) => {
                    tracing::warn!(error = %e, "snooze timer failed; retrying");
                    true
                }
            };
            // After a failure the due time is likely past: wait a full poll rather than spin.
            let wait = match store.next_snooze_due().await {
                Ok(Some(due)) if !failed => (due - time::now()).to_std().unwrap_or(Duration::ZERO).min(SNOOZE_POLL),
                _ => SNOOZE_POLL,
            };
            if sleep_or_stop(wait, &mut shutdown).await {
                break;
            }
        }
    })
}

/// Gives committed events their stream positions (a no-op on SQLite, which positions at insert).
pub fn spawn_position_relay(store: DynStore, mut shutdown: Shutdown) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let wait = match store.assign_event_positions().await {
                Ok(n) if n > 0 => Duration::ZERO,
                Ok(_) => RELAY_POLL,
                Err(e) => {
                    tracing::warn!(error = %e, "event relay failed; retrying");
                    Duration::from_secs(1)
                }
            };
            if sleep_or_stop(wait, &mut shutdown).await {
                break;
            }
        }
    })
}
