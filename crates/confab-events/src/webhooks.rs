//! Webhook delivery from the event log.
//!
//! - The dispatcher reads, per active subscription, the events after the subscription's cursor
//!   (`events_after`) and records the matching ones as pending deliveries, moving the cursor in the
//!   same transaction: an event is turned into a delivery exactly once, and none is lost across a
//!   restart.
//! - The sender claims due deliveries (each the earliest pending one of its (subscription,
//!   conversation) — or (subscription, subject) for an event of no conversation —: a later event waits while an earlier one is retried or in flight, until it is
//!   delivered or dead) by pushing their next attempt a lease ahead, commits, and only then POSTs:
//!   no transaction is held across the HTTP call, and a node killed mid-delivery leaves the delivery
//!   to be claimed again once the lease has passed (at least once).
//! - The lease is per delivery: its subscription's timeout (1 to 300 s) plus [`LEASE_MARGIN`]. An
//!   attempt cannot outlive it (the timeout bounds connect, request and answer), so a delivery is
//!   never sent by two senders at once, and one a crashed node held is retried about `timeout` +
//!   10 s later rather than minutes later.
//! - Every attempt is a task of its own, at most [`IN_FLIGHT`] at once (a semaphore): the loop
//!   claims as many deliveries as there are free permits, and claims again as soon as an attempt
//!   ends, so a slow or dead receiver holds one permit per delivery it is sent, never the others
//!   (nor the API, whose requests never wait on a delivery). One subscription has at most
//!   [`PER_SUBSCRIPTION`] attempts in flight per process (the claim does not even read the
//!   deliveries of a subscription at its cap), so a dead receiver with a long queue takes 8 of the
//!   64 permits, and the others keep flowing. At shutdown the attempts in flight get
//!   [`SHUTDOWN_GRACE`] to finish; one cut short is retried after its lease.
//! - A 2xx answer is success; anything else (status, timeout, network error, a refused address) is
//!   retried after the server-wide schedule (`--webhook-retry-schedule`) or the subscription's
//!   backoff, until the subscription's `maxRetries` attempts are spent: then the delivery is
//!   `failed` (dead).
//!
//! - A subscription's `format` (a [`WebhookFormat`], one per face, registered in [`Formats`] by the
//!   binary since confab-events does not know the faces) names each event in its platform's
//!   vocabulary (or skips it), and renders and signs the payload from the event's snapshot.
//! - Redirects are not followed; a connect timeout, the subscription's total timeout and a cap on
//!   how much of the answer is read bound every attempt.
//! - https receivers are reached over rustls with the Mozilla root certificates built in
//!   (webpki-roots): the same trust on every machine, no system OpenSSL. Proxy variables
//!   (`HTTPS_PROXY`, …) are ignored: a proxy would resolve the receiver's name itself, out of reach
//!   of the address rule below.
//! - The address rule (unless `--allow-insecure-webhooks`): only `https` URLs, and only public
//!   addresses ([`is_public`]). The check is made when connecting, not only when the subscription
//!   is saved: an IP-literal URL is checked before the request, and a name goes through
//!   [`PublicResolver`], which hands the connector only the public addresses the name resolves to
//!   (and fails when there are none) — the connector dials exactly what was checked, so a name
//!   rebound to a private address between a check and the connect cannot get through. A refused
//!   attempt is a failed attempt whose error says why.

use crate::Shutdown;
use confab_core::model::Event;
use confab_core::time;
use confab_core::Time;
use confab_store::{DeliveryAttempt, DynStore, Webhook};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;
use uuid::Uuid;

/// How often the worker looks for new events and due deliveries.
pub const WEBHOOK_POLL: Duration = Duration::from_millis(100);
/// A claimed delivery is left to its sender for its subscription's timeout plus this, before
/// another sender may claim it again.
pub const LEASE_MARGIN: Duration = Duration::from_secs(10);
/// At most this many attempts are in flight at once, per process.
pub const IN_FLIGHT: usize = 64;
/// At most this many of them go to one subscription.
pub const PER_SUBSCRIPTION: usize = 8;
/// How long a stopping worker waits for the attempts in flight.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
const EVENT_BATCH: u32 = 500;
/// At most this many deliveries are claimed by one query.
const SEND_BATCH: usize = 32;
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
        let mut builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        if !config.allow_insecure {
            builder = builder.dns_resolver(Arc::new(PublicResolver));
        }
        let http = builder.build().map_err(|e| e.to_string())?;
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
        if let Some(refused) = refusal(&sub.url, self.config.allow_insecure) {
            return self.outcome(attempts_before, sub, None, Some(refused));
        }
        let rendered = format.render(&Outgoing { delivery_id, event_name, event, sub, sent_at: time::now() });
        let mut req = self
            .http
            .post(&sub.url)
            .timeout(Duration::from_secs(sub.timeout_secs.clamp(1, 300) as u64))
            .header("content-type", "application/json")
            .header("user-agent", "Confab-Webhooks/1")
            // Every format: the event's id, the same on every attempt (Airy's body has none).
            .header("X-Confab-Event-Id", event.id.to_string());
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
            Err(e) => (false, None, Some(describe(&e))),
        };
        if ok {
            return DeliveryAttempt {
                status: "succeeded".into(),
                next_attempt_at: time::now(),
                response_status: status,
                error: None,
            };
        }
        self.outcome(attempts_before, sub, status, error)
    }

    /// A failed attempt: pending again after the backoff, or `failed` once the attempts are spent.
    fn outcome(
        &self,
        attempts_before: i64,
        sub: &Webhook,
        status: Option<i64>,
        error: Option<String>,
    ) -> DeliveryAttempt {
        let attempts = attempts_before + 1;
        let now = time::now();
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

/// Starts the dispatcher and the sender: one loop that dispatches, claims and spawns the attempts.
pub fn spawn_webhook_worker(store: DynStore, sender: WebhookSender, mut shutdown: Shutdown) -> JoinHandle<()> {
    tokio::spawn(async move {
        let permits = Arc::new(Semaphore::new(IN_FLIGHT));
        let in_flight: InFlight = Arc::default();
        // Notified when an attempt ends: its successors may be due at once.
        let ended = Arc::new(Notify::new());
        // The newest event position the last complete dispatch saw, and when one last ran: an idle
        // server checks one number per poll instead of every subscription's cursor.
        let mut dispatched_up_to: Option<i64> = None;
        let mut last_sweep = std::time::Instant::now();
        loop {
            if *shutdown.borrow() {
                break;
            }
            match store.latest_event_position().await {
                // Nothing new since the last dispatch (a sweep still runs now and then, in case
                // another node stopped halfway through moving a cursor).
                Ok(latest) if Some(latest) == dispatched_up_to && last_sweep.elapsed() < SWEEP_EVERY => {}
                Ok(latest) => match dispatch(&store, sender.formats()).await {
                    Ok(()) => {
                        dispatched_up_to = Some(latest);
                        last_sweep = std::time::Instant::now();
                    }
                    Err(e) => tracing::warn!(error = %e, "webhook dispatch failed; retrying"),
                },
                Err(e) => tracing::warn!(error = %e, "webhook dispatch failed; retrying"),
            }
            match send_due(&store, &sender, &permits, &in_flight, &ended).await {
                // A full claim: more may be due already.
                Ok((claimed, asked)) if claimed > 0 && claimed == asked => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "webhook sending failed; retrying"),
            }
            tokio::select! {
                _ = tokio::time::sleep(WEBHOOK_POLL) => {}
                _ = ended.notified() => {}
                _ = shutdown.changed() => {}
            }
        }
        // Let the attempts in flight finish and be recorded; one cut short is retried after its
        // lease.
        if tokio::time::timeout(SHUTDOWN_GRACE, permits.acquire_many(IN_FLIGHT as u32)).await.is_err() {
            tracing::info!(
                in_flight = IN_FLIGHT - permits.available_permits(),
                "webhook attempts still in flight at shutdown; they are retried after their lease"
            );
        }
    })
}

/// How often the dispatcher looks at every subscription even when no new event was positioned.
const SWEEP_EVERY: Duration = Duration::from_secs(5);

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

/// Claims as many due deliveries as there are free permits and starts an attempt task for each;
/// returns how many were claimed and how many were asked for.
/// The attempts in flight per subscription.
type InFlight = Arc<std::sync::Mutex<HashMap<Uuid, usize>>>;

async fn send_due(
    store: &DynStore,
    sender: &WebhookSender,
    permits: &Arc<Semaphore>,
    in_flight: &InFlight,
    ended: &Arc<Notify>,
) -> confab_core::Result<(usize, usize)> {
    let asked = permits.available_permits().min(SEND_BATCH);
    if asked == 0 {
        return Ok((0, 0));
    }
    let busy = in_flight.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let claimed = store.claim_deliveries(time::now(), LEASE_MARGIN, asked as u32, &busy, PER_SUBSCRIPTION).await?;
    let n = claimed.len();
    for (delivery, sub, event) in claimed {
        // Only this loop takes permits, and it asked for no more than were free.
        let Ok(permit) = permits.clone().acquire_owned().await else { break };
        *in_flight.lock().unwrap_or_else(|p| p.into_inner()).entry(sub.id).or_default() += 1;
        let slot = Slot { subscription: sub.id, in_flight: in_flight.clone(), ended: ended.clone(), _permit: permit };
        let (store, sender) = (store.clone(), sender.clone());
        tokio::spawn(async move {
            let attempt = sender.send(delivery.id, delivery.attempts, &delivery.event_type, &sub, &event).await;
            match store.record_delivery_attempt(delivery.id, delivery.attempts, attempt, time::now()).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::info!(delivery = %delivery.id, "webhook attempt outlived its lease; not recorded")
                }
                Err(e) => tracing::warn!(error = %e, delivery = %delivery.id, "recording a webhook attempt failed"),
            }
            drop(slot);
        });
    }
    Ok((n, asked))
}

/// One attempt's place: its permit and its count in [`InFlight`], given back when dropped (also
/// when the attempt's task panics), waking the loop.
struct Slot {
    subscription: Uuid,
    in_flight: InFlight,
    ended: Arc<Notify>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = counts.get_mut(&self.subscription) {
            *c = c.saturating_sub(1);
            if *c == 0 {
                counts.remove(&self.subscription);
            }
        }
        drop(counts);
        self.ended.notify_one();
    }
}

/// An error's text with its causes (`error sending request: client error (Connect): …`), or only
/// the refusal when the address rule refused the receiver.
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() { format!("timeout: {e}") } else { e.to_string() };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(refused) = s.downcast_ref::<NotPublic>() {
            return refused.to_string();
        }
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// Whether `ip` is a public unicast address. Refused: unspecified, loopback, private (RFC 1918),
/// shared (100.64/10), link-local, IETF protocol (192.0.0/24), documentation, benchmarking
/// (198.18/15), multicast, reserved (240/4) and broadcast IPv4; unspecified, loopback, unique-local
/// (fc00::/7), link-local (fe80::/10), site-local (fec0::/10), multicast and documentation
/// (2001:db8::/32) IPv6; and IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64
/// 64:ff9b::/96, 6to4 2002::/16) when that IPv4 address is not public.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b))
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && c == 0)
        || (a == 192 && b == 0 && c == 2)
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 224)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let seg = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    // IPv4-compatible (::a.b.c.d, deprecated) and NAT64 (64:ff9b::a.b.c.d).
    let embedded = Ipv4Addr::new((seg[6] >> 8) as u8, seg[6] as u8, (seg[7] >> 8) as u8, seg[7] as u8);
    if seg[..6] == [0; 6] || seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return !ip.is_unspecified() && !ip.is_loopback() && is_public_v4(embedded);
    }
    // 6to4: 2002:a.b.c.d::/48.
    if seg[0] == 0x2002 {
        let v4 = Ipv4Addr::new((seg[1] >> 8) as u8, seg[1] as u8, (seg[2] >> 8) as u8, seg[2] as u8);
        return is_public_v4(v4);
    }
    !((seg[0] & 0xfe00) == 0xfc00
        || (seg[0] & 0xffc0) == 0xfe80
        || (seg[0] & 0xffc0) == 0xfec0
        || (seg[0] & 0xff00) == 0xff00
        || (seg[0] == 0x2001 && seg[1] == 0x0db8))
}

/// Why a receiver URL is refused before any connection (`None`: it may be tried): without
/// `allow_insecure`, only https, and an IP-literal host must be public (names are checked by
/// [`PublicResolver`] as they are resolved).
fn refusal(url: &str, allow_insecure: bool) -> Option<String> {
    if allow_insecure {
        return None;
    }
    let parsed = match reqwest::Url::parse(url) {
        Ok(u) => u,
        Err(e) => return Some(format!("refused: `{url}` is not a URL ({e})")),
    };
    if parsed.scheme() != "https" {
        return Some(format!("refused: `{url}` is not an https URL (http receivers need --allow-insecure-webhooks)"));
    }
    let host = parsed.host_str().unwrap_or("");
    let Ok(ip) = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() else {
        return None;
    };
    (!is_public(ip)).then(|| NotPublic { host: ip.to_string(), addrs: vec![ip] }.to_string())
}

/// A receiver's name resolved to no public address.
#[derive(Debug)]
struct NotPublic {
    host: String,
    addrs: Vec<IpAddr>,
}

impl std::fmt::Display for NotPublic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let addrs: Vec<String> = self.addrs.iter().map(IpAddr::to_string).collect();
        write!(
            f,
            "refused: the receiver host `{}` is not a public address ({}); webhooks go to public addresses only \
             (a server started with --allow-insecure-webhooks also delivers to private ones)",
            self.host,
            addrs.join(", ")
        )
    }
}

impl std::error::Error for NotPublic {}

/// The DNS resolver of the webhook client (unless `allow_insecure`): the system resolver, keeping
/// only the public addresses of a name, failing with [`NotPublic`] when none is left. The connector
/// dials exactly these addresses, so nothing resolved later can slip a private one in.
pub struct PublicResolver;

impl PublicResolver {
    /// The public addresses of `host`, or why there are none.
    pub async fn public_addrs(host: &str) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
        let all: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await?.collect();
        let public: Vec<SocketAddr> = all.iter().copied().filter(|a| is_public(a.ip())).collect();
        if public.is_empty() {
            let mut addrs: Vec<IpAddr> = all.iter().map(SocketAddr::ip).collect();
            addrs.dedup();
            return Err(Box::new(NotPublic { host: host.to_string(), addrs }));
        }
        Ok(public)
    }
}

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs = PublicResolver::public_addrs(&host).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
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

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_public_addresses_are_public() {
        for public in
            ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"]
        {
            assert!(is_public(ip(public)), "{public} is public");
        }
        for private in [
            "0.0.0.0",
            "0.1.2.3",
            "10.1.2.3",
            "100.64.0.1",
            "127.0.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "2002:a00:1::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
        ] {
            assert!(!is_public(ip(private)), "{private} is not public");
        }
        assert!(is_public(ip("172.32.0.1")) && is_public(ip("100.128.0.1")) && is_public(ip("11.0.0.1")));
    }

    #[test]
    fn urls_are_refused_before_connecting_unless_insecure() {
        assert_eq!(refusal("https://hooks.example.com/x", false), None);
        assert_eq!(refusal("https://93.184.216.34/x", false), None);
        assert!(refusal("http://hooks.example.com/x", false).unwrap().contains("not an https URL"));
        let r = refusal("https://127.0.0.1:8443/x", false).unwrap();
        assert!(r.contains("`127.0.0.1` is not a public address"), "{r}");
        assert!(refusal("https://[::1]/x", false).unwrap().contains("`::1`"));
        assert!(refusal("https://[::ffff:10.0.0.1]/x", false).is_some());
        assert!(refusal("https://0x7f.1/x", false).is_some(), "WHATWG parses 0x7f.1 as 127.0.0.1");
        assert!(refusal("not a url", false).is_some());
        assert_eq!(refusal("http://127.0.0.1:9/x", true), None);
    }

    #[tokio::test]
    async fn the_resolver_keeps_public_addresses_only() {
        let e = PublicResolver::public_addrs("localhost").await.unwrap_err().to_string();
        assert!(e.contains("`localhost` is not a public address") && e.contains("127.0.0.1"), "{e}");
    }

    struct Plain;
    impl WebhookFormat for Plain {
        fn name(&self) -> &'static str {
            "plain"
        }
        fn event_names(&self) -> &'static [&'static str] {
            &["test.ping"]
        }
        fn event_name(&self, _: &Event) -> Option<&'static str> {
            Some("test.ping")
        }
        fn render(&self, _: &Outgoing<'_>) -> Rendered {
            Rendered { body: b"{}".to_vec(), headers: Vec::new() }
        }
    }

    fn sub(url: &str, max_retries: i64) -> Webhook {
        Webhook {
            id: Uuid::now_v7(),
            tenant_id: confab_core::TenantId(Uuid::now_v7()),
            url: url.into(),
            events: vec!["*".into()],
            description: None,
            name: None,
            headers: Default::default(),
            secret: String::new(),
            status: "active".into(),
            max_retries,
            timeout_secs: 2,
            backoff: "schedule".into(),
            format: "plain".into(),
            cursor_position: 0,
            created_at: time::now(),
            updated_at: time::now(),
        }
    }

    fn ping() -> Event {
        Event {
            id: Uuid::now_v7(),
            position: None,
            tenant_id: confab_core::TenantId(Uuid::now_v7()),
            event_type: confab_core::model::EventType::TestPing,
            subject_id: Uuid::now_v7(),
            conversation_id: None,
            actor: confab_core::model::Actor::system(),
            snapshot: serde_json::json!({}),
            data: serde_json::json!({}),
            created_at: time::now(),
        }
    }

    /// A loopback server that answers every request with 200, counting them.
    async fn counting_server() -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let h = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf).await;
                let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok").await;
            }
        });
        (port, hits)
    }

    #[tokio::test]
    async fn a_secure_sender_never_connects_to_a_private_receiver() {
        let (port, hits) = counting_server().await;
        let formats = Formats::new(vec![Arc::new(Plain)]);
        let config = WebhookConfig { retry_schedule: vec![Duration::from_secs(1)], allow_insecure: false };
        let secure = WebhookSender::new(config.clone(), formats.clone()).unwrap();
        let event = ping();
        for url in [
            format!("https://localhost:{port}/hook"),
            format!("https://127.0.0.1:{port}/hook"),
            format!("http://localhost:{port}/hook"),
        ] {
            let a = secure.send(Uuid::now_v7(), 0, "test.ping", &sub(&url, 3), &event).await;
            assert_eq!(a.status, "pending", "a refused attempt is retried like any failed one");
            let error = a.error.unwrap_or_default();
            assert!(error.starts_with("refused: "), "{url}: {error}");
            let last = secure.send(Uuid::now_v7(), 2, "test.ping", &sub(&url, 3), &event).await;
            assert_eq!(last.status, "failed", "the last attempt");
        }
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0, "no connection was made");

        let insecure = WebhookSender::new(WebhookConfig { allow_insecure: true, ..config }, formats).unwrap();
        let a = insecure
            .send(Uuid::now_v7(), 0, "test.ping", &sub(&format!("http://localhost:{port}/hook"), 3), &event)
            .await;
        assert_eq!((a.status.as_str(), a.response_status, a.error), ("succeeded", Some(200), None));
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn https_receivers_are_reached_over_tls() {
        use tokio::io::AsyncReadExt;
        // A plain TCP server that keeps the first byte it is sent: a TLS handshake starts with a
        // handshake record (0x16).
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let first = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut b = [0u8; 1];
            conn.read_exact(&mut b).await.unwrap();
            b[0]
        });
        let config = WebhookConfig { retry_schedule: vec![Duration::from_secs(1)], allow_insecure: true };
        let sender = WebhookSender::new(config, Formats::new(vec![Arc::new(Plain)])).unwrap();
        let a = sender
            .send(Uuid::now_v7(), 0, "test.ping", &sub(&format!("https://localhost:{port}/hook"), 3), &ping())
            .await;
        assert_eq!(first.await.unwrap(), 0x16, "a TLS ClientHello was sent");
        assert_eq!(a.status, "pending", "no TLS server there: {:?}", a.error);
    }
}
