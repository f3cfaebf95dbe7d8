//! `/api/v1/conversations`: list, get, create, update (PUT), delete.
//!
//! Decisions (reference §3.8):
//! - The list shows `customerId`, `assignedTo` and `inboxId` as ids (strings, `null` when unset);
//!   the single GET populates `customerId` with the customer object of `/api/v1/customers` and
//!   `assignedTo` with `{_id, name, email, role}` (`role` is the user's: `admin`, `agent`, `viewer`;
//!   `bot` for a bot assignee, whose `email` is `null`).
//! - The list is the most recently updated first (ties by id); filters combine with AND;
//!   `status=pending` includes snoozed conversations; an id filter that does not parse is 400 naming
//!   it, a well-formed id of nothing simply matches nothing.
//! - Create: `subject` (1 to 500 characters) and `inboxId` are required (400 naming each missing
//!   one); an `inboxId` or `customerId` that does not exist (or does not parse) is 404 `NOT_FOUND`
//!   naming the field. `channel` defaults to the inbox's channel, else `email`; `priority` to
//!   `medium`; the status is `open` and the `source` `api`. Answers 201. The conversation has no
//!   Confab channel, so the one-active-conversation rule does not apply to it.
//! - PUT is partial. `status` `open|pending|closed` is the same core status change as the other
//!   faces' (closing stamps `closedAt`/`closedBy`, moving off `closed` is a reopen); `pending` on a
//!   snoozed conversation, which already reads `pending`, leaves the snooze. `assignedTo` is a user
//!   id (404 `NOT_FOUND` naming `assignedTo` when no such user exists); `null` unassigns. The
//!   assignment is checked first, then the other fields change in one core update (one event), then
//!   the assignment is made (its own `conversation.assigned` event).
//! - DELETE takes an optional JSON body `{reason}` (at most 1000 characters), stored in the
//!   `conversation.deleted` event; the conversation and its messages are removed.

use super::render::{
    self, channel_word, list_of, not_found, one, page_request, parse_channel, parse_priority, parse_status, path_id,
    priority_word, rename_field, require, status_word, user_json, Customer, GtError, Json, Path, CHANNEL_WORDS,
};
use crate::auth::Auth;
use crate::faces::params::{double_option, text, Params};
use crate::AppState;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use confab_core::model::*;
use confab_core::{ContactId, ConversationId, FieldError, InboxId, UserId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The longest subject.
const SUBJECT_MAX: usize = 500;
/// The longest delete reason.
const REASON_MAX: usize = 1000;
/// The default page size of the conversation list.
const LIMIT_DEFAULT: u32 = 50;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_conversations, create_conversation)).routes(routes!(
        get_conversation,
        update_conversation,
        delete_conversation
    ))
}

/// A conversation.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub subject: Option<String>,
    /// `open`, `pending` (also a snoozed conversation) or `closed`.
    pub status: &'static str,
    /// `low`, `medium`, `high` or `urgent`.
    pub priority: &'static str,
    /// `email`, `chat`, `phone`, `whatsapp`, or another Confab channel type.
    pub channel: Option<String>,
    /// `api` for conversations created through an API.
    pub source: Option<String>,
    /// The customer's id (lists) or the customer object (GET one); `null` when none.
    #[schema(value_type = Object, nullable)]
    pub customer_id: Value,
    /// The user's id (lists) or `{_id, name, email, role}` (GET one); `null` when unassigned.
    #[schema(value_type = Object, nullable)]
    pub assigned_to: Value,
    pub inbox_id: Option<String>,
    /// The conversation's tag names.
    pub labels: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A conversation with its references as ids.
pub fn conversation(v: ConversationView) -> ConversationDoc {
    let c = v.conversation;
    ConversationDoc {
        id: c.id.to_string(),
        subject: c.subject,
        status: status_word(c.status),
        priority: priority_word(c.priority),
        channel: c.channel_type.as_deref().map(channel_word),
        source: c.source,
        customer_id: c.contact_id.map(|id| Value::String(id.to_string())).unwrap_or(Value::Null),
        assigned_to: c.assignee.map(|a| Value::String(a.id.to_string())).unwrap_or(Value::Null),
        inbox_id: c.inbox_id.map(|i| i.to_string()),
        labels: v.tags,
        created_at: render::iso(c.created_at),
        updated_at: render::iso(c.updated_at),
    }
}

/// A conversation with `customerId` and `assignedTo` populated.
async fn populated(s: &AppState, ctx: &Ctx, v: ConversationView) -> Result<ConversationDoc, GtError> {
    let contact_id = v.conversation.contact_id;
    let assignee = v.conversation.assignee;
    let assignee_name = v.assignee_ref.as_ref().map(|a| a.name.clone()).unwrap_or_default();
    let mut doc = conversation(v);
    if let Some(id) = contact_id {
        doc.customer_id = match s.store.get_contact(ctx, id).await {
            Ok(c) => serde_json::to_value::<Customer>(render::customer(c)).unwrap_or(Value::Null),
            // Deleted since the conversation was read: the conversation has no customer any more.
            Err(confab_core::Error::NotFound { .. }) => Value::Null,
            Err(e) => return Err(e.into()),
        };
    }
    if let Some(a) = assignee {
        doc.assigned_to = match a.kind {
            ActorKind::User => match s.store.get_user(ctx, UserId(a.id)).await {
                Ok(u) => user_json(u.id, &u.name, u.email.as_deref(), u.role.as_str()),
                Err(confab_core::Error::NotFound { .. }) => user_json(a.id, &assignee_name, None, "agent"),
                Err(e) => return Err(e.into()),
            },
            _ => user_json(a.id, &assignee_name, None, "bot"),
        };
    }
    Ok(doc)
}

/// List conversations.
#[utoipa::path(get, path = "/conversations", tag = "gtateth",
    params(
        ("status" = Option<String>, Query, description = "open, pending (includes snoozed) or closed"),
        ("priority" = Option<String>, Query, description = "low, medium, high or urgent"),
        ("assignedTo" = Option<String>, Query, description = "Assigned user id"),
        ("inboxId" = Option<String>, Query, description = "Inbox id"),
        ("customerId" = Option<String>, Query, description = "Customer id"),
        ("page" = Option<u32>, Query, description = "Page number, from 1"),
        ("limit" = Option<u32>, Query, description = "Items per page (default 50, max 100)"),
    ),
    responses((status = 200, body = render::ListDoc<ConversationDoc>), (status = 400, body = render::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn list_conversations(State(s): State<AppState>, auth: Auth, RawQuery(q): RawQuery) -> Result<Response, GtError> {
    let ctx = require(&auth, ScopeResource::Conversations, Access::Read)?;
    let mut p = Params::from_query(q.as_deref());
    let page = page_request(&mut p, LIMIT_DEFAULT);
    let status = p.one_of("status", parse_status, "open, pending, closed");
    let priority = p.one_of("priority", parse_priority, "low, medium, high, urgent");
    let assignee_id = p.uuid("assignedTo");
    let inbox_id = p.uuid("inboxId").map(InboxId);
    let contact_id = p.uuid("customerId").map(ContactId);
    p.finish()?;
    let statuses = match status {
        Some(Status::Pending) => vec![Status::Pending, Status::Snoozed],
        Some(s) => vec![s],
        None => Vec::new(),
    };
    let filter =
        ConversationFilter { statuses, priority, assignee_id, inbox_id, contact_id, ..ConversationFilter::default() };
    let page_of = s.store.list_conversations(&ctx, &filter, page).await?;
    Ok(list_of(page_of, page, conversation))
}

/// Get a conversation, with its customer and assigned user populated.
#[utoipa::path(get, path = "/conversations/{id}", tag = "gtateth", params(("id" = String, Path)),
    responses((status = 200, body = render::Doc<ConversationDoc>), (status = 404, body = render::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn get_conversation(State(s): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<Response, GtError> {
    let ctx = require(&auth, ScopeResource::Conversations, Access::Read)?;
    let id: ConversationId = path_id(&id, "conversation")?;
    let view = s.store.get_conversation(&ctx, id).await?;
    Ok(one(StatusCode::OK, populated(&s, &ctx, view).await?))
}

/// Request body of `POST /api/v1/conversations`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateConversation {
    /// Required, 1 to 500 characters.
    pub subject: Option<String>,
    /// Required: the inbox the conversation belongs to.
    pub inbox_id: Option<String>,
    /// An existing customer.
    pub customer_id: Option<String>,
    /// `email` (default, or the inbox's channel), `chat`, `phone`, `whatsapp`.
    pub channel: Option<String>,
    /// `low`, `medium` (default), `high`, `urgent`.
    pub priority: Option<String>,
}

/// Create a conversation.
#[utoipa::path(post, path = "/conversations", tag = "gtateth", request_body = CreateConversation,
    responses(
        (status = 201, body = render::Doc<ConversationDoc>),
        (status = 400, body = render::ErrorDoc),
        (status = 404, description = "NOT_FOUND naming inboxId or customerId", body = render::ErrorDoc),
    ),
    security(("bearer" = []), ("api_key" = [])))]
async fn create_conversation(
    State(s): State<AppState>,
    auth: Auth,
    Json(body): Json<CreateConversation>,
) -> Result<Response, GtError> {
    let ctx = require(&auth, ScopeResource::Conversations, Access::Write)?;
    let mut errors = Vec::new();
    let subject = match text("subject", body.subject, SUBJECT_MAX) {
        Ok(Some(s)) => Some(s),
        Ok(None) => {
            errors.push(FieldError::new("subject", "is required"));
            None
        }
        Err(e) => {
            errors.extend(e.details);
            None
        }
    };
    let inbox_raw = body.inbox_id.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    if inbox_raw.is_none() {
        errors.push(FieldError::new("inboxId", "is required"));
    }
    let channel = match body.channel.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => match parse_channel(c) {
            Some(t) => Some(t.to_string()),
            None => {
                errors.push(FieldError::new("channel", format!("must be one of: {CHANNEL_WORDS}")));
                None
            }
        },
    };
    let priority = match body.priority.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        None => Priority::Normal,
        Some(p) => parse_priority(p).unwrap_or_else(|| {
            errors.push(FieldError::new("priority", "must be one of: low, medium, high, urgent"));
            Priority::Normal
        }),
    };
    if !errors.is_empty() {
        return Err(crate::error::ApiError::invalid_fields(errors).into());
    }
    let inbox_id: InboxId = inbox_raw.unwrap_or_default().parse().map_err(|_| not_found("inbox", Some("inboxId")))?;
    let contact = match body.customer_id.map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) {
        None => None,
        Some(raw) => Some(ContactInput::Existing(
            raw.parse::<ContactId>().map_err(|_| not_found("customer", Some("customerId")))?,
        )),
    };
    let inbox = s.store.get_inbox(&ctx, inbox_id).await.map_err(|e| match e {
        confab_core::Error::NotFound { .. } => not_found("inbox", Some("inboxId")),
        e => e.into(),
    })?;
    let channel_type = channel.or(inbox.channel).unwrap_or_else(|| ChannelType::Email.as_str().to_string());
    let new = NewConversation {
        channel_id: None,
        contact,
        assignee_id: None,
        assignee_kind: None,
        bot_id: None,
        subject,
        priority,
        metadata: JsonMap::new(),
        tags: Vec::new(),
        source: Some("api".into()),
        inbox_id: Some(inbox_id),
        channel_type: Some(channel_type),
    };
    let view = s.store.create_conversation(&ctx, new).await.map_err(|e| match e {
        confab_core::Error::NotFound { resource: confab_core::Resource::Inbox, .. } => {
            not_found("inbox", Some("inboxId"))
        }
        e => rename_field(e, "contactId", "customerId"),
    })?;
    Ok(one(StatusCode::CREATED, conversation(view)))
}

/// Request body of `PUT /api/v1/conversations/{id}`: absent fields are left as they are.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateConversation {
    /// 1 to 500 characters.
    pub subject: Option<String>,
    /// `open`, `pending` or `closed`.
    pub status: Option<String>,
    /// `low`, `medium`, `high` or `urgent`.
    pub priority: Option<String>,
    /// A user id; `null` unassigns.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub assigned_to: Option<Option<String>>,
}

/// Update a conversation.
#[utoipa::path(put, path = "/conversations/{id}", tag = "gtateth", params(("id" = String, Path)),
    request_body = UpdateConversation,
    responses(
        (status = 200, body = render::Doc<ConversationDoc>),
        (status = 400, body = render::ErrorDoc),
        (status = 404, body = render::ErrorDoc),
    ),
    security(("bearer" = []), ("api_key" = [])))]
async fn update_conversation(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(body): Json<UpdateConversation>,
) -> Result<Response, GtError> {
    let ctx = require(&auth, ScopeResource::Conversations, Access::Write)?;
    let id: ConversationId = path_id(&id, "conversation")?;
    let mut errors = Vec::new();
    let subject = match body.subject {
        None => None,
        Some(raw) => match text("subject", Some(raw), SUBJECT_MAX) {
            Ok(Some(s)) => Some(s),
            Ok(None) => {
                errors.push(FieldError::new("subject", "must not be empty"));
                None
            }
            Err(e) => {
                errors.extend(e.details);
                None
            }
        },
    };
    let status = body.status.as_deref().and_then(|raw| {
        let s = parse_status(raw.trim());
        if s.is_none() {
            errors.push(FieldError::new("status", "must be one of: open, pending, closed"));
        }
        s
    });
    let priority = body.priority.as_deref().and_then(|raw| {
        let p = parse_priority(raw.trim());
        if p.is_none() {
            errors.push(FieldError::new("priority", "must be one of: low, medium, high, urgent"));
        }
        p
    });
    if !errors.is_empty() {
        return Err(crate::error::ApiError::invalid_fields(errors).into());
    }
    let current = s.store.get_conversation(&ctx, id).await?;
    // The assignment is checked before anything changes.
    let assign = match body.assigned_to {
        None => None,
        Some(None) => Some(None),
        Some(Some(raw)) => {
            let user: UserId = raw.trim().parse().map_err(|_| not_found("user", Some("assignedTo")))?;
            s.store.get_user(&ctx, user).await.map_err(|e| match e {
                confab_core::Error::NotFound { .. } => not_found("user", Some("assignedTo")),
                e => e.into(),
            })?;
            Some(Some(user))
        }
    };
    // `pending` on a snoozed conversation: it already reads `pending`; the snooze stays.
    let status = status.filter(|s| !(*s == Status::Pending && current.conversation.status == Status::Snoozed));
    let patch = ConversationPatch {
        status: status.map(|status| StatusChange { status, snoozed_until: None }),
        priority,
        subject: subject.map(Some),
        ..ConversationPatch::default()
    };
    let mut view = current;
    if patch.status.is_some() || patch.priority.is_some() || patch.subject.is_some() {
        view = s.store.update_conversation(&ctx, id, patch).await?;
    }
    match assign {
        None => {}
        Some(None) => view = s.store.unassign_conversation(&ctx, id).await?,
        Some(Some(user)) => {
            let already = view.conversation.assignee.is_some_and(|a| a.kind == ActorKind::User && a.id == user.0);
            if !already {
                let input = AssignInput { assignee_id: user.0, assignee_kind: Some(ActorKind::User), note: None };
                view = s.store.assign_conversation(&ctx, id, input).await.map_err(|e| match e {
                    confab_core::Error::NotFound { resource: confab_core::Resource::Assignee, .. } => {
                        not_found("user", Some("assignedTo"))
                    }
                    e => e.into(),
                })?;
            }
        }
    }
    Ok(one(StatusCode::OK, conversation(view)))
}

/// Request body of `DELETE /api/v1/conversations/{id}` (optional).
#[derive(Deserialize, ToSchema)]
pub struct DeleteConversation {
    /// Why; recorded in the `conversation.deleted` event (at most 1000 characters).
    pub reason: Option<String>,
}

/// Delete a conversation and its messages.
#[utoipa::path(delete, path = "/conversations/{id}", tag = "gtateth", params(("id" = String, Path)),
    request_body(content = Option<DeleteConversation>, description = "Optional"),
    responses((status = 200, body = render::MessageDoc), (status = 404, body = render::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn delete_conversation(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(body): Json<DeleteConversation>,
) -> Result<Response, GtError> {
    let ctx = require(&auth, ScopeResource::Conversations, Access::Write)?;
    let id: ConversationId = path_id(&id, "conversation")?;
    let reason = text("reason", body.reason, REASON_MAX)?;
    s.store.delete_conversation(&ctx, id, reason).await?;
    Ok(render::message("Conversation deleted"))
}
