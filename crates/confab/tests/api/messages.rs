//! /v1/messages (send, list, get, read, bulk-read, delete, status reports),
//! /v1/conversations/{id}/messages (cursor pages), `includeMessages`, and the message a transfer
//! with `notifyContact` sends.

use crate::conversation_actions::{admin_id, at, conversation_on, user, Conv};
use crate::support::{Resp, TestApp};
use confab_core::model::{Actor, Ctx, InboundMessage, InboundSender, JsonMap};
use confab_core::ChannelId;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashSet;

// ---------------------------------------------------------------------------------------------
// Fixtures

/// The store context of a key (for inbound messages, which come from connectors).
async fn ctx_of(app: &TestApp, key: &str) -> Ctx {
    let hash = confab_api::auth::hash_key(key);
    let p = app.store.principal_by_key_hash(&hash).await.unwrap().expect("the key resolves");
    Ctx { tenant: p.tenant_id, actor: Actor::user(p.user_id, p.user_name) }
}

/// An inbound text message from `from` (a phone) on `channel` of `acme`; returns the message id and
/// its conversation's id.
async fn inbound(app: &TestApp, channel: &str, from: &str, text: &str) -> (String, String) {
    let ctx = ctx_of(app, &app.key).await;
    let content: JsonMap = json!({"type": "text", "text": text}).as_object().unwrap().clone();
    let new = InboundMessage {
        channel_id: channel.parse::<ChannelId>().unwrap(),
        external_id: None,
        sender: InboundSender { phone: Some(from.to_string()), ..InboundSender::default() },
        content,
        metadata: JsonMap::new(),
        sent_at: None,
    };
    let ingested = app.store.ingest_inbound(&ctx, new).await.expect("an inbound message");
    (ingested.message.id.to_string(), ingested.message.conversation_id.to_string())
}

fn text(t: &str) -> Value {
    json!({"type": "text", "text": t})
}

/// Sends a text into a conversation; asserts 201.
async fn send_in(app: &TestApp, conversation: &str, t: &str) -> Resp {
    let r = app.api().post("/v1/messages", json!({"conversationId": conversation, "content": text(t)})).await;
    r.expect(201);
    r
}

/// Sends a text to an address on a channel; asserts 201.
async fn send_to(app: &TestApp, channel: &str, to: &str, t: &str) -> Resp {
    let r = app.api().post("/v1/messages", json!({"channelId": channel, "to": to, "content": text(t)})).await;
    r.expect(201);
    r
}

/// The conversation's attributes as `GET /v1/conversations/{id}` shows them.
async fn conv(app: &TestApp, id: &str) -> Value {
    let r = app.api().get(&format!("/v1/conversations/{id}")).await;
    r.expect(200);
    r.attrs().clone()
}

/// The ids of a list response, in order.
fn ids(r: &Resp) -> Vec<String> {
    r.expect(200);
    r.body["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_string()).collect()
}

/// Owned copies of ids, to compare with [`ids`].
fn v(xs: &[&String]) -> Vec<String> {
    xs.iter().map(|s| s.to_string()).collect()
}

/// The texts of a list response, in order.
fn texts(r: &Resp) -> Vec<String> {
    r.expect(200);
    r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["attributes"]["content"]["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn sms(app: &TestApp) -> String {
    app.channel("SMS", "sms").await
}

// ---------------------------------------------------------------------------------------------
// POST /v1/messages

#[tokio::test]
async fn sending_to_an_address_creates_the_contact_and_conversation_and_a_second_send_reuses_them() {
    let app = TestApp::spawn().await;
    let channel = sms(&app).await;
    let me = admin_id(&app).await;
    let r = send_to(&app, &channel, "+1 (555) 000-1111", "Hello from Acme").await;
    let a = r.attrs();
    assert_eq!(r.body["data"]["type"], "message");
    assert_eq!(a["direction"], "outbound");
    assert_eq!(a["status"], "pending");
    assert_eq!(a["channelId"], channel.as_str());
    assert_eq!(a["from"], json!({"type": "user", "id": me, "name": "Ana Admin"}));
    assert_eq!(a["content"], text("Hello from Acme"));
    assert_eq!(a["metadata"], json!({}));
    assert_eq!(a["statusHistory"].as_array().unwrap().len(), 1);
    assert_eq!(a["statusHistory"][0]["status"], "pending");
    assert!(a["createdAt"].is_string());
    for unset in ["sentAt", "deliveredAt", "readAt", "externalId", "error"] {
        assert_eq!(a[unset], Value::Null, "{unset}");
    }
    let conversation = a["conversationId"].as_str().unwrap().to_string();
    let c = conv(&app, &conversation).await;
    assert_eq!(c["contact"]["phone"], "+15550001111");
    assert_eq!(c["channel"]["id"], channel.as_str());
    assert_eq!(c["status"], "open");
    assert_eq!((c["messageCount"].as_i64(), c["unreadCount"].as_i64()), (Some(1), Some(0)));
    assert_eq!(c["firstMessageAt"], a["createdAt"]);
    assert_eq!(c["lastMessageAt"], a["createdAt"]);

    // The same phone, spelled differently: the same contact and conversation.
    let again = send_to(&app, &channel, "+15550001111", "Are you there?").await;
    assert_eq!(again.attrs()["conversationId"], conversation.as_str());
    let c = conv(&app, &conversation).await;
    assert_eq!(c["messageCount"], 2);
    assert_eq!(c["firstMessageAt"], a["createdAt"]);
    assert_eq!(c["lastMessageAt"], again.attrs()["createdAt"]);
    let contacts = app.api().get("/v1/contacts").await;
    assert_eq!(contacts.expect(200).body["meta"]["pagination"]["totalCount"], 1);
    let conversations = app.api().get("/v1/conversations").await;
    assert_eq!(conversations.expect(200).body["meta"]["pagination"]["totalCount"], 1);

    // An email address is lower-cased and makes another contact.
    let r = send_to(&app, &channel, "Ann@Example.COM", "Hi Ann").await;
    let other = r.attrs()["conversationId"].as_str().unwrap().to_string();
    assert_ne!(other, conversation);
    assert_eq!(conv(&app, &other).await["contact"]["email"], "ann@example.com");
}

#[tokio::test]
async fn a_closed_conversation_is_not_reused_by_a_send_to_an_address() {
    let app = TestApp::spawn().await;
    let channel = sms(&app).await;
    let first = send_to(&app, &channel, "+15550001111", "One").await.attrs()["conversationId"].clone();
    let first = first.as_str().unwrap();
    app.api().post_empty(&at(first, "close")).await.expect(200);
    let second = send_to(&app, &channel, "+15550001111", "Two").await.attrs()["conversationId"].clone();
    assert_ne!(second.as_str().unwrap(), first);
    assert_eq!(conv(&app, first).await["messageCount"], 1);
}

#[tokio::test]
async fn sending_into_a_conversation_by_id_needs_no_channel_and_checks_a_given_one() {
    let app = TestApp::spawn().await;
    let channel = sms(&app).await;
    let other_channel = sms(&app).await;
    let c = conversation_on(&app, &channel).await;
    let r = send_in(&app, &c.id, "First").await;
    assert_eq!(r.attrs()["conversationId"], c.id.as_str());
    assert_eq!(r.attrs()["channelId"], channel.as_str());
    let with_channel = json!({"conversationId": c.id, "channelId": channel.to_uppercase(), "content": text("Second"), "to": "ignored"});
    app.api().post("/v1/messages", with_channel).await.expect(201);
    for wrong in [other_channel.as_str(), "ch_123"] {
        let r = app
            .api()
            .post("/v1/messages", json!({"conversationId": c.id, "channelId": wrong, "content": text("x")}))
            .await;
        r.expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.error_fields(), ["channelId"], "{wrong}");
    }
    assert_eq!(conv(&app, &c.id).await["messageCount"], 2);
}

#[tokio::test]
async fn every_content_type_is_accepted_with_what_it_needs() {
    let app = TestApp::spawn().await;
    let c = conversation_on(&app, &sms(&app).await).await;
    let contents = [
        json!({"type": "text", "text": "Hi", "quickReplies": [{"id": "y", "title": "Yes"}]}),
        json!({"type": "image", "url": "https://cdn.example.com/a.png", "caption": "Receipt"}),
        json!({"type": "document", "url": "https://cdn.example.com/a.pdf", "filename": "a.pdf"}),
        json!({"type": "audio", "url": "https://cdn.example.com/a.ogg"}),
        json!({"type": "video", "url": "https://cdn.example.com/a.mp4", "caption": "Demo"}),
        json!({"type": "location", "latitude": -23.55, "longitude": -46.63, "name": "Office"}),
        json!({"type": "buttons", "text": "Pick one", "buttons": [{"type": "reply", "id": "a", "title": "A"}, {"type": "url", "title": "Site", "url": "https://example.com"}]}),
        json!({"type": "template", "template": {"name": "order_update", "language": "en", "components": [{"type": "body", "parameters": []}]}}),
    ];
    for content in contents {
        let r = app
            .api()
            .post("/v1/messages", json!({"conversationId": c.id, "content": content, "metadata": {"campaign": "q1"}}))
            .await;
        r.expect(201);
        assert_eq!(r.attrs()["content"], content);
        assert_eq!(r.attrs()["metadata"], json!({"campaign": "q1"}));
    }
    let listed = app.api().get(&format!("/v1/messages?conversationId={}&contentType=location", c.id)).await;
    assert_eq!(listed.expect(200).body["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn invalid_sends_are_400_naming_every_field() {
    let app = TestApp::spawn().await;
    let channel = sms(&app).await;
    let to = "+15550001111";
    let cases = [
        (json!({}), vec!["channelId", "to", "content"]),
        (json!({"channelId": channel, "to": to}), vec!["content"]),
        (json!({"channelId": channel, "content": text("x")}), vec!["to"]),
        (json!({"to": to, "content": text("x")}), vec!["channelId"]),
        (json!({"channelId": channel, "to": to, "content": {"type": "text"}}), vec!["content.text"]),
        (json!({"channelId": channel, "to": to, "content": {"type": "text", "text": "  "}}), vec!["content.text"]),
        (json!({"channelId": channel, "to": to, "content": {"text": "no type"}}), vec!["content.type"]),
        (json!({"channelId": channel, "to": to, "content": {"type": 7}}), vec!["content.type"]),
        (json!({"channelId": channel, "to": to, "content": "hello"}), vec!["content"]),
        (json!({"channelId": channel, "to": to, "content": {"type": "image"}}), vec!["content.url"]),
        (
            json!({"channelId": channel, "to": to, "content": {"type": "location", "latitude": 91}}),
            vec!["content.latitude", "content.longitude"],
        ),
        (
            json!({"channelId": channel, "to": to, "content": {"type": "buttons", "text": "t", "buttons": []}}),
            vec!["content.buttons"],
        ),
        (
            json!({"channelId": channel, "to": to, "content": {"type": "template", "template": {"name": "x"}}}),
            vec!["content.template.language"],
        ),
        (
            json!({"channelId": channel, "to": to, "content": {"type": "text", "text": "x".repeat(4097)}}),
            vec!["content.text"],
        ),
        (json!({"channelId": channel, "to": to, "content": text("x"), "metadata": "x"}), vec!["metadata"]),
        (json!({"channelId": channel, "to": 5, "content": text("x")}), vec!["to"]),
        (
            json!({"channelId": channel, "to": to, "content": text("x"), "scheduledAt": "2099-01-01T00:00:00Z"}),
            vec!["scheduledAt"],
        ),
        (
            json!({"channelId": channel, "to": to, "content": text("x"), "scheduledAt": "2000-01-01T00:00:00Z"}),
            vec!["scheduledAt"],
        ),
        (json!({"channelId": channel, "to": to, "content": {"type": "text", "text": "a\u{0}b"}}), vec!["content.text"]),
    ];
    for (body, fields) in cases {
        let r = app.api().post("/v1/messages", body.clone()).await;
        r.expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.error_fields(), fields, "{body}");
    }
    let r = app.api().send_raw(Method::POST, "/v1/messages", "application/json", b"{\"content\":".to_vec()).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["body"]);
    // A null scheduledAt is no schedule.
    let ok = json!({"channelId": channel, "to": to, "content": text("x"), "scheduledAt": null});
    app.api().post("/v1/messages", ok).await.expect(201);

    for bad in ["5550001111", "+0123", "ann@", "ann@localhost", "hello"] {
        let r = app.api().post("/v1/messages", json!({"channelId": channel, "to": bad, "content": text("x")})).await;
        r.expect_error(400, "INVALID_RECIPIENT");
        assert_eq!(r.error_fields(), ["to"], "{bad}");
    }
    let r =
        app.api().post("/v1/messages", json!({"channelId": channel, "to": to, "content": {"type": "hologram"}})).await;
    r.expect_error(400, "UNSUPPORTED_CONTENT_TYPE");
    assert_eq!(r.error_fields(), ["content.type"]);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("text, image"), "{}", r.text);
    // Only the one valid send above was stored.
    let all = app.api().get("/v1/messages").await;
    assert_eq!(all.expect(200).body["meta"]["pagination"]["totalCount"], 1);
}

#[tokio::test]
async fn unknown_conversations_and_channels_are_404_naming_the_field() {
    let app = TestApp::spawn().await;
    let r = app.api().post("/v1/messages", json!({"conversationId": uuid::Uuid::now_v7(), "content": text("x")})).await;
    r.expect_error(404, "CONVERSATION_NOT_FOUND");
    assert_eq!(r.error_fields(), ["conversationId"]);
    let r = app.api().post("/v1/messages", json!({"conversationId": "conv_abc", "content": text("x")})).await;
    r.expect_error(404, "CONVERSATION_NOT_FOUND");
    assert_eq!(r.error_fields(), ["conversationId"]);
    for channel in [uuid::Uuid::now_v7().to_string(), "ch_abc".to_string()] {
        let r = app
            .api()
            .post("/v1/messages", json!({"channelId": channel, "to": "+15550001111", "content": text("x")}))
            .await;
        r.expect_error(404, "CHANNEL_NOT_FOUND");
        assert_eq!(r.error_fields(), ["channelId"]);
    }
}

#[tokio::test]
async fn an_inactive_channel_is_422_channel_not_connected_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let channel = sms(&app).await;
    let c = conversation_on(&app, &channel).await;
    app.api().post_empty(&format!("/v1/channels/{channel}/deactivate")).await.expect(200);
    let r =
        app.api().post("/v1/messages", json!({"channelId": channel, "to": "+15550001111", "content": text("x")})).await;
    r.expect_error(422, "CHANNEL_NOT_CONNECTED");
    assert_eq!(r.error_fields(), ["channelId"]);
    let r = app.api().post("/v1/messages", json!({"conversationId": c.id, "content": text("x")})).await;
    r.expect_error(422, "CHANNEL_NOT_CONNECTED");
    assert_eq!(r.error_fields(), ["conversationId"]);
    assert_eq!(app.api().get("/v1/messages").await.expect(200).body["meta"]["pagination"]["totalCount"], 0);
    assert_eq!(app.api().get("/v1/contacts").await.expect(200).body["meta"]["pagination"]["totalCount"], 1);
    // Active again, it sends.
    app.api().post_empty(&format!("/v1/channels/{channel}/activate")).await.expect(200);
    send_in(&app, &c.id, "Back").await;
}

#[tokio::test]
async fn a_send_with_an_idempotency_key_is_stored_once() {
    let app = TestApp::spawn().await;
    let channel = sms(&app).await;
    let api = app.api().with_header("Idempotency-Key", "send-1");
    let body = json!({"channelId": channel, "to": "+15550001111", "content": text("Once")});
    let first = api.post("/v1/messages", body.clone()).await;
    first.expect(201);
    let replay = api.post("/v1/messages", body).await;
    replay.expect(201);
    assert_eq!(replay.id(), first.id());
    assert_eq!(app.api().get("/v1/messages").await.body["meta"]["pagination"]["totalCount"], 1);
}

// ---------------------------------------------------------------------------------------------
// GET /v1/messages, GET /v1/messages/{id}

#[tokio::test]
async fn the_list_filters_sorts_and_paginates() {
    let app = TestApp::spawn().await;
    let sms_channel = sms(&app).await;
    let mail = app.channel("Mail", "email").await;
    let (in1, c1) = inbound(&app, &sms_channel, "+15550001111", "Where is my order").await;
    let out1 = send_in(&app, &c1, "Your order shipped yesterday").await.id();
    let out2 = send_to(&app, &mail, "bob@example.com", "Invoice attached").await;
    let c2 = out2.attrs()["conversationId"].as_str().unwrap().to_string();
    let out2 = out2.id();
    let img = app
        .api()
        .post(
            "/v1/messages",
            json!({"conversationId": c1, "content": {"type": "image", "url": "https://x.test/a.png"}}),
        )
        .await;
    let img = img.expect(201).id();
    app.api().patch(&format!("/v1/messages/{out1}/status"), json!({"status": "delivered"})).await.expect(200);

    let api = app.api();
    let all = api.get("/v1/messages").await;
    assert_eq!(ids(&all), v(&[&img, &out2, &out1, &in1]), "newest first by default");
    let p = &all.body["meta"]["pagination"];
    assert_eq!((p["page"].as_u64(), p["perPage"].as_u64(), p["totalCount"].as_u64()), (Some(1), Some(20), Some(4)));
    assert!(all.body["meta"]["requestId"].is_string());
    assert_eq!(ids(&api.get("/v1/messages?sortBy=createdAt&sortOrder=asc").await), v(&[&in1, &out1, &out2, &img]));
    let page2 = api.get("/v1/messages?perPage=3&page=2").await;
    assert_eq!(ids(&page2), v(&[&in1]));
    assert_eq!(page2.body["meta"]["pagination"]["totalPages"], 2);

    assert_eq!(ids(&api.get(&format!("/v1/messages?conversationId={c1}")).await).len(), 3);
    assert_eq!(ids(&api.get(&format!("/v1/messages?conversationId={c2}")).await), v(&[&out2]));
    assert_eq!(ids(&api.get(&format!("/v1/messages?channelId={mail}")).await), v(&[&out2]));
    assert_eq!(ids(&api.get("/v1/messages?direction=inbound").await), v(&[&in1]));
    // Inbound messages arrive delivered.
    assert_eq!(ids(&api.get("/v1/messages?status=delivered").await), v(&[&out1, &in1]));
    assert_eq!(ids(&api.get("/v1/messages?contentType=image").await), v(&[&img]));
    // What a connector polls: its channel's outbound messages still pending, oldest first.
    let poll =
        api.get(&format!("/v1/messages?status=pending&channelId={sms_channel}&direction=outbound&sortOrder=asc")).await;
    assert_eq!(ids(&poll), v(&[&img]));
    assert!(ids(&api.get(&format!("/v1/messages?conversationId={}", uuid::Uuid::now_v7())).await).is_empty());

    // Dates bound createdAt, inclusive; a createdAt copied from a response is within both bounds.
    let created = all.body["data"][1]["attributes"]["createdAt"].as_str().unwrap().to_string();
    let q = |k: &str| format!("/v1/messages?startDate={created}&endDate={created}&{k}");
    assert_eq!(ids(&api.get(&q("sortOrder=asc")).await), v(&[&out2]));
    assert_eq!(ids(&api.get("/v1/messages?endDate=2000-01-01").await).len(), 0);
    assert_eq!(ids(&api.get("/v1/messages?startDate=2000-01-01").await).len(), 4);

    // Words of the text, case-insensitive, prefixes too; with the other filters.
    assert_eq!(ids(&api.get("/v1/messages?search=order").await), v(&[&out1, &in1]));
    assert_eq!(ids(&api.get("/v1/messages?search=INVOI").await), v(&[&out2]));
    assert_eq!(ids(&api.get("/v1/messages?search=order&direction=inbound").await), v(&[&in1]));
    assert!(ids(&api.get("/v1/messages?search=refund").await).is_empty());
}

#[tokio::test]
async fn bad_list_parameters_are_400_naming_each() {
    let app = TestApp::spawn().await;
    let cases = [
        ("perPage=101", vec!["perPage"]),
        ("page=0", vec!["page"]),
        ("direction=sideways", vec!["direction"]),
        ("status=lost", vec!["status"]),
        ("contentType=hologram", vec!["contentType"]),
        ("conversationId=conv_1", vec!["conversationId"]),
        ("channelId=ch_1", vec!["channelId"]),
        ("startDate=yesterday", vec!["startDate"]),
        ("startDate=2024-02-01&endDate=2024-01-01", vec!["endDate"]),
        ("sortBy=updatedAt", vec!["sortBy"]),
        ("sortOrder=up", vec!["sortOrder"]),
        ("direction=up&status=down", vec!["direction", "status"]),
    ];
    for (q, fields) in cases {
        let r = app.api().get(&format!("/v1/messages?{q}")).await;
        r.expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.error_fields(), fields, "{q}");
    }
}

#[tokio::test]
async fn hostile_search_and_cursor_values_are_answered_never_500() {
    let app = TestApp::spawn().await;
    let c = conversation_on(&app, &sms(&app).await).await;
    send_in(&app, &c.id, "Hello \"quoted\" world").await;
    let searches = [
        "%22",
        "*",
        "AND",
        "OR%20NOT",
        "NEAR(a%20b)",
        "a:b",
        "-x",
        "%5E",
        "(",
        ")",
        "%27",
        "%5C",
        "a*b*",
        "%E2%80%8B",
        "%F0%9F%98%80",
        "hello%20%22quoted",
        "content:hello",
        "%7B%7D",
    ];
    for q in searches {
        let r = app.api().get(&format!("/v1/messages?search={q}")).await;
        // A search without a word is a 400 naming it; anything else is searched for.
        assert!(r.status == 200 || (r.status == 400 && r.error_fields() == ["search"]), "search={q}: {}", r.text);
    }
    let long = "w".repeat(1001);
    let r = app.api().get(&format!("/v1/messages?search={long}")).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["search"]);
    let id = uuid::Uuid::now_v7();
    let cursors = [
        format!("-9223372036854775808_{id}"),
        format!("9223372036854775807_{id}"),
        format!("0_{id}"),
        "99999999999999999999_x".to_string(),
        "_".to_string(),
        "1_".to_string(),
        "%00".to_string(),
    ];
    for cursor in cursors {
        for direction in ["before", "after"] {
            let r = app
                .api()
                .get(&format!("/v1/conversations/{}/messages?cursor={cursor}&direction={direction}", c.id))
                .await;
            assert!(
                r.status == 200 || (r.status == 400 && r.error_fields() == ["cursor"]),
                "cursor={cursor}: {}",
                r.text
            );
        }
    }
    let r = app.api().get(&format!("/v1/conversations/{}/messages?cursor={}", c.id, "1".repeat(1001))).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["cursor"]);
}

#[tokio::test]
async fn a_message_is_fetched_by_id_and_unknown_ids_are_404() {
    let app = TestApp::spawn().await;
    let c = conversation_on(&app, &sms(&app).await).await;
    let sent = send_in(&app, &c.id, "Hello").await;
    let r = app.api().get(&format!("/v1/messages/{}", sent.id())).await;
    r.expect(200);
    assert_eq!(r.body["data"], sent.body["data"]);
    for id in [uuid::Uuid::now_v7().to_string(), "msg_abc".to_string()] {
        app.api().get(&format!("/v1/messages/{id}")).await.expect_error(404, "MESSAGE_NOT_FOUND");
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

#[tokio::test]
async fn reading_a_message_stamps_it_and_lowers_the_unread_count_once() {
    let app = TestApp::spawn().await;
    let channel = sms(&app).await;
    let (first, c) = inbound(&app, &channel, "+15550001111", "Hi").await;
    let (second, c2) = inbound(&app, &channel, "+15550001111", "Anyone?").await;
    assert_eq!(c, c2, "the contact's active conversation is reused");
    let before = conv(&app, &c).await;
    assert_eq!((before["unreadCount"].as_i64(), before["messageCount"].as_i64()), (Some(2), Some(2)));
    let m = app.api().get(&format!("/v1/messages/{first}")).await;
    assert_eq!((&m.attrs()["direction"], &m.attrs()["from"]["type"]), (&json!("inbound"), &json!("contact")));

    let r = app.api().post_empty(&format!("/v1/messages/{first}/read")).await;
    r.expect(200);
    assert_eq!(r.body["data"]["id"], first.as_str());
    assert_eq!(r.body["data"]["type"], "message");
    assert_eq!(r.attrs()["status"], "read");
    assert!(r.attrs()["readAt"].is_string());
    assert_eq!(r.attrs()["statusHistory"].as_array().unwrap().last().unwrap()["status"], "read");
    assert_eq!(conv(&app, &c).await["unreadCount"], 1);
    // Again: nothing changes.
    let again = app.api().post_empty(&format!("/v1/messages/{first}/read")).await;
    again.expect(200);
    assert_eq!(again.attrs()["readAt"], r.attrs()["readAt"]);
    assert_eq!(conv(&app, &c).await["unreadCount"], 1);
    app.api().post_empty(&format!("/v1/messages/{second}/read")).await.expect(200);
    assert_eq!(conv(&app, &c).await["unreadCount"], 0);
    app.api()
        .post_empty(&format!("/v1/messages/{}/read", uuid::Uuid::now_v7()))
        .await
        .expect_error(404, "MESSAGE_NOT_FOUND");
}

#[tokio::test]
async fn bulk_read_marks_a_conversation_up_to_an_instant_or_a_list_of_ids() {
    let app = TestApp::spawn().await;
    let channel = sms(&app).await;
    let (m1, c) = inbound(&app, &channel, "+15550001111", "one").await;
    let (_m2, _) = inbound(&app, &channel, "+15550001111", "two").await;
    let (_m3, _) = inbound(&app, &channel, "+15550001111", "three").await;
    let first_at =
        app.api().get(&format!("/v1/messages/{m1}")).await.attrs()["createdAt"].as_str().unwrap().to_string();
    assert_eq!(conv(&app, &c).await["unreadCount"], 3);

    let r = app.api().post("/v1/messages/bulk-read", json!({"conversationId": c, "beforeTimestamp": first_at})).await;
    r.expect(200);
    assert_eq!(r.body["data"], json!({"markedCount": 1, "conversationId": c}));
    assert!(r.body["meta"]["requestId"].is_string());
    assert_eq!(conv(&app, &c).await["unreadCount"], 2);
    let r = app.api().post("/v1/messages/bulk-read", json!({"conversationId": c})).await;
    assert_eq!(r.expect(200).body["data"]["markedCount"], 2);
    assert_eq!(conv(&app, &c).await["unreadCount"], 0);
    let r = app.api().post("/v1/messages/bulk-read", json!({"conversationId": c})).await;
    assert_eq!(r.expect(200).body["data"]["markedCount"], 0);

    // By ids, in one conversation, then across two.
    let (a1, ca) = inbound(&app, &channel, "+15550002222", "a1").await;
    let (a2, _) = inbound(&app, &channel, "+15550002222", "a2").await;
    let (b1, cb) = inbound(&app, &channel, "+15550003333", "b1").await;
    let r = app.api().post("/v1/messages/bulk-read", json!({"messageIds": [a1, a2, uuid::Uuid::now_v7()]})).await;
    assert_eq!(r.expect(200).body["data"], json!({"markedCount": 2, "conversationId": ca}));
    assert_eq!(conv(&app, &ca).await["unreadCount"], 0);
    let (b2, _) = inbound(&app, &channel, "+15550003333", "b2").await;
    let (a3, _) = inbound(&app, &channel, "+15550002222", "a3").await;
    let r = app.api().post("/v1/messages/bulk-read", json!({"messageIds": [b1, b2, a3]})).await;
    assert_eq!(r.expect(200).body["data"], json!({"markedCount": 3, "conversationId": null}));
    assert_eq!(
        (conv(&app, &ca).await["unreadCount"].as_i64(), conv(&app, &cb).await["unreadCount"].as_i64()),
        (Some(0), Some(0))
    );
}

#[tokio::test]
async fn bad_bulk_reads_are_400_or_404_naming_the_field() {
    let app = TestApp::spawn().await;
    let id = uuid::Uuid::now_v7();
    let cases = [
        (json!({}), vec!["messageIds"]),
        (json!({"messageIds": []}), vec!["messageIds"]),
        (json!({"messageIds": "x"}), vec!["messageIds"]),
        (json!({"messageIds": ["nope"]}), vec!["messageIds[0]"]),
        (json!({"messageIds": [id], "conversationId": id}), vec!["conversationId"]),
        (json!({"messageIds": [id], "beforeTimestamp": "2024-01-01"}), vec!["beforeTimestamp"]),
        (json!({"conversationId": id, "beforeTimestamp": "soon"}), vec!["beforeTimestamp"]),
    ];
    for (body, fields) in cases {
        let r = app.api().post("/v1/messages/bulk-read", body.clone()).await;
        r.expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.error_fields(), fields, "{body}");
    }
    let too_many: Vec<String> = (0..1001).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let r = app.api().post("/v1/messages/bulk-read", json!({ "messageIds": too_many })).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["messageIds"]);
    for c in [id.to_string(), "conv_1".to_string()] {
        let r = app.api().post("/v1/messages/bulk-read", json!({ "conversationId": c })).await;
        r.expect_error(404, "CONVERSATION_NOT_FOUND");
        assert_eq!(r.error_fields(), ["conversationId"]);
    }
}

// ---------------------------------------------------------------------------------------------
// DELETE /v1/messages/{id}

#[tokio::test]
async fn deleting_a_message_moves_the_counters_and_the_last_message_back() {
    let app = TestApp::spawn().await;
    let channel = sms(&app).await;
    let (inbound_id, c) = inbound(&app, &channel, "+15550001111", "Hello?").await;
    let first = send_in(&app, &c, "Hi, how can I help?").await;
    let second = send_in(&app, &c, "Still there?").await;
    let before = conv(&app, &c).await;
    assert_eq!((before["messageCount"].as_i64(), before["unreadCount"].as_i64()), (Some(3), Some(1)));
    assert_eq!(before["lastMessage"]["id"], second.id().as_str());

    let r = app.api().delete(&format!("/v1/messages/{}", second.id())).await;
    r.expect(200);
    assert_eq!(r.body["data"]["id"], second.id().as_str());
    assert_eq!(r.body["data"]["deleted"], true);
    assert!(r.body["data"]["deletedAt"].as_str().is_some_and(|t| t.ends_with('Z')));
    app.api().get(&format!("/v1/messages/{}", second.id())).await.expect_error(404, "MESSAGE_NOT_FOUND");
    app.api().delete(&format!("/v1/messages/{}", second.id())).await.expect_error(404, "MESSAGE_NOT_FOUND");
    let after = conv(&app, &c).await;
    assert_eq!(after["messageCount"], 2);
    assert_eq!(after["lastMessage"]["id"], first.id().as_str());
    assert_eq!(after["lastMessage"]["content"]["text"], "Hi, how can I help?");
    assert_eq!(after["lastMessageAt"], first.attrs()["createdAt"]);

    // An unread inbound message leaves the unread count with it; forEveryone is accepted.
    app.api().delete(&format!("/v1/messages/{inbound_id}?forEveryone=true")).await.expect(200);
    let after = conv(&app, &c).await;
    assert_eq!((after["messageCount"].as_i64(), after["unreadCount"].as_i64()), (Some(1), Some(0)));
    let r = app.api().delete(&format!("/v1/messages/{}?forEveryone=maybe", first.id())).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["forEveryone"]);
    app.api().delete(&format!("/v1/messages/{}?forEveryone=false", first.id())).await.expect(200);
    let empty = conv(&app, &c).await;
    assert_eq!(
        (empty["messageCount"].as_i64(), &empty["lastMessage"], &empty["lastMessageAt"]),
        (Some(0), &Value::Null, &Value::Null)
    );
    app.api().delete("/v1/messages/msg_1").await.expect_error(404, "MESSAGE_NOT_FOUND");
}

// ---------------------------------------------------------------------------------------------
// PATCH /v1/messages/{id}/status

#[tokio::test]
async fn status_reports_move_forward_only_and_keep_their_history() {
    let app = TestApp::spawn().await;
    let c = conversation_on(&app, &sms(&app).await).await;
    let id = send_in(&app, &c.id, "Your code is 1234").await.id();
    let path = format!("/v1/messages/{id}/status");
    let r = app
        .api()
        .patch(&path, json!({"status": "sent", "timestamp": "2024-01-15T10:00:00Z", "externalId": "wamid.1"}))
        .await;
    r.expect(200);
    assert_eq!((&r.attrs()["status"], &r.attrs()["sentAt"]), (&json!("sent"), &json!("2024-01-15T10:00:00.000Z")));
    assert_eq!(r.attrs()["externalId"], "wamid.1");
    app.api().patch(&path, json!({"status": "delivered", "timestamp": "2024-01-15T10:00:05Z"})).await.expect(200);
    // A late `sent` (connectors retry and race) changes nothing.
    let late = app.api().patch(&path, json!({"status": "sent"})).await;
    late.expect(200);
    assert_eq!(late.attrs()["status"], "delivered");
    let read = app.api().patch(&path, json!({"status": "read", "timestamp": "2024-01-15T10:01:00Z"})).await;
    read.expect(200);
    let a = read.attrs();
    assert_eq!(a["status"], "read");
    assert_eq!(
        (&a["deliveredAt"], &a["readAt"]),
        (&json!("2024-01-15T10:00:05.000Z"), &json!("2024-01-15T10:01:00.000Z"))
    );
    let history: Vec<&str> =
        a["statusHistory"].as_array().unwrap().iter().map(|s| s["status"].as_str().unwrap()).collect();
    assert_eq!(history, ["pending", "sent", "delivered", "read"]);
    assert_eq!(a["statusHistory"][2]["timestamp"], "2024-01-15T10:00:05.000Z");
    // `failed` after `read` is refused silently too.
    let failed = app.api().patch(&path, json!({"status": "failed", "error": "too late"})).await;
    failed.expect(200);
    assert_eq!((&failed.attrs()["status"], &failed.attrs()["error"]), (&json!("read"), &Value::Null));
    assert_eq!(app.api().get(&format!("/v1/messages/{id}")).await.body["data"], read.body["data"]);

    // A failure records its reason.
    let other = send_in(&app, &c.id, "Second").await.id();
    let r = app
        .api()
        .patch(&format!("/v1/messages/{other}/status"), json!({"status": "failed", "error": "Number unreachable"}))
        .await;
    r.expect(200);
    assert_eq!((&r.attrs()["status"], &r.attrs()["error"]), (&json!("failed"), &json!("Number unreachable")));
    assert!(r.attrs()["failedAt"].is_string());
    // Failed messages are what a connector no longer polls.
    let poll = app.api().get(&format!("/v1/messages?status=pending&channelId={}&direction=outbound", c.channel)).await;
    assert!(ids(&poll).is_empty());
}

#[tokio::test]
async fn bad_status_reports_are_400_naming_each_field() {
    let app = TestApp::spawn().await;
    let c = conversation_on(&app, &sms(&app).await).await;
    let path = format!("/v1/messages/{}/status", send_in(&app, &c.id, "x").await.id());
    let cases = [
        (json!({}), vec!["status"]),
        (json!({"status": "pending"}), vec!["status"]),
        (json!({"status": "lost"}), vec!["status"]),
        (json!({"status": "sent", "timestamp": "later"}), vec!["timestamp"]),
        (json!({"status": "sent", "timestamp": "2999-01-01T00:00:00Z"}), vec!["timestamp"]),
        (json!({"status": "sent", "error": "why"}), vec!["error"]),
        (json!({"status": "failed", "error": "e".repeat(1001)}), vec!["error"]),
        (json!({"status": "sent", "externalId": "x".repeat(256)}), vec!["externalId"]),
        (json!({"status": 3}), vec!["status"]),
        (json!({"status": "nope", "timestamp": "nope"}), vec!["status", "timestamp"]),
    ];
    for (body, fields) in cases {
        let r = app.api().patch(&path, body.clone()).await;
        r.expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.error_fields(), fields, "{body}");
    }
    let unknown = format!("/v1/messages/{}/status", uuid::Uuid::now_v7());
    app.api().patch(&unknown, json!({"status": "sent"})).await.expect_error(404, "MESSAGE_NOT_FOUND");
}

// ---------------------------------------------------------------------------------------------
// GET /v1/conversations/{id}/messages

/// Walks every page of a conversation's messages in one direction; returns the texts page by page.
async fn walk(app: &TestApp, conversation: &str, direction: &str, limit: u32) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/conversations/{conversation}/messages?limit={limit}&direction={direction}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", urlencode(c)));
        }
        let r = app.api().get(&path).await;
        r.expect(200);
        assert!(r.body["meta"]["requestId"].is_string());
        pages.push(texts(&r));
        let meta = &r.body["meta"]["cursor"];
        let has_more = meta["hasMore"].as_bool().expect("hasMore");
        assert_eq!(has_more, meta["next"].is_string(), "next is given exactly when there is more: {}", r.text);
        if !has_more {
            return pages;
        }
        cursor = meta["next"].as_str().map(str::to_string);
        assert!(pages.len() < 50, "the pages never end");
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn cursor_pages_walk_both_directions_without_duplicates_or_gaps() {
    let app = TestApp::spawn().await;
    let channel = sms(&app).await;
    let (_, c) = inbound(&app, &channel, "+15550001111", "m1").await;
    for i in 2..=7 {
        if i % 2 == 0 {
            send_in(&app, &c, &format!("m{i}")).await;
        } else {
            inbound(&app, &channel, "+15550001111", &format!("m{i}")).await;
        }
    }
    let m = |ns: &[u32]| ns.iter().map(|n| format!("m{n}")).collect::<Vec<_>>();
    assert_eq!(walk(&app, &c, "before", 3).await, [m(&[7, 6, 5]), m(&[4, 3, 2]), m(&[1])]);
    assert_eq!(walk(&app, &c, "after", 3).await, [m(&[1, 2, 3]), m(&[4, 5, 6]), m(&[7])]);
    assert_eq!(walk(&app, &c, "before", 7).await, [m(&[7, 6, 5, 4, 3, 2, 1])]);
    assert_eq!(walk(&app, &c, "after", 100).await, [m(&[1, 2, 3, 4, 5, 6, 7])]);

    // The defaults: newest first, 50 at most.
    let r = app.api().get(&format!("/v1/conversations/{c}/messages")).await;
    assert_eq!(texts(&r), m(&[7, 6, 5, 4, 3, 2, 1]));
    assert_eq!(r.body["meta"]["cursor"], json!({"next": null, "hasMore": false}));
    assert_eq!(r.body["data"][0]["type"], "message");

    // A message arriving while a client pages back does not shift the older pages.
    let first = app.api().get(&format!("/v1/conversations/{c}/messages?limit=2")).await;
    assert_eq!(texts(&first), m(&[7, 6]));
    send_in(&app, &c, "m8").await;
    let next = first.body["meta"]["cursor"]["next"].as_str().unwrap();
    let second = app.api().get(&format!("/v1/conversations/{c}/messages?limit=2&cursor={}", urlencode(next))).await;
    assert_eq!(texts(&second), m(&[5, 4]));
    // Paging forward reaches it.
    let pages = walk(&app, &c, "after", 3).await;
    let all: Vec<String> = pages.concat();
    assert_eq!(all, m(&[1, 2, 3, 4, 5, 6, 7, 8]));
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), all.len());

    // Another conversation's messages never appear.
    inbound(&app, &channel, "+15550009999", "elsewhere").await;
    assert_eq!(walk(&app, &c, "before", 100).await.concat().len(), 8);
}

#[tokio::test]
async fn an_empty_conversation_has_one_empty_page() {
    let app = TestApp::spawn().await;
    let c = conversation_on(&app, &sms(&app).await).await;
    for direction in ["before", "after"] {
        let r = app.api().get(&format!("/v1/conversations/{}/messages?direction={direction}", c.id)).await;
        r.expect(200);
        assert_eq!(r.body["data"], json!([]));
        assert_eq!(r.body["meta"]["cursor"], json!({"next": null, "hasMore": false}));
    }
}

#[tokio::test]
async fn bad_cursor_parameters_are_400_and_unknown_conversations_404() {
    let app = TestApp::spawn().await;
    let c = conversation_on(&app, &sms(&app).await).await;
    send_in(&app, &c.id, "x").await;
    let cases = [
        ("limit=0", vec!["limit"]),
        ("limit=101", vec!["limit"]),
        ("limit=ten", vec!["limit"]),
        ("direction=sideways", vec!["direction"]),
        ("cursor=not-a-cursor", vec!["cursor"]),
        ("cursor=%20%7B%7D", vec!["cursor"]),
        ("limit=0&direction=up", vec!["limit", "direction"]),
    ];
    for (q, fields) in cases {
        let r = app.api().get(&format!("/v1/conversations/{}/messages?{q}", c.id)).await;
        r.expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.error_fields(), fields, "{q}");
    }
    for id in [uuid::Uuid::now_v7().to_string(), "conv_1".to_string()] {
        app.api().get(&format!("/v1/conversations/{id}/messages")).await.expect_error(404, "CONVERSATION_NOT_FOUND");
    }
}

// ---------------------------------------------------------------------------------------------
// GET /v1/conversations/{id}?includeMessages=true

#[tokio::test]
async fn include_messages_gives_the_newest_oldest_first() {
    let app = TestApp::spawn().await;
    let channel = sms(&app).await;
    let (_, c) = inbound(&app, &channel, "+15550001111", "m1").await;
    for i in 2..=5 {
        send_in(&app, &c, &format!("m{i}")).await;
    }
    let r = app.api().get(&format!("/v1/conversations/{c}?includeMessages=true&messageLimit=3")).await;
    r.expect(200);
    let messages = r.body["data"]["relationships"]["messages"].as_array().unwrap();
    let got: Vec<&str> = messages.iter().map(|m| m["content"]["text"].as_str().unwrap()).collect();
    assert_eq!(got, ["m3", "m4", "m5"]);
    let newest = &messages[2];
    let listed = app.api().get(&format!("/v1/conversations/{c}/messages?limit=1")).await;
    let full = &listed.body["data"][0];
    assert_eq!(newest["id"], full["id"]);
    assert_eq!(newest["direction"], "outbound");
    assert_eq!(newest["status"], "pending");
    assert_eq!(newest["timestamp"], full["attributes"]["createdAt"]);
    assert_eq!(newest["from"], full["attributes"]["from"]);
    assert_eq!(newest["content"], full["attributes"]["content"]);
    // The default limit (20) covers them all; the attributes still carry the counters.
    let r = app.api().get(&format!("/v1/conversations/{c}?includeMessages=true")).await;
    assert_eq!(r.body["data"]["relationships"]["messages"].as_array().unwrap().len(), 5);
    assert_eq!(r.attrs()["messageCount"], 5);
    assert_eq!(r.attrs()["lastMessage"]["id"], full["id"]);
}

// ---------------------------------------------------------------------------------------------
// Scopes and tenants

#[tokio::test]
async fn message_endpoints_need_the_messages_scopes() {
    let app = TestApp::spawn().await;
    let channel = sms(&app).await;
    let (id, c) = inbound(&app, &channel, "+15550001111", "Hi").await;
    let reader = app.as_key(&app.new_key("acme", "Reader", "messages:read,conversations:read").await);
    let writer = app.as_key(&app.new_key("acme", "Writer", "messages:write").await);
    let convs_only = app.as_key(&app.new_key("acme", "Convs", "conversations:read,conversations:write").await);

    reader.get("/v1/messages").await.expect(200);
    reader.get(&format!("/v1/messages/{id}")).await.expect(200);
    reader.get(&format!("/v1/conversations/{c}/messages")).await.expect(200);
    reader.get(&format!("/v1/conversations/{c}?includeMessages=true")).await.expect(200);
    let denied = [
        reader.post("/v1/messages", json!({"conversationId": c, "content": text("x")})).await,
        reader.post_empty(&format!("/v1/messages/{id}/read")).await,
        reader.post("/v1/messages/bulk-read", json!({"conversationId": c})).await,
        reader.delete(&format!("/v1/messages/{id}")).await,
        reader.patch(&format!("/v1/messages/{id}/status"), json!({"status": "read"})).await,
        writer.get("/v1/messages").await,
        writer.get(&format!("/v1/messages/{id}")).await,
        writer.get(&format!("/v1/conversations/{c}/messages")).await,
        convs_only.get("/v1/messages").await,
        convs_only.post("/v1/messages", json!({"conversationId": c, "content": text("x")})).await,
        convs_only.get(&format!("/v1/conversations/{c}?includeMessages=true")).await,
    ];
    for r in denied {
        r.expect_error(403, "INSUFFICIENT_PERMISSIONS");
    }
    assert!(convs_only
        .get(&format!("/v1/conversations/{c}?includeMessages=true"))
        .await
        .text
        .contains("messages:read"));
    // The conversation itself needs only its own scope.
    convs_only.get(&format!("/v1/conversations/{c}")).await.expect(200);

    // messages:write alone sends (creating the contact and conversation) and reads.
    writer
        .post("/v1/messages", json!({"channelId": channel, "to": "+15550002222", "content": text("x")}))
        .await
        .expect(201);
    writer.post_empty(&format!("/v1/messages/{id}/read")).await.expect(200);
    writer.post("/v1/messages/bulk-read", json!({"conversationId": c})).await.expect(200);
    writer.patch(&format!("/v1/messages/{id}/status"), json!({"status": "read"})).await.expect(200);
    writer.delete(&format!("/v1/messages/{id}")).await.expect(200);
    app.anonymous().get("/v1/messages").await.expect_error(401, "AUTHENTICATION_REQUIRED");
}

#[tokio::test]
async fn another_tenants_messages_do_not_exist() {
    let app = TestApp::spawn().await;
    let channel = sms(&app).await;
    let (id, c) = inbound(&app, &channel, "+15550001111", "Acme only").await;
    let globex = app.as_key(&app.new_key("globex", "Gus", "admin").await);

    globex.get(&format!("/v1/messages/{id}")).await.expect_error(404, "MESSAGE_NOT_FOUND");
    globex.post_empty(&format!("/v1/messages/{id}/read")).await.expect_error(404, "MESSAGE_NOT_FOUND");
    globex.delete(&format!("/v1/messages/{id}")).await.expect_error(404, "MESSAGE_NOT_FOUND");
    globex
        .patch(&format!("/v1/messages/{id}/status"), json!({"status": "read"}))
        .await
        .expect_error(404, "MESSAGE_NOT_FOUND");
    globex.get(&format!("/v1/conversations/{c}/messages")).await.expect_error(404, "CONVERSATION_NOT_FOUND");
    let r = globex.post("/v1/messages", json!({"conversationId": c, "content": text("x")})).await;
    r.expect_error(404, "CONVERSATION_NOT_FOUND");
    let r =
        globex.post("/v1/messages", json!({"channelId": channel, "to": "+15550001111", "content": text("x")})).await;
    r.expect_error(404, "CHANNEL_NOT_FOUND");
    globex
        .post("/v1/messages/bulk-read", json!({"conversationId": c}))
        .await
        .expect_error(404, "CONVERSATION_NOT_FOUND");
    let r = globex.post("/v1/messages/bulk-read", json!({"messageIds": [id]})).await;
    assert_eq!(r.expect(200).body["data"]["markedCount"], 0);
    assert!(ids(&globex.get("/v1/messages").await).is_empty());
    assert!(ids(&globex.get(&format!("/v1/messages?conversationId={c}")).await).is_empty());

    // Nothing of acme's changed.
    let m = app.api().get(&format!("/v1/messages/{id}")).await;
    assert_eq!(m.expect(200).attrs()["status"], "delivered");
    let cv = conv(&app, &c).await;
    assert_eq!((cv["messageCount"].as_i64(), cv["unreadCount"].as_i64()), (Some(1), Some(1)));
    // Search never crosses tenants either.
    assert!(ids(&globex.get("/v1/messages?search=acme").await).is_empty());
    assert_eq!(ids(&app.api().get("/v1/messages?search=acme").await), v(&[&id]));
}

// ---------------------------------------------------------------------------------------------
// /transfer with notifyContact

#[tokio::test]
async fn a_transfer_with_notify_contact_sends_exactly_one_outbound_message() {
    let app = TestApp::spawn().await;
    let channel = sms(&app).await;
    let c: Conv = conversation_on(&app, &channel).await;
    let expert = user(&app, "Expert", "expert@acme.test").await;
    let r = app
        .api()
        .post(&at(&c.id, "transfer"), json!({"toAssigneeId": expert, "reason": "Billing", "notifyContact": true}))
        .await;
    r.expect(200);
    let notification = &r.body["meta"]["notification"];
    assert_eq!(notification["sent"], true);
    assert!(r.body["meta"]["requestId"].is_string());
    let message_id = notification["messageId"].as_str().unwrap().to_string();
    assert_eq!(r.attrs()["assignee"]["id"], expert.as_str());
    assert_eq!(r.attrs()["messageCount"], 1, "the answer shows the conversation after the message");
    assert_eq!(r.attrs()["lastMessage"]["id"], message_id.as_str());

    let listed = app.api().get(&format!("/v1/messages?conversationId={}", c.id)).await;
    assert_eq!(ids(&listed), v(&[&message_id]));
    let m = &listed.body["data"][0]["attributes"];
    assert_eq!(m["direction"], "outbound");
    assert_eq!(m["status"], "pending");
    assert_eq!(m["content"], text("You are now talking with Expert."));
    assert_eq!(m["metadata"], json!({"notification": "transfer"}));
    assert_eq!(m["from"]["name"], "Ana Admin");
    assert_eq!(m["channelId"], channel.as_str());

    // Without notifyContact, or with it false, no message.
    let back = user(&app, "Back Office", "back@acme.test").await;
    for body in [json!({"toAssigneeId": back}), json!({"toAssigneeId": expert, "notifyContact": false})] {
        let r = app.api().post(&at(&c.id, "transfer"), body).await;
        r.expect(200);
        assert!(r.body["meta"].get("notification").is_none(), "{}", r.text);
    }
    assert_eq!(ids(&app.api().get(&format!("/v1/messages?conversationId={}", c.id)).await).len(), 1);
    assert_eq!(conv(&app, &c.id).await["messageCount"], 1);
}

#[tokio::test]
async fn a_transfer_whose_notification_cannot_be_sent_still_transfers() {
    let app = TestApp::spawn().await;
    let channel = sms(&app).await;
    let c = conversation_on(&app, &channel).await;
    let expert = user(&app, "Expert", "expert@acme.test").await;
    app.api().post_empty(&format!("/v1/channels/{channel}/deactivate")).await.expect(200);
    let r = app.api().post(&at(&c.id, "transfer"), json!({"toAssigneeId": expert, "notifyContact": true})).await;
    r.expect(200);
    assert_eq!(r.attrs()["assignee"]["id"], expert.as_str());
    let n = &r.body["meta"]["notification"];
    assert_eq!((&n["sent"], &n["error"]["code"]), (&json!(false), &json!("CHANNEL_NOT_CONNECTED")));
    assert!(n.get("messageId").is_none());
    assert_eq!(conv(&app, &c.id).await["messageCount"], 0);
    assert_eq!(conv(&app, &c.id).await["assignee"]["id"], expert.as_str());

    // A conversation whose contact was deleted has nobody to notify.
    app.api().post_empty(&format!("/v1/channels/{channel}/activate")).await.expect(200);
    app.api().delete(&format!("/v1/contacts/{}", c.contact)).await.expect(204);
    let back = user(&app, "Back Office", "back@acme.test").await;
    let r = app.api().post(&at(&c.id, "transfer"), json!({"toAssigneeId": back, "notifyContact": true})).await;
    r.expect(200);
    assert_eq!(r.attrs()["assignee"]["id"], back.as_str());
    let n = &r.body["meta"]["notification"];
    assert_eq!((&n["sent"], &n["error"]["code"]), (&json!(false), &json!("CONTACT_NOT_FOUND")));
    assert_eq!(conv(&app, &c.id).await["messageCount"], 0);
}

// ---------------------------------------------------------------------------------------------
// Events and the OpenAPI document

#[tokio::test]
async fn sends_and_reports_append_message_events_to_the_timeline() {
    let app = TestApp::spawn().await;
    let channel = sms(&app).await;
    let c = conversation_on(&app, &channel).await;
    let id = send_in(&app, &c.id, "x").await.id();
    app.api().patch(&format!("/v1/messages/{id}/status"), json!({"status": "delivered"})).await.expect(200);
    let r = app.api().get(&format!("{}?perPage=100", at(&c.id, "events"))).await;
    r.expect(200);
    let events: Vec<&str> =
        r.body["data"].as_array().unwrap().iter().map(|e| e["attributes"]["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["conversation.created", "message.sent", "message.delivered"]);
}

#[tokio::test]
async fn every_message_endpoint_is_in_the_openapi_document() {
    let app = TestApp::spawn().await;
    let doc = app.anonymous().get("/openapi.json").await.body;
    let expected = [
        ("/v1/messages", "get"),
        ("/v1/messages", "post"),
        ("/v1/messages/{id}", "get"),
        ("/v1/messages/{id}", "delete"),
        ("/v1/messages/{id}/read", "post"),
        ("/v1/messages/bulk-read", "post"),
        ("/v1/messages/{id}/status", "patch"),
        ("/v1/conversations/{id}/messages", "get"),
    ];
    for (path, method) in expected {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not documented");
        assert_eq!(op["tags"], json!(["messages"]), "{method} {path}");
    }
}
