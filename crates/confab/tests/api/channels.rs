//! /v1/channels.

use crate::support::TestApp;
use serde_json::json;

#[tokio::test]
async fn a_channel_is_created_active_and_can_be_read_listed_updated_and_deleted() {
    let app = TestApp::spawn().await;
    let api = app.api();
    let r = api
        .post("/v1/channels", json!({"name": "WhatsApp Business", "type": "whatsapp", "config": {"phone": "+5511"}, "metadata": {"a": 1}}))
        .await;
    r.expect(201);
    let id = r.id();
    assert_eq!(r.body["data"]["type"], "channel");
    assert_eq!(r.attrs()["status"], "active");
    assert_eq!(r.attrs()["channelType"], "whatsapp");
    assert_eq!(r.attrs()["config"]["phone"], "+5511");

    let got = api.get(&format!("/v1/channels/{id}")).await;
    got.expect(200);
    assert_eq!(got.attrs()["name"], "WhatsApp Business");

    let patched =
        api.patch(&format!("/v1/channels/{id}"), json!({"name": "WA", "metadata": {"a": null, "b": 2}})).await;
    patched.expect(200);
    assert_eq!(patched.attrs()["name"], "WA");
    assert_eq!(patched.attrs()["metadata"], json!({"b": 2}));

    api.post_empty(&format!("/v1/channels/{id}/deactivate")).await.expect(200);
    let list = api.get("/v1/channels?status=inactive").await;
    assert_eq!(list.body["meta"]["pagination"]["totalCount"], 1);
    let again = api.post_empty(&format!("/v1/channels/{id}/activate")).await;
    assert_eq!(again.attrs()["status"], "active");

    api.delete(&format!("/v1/channels/{id}")).await.expect(204);
    api.get(&format!("/v1/channels/{id}")).await.expect_error(404, "CHANNEL_NOT_FOUND");
}

#[tokio::test]
async fn creating_a_channel_validates_name_and_type() {
    let app = TestApp::spawn().await;
    let r = app.api().post("/v1/channels", json!({"type": "whatsapp"})).await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["name"]);
    let r = app.api().post("/v1/channels", json!({"name": "x", "type": "carrier-pigeon"})).await;
    r.expect_error(400, "INVALID_CHANNEL_TYPE");
    assert_eq!(r.error_fields(), ["type"]);
}

#[tokio::test]
async fn the_channel_list_filters_and_paginates() {
    let app = TestApp::spawn().await;
    for i in 0..5 {
        app.channel(&format!("Email {i}"), "email").await;
    }
    app.channel("Support SMS", "sms").await;
    let api = app.api();
    let r = api.get("/v1/channels?type=email&perPage=2&page=2").await;
    r.expect(200);
    let p = &r.body["meta"]["pagination"];
    assert_eq!((p["totalCount"].as_u64(), p["totalPages"].as_u64()), (Some(5), Some(3)));
    assert_eq!((p["hasNextPage"].as_bool(), p["hasPrevPage"].as_bool()), (Some(true), Some(true)));
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2);
    let r = api.get("/v1/channels?search=support").await;
    assert_eq!(r.body["meta"]["pagination"]["totalCount"], 1);
    let r = api.get("/v1/channels?perPage=101&type=fax").await;
    r.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.error_fields(), ["perPage", "type"]);
}

#[tokio::test]
async fn an_id_that_does_not_parse_is_not_found() {
    let app = TestApp::spawn().await;
    app.api().get("/v1/channels/ch_xyz789").await.expect_error(404, "CHANNEL_NOT_FOUND");
}

#[tokio::test]
async fn an_unknown_default_bot_is_404_naming_the_field() {
    let app = TestApp::spawn().await;
    let r =
        app.api().post("/v1/channels", json!({"name": "x", "type": "sms", "defaultBotId": uuid::Uuid::now_v7()})).await;
    r.expect_error(404, "BOT_NOT_FOUND");
    assert_eq!(r.error_fields(), ["defaultBotId"]);
}

#[tokio::test]
async fn a_path_that_does_not_decode_is_404_in_the_envelope() {
    let app = TestApp::spawn().await;
    let r = app.api().get("/v1/channels/%FF").await;
    r.expect_error(404, "RESOURCE_NOT_FOUND");
    let r = app.api().post_empty("/v1/conversations/%FF%FE/close").await;
    r.expect_error(404, "RESOURCE_NOT_FOUND");
}
