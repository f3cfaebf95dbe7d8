//! The service routes: `/openapi.json` (generated from the code, covering every /v1 route), `/docs`,
//! `/healthz`, `/readyz`; and the /v1 fallback for unknown routes.

use crate::support::{Resp, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Every operation the Linktor face must serve (issue #2 and the seed), as `METHOD /path`. Path
/// parameters are compared by position only (`{}`), whatever their name.
const EXPECTED: &[&str] = &[
    // The seed's nine conversation endpoints.
    "GET /v1/conversations",
    "POST /v1/conversations",
    "GET /v1/conversations/{id}",
    "PATCH /v1/conversations/{id}",
    "POST /v1/conversations/{id}/close",
    "POST /v1/conversations/{id}/reopen",
    "POST /v1/conversations/{id}/assign",
    "POST /v1/conversations/{id}/transfer",
    "GET /v1/conversations/{id}/participants",
    // What Linktor's SDKs call beyond the seed, and the notes and timeline.
    "POST /v1/conversations/{id}/snooze",
    "POST /v1/conversations/{id}/unassign",
    "POST /v1/conversations/{id}/tags",
    "DELETE /v1/conversations/{id}/tags/{name}",
    "GET /v1/conversations/{id}/notes",
    "POST /v1/conversations/{id}/notes",
    "GET /v1/conversations/{id}/events",
    // The resources conversations need.
    "GET /v1/channels",
    "POST /v1/channels",
    "GET /v1/channels/{id}",
    "PATCH /v1/channels/{id}",
    "DELETE /v1/channels/{id}",
    "POST /v1/channels/{id}/activate",
    "POST /v1/channels/{id}/deactivate",
    "GET /v1/contacts",
    "POST /v1/contacts",
    "GET /v1/contacts/{id}",
    "PATCH /v1/contacts/{id}",
    "DELETE /v1/contacts/{id}",
    "GET /v1/users",
    "POST /v1/users",
    "GET /v1/users/{id}",
    "GET /v1/bots",
    "POST /v1/bots",
    "GET /v1/bots/{id}",
    "PATCH /v1/bots/{id}",
    "DELETE /v1/bots/{id}",
    "GET /v1/tags",
    "POST /v1/tags",
    "DELETE /v1/tags/{id}",
];

/// Every operation the Airy face serves at the root (issue #3, item 6: `conversations.list` and
/// `messages.*` join them with the messages face), camelCase aliases included.
const EXPECTED_AIRY: &[&str] = &[
    "POST /conversations.info",
    "POST /conversations.mark-read",
    "POST /conversations.tag",
    "POST /conversations.untag",
    "POST /conversations.set-state",
    "POST /conversations.setState",
    "POST /conversations.remove-state",
    "POST /conversations.removeState",
    "POST /conversations.update-contact",
    "POST /conversations.updateContact",
    "POST /conversations.refetch",
    "POST /tags.create",
    "POST /tags.list",
    "POST /tags.update",
    "POST /tags.delete",
    "POST /channels.list",
    "POST /channels.info",
    "POST /channels.update",
    "POST /metadata.upsert",
    "POST /conversations.list",
    "POST /messages.list",
    "POST /messages.send",
    "POST /messages.resend",
];

const METHODS: &[&str] = &["get", "post", "put", "patch", "delete"];

/// `/v1/conversations/{conversationId}/tags/{tag}` → `/v1/conversations/{}/tags/{}`.
fn shape(path: &str) -> String {
    path.split('/')
        .map(|seg| if seg.starts_with('{') && seg.ends_with('}') { "{}" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

/// Every operation of a document, as `(METHOD, path)`.
fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if item.get(*m).is_some() {
                out.push((m.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

async fn openapi(app: &TestApp) -> Value {
    let r = app.anonymous().get("/openapi.json").await;
    r.expect(200);
    assert!(
        r.headers["content-type"].to_str().unwrap().starts_with("application/json"),
        "content type: {:?}",
        r.headers["content-type"]
    );
    assert!(r.body.is_object(), "not JSON: {}", r.text);
    r.body
}

#[tokio::test]
async fn the_openapi_document_is_openapi_3_1_with_both_security_schemes() {
    let app = TestApp::spawn().await;
    let doc = openapi(&app).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "version: {}", doc["openapi"]);
    assert_eq!(doc["info"]["title"], "Confab");
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!((&schemes["bearer"]["type"], &schemes["bearer"]["scheme"]), (&json!("http"), &json!("bearer")));
    assert_eq!(schemes["api_key"], json!({"type": "apiKey", "in": "header", "name": "X-API-Key"}));
    // The document served is the one the library generates.
    assert_eq!(doc, serde_json::to_value(confab_api::openapi()).unwrap());
}

#[tokio::test]
async fn the_openapi_document_covers_every_linktor_endpoint() {
    let app = TestApp::spawn().await;
    let doc = openapi(&app).await;
    let documented: BTreeSet<String> = operations(&doc).iter().map(|(m, p)| format!("{m} {}", shape(p))).collect();
    let missing: Vec<&str> = EXPECTED.iter().copied().filter(|e| !documented.contains(&shape(e))).collect();
    assert!(missing.is_empty(), "not in /openapi.json: {missing:#?}\ndocumented: {documented:#?}");
}

#[tokio::test]
async fn every_documented_v1_operation_requires_a_key_and_names_its_responses() {
    let app = TestApp::spawn().await;
    let doc = openapi(&app).await;
    for (method, path) in operations(&doc).into_iter().filter(|(_, p)| p.starts_with("/v1/")) {
        let op = &doc["paths"][&path][method.to_lowercase()];
        let security = op["security"].as_array().unwrap_or_else(|| panic!("{method} {path} declares no security"));
        let names: BTreeSet<&str> =
            security.iter().filter_map(|s| s.as_object()).flat_map(|o| o.keys().map(String::as_str)).collect();
        assert!(names.contains("bearer") && names.contains("api_key"), "{method} {path} security: {security:?}");
        assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path} documents no response");
        assert!(op["tags"].as_array().is_some_and(|t| !t.is_empty()), "{method} {path} has no tag");
    }
}

#[tokio::test]
async fn the_openapi_document_covers_every_airy_endpoint() {
    let app = TestApp::spawn().await;
    let doc = openapi(&app).await;
    let documented: BTreeSet<String> = operations(&doc).iter().map(|(m, p)| format!("{m} {p}")).collect();
    let missing: Vec<&str> = EXPECTED_AIRY.iter().copied().filter(|e| !documented.contains(*e)).collect();
    assert!(missing.is_empty(), "not in /openapi.json: {missing:#?}");
    assert_eq!(
        doc["components"]["securitySchemes"]["airy_cookie"],
        json!({"type": "apiKey", "in": "cookie", "name": "airy_auth_token"})
    );
}

/// Every documented operation at the root (the Airy face) but its websocket (`GET
/// /ws.communication`, tested in `airy_ws`) is POST, declares the bearer and cookie schemes, and is
/// served: an empty body is a 200 (lists) or a 400 naming a required field, never
/// a 404 or 405 of an unrouted path, never a 5xx.
#[tokio::test]
async fn every_documented_airy_operation_is_a_served_post_with_airys_security() {
    let app = TestApp::spawn().await;
    let doc = openapi(&app).await;
    let airy: Vec<(String, String)> =
        operations(&doc).into_iter().filter(|(_, p)| is_airy(p) && p != "/ws.communication").collect();
    assert!(airy.len() >= EXPECTED_AIRY.len(), "{airy:?}");
    for (method, path) in airy {
        assert_eq!(method, "POST", "{path}");
        let op = &doc["paths"][&path]["post"];
        let security = op["security"].as_array().unwrap_or_else(|| panic!("{path} declares no security"));
        let names: BTreeSet<&str> =
            security.iter().filter_map(|s| s.as_object()).flat_map(|o| o.keys().map(String::as_str)).collect();
        assert!(names.contains("bearer") && names.contains("airy_cookie"), "{path} security: {security:?}");
        assert_eq!(op["tags"], json!(["airy"]), "{path}");
        let r = app.api().post(&path, json!({})).await;
        assert!(r.status == 200 || r.status == 400, "POST {path} with {{}} answered {}: {}", r.status, r.text);
        if r.status == 400 {
            assert!(r.body["message"].as_str().is_some_and(|m| m.contains("required")), "{path}: {}", r.text);
        }
    }
}

/// Whether a documented path is one of the Airy face's (at the root, not under another face's mount).
fn is_airy(path: &str) -> bool {
    !["/v1/", "/api/v1/", "/protocol/v1/"].iter().any(|mount| path.starts_with(mount))
}

/// Every operation of the G-Tateth face at /api/v1 (issue #4, items 5–8).
const EXPECTED_GTATETH: &[&str] = &[
    "GET /api/v1/health",
    "GET /api/v1/conversations",
    "POST /api/v1/conversations",
    "GET /api/v1/conversations/{id}",
    "PUT /api/v1/conversations/{id}",
    "DELETE /api/v1/conversations/{id}",
    "GET /api/v1/customers",
    "POST /api/v1/customers",
    "GET /api/v1/customers/{id}",
    "PUT /api/v1/customers/{id}",
    "DELETE /api/v1/customers/{id}",
    "GET /api/v1/inboxes",
    "POST /api/v1/inboxes",
    "GET /api/v1/inboxes/{id}",
    "PUT /api/v1/inboxes/{id}",
    "DELETE /api/v1/inboxes/{id}",
];

/// Every G-Tateth operation is documented, tagged `gtateth`, declares both key schemes (but
/// `/health`, which needs no key), and is served: with made-up ids and `{}` bodies it answers below
/// 500 and is not the face's fallback 404.
#[tokio::test]
async fn the_openapi_document_covers_every_gtateth_endpoint_and_each_is_served() {
    let app = TestApp::spawn().await;
    let doc = openapi(&app).await;
    let documented: BTreeSet<String> = operations(&doc).iter().map(|(m, p)| format!("{m} {}", shape(p))).collect();
    let missing: Vec<&str> = EXPECTED_GTATETH.iter().copied().filter(|e| !documented.contains(&shape(e))).collect();
    assert!(missing.is_empty(), "not in /openapi.json: {missing:#?}");
    let api = app.api();
    let fallback = api.get("/api/v1/no-such-endpoint").await;
    assert_eq!((fallback.status, &fallback.body["error"]["code"]), (404, &json!("NOT_FOUND")), "{}", fallback.text);
    let fallback_message = fallback.body["error"]["message"].as_str().unwrap().to_string();
    let some_id = uuid::Uuid::now_v7().to_string();
    for (method, path) in operations(&doc).into_iter().filter(|(_, p)| p.starts_with("/api/v1/")) {
        let op = &doc["paths"][&path][method.to_lowercase()];
        assert_eq!(op["tags"], json!(["gtateth"]), "{method} {path}");
        if path != "/api/v1/health" {
            let security = op["security"].as_array().unwrap_or_else(|| panic!("{method} {path} declares no security"));
            let names: BTreeSet<&str> =
                security.iter().filter_map(|s| s.as_object()).flat_map(|o| o.keys().map(String::as_str)).collect();
            assert!(names.contains("bearer") && names.contains("api_key"), "{method} {path} security: {security:?}");
        }
        let concrete = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { some_id.as_str() } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let m = Method::from_bytes(method.as_bytes()).unwrap();
        let body = matches!(m, Method::POST | Method::PUT).then(|| json!({}));
        let r = api.send(m, &concrete, body).await;
        assert!(r.status < 500, "{method} {concrete} answered {}: {}", r.status, r.text);
        assert!(!is_unrouted(&r, &fallback_message), "{method} {path} is documented but not served");
    }
}

/// Whether a response is the /v1 fallback (no such route) or a 405 (no such method on the route).
fn is_unrouted(r: &Resp, fallback_message: &str) -> bool {
    r.status == 405 || (r.status == 404 && r.body["error"]["message"] == fallback_message)
}

#[tokio::test]
async fn every_documented_operation_is_served() {
    let app = TestApp::spawn().await;
    let doc = openapi(&app).await;
    let api = app.api();
    let fallback = api.get("/v1/no-such-endpoint").await;
    fallback.expect_error(404, "RESOURCE_NOT_FOUND");
    let fallback_message = fallback.body["error"]["message"].as_str().unwrap().to_string();
    let some_id = uuid::Uuid::now_v7().to_string();
    let mut unserved = Vec::new();
    for (method, path) in operations(&doc).into_iter().filter(|(_, p)| p.starts_with("/v1/")) {
        let concrete = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { some_id.as_str() } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        // The event stream never ends: ask with an invalid position, answered (400) before it starts.
        let concrete = if path == "/v1/events/stream" { format!("{concrete}?after=x") } else { concrete };
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let body = matches!(method, Method::POST | Method::PATCH | Method::PUT).then(|| json!({}));
        let r = api.send(method.clone(), &concrete, body).await;
        assert!(r.status < 500, "{method} {concrete} answered {}: {}", r.status, r.text);
        if is_unrouted(&r, &fallback_message) {
            unserved.push(format!("{method} {path}"));
        }
    }
    assert!(unserved.is_empty(), "documented but not served: {unserved:#?}");
}

/// Routes must be registered through `utoipa_axum::routes!`, which puts them in the document; a
/// plain axum `.route(` in a face would serve an undocumented endpoint.
#[test]
fn every_linktor_and_airy_route_is_registered_through_the_openapi_router() {
    let faces = concat!(env!("CARGO_MANIFEST_DIR"), "/../confab-api/src/faces");
    let mut offenders = Vec::new();
    let entries = ["linktor", "airy", "gtateth", "protocol"]
        .into_iter()
        .flat_map(|face| std::fs::read_dir(format!("{faces}/{face}")).expect("the face's sources"));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            let source = std::fs::read_to_string(&path).unwrap();
            for (n, line) in source.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                if code.contains(".route(") || code.contains(".route_service(") {
                    offenders.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(offenders.is_empty(), "routes outside the OpenAPI document: {offenders:#?}");
}

#[tokio::test]
async fn the_docs_page_is_html_that_loads_the_openapi_document() {
    let app = TestApp::spawn().await;
    let r = app.anonymous().get("/docs").await;
    r.expect(200);
    assert!(r.headers["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(r.text.to_lowercase().starts_with("<!doctype html"), "{}", r.text);
    assert!(r.text.contains("data-url=\"/openapi.json\""), "{}", r.text);
}

#[tokio::test]
async fn health_and_readiness_answer_without_a_key() {
    let app = TestApp::spawn().await;
    let r = app.anonymous().get("/healthz").await;
    r.expect(200);
    assert_eq!(r.body, json!({"status": "ok"}));
    let r = app.anonymous().get("/readyz").await;
    r.expect(200);
    assert_eq!(r.body["status"], "ok");
}

#[tokio::test]
async fn an_unknown_v1_route_is_404_resource_not_found_in_the_linktor_envelope() {
    let app = TestApp::spawn().await;
    for method in [Method::GET, Method::POST, Method::DELETE] {
        let r = app.api().with_header("X-Request-ID", "req-unknown-route").send(method, "/v1/wormholes/42", None).await;
        r.expect_error(404, "RESOURCE_NOT_FOUND");
        assert_eq!(r.body["meta"]["requestId"], "req-unknown-route");
        assert!(r.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(r.body["error"]["details"].is_array());
    }
    // Without a key, the key is what is missing.
    app.anonymous().get("/v1/wormholes/42").await.expect_error(401, "AUTHENTICATION_REQUIRED");
}

/// Every operation of the Protocol face at /protocol/v1 (issue #4, items 1–4): the five resources of
/// the reference (§2.6) and the signed file download.
const EXPECTED_PROTOCOL: &[&str] = &[
    "GET /protocol/v1/conversations",
    "POST /protocol/v1/conversations",
    "GET /protocol/v1/conversations/{id}",
    "PUT /protocol/v1/conversations/{id}",
    "DELETE /protocol/v1/conversations/{id}",
    "GET /protocol/v1/contacts",
    "POST /protocol/v1/contacts",
    "GET /protocol/v1/contacts/{id}",
    "PUT /protocol/v1/contacts/{id}",
    "DELETE /protocol/v1/contacts/{id}",
    "GET /protocol/v1/groups",
    "POST /protocol/v1/groups",
    "GET /protocol/v1/groups/{id}",
    "PUT /protocol/v1/groups/{id}",
    "DELETE /protocol/v1/groups/{id}",
    "GET /protocol/v1/messages",
    "POST /protocol/v1/messages",
    "GET /protocol/v1/messages/{id}",
    "PUT /protocol/v1/messages/{id}",
    "DELETE /protocol/v1/messages/{id}",
    "GET /protocol/v1/attachments",
    "POST /protocol/v1/attachments",
    "GET /protocol/v1/attachments/{id}",
    "PUT /protocol/v1/attachments/{id}",
    "DELETE /protocol/v1/attachments/{id}",
    "GET /protocol/v1/files/{id}",
];

/// Every Protocol operation is documented, tagged `protocol`, declares the bearer scheme (but the
/// signed download, which needs no key), and is served: with made-up ids and `{}` bodies it answers
/// below 500 and is not the face's fallback 404.
#[tokio::test]
async fn the_openapi_document_covers_every_protocol_endpoint_and_each_is_served() {
    let app = TestApp::spawn().await;
    let doc = openapi(&app).await;
    let documented: BTreeSet<String> = operations(&doc).iter().map(|(m, p)| format!("{m} {}", shape(p))).collect();
    let missing: Vec<&str> = EXPECTED_PROTOCOL.iter().copied().filter(|e| !documented.contains(&shape(e))).collect();
    assert!(missing.is_empty(), "not in /openapi.json: {missing:#?}");
    let api = app.api();
    let fallback = api.get("/protocol/v1/no-such-endpoint").await;
    assert_eq!((fallback.status, &fallback.body["type"]), (404, &json!("invalid_request")), "{}", fallback.text);
    let fallback_message = fallback.body["message"].as_str().unwrap().to_string();
    let some_id = uuid::Uuid::now_v7().to_string();
    // The face's schemas carry its name, so that no other face's schema of the same shape name
    // replaces them.
    assert_eq!(doc["components"]["securitySchemes"]["basic"], json!({"type": "http", "scheme": "basic"}));
    let conversation = &doc["components"]["schemas"]["ProtocolConversationJson"]["properties"];
    assert!(conversation["last_opened_at"].is_object() && conversation["is_muted"].is_object(), "{conversation}");
    let protocol: Vec<(String, String)> =
        operations(&doc).into_iter().filter(|(_, p)| p.starts_with("/protocol/v1/")).collect();
    assert_eq!(protocol.len(), EXPECTED_PROTOCOL.len(), "{protocol:#?}");
    for (method, path) in protocol {
        let op = &doc["paths"][&path][method.to_lowercase()];
        assert_eq!(op["tags"], json!(["protocol"]), "{method} {path}");
        if !path.starts_with("/protocol/v1/files/") {
            let security = op["security"].as_array().unwrap_or_else(|| panic!("{method} {path} declares no security"));
            let names: BTreeSet<&str> =
                security.iter().filter_map(|s| s.as_object()).flat_map(|o| o.keys().map(String::as_str)).collect();
            assert!(names.contains("bearer") && names.contains("basic"), "{method} {path} security: {security:?}");
        }
        let concrete = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { some_id.as_str() } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let m = Method::from_bytes(method.as_bytes()).unwrap();
        let body = matches!(m, Method::POST | Method::PUT).then(|| json!({}));
        let r = api.send(m, &concrete, body).await;
        assert!(r.status < 500, "{method} {concrete} answered {}: {}", r.status, r.text);
        assert!(
            r.status != 405 && !(r.status == 404 && r.body["message"] == fallback_message),
            "{method} {path} is documented but not served"
        );
    }
}
