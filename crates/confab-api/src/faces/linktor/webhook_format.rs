//! The `linktor` webhook format (Linktor `api/webhooks.md`).
//!
//! Body: `{"id": <event id>, "event": <name>, "timestamp": <ISO 8601>, "data": {"id", "type",
//! "attributes"}, "meta": {"organizationId", "webhookId"}}`. Headers: `X-Linktor-Signature:
//! sha256=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`, `X-Linktor-Timestamp: <unix seconds>`,
//! `X-Linktor-Event: <name>`, `X-Linktor-Delivery-Id: <delivery id>`. Event names are Confab's own
//! (Linktor's vocabulary, which Confab's event log uses).
//!
//! `data` is the event's subject as the Linktor face renders it (`{id, type, attributes}`, the
//! same resource a GET answers), built from the event's snapshot: a conversation, a message, a
//! contact, a channel, a bot, a user or a tag. Subjects the Linktor face has no resource for
//! (Protocol groups and attachments) and `test.ping` carry the snapshot as it is. `bot.handoff`
//! (a conversation a bot held was assigned or transferred to a person or a queue) carries the
//! conversation after the handoff.

use confab_core::model::{Bot, Channel, Contact, ConversationView, Event, EventType, Message, Tag, User};
use confab_events::webhooks::{hmac_sha256, Outgoing, Rendered, WebhookFormat};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

pub struct LinktorFormat;

/// Every event name a Linktor subscription may ask for.
static NAMES: std::sync::LazyLock<Vec<&'static str>> =
    std::sync::LazyLock::new(|| EventType::ALL.iter().map(|t| t.as_str()).collect());

impl WebhookFormat for LinktorFormat {
    fn name(&self) -> &'static str {
        "linktor"
    }

    fn event_names(&self) -> &'static [&'static str] {
        NAMES.as_slice()
    }

    fn event_name(&self, event: &Event) -> Option<&'static str> {
        Some(event.event_type.as_str())
    }

    fn render(&self, out: &Outgoing<'_>) -> Rendered {
        let event = out.event;
        let body = serde_json::to_vec(&serde_json::json!({
            "id": event.id.to_string(),
            "event": out.event_name,
            "timestamp": event.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "data": data(event),
            "meta": {"organizationId": event.tenant_id.0.to_string(), "webhookId": out.sub.id.to_string()},
        }))
        .unwrap_or_default();
        let ts = out.sent_at.timestamp();
        Rendered {
            headers: vec![
                ("X-Linktor-Signature", signature(&out.sub.secret, ts, &body)),
                ("X-Linktor-Timestamp", ts.to_string()),
                ("X-Linktor-Event", out.event_name.to_string()),
                ("X-Linktor-Delivery-Id", out.delivery_id.to_string()),
            ],
            body,
        }
    }
}

/// The `X-Linktor-Signature` value of `body` sent at `timestamp` (unix seconds).
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut msg = format!("{timestamp}.").into_bytes();
    msg.extend_from_slice(body);
    format!("sha256={}", hex::encode(hmac_sha256(secret.as_bytes(), &msg)))
}

/// The event's subject as the Linktor face renders it, from the snapshot.
fn data(event: &Event) -> Value {
    fn as_resource<T: DeserializeOwned, R: Serialize>(snapshot: &Value, render: impl FnOnce(T) -> R) -> Option<Value> {
        let model = T::deserialize(snapshot).ok()?;
        serde_json::to_value(render(model)).ok()
    }
    let s = &event.snapshot;
    // A handoff's subject is the bot, its snapshot the conversation handed over.
    let kind = if event.event_type == EventType::BotHandoff { "conversation" } else { event.event_type.subject_kind() };
    let rendered = match kind {
        "conversation" => as_resource::<ConversationView, _>(s, super::conversations::resource),
        "message" => as_resource::<Message, _>(s, super::message_render::resource),
        "contact" => as_resource::<Contact, _>(s, super::contacts::resource),
        "channel" => as_resource::<Channel, _>(s, super::channels::resource),
        "bot" => as_resource::<Bot, _>(s, super::bots::resource),
        "user" => as_resource::<User, _>(s, super::users::resource),
        "tag" => as_resource::<Tag, _>(s, super::tags::resource),
        _ => None,
    };
    rendered.unwrap_or_else(|| {
        serde_json::json!({
            "id": event.subject_id.to_string(),
            "type": event.event_type.subject_kind(),
            "attributes": event.snapshot,
        })
    })
}
