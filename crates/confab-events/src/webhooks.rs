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
//! Format `linktor` (the only one so far): body `{"id", "event", "timestamp", "data": {id, type,
//! attributes}, "meta": {organizationId, webhookId}}` where `attributes` is the event's raw snapshot
//! (not yet the face's rendering: confab-events cannot depend on confab-api), signed
//! `X-Linktor-Signature: sha256=<hex HMAC-SHA256("{timestamp}.{body}")>` with the subscription's
//! secret, plus `X-Linktor-Timestamp` (unix seconds), `X-Linktor-Event`, `X-Linktor-Delivery-Id`
//! and the subscription's own headers.

use crate::{sleep_or_stop, Shutdown};
use confab_core::model::Event;
use confab_core::time;
use confab_store::{DeliveryAttempt, DynStore, Webhook, WebhookDelivery};
use sha2::{Digest, Sha256};
use std::time::Duration;
use tokio::task::JoinHandle;

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

/// The Linktor signature header value of `body` sent at `timestamp` (unix seconds).
pub fn linktor_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut msg = format!("{timestamp}.").into_bytes();
    msg.extend_from_slice(body);
    format!("sha256={}", hex::encode(hmac_sha256(secret.as_bytes(), &msg)))
}

/// The Linktor payload of `event` for `sub`.
pub fn linktor_payload(event: &Event, sub: &Webhook) -> serde_json::Value {
    let kind = event.event_type.as_str().split('.').next().unwrap_or("event");
    serde_json::json!({
        "id": event.id.to_string(),
        "event": event.event_type.as_str(),
        "timestamp": event.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": {"id": event.subject_id.to_string(), "type": kind, "attributes": event.snapshot},
        "meta": {"organizationId": event.tenant_id.0.to_string(), "webhookId": sub.id.to_string()},
    })
}

/// Starts the dispatcher and the sender (one task).
pub fn spawn_webhook_worker(store: DynStore, config: WebhookConfig, mut shutdown: Shutdown) -> JoinHandle<()> {
    tokio::spawn(async move {
        let http = match reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "webhook client could not be built; webhooks are not delivered");
                return;
            }
        };
        loop {
            if let Err(e) = dispatch(&store).await {
                tracing::warn!(error = %e, "webhook dispatch failed; retrying");
            }
            match send_due(&store, &http, &config).await {
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
async fn dispatch(store: &DynStore) -> confab_core::Result<()> {
    for sub in store.active_webhooks().await? {
        let mut from = sub.cursor_position;
        loop {
            let events = store.events_after(sub.tenant_id, from, EVENT_BATCH).await?;
            let Some(to) = events.last().and_then(|e| e.position) else { break };
            let wanted: Vec<Event> = events.into_iter().filter(|e| sub.wants(e.event_type.as_str())).collect();
            if !store.enqueue_deliveries(&sub, from, to, &wanted, time::now()).await? {
                break; // another node moved the cursor
            }
            from = to;
        }
    }
    Ok(())
}

/// Sends the due deliveries, concurrently; returns how many were attempted.
async fn send_due(store: &DynStore, http: &reqwest::Client, config: &WebhookConfig) -> confab_core::Result<usize> {
    let now = time::now();
    let lease = chrono::Duration::from_std(LEASE).unwrap_or_default();
    let claimed = store.claim_deliveries(now, now + lease, SEND_BATCH).await?;
    let n = claimed.len();
    let mut tasks = Vec::with_capacity(n);
    for (delivery, sub, event) in claimed {
        let (store, http, config) = (store.clone(), http.clone(), config.clone());
        tasks.push(tokio::spawn(async move {
            let attempt = attempt(&http, &config, &delivery, &sub, &event).await;
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

/// One POST of `delivery`, and what to record.
async fn attempt(
    http: &reqwest::Client,
    config: &WebhookConfig,
    delivery: &WebhookDelivery,
    sub: &Webhook,
    event: &Event,
) -> DeliveryAttempt {
    let body = serde_json::to_vec(&linktor_payload(event, sub)).unwrap_or_default();
    let ts = time::now().timestamp();
    let mut req = http
        .post(&sub.url)
        .timeout(Duration::from_secs(sub.timeout_secs.clamp(1, 300) as u64))
        .header("content-type", "application/json")
        .header("user-agent", "Confab-Webhooks/1")
        .header("X-Linktor-Signature", linktor_signature(&sub.secret, ts, &body))
        .header("X-Linktor-Timestamp", ts.to_string())
        .header("X-Linktor-Event", event.event_type.as_str())
        .header("X-Linktor-Delivery-Id", delivery.id.to_string());
    for (k, v) in &sub.headers {
        if let Some(v) = v.as_str() {
            req = req.header(k.as_str(), v);
        }
    }
    let (ok, status, error) = match req.body(body).send().await {
        Ok(mut resp) => {
            let status = resp.status();
            let mut text = Vec::new();
            while let Ok(Some(chunk)) = resp.chunk().await {
                text.extend_from_slice(&chunk[..chunk.len().min(RESPONSE_CAP - text.len())]);
                if text.len() >= RESPONSE_CAP {
                    break;
                }
            }
            let error =
                (!status.is_success()).then(|| format!("HTTP {}: {}", status.as_u16(), String::from_utf8_lossy(&text)));
            (status.is_success(), Some(i64::from(status.as_u16())), error)
        }
        Err(e) => (false, None, Some(if e.is_timeout() { format!("timeout: {e}") } else { e.to_string() })),
    };
    let attempts = delivery.attempts + 1;
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
    let idx = (attempts as usize - 1).min(config.retry_schedule.len() - 1);
    let wait = chrono::Duration::from_std(config.retry_schedule[idx]).unwrap_or_default();
    DeliveryAttempt { status: "pending".into(), next_attempt_at: now + wait, response_status: status, error }
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
