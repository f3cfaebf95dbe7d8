//! Following a tenant's event log as it grows: what the realtime streams share (Linktor's SSE
//! `GET /v1/events/stream`, Airy's STOMP websocket `GET /ws.communication`).
//!
//! A [`Follower`] reads the committed events after a position (`events_after`, in batches) and,
//! once it has caught up, waits for the process's [`confab_events::EventNotifier`] (advanced by the
//! position relay) before it reads again. The notifier is a `watch`: a wake-up missed or merged
//! loses nothing, since the follower reads the log itself from the last position it returned.
//! Positions are commit-ordered, so nothing can appear below one already returned: no gap, no
//! duplicate.
//!
//! [`Follower::next_batch`] is cancel-safe (the position moves only when a batch is returned), so a
//! stream can race it against its client going away.

use crate::AppState;
use confab_core::model::Event;
use confab_core::TenantId;
use confab_events::EventNotifier;
use confab_store::DynStore;
use tokio::sync::watch;

/// Where a stream that starts "now" starts: after every event committed so far. Events committed
/// but not yet positioned (PostgreSQL's relay runs apart) are positioned first, so that the stream
/// does not send them as if they were new.
pub async fn current_position(store: &DynStore) -> confab_core::Result<i64> {
    store.assign_event_positions().await?;
    store.latest_event_position().await
}

/// A reader of one tenant's event log from a position on.
pub struct Follower {
    store: DynStore,
    notifier: EventNotifier,
    wake: watch::Receiver<i64>,
    tenant: TenantId,
    last: i64,
    batch: u32,
}

impl Follower {
    /// Follows `tenant`'s events after position `after`, reading at most `batch` at a time.
    pub fn new(state: &AppState, tenant: TenantId, after: i64, batch: u32) -> Self {
        Self {
            store: state.store.clone(),
            notifier: state.events.clone(),
            wake: state.events.subscribe(),
            tenant,
            last: after,
            batch: batch.max(1),
        }
    }

    /// The position of the last event returned (or the starting one).
    pub fn position(&self) -> i64 {
        self.last
    }

    /// The next events (at least one, in position order), waiting until some are committed.
    /// `Ok(None)` when the server is stopping; an error when the log cannot be read.
    pub async fn next_batch(&mut self) -> confab_core::Result<Option<Vec<Event>>> {
        loop {
            // Mark the current value seen before reading, so a commit after the read wakes us.
            self.wake.borrow_and_update();
            let batch = self.store.events_after(self.tenant, self.last, self.batch).await?;
            let batch: Vec<Event> = batch.into_iter().filter(|e| e.position.is_some()).collect();
            if let Some(p) = batch.last().and_then(|e| e.position) {
                self.last = p;
                return Ok(Some(batch));
            }
            tokio::select! {
                r = self.wake.changed() => if r.is_err() { return Ok(None) },
                _ = self.notifier.stopped() => return Ok(None),
            }
        }
    }
}
