//! Several nodes on one PostgreSQL: two real `confab serve` processes on one fresh database, each
//! running every worker. An event committed through one node reaches the realtime stream of the
//! other; webhooks are sent once per event although both nodes deliver; a snoozed conversation is
//! woken once although both nodes run the timer; concurrent inbound messages from one new contact
//! to both nodes make one contact and one conversation; one Idempotency-Key sent to both nodes at
//! once runs once.
//!
//! PostgreSQL only (several processes sharing one SQLite file is not a supported deployment): when
//! `CONFAB_TEST_POSTGRES` is unset, each test says so on stderr and passes without running.

use crate::process::{Client, Node, ProcDb};
use crate::support::{postgres_url, receiver};
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// Two nodes on a fresh PostgreSQL database and an admin key; `None` (after saying so) without
/// PostgreSQL.
async fn two_nodes(test: &str) -> Option<(ProcDb, Node, Node, String)> {
    let Some(admin_url) = postgres_url() else {
        eprintln!("nodes::{test}: skipped, it needs PostgreSQL (set CONFAB_TEST_POSTGRES)");
        return None;
    };
    let db = ProcDb::postgres(&admin_url).await;
    let key = db.admin_key();
    let args = ["--allow-insecure-webhooks", "--webhook-retry-schedule", "200ms"];
    let a = db.serve(&args);
    let b = db.serve(&args);
    Some((db, a, b, key))
}

async fn new_channel(api: &Client) -> String {
    let body = api.post("/v1/channels", json!({"name": "WhatsApp", "type": "whatsapp"})).await;
    body["data"]["id"].as_str().expect("channel id").to_string()
}

async fn new_conversation(api: &Client, channel: &str, phone: &str) -> String {
    let body =
        api.post("/v1/conversations", json!({"channelId": channel, "contact": {"phone": phone, "name": "N"}})).await;
    body["data"]["id"].as_str().expect("conversation id").to_string()
}

fn total(body: &Value) -> u64 {
    body["meta"]["pagination"]["totalCount"].as_u64().unwrap_or_else(|| panic!("no totalCount in {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_committed_through_node_a_reaches_a_stream_of_node_b_promptly() {
    let Some((_db, a, b, key)) = two_nodes("sse").await else { return };
    let res = reqwest::Client::new()
        .get(format!("{}/v1/events/stream", b.base))
        .bearer_auth(&key)
        .send()
        .await
        .expect("open the stream on node B");
    assert_eq!(res.status().as_u16(), 200);
    let mut res = res;
    let channel = new_channel(&Client::new(&a.base, &key)).await;
    // Promptly: the relay's notification, not a poll of minutes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut text = String::new();
    while !text.contains(&channel) {
        let chunk = tokio::time::timeout_at(deadline, res.chunk())
            .await
            .unwrap_or_else(|_| panic!("node B's stream did not show channel {channel} within 5 s; got {text}"))
            .expect("read the stream")
            .expect("the stream stays open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains("event: channel.created"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_nodes_deliver_webhooks_and_each_event_is_sent_exactly_once() {
    let Some((db, a, b, key)) = two_nodes("webhooks").await else { return };
    let rx = receiver(0).await;
    let (api_a, api_b) = (Client::new(&a.base, &key), Client::new(&b.base, &key));
    let sub = api_a.post("/v1/webhooks", json!({"url": rx.url, "events": ["*"]})).await;
    let sub_id = sub["data"]["id"].as_str().unwrap().to_string();
    let opened = confab::store::open(&db.url).await.expect("open the database");
    let store = opened.store.clone();
    let tenant = store
        .principal_by_key_hash(&confab_api::auth::hash_key(&key))
        .await
        .unwrap()
        .expect("the key resolves")
        .tenant_id;
    let after = store.latest_event_position().await.unwrap();

    // Events through both nodes, several conversations at once.
    let channel = new_channel(&api_a).await;
    let work = (0..8).map(|n| {
        let api = if n % 2 == 0 { api_a.clone() } else { api_b.clone() };
        let channel = channel.clone();
        async move {
            let c = new_conversation(&api, &channel, &format!("+1555{:07}", 7_000_000 + n)).await;
            for m in 0..4 {
                api.post(
                    "/v1/messages",
                    json!({"conversationId": c, "content": {"type": "text", "text": format!("{m}")}}),
                )
                .await;
            }
        }
    });
    join_all(work).await;

    // Wait until every event of the log arrived and the outbox is empty, twice in a row (the relay
    // positions the newest events a moment after their commit, so the log is read each time).
    let start = Instant::now();
    let mut quiet = 0;
    let expected = loop {
        let expected = store.events_after(tenant, after, 10_000).await.unwrap();
        let got: HashSet<String> =
            rx.got.lock().unwrap().iter().map(|r| r.json()["id"].as_str().unwrap_or("").to_string()).collect();
        let pending = api_a.get(&format!("/v1/webhooks/{sub_id}/deliveries?status=pending")).await;
        let done =
            expected.len() >= 8 * 6 && expected.iter().all(|e| got.contains(&e.id.to_string())) && total(&pending) == 0;
        quiet = if done { quiet + 1 } else { 0 };
        if quiet == 2 {
            break expected;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{} of {} events arrived; pending: {pending}",
            got.len(),
            expected.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let mut arrivals: HashMap<String, usize> = HashMap::new();
    for r in rx.got.lock().unwrap().iter() {
        *arrivals.entry(r.json()["id"].as_str().expect("event id").to_string()).or_default() += 1;
    }
    for e in &expected {
        assert_eq!(arrivals.get(&e.id.to_string()), Some(&1), "event {} ({})", e.id, e.event_type.as_str());
    }
    assert_eq!(arrivals.len(), expected.len(), "nothing but the events of the log: {arrivals:?}");
    opened.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snoozed_conversation_is_woken_once_by_two_nodes_timers() {
    let Some((_db, a, b, key)) = two_nodes("snooze").await else { return };
    let (api_a, api_b) = (Client::new(&a.base, &key), Client::new(&b.base, &key));
    let channel = new_channel(&api_a).await;
    let until = (chrono::Utc::now() + chrono::Duration::milliseconds(1500)).to_rfc3339();
    let mut conversations = Vec::new();
    for n in 0..5 {
        let c = new_conversation(&api_a, &channel, &format!("+1555{:07}", 6_000_000 + n)).await;
        api_a.post(&format!("/v1/conversations/{c}/snooze"), json!({"until": until})).await;
        conversations.push(c);
    }
    for c in &conversations {
        let start = Instant::now();
        loop {
            let attrs = api_b.get(&format!("/v1/conversations/{c}")).await["data"]["attributes"].clone();
            if attrs["status"] == "open" {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(15), "conversation {c} still {attrs}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Both timers have had another look since.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    for c in &conversations {
        let events = api_b.get(&format!("/v1/conversations/{c}/events?perPage=100")).await;
        let wakes: Vec<&Value> = events["data"]
            .as_array()
            .expect("a list")
            .iter()
            .filter(|e| {
                e["attributes"]["event"] == "conversation.updated" && e["attributes"]["actor"]["type"] == "system"
            })
            .collect();
        assert_eq!(wakes.len(), 1, "conversation {c} woken once: {events}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_inbound_messages_of_a_new_contact_to_both_nodes_make_one_contact_and_conversation() {
    let Some((_db, a, b, key)) = two_nodes("inbound").await else { return };
    let (api_a, api_b) = (Client::new(&a.base, &key), Client::new(&b.base, &key));
    let channel = new_channel(&api_a).await;
    let phones: Vec<String> = (0..5).map(|n| format!("+1555{:07}", 5_000_000 + n)).collect();
    for phone in &phones {
        let path = format!("/v1/channels/{channel}/inbound");
        let sends = (0..4).map(|i| {
            let api = if i % 2 == 0 { api_a.clone() } else { api_b.clone() };
            let body = json!({"sender": {"phone": phone, "name": "Ann"}, "content": {"type": "text", "text": format!("hi {i}")}});
            let path = path.clone();
            async move { api.send(Method::POST, &path, Some(body), &[]).await }
        });
        let results = join_all(sends).await;
        let mut conversations: Vec<String> = Vec::new();
        for (status, body, text) in &results {
            assert_eq!(*status, 201, "every inbound message is stored: {text}");
            conversations.push(body["data"]["attributes"]["conversationId"].as_str().expect("conversationId").into());
        }
        conversations.dedup();
        assert_eq!(conversations.len(), 1, "{phone}: one conversation, got {conversations:?}");
    }
    assert_eq!(total(&api_b.get("/v1/contacts").await), phones.len() as u64, "one contact per phone");
    let open = api_b.get("/v1/conversations?status=open&perPage=100").await;
    assert_eq!(total(&open), phones.len() as u64, "one open conversation per contact: {open}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_idempotency_key_sent_to_both_nodes_at_once_runs_once() {
    let Some((_db, a, b, key)) = two_nodes("idempotency").await else { return };
    let (api_a, api_b) = (Client::new(&a.base, &key), Client::new(&b.base, &key));
    let keys = 5;
    for k in 0..keys {
        let idem = format!("both-nodes-{k}");
        let sends = (0..4).map(|i| {
            let api = if i % 2 == 0 { api_a.clone() } else { api_b.clone() };
            let idem = idem.clone();
            async move {
                api.send(
                    Method::POST,
                    "/v1/channels",
                    Some(json!({"name": "Support", "type": "sms"})),
                    &[("Idempotency-Key", idem.as_str())],
                )
                .await
            }
        });
        let results = join_all(sends).await;
        let mut created = Vec::new();
        for (status, body, text) in &results {
            assert!(
                *status == 201 || (*status == 409 && body["error"]["code"] == "IDEMPOTENCY_KEY_IN_USE"),
                "a duplicate is a replay or in use: {status} {text}"
            );
            if *status == 201 {
                created.push(text.clone());
            }
        }
        assert!(!created.is_empty(), "{idem}: one request ran");
        assert!(created.iter().all(|t| *t == created[0]), "{idem}: every 201 is the same body: {created:?}");
    }
    let channels = api_a.get("/v1/channels").await;
    assert_eq!(total(&channels), keys, "one channel per key: {channels}");
}
