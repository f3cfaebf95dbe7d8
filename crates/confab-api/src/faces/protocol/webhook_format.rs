//! The `protocol` webhook format (Protocol `app/webhooks/page.mdx`).
//!
//! Body `{"id": <event id>, "type": <name>, "payload": <the resource as the Protocol face renders
//! it>}`; header `x-protocol-signature: <hex HMAC-SHA256(secret, body)>`. Events:
//! `{contact,conversation,message,group,attachment}.{created,updated,deleted}`.

use confab_core::model::{Event, EventType};
use confab_events::webhooks::{hmac_sha256, Outgoing, Rendered, WebhookFormat};

pub struct ProtocolFormat;

const NAMES: &[&str] = &[
    "contact.created",
    "contact.updated",
    "contact.deleted",
    "conversation.created",
    "conversation.updated",
    "conversation.deleted",
    "message.created",
    "message.updated",
    "message.deleted",
    "group.created",
    "group.updated",
    "group.deleted",
    "attachment.created",
    "attachment.updated",
    "attachment.deleted",
];

impl WebhookFormat for ProtocolFormat {
    fn name(&self) -> &'static str {
        "protocol"
    }

    fn event_names(&self) -> &'static [&'static str] {
        NAMES
    }

    fn event_name(&self, event: &Event) -> Option<&'static str> {
        use EventType::*;
        Some(match event.event_type {
            ContactCreated => "contact.created",
            ContactUpdated => "contact.updated",
            ContactDeleted => "contact.deleted",
            ConversationCreated => "conversation.created",
            ConversationUpdated
            | ConversationAssigned
            | ConversationTransferred
            | ConversationClosed
            | ConversationReopened => "conversation.updated",
            ConversationDeleted => "conversation.deleted",
            MessageReceived | MessageSent => "message.created",
            MessageDelivered | MessageRead | MessageFailed | MessageUpdated => "message.updated",
            MessageDeleted => "message.deleted",
            GroupCreated => "group.created",
            GroupUpdated => "group.updated",
            GroupDeleted => "group.deleted",
            AttachmentCreated => "attachment.created",
            AttachmentUpdated => "attachment.updated",
            AttachmentDeleted => "attachment.deleted",
            TestPing => "test.ping",
            _ => return None,
        })
    }

    fn render(&self, out: &Outgoing<'_>) -> Rendered {
        let body = serde_json::to_vec(&serde_json::json!({
            "id": out.event.id.to_string(),
            "type": out.event_name,
            "payload": payload(out.event),
        }))
        .unwrap_or_default();
        let headers = vec![("x-protocol-signature", hex::encode(hmac_sha256(out.sub.secret.as_bytes(), &body)))];
        Rendered { body, headers }
    }
}

/// TODO(this session): the resource as the Protocol face renders it; for now the raw snapshot.
fn payload(event: &Event) -> serde_json::Value {
    event.snapshot.clone()
}
