//! The Protocol JSON shapes: bare snake_case objects, unix-second timestamps, `null` where unset,
//! ids as lowercase UUIDs.
//!
//! | Protocol | core |
//! |---|---|
//! | conversation `contact_id` | the conversation's contact (any face's) |
//! | conversation `group_id` | the group whose conversation it is |
//! | conversation `last_active_at` | the newest message's time |
//! | conversation `last_opened_at` | when the authenticated user last retrieved it |
//! | contact `username`, `phone_number`, `display_name`, `avatar_url` | contact username, phone (E.164), display name, avatar |
//! | contact `conversation_id` | the contact's channel-less Protocol conversation (`null` until `POST /conversations {contact_id}`) |
//! | contact `last_active_at` | the newest message time of the contact's conversations |
//! | message `message` | the text of a text message (other content types: their text, else `null`) |
//! | message `contact` | inbound: the sending contact; outbound: a contact made from the sending user (`id` the user's, `username` its name) or bot |
//! | message `read_at` | the message's read time |
//! | message `updated_at` | the last `PUT` that changed it (`null` before) |
//! | message `reactions` | `[{"emoji": ["username", …]}, …]`, one object per emoji, emojis sorted |
//! | attachment `file_url` | a signed download URL valid for one hour |

use confab_core::model::{ActorKind, ConversationView};
use confab_core::{ConversationId, Time};
use confab_store::{Attachment, Group, ProtocolContact, ProtocolMessage};
use serde::Serialize;
use std::collections::HashMap;
use utoipa::ToSchema;

/// Unix seconds.
pub fn unix(t: Time) -> i64 {
    t.timestamp()
}

fn unix_opt(t: Option<Time>) -> Option<i64> {
    t.map(unix)
}

/// A conversation.
#[derive(Serialize, ToSchema)]
pub struct ProtocolConversationJson {
    pub id: String,
    pub contact_id: Option<String>,
    pub group_id: Option<String>,
    pub pinned_message_id: Option<String>,
    pub is_pinned: bool,
    pub is_muted: bool,
    pub last_active_at: Option<i64>,
    pub last_opened_at: Option<i64>,
    pub created_at: i64,
    pub archived_at: Option<i64>,
}

pub fn conversation(v: &ConversationView, last_opened: Option<Time>) -> ProtocolConversationJson {
    let c = &v.conversation;
    ProtocolConversationJson {
        id: c.id.to_string(),
        contact_id: c.contact_id.map(|x| x.to_string()),
        group_id: c.group_id.map(|x| x.to_string()),
        pinned_message_id: c.pinned_message_id.map(|x| x.to_string()),
        is_pinned: c.is_pinned,
        is_muted: c.is_muted,
        last_active_at: unix_opt(c.last_message_at),
        last_opened_at: unix_opt(last_opened),
        created_at: unix(c.created_at),
        archived_at: unix_opt(c.archived_at),
    }
}

pub fn conversations(
    items: &[ConversationView],
    opened: &HashMap<ConversationId, Time>,
) -> Vec<ProtocolConversationJson> {
    items.iter().map(|v| conversation(v, opened.get(&v.conversation.id).copied())).collect()
}

/// A contact.
#[derive(Serialize, ToSchema)]
pub struct ProtocolContactJson {
    pub id: String,
    pub username: Option<String>,
    pub phone_number: Option<String>,
    pub avatar_url: Option<String>,
    /// Defaults to the username.
    pub display_name: Option<String>,
    pub conversation_id: Option<String>,
    pub last_active_at: Option<i64>,
    pub created_at: i64,
}

pub fn contact(p: &ProtocolContact) -> ProtocolContactJson {
    let c = &p.contact;
    ProtocolContactJson {
        id: c.id.to_string(),
        username: c.username.clone(),
        phone_number: c.phone.clone(),
        avatar_url: c.avatar_url.clone(),
        display_name: c.display_name.clone().or_else(|| c.username.clone()),
        conversation_id: p.conversation_id.map(|x| x.to_string()),
        last_active_at: unix_opt(p.last_active_at),
        created_at: unix(c.created_at),
    }
}

/// A contact inside a message (without `display_name` and `conversation_id`).
#[derive(Serialize, ToSchema, Clone)]
pub struct ProtocolEmbeddedContactJson {
    pub id: Option<String>,
    pub username: Option<String>,
    pub phone_number: Option<String>,
    pub avatar_url: Option<String>,
    pub last_active_at: Option<i64>,
    pub created_at: Option<i64>,
}

/// A group.
#[derive(Serialize, ToSchema)]
pub struct ProtocolGroupJson {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub avatar_url: Option<String>,
    pub conversation_id: Option<String>,
    pub contacts: Vec<ProtocolContactJson>,
    pub created_at: i64,
    pub archived_at: Option<i64>,
}

pub fn group(g: &Group) -> ProtocolGroupJson {
    ProtocolGroupJson {
        id: g.id.to_string(),
        name: g.name.clone(),
        description: g.description.clone(),
        avatar_url: g.avatar_url.clone(),
        conversation_id: g.conversation_id.map(|x| x.to_string()),
        contacts: g.contacts.iter().map(contact).collect(),
        created_at: unix(g.created_at),
        archived_at: unix_opt(g.archived_at),
    }
}

/// An attachment.
#[derive(Serialize, ToSchema)]
pub struct ProtocolAttachmentJson {
    pub id: String,
    pub message_id: Option<String>,
    pub filename: String,
    /// A signed download URL, valid for one hour.
    pub file_url: String,
    /// The MIME type.
    pub file_type: String,
    /// Bytes.
    pub file_size: i64,
    pub created_at: i64,
}

pub fn attachment(a: &Attachment, file_url: String) -> ProtocolAttachmentJson {
    ProtocolAttachmentJson {
        id: a.id.to_string(),
        message_id: a.message_id.map(|x| x.to_string()),
        filename: a.filename.clone(),
        file_url,
        file_type: a.content_type.clone(),
        file_size: a.size,
        created_at: unix(a.created_at),
    }
}

/// A message.
#[derive(Serialize, ToSchema)]
pub struct ProtocolMessageJson {
    pub id: String,
    pub conversation_id: String,
    pub contact: ProtocolEmbeddedContactJson,
    pub message: Option<String>,
    /// `[{"emoji": ["username", …]}]`.
    #[schema(value_type = Vec<Object>)]
    pub reactions: Vec<serde_json::Value>,
    pub attachments: Vec<ProtocolAttachmentJson>,
    pub read_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: Option<i64>,
}

/// The sender of `m`: the contact when it is one (from `contacts`, loaded by the caller), else a
/// contact made from the user or bot.
pub fn message(
    m: &ProtocolMessage,
    contacts: &HashMap<uuid::Uuid, ProtocolContact>,
    file_url: &dyn Fn(&Attachment) -> String,
) -> ProtocolMessageJson {
    let msg = &m.message;
    let sender = &msg.sender;
    let contact = match (sender.kind, sender.id.and_then(|id| contacts.get(&id))) {
        (ActorKind::Contact, Some(c)) => ProtocolEmbeddedContactJson {
            id: Some(c.contact.id.to_string()),
            username: c.contact.username.clone().or_else(|| c.contact.name.clone()),
            phone_number: c.contact.phone.clone(),
            avatar_url: c.contact.avatar_url.clone(),
            last_active_at: unix_opt(c.last_active_at),
            created_at: Some(unix(c.contact.created_at)),
        },
        _ => ProtocolEmbeddedContactJson {
            id: sender.id.map(|u| u.to_string()),
            username: Some(sender.name.clone()).filter(|n| !n.is_empty()),
            phone_number: None,
            avatar_url: None,
            last_active_at: None,
            created_at: None,
        },
    };
    ProtocolMessageJson {
        id: msg.id.to_string(),
        conversation_id: msg.conversation_id.to_string(),
        contact,
        message: msg.text.clone(),
        reactions: m.reactions.iter().map(|(k, v)| serde_json::json!({ k: v })).collect(),
        attachments: m.attachments.iter().map(|a| attachment(a, file_url(a))).collect(),
        read_at: unix_opt(msg.read_at),
        created_at: unix(msg.created_at),
        updated_at: unix_opt(m.updated_at),
    }
}
