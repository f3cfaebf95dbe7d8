//! The `gtateth` webhook format (G-Tateth `guides/webhooks`).
//!
//! Body `{"id": <event id>, "event": <name>, "timestamp": <ISO 8601>, "data": <the resource as the
//! G-Tateth face renders it>}`; header `X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret,
//! body)>`. Events: `conversation.{created,updated,assigned,closed}`, `customer.{created,updated}`,
//! `message.{sent,received}`, `user.{created,updated}` (`call.*` are not produced by Confab).

use confab_core::model::{Event, EventType};
use confab_events::webhooks::{hmac_sha256, Outgoing, Rendered, WebhookFormat};

pub struct GtatethFormat;

const NAMES: &[&str] = &[
    "conversation.created",
    "conversation.updated",
    "conversation.assigned",
    "conversation.closed",
    "customer.created",
    "customer.updated",
    "message.sent",
    "message.received",
    "user.created",
    "user.updated",
];

impl WebhookFormat for GtatethFormat {
    fn name(&self) -> &'static str {
        "gtateth"
    }

    fn event_names(&self) -> &'static [&'static str] {
        NAMES
    }

    fn event_name(&self, event: &Event) -> Option<&'static str> {
        use EventType::*;
        Some(match event.event_type {
            ConversationCreated => "conversation.created",
            ConversationUpdated | ConversationTransferred | ConversationReopened => "conversation.updated",
            ConversationAssigned => "conversation.assigned",
            ConversationClosed => "conversation.closed",
            ContactCreated => "customer.created",
            ContactUpdated => "customer.updated",
            MessageSent => "message.sent",
            MessageReceived => "message.received",
            UserCreated => "user.created",
            UserUpdated => "user.updated",
            TestPing => "test.ping",
            _ => return None,
        })
    }

    fn render(&self, out: &Outgoing<'_>) -> Rendered {
        let body = serde_json::to_vec(&serde_json::json!({
            "id": out.event.id.to_string(),
            "event": out.event_name,
            "timestamp": out.event.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "data": data(out.event),
        }))
        .unwrap_or_default();
        let signature = format!("sha256={}", hex::encode(hmac_sha256(out.sub.secret.as_bytes(), &body)));
        Rendered { body, headers: vec![("X-Webhook-Signature", signature)] }
    }
}

/// TODO(this session): the resource as the G-Tateth face renders it; for now the raw snapshot.
fn data(event: &Event) -> serde_json::Value {
    event.snapshot.clone()
}
