//! The `protocol` webhook format (Protocol `app/webhooks/page.mdx`).
//!
//! Body `{"id": <event id>, "type": <name>, "payload": <the resource as the Protocol face renders
//! it>}`; header `x-protocol-signature: <hex HMAC-SHA256(secret, body)>`. Events:
//! `{contact,conversation,message,group,attachment}.{created,updated,deleted}`.
//!
//! Decisions:
//! - `payload` is the resource exactly as the face's `GET` renders it (`render.rs`), built from the
//!   event's snapshot alone (no store query at delivery time): what a rendering needs beyond the
//!   core model is added to the snapshot by the store when the event is appended (the
//!   `protocol_*` keys, documented in `confab-store/sql/protocol/{contacts,messages,groups,
//!   attachments}.rs`). A `*.deleted` payload is the resource's last state.
//! - Core events map onto the fifteen names: every conversation change (status, assignment,
//!   transfer, pin, mute, archive, …) is `conversation.updated`; a message received or sent is
//!   `message.created`; a status change, read receipt or edit is `message.updated`.
//! - A change of a derived field alone (a contact's `conversation_id` when its conversation is
//!   opened, `last_active_at` when a message arrives) appends no `contact.updated`: the
//!   conversation or message event says it.
//! - Two fields differ from a `GET`, by necessity: `last_opened_at` of a conversation is per viewer
//!   ("by the authenticated user") and a webhook has no viewer, so it is `null`; `file_url` (of an
//!   attachment, and of each attachment of a message) is `null`, because a signed download URL is
//!   valid for one hour only while deliveries are retried for longer: a receiver retrieves the
//!   attachment (`GET /protocol/v1/attachments/:id`) for a fresh URL.
//! - A new message received or sent through another face has no `protocol_*` keys (it has no
//!   reactions, attachments nor edits yet): its `reactions` and `attachments` are `[]`, its
//!   `updated_at` `null`, and a sending contact is made from the sender's id and name
//!   (`phone_number`, `avatar_url`, `last_active_at`, `created_at` `null`). Every later message
//!   event (status changes, read receipts, metadata, the delete's last state) carries the full keys,
//!   whichever face made the change.
//! - A test delivery (`POST /v1/webhooks/:id/test`, empty snapshot) has the payload `{}`; a snapshot
//!   that cannot be read as its resource (never expected) is sent as it is, and logged.

use super::render;
use confab_core::model::{Contact, ConversationView, Event, EventType, Message};
use confab_core::{AttachmentId, ConversationId, GroupId, MessageId, Time};
use confab_events::webhooks::{hmac_sha256, Outgoing, Rendered, WebhookFormat};
use confab_store::{Attachment, Group, ProtocolContact, ProtocolMessage};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

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

/// The resource of `event` as the Protocol face renders it (see the module doc).
fn payload(event: &Event) -> Value {
    use EventType::*;
    let snapshot = &event.snapshot;
    if snapshot.as_object().is_some_and(|m| m.is_empty()) {
        // A test delivery (`POST /v1/webhooks/:id/test`): there is no resource.
        return snapshot.clone();
    }
    let rendered = match event.event_type {
        ContactCreated | ContactUpdated | ContactDeleted => {
            parse::<ContactSnapshot>(snapshot).and_then(|c| to_json(render::contact(&c.into())))
        }
        ConversationCreated
        | ConversationUpdated
        | ConversationAssigned
        | ConversationTransferred
        | ConversationClosed
        | ConversationReopened
        | ConversationDeleted => {
            parse::<ConversationView>(snapshot).and_then(|v| to_json(render::conversation(&v, None)))
        }
        MessageReceived | MessageSent | MessageDelivered | MessageRead | MessageFailed | MessageUpdated
        | MessageDeleted => parse::<MessageSnapshot>(snapshot).and_then(message),
        GroupCreated | GroupUpdated | GroupDeleted => {
            parse::<GroupSnapshot>(snapshot).and_then(|g| to_json(render::group(&g.into())))
        }
        AttachmentCreated | AttachmentUpdated | AttachmentDeleted => parse::<AttachmentSnapshot>(snapshot)
            .and_then(|a| to_json(render::attachment(&a.into(), String::new())))
            .map(|mut v| {
                v["file_url"] = Value::Null;
                v
            }),
        _ => return snapshot.clone(),
    };
    rendered.unwrap_or_else(|e| {
        tracing::warn!(event = %event.id, event_type = event.event_type.as_str(), error = %e,
            "a snapshot could not be rendered as a Protocol resource; sent as it is");
        snapshot.clone()
    })
}

fn parse<T: for<'de> Deserialize<'de>>(v: &Value) -> Result<T, serde_json::Error> {
    T::deserialize(v)
}

fn to_json<T: serde::Serialize>(v: T) -> Result<Value, serde_json::Error> {
    serde_json::to_value(v)
}

fn message(m: MessageSnapshot) -> Result<Value, serde_json::Error> {
    let mut contacts = HashMap::new();
    if let Some(c) = m.protocol_sender {
        contacts.insert(c.contact.id.0, ProtocolContact::from(c));
    }
    let pm = ProtocolMessage {
        message: m.message,
        reactions: m.protocol_reactions,
        attachments: m.protocol_attachments.into_iter().map(Into::into).collect(),
        updated_at: m.protocol_edited_at,
    };
    let mut v = to_json(render::message(&pm, &contacts, &|_| String::new()))?;
    if let Some(files) = v["attachments"].as_array_mut() {
        for f in files {
            f["file_url"] = Value::Null;
        }
    }
    Ok(v)
}

/// A contact event's snapshot: the contact and its Protocol keys.
#[derive(Deserialize)]
struct ContactSnapshot {
    #[serde(flatten)]
    contact: Contact,
    #[serde(default)]
    protocol_conversation_id: Option<ConversationId>,
    #[serde(default)]
    protocol_last_active_at: Option<Time>,
}

impl From<ContactSnapshot> for ProtocolContact {
    fn from(c: ContactSnapshot) -> Self {
        ProtocolContact {
            contact: c.contact,
            conversation_id: c.protocol_conversation_id,
            last_active_at: c.protocol_last_active_at,
        }
    }
}

/// A message event's snapshot: the message and (on the Protocol paths) its Protocol keys.
#[derive(Deserialize)]
struct MessageSnapshot {
    #[serde(flatten)]
    message: Message,
    #[serde(default)]
    protocol_reactions: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    protocol_attachments: Vec<AttachmentSnapshot>,
    #[serde(default)]
    protocol_edited_at: Option<Time>,
    #[serde(default)]
    protocol_sender: Option<ContactSnapshot>,
}

/// A group event's snapshot.
#[derive(Deserialize)]
struct GroupSnapshot {
    id: GroupId,
    name: String,
    description: Option<String>,
    avatar_url: Option<String>,
    conversation_id: Option<ConversationId>,
    contacts: Vec<ContactSnapshot>,
    archived_at: Option<Time>,
    created_at: Time,
    updated_at: Time,
}

impl From<GroupSnapshot> for Group {
    fn from(g: GroupSnapshot) -> Self {
        Group {
            id: g.id,
            name: g.name,
            description: g.description,
            avatar_url: g.avatar_url,
            conversation_id: g.conversation_id,
            contacts: g.contacts.into_iter().map(Into::into).collect(),
            archived_at: g.archived_at,
            created_at: g.created_at,
            updated_at: g.updated_at,
        }
    }
}

/// An attachment event's snapshot (also each of `protocol_attachments`).
#[derive(Deserialize)]
struct AttachmentSnapshot {
    id: AttachmentId,
    message_id: Option<MessageId>,
    conversation_id: Option<ConversationId>,
    filename: String,
    content_type: String,
    size: i64,
    created_at: Time,
}

impl From<AttachmentSnapshot> for Attachment {
    fn from(a: AttachmentSnapshot) -> Self {
        Attachment {
            id: a.id,
            message_id: a.message_id,
            conversation_id: a.conversation_id,
            filename: a.filename,
            content_type: a.content_type,
            size: a.size,
            created_at: a.created_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_attachment_snapshot_renders_as_protocol_shows_it_without_a_file_url() {
        let event = Event {
            id: uuid::Uuid::nil(),
            position: Some(1),
            tenant_id: confab_core::TenantId(uuid::Uuid::nil()),
            event_type: EventType::AttachmentCreated,
            subject_id: uuid::Uuid::nil(),
            conversation_id: None,
            actor: confab_core::model::Actor::system(),
            snapshot: json!({"id": "0190c7a4-0000-7000-8000-000000000001", "message_id": null,
                "conversation_id": null, "filename": "a.txt", "content_type": "text/plain", "size": 3,
                "created_at": "2024-07-22T10:00:00Z"}),
            data: Value::Null,
            created_at: confab_core::time::now(),
        };
        assert_eq!(
            payload(&event),
            json!({"id": "0190c7a4-0000-7000-8000-000000000001", "message_id": null, "filename": "a.txt",
                "file_url": null, "file_type": "text/plain", "file_size": 3, "created_at": 1721642400})
        );
    }
}
