//! The Linktor face, mounted at `/v1`: JSON:API-like `{"data":{id,type,attributes}}` envelopes,
//! camelCase, ISO 8601 UTC times with milliseconds, `page`/`perPage` pagination, and errors
//! `{"error":{code,message,details[{field,message}]},"meta":{requestId}}`.
//!
//! Auth: `Authorization: Bearer <key>` or `X-API-Key: <key>` (what Linktor's SDKs send). Missing is
//! 401 `AUTHENTICATION_REQUIRED`, unknown or revoked 401 `INVALID_API_KEY`, a missing scope 403
//! `INSUFFICIENT_PERMISSIONS`. Decisions beyond the seed are documented on each module.

mod bots;
mod channels;
mod contacts;
mod conversation_actions;
pub mod conversations;
pub mod envelope;
pub mod events_stream;
pub mod extract;
pub mod message_render;
mod messages;
mod tags;
mod users;
pub mod webhook_format;
mod webhooks;

use crate::auth::Auth;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
pub use extract::{Json, LinktorError};
use utoipa_axum::router::OpenApiRouter;

/// Every /v1 route, without the auth layer (for the OpenAPI document).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(channels::routes())
        .merge(conversations::routes())
        .merge(conversation_actions::routes())
        .merge(contacts::routes())
        .merge(users::routes())
        .merge(bots::routes())
        .merge(tags::routes())
        .merge(messages::routes())
        .merge(events_stream::routes())
        .merge(webhooks::routes())
}

/// The /v1 router: every route behind the key check, unknown paths 404 in the envelope.
pub fn router(state: AppState) -> OpenApiRouter<AppState> {
    routes()
        .fallback(|| async { LinktorError(ApiError::route_not_found()) })
        // Layers run outside-in from the last: auth first, then idempotency (which needs the key).
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::idempotency::linktor))
        .layer(axum::middleware::from_fn_with_state(state, authenticate))
}

/// The key of a request: `Authorization: Bearer <key>` (also a bare key), else `X-API-Key`.
pub fn presented_key(headers: &axum::http::HeaderMap) -> Option<String> {
    if let Some(v) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        let v = v.trim();
        let key = match v.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            _ => v,
        };
        if !key.is_empty() {
            return Some(key.to_string());
        }
    }
    headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(key) = presented_key(req.headers()) else {
        return LinktorError(ApiError::auth_required()).into_response();
    };
    match state.keys.resolve(&state.store, &key).await {
        Ok(principal) => {
            req.extensions_mut().insert(Auth(principal));
            next.run(req).await
        }
        Err(e) => LinktorError(e).into_response(),
    }
}
