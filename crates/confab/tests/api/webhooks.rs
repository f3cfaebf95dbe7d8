//! Webhooks (Linktor format): subscriptions through `/v1/webhooks`, signed deliveries to a real
//! local receiver, retries after a failing answer, and the delivery log.

use crate::conversation_actions::conversation;
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
