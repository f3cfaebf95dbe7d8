//! What the faces' webhook endpoints share: the receiver URL check, the secret, the formats
//! registry (each face renders its own payloads, see `faces/<face>/webhook_format.rs`), the event
//! name check of a format, and the test delivery.

use crate::error::ApiError;
use crate::AppState;
use confab_core::model::{Actor, Ctx, Event, EventType, JsonMap};
use confab_core::FieldError;
use confab_core::{time, TenantId};
use confab_events::webhooks::{Formats, WebhookFormat};
use confab_store::{Webhook, WebhookDelivery};
use rand::Rng;
use std::sync::Arc;
use uuid::Uuid;

/// Every format Confab speaks, `linktor` first (the default).
pub fn webhook_formats() -> Formats {
    Formats::new(vec![
        Arc::new(super::linktor::webhook_format::LinktorFormat) as Arc<dyn WebhookFormat>,
        Arc::new(super::airy::webhook_format::AiryFormat),
        Arc::new(super::protocol::webhook_format::ProtocolFormat),
        Arc::new(super::gtateth::webhook_format::GtatethFormat),
    ])
}

/// A new secret: `whsec_` and 48 hex digits.
pub fn new_secret() -> String {
    let mut raw = [0u8; 24];
    rand::rng().fill(&mut raw[..]);
    format!("whsec_{}", hex::encode(raw))
}

/// Checks `events` against `format`'s vocabulary (`*` is every event): the error names `field`
/// and has code `INVALID_EVENTS`.
pub fn check_events(
    format: &dyn WebhookFormat,
    field: &str,
    events: &[String],
    allow_empty: bool,
) -> Result<(), ApiError> {
    let unknown: Vec<&str> =
        events.iter().map(String::as_str).filter(|e| *e != "*" && !format.event_names().contains(e)).collect();
    if (events.is_empty() && !allow_empty) || !unknown.is_empty() {
        let message = if unknown.is_empty() {
            "must list at least one event type (or \"*\")".to_string()
        } else {
            format!(
                "unknown event types: {} (known to the {} format: {})",
                unknown.join(", "),
                format.name(),
                format.event_names().join(", ")
            )
        };
        let mut e = ApiError::invalid(field, message);
        e.code = "INVALID_EVENTS";
        return Err(e);
    }
    Ok(())
}

/// At most this many custom headers per subscription, each value at most this long.
pub const HEADERS_MAX: usize = 20;
pub const HEADER_VALUE_MAX: usize = 1000;
/// Headers Confab sets on deliveries (of one format or another): a subscription cannot set them.
const RESERVED_HEADERS: [&str; 12] = [
    "content-type",
    "content-length",
    "host",
    "user-agent",
    "x-confab-event-id",
    "x-linktor-signature",
    "x-linktor-timestamp",
    "x-linktor-event",
    "x-linktor-delivery-id",
    "x-airy-content-signature",
    "x-protocol-signature",
    "x-webhook-signature",
];

/// What is wrong with a subscription's custom `headers` (field `headers`, or `headers.<name>`):
/// at most [`HEADERS_MAX`], valid HTTP names and values of at most [`HEADER_VALUE_MAX`]
/// characters, strings only, and none of the headers Confab sets itself.
pub fn header_problems(headers: &JsonMap) -> Vec<FieldError> {
    let mut out = Vec::new();
    if headers.len() > HEADERS_MAX {
        out.push(FieldError::new("headers", format!("must hold at most {HEADERS_MAX} headers")));
    }
    for (name, value) in headers {
        let field = format!("headers.{name}");
        if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            out.push(FieldError::new(&field, "is not a valid HTTP header name"));
        } else if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            out.push(FieldError::new(&field, "is set by Confab on every delivery and cannot be overridden"));
        }
        match value {
            serde_json::Value::String(v) if v.chars().count() > HEADER_VALUE_MAX => {
                out.push(FieldError::new(&field, format!("must be at most {HEADER_VALUE_MAX} characters")))
            }
            serde_json::Value::String(v) if axum::http::HeaderValue::from_str(v).is_err() => {
                out.push(FieldError::new(&field, "is not a valid HTTP header value"))
            }
            serde_json::Value::String(_) => {}
            _ => out.push(FieldError::new(&field, "must be a string")),
        }
    }
    out
}

/// Checks a receiver URL (code `INVALID_URL`, naming `field`).
pub fn check_url(state: &AppState, field: &str, url: &str) -> Result<(), ApiError> {
    match url_problem(url, state.webhooks.config().allow_insecure) {
        None => Ok(()),
        Some(problem) => {
            let mut e = ApiError::invalid(field, problem);
            e.code = "INVALID_URL";
            Err(e)
        }
    }
}

/// Sends a `test.ping` event (or `event_type`'s name in the subscription's format) to `sub` now,
/// once, and records it in the delivery log.
pub async fn send_test(
    state: &AppState,
    ctx: &Ctx,
    sub: &Webhook,
    event_type: EventType,
) -> confab_core::Result<WebhookDelivery> {
    let event = Event {
        subject_id: sub.id,
        actor: ctx.actor.clone(),
        snapshot: serde_json::json!({}),
        data: serde_json::json!({"test": true}),
        ..empty_event(ctx.tenant, event_type)
    };
    let name =
        state.webhooks.formats().get(&sub.format).and_then(|f| f.event_name(&event)).unwrap_or(event_type.as_str());
    let attempt = state.webhooks.send(Uuid::now_v7(), sub.max_retries, name, sub, &event).await;
    state.store.record_test_delivery(ctx, sub.id, &event, name, attempt).await
}

/// An event of type `event_type` that is in no log: no subject, no snapshot.
fn empty_event(tenant: TenantId, event_type: EventType) -> Event {
    Event {
        id: Uuid::now_v7(),
        position: None,
        tenant_id: tenant,
        event_type,
        subject_id: Uuid::nil(),
        conversation_id: None,
        actor: Actor::system(),
        snapshot: serde_json::Value::Null,
        data: serde_json::Value::Null,
        created_at: time::now(),
    }
}

/// The event type `format` names `name` (`test.ping` included), for a test delivery of that event.
pub fn event_type_named(format: &dyn WebhookFormat, name: &str) -> Option<EventType> {
    if name == EventType::TestPing.as_str() {
        return Some(EventType::TestPing);
    }
    let tenant = TenantId(Uuid::nil());
    EventType::ALL.into_iter().find(|t| format.event_name(&empty_event(tenant, *t)) == Some(name))
}

/// Whether `url` may receive webhooks: `None` when it may, else why not.
pub fn url_problem(url: &str, allow_insecure: bool) -> Option<&'static str> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Some("must be an https URL");
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && !(allow_insecure && scheme == "http") {
        return Some("must be an https URL");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = if let Some(h) = host_port.strip_prefix('[') {
        h.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    if host.is_empty() || host.chars().any(|c| c.is_whitespace()) {
        return Some("must have a host");
    }
    if allow_insecure {
        return None;
    }
    let host = host.to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") {
        return Some("must be a public address");
    }
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        if !is_public(ip) {
            return Some("must be a public address");
        }
    }
    None
}

/// Whether `ip` is a public address: the delivery worker's rule
/// ([`confab_events::webhooks::is_public`]), so a URL accepted here is one the worker may call.
pub fn is_public(ip: std::net::IpAddr) -> bool {
    confab_events::webhooks::is_public(ip)
}

#[cfg(test)]
mod tests {
    use super::url_problem;

    #[test]
    fn receiver_urls_are_checked() {
        assert_eq!(url_problem("https://hooks.example.com/x", false), None);
        assert!(url_problem("http://hooks.example.com/x", false).is_some());
        assert!(url_problem("https://127.0.0.1:8080/x", false).is_some());
        assert!(url_problem("https://10.1.2.3/x", false).is_some());
        assert!(url_problem("https://[::1]/x", false).is_some());
        assert!(url_problem("https://[::ffff:127.0.0.1]/x", false).is_some());
        assert!(url_problem("https://localhost/x", false).is_some());
        assert!(url_problem("ftp://example.com", true).is_some());
        assert_eq!(url_problem("http://127.0.0.1:9/x", true), None);
        assert!(url_problem("not a url", false).is_some());
    }
}
