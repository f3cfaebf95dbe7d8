//! Webhook delivery under failure, with real processes: a `confab serve` child killed with SIGKILL
//! in the middle of a delivery and started again on the same database, a receiver that answers 503
//! for a while and then refuses connections, and still every event arrives, signed, and in order
//! per conversation. Also: a receiver that hangs holds back nobody else.
//!
//! Decisions:
//! - The receiver here is a real HTTP server that can be switched between up (200), unavailable
//!   (503), slow (answers 200 after 1.5 s) and closed (its port refuses connections). Every answer
//!   carries `Connection: close`, so closing the listener really stops all traffic.
//! - "Arrived" means answered 200 (a 503 or a request cut by the kill does not count); order is
//!   checked on every request, the refused ones included: the first time the receiver sees an event
//!   of a conversation, it has already seen every earlier event of that conversation.
//! - The expected events are read from the event log itself (the test opens the same database):
//!   every event after the newest one at subscription time.
//! - The retry schedule (`200ms,500ms`, the last repeating) and `maxRetries` 10 give a delivery
//!   about 4 s of continuous failure before it would die; the down periods stay well inside that.

use crate::process::{Client, ProcDb};
use crate::support::{hex_encode, receiver, TestApp};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const UP: u8 = 0;
const UNAVAILABLE: u8 = 1;
const SLOW: u8 = 2;

/// One request the receiver got.
#[derive(Clone)]
struct Arrival {
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Arrival {
    fn event_id(&self) -> String {
        let v: Value = serde_json::from_slice(&self.body).expect("a JSON body");
        v["id"].as_str().expect("the event id").to_string()
    }

    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_else(|| panic!("no {name} header"))
    }
}

/// A receiver on a fixed loopback port that can be switched up, unavailable, slow and closed.
struct Switchable {
    port: u16,
    mode: Arc<AtomicU8>,
    /// Every request, in arrival order.
    arrivals: Arc<Mutex<Vec<Arrival>>>,
    /// The event ids answered 200.
    accepted: Arc<Mutex<Vec<String>>>,
    /// Requests that arrived while slow.
    slow_started: Arc<AtomicUsize>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl Switchable {
    async fn start() -> Switchable {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().unwrap().port();
        let mut s = Switchable {
            port,
            mode: Arc::new(AtomicU8::new(UP)),
            arrivals: Arc::default(),
            accepted: Arc::default(),
            slow_started: Arc::default(),
            server: None,
        };
        s.serve(listener);
        s
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let (mode, arrivals, accepted, slow) =
            (self.mode.clone(), self.arrivals.clone(), self.accepted.clone(), self.slow_started.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let (mode, arrivals, accepted, slow) = (mode.clone(), arrivals.clone(), accepted.clone(), slow.clone());
                async move {
                    let arrival = Arrival { headers, body: body.to_vec() };
                    let id = arrival.event_id();
                    arrivals.lock().unwrap().push(arrival);
                    let status = match mode.load(Ordering::SeqCst) {
                        UNAVAILABLE => StatusCode::SERVICE_UNAVAILABLE,
                        SLOW => {
                            slow.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(1500)).await;
                            StatusCode::OK
                        }
                        _ => StatusCode::OK,
                    };
                    if status == StatusCode::OK {
                        accepted.lock().unwrap().push(id);
                    }
                    (status, [("connection", "close")], "")
                }
            }),
        );
        self.server = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }

    /// Closes the listener: connecting to the port is refused.
    async fn close(&mut self) {
        if let Some(task) = self.server.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens on the same port again, answering 200.
    async fn reopen(&mut self) {
        self.set(UP);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await.expect("bind the same port again");
        self.serve(listener);
    }
}

/// `X-Linktor-Signature` checked the way a receiver does: HMAC-SHA256 of "{timestamp}.{body}".
fn verify(a: &Arrival, secret: &str) {
    let mut msg = format!("{}.", a.header("x-linktor-timestamp")).into_bytes();
    msg.extend_from_slice(&a.body);
    let expected = format!("sha256={}", hex_encode(&confab_events::webhooks::hmac_sha256(secret.as_bytes(), &msg)));
    assert_eq!(a.header("x-linktor-signature"), expected, "the signature of {}", a.event_id());
}

/// Creates a conversation with a new contact on `channel`: its id.
async fn new_conversation(api: &Client, channel: &str, n: usize) -> String {
    let phone = format!("+1555{:07}", 9_000_000 + n);
    let body = api
        .post("/v1/conversations", json!({"channelId": channel, "contact": {"phone": phone, "name": format!("C{n}")}}))
        .await;
    body["data"]["id"].as_str().expect("conversation id").to_string()
}

/// One message in each conversation.
async fn round(api: &Client, conversations: &[String], n: usize) {
    for c in conversations {
        api.post(
            "/v1/messages",
            json!({"conversationId": c, "content": {"type": "text", "text": format!("round {n}")}}),
        )
        .await;
    }
}

const SERVE_ARGS: &[&str] = &["--allow-insecure-webhooks", "--webhook-retry-schedule", "200ms,500ms"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_arrives_signed_and_in_order_through_a_kill_and_a_receiver_outage() {
    let db = ProcDb::fresh().await;
    let key = db.admin_key();
    let mut node = db.serve(SERVE_ARGS);
    let mut hook = Switchable::start().await;
    let api = Client::new(&node.base, &key);

    let channel = api.post("/v1/channels", json!({"name": "WhatsApp", "type": "whatsapp"})).await;
    let channel = channel["data"]["id"].as_str().unwrap().to_string();
    let sub = api
        .post("/v1/webhooks", json!({"url": hook.url(), "events": ["*"], "config": {"maxRetries": 10, "timeout": 2}}))
        .await;
    let secret = sub["data"]["attributes"]["secret"].as_str().expect("the secret").to_string();
    let sub_id = sub["data"]["id"].as_str().unwrap().to_string();

    // The event log, read by the test on the same database.
    let opened = confab::store::open(&db.url).await.expect("open the database");
    let store = opened.store.clone();
    let tenant = store
        .principal_by_key_hash(&confab_api::auth::hash_key(&key))
        .await
        .unwrap()
        .expect("the key resolves")
        .tenant_id;
    let after = store.latest_event_position().await.unwrap();

    // Up: six conversations and two rounds of messages.
    let mut conversations = Vec::new();
    for n in 0..6 {
        conversations.push(new_conversation(&api, &channel, n).await);
    }
    round(&api, &conversations, 1).await;
    round(&api, &conversations, 2).await;

    // 503 for a while.
    hook.set(UNAVAILABLE);
    round(&api, &conversations, 3).await;
    round(&api, &conversations, 4).await;
    tokio::time::sleep(Duration::from_millis(600)).await;

    // Slow: kill -9 while a delivery is in flight.
    hook.set(SLOW);
    round(&api, &conversations, 5).await;
    let start = Instant::now();
    while hook.slow_started.load(Ordering::SeqCst) == 0 {
        assert!(start.elapsed() < Duration::from_secs(30), "no delivery reached the slow receiver:\n{}", node.log());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    node.kill();

    // The receiver's port refuses connections; Confab starts again on the same database.
    hook.close().await;
    let node = db.serve(SERVE_ARGS);
    let api = Client::new(&node.base, &key);
    round(&api, &conversations, 6).await;
    round(&api, &conversations, 7).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;

    // Up again.
    hook.reopen().await;
    round(&api, &conversations, 8).await;

    // Wait until every event of the log arrived; on PostgreSQL the relay positions the newest
    // events a moment after their commit, so the log is read again until it has stopped growing.
    let start = Instant::now();
    let mut complete: Option<usize> = None;
    let expected = loop {
        let expected = store.events_after(tenant, after, 10_000).await.unwrap();
        let accepted: HashSet<String> = hook.accepted.lock().unwrap().iter().cloned().collect();
        let missing: Vec<String> =
            expected.iter().map(|e| e.id.to_string()).filter(|id| !accepted.contains(id)).collect();
        if missing.is_empty() && complete == Some(expected.len()) {
            break expected;
        }
        complete = missing.is_empty().then_some(expected.len());
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "{} of {} events never arrived: {missing:?}",
            missing.len(),
            expected.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(expected.len() >= 60, "the run made {} events", expected.len());

    let arrivals = hook.arrivals.lock().unwrap().clone();
    for a in &arrivals {
        verify(a, &secret);
    }
    // Per conversation, the first arrival of each event comes in event order.
    let by_id: HashMap<String, (Option<String>, i64)> = expected
        .iter()
        .map(|e| (e.id.to_string(), (e.conversation_id.map(|c| c.0.to_string()), e.position.unwrap_or(0))))
        .collect();
    let mut seen = HashSet::new();
    let mut last: HashMap<String, i64> = HashMap::new();
    for a in &arrivals {
        let id = a.event_id();
        if !seen.insert(id.clone()) {
            continue;
        }
        let Some((Some(conversation), position)) = by_id.get(&id) else { continue };
        let before = last.insert(conversation.clone(), *position).unwrap_or(i64::MIN);
        assert!(before < *position, "conversation {conversation}: event {id} (position {position}) after {before}");
    }
    let redelivered = arrivals.len() - seen.len();
    eprintln!(
        "{} events, {} requests ({redelivered} repeated: 503s, refusals and the kill)",
        expected.len(),
        arrivals.len()
    );

    // Nothing died: every delivery succeeded in the end.
    let log = api.get(&format!("/v1/webhooks/{sub_id}/deliveries?status=failed")).await;
    assert_eq!(log["data"].as_array().map(Vec::len), Some(0), "failed deliveries: {log}");
    opened.close().await;
}

/// A receiver that holds its requests open, counting them, until released.
async fn hanging_receiver() -> (String, Arc<AtomicUsize>, tokio::sync::watch::Sender<bool>) {
    let (release, released) = tokio::sync::watch::channel(false);
    let held = Arc::new(AtomicUsize::new(0));
    let h = held.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let (h, mut released) = (h.clone(), released.clone());
            async move {
                h.fetch_add(1, Ordering::SeqCst);
                let _ = released.wait_for(|r| *r).await;
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, held, release)
}

#[tokio::test]
async fn a_receiver_that_hangs_holds_back_no_other_receiver() {
    use confab_events::webhooks::PER_SUBSCRIPTION;
    let app = TestApp::spawn().await;
    let (slow_url, held, release) = hanging_receiver().await;
    let fast = receiver(0).await;
    for (url, timeout) in [(&slow_url, 60), (&fast.url, 5)] {
        app.api()
            .post(
                "/v1/webhooks",
                json!({"url": url, "events": ["conversation.created"], "config": {"timeout": timeout}}),
            )
            .await
            .expect(201);
    }
    // More conversations than one subscription may have attempts in flight.
    let conversations = PER_SUBSCRIPTION + 4;
    let channel = app.channel("WhatsApp", "whatsapp").await;
    for n in 0..conversations {
        app.api()
            .post(
                "/v1/conversations",
                json!({"channelId": channel, "contact": {"phone": format!("+1555{:07}", 8_000_000 + n), "name": "H"}}),
            )
            .await
            .expect(201);
    }
    // The hanging receiver holds one request per conversation (no order between conversations), up
    // to its subscription's cap…
    let start = Instant::now();
    while held.load(Ordering::SeqCst) < PER_SUBSCRIPTION {
        assert!(start.elapsed() < Duration::from_secs(15), "the hanging receiver got {}", held.load(Ordering::SeqCst));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // …while the other one gets every event, and the API answers.
    let got = fast.wait_for(conversations).await.len();
    assert_eq!(got, conversations, "the fast receiver got every event while the other hangs");
    app.api().get("/v1/webhooks").await.expect(200);
    assert_eq!(held.load(Ordering::SeqCst), PER_SUBSCRIPTION, "no more in flight than the cap, nothing sent twice");
    // Released, the hanging receiver gets the rest.
    release.send_replace(true);
    let start = Instant::now();
    while held.load(Ordering::SeqCst) < conversations {
        assert!(start.elapsed() < Duration::from_secs(15), "the released receiver got {}", held.load(Ordering::SeqCst));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.stop().await;
}
