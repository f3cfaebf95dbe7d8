//! What Airy clients receive about events, rendered from the event log: the `airy` webhook format
//! (Airy Core `docs/api/webhook.md`) and the frames of the websocket (`GET /ws.communication`,
//! [`super::ws`]). Both render from the event's snapshot (the subject right after the change) with
//! the shapes of [`super::render`], and never read the store.
//!
//! **Webhooks.** Body `{"type": <name>, "payload": {…}, "timestamp": <epoch ms>}` (Airy's `Event`
//! serialises its `timestamp` too; here the event's time); header `X-Airy-Content-Signature: <hex
//! HMAC-SHA256(signature_key, body)>` only when the subscription has a `signature_key` (a non-empty
//! secret). Nulls are omitted in the payload objects, as Airy's webhook mapper does.
//!
//! | name | Confab events | payload |
//! |---|---|---|
//! | `message.created` | `message.received`, `message.sent` | `{conversation_id, channel_id, message{id, content, delivery_state, from_contact, sent_at, source, sender{id}}}` |
//! | `message.updated` | `message.delivered`, `.read`, `.failed`, `.deleted`, `.updated` | the same with `message.metadata` |
//! | `conversation.updated` | `conversation.created`, `.updated`, `.assigned`, `.transferred`, `.closed`, `.reopened` | Airy's `ConversationPayload`: `{id, created_at, channel_id, metadata, last_message}` |
//! | `channel.updated` | `channel.created`, `.updated`, `.activated`, `.deactivated`, `.deleted` | the channel JSON `{id, source, source_channel_id, connected, metadata{name, image_url?, …}}` |
//!
//! What the snapshots do not hold:
//! - a message's `source` is its channel's type, which the store adds to message snapshots
//!   (`channel_type`); `""` for a message without a channel (Airy's own value when it does not
//!   know the source: its 202 `messages.send` answer). The websocket,
//!   which may read the store, looks the channel up once per connection and fills it in.
//! - a conversation's `last_message` is the one the snapshot was taken with (the store keeps it
//!   with every message change); its `source` is the conversation's channel type.
//! - a deleted channel renders `connected: false`.
//!
//! A snapshot that does not parse as its subject (the empty snapshot of a test delivery) is sent
//! as it is.
//!
//! **Websocket** (`reference/airy.md` §11): frames `{"type", "payload", "timestamp"}`; Airy's
//! websocket mapper keeps nulls.
//!
//! | type | Confab events | payload |
//! |---|---|---|
//! | `message.created` | every message event but `message.deleted` (Airy sends nothing for a deleted message) | `{conversation_id, channel_id, message}`, the message with `metadata: null` and `sender: {id, name: null, avatar_url: null}` (Airy's `fromMessage`) |
//! | `metadata.updated` | the conversation events above | `{subject: "conversation", identifier, metadata}`: the conversation's whole metadata (`contact`, `tags`, `state`, `unread_count`, `user_data`) — how tags, state, unread counts and display names reach Airy's inbox |
//! | `metadata.updated` | `message.updated` (metadata written on a message), after its `message.created` | `{subject: "message", identifier, metadata}` |
//! | `channel.updated` | the channel events above | the channel JSON with `metadata: null` (Airy's `fromChannel`) |
//! | `tag.updated` | `tag.created`, `tag.updated` (a delete is not sent, as in Airy) | the tag JSON `{id, name, color}` |
//!
//! A read receipt changes a conversation's `unread_count` without a conversation event: the count
//! reaches websocket clients with the conversation's next `metadata.updated` (Airy's inbox resets
//! it itself when it marks a conversation read).

use super::render::{channel_json, conversation_json, message_json, tag_json};
use confab_core::model::{Channel, ConversationView, Event, EventType, Message, Tag};
use confab_events::webhooks::{hmac_sha256, Outgoing, Rendered, WebhookFormat};
use serde_json::{json, Map, Value};

/// The signature header of a signed delivery.
pub const SIGNATURE_HEADER: &str = "X-Airy-Content-Signature";

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
        let body = serde_json::to_vec(&json!({
            "type": out.event_name,
            "payload": webhook_payload(out.event_name, out.event),
            "timestamp": out.event.created_at.timestamp_millis(),
        }))
        .unwrap_or_default();
        let mut headers = Vec::new();
        if !out.sub.secret.is_empty() {
            headers.push((SIGNATURE_HEADER, hex::encode(hmac_sha256(out.sub.secret.as_bytes(), &body))));
        }
        Rendered { body, headers }
    }
}

/// The webhook payload of `event` under its Airy name.
pub fn webhook_payload(name: &str, event: &Event) -> Value {
    let rendered =
        match name {
            "message.created" => parse::<Message>(event)
                .map(|m| message_payload(&m, snapshot_source(event), MessageStyle::WebhookCreated)),
            "message.updated" => parse::<Message>(event)
                .map(|m| message_payload(&m, snapshot_source(event), MessageStyle::WebhookUpdated)),
            "conversation.updated" => parse::<ConversationView>(event).map(|v| conversation_payload(&v)),
            "channel.updated" => parse::<Channel>(event).map(|c| channel_payload(&c, event, true)),
            _ => None,
        };
    rendered.unwrap_or_else(|| event.snapshot.clone())
}

/// The subject of `event` as `T`, when its snapshot is one.
fn parse<T: serde::de::DeserializeOwned>(event: &Event) -> Option<T> {
    serde_json::from_value(event.snapshot.clone()).ok()
}

/// How a message is shown.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum MessageStyle {
    /// Webhook `message.created`: nulls omitted, `sender{id}`, no `metadata`.
    WebhookCreated,
    /// Webhook `message.updated`: as created, with `metadata`.
    WebhookUpdated,
    /// Websocket `message.created` (Airy's `fromMessage`): `metadata: null`, `sender{id, name: null,
    /// avatar_url: null}`.
    Websocket,
}

/// The message's `source`: the channel type the store put in the message snapshot
/// (`channel_type`), `""` when the message has no channel.
fn snapshot_source(event: &Event) -> &str {
    event.snapshot.get("channel_type").and_then(Value::as_str).unwrap_or("")
}

/// `{conversation_id, channel_id, message}`; `source` is the channel type when known, else `""`.
pub fn message_payload(m: &Message, source: &str, style: MessageStyle) -> Value {
    let mut message = serde_json::to_value(message_json(m, source, None)).unwrap_or(Value::Null);
    if let Value::Object(obj) = &mut message {
        let sender_id = obj.get("sender").and_then(|s| s.get("id")).cloned().unwrap_or(Value::Null);
        match style {
            MessageStyle::WebhookCreated => {
                obj.remove("metadata");
                obj.insert("sender".into(), json!({ "id": sender_id }));
            }
            MessageStyle::WebhookUpdated => {
                obj.insert("sender".into(), json!({ "id": sender_id }));
            }
            MessageStyle::Websocket => {
                obj.insert("metadata".into(), Value::Null);
                obj.insert("sender".into(), json!({ "id": sender_id, "name": null, "avatar_url": null }));
            }
        }
    }
    let mut payload = Map::new();
    payload.insert("conversation_id".into(), json!(m.conversation_id.to_string()));
    payload.insert("channel_id".into(), m.channel_id.map(|c| json!(c.to_string())).unwrap_or(Value::Null));
    payload.insert("message".into(), message);
    let mut payload = Value::Object(payload);
    if style != MessageStyle::Websocket {
        drop_nulls(&mut payload);
        if let Some(message) = payload.get_mut("message") {
            drop_nulls(message);
        }
    }
    payload
}

/// Airy's `ConversationPayload`: `{id, created_at, channel_id, metadata, last_message}`, nulls
/// omitted (the channel as its id, since the snapshot holds only a reference to it).
pub fn conversation_payload(v: &ConversationView) -> Value {
    let c = serde_json::to_value(conversation_json(v, None)).unwrap_or(Value::Null);
    let mut payload = Map::new();
    payload.insert("id".into(), c["id"].clone());
    payload.insert("created_at".into(), c["created_at"].clone());
    payload
        .insert("channel_id".into(), v.conversation.channel_id.map(|id| json!(id.to_string())).unwrap_or(Value::Null));
    let mut metadata = c["metadata"].clone();
    if let Some(contact) = metadata.get_mut("contact") {
        drop_nulls(contact);
    }
    payload.insert("metadata".into(), metadata);
    let mut last = c["last_message"].clone();
    drop_nulls(&mut last);
    if let Some(sender) = last.get_mut("sender") {
        drop_nulls(sender);
    }
    payload.insert("last_message".into(), last);
    let mut payload = Value::Object(payload);
    drop_nulls(&mut payload);
    payload
}

/// The conversation's whole Airy metadata (`contact`, `tags`, `state`, `unread_count`,
/// `user_data`).
pub fn conversation_metadata(v: &ConversationView) -> Value {
    serde_json::to_value(conversation_json(v, None).metadata).unwrap_or(Value::Null)
}

/// The channel JSON; `with_metadata` false is Airy's websocket `metadata: null`. A deleted channel
/// is not connected.
pub fn channel_payload(c: &Channel, event: &Event, with_metadata: bool) -> Value {
    let mut v = serde_json::to_value(channel_json(c)).unwrap_or(Value::Null);
    if event.event_type == EventType::ChannelDeleted {
        v["connected"] = Value::Bool(false);
    }
    if !with_metadata {
        v["metadata"] = Value::Null;
    }
    v
}

/// Removes the `null` members of an object (not recursively).
fn drop_nulls(v: &mut Value) {
    if let Value::Object(obj) = v {
        obj.retain(|_, v| !v.is_null());
    }
}

/// One websocket frame's `type` and `payload`.
pub struct WsEvent {
    pub event_type: &'static str,
    pub payload: Value,
}

/// The websocket frames of `event`, in order (none for events Airy's websocket does not show).
/// `source` is the channel type of a message's channel when the caller knows it.
pub fn websocket_events(event: &Event, source: Option<&str>) -> Vec<WsEvent> {
    use EventType::*;
    let mut out = Vec::new();
    match event.event_type {
        MessageReceived | MessageSent | MessageDelivered | MessageRead | MessageFailed | MessageUpdated => {
            let Some(m) = parse::<Message>(event) else { return out };
            out.push(WsEvent {
                event_type: "message.created",
                payload: message_payload(&m, source.unwrap_or(""), MessageStyle::Websocket),
            });
            if event.event_type == MessageUpdated {
                out.push(WsEvent {
                    event_type: "metadata.updated",
                    payload: json!({
                        "subject": "message",
                        "identifier": m.id.to_string(),
                        "metadata": Value::Object(m.metadata.clone()),
                    }),
                });
            }
        }
        ConversationCreated
        | ConversationUpdated
        | ConversationAssigned
        | ConversationTransferred
        | ConversationClosed
        | ConversationReopened => {
            let Some(v) = parse::<ConversationView>(event) else { return out };
            out.push(WsEvent {
                event_type: "metadata.updated",
                payload: json!({
                    "subject": "conversation",
                    "identifier": v.conversation.id.to_string(),
                    "metadata": conversation_metadata(&v),
                }),
            });
        }
        ChannelCreated | ChannelUpdated | ChannelActivated | ChannelDeactivated | ChannelDeleted => {
            let Some(c) = parse::<Channel>(event) else { return out };
            out.push(WsEvent { event_type: "channel.updated", payload: channel_payload(&c, event, false) });
        }
        TagCreated | TagUpdated => {
            let Some(t) = parse::<Tag>(event) else { return out };
            out.push(WsEvent {
                event_type: "tag.updated",
                payload: serde_json::to_value(tag_json(t)).unwrap_or(Value::Null),
            });
        }
        _ => {}
    }
    out
}

/// Whether `event` concerns a message (its websocket frame wants the channel's type).
pub fn is_message_event(event: &Event) -> bool {
    event.event_type.subject_kind() == "message"
}

#[cfg(test)]
mod tests {
    use super::*;
    use confab_core::model::Actor;
    use uuid::Uuid;

    fn event(t: EventType, snapshot: Value) -> Event {
        Event {
            id: Uuid::nil(),
            position: Some(1),
            tenant_id: confab_core::TenantId(Uuid::nil()),
            event_type: t,
            subject_id: Uuid::nil(),
            conversation_id: None,
            actor: Actor::system(),
            snapshot,
            data: Value::Null,
            created_at: confab_core::time::now(),
        }
    }

    #[test]
    fn a_snapshot_that_is_not_its_subject_is_sent_as_it_is() {
        let e = event(EventType::MessageReceived, json!({}));
        assert_eq!(webhook_payload("message.created", &e), json!({}));
        assert!(websocket_events(&e, None).is_empty());
    }

    #[test]
    fn tags_are_shown_on_the_websocket_when_created_or_updated_not_deleted() {
        let tag = Tag {
            id: confab_core::TagId(Uuid::nil()),
            tenant_id: confab_core::TenantId(Uuid::nil()),
            name: "vip".into(),
            color: "tag-red".into(),
            created_at: confab_core::time::now(),
        };
        let snapshot = serde_json::to_value(&tag).unwrap();
        let frames = websocket_events(&event(EventType::TagCreated, snapshot.clone()), None);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].event_type, "tag.updated");
        assert_eq!(frames[0].payload, json!({"id": Uuid::nil().to_string(), "name": "vip", "color": "tag-red"}));
        assert!(websocket_events(&event(EventType::TagDeleted, snapshot), None).is_empty());
    }
}
