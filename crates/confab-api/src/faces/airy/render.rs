//! The Airy JSON shapes (`reference/airy.md` §3, §6, §7, §8) and how core values map onto them.
//!
//! **Conversation** — `{id, created_at, channel, metadata, last_message}`, in Airy's field order:
//! - `channel`: the channel JSON below, `null` when the conversation has no channel (DESIGN.md).
//! - `metadata.contact`: `display_name` = the contact's name; without a contact or a name, Airy's
//!   default `"<PrettySource> <last 5 characters of the conversation id>"`, PrettySource being the
//!   last dot-segment of the source, capitalised (`whatsapp` → `Whatsapp`; a conversation without a
//!   channel type uses its `source`, else `Conversation`). `avatar_url` = the contact's, or `null`.
//! - `metadata.tags`: `{<tag id>: ""}`, always present (`{}` without tags, where Airy omits the key:
//!   clients read `Object.keys(metadata.tags)` either way).
//! - `metadata.state`: always present (DESIGN.md, mapping table): the custom label set with
//!   `conversations.set-state` when there is one, else `CLOSED` for a closed conversation and `OPEN`
//!   for an open, pending or snoozed one.
//! - `metadata.unread_count`: an integer (inbound messages not yet read). Airy renders a written
//!   count as a double (`1.0`); JSON numbers compare equal either way and Confab's count is an
//!   integer.
//! - `metadata.user_data`: the core custom metadata (Linktor's `metadata`; DESIGN.md mapping table),
//!   always present (`{}` when empty).
//! - `last_message`: the newest message (§6 below) or `null`.
//!
//! **Channel** — `{id, source, source_channel_id, connected, metadata}`:
//! - `source` is the channel type as Confab names it (`whatsapp`, `facebook`, `instagram`, `sms`,
//!   `email`, `webchat`, `telegram`, `voice`, `rcs`, `api`), not Airy's connector names
//!   (`twilio.sms`, `chatplugin`, …): Confab has no connectors, the type is what `source:` filters
//!   match, and Airy's UI shows a generic icon for sources it does not know.
//! - `source_channel_id` is the channel config's `sourceChannelId` (or `source_channel_id`) when a
//!   connector stored one (a page id, a phone number), else the channel's own id.
//! - `connected` is whether the channel is active.
//! - `metadata` is the channel's metadata with `name` = the channel's name (Confab channels always
//!   have one, so it is never `null`); `channels.update` keeps `image_url` there, and
//!   `metadata.upsert` writes under `user_data`, as Airy shows them.
//!
//! **Message** — `{id, content, sent_at, delivery_state, from_contact, source, metadata, sender}`:
//! - `content` is Airy's payload (`messages::airy_content`): `{"text": "Hello"}` for a text message,
//!   the payload as sent for one sent through `messages.send`, the core content object for the
//!   types Airy has no payload for (image, location, …).
//! - `sent_at`: for an inbound message the contact's time at the channel (`sentAt`), for an outbound
//!   one when Confab accepted it (Airy's `sent_at` of a sent message is the send call's time).
//! - `delivery_state`: Airy has `pending`, `delivered` and `failed`; `sent`, `delivered` and `read`
//!   are `delivered`.
//! - `from_contact` = inbound; `source` = the conversation's channel type (`""` without one);
//!   `metadata` = the message's metadata (`metadata.upsert` writes under `user_data`).
//! - `sender`: `{id, name, avatar_url}` — the contact, user or bot id (`system` for Confab itself),
//!   its name, and the contact's avatar for an inbound message (`null` otherwise).
//!
//! **Tag** — `{id, name, color}`, the colour one of Airy's four words.

use confab_core::model::*;
use confab_core::time::iso;
use confab_core::{ChannelId, Error, Result};
use confab_store::DynStore;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use utoipa::ToSchema;

/// `{"data": [...]}`: Airy's unpaginated lists (`tags.list`, `channels.list`).
#[derive(Serialize, ToSchema)]
pub struct DataList<T> {
    pub data: Vec<T>,
}

/// A conversation (`conversations.info`, `conversations.list`).
#[derive(Serialize, ToSchema)]
pub struct ConversationJson {
    pub id: String,
    /// ISO 8601 UTC, three fraction digits.
    pub created_at: String,
    /// `null` when the conversation has no channel.
    pub channel: Option<ChannelJson>,
    pub metadata: ConversationMetadata,
    /// The newest message, `null` without messages.
    pub last_message: Option<MessageJson>,
}

/// A conversation's `metadata`.
#[derive(Serialize, ToSchema)]
pub struct ConversationMetadata {
    pub contact: ContactJson,
    /// `{<tag id>: ""}` for each tag of the conversation.
    #[schema(value_type = Object)]
    pub tags: JsonMap,
    /// `OPEN`, `CLOSED`, or the custom label set with `conversations.set-state`.
    pub state: String,
    /// Inbound messages not yet read.
    pub unread_count: i64,
    /// The conversation's custom metadata (what `metadata.upsert` writes; /v1's `metadata`).
    #[schema(value_type = Object)]
    pub user_data: JsonMap,
}

/// The contact as a conversation shows it.
#[derive(Serialize, ToSchema)]
pub struct ContactJson {
    pub display_name: String,
    pub avatar_url: Option<String>,
}

/// A channel (`channels.*`, and a conversation's `channel`).
#[derive(Serialize, ToSchema)]
pub struct ChannelJson {
    pub id: String,
    /// The channel type (`whatsapp`, `facebook`, …).
    pub source: String,
    /// The id at the source (config `sourceChannelId`), else the channel id.
    pub source_channel_id: String,
    /// Whether the channel is active.
    pub connected: bool,
    /// `name`, `image_url` when set, and the channel's other metadata.
    #[schema(value_type = Object)]
    pub metadata: JsonMap,
}

/// A message (a conversation's `last_message`, `messages.*`).
#[derive(Serialize, ToSchema)]
pub struct MessageJson {
    pub id: String,
    /// Airy's payload (`{"text": "Hello"}`, or what `messages.send` sent).
    #[schema(value_type = Object)]
    pub content: Value,
    pub sent_at: String,
    /// `pending`, `delivered` or `failed`.
    pub delivery_state: &'static str,
    pub from_contact: bool,
    pub source: String,
    #[schema(value_type = Object)]
    pub metadata: JsonMap,
    pub sender: SenderJson,
}

/// Who sent a message.
#[derive(Serialize, ToSchema)]
pub struct SenderJson {
    pub id: String,
    pub name: Option<String>,
    pub avatar_url: Option<String>,
}

/// A tag.
#[derive(Serialize, ToSchema)]
pub struct TagJson {
    pub id: String,
    pub name: String,
    /// `tag-blue`, `tag-red`, `tag-green` or `tag-purple`.
    pub color: String,
}

pub fn tag_json(t: Tag) -> TagJson {
    TagJson { id: t.id.to_string(), name: t.name, color: t.color }
}

/// The id at the source a connector stored in the config, else the channel id.
fn source_channel_id(c: &Channel) -> String {
    ["sourceChannelId", "source_channel_id"]
        .iter()
        .find_map(|k| c.config.get(*k).and_then(Value::as_str).filter(|s| !s.trim().is_empty()))
        .map(str::to_string)
        .unwrap_or_else(|| c.id.to_string())
}

pub fn channel_json(c: &Channel) -> ChannelJson {
    let mut metadata = c.metadata.clone();
    metadata.insert("name".into(), Value::String(c.name.clone()));
    ChannelJson {
        id: c.id.to_string(),
        source: c.channel_type.as_str().to_string(),
        source_channel_id: source_channel_id(c),
        connected: c.status == ChannelStatus::Active,
        metadata,
    }
}

/// A channel known only by the conversation's reference (it vanished between two reads).
fn channel_ref_json(c: &ChannelRef) -> ChannelJson {
    let mut metadata = JsonMap::new();
    metadata.insert("name".into(), Value::String(c.name.clone()));
    ChannelJson {
        id: c.id.to_string(),
        source: c.channel_type.as_str().to_string(),
        source_channel_id: c.id.to_string(),
        connected: false,
        metadata,
    }
}

/// Airy's `metadata.state` of a conversation.
pub fn state(c: &Conversation) -> String {
    match (&c.state_label, c.status) {
        (Some(label), _) => label.clone(),
        (None, Status::Closed) => "CLOSED".into(),
        (None, _) => "OPEN".into(),
    }
}

/// The source of a conversation: its channel type (kept after the channel is deleted), else its
/// `source`.
fn conversation_source(c: &Conversation) -> Option<&str> {
    c.channel_type.as_deref().or(c.source.as_deref()).filter(|s| !s.trim().is_empty())
}

/// Airy's default display name: `"<PrettySource> <last 5 characters of the id>"`.
pub fn default_display_name(c: &Conversation) -> String {
    let source = conversation_source(c).unwrap_or("conversation");
    let last = source.rsplit('.').next().unwrap_or(source);
    let mut chars = last.chars();
    let pretty: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => "Conversation".into(),
    };
    let id = c.id.to_string();
    format!("{pretty} {}", &id[id.len() - 5..])
}

/// Airy's delivery state of a core status.
pub fn delivery_state(s: MessageStatus) -> &'static str {
    match s {
        MessageStatus::Pending => "pending",
        MessageStatus::Failed => "failed",
        MessageStatus::Sent | MessageStatus::Delivered | MessageStatus::Read => "delivered",
    }
}

/// A message. `source` is its conversation's channel type (`""` without one); `contact_avatar` the
/// avatar of the conversation's contact, shown as the sender's for an inbound message.
pub fn message_json(m: &Message, source: &str, contact_avatar: Option<&str>) -> MessageJson {
    let inbound = m.direction == Direction::Inbound;
    let sent_at = if inbound { m.sent_at.unwrap_or(m.created_at) } else { m.created_at };
    let sender = SenderJson {
        id: m.sender.id.map(|id| id.to_string()).unwrap_or_else(|| m.sender.kind.as_str().to_string()),
        name: Some(m.sender.name.clone()).filter(|n| !n.is_empty()),
        avatar_url: if m.sender.kind == ActorKind::Contact { contact_avatar.map(str::to_string) } else { None },
    };
    MessageJson {
        id: m.id.to_string(),
        content: super::messages::airy_content(&m.content),
        sent_at: iso(sent_at),
        delivery_state: delivery_state(m.status),
        from_contact: inbound,
        source: source.to_string(),
        metadata: m.metadata.clone(),
        sender,
    }
}

/// A conversation, with its channel as loaded (`None`: rendered from the view's reference).
pub fn conversation_json(v: &ConversationView, channel: Option<&Channel>) -> ConversationJson {
    let c = &v.conversation;
    let contact = v.contact.as_ref();
    let display_name = contact
        .and_then(|ct| ct.name.as_deref())
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| default_display_name(c));
    let avatar = contact.and_then(|ct| ct.avatar_url.as_deref());
    let tags = v.tag_ids.iter().map(|t| (t.to_string(), Value::String(String::new()))).collect();
    let channel = match (channel, &v.channel) {
        (Some(ch), _) => Some(channel_json(ch)),
        (None, Some(r)) => Some(channel_ref_json(r)),
        (None, None) => None,
    };
    let source = c.channel_type.as_deref().unwrap_or("");
    ConversationJson {
        id: c.id.to_string(),
        created_at: iso(c.created_at),
        channel,
        metadata: ConversationMetadata {
            contact: ContactJson { display_name, avatar_url: avatar.map(str::to_string) },
            tags,
            state: state(c),
            unread_count: c.unread_count,
            user_data: c.metadata.clone(),
        },
        last_message: v.last_message.as_ref().map(|m| message_json(m, source, avatar)),
    }
}

/// Conversations with their channels, each distinct channel read once (a conversation list spans
/// few channels). A channel deleted meanwhile is rendered from the view's reference.
pub async fn conversations_json(
    store: &DynStore,
    ctx: &Ctx,
    views: &[ConversationView],
) -> Result<Vec<ConversationJson>> {
    let mut channels: HashMap<ChannelId, Option<Channel>> = HashMap::new();
    for id in views.iter().filter_map(|v| v.conversation.channel_id) {
        if channels.contains_key(&id) {
            continue;
        }
        let channel = match store.get_channel(ctx, id).await {
            Ok(c) => Some(c),
            Err(Error::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        channels.insert(id, channel);
    }
    Ok(views
        .iter()
        .map(|v| {
            let channel = v.conversation.channel_id.and_then(|id| channels.get(&id)).and_then(Option::as_ref);
            conversation_json(v, channel)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_display_name_is_the_pretty_source_and_the_ids_last_five_characters() {
        let id: confab_core::ConversationId = "a688d36c-a85e-44af-bc02-4248c2c97622".parse().unwrap();
        let now = confab_core::time::now();
        let mut c = Conversation {
            id,
            channel_type: Some("twilio.sms".into()),
            status: Status::Snoozed,
            ..Conversation::new(confab_core::TenantId::new(), now)
        };
        assert_eq!(default_display_name(&c), "Sms 97622");
        c.channel_type = Some("whatsapp".into());
        assert_eq!(default_display_name(&c), "Whatsapp 97622");
        c.channel_type = None;
        assert_eq!(default_display_name(&c), "Conversation 97622");
        assert_eq!(state(&c), "OPEN");
        c.status = Status::Closed;
        assert_eq!(state(&c), "CLOSED");
        c.state_label = Some("ESCALATED".into());
        assert_eq!(state(&c), "ESCALATED");
    }

    #[test]
    fn sent_delivered_and_read_are_airys_delivered() {
        assert_eq!(
            MessageStatus::ALL.map(delivery_state),
            ["pending", "delivered", "delivered", "delivered", "failed"]
        );
    }
}
