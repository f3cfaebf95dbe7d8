//! `/api/v1/webhooks`: G-Tateth webhook subscriptions (create, list, get, update, delete), a test
//! delivery and the delivery log. The payloads and the signature are those of the `gtateth` format
//! (see [`super::webhook_format`]).
//!
//! Decisions (reference §3.6, §3.7; the details G-Tateth leaves open are marked):
//! - Only subscriptions of format `gtateth` exist here: one made through another face (`/v1`,
//!   Airy, …) is 404 `NOT_FOUND` at `/api/v1/webhooks/{id}` and absent from the list.
//! - Create: `name` (1 to 100 characters), `url` (`https://` and a public host, unless the server
//!   runs with `--allow-insecure-webhooks`; at most 2048 characters) and `events` (a non-empty list
//!   of G-Tateth event names, or `*` for all) are required. `headers` is an object of at most 20
//!   string values sent with every delivery (names must be valid HTTP header names, and not
//!   `Content-Type`, `Content-Length`, `Host`, `User-Agent` nor `X-Webhook-Signature`).
//!   `retryPolicy.maxRetries` (0 to 10, default 3) counts the retries after the first attempt (3 =
//!   4 attempts in all); `retryPolicy.backoffStrategy` is `exponential` (default: 2 s, 4 s, 8 s, …)
//!   or `linear` (5 s, 10 s, 15 s, …), capped at an hour. Each attempt must be answered with a 2xx
//!   within 5 s. Every invalid field is named in one 400 `VALIDATION_ERROR` (`name`, `url`,
//!   `events`, `headers.<name>`, `retryPolicy.maxRetries`, `retryPolicy.backoffStrategy`). The 201
//!   answer is the only one holding the `secret` (`whsec_` and 48 hex digits). A new subscription
//!   receives the events committed after its creation.
//! - The list nests as G-Tateth documents for webhooks: `data{webhooks[], total, page, limit,
//!   totalPages}`; the same numbers are also in the face's usual top-level `pagination`. Newest
//!   first; `isActive=true|false` filters; `page`, `limit` (default 20, at most 100).
//! - PUT and PATCH are the same partial update: absent (or `null`) fields stay; `headers` replaces
//!   the object; `retryPolicy` changes the fields it holds. Setting `isActive: true` again resumes
//!   with the events after that moment (what happened while inactive is not delivered). The secret
//!   cannot be read again nor changed here.
//! - `POST /webhooks/{id}/test` sends one signed `test.ping` event now (also to an inactive
//!   subscription), once, without retries, and answers `{success:true, message:"Test webhook event
//!   sent", data:<its log entry>}` whatever the receiver answered (the entry's `status` says).
//! - `GET /webhooks/{id}/logs` (G-Tateth leaves its shape open): `{success, data:[entry],
//!   pagination}`, newest first; an entry is `{_id, webhookId, eventId, event, conversationId,
//!   status: pending|success|failed, attempts, nextAttemptAt (pending only), responseStatus, error,
//!   createdAt, updatedAt}`; filters `status`, `event`, `page`, `limit` (default 20).
//! - Scopes `read:webhooks` (GET) and `write:webhooks` (POST, PUT, PATCH, DELETE).

use super::render::{self, list, not_found, one, page_request, path_id, require, GtError, Json, Pagination, Path};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::faces::params::{json_object, Params};
use crate::faces::webhooks::{check_events, check_url, header_problems, new_secret, send_test};
use crate::AppState;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use confab_core::model::*;
use confab_core::FieldError;
use confab_store::{NewWebhook, Webhook, WebhookDelivery, WebhookFilter, WebhookPatch};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// The format of every subscription of this face.
const FORMAT: &str = "gtateth";
const NAME_MAX: usize = 100;
const URL_MAX: usize = 2048;
const MAX_RETRIES_DEFAULT: i64 = 3;
const MAX_RETRIES_MAX: i64 = 10;
/// G-Tateth: receivers must answer within 5 seconds.
const TIMEOUT_SECS: i64 = 5;
const LIMIT_DEFAULT: u32 = 20;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(get_webhook, update_webhook, patch_webhook, delete_webhook))
        .routes(routes!(test_webhook))
        .routes(routes!(list_webhook_logs))
}

// ------------------------------------------------------------------------------------------------
// Documents.

/// How failed deliveries are retried.
#[derive(Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct RetryPolicy {
    /// Retries after the first attempt, 0 to 10 (default 3).
    pub max_retries: Option<i64>,
    /// `exponential` (default: 2 s, 4 s, 8 s, …) or `linear` (5 s, 10 s, 15 s, …).
    pub backoff_strategy: Option<String>,
}

/// A webhook subscription.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub name: Option<String>,
    pub url: String,
    /// G-Tateth event names, or `*`.
    pub events: Vec<String>,
    /// Sent with every delivery.
    #[schema(value_type = Object)]
    pub headers: JsonMap,
    pub retry_policy: RetryPolicy,
    /// Signs the deliveries (`X-Webhook-Signature`); only in the answer to the creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub is_active: bool,
    pub created_at: String,
    pub updated_at: String,
}

fn webhook_doc(w: Webhook, with_secret: bool) -> WebhookDoc {
    WebhookDoc {
        id: w.id.to_string(),
        name: w.name,
        url: w.url,
        events: w.events,
        headers: w.headers,
        retry_policy: RetryPolicy { max_retries: Some((w.max_retries - 1).max(0)), backoff_strategy: Some(w.backoff) },
        secret: with_secret.then_some(w.secret),
        is_active: w.status == "active",
        created_at: render::iso(w.created_at),
        updated_at: render::iso(w.updated_at),
    }
}

/// `data` of the list: G-Tateth nests webhook lists.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookPage {
    pub webhooks: Vec<WebhookDoc>,
    pub total: u64,
    pub page: u32,
    pub limit: u32,
    pub total_pages: u64,
}

/// `{"success":true,"data":{"webhooks":[…],"total",…},"pagination":{…}}`.
#[derive(Serialize, ToSchema)]
pub struct WebhookListDoc {
    pub success: bool,
    pub data: WebhookPage,
    /// The same numbers as in `data`, as the face's other lists show them.
    pub pagination: Pagination,
}

/// One delivery of one event to a subscription (its log entry).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub webhook_id: String,
    /// The event's id: the `id` of the payload.
    pub event_id: String,
    /// The G-Tateth event name.
    pub event: String,
    pub conversation_id: Option<String>,
    /// `pending` (to be attempted or retried), `success` or `failed` (every attempt spent).
    pub status: &'static str,
    pub attempts: i64,
    /// When the next attempt is due (pending entries only).
    pub next_attempt_at: Option<String>,
    /// The HTTP status of the last answer.
    pub response_status: Option<i64>,
    /// Why the last attempt failed.
    pub error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

fn log_doc(d: WebhookDelivery) -> LogDoc {
    let status = match d.status.as_str() {
        "succeeded" => "success",
        "pending" => "pending",
        _ => "failed",
    };
    LogDoc {
        id: d.id.to_string(),
        webhook_id: d.subscription_id.to_string(),
        event_id: d.event_id.to_string(),
        event: d.event_type,
        conversation_id: d.conversation_id.map(|c| c.to_string()),
        status,
        attempts: d.attempts,
        next_attempt_at: (status == "pending").then(|| render::iso(d.next_attempt_at)),
        response_status: d.last_response_status,
        error: d.last_error,
        created_at: render::iso(d.created_at),
        updated_at: render::iso(d.updated_at),
    }
}

/// The answer of the test endpoint.
#[derive(Serialize, ToSchema)]
pub struct TestDoc {
    pub success: bool,
    /// `Test webhook event sent`.
    pub message: String,
    pub data: LogDoc,
}

// ------------------------------------------------------------------------------------------------
// Requests and their checks.

/// Request body of `POST /api/v1/webhooks`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateWebhook {
    /// Required, 1 to 100 characters.
    pub name: Option<String>,
    /// Required; `https://` and a public host.
    pub url: Option<String>,
    /// Required: G-Tateth event names (`conversation.created`, …) or `*`.
    pub events: Option<Vec<String>>,
    /// String values sent with every delivery.
    #[schema(value_type = Object)]
    pub headers: Option<JsonMap>,
    pub retry_policy: Option<RetryPolicy>,
}

/// Request body of `PUT`/`PATCH /api/v1/webhooks/{id}`: absent fields stay.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateWebhook {
    pub name: Option<String>,
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub is_active: Option<bool>,
    /// Replaces the headers (`{}` removes them all).
    #[schema(value_type = Object)]
    pub headers: Option<JsonMap>,
    /// Changes the fields it holds.
    pub retry_policy: Option<RetryPolicy>,
}

/// The problems of a body, reported together.
#[derive(Default)]
struct Problems(Vec<FieldError>);

impl Problems {
    fn push(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    /// Takes the field errors of a shared check (whatever its code: here they are all
    /// `VALIDATION_ERROR`).
    fn add(&mut self, e: ApiError) {
        self.0.extend(e.details);
    }

    fn name(&mut self, raw: String) -> Option<String> {
        let v = raw.trim().to_string();
        if v.is_empty() {
            self.push("name", "must not be empty");
            None
        } else if v.chars().count() > NAME_MAX {
            self.push("name", format!("must be at most {NAME_MAX} characters"));
            None
        } else {
            Some(v)
        }
    }

    fn url(&mut self, s: &AppState, raw: String) -> Option<String> {
        let v = raw.trim().to_string();
        if v.is_empty() {
            self.push("url", "must not be empty");
            return None;
        }
        if v.chars().count() > URL_MAX {
            self.push("url", format!("must be at most {URL_MAX} characters"));
            return None;
        }
        match check_url(s, "url", &v) {
            Ok(()) => Some(v),
            Err(e) => {
                self.add(e);
                None
            }
        }
    }

    fn events(&mut self, s: &AppState, raw: Vec<String>) -> Option<Vec<String>> {
        let mut events: Vec<String> = Vec::with_capacity(raw.len());
        for e in raw.into_iter().map(|e| e.trim().to_string()) {
            if !events.contains(&e) {
                events.push(e);
            }
        }
        let Some(format) = s.webhooks.formats().get(FORMAT) else {
            self.push("events", "the gtateth webhook format is not available");
            return None;
        };
        match check_events(format, "events", &events, false) {
            Ok(()) => Some(events),
            Err(e) => {
                self.add(e);
                None
            }
        }
    }

    fn headers(&mut self, raw: JsonMap) -> Option<JsonMap> {
        let map = match json_object("headers", Some(raw)) {
            Ok(m) => m.unwrap_or_default(),
            Err(e) => {
                self.add(e);
                return None;
            }
        };
        let problems = header_problems(&map);
        let ok = problems.is_empty();
        self.0.extend(problems);
        ok.then_some(map)
    }

    /// The attempts in all (retries + 1) and the backoff a retry policy sets (`None`: unchanged).
    fn retry_policy(&mut self, p: RetryPolicy) -> (Option<i64>, Option<String>) {
        let attempts = match p.max_retries {
            None => None,
            Some(n) if (0..=MAX_RETRIES_MAX).contains(&n) => Some(n + 1),
            Some(_) => {
                self.push("retryPolicy.maxRetries", format!("must be from 0 to {MAX_RETRIES_MAX}"));
                None
            }
        };
        let backoff = match p.backoff_strategy.as_deref().map(str::trim) {
            None => None,
            Some(b @ ("linear" | "exponential")) => Some(b.to_string()),
            Some(_) => {
                self.push("retryPolicy.backoffStrategy", "must be one of: linear, exponential");
                None
            }
        };
        (attempts, backoff)
    }

    fn finish(self) -> Result<(), GtError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid_fields(self.0).into())
        }
    }
}

/// A subscription of this face (`gtateth` format); any other is 404.
async fn load(s: &AppState, ctx: &Ctx, raw: &str) -> Result<Webhook, GtError> {
    let id: Uuid = path_id(raw, "webhook")?;
    match s.store.get_webhook(ctx, id).await {
        Ok(w) if w.format == FORMAT => Ok(w),
        Ok(_) | Err(confab_core::Error::NotFound { .. }) => Err(not_found("webhook", None)),
        Err(e) => Err(e.into()),
    }
}

// ------------------------------------------------------------------------------------------------
// Handlers.

/// List webhook subscriptions (without their secrets).
#[utoipa::path(get, path = "/webhooks", tag = "gtateth",
    params(
        ("isActive" = Option<bool>, Query, description = "true or false"),
        ("page" = Option<u32>, Query, description = "Page number, from 1"),
        ("limit" = Option<u32>, Query, description = "Items per page (default 20, max 100)"),
    ),
    responses((status = 200, body = WebhookListDoc), (status = 400, body = render::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn list_webhooks(State(s): State<AppState>, auth: Auth, RawQuery(q): RawQuery) -> Result<Response, GtError> {
    let ctx = require(&auth, ScopeResource::Webhooks, Access::Read)?;
    let mut p = Params::from_query(q.as_deref());
    let page = page_request(&mut p, LIMIT_DEFAULT);
    let active = p.one_of(
        "isActive",
        |v| match v {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        "true, false",
    );
    p.finish()?;
    let filter = WebhookFilter { format: Some(FORMAT.into()), active };
    let hooks = s.store.list_webhooks(&ctx, &filter, page).await?;
    let total = hooks.total;
    let total_pages = total.div_ceil(u64::from(page.per_page));
    let webhooks = hooks.items.into_iter().map(|w| webhook_doc(w, false)).collect();
    let doc = WebhookListDoc {
        success: true,
        data: WebhookPage { webhooks, total, page: page.page, limit: page.per_page, total_pages },
        pagination: Pagination { total, page: page.page, limit: page.per_page, total_pages },
    };
    Ok((StatusCode::OK, axum::Json(doc)).into_response())
}

/// Create a webhook subscription; the answer holds its secret, shown this once.
#[utoipa::path(post, path = "/webhooks", tag = "gtateth", request_body = CreateWebhook,
    responses((status = 201, body = render::Doc<WebhookDoc>), (status = 400, body = render::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn create_webhook(
    State(s): State<AppState>,
    auth: Auth,
    Json(body): Json<CreateWebhook>,
) -> Result<Response, GtError> {
    let ctx = require(&auth, ScopeResource::Webhooks, Access::Write)?;
    let mut problems = Problems::default();
    let name = match body.name {
        Some(n) if !n.trim().is_empty() => problems.name(n),
        _ => {
            problems.push("name", "is required");
            None
        }
    };
    let url = match body.url {
        Some(u) if !u.trim().is_empty() => problems.url(&s, u),
        _ => {
            problems.push("url", "is required");
            None
        }
    };
    let events = match body.events {
        Some(e) => problems.events(&s, e),
        None => {
            problems.push("events", "is required");
            None
        }
    };
    let headers = body.headers.map(|h| problems.headers(h)).unwrap_or_default();
    let (attempts, backoff) = problems.retry_policy(body.retry_policy.unwrap_or_default());
    problems.finish()?;
    let new = NewWebhook {
        url: url.unwrap_or_default(),
        events: events.unwrap_or_default(),
        description: None,
        name,
        headers: headers.unwrap_or_default(),
        secret: new_secret(),
        max_retries: attempts.unwrap_or(MAX_RETRIES_DEFAULT + 1),
        timeout_secs: TIMEOUT_SECS,
        backoff: backoff.unwrap_or_else(|| "exponential".into()),
        format: FORMAT.into(),
    };
    let hook = s.store.create_webhook(&ctx, new).await?;
    Ok(one(StatusCode::CREATED, webhook_doc(hook, true)))
}

/// Get a webhook subscription (without its secret).
#[utoipa::path(get, path = "/webhooks/{id}", tag = "gtateth", params(("id" = String, Path)),
    responses((status = 200, body = render::Doc<WebhookDoc>), (status = 404, body = render::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn get_webhook(State(s): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<Response, GtError> {
    let ctx = require(&auth, ScopeResource::Webhooks, Access::Read)?;
    let hook = load(&s, &ctx, &id).await?;
    Ok(one(StatusCode::OK, webhook_doc(hook, false)))
}

/// Update a webhook subscription (partial).
#[utoipa::path(put, path = "/webhooks/{id}", tag = "gtateth", params(("id" = String, Path)),
    request_body = UpdateWebhook,
    responses(
        (status = 200, body = render::Doc<WebhookDoc>),
        (status = 400, body = render::ErrorDoc),
        (status = 404, body = render::ErrorDoc),
    ),
    security(("bearer" = []), ("api_key" = [])))]
async fn update_webhook(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(body): Json<UpdateWebhook>,
) -> Result<Response, GtError> {
    apply_update(s, auth, id, body).await
}

/// Update a webhook subscription (partial; the same as PUT).
#[utoipa::path(patch, path = "/webhooks/{id}", tag = "gtateth", params(("id" = String, Path)),
    request_body = UpdateWebhook,
    responses(
        (status = 200, body = render::Doc<WebhookDoc>),
        (status = 400, body = render::ErrorDoc),
        (status = 404, body = render::ErrorDoc),
    ),
    security(("bearer" = []), ("api_key" = [])))]
async fn patch_webhook(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(body): Json<UpdateWebhook>,
) -> Result<Response, GtError> {
    apply_update(s, auth, id, body).await
}

async fn apply_update(s: AppState, auth: Auth, id: String, body: UpdateWebhook) -> Result<Response, GtError> {
    let ctx = require(&auth, ScopeResource::Webhooks, Access::Write)?;
    let current = load(&s, &ctx, &id).await?;
    let mut problems = Problems::default();
    let name = body.name.and_then(|n| problems.name(n));
    let url = body.url.and_then(|u| problems.url(&s, u));
    let events = body.events.and_then(|e| problems.events(&s, e));
    let headers = body.headers.and_then(|h| problems.headers(h));
    let (attempts, backoff) = match body.retry_policy {
        Some(p) => problems.retry_policy(p),
        None => (None, None),
    };
    problems.finish()?;
    let patch = WebhookPatch {
        url,
        events,
        name: name.map(Some),
        headers,
        status: body.is_active.map(|a| if a { "active" } else { "inactive" }.to_string()),
        max_retries: attempts,
        backoff,
        ..WebhookPatch::default()
    };
    let hook = s.store.update_webhook(&ctx, current.id, patch).await.map_err(|e| match e {
        confab_core::Error::NotFound { .. } => not_found("webhook", None),
        e => e.into(),
    })?;
    Ok(one(StatusCode::OK, webhook_doc(hook, false)))
}

/// Delete a webhook subscription and its delivery log.
#[utoipa::path(delete, path = "/webhooks/{id}", tag = "gtateth", params(("id" = String, Path)),
    responses((status = 200, body = render::MessageDoc), (status = 404, body = render::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn delete_webhook(State(s): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<Response, GtError> {
    let ctx = require(&auth, ScopeResource::Webhooks, Access::Write)?;
    let hook = load(&s, &ctx, &id).await?;
    s.store.delete_webhook(&ctx, hook.id).await.map_err(|e| match e {
        confab_core::Error::NotFound { .. } => not_found("webhook", None),
        e => e.into(),
    })?;
    Ok(render::message("Webhook deleted"))
}

/// Send a signed `test.ping` event to the subscription now (once, no retries).
#[utoipa::path(post, path = "/webhooks/{id}/test", tag = "gtateth", params(("id" = String, Path)),
    responses((status = 200, body = TestDoc), (status = 404, body = render::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn test_webhook(State(s): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<Response, GtError> {
    let ctx = require(&auth, ScopeResource::Webhooks, Access::Write)?;
    let hook = load(&s, &ctx, &id).await?;
    let delivery = send_test(&s, &ctx, &hook, EventType::TestPing).await?;
    let doc = TestDoc { success: true, message: "Test webhook event sent".into(), data: log_doc(delivery) };
    Ok((StatusCode::OK, axum::Json(doc)).into_response())
}

/// A subscription's delivery log, newest first.
#[utoipa::path(get, path = "/webhooks/{id}/logs", tag = "gtateth",
    params(
        ("id" = String, Path),
        ("status" = Option<String>, Query, description = "pending, success or failed"),
        ("event" = Option<String>, Query, description = "A G-Tateth event name"),
        ("page" = Option<u32>, Query, description = "Page number, from 1"),
        ("limit" = Option<u32>, Query, description = "Items per page (default 20, max 100)"),
    ),
    responses(
        (status = 200, body = render::ListDoc<LogDoc>),
        (status = 400, body = render::ErrorDoc),
        (status = 404, body = render::ErrorDoc),
    ),
    security(("bearer" = []), ("api_key" = [])))]
async fn list_webhook_logs(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, GtError> {
    let ctx = require(&auth, ScopeResource::Webhooks, Access::Read)?;
    let mut p = Params::from_query(q.as_deref());
    let page = page_request(&mut p, LIMIT_DEFAULT);
    let status = p.one_of(
        "status",
        |v| match v {
            "pending" => Some("pending"),
            "success" => Some("succeeded"),
            "failed" => Some("failed"),
            _ => None,
        },
        "pending, success, failed",
    );
    let event = p.str("event");
    p.finish()?;
    let hook = load(&s, &ctx, &id).await?;
    let log = s.store.list_webhook_deliveries(&ctx, hook.id, status.map(str::to_string), event, page).await?;
    Ok(list(log.items.into_iter().map(log_doc).collect(), page, log.total))
}
