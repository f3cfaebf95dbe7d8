//! `/v1/conversations`: list, get, create, update (the seed's first four endpoints), and how a
//! conversation is rendered everywhere in the face (also by `conversation_actions`).
//!
//! Every response carries the full conversation (a superset of the seed's partial examples), with
//! every attribute present (`null` when unset) so clients see one stable shape.
//!
//! Decisions where the seed is silent:
//!
//! - **List.** `status` takes one status or a comma-separated list (`open,pending`), and `snoozed`
//!   too. `channelId`, `contactId`, `assigneeId` (a user or a bot) and `botId` are filters, not
//!   lookups: a value that is not an id is 400 naming the field, an id that matches nothing gives an
//!   empty page. `startDate`/`endDate` bound `createdAt`, both inclusive; a date-only `endDate` covers
//!   its whole day, and date-times are compared at the millisecond precision Confab renders, so a
//!   `createdAt` copied from a response includes that conversation as either bound. An `endDate`
//!   before `startDate` is 400 naming `endDate`. `search` matches contact names: every word (up to
//!   8) must appear, case-insensitively. `sortBy=priority` sorts by rank (urgent > high > normal >
//!   low); `lastMessageAt` puts conversations without messages last in both orders; ties are broken
//!   by id, so pages are stable. `sortBy` also accepts the snake_case spellings (`updated_at`, …).
//! - **Get.** `messageLimit` (1 to 100, default 20) is validated whether or not `includeMessages`
//!   is set; `relationships.messages` is present only with `includeMessages=true`: the newest
//!   `messageLimit` messages, oldest first, each `{id, direction, from{type, id, name}, content,
//!   status, timestamp}` (`timestamp` is the message's `createdAt`). Including messages needs the
//!   `messages:read` scope besides `conversations:read` (403 naming it otherwise); `lastMessage` is
//!   part of the conversation and needs only `conversations:read`.
//! - **Create.** `channelId` is required (a channel conversation always has a contact, so
//!   `contactId` or an inline `contact` is required too: 400 naming `contactId`). Every invalid field
//!   is reported in one 400 before anything is looked up; then an unknown (or unparsable) channel,
//!   contact, assignee or bot is 404 naming its field, in that order. When both `contactId` and
//!   `contact` are given, `contactId` wins and `contact` is ignored. An inline contact needs a phone
//!   (E.164, normalised) or an email (lower-cased); it reuses the tenant's contact with the same
//!   phone, else the same email, unchanged, and otherwise creates it (with `conversations:write`
//!   alone: the contact is part of the conversation being created). `assigneeType` is optional (the
//!   kind is detected); a bot assignee also becomes the conversation's bot when `botId` is absent.
//!   `tags` are trimmed, de-duplicated (first occurrence kept, order kept), at most 50, and created
//!   on first use. `priority` defaults to `normal`; `source` is `api`. A deactivated channel still
//!   takes conversations created here (deactivation concerns connectors, not agents).
//! - **Update.** Absent fields are left alone. `snoozedUntil` alone snoozes (it implies
//!   `status: snoozed`); with another status it is 400. Setting the status a conversation already
//!   has is a 200 no-op without an event; `closed` is the same close as `/close` (`closedAt`,
//!   `closedBy`, `conversation.closed`) and leaving `closed` is a reopen (`reopenedAt`, `reopenedBy`,
//!   `conversation.reopened`). `metadata` is deep-merged (`null` deletes a key); `tags` replaces the
//!   list (`[]` clears it); `subject: null` or `""` clears the subject.

use super::envelope::{self, iso, page_request, Resource};
use super::extract::Path;
use super::extract::{ErrorDoc, Json, LinktorError};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::faces::params::{json_object, text, Params};
use crate::AppState;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use confab_core::model::*;
use confab_core::rules::contact::{normalize_email, normalize_phone};
use confab_core::{time, BotId, ChannelId, ContactId, ConversationId, Error, FieldError, Resource as R, Time};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_conversations, create_conversation))
        .routes(routes!(get_conversation, update_conversation))
}

/// The most tags a conversation carries.
pub const MAX_TAGS: usize = 50;
/// The longest subject accepted.
pub const SUBJECT_MAX: usize = 500;
/// The longest contact name accepted on an inline contact.
const NAME_MAX: usize = 200;
/// The longest avatar URL accepted on an inline contact.
const URL_MAX: usize = 2048;

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
            last_message: v.last_message.map(|m| {
                serde_json::json!({
                    "id": m.id,
                    "content": m.content,
                    "direction": m.direction.as_str(),
                    "status": m.status.as_str(),
                    "timestamp": iso(m.created_at),
                })
            }),
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

// ---------------------------------------------------------------------------------------------
// Request parsing shared by the handlers (and by `conversation_actions` for tags).

/// Validates a list of tag names: each trimmed and checked (1 to 100 characters, no control
/// characters; a bad one is named `field[i]`), duplicates dropped keeping the first, at most
/// [`MAX_TAGS`]. Every problem is reported in one 400.
pub fn tag_names(field: &str, raw: Vec<String>) -> Result<Vec<String>, ApiError> {
    let mut errors = Vec::new();
    let mut names: Vec<String> = Vec::with_capacity(raw.len().min(MAX_TAGS));
    for (i, value) in raw.iter().enumerate() {
        match normalize_tag_name(value) {
            Some(name) => {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
            None => errors.push(FieldError::new(
                format!("{field}[{i}]"),
                format!("must be a tag name of 1 to {TAG_NAME_MAX} characters without control characters"),
            )),
        }
        // Stop early on hostile input; the count error below already says enough.
        if names.len() > MAX_TAGS || errors.len() >= MAX_TAGS {
            break;
        }
    }
    if names.len() > MAX_TAGS {
        errors.push(FieldError::new(field, format!("must hold at most {MAX_TAGS} tags")));
    }
    if errors.is_empty() {
        Ok(names)
    } else {
        Err(ApiError::invalid_fields(errors))
    }
}

/// Moves the field errors of a failed parse into `errors`.
fn collect<T>(errors: &mut Vec<FieldError>, r: Result<T, ApiError>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            errors.extend(e.details);
            None
        }
    }
}

fn parse_priority(raw: &str, errors: &mut Vec<FieldError>) -> Option<Priority> {
    let p = Priority::parse(raw.trim());
    if p.is_none() {
        errors.push(FieldError::new("priority", "must be one of: low, normal, high, urgent"));
    }
    p
}

/// A non-empty trimmed string, else `None`.
fn present(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|s| !s.is_empty())
}

/// The last instant of the millisecond `t` falls in: an inclusive upper bound compared at the
/// precision Confab renders (a date-only bound is already the last instant of its day).
fn end_of_millisecond(t: Time) -> Time {
    let micros = time::to_micros(t);
    time::from_micros(micros - micros.rem_euclid(1000) + 999)
}

// ---------------------------------------------------------------------------------------------
// GET /v1/conversations

fn parse_sort(s: &str) -> Option<ConversationSort> {
    Some(match s {
        "updatedAt" | "updated_at" => ConversationSort::UpdatedAt,
        "createdAt" | "created_at" => ConversationSort::CreatedAt,
        "lastMessageAt" | "last_message_at" => ConversationSort::LastMessageAt,
        "priority" => ConversationSort::Priority,
        _ => return None,
    })
}

fn parse_order(s: &str) -> Option<SortOrder> {
    if s.eq_ignore_ascii_case("asc") {
        Some(SortOrder::Asc)
    } else if s.eq_ignore_ascii_case("desc") {
        Some(SortOrder::Desc)
    } else {
        None
    }
}

/// `status`: one status or a comma-separated list, each at most once.
fn statuses(p: &mut Params) -> Vec<Status> {
    let mut out = Vec::new();
    let mut bad = false;
    for raw in p.list("status") {
        match Status::parse(&raw) {
            Some(s) if !out.contains(&s) => out.push(s),
            Some(_) => {}
            None => bad = true,
        }
    }
    if bad {
        p.error("status", "must be one of: open, pending, snoozed, closed (one, or a comma-separated list)");
    }
    out
}

/// List conversations.
///
/// Filters combine with AND; `meta.pagination` gives the page, its size, the totals and whether
/// pages exist before and after.
#[utoipa::path(get, path = "/conversations", tag = "conversations",
    params(
        ("page" = Option<u32>, Query, description = "Page number, from 1"),
        ("perPage" = Option<u32>, Query, description = "Items per page (default 20, max 100)"),
        ("status" = Option<String>, Query, description = "open, pending, snoozed or closed; or a comma-separated list"),
        ("channelId" = Option<String>, Query, description = "Only conversations on this channel"),
        ("channelType" = Option<String>, Query, description = "Only conversations on channels of this type"),
        ("assigneeId" = Option<String>, Query, description = "Only conversations assigned to this user or bot"),
        ("contactId" = Option<String>, Query, description = "Only conversations with this contact"),
        ("botId" = Option<String>, Query, description = "Only conversations handled by this bot"),
        ("startDate" = Option<String>, Query, description = "Created at or after (ISO 8601 date or date-time)"),
        ("endDate" = Option<String>, Query, description = "Created at or before (ISO 8601; a date covers its whole day)"),
        ("search" = Option<String>, Query, description = "Words of the contact's name, case-insensitive"),
        ("sortBy" = Option<String>, Query, description = "updatedAt (default), createdAt, lastMessageAt or priority"),
        ("sortOrder" = Option<String>, Query, description = "asc or desc (default)"),
    ),
    responses(
        (status = 200, body = envelope::Doc<Vec<Resource<ConversationAttributes>>>),
        (status = 400, description = "VALIDATION_ERROR naming each bad parameter", body = ErrorDoc),
        (status = 403, description = "INSUFFICIENT_PERMISSIONS (conversations:read)", body = ErrorDoc),
    ),
    security(("bearer" = []), ("api_key" = [])))]
async fn list_conversations(
    State(s): State<AppState>,
    auth: Auth,
    RawQuery(q): RawQuery,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Read)?;
    let mut p = Params::from_query(q.as_deref());
    let page = page_request(&mut p);
    let statuses = statuses(&mut p);
    let channel_id = p.uuid("channelId").map(ChannelId);
    let channel_type = p.one_of("channelType", ChannelType::parse, &ChannelType::list());
    let assignee_id = p.uuid("assigneeId");
    let contact_id = p.uuid("contactId").map(ContactId);
    let bot_id = p.uuid("botId").map(BotId);
    let created_from = p.time("startDate", false);
    let created_to = p.time("endDate", true).map(end_of_millisecond);
    if let (Some(from), Some(to)) = (created_from, created_to) {
        if to < from {
            p.error("endDate", "must not be before startDate");
        }
    }
    let search = p.str("search");
    let sort = p.one_of("sortBy", parse_sort, "updatedAt, createdAt, lastMessageAt, priority");
    let order = p.one_of("sortOrder", parse_order, "asc, desc");
    p.finish()?;
    let filter = ConversationFilter {
        statuses,
        channel_id,
        channel_type: channel_type.map(|t| t.as_str().to_string()),
        assignee_id,
        contact_id,
        bot_id,
        created_from,
        created_to,
        search,
        sort: sort.unwrap_or_default(),
        order: order.unwrap_or_default(),
        ..Default::default()
    };
    let conversations = s.store.list_conversations(&ctx, &filter, page).await?;
    Ok(envelope::page_of(conversations, page, resource))
}

// ---------------------------------------------------------------------------------------------
// GET /v1/conversations/{id}

/// The largest `messageLimit`.
const MESSAGE_LIMIT_MAX: u32 = 100;

/// Get a conversation.
///
/// With `includeMessages=true` (which also needs `messages:read`), `relationships.messages` holds the
/// newest `messageLimit` messages, oldest first, each `{id, direction, from, content, status,
/// timestamp}`.
#[utoipa::path(get, path = "/conversations/{id}", tag = "conversations",
    params(
        ("id" = String, Path, description = "The conversation's id"),
        ("includeMessages" = Option<bool>, Query, description = "Include the newest messages, oldest first (default false; needs messages:read)"),
        ("messageLimit" = Option<u32>, Query, description = "How many messages to include (1 to 100, default 20)"),
    ),
    responses(
        (status = 200, body = envelope::Doc<Resource<ConversationAttributes>>),
        (status = 400, description = "VALIDATION_ERROR naming each bad parameter", body = ErrorDoc),
        (status = 403, description = "INSUFFICIENT_PERMISSIONS (conversations:read; also messages:read with includeMessages)", body = ErrorDoc),
        (status = 404, description = "CONVERSATION_NOT_FOUND", body = ErrorDoc),
    ),
    security(("bearer" = []), ("api_key" = [])))]
async fn get_conversation(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Read)?;
    let id = conversation_id(&id)?;
    let mut p = Params::from_query(q.as_deref());
    let include_messages = p.bool("includeMessages", false);
    // Validated whether or not messages are included, so clients learn their mistakes.
    let message_limit = p.int("messageLimit", 20, 1, MESSAGE_LIMIT_MAX);
    p.finish()?;
    if include_messages {
        auth.require(ScopeResource::Messages, Access::Read)?;
    }
    let view = s.store.get_conversation(&ctx, id).await?;
    let mut doc = resource(view);
    if include_messages {
        // A second read: a message arriving in between may show here and not yet in the counters.
        let messages = s.store.recent_messages(&ctx, id, message_limit).await?;
        let messages: Vec<RecentMessage> = messages.into_iter().map(recent_message).collect();
        doc.relationships = Some(serde_json::json!({ "messages": messages }));
    }
    Ok(envelope::one(StatusCode::OK, doc))
}

/// A message of `relationships.messages` (`includeMessages`): the seed's `{id, direction, content,
/// timestamp}` with the message's `status` and sender (`from`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecentMessage {
    pub id: String,
    /// inbound or outbound.
    pub direction: &'static str,
    pub from: super::message_render::Sender,
    #[schema(value_type = Object)]
    pub content: JsonMap,
    /// pending, sent, delivered, read or failed.
    pub status: &'static str,
    /// When the message was created.
    pub timestamp: String,
}

fn recent_message(m: Message) -> RecentMessage {
    RecentMessage {
        id: m.id.to_string(),
        direction: m.direction.as_str(),
        from: super::message_render::sender(m.sender),
        content: m.content,
        status: m.status.as_str(),
        timestamp: iso(m.created_at),
    }
}

// ---------------------------------------------------------------------------------------------
// POST /v1/conversations

/// An inline contact of `POST /v1/conversations`: a phone or an email is required.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InlineContact {
    /// E.164 (`+5511999999999`); spaces, dashes, dots and parentheses are removed.
    pub phone: Option<String>,
    /// Stored lower-cased.
    pub email: Option<String>,
    /// Display name (derived from first and last name when absent).
    pub name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Avatar URL.
    #[serde(alias = "avatarUrl")]
    pub avatar: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<JsonMap>,
}

/// Request body of `POST /v1/conversations`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateConversation {
    /// The channel (required).
    pub channel_id: Option<String>,
    /// An existing contact; wins over `contact` when both are given.
    pub contact_id: Option<String>,
    /// A contact found by phone or email, or created.
    pub contact: Option<InlineContact>,
    /// A user or bot to assign the conversation to.
    pub assignee_id: Option<String>,
    /// user or bot; detected when absent.
    pub assignee_type: Option<String>,
    /// The bot handling the conversation.
    pub bot_id: Option<String>,
    /// Free-form JSON object (nested at most 16 levels).
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<JsonMap>,
    /// Tag names (created on first use), at most 50.
    pub tags: Option<Vec<String>>,
    /// low, normal (default), high or urgent.
    pub priority: Option<String>,
    /// At most 500 characters.
    pub subject: Option<String>,
}

/// The inline contact, validated: a phone or an email, normalised.
fn inline_contact(c: InlineContact, errors: &mut Vec<FieldError>) -> Option<NewContact> {
    let before = errors.len();
    let phone = present(c.phone.as_deref()).and_then(|raw| {
        let p = normalize_phone(raw);
        if p.is_none() {
            errors.push(FieldError::new("contact.phone", "must be a phone number in E.164 format (+5511999999999)"));
        }
        p
    });
    let email = present(c.email.as_deref()).and_then(|raw| {
        let e = normalize_email(raw);
        if e.is_none() {
            errors.push(FieldError::new("contact.email", "must be an email address (name@example.com)"));
        }
        e
    });
    if errors.len() == before && phone.is_none() && email.is_none() {
        errors.push(FieldError::new("contact", "needs a phone (E.164) or an email"));
    }
    let name = collect(errors, text("contact.name", c.name, NAME_MAX)).flatten();
    let first_name = collect(errors, text("contact.firstName", c.first_name, NAME_MAX)).flatten();
    let last_name = collect(errors, text("contact.lastName", c.last_name, NAME_MAX)).flatten();
    let avatar_url = collect(errors, text("contact.avatar", c.avatar, URL_MAX)).flatten();
    let metadata = collect(errors, json_object("contact.metadata", c.metadata)).flatten();
    (errors.len() == before).then(|| NewContact {
        name,
        first_name,
        last_name,
        phone,
        email,
        avatar_url,
        metadata: metadata.unwrap_or_default(),
        ..NewContact::default()
    })
}

/// Create a conversation.
///
/// Answers 201 with the new conversation, `open`, with no messages.
#[utoipa::path(post, path = "/conversations", tag = "conversations", request_body = CreateConversation,
    responses(
        (status = 201, body = envelope::Doc<Resource<ConversationAttributes>>),
        (status = 400, description = "VALIDATION_ERROR naming each invalid field", body = ErrorDoc),
        (status = 403, description = "INSUFFICIENT_PERMISSIONS (conversations:write)", body = ErrorDoc),
        (status = 404, description = "CHANNEL_NOT_FOUND, CONTACT_NOT_FOUND, ASSIGNEE_NOT_FOUND or BOT_NOT_FOUND, naming the field", body = ErrorDoc),
        (status = 409, description = "CONVERSATION_EXISTS: the contact has an open, pending or snoozed conversation on the channel", body = ErrorDoc),
    ),
    security(("bearer" = []), ("api_key" = [])))]
async fn create_conversation(
    State(s): State<AppState>,
    auth: Auth,
    Json(body): Json<CreateConversation>,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Write)?;
    let mut errors = Vec::new();
    let channel_raw = present(body.channel_id.as_deref());
    if channel_raw.is_none() {
        errors.push(FieldError::new("channelId", "is required"));
    }
    let contact_raw = present(body.contact_id.as_deref());
    let inline = match (contact_raw, body.contact) {
        (Some(_), _) => None,
        (None, Some(c)) => inline_contact(c, &mut errors),
        (None, None) => {
            errors.push(FieldError::new("contactId", "is required (or give an inline contact with a phone or email)"));
            None
        }
    };
    let assignee_kind = match present(body.assignee_type.as_deref()) {
        None => None,
        Some("user") => Some(ActorKind::User),
        Some("bot") => Some(ActorKind::Bot),
        Some(_) => {
            errors.push(FieldError::new("assigneeType", "must be one of: user, bot"));
            None
        }
    };
    let priority = body.priority.as_deref().and_then(|raw| parse_priority(raw, &mut errors));
    let subject = collect(&mut errors, text("subject", body.subject, SUBJECT_MAX)).flatten();
    let metadata = collect(&mut errors, json_object("metadata", body.metadata)).flatten();
    let tags = match body.tags {
        Some(raw) => collect(&mut errors, tag_names("tags", raw)).unwrap_or_default(),
        None => Vec::new(),
    };
    if !errors.is_empty() {
        return Err(ApiError::invalid_fields(errors).into());
    }

    // Ids that do not parse name nothing that exists: 404, in the order the store looks them up.
    let channel_id: ChannelId =
        channel_raw.unwrap_or_default().parse().map_err(|_| Error::not_found_field(R::Channel, "channelId"))?;
    let contact = match (contact_raw, inline) {
        (Some(raw), _) => {
            ContactInput::Existing(raw.parse().map_err(|_| Error::not_found_field(R::Contact, "contactId"))?)
        }
        (None, Some(new)) => ContactInput::Inline(Box::new(new)),
        (None, None) => return Err(ApiError::invalid("contactId", "is required").into()),
    };
    let assignee_id = present(body.assignee_id.as_deref())
        .map(|raw| {
            raw.parse::<uuid::Uuid>().map_err(|_| match assignee_kind {
                Some(ActorKind::Bot) => Error::not_found_field(R::Bot, "assigneeId"),
                _ => Error::not_found_field(R::Assignee, "assigneeId"),
            })
        })
        .transpose()?;
    let bot_id = present(body.bot_id.as_deref())
        .map(|raw| raw.parse::<BotId>().map_err(|_| Error::not_found_field(R::Bot, "botId")))
        .transpose()?;

    let new = NewConversation {
        channel_id: Some(channel_id),
        contact: Some(contact),
        assignee_id,
        assignee_kind,
        bot_id,
        subject,
        priority: priority.unwrap_or(Priority::Normal),
        metadata: metadata.unwrap_or_default(),
        tags,
        source: Some("api".into()),
        inbox_id: None,
        channel_type: None,
    };
    let view = s.store.create_conversation(&ctx, new).await?;
    Ok(envelope::one(StatusCode::CREATED, resource(view)))
}

// ---------------------------------------------------------------------------------------------
// PATCH /v1/conversations/{id}

/// Request body of `PATCH /v1/conversations/{id}`; absent fields are left as they are.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateConversation {
    /// open, pending, snoozed (needs `snoozedUntil`) or closed.
    pub status: Option<String>,
    /// When a snoozed conversation opens again (ISO 8601, in the future). Alone, it snoozes.
    pub snoozed_until: Option<String>,
    /// Deep-merged into the existing metadata; a `null` value deletes the key.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<JsonMap>,
    /// Replaces the tags (order kept; `[]` removes them all).
    pub tags: Option<Vec<String>>,
    /// low, normal, high or urgent.
    pub priority: Option<String>,
    /// `null` or `""` clears it.
    #[serde(default, deserialize_with = "crate::faces::params::double_option")]
    #[schema(value_type = Option<String>)]
    pub subject: Option<Option<String>>,
}

/// The status change a PATCH asks for, checked (the core checks again inside the transaction).
fn status_change(
    status: Option<&str>,
    snoozed_until: Option<&str>,
    now: Time,
    errors: &mut Vec<FieldError>,
) -> Option<StatusChange> {
    let status = match status {
        None => None,
        Some(raw) => match Status::parse(raw.trim()) {
            Some(s) => Some(s),
            None => {
                errors.push(FieldError::new("status", "must be one of: open, pending, snoozed, closed"));
                return None;
            }
        },
    };
    let until = match present(snoozed_until) {
        None => None,
        Some(raw) => match time::parse_iso(raw, false) {
            Some(t) => Some(t),
            None => {
                errors.push(FieldError::new(
                    "snoozedUntil",
                    "must be an ISO 8601 date-time (2024-01-15T10:00:00Z) or date",
                ));
                return None;
            }
        },
    };
    let target = match (status, until) {
        (None, None) => return None,
        (None, Some(_)) => Status::Snoozed,
        (Some(s), _) => s,
    };
    match (target, until) {
        (Status::Snoozed, None) => {
            errors.push(FieldError::new("snoozedUntil", "is required when the status is snoozed"));
            None
        }
        (Status::Snoozed, Some(t)) if t <= now => {
            errors.push(FieldError::new("snoozedUntil", "must be in the future"));
            None
        }
        (Status::Snoozed, Some(t)) => Some(StatusChange { status: Status::Snoozed, snoozed_until: Some(t) }),
        (_, Some(_)) => {
            errors.push(FieldError::new("snoozedUntil", "may only be given with the status snoozed"));
            None
        }
        (s, None) => Some(StatusChange { status: s, snoozed_until: None }),
    }
}

/// Update a conversation.
///
/// Answers with the whole conversation after the change. A status change is the same operation as
/// `/close`, `/reopen` and `/snooze`, with the same stamps and event.
#[utoipa::path(patch, path = "/conversations/{id}", tag = "conversations",
    params(("id" = String, Path, description = "The conversation's id")),
    request_body = UpdateConversation,
    responses(
        (status = 200, body = envelope::Doc<Resource<ConversationAttributes>>),
        (status = 400, description = "VALIDATION_ERROR naming each invalid field", body = ErrorDoc),
        (status = 403, description = "INSUFFICIENT_PERMISSIONS (conversations:write)", body = ErrorDoc),
        (status = 404, description = "CONVERSATION_NOT_FOUND", body = ErrorDoc),
        (status = 409, description = "CONVERSATION_EXISTS: reopening while the contact has another active conversation on the channel", body = ErrorDoc),
    ),
    security(("bearer" = []), ("api_key" = [])))]
async fn update_conversation(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(body): Json<UpdateConversation>,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Write)?;
    let id = conversation_id(&id)?;
    let mut errors = Vec::new();
    let status = status_change(body.status.as_deref(), body.snoozed_until.as_deref(), time::now(), &mut errors);
    let priority = body.priority.as_deref().and_then(|raw| parse_priority(raw, &mut errors));
    let subject = match body.subject {
        None => None,
        Some(None) => Some(None),
        Some(Some(raw)) => collect(&mut errors, text("subject", Some(raw), SUBJECT_MAX)),
    };
    let metadata = collect(&mut errors, json_object("metadata", body.metadata)).flatten();
    let tags = body.tags.and_then(|raw| collect(&mut errors, tag_names("tags", raw)));
    if !errors.is_empty() {
        return Err(ApiError::invalid_fields(errors).into());
    }
    let patch = ConversationPatch { status, metadata, tags, priority, subject };
    let view = s.store.update_conversation(&ctx, id, patch).await?;
    Ok(envelope::one(StatusCode::OK, resource(view)))
}
