//! `/v1/webhooks`: create, list, get, PATCH, delete, test, the delivery log and manual retries.
//!
//! Decisions: `url` must be `https://` with a host that is not `localhost` nor a loopback, private,
//! link-local or unspecified IP literal (400 `INVALID_URL` naming `url`) unless the server runs
//! with `--allow-insecure-webhooks`; `events` is a non-empty list of known event types or `*` (400
//! `INVALID_EVENTS` naming `events`); `config.maxRetries` (1 to 10, default 5) counts every attempt,
//! the first one included (Linktor's five: one immediate and four retries), and `config.timeout`
//! (seconds, 1 to 60, default 30) bounds each attempt; `config.retryPolicy` is accepted and ignored
//! (the wait between attempts is the server-wide schedule). `format` is `linktor` (default),
//! `airy`, `protocol` or `gtateth`: the payload shape, signature scheme and event names of that
//! platform (Protocol has no subscription API of its own, so Protocol subscriptions are made here);
//! `events` are checked against the format's names. The secret (`whsec_` and 48 hex digits) is in
//! the 201 answer only. A new subscription receives the events committed after it was created; one
//! set `inactive` then `active` again resumes after the newest event.
//!
//! `headers` (at most 20, values at most 1000 characters) are sent with every delivery; a header
//! Confab sets itself (`Content-Type`, the signature headers, `X-Confab-Event-Id`, …) or an invalid
//! name or value is 400 naming `headers.<name>` (`faces::webhooks::header_problems`, shared by the
//! faces).
//!
//! PATCH takes `status` (Linktor's documented field) and also `url`, `events`, `description`,
//! `headers` and `config`, validated as at creation. `POST …/test` `{event?}` (default `test.ping`;
//! any event name of the format) sends one signed delivery now with an empty `attributes`,
//! records it in the delivery log and answers it (201) whatever the receiver said: its `status` is
//! `succeeded` or `failed`. `POST …/deliveries/{deliveryId}/retry` makes a `failed` (or
//! `succeeded`) delivery pending again with a fresh round of attempts (202); a pending one is 409
//! `DELIVERY_PENDING`; a test delivery is not retried (send a new test).

use super::envelope::{self, iso, page_request, Resource};
use super::extract::Path;
use super::extract::{no_content, Json, LinktorError};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::faces::params::{json_object, text, Params};
use crate::faces::webhooks::{check_events, check_url, event_type_named, header_problems, new_secret, send_test};
use crate::AppState;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use confab_core::model::*;
use confab_core::{Error, Resource as R};
use confab_store::{NewWebhook, Webhook, WebhookDelivery, WebhookFilter, WebhookPatch};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(get_webhook, update_webhook, delete_webhook))
        .routes(routes!(list_deliveries))
        .routes(routes!(test_webhook))
        .routes(routes!(retry_delivery))
}

/// A webhook subscription's attributes (`secret` only in the answer to its creation).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookAttributes {
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    #[schema(value_type = Object)]
    pub headers: JsonMap,
    /// active or inactive.
    pub status: String,
    pub format: String,
    pub config: WebhookConfigDoc,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// Retry and timeout settings of a subscription.
#[derive(Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct WebhookConfigDoc {
    pub retry_policy: Option<String>,
    pub max_retries: Option<i64>,
    pub timeout: Option<i64>,
}

fn resource(w: Webhook, with_secret: bool) -> Resource<WebhookAttributes> {
    Resource::new(
        "webhook",
        w.id,
        WebhookAttributes {
            url: w.url,
            events: w.events,
            description: w.description,
            headers: w.headers,
            status: w.status,
            format: w.format,
            config: WebhookConfigDoc {
                retry_policy: Some("exponential".into()),
                max_retries: Some(w.max_retries),
                timeout: Some(w.timeout_secs),
            },
            secret: with_secret.then_some(w.secret),
            created_at: iso(w.created_at),
            updated_at: iso(w.updated_at),
        },
    )
}

/// A delivery's attributes.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryAttributes {
    pub webhook_id: String,
    pub event_id: String,
    pub event: String,
    pub conversation_id: Option<String>,
    /// pending, succeeded or failed.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Option<String>,
    pub response_status: Option<i64>,
    pub error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

fn delivery(d: WebhookDelivery) -> Resource<DeliveryAttributes> {
    let pending = d.status == "pending";
    Resource::new(
        "webhook_delivery",
        d.id,
        DeliveryAttributes {
            webhook_id: d.subscription_id.to_string(),
            event_id: d.event_id.to_string(),
            event: d.event_type,
            conversation_id: d.conversation_id.map(|c| c.to_string()),
            status: d.status,
            attempts: d.attempts,
            next_attempt_at: pending.then(|| iso(d.next_attempt_at)),
            response_status: d.last_response_status,
            error: d.last_error,
            created_at: iso(d.created_at),
            updated_at: iso(d.updated_at),
        },
    )
}

fn webhook_id(raw: &str) -> Result<Uuid, LinktorError> {
    raw.parse().map_err(|_| Error::not_found(R::Webhook).into())
}

/// Request body of `POST /v1/webhooks`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateWebhook {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    #[schema(value_type = Object)]
    pub headers: Option<JsonMap>,
    pub config: Option<WebhookConfigDoc>,
    /// linktor (default).
    pub format: Option<String>,
}

/// Request body of `PATCH /v1/webhooks/{id}` (every field optional).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateWebhook {
    /// active or inactive.
    pub status: Option<String>,
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    #[schema(value_type = Object)]
    pub headers: Option<JsonMap>,
    pub config: Option<WebhookConfigDoc>,
}

/// Request body of `POST /v1/webhooks/{id}/test`.
#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct TestWebhook {
    /// An event name of the subscription's format (default `test.ping`).
    pub event: Option<String>,
}

/// `config.maxRetries` and `config.timeout`, checked; `None` where absent.
fn config_values(config: Option<WebhookConfigDoc>) -> Result<(Option<i64>, Option<i64>), ApiError> {
    let config = config.unwrap_or_default();
    if let Some(n) = config.max_retries {
        if !(1..=10).contains(&n) {
            return Err(ApiError::invalid("config.maxRetries", "must be from 1 to 10"));
        }
    }
    if let Some(t) = config.timeout {
        if !(1..=60).contains(&t) {
            return Err(ApiError::invalid("config.timeout", "must be from 1 to 60 seconds"));
        }
    }
    Ok((config.max_retries, config.timeout))
}

/// `headers`, checked (`faces::webhooks::header_problems`).
fn header_values(headers: Option<JsonMap>) -> Result<Option<JsonMap>, ApiError> {
    let headers = json_object("headers", headers)?;
    let problems = headers.as_ref().map(header_problems).unwrap_or_default();
    if !problems.is_empty() {
        return Err(Error::Validation(problems).into());
    }
    Ok(headers)
}

/// List webhook subscriptions (without their secrets).
#[utoipa::path(get, path = "/webhooks", tag = "webhooks",
    params(
        ("page" = Option<u32>, Query, description = "Page number, from 1"),
        ("perPage" = Option<u32>, Query, description = "Items per page (default 20, max 100)"),
    ),
    responses((status = 200, body = envelope::Doc<Vec<Resource<WebhookAttributes>>>), (status = 400, body = super::extract::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn list_webhooks(State(s): State<AppState>, auth: Auth, RawQuery(q): RawQuery) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Webhooks, Access::Read)?;
    let mut p = Params::from_query(q.as_deref());
    let page = page_request(&mut p);
    p.finish()?;
    let hooks = s.store.list_webhooks(&ctx, &WebhookFilter::default(), page).await?;
    Ok(envelope::page_of(hooks, page, |w| resource(w, false)))
}

/// Create a webhook subscription; the answer holds its secret, shown this once.
#[utoipa::path(post, path = "/webhooks", tag = "webhooks", request_body = CreateWebhook,
    responses((status = 201, body = envelope::Doc<Resource<WebhookAttributes>>), (status = 400, body = super::extract::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn create_webhook(
    State(s): State<AppState>,
    auth: Auth,
    Json(body): Json<CreateWebhook>,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Webhooks, Access::Write)?;
    let url = text("url", body.url, 2000)?.ok_or_else(|| ApiError::invalid("url", "is required"))?;
    check_url(&s, "url", &url)?;
    let format_name = body.format.unwrap_or_else(|| "linktor".into());
    let Some(format) = s.webhooks.formats().get(&format_name) else {
        let names = s.webhooks.formats().names().join(", ");
        return Err(ApiError::invalid("format", format!("must be one of: {names}")).into());
    };
    let events = body.events.unwrap_or_default();
    check_events(format, "events", &events, false)?;
    let format = format_name;
    let (max_retries, timeout_secs) = config_values(body.config)?;
    let headers = header_values(body.headers)?.unwrap_or_default();
    let new = NewWebhook {
        url,
        events,
        description: text("description", body.description, 1000)?,
        name: None,
        headers,
        secret: new_secret(),
        max_retries: max_retries.unwrap_or(5),
        timeout_secs: timeout_secs.unwrap_or(30),
        backoff: "schedule".into(),
        format,
    };
    let hook = s.store.create_webhook(&ctx, new).await?;
    Ok(envelope::one(StatusCode::CREATED, resource(hook, true)))
}

/// Get a webhook subscription (without its secret).
#[utoipa::path(get, path = "/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 200, body = envelope::Doc<Resource<WebhookAttributes>>), (status = 404, body = super::extract::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn get_webhook(State(s): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Webhooks, Access::Read)?;
    let hook = s.store.get_webhook(&ctx, webhook_id(&id)?).await?;
    Ok(envelope::one(StatusCode::OK, resource(hook, false)))
}

/// Activate or deactivate a webhook subscription.
#[utoipa::path(patch, path = "/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)), request_body = UpdateWebhook,
    responses((status = 200, body = envelope::Doc<Resource<WebhookAttributes>>), (status = 404, body = super::extract::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn update_webhook(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(body): Json<UpdateWebhook>,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Webhooks, Access::Write)?;
    let id = webhook_id(&id)?;
    let current = s.store.get_webhook(&ctx, id).await?;
    let status = match body.status.as_deref() {
        None => None,
        Some(st @ ("active" | "inactive")) => Some(st.to_string()),
        Some(_) => return Err(ApiError::invalid("status", "must be one of: active, inactive").into()),
    };
    let url = text("url", body.url, 2000)?;
    if let Some(url) = &url {
        check_url(&s, "url", url)?;
    }
    if let Some(events) = &body.events {
        let format =
            s.webhooks.formats().get(&current.format).ok_or_else(|| ApiError::invalid("format", "is unknown"))?;
        check_events(format, "events", events, false)?;
    }
    let (max_retries, timeout_secs) = config_values(body.config)?;
    let patch = WebhookPatch {
        url,
        events: body.events,
        description: text("description", body.description, 1000)?.map(Some),
        headers: header_values(body.headers)?,
        status,
        max_retries,
        timeout_secs,
        ..WebhookPatch::default()
    };
    let hook = s.store.update_webhook(&ctx, id, patch).await?;
    Ok(envelope::one(StatusCode::OK, resource(hook, false)))
}

/// Delete a webhook subscription and its delivery log.
#[utoipa::path(delete, path = "/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = super::extract::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn delete_webhook(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Webhooks, Access::Write)?;
    s.store.delete_webhook(&ctx, webhook_id(&id)?).await?;
    Ok(no_content())
}

/// A subscription's deliveries, newest event first.
#[utoipa::path(get, path = "/webhooks/{id}/deliveries", tag = "webhooks",
    params(
        ("id" = String, Path),
        ("page" = Option<u32>, Query, description = "Page number, from 1"),
        ("perPage" = Option<u32>, Query, description = "Items per page (default 20, max 100)"),
        ("status" = Option<String>, Query, description = "pending, succeeded or failed"),
        ("event" = Option<String>, Query, description = "An event type"),
    ),
    responses((status = 200, body = envelope::Doc<Vec<Resource<DeliveryAttributes>>>), (status = 404, body = super::extract::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn list_deliveries(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Webhooks, Access::Read)?;
    let id = webhook_id(&id)?;
    let mut p = Params::from_query(q.as_deref());
    let page = page_request(&mut p);
    let status = p.one_of(
        "status",
        |v| ["pending", "succeeded", "failed"].contains(&v).then(|| v.to_string()),
        "pending, succeeded, failed",
    );
    let event = p.str("event");
    p.finish()?;
    let deliveries = s.store.list_webhook_deliveries(&ctx, id, status, event, page).await?;
    Ok(envelope::page_of(deliveries, page, delivery))
}

/// Send one test delivery now (default event `test.ping`) and record it in the delivery log.
#[utoipa::path(post, path = "/webhooks/{id}/test", tag = "webhooks", params(("id" = String, Path)), request_body = TestWebhook,
    responses((status = 201, body = envelope::Doc<Resource<DeliveryAttributes>>), (status = 400, body = super::extract::ErrorDoc), (status = 404, body = super::extract::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn test_webhook(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    req: axum::extract::Request,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Webhooks, Access::Write)?;
    let hook = s.store.get_webhook(&ctx, webhook_id(&id)?).await?;
    // The body is optional: an empty one is the default test.
    let bytes = crate::faces::params::read_body(req).await?;
    let body: TestWebhook = if bytes.iter().all(u8::is_ascii_whitespace) {
        TestWebhook::default()
    } else {
        crate::faces::params::parse_json(&bytes)?
    };
    let format = s.webhooks.formats().get(&hook.format).ok_or_else(|| ApiError::invalid("event", "unknown format"))?;
    let name = body.event.as_deref().unwrap_or("test.ping");
    let event_type = event_type_named(format, name).ok_or_else(|| {
        ApiError::invalid("event", format!("is not an event of the {} format (or test.ping)", hook.format))
    })?;
    let sent = send_test(&s, &ctx, &hook, event_type).await?;
    Ok(envelope::one(StatusCode::CREATED, delivery(sent)))
}

/// Make a failed delivery pending again, with a fresh round of attempts.
#[utoipa::path(post, path = "/webhooks/{id}/deliveries/{deliveryId}/retry", tag = "webhooks",
    params(("id" = String, Path), ("deliveryId" = String, Path)),
    responses((status = 202, body = envelope::Doc<Resource<DeliveryAttributes>>), (status = 404, body = super::extract::ErrorDoc), (status = 409, body = super::extract::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn retry_delivery(
    State(s): State<AppState>,
    auth: Auth,
    Path((id, delivery_id)): Path<(String, String)>,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Webhooks, Access::Write)?;
    let id = webhook_id(&id)?;
    let delivery_id: Uuid = delivery_id.parse().map_err(|_| Error::not_found(R::WebhookDelivery))?;
    let current = s.store.get_webhook_delivery(&ctx, id, delivery_id).await?;
    if current.event_position == 0 {
        return Err(Error::conflict("TEST_DELIVERY", "a test delivery is not retried: send a new test").into());
    }
    let retried = s.store.retry_webhook_delivery(&ctx, id, delivery_id, confab_core::time::now()).await?;
    Ok(envelope::one(StatusCode::ACCEPTED, delivery(retried)))
}
