//! Background work driven by the database: the snooze timer and the event-position relay. Later:
//! webhook delivery and realtime fan-out, fed by the same event log.
//!
//! Every worker listens to one shutdown signal and finishes its current batch before it stops.
//! Work is claimed in the database (`FOR UPDATE SKIP LOCKED`, an advisory lock for the relay), so
//! any number of nodes can run the same workers against one PostgreSQL.

#![forbid(unsafe_code)]

pub mod webhooks;

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

/// Wakes the realtime streams of this process: holds the highest event position known to be
/// committed and positioned (in any tenant). The position relay advances it; a stream waits for a
/// change and then reads the event log itself, so a missed or merged wake-up loses nothing. A
/// `watch` channel keeps one value, never a queue: a slow stream cannot grow it.
#[derive(Clone, Debug)]
pub struct EventNotifier {
    tx: std::sync::Arc<watch::Sender<i64>>,
    stopping: std::sync::Arc<watch::Sender<bool>>,
}

impl Default for EventNotifier {
    fn default() -> Self {
        Self { tx: std::sync::Arc::new(watch::channel(0).0), stopping: std::sync::Arc::new(watch::channel(false).0) }
    }
}

impl EventNotifier {
    /// Records that events up to `position` are readable, waking the streams when it is new.
    pub fn advance(&self, position: i64) {
        self.tx.send_if_modified(|p| {
            if position > *p {
                *p = position;
                true
            } else {
                false
            }
        });
    }

    /// A receiver whose `changed()` resolves when new events are readable.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.tx.subscribe()
    }

    /// Ends every stream (the process is stopping: open streams would hold graceful shutdown).
    pub fn stop(&self) {
        self.stopping.send_replace(true);
    }

    /// Resolves once [`EventNotifier::stop`] was called.
    pub async fn stopped(&self) {
        let mut rx = self.stopping.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }
}

/// Gives committed events their stream positions (a no-op on SQLite, which positions at insert),
/// then advances `notifier` to the newest position in the log. Every node runs it: on PostgreSQL
/// one node at a time positions (an advisory lock) and notifies `confab_events`; every node
/// listens (a task spawned here) and runs its relay at once on a notification, so an event
/// committed through node A wakes the streams of node B at once — and within one poll even if a
/// notification is lost.
pub fn spawn_position_relay(store: DynStore, notifier: EventNotifier, mut shutdown: Shutdown) -> JoinHandle<()> {
    let nudge = std::sync::Arc::new(tokio::sync::Notify::new());
    let listener = spawn_event_listener(store.clone(), nudge.clone(), shutdown.clone());
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
            match store.latest_event_position().await {
                Ok(p) => notifier.advance(p),
                Err(e) => tracing::warn!(error = %e, "reading the latest event position failed; retrying"),
            }
            if *shutdown.borrow() {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = nudge.notified() => {}
                _ = shutdown.changed() => break,
            }
        }
        notifier.stop();
        let _ = listener.await;
    })
}

/// Runs [`confab_store::EventStore::listen_for_events`] until shutdown, reconnecting after a
/// failure; each notification nudges the relay.
fn spawn_event_listener(
    store: DynStore,
    nudge: std::sync::Arc<tokio::sync::Notify>,
    mut shutdown: Shutdown,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let on_event = || nudge.notify_one();
            tokio::select! {
                r = store.listen_for_events(&on_event) => match r {
                    Ok(()) => break, // the engine has no notifications
                    Err(e) => tracing::warn!(error = %e, "event listener failed; reconnecting"),
                },
                _ = shutdown.wait_for(|s| *s) => break,
            }
            if sleep_or_stop(Duration::from_secs(1), &mut shutdown).await {
                break;
            }
        }
    })
}
