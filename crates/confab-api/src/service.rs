//! Service routes, outside every face: health, readiness, the OpenAPI document and its docs page.
//!
//! `/docs` is a Scalar page that loads `/openapi.json` (the document this server generates from its
//! routes); the viewer's script comes from the jsDelivr CDN, the document never leaves the server.

use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use utoipa_scalar::{Scalar, Servable};

pub fn router(openapi: utoipa::openapi::OpenApi) -> Router<AppState> {
    let doc = openapi.clone();
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/openapi.json", get(move || async move { Json(doc) }))
        .merge(Scalar::with_url("/docs", openapi).custom_html(DOCS_HTML))
}

/// The docs page: Scalar's viewer pointed at `/openapi.json`, with a plain link without JavaScript.
const DOCS_HTML: &str = r#"<!doctype html>
<html lang="en">
<head>
  <title>Confab API</title>
  <meta charset="utf-8"/>
  <meta name="viewport" content="width=device-width, initial-scale=1"/>
</head>
<body>
  <noscript>This page needs JavaScript; the OpenAPI document is at <a href="/openapi.json">/openapi.json</a>.</noscript>
  <script id="api-reference" data-url="/openapi.json"></script>
  <script src="https://cdn.jsdelivr.net/npm/@scalar/api-reference"></script>
</body>
</html>
"#;

/// The process is up.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can reach its database.
async fn readyz(State(s): State<AppState>) -> Response {
    match s.store.next_snooze_due().await {
        Ok(_) => Json(json!({ "status": "ok" })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "database not reachable");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable" }))).into_response()
        }
    }
}
