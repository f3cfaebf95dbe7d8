//! `Idempotency-Key` on /v1 POSTs: replays, reuse with another request, keys in use, per API key.

use crate::support::{Resp, TestApp};
use confab_api::idempotency::{cutoff, fingerprint};
use confab_core::ApiKeyId;
use confab_store::Reservation;
use reqwest::Method;
use serde_json::json;

/// How many channels the tenant `acme` has.
async fn channel_count(app: &TestApp) -> u64 {
    let r = app.api().get("/v1/channels").await;
    r.expect(200);
    r.body["meta"]["pagination"]["totalCount"].as_u64().expect("totalCount")
}

/// The id of an API key, from its clear text.
async fn key_id(app: &TestApp, key: &str) -> ApiKeyId {
    let hash = confab_api::auth::hash_key(key);
    app.store.principal_by_key_hash(&hash).await.expect("lookup").expect("the key exists").key_id
}

fn replayed(r: &Resp) -> bool {
    r.headers.get("idempotency-replayed").and_then(|v| v.to_str().ok()) == Some("true")
}

const BODY: &[u8] = br#"{"name":"Support WhatsApp","type":"whatsapp"}"#;

async fn create_channel(app: &TestApp, key: &str) -> Resp {
    app.api()
        .with_header("Idempotency-Key", key)
        .send_raw(Method::POST, "/v1/channels", "application/json", BODY.into())
        .await
}

#[tokio::test]
async fn a_retry_with_the_same_key_returns_the_first_response_without_creating_twice() {
    let app = TestApp::spawn().await;
    let first = create_channel(&app, "create-support-1").await;
    first.expect(201);
    assert!(!replayed(&first), "the first response is not a replay");
    let second = create_channel(&app, "create-support-1").await;
    second.expect(201);
    assert!(replayed(&second), "the retry is marked as a replay: {:?}", second.headers);
    assert_eq!(second.id(), first.id());
    assert_eq!(second.text, first.text, "the stored body is returned byte for byte");
    assert_eq!(second.headers["content-type"], first.headers["content-type"]);
    assert_eq!(channel_count(&app).await, 1);

    // Without a key, or with another key, the same body is a new request.
    app.api().send_raw(Method::POST, "/v1/channels", "application/json", BODY.into()).await.expect(201);
    create_channel(&app, "create-support-2").await.expect(201);
    assert_eq!(channel_count(&app).await, 3);
}

#[tokio::test]
async fn the_same_key_with_a_different_request_is_422_idempotency_key_reused() {
    let app = TestApp::spawn().await;
    let first = create_channel(&app, "k-1").await;
    first.expect(201);
    let api = app.api().with_header("Idempotency-Key", "k-1");

    let r = api.post("/v1/channels", json!({"name": "Another", "type": "sms"})).await;
    r.expect_error(422, "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(r.error_fields(), ["Idempotency-Key"]);
    assert!(r.body["meta"]["requestId"].is_string(), "errors come in the Linktor envelope: {}", r.text);

    // Another path with the same key is another request too.
    let path = format!("/v1/channels/{}/deactivate", first.id());
    api.post_empty(&path).await.expect_error(422, "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(channel_count(&app).await, 1);
    let channel = app.api().get(&format!("/v1/channels/{}", first.id())).await;
    assert_eq!(channel.attrs()["status"], "active", "the refused request did nothing");
}

#[tokio::test]
async fn two_api_keys_use_the_same_idempotency_key_independently() {
    let app = TestApp::spawn().await;
    let other = app.new_key("acme", "Bo Builder", "channels:write,channels:read").await;
    let mine = create_channel(&app, "shared-key").await;
    mine.expect(201);
    let theirs = app
        .as_key(&other)
        .with_header("Idempotency-Key", "shared-key")
        .send_raw(Method::POST, "/v1/channels", "application/json", BODY.into())
        .await;
    theirs.expect(201);
    assert!(!replayed(&theirs));
    assert_ne!(theirs.id(), mine.id());
    assert_eq!(channel_count(&app).await, 2);
}

#[tokio::test]
async fn a_duplicate_while_the_first_is_still_running_is_409_idempotency_key_in_use() {
    let app = TestApp::spawn().await;
    let key = key_id(&app, &app.key).await;
    // The first request "is running": its reservation is in place, with the fingerprint the HTTP
    // request below produces.
    let print = fingerprint("POST", "/v1/channels", None, BODY);
    let now = confab_core::time::now();
    assert_eq!(app.store.reserve_idempotency(key, "busy", &print, cutoff(now)).await.unwrap(), Reservation::Reserved);

    let r = create_channel(&app, "busy").await;
    r.expect_error(409, "IDEMPOTENCY_KEY_IN_USE");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("still being processed"));
    assert_eq!(channel_count(&app).await, 0);

    // When the first request fails (released), a retry runs the work.
    app.store.release_idempotency(key, "busy").await.unwrap();
    let retry = create_channel(&app, "busy").await;
    retry.expect(201);
    assert!(!replayed(&retry));
    assert_eq!(channel_count(&app).await, 1);
    let again = create_channel(&app, "busy").await;
    assert_eq!((again.status, again.id(), replayed(&again)), (201, retry.id(), true));
}

#[tokio::test]
async fn concurrent_duplicates_create_exactly_one_channel() {
    let app = TestApp::spawn().await;
    let attempts = (0..12).map(|_| create_channel(&app, "storm"));
    let results = futures_util::future::join_all(attempts).await;
    let created: Vec<&Resp> = results.iter().filter(|r| r.status == 201).collect();
    for r in &results {
        assert!(
            r.status == 201 || (r.status == 409 && r.code() == "IDEMPOTENCY_KEY_IN_USE"),
            "a duplicate is either a replay or in use: {} {}",
            r.status,
            r.text
        );
    }
    assert!(!created.is_empty());
    assert_eq!(created.iter().filter(|r| !replayed(r)).count(), 1, "exactly one request did the work");
    assert!(created.iter().all(|r| r.id() == created[0].id()));
    assert_eq!(channel_count(&app).await, 1);
}

#[tokio::test]
async fn a_4xx_response_is_stored_and_replayed_too() {
    let app = TestApp::spawn().await;
    let api = app.api().with_header("Idempotency-Key", "bad-type");
    let body = json!({"name": "Pigeons", "type": "carrier-pigeon"});
    let first = api.post("/v1/channels", body.clone()).await;
    first.expect_error(400, "INVALID_CHANNEL_TYPE");
    let second = api.post("/v1/channels", body).await;
    second.expect_error(400, "INVALID_CHANNEL_TYPE");
    assert!(replayed(&second));
    assert_eq!(second.text, first.text);
}

#[tokio::test]
async fn an_expired_key_runs_the_request_again() {
    let app = TestApp::spawn().await;
    let first = create_channel(&app, "yesterday").await;
    first.expect(201);
    // A day later, the hourly purge has deleted the key.
    let a_day_later = confab_core::time::now() + chrono::Duration::hours(24) + chrono::Duration::seconds(1);
    let purged = app.store.purge_idempotency(cutoff(a_day_later)).await.unwrap();
    assert_eq!(purged, 1);
    let second = create_channel(&app, "yesterday").await;
    second.expect(201);
    assert!(!replayed(&second));
    assert_ne!(second.id(), first.id());
    assert_eq!(channel_count(&app).await, 2);

    // A reservation made after the key expired takes it over even before a purge.
    let key = key_id(&app, &app.key).await;
    let print = fingerprint("POST", "/v1/channels", None, BODY);
    let outcome = app.store.reserve_idempotency(key, "yesterday", &print, cutoff(a_day_later)).await.unwrap();
    assert_eq!(outcome, Reservation::Reserved);
}

#[tokio::test]
async fn a_malformed_idempotency_key_is_400_naming_the_header() {
    let app = TestApp::spawn().await;
    let long = "k".repeat(256);
    for bad in ["clé-ünicode", long.as_str()] {
        let r = app
            .api()
            .with_header("Idempotency-Key", bad)
            .post("/v1/channels", json!({"name": "x", "type": "sms"}))
            .await;
        r.expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.error_fields(), ["Idempotency-Key"]);
    }
    let longest = "k".repeat(255);
    create_channel(&app, &longest).await.expect(201);
    assert_eq!(channel_count(&app).await, 1);
}

#[tokio::test]
async fn requests_other_than_post_ignore_the_header() {
    let app = TestApp::spawn().await;
    let id = create_channel(&app, "same").await.id();
    let api = app.api().with_header("Idempotency-Key", "same");
    let a = api.patch(&format!("/v1/channels/{id}"), json!({"name": "First"})).await;
    a.expect(200);
    let b = api.patch(&format!("/v1/channels/{id}"), json!({"name": "Second"})).await;
    b.expect(200);
    assert!(!replayed(&b));
    assert_eq!(b.attrs()["name"], "Second");
    api.get("/v1/channels").await.expect(200);
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_before_any_key_is_reserved() {
    let app = TestApp::spawn().await;
    let huge = format!(r#"{{"name":"{}","type":"sms"}}"#, "x".repeat(confab_api::MAX_BODY_BYTES));
    let api = app.api().with_header("Idempotency-Key", "huge");
    let r = api.send_raw(Method::POST, "/v1/channels", "application/json", huge.into_bytes()).await;
    r.expect(413);
    // Nothing was reserved: the key is still free for a request that fits.
    create_channel(&app, "huge").await.expect(201);
}
