//! The Airy Core face at the root (`reference/airy.md`, DESIGN.md "Faces"): auth, conventions and
//! error bodies, `conversations.*` (but the list), `tags.*`, `channels.*`, `metadata.upsert`, and
//! the same conversation read through Airy and through /v1.

use crate::support::{Resp, TestApp};
use confab_core::model::{Actor, Ctx, PageRequest};
use confab_core::ConversationId;
use reqwest::Method;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// Fixtures

/// Every Airy endpoint this face serves (the list, `messages.*` come with the messages face).
const ENDPOINTS: &[&str] = &[
    "/conversations.info",
    "/conversations.mark-read",
    "/conversations.tag",
    "/conversations.untag",
    "/conversations.set-state",
    "/conversations.setState",
    "/conversations.remove-state",
    "/conversations.removeState",
    "/conversations.update-contact",
    "/conversations.updateContact",
    "/conversations.refetch",
    "/tags.create",
    "/tags.list",
    "/tags.update",
    "/tags.delete",
    "/channels.list",
    "/channels.info",
    "/channels.update",
    "/metadata.upsert",
];

/// Asserts a status with an empty body.
#[track_caller]
fn empty(r: &Resp, status: u16) {
    assert_eq!((r.status, r.text.as_str()), (status, ""), "expected an empty {status}");
}

/// Asserts a status with `{"message": …}` (only that key) and returns the message.
#[track_caller]
fn message(r: &Resp, status: u16) -> String {
    assert_eq!(r.status, status, "body: {}", r.text);
    let obj = r.body.as_object().unwrap_or_else(|| panic!("not a JSON object: {}", r.text));
    assert_eq!(obj.keys().collect::<Vec<_>>(), ["message"], "body: {}", r.text);
    obj["message"].as_str().expect("a string message").to_string()
}

/// Asserts a 400 whose message names `field`.
#[track_caller]
fn invalid(r: &Resp, field: &str) {
    let m = message(r, 400);
    assert!(m.contains(field), "{m:?} does not name {field}");
}

/// An ISO 8601 UTC instant with exactly three fraction digits and `Z`.
#[track_caller]
fn airy_time(v: &Value) {
    let s = v.as_str().unwrap_or_else(|| panic!("not a string: {v}"));
    assert_eq!(s.len(), 24, "{s}");
    assert!(chrono::DateTime::parse_from_rfc3339(s).is_ok() && s.ends_with('Z') && s.as_bytes()[19] == b'.', "{s}");
}

/// The store context of the admin key.
async fn admin_ctx(app: &TestApp) -> Ctx {
    let hash = confab_api::auth::hash_key(&app.key);
    let p = app.store.principal_by_key_hash(&hash).await.unwrap().expect("the admin key resolves");
    Ctx { tenant: p.tenant_id, actor: Actor::user(p.user_id, p.user_name) }
}

/// The event types of a conversation, oldest first.
async fn event_types(app: &TestApp, id: &str) -> Vec<String> {
    let ctx = admin_ctx(app).await;
    let id: ConversationId = id.parse().unwrap();
    let page = app.store.conversation_events(&ctx, id, PageRequest { page: 1, per_page: 200 }).await.unwrap();
    page.items.iter().map(|e| e.event_type.as_str().to_string()).collect()
}

fn count(events: &[String], event: &str) -> usize {
    events.iter().filter(|e| *e == event).count()
}

/// An inbound text on `channel` from `phone` (named `name`); returns (conversation id, message id).
async fn inbound(app: &TestApp, channel: &str, phone: &str, name: &str, text: &str) -> (String, String) {
    let r = app
        .api()
        .post(
            &format!("/v1/channels/{channel}/inbound"),
            json!({"sender": {"phone": phone, "name": name}, "content": {"type": "text", "text": text}}),
        )
        .await;
    r.expect(201);
    (r.attrs()["conversationId"].as_str().unwrap().to_string(), r.id())
}

/// A conversation created through /v1 (`body` as `POST /v1/conversations` takes it), on a new
/// webchat channel with a new contact (a phone of its own) unless the body names them.
async fn v1_conversation(app: &TestApp, mut body: Value) -> String {
    if body.get("channelId").is_none() {
        body["channelId"] = json!(app.channel("Web", "webchat").await);
    }
    if body.get("contact").is_none() && body.get("contactId").is_none() {
        let digits = uuid::Uuid::now_v7().as_u128() % 10_000_000;
        body["contact"] = json!({"phone": format!("+1555{digits:07}")});
    }
    app.api().post("/v1/conversations", body).await.expect(201).id()
}

/// Deletes the conversation's contact through /v1: the conversation remains, without a contact.
async fn drop_contact(app: &TestApp, id: &str) {
    let contact = v1(app, id).await["contact"]["id"].as_str().unwrap().to_string();
    app.api().delete(&format!("/v1/contacts/{contact}")).await.expect(204);
    assert_eq!(v1(app, id).await["contact"], Value::Null);
}

/// `GET /v1/conversations/{id}`'s attributes.
async fn v1(app: &TestApp, id: &str) -> Value {
    app.api().get(&format!("/v1/conversations/{id}")).await.expect(200).attrs().clone()
}

/// `conversations.info`, asserting 200.
async fn info(app: &TestApp, id: &str) -> Value {
    let r = app.api().post("/conversations.info", json!({"conversation_id": id})).await;
    r.expect(200);
    r.body
}

async fn airy(app: &TestApp, path: &str, body: Value) -> Resp {
    app.api().post(path, body).await
}

/// Creates a tag through Airy; returns its id.
async fn tag(app: &TestApp, name: &str, color: &str) -> String {
    let r = airy(app, "/tags.create", json!({"name": name, "color": color})).await;
    r.expect(201);
    r.body["id"].as_str().unwrap().to_string()
}

// ---------------------------------------------------------------------------------------------
// Auth

#[tokio::test]
async fn every_endpoint_answers_a_missing_or_invalid_key_with_an_empty_403() {
    let app = TestApp::spawn().await;
    for path in ENDPOINTS {
        empty(&app.anonymous().post(path, json!({})).await, 403);
        empty(&app.as_key("cfb_not_a_key").post(path, json!({})).await, 403);
        empty(&app.anonymous().with_header("Authorization", "cfb_not_a_key").post(path, json!({})).await, 403);
        empty(&app.anonymous().with_header("Cookie", "airy_auth_token=cfb_nope").post(path, json!({})).await, 403);
    }
}

#[tokio::test]
async fn a_key_is_accepted_as_bearer_as_the_bare_header_and_as_the_airy_auth_token_cookie() {
    let mut app = TestApp::spawn().await;
    tag(&app, "vip", "tag-red").await;
    let ways = [
        app.api(),
        app.anonymous().with_header("Authorization", &app.key),
        app.anonymous().with_header("Cookie", &format!("theme=dark; airy_auth_token={}", app.key)),
    ];
    for api in ways {
        let r = api.post("/tags.list", json!({})).await;
        r.expect(200);
        assert_eq!(r.body["data"][0]["name"], "vip");
    }
    // A revoked key is refused like an unknown one.
    let key = app.new_key("acme", "Temp", "conversations:read").await;
    app.as_key(&key).post("/tags.list", json!({})).await.expect(200);
    let listed = app.store.list_api_keys().await.unwrap();
    let id = listed.iter().find(|k| key.starts_with(k.prefix.trim_end_matches('…'))).unwrap().id;
    app.store.revoke_api_key(id).await.unwrap();
    app.restart().await;
    empty(&app.as_key(&key).post("/tags.list", json!({})).await, 403);
}

#[tokio::test]
async fn a_key_without_the_scope_is_an_empty_403_and_one_with_it_passes() {
    let app = TestApp::spawn().await;
    let channel = app.channel("WA", "whatsapp").await;
    let (conversation, message_id) = inbound(&app, &channel, "+15550001001", "Ann", "hi").await;
    let reader = app.new_key("acme", "Reader", "conversations:read").await;
    let writer = app.new_key("acme", "Writer", "conversations:write").await;
    let channels_reader = app.new_key("acme", "Channels", "channels:read").await;
    let messages_writer = app.new_key("acme", "Messages", "messages:write").await;
    let c = json!({"conversation_id": conversation});
    // Reading needs conversations:read (write does not imply read).
    app.as_key(&reader).post("/conversations.info", c.clone()).await.expect(200);
    empty(&app.as_key(&writer).post("/conversations.info", c.clone()).await, 403);
    empty(&app.as_key(&channels_reader).post("/conversations.info", c.clone()).await, 403);
    // Changes need conversations:write.
    for path in ["/conversations.mark-read", "/conversations.remove-state", "/conversations.refetch"] {
        empty(&app.as_key(&reader).post(path, c.clone()).await, 403);
    }
    empty(&app.as_key(&reader).post("/tags.create", json!({"name": "x", "color": "tag-red"})).await, 403);
    app.as_key(&writer).post("/tags.create", json!({"name": "x", "color": "tag-red"})).await.expect(201);
    app.as_key(&reader).post("/tags.list", json!({})).await.expect(200);
    empty(&app.as_key(&writer).post("/tags.list", json!({})).await, 403);
    // Channels need the channels scopes.
    empty(&app.as_key(&reader).post("/channels.list", json!({})).await, 403);
    app.as_key(&channels_reader).post("/channels.list", json!({})).await.expect(200);
    let update = json!({"channel_id": channel, "name": "New"});
    empty(&app.as_key(&channels_reader).post("/channels.update", update).await, 403);
    // metadata.upsert needs the write scope of its subject.
    let on_conversation = json!({"subject": "conversation", "id": conversation, "data": {"a": 1}});
    let on_message = json!({"subject": "message", "id": message_id, "data": {"a": 1}});
    empty(&app.as_key(&messages_writer).post("/metadata.upsert", on_conversation.clone()).await, 403);
    empty(&app.as_key(&reader).post("/metadata.upsert", on_conversation.clone()).await, 403);
    empty(&app.as_key(&channels_reader).post("/metadata.upsert", json!({"subject": "nothing"})).await, 403);
    app.as_key(&messages_writer).post("/metadata.upsert", on_message.clone()).await.expect(204);
    empty(&app.as_key(&writer).post("/metadata.upsert", on_message).await, 403);
    app.as_key(&writer).post("/metadata.upsert", on_conversation).await.expect(204);
    // The scope is checked before the body is read.
    empty(&app.as_key(&reader).post("/conversations.tag", json!({"conversation_id": "nope"})).await, 403);
}

#[tokio::test]
async fn another_tenants_conversation_tag_and_channel_are_not_found() {
    let app = TestApp::spawn().await;
    let channel = app.channel("WA", "whatsapp").await;
    let (conversation, _) = inbound(&app, &channel, "+15550001002", "Ann", "hi").await;
    let tag_id = tag(&app, "vip", "tag-red").await;
    let other = app.as_key(&app.new_key("globex", "Gil", "admin").await);
    empty(&other.post("/conversations.info", json!({"conversation_id": conversation})).await, 404);
    empty(
        &other.post("/conversations.set-state", json!({"conversation_id": conversation, "state": "CLOSED"})).await,
        404,
    );
    empty(&other.post("/tags.delete", json!({"id": tag_id})).await, 404);
    empty(&other.post("/channels.info", json!({"channel_id": channel})).await, 404);
    assert_eq!(other.post("/tags.list", json!({})).await.body, json!({"data": []}));
    assert_eq!(v1(&app, &conversation).await["status"], "open");
}

// ---------------------------------------------------------------------------------------------
// Conventions: bodies, errors, methods

#[tokio::test]
async fn an_empty_body_is_an_empty_object_whatever_the_content_type_says() {
    let app = TestApp::spawn().await;
    app.channel("WA", "whatsapp").await;
    // Airy's JS client: a JSON content type and no body.
    let r = app.api().send_raw(Method::POST, "/channels.list", "application/json", Vec::new()).await;
    r.expect(200);
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    app.api().post_empty("/tags.list").await.expect(200);
    app.api().send_raw(Method::POST, "/tags.list", "text/plain", b"  ".to_vec()).await.expect(200);
    // A body without any content type is read as JSON too.
    let r = app.api().send_raw(Method::POST, "/channels.list", "", br#"{"source": "sms"}"#.to_vec()).await;
    assert_eq!(r.body, json!({"data": []}));
}

#[tokio::test]
async fn unknown_and_camel_case_fields_are_ignored() {
    let app = TestApp::spawn().await;
    let channel = app.channel("WA", "whatsapp").await;
    let (conversation, _) = inbound(&app, &channel, "+15550001003", "Ann", "hi").await;
    let body = json!({
        "conversation_id": conversation,
        "conversationId": "not-even-a-uuid",
        "pageSize": 10,
        "extra": {"deep": [1, 2]},
    });
    let r = airy(&app, "/conversations.info", body).await;
    r.expect(200);
    assert_eq!(r.body["id"], conversation.as_str());
}

#[tokio::test]
async fn invalid_requests_are_400_with_a_message_naming_the_field() {
    let app = TestApp::spawn().await;
    let channel = app.channel("WA", "whatsapp").await;
    let (conversation, _) = inbound(&app, &channel, "+15550001004", "Ann", "hi").await;
    for path in [
        "/conversations.info",
        "/conversations.mark-read",
        "/conversations.tag",
        "/conversations.untag",
        "/conversations.set-state",
        "/conversations.remove-state",
        "/conversations.update-contact",
        "/conversations.refetch",
    ] {
        invalid(&airy(&app, path, json!({})).await, "conversation_id");
        invalid(&airy(&app, path, json!({"conversation_id": "conv_123"})).await, "conversation_id");
        invalid(&airy(&app, path, json!({"conversation_id": 42})).await, "conversation_id");
        invalid(&airy(&app, path, json!({"conversation_id": null})).await, "conversation_id");
    }
    let r = airy(&app, "/conversations.info", json!({"conversation_id": "conv_123"})).await;
    assert_eq!(message(&r, 400), "Invalid request: conversation_id must be a UUID.");
    let c = conversation.as_str();
    invalid(&airy(&app, "/conversations.tag", json!({"conversation_id": c})).await, "tag_id");
    invalid(&airy(&app, "/conversations.untag", json!({"conversation_id": c, "tag_id": "x"})).await, "tag_id");
    invalid(&airy(&app, "/conversations.set-state", json!({"conversation_id": c})).await, "state");
    invalid(&airy(&app, "/conversations.set-state", json!({"conversation_id": c, "state": "  "})).await, "state");
    let long = "S".repeat(101);
    invalid(&airy(&app, "/conversations.set-state", json!({"conversation_id": c, "state": long})).await, "state");
    invalid(&airy(&app, "/conversations.update-contact", json!({"conversation_id": c})).await, "display_name");
    let blank = json!({"conversation_id": c, "display_name": ""});
    invalid(&airy(&app, "/conversations.update-contact", blank).await, "display_name");
    invalid(&airy(&app, "/channels.info", json!({"channel_id": "ch_1"})).await, "channel_id");
    invalid(&airy(&app, "/tags.delete", json!({})).await, "id");
    invalid(&airy(&app, "/channels.list", json!({"source": 5})).await, "source");
    // Malformed JSON, a body that is not an object, a NUL character.
    for raw in [&b"{\"conversation_id\":"[..], b"[1, 2]", b"null", br#"{"conversation_id": "a\u0000"}"#] {
        let r = app.api().send_raw(Method::POST, "/conversations.info", "application/json", raw.to_vec()).await;
        message(&r, 400);
    }
    // Nothing was changed by any of it.
    assert_eq!(info(&app, c).await["metadata"]["state"], "OPEN");
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_413_and_other_methods_are_405() {
    let app = TestApp::spawn().await;
    let big = format!(r#"{{"name": "x", "color": "tag-red", "pad": "{}"}}"#, "a".repeat(1024 * 1024));
    let r = app.api().send_raw(Method::POST, "/tags.create", "application/json", big.into_bytes()).await;
    assert_eq!(r.status, 413, "{}", r.text);
    assert_eq!(airy(&app, "/tags.list", json!({})).await.body, json!({"data": []}));
    let r = app.api().get("/tags.list").await;
    assert_eq!(r.status, 405);
}

// ---------------------------------------------------------------------------------------------
// conversations.info: the conversation JSON

#[tokio::test]
async fn conversations_info_renders_airys_conversation_json() {
    let app = TestApp::spawn().await;
    let channel = app
        .api()
        .post(
            "/v1/channels",
            json!({"name": "Support WA", "type": "whatsapp", "config": {"sourceChannelId": "+15550009999"},
                   "metadata": {"region": "eu"}}),
        )
        .await
        .expect(201)
        .id();
    let (conversation, message_id) = inbound(&app, &channel, "+15550001005", "Grace Hopper", "Hello World").await;
    let contact_id = v1(&app, &conversation).await["contact"]["id"].as_str().unwrap().to_string();
    let vip = tag(&app, "vip", "tag-red").await;
    airy(&app, "/conversations.tag", json!({"conversation_id": conversation, "tag_id": vip})).await.expect(204);
    let c = info(&app, &conversation).await;
    let keys: Vec<&String> = c.as_object().unwrap().keys().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(sorted, ["channel", "created_at", "id", "last_message", "metadata"]);
    assert_eq!(c["id"], conversation.as_str());
    airy_time(&c["created_at"]);
    assert_eq!(
        c["channel"],
        json!({"id": channel, "source": "whatsapp", "source_channel_id": "+15550009999", "connected": true,
               "metadata": {"name": "Support WA", "region": "eu"}})
    );
    assert_eq!(
        c["metadata"],
        json!({
            "contact": {"display_name": "Grace Hopper", "avatar_url": null},
            "tags": {vip.as_str(): ""},
            "state": "OPEN",
            "unread_count": 1,
            "user_data": {},
        })
    );
    let m = &c["last_message"];
    airy_time(&m["sent_at"]);
    assert_eq!(
        m.as_object().unwrap().keys().collect::<std::collections::BTreeSet<_>>().into_iter().collect::<Vec<_>>(),
        ["content", "delivery_state", "from_contact", "id", "metadata", "sender", "sent_at", "source"]
    );
    assert_eq!(m["id"], message_id.as_str());
    assert_eq!(m["content"], json!({"text": "Hello World"}));
    assert_eq!(
        (&m["delivery_state"], &m["from_contact"], &m["source"]),
        (&json!("delivered"), &json!(true), &json!("whatsapp"))
    );
    assert_eq!(m["metadata"], json!({}));
    assert_eq!(m["sender"], json!({"id": contact_id, "name": "Grace Hopper", "avatar_url": null}));
    // An outbound reply is the last message now: from the key's user, pending.
    let reply = app
        .api()
        .post("/v1/messages", json!({"conversationId": conversation, "content": {"type": "text", "text": "Hi!"}}))
        .await
        .expect(201)
        .id();
    let m = info(&app, &conversation).await["last_message"].clone();
    assert_eq!(m["id"], reply.as_str());
    assert_eq!((&m["delivery_state"], &m["from_contact"]), (&json!("pending"), &json!(false)));
    assert_eq!(m["sender"]["name"], "Ana Admin");
    assert_eq!(m["sender"]["avatar_url"], Value::Null);
    assert!(uuid::Uuid::parse_str(m["sender"]["id"].as_str().unwrap()).is_ok());
    // A connector's report moves the delivery state: sent is Airy's delivered, failed is failed.
    app.api().patch(&format!("/v1/messages/{reply}/status"), json!({"status": "sent"})).await.expect(200);
    assert_eq!(info(&app, &conversation).await["last_message"]["delivery_state"], "delivered");
    app.api()
        .patch(&format!("/v1/messages/{reply}/status"), json!({"status": "failed", "error": "x"}))
        .await
        .expect(200);
    assert_eq!(info(&app, &conversation).await["last_message"]["delivery_state"], "failed");
}

#[tokio::test]
async fn a_conversation_without_messages_contact_name_contact_or_channel_renders_airys_defaults() {
    let app = TestApp::spawn().await;
    // A contact without a name: "<PrettySource> <last 5 characters of the id>".
    let channel = app.channel("SMS", "sms").await;
    let id = v1_conversation(&app, json!({"channelId": channel, "contact": {"phone": "+15550001006"}})).await;
    let c = info(&app, &id).await;
    let suffix = id[id.len() - 5..].to_string();
    assert_eq!(c["last_message"], Value::Null);
    assert_eq!(c["channel"]["source"], "sms");
    assert_eq!(c["channel"]["source_channel_id"], channel.as_str());
    assert_eq!(
        c["metadata"],
        json!({
            "contact": {"display_name": format!("Sms {suffix}"), "avatar_url": null},
            "tags": {},
            "state": "OPEN",
            "unread_count": 0,
            "user_data": {},
        })
    );
    // Without a contact, and without a channel (deleted, which closed it): the same default, from
    // the channel type the conversation keeps.
    drop_contact(&app, &id).await;
    let r = app.api().delete(&format!("/v1/channels/{channel}?force=true")).await;
    assert!(r.status == 200 || r.status == 204, "{}", r.text);
    let c = info(&app, &id).await;
    assert_eq!(c["channel"], Value::Null);
    assert_eq!(c["metadata"]["contact"], json!({"display_name": format!("Sms {suffix}"), "avatar_url": null}));
    assert_eq!(c["metadata"]["state"], "CLOSED");
}

#[tokio::test]
async fn an_unknown_conversation_is_an_empty_404_everywhere_but_mark_read() {
    let app = TestApp::spawn().await;
    let tag_id = tag(&app, "vip", "tag-red").await;
    let id = uuid::Uuid::now_v7().to_string();
    for (path, body) in [
        ("/conversations.info", json!({"conversation_id": id})),
        ("/conversations.tag", json!({"conversation_id": id, "tag_id": tag_id})),
        ("/conversations.untag", json!({"conversation_id": id, "tag_id": tag_id})),
        ("/conversations.set-state", json!({"conversation_id": id, "state": "CLOSED"})),
        ("/conversations.setState", json!({"conversation_id": id, "state": "ESCALATED"})),
        ("/conversations.remove-state", json!({"conversation_id": id})),
        ("/conversations.removeState", json!({"conversation_id": id})),
        ("/conversations.update-contact", json!({"conversation_id": id, "display_name": "Grace"})),
        ("/conversations.updateContact", json!({"conversation_id": id, "display_name": "Grace"})),
        ("/conversations.refetch", json!({"conversation_id": id})),
    ] {
        empty(&airy(&app, path, body).await, 404);
    }
    empty(&airy(&app, "/conversations.mark-read", json!({"conversation_id": id})).await, 204);
}

// ---------------------------------------------------------------------------------------------
// mark-read, tag, untag

#[tokio::test]
async fn mark_read_reads_every_inbound_message_and_is_204_for_any_id() {
    let app = TestApp::spawn().await;
    let channel = app.channel("WA", "whatsapp").await;
    let (conversation, first) = inbound(&app, &channel, "+15550001007", "Ann", "one").await;
    inbound(&app, &channel, "+15550001007", "Ann", "two").await;
    assert_eq!(info(&app, &conversation).await["metadata"]["unread_count"], 2);
    let r = airy(&app, "/conversations.mark-read", json!({"conversation_id": conversation})).await;
    empty(&r, 204);
    assert_eq!(info(&app, &conversation).await["metadata"]["unread_count"], 0);
    assert_eq!(v1(&app, &conversation).await["unreadCount"], 0);
    let m = app.api().get(&format!("/v1/messages/{first}")).await;
    assert_eq!(m.expect(200).attrs()["status"], "read");
    // Again: nothing left to read, still 204.
    empty(&airy(&app, "/conversations.mark-read", json!({"conversation_id": conversation})).await, 204);
    // A new message is unread again.
    inbound(&app, &channel, "+15550001007", "Ann", "three").await;
    assert_eq!(info(&app, &conversation).await["metadata"]["unread_count"], 1);
}

#[tokio::test]
async fn tag_and_untag_work_by_id_and_show_by_name_in_v1() {
    let app = TestApp::spawn().await;
    let id = v1_conversation(&app, json!({"tags": ["existing"]})).await;
    let vip = tag(&app, "vip", "tag-red").await;
    let urgent = tag(&app, "urgent", "tag-purple").await;
    let t = |tag: &str| json!({"conversation_id": id, "tag_id": tag});
    empty(&airy(&app, "/conversations.tag", t(&vip)).await, 204);
    empty(&airy(&app, "/conversations.tag", t(&urgent)).await, 204);
    // Tagging twice changes nothing (one event per actual change).
    let before = count(&event_types(&app, &id).await, "conversation.updated");
    empty(&airy(&app, "/conversations.tag", t(&vip)).await, 204);
    assert_eq!(count(&event_types(&app, &id).await, "conversation.updated"), before);
    assert_eq!(v1(&app, &id).await["tags"], json!(["existing", "vip", "urgent"]));
    let tags = info(&app, &id).await["metadata"]["tags"].clone();
    assert_eq!(tags.as_object().unwrap().len(), 3);
    assert_eq!((&tags[&vip], &tags[&urgent]), (&json!(""), &json!("")));
    empty(&airy(&app, "/conversations.untag", t(&vip)).await, 204);
    // Untagging a tag it lacks, or an unknown tag, is a no-op.
    empty(&airy(&app, "/conversations.untag", t(&vip)).await, 204);
    empty(&airy(&app, "/conversations.untag", t(&uuid::Uuid::now_v7().to_string())).await, 204);
    assert_eq!(v1(&app, &id).await["tags"], json!(["existing", "urgent"]));
    assert!(info(&app, &id).await["metadata"]["tags"].get(&vip).is_none());
    // An unknown tag cannot be attached: 404 with a message (the conversation's 404 is empty).
    let r = airy(&app, "/conversations.tag", t(&uuid::Uuid::now_v7().to_string())).await;
    assert!(message(&r, 404).starts_with("Tag not found"));
    assert_eq!(v1(&app, &id).await["tags"], json!(["existing", "urgent"]));
}

// ---------------------------------------------------------------------------------------------
// set-state, remove-state

#[tokio::test]
async fn closed_and_open_in_any_case_are_the_core_close_and_reopen() {
    let app = TestApp::spawn().await;
    let channel = app.channel("WA", "whatsapp").await;
    let (id, _) = inbound(&app, &channel, "+15550001008", "Ann", "hi").await;
    let set = |state: &str| json!({"conversation_id": id, "state": state});
    empty(&airy(&app, "/conversations.set-state", set("closed")).await, 204);
    let c = v1(&app, &id).await;
    assert_eq!(c["status"], "closed");
    assert_eq!(c["closedBy"]["name"], "Ana Admin");
    assert!(c["closedAt"].is_string());
    assert_eq!(info(&app, &id).await["metadata"]["state"], "CLOSED");
    // Closing a closed conversation is a no-op here (no 409, no second event).
    empty(&airy(&app, "/conversations.set-state", set("CLOSED")).await, 204);
    assert_eq!(count(&event_types(&app, &id).await, "conversation.closed"), 1);
    empty(&airy(&app, "/conversations.setState", set("Open")).await, 204);
    let c = v1(&app, &id).await;
    assert_eq!(c["status"], "open");
    assert_eq!(c["reopenedBy"]["name"], "Ana Admin");
    assert_eq!(info(&app, &id).await["metadata"]["state"], "OPEN");
    empty(&airy(&app, "/conversations.set-state", set("OPEN")).await, 204);
    let events = event_types(&app, &id).await;
    assert_eq!((count(&events, "conversation.closed"), count(&events, "conversation.reopened")), (1, 1));
}

#[tokio::test]
async fn open_leaves_a_pending_or_snoozed_conversation_as_it_is() {
    let app = TestApp::spawn().await;
    let id = v1_conversation(&app, json!({})).await;
    app.api().patch(&format!("/v1/conversations/{id}"), json!({"status": "pending"})).await.expect(200);
    assert_eq!(info(&app, &id).await["metadata"]["state"], "OPEN");
    empty(&airy(&app, "/conversations.set-state", json!({"conversation_id": id, "state": "OPEN"})).await, 204);
    assert_eq!(v1(&app, &id).await["status"], "pending");
    // CLOSED closes it from any active status.
    empty(&airy(&app, "/conversations.set-state", json!({"conversation_id": id, "state": "CLOSED"})).await, 204);
    assert_eq!(v1(&app, &id).await["status"], "closed");
}

#[tokio::test]
async fn a_custom_state_is_a_label_beside_the_status_and_remove_state_removes_only_it() {
    let app = TestApp::spawn().await;
    let id = v1_conversation(&app, json!({})).await;
    let set = |state: &str| json!({"conversation_id": id, "state": state});
    empty(&airy(&app, "/conversations.set-state", set(" Waiting for customer ")).await, 204);
    assert_eq!(info(&app, &id).await["metadata"]["state"], "Waiting for customer");
    assert_eq!(v1(&app, &id).await["status"], "open");
    let events = event_types(&app, &id).await;
    assert_eq!(events.last().map(String::as_str), Some("conversation.updated"));
    // The same label again changes nothing.
    empty(&airy(&app, "/conversations.set-state", set("Waiting for customer")).await, 204);
    assert_eq!(event_types(&app, &id).await.len(), events.len());
    empty(&airy(&app, "/conversations.remove-state", json!({"conversation_id": id})).await, 204);
    assert_eq!(info(&app, &id).await["metadata"]["state"], "OPEN");
    assert_eq!(v1(&app, &id).await["status"], "open");
    // A label on a closed conversation, then remove-state: CLOSED again.
    empty(&airy(&app, "/conversations.set-state", set("CLOSED")).await, 204);
    empty(&airy(&app, "/conversations.set-state", set("ARCHIVED")).await, 204);
    assert_eq!(info(&app, &id).await["metadata"]["state"], "ARCHIVED");
    assert_eq!(v1(&app, &id).await["status"], "closed");
    empty(&airy(&app, "/conversations.removeState", json!({"conversation_id": id})).await, 204);
    assert_eq!(info(&app, &id).await["metadata"]["state"], "CLOSED");
    // OPEN and CLOSED clear a label: set one, then reopen.
    empty(&airy(&app, "/conversations.set-state", set("ARCHIVED")).await, 204);
    empty(&airy(&app, "/conversations.set-state", set("open")).await, 204);
    assert_eq!(info(&app, &id).await["metadata"]["state"], "OPEN");
    empty(&airy(&app, "/conversations.set-state", set("ESCALATED")).await, 204);
    empty(&airy(&app, "/conversations.set-state", set("CLOSED")).await, 204);
    assert_eq!(info(&app, &id).await["metadata"]["state"], "CLOSED");
    // The label is in the event snapshot, for every face to render.
    empty(&airy(&app, "/conversations.set-state", set("VIP")).await, 204);
    let ctx = admin_ctx(&app).await;
    let page =
        app.store.conversation_events(&ctx, id.parse().unwrap(), PageRequest { page: 1, per_page: 200 }).await.unwrap();
    assert_eq!(page.items.last().unwrap().snapshot["state_label"], "VIP");
}

#[tokio::test]
async fn reopening_beside_another_active_conversation_is_409_with_a_message() {
    let app = TestApp::spawn().await;
    let channel = app.channel("WA", "whatsapp").await;
    let (first, _) = inbound(&app, &channel, "+15550001009", "Ann", "one").await;
    empty(&airy(&app, "/conversations.set-state", json!({"conversation_id": first, "state": "CLOSED"})).await, 204);
    let (second, _) = inbound(&app, &channel, "+15550001009", "Ann", "two").await;
    assert_ne!(first, second);
    let r = airy(&app, "/conversations.set-state", json!({"conversation_id": first, "state": "OPEN"})).await;
    assert!(!message(&r, 409).is_empty());
    assert_eq!(v1(&app, &first).await["status"], "closed");
    // A label needs no reopen.
    empty(&airy(&app, "/conversations.set-state", json!({"conversation_id": first, "state": "DONE"})).await, 204);
}

// ---------------------------------------------------------------------------------------------
// update-contact, refetch

#[tokio::test]
async fn update_contact_renames_the_shared_contact() {
    let app = TestApp::spawn().await;
    let whatsapp = app.channel("WA", "whatsapp").await;
    let sms = app.channel("SMS", "sms").await;
    let (on_whatsapp, _) = inbound(&app, &whatsapp, "+15550001010", "Ann", "hi").await;
    let (on_sms, _) = inbound(&app, &sms, "+15550001010", "Ann", "hi").await;
    let body = json!({"conversation_id": on_whatsapp, "display_name": "  Grace Hopper "});
    empty(&airy(&app, "/conversations.update-contact", body).await, 204);
    let c = v1(&app, &on_whatsapp).await;
    assert_eq!(c["contact"]["name"], "Grace Hopper");
    let contact = app.api().get(&format!("/v1/contacts/{}", c["contact"]["id"].as_str().unwrap())).await;
    assert_eq!(contact.expect(200).attrs()["name"], "Grace Hopper");
    // The contact is shared: its other conversation shows the name too.
    assert_eq!(info(&app, &on_sms).await["metadata"]["contact"]["display_name"], "Grace Hopper");
    let alias = json!({"conversation_id": on_sms, "display_name": "Grace B. Hopper"});
    empty(&airy(&app, "/conversations.updateContact", alias).await, 204);
    assert_eq!(info(&app, &on_whatsapp).await["metadata"]["contact"]["display_name"], "Grace B. Hopper");
    // A conversation without a contact gets one.
    let bare = v1_conversation(&app, json!({})).await;
    drop_contact(&app, &bare).await;
    let body = json!({"conversation_id": bare, "display_name": "Ada"});
    empty(&airy(&app, "/conversations.update-contact", body).await, 204);
    let c = v1(&app, &bare).await;
    assert_eq!(c["contact"]["name"], "Ada");
    assert_eq!(info(&app, &bare).await["metadata"]["contact"]["display_name"], "Ada");
    assert_eq!(event_types(&app, &bare).await.last().map(String::as_str), Some("conversation.updated"));
}

#[tokio::test]
async fn refetch_is_202_and_asks_connectors_for_the_contacts_profile() {
    let app = TestApp::spawn().await;
    let channel = app.channel("WA", "whatsapp").await;
    let (id, _) = inbound(&app, &channel, "+15550001011", "Ann", "hi").await;
    empty(&airy(&app, "/conversations.refetch", json!({"conversation_id": id})).await, 202);
    let ctx = admin_ctx(&app).await;
    let page = app.store.conversation_events(&ctx, id.parse().unwrap(), PageRequest { page: 1, per_page: 50 }).await;
    let event = page.unwrap().items.into_iter().last().unwrap();
    assert_eq!(event.event_type.as_str(), "contact.refetch_requested");
    let contact_id = v1(&app, &id).await["contact"]["id"].as_str().unwrap().to_string();
    assert_eq!(event.subject_id.to_string(), contact_id);
    assert_eq!(event.snapshot["phone"], "+15550001011");
    assert_eq!(event.data["channelId"], channel.as_str());
    // Nothing to re-fetch without a contact: 202, no event.
    let bare = v1_conversation(&app, json!({})).await;
    drop_contact(&app, &bare).await;
    let before = event_types(&app, &bare).await;
    empty(&airy(&app, "/conversations.refetch", json!({"conversation_id": bare})).await, 202);
    assert_eq!(event_types(&app, &bare).await, before);
}

// ---------------------------------------------------------------------------------------------
// tags.*

#[tokio::test]
async fn tags_create_is_201_and_validates_name_colour_and_uniqueness() {
    let app = TestApp::spawn().await;
    let r = airy(&app, "/tags.create", json!({"name": " Urgent ", "color": "tag-red"})).await;
    r.expect(201);
    assert_eq!(r.body.as_object().unwrap().len(), 3);
    assert_eq!((&r.body["name"], &r.body["color"]), (&json!("Urgent"), &json!("tag-red")));
    assert!(uuid::Uuid::parse_str(r.body["id"].as_str().unwrap()).is_ok());
    let colour = "Tag color must be one of [tag-blue, tag-red, tag-green, tag-purple]";
    assert_eq!(message(&airy(&app, "/tags.create", json!({"name": "a", "color": "red"})).await, 400), colour);
    assert_eq!(message(&airy(&app, "/tags.create", json!({"name": "a"})).await, 400), colour);
    invalid(&airy(&app, "/tags.create", json!({"color": "tag-red"})).await, "name");
    invalid(&airy(&app, "/tags.create", json!({"name": " ", "color": "tag-red"})).await, "name");
    invalid(&airy(&app, "/tags.create", json!({"name": "x".repeat(101), "color": "tag-red"})).await, "name");
    let r = airy(&app, "/tags.create", json!({"name": "Urgent", "color": "tag-blue"})).await;
    assert!(message(&r, 409).contains("Urgent"));
    // The tag is /v1's tag too.
    let v1_tags = app.api().get("/v1/tags").await;
    assert_eq!(v1_tags.expect(200).body["data"][0]["attributes"]["color"], "tag-red");
}

#[tokio::test]
async fn tags_list_update_and_delete() {
    let app = TestApp::spawn().await;
    let b = tag(&app, "billing", "tag-green").await;
    let a = tag(&app, "Account", "tag-blue").await;
    let r = airy(&app, "/tags.list", json!({})).await;
    r.expect(200);
    assert_eq!(
        r.body,
        json!({"data": [{"id": a, "name": "Account", "color": "tag-blue"}, {"id": b, "name": "billing", "color": "tag-green"}]})
    );
    // A rename shows by name in /v1's conversations at once; ids are unchanged.
    let conversation = v1_conversation(&app, json!({"tags": ["billing"]})).await;
    empty(&airy(&app, "/tags.update", json!({"id": b, "name": "invoices"})).await, 204);
    assert_eq!(v1(&app, &conversation).await["tags"], json!(["invoices"]));
    assert!(info(&app, &conversation).await["metadata"]["tags"].get(&b).is_some());
    assert_eq!(event_types(&app, &conversation).await.last().map(String::as_str), Some("conversation.updated"));
    empty(&airy(&app, "/tags.update", json!({"id": b, "color": "tag-purple"})).await, 204);
    let listed = airy(&app, "/tags.list", json!({})).await.body;
    assert_eq!(listed["data"][1], json!({"id": b, "name": "invoices", "color": "tag-purple"}));
    // Nothing given: 204, nothing changed.
    empty(&airy(&app, "/tags.update", json!({"id": b})).await, 204);
    let colour = "Tag color must be one of [tag-blue, tag-red, tag-green, tag-purple]";
    assert_eq!(message(&airy(&app, "/tags.update", json!({"id": b, "color": "purple"})).await, 400), colour);
    invalid(&airy(&app, "/tags.update", json!({"id": b, "name": ""})).await, "name");
    invalid(&airy(&app, "/tags.update", json!({"name": "x"})).await, "id");
    assert!(message(&airy(&app, "/tags.update", json!({"id": b, "name": "Account"})).await, 409).contains("Account"));
    let unknown = uuid::Uuid::now_v7().to_string();
    empty(&airy(&app, "/tags.update", json!({"id": unknown, "name": "x"})).await, 404);
    assert_eq!(airy(&app, "/tags.list", json!({})).await.body, listed);
    // Delete: the tag leaves its conversations; a second delete is 404.
    empty(&airy(&app, "/tags.delete", json!({"id": b})).await, 204);
    empty(&airy(&app, "/tags.delete", json!({"id": b})).await, 404);
    assert_eq!(v1(&app, &conversation).await["tags"], json!([]));
    assert_eq!(info(&app, &conversation).await["metadata"]["tags"], json!({}));
    assert_eq!(airy(&app, "/tags.list", json!({})).await.body["data"].as_array().unwrap().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// channels.*

#[tokio::test]
async fn channels_list_shows_the_active_channels_filtered_by_source() {
    let app = TestApp::spawn().await;
    let wa = app.channel("WA", "whatsapp").await;
    let sms = app.channel("SMS", "sms").await;
    let off = app.channel("Old", "sms").await;
    app.api().post(&format!("/v1/channels/{off}/deactivate"), json!({})).await.expect(200);
    let r = airy(&app, "/channels.list", json!({})).await;
    r.expect(200);
    let ids: Vec<&str> = r.body["data"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&wa.as_str()) && ids.contains(&sms.as_str()));
    assert!(r.body["data"].as_array().unwrap().iter().all(|c| c["connected"] == true));
    let r = airy(&app, "/channels.list", json!({"source": "sms"})).await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["data"][0]["id"], sms.as_str());
    assert_eq!(airy(&app, "/channels.list", json!({"source": "twilio.sms"})).await.body, json!({"data": []}));
}

#[tokio::test]
async fn channels_info_and_update_see_active_channels_only() {
    let app = TestApp::spawn().await;
    let id = app.channel("Support", "facebook").await;
    let r = airy(&app, "/channels.info", json!({"channel_id": id})).await;
    r.expect(200);
    assert_eq!(
        r.body,
        json!({"id": id, "source": "facebook", "source_channel_id": id, "connected": true,
               "metadata": {"name": "Support"}})
    );
    let r =
        airy(&app, "/channels.update", json!({"channel_id": id, "name": "Help", "image_url": "https://x.test/a.png"}))
            .await;
    r.expect(200);
    assert_eq!(r.body["metadata"], json!({"name": "Help", "image_url": "https://x.test/a.png"}));
    let v1_channel = app.api().get(&format!("/v1/channels/{id}")).await;
    let attrs = v1_channel.expect(200).attrs().clone();
    assert_eq!((&attrs["name"], &attrs["metadata"]["image_url"]), (&json!("Help"), &json!("https://x.test/a.png")));
    // Only the image: the name stays; null removes the image.
    let r = airy(&app, "/channels.update", json!({"channel_id": id, "image_url": null})).await;
    assert_eq!(r.expect(200).body["metadata"], json!({"name": "Help"}));
    invalid(&airy(&app, "/channels.update", json!({"channel_id": id, "name": " "})).await, "name");
    invalid(&airy(&app, "/channels.update", json!({"name": "x"})).await, "channel_id");
    let unknown = uuid::Uuid::now_v7().to_string();
    empty(&airy(&app, "/channels.info", json!({"channel_id": unknown})).await, 404);
    empty(&airy(&app, "/channels.update", json!({"channel_id": unknown, "name": "x"})).await, 404);
    app.api().post(&format!("/v1/channels/{id}/deactivate"), json!({})).await.expect(200);
    empty(&airy(&app, "/channels.info", json!({"channel_id": id})).await, 404);
    empty(&airy(&app, "/channels.update", json!({"channel_id": id, "name": "x"})).await, 404);
    assert_eq!(app.api().get(&format!("/v1/channels/{id}")).await.attrs()["name"], "Help");
    // A conversation still shows its inactive channel, as not connected.
    app.api().post(&format!("/v1/channels/{id}/activate"), json!({})).await.expect(200);
    let conversation = v1_conversation(&app, json!({"channelId": id})).await;
    app.api().post(&format!("/v1/channels/{id}/deactivate"), json!({})).await.expect(200);
    let c = info(&app, &conversation).await;
    assert_eq!((&c["channel"]["id"], &c["channel"]["connected"]), (&json!(id), &json!(false)));
}

// ---------------------------------------------------------------------------------------------
// metadata.upsert

#[tokio::test]
async fn metadata_upsert_on_a_conversation_is_its_user_data_and_v1_metadata_both_ways() {
    let app = TestApp::spawn().await;
    let id = v1_conversation(&app, json!({"metadata": {"source": "web", "erp": {"id": "abc", "region": "eu"}}})).await;
    assert_eq!(
        info(&app, &id).await["metadata"]["user_data"],
        json!({"source": "web", "erp": {"id": "abc", "region": "eu"}})
    );
    let body = json!({"subject": "conversation", "id": id, "data": {"erp": {"id": "xyz"}, "seq": 42, "list": [1, 2], "source": null}});
    empty(&airy(&app, "/metadata.upsert", body).await, 204);
    let expected = json!({"erp": {"id": "xyz", "region": "eu"}, "seq": 42, "list": [1, 2]});
    assert_eq!(info(&app, &id).await["metadata"]["user_data"], expected);
    assert_eq!(v1(&app, &id).await["metadata"], expected);
    app.api()
        .patch(&format!("/v1/conversations/{id}"), json!({"metadata": {"list": [3], "vip": true}}))
        .await
        .expect(200);
    let user_data = info(&app, &id).await["metadata"]["user_data"].clone();
    assert_eq!((&user_data["list"], &user_data["vip"]), (&json!([3]), &json!(true)));
    // An upsert that changes nothing appends no event.
    let before = event_types(&app, &id).await.len();
    empty(
        &airy(&app, "/metadata.upsert", json!({"subject": "conversation", "id": id, "data": {"vip": true}})).await,
        204,
    );
    assert_eq!(event_types(&app, &id).await.len(), before);
}

#[tokio::test]
async fn metadata_upsert_on_a_message_or_a_channel_goes_under_their_user_data() {
    let app = TestApp::spawn().await;
    let channel = app.channel("WA", "whatsapp").await;
    let (conversation, message_id) = inbound(&app, &channel, "+15550001012", "Ann", "hi").await;
    let body = json!({"subject": "message", "id": message_id, "data": {"sentiment": {"score": 0.9}}});
    empty(&airy(&app, "/metadata.upsert", body).await, 204);
    let body = json!({"subject": "message", "id": message_id, "data": {"sentiment": {"label": "happy"}}});
    empty(&airy(&app, "/metadata.upsert", body).await, 204);
    let expected = json!({"user_data": {"sentiment": {"score": 0.9, "label": "happy"}}});
    assert_eq!(info(&app, &conversation).await["last_message"]["metadata"], expected);
    let m = app.api().get(&format!("/v1/messages/{message_id}")).await;
    assert_eq!(m.expect(200).attrs()["metadata"], expected);
    assert_eq!(count(&event_types(&app, &conversation).await, "message.updated"), 2);
    let body = json!({"subject": "channel", "id": channel, "data": {"team": "sales"}});
    empty(&airy(&app, "/metadata.upsert", body).await, 204);
    let c = airy(&app, "/channels.info", json!({"channel_id": channel})).await;
    assert_eq!(c.body["metadata"], json!({"name": "WA", "user_data": {"team": "sales"}}));
    assert_eq!(info(&app, &conversation).await["channel"]["metadata"]["user_data"]["team"], "sales");
}

#[tokio::test]
async fn metadata_upsert_validates_and_checks_that_the_subject_exists() {
    let app = TestApp::spawn().await;
    let id = v1_conversation(&app, json!({})).await;
    let up = |body: Value| airy(&app, "/metadata.upsert", body);
    invalid(&up(json!({"id": id, "data": {}})).await, "subject");
    invalid(&up(json!({"subject": "contact", "id": id, "data": {}})).await, "subject");
    invalid(&up(json!({"subject": "conversation", "data": {}})).await, "id");
    invalid(&up(json!({"subject": "conversation", "id": "c-1", "data": {}})).await, "id");
    invalid(&up(json!({"subject": "conversation", "id": id})).await, "data");
    invalid(&up(json!({"subject": "conversation", "id": id, "data": [1]})).await, "data");
    invalid(&up(json!({"subject": "conversation", "id": id, "data": "x"})).await, "data");
    let mut deep = json!(1);
    for _ in 0..20 {
        deep = json!({ "d": deep });
    }
    invalid(&up(json!({"subject": "conversation", "id": id, "data": deep})).await, "data");
    let unknown = uuid::Uuid::now_v7().to_string();
    for subject in ["conversation", "message", "channel"] {
        empty(&up(json!({"subject": subject, "id": unknown, "data": {"a": 1}})).await, 404);
    }
    let off = app.channel("Old", "sms").await;
    app.api().post(&format!("/v1/channels/{off}/deactivate"), json!({})).await.expect(200);
    empty(&up(json!({"subject": "channel", "id": off, "data": {"a": 1}})).await, 404);
    assert_eq!(info(&app, &id).await["metadata"]["user_data"], json!({}));
}

// ---------------------------------------------------------------------------------------------
// The same conversation through both faces (issue #3, item 7)

#[tokio::test]
async fn a_conversation_reads_the_same_through_airy_and_v1() {
    let app = TestApp::spawn().await;
    let channel = app.channel("WhatsApp", "whatsapp").await;
    let id = v1_conversation(
        &app,
        json!({"channelId": channel, "contact": {"name": "Maria", "phone": "+15550001013"}, "metadata": {"plan": "pro"}}),
    )
    .await;
    // Messages: two inbound from the contact (into this conversation), one reply.
    let (into, _) = inbound(&app, &channel, "+15550001013", "Maria", "Hello").await;
    assert_eq!(into, id);
    inbound(&app, &channel, "+15550001013", "Maria", "Anyone there?").await;
    let reply = app
        .api()
        .post(
            "/v1/messages",
            json!({"conversationId": id, "content": {"type": "text", "text": "Yes, how can I help?"}}),
        )
        .await
        .expect(201)
        .id();
    // Tags by name through /v1, one more by id through Airy.
    app.api().post(&format!("/v1/conversations/{id}/tags"), json!({"tags": ["vip", "billing"]})).await.expect(200);
    let urgent = tag(&app, "urgent", "tag-red").await;
    empty(&airy(&app, "/conversations.tag", json!({"conversation_id": id, "tag_id": urgent})).await, 204);
    // Closed through Airy, renamed through Airy, user_data both ways.
    empty(&airy(&app, "/conversations.set-state", json!({"conversation_id": id, "state": "CLOSED"})).await, 204);
    empty(
        &airy(&app, "/conversations.update-contact", json!({"conversation_id": id, "display_name": "Maria Silva"}))
            .await,
        204,
    );
    let upsert = json!({"subject": "conversation", "id": id, "data": {"erp": {"id": "E-1"}}});
    empty(&airy(&app, "/metadata.upsert", upsert).await, 204);
    app.api().patch(&format!("/v1/conversations/{id}"), json!({"metadata": {"score": 7}})).await.expect(200);

    let v = v1(&app, &id).await;
    let a = info(&app, &id).await;
    // Status.
    assert_eq!(v["status"], "closed");
    assert_eq!(a["metadata"]["state"], "CLOSED");
    // Tags: /v1's names are the tags of Airy's ids.
    let tags = airy(&app, "/tags.list", json!({})).await.body["data"].as_array().unwrap().clone();
    let mut named: Vec<String> = a["metadata"]["tags"]
        .as_object()
        .unwrap()
        .keys()
        .map(|tid| tags.iter().find(|t| t["id"] == tid.as_str()).unwrap()["name"].as_str().unwrap().to_string())
        .collect();
    named.sort();
    let mut v1_tags: Vec<String> = serde_json::from_value(v["tags"].clone()).unwrap();
    v1_tags.sort();
    assert_eq!(named, v1_tags);
    assert_eq!(v1_tags, ["billing", "urgent", "vip"]);
    // Unread count, contact name, last message.
    assert_eq!(v["unreadCount"], 2);
    assert_eq!(a["metadata"]["unread_count"], v["unreadCount"]);
    assert_eq!(v["contact"]["name"], "Maria Silva");
    assert_eq!(a["metadata"]["contact"]["display_name"], v["contact"]["name"]);
    assert_eq!(a["last_message"]["id"], reply.as_str());
    assert_eq!(a["last_message"]["id"], v["lastMessage"]["id"]);
    assert_eq!(a["last_message"]["content"]["text"], "Yes, how can I help?");
    assert_eq!(a["last_message"]["content"]["text"], v["lastMessage"]["content"]["text"]);
    // user_data is /v1's metadata, both ways.
    assert_eq!(a["metadata"]["user_data"], json!({"plan": "pro", "erp": {"id": "E-1"}, "score": 7}));
    assert_eq!(a["metadata"]["user_data"], v["metadata"]);
    // Reading through Airy shows in /v1, and reopening through /v1 shows in Airy.
    empty(&airy(&app, "/conversations.mark-read", json!({"conversation_id": id})).await, 204);
    assert_eq!(v1(&app, &id).await["unreadCount"], 0);
    app.api().post(&format!("/v1/conversations/{id}/reopen"), json!({})).await.expect(200);
    assert_eq!(info(&app, &id).await["metadata"]["state"], "OPEN");
    app.api().delete(&format!("/v1/conversations/{id}/tags/vip")).await;
    let a = info(&app, &id).await;
    assert_eq!(a["metadata"]["tags"].as_object().unwrap().len(), 2);
    assert_eq!(a["metadata"]["unread_count"], 0);
}
