//! Service routes, outside every face: health, readiness, the OpenAPI document and its docs page.

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
        .merge(Scalar::with_url("/docs", openapi))
}

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
