//! Airy's webhook subscriptions (`webhooks.subscribe`, `.update`, `.unsubscribe`, `.list`,
//! `.info`) and what they deliver (the `airy` format): payload shapes of the four event types,
//! `X-Airy-Content-Signature` when there is a `signature_key`, none without.

use crate::support::{header, hex_encode, receiver, Received, Receiver, Resp, TestApp};
use serde_json::{json, Value};

#[track_caller]
fn empty(r: &Resp, status: u16) {
    assert_eq!((r.status, r.text.as_str()), (status, ""), "expected an empty {status}");
}

/// Asserts a 400 `{"message"}` naming `field`.
#[track_caller]
fn invalid(r: &Resp, field: &str) {
    assert_eq!(r.status, 400, "body: {}", r.text);
    let m = r.body["message"].as_str().unwrap_or_else(|| panic!("no message in {}", r.text));
    assert!(m.contains(field), "{m:?} does not name {field}");
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

/// The deliveries of `r` whose `type` is `t`, waiting (at most 15 s) for at least one.
async fn of_type(r: &Receiver, t: &str) -> Vec<Value> {
    let start = std::time::Instant::now();
    loop {
        let got: Vec<Value> = r.got.lock().unwrap().iter().map(Received::json).filter(|j| j["type"] == t).collect();
        if !got.is_empty() || start.elapsed() > std::time::Duration::from_secs(15) {
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// No member of the object is `null`.
#[track_caller]
fn no_nulls(v: &Value) {
    let obj = v.as_object().unwrap_or_else(|| panic!("not an object: {v}"));
    assert!(obj.values().all(|v| !v.is_null()), "a null in {v}");
}

#[tokio::test]
async fn subscribe_update_list_info_and_unsubscribe_round_trip() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let r = api
        .post(
            "/webhooks.subscribe",
            json!({"url": "https://hooks.example.com/airy", "name": "CRM", "events": ["message.created", "conversation.updated"],
                   "headers": {"X-Custom-Header": "token"}, "signature_key": "s3cret"}),
        )
        .await;
    r.expect(200);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        r.body,
        json!({"id": id, "name": "CRM", "url": "https://hooks.example.com/airy",
               "events": ["message.created", "conversation.updated"], "headers": {"X-Custom-Header": "token"},
               "status": "Subscribed"})
    );
    let info = api.post("/webhooks.info", json!({"id": id})).await;
    info.expect(200);
    assert_eq!(info.body, r.body, "info shows what subscribe answered (never the signature key)");

    // update changes only what it is given; `events: []` is every event (the key is then omitted).
    let u = api.post("/webhooks.update", json!({"id": id, "name": "CRM 2", "events": []})).await;
    u.expect(200);
    assert_eq!(
        u.body,
        json!({"id": id, "name": "CRM 2", "url": "https://hooks.example.com/airy",
               "headers": {"X-Custom-Header": "token"}, "status": "Subscribed"})
    );

    // subscribe with the id of an existing subscription replaces it whole.
    let again = api.post("/webhooks.subscribe", json!({"id": id, "url": "https://hooks.example.com/v2"})).await;
    again.expect(200);
    assert_eq!(again.body, json!({"id": id, "url": "https://hooks.example.com/v2", "status": "Subscribed"}));

    // A subscription of another format (made at /v1) is not an Airy one.
    let linktor =
        api.post("/v1/webhooks", json!({"url": "https://hooks.example.com/l", "events": ["message.received"]})).await;
    linktor.expect(201);
    let linktor_id = linktor.id();
    empty(&api.post("/webhooks.info", json!({"id": linktor_id})).await, 404);
    empty(&api.post("/webhooks.update", json!({"id": linktor_id, "name": "x"})).await, 404);
    empty(&api.post("/webhooks.unsubscribe", json!({"id": linktor_id})).await, 404);

    // An id that names no subscription creates one with a new id.
    let unknown = uuid::Uuid::now_v7().to_string();
    let created = api.post("/webhooks.subscribe", json!({"id": unknown, "url": "https://hooks.example.com/3"})).await;
    created.expect(200);
    let second = created.body["id"].as_str().unwrap().to_string();
    assert_ne!(second, unknown);

    let list = api.post_empty("/webhooks.list").await;
    list.expect(200);
    let ids: Vec<&str> = list.body["data"].as_array().unwrap().iter().map(|w| w["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [id.as_str(), second.as_str()], "only Airy subscriptions, oldest first");

    let un = api.post("/webhooks.unsubscribe", json!({"id": id})).await;
    un.expect(200);
    assert_eq!(un.body["status"], "Unsubscribed");
    assert_eq!(api.post("/webhooks.info", json!({"id": id})).await.body["status"], "Unsubscribed");
    assert_eq!(api.post("/webhooks.unsubscribe", json!({"id": id})).await.body["status"], "Unsubscribed");
    let re = api.post("/webhooks.update", json!({"id": id, "status": "Subscribed"})).await;
    assert_eq!(re.body["status"], "Subscribed", "{}", re.text);
}

#[tokio::test]
async fn validation_errors_name_their_fields_and_auth_failures_are_empty_403s() {
    let app = TestApp::spawn().await;
    let api = app.api();
    invalid(&api.post("/webhooks.subscribe", json!({})).await, "url");
    invalid(&api.post("/webhooks.subscribe", json!({"url": "ftp://hooks.example.com"})).await, "url");
    invalid(&api.post("/webhooks.subscribe", json!({"url": 5})).await, "url");
    let bad_events = api
        .post("/webhooks.subscribe", json!({"url": "https://hooks.example.com", "events": ["message.received"]}))
        .await;
    invalid(&bad_events, "events");
    invalid(
        &api.post("/webhooks.subscribe", json!({"url": "https://h.example.com", "headers": {"a": 1}})).await,
        "headers",
    );
    invalid(&api.post("/webhooks.subscribe", json!({"url": "https://h.example.com", "id": "nope"})).await, "id");
    invalid(&api.post("/webhooks.update", json!({})).await, "id");
    invalid(&api.post("/webhooks.update", json!({"id": "nope"})).await, "id");
    invalid(&api.post("/webhooks.info", json!({})).await, "id");
    invalid(&api.post("/webhooks.unsubscribe", json!({"id": 3})).await, "id");
    let unknown = uuid::Uuid::now_v7().to_string();
    empty(&api.post("/webhooks.update", json!({"id": unknown})).await, 404);
    empty(&api.post("/webhooks.info", json!({"id": unknown})).await, 404);
    empty(&api.post("/webhooks.unsubscribe", json!({"id": unknown})).await, 404);

    let id = api.post("/webhooks.subscribe", json!({"url": "https://h.example.com"})).await.body["id"].clone();
    invalid(&api.post("/webhooks.update", json!({"id": id, "status": "Paused"})).await, "status");
    invalid(&api.post("/webhooks.update", json!({"id": id, "url": "http://"})).await, "url");
    invalid(&api.post("/webhooks.update", json!({"id": id, "events": ["nope"]})).await, "events");

    // Scopes: webhooks:read lists, webhooks:write subscribes; every auth failure is an empty 403.
    let reader = app.as_key(&app.new_key("acme", "Rita Reader", "webhooks:read").await);
    reader.post_empty("/webhooks.list").await.expect(200);
    reader.post("/webhooks.info", json!({"id": id})).await.expect(200);
    empty(&reader.post("/webhooks.subscribe", json!({"url": "https://h.example.com"})).await, 403);
    empty(&reader.post("/webhooks.unsubscribe", json!({"id": id})).await, 403);
    let other = app.as_key(&app.new_key("acme", "Otto Other", "conversations:read").await);
    empty(&other.post_empty("/webhooks.list").await, 403);
    empty(&app.anonymous().post_empty("/webhooks.list").await, 403);
    // Another organisation does not see it.
    let stranger = app.as_key(&app.new_key("globex", "Gus", "admin").await);
    empty(&stranger.post("/webhooks.info", json!({"id": id})).await, 404);
}

#[tokio::test]
async fn deliveries_are_signed_with_the_signature_key_and_unsigned_without_one() {
    let app = TestApp::spawn().await;
    let (signed, unsigned) = (receiver(0).await, receiver(0).await);
    let api = app.api();
    api.post(
        "/webhooks.subscribe",
        json!({"url": signed.url, "events": ["message.created"], "signature_key": "s3cret",
               "headers": {"X-Custom-Header": "token"}}),
    )
    .await
    .expect(200);
    api.post("/webhooks.subscribe", json!({"url": unsigned.url, "events": ["message.created"]})).await.expect(200);

    let channel = app.channel("WhatsApp", "whatsapp").await;
    let (conversation, message) = inbound(&app, &channel, "+5511999990001", "Hello").await;

    let got = signed.wait_for(1).await;
    assert_eq!(got.len(), 1, "one delivery to the signed subscription");
    let expected = hex_encode(&confab_events::webhooks::hmac_sha256(b"s3cret", &got[0].body));
    assert_eq!(header(&got[0], "x-airy-content-signature"), expected);
    assert_eq!(header(&got[0], "x-custom-header"), "token");
    assert_eq!(header(&got[0], "content-type"), "application/json");

    let plain = unsigned.wait_for(1).await;
    assert_eq!(plain.len(), 1, "one delivery to the unsigned subscription");
    assert!(plain[0].headers.get("x-airy-content-signature").is_none(), "no signature without a key");
    // Airy's body has no event id: the header carries it, the same event's for both subscriptions.
    let event_id = header(&got[0], "x-confab-event-id");
    assert!(uuid::Uuid::parse_str(event_id).is_ok(), "{event_id}");
    assert_eq!(header(&plain[0], "x-confab-event-id"), event_id);

    let body = got[0].json();
    assert_eq!(body["type"], "message.created");
    assert!(body["timestamp"].is_i64(), "{body}");
    let p = &body["payload"];
    assert_eq!((p["conversation_id"].as_str(), p["channel_id"].as_str()), (Some(&*conversation), Some(&*channel)));
    let m = &p["message"];
    assert_eq!(m["id"], message);
    assert_eq!(m["content"], json!({"text": "Hello"}));
    assert_eq!((m["delivery_state"].as_str(), m["from_contact"].as_bool()), (Some("delivered"), Some(true)));
    assert!(m.get("metadata").is_none(), "message.created carries no metadata: {m}");
    assert_eq!(m["sender"].as_object().unwrap().keys().collect::<Vec<_>>(), ["id"]);
    assert!(m["sent_at"].as_str().is_some_and(|s| s.len() == 24 && s.ends_with('Z')), "{m}");
    assert_eq!(plain[0].json()["payload"], body["payload"], "the same payload either way");
}

#[tokio::test]
async fn each_event_type_has_airys_payload() {
    let app = TestApp::spawn().await;
    let hook = receiver(0).await;
    let api = app.api();
    api.post("/webhooks.subscribe", json!({"url": hook.url})).await.expect(200);

    // channel.updated
    let channel = app.channel("Support line", "whatsapp").await;
    let ch = of_type(&hook, "channel.updated").await;
    assert_eq!(
        ch.first().map(|c| &c["payload"]),
        Some(&json!({"id": channel, "source": "whatsapp", "source_channel_id": channel,
                     "metadata": {"name": "Support line"}, "connected": true}))
    );

    // conversation.updated (a new conversation, then its tags and state) and message.created
    let (conversation, message) = inbound(&app, &channel, "+5511999990002", "Hi there").await;
    let conv = of_type(&hook, "conversation.updated").await;
    let c = &conv.first().expect("a conversation.updated")["payload"];
    no_nulls(c);
    assert_eq!(c["id"], conversation);
    assert_eq!(c["channel_id"], channel);
    assert!(c.get("channel").is_none(), "the channel as its id: {c}");
    assert!(c["created_at"].as_str().is_some_and(|s| s.ends_with('Z')));
    assert_eq!(c["metadata"]["contact"]["display_name"], "Grace Hopper");
    assert_eq!(c["metadata"]["state"], "OPEN");
    assert!(c["metadata"]["tags"].is_object() && c["metadata"]["user_data"].is_object(), "{c}");

    let created = of_type(&hook, "message.created").await;
    let p = &created.first().expect("a message.created")["payload"];
    assert_eq!(p["message"]["id"], message);
    assert_eq!(p["message"]["source"], "whatsapp", "the channel type, from the message snapshot");

    // message.updated: metadata written on the message.
    api.post("/metadata.upsert", json!({"subject": "message", "id": message, "data": {"rating": "good"}}))
        .await
        .expect(204);
    let updated = of_type(&hook, "message.updated").await;
    let p = &updated.first().expect("a message.updated")["payload"];
    no_nulls(p);
    assert_eq!(p["conversation_id"], conversation);
    assert_eq!(p["message"]["metadata"]["user_data"]["rating"], "good");
    assert_eq!(p["message"]["sender"].as_object().unwrap().keys().collect::<Vec<_>>(), ["id"]);

    // The conversation's tags and state reach conversation.updated.
    let tag = api.post("/tags.create", json!({"name": "vip", "color": "tag-red"})).await.body["id"].clone();
    api.post("/conversations.tag", json!({"conversation_id": conversation, "tag_id": tag})).await.expect(204);
    let start = std::time::Instant::now();
    let tagged = loop {
        let all = of_type(&hook, "conversation.updated").await;
        if let Some(t) = all.iter().find(|c| c["payload"]["metadata"]["tags"].get(tag.as_str().unwrap()).is_some()) {
            break t.clone();
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(15), "no conversation.updated with the tag");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let last = &tagged["payload"]["last_message"];
    assert_eq!(last["id"], message, "{tagged}");
    no_nulls(last);
}

#[tokio::test]
async fn tags_have_events_of_their_own_with_the_tag_as_snapshot() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let tag = api.post("/tags.create", json!({"name": "vip", "color": "tag-red"})).await;
    tag.expect(201);
    let id = tag.body["id"].as_str().unwrap().to_string();
    api.post("/tags.update", json!({"id": id, "color": "tag-green"})).await.expect(204);
    // Nothing changes: no event.
    api.post("/tags.update", json!({"id": id, "color": "tag-green"})).await.expect(204);
    api.post("/tags.delete", json!({"id": id})).await.expect(204);

    let hash = confab_api::auth::hash_key(&app.key);
    let tenant = app.store.principal_by_key_hash(&hash).await.unwrap().expect("the admin key resolves").tenant_id;
    // On PostgreSQL the relay positions events shortly after their commit: wait for all three.
    let start = std::time::Instant::now();
    let events = loop {
        let events = app.store.events_after(tenant, 0, 1000).await.unwrap();
        let n = events.iter().filter(|e| e.event_type.subject_kind() == "tag").count();
        if n >= 3 || start.elapsed() > std::time::Duration::from_secs(15) {
            break events;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let tags: Vec<(&str, &Value)> = events
        .iter()
        .filter(|e| e.event_type.subject_kind() == "tag")
        .map(|e| (e.event_type.as_str(), &e.snapshot))
        .collect();
    let kinds: Vec<&str> = tags.iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds, ["tag.created", "tag.updated", "tag.deleted"]);
    assert!(tags.iter().all(|(_, s)| s["id"] == id && s["name"] == "vip"), "{tags:?}");
    assert_eq!(tags[0].1["color"], "tag-red");
    assert_eq!(tags[1].1["color"], "tag-green");
}
