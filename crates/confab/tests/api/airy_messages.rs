//! Airy's `messages.list`, `messages.send` and `messages.resend` (`reference/airy.md` §6, DESIGN.md
//! "Faces"), and how Airy payloads read through /v1 and back.

use crate::support::{Resp, TestApp};
use confab_core::model::{Actor, Ctx, PageRequest};
use confab_core::ConversationId;
use serde_json::{json, Value};
use std::collections::BTreeSet;

// ---------------------------------------------------------------------------------------------
// Helpers

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

/// An inbound text; returns (conversation id, message id).
async fn inbound(app: &TestApp, channel: &str, phone: &str, text: &str) -> (String, String) {
    let r = app
        .api()
        .post(
            &format!("/v1/channels/{channel}/inbound"),
            json!({"sender": {"phone": phone, "name": "Grace Hopper"}, "content": {"type": "text", "text": text}}),
        )
        .await;
    r.expect(201);
    (r.attrs()["conversationId"].as_str().unwrap().to_string(), r.id())
}

async fn send(app: &TestApp, body: Value) -> Resp {
    app.api().post("/messages.send", body).await
}

/// Sends `{"text": text}` to the conversation; returns the message id.
async fn reply(app: &TestApp, conversation: &str, text: &str) -> String {
    let r = send(app, json!({"conversation_id": conversation, "message": {"text": text}})).await;
    r.expect(200);
    r.body["id"].as_str().unwrap().to_string()
}

async fn list(app: &TestApp, body: Value) -> Resp {
    app.api().post("/messages.list", body).await
}

#[track_caller]
fn ids(r: &Resp) -> Vec<String> {
    assert_eq!(r.status, 200, "body: {}", r.text);
    r.body["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_string()).collect()
}

/// `GET /v1/messages/{id}`'s attributes.
async fn v1_message(app: &TestApp, id: &str) -> Value {
    app.api().get(&format!("/v1/messages/{id}")).await.expect(200).attrs().clone()
}

/// The event types of a conversation, oldest first.
async fn event_types(app: &TestApp, id: &str) -> Vec<String> {
    let hash = confab_api::auth::hash_key(&app.key);
    let p = app.store.principal_by_key_hash(&hash).await.unwrap().expect("the admin key resolves");
    let ctx = Ctx { tenant: p.tenant_id, actor: Actor::user(p.user_id, p.user_name) };
    let id: ConversationId = id.parse().unwrap();
    let page = app.store.conversation_events(&ctx, id, PageRequest { page: 1, per_page: 200 }).await.unwrap();
    page.items.iter().map(|e| e.event_type.as_str().to_string()).collect()
}

fn count(events: &[String], event: &str) -> usize {
    events.iter().filter(|e| *e == event).count()
}

// ---------------------------------------------------------------------------------------------
// messages.list

#[tokio::test]
async fn messages_list_pages_newest_first_with_message_id_cursors() {
    let app = TestApp::spawn().await;
    let channel = app.channel("WA", "whatsapp").await;
    let (conversation, first) = inbound(&app, &channel, "+15550005001", "m0").await;
    let mut sent = vec![first];
    for i in 1..25 {
        let id = if i % 3 == 0 {
            reply(&app, &conversation, &format!("m{i}")).await
        } else {
            inbound(&app, &channel, "+15550005001", &format!("m{i}")).await.1
        };
        sent.push(id);
    }
    let newest_first: Vec<String> = sent.iter().rev().cloned().collect();
    // The default page: 20, newest first; the cursor of the next page is its first message.
    let r = list(&app, json!({"conversation_id": conversation})).await;
    assert_eq!(ids(&r), newest_first[..20]);
    assert_eq!(
        r.body["pagination_data"],
        json!({"previous_cursor": null, "next_cursor": newest_first[20], "total": 25})
    );
    let r = list(&app, json!({"conversation_id": conversation, "cursor": newest_first[20]})).await;
    assert_eq!(ids(&r), newest_first[20..]);
    assert_eq!(
        r.body["pagination_data"],
        json!({"previous_cursor": newest_first[20], "next_cursor": null, "total": 25})
    );
    // Following next_cursor with another size visits every message once.
    let (mut seen, mut cursor) = (Vec::new(), Value::Null);
    loop {
        let r = list(&app, json!({"conversation_id": conversation, "cursor": cursor, "page_size": 7})).await;
        assert_eq!(ids(&r).len(), 7.min(25 - seen.len()));
        seen.extend(ids(&r));
        match r.body["pagination_data"]["next_cursor"].clone() {
            Value::Null => break,
            next => cursor = next,
        }
    }
    assert_eq!(seen, newest_first);
    // The newest message is the conversation's last_message, rendered alike.
    let r = list(&app, json!({"conversation_id": conversation, "page_size": 1})).await;
    let info = app.api().post("/conversations.info", json!({"conversation_id": conversation})).await;
    assert_eq!(r.body["data"][0], info.body["last_message"]);
    // page_size 0 or less is Airy's 10; a string is a number too.
    for size in [json!(0), json!(-4)] {
        assert_eq!(ids(&list(&app, json!({"conversation_id": conversation, "page_size": size})).await).len(), 10);
    }
    assert_eq!(ids(&list(&app, json!({"conversation_id": conversation, "page_size": "3"})).await).len(), 3);
    assert_eq!(ids(&list(&app, json!({"conversation_id": conversation, "page_size": 1000})).await).len(), 25);
    invalid(&list(&app, json!({"conversation_id": conversation, "page_size": 1001})).await, "page_size");
    invalid(&list(&app, json!({"conversation_id": conversation, "page_size": "many"})).await, "page_size");
}

#[tokio::test]
async fn messages_list_renders_airys_message_json() {
    let app = TestApp::spawn().await;
    let channel = app.channel("WA", "whatsapp").await;
    let (conversation, inbound_id) = inbound(&app, &channel, "+15550005002", "Hello").await;
    let outbound_id = reply(&app, &conversation, "Hi there").await;
    let contact = app.api().get(&format!("/v1/conversations/{conversation}")).await.attrs()["contact"]["id"].clone();
    let r = list(&app, json!({"conversation_id": conversation})).await;
    let data = r.body["data"].as_array().unwrap();
    assert_eq!(ids(&r), [outbound_id.clone(), inbound_id.clone()]);
    for m in data {
        let keys: BTreeSet<&str> = m.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["content", "delivery_state", "from_contact", "id", "metadata", "sender", "sent_at", "source"].into()
        );
        airy_time(&m["sent_at"]);
        assert_eq!((&m["source"], &m["metadata"]), (&json!("whatsapp"), &json!({})));
    }
    let (out, inb) = (&data[0], &data[1]);
    assert_eq!(out["content"], json!({"text": "Hi there"}));
    assert_eq!((&out["delivery_state"], &out["from_contact"]), (&json!("pending"), &json!(false)));
    assert_eq!(out["sender"]["name"], "Ana Admin");
    assert_eq!(inb["content"], json!({"text": "Hello"}));
    assert_eq!((&inb["delivery_state"], &inb["from_contact"]), (&json!("delivered"), &json!(true)));
    assert_eq!(inb["sender"], json!({"id": contact, "name": "Grace Hopper", "avatar_url": null}));
}

#[tokio::test]
async fn messages_list_refuses_unknown_conversations_and_foreign_cursors() {
    let app = TestApp::spawn().await;
    let channel = app.channel("WA", "whatsapp").await;
    let (conversation, _) = inbound(&app, &channel, "+15550005003", "one").await;
    let (other, foreign) = inbound(&app, &channel, "+15550005004", "two").await;
    assert_ne!(conversation, other);
    empty(&list(&app, json!({"conversation_id": uuid::Uuid::now_v7()})).await, 404);
    invalid(&list(&app, json!({})).await, "conversation_id");
    invalid(&list(&app, json!({"conversation_id": "c_1"})).await, "conversation_id");
    invalid(&list(&app, json!({"conversation_id": conversation, "cursor": "not-an-id"})).await, "cursor");
    // A message of another conversation, or none at all, is not a cursor of this one.
    for cursor in [foreign, uuid::Uuid::now_v7().to_string()] {
        let m = message(&list(&app, json!({"conversation_id": conversation, "cursor": cursor})).await, 400);
        assert!(m.contains("cursor") && m.contains("not a message of this conversation"), "{m}");
    }
    // An empty cursor is the first page.
    assert_eq!(ids(&list(&app, json!({"conversation_id": conversation, "cursor": ""})).await).len(), 1);
    // Another tenant's conversation is not found; a key without messages:read is refused.
    let globex = app.as_key(&app.new_key("globex", "Gil", "admin").await);
    empty(&globex.post("/messages.list", json!({"conversation_id": conversation})).await, 404);
    let conversations_only = app.new_key("acme", "Reader", "conversations:read").await;
    empty(&app.as_key(&conversations_only).post("/messages.list", json!({"conversation_id": conversation})).await, 403);
    let reader = app.new_key("acme", "Messages", "messages:read").await;
    app.as_key(&reader).post("/messages.list", json!({"conversation_id": conversation})).await.expect(200);
}

// ---------------------------------------------------------------------------------------------
// messages.send

#[tokio::test]
async fn messages_send_to_a_conversation_answers_the_pending_message_from_the_keys_user() {
    let app = TestApp::spawn().await;
    let channel = app.channel("WA", "whatsapp").await;
    let (conversation, _) = inbound(&app, &channel, "+15550005010", "Hi").await;
    let r = send(&app, json!({"conversation_id": conversation, "message": {"text": "Hello"}})).await;
    r.expect(200);
    let m = &r.body;
    let id = m["id"].as_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    airy_time(&m["sent_at"]);
    let user = app.api().get(&format!("/v1/messages/{id}")).await.attrs()["from"]["id"].clone();
    assert_eq!(
        *m,
        json!({
            "id": id, "content": {"text": "Hello"}, "sent_at": m["sent_at"], "delivery_state": "pending",
            "from_contact": false, "source": "whatsapp", "metadata": {},
            "sender": {"id": user, "name": "Ana Admin", "avatar_url": null},
        })
    );
    // /v1 sees a text message; Airy reads it back as its payload, as the last message too.
    let v = v1_message(&app, &id).await;
    assert_eq!(
        (&v["content"], &v["direction"], &v["status"]),
        (&json!({"type": "text", "text": "Hello"}), &json!("outbound"), &json!("pending"))
    );
    let info = app.api().post("/conversations.info", json!({"conversation_id": conversation})).await;
    assert_eq!(info.body["last_message"], *m);
    assert_eq!(count(&event_types(&app, &conversation).await, "message.sent"), 1);
    // Text is searchable through /v1 like any text.
    let found = app.api().get("/v1/messages?search=hello").await;
    assert_eq!(found.body["data"][0]["id"], id.as_str());
}

#[tokio::test]
async fn any_other_payload_is_kept_whole_and_rendered_back_as_sent() {
    let app = TestApp::spawn().await;
    let channel = app.channel("WA", "whatsapp").await;
    let (conversation, _) = inbound(&app, &channel, "+15550005011", "Hi").await;
    for payload in [
        json!({"attachment": {"type": "image", "payload": {"url": "https://example.com/a.png"}}}),
        json!({"text": "Pick one", "quick_replies": [{"title": "Yes"}]}),
        json!("a bare string"),
        json!([1, {"two": 2}]),
        json!(42),
    ] {
        let r = send(&app, json!({"conversation_id": conversation, "message": payload})).await;
        r.expect(200);
        assert_eq!(r.body["content"], payload);
        let id = r.body["id"].as_str().unwrap();
        assert_eq!(v1_message(&app, id).await["content"], json!({"type": "custom", "payload": payload}));
        let listed = list(&app, json!({"conversation_id": conversation, "page_size": 1})).await;
        assert_eq!(listed.body["data"][0]["content"], payload);
    }
    // A Linktor type sent through /v1 shows as Confab's content object.
    let image = json!({"type": "image", "url": "https://example.com/b.png", "caption": "Receipt"});
    app.api().post("/v1/messages", json!({"conversationId": conversation, "content": image})).await.expect(201);
    let listed = list(&app, json!({"conversation_id": conversation, "page_size": 1})).await;
    assert_eq!(listed.body["data"][0]["content"], image);
}

#[tokio::test]
async fn messages_send_to_an_address_starts_or_reuses_the_contacts_conversation() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let to = json!({"channel_id": channel, "source_recipient_id": "+15550005020", "message": {"text": "Hi"}});
    let r = send(&app, to.clone()).await;
    r.expect(200);
    assert_eq!((&r.body["source"], &r.body["delivery_state"]), (&json!("sms"), &json!("pending")));
    let conversation = v1_message(&app, r.body["id"].as_str().unwrap()).await["conversationId"].clone();
    let again = send(&app, to).await;
    again.expect(200);
    assert_eq!(v1_message(&app, again.body["id"].as_str().unwrap()).await["conversationId"], conversation);
    let c = app.api().post("/conversations.info", json!({"conversation_id": conversation})).await;
    assert_eq!(c.body["last_message"]["id"], again.body["id"]);
    assert_eq!(c.body["channel"]["id"], channel.as_str());
    // An email address works the same; anything else is 400 naming the field.
    let email = app.channel("Mail", "email").await;
    send(&app, json!({"channel_id": email, "source_recipient_id": "Ops@Example.com", "message": {"text": "Hi"}}))
        .await
        .expect(200);
    let bad = json!({"channel_id": channel, "source_recipient_id": "psid-123", "message": {"text": "Hi"}});
    invalid(&send(&app, bad).await, "source_recipient_id");
    // With conversation_id too, the conversation wins.
    let both = json!({"conversation_id": conversation, "channel_id": email, "source_recipient_id": "x",
                      "message": {"text": "There"}});
    let r = send(&app, both).await;
    r.expect(200);
    assert_eq!(r.body["source"], "sms");
}

#[tokio::test]
async fn messages_send_refuses_what_cannot_be_delivered() {
    let app = TestApp::spawn().await;
    let channel = app.channel("WA", "whatsapp").await;
    let (conversation, _) = inbound(&app, &channel, "+15550005030", "Hi").await;
    let text = json!({"text": "Hello"});
    // Unknown conversation: 404 (Confab is strongly consistent).
    empty(&send(&app, json!({"conversation_id": uuid::Uuid::now_v7(), "message": text})).await, 404);
    // Unknown channel of an address: 403, as Airy.
    let unknown = json!({"channel_id": uuid::Uuid::now_v7(), "source_recipient_id": "+15550005031", "message": text});
    empty(&send(&app, unknown).await, 403);
    // An inactive channel: 403, both forms.
    app.api().post(&format!("/v1/channels/{channel}/deactivate"), json!({})).await.expect(200);
    empty(&send(&app, json!({"conversation_id": conversation, "message": text})).await, 403);
    let to = json!({"channel_id": channel, "source_recipient_id": "+15550005032", "message": text});
    empty(&send(&app, to).await, 403);
    app.api().post(&format!("/v1/channels/{channel}/activate"), json!({})).await.expect(200);
    send(&app, json!({"conversation_id": conversation, "message": text})).await.expect(200);
    // A conversation whose channel is gone: nothing can deliver it.
    let r = app.api().delete(&format!("/v1/channels/{channel}?force=true")).await;
    assert!(r.status == 200 || r.status == 204, "{}", r.text);
    empty(&send(&app, json!({"conversation_id": conversation, "message": text})).await, 403);
    // Another tenant's conversation is not found.
    let globex = app.as_key(&app.new_key("globex", "Gil", "admin").await);
    empty(&globex.post("/messages.send", json!({"conversation_id": conversation, "message": text})).await, 404);
}

#[tokio::test]
async fn messages_send_validates_its_request() {
    let app = TestApp::spawn().await;
    let channel = app.channel("WA", "whatsapp").await;
    let (conversation, _) = inbound(&app, &channel, "+15550005040", "Hi").await;
    let c = conversation.as_str();
    invalid(&send(&app, json!({})).await, "message");
    invalid(&send(&app, json!({"conversation_id": c})).await, "message");
    invalid(&send(&app, json!({"conversation_id": c, "message": null})).await, "message");
    invalid(&send(&app, json!({"message": {"text": "x"}})).await, "conversation_id");
    invalid(&send(&app, json!({"conversation_id": "c_1", "message": {"text": "x"}})).await, "conversation_id");
    invalid(&send(&app, json!({"channel_id": channel, "message": {"text": "x"}})).await, "source_recipient_id");
    invalid(&send(&app, json!({"source_recipient_id": "+15550005041", "message": {"text": "x"}})).await, "channel_id");
    let m = json!({"channel_id": "ch", "source_recipient_id": "+15550005041", "message": {"text": "x"}});
    invalid(&send(&app, m).await, "channel_id");
    invalid(&send(&app, json!({"conversation_id": c, "message": {"text": "  "}})).await, "message.text");
    invalid(&send(&app, json!({"conversation_id": c, "message": {"text": "x".repeat(4097)}})).await, "message.text");
    // Nothing was sent by any of it.
    assert_eq!(count(&event_types(&app, c).await, "message.sent"), 0);
    // messages:write is needed, and checked before the body.
    let reader = app.new_key("acme", "Reader", "messages:read").await;
    empty(
        &app.as_key(&reader).post("/messages.send", json!({"conversation_id": c, "message": {"text": "x"}})).await,
        403,
    );
    empty(&app.as_key(&reader).post("/messages.send", json!({})).await, 403);
    let writer = app.new_key("acme", "Writer", "messages:write").await;
    app.as_key(&writer)
        .post("/messages.send", json!({"conversation_id": c, "message": {"text": "x"}}))
        .await
        .expect(200);
}

// ---------------------------------------------------------------------------------------------
// messages.resend

#[tokio::test]
async fn a_failed_message_is_resent_as_a_new_pending_send() {
    let app = TestApp::spawn().await;
    let channel = app.channel("WA", "whatsapp").await;
    let (conversation, inbound_id) = inbound(&app, &channel, "+15550005050", "Hi").await;
    let id = reply(&app, &conversation, "Hello").await;
    let resend = |id: String| {
        let app = &app;
        async move { app.api().post("/messages.resend", json!({"message_id": id})).await }
    };
    // Pending (and inbound) messages have not failed.
    assert_eq!(message(&resend(id.clone()).await, 409), "Message is not in a failed state");
    assert_eq!(message(&resend(inbound_id).await, 409), "Message is not in a failed state");
    app.api().patch(&format!("/v1/messages/{id}/status"), json!({"status": "sent"})).await.expect(200);
    app.api()
        .patch(&format!("/v1/messages/{id}/status"), json!({"status": "failed", "error": "number unreachable"}))
        .await
        .expect(200);
    let listed = list(&app, json!({"conversation_id": conversation, "page_size": 1})).await;
    assert_eq!(listed.body["data"][0]["delivery_state"], "failed");
    // Resent: 200, empty; pending again, error cleared, the history keeps the failure.
    empty(&resend(id.clone()).await, 200);
    let v = v1_message(&app, &id).await;
    assert_eq!(
        (&v["status"], &v["error"], &v["failedAt"], &v["sentAt"]),
        (&json!("pending"), &Value::Null, &Value::Null, &Value::Null)
    );
    let history: Vec<&str> =
        v["statusHistory"].as_array().unwrap().iter().map(|s| s["status"].as_str().unwrap()).collect();
    assert_eq!(history, ["pending", "sent", "failed", "pending"]);
    assert_eq!(v["statusHistory"][2]["error"], "number unreachable");
    let listed = list(&app, json!({"conversation_id": conversation, "page_size": 1})).await;
    assert_eq!(listed.body["data"][0]["delivery_state"], "pending");
    // Announced again as message.sent, for connectors to deliver.
    let events = event_types(&app, &conversation).await;
    assert_eq!((count(&events, "message.sent"), count(&events, "message.failed")), (2, 1));
    // Not failed any more; a connector's reports move it on as before.
    assert_eq!(message(&resend(id.clone()).await, 409), "Message is not in a failed state");
    app.api().patch(&format!("/v1/messages/{id}/status"), json!({"status": "delivered"})).await.expect(200);
    let listed = list(&app, json!({"conversation_id": conversation, "page_size": 1})).await;
    assert_eq!(listed.body["data"][0]["delivery_state"], "delivered");
}

#[tokio::test]
async fn resend_refuses_unknown_messages_and_bad_requests() {
    let app = TestApp::spawn().await;
    let channel = app.channel("WA", "whatsapp").await;
    let (conversation, _) = inbound(&app, &channel, "+15550005060", "Hi").await;
    let id = reply(&app, &conversation, "Hello").await;
    app.api().patch(&format!("/v1/messages/{id}/status"), json!({"status": "failed"})).await.expect(200);
    empty(&app.api().post("/messages.resend", json!({"message_id": uuid::Uuid::now_v7()})).await, 404);
    invalid(&app.api().post("/messages.resend", json!({})).await, "message_id");
    invalid(&app.api().post("/messages.resend", json!({"message_id": "m_1"})).await, "message_id");
    let globex = app.as_key(&app.new_key("globex", "Gil", "admin").await);
    empty(&globex.post("/messages.resend", json!({"message_id": id})).await, 404);
    let reader = app.new_key("acme", "Reader", "messages:read").await;
    empty(&app.as_key(&reader).post("/messages.resend", json!({"message_id": id})).await, 403);
    // None of it resent the message.
    assert_eq!(v1_message(&app, &id).await["status"], "failed");
    let writer = app.new_key("acme", "Writer", "messages:write").await;
    empty(&app.as_key(&writer).post("/messages.resend", json!({"message_id": id})).await, 200);
}
