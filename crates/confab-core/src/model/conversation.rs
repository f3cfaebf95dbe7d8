//! Conversations: the centre of Confab. One row per conversation, with its lifecycle stamps,
//! assignment, counters and metadata; a view adds the names of what it refers to.

use super::{Actor, ActorKind, BotRef, ChannelRef, ContactRef, JsonMap, Message, NewContact, SortOrder};
use crate::ids::{BotId, ChannelId, ContactId, ConversationId, GroupId, InboxId, MessageId, TagId, TenantId};
use crate::time::Time;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The lifecycle status. Active = open, pending or snoozed (see the one-active-conversation rule).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    Pending,
    Snoozed,
    Closed,
}

impl Status {
    pub const ALL: [Status; 4] = [Status::Open, Status::Pending, Status::Snoozed, Status::Closed];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Pending => "pending",
            Status::Snoozed => "snoozed",
            Status::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Open, pending and snoozed conversations are active: at most one per (contact, channel).
    pub fn is_active(self) -> bool {
        self != Status::Closed
    }
}

/// Priority, stored as its rank so that sorting by priority is sorting by a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub const ALL: [Priority; 4] = [Priority::Low, Priority::Normal, Priority::High, Priority::Urgent];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// 0 (low) to 3 (urgent).
    pub fn rank(self) -> i64 {
        self as i64
    }

    pub fn from_rank(rank: i64) -> Self {
        match rank {
            i64::MIN..=0 => Priority::Low,
            1 => Priority::Normal,
            2 => Priority::High,
            _ => Priority::Urgent,
        }
    }
}

/// How a closed conversation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    Resolved,
    Unresolved,
    Spam,
}

impl Resolution {
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Resolved => "resolved",
            Resolution::Unresolved => "unresolved",
            Resolution::Spam => "spam",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "resolved" => Resolution::Resolved,
            "unresolved" => Resolution::Unresolved,
            "spam" => Resolution::Spam,
            _ => return None,
        })
    }
}

/// Who a conversation is assigned to: a user or a bot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignee {
    pub kind: ActorKind,
    pub id: Uuid,
}

/// A conversation as stored (ids, no names).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: ConversationId,
    pub tenant_id: TenantId,
    pub channel_id: Option<ChannelId>,
    /// The channel's type, copied at creation (G-Tateth's `channel` when there is no channel).
    pub channel_type: Option<String>,
    pub contact_id: Option<ContactId>,
    pub subject: Option<String>,
    pub status: Status,
    pub snoozed_until: Option<Time>,
    /// Airy's custom state label (`set-state` with anything but `OPEN`/`CLOSED`), shown by the Airy
    /// face in place of the state the status maps to; the status itself is not touched by it.
    #[serde(default)]
    pub state_label: Option<String>,
    pub priority: Priority,
    pub assignee: Option<Assignee>,
    pub bot_id: Option<BotId>,
    pub metadata: JsonMap,
    pub message_count: i64,
    pub unread_count: i64,
    pub first_message_at: Option<Time>,
    pub last_message_at: Option<Time>,
    /// The newest message (by creation time, then id); kept by the store with every message change.
    #[serde(default)]
    pub last_message_id: Option<MessageId>,
    pub closed_at: Option<Time>,
    pub closed_by: Option<Actor>,
    pub resolution: Option<Resolution>,
    pub closure_reason: Option<String>,
    pub reopened_at: Option<Time>,
    pub reopened_by: Option<Actor>,
    pub assigned_at: Option<Time>,
    pub assigned_by: Option<Actor>,
    pub transferred_at: Option<Time>,
    pub transferred_by: Option<Actor>,
    pub source: Option<String>,
    /// The G-Tateth inbox it belongs to.
    #[serde(default)]
    pub inbox_id: Option<InboxId>,
    /// The Protocol group whose conversation it is.
    #[serde(default)]
    pub group_id: Option<GroupId>,
    /// Protocol: a message of this conversation pinned in it.
    #[serde(default)]
    pub pinned_message_id: Option<MessageId>,
    /// Protocol: the conversation itself is pinned.
    #[serde(default)]
    pub is_pinned: bool,
    /// Protocol: notifications are muted.
    #[serde(default)]
    pub is_muted: bool,
    /// Protocol: archived at (independent of the status).
    #[serde(default)]
    pub archived_at: Option<Time>,
    pub created_at: Time,
    pub updated_at: Time,
}

impl Conversation {
    /// A new open conversation of `tenant` created at `now`, with nothing else set: callers fill in
    /// what their create sets.
    pub fn new(tenant: TenantId, now: Time) -> Self {
        Conversation {
            id: ConversationId::new(),
            tenant_id: tenant,
            channel_id: None,
            channel_type: None,
            contact_id: None,
            subject: None,
            status: Status::Open,
            snoozed_until: None,
            state_label: None,
            priority: Priority::Normal,
            assignee: None,
            bot_id: None,
            metadata: JsonMap::new(),
            message_count: 0,
            unread_count: 0,
            first_message_at: None,
            last_message_at: None,
            last_message_id: None,
            closed_at: None,
            closed_by: None,
            resolution: None,
            closure_reason: None,
            reopened_at: None,
            reopened_by: None,
            assigned_at: None,
            assigned_by: None,
            transferred_at: None,
            transferred_by: None,
            source: None,
            inbox_id: None,
            group_id: None,
            pinned_message_id: None,
            is_pinned: false,
            is_muted: false,
            archived_at: None,
            created_at: now,
            updated_at: now,
        }
    }
}

/// A conversation with the names of what it refers to: what the faces render and what an event's
/// snapshot holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConversationView {
    #[serde(flatten)]
    pub conversation: Conversation,
    pub channel: Option<ChannelRef>,
    pub contact: Option<ContactRef>,
    /// The assignee with its name (`kind` is user or bot).
    pub assignee_ref: Option<Actor>,
    pub bot: Option<BotRef>,
    /// Tag names in the order they were added.
    pub tags: Vec<String>,
    /// The ids of the same tags, in the same order (Airy shows tags by id).
    #[serde(default)]
    pub tag_ids: Vec<TagId>,
    /// The newest message, loaded with the view (one query).
    #[serde(default)]
    pub last_message: Option<Message>,
}

/// Who a new conversation is with.
#[derive(Clone, Debug)]
pub enum ContactInput {
    Existing(ContactId),
    /// Reuses the tenant's contact with the same phone or email, else creates it.
    Inline(Box<NewContact>),
}

/// Fields of a new conversation.
#[derive(Clone, Debug)]
pub struct NewConversation {
    pub channel_id: Option<ChannelId>,
    pub contact: Option<ContactInput>,
    /// A user or bot id; the kind is detected unless given.
    pub assignee_id: Option<Uuid>,
    pub assignee_kind: Option<ActorKind>,
    pub bot_id: Option<BotId>,
    pub subject: Option<String>,
    pub priority: Priority,
    pub metadata: JsonMap,
    pub tags: Vec<String>,
    pub source: Option<String>,
    /// The G-Tateth inbox (checked to exist: 404 naming `inboxId`).
    pub inbox_id: Option<InboxId>,
    /// The channel type of a conversation without a channel (G-Tateth's `channel`); ignored when
    /// `channel_id` is set (the channel's type is copied then).
    pub channel_type: Option<String>,
}

/// Airy's conversation state (`conversations.set-state` / `.remove-state`). `OPEN` and `CLOSED` are
/// the core reopen and close; any other state is a label kept beside the status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateChange {
    /// Reopens a closed conversation (an open, pending or snoozed one already reads `OPEN` and is
    /// left as it is) and clears the label.
    Open,
    /// Closes the conversation (a closed one stays as it is) and clears the label.
    Closed,
    /// Sets the custom label; the status is not touched.
    Label(String),
    /// Removes the custom label only.
    RemoveLabel,
}

/// A status change requested through an update (not the explicit `/close` or `/reopen`).
#[derive(Clone, Debug, PartialEq)]
pub struct StatusChange {
    pub status: Status,
    /// Required, and in the future, for `snoozed`.
    pub snoozed_until: Option<Time>,
}

/// A partial update of a conversation.
#[derive(Clone, Debug, Default)]
pub struct ConversationPatch {
    pub status: Option<StatusChange>,
    /// Deep-merged; a `null` value deletes the key.
    pub metadata: Option<JsonMap>,
    /// Replaces the tags.
    pub tags: Option<Vec<String>>,
    pub priority: Option<Priority>,
    /// `Some(None)` clears it.
    pub subject: Option<Option<String>>,
}

/// `/close`.
#[derive(Clone, Debug, Default)]
pub struct CloseInput {
    pub reason: Option<String>,
    pub resolution: Option<Resolution>,
    /// Stored as an internal note.
    pub notes: Option<String>,
}

/// `/assign`.
#[derive(Clone, Debug)]
pub struct AssignInput {
    pub assignee_id: Uuid,
    /// Detected (users first, then bots) when not given.
    pub assignee_kind: Option<ActorKind>,
    /// Stored as an internal note.
    pub note: Option<String>,
}

/// `/transfer`: an assignment with a handoff.
#[derive(Clone, Debug)]
pub struct TransferInput {
    pub to_assignee_id: Uuid,
    pub assignee_kind: Option<ActorKind>,
    pub reason: Option<String>,
    pub summary: Option<String>,
    /// Recorded on the event; sends the contact a message once messages exist.
    pub notify_contact: bool,
}

/// The sort keys of the conversation list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ConversationSort {
    #[default]
    UpdatedAt,
    CreatedAt,
    LastMessageAt,
    Priority,
}

/// Filters of the conversation list; all are combined with AND.
#[derive(Clone, Debug, Default)]
pub struct ConversationFilter {
    pub statuses: Vec<Status>,
    pub channel_id: Option<ChannelId>,
    pub channel_type: Option<String>,
    /// A user or bot id.
    pub assignee_id: Option<Uuid>,
    pub contact_id: Option<ContactId>,
    pub bot_id: Option<BotId>,
    /// The G-Tateth inbox.
    pub inbox_id: Option<InboxId>,
    pub priority: Option<Priority>,
    /// Created at or after.
    pub created_from: Option<Time>,
    /// Created at or before.
    pub created_to: Option<Time>,
    /// Words matched against the contact's name (and, with messages, their text).
    pub search: Option<String>,
    pub sort: ConversationSort,
    pub order: SortOrder,
}

/// A participant of a conversation: the contact, the users who handled it, the bot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Participant {
    pub kind: ActorKind,
    pub id: Uuid,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// `customer`, `agent` or `bot`.
    pub role: String,
}
