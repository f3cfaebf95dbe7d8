//! /v1/conversations/{id}/close, reopen, assign, unassign, transfer, snooze, tags, participants and
//! notes.

use crate::support::{Resp, TestApp};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU32, Ordering};

/// A conversation made for a test, with what it was made from.
pub struct Conv {
    pub id: String,
    pub channel: String,
    pub contact: String,
}

static PHONES: AtomicU32 = AtomicU32::new(1000);

/// A new E.164 phone number, different on every call.
pub fn phone() -> String {
    format!("+1555{:07}", PHONES.fetch_add(1, Ordering::Relaxed))
}

/// Creates a conversation of `acme` on `channel` with a new contact.
pub async fn conversation_on(app: &TestApp, channel: &str) -> Conv {
    let r = app
        .api()
        .post("/v1/conversations", json!({"channelId": channel, "contact": {"phone": phone(), "name": "John Doe"}}))
        .await;
    r.expect(201);
    let contact = r.attrs()["contact"]["id"].as_str().expect("contact id").to_string();
    Conv { id: r.id(), channel: channel.to_string(), contact }
}

/// Creates a channel and a conversation on it with a new contact.
pub async fn conversation(app: &TestApp) -> Conv {
    let channel = app.channel("WhatsApp", "whatsapp").await;
    conversation_on(app, &channel).await
}

/// `/v1/conversations/{id}/{action}`.
pub fn at(id: &str, action: &str) -> String {
    format!("/v1/conversations/{id}/{action}")
}

/// Creates a user of `acme` and returns its id.
pub async fn user(app: &TestApp, name: &str, email: &str) -> String {
    app.api().post("/v1/users", json!({"name": name, "email": email})).await.expect(201).id()
}

/// Creates a bot of `acme` and returns its id.
pub async fn bot(app: &TestApp, name: &str) -> String {
    app.api().post("/v1/bots", json!({"name": name, "provider": "openai", "model": "gpt-4o"})).await.expect(201).id()
}

/// The id of the user behind the admin key of `acme` ("Ana Admin").
pub async fn admin_id(app: &TestApp) -> String {
    let keys = app.store.list_api_keys().await.expect("keys");
    keys.into_iter().find(|k| k.user_name == "Ana Admin").expect("the admin key").user_id.to_string()
}

/// The conversation as `GET /v1/conversations/{id}` shows it.
pub async fn get(app: &TestApp, id: &str) -> Value {
    let r = app.api().get(&format!("/v1/conversations/{id}")).await;
    r.expect(200);
    r.attrs().clone()
}

/// The notes of a conversation.
async fn notes(app: &TestApp, id: &str) -> Vec<Value> {
    let r = app.api().get(&at(id, "notes")).await;
    r.expect(200);
    r.body["data"].as_array().expect("a list").clone()
}

/// The event types of a conversation's timeline, oldest first.
async fn event_types(app: &TestApp, id: &str) -> Vec<String> {
    let r = app.api().get(&format!("{}?perPage=100", at(id, "events"))).await;
    r.expect(200);
    r.body["data"].as_array().unwrap().iter().map(|e| e["attributes"]["event"].as_str().unwrap().to_string()).collect()
}

fn in_an_hour() -> String {
    (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339()
}

// ------------------------------------------------------------------------------------------------
// close / reopen

#[tokio::test]
async fn closing_stamps_the_keys_user_and_keeps_the_notes_as_an_internal_note() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    let r = app
        .api()
        .post(
            &at(&c.id, "close"),
            json!({"reason": "Issue resolved", "resolution": "resolved", "notes": "Customer was happy with the refund", "extra": 1}),
        )
        .await;
    r.expect(200);
    assert_eq!(r.body["data"]["id"], c.id.as_str());
    assert_eq!(r.body["data"]["type"], "conversation");
    let a = r.attrs();
    assert_eq!(a["status"], "closed");
    assert!(a["closedAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(a["closedBy"], json!({"id": admin_id(&app).await, "name": "Ana Admin"}));
    assert_eq!(a["resolution"], "resolved");
    assert_eq!(a["closureReason"], "Issue resolved");
    // The full conversation comes back, not only the changed attributes.
    assert_eq!(a["contact"]["id"], c.contact.as_str());
    assert_eq!(a["channel"]["id"], c.channel.as_str());
    // The notes are a note, never a message.
    assert_eq!(a["messageCount"], 0);
    let notes = notes(&app, &c.id).await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["type"], "note");
    assert_eq!(notes[0]["attributes"]["kind"], "close");
    assert_eq!(notes[0]["attributes"]["body"], "Customer was happy with the refund");
    assert_eq!(notes[0]["attributes"]["author"]["name"], "Ana Admin");
    assert_eq!(get(&app, &c.id).await["status"], "closed");
}

#[tokio::test]
async fn closing_with_no_body_closes_without_resolution_or_note() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    let r = app.api().post_empty(&at(&c.id, "close")).await;
    r.expect(200);
    assert_eq!((r.attrs()["status"].as_str(), r.attrs()["resolution"].as_null()), (Some("closed"), Some(())));
    assert!(notes(&app, &c.id).await.is_empty());
}

#[tokio::test]
async fn closing_a_closed_conversation_is_409_conversation_already_closed() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    app.api().post_empty(&at(&c.id, "close")).await.expect(200);
    let r = app.api().post(&at(&c.id, "close"), json!({"reason": "again"})).await;
    r.expect_error(409, "CONVERSATION_ALREADY_CLOSED");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("already closed"));
    // The first close's stamps are kept.
    assert_eq!(get(&app, &c.id).await["closureReason"], Value::Null);
}

#[tokio::test]
async fn invalid_close_fields_are_400_naming_each_field() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    let r = app
        .api()
        .post(&at(&c.id, "close"), json!({"resolution": "fixed", "reason": "x".repeat(1001), "notes": "fine"}))
        .await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["reason", "resolution"]);
    let r = app.api().post(&at(&c.id, "close"), json!({"resolution": 3})).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["resolution"]);
    assert_eq!(get(&app, &c.id).await["status"], "open");
}

#[tokio::test]
async fn reopening_a_closed_conversation_stamps_reopened_at_and_by() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    app.api().post_empty(&at(&c.id, "close")).await.expect(200);
    let r = app.api().post_empty(&at(&c.id, "reopen")).await;
    r.expect(200);
    assert_eq!(r.attrs()["status"], "open");
    assert!(r.attrs()["reopenedAt"].is_string());
    assert_eq!(r.attrs()["reopenedBy"], json!({"id": admin_id(&app).await, "name": "Ana Admin"}));
}

#[tokio::test]
async fn reopening_a_conversation_that_is_not_closed_is_409_conversation_not_closed() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    app.api().post_empty(&at(&c.id, "reopen")).await.expect_error(409, "CONVERSATION_NOT_CLOSED");
    app.api().post(&at(&c.id, "snooze"), json!({"until": in_an_hour()})).await.expect(200);
    app.api().post_empty(&at(&c.id, "reopen")).await.expect_error(409, "CONVERSATION_NOT_CLOSED");
}

#[tokio::test]
async fn reopening_while_the_contact_has_another_active_conversation_on_the_channel_is_409() {
    let app = TestApp::spawn().await;
    let first = conversation(&app).await;
    app.api().post_empty(&at(&first.id, "close")).await.expect(200);
    let second =
        app.api().post("/v1/conversations", json!({"channelId": first.channel, "contactId": first.contact})).await;
    second.expect(201);
    let r = app.api().post_empty(&at(&first.id, "reopen")).await;
    r.expect_error(409, "CONVERSATION_EXISTS");
    assert_eq!(get(&app, &first.id).await["status"], "closed");
    // Once the other one is closed, it can be reopened.
    app.api().post_empty(&at(&second.id(), "close")).await.expect(200);
    app.api().post_empty(&at(&first.id, "reopen")).await.expect(200);
}

// ------------------------------------------------------------------------------------------------
// assign / unassign / transfer

#[tokio::test]
async fn assigning_a_user_shows_the_assignee_and_who_assigned_it() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    let agent = user(&app, "Senior Support Agent", "senior@acme.test").await;
    let r =
        app.api().post(&at(&c.id, "assign"), json!({"assigneeId": agent, "note": "Escalated to senior support"})).await;
    r.expect(200);
    let a = r.attrs();
    assert_eq!(a["assignee"], json!({"id": agent, "type": "user", "name": "Senior Support Agent"}));
    assert!(a["assignedAt"].is_string());
    assert_eq!(a["assignedBy"], json!({"id": admin_id(&app).await, "name": "Ana Admin"}));
    assert_eq!(a["transferredAt"], Value::Null);
    let notes = notes(&app, &c.id).await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["attributes"]["kind"], "assign");
    assert_eq!(notes[0]["attributes"]["body"], "Escalated to senior support");
    assert_eq!(get(&app, &c.id).await["assignee"]["id"], agent.as_str());
}

#[tokio::test]
async fn a_bot_assignee_is_detected_and_becomes_the_conversations_bot() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    let b = bot(&app, "Support Bot").await;
    let r = app.api().post(&at(&c.id, "assign"), json!({"assigneeId": b})).await;
    r.expect(200);
    assert_eq!(r.attrs()["assignee"], json!({"id": b, "type": "bot", "name": "Support Bot"}));
    assert_eq!(r.attrs()["bot"]["id"], b.as_str());
    // Explicitly typed works too.
    let r = app.api().post(&at(&c.id, "assign"), json!({"assigneeId": b, "assigneeType": "bot"})).await;
    assert_eq!(r.attrs()["assignee"]["type"], "bot");
}

#[tokio::test]
async fn linktors_sdk_spelling_agent_id_is_accepted() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    let agent = user(&app, "Bea", "bea@acme.test").await;
    let r = app.api().post(&at(&c.id, "assign"), json!({"agentId": agent})).await;
    r.expect(200);
    assert_eq!(r.attrs()["assignee"]["id"], agent.as_str());
}

#[tokio::test]
async fn an_assignment_without_an_assignee_or_with_a_bad_type_is_400_naming_the_fields() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    let r = app.api().post(&at(&c.id, "assign"), json!({"note": "who?"})).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["assigneeId"]);
    let r = app.api().post_empty(&at(&c.id, "assign")).await;
    assert_eq!(r.error_fields(), ["assigneeId"]);
    let r = app.api().post(&at(&c.id, "assign"), json!({"assigneeType": "team", "assigneeId": ""})).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["assigneeType", "assigneeId"]);
    let r = app.api().post(&at(&c.id, "assign"), json!({"assigneeId": 42})).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["assigneeId"]);
}

#[tokio::test]
async fn an_unknown_assignee_is_404_assignee_not_found_or_bot_not_found() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    let agent = user(&app, "Bea", "bea@acme.test").await;
    let api = app.api();
    let unknown = uuid::Uuid::now_v7().to_string();
    let r = api.post(&at(&c.id, "assign"), json!({"assigneeId": unknown})).await;
    r.expect_error(404, "ASSIGNEE_NOT_FOUND");
    assert_eq!(r.error_fields(), ["assigneeId"]);
    api.post(&at(&c.id, "assign"), json!({"assigneeId": "user_789"})).await.expect_error(404, "ASSIGNEE_NOT_FOUND");
    let r = api.post(&at(&c.id, "assign"), json!({"assigneeId": unknown, "assigneeType": "bot"})).await;
    r.expect_error(404, "BOT_NOT_FOUND");
    assert_eq!(r.error_fields(), ["assigneeId"]);
    api.post(&at(&c.id, "assign"), json!({"assigneeId": "bot_abc", "assigneeType": "bot"}))
        .await
        .expect_error(404, "BOT_NOT_FOUND");
    // A user is not a bot.
    api.post(&at(&c.id, "assign"), json!({"assigneeId": agent, "assigneeType": "bot"}))
        .await
        .expect_error(404, "BOT_NOT_FOUND");
    assert_eq!(get(&app, &c.id).await["assignee"], Value::Null);
}

#[tokio::test]
async fn a_user_or_bot_of_another_tenant_cannot_be_assigned() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    let globex = app.new_key("globex", "Gil", "admin").await;
    let gil = app.as_key(&globex).post("/v1/users", json!({"name": "Gus", "email": "gus@globex.test"})).await;
    gil.expect(201);
    let gbot = app.as_key(&globex).post("/v1/bots", json!({"name": "G", "provider": "openai", "model": "m"})).await;
    gbot.expect(201);
    let r = app.api().post(&at(&c.id, "assign"), json!({"assigneeId": gil.id()})).await;
    r.expect_error(404, "ASSIGNEE_NOT_FOUND");
    app.api()
        .post(&at(&c.id, "transfer"), json!({"toAssigneeId": gbot.id()}))
        .await
        .expect_error(404, "ASSIGNEE_NOT_FOUND");
}

#[tokio::test]
async fn unassigning_clears_the_assignee_and_is_a_no_op_when_there_is_none() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    let agent = user(&app, "Bea", "bea@acme.test").await;
    app.api().post(&at(&c.id, "assign"), json!({"assigneeId": agent})).await.expect(200);
    let r = app.api().post_empty(&at(&c.id, "unassign")).await;
    r.expect(200);
    assert_eq!(r.attrs()["assignee"], Value::Null);
    assert_eq!(get(&app, &c.id).await["assignee"], Value::Null);
    let before = event_types(&app, &c.id).await.len();
    app.api().post_empty(&at(&c.id, "unassign")).await.expect(200);
    assert_eq!(event_types(&app, &c.id).await.len(), before, "unassigning nobody appends no event");
}

#[tokio::test]
async fn transferring_reassigns_stamps_and_keeps_reason_and_summary_as_one_note() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    let first = user(&app, "Bea", "bea@acme.test").await;
    let expert = user(&app, "Expert", "expert@acme.test").await;
    app.api().post(&at(&c.id, "assign"), json!({"assigneeId": first})).await.expect(200);
    let r = app
        .api()
        .post(
            &at(&c.id, "transfer"),
            json!({
                "toAssigneeId": expert,
                "reason": "Technical issue",
                "summary": "Customer has a billing dispute from last month. Needs access to invoice #12345.",
                "notifyContact": true
            }),
        )
        .await;
    r.expect(200);
    let a = r.attrs();
    let me = json!({"id": admin_id(&app).await, "name": "Ana Admin"});
    assert_eq!(a["assignee"], json!({"id": expert, "type": "user", "name": "Expert"}));
    assert!(a["transferredAt"].is_string());
    assert_eq!(a["transferredBy"], me);
    assert_eq!(a["assignedBy"], me);
    assert_eq!(a["assignedAt"], a["transferredAt"]);
    // A note, never a message: the one message is notifyContact's (see tests/api/messages.rs).
    assert_eq!(a["messageCount"], 1);
    assert_eq!(r.body["meta"]["notification"]["sent"], true);
    let notes = notes(&app, &c.id).await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["attributes"]["kind"], "transfer");
    let body = notes[0]["attributes"]["body"].as_str().unwrap();
    assert!(body.contains("Technical issue") && body.contains("invoice #12345"), "{body}");
    // notifyContact is recorded on the event.
    let events = app.api().get(&at(&c.id, "events")).await;
    let events = events.body["data"].as_array().unwrap();
    let last = events.iter().rev().find(|e| e["attributes"]["event"] == "conversation.transferred");
    let last = last.expect("a conversation.transferred event")["attributes"].clone();
    assert_eq!(last["data"]["notifyContact"], true);
    assert_eq!(last["data"]["from"], json!({"id": first, "type": "user"}));
    assert_eq!(last["data"]["to"], json!({"id": expert, "type": "user"}));
}

#[tokio::test]
async fn a_transfer_without_reason_or_summary_writes_no_note() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    let b = bot(&app, "Support Bot").await;
    let r = app.api().post(&at(&c.id, "transfer"), json!({"toAssigneeId": b})).await;
    r.expect(200);
    assert_eq!(r.attrs()["assignee"]["type"], "bot");
    assert!(notes(&app, &c.id).await.is_empty());
}

#[tokio::test]
async fn invalid_transfers_are_400_or_404_naming_the_field() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    let api = app.api();
    let r = api.post(&at(&c.id, "transfer"), json!({"reason": "r"})).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["toAssigneeId"]);
    let r =
        api.post(&at(&c.id, "transfer"), json!({"toAssigneeId": uuid::Uuid::now_v7(), "notifyContact": "yes"})).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["notifyContact"]);
    let r =
        api.post(&at(&c.id, "transfer"), json!({"toAssigneeId": "user_expert", "summary": "s".repeat(10_001)})).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["summary"]);
    let r = api.post(&at(&c.id, "transfer"), json!({"toAssigneeId": "user_expert"})).await;
    r.expect_error(404, "ASSIGNEE_NOT_FOUND");
    assert_eq!(r.error_fields(), ["toAssigneeId"]);
    let r =
        api.post(&at(&c.id, "transfer"), json!({"toAssigneeId": uuid::Uuid::now_v7(), "toAssigneeType": "bot"})).await;
    r.expect_error(404, "BOT_NOT_FOUND");
    assert_eq!(r.error_fields(), ["toAssigneeId"]);
}

// ------------------------------------------------------------------------------------------------
// participants

#[tokio::test]
async fn participants_are_the_contact_the_agents_who_handled_it_and_its_bot() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    let agent = user(&app, "Support Agent", "agent@company.com").await;
    let b = bot(&app, "Support Bot").await;
    app.api().post(&at(&c.id, "assign"), json!({"assigneeId": b})).await.expect(200);
    app.api().post(&at(&c.id, "transfer"), json!({"toAssigneeId": agent})).await.expect(200);
    app.api().post_empty(&at(&c.id, "unassign")).await.expect(200);
    let r = app.api().get(&at(&c.id, "participants")).await;
    r.expect(200);
    let data = r.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 3, "{}", r.text);
    assert_eq!(data[0]["id"], c.contact.as_str());
    assert_eq!(data[0]["type"], "contact");
    assert_eq!(data[0]["attributes"]["name"], "John Doe");
    assert!(data[0]["attributes"]["phone"].as_str().unwrap().starts_with("+1555"));
    assert_eq!(data[0]["attributes"]["role"], "customer");
    assert_eq!(
        data[1],
        json!({"id": agent, "type": "user", "attributes": {"name": "Support Agent", "email": "agent@company.com", "role": "agent"}})
    );
    assert_eq!(data[2], json!({"id": b, "type": "bot", "attributes": {"name": "Support Bot", "role": "bot"}}));
}

// ------------------------------------------------------------------------------------------------
// snooze

#[tokio::test]
async fn snoozing_sets_the_status_and_snoozed_until() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    let until = chrono::Utc::now() + chrono::Duration::hours(2);
    let r = app.api().post(&at(&c.id, "snooze"), json!({"until": until.to_rfc3339()})).await;
    r.expect(200);
    assert_eq!(r.attrs()["status"], "snoozed");
    assert_eq!(r.attrs()["snoozedUntil"], until.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
    assert_eq!(get(&app, &c.id).await["status"], "snoozed");
}

#[tokio::test]
async fn a_snooze_needs_an_until_in_the_future() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    let api = app.api();
    for body in [json!({}), json!({"until": ""})] {
        let r = api.post(&at(&c.id, "snooze"), body).await;
        r.expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.error_fields(), ["until"]);
    }
    let r = api.post(&at(&c.id, "snooze"), json!({"until": "next tuesday"})).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["until"]);
    let past = (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339();
    let r = api.post(&at(&c.id, "snooze"), json!({"until": past})).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["until"]);
    assert!(r.body["error"]["details"][0]["message"].as_str().unwrap().contains("future"));
    assert_eq!(get(&app, &c.id).await["status"], "open");
}

#[tokio::test]
async fn snoozing_a_closed_conversation_reopens_it_as_snoozed() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    app.api().post_empty(&at(&c.id, "close")).await.expect(200);
    let r = app.api().post(&at(&c.id, "snooze"), json!({"until": in_an_hour()})).await;
    r.expect(200);
    assert_eq!(r.attrs()["status"], "snoozed");
    assert!(r.attrs()["reopenedAt"].is_string());
    assert_eq!(event_types(&app, &c.id).await.last().unwrap(), "conversation.reopened");
}

// ------------------------------------------------------------------------------------------------
// tags

#[tokio::test]
async fn tags_are_added_by_name_created_on_first_use_and_removed_one_at_a_time() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    let api = app.api();
    let r = api.post(&at(&c.id, "tags"), json!({"tags": ["vip", " billing ", "vip", "needs review"]})).await;
    r.expect(200);
    assert_eq!(r.attrs()["tags"], json!(["vip", "billing", "needs review"]));
    let all = api.get("/v1/tags").await;
    all.expect(200);
    let names: Vec<&str> =
        all.body["data"].as_array().unwrap().iter().filter_map(|t| t["attributes"]["name"].as_str()).collect();
    assert!(names.contains(&"vip") && names.contains(&"needs review"), "{names:?}");
    // Adding present tags keeps the order and adds only the new one.
    let r = api.post(&at(&c.id, "tags"), json!({"tags": ["billing", "urgent"]})).await;
    assert_eq!(r.attrs()["tags"], json!(["vip", "billing", "needs review", "urgent"]));
    // Removing: the name is URL-decoded.
    let r = api.delete(&format!("{}/needs%20review", at(&c.id, "tags"))).await;
    r.expect(200);
    assert_eq!(r.attrs()["tags"], json!(["vip", "billing", "urgent"]));
    // Removing a tag the conversation lacks is a no-op.
    let r = api.delete(&format!("{}/never-there", at(&c.id, "tags"))).await;
    r.expect(200);
    assert_eq!(r.attrs()["tags"], json!(["vip", "billing", "urgent"]));
    assert_eq!(get(&app, &c.id).await["tags"], json!(["vip", "billing", "urgent"]));
}

#[tokio::test]
async fn several_tags_can_be_removed_at_once_as_linktors_sdk_does() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    let api = app.api();
    api.post(&at(&c.id, "tags"), json!({"tags": ["a", "b", "c"]})).await.expect(200);
    let before = event_types(&app, &c.id).await.len();
    let r = api.send(reqwest::Method::DELETE, &at(&c.id, "tags"), Some(json!({"tags": ["a", "c", "zzz"]}))).await;
    r.expect(200);
    assert_eq!(r.attrs()["tags"], json!(["b"]));
    assert_eq!(event_types(&app, &c.id).await.len(), before + 1, "one change, one event");
}

#[tokio::test]
async fn invalid_tag_lists_are_400_naming_the_entry() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    let api = app.api();
    let r = api.post(&at(&c.id, "tags"), json!({})).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["tags"]);
    let r = api.post(&at(&c.id, "tags"), json!({"tags": "vip"})).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["tags"]);
    let r = api.post(&at(&c.id, "tags"), json!({"tags": ["ok", " ", "x".repeat(101)]})).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["tags[1]", "tags[2]"]);
    let many: Vec<String> = (0..101).map(|i| format!("t{i}")).collect();
    let r = api.post(&at(&c.id, "tags"), json!({ "tags": many })).await;
    assert_eq!(r.error_fields(), ["tags"]);
    let r = api.delete(&format!("{}/{}", at(&c.id, "tags"), "y".repeat(101))).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["name"]);
    assert_eq!(get(&app, &c.id).await["tags"], json!([]));
}

// ------------------------------------------------------------------------------------------------
// notes

#[tokio::test]
async fn a_manual_note_is_201_and_listed_after_the_others_oldest_first() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    app.api().post(&at(&c.id, "close"), json!({"notes": "closing note"})).await.expect(200);
    let r = app.api().post(&at(&c.id, "notes"), json!({"body": "  Called the customer back.  "})).await;
    r.expect(201);
    assert_eq!(r.body["data"]["type"], "note");
    let a = r.attrs();
    assert_eq!(a["kind"], "manual");
    assert_eq!(a["body"], "Called the customer back.");
    assert_eq!(a["author"], json!({"id": admin_id(&app).await, "name": "Ana Admin"}));
    assert!(a["createdAt"].as_str().unwrap().ends_with('Z'));
    let notes = notes(&app, &c.id).await;
    let kinds: Vec<&str> = notes.iter().map(|n| n["attributes"]["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["close", "manual"]);
    assert_eq!(notes[1]["id"], r.id().as_str());
    // Notes never count as messages.
    assert_eq!(get(&app, &c.id).await["messageCount"], 0);
}

#[tokio::test]
async fn a_note_needs_a_body_of_at_most_ten_thousand_characters() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    for body in [json!({}), json!({"body": "   "}), json!({"body": "x".repeat(10_001)}), json!({"body": ["x"]})] {
        let r = app.api().post(&at(&c.id, "notes"), body).await;
        r.expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.error_fields(), ["body"]);
    }
    app.api().post(&at(&c.id, "notes"), json!({"body": "x".repeat(10_000)})).await.expect(201);
    assert_eq!(notes(&app, &c.id).await.len(), 1);
}

// ------------------------------------------------------------------------------------------------
// not found, scopes, tenants

/// Every action and list of one conversation: (method, path suffix, body).
fn every_endpoint() -> Vec<(reqwest::Method, &'static str, Option<Value>)> {
    use reqwest::Method;
    let someone = json!({"assigneeId": uuid::Uuid::now_v7(), "toAssigneeId": uuid::Uuid::now_v7()});
    vec![
        (Method::POST, "close", Some(json!({}))),
        (Method::POST, "reopen", None),
        (Method::POST, "assign", Some(someone.clone())),
        (Method::POST, "unassign", None),
        (Method::POST, "transfer", Some(someone)),
        (Method::POST, "snooze", Some(json!({"until": in_an_hour()}))),
        (Method::POST, "tags", Some(json!({"tags": ["vip"]}))),
        (Method::DELETE, "tags", Some(json!({"tags": ["vip"]}))),
        (Method::DELETE, "tags/vip", None),
        (Method::POST, "notes", Some(json!({"body": "hello"}))),
        (Method::GET, "participants", None),
        (Method::GET, "notes", None),
        (Method::GET, "events", None),
    ]
}

#[tokio::test]
async fn every_endpoint_answers_404_conversation_not_found_for_unknown_and_unparsable_ids() {
    let app = TestApp::spawn().await;
    let unknown = uuid::Uuid::now_v7().to_string();
    for id in [unknown.as_str(), "conv_abc123"] {
        for (method, suffix, body) in every_endpoint() {
            let r = app.api().send(method.clone(), &at(id, suffix), body).await;
            assert_eq!((r.status, r.code()), (404, "CONVERSATION_NOT_FOUND"), "{method} {suffix}: {}", r.text);
        }
    }
}

#[tokio::test]
async fn another_tenants_conversation_is_not_found_by_any_endpoint() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    let other = app.new_key("globex", "Gil", "admin").await;
    for (method, suffix, body) in every_endpoint() {
        let r = app.as_key(&other).send(method.clone(), &at(&c.id, suffix), body).await;
        assert_eq!((r.status, r.code()), (404, "CONVERSATION_NOT_FOUND"), "{method} {suffix}: {}", r.text);
    }
    let a = get(&app, &c.id).await;
    assert_eq!((a["status"].as_str(), a["tags"].clone()), (Some("open"), json!([])));
}

#[tokio::test]
async fn actions_need_conversations_write_and_lists_conversations_read() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    let reader = app.new_key("acme", "Reader", "conversations:read").await;
    let outsider = app.new_key("acme", "Outsider", "channels:read,contacts:write").await;
    let writer = app.new_key("acme", "Writer", "write:conversations").await;
    for (method, suffix, body) in every_endpoint() {
        let path = at(&c.id, suffix);
        let r = app.as_key(&outsider).send(method.clone(), &path, body.clone()).await;
        assert_eq!((r.status, r.code()), (403, "INSUFFICIENT_PERMISSIONS"), "{method} {suffix}: {}", r.text);
        let r = app.as_key(&reader).send(method.clone(), &path, body).await;
        if method == reqwest::Method::GET {
            assert_eq!(r.status, 200, "{method} {suffix}: {}", r.text);
        } else {
            assert_eq!((r.status, r.code()), (403, "INSUFFICIENT_PERMISSIONS"), "{method} {suffix}: {}", r.text);
            assert!(r.body["error"]["message"].as_str().unwrap().contains("conversations:write"));
        }
    }
    // The writer's user is the one stamped.
    let r: Resp = app.as_key(&writer).post(&at(&c.id, "close"), json!({})).await;
    r.expect(200);
    assert_eq!(r.attrs()["closedBy"]["name"], "Writer");
}

#[tokio::test]
async fn nul_characters_in_texts_and_tag_names_are_400_naming_the_field() {
    let app = TestApp::spawn().await;
    let c = conversation(&app).await;
    let agent = user(&app, "Bea", "bea@acme.test").await;
    let api = app.api();
    let cases = [
        ("close", json!({"reason": "a\u{0}b"}), "reason"),
        ("close", json!({"notes": "\u{0}"}), "notes"),
        ("assign", json!({"assigneeId": agent, "note": "x\u{0}"}), "note"),
        ("transfer", json!({"toAssigneeId": agent, "summary": "x\u{0}y"}), "summary"),
        ("transfer", json!({"toAssigneeId": agent, "reason": "\u{0}r"}), "reason"),
        ("notes", json!({"body": "hello\u{0}"}), "body"),
        ("tags", json!({"tags": ["v\u{0}ip"]}), "tags[0]"),
        ("snooze", json!({"until": "2099-01-01T00:00:00Z\u{0}"}), "until"),
    ];
    for (action, body, field) in cases {
        let r = api.post(&at(&c.id, action), body.clone()).await;
        r.expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.error_fields(), [field], "{action} {body}");
    }
    let r = api.delete(&format!("{}/a%00b", at(&c.id, "tags"))).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["name"]);
    let a = get(&app, &c.id).await;
    assert_eq!((a["status"].as_str(), &a["assignee"]), (Some("open"), &Value::Null));
    assert!(notes(&app, &c.id).await.is_empty());
}
