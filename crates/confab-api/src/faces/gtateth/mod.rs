//! The G-Tateth helpdesk face (seed 003), mounted at `/api/v1`: `{"success":true,"data":…}`
//! envelopes (lists add `pagination{total,page,limit,totalPages}`, deletes answer
//! `{"success":true,"message":…}`), `_id` for ids (lowercase UUIDs), camelCase, ISO 8601 UTC times,
//! `page`/`limit` pagination (above the maximum is 400).
//!
//! Auth: `Authorization: Bearer <key>` or `X-API-Key: <key>`. Errors are
//! `{"success":false,"error":{code,message,details,requestId,timestamp}}`, `details` an object
//! naming each field at fault (`{"inboxId":"no inbox with this id exists"}`):
//!
//! | situation | status | code |
//! |---|---|---|
//! | no credentials | 401 | `AUTH_REQUIRED` |
//! | unknown or revoked key | 401 | `API_KEY_INVALID` |
//! | missing scope (`details.requiredPermission`, e.g. `write:conversations`) | 403 | `INSUFFICIENT_PERMISSIONS` |
//! | invalid field or parameter, `limit` above 100 | 400 | `VALIDATION_ERROR` |
//! | unknown id (path or `inboxId`/`customerId`/`assignedTo`, named in `details`), or one that does not parse | 404 | `NOT_FOUND` |
//! | email or phone of another customer | 409 | `CUSTOMER_EXISTS` |
//! | inbox name taken / inbox still has conversations | 409 | `INBOX_EXISTS` / `INBOX_NOT_EMPTY` |
//! | `Idempotency-Key` in use / reused with another body | 409 / 422 | `IDEMPOTENCY_KEY_IN_USE` / `IDEMPOTENCY_KEY_REUSED` |
//! | body over 1 MiB | 413 | `PAYLOAD_TOO_LARGE` |
//!
//! Scopes: `read:conversations` for GET and `write:conversations` for POST/PUT/DELETE of
//! conversations; customers need the contacts scopes (`read:customers`/`write:customers` are
//! aliases), inboxes the channels scopes (`read:inboxes`/`write:inboxes` are aliases), webhooks
//! `read:webhooks`/`write:webhooks` (see [`webhooks`]); `admin` implies every scope. `GET /api/v1/health` answers `{"status":"ok"}` without auth. POSTs honour
//! `Idempotency-Key` (see [`crate::idempotency`]).
//!
//! Mapping tables (core ↔ G-Tateth):
//!
//! | core status | G-Tateth status | G-Tateth status written | core status set |
//! |---|---|---|---|
//! | open | `open` | `open` | open (a reopen when closed) |
//! | pending | `pending` | `pending` | pending (a snoozed conversation stays snoozed) |
//! | snoozed | `pending` | — | — |
//! | closed | `closed` | `closed` | closed (the core close) |
//!
//! `status=pending` in the list matches pending and snoozed conversations.
//!
//! | core priority | G-Tateth priority |
//! |---|---|
//! | low | `low` |
//! | normal | `medium` |
//! | high | `high` |
//! | urgent | `urgent` |
//!
//! | G-Tateth channel | stored channel type (Confab) |
//! |---|---|
//! | `email` | email |
//! | `chat` | webchat |
//! | `phone` | voice |
//! | `whatsapp` | whatsapp |
//! | any other Confab channel type (`sms`, `telegram`, …) | itself |
//!
//! A G-Tateth conversation has no Confab channel: its `channel` is the stored channel type (DESIGN:
//! an inbox is not a channel), and /v1 and Airy show `channel: null` for it.

pub mod conversations;
pub mod customers;
pub mod inboxes;
pub mod render;
pub mod webhook_format;
pub mod webhooks;

use crate::auth::Auth;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
pub use render::GtError;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Every /api/v1 route, without the auth layer (for the OpenAPI document).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .merge(conversations::routes())
        .merge(customers::routes())
        .merge(inboxes::routes())
        .merge(webhooks::routes())
}

/// The /api/v1 router: every route but `/health` behind the key check, unknown paths 404 in the
/// envelope.
pub fn router(state: AppState) -> OpenApiRouter<AppState> {
    routes()
        .fallback(|| async {
            GtError(ApiError::new(axum::http::StatusCode::NOT_FOUND, "NOT_FOUND", "No such endpoint."))
        })
        // Layers run outside-in from the last: auth first, then idempotency (which needs the key).
        .layer(axum::middleware::from_fn_with_state(state.clone(), idempotency))
        .layer(axum::middleware::from_fn_with_state(state, authenticate))
}

/// `{"status":"ok"}`.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: &'static str,
}

/// Health check (no auth).
#[utoipa::path(get, path = "/health", tag = "gtateth", responses((status = 200, body = Health)))]
async fn health() -> axum::Json<Health> {
    axum::Json(Health { status: "ok" })
}

fn is_health(req: &Request) -> bool {
    req.method() == axum::http::Method::GET && matches!(req.uri().path(), "/health" | "/api/v1/health")
}

async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if is_health(&req) {
        return next.run(req).await;
    }
    let Some(key) = crate::faces::linktor::presented_key(req.headers()) else {
        return GtError(ApiError::auth_required()).into_response();
    };
    match state.keys.resolve(&state.store, &key).await {
        Ok(principal) => {
            req.extensions_mut().insert(Auth(principal));
            next.run(req).await
        }
        Err(e) => GtError(e).into_response(),
    }
}

/// `Idempotency-Key` on POSTs, with errors in this face's envelope.
async fn idempotency(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(api_key) = req.extensions().get::<Auth>().map(|a| a.0.key_id) else {
        return next.run(req).await;
    };
    match crate::idempotency::guard(&state.store, api_key, req, next).await {
        Ok(response) => response,
        Err(e) => GtError(e).into_response(),
    }
}
