//! /v1/contacts.

use crate::support::TestApp;
use confab_core::model::{Actor, Ctx};
use serde_json::{json, Value};

/// The store context of tenant `acme`'s admin (to look at events).
async fn acme_ctx(app: &TestApp) -> Ctx {
    let key = app.store.list_api_keys().await.unwrap().into_iter().find(|k| k.tenant_slug == "acme").unwrap();
    Ctx { tenant: key.tenant_id, actor: Actor::user(key.user_id, key.user_name) }
}

fn ids(r: &Value) -> Vec<String> {
    r["data"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn a_contact_is_created_with_every_field_normalised_and_can_be_read() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let r = api
        .post(
            "/v1/contacts",
            json!({
                "name": "  Jane Doe ", "firstName": "Jane", "lastName": "Doe", "username": "jdoe",
                "displayName": "JD", "phone": "+55 (11) 99999-9999", "email": " Jane@Example.COM ",
                "avatar": "https://cdn.example.com/jane.png", "company": "Initech", "jobTitle": "CTO",
                "tier": "gold", "status": "active", "tags": ["vip", "beta", "vip"],
                "metadata": {"source": "website", "score": {"nps": 9}}, "somethingElse": true
            }),
        )
        .await;
    r.expect(201);
    assert_eq!(r.body["data"]["type"], "contact");
    let a = r.attrs();
    assert_eq!(a["name"], "Jane Doe");
    assert_eq!(a["phone"], "+5511999999999");
    assert_eq!(a["email"], "jane@example.com");
    assert_eq!(a["avatar"], "https://cdn.example.com/jane.png");
    assert_eq!(
        (&a["firstName"], &a["lastName"], &a["username"], &a["displayName"]),
        (&json!("Jane"), &json!("Doe"), &json!("jdoe"), &json!("JD"))
    );
    assert_eq!(
        (&a["company"], &a["jobTitle"], &a["tier"], &a["status"]),
        (&json!("Initech"), &json!("CTO"), &json!("gold"), &json!("active"))
    );
    assert_eq!(a["tags"], json!(["vip", "beta"]));
    assert_eq!(a["metadata"], json!({"source": "website", "score": {"nps": 9}}));
    assert!(a["createdAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(a["createdAt"], a["updatedAt"]);
    assert!(r.body["meta"]["requestId"].is_string());

    let got = api.get(&format!("/v1/contacts/{}", r.id())).await;
    got.expect(200);
    assert_eq!(got.body["data"], r.body["data"]);
}

#[tokio::test]
async fn without_a_name_the_name_is_derived_and_avatar_url_is_accepted() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let r = api
        .post("/v1/contacts", json!({"firstName": "Ada", "lastName": "Lovelace", "avatarUrl": "http://x.io/a.png"}))
        .await;
    r.expect(201);
    assert_eq!(r.attrs()["name"], "Ada Lovelace");
    assert_eq!(r.attrs()["avatar"], "http://x.io/a.png");
    assert_eq!(r.attrs()["phone"], Value::Null);
    assert_eq!(r.attrs()["tags"], json!([]));
    assert_eq!(r.attrs()["metadata"], json!({}));
    let r = api.post("/v1/contacts", json!({"username": "grace"})).await;
    assert_eq!(r.expect(201).attrs()["name"], "grace");
    // A phone alone is enough to know a contact by.
    let r = api.post("/v1/contacts", json!({"phone": "+14155550100"})).await;
    assert_eq!(r.expect(201).attrs()["name"], Value::Null);
}

#[tokio::test]
async fn every_invalid_field_of_a_new_contact_is_named_in_one_400() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let r = api
        .post(
            "/v1/contacts",
            json!({"name": "x", "phone": "5511999999999", "email": "jane@", "avatar": "ftp://x/y.png",
                   "tags": ["ok", " "], "tier": "t".repeat(51), "company": "c".repeat(201)}),
        )
        .await;
    r.expect_error(400, "VALIDATION_ERROR");
    let mut fields = r.error_fields();
    fields.sort();
    assert_eq!(fields, ["avatar", "company", "email", "phone", "tags[1]", "tier"]);
    let phone = r.body["error"]["details"].as_array().unwrap().iter().find(|d| d["field"] == "phone").unwrap();
    assert!(phone["message"].as_str().unwrap().contains("E.164"), "{phone}");

    let r = api.post("/v1/contacts", json!({"name": "x", "avatarUrl": "not a url"})).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["avatarUrl"]);
    let r = api.post("/v1/contacts", json!({"phone": 5511})).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["phone"]);
    let r = api.post("/v1/contacts", json!({"name": "x", "metadata": [1]})).await;
    assert_eq!(r.expect_error(400, "VALIDATION_ERROR").error_fields(), ["metadata"]);
    let r = api
        .post("/v1/contacts", json!({"name": "x", "tags": (0..51).map(|i| format!("t{i}")).collect::<Vec<_>>()}))
        .await;
    assert_eq!(r.expect_error(400, "VALIDATION_ERROR").error_fields(), ["tags"]);
}

#[tokio::test]
async fn a_contact_with_nothing_to_know_it_by_is_400_naming_name() {
    let app = TestApp::spawn().await;
    let r = app.api().post("/v1/contacts", json!({"company": "Initech", "name": "  "})).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["name"]);
    let r = app.api().post_empty("/v1/contacts").await;
    assert_eq!(r.expect_error(400, "VALIDATION_ERROR").error_fields(), ["name"]);
}

#[tokio::test]
async fn a_phone_or_email_another_contact_has_is_409_contact_exists_naming_the_field() {
    let app = TestApp::spawn().await;
    let api = app.api();
    api.post("/v1/contacts", json!({"name": "Jane", "phone": "+5511999999999", "email": "jane@example.com"}))
        .await
        .expect(201);
    // The same phone spelled differently.
    let r = api.post("/v1/contacts", json!({"name": "Other", "phone": "+55 11 99999 9999"})).await;
    r.expect_error(409, "CONTACT_EXISTS");
    assert_eq!(r.error_fields(), ["phone"]);
    // The same email in other capitals.
    let r = api.post("/v1/contacts", json!({"name": "Other", "email": "JANE@example.com"})).await;
    r.expect_error(409, "CONTACT_EXISTS");
    assert_eq!(r.error_fields(), ["email"]);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("email"));
    // Nothing was created by the refused requests.
    assert_eq!(api.get("/v1/contacts").await.body["meta"]["pagination"]["totalCount"], 1);
}

#[tokio::test]
async fn the_contact_list_searches_filters_and_paginates_newest_first() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let mut created = Vec::new();
    for (name, phone, email, tier, status, tags) in [
        ("Jane Doe", "+5511999990001", "jane@acme.io", "gold", "active", json!(["VIP", "beta"])),
        ("John Roe", "+5511999990002", "john@globex.io", "silver", "active", json!(["vip"])),
        ("Mary Major", "+14155550100", "mary@acme.io", "gold", "archived", json!(["beta"])),
        ("Zed", "+14155550101", "zed@initech.io", "bronze", "active", json!([])),
    ] {
        let body = json!({"name": name, "phone": phone, "email": email, "tier": tier, "status": status, "tags": tags});
        created.push(api.post("/v1/contacts", body).await.expect(201).id());
    }
    let all = api.get("/v1/contacts").await;
    all.expect(200);
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();
    assert_eq!(ids(&all.body), newest_first);
    let p = &all.body["meta"]["pagination"];
    assert_eq!((p["page"].as_u64(), p["perPage"].as_u64(), p["totalCount"].as_u64()), (Some(1), Some(20), Some(4)));

    let count = |r: &crate::support::Resp| r.body["meta"]["pagination"]["totalCount"].as_u64().unwrap();
    // search: part of the name (any case), the email or the phone.
    assert_eq!(ids(&api.get("/v1/contacts?search=jOHN").await.body), [created[1].clone()]);
    assert_eq!(count(&api.get("/v1/contacts?search=acme.io").await), 2);
    assert_eq!(count(&api.get("/v1/contacts?search=%2B1415").await), 2);
    assert_eq!(count(&api.get("/v1/contacts?search=50_").await), 0, "_ is not a wildcard");
    assert_eq!(count(&api.get("/v1/contacts?tier=gold").await), 2);
    assert_eq!(count(&api.get("/v1/contacts?tier=gold&status=active").await), 1);
    // tags: every tag listed, matched whatever the case.
    assert_eq!(count(&api.get("/v1/contacts?tags=vip").await), 2);
    assert_eq!(ids(&api.get("/v1/contacts?tags=vip,beta").await.body), [created[0].clone()]);
    assert_eq!(ids(&api.get("/v1/contacts?tags[]=beta&tags[]=VIP").await.body), [created[0].clone()]);
    assert_eq!(count(&api.get("/v1/contacts?tags=vi").await), 0, "a part of a tag is not the tag");

    let page = api.get("/v1/contacts?perPage=3&page=2").await;
    page.expect(200);
    assert_eq!(ids(&page.body), [created[0].clone()]);
    let p = &page.body["meta"]["pagination"];
    assert_eq!(
        (p["totalPages"].as_u64(), p["hasNextPage"].as_bool(), p["hasPrevPage"].as_bool()),
        (Some(2), Some(false), Some(true))
    );

    let bad = api.get("/v1/contacts?perPage=101&page=0").await;
    bad.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(bad.error_fields(), ["page", "perPage"]);
}

#[tokio::test]
async fn patch_changes_what_is_sent_clears_nulls_and_deep_merges_metadata() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let id = api
        .post(
            "/v1/contacts",
            json!({"firstName": "Jane", "lastName": "Doe", "name": "JD Official", "phone": "+5511999999999",
                   "company": "Initech", "tags": ["a"], "metadata": {"keep": 1, "drop": 2, "nested": {"x": 1}}}),
        )
        .await
        .expect(201)
        .id();
    let path = format!("/v1/contacts/{id}");
    let r = api
        .patch(
            &path,
            json!({"email": "New@Example.com", "company": null, "jobTitle": "CEO", "tags": ["b", "c"],
                   "metadata": {"drop": null, "nested": {"y": 2}, "added": true}, "unknownField": 1}),
        )
        .await;
    r.expect(200);
    let a = r.attrs();
    assert_eq!(a["email"], "new@example.com");
    assert_eq!(a["company"], Value::Null);
    assert_eq!(a["jobTitle"], "CEO");
    assert_eq!(a["phone"], "+5511999999999", "fields not sent are kept");
    assert_eq!(a["name"], "JD Official");
    assert_eq!(a["tags"], json!(["b", "c"]));
    assert_eq!(a["metadata"], json!({"keep": 1, "nested": {"x": 1, "y": 2}, "added": true}));

    // Clearing the name shows the derived one; an empty string clears like null; tags null empties.
    let r = api.patch(&path, json!({"name": null, "phone": "", "tags": null, "avatar": "https://x.io/j.png"})).await;
    r.expect(200);
    assert_eq!(r.attrs()["name"], "Jane Doe");
    assert_eq!(r.attrs()["phone"], Value::Null);
    assert_eq!(r.attrs()["tags"], json!([]));
    assert_eq!(r.attrs()["avatar"], "https://x.io/j.png");
    assert_eq!(api.get(&path).await.body["data"], r.body["data"]);

    // An empty body changes nothing.
    let r = api.patch(&path, json!({})).await;
    assert_eq!(r.expect(200).attrs()["email"], "new@example.com");
}

#[tokio::test]
async fn patch_validates_and_refuses_a_phone_or_email_another_contact_has() {
    let app = TestApp::spawn().await;
    let api = app.api();
    api.post("/v1/contacts", json!({"name": "A", "phone": "+5511999990001", "email": "a@x.io"})).await.expect(201);
    let b = api.post("/v1/contacts", json!({"name": "B", "phone": "+5511999990002"})).await.expect(201).id();
    let path = format!("/v1/contacts/{b}");
    let r = api.patch(&path, json!({"phone": "+55 11 99999-0001"})).await;
    r.expect_error(409, "CONTACT_EXISTS");
    assert_eq!(r.error_fields(), ["phone"]);
    let r = api.patch(&path, json!({"email": "A@X.IO"})).await;
    r.expect_error(409, "CONTACT_EXISTS");
    assert_eq!(r.error_fields(), ["email"]);
    let r = api
        .patch(&path, json!({"phone": "12", "email": "nope", "avatarUrl": "javascript:alert(1)", "tags": [""]}))
        .await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["phone", "email", "avatarUrl", "tags[0]"]);
    let r = api.patch(&path, json!({"metadata": "text"})).await;
    assert_eq!(r.expect_error(400, "VALIDATION_ERROR").error_fields(), ["metadata"]);
    // Nothing changed; keeping its own phone is no conflict.
    let r = api.patch(&path, json!({"phone": "+5511999990002", "name": "Bee"})).await;
    assert_eq!(r.expect(200).attrs()["phone"], "+5511999990002");

    let unknown = uuid::Uuid::now_v7();
    api.patch(&format!("/v1/contacts/{unknown}"), json!({"name": "x"})).await.expect_error(404, "CONTACT_NOT_FOUND");
    api.patch("/v1/contacts/contact_abc", json!({"name": "x"})).await.expect_error(404, "CONTACT_NOT_FOUND");
}

#[tokio::test]
async fn an_unknown_or_unparsable_contact_id_is_404_contact_not_found() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let r = api.get(&format!("/v1/contacts/{}", uuid::Uuid::now_v7())).await;
    r.expect_error(404, "CONTACT_NOT_FOUND");
    assert_eq!(r.body["error"]["message"], "Contact not found.");
    api.get("/v1/contacts/contact_abc123").await.expect_error(404, "CONTACT_NOT_FOUND");
    api.delete("/v1/contacts/contact_abc123").await.expect_error(404, "CONTACT_NOT_FOUND");
}

#[tokio::test]
async fn deleting_a_contact_keeps_its_conversations_without_a_contact() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let channel = app.channel("WhatsApp", "whatsapp").await;
    let contact = api.post("/v1/contacts", json!({"name": "Jane", "phone": "+5511999999999"})).await.expect(201).id();
    let conversation =
        api.post("/v1/conversations", json!({"channelId": channel, "contactId": contact})).await.expect(201).id();
    assert_eq!(api.get(&format!("/v1/conversations/{conversation}")).await.attrs()["contact"]["id"], contact);

    api.delete(&format!("/v1/contacts/{contact}")).await.expect(204);
    api.get(&format!("/v1/contacts/{contact}")).await.expect_error(404, "CONTACT_NOT_FOUND");
    api.delete(&format!("/v1/contacts/{contact}")).await.expect_error(404, "CONTACT_NOT_FOUND");
    let conv = api.get(&format!("/v1/conversations/{conversation}")).await;
    conv.expect(200);
    assert_eq!(conv.attrs()["contact"], Value::Null);
    assert_eq!(conv.attrs()["status"], "open");

    // The conversation's change is an event whose snapshot has no contact.
    let ctx = acme_ctx(&app).await;
    let events = app
        .store
        .conversation_events(
            &ctx,
            conversation.parse().unwrap(),
            confab_core::model::PageRequest { page: 1, per_page: 100 },
        )
        .await
        .unwrap();
    let last = events.items.last().unwrap();
    assert_eq!(last.event_type.as_str(), "conversation.updated");
    assert_eq!(last.snapshot.get("contact"), Some(&Value::Null));
    assert_eq!(last.snapshot.get("contact_id"), Some(&Value::Null));
    assert_eq!(last.data["changed"], json!(["contact"]));

    // The phone is free again.
    api.post("/v1/contacts", json!({"phone": "+5511999999999"})).await.expect(201);
}

#[tokio::test]
async fn contacts_need_the_contacts_scopes() {
    let app = TestApp::spawn().await;
    let id = app.api().post("/v1/contacts", json!({"name": "Jane"})).await.expect(201).id();
    let path = format!("/v1/contacts/{id}");
    let reader = app.as_key(&app.new_key("acme", "Reader", "contacts:read").await);
    reader.get("/v1/contacts").await.expect(200);
    reader.get(&path).await.expect(200);
    reader.post("/v1/contacts", json!({"name": "x"})).await.expect_error(403, "INSUFFICIENT_PERMISSIONS");
    reader.patch(&path, json!({"name": "x"})).await.expect_error(403, "INSUFFICIENT_PERMISSIONS");
    reader.delete(&path).await.expect_error(403, "INSUFFICIENT_PERMISSIONS");

    let writer = app.as_key(&app.new_key("acme", "Writer", "write:contacts").await);
    let r = writer.get("/v1/contacts").await;
    r.expect_error(403, "INSUFFICIENT_PERMISSIONS");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("contacts:read"));
    writer.post("/v1/contacts", json!({"name": "x"})).await.expect(201);
    writer.patch(&path, json!({"name": "y"})).await.expect(200);
    writer.delete(&path).await.expect(204);

    let other = app.as_key(&app.new_key("acme", "Agent", "conversations:read,conversations:write").await);
    other.get("/v1/contacts").await.expect_error(403, "INSUFFICIENT_PERMISSIONS");
    // G-Tateth's spelling is an alias.
    let customers = app.as_key(&app.new_key("acme", "Customers", "read:customers").await);
    customers.get("/v1/contacts").await.expect(200);
    app.anonymous().get("/v1/contacts").await.expect_error(401, "AUTHENTICATION_REQUIRED");
}

#[tokio::test]
async fn another_tenants_contacts_are_not_found_and_its_phones_are_free() {
    let app = TestApp::spawn().await;
    let id = app.api().post("/v1/contacts", json!({"name": "Jane", "phone": "+5511999999999"})).await.expect(201).id();
    let globex = app.as_key(&app.new_key("globex", "Gil", "admin").await);
    let path = format!("/v1/contacts/{id}");
    globex.get(&path).await.expect_error(404, "CONTACT_NOT_FOUND");
    globex.patch(&path, json!({"name": "stolen"})).await.expect_error(404, "CONTACT_NOT_FOUND");
    globex.delete(&path).await.expect_error(404, "CONTACT_NOT_FOUND");
    let list = globex.get("/v1/contacts?search=jane").await;
    assert_eq!(list.body["data"], json!([]));
    assert_eq!(list.body["meta"]["pagination"]["totalCount"], 0);
    // Uniqueness is per tenant.
    globex.post("/v1/contacts", json!({"name": "Jane G", "phone": "+5511999999999"})).await.expect(201);
    assert_eq!(app.api().get(&path).await.attrs()["name"], "Jane");
}

#[tokio::test]
async fn a_nul_character_is_400_naming_the_field_on_every_engine() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let r = api.post("/v1/contacts", json!({"name": "a\u{0}b"})).await;
    assert_eq!(r.expect_error(400, "VALIDATION_ERROR").error_fields(), ["name"]);
    let r = api.post("/v1/contacts", json!({"name": "a", "metadata": {"k": ["x", "a\u{0}"]}})).await;
    assert_eq!(r.expect_error(400, "VALIDATION_ERROR").error_fields(), ["metadata.k[1]"]);
    let r = api.get("/v1/contacts?search=a%00b&tags=x,%00").await;
    assert_eq!(r.expect_error(400, "VALIDATION_ERROR").error_fields(), ["search", "tags"]);
    // An escaped backslash before "u0000" is ordinary text.
    let r = api.post("/v1/contacts", json!({"name": "a\\u0000"})).await;
    assert_eq!(r.expect(201).attrs()["name"], "a\\u0000");
}
