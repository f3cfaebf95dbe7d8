//! `webhooks.subscribe`, `webhooks.update`, `webhooks.unsubscribe`, `webhooks.list`,
//! `webhooks.info` (Airy Core `docs/api/webhook.md`, `WebhooksController.java`): the organisation's
//! subscriptions of the `airy` format. What they receive is in [`super::webhook_format`].
//!
//! A subscription is shown as `{id, name, url, events, headers, status}`, nulls omitted (Airy's
//! docs show each of `name`, `events`, `headers` as optional): `name` when it has one, `events`
//! unless it receives every event, `headers` when it has some, `status` `Subscribed` (active) or
//! `Unsubscribed` (inactive). The signature key is never shown.
//!
//! Decisions:
//! - Scope `webhooks:write` for subscribe, update and unsubscribe, `webhooks:read` for list and
//!   info (403, empty, without it, as every Airy auth failure).
//! - Only subscriptions of the `airy` format exist here: one made at /v1 with another format is 404
//!   (empty) to `webhooks.info`, `.update`, `.unsubscribe`, and missing from `webhooks.list`.
//! - `webhooks.subscribe` `{url, id?, name?, events?, headers?, signature_key?}` answers 200. With
//!   the `id` of an existing subscription it replaces it whole, as Airy does (an absent `name`,
//!   `headers` or `signature_key` clears it, absent `events` is every event) and makes it active
//!   again; otherwise it creates one. Confab draws the id of a new subscription: an `id` that names
//!   no subscription is not taken over (the answer carries the new id).
//! - `webhooks.update` `{id, url?, name?, events?, headers?, signature_key?, status?}` changes only
//!   what is given (Airy's code resets `events` and `headers` when they are absent; its docs say
//!   "update the parameters", which is what is done here). `events: []` is every event, `status`
//!   `Subscribed` or `Unsubscribed` (Airy's code reads it too).
//! - `webhooks.unsubscribe` `{id}` makes it inactive (answering it with status `Unsubscribed`); it
//!   is kept and can be subscribed again by id. An inactive subscription resumes, when active
//!   again, with the events after that moment.
//! - `webhooks.list` is `{"data": [...]}`, every `airy` subscription, oldest first.
//! - Validation: `url` is required, an `https` URL with a public host (400 naming `url`; `http` and
//!   private hosts too when the server runs with `--allow-insecure-webhooks`); `events` lists Airy's
//!   names (`message.created`, `message.updated`, `conversation.updated`, `channel.updated`, or
//!   `*`), 400 naming `events` otherwise; `headers` is an object of strings (400 naming `headers`);
//!   `id` is a UUID (400 naming `id`). `signature_key` becomes the subscription's secret; absent
//!   or empty, deliveries are unsigned (no `X-Airy-Content-Signature`).
//! - Deliveries: 5 attempts in all, 30 s each, waits of the server's retry schedule (Airy leaves
//!   retries to its queue and documents none).

use super::render::DataList;
use super::{required_id, AiryAuth, AiryError, Body, ErrorMessage};
use crate::error::ApiError;
use crate::faces::params::{json_object, text};
use crate::faces::webhooks::{check_events, check_url};
use crate::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use confab_core::model::*;
use confab_core::Error;
use confab_store::{NewWebhook, Webhook, WebhookFilter, WebhookPatch};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// The format of the subscriptions this face manages.
const FORMAT: &str = "airy";
/// Attempts in all per delivery.
const MAX_ATTEMPTS: i64 = 5;
const TIMEOUT_SECS: i64 = 30;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(subscribe))
        .routes(routes!(update))
        .routes(routes!(unsubscribe))
        .routes(routes!(list))
        .routes(routes!(info))
}

/// A subscription as Airy shows it (nulls omitted).
#[derive(Serialize, ToSchema)]
pub struct WebhookJson {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub url: String,
    /// Absent when every event is sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub headers: Option<JsonMap>,
    /// `Subscribed` or `Unsubscribed`.
    pub status: &'static str,
}

fn webhook_json(w: Webhook) -> WebhookJson {
    let all = w.events.is_empty() || w.events.iter().any(|e| e == "*");
    WebhookJson {
        id: w.id.to_string(),
        name: w.name,
        url: w.url,
        events: (!all).then_some(w.events),
        headers: (!w.headers.is_empty()).then_some(w.headers),
        status: if w.status == "active" { "Subscribed" } else { "Unsubscribed" },
    }
}

/// `webhooks.subscribe`.
#[derive(Deserialize, ToSchema)]
pub struct SubscribeRequest {
    /// The receiver (required).
    pub url: Option<String>,
    /// An existing subscription to replace.
    pub id: Option<String>,
    pub name: Option<String>,
    /// Airy event names; absent or empty for every event.
    pub events: Option<Vec<String>>,
    /// HTTP headers sent with every delivery.
    #[schema(value_type = Option<Object>)]
    pub headers: Option<JsonMap>,
    /// Signs deliveries (`X-Airy-Content-Signature`, hex HMAC-SHA256 of the body).
    pub signature_key: Option<String>,
}

/// `webhooks.update`: absent fields are left as they are.
#[derive(Deserialize, ToSchema)]
pub struct UpdateRequest {
    /// The subscription (required).
    pub id: Option<String>,
    pub url: Option<String>,
    pub name: Option<String>,
    pub events: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    pub headers: Option<JsonMap>,
    pub signature_key: Option<String>,
    /// `Subscribed` or `Unsubscribed`.
    pub status: Option<String>,
}

/// `webhooks.unsubscribe`, `webhooks.info`.
#[derive(Deserialize, ToSchema)]
pub struct IdRequest {
    /// The subscription (required).
    pub id: Option<String>,
}

fn url(s: &AppState, raw: Option<String>) -> Result<Option<String>, AiryError> {
    let Some(url) = text("url", raw, 2000)? else { return Ok(None) };
    check_url(s, "url", &url)?;
    Ok(Some(url))
}

fn events(s: &AppState, raw: Vec<String>) -> Result<Vec<String>, AiryError> {
    let format =
        s.webhooks.formats().get(FORMAT).ok_or_else(|| {
            AiryError::from(ApiError::from(Error::internal("the airy webhook format is not registered")))
        })?;
    check_events(format, "events", &raw, true)?;
    Ok(if raw.is_empty() { vec!["*".to_string()] } else { raw })
}

fn headers(raw: Option<JsonMap>) -> Result<Option<JsonMap>, AiryError> {
    let headers = json_object("headers", raw)?;
    let problems = headers.as_ref().map(crate::faces::webhooks::header_problems).unwrap_or_default();
    if !problems.is_empty() {
        return Err(confab_core::Error::Validation(problems).into());
    }
    Ok(headers)
}

fn signature_key(raw: Option<String>) -> Result<Option<String>, AiryError> {
    match raw {
        Some(k) if k.chars().count() > 1000 => {
            Err(AiryError::invalid("signature_key", "must be at most 1000 characters"))
        }
        other => Ok(other),
    }
}

/// The `airy` subscription `id` of the key's organisation, or 404.
async fn find(s: &AppState, ctx: &Ctx, id: Uuid) -> Result<Webhook, AiryError> {
    let w = s.store.get_webhook(ctx, id).await?;
    if w.format != FORMAT {
        return Err(AiryError::not_found());
    }
    Ok(w)
}

fn answer(w: Webhook) -> Response {
    axum::Json(webhook_json(w)).into_response()
}

/// Subscribe a receiver (or replace the subscription `id`).
#[utoipa::path(post, path = "/webhooks.subscribe", tag = "airy", request_body = SubscribeRequest,
    responses((status = 200, body = WebhookJson), (status = 400, body = ErrorMessage), (status = 403)),
    security(("bearer" = []), ("airy_cookie" = [])))]
async fn subscribe(State(s): State<AppState>, auth: AiryAuth, body: Body) -> Result<Response, AiryError> {
    let ctx = auth.require(ScopeResource::Webhooks, Access::Write)?;
    let req: SubscribeRequest = body.parse()?;
    let existing = match req.id.as_deref() {
        None => None,
        Some(raw) => Some(required_id("id", Some(raw))?),
    };
    let url = url(&s, req.url)?.ok_or_else(|| AiryError::invalid("url", "is required"))?;
    let name = text("name", req.name, 200)?;
    let events = events(&s, req.events.unwrap_or_default())?;
    let headers = headers(req.headers)?.unwrap_or_default();
    let secret = signature_key(req.signature_key)?.unwrap_or_default();
    if let Some(id) = existing {
        match find(&s, &ctx, id).await {
            Ok(_) => {
                let patch = WebhookPatch {
                    url: Some(url),
                    events: Some(events),
                    name: Some(name),
                    headers: Some(headers),
                    secret: Some(secret),
                    status: Some("active".into()),
                    ..WebhookPatch::default()
                };
                return Ok(answer(s.store.update_webhook(&ctx, id, patch).await?));
            }
            Err(AiryError::Empty(status)) if status == axum::http::StatusCode::NOT_FOUND => {}
            Err(e) => return Err(e),
        }
    }
    let new = NewWebhook {
        url,
        events,
        description: None,
        name,
        headers,
        secret,
        max_retries: MAX_ATTEMPTS,
        timeout_secs: TIMEOUT_SECS,
        backoff: "schedule".into(),
        format: FORMAT.into(),
    };
    Ok(answer(s.store.create_webhook(&ctx, new).await?))
}

/// Change a subscription.
#[utoipa::path(post, path = "/webhooks.update", tag = "airy", request_body = UpdateRequest,
    responses((status = 200, body = WebhookJson), (status = 400, body = ErrorMessage), (status = 403), (status = 404, description = "No such subscription (empty body)")),
    security(("bearer" = []), ("airy_cookie" = [])))]
async fn update(State(s): State<AppState>, auth: AiryAuth, body: Body) -> Result<Response, AiryError> {
    let ctx = auth.require(ScopeResource::Webhooks, Access::Write)?;
    let req: UpdateRequest = body.parse()?;
    let id = required_id("id", req.id.as_deref())?;
    let status = match req.status.as_deref().map(str::trim) {
        None => None,
        Some(st) if st.eq_ignore_ascii_case("subscribed") => Some("active".to_string()),
        Some(st) if st.eq_ignore_ascii_case("unsubscribed") => Some("inactive".to_string()),
        Some(_) => return Err(AiryError::invalid("status", "must be Subscribed or Unsubscribed")),
    };
    let patch = WebhookPatch {
        url: url(&s, req.url)?,
        events: req.events.map(|e| events(&s, e)).transpose()?,
        name: text("name", req.name, 200)?.map(Some),
        headers: headers(req.headers)?,
        secret: signature_key(req.signature_key)?,
        status,
        ..WebhookPatch::default()
    };
    find(&s, &ctx, id).await?;
    Ok(answer(s.store.update_webhook(&ctx, id, patch).await?))
}

/// Stop deliveries to a subscription (it is kept, `Unsubscribed`).
#[utoipa::path(post, path = "/webhooks.unsubscribe", tag = "airy", request_body = IdRequest,
    responses((status = 200, body = WebhookJson), (status = 400, body = ErrorMessage), (status = 403), (status = 404, description = "No such subscription (empty body)")),
    security(("bearer" = []), ("airy_cookie" = [])))]
async fn unsubscribe(State(s): State<AppState>, auth: AiryAuth, body: Body) -> Result<Response, AiryError> {
    let ctx = auth.require(ScopeResource::Webhooks, Access::Write)?;
    let req: IdRequest = body.parse()?;
    let id = required_id("id", req.id.as_deref())?;
    let current = find(&s, &ctx, id).await?;
    if current.status != "active" {
        return Ok(answer(current));
    }
    let patch = WebhookPatch { status: Some("inactive".into()), ..WebhookPatch::default() };
    Ok(answer(s.store.update_webhook(&ctx, id, patch).await?))
}

/// Every `airy` subscription of the organisation.
#[utoipa::path(post, path = "/webhooks.list", tag = "airy",
    responses((status = 200, body = DataList<WebhookJson>), (status = 403)),
    security(("bearer" = []), ("airy_cookie" = [])))]
async fn list(State(s): State<AppState>, auth: AiryAuth, body: Body) -> Result<Response, AiryError> {
    let ctx = auth.require(ScopeResource::Webhooks, Access::Read)?;
    body.parse::<serde_json::Value>()?;
    // Airy's list has no paging: every subscription of the format, oldest first, a page at a time.
    let filter = WebhookFilter { format: Some(FORMAT.into()), active: None };
    let mut data = Vec::new();
    let mut page = PageRequest { page: 1, per_page: 100 };
    loop {
        let got = s.store.list_webhooks(&ctx, &filter, page).await?;
        let n = got.items.len();
        data.extend(got.items);
        if n < page.per_page as usize || page.offset() + n as u64 >= got.total {
            break;
        }
        page.page += 1;
    }
    data.reverse();
    Ok(axum::Json(DataList { data: data.into_iter().map(webhook_json).collect() }).into_response())
}

/// One subscription.
#[utoipa::path(post, path = "/webhooks.info", tag = "airy", request_body = IdRequest,
    responses((status = 200, body = WebhookJson), (status = 400, body = ErrorMessage), (status = 403), (status = 404, description = "No such subscription (empty body)")),
    security(("bearer" = []), ("airy_cookie" = [])))]
async fn info(State(s): State<AppState>, auth: AiryAuth, body: Body) -> Result<Response, AiryError> {
    let ctx = auth.require(ScopeResource::Webhooks, Access::Read)?;
    let req: IdRequest = body.parse()?;
    let id = required_id("id", req.id.as_deref())?;
    Ok(answer(find(&s, &ctx, id).await?))
}
