//! The Protocol face at `/protocol/v1` (seed 002, `reference/linktor-protocol-gtateth.md` §2,
//! DESIGN.md "Faces → Protocol"): auth (Bearer, Basic), error bodies, JSON / form / multipart
//! bodies, conversations, contacts, messages, groups, attachments, cursors, filters, per-user
//! `last_opened_at`, and the same conversations seen through /v1.

use crate::support::{Api, Resp, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const P: &str = "/protocol/v1";

fn path(rest: &str) -> String {
    format!("{P}{rest}")
}

/// Asserts a Protocol error: the status, `type`, the documentation URL, and (when given) a word the
/// message must name.
#[track_caller]
fn error(r: &Resp, status: u16, names: &str) {
    assert_eq!(r.status, status, "body: {}", r.text);
    let kind = if status >= 500 { "api_error" } else { "invalid_request" };
    assert_eq!(r.body["type"], kind, "body: {}", r.text);
    assert_eq!(r.body["documentation_url"], format!("https://protocol.chat/docs/errors/{kind}"));
    let keys: BTreeSet<&str> = r.body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, BTreeSet::from(["type", "message", "documentation_url"]), "body: {}", r.text);
    assert!(r.body["message"].as_str().unwrap().contains(names), "{names:?} not named in {}", r.text);
}

/// A form-encoded request.
async fn form(api: &Api, method: Method, at: &str, body: &str) -> Resp {
    api.send_raw(method, &path(at), "application/x-www-form-urlencoded", body.as_bytes().to_vec()).await
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

async fn contact(app: &TestApp, username: &str, phone: &str) -> String {
    let r = app.api().post(&path("/contacts"), json!({"username": username, "phone_number": phone})).await;
    r.expect(201);
    r.body["id"].as_str().unwrap().to_string()
}

async fn conversation_with(app: &TestApp, contact: &str) -> String {
    let r = app.api().post(&path("/conversations"), json!({"contact_id": contact})).await;
    r.expect(201);
    r.body["id"].as_str().unwrap().to_string()
}

/// A new contact and its conversation.
async fn chat(app: &TestApp, n: u32) -> (String, String) {
    let c = contact(app, &format!("user{n}"), &format!("+1555000{n:04}")).await;
    let conv = conversation_with(app, &c).await;
    (c, conv)
}

async fn send(app: &TestApp, conversation: &str, text: &str) -> Value {
    let r = app.api().post(&path("/messages"), json!({"conversation_id": conversation, "message": text})).await;
    r.expect(201);
    r.body.clone()
}

fn ids(r: &Resp) -> Vec<String> {
    r.body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data in {}", r.text))
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect()
}

fn multipart(filename: &str, content_type: &str, data: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----confabtestboundary";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nignored\r\n").as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(app: &TestApp, filename: &str, data: &[u8]) -> Resp {
    let (ct, body) = multipart(filename, "text/plain", data);
    app.api().send_raw(Method::POST, &path("/attachments"), &ct, body).await
}

// ---------------------------------------------------------------------------------------------
// Auth and errors

#[tokio::test]
async fn bearer_and_basic_with_the_key_as_password_authenticate() {
    let app = TestApp::spawn().await;
    app.api().get(&path("/conversations")).await.expect(200);
    let basic = base64(format!("anyone:{}", app.key).as_bytes());
    app.anonymous().with_header("Authorization", &format!("Basic {basic}")).get(&path("/contacts")).await.expect(200);
    let empty_user = base64(format!(":{}", app.key).as_bytes());
    app.anonymous()
        .with_header("Authorization", &format!("Basic {empty_user}"))
        .get(&path("/groups"))
        .await
        .expect(200);
}

#[tokio::test]
async fn missing_or_invalid_credentials_are_401_invalid_request() {
    let app = TestApp::spawn().await;
    error(&app.anonymous().get(&path("/conversations")).await, 401, "Bearer");
    error(&app.as_key("cfb_nope").get(&path("/conversations")).await, 401, "not valid");
    let wrong = base64(format!("{}:wrong", app.key).as_bytes());
    error(
        &app.anonymous().with_header("Authorization", &format!("Basic {wrong}")).get(&path("/contacts")).await,
        401,
        "",
    );
    error(&app.anonymous().with_header("Authorization", "Basic %%%").get(&path("/contacts")).await, 401, "");
    // The X-API-Key header of other faces is not Protocol's.
    error(&app.api().via_x_api_key().get(&path("/contacts")).await, 401, "");
}

#[tokio::test]
async fn scopes_are_checked_per_resource_and_access() {
    let app = TestApp::spawn().await;
    let (c, conv) = chat(&app, 1).await;
    let reader = app.as_key(&app.new_key("acme", "Rita Reader", "conversations:read").await);
    reader.get(&path("/conversations")).await.expect(200);
    reader.get(&path(&format!("/conversations/{conv}"))).await.expect(200);
    error(&reader.post(&path("/conversations"), json!({"contact_id": c})).await, 403, "conversations:write");
    error(&reader.put(&path(&format!("/conversations/{conv}")), json!({"is_muted": true})).await, 403, "");
    error(&reader.delete(&path(&format!("/conversations/{conv}"))).await, 403, "");
    error(&reader.get(&path("/contacts")).await, 403, "contacts:read");
    error(&reader.get(&path("/groups")).await, 403, "contacts:read");
    error(&reader.get(&path("/messages")).await, 403, "messages:read");
    error(&reader.get(&path("/attachments")).await, 403, "messages:read");
    let contacts = app.as_key(&app.new_key("acme", "Cora", "contacts:read,contacts:write").await);
    contacts.get(&path("/contacts")).await.expect(200);
    contacts.post(&path("/groups"), json!({"name": "G"})).await.expect(201);
    error(&contacts.get(&path("/conversations")).await, 403, "");
    let messages = app.as_key(&app.new_key("acme", "Mo", "messages:write").await);
    messages.post(&path("/messages"), json!({"conversation_id": conv, "message": "hi"})).await.expect(201);
    error(&messages.post(&path("/contacts"), json!({"username": "x", "phone_number": "+15550009999"})).await, 403, "");
}

#[tokio::test]
async fn unknown_routes_bad_json_and_unparsable_ids_have_the_error_shape() {
    let app = TestApp::spawn().await;
    error(&app.api().get(&path("/nope")).await, 404, "");
    error(&app.api().get(&path("/conversations/not-a-uuid")).await, 404, "");
    error(&app.api().get(&path(&format!("/conversations/{}", uuid::Uuid::now_v7()))).await, 404, "onversation");
    let r = app.api().send_raw(Method::POST, &path("/conversations"), "application/json", b"{".to_vec()).await;
    error(&r, 400, "body");
    let r = app.api().send_raw(Method::POST, &path("/conversations"), "application/json", b"[1]".to_vec()).await;
    error(&r, 400, "body");
    error(&form(&app.api(), Method::POST, "/conversations", "contact_id=1&contact_id[x]=2").await, 400, "contact_id");
    let big = format!("{{\"x\":\"{}\"}}", "a".repeat(1024 * 1024 + 10));
    error(&app.api().send_raw(Method::POST, &path("/contacts"), "application/json", big.into_bytes()).await, 413, "");
}

// ---------------------------------------------------------------------------------------------
// Conversations

#[tokio::test]
async fn creating_a_conversation_is_201_then_200_with_the_same_one() {
    let app = TestApp::spawn().await;
    let c = contact(&app, "kate", "+15550001111").await;
    let r = form(&app.api(), Method::POST, "/conversations", &format!("contact_id={c}")).await;
    r.expect(201);
    let keys: BTreeSet<&str> = r.body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "id",
            "contact_id",
            "group_id",
            "pinned_message_id",
            "is_pinned",
            "is_muted",
            "last_active_at",
            "last_opened_at",
            "created_at",
            "archived_at"
        ])
    );
    assert_eq!(r.body["contact_id"], c.as_str());
    assert_eq!(r.body["group_id"], Value::Null);
    assert_eq!(r.body["last_active_at"], Value::Null);
    assert_eq!(r.body["last_opened_at"], Value::Null);
    assert_eq!((r.body["is_pinned"].clone(), r.body["is_muted"].clone()), (json!(false), json!(false)));
    let created = r.body["created_at"].as_i64().expect("unix seconds");
    assert!((created - chrono::Utc::now().timestamp()).abs() < 60);
    let again = app.api().post(&path("/conversations"), json!({"contact_id": c})).await;
    again.expect(200);
    assert_eq!(again.body["id"], r.body["id"]);
    // The contact now shows its conversation.
    let shown = app.api().get(&path(&format!("/contacts/{c}"))).await;
    assert_eq!(shown.body["conversation_id"], r.body["id"]);
}

#[tokio::test]
async fn create_needs_one_known_contact_or_group_naming_the_field() {
    let app = TestApp::spawn().await;
    let c = contact(&app, "kate", "+15550001111").await;
    let unknown = uuid::Uuid::now_v7().to_string();
    error(&app.api().post(&path("/conversations"), json!({"contact_id": unknown})).await, 404, "contact_id");
    error(&app.api().post(&path("/conversations"), json!({"contact_id": "xgQQXg3hrtjh7AvZ"})).await, 404, "contact_id");
    error(&app.api().post(&path("/conversations"), json!({"group_id": unknown})).await, 404, "group_id");
    error(&app.api().post(&path("/conversations"), json!({})).await, 400, "contact_id");
    error(
        &app.api().post(&path("/conversations"), json!({"contact_id": c, "group_id": unknown})).await,
        400,
        "group_id",
    );
    error(&app.api().post(&path("/conversations"), json!({"contact_id": true})).await, 400, "contact_id");
    // Another tenant's contact does not exist here.
    let other = app.as_key(&app.new_key("globex", "Gus", "admin").await);
    error(&other.post(&path("/conversations"), json!({"contact_id": c})).await, 404, "contact_id");
}

#[tokio::test]
async fn a_channel_conversation_of_the_contact_does_not_count_as_its_protocol_conversation() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let r = app
        .api()
        .post(
            &format!("/v1/channels/{channel}/inbound"),
            json!({"sender": {"phone": "+15550002222", "name": "Ann"}, "content": {"type": "text", "text": "hi"}}),
        )
        .await;
    r.expect(201);
    let on_channel = r.attrs()["conversationId"].as_str().unwrap().to_string();
    let list = app.api().get(&path("/contacts")).await;
    let ann = &list.body["data"][0];
    assert_eq!(ann["phone_number"], "+15550002222");
    assert_eq!(ann["conversation_id"], Value::Null, "no Protocol conversation yet");
    assert!(ann["last_active_at"].as_i64().is_some(), "its channel conversation has a message");
    let mine = app.api().post(&path("/conversations"), json!({"contact_id": ann["id"]})).await;
    mine.expect(201);
    assert_ne!(mine.body["id"], on_channel.as_str());
    // Both are listed (every conversation of the tenant).
    let all = ids(&app.api().get(&path("/conversations")).await);
    assert_eq!(all, vec![mine.body["id"].as_str().unwrap().to_string(), on_channel.clone()]);
    // The inbound message shows its contact.
    let msgs = app.api().get(&path(&format!("/messages?conversation_id={on_channel}"))).await;
    msgs.expect(200);
    let m = &msgs.body["data"][0];
    assert_eq!(m["message"], "hi");
    assert_eq!(m["contact"]["id"], ann["id"]);
    assert_eq!(m["contact"]["phone_number"], "+15550002222");
    assert!(m["contact"].get("display_name").is_none() && m["contact"].get("conversation_id").is_none());
    // Replying on the channel is a send like /v1's: refused while the channel is inactive.
    send(&app, &on_channel, "reply").await;
    app.api().post_empty(&format!("/v1/channels/{channel}/deactivate")).await.expect(200);
    let r = app.api().post(&path("/messages"), json!({"conversation_id": on_channel, "message": "x"})).await;
    error(&r, 400, "inactive");
}

#[tokio::test]
async fn put_is_a_partial_update_in_json_and_form() {
    let app = TestApp::spawn().await;
    let (_, conv) = chat(&app, 1).await;
    let (_, other) = chat(&app, 2).await;
    let at = path(&format!("/conversations/{conv}"));
    let r = form(
        &app.api(),
        Method::PUT,
        &format!("/conversations/{conv}"),
        "is_pinned=true&is_muted=true&archived_at=1700000000&status=closed",
    )
    .await;
    r.expect(200);
    assert_eq!((r.body["is_pinned"].clone(), r.body["is_muted"].clone()), (json!(true), json!(true)));
    assert_eq!(r.body["archived_at"], 1_700_000_000);
    // Only what is given changes.
    let r = app.api().put(&at, json!({"is_muted": false})).await;
    r.expect(200);
    assert_eq!((r.body["is_pinned"].clone(), r.body["is_muted"].clone()), (json!(true), json!(false)));
    assert_eq!(r.body["archived_at"], 1_700_000_000);
    // Protocol has no status: the conversation stays open in /v1.
    let v1 = app.api().get(&format!("/v1/conversations/{conv}")).await;
    assert_eq!(v1.attrs()["status"], "open");
    // Pinning a message: of this conversation only.
    let m = send(&app, &conv, "pin me").await;
    let foreign = send(&app, &other, "not here").await;
    error(&app.api().put(&at, json!({"pinned_message_id": foreign["id"]})).await, 404, "pinned_message_id");
    error(&app.api().put(&at, json!({"pinned_message_id": uuid::Uuid::now_v7()})).await, 404, "pinned_message_id");
    error(&app.api().put(&at, json!({"pinned_message_id": "nope"})).await, 404, "pinned_message_id");
    let r = app.api().put(&at, json!({"pinned_message_id": m["id"]})).await;
    r.expect(200);
    assert_eq!(r.body["pinned_message_id"], m["id"]);
    assert!(r.body["last_active_at"].as_i64().is_some());
    // Empty form values and JSON null clear.
    let r = form(&app.api(), Method::PUT, &format!("/conversations/{conv}"), "pinned_message_id=&archived_at=").await;
    r.expect(200);
    assert_eq!((r.body["pinned_message_id"].clone(), r.body["archived_at"].clone()), (Value::Null, Value::Null));
    app.api().put(&at, json!({"archived_at": 1_700_000_000})).await.expect(200);
    let r = app.api().put(&at, json!({"archived_at": null})).await;
    assert_eq!(r.body["archived_at"], Value::Null);
    // Invalid values are 400 naming the field.
    error(&app.api().put(&at, json!({"is_muted": "maybe"})).await, 400, "is_muted");
    error(
        &form(&app.api(), Method::PUT, &format!("/conversations/{conv}"), "archived_at=yesterday").await,
        400,
        "archived_at",
    );
    error(&app.api().put(&path(&format!("/conversations/{}", uuid::Uuid::now_v7())), json!({})).await, 404, "");
}

#[tokio::test]
async fn boolean_filters_absent_true_false_and_group_id() {
    let app = TestApp::spawn().await;
    let (_, a) = chat(&app, 1).await;
    let (_, b) = chat(&app, 2).await;
    let (_, c) = chat(&app, 3).await;
    app.api()
        .put(&path(&format!("/conversations/{a}")), json!({"is_muted": true, "is_pinned": true}))
        .await
        .expect(200);
    app.api().put(&path(&format!("/conversations/{b}")), json!({"archived_at": 1_700_000_000})).await.expect(200);
    let g = app.api().post(&path("/groups"), json!({"name": "Team"})).await;
    let gc = g.body["conversation_id"].as_str().unwrap().to_string();
    let list = |q: &str| {
        let api = app.api();
        let q = q.to_string();
        async move { ids(&api.get(&path(&format!("/conversations?{q}"))).await) }
    };
    assert_eq!(list("").await, vec![gc.clone(), c.clone(), b.clone(), a.clone()]);
    assert_eq!(list("muted=true").await, vec![a.clone()]);
    assert_eq!(list("muted=false").await, vec![gc.clone(), c.clone(), b.clone()]);
    assert_eq!(list("pinned=true").await, vec![a.clone()]);
    assert_eq!(list("pinned=false&archived=false").await, vec![gc.clone(), c.clone()]);
    assert_eq!(list("archived=true").await, vec![b.clone()]);
    assert_eq!(list(&format!("group_id={}", g.body["id"].as_str().unwrap())).await, vec![gc.clone()]);
    error(&app.api().get(&path("/conversations?muted=perhaps")).await, 400, "muted");
    error(&app.api().get(&path("/conversations?group_id=x")).await, 400, "group_id");
}

#[tokio::test]
async fn cursors_page_both_ways_with_has_more() {
    let app = TestApp::spawn().await;
    let mut made = Vec::new();
    for n in 0..5 {
        made.push(chat(&app, n).await.1);
    }
    made.reverse(); // newest first
    let get = |q: String| {
        let api = app.api();
        async move { api.get(&path(&format!("/conversations?{q}"))).await }
    };
    let first = get("limit=2".into()).await;
    first.expect(200);
    assert_eq!((ids(&first), first.body["has_more"].clone()), (made[0..2].to_vec(), json!(true)));
    let second = get(format!("limit=2&starting_after={}", made[1])).await;
    assert_eq!((ids(&second), second.body["has_more"].clone()), (made[2..4].to_vec(), json!(true)));
    let last = get(format!("limit=2&starting_after={}", made[3])).await;
    assert_eq!((ids(&last), last.body["has_more"].clone()), (made[4..5].to_vec(), json!(false)));
    // Backwards from the last page: the page before it, then the first.
    let back = get(format!("limit=2&ending_before={}", made[4])).await;
    assert_eq!((ids(&back), back.body["has_more"].clone()), (made[2..4].to_vec(), json!(true)));
    let front = get(format!("limit=2&ending_before={}", made[2])).await;
    assert_eq!((ids(&front), front.body["has_more"].clone()), (made[0..2].to_vec(), json!(false)));
    let all = get("limit=100".into()).await;
    assert_eq!((ids(&all), all.body["has_more"].clone()), (made.clone(), json!(false)));
    assert_eq!(ids(&get(String::new()).await).len(), 5, "default limit 10");
    // Bad cursors and limits.
    error(&get(format!("starting_after={}", uuid::Uuid::now_v7())).await, 400, "starting_after");
    error(&get("ending_before=zzz".into()).await, 400, "ending_before");
    error(&get(format!("starting_after={}&ending_before={}", made[0], made[1])).await, 400, "ending_before");
    error(&get("limit=101".into()).await, 400, "limit");
    error(&get("limit=0".into()).await, 400, "limit");
    error(&get("limit=ten".into()).await, 400, "limit");
}

#[tokio::test]
async fn last_opened_at_is_per_user_and_set_by_retrieving() {
    let app = TestApp::spawn().await;
    let (_, conv) = chat(&app, 1).await;
    let bob = app.as_key(&app.new_key("acme", "Bob", "conversations:read").await);
    let ana = app.api();
    let before = chrono::Utc::now().timestamp();
    let r = ana.get(&path(&format!("/conversations/{conv}"))).await;
    r.expect(200);
    let opened = r.body["last_opened_at"].as_i64().expect("this retrieval's time");
    assert!(opened >= before && opened <= chrono::Utc::now().timestamp());
    // Written after the response: Ana's list shows it once recorded; Bob's does not.
    let mut seen = Value::Null;
    for _ in 0..100 {
        seen = ana.get(&path("/conversations")).await.body["data"][0]["last_opened_at"].clone();
        if !seen.is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(seen, json!(opened));
    assert_eq!(bob.get(&path("/conversations")).await.body["data"][0]["last_opened_at"], Value::Null);
    assert_eq!(
        bob.get(&path(&format!("/conversations/{conv}"))).await.body["last_opened_at"].as_i64().map(|t| t >= opened),
        Some(true)
    );
    // No event for an opening.
    let events = ana.get(&format!("/v1/conversations/{conv}/events?perPage=100")).await;
    let kinds: Vec<&str> =
        events.body["data"].as_array().unwrap().iter().map(|e| e["attributes"]["event"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["conversation.created"]);
}

#[tokio::test]
async fn a_protocol_conversation_is_the_same_through_v1_and_its_delete_removes_it_everywhere() {
    let app = TestApp::spawn().await;
    let (c, conv) = chat(&app, 1).await;
    let m = send(&app, &conv, "hello").await;
    app.api().put(&path(&format!("/conversations/{conv}")), json!({"is_muted": true})).await.expect(200);
    let v1 = app.api().get(&format!("/v1/conversations/{conv}")).await;
    v1.expect(200);
    assert_eq!(v1.attrs()["contactId"].as_str().or(v1.attrs()["contact"]["id"].as_str()), Some(c.as_str()));
    app.api().get(&format!("/v1/messages/{}", m["id"].as_str().unwrap())).await.expect(200);
    // Through /v1 a close does not change Protocol's view.
    app.api().post(&format!("/v1/conversations/{conv}/close"), json!({})).await.expect(200);
    let p = app.api().get(&path(&format!("/conversations/{conv}"))).await;
    assert_eq!(p.body["is_muted"], true);
    // Delete: 204, then 404 here, in /v1, its timeline and its messages.
    let r = app.api().delete(&path(&format!("/conversations/{conv}"))).await;
    assert_eq!((r.status, r.text.as_str()), (204, ""));
    error(&app.api().get(&path(&format!("/conversations/{conv}"))).await, 404, "");
    error(&app.api().delete(&path(&format!("/conversations/{conv}"))).await, 404, "");
    app.api().get(&format!("/v1/conversations/{conv}")).await.expect(404);
    app.api().get(&format!("/v1/conversations/{conv}/events")).await.expect(404);
    app.api().get(&format!("/v1/messages/{}", m["id"].as_str().unwrap())).await.expect(404);
    error(&app.api().get(&path(&format!("/messages/{}", m["id"].as_str().unwrap()))).await, 404, "");
    // The contact stays, without a conversation; a new create makes a new one.
    let shown = app.api().get(&path(&format!("/contacts/{c}"))).await;
    assert_eq!(shown.body["conversation_id"], Value::Null);
    assert_ne!(conversation_with(&app, &c).await, conv);
}

#[tokio::test]
async fn idempotency_keys_replay_protocol_posts() {
    let app = TestApp::spawn().await;
    let c = contact(&app, "kate", "+15550001111").await;
    let api = app.api().with_header("Idempotency-Key", "k-1");
    let first = api.post(&path("/conversations"), json!({"contact_id": c})).await;
    first.expect(201);
    let again = api.post(&path("/conversations"), json!({"contact_id": c})).await;
    again.expect(201);
    assert_eq!(again.headers.get("idempotency-replayed").map(|v| v.to_str().unwrap()), Some("true"));
    assert_eq!(again.body, first.body);
    error(&api.post(&path("/conversations"), json!({"contact_id": c, "x": 1})).await, 422, "");
}

// ---------------------------------------------------------------------------------------------
// Contacts

#[tokio::test]
async fn contacts_create_in_json_and_form_and_are_the_shared_contacts() {
    let app = TestApp::spawn().await;
    let r = app
        .api()
        .post(&path("/contacts"), json!({"username": "KevinMcCallister", "phone_number": "+1 (555) 123-4567", "avatar_url": "https://x/a.png"}))
        .await;
    r.expect(201);
    let keys: BTreeSet<&str> = r.body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "id",
            "username",
            "phone_number",
            "avatar_url",
            "display_name",
            "conversation_id",
            "last_active_at",
            "created_at"
        ])
    );
    assert_eq!(r.body["phone_number"], "+15551234567");
    assert_eq!(r.body["display_name"], "KevinMcCallister", "defaults to the username");
    assert_eq!((r.body["conversation_id"].clone(), r.body["last_active_at"].clone()), (Value::Null, Value::Null));
    let id = r.body["id"].as_str().unwrap();
    let f =
        form(&app.api(), Method::POST, "/contacts", "username=kate&phone_number=%2B15550002222&display_name=Kate+M")
            .await;
    f.expect(201);
    assert_eq!((f.body["username"].clone(), f.body["display_name"].clone()), (json!("kate"), json!("Kate M")));
    // The same contact through /v1.
    let v1 = app.api().get(&format!("/v1/contacts/{id}")).await;
    v1.expect(200);
    assert_eq!(v1.attrs()["phone"], "+15551234567");
    // Validation and conflicts.
    error(&app.api().post(&path("/contacts"), json!({"phone_number": "+15550003333"})).await, 400, "username");
    error(&app.api().post(&path("/contacts"), json!({"username": "x"})).await, 400, "phone_number");
    error(
        &app.api().post(&path("/contacts"), json!({"username": "x", "phone_number": "call me"})).await,
        400,
        "phone_number",
    );
    error(
        &app.api().post(&path("/contacts"), json!({"username": "x", "phone_number": "+15551234567"})).await,
        409,
        "phone_number",
    );
}

#[tokio::test]
async fn contacts_retrieve_update_list_and_page() {
    let app = TestApp::spawn().await;
    let mut made = Vec::new();
    for n in 0..3 {
        made.push(contact(&app, &format!("u{n}"), &format!("+1555000000{n}")).await);
    }
    made.reverse();
    let r = app.api().get(&path("/contacts?limit=2")).await;
    assert_eq!((ids(&r), r.body["has_more"].clone()), (made[0..2].to_vec(), json!(true)));
    let r = app.api().get(&path(&format!("/contacts?starting_after={}", made[1]))).await;
    assert_eq!((ids(&r), r.body["has_more"].clone()), (made[2..].to_vec(), json!(false)));
    let r = app.api().get(&path(&format!("/contacts?ending_before={}&limit=1", made[1]))).await;
    assert_eq!((ids(&r), r.body["has_more"].clone()), (made[0..1].to_vec(), json!(false)));
    error(
        &app.api().get(&path(&format!("/contacts?starting_after={}", uuid::Uuid::now_v7()))).await,
        400,
        "starting_after",
    );
    // PUT changes display_name only.
    let at = format!("/contacts/{}", made[0]);
    let r = form(&app.api(), Method::PUT, &at, "display_name=Kevin&username=ignored&phone_number=%2B19999999999").await;
    r.expect(200);
    assert_eq!((r.body["display_name"].clone(), r.body["username"].clone()), (json!("Kevin"), json!("u2")));
    assert_eq!(r.body["phone_number"], "+15550000002");
    let r = app.api().put(&path(&at), json!({"display_name": null})).await;
    assert_eq!(r.body["display_name"], "u2");
    app.api().get(&path(&at)).await.expect(200);
    error(&app.api().get(&path(&format!("/contacts/{}", uuid::Uuid::now_v7()))).await, 404, "ontact");
    error(
        &app.api().put(&path(&format!("/contacts/{}", uuid::Uuid::now_v7())), json!({"display_name": "x"})).await,
        404,
        "",
    );
}

#[tokio::test]
async fn deleting_a_contact_deletes_its_protocol_conversation_and_keeps_its_channel_ones() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let r = app
        .api()
        .post(
            &format!("/v1/channels/{channel}/inbound"),
            json!({"sender": {"phone": "+15550002222"}, "content": {"type": "text", "text": "hi"}}),
        )
        .await;
    let on_channel = r.attrs()["conversationId"].as_str().unwrap().to_string();
    let contact = app.api().get(&path("/contacts")).await.body["data"][0]["id"].as_str().unwrap().to_string();
    let mine = conversation_with(&app, &contact).await;
    send(&app, &mine, "bye").await;
    let r = app.api().delete(&path(&format!("/contacts/{contact}"))).await;
    assert_eq!(r.status, 204);
    error(&app.api().get(&path(&format!("/contacts/{contact}"))).await, 404, "");
    error(&app.api().get(&path(&format!("/conversations/{mine}"))).await, 404, "");
    let kept = app.api().get(&path(&format!("/conversations/{on_channel}"))).await;
    kept.expect(200);
    assert_eq!(kept.body["contact_id"], Value::Null);
    error(&app.api().delete(&path(&format!("/contacts/{contact}"))).await, 404, "");
}

// ---------------------------------------------------------------------------------------------
// Messages

#[tokio::test]
async fn messages_are_sent_from_the_keys_user_in_json_and_form() {
    let app = TestApp::spawn().await;
    let (_, conv) = chat(&app, 1).await;
    let r =
        form(&app.api(), Method::POST, "/messages", &format!("conversation_id={conv}&message=Hello+there%21")).await;
    r.expect(201);
    let keys: BTreeSet<&str> = r.body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "id",
            "conversation_id",
            "contact",
            "message",
            "reactions",
            "attachments",
            "read_at",
            "created_at",
            "updated_at"
        ])
    );
    assert_eq!(r.body["message"], "Hello there!");
    assert_eq!(r.body["conversation_id"], conv.as_str());
    assert_eq!(r.body["contact"]["username"], "Ana Admin", "a contact made from the user");
    assert_eq!((r.body["reactions"].clone(), r.body["attachments"].clone()), (json!([]), json!([])));
    assert_eq!((r.body["read_at"].clone(), r.body["updated_at"].clone()), (Value::Null, Value::Null));
    let id = r.body["id"].as_str().unwrap();
    // The same message through /v1: outbound, from the user.
    let v1 = app.api().get(&format!("/v1/messages/{id}")).await;
    assert_eq!(v1.attrs()["direction"], "outbound");
    // The conversation is active now.
    let c = app.api().get(&path(&format!("/conversations/{conv}"))).await;
    assert_eq!(c.body["last_active_at"], r.body["created_at"]);
    let j = send(&app, &conv, "second").await;
    assert_eq!(j["message"], "second");
    error(&app.api().post(&path("/messages"), json!({"conversation_id": conv})).await, 400, "message");
    error(&app.api().post(&path("/messages"), json!({"message": "x"})).await, 400, "conversation_id");
    error(
        &app.api().post(&path("/messages"), json!({"conversation_id": uuid::Uuid::now_v7(), "message": "x"})).await,
        404,
        "conversation_id",
    );
    error(
        &app.api().post(&path("/messages"), json!({"conversation_id": "nope", "message": "x"})).await,
        404,
        "conversation_id",
    );
}

#[tokio::test]
async fn messages_list_by_conversation_with_cursors() {
    let app = TestApp::spawn().await;
    let (_, a) = chat(&app, 1).await;
    let (_, b) = chat(&app, 2).await;
    let mut made = Vec::new();
    for n in 0..3 {
        made.push(send(&app, &a, &format!("m{n}")).await["id"].as_str().unwrap().to_string());
    }
    send(&app, &b, "elsewhere").await;
    made.reverse();
    let r = app.api().get(&path(&format!("/messages?conversation_id={a}&limit=2"))).await;
    assert_eq!((ids(&r), r.body["has_more"].clone()), (made[0..2].to_vec(), json!(true)));
    let r = app.api().get(&path(&format!("/messages?conversation_id={a}&limit=2&starting_after={}", made[1]))).await;
    assert_eq!((ids(&r), r.body["has_more"].clone()), (made[2..].to_vec(), json!(false)));
    assert_eq!(ids(&app.api().get(&path("/messages")).await).len(), 4, "every message without a conversation");
    error(
        &app.api().get(&path(&format!("/messages?conversation_id={}", uuid::Uuid::now_v7()))).await,
        404,
        "conversation_id",
    );
    app.api().get(&path(&format!("/messages/{}", made[0]))).await.expect(200);
    let r = app.api().delete(&path(&format!("/messages/{}", made[0]))).await;
    assert_eq!(r.status, 204);
    error(&app.api().get(&path(&format!("/messages/{}", made[0]))).await, 404, "essage");
    assert_eq!(ids(&app.api().get(&path(&format!("/messages?conversation_id={a}"))).await), made[1..].to_vec());
}

#[tokio::test]
async fn message_put_changes_text_reactions_in_form_and_json() {
    let app = TestApp::spawn().await;
    let (_, conv) = chat(&app, 1).await;
    let m = send(&app, &conv, "first").await;
    let at = format!("/messages/{}", m["id"].as_str().unwrap());
    let r = form(
        &app.api(),
        Method::PUT,
        &at,
        "reactions[red_angry_face][]=KateMcCallister&reactions[red_angry_face][]=Kevin&reactions[tada][]=Ana&message=edited",
    )
    .await;
    r.expect(200);
    assert_eq!(r.body["message"], "edited");
    assert_eq!(r.body["reactions"], json!([{"red_angry_face": ["KateMcCallister", "Kevin"]}, {"tada": ["Ana"]}]));
    assert!(r.body["updated_at"].as_i64().is_some());
    let r = app.api().put(&path(&at), json!({"reactions": {"tada": []}, "ignored": 1})).await;
    r.expect(200);
    assert_eq!((r.body["reactions"].clone(), r.body["message"].clone()), (json!([]), json!("edited")));
    let r = app.api().put(&path(&at), json!({"reactions": [{"smile": ["Bo"]}]})).await;
    assert_eq!(r.body["reactions"], json!([{"smile": ["Bo"]}]));
    error(&app.api().put(&path(&at), json!({"reactions": "x"})).await, 400, "reactions");
    error(&app.api().put(&path(&at), json!({"reactions": {"x": [1]}})).await, 400, "reactions");
    error(&app.api().put(&path(&at), json!({"message": ""})).await, 400, "message");
    error(
        &app.api().put(&path(&format!("/messages/{}", uuid::Uuid::now_v7())), json!({"message": "x"})).await,
        404,
        "",
    );
}

// ---------------------------------------------------------------------------------------------
// Groups

#[tokio::test]
async fn groups_have_members_and_a_conversation() {
    let app = TestApp::spawn().await;
    let a = contact(&app, "ann", "+15550000001").await;
    let b = contact(&app, "bob", "+15550000002").await;
    let r =
        form(&app.api(), Method::POST, "/groups", &format!("name=Family&description=Us&contacts[]={a}&contacts[]={b}"))
            .await;
    r.expect(201);
    let keys: BTreeSet<&str> = r.body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "id",
            "name",
            "description",
            "avatar_url",
            "conversation_id",
            "contacts",
            "created_at",
            "archived_at"
        ])
    );
    let g = r.body["id"].as_str().unwrap().to_string();
    let members: Vec<&str> = r.body["contacts"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(members, [a.as_str(), b.as_str()]);
    let gc = r.body["conversation_id"].as_str().expect("a conversation").to_string();
    let conv = app.api().get(&path(&format!("/conversations/{gc}"))).await;
    assert_eq!((conv.body["group_id"].clone(), conv.body["contact_id"].clone()), (json!(g), Value::Null));
    // The group's conversation is the one a create with group_id returns.
    let again = app.api().post(&path("/conversations"), json!({"group_id": g})).await;
    again.expect(200);
    assert_eq!(again.body["id"], gc.as_str());
    // PUT: members replaced, archived, description cleared.
    let r = app
        .api()
        .put(
            &path(&format!("/groups/{g}")),
            json!({"contacts": [b], "archived_at": 1_700_000_000, "description": null}),
        )
        .await;
    r.expect(200);
    assert_eq!(r.body["contacts"].as_array().unwrap().len(), 1);
    assert_eq!((r.body["archived_at"].clone(), r.body["description"].clone()), (json!(1_700_000_000), Value::Null));
    assert_eq!(r.body["name"], "Family");
    // Lists and the archived filter.
    let other =
        app.api().post(&path("/groups"), json!({"name": "Work"})).await.body["id"].as_str().unwrap().to_string();
    assert_eq!(ids(&app.api().get(&path("/groups")).await), vec![other.clone(), g.clone()]);
    assert_eq!(ids(&app.api().get(&path("/groups?archived=true")).await), vec![g.clone()]);
    assert_eq!(ids(&app.api().get(&path("/groups?archived=false")).await), vec![other.clone()]);
    let r = app.api().get(&path("/groups?limit=1")).await;
    assert_eq!((ids(&r), r.body["has_more"].clone()), (vec![other.clone()], json!(true)));
    // Errors.
    error(&app.api().post(&path("/groups"), json!({"description": "x"})).await, 400, "name");
    error(
        &app.api().post(&path("/groups"), json!({"name": "x", "contacts": [uuid::Uuid::now_v7()]})).await,
        404,
        "contacts",
    );
    error(&app.api().put(&path(&format!("/groups/{g}")), json!({"contacts": ["nope"]})).await, 404, "contacts");
    error(&app.api().get(&path(&format!("/groups/{}", uuid::Uuid::now_v7()))).await, 404, "roup");
    // Delete: the group, its conversation and its messages.
    let m = send(&app, &gc, "hi all").await;
    assert_eq!(app.api().delete(&path(&format!("/groups/{g}"))).await.status, 204);
    error(&app.api().get(&path(&format!("/groups/{g}"))).await, 404, "");
    error(&app.api().get(&path(&format!("/conversations/{gc}"))).await, 404, "");
    error(&app.api().get(&path(&format!("/messages/{}", m["id"].as_str().unwrap()))).await, 404, "");
    // Members are contacts and stay.
    app.api().get(&path(&format!("/contacts/{a}"))).await.expect(200);
}

// ---------------------------------------------------------------------------------------------
// Attachments

#[tokio::test]
async fn attachments_upload_download_attach_rename_and_delete() {
    let app = TestApp::spawn().await;
    let (_, conv) = chat(&app, 1).await;
    let r = upload(&app, "notes.txt", b"hello file").await;
    r.expect(201);
    let keys: BTreeSet<&str> = r.body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from(["id", "message_id", "filename", "file_url", "file_type", "file_size", "created_at"])
    );
    assert_eq!(
        (r.body["filename"].clone(), r.body["file_type"].clone(), r.body["file_size"].clone()),
        (json!("notes.txt"), json!("text/plain"), json!(10))
    );
    assert_eq!(r.body["message_id"], Value::Null);
    let id = r.body["id"].as_str().unwrap().to_string();
    // The signed URL needs no key; a tampered one is 403.
    let url = r.body["file_url"].as_str().unwrap().to_string();
    assert!(url.starts_with(&app.base), "{url}");
    let got = reqwest::get(&url).await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], "text/plain");
    assert_eq!(got.headers()["x-content-type-options"], "nosniff");
    assert_eq!(got.bytes().await.unwrap().as_ref(), b"hello file");
    let forged = url.replace("signature=", "signature=0");
    assert_eq!(reqwest::get(&forged).await.unwrap().status(), 403);
    let expired = format!("{}/protocol/v1/files/{id}?expires=1&signature=00", app.base);
    let r = app.anonymous().get(&expired[app.base.len()..]).await;
    error(&r, 403, "expired");
    // Attached to a message through attachments[] (form).
    let m =
        form(&app.api(), Method::POST, "/messages", &format!("conversation_id={conv}&message=see&attachments[]={id}"))
            .await;
    m.expect(201);
    assert_eq!(m.body["attachments"][0]["id"], id.as_str());
    assert_eq!(m.body["attachments"][0]["message_id"], m.body["id"]);
    // An attachment already on a message cannot go on another.
    error(
        &app.api()
            .post(&path("/messages"), json!({"conversation_id": conv, "message": "x", "attachments": [id]}))
            .await,
        400,
        "attachments",
    );
    error(
        &app.api()
            .post(
                &path("/messages"),
                json!({"conversation_id": conv, "message": "x", "attachments": [uuid::Uuid::now_v7()]}),
            )
            .await,
        404,
        "attachments",
    );
    // Listed under its conversation; the unattached one only in the whole list.
    let loose = upload(&app, "b.bin", &[0, 1, 2]).await.body["id"].as_str().unwrap().to_string();
    assert_eq!(ids(&app.api().get(&path(&format!("/attachments?conversation_id={conv}"))).await), vec![id.clone()]);
    assert_eq!(ids(&app.api().get(&path("/attachments")).await), vec![loose.clone(), id.clone()]);
    // Rename (form), retrieve, delete.
    let r = form(&app.api(), Method::PUT, &format!("/attachments/{id}"), "filename=renamed.txt").await;
    r.expect(200);
    assert_eq!(r.body["filename"], "renamed.txt");
    assert_eq!(app.api().get(&path(&format!("/attachments/{id}"))).await.body["filename"], "renamed.txt");
    assert_eq!(app.api().delete(&path(&format!("/attachments/{loose}"))).await.status, 204);
    error(&app.api().get(&path(&format!("/attachments/{loose}"))).await, 404, "ttachment");
    // A message's attachments go with it.
    assert_eq!(app.api().delete(&path(&format!("/messages/{}", m.body["id"].as_str().unwrap()))).await.status, 204);
    error(&app.api().get(&path(&format!("/attachments/{id}"))).await, 404, "");
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 404);
}

#[tokio::test]
async fn uploads_need_a_file_within_the_limit() {
    let app = TestApp::spawn().await;
    let r = app.api().send_raw(Method::POST, &path("/attachments"), "application/json", b"{}".to_vec()).await;
    error(&r, 400, "file");
    let (ct, body) = multipart("x.txt", "text/plain", b"");
    let body = String::from_utf8(body).unwrap().replace("name=\"file\"", "name=\"other\"").into_bytes();
    error(&app.api().send_raw(Method::POST, &path("/attachments"), &ct, body).await, 400, "file");
    // A file above 10 MiB is 413; one of 1.5 MiB (above the JSON limit) is fine.
    upload(&app, "big.bin", &vec![7u8; 1024 * 1024 + 512 * 1024]).await.expect(201);
    error(&upload(&app, "huge.bin", &vec![7u8; 10 * 1024 * 1024 + 1]).await, 413, "");
}

#[tokio::test]
async fn a_configured_url_signing_key_makes_file_urls_valid_on_every_node() {
    let app = TestApp::spawn().await;
    let node = |key: Option<&str>| {
        let store = app.store.clone();
        let key = key.map(str::to_string);
        async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            confab::server::start_with(listener, store, key).unwrap()
        }
    };
    let (a, b, c) = (node(Some("shared-secret")).await, node(Some("shared-secret")).await, node(None).await);
    let http = reqwest::Client::new();
    let (ct, body) = multipart("n.txt", "text/plain", b"across nodes");
    let r = http
        .post(format!("http://{}/protocol/v1/attachments", a.addr))
        .bearer_auth(&app.key)
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let url = r.json::<Value>().await.unwrap()["file_url"].as_str().unwrap().to_string();
    let on = |base: String| url.replace(&format!("http://{}", a.addr), &base);
    assert_eq!(http.get(on(format!("http://{}", b.addr))).send().await.unwrap().text().await.unwrap(), "across nodes");
    assert_eq!(http.get(on(format!("http://{}", c.addr))).send().await.unwrap().status(), 403, "a random key");
    assert_eq!(http.get(on(app.base.clone())).send().await.unwrap().status(), 403, "the test server's random key");
    for n in [a, b, c] {
        n.stop().await;
    }
}

/// The mapping table (DESIGN.md, issue #4 item 9): Protocol has no status nor priority. Every core
/// status and priority leaves the Protocol view without them, listed and retrievable, and a
/// Protocol PUT never changes them; a Protocol create is `open` and `normal`.
#[tokio::test]
async fn every_status_and_priority_maps_to_nothing_shown_and_nothing_changed() {
    let app = TestApp::spawn().await;
    let (_, conv) = chat(&app, 1).await;
    let v1 = format!("/v1/conversations/{conv}");
    let created = app.api().get(&v1).await;
    assert_eq!(
        (created.attrs()["status"].clone(), created.attrs()["priority"].clone()),
        (json!("open"), json!("normal"))
    );
    let snooze_until = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let statuses = [
        ("open", json!({"status": "open"})),
        ("pending", json!({"status": "pending"})),
        ("snoozed", json!({"status": "snoozed", "snoozedUntil": snooze_until})),
        ("closed", json!({"status": "closed"})),
    ];
    let priorities = ["low", "normal", "high", "urgent"];
    for ((status, body), priority) in statuses.into_iter().zip(priorities) {
        let mut body = body;
        body["priority"] = json!(priority);
        app.api().patch(&v1, body).await.expect(200);
        let p = app.api().get(&path(&format!("/conversations/{conv}"))).await;
        p.expect(200);
        assert!(p.body.get("status").is_none() && p.body.get("priority").is_none(), "{status}: {}", p.text);
        assert_eq!(ids(&app.api().get(&path("/conversations")).await), vec![conv.clone()], "{status} is listed");
        let r =
            form(&app.api(), Method::PUT, &format!("/conversations/{conv}"), "is_muted=true&status=open&priority=low")
                .await;
        r.expect(200);
        let after = app.api().get(&v1).await;
        assert_eq!(
            (after.attrs()["status"].clone(), after.attrs()["priority"].clone()),
            (json!(status), json!(priority))
        );
        app.api().put(&path(&format!("/conversations/{conv}")), json!({"is_muted": false})).await.expect(200);
    }
}
