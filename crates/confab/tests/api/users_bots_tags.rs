//! /v1/users, /v1/bots and /v1/tags.

use crate::support::{Resp, TestApp};
use confab_core::model::{Actor, Ctx, PageRequest};
use serde_json::{json, Value};

fn names(r: &Resp) -> Vec<String> {
    r.body["data"].as_array().unwrap().iter().map(|x| x["attributes"]["name"].as_str().unwrap().to_string()).collect()
}

/// The store context of tenant `acme`'s admin (to look at events).
async fn acme_ctx(app: &TestApp) -> Ctx {
    let key = app.store.list_api_keys().await.unwrap().into_iter().find(|k| k.tenant_slug == "acme").unwrap();
    Ctx { tenant: key.tenant_id, actor: Actor::user(key.user_id, key.user_name) }
}

fn total(r: &Resp) -> u64 {
    r.body["meta"]["pagination"]["totalCount"].as_u64().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Users

#[tokio::test]
async fn an_admin_creates_lists_and_reads_users() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let r = api.post("/v1/users", json!({"name": " Bruno Agent ", "email": " Bruno@Example.COM "})).await;
    r.expect(201);
    assert_eq!(r.body["data"]["type"], "user");
    let a = r.attrs();
    assert_eq!(
        (&a["name"], &a["email"], &a["role"]),
        (&json!("Bruno Agent"), &json!("bruno@example.com"), &json!("agent"))
    );
    assert!(a["createdAt"].as_str().unwrap().ends_with('Z') && a["updatedAt"].is_string());
    let bruno = r.id();
    let viewer = api.post("/v1/users", json!({"name": "Vera", "role": "viewer"})).await;
    assert_eq!(viewer.expect(201).attrs()["role"], "viewer");
    assert_eq!(viewer.attrs()["email"], Value::Null);
    api.post("/v1/users", json!({"name": "Alba", "role": "admin"})).await.expect(201);

    let got = api.get(&format!("/v1/users/{bruno}")).await;
    got.expect(200);
    assert_eq!(got.body["data"], r.body["data"]);

    // Oldest first: the key's own user leads.
    let list = api.get("/v1/users").await;
    list.expect(200);
    assert_eq!(names(&list), ["Ana Admin", "Bruno Agent", "Vera", "Alba"]);
    let page = api.get("/v1/users?perPage=3&page=2").await;
    assert_eq!(names(&page), ["Alba"]);
    let p = &page.body["meta"]["pagination"];
    assert_eq!(
        (p["totalCount"].as_u64(), p["totalPages"].as_u64(), p["hasPrevPage"].as_bool()),
        (Some(4), Some(2), Some(true))
    );
    let bad = api.get("/v1/users?perPage=0").await;
    assert_eq!(bad.expect_error(400, "VALIDATION_ERROR").error_fields(), ["perPage"]);
}

#[tokio::test]
async fn a_new_user_is_validated_and_its_email_is_unique_in_the_organisation() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let r = api.post("/v1/users", json!({"email": "not-an-email", "role": "owner"})).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["name", "email", "role"]);
    let r = api.post("/v1/users", json!({"name": "n".repeat(201)})).await;
    assert_eq!(r.expect_error(400, "VALIDATION_ERROR").error_fields(), ["name"]);
    let r = api.post("/v1/users", json!({"name": "X", "role": 3})).await;
    assert_eq!(r.expect_error(400, "VALIDATION_ERROR").error_fields(), ["role"]);

    api.post("/v1/users", json!({"name": "Bruno", "email": "bruno@example.com"})).await.expect(201);
    let r = api.post("/v1/users", json!({"name": "Other Bruno", "email": "BRUNO@example.com"})).await;
    r.expect_error(409, "USER_EXISTS");
    assert_eq!(r.error_fields(), ["email"]);
    // Users without an email never conflict.
    api.post("/v1/users", json!({"name": "No Mail 1"})).await.expect(201);
    api.post("/v1/users", json!({"name": "No Mail 2"})).await.expect(201);
    // Another organisation may have the same email.
    let globex = app.as_key(&app.new_key("globex", "Gil", "admin").await);
    globex.post("/v1/users", json!({"name": "Bruno G", "email": "bruno@example.com"})).await.expect(201);
}

#[tokio::test]
async fn users_need_the_admin_scope() {
    let app = TestApp::spawn().await;
    let id = app.api().post("/v1/users", json!({"name": "Bruno"})).await.expect(201).id();
    let every_other = "conversations:read,conversations:write,contacts:read,contacts:write,channels:read,\
                       channels:write,bots:read,bots:write,messages:read,messages:write,webhooks:read,webhooks:write";
    let agent = app.as_key(&app.new_key("acme", "Agent", every_other).await);
    let r = agent.get("/v1/users").await;
    r.expect_error(403, "INSUFFICIENT_PERMISSIONS");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("admin"));
    agent.get(&format!("/v1/users/{id}")).await.expect_error(403, "INSUFFICIENT_PERMISSIONS");
    agent.post("/v1/users", json!({"name": "x"})).await.expect_error(403, "INSUFFICIENT_PERMISSIONS");
    app.anonymous().get("/v1/users").await.expect_error(401, "AUTHENTICATION_REQUIRED");
}

#[tokio::test]
async fn unknown_and_other_tenants_users_are_404_user_not_found() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let id = api.post("/v1/users", json!({"name": "Bruno"})).await.expect(201).id();
    api.get(&format!("/v1/users/{}", uuid::Uuid::now_v7())).await.expect_error(404, "USER_NOT_FOUND");
    api.get("/v1/users/user_abc").await.expect_error(404, "USER_NOT_FOUND");
    let globex = app.as_key(&app.new_key("globex", "Gil", "admin").await);
    globex.get(&format!("/v1/users/{id}")).await.expect_error(404, "USER_NOT_FOUND");
    assert_eq!(names(&globex.get("/v1/users").await), ["Gil"]);
}

// ---------------------------------------------------------------------------------------------
// Bots

async fn new_bot(app: &TestApp, name: &str, provider: &str) -> String {
    app.api().post("/v1/bots", json!({"name": name, "provider": provider, "model": "m-1"})).await.expect(201).id()
}

#[tokio::test]
async fn a_bot_is_created_active_and_can_be_read_updated_deactivated_and_deleted() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let r = api
        .post(
            "/v1/bots",
            json!({"name": "Support Bot", "provider": "openai", "model": "gpt-4o",
                   "config": {"temperature": 0.7, "prompt": {"system": "Be kind", "lang": "en"}},
                   "metadata": {"team": "support"}, "knowledgeBaseId": "kb_1"}),
        )
        .await;
    r.expect(201);
    assert_eq!(r.body["data"]["type"], "bot");
    let a = r.attrs();
    assert_eq!(
        (&a["name"], &a["provider"], &a["model"], &a["status"]),
        (&json!("Support Bot"), &json!("openai"), &json!("gpt-4o"), &json!("active"))
    );
    assert_eq!(a["config"]["prompt"]["system"], "Be kind");
    assert_eq!(a["metadata"], json!({"team": "support"}));
    assert!(a["createdAt"].as_str().unwrap().ends_with('Z'));
    let id = r.id();
    let path = format!("/v1/bots/{id}");
    assert_eq!(api.get(&path).await.expect(200).body["data"], r.body["data"]);

    let r = api
        .patch(
            &path,
            json!({"name": "Helper", "provider": "anthropic", "model": "claude-sonnet",
                   "config": {"temperature": null, "prompt": {"lang": "pt"}}, "metadata": {"tier": 2}}),
        )
        .await;
    r.expect(200);
    let a = r.attrs();
    assert_eq!(
        (&a["name"], &a["provider"], &a["model"]),
        (&json!("Helper"), &json!("anthropic"), &json!("claude-sonnet"))
    );
    assert_eq!(a["config"], json!({"prompt": {"system": "Be kind", "lang": "pt"}}));
    assert_eq!(a["metadata"], json!({"team": "support", "tier": 2}));
    assert_eq!(a["status"], "active");

    let r = api.delete(&path).await;
    r.expect_error(400, "BOT_IS_ACTIVE");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("deactivate"));
    let r = api.post_empty(&format!("{path}/deactivate")).await;
    assert_eq!(r.expect(200).attrs()["status"], "inactive");
    let r = api.post_empty(&format!("{path}/activate")).await;
    assert_eq!(r.expect(200).attrs()["status"], "active");
    let r = api.patch(&path, json!({"status": "inactive"})).await;
    assert_eq!(r.expect(200).attrs()["status"], "inactive");
    api.delete(&path).await.expect(204);
    api.get(&path).await.expect_error(404, "BOT_NOT_FOUND");
    api.delete(&path).await.expect_error(404, "BOT_NOT_FOUND");
}

#[tokio::test]
async fn activating_an_active_bot_changes_nothing() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let id = new_bot(&app, "Bot", "custom").await;
    let before = api.get(&format!("/v1/bots/{id}")).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let r = api.post_empty(&format!("/v1/bots/{id}/activate")).await;
    r.expect(200);
    assert_eq!(r.body["data"], before.body["data"], "same status, same bot, same updatedAt");
    let off = api.post_empty(&format!("/v1/bots/{id}/deactivate")).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let again = api.post_empty(&format!("/v1/bots/{id}/deactivate")).await;
    assert_eq!(again.expect(200).body["data"], off.body["data"]);
    assert_ne!(off.attrs()["updatedAt"], before.attrs()["updatedAt"]);
}

#[tokio::test]
async fn a_bot_needs_a_name_a_known_provider_and_a_model() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let r = api.post("/v1/bots", json!({"name": "x", "provider": "llama-hut", "model": "m"})).await;
    r.expect_error(400, "INVALID_PROVIDER");
    assert_eq!(r.error_fields(), ["provider"]);
    assert!(r.body["error"]["details"][0]["message"].as_str().unwrap().contains("openai, anthropic, custom"));
    let r = api.post("/v1/bots", json!({})).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["name", "provider", "model"]);
    // With other problems too, every field is named in one VALIDATION_ERROR.
    let r = api.post("/v1/bots", json!({"name": " ", "provider": "nope", "model": "m"})).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["name", "provider"]);
    let r = api.post("/v1/bots", json!({"name": "x", "provider": "openai", "model": "m".repeat(201)})).await;
    assert_eq!(r.expect_error(400, "VALIDATION_ERROR").error_fields(), ["model"]);

    let id = new_bot(&app, "Bot", "openai").await;
    let path = format!("/v1/bots/{id}");
    let r = api.patch(&path, json!({"provider": "skynet"})).await;
    assert_eq!(r.expect_error(400, "INVALID_PROVIDER").error_fields(), ["provider"]);
    let r = api.patch(&path, json!({"name": "", "status": "training", "model": "m"})).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["status", "name"]);
    let r = api.patch(&path, json!({"config": [1]})).await;
    assert_eq!(r.expect_error(400, "VALIDATION_ERROR").error_fields(), ["config"]);
    assert_eq!(api.get(&path).await.attrs()["name"], "Bot", "a refused patch changes nothing");
}

#[tokio::test]
async fn the_bot_list_filters_by_status_provider_and_name_and_paginates() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let a = new_bot(&app, "Sales Assistant", "openai").await;
    new_bot(&app, "Support Assistant", "anthropic").await;
    new_bot(&app, "Triage", "custom").await;
    api.post_empty(&format!("/v1/bots/{a}/deactivate")).await.expect(200);

    let all = api.get("/v1/bots").await;
    all.expect(200);
    assert_eq!(names(&all), ["Triage", "Support Assistant", "Sales Assistant"], "newest first");
    assert_eq!(names(&api.get("/v1/bots?status=inactive").await), ["Sales Assistant"]);
    assert_eq!(total(&api.get("/v1/bots?status=active").await), 2);
    assert_eq!(names(&api.get("/v1/bots?provider=anthropic").await), ["Support Assistant"]);
    assert_eq!(names(&api.get("/v1/bots?search=ASSIST&status=active").await), ["Support Assistant"]);
    let training = api.get("/v1/bots?status=training").await;
    training.expect(200);
    assert_eq!((training.body["data"].clone(), total(&training)), (json!([]), 0));
    let page = api.get("/v1/bots?perPage=2&page=2").await;
    assert_eq!(names(&page), ["Sales Assistant"]);
    assert_eq!(page.body["meta"]["pagination"]["totalPages"], 2);
    let bad = api.get("/v1/bots?status=sleeping&provider=hal&perPage=500").await;
    bad.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(bad.error_fields(), ["perPage", "status", "provider"]);
}

#[tokio::test]
async fn bots_need_the_bots_scopes_and_stay_in_their_tenant() {
    let app = TestApp::spawn().await;
    let id = new_bot(&app, "Bot", "openai").await;
    let path = format!("/v1/bots/{id}");
    let reader = app.as_key(&app.new_key("acme", "Reader", "bots:read").await);
    reader.get("/v1/bots").await.expect(200);
    reader.get(&path).await.expect(200);
    for r in [
        reader.post("/v1/bots", json!({"name": "x", "provider": "openai", "model": "m"})).await,
        reader.patch(&path, json!({"name": "x"})).await,
        reader.post_empty(&format!("{path}/deactivate")).await,
        reader.post_empty(&format!("{path}/activate")).await,
        reader.delete(&path).await,
    ] {
        r.expect_error(403, "INSUFFICIENT_PERMISSIONS");
    }
    let writer = app.as_key(&app.new_key("acme", "Writer", "bots:write").await);
    writer.get(&path).await.expect_error(403, "INSUFFICIENT_PERMISSIONS");
    writer.post_empty(&format!("{path}/deactivate")).await.expect(200);

    let globex = app.as_key(&app.new_key("globex", "Gil", "admin").await);
    globex.get(&path).await.expect_error(404, "BOT_NOT_FOUND");
    globex.patch(&path, json!({"name": "x"})).await.expect_error(404, "BOT_NOT_FOUND");
    globex.post_empty(&format!("{path}/activate")).await.expect_error(404, "BOT_NOT_FOUND");
    globex.delete(&path).await.expect_error(404, "BOT_NOT_FOUND");
    assert_eq!(total(&globex.get("/v1/bots").await), 0);
    // Unparsable ids are not found either.
    let api = app.api();
    api.get("/v1/bots/bot_abc").await.expect_error(404, "BOT_NOT_FOUND");
    api.patch("/v1/bots/bot_abc", json!({})).await.expect_error(404, "BOT_NOT_FOUND");
    api.post_empty("/v1/bots/bot_abc/deactivate").await.expect_error(404, "BOT_NOT_FOUND");
    api.delete("/v1/bots/bot_abc").await.expect_error(404, "BOT_NOT_FOUND");
    let unknown = uuid::Uuid::now_v7();
    api.post_empty(&format!("/v1/bots/{unknown}/activate")).await.expect_error(404, "BOT_NOT_FOUND");
}

#[tokio::test]
async fn deleting_a_bot_takes_it_off_its_conversations() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let bot = new_bot(&app, "Bot", "openai").await;
    let channel = app.channel("Chat", "webchat").await;
    let conversation = api
        .post(
            "/v1/conversations",
            json!({"channelId": channel, "contact": {"phone": "+5511999999999"}, "botId": bot, "assigneeId": bot}),
        )
        .await
        .expect(201)
        .id();
    assert_eq!(api.get(&format!("/v1/conversations/{conversation}")).await.attrs()["bot"]["id"], bot);
    api.post_empty(&format!("/v1/bots/{bot}/deactivate")).await.expect(200);
    api.delete(&format!("/v1/bots/{bot}")).await.expect(204);
    let conv = api.get(&format!("/v1/conversations/{conversation}")).await;
    conv.expect(200);
    assert_eq!((&conv.attrs()["bot"], &conv.attrs()["assignee"]), (&Value::Null, &Value::Null));
    let ctx = acme_ctx(&app).await;
    let page = PageRequest { page: 1, per_page: 100 };
    let events = app.store.conversation_events(&ctx, conversation.parse().unwrap(), page).await.unwrap().items;
    let last = events.last().unwrap();
    assert_eq!(last.event_type.as_str(), "conversation.updated");
    assert_eq!(last.data["changed"], json!(["bot", "assignee"]));
    for field in ["bot", "bot_id", "assignee", "assignee_ref"] {
        assert_eq!(last.snapshot.get(field), Some(&Value::Null), "{field}");
    }
}

// ---------------------------------------------------------------------------------------------
// Tags

#[tokio::test]
async fn tags_are_created_listed_by_name_and_unique() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let r = api.post("/v1/tags", json!({"name": "  urgent "})).await;
    r.expect(201);
    assert_eq!(r.body["data"]["type"], "tag");
    assert_eq!((&r.attrs()["name"], &r.attrs()["color"]), (&json!("urgent"), &json!("tag-blue")));
    assert!(r.attrs()["createdAt"].as_str().unwrap().ends_with('Z'));
    let billing = api.post("/v1/tags", json!({"name": "billing", "color": "tag-red"})).await;
    assert_eq!(billing.expect(201).attrs()["color"], "tag-red");
    api.post("/v1/tags", json!({"name": "Sales", "color": "tag-purple"})).await.expect(201);

    let list = api.get("/v1/tags").await;
    list.expect(200);
    // By name whatever the case, the same on every engine.
    assert_eq!(names(&list), ["billing", "Sales", "urgent"]);
    assert_eq!(list.body["data"][0], billing.body["data"]);

    let r = api.post("/v1/tags", json!({"name": "urgent", "color": "tag-green"})).await;
    r.expect_error(409, "TAG_EXISTS");
    assert_eq!(r.error_fields(), ["name"]);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("urgent"));
}

#[tokio::test]
async fn a_tag_needs_a_valid_name_and_one_of_the_colours() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let r = api.post("/v1/tags", json!({"color": "tag-orange"})).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["name", "color"]);
    let colour = r.body["error"]["details"][1]["message"].as_str().unwrap();
    assert!(colour.contains("tag-blue, tag-red, tag-green, tag-purple"), "{colour}");
    for bad in
        [json!({"name": "   "}), json!({"name": "x".repeat(101)}), json!({"name": "a\u{7}b"}), json!({"name": 7})]
    {
        let r = api.post("/v1/tags", bad).await;
        assert_eq!(r.expect_error(400, "VALIDATION_ERROR").error_fields(), ["name"]);
    }
    assert_eq!(api.get("/v1/tags").await.body["data"], json!([]));
}

#[tokio::test]
async fn deleting_a_tag_by_id_or_name_removes_it_from_every_conversation() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let channel = app.channel("Chat", "webchat").await;
    let mut conversations = Vec::new();
    for phone in ["+5511999990001", "+5511999990002"] {
        let body = json!({"channelId": channel, "contact": {"phone": phone}, "tags": ["billing", "needs review"]});
        conversations.push(api.post("/v1/conversations", body).await.expect(201).id());
    }
    // Tags used by conversations are the tenant's tags.
    let list = api.get("/v1/tags").await;
    assert_eq!(names(&list), ["billing", "needs review"]);
    let billing = list.body["data"][0]["id"].as_str().unwrap().to_string();

    api.delete(&format!("/v1/tags/{billing}")).await.expect(204);
    let conv = api.get(&format!("/v1/conversations/{}", conversations[0])).await;
    assert_eq!(conv.attrs()["tags"], json!(["needs review"]));
    api.delete("/v1/tags/needs%20review").await.expect(204);
    assert_eq!(api.get("/v1/tags").await.body["data"], json!([]));
    let ctx = acme_ctx(&app).await;
    for id in &conversations {
        let conv = api.get(&format!("/v1/conversations/{id}")).await;
        assert_eq!(conv.expect(200).attrs()["tags"], json!([]));
        // Each removal is a change of the conversation, with its event.
        let page = PageRequest { page: 1, per_page: 100 };
        let events = app.store.conversation_events(&ctx, id.parse().unwrap(), page).await.unwrap().items;
        let removals: Vec<_> = events
            .iter()
            .filter(|e| e.event_type.as_str() == "conversation.updated")
            .map(|e| (e.data["removed"].clone(), e.snapshot["tags"].clone()))
            .collect();
        assert_eq!(removals, [(json!(["billing"]), json!(["needs review"])), (json!(["needs review"]), json!([]))]);
    }

    api.delete(&format!("/v1/tags/{billing}")).await.expect_error(404, "TAG_NOT_FOUND");
    api.delete("/v1/tags/never-existed").await.expect_error(404, "TAG_NOT_FOUND");
    api.delete(&format!("/v1/tags/{}", uuid::Uuid::now_v7())).await.expect_error(404, "TAG_NOT_FOUND");
    // A deleted name can be created again.
    api.post("/v1/tags", json!({"name": "billing"})).await.expect(201);
}

#[tokio::test]
async fn tags_belong_to_the_conversations_scopes_and_to_their_tenant() {
    let app = TestApp::spawn().await;
    let id = app.api().post("/v1/tags", json!({"name": "urgent"})).await.expect(201).id();
    let reader = app.as_key(&app.new_key("acme", "Reader", "conversations:read").await);
    assert_eq!(names(&reader.get("/v1/tags").await), ["urgent"]);
    reader.post("/v1/tags", json!({"name": "x"})).await.expect_error(403, "INSUFFICIENT_PERMISSIONS");
    reader.delete(&format!("/v1/tags/{id}")).await.expect_error(403, "INSUFFICIENT_PERMISSIONS");
    let writer = app.as_key(&app.new_key("acme", "Writer", "write:conversations").await);
    writer.get("/v1/tags").await.expect_error(403, "INSUFFICIENT_PERMISSIONS");
    writer.post("/v1/tags", json!({"name": "x"})).await.expect(201);
    let contacts = app.as_key(&app.new_key("acme", "Contacts", "contacts:read,contacts:write").await);
    contacts.get("/v1/tags").await.expect_error(403, "INSUFFICIENT_PERMISSIONS");

    let globex = app.as_key(&app.new_key("globex", "Gil", "admin").await);
    assert_eq!(globex.get("/v1/tags").await.body["data"], json!([]));
    globex.delete(&format!("/v1/tags/{id}")).await.expect_error(404, "TAG_NOT_FOUND");
    globex.delete("/v1/tags/urgent").await.expect_error(404, "TAG_NOT_FOUND");
    // Names are unique per tenant only.
    globex.post("/v1/tags", json!({"name": "urgent"})).await.expect(201);
    writer.delete(&format!("/v1/tags/{id}")).await.expect(204);
    assert_eq!(names(&globex.get("/v1/tags").await), ["urgent"]);
}
