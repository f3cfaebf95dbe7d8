//! G-Tateth webhooks: subscriptions through `/api/v1/webhooks`, deliveries in the `gtateth` format
//! (signed `X-Webhook-Signature`, G-Tateth payloads) to a real local receiver, the test endpoint,
//! the delivery log and retries with backoff.

use crate::support::{header, hex_encode, receiver, Api, Received, Receiver, Resp, TestApp};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Fixtures

#[track_caller]
fn ok(r: &Resp, status: u16) -> Value {
    assert_eq!(r.status, status, "body: {}", r.text);
    assert_eq!(r.body["success"], json!(true), "body: {}", r.text);
    r.body["data"].clone()
}

/// Asserts a G-Tateth error with its code and the fields its details name.
#[track_caller]
fn gt_error(r: &Resp, status: u16, code: &str, fields: &[&str]) {
    assert_eq!(r.status, status, "body: {}", r.text);
    assert_eq!(r.body["success"], json!(false), "body: {}", r.text);
    assert_eq!(r.body["error"]["code"], json!(code), "body: {}", r.text);
    let mut named: Vec<String> =
        r.body["error"]["details"].as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
    named.sort();
    let mut want: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    want.sort();
    assert_eq!(named, want, "body: {}", r.text);
}

fn id(v: &Value) -> String {
    v["_id"].as_str().unwrap_or_else(|| panic!("no _id in {v}")).to_string()
}

/// `X-Webhook-Signature` checked the way a receiver does: `sha256=` and the hex HMAC-SHA256 of
/// the raw body with the secret.
#[track_caller]
fn verify(r: &Received, secret: &str) {
    let expected = format!("sha256={}", hex_encode(&confab_events::webhooks::hmac_sha256(secret.as_bytes(), &r.body)));
    assert_eq!(header(r, "x-webhook-signature"), expected);
}

/// Creates a subscription of `rx` to `events`; returns its `data` (with the secret).
async fn subscribe(api: &Api, url: &str, events: Value, retry: Value) -> Value {
    let r = api
        .post(
            "/api/v1/webhooks",
            json!({"name": "CRM sync", "url": url, "events": events, "headers": {"X-Custom": "yes"}, "retryPolicy": retry}),
        )
        .await;
    ok(&r, 201)
}

async fn inbox(api: &Api) -> String {
    id(&ok(&api.post("/api/v1/inboxes", json!({"name": "Support"})).await, 201))
}

/// Waits (at most 15 s) until the receiver got a delivery of each of `events`; returns them all.
async fn wait_for_events(rx: &Receiver, events: &[&str]) -> Vec<Received> {
    let start = Instant::now();
    loop {
        let got = rx.got.lock().unwrap().clone();
        let names: Vec<String> = got.iter().map(|r| r.json()["event"].as_str().unwrap_or("").to_string()).collect();
        if events.iter().all(|e| names.iter().any(|n| n == e)) || start.elapsed() > Duration::from_secs(15) {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The deliveries of `event`, in the order received.
fn of(got: &[Received], event: &str) -> Vec<Value> {
    got.iter().map(Received::json).filter(|b| b["event"] == event).collect()
}

/// Waits (at most 15 s) until the log filtered by `query` holds `n` entries; returns them.
async fn log_entries(api: &Api, hook: &str, query: &str, n: usize) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let r = api.get(&format!("/api/v1/webhooks/{hook}/logs{query}")).await;
        let items = ok(&r, 200).as_array().cloned().unwrap_or_default();
        if items.len() >= n || start.elapsed() > Duration::from_secs(15) {
            assert_eq!(items.len(), n, "log{query}: {}", r.text);
            return items;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Subscriptions

#[tokio::test]
async fn webhooks_can_be_created_read_listed_updated_and_deleted_with_the_secret_shown_once() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let created = ok(
        &api.post(
            "/api/v1/webhooks",
            json!({"name": "  CRM sync ", "url": "https://hooks.example.com/gt", "events": ["conversation.created", "customer.created"],
                   "headers": {"X-Token": "abc"}}),
        )
        .await,
        201,
    );
    let hook = id(&created);
    assert_eq!(created["name"], "CRM sync");
    assert_eq!(created["url"], "https://hooks.example.com/gt");
    assert_eq!(created["events"], json!(["conversation.created", "customer.created"]));
    assert_eq!(created["headers"], json!({"X-Token": "abc"}));
    assert_eq!(created["retryPolicy"], json!({"maxRetries": 3, "backoffStrategy": "exponential"}));
    assert_eq!(created["isActive"], true);
    let secret = created["secret"].as_str().expect("the secret at creation");
    assert!(secret.starts_with("whsec_") && secret.len() == 54, "{secret}");
    for field in ["createdAt", "updatedAt"] {
        assert!(chrono::DateTime::parse_from_rfc3339(created[field].as_str().unwrap()).is_ok(), "{created}");
    }
    // 4 attempts in all: the first and 3 retries.
    let stored = app.store.list_webhooks(&admin_ctx(&app).await, &Default::default(), page(1, 10)).await.unwrap();
    assert_eq!((stored.items[0].max_retries, stored.items[0].format.as_str()), (4, "gtateth"));

    let got = ok(&api.get(&format!("/api/v1/webhooks/{hook}")).await, 200);
    assert!(got.get("secret").is_none(), "{got}");
    assert_eq!(got["name"], "CRM sync");

    let listed = api.get("/api/v1/webhooks").await;
    let data = ok(&listed, 200);
    assert_eq!(data["webhooks"].as_array().unwrap().len(), 1);
    assert!(data["webhooks"][0].get("secret").is_none());
    assert_eq!((data["total"].clone(), data["page"].clone(), data["limit"].clone()), (json!(1), json!(1), json!(20)));
    assert_eq!(data["totalPages"], 1);
    assert_eq!(listed.body["pagination"], json!({"total": 1, "page": 1, "limit": 20, "totalPages": 1}));

    // PUT and PATCH are partial.
    let put = ok(
        &api.put(
            &format!("/api/v1/webhooks/{hook}"),
            json!({"name": "Renamed", "isActive": false, "retryPolicy": {"maxRetries": 0}}),
        )
        .await,
        200,
    );
    assert_eq!(put["name"], "Renamed");
    assert_eq!(put["isActive"], false);
    assert_eq!(put["retryPolicy"], json!({"maxRetries": 0, "backoffStrategy": "exponential"}));
    assert_eq!(put["events"], json!(["conversation.created", "customer.created"]));
    assert!(put.get("secret").is_none());
    let patched = ok(
        &api.patch(
            &format!("/api/v1/webhooks/{hook}"),
            json!({"events": ["*"], "url": "https://other.example.com/x", "headers": {},
                   "retryPolicy": {"backoffStrategy": "linear"}, "isActive": true}),
        )
        .await,
        200,
    );
    assert_eq!(patched["events"], json!(["*"]));
    assert_eq!(patched["url"], "https://other.example.com/x");
    assert_eq!(patched["headers"], json!({}));
    assert_eq!(patched["retryPolicy"], json!({"maxRetries": 0, "backoffStrategy": "linear"}));
    assert_eq!((patched["name"].clone(), patched["isActive"].clone()), (json!("Renamed"), json!(true)));

    let deleted = api.delete(&format!("/api/v1/webhooks/{hook}")).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(deleted.body, json!({"success": true, "message": "Webhook deleted"}));
    gt_error(&api.get(&format!("/api/v1/webhooks/{hook}")).await, 404, "NOT_FOUND", &[]);
    gt_error(&api.delete(&format!("/api/v1/webhooks/{hook}")).await, 404, "NOT_FOUND", &[]);
    gt_error(&api.get("/api/v1/webhooks/not-an-id").await, 404, "NOT_FOUND", &[]);
}

#[tokio::test]
async fn subscriptions_of_other_faces_are_not_found_here_and_scopes_are_checked() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let linktor = api
        .post("/v1/webhooks", json!({"url": "https://hooks.example.com/l", "events": ["conversation.created"]}))
        .await;
    linktor.expect(201);
    let linktor_id = linktor.id();
    gt_error(&api.get(&format!("/api/v1/webhooks/{linktor_id}")).await, 404, "NOT_FOUND", &[]);
    gt_error(&api.put(&format!("/api/v1/webhooks/{linktor_id}"), json!({"name": "x"})).await, 404, "NOT_FOUND", &[]);
    gt_error(&api.get(&format!("/api/v1/webhooks/{linktor_id}/logs")).await, 404, "NOT_FOUND", &[]);
    gt_error(&api.post_empty(&format!("/api/v1/webhooks/{linktor_id}/test")).await, 404, "NOT_FOUND", &[]);
    gt_error(&api.delete(&format!("/api/v1/webhooks/{linktor_id}")).await, 404, "NOT_FOUND", &[]);
    let listed = ok(&api.get("/api/v1/webhooks").await, 200);
    assert_eq!(listed["webhooks"], json!([]));
    assert_eq!(listed["total"], 0);
    api.get(&format!("/v1/webhooks/{linktor_id}")).await.expect(200);

    let hook = id(&subscribe(&api, "https://hooks.example.com/g", json!(["*"]), json!({})).await);
    let reader = app.as_key(&app.new_key("acme", "Reader", "read:webhooks").await);
    ok(&reader.get("/api/v1/webhooks").await, 200);
    ok(&reader.get(&format!("/api/v1/webhooks/{hook}")).await, 200);
    ok(&reader.get(&format!("/api/v1/webhooks/{hook}/logs")).await, 200);
    let denied = reader.post("/api/v1/webhooks", json!({"name": "x"})).await;
    gt_error(&denied, 403, "INSUFFICIENT_PERMISSIONS", &["requiredPermission"]);
    assert_eq!(denied.body["error"]["details"]["requiredPermission"], "write:webhooks");
    gt_error(
        &reader.post_empty(&format!("/api/v1/webhooks/{hook}/test")).await,
        403,
        "INSUFFICIENT_PERMISSIONS",
        &["requiredPermission"],
    );
    let nobody = app.as_key(&app.new_key("acme", "Agent", "conversations:read").await);
    let denied = nobody.get("/api/v1/webhooks").await;
    gt_error(&denied, 403, "INSUFFICIENT_PERMISSIONS", &["requiredPermission"]);
    assert_eq!(denied.body["error"]["details"]["requiredPermission"], "read:webhooks");
    // Another tenant does not see it.
    let other = app.as_key(&app.new_key("globex", "Gina", "admin").await);
    gt_error(&other.get(&format!("/api/v1/webhooks/{hook}")).await, 404, "NOT_FOUND", &[]);
}

#[tokio::test]
async fn invalid_webhooks_are_400_naming_each_field() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let post = |body: Value| {
        let api = api.clone();
        async move { api.post("/api/v1/webhooks", body).await }
    };
    gt_error(&post(json!({})).await, 400, "VALIDATION_ERROR", &["events", "name", "url"]);
    let good = json!({"name": "n", "url": "https://hooks.example.com/x", "events": ["customer.created"]});
    let with = |k: &str, v: Value| {
        let mut b = good.clone();
        b[k] = v;
        b
    };
    gt_error(&post(with("name", json!("x".repeat(101)))).await, 400, "VALIDATION_ERROR", &["name"]);
    gt_error(&post(with("name", json!("   "))).await, 400, "VALIDATION_ERROR", &["name"]);
    gt_error(&post(with("url", json!("ftp://hooks.example.com"))).await, 400, "VALIDATION_ERROR", &["url"]);
    gt_error(&post(with("url", json!("not a url"))).await, 400, "VALIDATION_ERROR", &["url"]);
    gt_error(&post(with("events", json!([]))).await, 400, "VALIDATION_ERROR", &["events"]);
    gt_error(&post(with("events", json!(["call.initiated"]))).await, 400, "VALIDATION_ERROR", &["events"]);
    gt_error(&post(with("events", json!(["contact.created"]))).await, 400, "VALIDATION_ERROR", &["events"]);
    gt_error(&post(with("events", json!("customer.created"))).await, 400, "VALIDATION_ERROR", &["events"]);
    gt_error(
        &post(with("retryPolicy", json!({"maxRetries": 11}))).await,
        400,
        "VALIDATION_ERROR",
        &["retryPolicy.maxRetries"],
    );
    gt_error(
        &post(with("retryPolicy", json!({"maxRetries": -1}))).await,
        400,
        "VALIDATION_ERROR",
        &["retryPolicy.maxRetries"],
    );
    gt_error(
        &post(with("retryPolicy", json!({"maxRetries": "three"}))).await,
        400,
        "VALIDATION_ERROR",
        &["retryPolicy.maxRetries"],
    );
    gt_error(
        &post(with("retryPolicy", json!({"backoffStrategy": "fibonacci"}))).await,
        400,
        "VALIDATION_ERROR",
        &["retryPolicy.backoffStrategy"],
    );
    gt_error(
        &post(with("headers", json!({"X-Num": 5, "Bad Name": "v", "X-Webhook-Signature": "forged"}))).await,
        400,
        "VALIDATION_ERROR",
        &["headers.Bad Name", "headers.X-Num", "headers.X-Webhook-Signature"],
    );
    // Everything wrong at once is one 400 naming every field.
    gt_error(
        &post(json!({"name": "", "url": "ftp://x", "events": ["nope"],
                     "retryPolicy": {"maxRetries": 99, "backoffStrategy": "random"}}))
        .await,
        400,
        "VALIDATION_ERROR",
        &["events", "name", "retryPolicy.backoffStrategy", "retryPolicy.maxRetries", "url"],
    );
    // Boundaries are accepted.
    let edge = ok(
        &post(json!({"name": "x".repeat(100), "url": "https://hooks.example.com/x", "events": ["*"],
                     "retryPolicy": {"maxRetries": 10, "backoffStrategy": "linear"}}))
        .await,
        201,
    );
    assert_eq!(edge["retryPolicy"], json!({"maxRetries": 10, "backoffStrategy": "linear"}));
    ok(&post(with("retryPolicy", json!({"maxRetries": 0}))).await, 201);

    // Updates check the same fields.
    let hook = id(&edge);
    let put = |body: Value| {
        let api = api.clone();
        let path = format!("/api/v1/webhooks/{hook}");
        async move { api.put(&path, body).await }
    };
    gt_error(
        &put(json!({"name": "", "url": "http://hooks.example.com", "events": [], "isActive": "yes"})).await,
        400,
        "VALIDATION_ERROR",
        &["isActive"],
    );
    gt_error(
        &put(json!({"name": "", "url": "ftp://hooks.example.com", "events": []})).await,
        400,
        "VALIDATION_ERROR",
        &["events", "name", "url"],
    );
    gt_error(
        &api.patch(
            &format!("/api/v1/webhooks/{hook}"),
            json!({"retryPolicy": {"maxRetries": 11, "backoffStrategy": "x"}}),
        )
        .await,
        400,
        "VALIDATION_ERROR",
        &["retryPolicy.backoffStrategy", "retryPolicy.maxRetries"],
    );
    // Nothing changed.
    let same = ok(&api.get(&format!("/api/v1/webhooks/{hook}")).await, 200);
    assert_eq!(same["name"], json!("x".repeat(100)));
    assert_eq!(same["retryPolicy"], json!({"maxRetries": 10, "backoffStrategy": "linear"}));
}

#[tokio::test]
async fn the_list_filters_on_is_active_and_paginates() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let mut ids = Vec::new();
    for i in 0..5 {
        let h = subscribe(&api, &format!("https://hooks.example.com/{i}"), json!(["*"]), json!({})).await;
        ids.push(id(&h));
    }
    for h in &ids[..2] {
        ok(&api.put(&format!("/api/v1/webhooks/{h}"), json!({"isActive": false})).await, 200);
    }
    let inactive = ok(&api.get("/api/v1/webhooks?isActive=false").await, 200);
    let mut got: Vec<String> = inactive["webhooks"].as_array().unwrap().iter().map(id).collect();
    got.sort();
    let mut want = ids[..2].to_vec();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(inactive["total"], 2);
    let active = api.get("/api/v1/webhooks?isActive=true&limit=2&page=2").await;
    let data = ok(&active, 200);
    assert_eq!(data["webhooks"].as_array().unwrap().len(), 1);
    assert!(data["webhooks"].as_array().unwrap().iter().all(|w| w["isActive"] == true));
    assert_eq!((data["total"].clone(), data["totalPages"].clone()), (json!(3), json!(2)));
    assert_eq!(active.body["pagination"], json!({"total": 3, "page": 2, "limit": 2, "totalPages": 2}));
    // Newest first.
    let all = ok(&api.get("/api/v1/webhooks").await, 200);
    let order: Vec<String> = all["webhooks"].as_array().unwrap().iter().map(id).collect();
    assert_eq!(order, ids.iter().rev().cloned().collect::<Vec<_>>());
    gt_error(&api.get("/api/v1/webhooks?isActive=maybe").await, 400, "VALIDATION_ERROR", &["isActive"]);
    gt_error(&api.get("/api/v1/webhooks?limit=101").await, 400, "VALIDATION_ERROR", &["limit"]);
    gt_error(&api.get("/api/v1/webhooks?page=0").await, 400, "VALIDATION_ERROR", &["page"]);
}

// ---------------------------------------------------------------------------------------------
// Deliveries

#[tokio::test]
async fn every_gtateth_event_is_delivered_signed_with_the_gtateth_payload() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let rx = receiver(0).await;
    let all = json!([
        "conversation.created",
        "conversation.updated",
        "conversation.assigned",
        "conversation.closed",
        "customer.created",
        "customer.updated",
        "message.sent",
        "message.received",
        "user.created",
        "user.updated"
    ]);
    let hook = subscribe(&api, &rx.url, all, json!({})).await;
    let secret = hook["secret"].as_str().unwrap().to_string();

    // customer.created, customer.updated
    let customer = ok(
        &api.post("/api/v1/customers", json!({"firstName": "Jane", "lastName": "Smith", "email": "jane@example.com"}))
            .await,
        201,
    );
    let customer_id = id(&customer);
    ok(&api.put(&format!("/api/v1/customers/{customer_id}"), json!({"tier": "gold"})).await, 200);
    // conversation.created, conversation.updated
    let inbox_id = inbox(&api).await;
    let conv = ok(
        &api.post(
            "/api/v1/conversations",
            json!({"subject": "Printer on fire", "inboxId": inbox_id, "customerId": customer_id}),
        )
        .await,
        201,
    );
    let conv_id = id(&conv);
    ok(&api.put(&format!("/api/v1/conversations/{conv_id}"), json!({"priority": "high"})).await, 200);
    // user.created (through /v1/users), conversation.assigned
    let user = api.post("/v1/users", json!({"name": "Bob Agent", "email": "bob@acme.test", "role": "agent"})).await;
    user.expect(201);
    let user_id = user.id();
    ok(&api.put(&format!("/api/v1/conversations/{conv_id}"), json!({"assignedTo": user_id})).await, 200);
    // message.sent
    let sent = api
        .post("/v1/messages", json!({"conversationId": conv_id, "content": {"type": "text", "text": "On our way"}}))
        .await;
    sent.expect(201);
    // message.received (an inbound message on a channel)
    let channel = app.channel("WhatsApp", "whatsapp").await;
    api.post(
        &format!("/v1/channels/{channel}/inbound"),
        json!({"sender": {"phone": "+15550001111", "name": "Ann"}, "content": {"type": "text", "text": "Hello?"}}),
    )
    .await
    .expect(201);
    // conversation.closed
    ok(&api.put(&format!("/api/v1/conversations/{conv_id}"), json!({"status": "closed"})).await, 200);

    let expected = [
        "conversation.created",
        "conversation.updated",
        "conversation.assigned",
        "conversation.closed",
        "customer.created",
        "customer.updated",
        "message.sent",
        "message.received",
        "user.created",
    ];
    let got = wait_for_events(&rx, &expected).await;
    for r in &got {
        verify(r, &secret);
        assert_eq!(header(r, "x-custom"), "yes");
        assert_eq!(header(r, "content-type"), "application/json");
        let b = r.json();
        assert!(b["id"].as_str().is_some_and(|i| uuid::Uuid::parse_str(i).is_ok()), "{b}");
        assert!(chrono::DateTime::parse_from_rfc3339(b["timestamp"].as_str().unwrap()).is_ok(), "{b}");
        assert_eq!(b.as_object().unwrap().len(), 4, "id, event, timestamp, data: {b}");
    }
    for e in expected {
        assert!(
            !of(&got, e).is_empty(),
            "no {e} among {:?}",
            got.iter().map(|r| r.json()["event"].clone()).collect::<Vec<_>>()
        );
    }
    // Event ids are unique (receivers de-duplicate on them).
    let mut ids: Vec<String> = got.iter().map(|r| r.json()["id"].as_str().unwrap().to_string()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), got.len());

    // customer.*: the customer object of /api/v1/customers.
    let created = of(&got, "customer.created");
    let c =
        &created.iter().find(|c| c["data"]["_id"] == customer_id.as_str()).expect("Jane's customer.created")["data"];
    assert_eq!(c["_id"], customer_id.as_str());
    assert_eq!(c["profile"]["firstName"], "Jane");
    assert_eq!(c["profile"]["email"], "jane@example.com");
    assert_eq!(c["status"], "active");
    let updated = of(&got, "customer.updated");
    assert!(
        updated.iter().any(|u| u["data"]["_id"] == customer_id.as_str() && u["data"]["tier"] == "gold"),
        "{updated:?}"
    );

    // conversation.*: the conversation as GET renders it, customer and assignee populated.
    let created = of(&got, "conversation.created");
    let cc = created.iter().find(|c| c["data"]["_id"] == conv_id.as_str()).expect("our conversation.created");
    let d = &cc["data"];
    assert_eq!(d["subject"], "Printer on fire");
    assert_eq!((d["status"].clone(), d["priority"].clone()), (json!("open"), json!("medium")));
    assert_eq!(d["inboxId"], inbox_id.as_str());
    assert_eq!(d["channel"], "email");
    assert_eq!(d["customerId"]["_id"], customer_id.as_str());
    assert_eq!(d["customerId"]["profile"]["email"], "jane@example.com");
    assert_eq!(d["assignedTo"], Value::Null);
    assert!(d["labels"].is_array() && d["createdAt"].is_string() && d["updatedAt"].is_string(), "{d}");
    assert!(of(&got, "conversation.updated")
        .iter()
        .any(|u| u["data"]["_id"] == conv_id.as_str() && u["data"]["priority"] == "high"));
    let assigned = &of(&got, "conversation.assigned")[0]["data"];
    assert_eq!(assigned["_id"], conv_id.as_str());
    assert_eq!(assigned["assignedTo"]["_id"], user_id.as_str());
    assert_eq!(assigned["assignedTo"]["name"], "Bob Agent");
    let closed = &of(&got, "conversation.closed")[0]["data"];
    assert_eq!((closed["_id"].clone(), closed["status"].clone()), (json!(conv_id), json!("closed")));
    assert_eq!(closed["assignedTo"]["_id"], user_id.as_str());
    // The same shape as GET /api/v1/conversations/{id}.
    let get = ok(&api.get(&format!("/api/v1/conversations/{conv_id}")).await, 200);
    let mut keys_get: Vec<&String> = get.as_object().unwrap().keys().collect();
    let mut keys_hook: Vec<&String> = closed.as_object().unwrap().keys().collect();
    keys_get.sort();
    keys_hook.sort();
    assert_eq!(keys_get, keys_hook);

    // message.*: Confab's message object.
    let m = &of(&got, "message.sent")[0]["data"];
    assert_eq!(m["_id"], sent.id().as_str());
    assert_eq!(m["conversationId"], conv_id.as_str());
    assert_eq!(
        (m["direction"].clone(), m["type"].clone(), m["text"].clone()),
        (json!("outbound"), json!("text"), json!("On our way"))
    );
    assert_eq!(m["content"], json!({"type": "text", "text": "On our way"}));
    assert_eq!(m["sender"]["type"], "user");
    assert!(m["createdAt"].is_string() && m["status"].is_string(), "{m}");
    let m = &of(&got, "message.received")[0]["data"];
    assert_eq!((m["direction"].clone(), m["text"].clone()), (json!("inbound"), json!("Hello?")));
    assert_eq!(m["sender"]["type"], "contact");
    assert_eq!(m["sender"]["name"], "Ann");

    // user.*: {_id, name, email, role, …}.
    let users = of(&got, "user.created");
    let u = &users.iter().find(|u| u["data"]["_id"] == user_id.as_str()).expect("Bob's user.created")["data"];
    assert_eq!(u["_id"], user_id.as_str());
    assert_eq!(
        (u["name"].clone(), u["email"].clone(), u["role"].clone()),
        (json!("Bob Agent"), json!("bob@acme.test"), json!("agent"))
    );
    assert!(u["createdAt"].is_string());
}

#[tokio::test]
async fn only_subscribed_events_are_delivered_and_inactive_subscriptions_get_nothing() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let rx = receiver(0).await;
    let hook = id(&subscribe(&api, &rx.url, json!(["customer.created"]), json!({})).await);
    let rx_off = receiver(0).await;
    let off = id(&subscribe(&api, &rx_off.url, json!(["*"]), json!({})).await);
    ok(&api.patch(&format!("/api/v1/webhooks/{off}"), json!({"isActive": false})).await, 200);
    let inbox_id = inbox(&api).await;
    ok(&api.post("/api/v1/conversations", json!({"subject": "s", "inboxId": inbox_id})).await, 201);
    ok(&api.post("/api/v1/customers", json!({"firstName": "Only"})).await, 201);
    let got = rx.wait_for(1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["event"], "customer.created");
    // The delivery is logged as a success, with the event id of the payload.
    let entries = log_entries(&api, &hook, "?status=success", 1).await;
    assert_eq!(entries[0]["eventId"], got[0].json()["id"]);
    assert_eq!((entries[0]["event"].clone(), entries[0]["attempts"].clone()), (json!("customer.created"), json!(1)));
    assert_eq!(entries[0]["webhookId"], hook.as_str());
    assert_eq!(entries[0]["nextAttemptAt"], Value::Null);
    // Nothing more arrives: a later event behind it would have come by now.
    ok(&api.post("/api/v1/customers", json!({"firstName": "Second"})).await, 201);
    assert_eq!(rx.wait_for(2).await.len(), 2);
    assert!(rx_off.got.lock().unwrap().is_empty());
    assert!(rx.got.lock().unwrap().iter().all(|r| r.json()["event"] == "customer.created"));
}

#[tokio::test]
async fn the_test_endpoint_sends_a_signed_ping_that_shows_in_the_logs() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let rx = receiver(0).await;
    let created = subscribe(&api, &rx.url, json!(["conversation.created"]), json!({})).await;
    let (hook, secret) = (id(&created), created["secret"].as_str().unwrap().to_string());
    let r = api.post_empty(&format!("/api/v1/webhooks/{hook}/test")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["success"], true);
    assert_eq!(r.body["message"], "Test webhook event sent");
    let entry = &r.body["data"];
    assert_eq!((entry["status"].clone(), entry["event"].clone()), (json!("success"), json!("test.ping")));
    assert_eq!((entry["attempts"].clone(), entry["responseStatus"].clone()), (json!(1), json!(200)));
    let got = rx.wait_for(1).await;
    assert_eq!(got.len(), 1);
    verify(&got[0], &secret);
    let body = got[0].json();
    assert_eq!(body["event"], "test.ping");
    assert_eq!(body["data"]["test"], true);
    assert_eq!(body["data"]["webhookId"], hook.as_str());
    assert_eq!(body["id"], entry["eventId"]);

    let logged = log_entries(&api, &hook, "", 1).await;
    assert_eq!(logged[0]["_id"], entry["_id"]);
    log_entries(&api, &hook, "?status=success", 1).await;
    log_entries(&api, &hook, "?status=failed", 0).await;
    log_entries(&api, &hook, "?status=pending", 0).await;
    log_entries(&api, &hook, "?event=test.ping", 1).await;
    gt_error(
        &api.get(&format!("/api/v1/webhooks/{hook}/logs?status=succeeded")).await,
        400,
        "VALIDATION_ERROR",
        &["status"],
    );

    // A receiver that fails: the test answers all the same, the entry says failed.
    let down = receiver(usize::MAX).await;
    ok(&api.put(&format!("/api/v1/webhooks/{hook}"), json!({"url": down.url})).await, 200);
    let r = api.post_empty(&format!("/api/v1/webhooks/{hook}/test")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (r.body["data"]["status"].clone(), r.body["data"]["responseStatus"].clone()),
        (json!("failed"), json!(500))
    );
    assert!(r.body["data"]["error"].as_str().is_some_and(|e| e.contains("500")), "{}", r.text);
    log_entries(&api, &hook, "?status=failed", 1).await;
    log_entries(&api, &hook, "?status=success", 1).await;
    log_entries(&api, &hook, "", 2).await;
}

#[tokio::test]
async fn a_failed_delivery_is_retried_after_the_exponential_backoff_then_given_up() {
    let app = TestApp::spawn().await;
    let api = app.api();
    // Fails the first answer; maxRetries 1 = two attempts, 2 s apart (exponential).
    let rx = receiver(1).await;
    let hook = id(&subscribe(&api, &rx.url, json!(["customer.created"]), json!({"maxRetries": 1})).await);
    ok(&api.post("/api/v1/customers", json!({"firstName": "Retry"})).await, 201);
    let first = rx.wait_for(1).await;
    assert_eq!(first.len(), 1);
    let t1 = Instant::now();
    // Once the first attempt is recorded: pending, with the next attempt due.
    loop {
        let pending = log_entries(&api, &hook, "?status=pending", 1).await;
        if pending[0]["attempts"] == 1 {
            assert_eq!(pending[0]["responseStatus"], 500);
            assert!(pending[0]["nextAttemptAt"].is_string(), "{:?}", pending[0]);
            break;
        }
        assert!(t1.elapsed() < Duration::from_secs(10), "the first attempt is not recorded: {:?}", pending[0]);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = rx.wait_for(2).await;
    assert_eq!(got.len(), 2, "the retry arrives");
    // Not before the 2 s of the first exponential wait (measured from after the first attempt).
    assert!(t1.elapsed() >= Duration::from_millis(1500), "retried after {:?}", t1.elapsed());
    assert_eq!(got[0].body, got[1].body, "the same payload, the same event id");
    let done = log_entries(&api, &hook, "?status=success", 1).await;
    assert_eq!(done[0]["attempts"], 2);

    // maxRetries 0: one attempt only, then failed.
    let rx0 = receiver(1).await;
    let hook0 = id(&subscribe(
        &api,
        &rx0.url,
        json!(["customer.created"]),
        json!({"maxRetries": 0, "backoffStrategy": "linear"}),
    )
    .await);
    ok(&api.post("/api/v1/customers", json!({"firstName": "Once"})).await, 201);
    let failed = log_entries(&api, &hook0, "?status=failed", 1).await;
    assert_eq!((failed[0]["attempts"].clone(), failed[0]["responseStatus"].clone()), (json!(1), json!(500)));
    assert_eq!(rx0.got.lock().unwrap().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Store helpers

async fn admin_ctx(app: &TestApp) -> confab_core::model::Ctx {
    let hash = confab_api::auth::hash_key(&app.key);
    let p = app.store.principal_by_key_hash(&hash).await.unwrap().expect("the admin key resolves");
    confab_core::model::Ctx { tenant: p.tenant_id, actor: confab_core::model::Actor::user(p.user_id, p.user_name) }
}

fn page(page: u32, per_page: u32) -> confab_core::model::PageRequest {
    confab_core::model::PageRequest { page, per_page }
}

#[tokio::test]
async fn a_user_created_in_the_tenant_is_a_user_created_event_of_that_tenant_only() {
    let app = TestApp::spawn().await;
    let rx = receiver(0).await;
    let hook = subscribe(&app.api(), &rx.url, json!(["user.created"]), json!({})).await;
    let secret = hook["secret"].as_str().unwrap().to_string();
    // Another tenant's users are not this tenant's events.
    let globex = app.as_key(&app.new_key("globex", "Gina", "admin").await);
    globex.post("/v1/users", json!({"name": "Gus Globex"})).await.expect(201);
    let carla = app.api().post("/v1/users", json!({"name": "Carla", "role": "viewer"})).await;
    carla.expect(201);
    let got = wait_for_events(&rx, &["user.created"]).await;
    let mine: Vec<Value> =
        of(&got, "user.created").into_iter().filter(|u| u["data"]["_id"] == carla.id().as_str()).collect();
    assert_eq!(mine.len(), 1, "{mine:?}");
    verify(got.iter().find(|r| r.json()["data"]["name"] == "Carla").unwrap(), &secret);
    assert_eq!((mine[0]["data"]["name"].clone(), mine[0]["data"]["role"].clone()), (json!("Carla"), json!("viewer")));
    assert_eq!(mine[0]["data"]["email"], Value::Null);
    assert!(got.iter().all(|r| r.json()["data"]["name"] != "Gus Globex"));
}

#[tokio::test]
async fn every_webhook_route_is_in_the_openapi_document() {
    let app = TestApp::spawn().await;
    let doc = app.anonymous().get("/openapi.json").await;
    doc.expect(200);
    let paths = &doc.body["paths"];
    for (path, methods) in [
        ("/api/v1/webhooks", &["get", "post"][..]),
        ("/api/v1/webhooks/{id}", &["get", "put", "patch", "delete"][..]),
        ("/api/v1/webhooks/{id}/test", &["post"][..]),
        ("/api/v1/webhooks/{id}/logs", &["get"][..]),
    ] {
        for m in methods {
            let op = &paths[path][m];
            assert!(op.is_object(), "{m} {path} is not documented");
            assert_eq!(op["tags"], json!(["gtateth"]), "{m} {path}");
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{m} {path}");
        }
    }
}
