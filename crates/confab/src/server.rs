//! `confab serve`: the HTTP server and the background workers, stopped together on SIGINT/SIGTERM
//! after the requests in flight have finished.

use confab_api::AppState;
use confab_store::DynStore;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// A running server (tests hold one; `confab serve` waits on it).
pub struct Running {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Signals shutdown and waits for the server and the workers to finish.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        self.wait().await;
    }

    /// Waits until the server has stopped (after [`Running::stopper`] fired).
    pub async fn wait(self) {
        if let Ok(Err(e)) = self.server.await {
            tracing::error!(error = %e, "server error");
        }
        for w in self.workers {
            let _ = w.await;
        }
    }

    /// A handle that stops the server when sent `true`.
    pub fn stopper(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }
}

/// Starts serving on `listener` with the workers. The listener is bound by the caller, so a test can
/// bind port 0 and know the address before the first request.
pub fn start(listener: TcpListener, store: DynStore) -> std::io::Result<Running> {
    start_with(listener, store, None)
}

/// [`start`] with the key that signs attachment download URLs (`--url-signing-key`); without one a
/// random key is drawn, and the URLs then do not survive a restart nor hold on other nodes.
pub fn start_with(listener: TcpListener, store: DynStore, url_signing_key: Option<String>) -> std::io::Result<Running> {
    start_with_options(listener, store, Options { url_signing_key, ..Options::default() })
}

/// What `confab serve` takes beyond the listener and the store.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// See [`start_with`].
    pub url_signing_key: Option<String>,
    /// `--webhook-retry-schedule` and `--allow-insecure-webhooks`.
    pub webhooks: confab_events::webhooks::WebhookConfig,
}

/// [`start`] with every option.
pub fn start_with_options(listener: TcpListener, store: DynStore, options: Options) -> std::io::Result<Running> {
    let Options { url_signing_key, webhooks } = options;
    let sender = confab_api::webhook_sender(webhooks);
    let addr = listener.local_addr()?;
    let (stop, stopped) = watch::channel(false);
    let notifier = confab_events::EventNotifier::default();
    let workers = vec![
        confab_events::spawn_snooze_timer(store.clone(), stopped.clone()),
        confab_events::spawn_position_relay(store.clone(), notifier.clone(), stopped.clone()),
        spawn_idempotency_purge(store.clone(), stopped.clone()),
        confab_events::webhooks::spawn_webhook_worker(store.clone(), sender.clone(), stopped.clone()),
    ];
    let mut on_stop = stopped.clone();
    let shutdown = async move {
        let _ = on_stop.wait_for(|s| *s).await;
    };
    let server = tokio::spawn(confab_api::serve(
        listener,
        AppState::new(store)
            .with_url_signing_key(url_signing_key.as_deref())
            .with_event_notifier(notifier)
            .with_webhooks(sender),
        shutdown,
    ));
    Ok(Running { addr, stop, server, workers })
}

/// How often idempotency keys past their retention are deleted.
const IDEMPOTENCY_PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(60 * 60);

/// Deletes idempotency keys older than their 24 hours, at start and then hourly (a reservation also
/// drops an expired row of its own key, so the purge only keeps the table small).
fn spawn_idempotency_purge(store: DynStore, mut stopped: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(IDEMPOTENCY_PURGE_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = stopped.wait_for(|s| *s) => break,
            }
            let before = confab_api::idempotency::cutoff(confab_core::time::now());
            match store.purge_idempotency(before).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(purged = n, "expired idempotency keys deleted"),
                Err(e) => tracing::warn!(error = %e, "idempotency key purge failed; retrying in an hour"),
            }
        }
    })
}

/// Resolves when the process receives SIGINT or SIGTERM.
pub async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
