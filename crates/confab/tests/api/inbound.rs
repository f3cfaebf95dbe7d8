//! `POST /v1/channels/:id/inbound`: how connectors feed Confab, and what an inbound message does to
//! contacts and conversations (DESIGN.md: Lifecycle, Contacts and channels, Inbound).

use crate::support::{Resp, TestApp};
use confab_core::model::{Actor, BulkRead, Ctx, CursorDirection, MessageFilter, PageRequest};
use confab_core::{ConversationId, MessageId};
use futures_util::future::join_all;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// Fixtures

/// The store context of the admin key of `acme`.
async fn admin_ctx(app: &TestApp) -> Ctx {
    let hash = confab_api::auth::hash_key(&app.key);
    let p = app.store.principal_by_key_hash(&hash).await.unwrap().expect("the admin key resolves");
    Ctx { tenant: p.tenant_id, actor: Actor::user(p.user_id, p.user_name) }
}

/// Posts an inbound text message from `sender` on `channel`.
async fn inbound(app: &TestApp, channel: &str, sender: Value, text: &str) -> Resp {
    app.api()
        .post(
            &format!("/v1/channels/{channel}/inbound"),
            json!({"sender": sender, "content": {"type": "text", "text": text}}),
        )
        .await
}

/// Posts an inbound text message from a phone; asserts it was stored (201).
async fn from_phone(app: &TestApp, channel: &str, phone: &str, text: &str) -> Resp {
    let r = inbound(app, channel, json!({"phone": phone, "name": "Ann"}), text).await;
    r.expect(201);
    r
}

fn conversation_of(r: &Resp) -> String {
    r.attrs()["conversationId"].as_str().unwrap_or_else(|| panic!("no conversationId in {}", r.text)).to_string()
}

async fn conversation(app: &TestApp, id: &str) -> Value {
    let r = app.api().get(&format!("/v1/conversations/{id}")).await;
    r.expect(200);
    r.attrs().clone()
}

/// The event types of a conversation, oldest first.
async fn event_types(app: &TestApp, id: &str) -> Vec<String> {
    let ctx = admin_ctx(app).await;
    let id: ConversationId = id.parse().unwrap();
    let page = app.store.conversation_events(&ctx, id, PageRequest { page: 1, per_page: 100 }).await.unwrap();
    page.items.iter().map(|e| e.event_type.as_str().to_string()).collect()
}

fn total(r: &Resp) -> u64 {
    r.expect(200);
    r.body["meta"]["pagination"]["totalCount"].as_u64().unwrap_or_else(|| panic!("no totalCount in {}", r.text))
}

/// How many messages the tenant has in `conversation`, read straight from the store.
async fn stored_messages(app: &TestApp, conversation: &str) -> u64 {
    let ctx = admin_ctx(app).await;
    let filter = MessageFilter { conversation_id: Some(conversation.parse().unwrap()), ..MessageFilter::default() };
    app.store.list_messages(&ctx, &filter, PageRequest { page: 1, per_page: 100 }).await.unwrap().total
}

// ---------------------------------------------------------------------------------------------
// The first message, the next ones, retries

#[tokio::test]
async fn the_first_inbound_message_from_a_new_phone_creates_the_contact_and_the_conversation() {
    let app = TestApp::spawn().await;
    let channel = app.channel("WhatsApp", "whatsapp").await;
    let body = json!({
        "externalId": "wamid.1",
        "sender": {"phone": "+55 11 99999-9999", "name": "Maria Silva"},
        "content": {"type": "text", "text": "Hello, I need help"},
        "metadata": {"waId": "5511999999999"},
        "sentAt": "2024-01-15T10:00:00Z",
    });
    let r = app.api().post(&format!("/v1/channels/{channel}/inbound"), body).await;
    r.expect(201);
    assert_eq!(r.body["data"]["type"], "message");
    assert_eq!(r.body["meta"]["created"], true);
    assert_eq!(r.body["meta"]["conversationCreated"], true);
    let a = r.attrs();
    assert_eq!(a["channelId"], channel.as_str());
    assert_eq!(a["direction"], "inbound");
    assert_eq!(a["status"], "delivered");
    assert_eq!(a["content"], json!({"type": "text", "text": "Hello, I need help"}));
    assert_eq!(a["externalId"], "wamid.1");
    assert_eq!(a["metadata"], json!({"waId": "5511999999999"}));
    assert_eq!(a["sentAt"], "2024-01-15T10:00:00.000Z");
    assert_eq!(a["deliveredAt"], a["createdAt"]);
    assert_eq!(a["readAt"], Value::Null);
    assert_eq!(a["from"]["type"], "contact");
    assert_eq!(a["from"]["name"], "Maria Silva");
    assert_eq!(a["from"]["id"], r.body["meta"]["contactId"]);
    let history = a["statusHistory"].as_array().unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["status"], "delivered");

    let id = conversation_of(&r);
    let c = conversation(&app, &id).await;
    assert_eq!(c["status"], "open");
    assert_eq!(c["channel"]["id"], channel.as_str());
    assert_eq!(c["contact"]["id"], a["from"]["id"]);
    assert_eq!(c["contact"]["phone"], "+5511999999999");
    assert_eq!(c["contact"]["name"], "Maria Silva");
    assert_eq!(c["source"], "whatsapp");
    assert_eq!((c["messageCount"].as_i64(), c["unreadCount"].as_i64()), (Some(1), Some(1)));
    assert_eq!(c["firstMessageAt"], a["createdAt"]);
    assert_eq!(c["lastMessageAt"], a["createdAt"]);
    assert_eq!(
        c["lastMessage"],
        json!({
            "id": r.id(),
            "content": {"type": "text", "text": "Hello, I need help"},
            "direction": "inbound",
            "status": "delivered",
            "timestamp": a["createdAt"],
        })
    );
    assert_eq!(event_types(&app, &id).await, ["conversation.created", "message.received"]);

    // The contact exists on its own, once.
    let contacts = app.api().get("/v1/contacts").await;
    assert_eq!(total(&contacts), 1);
}

#[tokio::test]
async fn a_second_message_reuses_the_contact_and_the_conversation() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let first = from_phone(&app, &channel, "+15550001111", "one").await;
    let second = inbound(&app, &channel, json!({"phone": "+1 555 000 1111"}), "two").await;
    second.expect(201);
    assert_eq!(second.body["meta"]["conversationCreated"], false);
    assert_eq!(second.body["meta"]["contactId"], first.body["meta"]["contactId"]);
    let id = conversation_of(&first);
    assert_eq!(conversation_of(&second), id);
    let c = conversation(&app, &id).await;
    assert_eq!((c["messageCount"].as_i64(), c["unreadCount"].as_i64()), (Some(2), Some(2)));
    assert_eq!(c["firstMessageAt"], first.attrs()["createdAt"]);
    assert_eq!(c["lastMessageAt"], second.attrs()["createdAt"]);
    assert_eq!(c["lastMessage"]["id"], second.id().as_str());
    assert_eq!(c["lastMessage"]["content"]["text"], "two");
    assert_eq!(event_types(&app, &id).await, ["conversation.created", "message.received", "message.received"]);
    // The list carries the last message too.
    let list = app.api().get("/v1/conversations").await;
    assert_eq!(list.body["data"][0]["attributes"]["lastMessage"]["id"], second.id().as_str());
}

#[tokio::test]
async fn a_retry_with_the_same_external_id_is_stored_once() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let api = app.api();
    let path = format!("/v1/channels/{channel}/inbound");
    let body =
        json!({"externalId": "sms-42", "sender": {"phone": "+15550001111"}, "content": {"type": "text", "text": "hi"}});
    let first = api.post(&path, body.clone()).await;
    first.expect(201);
    let id = conversation_of(&first);
    let events = event_types(&app, &id).await.len();

    // Even with another body: the external id is what identifies the message at the channel.
    let mut again = body.clone();
    again["content"]["text"] = json!("hi (resent)");
    let retry = api.post(&path, again).await;
    retry.expect(200);
    assert_eq!(retry.id(), first.id());
    assert_eq!(retry.body["meta"]["created"], false);
    assert_eq!(retry.body["meta"]["conversationCreated"], false);
    assert_eq!(retry.body["meta"]["contactId"], first.body["meta"]["contactId"]);
    assert_eq!(retry.attrs()["content"]["text"], "hi");
    let c = conversation(&app, &id).await;
    assert_eq!((c["messageCount"].as_i64(), c["unreadCount"].as_i64()), (Some(1), Some(1)));
    assert_eq!(event_types(&app, &id).await.len(), events, "a retry emits nothing");
    assert_eq!(stored_messages(&app, &id).await, 1);

    // The same external id on another channel is another message.
    let other = app.channel("Other SMS", "sms").await;
    api.post(&format!("/v1/channels/{other}/inbound"), body).await.expect(201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_retries_of_one_message_store_it_once() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let api = app.api();
    let path = format!("/v1/channels/{channel}/inbound");
    let body =
        json!({"externalId": "dup", "sender": {"phone": "+15550001111"}, "content": {"type": "text", "text": "hi"}});
    let results = join_all((0..10).map(|_| {
        let (api, path, body) = (api.clone(), path.clone(), body.clone());
        tokio::spawn(async move { api.post(&path, body).await })
    }))
    .await;
    let results: Vec<Resp> = results.into_iter().map(Result::unwrap).collect();
    let statuses: Vec<u16> = results.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 9, "{statuses:?}");
    let id = results[0].id();
    assert!(results.iter().all(|r| r.id() == id));
    let conversation_id = conversation_of(&results[0]);
    assert_eq!(stored_messages(&app, &conversation_id).await, 1);
    assert_eq!(conversation(&app, &conversation_id).await["messageCount"], 1);
}

// ---------------------------------------------------------------------------------------------
// Lifecycle

#[tokio::test]
async fn a_message_to_a_closed_conversation_starts_a_new_one() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let first = from_phone(&app, &channel, "+15550001111", "one").await;
    let old = conversation_of(&first);
    app.api().post_empty(&format!("/v1/conversations/{old}/close")).await.expect(200);

    let next = from_phone(&app, &channel, "+15550001111", "two").await;
    assert_eq!(next.body["meta"]["conversationCreated"], true);
    let new = conversation_of(&next);
    assert_ne!(new, old);
    assert_eq!(next.body["meta"]["contactId"], first.body["meta"]["contactId"]);
    let c = conversation(&app, &new).await;
    assert_eq!((c["status"].as_str(), c["messageCount"].as_i64()), (Some("open"), Some(1)));
    let closed = conversation(&app, &old).await;
    assert_eq!((closed["status"].as_str(), closed["messageCount"].as_i64()), (Some("closed"), Some(1)));
    assert_eq!(event_types(&app, &new).await, ["conversation.created", "message.received"]);
}

#[tokio::test]
async fn a_message_opens_a_snoozed_or_pending_conversation() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let api = app.api();
    let first = from_phone(&app, &channel, "+15550001111", "one").await;
    let id = conversation_of(&first);
    let until = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    api.patch(&format!("/v1/conversations/{id}"), json!({"status": "snoozed", "snoozedUntil": until}))
        .await
        .expect(200);

    let r = from_phone(&app, &channel, "+15550001111", "are you there?").await;
    assert_eq!(conversation_of(&r), id, "a snoozed conversation is still the active one");
    let c = conversation(&app, &id).await;
    assert_eq!((c["status"].as_str(), &c["snoozedUntil"]), (Some("open"), &Value::Null));
    let types = event_types(&app, &id).await;
    assert_eq!(types[types.len() - 2..], ["conversation.updated", "message.received"]);

    api.patch(&format!("/v1/conversations/{id}"), json!({"status": "pending"})).await.expect(200);
    let r = from_phone(&app, &channel, "+15550001111", "hello?").await;
    assert_eq!(conversation_of(&r), id);
    assert_eq!(conversation(&app, &id).await["status"], "open");
    let types = event_types(&app, &id).await;
    assert_eq!(types[types.len() - 2..], ["conversation.updated", "message.received"]);

    // An open conversation stays as it is: no status event.
    let before = event_types(&app, &id).await.len();
    from_phone(&app, &channel, "+15550001111", "again").await;
    assert_eq!(event_types(&app, &id).await.len(), before + 1);
}

// ---------------------------------------------------------------------------------------------
// Senders

#[tokio::test]
async fn an_email_sender_matches_the_contact_by_email_in_any_case() {
    let app = TestApp::spawn().await;
    let channel = app.channel("Mail", "email").await;
    let contact = app.api().post("/v1/contacts", json!({"name": "Jane", "email": "jane@example.com"})).await;
    contact.expect(201);
    let r = inbound(&app, &channel, json!({"email": "  Jane@Example.COM ", "name": "Someone Else"}), "hi").await;
    r.expect(201);
    assert_eq!(r.body["meta"]["contactId"], contact.id().as_str());
    assert_eq!(r.attrs()["from"]["name"], "Jane", "an existing contact keeps its name");
    let c = conversation(&app, &conversation_of(&r)).await;
    assert_eq!(c["contact"]["email"], "jane@example.com");
}

#[tokio::test]
async fn an_external_id_sender_is_one_contact_per_channel() {
    let app = TestApp::spawn().await;
    let telegram = app.channel("Telegram", "telegram").await;
    let first = inbound(&app, &telegram, json!({"externalId": "tg-1001", "name": "Bob"}), "one").await;
    first.expect(201);
    assert_eq!(first.attrs()["from"]["name"], "Bob");
    let second = inbound(&app, &telegram, json!({"externalId": "tg-1001"}), "two").await;
    second.expect(201);
    assert_eq!(second.body["meta"]["contactId"], first.body["meta"]["contactId"]);
    assert_eq!(conversation_of(&second), conversation_of(&first));
    let contact = first.body["meta"]["contactId"].as_str().unwrap().to_string();
    let c = app.api().get(&format!("/v1/contacts/{contact}")).await;
    c.expect(200);
    assert_eq!(c.attrs()["name"], "Bob");

    // Another channel's ids are another namespace.
    let other = app.channel("Telegram 2", "telegram").await;
    let elsewhere = inbound(&app, &other, json!({"externalId": "tg-1001"}), "hi").await;
    elsewhere.expect(201);
    assert_ne!(elsewhere.body["meta"]["contactId"], first.body["meta"]["contactId"]);

    // An external id given with a phone is linked to the phone's contact, for later messages.
    let wa = app.channel("WA", "whatsapp").await;
    let with_phone = inbound(&app, &wa, json!({"phone": "+15550002222", "externalId": "wa-7"}), "a").await;
    with_phone.expect(201);
    let by_id = inbound(&app, &wa, json!({"externalId": "wa-7"}), "b").await;
    by_id.expect(201);
    assert_eq!(by_id.body["meta"]["contactId"], with_phone.body["meta"]["contactId"]);
    assert_eq!(total(&app.api().get("/v1/contacts").await), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_messages_from_one_new_phone_make_one_contact_one_conversation_and_twenty_messages() {
    let app = TestApp::spawn().await;
    let channel = app.channel("WhatsApp", "whatsapp").await;
    let api = app.api();
    let path = format!("/v1/channels/{channel}/inbound");
    let results = join_all((0..20).map(|i| {
        let (api, path) = (api.clone(), path.clone());
        let body = json!({
            "externalId": format!("m-{i}"),
            "sender": {"phone": "+5511999999999", "name": "Maria"},
            "content": {"type": "text", "text": format!("message {i}")},
        });
        tokio::spawn(async move { api.post(&path, body).await })
    }))
    .await;
    let results: Vec<Resp> = results.into_iter().map(Result::unwrap).collect();
    assert!(results.iter().all(|r| r.status == 201), "{:?}", results.iter().map(|r| &r.text).collect::<Vec<_>>());
    assert_eq!(results.iter().filter(|r| r.body["meta"]["conversationCreated"] == true).count(), 1);
    let conversation_id = conversation_of(&results[0]);
    assert!(results.iter().all(|r| conversation_of(r) == conversation_id));
    assert_eq!(total(&api.get("/v1/contacts").await), 1);
    assert_eq!(total(&api.get(&format!("/v1/conversations?channelId={channel}")).await), 1);
    assert_eq!(stored_messages(&app, &conversation_id).await, 20);
    let c = conversation(&app, &conversation_id).await;
    assert_eq!((c["messageCount"].as_i64(), c["unreadCount"].as_i64()), (Some(20), Some(20)));
    // The last message is the newest one stored.
    let ctx = admin_ctx(&app).await;
    let newest = app.store.recent_messages(&ctx, conversation_id.parse().unwrap(), 1).await.unwrap();
    assert_eq!(c["lastMessage"]["id"], newest[0].id.to_string());
    let types = event_types(&app, &conversation_id).await;
    assert_eq!(types[0], "conversation.created");
    assert_eq!(types.iter().filter(|t| *t == "message.received").count(), 20);
    assert_eq!(types.len(), 21);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_first_messages_of_a_known_contact_start_one_conversation() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let api = app.api();
    let contact = api.post("/v1/contacts", json!({"name": "Ann", "phone": "+15550001111"})).await.expect(201).id();
    let path = format!("/v1/channels/{channel}/inbound");
    let results = join_all((0..20).map(|i| {
        let (api, path) = (api.clone(), path.clone());
        let body = json!({"sender": {"phone": "+15550001111"}, "content": {"type": "text", "text": format!("{i}")}});
        tokio::spawn(async move { api.post(&path, body).await })
    }))
    .await;
    let results: Vec<Resp> = results.into_iter().map(Result::unwrap).collect();
    assert!(results.iter().all(|r| r.status == 201), "{:?}", results.iter().map(|r| &r.text).collect::<Vec<_>>());
    assert!(results.iter().all(|r| r.body["meta"]["contactId"] == contact.as_str()));
    assert_eq!(results.iter().filter(|r| r.body["meta"]["conversationCreated"] == true).count(), 1);
    assert_eq!(total(&api.get(&format!("/v1/conversations?channelId={channel}")).await), 1);
    let conversation_id = conversation_of(&results[0]);
    let c = conversation(&app, &conversation_id).await;
    assert_eq!((c["messageCount"].as_i64(), c["unreadCount"].as_i64()), (Some(20), Some(20)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_messages_from_one_new_external_id_make_one_contact() {
    let app = TestApp::spawn().await;
    let channel = app.channel("Telegram", "telegram").await;
    let api = app.api();
    let path = format!("/v1/channels/{channel}/inbound");
    let results = join_all((0..20).map(|i| {
        let (api, path) = (api.clone(), path.clone());
        let body = json!({"sender": {"externalId": "tg-77", "name": "Bob"}, "content": {"type": "text", "text": format!("{i}")}});
        tokio::spawn(async move { api.post(&path, body).await })
    }))
    .await;
    let results: Vec<Resp> = results.into_iter().map(Result::unwrap).collect();
    assert!(results.iter().all(|r| r.status == 201), "{:?}", results.iter().map(|r| &r.text).collect::<Vec<_>>());
    let contact = &results[0].body["meta"]["contactId"];
    assert!(results.iter().all(|r| &r.body["meta"]["contactId"] == contact));
    assert_eq!(total(&api.get("/v1/contacts").await), 1, "the losers' contacts were undone");
    let conversation_id = conversation_of(&results[0]);
    assert_eq!(stored_messages(&app, &conversation_id).await, 20);
    assert_eq!(conversation(&app, &conversation_id).await["messageCount"], 20);
}

// ---------------------------------------------------------------------------------------------
// Reading, deleting and paging what came in (the store operations behind the messages API)

#[tokio::test]
async fn reads_recount_unread_and_deletes_move_the_last_message_back() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let ctx = admin_ctx(&app).await;
    let one = from_phone(&app, &channel, "+15550001111", "one").await;
    let two = from_phone(&app, &channel, "+15550001111", "two").await;
    let three = from_phone(&app, &channel, "+15550001111", "three").await;
    let id = conversation_of(&one);
    let mid = |r: &Resp| -> MessageId { r.id().parse().unwrap() };

    let read = app.store.mark_message_read(&ctx, mid(&two)).await.unwrap();
    assert!(read.read_at.is_some());
    assert_eq!(read.status.as_str(), "read");
    let c = conversation(&app, &id).await;
    assert_eq!(c["unreadCount"], 2);
    // Reading again changes nothing and emits nothing.
    let before = event_types(&app, &id).await.len();
    app.store.mark_message_read(&ctx, mid(&two)).await.unwrap();
    assert_eq!(event_types(&app, &id).await.len(), before);

    let conv: ConversationId = id.parse().unwrap();
    let (marked, concerned) =
        app.store.bulk_read(&ctx, BulkRead::Conversation { id: conv, before: None }).await.unwrap();
    assert_eq!((marked, concerned), (2, Some(conv)));
    assert_eq!(conversation(&app, &id).await["unreadCount"], 0);
    let types = event_types(&app, &id).await;
    assert_eq!(
        types.iter().filter(|t| *t == "message.read").count(),
        2,
        "one per single read, one per bulk: {types:?}"
    );

    // Deleting the newest message makes the one before it the last message.
    app.store.delete_message(&ctx, mid(&three)).await.unwrap();
    let c = conversation(&app, &id).await;
    assert_eq!(c["messageCount"], 2);
    assert_eq!(c["lastMessage"]["id"], two.id().as_str());
    assert_eq!(c["lastMessageAt"], two.attrs()["createdAt"]);
    app.store.delete_message(&ctx, mid(&one)).await.unwrap();
    app.store.delete_message(&ctx, mid(&two)).await.unwrap();
    let c = conversation(&app, &id).await;
    assert_eq!((c["messageCount"].as_i64(), c["unreadCount"].as_i64()), (Some(0), Some(0)));
    assert_eq!(
        (&c["lastMessage"], &c["lastMessageAt"], &c["firstMessageAt"]),
        (&Value::Null, &Value::Null, &Value::Null)
    );
    assert_eq!(event_types(&app, &id).await.last().map(String::as_str), Some("message.deleted"));
}

#[tokio::test]
async fn a_conversation_pages_by_cursor_in_both_directions() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let ctx = admin_ctx(&app).await;
    let mut sent = Vec::new();
    for i in 0..6 {
        sent.push(from_phone(&app, &channel, "+15550001111", &format!("m{i}")).await);
    }
    let conv: ConversationId = conversation_of(&sent[0]).parse().unwrap();
    let pick = |at: &[usize]| at.iter().map(|i| sent[*i].id()).collect::<Vec<_>>();
    let ids = |items: &[confab_core::model::Message]| items.iter().map(|m| m.id.to_string()).collect::<Vec<_>>();

    let page = app.store.conversation_messages(&ctx, conv, None, 4, CursorDirection::Before).await.unwrap();
    assert_eq!(ids(&page.items), pick(&[5, 4, 3, 2]));
    assert!(page.has_more);
    let rest =
        app.store.conversation_messages(&ctx, conv, page.next.as_deref(), 4, CursorDirection::Before).await.unwrap();
    assert_eq!(ids(&rest.items), pick(&[1, 0]));
    assert!(!rest.has_more && rest.next.is_none());

    let page = app.store.conversation_messages(&ctx, conv, None, 3, CursorDirection::After).await.unwrap();
    assert_eq!(ids(&page.items), pick(&[0, 1, 2]));
    let rest =
        app.store.conversation_messages(&ctx, conv, page.next.as_deref(), 3, CursorDirection::After).await.unwrap();
    assert_eq!(ids(&rest.items), pick(&[3, 4, 5]));
    assert!(!rest.has_more);

    let recent = app.store.recent_messages(&ctx, conv, 2).await.unwrap();
    assert_eq!(ids(&recent), pick(&[4, 5]), "the newest, oldest first");

    match app.store.conversation_messages(&ctx, conv, Some("not-a-cursor"), 3, CursorDirection::After).await {
        Err(confab_core::Error::Validation(e)) => assert_eq!(e[0].field, "cursor"),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Errors and scopes

#[tokio::test]
async fn invalid_fields_are_400_naming_each() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let api = app.api();
    let path = format!("/v1/channels/{channel}/inbound");
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({"content": {"type": "text", "text": "x"}}), vec!["sender"]),
        (json!({"sender": {}, "content": {"type": "text", "text": "x"}}), vec!["sender"]),
        (json!({"sender": {"name": "Ann"}, "content": {"type": "text", "text": "x"}}), vec!["sender"]),
        (json!({"sender": {"phone": "5550001111"}, "content": {"type": "text", "text": "x"}}), vec!["sender.phone"]),
        (json!({"sender": {"email": "nope"}, "content": {"type": "text", "text": "x"}}), vec!["sender.email"]),
        (json!({"sender": {"phone": "+15550001111"}}), vec!["content"]),
        (json!({"sender": {"phone": "+15550001111"}, "content": {"type": "text"}}), vec!["content.text"]),
        (
            json!({"sender": {"phone": "+15550001111"}, "content": {"type": "location", "latitude": 100}}),
            vec!["content.latitude", "content.longitude"],
        ),
        (
            json!({"sender": {"phone": "+15550001111"}, "content": {"type": "text", "text": "x"}, "sentAt": "yesterday"}),
            vec!["sentAt"],
        ),
        (
            json!({"sender": {"phone": "+15550001111"}, "content": {"type": "text", "text": "x"}, "sentAt": "2999-01-01T00:00:00Z"}),
            vec!["sentAt"],
        ),
        (
            json!({"externalId": "x".repeat(256), "sender": {"externalId": "y".repeat(256)}, "content": {"type": "text", "text": "x"}}),
            vec!["externalId", "sender.externalId"],
        ),
        (json!({"sender": "+15550001111", "content": {"type": "text", "text": "x"}}), vec!["sender"]),
        (
            json!({"sender": {"phone": "+15550001111"}, "content": {"type": "text", "text": "x"}, "metadata": 5}),
            vec!["metadata"],
        ),
        (json!({"sender": {}, "content": {}}), vec!["sender", "content.type"]),
    ];
    for (body, fields) in cases {
        let r = api.post(&path, body.clone()).await;
        r.expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.error_fields(), fields, "for {body}");
    }
    let r = api.post(&path, json!({"sender": {"phone": "+15550001111"}, "content": {"type": "hologram"}})).await;
    r.expect_error(400, "UNSUPPORTED_CONTENT_TYPE");
    assert_eq!(r.error_fields(), ["content.type"]);
    // Nothing was stored on the way.
    assert_eq!(total(&api.get("/v1/contacts").await), 0);
    assert_eq!(total(&api.get("/v1/conversations").await), 0);
}

#[tokio::test]
async fn an_unknown_channel_is_404_and_an_inactive_one_422() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let body = json!({"sender": {"phone": "+15550001111"}, "content": {"type": "text", "text": "x"}});
    for channel in [uuid::Uuid::now_v7().to_string(), "not-an-id".to_string()] {
        api.post(&format!("/v1/channels/{channel}/inbound"), body.clone()).await.expect_error(404, "CHANNEL_NOT_FOUND");
    }
    // Another tenant's channel does not exist for this key.
    let globex = app.as_key(&app.new_key("globex", "Gus", "admin").await);
    let theirs = globex.post("/v1/channels", json!({"name": "Theirs", "type": "sms"})).await.expect(201).id();
    api.post(&format!("/v1/channels/{theirs}/inbound"), body.clone()).await.expect_error(404, "CHANNEL_NOT_FOUND");

    let channel = app.channel("SMS", "sms").await;
    api.post_empty(&format!("/v1/channels/{channel}/deactivate")).await.expect(200);
    let path = format!("/v1/channels/{channel}/inbound");
    api.post(&path, body.clone()).await.expect_error(422, "CHANNEL_NOT_CONNECTED");
    assert_eq!(total(&api.get("/v1/contacts").await), 0);
    api.post_empty(&format!("/v1/channels/{channel}/activate")).await.expect(200);
    api.post(&path, body).await.expect(201);
}

#[tokio::test]
async fn inbound_needs_the_messages_write_scope() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let path = format!("/v1/channels/{channel}/inbound");
    let body = json!({"sender": {"phone": "+15550001111"}, "content": {"type": "text", "text": "x"}});
    for scopes in ["messages:read", "conversations:write,contacts:write,channels:write"] {
        let key = app.new_key("acme", &format!("Key {scopes}"), scopes).await;
        app.as_key(&key).post(&path, body.clone()).await.expect_error(403, "INSUFFICIENT_PERMISSIONS");
    }
    app.anonymous().post(&path, body.clone()).await.expect_error(401, "AUTHENTICATION_REQUIRED");
    let connector = app.new_key("acme", "Connector", "messages:write").await;
    let r = app.as_key(&connector).post(&path, body).await;
    r.expect(201);
    // The contact created on the way is the connector's doing; the message and conversation are the contact's.
    let ctx = admin_ctx(&app).await;
    let id: ConversationId = conversation_of(&r).parse().unwrap();
    let events = app.store.conversation_events(&ctx, id, PageRequest { page: 1, per_page: 10 }).await.unwrap();
    assert!(events.items.iter().all(|e| e.actor.kind.as_str() == "contact"));
}
