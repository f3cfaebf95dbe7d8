//! How a message is rendered in the Linktor face (`api/messages.md`'s message attributes): by the
//! message endpoints (and its sender by `includeMessages`).
//!
//! Every attribute is present (`null` when unset) so that clients see one stable shape. `from` is
//! the sender: the contact for inbound messages, the user, bot or system (`Confab`) for outbound
//! ones. `statusHistory` lists every status the message went through, oldest first.

use super::envelope::{iso, Resource};
use confab_core::model::*;
use confab_core::Time;
use serde::Serialize;
use utoipa::ToSchema;

/// Who sent a message.
#[derive(Serialize, ToSchema)]
pub struct Sender {
    /// contact, user, bot or system.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `null` for the system.
    pub id: Option<String>,
    pub name: String,
}

/// One step of a message's status history.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusHistoryStep {
    /// pending, sent, delivered, read or failed.
    pub status: &'static str,
    pub timestamp: String,
    /// Why delivery failed (only on a `failed` step).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A message's attributes.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageAttributes {
    pub conversation_id: String,
    /// `null` for a conversation without a channel.
    pub channel_id: Option<String>,
    /// inbound (from the contact) or outbound (to the contact).
    pub direction: &'static str,
    pub from: Sender,
    /// `{type, …}`: text, image, document, audio, video, location, buttons, template or custom.
    #[schema(value_type = Object)]
    pub content: JsonMap,
    /// `content.type`.
    pub content_type: String,
    /// pending, sent, delivered, read or failed.
    pub status: &'static str,
    pub status_history: Vec<StatusHistoryStep>,
    #[schema(value_type = Object)]
    pub metadata: JsonMap,
    /// The message's id at the channel.
    pub external_id: Option<String>,
    /// Why delivery failed.
    pub error: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
    pub delivered_at: Option<String>,
    pub read_at: Option<String>,
    pub failed_at: Option<String>,
}

fn iso_opt(t: Option<Time>) -> Option<String> {
    t.map(iso)
}

/// The sender as rendered in `from`.
pub fn sender(a: Actor) -> Sender {
    Sender { kind: a.kind.as_str(), id: a.id.map(|i| i.to_string()), name: a.name }
}

/// The Linktor resource of a message.
pub fn resource(m: Message) -> Resource<MessageAttributes> {
    Resource::new(
        "message",
        m.id,
        MessageAttributes {
            conversation_id: m.conversation_id.to_string(),
            channel_id: m.channel_id.map(|c| c.to_string()),
            direction: m.direction.as_str(),
            from: sender(m.sender),
            content: m.content,
            content_type: m.content_type,
            status: m.status.as_str(),
            status_history: m
                .status_history
                .into_iter()
                .map(|s| StatusHistoryStep { status: s.status.as_str(), timestamp: iso(s.at), error: s.error })
                .collect(),
            metadata: m.metadata,
            external_id: m.external_id,
            error: m.error,
            created_at: iso(m.created_at),
            sent_at: iso_opt(m.sent_at),
            delivered_at: iso_opt(m.delivered_at),
            read_at: iso_opt(m.read_at),
            failed_at: iso_opt(m.failed_at),
        },
    )
}
