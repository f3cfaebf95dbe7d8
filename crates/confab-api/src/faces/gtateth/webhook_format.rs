//! The `gtateth` webhook format (G-Tateth `guides/webhooks`).
//!
//! One POST per event, `Content-Type: application/json`, `User-Agent: Confab-Webhooks/1`, the
//! subscription's own `headers`, and
//! `X-Webhook-Signature: sha256=<lower-case hex of HMAC-SHA256(key = the secret's UTF-8 bytes,
//! message = the raw body bytes)>`. Body:
//!
//! ```json
//! {"id":"<event id>","event":"conversation.created","timestamp":"2026-01-15T10:30:00.000Z","data":{…}}
//! ```
//!
//! - `id` is the event's id: a redelivery (retry, duplicate) carries the same one, so receivers
//!   de-duplicate on it. `timestamp` is when the change happened (ISO 8601 UTC, milliseconds).
//! - Events: `conversation.{created,updated,assigned,closed}`, `customer.{created,updated}`,
//!   `message.{sent,received}`, `user.{created,updated}`; `test.ping` only from
//!   `POST /api/v1/webhooks/{id}/test`. `call.*` are not produced by Confab. A transfer or a reopen
//!   is `conversation.updated`.
//! - `data` is rendered from the event's snapshot alone (never from the store, so a delivery shows
//!   the resource as it was right after the change, even when retried later):
//!   - `conversation.*`: the conversation as `GET /api/v1/conversations/{id}` renders it. Its
//!     `customerId` is populated from what the snapshot holds of the customer:
//!     `{_id, profile{name, email, phone}, customFields}` (not `tier`, `tags`, …); its `assignedTo`
//!     is `{_id, name, email, role}` with `email` and `role` `null` for a user (the snapshot has
//!     neither) and `role` `bot` for a bot.
//!   - `customer.*`: the customer object of `/api/v1/customers`.
//!   - `message.*` (G-Tateth documents no message object; this is Confab's):
//!     `{_id, conversationId, direction: inbound|outbound, type, text, content, sender{type:
//!     contact|user|bot|system, _id, name}, status: pending|sent|delivered|read|failed, metadata,
//!     externalId, createdAt, sentAt, deliveredAt, readAt}`; `text` is the searchable text of the
//!     content (`null` for content without text), `content` the full `{type, …}` object.
//!   - `user.*`: `{_id, name, email, role: admin|agent|viewer, createdAt, updatedAt}`.
//!   - `test.ping`: `{test: true, webhookId, message}`.
//!   - A snapshot that does not read as expected is sent as it is stored.

use super::conversations::conversation;
use super::render::{customer, iso};
use confab_core::model::{ActorKind, Contact, ConversationView, Event, EventType, Message, User};
use confab_events::webhooks::{hmac_sha256, Outgoing, Rendered, WebhookFormat};
use serde_json::{json, Value};

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
        let body = serde_json::to_vec(&json!({
            "id": out.event.id.to_string(),
            "event": out.event_name,
            "timestamp": out.event.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "data": data(out),
        }))
        .unwrap_or_default();
        let signature = format!("sha256={}", hex::encode(hmac_sha256(out.sub.secret.as_bytes(), &body)));
        Rendered { body, headers: vec![("X-Webhook-Signature", signature)] }
    }
}

/// The resource as the G-Tateth face renders it, from the event's snapshot.
fn data(out: &Outgoing<'_>) -> Value {
    use EventType::*;
    let event = out.event;
    let snapshot = || event.snapshot.clone();
    let rendered = match event.event_type {
        ConversationCreated
        | ConversationUpdated
        | ConversationTransferred
        | ConversationReopened
        | ConversationAssigned
        | ConversationClosed => serde_json::from_value::<ConversationView>(snapshot()).ok().map(conversation_data),
        ContactCreated | ContactUpdated => {
            serde_json::from_value::<Contact>(snapshot()).ok().and_then(|c| serde_json::to_value(customer(c)).ok())
        }
        MessageSent | MessageReceived => serde_json::from_value::<Message>(snapshot()).ok().map(|m| message_data(&m)),
        UserCreated | UserUpdated => serde_json::from_value::<User>(snapshot()).ok().map(|u| user_data(&u)),
        TestPing => Some(json!({
            "test": true,
            "webhookId": out.sub.id.to_string(),
            "message": "This is a test event from Confab.",
        })),
        _ => None,
    };
    rendered.unwrap_or_else(snapshot)
}

/// A conversation as its GET renders it, populated from the snapshot.
fn conversation_data(view: ConversationView) -> Value {
    let contact = view.contact.clone();
    let assignee = view.assignee_ref.clone();
    let mut doc = serde_json::to_value(conversation(view)).unwrap_or(Value::Null);
    if let Some(c) = contact {
        doc["customerId"] = json!({
            "_id": c.id.to_string(),
            "profile": {"name": c.name, "email": c.email, "phone": c.phone},
            "customFields": c.metadata,
        });
    }
    if let Some(a) = assignee {
        let role = match a.kind {
            ActorKind::User => Value::Null,
            _ => Value::String("bot".into()),
        };
        let id = a.id.map(|i| i.to_string()).or_else(|| doc["assignedTo"].as_str().map(str::to_string));
        doc["assignedTo"] = json!({"_id": id, "name": a.name, "email": null, "role": role});
    }
    doc
}

/// Confab's G-Tateth message object (G-Tateth documents none).
pub fn message_data(m: &Message) -> Value {
    json!({
        "_id": m.id.to_string(),
        "conversationId": m.conversation_id.to_string(),
        "direction": m.direction.as_str(),
        "type": m.content_type,
        "text": m.text,
        "content": m.content,
        "sender": {
            "type": m.sender.kind.as_str(),
            "_id": m.sender.id.map(|i| i.to_string()),
            "name": m.sender.name,
        },
        "status": m.status.as_str(),
        "metadata": m.metadata,
        "externalId": m.external_id,
        "createdAt": iso(m.created_at),
        "sentAt": m.sent_at.map(iso),
        "deliveredAt": m.delivered_at.map(iso),
        "readAt": m.read_at.map(iso),
    })
}

/// A user: `{_id, name, email, role, createdAt, updatedAt}`.
pub fn user_data(u: &User) -> Value {
    json!({
        "_id": u.id.to_string(),
        "name": u.name,
        "email": u.email,
        "role": u.role.as_str(),
        "createdAt": iso(u.created_at),
        "updatedAt": iso(u.updated_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use confab_core::model::{Actor, UserRole};
    use confab_core::{time, TenantId, UserId};
    use confab_store::Webhook;
    use uuid::Uuid;

    fn sub() -> Webhook {
        let now = time::now();
        Webhook {
            id: Uuid::now_v7(),
            tenant_id: TenantId(Uuid::now_v7()),
            url: "https://hooks.example.com/x".into(),
            events: vec!["*".into()],
            description: None,
            name: Some("n".into()),
            headers: Default::default(),
            secret: "whsec_test".into(),
            status: "active".into(),
            max_retries: 4,
            timeout_secs: 5,
            backoff: "exponential".into(),
            format: "gtateth".into(),
            cursor_position: 0,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn a_user_event_renders_the_user_and_is_signed_over_the_body() {
        let now = time::now();
        let user = User {
            id: UserId(Uuid::now_v7()),
            tenant_id: TenantId(Uuid::now_v7()),
            name: "Bob".into(),
            email: Some("bob@acme.test".into()),
            role: UserRole::Agent,
            created_at: now,
            updated_at: now,
        };
        let event = Event {
            id: Uuid::now_v7(),
            position: Some(1),
            tenant_id: user.tenant_id,
            event_type: EventType::UserCreated,
            subject_id: user.id.0,
            conversation_id: None,
            actor: Actor::system(),
            snapshot: serde_json::to_value(&user).unwrap(),
            data: Value::Null,
            created_at: now,
        };
        let sub = sub();
        let name = GtatethFormat.event_name(&event).unwrap();
        let out = Outgoing { delivery_id: Uuid::now_v7(), event_name: name, event: &event, sub: &sub, sent_at: now };
        let r = GtatethFormat.render(&out);
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["id"], event.id.to_string());
        assert_eq!(body["event"], "user.created");
        assert_eq!(body["data"]["_id"], user.id.to_string());
        assert_eq!(body["data"]["role"], "agent");
        assert_eq!(body.as_object().unwrap().len(), 4);
        let expected = format!("sha256={}", hex::encode(hmac_sha256(b"whsec_test", &r.body)));
        assert_eq!(r.headers, vec![("X-Webhook-Signature", expected)]);
    }

    #[test]
    fn a_snapshot_that_does_not_read_is_sent_as_stored_and_unmapped_events_are_skipped() {
        let now = time::now();
        let mut event = Event {
            id: Uuid::now_v7(),
            position: Some(1),
            tenant_id: TenantId(Uuid::now_v7()),
            event_type: EventType::ContactCreated,
            subject_id: Uuid::now_v7(),
            conversation_id: None,
            actor: Actor::system(),
            snapshot: json!({"odd": true}),
            data: Value::Null,
            created_at: now,
        };
        let sub = sub();
        let out = Outgoing {
            delivery_id: Uuid::now_v7(),
            event_name: "customer.created",
            event: &event,
            sub: &sub,
            sent_at: now,
        };
        let body: Value = serde_json::from_slice(&GtatethFormat.render(&out).body).unwrap();
        assert_eq!(body["data"], json!({"odd": true}));
        event.event_type = EventType::TagCreated;
        assert_eq!(GtatethFormat.event_name(&event), None);
    }
}
