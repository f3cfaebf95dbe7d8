//! `/v1/conversations`: list, get, create, update (the seed's first four endpoints), and how a
//! conversation is rendered everywhere in the face (also by `conversation_actions`).
//!
//! Every response carries the full conversation (a superset of the seed's partial examples), with
//! every attribute present (`null` when unset) so clients see one stable shape.

use super::envelope::{iso, Resource};
use super::extract::LinktorError;
use crate::AppState;
use confab_core::model::*;
use confab_core::{ConversationId, Error, Resource as R, Time};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}

/// A path id; one that does not parse is simply not found.
pub fn conversation_id(raw: &str) -> Result<ConversationId, LinktorError> {
    raw.parse().map_err(|_| Error::not_found(R::Conversation).into())
}

/// `{id, name}` of who did something.
#[derive(Serialize, ToSchema, Clone)]
pub struct ActorRef {
    pub id: Option<String>,
    pub name: String,
}

fn actor(a: Option<Actor>) -> Option<ActorRef> {
    a.map(|a| ActorRef { id: a.id.map(|i| i.to_string()), name: a.name })
}

/// The conversation's channel.
#[derive(Serialize, ToSchema)]
pub struct ChannelSummary {
    pub id: String,
    #[serde(rename = "type")]
    pub channel_type: &'static str,
    pub name: String,
}

/// The conversation's contact.
#[derive(Serialize, ToSchema)]
pub struct ContactSummary {
    pub id: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub avatar: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: JsonMap,
}

/// Who the conversation is assigned to.
#[derive(Serialize, ToSchema)]
pub struct AssigneeSummary {
    pub id: String,
    /// user or bot.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub name: String,
}

/// The bot handling the conversation.
#[derive(Serialize, ToSchema)]
pub struct BotSummary {
    pub id: String,
    pub name: String,
    pub active: bool,
}

/// A conversation's attributes.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationAttributes {
    /// open, pending, snoozed or closed.
    pub status: &'static str,
    /// low, normal, high or urgent.
    pub priority: &'static str,
    /// When a snoozed conversation opens again.
    pub snoozed_until: Option<String>,
    pub subject: Option<String>,
    pub channel: Option<ChannelSummary>,
    pub contact: Option<ContactSummary>,
    pub assignee: Option<AssigneeSummary>,
    pub bot: Option<BotSummary>,
    /// The newest message (`null` until the conversation has messages).
    #[schema(value_type = Option<Object>)]
    pub last_message: Option<serde_json::Value>,
    pub unread_count: i64,
    pub message_count: i64,
    pub first_message_at: Option<String>,
    pub last_message_at: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: JsonMap,
    pub tags: Vec<String>,
    pub source: Option<String>,
    pub closed_at: Option<String>,
    pub closed_by: Option<ActorRef>,
    /// resolved, unresolved or spam.
    pub resolution: Option<&'static str>,
    pub closure_reason: Option<String>,
    pub reopened_at: Option<String>,
    pub reopened_by: Option<ActorRef>,
    pub assigned_at: Option<String>,
    pub assigned_by: Option<ActorRef>,
    pub transferred_at: Option<String>,
    pub transferred_by: Option<ActorRef>,
    pub created_at: String,
    pub updated_at: String,
}

fn iso_opt(t: Option<Time>) -> Option<String> {
    t.map(iso)
}

/// The Linktor resource of a conversation.
pub fn resource(v: ConversationView) -> Resource<ConversationAttributes> {
    let c = v.conversation;
    Resource::new(
        "conversation",
        c.id,
        ConversationAttributes {
            status: c.status.as_str(),
            priority: c.priority.as_str(),
            snoozed_until: iso_opt(c.snoozed_until),
            subject: c.subject,
            channel: v.channel.map(|ch| ChannelSummary {
                id: ch.id.to_string(),
                channel_type: ch.channel_type.as_str(),
                name: ch.name,
            }),
            contact: v.contact.map(|ct| ContactSummary {
                id: ct.id.to_string(),
                name: ct.name,
                phone: ct.phone,
                email: ct.email,
                avatar: ct.avatar_url,
                metadata: ct.metadata,
            }),
            assignee: v.assignee_ref.map(|a| AssigneeSummary {
                id: a.id.map(|i| i.to_string()).unwrap_or_default(),
                kind: a.kind.as_str(),
                name: a.name,
            }),
            bot: v.bot.map(|b| BotSummary { id: b.id.to_string(), name: b.name, active: b.active }),
            last_message: None,
            unread_count: c.unread_count,
            message_count: c.message_count,
            first_message_at: iso_opt(c.first_message_at),
            last_message_at: iso_opt(c.last_message_at),
            metadata: c.metadata,
            tags: v.tags,
            source: c.source,
            closed_at: iso_opt(c.closed_at),
            closed_by: actor(c.closed_by),
            resolution: c.resolution.map(Resolution::as_str),
            closure_reason: c.closure_reason,
            reopened_at: iso_opt(c.reopened_at),
            reopened_by: actor(c.reopened_by),
            assigned_at: iso_opt(c.assigned_at),
            assigned_by: actor(c.assigned_by),
            transferred_at: iso_opt(c.transferred_at),
            transferred_by: actor(c.transferred_by),
            created_at: iso(c.created_at),
            updated_at: iso(c.updated_at),
        },
    )
}
