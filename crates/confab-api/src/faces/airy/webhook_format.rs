//! The `airy` webhook format (Airy Core `docs/api/webhook.md`).
//!
//! Body `{"type": <name>, "payload": {…}}`; header `X-Airy-Content-Signature: <hex
//! HMAC-SHA256(signature_key, body)>` only when the subscription has a `signature_key`. Events:
//! `message.created` (a new message), `message.updated` (a message's state or metadata changed),
//! `conversation.updated` (any change of a conversation), `channel.updated` (any change of a
//! channel).

use confab_core::model::{Event, EventType};
use confab_events::webhooks::{hmac_sha256, Outgoing, Rendered, WebhookFormat};

pub struct AiryFormat;

const NAMES: &[&str] = &["message.created", "message.updated", "conversation.updated", "channel.updated"];

impl WebhookFormat for AiryFormat {
    fn name(&self) -> &'static str {
        "airy"
    }

    fn event_names(&self) -> &'static [&'static str] {
        NAMES
    }

    fn event_name(&self, event: &Event) -> Option<&'static str> {
        use EventType::*;
        Some(match event.event_type {
            MessageReceived | MessageSent => "message.created",
            MessageDelivered | MessageRead | MessageFailed | MessageDeleted | MessageUpdated => "message.updated",
            ConversationCreated
            | ConversationUpdated
            | ConversationAssigned
            | ConversationTransferred
            | ConversationClosed
            | ConversationReopened => "conversation.updated",
            ChannelCreated | ChannelUpdated | ChannelActivated | ChannelDeactivated | ChannelDeleted => {
                "channel.updated"
            }
            _ => return None,
        })
    }

    fn render(&self, out: &Outgoing<'_>) -> Rendered {
        let body = serde_json::to_vec(&serde_json::json!({"type": out.event_name, "payload": payload(out.event)}))
            .unwrap_or_default();
        let mut headers = Vec::new();
        if !out.sub.secret.is_empty() {
            headers.push(("X-Airy-Content-Signature", hex::encode(hmac_sha256(out.sub.secret.as_bytes(), &body))));
        }
        Rendered { body, headers }
    }
}

/// TODO(this session): Airy's payload per event name; for now the raw snapshot.
fn payload(event: &Event) -> serde_json::Value {
    event.snapshot.clone()
}
