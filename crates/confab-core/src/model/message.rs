//! Messages: what a contact and the organisation say to each other in a conversation.
//!
//! Every message updates its conversation in the same transaction (counters, first/last message
//! time, last message) and appends its event. Content is `{type, …}` in Linktor's vocabulary
//! (see [`crate::rules::message`] for what each type requires).

use super::{Actor, JsonMap, SortOrder};
use crate::ids::{ChannelId, ContactId, ConversationId, MessageId, TenantId};
use crate::time::Time;
use serde::{Deserialize, Serialize};

/// Who a message is from, relative to the organisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the contact.
    Inbound,
    /// From the organisation (a user, a bot, Confab itself).
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "inbound" => Direction::Inbound,
            "outbound" => Direction::Outbound,
            _ => return None,
        })
    }
}

/// Delivery status. Inbound messages start `delivered`; outbound ones `pending` until the connector
/// reports `sent`, `delivered`, `read` or `failed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    Pending,
    Sent,
    Delivered,
    Read,
    Failed,
}

impl MessageStatus {
    pub const ALL: [MessageStatus; 5] = [
        MessageStatus::Pending,
        MessageStatus::Sent,
        MessageStatus::Delivered,
        MessageStatus::Read,
        MessageStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Pending => "pending",
            MessageStatus::Sent => "sent",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Read => "read",
            MessageStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// One step of a message's status history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusStep {
    pub status: MessageStatus,
    pub at: Time,
    /// Why it failed, for `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A message as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub tenant_id: TenantId,
    pub conversation_id: ConversationId,
    pub channel_id: Option<ChannelId>,
    pub direction: Direction,
    /// The contact (inbound), or the user, bot or system (outbound).
    pub sender: Actor,
    /// `{type, …}`; validated by [`crate::rules::message::validate_content`].
    pub content: JsonMap,
    /// `content.type`, kept apart for filtering.
    pub content_type: String,
    /// The searchable text of the content (text, caption, button text, location name, …).
    pub text: Option<String>,
    pub status: MessageStatus,
    pub status_history: Vec<StatusStep>,
    /// The message's id at the channel (de-duplicates inbound retries).
    pub external_id: Option<String>,
    pub metadata: JsonMap,
    /// Why delivery failed.
    pub error: Option<String>,
    pub created_at: Time,
    pub sent_at: Option<Time>,
    pub delivered_at: Option<Time>,
    pub read_at: Option<Time>,
    pub failed_at: Option<Time>,
}

/// Who to send a new outbound message to when no conversation is given.
#[derive(Clone, Debug)]
pub enum Recipient {
    /// An existing conversation.
    Conversation(ConversationId),
    /// A phone (E.164) or email address on a channel: the contact's active conversation there, or a
    /// new one (and a new contact when none matches).
    Address { channel_id: ChannelId, to: String },
}

/// `POST /v1/messages`: an outbound message from the key's user.
#[derive(Clone, Debug)]
pub struct SendMessage {
    pub recipient: Recipient,
    pub content: JsonMap,
    pub metadata: JsonMap,
    /// The connector's id, if it already knows one.
    pub external_id: Option<String>,
}

/// How a connector identifies the sender of an inbound message.
#[derive(Clone, Debug, Default)]
pub struct InboundSender {
    /// E.164, already normalised.
    pub phone: Option<String>,
    /// Lower-cased.
    pub email: Option<String>,
    /// The sender's id at the channel: one contact per (channel, id), kept by the store beside the
    /// contact (SQL: `contact_identities`).
    pub external_id: Option<String>,
    pub name: Option<String>,
}

/// `POST /v1/channels/:id/inbound`.
#[derive(Clone, Debug)]
pub struct InboundMessage {
    pub channel_id: ChannelId,
    /// The message's id at the channel: a retry with the same id is not stored twice.
    pub external_id: Option<String>,
    pub sender: InboundSender,
    pub content: JsonMap,
    pub metadata: JsonMap,
    /// When the contact sent it (defaults to now).
    pub sent_at: Option<Time>,
}

/// What an inbound ingestion did.
#[derive(Clone, Debug)]
pub struct Ingested {
    pub message: Message,
    pub contact_id: ContactId,
    /// Whether the message was new (false: a retry of an already stored external id).
    pub created: bool,
    /// Whether a conversation was started for it.
    pub conversation_created: bool,
}

/// A status report from a connector (`PATCH /v1/messages/:id/status`).
#[derive(Clone, Debug)]
pub struct StatusReport {
    pub status: MessageStatus,
    pub at: Option<Time>,
    pub error: Option<String>,
    pub external_id: Option<String>,
}

/// Filters of `GET /v1/messages`.
#[derive(Clone, Debug, Default)]
pub struct MessageFilter {
    pub conversation_id: Option<ConversationId>,
    pub channel_id: Option<ChannelId>,
    pub direction: Option<Direction>,
    pub status: Option<MessageStatus>,
    pub content_type: Option<String>,
    pub created_from: Option<Time>,
    pub created_to: Option<Time>,
    /// Words of the message text.
    pub search: Option<String>,
    pub order: SortOrder,
}

/// Cursor paging of a conversation's messages: `before` (older than the cursor, newest first) or
/// `after` (newer than the cursor, oldest first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CursorDirection {
    #[default]
    Before,
    After,
}

/// One cursor page.
#[derive(Clone, Debug)]
pub struct CursorPage<T> {
    pub items: Vec<T>,
    /// The cursor of the next page, when there is one.
    pub next: Option<String>,
    pub has_more: bool,
}

/// `POST /v1/messages/bulk-read`.
#[derive(Clone, Debug)]
pub enum BulkRead {
    Messages(Vec<MessageId>),
    Conversation { id: ConversationId, before: Option<Time> },
}
