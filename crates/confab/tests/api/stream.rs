//! The realtime event stream (`GET /v1/events/stream`, Server-Sent Events): frames as events
//! commit, ids by position, resume with `Last-Event-ID`/`after` without gap or duplicate, the
//! Lucene filter, errors before the stream starts, and (PostgreSQL) an event written through one
//! node reaching a stream of another node.

use crate::conversation_actions::{conversation_on, phone};
use crate::support::{postgres_url, TestApp};
use serde_json::{json, Value};
use std::time::Duration;

/// How long a test waits for an expected frame.
const PATIENCE: Duration = Duration::from_secs(20);

/// One SSE frame.
#[derive(Debug, Clone)]
struct Frame {
    id: i64,
    event: String,
    data: Value,
}

/// An open stream and the text received but not yet parsed.
struct Stream {
    res: reqwest::Response,
    buf: String,
}

/// Opens the stream at `base` with `key`, an optional `Last-Event-ID` and a query string.
async fn open_at(base: &str, key: &str, query: &str, last_event_id: Option<i64>) -> Stream {
    let mut req = reqwest::Client::new().get(format!("{base}/v1/events/stream{query}")).bearer_auth(key);
    if let Some(id) = last_event_id {
        req = req.header("Last-Event-ID", id.to_string());
    }
    let res = req.send().await.expect("open the stream");
    assert_eq!(res.status().as_u16(), 200);
    let ct = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    assert!(ct.starts_with("text/event-stream"), "content type {ct}");
    Stream { res, buf: String::new() }
}

async fn open(app: &TestApp, query: &str, last_event_id: Option<i64>) -> Stream {
    open_at(&app.base, &app.key, query, last_event_id).await
}

impl Stream {
    /// The next event frame (comments skipped), or `None` when none arrives within `PATIENCE`.
    async fn next(&mut self) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().parse::<i64>().expect("numeric id"));
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                match id {
                    Some(id) => {
                        return Some(Frame { id, event, data: serde_json::from_str(&data).expect("JSON data") })
                    }
                    None => continue, // a keep-alive comment
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.res.chunk()).await.ok()?.expect("read the stream")?;
            self.buf.push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
    }

    /// Frames until (and including) the first for which `last` holds; panics if it never comes.
    async fn until(&mut self, last: impl Fn(&Frame) -> bool) -> Vec<Frame> {
        let mut out = Vec::new();
        loop {
            let f = self.next().await.unwrap_or_else(|| panic!("the expected frame did not arrive; got {out:#?}"));
            let done = last(&f);
            out.push(f);
            if done {
                return out;
            }
        }
    }
}

/// Sends an outbound text message in `conversation`.
async fn say(app: &TestApp, conversation: &str, text: &str) {
    app.api()
        .post("/v1/messages", json!({"conversationId": conversation, "content": {"type": "text", "text": text}}))
        .await
        .expect(201);
}

fn is_message_of(f: &Frame, conversation: &str) -> bool {
    f.event.starts_with("message.") && f.data["conversationId"] == conversation
}

fn check_frames(frames: &[Frame]) {
    for w in frames.windows(2) {
        assert!(w[0].id < w[1].id, "ids increase: {} then {}", w[0].id, w[1].id);
    }
    for f in frames {
        assert_eq!(f.data["position"], f.id);
        assert_eq!(f.data["type"], f.event.as_str());
        for k in ["id", "createdAt", "actor", "subjectId", "data", "snapshot"] {
            assert!(f.data.get(k).is_some(), "{k} in {}", f.data);
        }
    }
}

#[tokio::test]
async fn streams_committed_events_by_position_and_resumes_without_gap_or_duplicate() {
    let app = TestApp::spawn().await;
    let mut s = open(&app, "", None).await;
    let channel = app.channel("WhatsApp", "whatsapp").await;
    let c = conversation_on(&app, &channel).await;
    say(&app, &c.id, "hello").await;
    let frames = s.until(|f| is_message_of(f, &c.id)).await;
    check_frames(&frames);
    let types: Vec<&str> = frames.iter().map(|f| f.event.as_str()).collect();
    assert!(types.contains(&"channel.created"), "{types:?}");
    assert!(types.contains(&"conversation.created"), "{types:?}");
    let created = frames.iter().find(|f| f.event == "conversation.created").unwrap();
    assert_eq!(created.data["conversationId"], c.id.as_str());
    assert_eq!(created.data["snapshot"]["id"], c.id.as_str());

    // Resume after the first frame: exactly the following ones, then new events.
    let first = frames[0].id;
    let mut resumed = open(&app, "", Some(first)).await;
    let again = resumed.until(|f| f.id == frames.last().unwrap().id).await;
    let want: Vec<i64> = frames[1..].iter().map(|f| f.id).collect();
    assert_eq!(again.iter().map(|f| f.id).collect::<Vec<_>>(), want);
    // `?after=` resumes the same way.
    let mut after = open(&app, &format!("?after={first}"), None).await;
    let again = after.until(|f| f.id == frames.last().unwrap().id).await;
    assert_eq!(again.iter().map(|f| f.id).collect::<Vec<_>>(), want);

    // Later events reach every open stream, after what each has seen.
    say(&app, &c.id, "again").await;
    let mut next = Vec::new();
    for st in [&mut s, &mut resumed, &mut after] {
        let f = st.next().await.expect("the new message");
        assert!(is_message_of(&f, &c.id), "{f:?}");
        assert!(f.id > frames.last().unwrap().id);
        next.push(f.id);
    }
    assert!(next.windows(2).all(|w| w[0] == w[1]));
    app.stop().await;
}

#[tokio::test]
async fn a_filter_passes_only_events_of_matching_conversations() {
    let app = TestApp::spawn().await;
    let whatsapp = app.channel("WhatsApp", "whatsapp").await;
    let telegram = app.channel("Telegram", "telegram").await;
    let mut s = open(&app, "?filter=source%3Atelegram", None).await;
    let other = conversation_on(&app, &whatsapp).await;
    say(&app, &other.id, "not this one").await;
    let wanted = conversation_on(&app, &telegram).await;
    say(&app, &wanted.id, "this one").await;
    // The unmatched conversation's events come first in the log: had they passed, they would be here.
    let frames = s.until(|f| is_message_of(f, &wanted.id)).await;
    check_frames(&frames);
    assert!(frames.iter().all(|f| f.data["conversationId"] == wanted.id.as_str()), "{frames:#?}");
    assert!(frames.iter().any(|f| f.event == "conversation.created"));
    // A contact event (no conversation) is not sent with a filter, but is without one.
    let mut all = open(&app, "?after=0", None).await;
    let everything = all.until(|f| is_message_of(f, &wanted.id)).await;
    assert!(everything.iter().any(|f| f.data["conversationId"].is_null()));
    assert!(everything.iter().any(|f| f.data["conversationId"] == other.id.as_str()));
    app.stop().await;
}

#[tokio::test]
async fn bad_parameters_and_keys_are_refused_before_the_stream_starts() {
    let app = TestApp::spawn().await;
    let r = app.api().get("/v1/events/stream?filter=source%3A%28whatsapp").await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), vec!["filter".to_string()]);
    let r = app.api().with_header("Last-Event-ID", "abc").get("/v1/events/stream").await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), vec!["Last-Event-ID".to_string()]);
    let r = app.api().get("/v1/events/stream?after=-1").await;
    r.expect_error(400, "VALIDATION_ERROR");
    app.anonymous().get("/v1/events/stream").await.expect_error(401, "AUTHENTICATION_REQUIRED");
    let channels_only = app.new_key("acme", "Channels", "channels:read").await;
    app.as_key(&channels_only).get("/v1/events/stream").await.expect_error(403, "INSUFFICIENT_PERMISSIONS");
    // conversations:read is enough; other tenants' events never show.
    let reader = app.new_key("acme", "Reader", "conversations:read").await;
    let mut s = open_at(&app.base, &reader, "", None).await;
    let other_tenant = app.new_key("globex", "Gus", "admin").await;
    let gch =
        app.as_key(&other_tenant).post("/v1/channels", json!({"name": "G", "type": "sms"})).await.expect(201).id();
    app.as_key(&other_tenant)
        .post("/v1/conversations", json!({"channelId": gch, "contact": {"phone": phone()}}))
        .await
        .expect(201);
    let channel = app.channel("Mine", "sms").await;
    let f = s.next().await.expect("our channel's event");
    assert_eq!(f.event, "channel.created");
    assert_eq!(f.data["subjectId"], channel.as_str());
    app.stop().await;
}

#[tokio::test]
async fn an_event_written_through_one_node_reaches_a_stream_of_another() {
    if postgres_url().is_none() {
        return; // several nodes share one PostgreSQL
    }
    let app = TestApp::spawn().await;
    let opened = confab::store::open(&app.url).await.expect("open the database for node B");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let node_b = confab::server::start(listener, opened.store.clone()).expect("start node B");
    let mut s = open_at(&format!("http://{}", node_b.addr), &app.key, "", None).await;
    let channel = app.channel("On A", "whatsapp").await;
    let c = conversation_on(&app, &channel).await;
    let frames = s.until(|f| f.event == "conversation.created" && f.data["conversationId"] == c.id.as_str()).await;
    check_frames(&frames);
    node_b.stop().await;
    opened.close().await;
    app.stop().await;
}

#[tokio::test]
async fn the_relay_notifies_listeners_on_postgres() {
    if postgres_url().is_none() {
        return; // SQLite has no notifications: `listen_for_events` returns at once
    }
    let app = TestApp::spawn().await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let store = app.store.clone();
    let listening = tokio::spawn(async move {
        let on_event = move || {
            let _ = tx.send(());
        };
        store.listen_for_events(&on_event).await
    });
    // The first call says that listening has started.
    tokio::time::timeout(PATIENCE, rx.recv()).await.expect("listening").expect("a call");
    app.channel("Notified", "sms").await;
    tokio::time::timeout(PATIENCE, rx.recv()).await.expect("a notification").expect("a call");
    listening.abort();
    let _ = listening.await;
    app.stop().await;
}
