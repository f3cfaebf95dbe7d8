//! Webhooks (Linktor format): subscriptions through `/v1/webhooks`, signed deliveries to a real
//! local receiver, retries after a failing answer, the delivery log, test deliveries, manual
//! retries, PATCH, payloads in the face's shape, `bot.handoff`, and formats chosen at creation.

use crate::conversation_actions::{at, bot, conversation, user};
use crate::support::{header, hex_encode, receiver, Received, TestApp};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// `X-Linktor-Signature` checked the way a receiver does: HMAC-SHA256 of "{timestamp}.{body}".
fn verify(r: &Received, secret: &str) {
    let ts = header(r, "x-linktor-timestamp");
    let mut msg = format!("{ts}.").into_bytes();
    msg.extend_from_slice(&r.body);
    let expected = format!("sha256={}", hex_encode(&confab_events::webhooks::hmac_sha256(secret.as_bytes(), &msg)));
    assert_eq!(header(r, "x-linktor-signature"), expected);
}

async fn subscribe(app: &TestApp, url: &str, events: Value) -> Value {
    let r = app
        .api()
        .post(
            "/v1/webhooks",
            json!({"url": url, "events": events, "description": "test", "headers": {"X-Custom": "yes"}}),
        )
        .await;
    r.expect(201);
    r.body["data"].clone()
}

#[tokio::test]
async fn a_conversation_created_event_is_delivered_signed_with_the_secret_shown_once() {
    let app = TestApp::spawn().await;
    let rx = receiver(0).await;
    let hook = subscribe(&app, &rx.url, json!(["conversation.created"])).await;
    let secret = hook["attributes"]["secret"].as_str().expect("the secret").to_string();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_eq!(hook["attributes"]["status"], "active");
    let id = hook["id"].as_str().unwrap().to_string();
    let shown = app.api().get(&format!("/v1/webhooks/{id}")).await;
    shown.expect(200);
    assert!(shown.attrs().get("secret").is_none(), "{}", shown.text);
    let listed = app.api().get("/v1/webhooks").await;
    listed.expect(200);
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);

    let conv = conversation(&app).await;
    let got = rx.wait_for(1).await;
    assert_eq!(got.len(), 1, "one delivery (channel.created is not subscribed)");
    let r = &got[0];
    verify(r, &secret);
    assert_eq!(header(r, "x-linktor-event"), "conversation.created");
    assert_eq!(header(r, "x-custom"), "yes");
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["event"], "conversation.created");
    assert_eq!(body["data"]["id"], conv.id);
    assert_eq!(body["data"]["type"], "conversation");
    assert_eq!(body["meta"]["webhookId"], id);
    assert!(body["id"].as_str().is_some() && body["timestamp"].as_str().is_some());
    assert_eq!(header(r, "x-confab-event-id"), body["id"]);

    // The delivery log shows it succeeded, with the delivery id the receiver got.
    let start = Instant::now();
    loop {
        let log = app.api().get(&format!("/v1/webhooks/{id}/deliveries?status=succeeded")).await;
        log.expect(200);
        let items = log.body["data"].as_array().unwrap().clone();
        if items.len() == 1 {
            assert_eq!(items[0]["id"], header(r, "x-linktor-delivery-id"));
            assert_eq!(items[0]["attributes"]["attempts"], 1);
            assert_eq!(items[0]["attributes"]["eventId"], body["id"]);
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no succeeded delivery: {}", log.text);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Inactive subscriptions receive nothing; deleted ones are gone.
    app.api().patch(&format!("/v1/webhooks/{id}"), json!({"status": "inactive"})).await.expect(200);
    conversation(&app).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(rx.got.lock().unwrap().len(), 1);
    app.api().delete(&format!("/v1/webhooks/{id}")).await.expect(204);
    app.api().get(&format!("/v1/webhooks/{id}")).await.expect_error(404, "WEBHOOK_NOT_FOUND");
}

#[tokio::test]
async fn a_failing_receiver_gets_the_event_again_until_it_answers_2xx() {
    let app = TestApp::spawn().await;
    let rx = receiver(2).await;
    let hook = subscribe(&app, &rx.url, json!(["*"])).await;
    let id = hook["id"].as_str().unwrap().to_string();
    let secret = hook["attributes"]["secret"].as_str().unwrap().to_string();
    // A conversation event only: the channel is made first (its event is for `*` too).
    app.channel("WhatsApp", "whatsapp").await;
    let first = rx.wait_for(1).await;
    assert_eq!(header(&first[0], "x-linktor-event"), "channel.created");
    let got = rx.wait_for(3).await;
    assert_eq!(got.len(), 3, "500, 500, then 200");
    let ids: Vec<&str> = got.iter().map(|r| header(r, "x-linktor-delivery-id")).collect();
    assert!(ids.iter().all(|d| *d == ids[0]), "the same delivery each time: {ids:?}");
    for r in &got {
        verify(r, &secret);
    }
    let start = Instant::now();
    loop {
        let log = app.api().get(&format!("/v1/webhooks/{id}/deliveries?event=channel.created")).await;
        log.expect(200);
        let d = log.body["data"][0]["attributes"].clone();
        if d["status"] == "succeeded" {
            assert_eq!(d["attempts"], 3);
            assert_eq!(d["responseStatus"], 200);
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "not succeeded: {}", log.text);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn subscriptions_are_validated() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let r = api.post("/v1/webhooks", json!({"url": "https://hooks.example.com/x", "events": ["nope.never"]})).await;
    r.expect_error(400, "INVALID_EVENTS");
    assert_eq!(r.error_fields(), vec!["events"]);
    api.post("/v1/webhooks", json!({"url": "https://hooks.example.com/x", "events": []}))
        .await
        .expect_error(400, "INVALID_EVENTS");
    api.post(
        "/v1/webhooks",
        json!({"url": "https://hooks.example.com/x", "events": ["*"], "config": {"maxRetries": 0}}),
    )
    .await
    .expect(400);
    api.get("/v1/webhooks/not-an-id").await.expect_error(404, "WEBHOOK_NOT_FOUND");
    // Custom headers: strings, valid names, not one Confab sets itself; each problem named.
    let r = api
        .post(
            "/v1/webhooks",
            json!({"url": "https://hooks.example.com/x", "events": ["*"],
                   "headers": {"X-Linktor-Signature": "forged", "bad name": "x", "X-Count": 3}}),
        )
        .await;
    r.expect_error(400, "VALIDATION_ERROR");
    let mut fields = r.error_fields();
    fields.sort();
    assert_eq!(fields, vec!["headers.X-Count", "headers.X-Linktor-Signature", "headers.bad name"], "{}", r.text);

    // A server without --allow-insecure-webhooks refuses http and loopback receivers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let strict = confab::server::start(listener, app.store.clone()).expect("start");
    let http = reqwest::Client::new();
    for url in ["http://hooks.example.com/x", "https://127.0.0.1/x", "https://localhost:8443/x"] {
        let r = http
            .post(format!("http://{}/v1/webhooks", strict.addr))
            .bearer_auth(&app.key)
            .json(&json!({"url": url, "events": ["*"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{url}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "INVALID_URL", "{body}");
        assert_eq!(body["error"]["details"][0]["field"], "url", "{body}");
    }
    let ok = http
        .post(format!("http://{}/v1/webhooks", strict.addr))
        .bearer_auth(&app.key)
        .json(&json!({"url": "https://hooks.example.com/x", "events": ["conversation.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 201);
    strict.stop().await;
}

/// Waits until the delivery log of `hook` has a delivery matching `pred` (at most 10 s).
async fn delivery_where(app: &TestApp, hook: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let log = app.api().get(&format!("/v1/webhooks/{hook}/deliveries?perPage=100")).await;
        log.expect(200);
        if let Some(d) = log.body["data"].as_array().unwrap().iter().find(|d| pred(d)) {
            return d.clone();
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no such delivery: {}", log.text);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn payloads_carry_the_resource_as_the_linktor_face_renders_it() {
    let app = TestApp::spawn().await;
    let rx = receiver(0).await;
    subscribe(&app, &rx.url, json!(["conversation.created", "message.sent", "contact.updated"])).await;
    let conv = conversation(&app).await;
    let sent = app
        .api()
        .post("/v1/messages", json!({"conversationId": conv.id, "content": {"type": "text", "text": "Hi"}}))
        .await;
    sent.expect(201);
    // The payload is the state right after the event: compare with what GET said then.
    let shown = app.api().get(&format!("/v1/conversations/{}", conv.id)).await;
    app.api().patch(&format!("/v1/contacts/{}", conv.contact), json!({"name": "Jane Doe"})).await.expect(200);
    let got = rx.wait_for(3).await;
    assert_eq!(got.len(), 3);
    let by_event = |name: &str| got.iter().map(Received::json).find(|b| b["event"] == name).unwrap();

    let created = by_event("conversation.created");
    assert_eq!(created["data"]["type"], "conversation");
    for key in ["status", "priority", "channel", "contact", "createdAt", "tags", "subject"] {
        assert_eq!(created["data"]["attributes"][key], shown.attrs()[key], "{key}");
    }
    let message = by_event("message.sent");
    let msg = app.api().get(&format!("/v1/messages/{}", sent.id())).await;
    msg.expect(200);
    assert_eq!(message["data"]["type"], "message");
    assert_eq!(message["data"]["id"], sent.id());
    for key in ["conversationId", "content", "direction", "sender", "createdAt"] {
        assert_eq!(message["data"]["attributes"][key], msg.attrs()[key], "{key}");
    }
    let contact = by_event("contact.updated");
    assert_eq!(contact["data"]["type"], "contact");
    assert_eq!(contact["data"]["attributes"]["name"], "Jane Doe");
}

#[tokio::test]
async fn a_test_delivery_is_signed_answered_and_logged_and_is_not_retried() {
    let app = TestApp::spawn().await;
    let rx = receiver(0).await;
    let hook = subscribe(&app, &rx.url, json!(["conversation.created"])).await;
    let id = hook["id"].as_str().unwrap().to_string();
    let secret = hook["attributes"]["secret"].as_str().unwrap().to_string();

    let r = app.api().post_empty(&format!("/v1/webhooks/{id}/test")).await;
    r.expect(201);
    assert_eq!(r.attrs()["status"], "succeeded", "{}", r.text);
    assert_eq!(r.attrs()["event"], "test.ping");
    assert_eq!(r.attrs()["responseStatus"], 200);
    let got = rx.wait_for(1).await;
    verify(&got[0], &secret);
    assert_eq!(header(&got[0], "x-linktor-event"), "test.ping");
    assert_eq!(got[0].json()["event"], "test.ping");
    // Any event name of the format can be tested; others are refused naming `event`.
    let r = app.api().post(&format!("/v1/webhooks/{id}/test"), json!({"event": "conversation.closed"})).await;
    r.expect(201);
    assert_eq!(rx.wait_for(2).await[1].json()["event"], "conversation.closed");
    let r = app.api().post(&format!("/v1/webhooks/{id}/test"), json!({"event": "nope"})).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), vec!["event"]);
    // Logged; a test delivery is not retried.
    let log = app.api().get(&format!("/v1/webhooks/{id}/deliveries?event=test.ping")).await;
    assert_eq!(log.body["data"].as_array().unwrap().len(), 1, "{}", log.text);
    let delivery = log.body["data"][0]["id"].as_str().unwrap().to_string();
    app.api()
        .post_empty(&format!("/v1/webhooks/{id}/deliveries/{delivery}/retry"))
        .await
        .expect_error(409, "TEST_DELIVERY");
    // A receiver that fails makes a failed test, still 201.
    let down = receiver(usize::MAX).await;
    app.api().patch(&format!("/v1/webhooks/{id}"), json!({"url": down.url})).await.expect(200);
    let r = app.api().post_empty(&format!("/v1/webhooks/{id}/test")).await;
    r.expect(201);
    assert_eq!(r.attrs()["status"], "failed");
    assert_eq!(r.attrs()["responseStatus"], 500);
}

#[tokio::test]
async fn a_dead_delivery_can_be_retried_by_hand() {
    let app = TestApp::spawn().await;
    // Fails once; with maxRetries 1 the first failure is final.
    let rx = receiver(1).await;
    let r = app
        .api()
        .post(
            "/v1/webhooks",
            json!({"url": rx.url, "events": ["channel.created"], "config": {"maxRetries": 1, "timeout": 5}}),
        )
        .await;
    r.expect(201);
    let id = r.id();
    app.channel("WhatsApp", "whatsapp").await;
    let failed = delivery_where(&app, &id, |d| d["attributes"]["status"] == "failed").await;
    assert_eq!(failed["attributes"]["attempts"], 1);
    assert_eq!(failed["attributes"]["responseStatus"], 500);
    assert!(failed["attributes"]["error"].as_str().unwrap().contains("500"));
    let delivery = failed["id"].as_str().unwrap().to_string();

    let r = app.api().post_empty(&format!("/v1/webhooks/{id}/deliveries/{delivery}/retry")).await;
    r.expect(202);
    assert_eq!(r.attrs()["status"], "pending");
    let done = delivery_where(&app, &id, |d| d["attributes"]["status"] == "succeeded").await;
    assert_eq!(done["id"], delivery.as_str());
    let got = rx.wait_for(2).await;
    assert_eq!(header(&got[0], "x-linktor-delivery-id"), header(&got[1], "x-linktor-delivery-id"));
    assert_eq!(got[0].json()["id"], got[1].json()["id"], "the same event id, for de-duplication");
    // Retrying a delivery that is not there, or of another subscription, is 404.
    let other = uuid::Uuid::now_v7();
    app.api()
        .post_empty(&format!("/v1/webhooks/{id}/deliveries/{other}/retry"))
        .await
        .expect_error(404, "DELIVERY_NOT_FOUND");
}

#[tokio::test]
async fn patch_changes_url_events_and_config_and_checks_them() {
    let app = TestApp::spawn().await;
    let rx = receiver(0).await;
    let hook = subscribe(&app, "https://hooks.example.com/x", json!(["conversation.created"])).await;
    let id = hook["id"].as_str().unwrap().to_string();
    let r = app
        .api()
        .patch(
            &format!("/v1/webhooks/{id}"),
            json!({"url": rx.url, "events": ["channel.created"], "description": "moved", "config": {"maxRetries": 3, "timeout": 10}}),
        )
        .await;
    r.expect(200);
    assert_eq!(r.attrs()["url"], rx.url.as_str());
    assert_eq!(r.attrs()["events"], json!(["channel.created"]));
    assert_eq!(r.attrs()["description"], "moved");
    assert_eq!(r.attrs()["config"]["maxRetries"], 3);
    assert_eq!(r.attrs()["config"]["timeout"], 10);
    assert!(r.attrs().get("secret").is_none());
    app.channel("WhatsApp", "whatsapp").await;
    assert_eq!(rx.wait_for(1).await[0].json()["event"], "channel.created");

    let bad = app.api().patch(&format!("/v1/webhooks/{id}"), json!({"events": ["nope"]})).await;
    bad.expect_error(400, "INVALID_EVENTS");
    assert_eq!(bad.error_fields(), vec!["events"]);
    let bad = app.api().patch(&format!("/v1/webhooks/{id}"), json!({"status": "paused"})).await;
    assert_eq!(bad.error_fields(), vec!["status"]);
    let bad = app.api().patch(&format!("/v1/webhooks/{id}"), json!({"config": {"timeout": 0}})).await;
    assert_eq!(bad.error_fields(), vec!["config.timeout"]);
    let bad = app.api().patch(&format!("/v1/webhooks/{id}"), json!({"url": "ftp://x"})).await;
    bad.expect_error(400, "INVALID_URL");
}

#[tokio::test]
async fn a_conversation_a_bot_hands_to_a_person_emits_bot_handoff() {
    let app = TestApp::spawn().await;
    let rx = receiver(0).await;
    subscribe(&app, &rx.url, json!(["bot.handoff"])).await;
    let c = conversation(&app).await;
    let b = bot(&app, "Support Bot").await;
    let agent = user(&app, "Bea", "bea@acme.test").await;
    app.api().post(&at(&c.id, "assign"), json!({"assigneeId": b})).await.expect(200);
    app.api().post(&at(&c.id, "transfer"), json!({"toAssigneeId": agent, "reason": "needs a human"})).await.expect(200);
    let got = rx.wait_for(1).await;
    assert_eq!(got.len(), 1, "a bot-to-bot or person assignment is not a handoff");
    let body = got[0].json();
    assert_eq!(body["event"], "bot.handoff");
    assert_eq!(body["data"]["type"], "conversation");
    assert_eq!(body["data"]["id"], c.id);
    assert_eq!(body["data"]["attributes"]["assignee"]["id"], agent.as_str());
    // Back to the bot and to the person again: a second handoff.
    app.api().post(&at(&c.id, "assign"), json!({"assigneeId": b})).await.expect(200);
    app.api().post(&at(&c.id, "assign"), json!({"assigneeId": agent})).await.expect(200);
    assert_eq!(rx.wait_for(2).await.len(), 2);
}

#[tokio::test]
async fn a_subscription_takes_another_platforms_format_and_its_event_names() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let r = api
        .post("/v1/webhooks", json!({"url": "https://hooks.example.com/x", "events": ["*"], "format": "slack"}))
        .await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), vec!["format"]);
    // Linktor's names are not Airy's.
    let r = api
        .post(
            "/v1/webhooks",
            json!({"url": "https://hooks.example.com/x", "events": ["conversation.created"], "format": "airy"}),
        )
        .await;
    r.expect_error(400, "INVALID_EVENTS");
    let r = api
        .post(
            "/v1/webhooks",
            json!({"url": "https://hooks.example.com/x", "events": ["conversation.updated"], "format": "airy"}),
        )
        .await;
    r.expect(201);
    assert_eq!(r.attrs()["format"], "airy");
}

#[tokio::test]
async fn events_of_no_conversation_keep_their_order_per_subject() {
    let app = TestApp::spawn().await;
    // The first request fails: contact.created is retried, and contact.updated waits for it.
    let rx = receiver(1).await;
    subscribe(&app, &rx.url, json!(["contact.created", "contact.updated"])).await;
    let r = app.api().post("/v1/contacts", json!({"name": "Kim", "phone": "+15550009999"})).await;
    r.expect(201);
    let contact = r.id();
    app.api().patch(&format!("/v1/contacts/{contact}"), json!({"name": "Kim Lee"})).await.expect(200);
    let got = rx.wait_for(3).await;
    let events: Vec<String> = got.iter().map(|r| r.json()["event"].as_str().unwrap().to_string()).collect();
    assert_eq!(events, ["contact.created", "contact.created", "contact.updated"], "500, retry, then the update");
}
