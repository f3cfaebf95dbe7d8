//! The event log: a conversation's timeline (`GET /v1/conversations/{id}/events`), one event per
//! operation, commit-ordered stream positions under concurrent writers, the snooze timer, and
//! events outliving what they describe.

use crate::conversation_actions::{admin_id, at, bot, conversation, conversation_on, get, phone, user};
use crate::support::TestApp;
use confab_core::model::{ContactInput, ConversationPatch, Ctx, NewContact, NewConversation, Priority};
use confab_store::DynStore;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// The timeline of a conversation (up to 100 events), oldest first.
async fn timeline(app: &TestApp, id: &str) -> Vec<Value> {
    let r = app.api().get(&format!("{}?perPage=100", at(id, "events"))).await;
    r.expect(200);
    r.body["data"].as_array().expect("a list").clone()
}

/// Polls the conversation until `done` holds for its attributes, for at most `limit`.
async fn wait_for(app: &TestApp, id: &str, limit: Duration, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let attrs = get(app, id).await;
        if done(&attrs) || start.elapsed() > limit {
            return attrs;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn every_operation_appends_exactly_one_event_of_its_most_specific_type_with_its_actor() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    let agent = user(&app, "Bea", "bea@acme.test").await;
    let helper = bot(&app, "Helper").await;
    let api = app.api();
    let me = admin_id(&app).await;
    let until = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let steps: Vec<(&str, reqwest::Method, String, Option<Value>)> = vec![
        (
            "conversation.assigned",
            reqwest::Method::POST,
            at(&c.id, "assign"),
            Some(json!({"assigneeId": agent, "note": "n"})),
        ),
        (
            "conversation.transferred",
            reqwest::Method::POST,
            at(&c.id, "transfer"),
            Some(json!({"toAssigneeId": helper, "reason": "r"})),
        ),
        ("conversation.updated", reqwest::Method::POST, at(&c.id, "unassign"), None),
        ("conversation.updated", reqwest::Method::POST, at(&c.id, "tags"), Some(json!({"tags": ["vip"]}))),
        ("conversation.updated", reqwest::Method::DELETE, format!("{}/vip", at(&c.id, "tags")), None),
        ("conversation.updated", reqwest::Method::POST, at(&c.id, "snooze"), Some(json!({"until": until}))),
        (
            "conversation.closed",
            reqwest::Method::POST,
            at(&c.id, "close"),
            Some(json!({"notes": "done", "resolution": "spam"})),
        ),
        ("conversation.reopened", reqwest::Method::POST, at(&c.id, "reopen"), None),
        ("conversation.note_added", reqwest::Method::POST, at(&c.id, "notes"), Some(json!({"body": "hi"}))),
        (
            "conversation.updated",
            reqwest::Method::PATCH,
            format!("/v1/conversations/{}", c.id),
            Some(json!({"priority": "urgent"})),
        ),
        (
            "conversation.closed",
            reqwest::Method::PATCH,
            format!("/v1/conversations/{}", c.id),
            Some(json!({"status": "closed"})),
        ),
    ];
    let mut expected = vec!["conversation.created".to_string()];
    assert_eq!(timeline(&app, &c.id).await.len(), 1);
    for (event, method, path, body) in steps {
        let r = api.send(method.clone(), &path, body).await;
        assert!(r.status == 200 || r.status == 201, "{method} {path}: {}", r.text);
        expected.push(event.to_string());
        let events = timeline(&app, &c.id).await;
        let types: Vec<&str> = events.iter().map(|e| e["attributes"]["event"].as_str().unwrap()).collect();
        assert_eq!(types, expected, "after {method} {path}");
        let last = &events.last().unwrap()["attributes"];
        assert_eq!(last["actor"], json!({"type": "user", "id": me, "name": "Ana Admin"}), "{method} {path}");
    }
    // Changes that change nothing append nothing.
    let before = timeline(&app, &c.id).await.len();
    api.post_empty(&at(&c.id, "unassign")).await.expect(200);
    api.delete(&format!("{}/absent", at(&c.id, "tags"))).await.expect(200);
    api.patch(&format!("/v1/conversations/{}", c.id), json!({"status": "closed"})).await.expect(200);
    assert_eq!(timeline(&app, &c.id).await.len(), before);
}

#[tokio::test]
async fn the_timeline_shows_each_event_with_its_data_and_the_conversation_as_it_was_then() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    app.api()
        .post(&at(&c.id, "close"), json!({"reason": "Issue resolved", "resolution": "resolved"}))
        .await
        .expect(200);
    app.api().post_empty(&at(&c.id, "reopen")).await.expect(200);
    let events = timeline(&app, &c.id).await;
    assert_eq!(events.len(), 3);
    let closed = &events[1];
    assert_eq!(closed["type"], "event");
    assert!(uuid::Uuid::parse_str(closed["id"].as_str().unwrap()).is_ok());
    let a = &closed["attributes"];
    assert_eq!(a["event"], "conversation.closed");
    assert_eq!(a["subjectId"], c.id.as_str());
    assert_eq!(a["data"]["reason"], "Issue resolved");
    assert!(a["createdAt"].as_str().unwrap().ends_with('Z'));
    // The snapshot is the conversation's attributes right after that change, not now.
    assert_eq!(a["snapshot"]["status"], "closed");
    assert_eq!(a["snapshot"]["resolution"], "resolved");
    assert_eq!(a["snapshot"]["channel"]["id"], c.channel.as_str());
    assert_eq!(events[2]["attributes"]["snapshot"]["status"], "open");
    // Positions increase along the timeline once the relay has given them (PostgreSQL).
    let start = Instant::now();
    let positions = loop {
        let events = timeline(&app, &c.id).await;
        let p: Vec<Option<i64>> = events.iter().map(|e| e["attributes"]["position"].as_i64()).collect();
        if p.iter().all(Option::is_some) || start.elapsed() > Duration::from_secs(5) {
            break p.into_iter().collect::<Option<Vec<i64>>>().expect("every event positioned within 5 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
}

#[tokio::test]
async fn the_timeline_paginates_and_validates_its_parameters() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    for tag in ["a", "b", "c", "d"] {
        app.api().post(&at(&c.id, "tags"), json!({ "tags": [tag] })).await.expect(200);
    }
    let r = app.api().get(&format!("{}?perPage=2&page=2", at(&c.id, "events"))).await;
    r.expect(200);
    let p = &r.body["meta"]["pagination"];
    assert_eq!((p["totalCount"].as_u64(), p["totalPages"].as_u64()), (Some(5), Some(3)));
    assert_eq!((p["hasNextPage"].as_bool(), p["hasPrevPage"].as_bool()), (Some(true), Some(true)));
    let data = r.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["attributes"]["data"]["added"], json!(["b"]));
    assert_eq!(data[1]["attributes"]["data"]["added"], json!(["c"]));
    let r = app.api().get(&format!("{}?perPage=101&page=zero", at(&c.id, "events"))).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["page", "perPage"]);
}

#[tokio::test]
async fn the_timeline_of_an_unknown_conversation_is_404() {
    let app = TestApp::spawn().await;
    let unknown = uuid::Uuid::now_v7().to_string();
    app.api().get(&at(&unknown, "events")).await.expect_error(404, "CONVERSATION_NOT_FOUND");
    app.api().get(&at("conv_abc123", "events")).await.expect_error(404, "CONVERSATION_NOT_FOUND");
}

#[tokio::test]
async fn events_outlive_a_deleted_channel_and_its_force_closed_conversations_keep_their_timeline() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    app.api().post(&at(&c.id, "tags"), json!({"tags": ["vip"]})).await.expect(200);
    app.api().delete(&format!("/v1/channels/{}?force=true", c.channel)).await.expect(204);
    let events = timeline(&app, &c.id).await;
    let types: Vec<&str> = events.iter().map(|e| e["attributes"]["event"].as_str().unwrap()).collect();
    assert_eq!(types, ["conversation.created", "conversation.updated", "conversation.closed"]);
    assert_eq!(events[0]["attributes"]["snapshot"]["channel"]["id"], c.channel.as_str());
    assert_eq!(events[2]["attributes"]["actor"]["name"], "Ana Admin");
    let now = get(&app, &c.id).await;
    assert_eq!((now["status"].as_str(), &now["channel"]), (Some("closed"), &Value::Null));
}

// ------------------------------------------------------------------------------------------------
// snooze timer

#[tokio::test]
async fn a_snoozed_conversation_opens_again_at_snoozed_until_by_the_system() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    let until = chrono::Utc::now() + chrono::Duration::milliseconds(1000);
    let r = app.api().post(&at(&c.id, "snooze"), json!({"until": until.to_rfc3339()})).await;
    r.expect(200);
    assert_eq!(r.attrs()["status"], "snoozed");
    let attrs = wait_for(&app, &c.id, Duration::from_secs(5), |a| a["status"] == "open").await;
    assert_eq!(attrs["status"], "open", "still {attrs}");
    assert_eq!(attrs["snoozedUntil"], Value::Null);
    let events = timeline(&app, &c.id).await;
    let last = &events.last().unwrap()["attributes"];
    assert_eq!(events.len(), 3, "created, snoozed, woken");
    // Not before its time (ISO instants of one format compare as strings).
    let due = events[1]["attributes"]["snapshot"]["snoozedUntil"].as_str().unwrap();
    assert!(last["createdAt"].as_str().unwrap() >= due, "woken at {} before {due}", last["createdAt"]);
    assert_eq!(last["event"], "conversation.updated");
    assert_eq!(last["actor"], json!({"type": "system", "id": null, "name": "Confab"}));
    assert_eq!(last["snapshot"]["status"], "open");
    assert_eq!(last["data"]["changed"], json!(["status"]));
}

#[tokio::test]
async fn a_snooze_due_while_the_server_was_restarting_still_wakes() {
    let mut app = TestApp::spawn().await;
    let c = conversation(&app).await;
    let until = chrono::Utc::now() + chrono::Duration::milliseconds(3000);
    app.api().post(&at(&c.id, "snooze"), json!({"until": until.to_rfc3339()})).await.expect(200);
    app.restart().await;
    assert!(chrono::Utc::now() < until, "the restart took longer than the snooze");
    assert_eq!(get(&app, &c.id).await["status"], "snoozed");
    let attrs = wait_for(&app, &c.id, Duration::from_secs(8), |a| a["status"] == "open").await;
    assert_eq!(attrs["status"], "open", "still {attrs}");
    assert_eq!(timeline(&app, &c.id).await.len(), 3);
}

#[tokio::test]
async fn a_conversation_reopened_before_its_snooze_is_due_is_left_alone() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    let until = chrono::Utc::now() + chrono::Duration::milliseconds(800);
    app.api().post(&at(&c.id, "snooze"), json!({"until": until.to_rfc3339()})).await.expect(200);
    app.api().patch(&format!("/v1/conversations/{}", c.id), json!({"status": "pending"})).await.expect(200);
    // What the timer does once the time has come (asked directly: no waiting).
    let woken = app.store.wake_snoozed(until + chrono::Duration::seconds(1), 100).await.unwrap();
    assert_eq!(woken, 0);
    assert_eq!(get(&app, &c.id).await["status"], "pending");
    assert_eq!(timeline(&app, &c.id).await.len(), 3, "created, snoozed, pending; no wake-up");
}

// ------------------------------------------------------------------------------------------------
// commit-ordered positions

/// The store context of the admin key of `acme`.
async fn acme(store: &DynStore) -> Ctx {
    let keys = store.list_api_keys().await.expect("keys");
    let key = keys.into_iter().find(|k| k.tenant_slug == "acme").expect("acme's key");
    Ctx { tenant: key.tenant_id, actor: confab_core::model::Actor::user(key.user_id, key.user_name) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn positions_are_commit_ordered_gapless_and_never_go_back_under_concurrent_writers() {
    const WRITERS: usize = 8;
    const EACH: usize = 25;
    let app = TestApp::spawn().await;
    let channel = app.channel("Busy", "sms").await;
    // One conversation first, so the tenant has events before the writers start.
    conversation_on(&app, &channel).await;
    let ctx = acme(&app.store).await;
    let channel_id: confab_core::ChannelId = channel.parse().unwrap();

    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let store = app.store.clone();
        let tenant = ctx.tenant;
        let done = done.clone();
        tokio::spawn(async move {
            let mut seen: Vec<i64> = Vec::new();
            let mut last = 0;
            let mut idle_after_done = 0;
            loop {
                let batch = store.events_after(tenant, last, 100).await.expect("events_after");
                for e in &batch {
                    let p = e.position.expect("events_after returns positioned events only");
                    assert!(p > last, "position {p} appeared after {last} had been seen");
                    last = p;
                    seen.push(p);
                }
                if batch.is_empty() {
                    if done.load(std::sync::atomic::Ordering::SeqCst) {
                        idle_after_done += 1;
                        // The relay positions within ~50 ms; several empty polls after the writers
                        // finished mean everything has been read.
                        if idle_after_done > 100 {
                            return seen;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        })
    };

    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let store = app.store.clone();
        let ctx = ctx.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..EACH {
                let new = NewConversation {
                    channel_id: Some(channel_id),
                    contact: Some(ContactInput::Inline(Box::new(NewContact {
                        name: Some(format!("Writer {w} #{i}")),
                        phone: Some(phone()),
                        ..NewContact::default()
                    }))),
                    assignee_id: None,
                    assignee_kind: None,
                    bot_id: None,
                    subject: None,
                    priority: Priority::Normal,
                    metadata: Default::default(),
                    tags: Vec::new(),
                    source: None,
                    inbox_id: None,
                    channel_type: None,
                };
                let view = store.create_conversation(&ctx, new).await.expect("create");
                let patch = ConversationPatch { priority: Some(Priority::High), ..Default::default() };
                store.update_conversation(&ctx, view.conversation.id, patch).await.expect("update");
            }
        }));
    }
    for w in writers {
        w.await.expect("writer");
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = tokio::time::timeout(Duration::from_secs(30), reader).await.expect("reader finishes").expect("reader");

    // Every event of the tenant, read once at the end.
    let mut all = Vec::new();
    let mut last = 0;
    loop {
        let batch = app.store.events_after(ctx.tenant, last, 100).await.unwrap();
        let Some(e) = batch.last() else { break };
        last = e.position.unwrap();
        all.extend(batch);
    }
    let positions: Vec<i64> = all.iter().map(|e| e.position.unwrap()).collect();
    let n = positions.len() as i64;
    assert!(n >= (WRITERS * EACH * 2) as i64, "only {n} events");
    assert_eq!(positions, (1..=n).collect::<Vec<_>>(), "positions are unique and contiguous from 1");
    assert_eq!(seen, positions, "the polling reader saw every position exactly once, in order");
    assert_eq!(all.iter().map(|e| e.id).collect::<BTreeSet<_>>().len(), all.len());
    let updates = all.iter().filter(|e| e.event_type == confab_core::model::EventType::ConversationUpdated).count();
    assert_eq!(updates, WRITERS * EACH);
}
