//! The event log: one event per operation, written in the same transaction as the change, with the
//! actor, the time and a snapshot of the subject after the change. Events outlive their subject.

use super::Actor;
use crate::ids::{ConversationId, TenantId};
use crate::time::Time;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The kinds of events Confab emits. The string form is public API (webhook `event` names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "conversation.created")]
    ConversationCreated,
    #[serde(rename = "conversation.updated")]
    ConversationUpdated,
    #[serde(rename = "conversation.assigned")]
    ConversationAssigned,
    #[serde(rename = "conversation.transferred")]
    ConversationTransferred,
    #[serde(rename = "conversation.closed")]
    ConversationClosed,
    #[serde(rename = "conversation.reopened")]
    ConversationReopened,
    #[serde(rename = "conversation.deleted")]
    ConversationDeleted,
    #[serde(rename = "conversation.note_added")]
    ConversationNoteAdded,
    #[serde(rename = "message.received")]
    MessageReceived,
    #[serde(rename = "message.sent")]
    MessageSent,
    #[serde(rename = "message.delivered")]
    MessageDelivered,
    #[serde(rename = "message.read")]
    MessageRead,
    #[serde(rename = "message.failed")]
    MessageFailed,
    #[serde(rename = "message.deleted")]
    MessageDeleted,
    /// A message's metadata changed (Airy's `metadata.upsert` on a message; Airy's webhook name).
    #[serde(rename = "message.updated")]
    MessageUpdated,
    #[serde(rename = "contact.created")]
    ContactCreated,
    #[serde(rename = "contact.updated")]
    ContactUpdated,
    #[serde(rename = "contact.deleted")]
    ContactDeleted,
    /// Airy's `conversations.refetch`: connectors re-fetch the contact's profile.
    #[serde(rename = "contact.refetch_requested")]
    ContactRefetchRequested,
    #[serde(rename = "channel.created")]
    ChannelCreated,
    #[serde(rename = "channel.updated")]
    ChannelUpdated,
    #[serde(rename = "channel.activated")]
    ChannelActivated,
    #[serde(rename = "channel.deactivated")]
    ChannelDeactivated,
    #[serde(rename = "channel.deleted")]
    ChannelDeleted,
    #[serde(rename = "bot.created")]
    BotCreated,
    #[serde(rename = "bot.updated")]
    BotUpdated,
    #[serde(rename = "bot.activated")]
    BotActivated,
    #[serde(rename = "bot.deactivated")]
    BotDeactivated,
    #[serde(rename = "bot.deleted")]
    BotDeleted,
    /// A conversation handled by a bot was handed to a person (Linktor).
    #[serde(rename = "bot.handoff")]
    BotHandoff,
    #[serde(rename = "user.created")]
    UserCreated,
    #[serde(rename = "user.updated")]
    UserUpdated,
    #[serde(rename = "tag.created")]
    TagCreated,
    #[serde(rename = "tag.updated")]
    TagUpdated,
    #[serde(rename = "tag.deleted")]
    TagDeleted,
    /// A Protocol group of contacts.
    #[serde(rename = "group.created")]
    GroupCreated,
    #[serde(rename = "group.updated")]
    GroupUpdated,
    #[serde(rename = "group.deleted")]
    GroupDeleted,
    /// A Protocol attachment.
    #[serde(rename = "attachment.created")]
    AttachmentCreated,
    #[serde(rename = "attachment.updated")]
    AttachmentUpdated,
    #[serde(rename = "attachment.deleted")]
    AttachmentDeleted,
    /// A test delivery (`POST …/webhooks/:id/test`); never in the event log.
    #[serde(rename = "test.ping")]
    TestPing,
}

impl EventType {
    pub const ALL: [EventType; 42] = [
        EventType::ConversationCreated,
        EventType::ConversationUpdated,
        EventType::ConversationAssigned,
        EventType::ConversationTransferred,
        EventType::ConversationClosed,
        EventType::ConversationReopened,
        EventType::ConversationDeleted,
        EventType::ConversationNoteAdded,
        EventType::MessageReceived,
        EventType::MessageSent,
        EventType::MessageDelivered,
        EventType::MessageRead,
        EventType::MessageFailed,
        EventType::MessageDeleted,
        EventType::MessageUpdated,
        EventType::ContactCreated,
        EventType::ContactUpdated,
        EventType::ContactDeleted,
        EventType::ContactRefetchRequested,
        EventType::ChannelCreated,
        EventType::ChannelUpdated,
        EventType::ChannelActivated,
        EventType::ChannelDeactivated,
        EventType::ChannelDeleted,
        EventType::BotCreated,
        EventType::BotUpdated,
        EventType::BotActivated,
        EventType::BotDeactivated,
        EventType::BotDeleted,
        EventType::BotHandoff,
        EventType::UserCreated,
        EventType::UserUpdated,
        EventType::TagCreated,
        EventType::TagUpdated,
        EventType::TagDeleted,
        EventType::GroupCreated,
        EventType::GroupUpdated,
        EventType::GroupDeleted,
        EventType::AttachmentCreated,
        EventType::AttachmentUpdated,
        EventType::AttachmentDeleted,
        EventType::TestPing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ConversationCreated => "conversation.created",
            EventType::ConversationUpdated => "conversation.updated",
            EventType::ConversationAssigned => "conversation.assigned",
            EventType::ConversationTransferred => "conversation.transferred",
            EventType::ConversationClosed => "conversation.closed",
            EventType::ConversationReopened => "conversation.reopened",
            EventType::ConversationDeleted => "conversation.deleted",
            EventType::ConversationNoteAdded => "conversation.note_added",
            EventType::MessageReceived => "message.received",
            EventType::MessageSent => "message.sent",
            EventType::MessageDelivered => "message.delivered",
            EventType::MessageRead => "message.read",
            EventType::MessageFailed => "message.failed",
            EventType::MessageDeleted => "message.deleted",
            EventType::MessageUpdated => "message.updated",
            EventType::ContactCreated => "contact.created",
            EventType::ContactUpdated => "contact.updated",
            EventType::ContactDeleted => "contact.deleted",
            EventType::ContactRefetchRequested => "contact.refetch_requested",
            EventType::ChannelCreated => "channel.created",
            EventType::ChannelUpdated => "channel.updated",
            EventType::ChannelActivated => "channel.activated",
            EventType::ChannelDeactivated => "channel.deactivated",
            EventType::ChannelDeleted => "channel.deleted",
            EventType::BotCreated => "bot.created",
            EventType::BotUpdated => "bot.updated",
            EventType::BotActivated => "bot.activated",
            EventType::BotDeactivated => "bot.deactivated",
            EventType::BotDeleted => "bot.deleted",
            EventType::BotHandoff => "bot.handoff",
            EventType::UserCreated => "user.created",
            EventType::UserUpdated => "user.updated",
            EventType::TagCreated => "tag.created",
            EventType::TagUpdated => "tag.updated",
            EventType::TagDeleted => "tag.deleted",
            EventType::GroupCreated => "group.created",
            EventType::GroupUpdated => "group.updated",
            EventType::GroupDeleted => "group.deleted",
            EventType::AttachmentCreated => "attachment.created",
            EventType::AttachmentUpdated => "attachment.updated",
            EventType::AttachmentDeleted => "attachment.deleted",
            EventType::TestPing => "test.ping",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The kind of subject (`conversation`, `contact`, …): the part before the dot.
    pub fn subject_kind(self) -> &'static str {
        self.as_str().split('.').next().unwrap_or("")
    }
}

/// An event to append: the store fills in the id, the position and the time.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub event_type: EventType,
    pub subject_id: Uuid,
    /// The conversation the event concerns, if any (the key of webhook ordering and the timeline).
    pub conversation_id: Option<ConversationId>,
    /// The subject after the change (a `ConversationView`, a `Contact`, …) as JSON.
    pub snapshot: serde_json::Value,
    /// What the change was about beyond the snapshot (a transfer's reason, a note, the changed
    /// fields, …).
    pub data: serde_json::Value,
}

/// An event as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Event {
    /// Unique id of the event (de-duplication key for receivers).
    pub id: Uuid,
    /// Commit-ordered stream position; `None` until the relay has assigned it (PostgreSQL).
    pub position: Option<i64>,
    pub tenant_id: TenantId,
    pub event_type: EventType,
    pub subject_id: Uuid,
    pub conversation_id: Option<ConversationId>,
    pub actor: Actor,
    pub snapshot: serde_json::Value,
    pub data: serde_json::Value,
    pub created_at: Time,
}
