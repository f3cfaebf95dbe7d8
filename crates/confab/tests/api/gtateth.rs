//! The G-Tateth helpdesk face at /api/v1: envelopes, auth, errors, conversations, customers,
//! inboxes, the status/priority/channel mapping tables, and the same conversations seen from /v1.

use crate::support::{Api, Resp, TestApp};
use confab_core::model::EventType;
use reqwest::Method;
use serde_json::{json, Value};

/// Asserts a G-Tateth error: status, code, and the envelope's shape.
#[track_caller]
fn gt_error(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status, status, "body: {}", r.text);
    assert_eq!(r.body["success"], json!(false), "body: {}", r.text);
    assert_eq!(r.body["error"]["code"], json!(code), "body: {}", r.text);
    assert!(r.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", r.text);
    assert!(r.body["error"]["details"].is_object(), "{}", r.text);
    assert!(r.body["error"]["requestId"].as_str().is_some_and(|m| m.starts_with("req_")), "{}", r.text);
    let ts = r.body["error"]["timestamp"].as_str().unwrap_or("");
    assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "timestamp {ts:?}");
}

/// The fields an error's details name.
fn detail_fields(r: &Resp) -> Vec<String> {
    let mut v: Vec<String> =
        r.body["error"]["details"].as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
    v.sort();
    v
}

#[track_caller]
fn ok(r: &Resp, status: u16) -> Value {
    assert_eq!(r.status, status, "body: {}", r.text);
    assert_eq!(r.body["success"], json!(true), "body: {}", r.text);
    r.body["data"].clone()
}

async fn inbox(api: &Api, name: &str) -> String {
    let r = api.post("/api/v1/inboxes", json!({"name": name})).await;
    ok(&r, 201)["_id"].as_str().unwrap().to_string()
}

async fn conversation(api: &Api, inbox: &str, extra: Value) -> Value {
    let mut body = json!({"subject": "Printer on fire", "inboxId": inbox});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    ok(&api.post("/api/v1/conversations", body).await, 201)
}

fn id(v: &Value) -> String {
    v["_id"].as_str().unwrap_or_else(|| panic!("no _id in {v}")).to_string()
}

#[tokio::test]
async fn health_answers_ok_without_auth() {
    let app = TestApp::spawn().await;
    let r = app.anonymous().get("/api/v1/health").await;
    assert_eq!((r.status, r.body.clone()), (200, json!({"status": "ok"})), "{}", r.text);
    // With a key too.
    assert_eq!(app.api().get("/api/v1/health").await.body, json!({"status": "ok"}));
}

#[tokio::test]
async fn auth_bearer_and_x_api_key_work_missing_and_invalid_are_401() {
    let app = TestApp::spawn().await;
    ok(&app.api().get("/api/v1/conversations").await, 200);
    ok(&app.api().via_x_api_key().get("/api/v1/conversations").await, 200);
    gt_error(&app.anonymous().get("/api/v1/conversations").await, 401, "AUTH_REQUIRED");
    gt_error(&app.anonymous().post("/api/v1/customers", json!({"firstName": "A"})).await, 401, "AUTH_REQUIRED");
    gt_error(&app.as_key("cfb_nope").get("/api/v1/conversations").await, 401, "API_KEY_INVALID");
    gt_error(&app.as_key("cfb_nope").via_x_api_key().get("/api/v1/inboxes").await, 401, "API_KEY_INVALID");
    // The request id echoes the client's.
    let r = app.anonymous().with_header("X-Request-ID", "req_mine").get("/api/v1/customers").await;
    assert_eq!(r.body["error"]["requestId"], json!("req_mine"));
}

#[tokio::test]
async fn scopes_are_checked_per_resource_and_method() {
    let app = TestApp::spawn().await;
    let inbox_id = inbox(&app.api(), "Support").await;
    let reader = app.as_key(&app.new_key("acme", "Reader", "read:conversations").await);
    ok(&reader.get("/api/v1/conversations").await, 200);
    let r = reader.post("/api/v1/conversations", json!({"subject": "x", "inboxId": inbox_id})).await;
    gt_error(&r, 403, "INSUFFICIENT_PERMISSIONS");
    assert_eq!(r.body["error"]["details"]["requiredPermission"], json!("write:conversations"));
    gt_error(&reader.get("/api/v1/customers").await, 403, "INSUFFICIENT_PERMISSIONS");
    gt_error(&reader.get("/api/v1/inboxes").await, 403, "INSUFFICIENT_PERMISSIONS");

    let customers = app.as_key(&app.new_key("acme", "Cust", "read:customers,write:customers").await);
    ok(&customers.post("/api/v1/customers", json!({"firstName": "Ada"})).await, 201);
    ok(&customers.get("/api/v1/customers").await, 200);
    let r = customers.get("/api/v1/conversations").await;
    gt_error(&r, 403, "INSUFFICIENT_PERMISSIONS");
    assert_eq!(r.body["error"]["details"]["requiredPermission"], json!("read:conversations"));

    let inboxes = app.as_key(&app.new_key("acme", "Inb", "channels:read").await);
    ok(&inboxes.get("/api/v1/inboxes").await, 200);
    let r = inboxes.post("/api/v1/inboxes", json!({"name": "x"})).await;
    gt_error(&r, 403, "INSUFFICIENT_PERMISSIONS");
    assert_eq!(r.body["error"]["details"]["requiredPermission"], json!("write:inboxes"));

    let writer = app.as_key(&app.new_key("acme", "W", "write:conversations").await);
    ok(&writer.post("/api/v1/conversations", json!({"subject": "x", "inboxId": inbox_id})).await, 201);
    gt_error(&writer.get("/api/v1/conversations").await, 403, "INSUFFICIENT_PERMISSIONS");
}

#[tokio::test]
async fn unknown_routes_big_bodies_and_bad_json_are_errors_in_the_envelope() {
    let app = TestApp::spawn().await;
    let api = app.api();
    gt_error(&api.get("/api/v1/nothing-here").await, 404, "NOT_FOUND");
    let big = vec![b' '; 1024 * 1024 + 10];
    let r = api.send_raw(Method::POST, "/api/v1/customers", "application/json", big).await;
    gt_error(&r, 413, "PAYLOAD_TOO_LARGE");
    let r = api.send_raw(Method::POST, "/api/v1/customers", "application/json", b"{".to_vec()).await;
    gt_error(&r, 400, "VALIDATION_ERROR");
    assert_eq!(detail_fields(&r), ["body"]);
    let r = api.post("/api/v1/customers", json!({"firstName": "a\u{0}b"})).await;
    gt_error(&r, 400, "VALIDATION_ERROR");
    assert_eq!(detail_fields(&r), ["firstName"]);
    let r = api.post("/api/v1/customers", json!({"firstName": 5})).await;
    gt_error(&r, 400, "VALIDATION_ERROR");
    assert_eq!(detail_fields(&r), ["firstName"]);
}

// ------------------------------------------------------------------------------------------------
// Inboxes

#[tokio::test]
async fn inboxes_can_be_created_listed_read_updated_and_deleted() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let r = api.post("/api/v1/inboxes", json!({"name": "Billing", "description": "Money", "channel": "chat"})).await;
    let created = ok(&r, 201);
    assert_eq!(created["name"], "Billing");
    assert_eq!(created["description"], "Money");
    assert_eq!(created["channel"], "chat");
    assert_eq!(created["isActive"], true);
    assert!(created["createdAt"].as_str().unwrap().ends_with('Z'));
    let billing = id(&created);

    gt_error(&api.post("/api/v1/inboxes", json!({"name": "billing"})).await, 409, "INBOX_EXISTS");
    let r = api.post("/api/v1/inboxes", json!({})).await;
    gt_error(&r, 400, "VALIDATION_ERROR");
    assert_eq!(detail_fields(&r), ["name"]);
    let r = api.post("/api/v1/inboxes", json!({"name": "X", "channel": "pigeon"})).await;
    gt_error(&r, 400, "VALIDATION_ERROR");
    assert_eq!(detail_fields(&r), ["channel"]);
    let r = api.post("/api/v1/inboxes", json!({"name": "x".repeat(101)})).await;
    gt_error(&r, 400, "VALIDATION_ERROR");

    inbox(&api, "Sales").await;
    inbox(&api, "Returns").await;
    let r = api.get("/api/v1/inboxes?limit=2&page=2").await;
    let data = ok(&r, 200);
    assert_eq!(data.as_array().unwrap().len(), 1);
    assert_eq!(data[0]["name"], "Returns");
    assert_eq!(r.body["pagination"], json!({"total": 3, "page": 2, "limit": 2, "totalPages": 2}));
    gt_error(&api.get("/api/v1/inboxes?limit=101").await, 400, "VALIDATION_ERROR");

    assert_eq!(ok(&api.get(&format!("/api/v1/inboxes/{billing}")).await, 200)["name"], "Billing");
    let r = api
        .put(&format!("/api/v1/inboxes/{billing}"), json!({"name": "Invoices", "description": null, "isActive": false}))
        .await;
    let updated = ok(&r, 200);
    assert_eq!(
        (&updated["name"], &updated["description"], &updated["isActive"]),
        (&json!("Invoices"), &Value::Null, &json!(false))
    );
    assert_eq!(updated["channel"], "chat");
    gt_error(&api.put(&format!("/api/v1/inboxes/{billing}"), json!({"name": "SALES"})).await, 409, "INBOX_EXISTS");

    let unknown = uuid::Uuid::now_v7();
    gt_error(&api.get(&format!("/api/v1/inboxes/{unknown}")).await, 404, "NOT_FOUND");
    gt_error(&api.get("/api/v1/inboxes/not-an-id").await, 404, "NOT_FOUND");
    gt_error(&api.put(&format!("/api/v1/inboxes/{unknown}"), json!({"name": "Z"})).await, 404, "NOT_FOUND");
    gt_error(&api.delete(&format!("/api/v1/inboxes/{unknown}")).await, 404, "NOT_FOUND");

    // An inbox with conversations cannot be deleted; an empty one can.
    let conv = conversation(&api, &billing, json!({})).await;
    gt_error(&api.delete(&format!("/api/v1/inboxes/{billing}")).await, 409, "INBOX_NOT_EMPTY");
    api.send(Method::DELETE, &format!("/api/v1/conversations/{}", id(&conv)), None).await;
    let r = api.delete(&format!("/api/v1/inboxes/{billing}")).await;
    assert_eq!((r.status, r.body.clone()), (200, json!({"success": true, "message": "Inbox deleted"})), "{}", r.text);
    gt_error(&api.get(&format!("/api/v1/inboxes/{billing}")).await, 404, "NOT_FOUND");
}

#[tokio::test]
async fn inboxes_of_another_tenant_are_not_found() {
    let app = TestApp::spawn().await;
    let other = app.as_key(&app.new_key("globex", "Gus", "admin").await);
    let theirs = inbox(&other, "Theirs").await;
    gt_error(&app.api().get(&format!("/api/v1/inboxes/{theirs}")).await, 404, "NOT_FOUND");
    let r = app.api().post("/api/v1/conversations", json!({"subject": "s", "inboxId": theirs})).await;
    gt_error(&r, 404, "NOT_FOUND");
    assert_eq!(detail_fields(&r), ["inboxId"]);
    // Their conversations and customers are not found either, nor listed.
    let conv = conversation(&other, &theirs, json!({})).await;
    let cust = id(&ok(&other.post("/api/v1/customers", json!({"firstName": "Gus"})).await, 201));
    gt_error(&app.api().get(&format!("/api/v1/conversations/{}", id(&conv))).await, 404, "NOT_FOUND");
    gt_error(&app.api().get(&format!("/api/v1/customers/{cust}")).await, 404, "NOT_FOUND");
    let r = app
        .api()
        .post(
            "/api/v1/conversations",
            json!({"subject": "s", "inboxId": inbox(&app.api(), "Mine").await, "customerId": cust}),
        )
        .await;
    gt_error(&r, 404, "NOT_FOUND");
    assert_eq!(detail_fields(&r), ["customerId"]);
    assert_eq!(app.api().get("/api/v1/conversations").await.body["pagination"]["total"], 0);
    assert_eq!(app.api().get("/api/v1/inboxes").await.body["pagination"]["total"], 1);
}

// ------------------------------------------------------------------------------------------------
// Conversations

#[tokio::test]
async fn creating_a_conversation_applies_the_defaults_and_checks_references() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let support = inbox(&api, "Support").await;
    let c = conversation(&api, &support, json!({})).await;
    assert_eq!(c["subject"], "Printer on fire");
    assert_eq!(c["status"], "open");
    assert_eq!(c["priority"], "medium");
    assert_eq!(c["channel"], "email");
    assert_eq!(c["source"], "api");
    assert_eq!(c["inboxId"], json!(support));
    assert_eq!((&c["customerId"], &c["assignedTo"]), (&Value::Null, &Value::Null));
    assert_eq!(c["labels"], json!([]));
    assert!(chrono::DateTime::parse_from_rfc3339(c["createdAt"].as_str().unwrap()).is_ok());
    assert!(c["updatedAt"].is_string());

    let cust = ok(&api.post("/api/v1/customers", json!({"firstName": "Ada", "email": "ada@example.com"})).await, 201);
    let c = conversation(&api, &support, json!({"customerId": id(&cust), "channel": "whatsapp", "priority": "urgent"}))
        .await;
    assert_eq!((&c["channel"], &c["priority"]), (&json!("whatsapp"), &json!("urgent")));
    assert_eq!(c["customerId"], json!(id(&cust)));
    // Two conversations of one customer without a channel: the one-active rule does not apply.
    conversation(&api, &support, json!({"customerId": id(&cust)})).await;

    // An inbox's channel is the default.
    let chat = ok(&api.post("/api/v1/inboxes", json!({"name": "Chat", "channel": "chat"})).await, 201);
    assert_eq!(conversation(&api, &id(&chat), json!({})).await["channel"], "chat");
    assert_eq!(conversation(&api, &id(&chat), json!({"channel": "phone"})).await["channel"], "phone");
    assert_eq!(conversation(&api, &support, json!({"channel": "sms"})).await["channel"], "sms");

    let r = api.post("/api/v1/conversations", json!({})).await;
    gt_error(&r, 400, "VALIDATION_ERROR");
    assert_eq!(detail_fields(&r), ["inboxId", "subject"]);
    let r = api
        .post(
            "/api/v1/conversations",
            json!({"subject": " ", "inboxId": support, "priority": "normal", "channel": "fax"}),
        )
        .await;
    gt_error(&r, 400, "VALIDATION_ERROR");
    assert_eq!(detail_fields(&r), ["channel", "priority", "subject"]);
    let unknown = uuid::Uuid::now_v7().to_string();
    for (body, field) in [
        (json!({"subject": "s", "inboxId": unknown}), "inboxId"),
        (json!({"subject": "s", "inboxId": "zzz"}), "inboxId"),
        (json!({"subject": "s", "inboxId": support, "customerId": unknown}), "customerId"),
        (json!({"subject": "s", "inboxId": support, "customerId": "zzz"}), "customerId"),
    ] {
        let r = api.post("/api/v1/conversations", body).await;
        gt_error(&r, 404, "NOT_FOUND");
        assert_eq!(detail_fields(&r), [field]);
    }
}

#[tokio::test]
async fn get_populates_the_customer_and_the_assigned_user() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let support = inbox(&api, "Support").await;
    let cust = ok(
        &api.post(
            "/api/v1/customers",
            json!({"firstName": "Ada", "lastName": "Lovelace", "email": "ADA@example.com", "tier": "gold"}),
        )
        .await,
        201,
    );
    let user = api.post("/v1/users", json!({"name": "Bea Agent", "email": "bea@acme.test", "role": "agent"})).await;
    user.expect(201);
    let user_id = user.id();
    let c = conversation(&api, &support, json!({"customerId": id(&cust)})).await;
    let r = api.put(&format!("/api/v1/conversations/{}", id(&c)), json!({"assignedTo": user_id})).await;
    assert_eq!(ok(&r, 200)["assignedTo"], json!(user_id));

    let got = ok(&api.get(&format!("/api/v1/conversations/{}", id(&c))).await, 200);
    assert_eq!(got["customerId"]["_id"], json!(id(&cust)));
    assert_eq!(got["customerId"]["profile"]["firstName"], "Ada");
    assert_eq!(got["customerId"]["profile"]["email"], "ada@example.com");
    assert_eq!(got["customerId"]["tier"], "gold");
    assert_eq!(
        got["assignedTo"],
        json!({"_id": user_id, "name": "Bea Agent", "email": "bea@acme.test", "role": "agent"})
    );
    // The list shows ids.
    let list = ok(&api.get("/api/v1/conversations").await, 200);
    assert_eq!(list[0]["customerId"], json!(id(&cust)));
    assert_eq!(list[0]["assignedTo"], json!(user_id));

    gt_error(&api.get(&format!("/api/v1/conversations/{}", uuid::Uuid::now_v7())).await, 404, "NOT_FOUND");
    gt_error(&api.get("/api/v1/conversations/123").await, 404, "NOT_FOUND");
}

#[tokio::test]
async fn the_list_filters_and_paginates() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let a = inbox(&api, "A").await;
    let b = inbox(&api, "B").await;
    let cust = id(&ok(&api.post("/api/v1/customers", json!({"email": "c@example.com"})).await, 201));
    let user = api.post("/v1/users", json!({"name": "U", "role": "agent"})).await.id();
    let c1 = conversation(&api, &a, json!({"priority": "high"})).await;
    let c2 = conversation(&api, &a, json!({"customerId": cust})).await;
    let c3 = conversation(&api, &b, json!({"priority": "low"})).await;
    api.put(&format!("/api/v1/conversations/{}", id(&c3)), json!({"status": "closed", "assignedTo": user})).await;

    let ids = |r: &Resp| -> Vec<String> { r.body["data"].as_array().unwrap().iter().map(id).collect() };
    let r = api.get("/api/v1/conversations").await;
    assert_eq!(r.body["pagination"], json!({"total": 3, "page": 1, "limit": 50, "totalPages": 1}));
    assert_eq!(ids(&api.get(&format!("/api/v1/conversations?inboxId={a}")).await).len(), 2);
    assert_eq!(ids(&api.get(&format!("/api/v1/conversations?inboxId={b}")).await), [id(&c3)]);
    assert_eq!(ids(&api.get("/api/v1/conversations?priority=high").await), [id(&c1)]);
    assert_eq!(ids(&api.get("/api/v1/conversations?priority=medium").await), [id(&c2)]);
    assert_eq!(ids(&api.get(&format!("/api/v1/conversations?customerId={cust}")).await), [id(&c2)]);
    assert_eq!(ids(&api.get(&format!("/api/v1/conversations?assignedTo={user}")).await), [id(&c3)]);
    assert_eq!(ids(&api.get("/api/v1/conversations?status=closed").await), [id(&c3)]);
    assert_eq!(ids(&api.get(&format!("/api/v1/conversations?status=open&inboxId={a}&priority=high")).await), [id(&c1)]);
    assert!(ids(&api.get(&format!("/api/v1/conversations?inboxId={}", uuid::Uuid::now_v7())).await).is_empty());

    let r = api.get("/api/v1/conversations?limit=2&page=2").await;
    assert_eq!(ids(&r).len(), 1);
    assert_eq!(r.body["pagination"], json!({"total": 3, "page": 2, "limit": 2, "totalPages": 2}));
    for bad in [
        "limit=101",
        "limit=0",
        "page=0",
        "status=snoozed",
        "priority=normal",
        "inboxId=x",
        "assignedTo=x",
        "customerId=x",
    ] {
        let r = api.get(&format!("/api/v1/conversations?{bad}")).await;
        gt_error(&r, 400, "VALIDATION_ERROR");
        assert_eq!(detail_fields(&r), [bad.split('=').next().unwrap()], "{bad}");
    }
}

#[tokio::test]
async fn put_updates_subject_status_priority_and_assignment() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let support = inbox(&api, "Support").await;
    let c = conversation(&api, &support, json!({})).await;
    let path = format!("/api/v1/conversations/{}", id(&c));
    let user = api.post("/v1/users", json!({"name": "U", "role": "agent"})).await.id();

    let u = ok(&api.put(&path, json!({"subject": "New subject", "priority": "urgent", "assignedTo": user})).await, 200);
    assert_eq!(
        (&u["subject"], &u["priority"], &u["assignedTo"]),
        (&json!("New subject"), &json!("urgent"), &json!(user))
    );
    let u = ok(&api.put(&path, json!({"assignedTo": null})).await, 200);
    assert_eq!(u["assignedTo"], Value::Null);
    assert_eq!(u["subject"], "New subject");

    // closed is the core close, open again the core reopen.
    let u = ok(&api.put(&path, json!({"status": "closed"})).await, 200);
    assert_eq!(u["status"], "closed");
    let v1 = app.api().get(&format!("/v1/conversations/{}", id(&c))).await;
    assert_eq!(v1.attrs()["status"], "closed");
    assert!(v1.attrs()["closedAt"].is_string(), "{}", v1.text);
    ok(&api.put(&path, json!({"status": "closed"})).await, 200);
    let u = ok(&api.put(&path, json!({"status": "open"})).await, 200);
    assert_eq!(u["status"], "open");
    assert!(app.api().get(&format!("/v1/conversations/{}", id(&c))).await.attrs()["reopenedAt"].is_string());

    let r = api.put(&path, json!({"status": "snoozed", "priority": "normal", "subject": ""})).await;
    gt_error(&r, 400, "VALIDATION_ERROR");
    assert_eq!(detail_fields(&r), ["priority", "status", "subject"]);
    for assignee in [uuid::Uuid::now_v7().to_string(), "nobody".to_string()] {
        let r = api.put(&path, json!({"assignedTo": assignee, "subject": "unchanged?"})).await;
        gt_error(&r, 404, "NOT_FOUND");
        assert_eq!(detail_fields(&r), ["assignedTo"]);
    }
    assert_eq!(ok(&api.get(&path).await, 200)["subject"], "New subject", "nothing changed on a 404");
    gt_error(
        &api.put(&format!("/api/v1/conversations/{}", uuid::Uuid::now_v7()), json!({"subject": "x"})).await,
        404,
        "NOT_FOUND",
    );
}

#[tokio::test]
async fn delete_removes_the_conversation_and_records_the_reason() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let support = inbox(&api, "Support").await;
    let c = conversation(&api, &support, json!({})).await;
    let path = format!("/api/v1/conversations/{}", id(&c));
    let r = api.send(Method::DELETE, &path, Some(json!({"reason": "spam"}))).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, json!({"success": true, "message": "Conversation deleted"})),
        "{}",
        r.text
    );
    gt_error(&api.get(&path).await, 404, "NOT_FOUND");
    gt_error(&api.delete(&path).await, 404, "NOT_FOUND");
    app.api().get(&format!("/v1/conversations/{}", id(&c))).await.expect(404);

    // Without a body it works too.
    let c2 = conversation(&api, &support, json!({})).await;
    let r = api.delete(&format!("/api/v1/conversations/{}", id(&c2))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api.send(Method::DELETE, &path, Some(json!({"reason": 5}))).await;
    gt_error(&r, 400, "VALIDATION_ERROR");

    let principal = app.store.principal_by_key_hash(&confab_api::auth::hash_key(&app.key)).await.unwrap().unwrap();
    // Positions are given in commit order (on PostgreSQL by a relay behind a watermark): wait for them.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let deleted = loop {
        app.store.assign_event_positions().await.unwrap();
        let events = app.store.events_after(principal.tenant_id, 0, 10_000).await.unwrap();
        let deleted: Vec<_> = events.into_iter().filter(|e| e.event_type == EventType::ConversationDeleted).collect();
        if deleted.len() >= 2 || std::time::Instant::now() > deadline {
            break deleted;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(deleted.len(), 2);
    assert_eq!(deleted[0].subject_id.to_string(), id(&c));
    assert_eq!(deleted[0].data["reason"], "spam", "{:?}", deleted[0].data);
}

#[tokio::test]
async fn idempotency_keys_replay_creates_in_this_face() {
    let app = TestApp::spawn().await;
    let api = app.api().with_header("Idempotency-Key", "inbox-1");
    let first = api.post("/api/v1/inboxes", json!({"name": "Once"})).await;
    let again = api.post("/api/v1/inboxes", json!({"name": "Once"})).await;
    assert_eq!((first.status, again.status), (201, 201));
    assert_eq!(first.body, again.body);
    assert_eq!(again.headers["idempotency-replayed"], "true");
    gt_error(&api.post("/api/v1/inboxes", json!({"name": "Other"})).await, 422, "IDEMPOTENCY_KEY_REUSED");
    let r = app.api().with_header("Idempotency-Key", "").post("/api/v1/inboxes", json!({"name": "E"})).await;
    gt_error(&r, 400, "VALIDATION_ERROR");
}

// ------------------------------------------------------------------------------------------------
// Mapping tables, across faces

/// Every row of the priority table, both ways: G-Tateth writes → /v1 reads, /v1 writes → G-Tateth reads.
#[tokio::test]
async fn every_priority_row_maps_both_ways() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let support = inbox(&api, "Support").await;
    for (core, gt) in [("low", "low"), ("normal", "medium"), ("high", "high"), ("urgent", "urgent")] {
        let c = conversation(&api, &support, json!({"priority": gt})).await;
        assert_eq!(c["priority"], gt);
        let v1 = app.api().get(&format!("/v1/conversations/{}", id(&c))).await;
        assert_eq!(v1.attrs()["priority"], core, "{gt}");
        let other = conversation(&api, &support, json!({})).await;
        app.api().patch(&format!("/v1/conversations/{}", id(&other)), json!({"priority": core})).await.expect(200);
        assert_eq!(ok(&api.get(&format!("/api/v1/conversations/{}", id(&other))).await, 200)["priority"], gt, "{core}");
        // And PUT writes it.
        let u = ok(&api.put(&format!("/api/v1/conversations/{}", id(&other)), json!({"priority": gt})).await, 200);
        assert_eq!(u["priority"], gt);
        assert_eq!(app.api().get(&format!("/v1/conversations/{}", id(&other))).await.attrs()["priority"], core);
    }
}

/// Every row of the status table: the core's four statuses read through G-Tateth, and G-Tateth's
/// three written and read through /v1 (a snoozed conversation reads `pending`, and `pending` keeps
/// the snooze).
#[tokio::test]
async fn every_status_row_maps_both_ways() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let support = inbox(&api, "Support").await;
    let until = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let c = conversation(&api, &support, json!({})).await;
    let gt_path = format!("/api/v1/conversations/{}", id(&c));
    let v1_path = format!("/v1/conversations/{}", id(&c));
    let gt_status = |r: Resp| r.body["data"]["status"].as_str().unwrap_or_default().to_string();
    for (core, gt) in [("pending", "pending"), ("open", "open"), ("closed", "closed")] {
        app.api().patch(&v1_path, json!({"status": core})).await.expect(200);
        assert_eq!(gt_status(api.get(&gt_path).await), gt, "core {core}");
    }
    app.api().post(&format!("{v1_path}/reopen"), json!({})).await.expect(200);
    app.api().post(&format!("{v1_path}/snooze"), json!({"until": until})).await.expect(200);
    assert_eq!(gt_status(api.get(&gt_path).await), "pending", "core snoozed");
    let r = api.get("/api/v1/conversations?status=pending").await;
    assert_eq!(r.body["data"].as_array().unwrap().iter().map(id).collect::<Vec<_>>(), [id(&c)]);
    assert!(api.get("/api/v1/conversations?status=open").await.body["data"].as_array().unwrap().is_empty());
    // pending on a snoozed conversation keeps the snooze.
    ok(&api.put(&gt_path, json!({"status": "pending"})).await, 200);
    assert_eq!(app.api().get(&v1_path).await.attrs()["status"], "snoozed");

    for (gt, core) in [("open", "open"), ("pending", "pending"), ("closed", "closed"), ("pending", "pending")] {
        let u = ok(&api.put(&gt_path, json!({"status": gt})).await, 200);
        assert_eq!(u["status"], gt);
        assert_eq!(app.api().get(&v1_path).await.attrs()["status"], core, "G-Tateth {gt}");
    }
}

#[tokio::test]
async fn a_conversation_created_here_is_the_same_conversation_in_v1() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let support = inbox(&api, "Support").await;
    let cust = ok(&api.post("/api/v1/customers", json!({"firstName": "Ada", "phone": "+5511999990000"})).await, 201);
    let c = conversation(&api, &support, json!({"customerId": id(&cust), "channel": "chat"})).await;
    let v1 = app.api().get(&format!("/v1/conversations/{}", id(&c))).await;
    v1.expect(200);
    assert_eq!(v1.id(), id(&c));
    assert_eq!(v1.attrs()["priority"], "normal");
    assert_eq!(v1.attrs()["status"], "open");
    assert_eq!(v1.attrs()["subject"], "Printer on fire");
    assert_eq!(v1.attrs()["channel"], Value::Null, "no Confab channel: {}", v1.text);
    // The customer is the /v1 contact.
    let contact = app.api().get(&format!("/v1/contacts/{}", id(&cust))).await;
    contact.expect(200);
    assert_eq!(contact.attrs()["phone"], "+5511999990000");
    // Airy shows it too, without a channel.
    let airy = app.api().post("/conversations.info", json!({"conversation_id": id(&c)})).await;
    airy.expect(200);
    assert_eq!(airy.body["channel"], Value::Null, "{}", airy.text);
    // A bot assigned through /v1 is populated with the role `bot`.
    let bot = app.api().post("/v1/bots", json!({"name": "Helper", "provider": "openai", "model": "m"})).await;
    let bot = bot.expect(201).id();
    app.api()
        .post(&format!("/v1/conversations/{}/assign", id(&c)), json!({"assigneeId": bot, "assigneeType": "bot"}))
        .await
        .expect(200);
    let got = ok(&api.get(&format!("/api/v1/conversations/{}", id(&c))).await, 200);
    assert_eq!(got["assignedTo"], json!({"_id": bot, "name": "Helper", "email": null, "role": "bot"}));
    // Tags added through /v1 are G-Tateth labels.
    app.api().post(&format!("/v1/conversations/{}/tags", id(&c)), json!({"tags": ["vip"]})).await.expect(200);
    assert_eq!(ok(&api.get(&format!("/api/v1/conversations/{}", id(&c))).await, 200)["labels"], json!(["vip"]));
}

// ------------------------------------------------------------------------------------------------
// Customers

#[tokio::test]
async fn customers_can_be_created_read_updated_and_deleted() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let r = api
        .post(
            "/api/v1/customers",
            json!({"firstName": "Ada", "lastName": "Lovelace", "email": "Ada@Example.com", "phone": "+44 20 7946 0000",
                   "company": "Engines", "jobTitle": "Analyst", "tier": "platinum", "tags": ["vip", "vip", "math"],
                   "customFields": {"plan": "pro"}}),
        )
        .await;
    let c = ok(&r, 201);
    assert_eq!(
        c["profile"],
        json!({"firstName": "Ada", "lastName": "Lovelace", "name": "Ada Lovelace", "email": "ada@example.com",
               "phone": "+442079460000", "company": "Engines", "jobTitle": "Analyst"})
    );
    assert_eq!((&c["tier"], &c["status"], &c["tags"]), (&json!("platinum"), &json!("active"), &json!(["vip", "math"])));
    assert_eq!(c["customFields"], json!({"plan": "pro"}));
    assert!(c["createdAt"].is_string() && c["updatedAt"].is_string());
    let path = format!("/api/v1/customers/{}", id(&c));
    assert_eq!(ok(&api.get(&path).await, 200)["_id"], c["_id"]);

    let r = api.post("/api/v1/customers", json!({"email": "ada@example.com"})).await;
    gt_error(&r, 409, "CUSTOMER_EXISTS");
    assert_eq!(detail_fields(&r), ["email"]);
    gt_error(&api.post("/api/v1/customers", json!({"phone": "+442079460000"})).await, 409, "CUSTOMER_EXISTS");
    let r = api.post("/api/v1/customers", json!({"company": "Nobody Inc"})).await;
    gt_error(&r, 400, "VALIDATION_ERROR");
    assert_eq!(detail_fields(&r), ["email", "firstName", "lastName", "phone"]);
    let r = api
        .post(
            "/api/v1/customers",
            json!({"firstName": "B", "tier": "standard", "status": "gone", "email": "x", "phone": "12"}),
        )
        .await;
    gt_error(&r, 400, "VALIDATION_ERROR");
    assert_eq!(detail_fields(&r), ["email", "phone", "status", "tier"]);

    let u = ok(
        &api.put(&path, json!({"lastName": null, "tier": "silver", "status": "inactive", "tags": ["x"], "customFields": {"plan": null, "seats": 3}}))
            .await,
        200,
    );
    assert_eq!(u["profile"]["lastName"], Value::Null);
    assert_eq!(u["profile"]["firstName"], "Ada");
    assert_eq!((&u["tier"], &u["status"], &u["tags"]), (&json!("silver"), &json!("inactive"), &json!(["x"])));
    assert_eq!(u["customFields"], json!({"seats": 3}));
    let r = api.put(&path, json!({"tier": "bronze-ish"})).await;
    gt_error(&r, 400, "VALIDATION_ERROR");
    assert_eq!(detail_fields(&r), ["tier"]);
    let other = id(&ok(&api.post("/api/v1/customers", json!({"email": "b@example.com"})).await, 201));
    gt_error(
        &api.put(&format!("/api/v1/customers/{other}"), json!({"email": "ADA@example.com"})).await,
        409,
        "CUSTOMER_EXISTS",
    );

    let r = api.delete(&path).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, json!({"success": true, "message": "Customer deleted"})),
        "{}",
        r.text
    );
    let r = api.get(&path).await;
    gt_error(&r, 404, "NOT_FOUND");
    assert!(!r.body["error"]["message"].as_str().unwrap().contains("ontact"), "{}", r.text);
    gt_error(&api.get("/api/v1/customers/zzz").await, 404, "NOT_FOUND");
    gt_error(&api.put("/api/v1/customers/zzz", json!({})).await, 404, "NOT_FOUND");
    gt_error(&api.delete(&path).await, 404, "NOT_FOUND");
}

#[tokio::test]
async fn the_customer_list_searches_and_filters() {
    let app = TestApp::spawn().await;
    let api = app.api();
    for body in [
        json!({"firstName": "Ada", "lastName": "Lovelace", "tier": "gold", "tags": ["vip", "math"]}),
        json!({"firstName": "Grace", "lastName": "Hopper", "tier": "gold", "status": "archived", "tags": ["vip"]}),
        json!({"firstName": "Alan", "email": "alan@example.com", "tier": "bronze"}),
    ] {
        ok(&api.post("/api/v1/customers", body).await, 201);
    }
    let names = |r: Resp| -> Vec<String> {
        let mut v: Vec<String> = r.body["data"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", r.text))
            .iter()
            .map(|c| c["profile"]["firstName"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(api.get("/api/v1/customers").await), ["Ada", "Alan", "Grace"]);
    assert_eq!(names(api.get("/api/v1/customers?search=hopper").await), ["Grace"]);
    assert_eq!(names(api.get("/api/v1/customers?search=alan@example").await), ["Alan"]);
    assert_eq!(names(api.get("/api/v1/customers?tier=gold").await), ["Ada", "Grace"]);
    assert_eq!(names(api.get("/api/v1/customers?status=archived").await), ["Grace"]);
    assert_eq!(names(api.get("/api/v1/customers?status=active").await), ["Ada", "Alan"]);
    assert_eq!(names(api.get("/api/v1/customers?tags=vip,math").await), ["Ada"]);
    assert_eq!(names(api.get("/api/v1/customers?tags[]=vip").await), ["Ada", "Grace"]);
    let r = api.get("/api/v1/customers?limit=2").await;
    assert_eq!(r.body["pagination"], json!({"total": 3, "page": 1, "limit": 2, "totalPages": 2}));
    let r = api.get("/api/v1/customers").await;
    assert_eq!(r.body["pagination"]["limit"], 20);
    for bad in ["tier=standard", "status=deleted", "limit=101", "page=x"] {
        let r = api.get(&format!("/api/v1/customers?{bad}")).await;
        gt_error(&r, 400, "VALIDATION_ERROR");
        assert_eq!(detail_fields(&r), [bad.split('=').next().unwrap()]);
    }
}
