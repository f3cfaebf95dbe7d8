//! Webhooks in the Protocol format (`"format": "protocol"` on `/v1/webhooks`; reference §2.7): each
//! of the fifteen events produced by real calls to `/protocol/v1`, its payload compared field by
//! field with what `GET` on the face shows of the resource (for `*.deleted`, the last state), the
//! `x-protocol-signature` checked byte for byte, the events filter, and unknown names refused.
//!
//! Two fields of a payload are `null` by design (see `faces/protocol/webhook_format.rs`):
//! `last_opened_at` (per viewer; a webhook has none) and `file_url` (a one-hour signed URL).

use crate::support::{header, hex_encode, receiver, Received, Receiver, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const P: &str = "/protocol/v1";

fn path(rest: &str) -> String {
    format!("{P}{rest}")
}

/// A Protocol-format subscription to `events`; its id and secret.
async fn subscribe(app: &TestApp, url: &str, events: Value) -> (String, String) {
    let r = app.api().post("/v1/webhooks", json!({"url": url, "events": events, "format": "protocol"})).await;
    r.expect(201);
    assert_eq!(r.attrs()["format"], "protocol", "{}", r.text);
    let secret = r.attrs()["secret"].as_str().expect("the secret").to_string();
    (r.id(), secret)
}

/// `x-protocol-signature` checked the way a receiver does: hex HMAC-SHA256 of the raw body.
#[track_caller]
fn verify(r: &Received, secret: &str) {
    let expected = hex_encode(&confab_events::webhooks::hmac_sha256(secret.as_bytes(), &r.body));
    assert_eq!(header(r, "x-protocol-signature"), expected);
}

/// Waits (at most 15 s) for a delivery named `name` whose payload has `id` and satisfies `also`;
/// checks its signature and envelope, and returns its payload.
async fn delivery_where(rx: &Receiver, secret: &str, name: &str, id: &str, also: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let got = rx.got.lock().unwrap().clone();
        if let Some(r) = got.iter().rev().find(|r| {
            let b = r.json();
            b["type"] == name && b["payload"]["id"] == id && also(&b["payload"])
        }) {
            verify(r, secret);
            let body = r.json();
            let keys: BTreeSet<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(keys, BTreeSet::from(["id", "type", "payload"]), "{body}");
            assert!(body["id"].as_str().is_some_and(|s| !s.is_empty()), "{body}");
            return body["payload"].clone();
        }
        let names: Vec<String> =
            got.iter().map(|r| format!("{} {}", r.json()["type"], r.json()["payload"]["id"])).collect();
        assert!(start.elapsed() < Duration::from_secs(15), "no {name} for {id}; got {names:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn delivery(rx: &Receiver, secret: &str, name: &str, id: &str) -> Value {
    delivery_where(rx, secret, name, id, |_| true).await
}

/// The payload is the `GET` body field by field, but for `last_opened_at` and `file_url` (`null`).
#[track_caller]
fn same_as_get(payload: &Value, get: &Value) {
    let mut expected = get.clone();
    if expected.get("last_opened_at").is_some() {
        expected["last_opened_at"] = Value::Null;
    }
    if expected.get("file_url").is_some() {
        expected["file_url"] = Value::Null;
    }
    if let Some(files) = expected.get_mut("attachments").and_then(Value::as_array_mut) {
        for f in files {
            f["file_url"] = Value::Null;
        }
    }
    let (p, e) = (payload.as_object().expect("an object payload"), expected.as_object().unwrap());
    let keys = |m: &serde_json::Map<String, Value>| m.keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(keys(p), keys(e), "payload {payload}\nGET {get}");
    for (k, v) in e {
        assert_eq!(&p[k], v, "field `{k}`: payload {payload}\nGET {get}");
    }
}

async fn get(app: &TestApp, at: &str) -> Value {
    let r = app.api().get(&path(at)).await;
    r.expect(200);
    r.body.clone()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_string()
}

async fn upload(app: &TestApp, filename: &str, data: &[u8]) -> Value {
    let boundary = "----confabprotocolhooks";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: text/plain\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let ct = format!("multipart/form-data; boundary={boundary}");
    let r = app.api().send_raw(Method::POST, &path("/attachments"), &ct, body).await;
    r.expect(201);
    r.body.clone()
}

#[tokio::test]
async fn every_protocol_event_is_delivered_signed_with_the_resource_as_get_shows_it() {
    let app = TestApp::spawn().await;
    let rx = receiver(0).await;
    let (_, secret) = subscribe(&app, &rx.url, json!(["*"])).await;
    let api = app.api();

    // Contacts.
    let r = api.post(&path("/contacts"), json!({"username": "kate", "phone_number": "+15550001111"})).await;
    r.expect(201);
    let kate = id(&r.body);
    same_as_get(
        &delivery(&rx, &secret, "contact.created", &kate).await,
        &get(&app, &format!("/contacts/{kate}")).await,
    );
    api.put(&path(&format!("/contacts/{kate}")), json!({"display_name": "Kate M."})).await.expect(200);
    let p = delivery_where(&rx, &secret, "contact.updated", &kate, |p| p["display_name"] == "Kate M.").await;
    same_as_get(&p, &get(&app, &format!("/contacts/{kate}")).await);

    // Conversations.
    let r = api.post(&path("/conversations"), json!({"contact_id": kate})).await;
    r.expect(201);
    let conv = id(&r.body);
    same_as_get(
        &delivery(&rx, &secret, "conversation.created", &conv).await,
        &get(&app, &format!("/conversations/{conv}")).await,
    );
    api.put(&path(&format!("/conversations/{conv}")), json!({"is_pinned": true, "is_muted": true})).await.expect(200);
    let p = delivery_where(&rx, &secret, "conversation.updated", &conv, |p| p["is_muted"] == true).await;
    assert_eq!(p["is_pinned"], true);
    same_as_get(&p, &get(&app, &format!("/conversations/{conv}")).await);

    // Attachments, then a message carrying one.
    let file = id(&upload(&app, "notes.txt", b"hello").await);
    same_as_get(
        &delivery(&rx, &secret, "attachment.created", &file).await,
        &get(&app, &format!("/attachments/{file}")).await,
    );
    api.put(&path(&format!("/attachments/{file}")), json!({"filename": "minutes.txt"})).await.expect(200);
    let p = delivery_where(&rx, &secret, "attachment.updated", &file, |p| p["filename"] == "minutes.txt").await;
    same_as_get(&p, &get(&app, &format!("/attachments/{file}")).await);

    let r = api
        .post(&path("/messages"), json!({"conversation_id": conv, "message": "see attached", "attachments": [file]}))
        .await;
    r.expect(201);
    let msg = id(&r.body);
    let p = delivery(&rx, &secret, "message.created", &msg).await;
    assert_eq!(p["attachments"][0]["id"], file.as_str(), "{p}");
    same_as_get(&p, &get(&app, &format!("/messages/{msg}")).await);
    // Attaching moved the attachment onto the message.
    let p = delivery_where(&rx, &secret, "attachment.updated", &file, |p| p["message_id"] == msg.as_str()).await;
    same_as_get(&p, &get(&app, &format!("/attachments/{file}")).await);

    api.put(&path(&format!("/messages/{msg}")), json!({"reactions": {"red_angry_face": ["KateMcCallister"]}}))
        .await
        .expect(200);
    let p = delivery_where(&rx, &secret, "message.updated", &msg, |p| p["updated_at"].is_number()).await;
    assert_eq!(p["reactions"], json!([{"red_angry_face": ["KateMcCallister"]}]));
    same_as_get(&p, &get(&app, &format!("/messages/{msg}")).await);
    // A read receipt through the Linktor face: message.updated with the message whole.
    app.api().patch(&format!("/v1/messages/{msg}/status"), json!({"status": "read"})).await.expect(200);
    let p = delivery_where(&rx, &secret, "message.updated", &msg, |p| p["read_at"].is_number()).await;
    assert_eq!(p["reactions"], json!([{"red_angry_face": ["KateMcCallister"]}]), "{p}");
    assert_eq!(p["attachments"][0]["id"], file.as_str(), "{p}");
    same_as_get(&p, &get(&app, &format!("/messages/{msg}")).await);

    // A message deleted: its last state.
    let r = api.post(&path("/messages"), json!({"conversation_id": conv, "message": "oops"})).await;
    r.expect(201);
    let oops = id(&r.body);
    same_as_get(
        &delivery(&rx, &secret, "message.created", &oops).await,
        &get(&app, &format!("/messages/{oops}")).await,
    );
    // With a reaction: the shared delete's last state carries it too.
    api.put(&path(&format!("/messages/{oops}")), json!({"reactions": {"thumbs_up": ["KevinMcCallister"]}}))
        .await
        .expect(200);
    delivery_where(&rx, &secret, "message.updated", &oops, |p| p["updated_at"].is_number()).await;
    let last = get(&app, &format!("/messages/{oops}")).await;
    assert_eq!(last["reactions"], json!([{"thumbs_up": ["KevinMcCallister"]}]), "{last}");
    api.delete(&path(&format!("/messages/{oops}"))).await.expect(204);
    same_as_get(&delivery(&rx, &secret, "message.deleted", &oops).await, &last);

    // An attachment deleted: its last state.
    let spare = id(&upload(&app, "spare.txt", b"x").await);
    let last = get(&app, &format!("/attachments/{spare}")).await;
    api.delete(&path(&format!("/attachments/{spare}"))).await.expect(204);
    same_as_get(&delivery(&rx, &secret, "attachment.deleted", &spare).await, &last);

    // Groups: created with its conversation, renamed, deleted with it.
    let r = api.post(&path("/groups"), json!({"name": "Team", "contacts": [kate]})).await;
    r.expect(201);
    let group = id(&r.body);
    let p = delivery(&rx, &secret, "group.created", &group).await;
    assert_eq!(p["contacts"][0]["id"], kate.as_str(), "{p}");
    let shown = get(&app, &format!("/groups/{group}")).await;
    same_as_get(&p, &shown);
    let group_conv = shown["conversation_id"].as_str().unwrap().to_string();
    delivery(&rx, &secret, "conversation.created", &group_conv).await;
    api.put(&path(&format!("/groups/{group}")), json!({"name": "Core team", "description": "the core"}))
        .await
        .expect(200);
    let p = delivery_where(&rx, &secret, "group.updated", &group, |p| p["name"] == "Core team").await;
    let last = get(&app, &format!("/groups/{group}")).await;
    same_as_get(&p, &last);
    let last_conv = get(&app, &format!("/conversations/{group_conv}")).await;
    api.delete(&path(&format!("/groups/{group}"))).await.expect(204);
    same_as_get(&delivery(&rx, &secret, "group.deleted", &group).await, &last);
    same_as_get(&delivery(&rx, &secret, "conversation.deleted", &group_conv).await, &last_conv);

    // A contact deleted (with its conversation): both last states.
    let last = get(&app, &format!("/contacts/{kate}")).await;
    assert_eq!(last["conversation_id"], conv.as_str());
    let last_conv = get(&app, &format!("/conversations/{conv}")).await;
    api.delete(&path(&format!("/contacts/{kate}"))).await.expect(204);
    same_as_get(&delivery(&rx, &secret, "contact.deleted", &kate).await, &last);
    same_as_get(&delivery(&rx, &secret, "conversation.deleted", &conv).await, &last_conv);

    // Every delivery was signed, and only Protocol's fifteen names were used.
    let names: BTreeSet<String> =
        rx.got.lock().unwrap().iter().map(|r| r.json()["type"].as_str().unwrap().to_string()).collect();
    let all: BTreeSet<String> = ["contact", "conversation", "message", "group", "attachment"]
        .iter()
        .flat_map(|r| ["created", "updated", "deleted"].map(|v| format!("{r}.{v}")))
        .collect();
    assert_eq!(names, all);
    for r in rx.got.lock().unwrap().iter() {
        verify(r, &secret);
    }
}

#[tokio::test]
async fn a_conversation_deleted_through_the_face_is_delivered_with_its_last_state() {
    let app = TestApp::spawn().await;
    let rx = receiver(0).await;
    let (_, secret) = subscribe(&app, &rx.url, json!(["conversation.deleted", "message.created"])).await;
    let api = app.api();
    let r = api.post(&path("/contacts"), json!({"username": "ana", "phone_number": "+15550002222"})).await;
    let ana = id(&r.body);
    let conv = id(&api.post(&path("/conversations"), json!({"contact_id": ana})).await.body);
    let r = api.post(&path("/messages"), json!({"conversation_id": conv, "message": "hi"})).await;
    r.expect(201);
    let msg = id(&r.body);
    same_as_get(&delivery(&rx, &secret, "message.created", &msg).await, &get(&app, &format!("/messages/{msg}")).await);
    api.put(&path(&format!("/conversations/{conv}")), json!({"pinned_message_id": msg})).await.expect(200);
    let last = get(&app, &format!("/conversations/{conv}")).await;
    assert!(last["last_active_at"].is_number(), "{last}");
    api.delete(&path(&format!("/conversations/{conv}"))).await.expect(204);
    let p = delivery(&rx, &secret, "conversation.deleted", &conv).await;
    assert_eq!(p["pinned_message_id"], msg.as_str());
    same_as_get(&p, &last);
}

#[tokio::test]
async fn the_events_filter_is_honoured() {
    let app = TestApp::spawn().await;
    let (some, all) = (receiver(0).await, receiver(0).await);
    let (_, some_secret) = subscribe(&app, &some.url, json!(["contact.created", "group.deleted"])).await;
    let (_, all_secret) = subscribe(&app, &all.url, json!(["*"])).await;
    let api = app.api();
    let r = api.post(&path("/contacts"), json!({"username": "bo", "phone_number": "+15550003333"})).await;
    let bo = id(&r.body);
    api.put(&path(&format!("/contacts/{bo}")), json!({"display_name": "Bo"})).await.expect(200);
    let group = id(&api.post(&path("/groups"), json!({"name": "G", "contacts": [bo]})).await.body);
    api.put(&path(&format!("/groups/{group}")), json!({"archived_at": 1_700_000_000})).await.expect(200);
    api.delete(&path(&format!("/groups/{group}"))).await.expect(204);

    // `*`: every event, in the Protocol vocabulary.
    delivery(&all, &all_secret, "group.deleted", &group).await;
    let names: Vec<String> =
        all.got.lock().unwrap().iter().map(|r| r.json()["type"].as_str().unwrap().into()).collect();
    for name in ["contact.created", "contact.updated", "group.created", "conversation.created", "group.updated"] {
        assert!(names.iter().any(|n| n == name), "no {name} in {names:?}");
    }
    let p = delivery(&all, &all_secret, "group.updated", &group).await;
    assert_eq!(p["archived_at"], 1_700_000_000);

    // A list: those events only (group.deleted is the last event appended).
    delivery(&some, &some_secret, "group.deleted", &group).await;
    delivery(&some, &some_secret, "contact.created", &bo).await;
    let names: Vec<String> =
        some.got.lock().unwrap().iter().map(|r| r.json()["type"].as_str().unwrap().into()).collect();
    assert_eq!(names, ["contact.created", "group.deleted"]);
}

#[tokio::test]
async fn unknown_protocol_event_names_are_refused_naming_events() {
    let app = TestApp::spawn().await;
    let rx = receiver(0).await;
    for events in [json!(["contact.created", "group.archived"]), json!(["message.sent"]), json!([])] {
        let r = app.api().post("/v1/webhooks", json!({"url": rx.url, "events": events, "format": "protocol"})).await;
        r.expect_error(400, "INVALID_EVENTS");
        assert_eq!(r.error_fields(), ["events"], "{}", r.text);
    }
    let (hook, _) = subscribe(&app, &rx.url, json!(["attachment.deleted"])).await;
    let r = app.api().patch(&format!("/v1/webhooks/{hook}"), json!({"events": ["conversation.assigned"]})).await;
    r.expect_error(400, "INVALID_EVENTS");
    assert_eq!(r.error_fields(), ["events"], "{}", r.text);
    app.api().patch(&format!("/v1/webhooks/{hook}"), json!({"events": ["group.created", "*"]})).await.expect(200);
}

#[tokio::test]
async fn attachments_moving_between_messages_are_attachment_updated_with_their_new_message_id() {
    let app = TestApp::spawn().await;
    let rx = receiver(0).await;
    let (_, secret) = subscribe(&app, &rx.url, json!(["attachment.updated", "message.updated"])).await;
    let api = app.api();
    let r = api.post(&path("/contacts"), json!({"username": "cy", "phone_number": "+15550004444"})).await;
    let conv = id(&api.post(&path("/conversations"), json!({"contact_id": id(&r.body)})).await.body);
    let (a, b) = (id(&upload(&app, "a.txt", b"a").await), id(&upload(&app, "b.txt", b"b").await));
    let r =
        api.post(&path("/messages"), json!({"conversation_id": conv, "message": "files", "attachments": [a]})).await;
    r.expect(201);
    let msg = id(&r.body);
    delivery_where(&rx, &secret, "attachment.updated", &a, |p| p["message_id"] == msg.as_str()).await;

    // The message drops `a` and takes `b`: both change, the message too.
    api.put(&path(&format!("/messages/{msg}")), json!({"attachments": [b]})).await.expect(200);
    let p = delivery_where(&rx, &secret, "message.updated", &msg, |p| p["attachments"][0]["id"] == b.as_str()).await;
    same_as_get(&p, &get(&app, &format!("/messages/{msg}")).await);
    let p = delivery_where(&rx, &secret, "attachment.updated", &a, |p| p["message_id"].is_null()).await;
    same_as_get(&p, &get(&app, &format!("/attachments/{a}")).await);
    let p = delivery_where(&rx, &secret, "attachment.updated", &b, |p| p["message_id"] == msg.as_str()).await;
    same_as_get(&p, &get(&app, &format!("/attachments/{b}")).await);

    // A PUT that changes nothing sends nothing (the marker after them is in the same conversation,
    // whose deliveries keep their order).
    let before = rx.got.lock().unwrap().len();
    api.put(&path(&format!("/messages/{msg}")), json!({"attachments": [b]})).await.expect(200);
    api.put(&path(&format!("/attachments/{b}")), json!({"filename": "b.txt"})).await.expect(200);
    api.put(&path(&format!("/attachments/{b}")), json!({"filename": "b2.txt"})).await.expect(200);
    delivery_where(&rx, &secret, "attachment.updated", &b, |p| p["filename"] == "b2.txt").await;
    assert_eq!(rx.got.lock().unwrap().len(), before + 1);
}

#[tokio::test]
async fn changes_through_other_faces_are_delivered_in_protocols_vocabulary() {
    let app = TestApp::spawn().await;
    let rx = receiver(0).await;
    let (_, secret) = subscribe(&app, &rx.url, json!(["message.created", "conversation.updated"])).await;
    let channel = app.channel("SMS", "sms").await;
    let r = app
        .api()
        .post(
            &format!("/v1/channels/{channel}/inbound"),
            json!({"sender": {"phone": "+15550005555", "name": "Ann"}, "content": {"type": "text", "text": "hello"}}),
        )
        .await;
    r.expect(201);
    let (msg, conv) = (r.id(), r.attrs()["conversationId"].as_str().unwrap().to_string());

    // A message received elsewhere: `message.created`; its snapshot has no Protocol keys, so the
    // sending contact is made from the sender's id and name (the rest as GET shows it).
    let p = delivery(&rx, &secret, "message.created", &msg).await;
    let mut shown = get(&app, &format!("/messages/{msg}")).await;
    assert_eq!(p["contact"]["id"], shown["contact"]["id"], "{p}");
    assert_eq!(p["contact"]["username"], shown["contact"]["username"], "{p}");
    shown["contact"] = p["contact"].clone();
    same_as_get(&p, &shown);

    // A close through /v1 is a Protocol `conversation.updated`.
    app.api().post(&format!("/v1/conversations/{conv}/close"), json!({})).await.expect(200);
    let p = delivery(&rx, &secret, "conversation.updated", &conv).await;
    same_as_get(&p, &get(&app, &format!("/conversations/{conv}")).await);
}
