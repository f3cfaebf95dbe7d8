//! /v1/conversations: list, get, create, update.

use crate::support::{Resp, TestApp};
use confab_core::model::{Actor, BotProvider, Ctx, NewBot, PageRequest, UserRole};
use confab_core::ConversationId;
use confab_store::NewUser;
use futures_util::future::join_all;
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// Fixtures

/// The store context of the admin key of `acme` (for fixtures the API of this module lacks).
async fn admin_ctx(app: &TestApp) -> Ctx {
    let hash = confab_api::auth::hash_key(&app.key);
    let p = app.store.principal_by_key_hash(&hash).await.unwrap().expect("the admin key resolves");
    Ctx { tenant: p.tenant_id, actor: Actor::user(p.user_id, p.user_name) }
}

/// A user of `acme`; returns its id.
async fn user(app: &TestApp, name: &str) -> String {
    let ctx = admin_ctx(app).await;
    let new = NewUser { name: name.into(), email: None, role: UserRole::Agent };
    app.store.create_user(&ctx, new).await.unwrap().id.to_string()
}

/// A bot of `acme`; returns its id.
async fn bot(app: &TestApp, name: &str) -> String {
    let ctx = admin_ctx(app).await;
    let new = NewBot {
        name: name.into(),
        provider: BotProvider::Openai,
        model: "gpt-4o".into(),
        config: Default::default(),
        metadata: Default::default(),
    };
    app.store.create_bot(&ctx, new).await.unwrap().id.to_string()
}

/// Creates a conversation with an inline contact of that phone and name; asserts 201.
async fn conversation(app: &TestApp, channel: &str, phone: &str, name: &str) -> Resp {
    let r = app
        .api()
        .post("/v1/conversations", json!({"channelId": channel, "contact": {"phone": phone, "name": name}}))
        .await;
    r.expect(201);
    r
}

/// The event types of a conversation, oldest first.
async fn event_types(app: &TestApp, id: &str) -> Vec<String> {
    let ctx = admin_ctx(app).await;
    let id: ConversationId = id.parse().unwrap();
    let page = app.store.conversation_events(&ctx, id, PageRequest { page: 1, per_page: 100 }).await.unwrap();
    page.items.iter().map(|e| e.event_type.as_str().to_string()).collect()
}

/// Sets an instant column of a conversation directly in the database (messages, which move
/// `lastMessageAt`, come with a later issue; `createdAt` is otherwise always "now").
async fn set_instant(app: &TestApp, id: &str, column: &str, iso: &str) {
    use sqlx::Connection;
    let micros = chrono::DateTime::parse_from_rfc3339(iso).unwrap().timestamp_micros();
    let id = uuid::Uuid::parse_str(id).unwrap();
    let sql = format!("UPDATE conversations SET {column} = $1 WHERE id = $2");
    if app.url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(&app.url).await.unwrap();
        sqlx::query(&sql).bind(micros).bind(id).execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
    } else {
        let mut conn = sqlx::SqliteConnection::connect(&app.url).await.unwrap();
        sqlx::query("PRAGMA busy_timeout = 5000").execute(&mut conn).await.unwrap();
        let done = sqlx::query(&sql).bind(micros).bind(id).execute(&mut conn).await.unwrap();
        assert_eq!(done.rows_affected(), 1);
        conn.close().await.unwrap();
    }
}

/// The ids of a list response, in order.
fn ids(r: &Resp) -> Vec<String> {
    r.expect(200);
    r.body["data"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect()
}

fn total(r: &Resp) -> u64 {
    r.expect(200);
    r.body["meta"]["pagination"]["totalCount"].as_u64().unwrap()
}

/// Owned copies of ids, to compare with a list.
fn v(ids: &[&String]) -> Vec<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

fn future(seconds: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(seconds)).to_rfc3339()
}

// ---------------------------------------------------------------------------------------------
// POST /v1/conversations

#[tokio::test]
async fn a_conversation_is_created_open_with_every_field_and_its_event() {
    let app = TestApp::spawn().await;
    let channel = app.channel("WhatsApp Business", "whatsapp").await;
    let r = app
        .api()
        .post(
            "/v1/conversations",
            json!({
                "channelId": channel,
                "contact": {"phone": "+55 (11) 99999-9999", "email": "Maria@Example.COM", "name": "Maria Silva",
                            "avatar": "https://example.com/m.png", "metadata": {"crm": 7}},
                "metadata": {"source": "website", "campaign": {"id": 3}},
                "tags": [" vip ", "sales", "vip"],
                "priority": "high",
                "subject": "Order #123",
                "unknownField": true
            }),
        )
        .await;
    r.expect(201);
    assert_eq!(r.body["data"]["type"], "conversation");
    assert!(r.body["data"].get("relationships").is_none());
    assert!(r.body["meta"]["requestId"].is_string());
    let a = r.attrs();
    assert_eq!(a["status"], "open");
    assert_eq!((a["unreadCount"].as_i64(), a["messageCount"].as_i64()), (Some(0), Some(0)));
    assert_eq!(a["channel"], json!({"id": channel, "type": "whatsapp", "name": "WhatsApp Business"}));
    assert_eq!(a["contact"]["phone"], "+5511999999999");
    assert_eq!(a["contact"]["email"], "maria@example.com");
    assert_eq!(a["contact"]["name"], "Maria Silva");
    assert_eq!(a["contact"]["avatar"], "https://example.com/m.png");
    assert_eq!(a["contact"]["metadata"], json!({"crm": 7}));
    assert_eq!(a["metadata"], json!({"source": "website", "campaign": {"id": 3}}));
    assert_eq!(a["tags"], json!(["vip", "sales"]));
    assert_eq!(a["priority"], "high");
    assert_eq!(a["subject"], "Order #123");
    assert_eq!(a["source"], "api");
    assert_eq!(a["createdAt"], a["updatedAt"]);
    for unset in ["assignee", "bot", "lastMessage", "lastMessageAt", "closedAt", "snoozedUntil", "assignedAt"] {
        assert!(a[unset].is_null(), "{unset} should be null: {}", r.text);
    }
    let id = r.id();
    uuid::Uuid::parse_str(&id).expect("ids are UUIDs");

    let got = app.api().get(&format!("/v1/conversations/{id}")).await;
    got.expect(200);
    assert_eq!(got.body["data"], r.body["data"]);
    assert_eq!(event_types(&app, &id).await, ["conversation.created"]);
}

#[tokio::test]
async fn the_priority_defaults_to_normal_and_the_subject_to_null() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let r = conversation(&app, &channel, "+15550001111", "Ann").await;
    assert_eq!(r.attrs()["priority"], "normal");
    assert!(r.attrs()["subject"].is_null());
    assert_eq!(r.attrs()["tags"], json!([]));
    assert_eq!(r.attrs()["metadata"], json!({}));
}

#[tokio::test]
async fn an_inline_contact_is_reused_by_phone_and_by_email_in_any_case() {
    let app = TestApp::spawn().await;
    let wa = app.channel("WA", "whatsapp").await;
    let sms = app.channel("SMS", "sms").await;
    let mail = app.channel("Mail", "email").await;
    let api = app.api();

    let first = conversation(&app, &wa, "+5511999999999", "Maria").await;
    let again = api
        .post(
            "/v1/conversations",
            json!({"channelId": sms, "contact": {"phone": "+55 11 99999-9999", "name": "Other"}}),
        )
        .await;
    again.expect(201);
    assert_eq!(again.attrs()["contact"]["id"], first.attrs()["contact"]["id"]);
    // The existing contact is reused as it is: the inline name does not rename it.
    assert_eq!(again.attrs()["contact"]["name"], "Maria");

    let by_email =
        api.post("/v1/conversations", json!({"channelId": wa, "contact": {"email": "Jane@Example.com"}})).await;
    by_email.expect(201);
    let same =
        api.post("/v1/conversations", json!({"channelId": mail, "contact": {"email": "JANE@example.COM"}})).await;
    same.expect(201);
    assert_eq!(same.attrs()["contact"]["id"], by_email.attrs()["contact"]["id"]);
    assert_eq!(same.attrs()["contact"]["email"], "jane@example.com");
    assert_ne!(by_email.attrs()["contact"]["id"], first.attrs()["contact"]["id"]);
}

#[tokio::test]
async fn contact_id_wins_over_an_inline_contact_which_is_then_ignored() {
    let app = TestApp::spawn().await;
    let wa = app.channel("WA", "whatsapp").await;
    let sms = app.channel("SMS", "sms").await;
    let first = conversation(&app, &wa, "+5511999999999", "Maria").await;
    let contact_id = first.attrs()["contact"]["id"].as_str().unwrap().to_string();
    let r = app
        .api()
        .post(
            "/v1/conversations",
            json!({"channelId": sms, "contactId": contact_id, "contact": {"phone": "not a phone"}}),
        )
        .await;
    r.expect(201);
    assert_eq!(r.attrs()["contact"]["id"], contact_id.as_str());
    assert_eq!(r.attrs()["contact"]["phone"], "+5511999999999");
}

#[tokio::test]
async fn creating_reports_every_invalid_field_in_one_error() {
    let app = TestApp::spawn().await;
    let mut deep = json!(1);
    for _ in 0..20 {
        deep = json!({ "d": deep });
    }
    let r = app
        .api()
        .post(
            "/v1/conversations",
            json!({
                "assigneeType": "robot",
                "priority": "critical",
                "subject": "s".repeat(501),
                "metadata": deep,
                "tags": ["ok", "  ", "x".repeat(101)]
            }),
        )
        .await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(
        r.error_fields(),
        ["channelId", "contactId", "assigneeType", "priority", "subject", "metadata", "tags[1]", "tags[2]"]
    );
    assert_eq!(r.body["error"]["message"], "Invalid request parameters.");

    let r = app.api().post("/v1/conversations", json!({"contactId": uuid::Uuid::now_v7()})).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["channelId"]);
    assert_eq!(r.body["error"]["message"], "Invalid request parameters: channelId is required.");
}

#[tokio::test]
async fn a_channel_conversation_needs_a_contact() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let r = app.api().post("/v1/conversations", json!({"channelId": channel})).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["contactId"]);
}

#[tokio::test]
async fn an_inline_contact_needs_a_valid_phone_or_email() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let api = app.api();
    let cases = [
        (json!({"name": "No Address"}), vec!["contact"]),
        (json!({"phone": "", "email": "  "}), vec!["contact"]),
        (json!({"phone": "11 99999-9999"}), vec!["contact.phone"]),
        (json!({"phone": "+55abc"}), vec!["contact.phone"]),
        (json!({"email": "not-an-email"}), vec!["contact.email"]),
        (json!({"phone": "+5511999999999", "email": "a@b"}), vec!["contact.email"]),
        (json!({"phone": "+1", "email": "x@"}), vec!["contact.phone", "contact.email"]),
        (json!({"phone": "+5511999999999", "name": "n".repeat(201)}), vec!["contact.name"]),
    ];
    for (contact, fields) in cases {
        let r = api.post("/v1/conversations", json!({"channelId": channel, "contact": contact})).await;
        r.expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.error_fields(), fields, "contact {contact}");
    }
}

#[tokio::test]
async fn a_value_of_the_wrong_json_type_is_400_naming_the_field() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let cases = [
        (json!({"channelId": 5}), "channelId"),
        (json!({"tags": "vip"}), "tags"),
        (json!({"tags": ["vip", 3]}), "tags[1]"),
        (json!({"contact": {"phone": 5511999999999u64}}), "contact.phone"),
        (json!({"contact": "+5511999999999"}), "contact"),
        (json!({"metadata": [1, 2]}), "metadata"),
        (json!("a string"), "body"),
    ];
    for (body, field) in cases {
        let r = api.post("/v1/conversations", body.clone()).await;
        r.expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.error_fields(), [field], "body {body}");
    }
    let r =
        api.send_raw(reqwest::Method::POST, "/v1/conversations", "application/json", b"{\"channelId\":".to_vec()).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["body"]);
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_413() {
    let app = TestApp::spawn().await;
    let body = json!({"channelId": "x", "subject": "s".repeat(1024 * 1024)});
    app.api().post("/v1/conversations", body).await.expect_error(413, "PAYLOAD_TOO_LARGE");
}

#[tokio::test]
async fn at_most_fifty_distinct_tags_are_accepted() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let api = app.api();
    let fifty_one: Vec<String> = (0..51).map(|i| format!("tag-{i}")).collect();
    let r = api
        .post(
            "/v1/conversations",
            json!({"channelId": channel, "contact": {"phone": "+15550001111"}, "tags": fifty_one}),
        )
        .await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["tags"]);

    // Duplicates do not count.
    let mut fifty: Vec<String> = (0..50).map(|i| format!("tag-{i}")).collect();
    fifty.extend(fifty.clone());
    let r = api
        .post("/v1/conversations", json!({"channelId": channel, "contact": {"phone": "+15550001111"}, "tags": fifty}))
        .await;
    r.expect(201);
    let tags = r.attrs()["tags"].as_array().unwrap();
    assert_eq!(tags.len(), 50);
    assert_eq!((tags[0].as_str(), tags[49].as_str()), (Some("tag-0"), Some("tag-49")));
}

#[tokio::test]
async fn an_unknown_or_unparsable_channel_is_404_naming_channel_id() {
    let app = TestApp::spawn().await;
    let globex = app.as_key(&app.new_key("globex", "Gus", "admin").await);
    let foreign = globex.post("/v1/channels", json!({"name": "Theirs", "type": "sms"})).await.id();
    for channel in [uuid::Uuid::now_v7().to_string(), "ch_xyz789".into(), foreign] {
        let r = app
            .api()
            .post("/v1/conversations", json!({"channelId": channel, "contact": {"phone": "+15550001111"}}))
            .await;
        r.expect_error(404, "CHANNEL_NOT_FOUND");
        assert_eq!(r.error_fields(), ["channelId"]);
    }
}

#[tokio::test]
async fn an_unknown_or_unparsable_contact_is_404_naming_contact_id() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    for contact in [uuid::Uuid::now_v7().to_string(), "contact_123".into()] {
        let r = app.api().post("/v1/conversations", json!({"channelId": channel, "contactId": contact})).await;
        r.expect_error(404, "CONTACT_NOT_FOUND");
        assert_eq!(r.error_fields(), ["contactId"]);
    }
}

#[tokio::test]
async fn the_assignee_is_detected_as_a_user_or_a_bot() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let agent = user(&app, "Carla Agent").await;
    let helper = bot(&app, "Helper").await;
    let api = app.api();

    let r = api
        .post(
            "/v1/conversations",
            json!({"channelId": channel, "contact": {"phone": "+15550001111"}, "assigneeId": agent}),
        )
        .await;
    r.expect(201);
    assert_eq!(r.attrs()["assignee"], json!({"id": agent, "type": "user", "name": "Carla Agent"}));
    assert_eq!(r.attrs()["assignedBy"]["name"], "Ana Admin");
    assert!(r.attrs()["assignedAt"].is_string());
    assert!(r.attrs()["bot"].is_null());

    let r = api
        .post(
            "/v1/conversations",
            json!({"channelId": channel, "contact": {"phone": "+15550002222"}, "assigneeId": helper, "assigneeType": "bot"}),
        )
        .await;
    r.expect(201);
    assert_eq!(r.attrs()["assignee"], json!({"id": helper, "type": "bot", "name": "Helper"}));
    // A bot assignee is also the conversation's bot.
    assert_eq!(r.attrs()["bot"], json!({"id": helper, "name": "Helper", "active": true}));
}

#[tokio::test]
async fn an_unknown_assignee_is_404_naming_assignee_id() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let helper = bot(&app, "Helper").await;
    let cases = [
        json!({"assigneeId": uuid::Uuid::now_v7()}),
        json!({"assigneeId": "usr_123"}),
        // A bot's id asked for as a user is not a user.
        json!({"assigneeId": helper, "assigneeType": "user"}),
    ];
    for extra in cases {
        let mut body = json!({"channelId": channel, "contact": {"phone": "+15550001111"}});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let r = app.api().post("/v1/conversations", body).await;
        r.expect_error(404, "ASSIGNEE_NOT_FOUND");
        assert_eq!(r.error_fields(), ["assigneeId"], "{extra}");
    }
    // Nothing was created by the failed attempts.
    assert_eq!(total(&app.api().get("/v1/conversations").await), 0);
}

#[tokio::test]
async fn a_bot_is_attached_and_an_unknown_bot_is_404_naming_bot_id() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let helper = bot(&app, "Helper").await;
    let r = app
        .api()
        .post("/v1/conversations", json!({"channelId": channel, "contact": {"phone": "+15550001111"}, "botId": helper}))
        .await;
    r.expect(201);
    assert_eq!(r.attrs()["bot"], json!({"id": helper, "name": "Helper", "active": true}));
    assert!(r.attrs()["assignee"].is_null());
    for b in [uuid::Uuid::now_v7().to_string(), "bot_1".into()] {
        let r = app
            .api()
            .post("/v1/conversations", json!({"channelId": channel, "contact": {"phone": "+15550002222"}, "botId": b}))
            .await;
        r.expect_error(404, "BOT_NOT_FOUND");
        assert_eq!(r.error_fields(), ["botId"]);
    }
}

#[tokio::test]
async fn a_second_active_conversation_for_the_same_contact_and_channel_is_409() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let other_channel = app.channel("WA", "whatsapp").await;
    let api = app.api();
    let first = conversation(&app, &channel, "+15550001111", "Ann").await;
    let id = first.id();
    let contact = first.attrs()["contact"]["id"].clone();
    let again = json!({"channelId": channel, "contactId": contact});

    for status in [json!({"status": "pending"}), json!({"status": "snoozed", "snoozedUntil": future(3600)})] {
        api.patch(&format!("/v1/conversations/{id}"), status).await.expect(200);
        let r = api.post("/v1/conversations", again.clone()).await;
        r.expect_error(409, "CONVERSATION_EXISTS");
        assert!(r.body["error"]["message"].as_str().unwrap().contains("active"));
    }
    // The same inline contact is recognised too.
    api.post("/v1/conversations", json!({"channelId": channel, "contact": {"phone": "+1 555 000 1111"}}))
        .await
        .expect_error(409, "CONVERSATION_EXISTS");
    // Another channel is another conversation.
    api.post("/v1/conversations", json!({"channelId": other_channel, "contactId": contact})).await.expect(201);
    // Once closed, a new conversation can start.
    api.patch(&format!("/v1/conversations/{id}"), json!({"status": "closed"})).await.expect(200);
    let next = api.post("/v1/conversations", again).await;
    next.expect(201);
    assert_ne!(next.id(), id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_creates_for_the_same_contact_and_channel_yield_exactly_one_conversation() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let seed = app.channel("Seed", "email").await;
    let contact = conversation(&app, &seed, "+15550001111", "Ann").await.attrs()["contact"]["id"].clone();
    let api = app.api();
    let body = json!({"channelId": channel, "contactId": contact});
    let results = join_all((0..50).map(|_| {
        let (api, body) = (api.clone(), body.clone());
        tokio::spawn(async move { api.post("/v1/conversations", body).await })
    }))
    .await;
    let mut statuses: Vec<u16> = results.iter().map(|r| r.as_ref().unwrap().status).collect();
    statuses.sort();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 49, "{statuses:?}");
    for r in results.iter().map(|r| r.as_ref().unwrap()).filter(|r| r.status == 409) {
        assert_eq!(r.code(), "CONVERSATION_EXISTS");
    }
    let list = api.get(&format!("/v1/conversations?channelId={channel}")).await;
    assert_eq!(total(&list), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_creates_with_the_same_inline_contact_yield_one_contact_and_one_conversation() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let api = app.api();
    let body = json!({"channelId": channel, "contact": {"phone": "+15550001111", "name": "Ann"}});
    let results = join_all((0..50).map(|_| {
        let (api, body) = (api.clone(), body.clone());
        tokio::spawn(async move { api.post("/v1/conversations", body).await })
    }))
    .await;
    let results: Vec<Resp> = results.into_iter().map(Result::unwrap).collect();
    let created: Vec<&Resp> = results.iter().filter(|r| r.status == 201).collect();
    assert_eq!(created.len(), 1, "{:?}", results.iter().map(|r| r.status).collect::<Vec<_>>());
    assert!(results.iter().filter(|r| r.status != 201).all(|r| r.status == 409 && r.code() == "CONVERSATION_EXISTS"));
    // Every attempt found the one contact: a later create on another channel reuses it.
    let other = app.channel("WA", "whatsapp").await;
    let r = api.post("/v1/conversations", json!({"channelId": other, "contact": {"phone": "+15550001111"}})).await;
    r.expect(201);
    assert_eq!(r.attrs()["contact"]["id"], created[0].attrs()["contact"]["id"]);
}

// ---------------------------------------------------------------------------------------------
// Scopes and tenants

#[tokio::test]
async fn a_read_key_can_list_and_get_but_not_create_or_update() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let id = conversation(&app, &channel, "+15550001111", "Ann").await.id();
    let reader = app.as_key(&app.new_key("acme", "Rita Reader", "conversations:read").await);
    assert_eq!(total(&reader.get("/v1/conversations").await), 1);
    reader.get(&format!("/v1/conversations/{id}")).await.expect(200);
    let r = reader.post("/v1/conversations", json!({"channelId": channel, "contact": {"phone": "+15550002222"}})).await;
    r.expect_error(403, "INSUFFICIENT_PERMISSIONS");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("conversations:write"));
    reader
        .patch(&format!("/v1/conversations/{id}"), json!({"priority": "low"}))
        .await
        .expect_error(403, "INSUFFICIENT_PERMISSIONS");

    // Write does not imply read; other resources' scopes give nothing here.
    let writer = app.as_key(&app.new_key("acme", "Walt Writer", "conversations:write").await);
    writer.get("/v1/conversations").await.expect_error(403, "INSUFFICIENT_PERMISSIONS");
    writer.patch(&format!("/v1/conversations/{id}"), json!({"priority": "low"})).await.expect(200);
    let channels_only = app.as_key(&app.new_key("acme", "Cid", "channels:read,channels:write").await);
    channels_only.get(&format!("/v1/conversations/{id}")).await.expect_error(403, "INSUFFICIENT_PERMISSIONS");
    app.anonymous().get("/v1/conversations").await.expect_error(401, "AUTHENTICATION_REQUIRED");
}

#[tokio::test]
async fn another_tenants_conversations_channels_and_contacts_do_not_exist() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let first = conversation(&app, &channel, "+15550001111", "Ann").await;
    let (id, contact) = (first.id(), first.attrs()["contact"]["id"].clone());
    let globex = app.as_key(&app.new_key("globex", "Gus", "admin").await);

    globex.get(&format!("/v1/conversations/{id}")).await.expect_error(404, "CONVERSATION_NOT_FOUND");
    globex
        .patch(&format!("/v1/conversations/{id}"), json!({"priority": "low"}))
        .await
        .expect_error(404, "CONVERSATION_NOT_FOUND");
    let list = globex.get("/v1/conversations").await;
    assert_eq!((total(&list), ids(&list).len()), (0, 0));
    assert_eq!(total(&globex.get(&format!("/v1/conversations?contactId={}", contact.as_str().unwrap())).await), 0);

    let r = globex.post("/v1/conversations", json!({"channelId": channel, "contact": {"phone": "+15550001111"}})).await;
    r.expect_error(404, "CHANNEL_NOT_FOUND");
    let theirs = globex.post("/v1/channels", json!({"name": "G", "type": "sms"})).await.id();
    let r = globex.post("/v1/conversations", json!({"channelId": theirs, "contactId": contact})).await;
    r.expect_error(404, "CONTACT_NOT_FOUND");
    // The same phone in another tenant is another contact.
    let r = globex.post("/v1/conversations", json!({"channelId": theirs, "contact": {"phone": "+15550001111"}})).await;
    r.expect(201);
    assert_ne!(r.attrs()["contact"]["id"], contact);
    // And acme's list did not change.
    assert_eq!(ids(&app.api().get("/v1/conversations").await), [id]);
}

// ---------------------------------------------------------------------------------------------
// GET /v1/conversations/{id}

#[tokio::test]
async fn messages_are_included_only_when_asked() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let id = conversation(&app, &channel, "+15550001111", "Ann").await.id();
    let api = app.api();
    let plain = api.get(&format!("/v1/conversations/{id}")).await;
    plain.expect(200);
    assert!(plain.body["data"].get("relationships").is_none());
    let off = api.get(&format!("/v1/conversations/{id}?includeMessages=false&messageLimit=5")).await;
    assert!(off.body["data"].get("relationships").is_none());
    for q in ["includeMessages=true", "includeMessages=true&messageLimit=100", "includeMessages=1&messageLimit=1"] {
        let r = api.get(&format!("/v1/conversations/{id}?{q}")).await;
        r.expect(200);
        assert_eq!(r.body["data"]["relationships"], json!({"messages": []}), "{q}");
        assert_eq!(r.body["data"]["id"], id.as_str());
    }
}

#[tokio::test]
async fn bad_message_parameters_are_400_naming_each() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let id = conversation(&app, &channel, "+15550001111", "Ann").await.id();
    let cases = [
        ("includeMessages=yes", vec!["includeMessages"]),
        ("includeMessages=true&messageLimit=0", vec!["messageLimit"]),
        ("includeMessages=true&messageLimit=101", vec!["messageLimit"]),
        ("messageLimit=ten", vec!["messageLimit"]),
        ("includeMessages=maybe&messageLimit=-1", vec!["includeMessages", "messageLimit"]),
    ];
    for (q, fields) in cases {
        let r = app.api().get(&format!("/v1/conversations/{id}?{q}")).await;
        r.expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.error_fields(), fields, "{q}");
    }
}

#[tokio::test]
async fn an_unknown_or_unparsable_conversation_id_is_404() {
    let app = TestApp::spawn().await;
    let api = app.api();
    for id in [uuid::Uuid::now_v7().to_string(), "conv_abc123".into(), "1".into()] {
        let r = api.get(&format!("/v1/conversations/{id}")).await;
        r.expect_error(404, "CONVERSATION_NOT_FOUND");
        assert_eq!(r.body["error"]["message"], "Conversation not found.");
        api.patch(&format!("/v1/conversations/{id}"), json!({"status": "closed"}))
            .await
            .expect_error(404, "CONVERSATION_NOT_FOUND");
    }
}

// ---------------------------------------------------------------------------------------------
// GET /v1/conversations

#[tokio::test]
async fn the_list_is_paginated_with_complete_meta() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    for i in 0..5 {
        conversation(&app, &channel, &format!("+1555000100{i}"), "C").await;
    }
    let api = app.api();
    let all = api.get("/v1/conversations").await;
    assert_eq!(
        all.body["meta"]["pagination"],
        json!({"page": 1, "perPage": 20, "totalPages": 1, "totalCount": 5, "hasNextPage": false, "hasPrevPage": false})
    );
    let every = ids(&all);
    let mut seen = Vec::new();
    for (page, len, next, prev) in [(1, 2, true, false), (2, 2, true, true), (3, 1, false, true)] {
        let r = api.get(&format!("/v1/conversations?perPage=2&page={page}")).await;
        let p = &r.body["meta"]["pagination"];
        assert_eq!(
            p,
            &json!({"page": page, "perPage": 2, "totalPages": 3, "totalCount": 5, "hasNextPage": next, "hasPrevPage": prev})
        );
        let got = ids(&r);
        assert_eq!(got.len(), len);
        seen.extend(got);
    }
    assert_eq!(seen, every, "pages neither overlap nor skip");
    let beyond = api.get("/v1/conversations?perPage=2&page=4").await;
    assert_eq!(ids(&beyond).len(), 0);
    assert_eq!(beyond.body["meta"]["pagination"]["hasNextPage"], false);
    assert_eq!(beyond.body["meta"]["pagination"]["hasPrevPage"], true);
    api.get("/v1/conversations?perPage=100").await.expect(200);
}

#[tokio::test]
async fn bad_list_parameters_are_400_naming_each_field() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let cases = [
        ("perPage=101", vec!["perPage"]),
        ("perPage=0&page=0", vec!["page", "perPage"]),
        ("page=two", vec!["page"]),
        ("status=open,archived", vec!["status"]),
        (
            "channelId=ch_1&channelType=fax&assigneeId=1&contactId=x&botId=y",
            vec!["channelId", "channelType", "assigneeId", "contactId", "botId"],
        ),
        ("startDate=yesterday&endDate=2024-13-01", vec!["startDate", "endDate"]),
        ("startDate=2024-01-16&endDate=2024-01-15", vec!["endDate"]),
        ("sortBy=name&sortOrder=up", vec!["sortBy", "sortOrder"]),
    ];
    for (q, fields) in cases {
        let r = api.get(&format!("/v1/conversations?{q}")).await;
        r.expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.error_fields(), fields, "{q}");
    }
    // Unknown parameters are ignored; an over-long value is refused.
    api.get("/v1/conversations?foo=bar").await.expect(200);
    let r = api.get(&format!("/v1/conversations?search={}", "a".repeat(1001))).await;
    assert_eq!(r.error_fields(), ["search"]);
}

#[tokio::test]
async fn the_list_filters_by_status_one_or_several() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let api = app.api();
    let mut by_status = Vec::new();
    for (i, status) in [
        json!({"status": "open"}),
        json!({"status": "pending"}),
        json!({"status": "snoozed", "snoozedUntil": future(3600)}),
        json!({"status": "closed"}),
    ]
    .into_iter()
    .enumerate()
    {
        let id = conversation(&app, &channel, &format!("+1555000100{i}"), "C").await.id();
        api.patch(&format!("/v1/conversations/{id}"), status).await.expect(200);
        by_status.push(id);
    }
    for (i, s) in ["open", "pending", "snoozed", "closed"].into_iter().enumerate() {
        let r = api.get(&format!("/v1/conversations?status={s}")).await;
        assert_eq!(ids(&r), [by_status[i].clone()], "status={s}");
        assert_eq!(r.body["data"][0]["attributes"]["status"], s);
    }
    let mut two = ids(&api.get("/v1/conversations?status=open,%20pending").await);
    two.sort();
    assert_eq!(two, [by_status[0].clone(), by_status[1].clone()]);
    assert_eq!(total(&api.get("/v1/conversations?status[]=open&status[]=closed&status=open").await), 2);
    assert_eq!(total(&api.get("/v1/conversations").await), 4);
    assert_eq!(total(&api.get("/v1/conversations?status=").await), 4);
}

#[tokio::test]
async fn the_list_filters_by_channel_channel_type_contact_assignee_and_bot() {
    let app = TestApp::spawn().await;
    let sms = app.channel("SMS", "sms").await;
    let wa = app.channel("WA", "whatsapp").await;
    let agent = user(&app, "Carla").await;
    let helper = bot(&app, "Helper").await;
    let api = app.api();
    let a = conversation(&app, &sms, "+15550001111", "A").await;
    let b = api
        .post("/v1/conversations", json!({"channelId": wa, "contact": {"phone": "+15550001111"}, "assigneeId": agent}))
        .await;
    b.expect(201);
    let c = api
        .post("/v1/conversations", json!({"channelId": wa, "contact": {"phone": "+15550002222"}, "botId": helper}))
        .await;
    c.expect(201);
    let d = api
        .post(
            "/v1/conversations",
            json!({"channelId": sms, "contact": {"phone": "+15550003333"}, "assigneeId": helper}),
        )
        .await;
    d.expect(201);
    let contact_a = a.attrs()["contact"]["id"].as_str().unwrap().to_string();
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let set = |rs: &[&Resp]| sorted(rs.iter().map(|r| r.id()).collect());
    let get = |q: String| {
        let api = api.clone();
        async move { sorted(ids(&api.get(&format!("/v1/conversations?{q}")).await)) }
    };
    assert_eq!(get(format!("channelId={sms}")).await, set(&[&a, &d]));
    assert_eq!(get("channelType=whatsapp".into()).await, set(&[&b, &c]));
    assert_eq!(get("channelType=email".into()).await, Vec::<String>::new());
    assert_eq!(get(format!("contactId={contact_a}")).await, set(&[&a, &b]));
    assert_eq!(get(format!("assigneeId={agent}")).await, set(&[&b]));
    assert_eq!(get(format!("assigneeId={helper}")).await, set(&[&d]));
    // The bot filter finds the bot given as `botId` and the bot that became it by assignment.
    assert_eq!(get(format!("botId={helper}")).await, set(&[&c, &d]));
    assert_eq!(get(format!("channelId={wa}&contactId={contact_a}")).await, set(&[&b]));
    assert_eq!(get(format!("channelId={}", uuid::Uuid::now_v7())).await, Vec::<String>::new());
}

#[tokio::test]
async fn the_list_filters_by_creation_date_inclusively() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let before = conversation(&app, &channel, "+15550001111", "A").await.id();
    let during = conversation(&app, &channel, "+15550002222", "B").await.id();
    let after = conversation(&app, &channel, "+15550003333", "C").await.id();
    set_instant(&app, &before, "created_at", "2024-01-14T23:59:59.999999Z").await;
    set_instant(&app, &during, "created_at", "2024-01-15T10:00:00.123456Z").await;
    set_instant(&app, &after, "created_at", "2024-01-16T00:00:00Z").await;
    let got = app.api().get(&format!("/v1/conversations/{during}")).await;
    assert_eq!(got.attrs()["createdAt"], "2024-01-15T10:00:00.123Z");
    let cases: [(&str, Vec<&String>); 9] = [
        ("startDate=2024-01-15&endDate=2024-01-15", vec![&during]),
        ("startDate=2024-01-15", vec![&during, &after]),
        ("endDate=2024-01-15", vec![&before, &during]),
        ("endDate=2024-01-14", vec![&before]),
        // A createdAt as rendered (milliseconds) includes that conversation as either bound.
        ("startDate=2024-01-15T10:00:00.123Z", vec![&during, &after]),
        ("endDate=2024-01-15T10:00:00.123Z", vec![&before, &during]),
        ("endDate=2024-01-15T10:00:00.122Z", vec![&before]),
        ("startDate=2024-01-15T11:00:00.124%2B01:00", vec![&after]),
        ("startDate=2024-01-16T00:00:00Z&endDate=2024-01-16T00:00:00Z", vec![&after]),
    ];
    for (q, expected) in cases {
        let mut got = ids(&app.api().get(&format!("/v1/conversations?{q}&sortBy=createdAt&sortOrder=asc")).await);
        got.sort();
        let mut expected: Vec<String> = expected.into_iter().cloned().collect();
        expected.sort();
        assert_eq!(got, expected, "{q}");
    }
}

#[tokio::test]
async fn search_matches_every_word_of_the_contact_name_case_insensitively() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let maria = conversation(&app, &channel, "+15550001111", "Maria Silva").await.id();
    let mario = conversation(&app, &channel, "+15550002222", "Mario Rossi").await.id();
    let joao = conversation(&app, &channel, "+15550003333", "João Silva").await.id();
    let search = |q: &str| {
        let (api, q) = (app.api(), q.to_string());
        async move {
            let mut v = ids(&api.get(&format!("/v1/conversations?search={q}")).await);
            v.sort();
            v
        }
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(search("silva").await, sorted(vec![maria.clone(), joao.clone()]));
    assert_eq!(search("SILVA").await, sorted(vec![maria.clone(), joao.clone()]));
    assert_eq!(search("mari").await, sorted(vec![maria.clone(), mario.clone()]));
    assert_eq!(search("MARIA%20silva").await, v(&[&maria]));
    assert_eq!(search("jo%C3%A3o").await, v(&[&joao]));
    assert_eq!(search("silva%20rossi").await, Vec::<String>::new());
    // A search without a letter or digit (LIKE wildcards included) is refused; a blank one is no
    // filter. (Full-text semantics: see search.rs.)
    for q in ["_", "%25"] {
        let r = app.api().get(&format!("/v1/conversations?search={q}")).await;
        r.expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.error_fields(), ["search"], "{q}");
    }
    assert_eq!(search("%20%20").await.len(), 3);
}

#[tokio::test]
async fn the_list_sorts_by_update_or_creation_time_in_both_orders() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let a = conversation(&app, &channel, "+15550001111", "A").await.id();
    let b = conversation(&app, &channel, "+15550002222", "B").await.id();
    let c = conversation(&app, &channel, "+15550003333", "C").await.id();
    app.api().patch(&format!("/v1/conversations/{a}"), json!({"subject": "touched"})).await.expect(200);
    let api = app.api();
    let list = |q: &str| {
        let (api, q) = (api.clone(), q.to_string());
        async move { ids(&api.get(&format!("/v1/conversations?{q}")).await) }
    };
    assert_eq!(list("").await, v(&[&a, &c, &b]));
    assert_eq!(list("sortBy=updatedAt&sortOrder=desc").await, v(&[&a, &c, &b]));
    assert_eq!(list("sortOrder=asc").await, v(&[&b, &c, &a]));
    assert_eq!(list("sortBy=createdAt").await, v(&[&c, &b, &a]));
    assert_eq!(list("sortBy=createdAt&sortOrder=asc").await, v(&[&a, &b, &c]));
    assert_eq!(list("sortBy=created_at&sortOrder=ASC").await, v(&[&a, &b, &c]));
}

#[tokio::test]
async fn sorting_by_priority_follows_its_rank_not_its_name() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let mut by_priority = Vec::new();
    for (i, p) in ["low", "urgent", "normal", "high"].into_iter().enumerate() {
        let r = app
            .api()
            .post(
                "/v1/conversations",
                json!({"channelId": channel, "contact": {"phone": format!("+1555000100{i}")}, "priority": p}),
            )
            .await;
        r.expect(201);
        by_priority.push((p, r.id()));
    }
    let id = |p: &str| by_priority.iter().find(|(q, _)| *q == p).unwrap().1.clone();
    let desc = ids(&app.api().get("/v1/conversations?sortBy=priority").await);
    assert_eq!(desc, [id("urgent"), id("high"), id("normal"), id("low")]);
    let asc = ids(&app.api().get("/v1/conversations?sortBy=priority&sortOrder=asc").await);
    assert_eq!(asc, [id("low"), id("normal"), id("high"), id("urgent")]);
}

#[tokio::test]
async fn sorting_by_last_message_puts_conversations_without_messages_last() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let silent = conversation(&app, &channel, "+15550001111", "A").await.id();
    let older = conversation(&app, &channel, "+15550002222", "B").await.id();
    let newer = conversation(&app, &channel, "+15550003333", "C").await.id();
    set_instant(&app, &older, "last_message_at", "2024-01-15T10:00:00Z").await;
    set_instant(&app, &newer, "last_message_at", "2024-01-15T11:00:00Z").await;
    let desc = app.api().get("/v1/conversations?sortBy=lastMessageAt").await;
    assert_eq!(ids(&desc), v(&[&newer, &older, &silent]));
    assert_eq!(desc.body["data"][0]["attributes"]["lastMessageAt"], "2024-01-15T11:00:00.000Z");
    let asc = app.api().get("/v1/conversations?sortBy=lastMessageAt&sortOrder=asc").await;
    assert_eq!(ids(&asc), v(&[&older, &newer, &silent]));
}

// ---------------------------------------------------------------------------------------------
// PATCH /v1/conversations/{id}

#[tokio::test]
async fn patch_deep_merges_metadata_and_a_null_deletes_a_key() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let r = app
        .api()
        .post(
            "/v1/conversations",
            json!({"channelId": channel, "contact": {"phone": "+15550001111"},
                   "metadata": {"source": "website", "nested": {"a": 1, "b": 2}, "gone": true, "list": [1, 2]}}),
        )
        .await;
    r.expect(201);
    let id = r.id();
    let patched = app
        .api()
        .patch(
            &format!("/v1/conversations/{id}"),
            json!({"metadata": {"nested": {"b": 3, "c": {"d": 4}}, "gone": null, "list": [3], "new": "x"}}),
        )
        .await;
    patched.expect(200);
    let merged = json!({"source": "website", "nested": {"a": 1, "b": 3, "c": {"d": 4}}, "list": [3], "new": "x"});
    assert_eq!(patched.attrs()["metadata"], merged);
    assert_eq!(app.api().get(&format!("/v1/conversations/{id}")).await.attrs()["metadata"], merged);
    assert_eq!(event_types(&app, &id).await, ["conversation.created", "conversation.updated"]);
    let r = app.api().patch(&format!("/v1/conversations/{id}"), json!({"metadata": "x"})).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["metadata"]);
}

#[tokio::test]
async fn patch_replaces_the_tags_keeping_their_order() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let r = app
        .api()
        .post(
            "/v1/conversations",
            json!({"channelId": channel, "contact": {"phone": "+15550001111"}, "tags": ["a", "b"]}),
        )
        .await;
    let id = r.id();
    let path = format!("/v1/conversations/{id}");
    let api = app.api();
    let p = api.patch(&path, json!({"tags": ["c", "a", "c", " b "]})).await;
    p.expect(200);
    assert_eq!(p.attrs()["tags"], json!(["c", "a", "b"]));
    assert_eq!(api.get(&path).await.attrs()["tags"], json!(["c", "a", "b"]));
    // Leaving `tags` out leaves them; `[]` clears them.
    assert_eq!(api.patch(&path, json!({"priority": "low"})).await.attrs()["tags"], json!(["c", "a", "b"]));
    assert_eq!(api.patch(&path, json!({"tags": []})).await.attrs()["tags"], json!([]));
    let r = api.patch(&path, json!({"tags": ["ok", ""]})).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["tags[1]"]);
    let many: Vec<String> = (0..51).map(|i| i.to_string()).collect();
    assert_eq!(api.patch(&path, json!({"tags": many})).await.error_fields(), ["tags"]);
}

#[tokio::test]
async fn patch_sets_priority_and_subject_and_answers_the_full_conversation() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let id = conversation(&app, &channel, "+15550001111", "Ann").await.id();
    let path = format!("/v1/conversations/{id}");
    let api = app.api();
    let r = api.patch(&path, json!({"priority": "urgent", "subject": "Refund", "ignored": {"x": 1}})).await;
    r.expect(200);
    assert_eq!((r.attrs()["priority"].as_str(), r.attrs()["subject"].as_str()), (Some("urgent"), Some("Refund")));
    assert_eq!(r.attrs()["contact"]["name"], "Ann");
    assert_eq!(r.attrs()["channel"]["id"], channel.as_str());
    assert_eq!(r.attrs()["status"], "open");
    assert!(api.patch(&path, json!({"subject": null})).await.attrs()["subject"].is_null());

    let r = api.patch(&path, json!({"priority": "critical"})).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["priority"]);
    let mut deep = json!(1);
    for _ in 0..20 {
        deep = json!({ "d": deep });
    }
    let r =
        api.patch(&path, json!({"status": "done", "priority": "", "subject": "s".repeat(501), "metadata": deep})).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["status", "priority", "subject", "metadata"]);
    // Nothing of a refused PATCH was applied.
    assert_eq!(api.get(&path).await.attrs()["priority"], "urgent");
}

#[tokio::test]
async fn an_empty_patch_or_the_same_status_is_a_no_op_without_an_event() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let created = conversation(&app, &channel, "+15550001111", "Ann").await;
    let id = created.id();
    let path = format!("/v1/conversations/{id}");
    let api = app.api();
    for body in [json!({}), json!({"status": "open"}), json!({"tags": [], "metadata": {}})] {
        let r = api.patch(&path, body.clone()).await;
        r.expect(200);
        assert_eq!(r.attrs()["updatedAt"], created.attrs()["updatedAt"], "{body}");
    }
    let r = api.send_raw(reqwest::Method::PATCH, &path, "application/json", Vec::new()).await;
    r.expect(200);
    assert_eq!(event_types(&app, &id).await, ["conversation.created"]);
}

#[tokio::test]
async fn patching_the_status_to_closed_is_the_close_with_its_stamps_and_event() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let id = conversation(&app, &channel, "+15550001111", "Ann").await.id();
    let path = format!("/v1/conversations/{id}");
    let api = app.api();
    let admin = admin_ctx(&app).await;

    let closed = api.patch(&path, json!({"status": "closed"})).await;
    closed.expect(200);
    let a = closed.attrs();
    assert_eq!(a["status"], "closed");
    assert!(a["closedAt"].is_string());
    assert_eq!(a["closedBy"], json!({"id": admin.actor.id.unwrap().to_string(), "name": "Ana Admin"}));
    assert_eq!(event_types(&app, &id).await, ["conversation.created", "conversation.closed"]);

    // Closed again through PATCH: a no-op, not a conflict.
    let again = api.patch(&path, json!({"status": "closed"})).await;
    again.expect(200);
    assert_eq!(again.attrs()["closedAt"], a["closedAt"]);
    assert_eq!(again.attrs()["updatedAt"], a["updatedAt"]);

    // Leaving closed is a reopen.
    let reopened = api.patch(&path, json!({"status": "pending"})).await;
    reopened.expect(200);
    assert_eq!(reopened.attrs()["status"], "pending");
    assert!(reopened.attrs()["reopenedAt"].is_string());
    assert_eq!(reopened.attrs()["reopenedBy"]["name"], "Ana Admin");
    assert_eq!(event_types(&app, &id).await, ["conversation.created", "conversation.closed", "conversation.reopened"]);
    assert_eq!(total(&api.get("/v1/conversations?status=pending").await), 1);
}

#[tokio::test]
async fn reopening_by_patch_while_the_contact_has_another_active_conversation_is_409() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let old = conversation(&app, &channel, "+15550001111", "Ann").await.id();
    let api = app.api();
    api.patch(&format!("/v1/conversations/{old}"), json!({"status": "closed"})).await.expect(200);
    conversation(&app, &channel, "+15550001111", "Ann").await;
    let r = api.patch(&format!("/v1/conversations/{old}"), json!({"status": "open"})).await;
    r.expect_error(409, "CONVERSATION_EXISTS");
    assert_eq!(api.get(&format!("/v1/conversations/{old}")).await.attrs()["status"], "closed");
}

#[tokio::test]
async fn snoozing_by_patch_needs_a_future_snoozed_until() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let id = conversation(&app, &channel, "+15550001111", "Ann").await.id();
    let path = format!("/v1/conversations/{id}");
    let api = app.api();
    let past = (chrono::Utc::now() - chrono::Duration::seconds(60)).to_rfc3339();
    let cases = [
        (json!({"status": "snoozed"}), "snoozedUntil", "is required"),
        (json!({"status": "snoozed", "snoozedUntil": null}), "snoozedUntil", "is required"),
        (json!({"status": "snoozed", "snoozedUntil": past}), "snoozedUntil", "future"),
        (json!({"snoozedUntil": past}), "snoozedUntil", "future"),
        (json!({"status": "snoozed", "snoozedUntil": "tomorrow"}), "snoozedUntil", "ISO 8601"),
        (json!({"status": "open", "snoozedUntil": future(60)}), "snoozedUntil", "only"),
        (json!({"status": "asleep", "snoozedUntil": future(60)}), "status", "one of"),
        (json!({"status": ""}), "status", "one of"),
    ];
    for (body, field, words) in cases {
        let r = api.patch(&path, body.clone()).await;
        r.expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.error_fields(), [field], "{body}");
        assert!(r.body["error"]["details"][0]["message"].as_str().unwrap().contains(words), "{body}: {}", r.text);
    }
    assert_eq!(api.get(&path).await.attrs()["status"], "open");

    let until = chrono::Utc::now() + chrono::Duration::hours(2);
    let r = api.patch(&path, json!({"status": "snoozed", "snoozedUntil": until.to_rfc3339()})).await;
    r.expect(200);
    assert_eq!(r.attrs()["status"], "snoozed");
    assert_eq!(r.attrs()["snoozedUntil"], confab_core::time::iso(until));
    // `snoozedUntil` alone moves the wake-up time.
    let later = chrono::Utc::now() + chrono::Duration::hours(5);
    let r = api.patch(&path, json!({"snoozedUntil": later.to_rfc3339()})).await;
    assert_eq!(
        (r.attrs()["status"].as_str(), r.attrs()["snoozedUntil"].clone()),
        (Some("snoozed"), json!(confab_core::time::iso(later)))
    );
    // Any other status clears it.
    let r = api.patch(&path, json!({"status": "open"})).await;
    assert_eq!(r.attrs()["status"], "open");
    assert!(r.attrs()["snoozedUntil"].is_null());
    assert_eq!(
        event_types(&app, &id).await,
        ["conversation.created", "conversation.updated", "conversation.updated", "conversation.updated"]
    );
}

#[tokio::test]
async fn snoozing_an_open_conversation_alone_by_snoozed_until_works() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let id = conversation(&app, &channel, "+15550001111", "Ann").await.id();
    let r = app.api().patch(&format!("/v1/conversations/{id}"), json!({"snoozedUntil": future(600)})).await;
    r.expect(200);
    assert_eq!(r.attrs()["status"], "snoozed");
    assert_eq!(total(&app.api().get("/v1/conversations?status=snoozed").await), 1);
}

#[tokio::test]
async fn nul_characters_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    let id = conversation(&app, &channel, "+15550001111", "Ann").await.id();
    let api = app.api();
    let create = [
        (json!({"subject": "a\u{0}b"}), "subject"),
        (json!({"metadata": {"k": ["a\u{0}"]}}), "metadata.k[0]"),
        (json!({"metadata": {"k\u{0}": 1}}), "metadata"),
        (json!({"contact": {"phone": "+15550002222", "name": "x\u{0}"}}), "contact.name"),
        (json!({"contact": {"phone": "+15550002222", "metadata": {"a": "\u{0}"}}}), "contact.metadata.a"),
        (json!({"tags": ["a\u{0}"]}), "tags[0]"),
    ];
    for (extra, field) in create {
        let mut body = json!({"channelId": channel, "contact": {"phone": "+15550002222"}});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let r = api.post("/v1/conversations", body).await;
        r.expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.error_fields(), [field], "{extra}");
    }
    for (body, field) in
        [(json!({"subject": "\u{0}"}), "subject"), (json!({"metadata": {"x": {"y": "\u{0}"}}}), "metadata.x.y")]
    {
        let r = api.patch(&format!("/v1/conversations/{id}"), body).await;
        r.expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.error_fields(), [field]);
    }
    let r = api.get("/v1/conversations?search=a%00b").await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["search"]);
}

#[tokio::test]
async fn a_deactivated_channel_still_takes_conversations_created_through_the_api() {
    let app = TestApp::spawn().await;
    let channel = app.channel("SMS", "sms").await;
    app.api().post_empty(&format!("/v1/channels/{channel}/deactivate")).await.expect(200);
    let r = conversation(&app, &channel, "+15550001111", "Ann").await;
    assert_eq!(r.attrs()["channel"]["id"], channel.as_str());
}
