//! Webhook delivery from the event log.
//!
//! - The dispatcher reads, per active subscription, the events after the subscription's cursor
//!   (`events_after`) and records the matching ones as pending deliveries, moving the cursor in the
//!   same transaction: an event is turned into a delivery exactly once, and none is lost across a
//!   restart.
//! - The sender claims due deliveries (each the earliest pending one of its (subscription,
//!   conversation): a later event waits while an earlier one is retried, until it is delivered or
//!   dead) by pushing their next attempt a lease ahead, commits, and only then POSTs: no
//!   transaction is held across the HTTP call, and a node killed mid-delivery leaves the delivery to
//!   be claimed again once the lease has passed (at least once).
//! - A 2xx answer is success; anything else (status, timeout, network error) is retried after the
//!   server-wide schedule (`--webhook-retry-schedule`), until the subscription's `maxRetries`
//!   attempts are spent: then the delivery is `failed` (dead).
//!
//! - A subscription's `format` (a [`WebhookFormat`], one per face, registered in [`Formats`] by the
//!   binary since confab-events does not know the faces) names each event in its platform's
//!   vocabulary (or skips it), and renders and signs the payload from the event's snapshot.
//! - Redirects are not followed; a connect timeout, the subscription's total timeout and a cap on
//!   how much of the answer is read bound every attempt.

use crate::{sleep_or_stop, Shutdown};
use confab_core::model::Event;
use confab_core::time;
use confab_core::Time;
use confab_store::{DeliveryAttempt, DynStore, Webhook};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// How often the worker looks for new events and due deliveries.
pub const WEBHOOK_POLL: Duration = Duration::from_millis(100);
/// How long a claimed delivery is left to its sender before another may claim it again.
const LEASE: Duration = Duration::from_secs(120);
const EVENT_BATCH: u32 = 500;
const SEND_BATCH: u32 = 32;
/// At most this much of a receiver's answer is read (it is only kept as an error text).
const RESPONSE_CAP: usize = 4096;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Server-wide webhook settings.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// The waits after the 1st, 2nd, … failed attempt (the last one repeats).
    pub retry_schedule: Vec<Duration>,
    /// `--allow-insecure-webhooks`: http and private receivers are accepted.
    pub allow_insecure: bool,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self { retry_schedule: parse_schedule(DEFAULT_SCHEDULE).expect("default schedule"), allow_insecure: false }
    }
}

/// Linktor's documented schedule: 1 min, 5 min, 30 min, 2 h.
pub const DEFAULT_SCHEDULE: &str = "1m,5m,30m,2h";

/// Parses `1m,5m,30m,2h` (units `ms`, `s`, `m`, `h`; at least one wait).
pub fn parse_schedule(s: &str) -> Result<Vec<Duration>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim) {
        let split = part.find(|c: char| !c.is_ascii_digit()).unwrap_or(part.len());
        let (n, unit) = part.split_at(split);
        let n: u64 = n.parse().map_err(|_| format!("`{part}` is not a duration like 100ms, 30s, 5m or 2h"))?;
        let d = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n * 60),
            "h" => Duration::from_secs(n * 3600),
            _ => return Err(format!("`{part}` is not a duration like 100ms, 30s, 5m or 2h")),
        };
        out.push(d);
    }
    if out.is_empty() {
        return Err("the retry schedule is empty".into());
    }
    Ok(out)
}

/// HMAC-SHA256 (RFC 2104) of `msg` with `key`.
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// A payload ready to POST: the body and the headers of its format (signature included).
#[derive(Clone, Debug)]
pub struct Rendered {
    pub body: Vec<u8>,
    pub headers: Vec<(&'static str, String)>,
}

/// One delivery attempt to render.
pub struct Outgoing<'a> {
    pub delivery_id: Uuid,
    /// The format's name for the event (what the subscription asked for).
    pub event_name: &'a str,
    pub event: &'a Event,
    pub sub: &'a Webhook,
    /// When this attempt is made (signature timestamps).
    pub sent_at: Time,
}

/// A platform's webhook dialect: its event names, payload shape and signature scheme.
pub trait WebhookFormat: Send + Sync + 'static {
    /// The `format` value (`linktor`, `airy`, `protocol`, `gtateth`).
    fn name(&self) -> &'static str;
    /// Every event name a subscription of this format may ask for (`*` aside).
    fn event_names(&self) -> &'static [&'static str];
    /// This platform's name for `event`, or `None` when it has no such event.
    fn event_name(&self, event: &Event) -> Option<&'static str>;
    /// The body and headers of one attempt.
    fn render(&self, out: &Outgoing<'_>) -> Rendered;
}

/// The formats a server knows, by name.
#[derive(Clone, Default)]
pub struct Formats(Arc<Vec<Arc<dyn WebhookFormat>>>);

impl Formats {
    pub fn new(formats: Vec<Arc<dyn WebhookFormat>>) -> Self {
        Self(Arc::new(formats))
    }

    pub fn get(&self, name: &str) -> Option<&dyn WebhookFormat> {
        self.0.iter().find(|f| f.name() == name).map(|f| f.as_ref())
    }

    /// The names, in registration order.
    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|f| f.name()).collect()
    }
}

/// Sends deliveries: one HTTP client, the server-wide settings and the formats. The worker and the
/// faces' test endpoints share it.
#[derive(Clone)]
pub struct WebhookSender {
    http: reqwest::Client,
    config: WebhookConfig,
    formats: Formats,
}

impl WebhookSender {
    pub fn new(config: WebhookConfig, formats: Formats) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { http, config, formats })
    }

    pub fn formats(&self) -> &Formats {
        &self.formats
    }

    pub fn config(&self) -> &WebhookConfig {
        &self.config
    }

    /// One POST of `event` to `sub` as delivery `delivery_id` after `attempts_before` attempts, and
    /// what to record.
    pub async fn send(
        &self,
        delivery_id: Uuid,
        attempts_before: i64,
        event_name: &str,
        sub: &Webhook,
        event: &Event,
    ) -> DeliveryAttempt {
        let Some(format) = self.formats.get(&sub.format) else {
            return DeliveryAttempt {
                status: "failed".into(),
                next_attempt_at: time::now(),
                response_status: None,
                error: Some(format!("unknown webhook format `{}`", sub.format)),
            };
        };
        let rendered = format.render(&Outgoing { delivery_id, event_name, event, sub, sent_at: time::now() });
        let mut req = self
            .http
            .post(&sub.url)
            .timeout(Duration::from_secs(sub.timeout_secs.clamp(1, 300) as u64))
            .header("content-type", "application/json")
            .header("user-agent", "Confab-Webhooks/1");
        for (k, v) in &rendered.headers {
            req = req.header(*k, v);
        }
        for (k, v) in &sub.headers {
            if let Some(v) = v.as_str() {
                req = req.header(k.as_str(), v);
            }
        }
        let (ok, status, error) = match req.body(rendered.body).send().await {
            Ok(mut resp) => {
                let status = resp.status();
                let mut text = Vec::new();
                while let Ok(Some(chunk)) = resp.chunk().await {
                    text.extend_from_slice(&chunk[..chunk.len().min(RESPONSE_CAP - text.len())]);
                    if text.len() >= RESPONSE_CAP {
                        break;
                    }
                }
                let error = (!status.is_success())
                    .then(|| format!("HTTP {}: {}", status.as_u16(), String::from_utf8_lossy(&text)));
                (status.is_success(), Some(i64::from(status.as_u16())), error)
            }
            Err(e) => (false, None, Some(if e.is_timeout() { format!("timeout: {e}") } else { e.to_string() })),
        };
        let attempts = attempts_before + 1;
        let now = time::now();
        if ok {
            return DeliveryAttempt {
                status: "succeeded".into(),
                next_attempt_at: now,
                response_status: status,
                error: None,
            };
        }
        if attempts >= sub.max_retries.max(1) {
            return DeliveryAttempt { status: "failed".into(), next_attempt_at: now, response_status: status, error };
        }
        let wait = chrono::Duration::from_std(self.config.wait_after(&sub.backoff, attempts)).unwrap_or_default();
        DeliveryAttempt { status: "pending".into(), next_attempt_at: now + wait, response_status: status, error }
    }
}

impl WebhookConfig {
    /// The wait after the `attempts`-th failed attempt (from 1) under `backoff`: `exponential`
    /// 2 s, 4 s, 8 s, …; `linear` 5 s, 10 s, 15 s, … (G-Tateth's strategies, capped at an hour);
    /// anything else the server-wide schedule, whose last wait repeats.
    pub fn wait_after(&self, backoff: &str, attempts: i64) -> Duration {
        let n = attempts.max(1) as u32;
        let cap = Duration::from_secs(3600);
        match backoff {
            "exponential" => Duration::from_secs(2u64.saturating_pow(n.min(20))).min(cap),
            "linear" => Duration::from_secs(5 * u64::from(n)).min(cap),
            _ => self.retry_schedule[(n as usize - 1).min(self.retry_schedule.len() - 1)],
        }
    }
}

/// Starts the dispatcher and the sender (one task).
pub fn spawn_webhook_worker(store: DynStore, sender: WebhookSender, mut shutdown: Shutdown) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = dispatch(&store, sender.formats()).await {
                tracing::warn!(error = %e, "webhook dispatch failed; retrying");
            }
            match send_due(&store, &sender).await {
                Ok(n) if n > 0 && !*shutdown.borrow() => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "webhook sending failed; retrying"),
            }
            if sleep_or_stop(WEBHOOK_POLL, &mut shutdown).await {
                break;
            }
        }
    })
}

/// Turns new events into pending deliveries, for every active subscription.
async fn dispatch(store: &DynStore, formats: &Formats) -> confab_core::Result<()> {
    for sub in store.active_webhooks().await? {
        let Some(format) = formats.get(&sub.format) else {
            tracing::warn!(webhook = %sub.id, format = %sub.format, "unknown webhook format; subscription skipped");
            continue;
        };
        let mut from = sub.cursor_position;
        loop {
            let events = store.events_after(sub.tenant_id, from, EVENT_BATCH).await?;
            let Some(to) = events.last().and_then(|e| e.position) else { break };
            let wanted: Vec<(&Event, &str)> =
                events.iter().filter_map(|e| format.event_name(e).filter(|n| sub.wants(n)).map(|n| (e, n))).collect();
            if !store.enqueue_deliveries(&sub, from, to, &wanted, time::now()).await? {
                break; // another node moved the cursor
            }
            from = to;
        }
    }
    Ok(())
}

/// Sends the due deliveries, concurrently; returns how many were attempted.
async fn send_due(store: &DynStore, sender: &WebhookSender) -> confab_core::Result<usize> {
    let now = time::now();
    let lease = chrono::Duration::from_std(LEASE).unwrap_or_default();
    let claimed = store.claim_deliveries(now, now + lease, SEND_BATCH).await?;
    let n = claimed.len();
    let mut tasks = Vec::with_capacity(n);
    for (delivery, sub, event) in claimed {
        let (store, sender) = (store.clone(), sender.clone());
        tasks.push(tokio::spawn(async move {
            let attempt = sender.send(delivery.id, delivery.attempts, &delivery.event_type, &sub, &event).await;
            if let Err(e) = store.record_delivery_attempt(delivery.id, attempt, time::now()).await {
                tracing::warn!(error = %e, delivery = %delivery.id, "recording a webhook attempt failed");
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_parse() {
        assert_eq!(
            parse_schedule("1m,5m,30m,2h").unwrap(),
            vec![
                Duration::from_secs(60),
                Duration::from_secs(300),
                Duration::from_secs(1800),
                Duration::from_secs(7200)
            ]
        );
        assert_eq!(parse_schedule("100ms, 2s").unwrap(), vec![Duration::from_millis(100), Duration::from_secs(2)]);
        assert!(parse_schedule("5x").is_err());
        assert!(parse_schedule("").is_err());
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex::encode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }
}
