//! `/v1/conversations/{id}/…`: the actions on one conversation (close, reopen, assign, unassign,
//! transfer, snooze, tags), its participants, its internal notes and its timeline (events).
//!
//! Every action answers 200 with the full conversation (a superset of the seed's partial examples),
//! stamped with the key's user (`closedBy`, `assignedBy`, …). Actions need `conversations:write`,
//! the lists `conversations:read`. An id that does not parse, or names a conversation of another
//! tenant, is 404 `CONVERSATION_NOT_FOUND`; the conversation id is checked before the body.
//!
//! Decisions where the seed is silent:
//! - `/close` of a closed conversation is 409 `CONVERSATION_ALREADY_CLOSED`, `/reopen` of one that is
//!   not closed 409 `CONVERSATION_NOT_CLOSED`; reopening while the contact has another active
//!   conversation on the channel is 409 `CONVERSATION_EXISTS`. Reopening keeps the last closure's
//!   stamps (`closedAt`, `closedBy`, `resolution`, `closureReason`) as history. `resolution` outside
//!   `resolved|unresolved|spam` is 400 naming it. `notes` become an internal note (kind `close`).
//! - `/assign`: `assigneeId` (Linktor's SDK sends `agentId`, accepted as an alias) is required; the
//!   type is detected (users first, then bots) unless `assigneeType` (`user|bot`) says it. An unknown
//!   id, one of another tenant or one that does not parse is 404 `ASSIGNEE_NOT_FOUND` (with
//!   `assigneeType: bot`, `BOT_NOT_FOUND`), naming the field. `note` becomes an internal note (kind
//!   `assign`). Assigning a bot also makes it the conversation's `bot`.
//! - `/transfer` is an assignment with a handoff: it sets the assignee and its stamps plus
//!   `transferredAt`/`transferredBy`; `reason` and `summary` are stored together as one internal note
//!   (kind `transfer`), never as a message; `notifyContact` is recorded in the event's data.
//!   `toAssigneeType` (alias `assigneeType`) may name the type as for `/assign`.
//! - `notifyContact: true` then sends the contact one outbound text message, "You are now talking
//!   with <assignee name>.", from the key's user, with `metadata: {"notification": "transfer"}`
//!   (the transfer's `conversations:write` suffices). It is a second transaction after the
//!   transfer's: the transfer stands even when the message cannot be sent (no contact, an inactive
//!   channel, a store error). The answer is then still 200 with the transferred conversation, and
//!   `meta.notification` says what happened: `{sent: true, messageId}` or `{sent: false, error:
//!   {code, message}}` (the failure is also logged); the conversation shown is read after the
//!   message, so its counters and `lastMessage` include it. Without `notifyContact`, no message and
//!   no `meta.notification`.
//! - `/snooze {until}` is the same status change as PATCH `status: snoozed` (`conversation.updated`):
//!   `until` is an ISO 8601 instant (or date) in the future; snoozing a closed conversation reopens
//!   it as snoozed (`conversation.reopened`), as PATCH does. The snooze timer opens it at `until`.
//! - `/unassign` clears the assignee (the bot, if any, stays); on an unassigned conversation it is a
//!   200 no-op without an event.
//! - `POST …/tags {tags: [names]}` adds (created on first use, order kept, duplicates ignored);
//!   `DELETE …/tags/{name}` removes one (the name is URL-decoded), and `DELETE …/tags {tags: [names]}`
//!   (what Linktor's SDK sends) removes several in one change. Removing an absent tag and adding a
//!   present one are 200 no-ops without an event. Names are 1 to 100 characters, trimmed.
//! - Notes: `{id, type: "note", attributes: {kind: transfer|close|assign|manual, body, author{id,
//!   name}, createdAt}}`, oldest first; `POST …/notes {body}` (1 to 10,000 characters) adds a manual
//!   note, 201, and appends `conversation.note_added`.
//! - Participants: the contact (`role: customer`), every user who was assigned it (`agent`, kept
//!   after unassignment) and its bots (`bot`); `phone`/`email` appear when known.
//! - Timeline `GET …/events` (`page`/`perPage`): the conversation's events oldest first, each `{id
//!   (the event's uuid), type: "event", attributes: {event, position, actor{type, id, name},
//!   subjectId, data, snapshot, createdAt}}`; the snapshot is rendered as the conversation's
//!   attributes at that moment. On PostgreSQL `position` is `null` for the few milliseconds before
//!   the relay gives the event its commit-ordered position.
//! - Texts are trimmed; `reason` is at most 1,000 characters, `notes`, `note`, `summary` and a note's
//!   `body` at most 10,000. Every invalid field of a body is reported in one 400.

use super::conversations::{conversation_id, resource, ActorRef, ConversationAttributes};
use super::envelope::{self, iso, page_request, Resource};
use super::extract::Path;
use super::extract::{ErrorDoc, Json, LinktorError};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::faces::params::Params;
use crate::AppState;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use confab_core::model::*;
use confab_core::{time, ConversationId, Error, Resource as R, Time};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(close_conversation))
        .routes(routes!(reopen_conversation))
        .routes(routes!(assign_conversation))
        .routes(routes!(unassign_conversation))
        .routes(routes!(transfer_conversation))
        .routes(routes!(snooze_conversation))
        .routes(routes!(add_conversation_tags, remove_conversation_tags))
        .routes(routes!(remove_conversation_tag))
        .routes(routes!(list_participants))
        .routes(routes!(list_notes, add_note))
        .routes(routes!(list_conversation_events))
}

/// The longest closure or transfer reason.
const REASON_MAX: usize = 1_000;
/// The longest note, summary or close notes.
const NOTE_MAX: usize = 10_000;
/// The most tags one request may add or remove.
const TAGS_PER_REQUEST_MAX: usize = 100;

type One = envelope::Doc<Resource<ConversationAttributes>>;

/// A trimmed text field, `None` when absent or empty; too long, or holding a NUL character (which
/// no text column can store), is recorded against `field`.
fn bounded(p: &mut Params, field: &str, value: Option<String>, max: usize) -> Option<String> {
    let v = value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())?;
    if v.chars().count() > max {
        p.error(field, format!("must be at most {max} characters"));
        return None;
    }
    if v.contains('\0') {
        p.error(field, "must not contain NUL (\\u0000) characters");
        return None;
    }
    Some(v)
}

/// `user` or `bot`; anything else is recorded against `field`.
fn assignee_kind(p: &mut Params, field: &str, value: Option<String>) -> Option<ActorKind> {
    let v = value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())?;
    match v.as_str() {
        "user" => Some(ActorKind::User),
        "bot" => Some(ActorKind::Bot),
        _ => {
            p.error(field, "must be one of: user, bot");
            None
        }
    }
}

/// The id of an assignee: required; one that does not parse is simply not found (404, naming
/// `field`, as a bot when the type says so).
fn assignee_id(
    p: &mut Params,
    field: &str,
    value: Option<String>,
    kind: Option<ActorKind>,
) -> Result<Option<Uuid>, LinktorError> {
    let Some(v) = value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) else {
        p.error(field, "is required");
        return Ok(None);
    };
    match Uuid::parse_str(&v) {
        Ok(id) => Ok(Some(id)),
        Err(_) => {
            let resource = if kind == Some(ActorKind::Bot) { R::Bot } else { R::Assignee };
            Err(Error::not_found_field(resource, field).into())
        }
    }
}

/// Tag names of a body: required, each valid, at most [`TAGS_PER_REQUEST_MAX`], duplicates dropped.
fn tag_names(p: &mut Params, value: Option<Vec<String>>) -> Vec<String> {
    let Some(raw) = value else {
        p.error("tags", "is required (a list of tag names)");
        return Vec::new();
    };
    if raw.len() > TAGS_PER_REQUEST_MAX {
        p.error("tags", format!("must hold at most {TAGS_PER_REQUEST_MAX} names"));
        return Vec::new();
    }
    let mut names: Vec<String> = Vec::with_capacity(raw.len());
    for (i, name) in raw.iter().enumerate() {
        match normalize_tag_name(name) {
            Some(n) if !names.contains(&n) => names.push(n),
            Some(_) => {}
            None => p.error(
                &format!("tags[{i}]"),
                format!("must be 1 to {TAG_NAME_MAX} characters without control characters"),
            ),
        }
    }
    names
}

fn conversation(v: ConversationView) -> Response {
    envelope::one(StatusCode::OK, resource(v))
}

/// Request body of `POST /v1/conversations/{id}/close`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloseConversation {
    /// Why it was closed (`closureReason`), at most 1,000 characters.
    pub reason: Option<String>,
    /// resolved, unresolved or spam.
    pub resolution: Option<String>,
    /// Internal notes, stored as a note of kind `close` (at most 10,000 characters).
    pub notes: Option<String>,
}

/// Close a conversation.
#[utoipa::path(post, path = "/conversations/{id}/close", tag = "conversations", params(("id" = String, Path)),
    request_body = CloseConversation,
    responses((status = 200, body = One), (status = 400, body = ErrorDoc), (status = 404, body = ErrorDoc),
        (status = 409, description = "CONVERSATION_ALREADY_CLOSED", body = ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn close_conversation(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(body): Json<CloseConversation>,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Write)?;
    let id = conversation_id(&id)?;
    let mut p = Params::default();
    let reason = bounded(&mut p, "reason", body.reason, REASON_MAX);
    let resolution = body.resolution.map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
    let resolution = resolution.and_then(|r| {
        let parsed = Resolution::parse(&r);
        if parsed.is_none() {
            p.error("resolution", "must be one of: resolved, unresolved, spam");
        }
        parsed
    });
    let notes = bounded(&mut p, "notes", body.notes, NOTE_MAX);
    p.finish()?;
    let view = s.store.close_conversation(&ctx, id, CloseInput { reason, resolution, notes }).await?;
    Ok(conversation(view))
}

/// Reopen a closed conversation.
#[utoipa::path(post, path = "/conversations/{id}/reopen", tag = "conversations", params(("id" = String, Path)),
    responses((status = 200, body = One), (status = 404, body = ErrorDoc),
        (status = 409, description = "CONVERSATION_NOT_CLOSED, or CONVERSATION_EXISTS when the contact has another active conversation on the channel", body = ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn reopen_conversation(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Write)?;
    let view = s.store.reopen_conversation(&ctx, conversation_id(&id)?).await?;
    Ok(conversation(view))
}

/// Request body of `POST /v1/conversations/{id}/assign`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssignConversation {
    /// The user or bot to assign (required; `agentId` is accepted too).
    #[serde(alias = "agentId")]
    pub assignee_id: Option<String>,
    /// user or bot; detected (users first) when absent.
    pub assignee_type: Option<String>,
    /// Stored as an internal note of kind `assign` (at most 10,000 characters).
    pub note: Option<String>,
}

/// Assign a conversation to a user or bot.
#[utoipa::path(post, path = "/conversations/{id}/assign", tag = "conversations", params(("id" = String, Path)),
    request_body = AssignConversation,
    responses((status = 200, body = One), (status = 400, body = ErrorDoc),
        (status = 404, description = "CONVERSATION_NOT_FOUND, ASSIGNEE_NOT_FOUND or BOT_NOT_FOUND", body = ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn assign_conversation(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(body): Json<AssignConversation>,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Write)?;
    let id = conversation_id(&id)?;
    let mut p = Params::default();
    let kind = assignee_kind(&mut p, "assigneeType", body.assignee_type);
    let note = bounded(&mut p, "note", body.note, NOTE_MAX);
    let assignee = assignee_id(&mut p, "assigneeId", body.assignee_id, kind);
    p.finish()?;
    let Some(assignee_id) = assignee? else { unreachable!("a missing assignee was reported") };
    let input = AssignInput { assignee_id, assignee_kind: kind, note };
    let view = s.store.assign_conversation(&ctx, id, input).await?;
    Ok(conversation(view))
}

/// Remove the assignee of a conversation.
#[utoipa::path(post, path = "/conversations/{id}/unassign", tag = "conversations", params(("id" = String, Path)),
    responses((status = 200, body = One), (status = 404, body = ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn unassign_conversation(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Write)?;
    let view = s.store.unassign_conversation(&ctx, conversation_id(&id)?).await?;
    Ok(conversation(view))
}

/// Request body of `POST /v1/conversations/{id}/transfer`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransferConversation {
    /// The new assignee, a user or bot id (required).
    pub to_assignee_id: Option<String>,
    /// user or bot; detected (users first) when absent.
    #[serde(alias = "assigneeType")]
    pub to_assignee_type: Option<String>,
    /// Why it is transferred (at most 1,000 characters).
    pub reason: Option<String>,
    /// What the new assignee should know (at most 10,000 characters). With `reason`, stored as one
    /// internal note of kind `transfer`.
    pub summary: Option<String>,
    /// Send the contact a message naming the new assignee (recorded on the event too).
    pub notify_contact: Option<bool>,
}

/// What became of `notifyContact`'s message.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub sent: bool,
    /// The message sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Why it was not sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<NotificationError>,
}

/// Why `notifyContact`'s message was not sent.
#[derive(Serialize, ToSchema)]
pub struct NotificationError {
    pub code: String,
    pub message: String,
}

/// `meta` of a transfer with `notifyContact`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransferMeta {
    pub request_id: String,
    pub notification: Notification,
}

/// The answer of a transfer with `notifyContact`.
#[derive(Serialize, ToSchema)]
pub struct TransferDoc {
    pub data: Resource<ConversationAttributes>,
    pub meta: TransferMeta,
}

/// Sends the contact of a just-transferred conversation the message naming its new assignee.
async fn notify_contact(s: &AppState, ctx: &Ctx, view: &ConversationView) -> Result<Message, LinktorError> {
    if view.contact.is_none() {
        let message = "The conversation has no contact to notify.";
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "CONTACT_NOT_FOUND", message).into());
    }
    let name = view.assignee_ref.as_ref().map(|a| a.name.as_str()).unwrap_or("a new agent");
    let mut content = JsonMap::new();
    content.insert("type".into(), "text".into());
    content.insert("text".into(), format!("You are now talking with {name}.").into());
    let mut metadata = JsonMap::new();
    metadata.insert("notification".into(), "transfer".into());
    let send =
        SendMessage { recipient: Recipient::Conversation(view.conversation.id), content, metadata, external_id: None };
    super::messages::send(s, ctx, send, "notifyContact").await
}

/// Transfer a conversation to another assignee with handoff context.
#[utoipa::path(post, path = "/conversations/{id}/transfer", tag = "conversations", params(("id" = String, Path)),
    request_body = TransferConversation,
    responses((status = 200, description = "The transferred conversation; with notifyContact, meta.notification says whether the contact's message was sent", body = TransferDoc),
        (status = 400, body = ErrorDoc),
        (status = 404, description = "CONVERSATION_NOT_FOUND, ASSIGNEE_NOT_FOUND or BOT_NOT_FOUND", body = ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn transfer_conversation(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(body): Json<TransferConversation>,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Write)?;
    let id = conversation_id(&id)?;
    let mut p = Params::default();
    let kind = assignee_kind(&mut p, "toAssigneeType", body.to_assignee_type);
    let reason = bounded(&mut p, "reason", body.reason, REASON_MAX);
    let summary = bounded(&mut p, "summary", body.summary, NOTE_MAX);
    let assignee = assignee_id(&mut p, "toAssigneeId", body.to_assignee_id, kind);
    p.finish()?;
    let Some(to_assignee_id) = assignee? else { unreachable!("a missing assignee was reported") };
    let input = TransferInput {
        to_assignee_id,
        assignee_kind: kind,
        reason,
        summary,
        notify_contact: body.notify_contact.unwrap_or(false),
    };
    let notify = input.notify_contact;
    let view = s.store.transfer_conversation(&ctx, id, input).await?;
    if !notify {
        return Ok(conversation(view));
    }
    // The transfer is committed: from here on nothing fails the request.
    let (view, notification) = match notify_contact(&s, &ctx, &view).await {
        Ok(message) => {
            let after = match s.store.get_conversation(&ctx, id).await {
                Ok(after) => after,
                Err(e) => {
                    tracing::warn!(conversation = %id, error = %e, "cannot re-read a conversation after its transfer notification");
                    view
                }
            };
            (after, Notification { sent: true, message_id: Some(message.id.to_string()), error: None })
        }
        Err(LinktorError(e)) => {
            tracing::warn!(conversation = %id, code = e.code, message = %e.message, "the transfer notification was not sent");
            let error = NotificationError { code: e.code.to_string(), message: e.message };
            (view, Notification { sent: false, message_id: None, error: Some(error) })
        }
    };
    let meta = TransferMeta { request_id: crate::request_id::current(), notification };
    Ok((StatusCode::OK, axum::Json(TransferDoc { data: resource(view), meta })).into_response())
}

/// Request body of `POST /v1/conversations/{id}/snooze`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SnoozeConversation {
    /// When the conversation opens again: an ISO 8601 instant (or date) in the future (required;
    /// `snoozedUntil` is accepted too).
    #[serde(alias = "snoozedUntil")]
    pub until: Option<String>,
}

/// Snooze a conversation until an instant.
#[utoipa::path(post, path = "/conversations/{id}/snooze", tag = "conversations", params(("id" = String, Path)),
    request_body = SnoozeConversation,
    responses((status = 200, body = One), (status = 400, body = ErrorDoc), (status = 404, body = ErrorDoc),
        (status = 409, description = "CONVERSATION_EXISTS (snoozing a closed conversation reopens it)", body = ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn snooze_conversation(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(body): Json<SnoozeConversation>,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Write)?;
    let id = conversation_id(&id)?;
    let until = snooze_until(body.until, time::now())?;
    let patch = ConversationPatch {
        status: Some(StatusChange { status: Status::Snoozed, snoozed_until: Some(until) }),
        ..Default::default()
    };
    let view = s.store.update_conversation(&ctx, id, patch).await.map_err(|e| match e {
        // The rule names PATCH's field; this endpoint's is `until`.
        Error::Validation(mut fields) => {
            for f in &mut fields {
                if f.field == "snoozedUntil" {
                    f.field = "until".into();
                }
            }
            Error::Validation(fields)
        }
        other => other,
    })?;
    Ok(conversation(view))
}

/// `until` of a snooze: required, ISO 8601, in the future.
fn snooze_until(raw: Option<String>, now: Time) -> Result<Time, ApiError> {
    let raw = raw.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let raw = raw.ok_or_else(|| ApiError::invalid("until", "is required (an ISO 8601 instant in the future)"))?;
    let until = time::parse_iso(&raw, false)
        .ok_or_else(|| ApiError::invalid("until", "must be an ISO 8601 date-time (2024-01-15T10:00:00Z) or date"))?;
    if until <= now {
        return Err(ApiError::invalid("until", "must be in the future"));
    }
    Ok(until)
}

/// Request body of `POST` and `DELETE /v1/conversations/{id}/tags`.
#[derive(Deserialize, ToSchema)]
pub struct ConversationTags {
    /// Tag names (1 to 100 characters each, at most 100 per request).
    pub tags: Option<Vec<String>>,
}

/// Add tags to a conversation (created on first use).
#[utoipa::path(post, path = "/conversations/{id}/tags", tag = "conversations", params(("id" = String, Path)),
    request_body = ConversationTags,
    responses((status = 200, body = One), (status = 400, body = ErrorDoc), (status = 404, body = ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn add_conversation_tags(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(body): Json<ConversationTags>,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Write)?;
    let id = conversation_id(&id)?;
    let mut p = Params::default();
    let names = tag_names(&mut p, body.tags);
    p.finish()?;
    let view = s.store.add_conversation_tags(&ctx, id, names).await?;
    Ok(conversation(view))
}

/// Remove several tags from a conversation (what Linktor's SDK sends).
#[utoipa::path(delete, path = "/conversations/{id}/tags", tag = "conversations", params(("id" = String, Path)),
    request_body = ConversationTags,
    responses((status = 200, body = One), (status = 400, body = ErrorDoc), (status = 404, body = ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn remove_conversation_tags(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(body): Json<ConversationTags>,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Write)?;
    let id = conversation_id(&id)?;
    let mut p = Params::default();
    let names = tag_names(&mut p, body.tags);
    p.finish()?;
    let view = s.store.remove_conversation_tags(&ctx, id, names).await?;
    Ok(conversation(view))
}

/// Remove one tag from a conversation.
#[utoipa::path(delete, path = "/conversations/{id}/tags/{name}", tag = "conversations",
    params(("id" = String, Path), ("name" = String, Path, description = "The tag's name, URL-encoded")),
    responses((status = 200, body = One), (status = 400, body = ErrorDoc), (status = 404, body = ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn remove_conversation_tag(
    State(s): State<AppState>,
    auth: Auth,
    Path((id, name)): Path<(String, String)>,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Write)?;
    let id = conversation_id(&id)?;
    let name = normalize_tag_name(&name).ok_or_else(|| {
        ApiError::invalid("name", format!("must be 1 to {TAG_NAME_MAX} characters without control characters"))
    })?;
    let view = s.store.remove_conversation_tag(&ctx, id, &name).await?;
    Ok(conversation(view))
}

/// A participant's attributes.
#[derive(Serialize, ToSchema)]
pub struct ParticipantAttributes {
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// customer (the contact), agent (a user) or bot.
    pub role: String,
}

fn participant(p: Participant) -> Resource<ParticipantAttributes> {
    let kind = match p.kind {
        ActorKind::Contact => "contact",
        ActorKind::Bot => "bot",
        _ => "user",
    };
    Resource::new(kind, p.id, ParticipantAttributes { name: p.name, phone: p.phone, email: p.email, role: p.role })
}

/// List a conversation's participants: its contact, the users who handled it, its bots.
#[utoipa::path(get, path = "/conversations/{id}/participants", tag = "conversations", params(("id" = String, Path)),
    responses((status = 200, body = envelope::Doc<Vec<Resource<ParticipantAttributes>>>), (status = 404, body = ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn list_participants(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Read)?;
    let participants = s.store.list_participants(&ctx, conversation_id(&id)?).await?;
    Ok(envelope::list(participants.into_iter().map(participant).collect()))
}

/// A note's attributes.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NoteAttributes {
    /// transfer, close, assign or manual.
    pub kind: &'static str,
    pub body: String,
    pub author: ActorRef,
    pub created_at: String,
}

fn note(n: Note) -> Resource<NoteAttributes> {
    Resource::new(
        "note",
        n.id,
        NoteAttributes {
            kind: n.kind.as_str(),
            body: n.body,
            author: ActorRef { id: n.author.id.map(|i| i.to_string()), name: n.author.name },
            created_at: iso(n.created_at),
        },
    )
}

/// Request body of `POST /v1/conversations/{id}/notes`.
#[derive(Deserialize, ToSchema)]
pub struct AddNote {
    /// The note's text (required, 1 to 10,000 characters).
    pub body: Option<String>,
}

/// List a conversation's internal notes, oldest first.
#[utoipa::path(get, path = "/conversations/{id}/notes", tag = "conversations", params(("id" = String, Path)),
    responses((status = 200, body = envelope::Doc<Vec<Resource<NoteAttributes>>>), (status = 404, body = ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn list_notes(State(s): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Read)?;
    let notes = s.store.list_notes(&ctx, conversation_id(&id)?).await?;
    Ok(envelope::list(notes.into_iter().map(note).collect()))
}

/// Add an internal note to a conversation.
#[utoipa::path(post, path = "/conversations/{id}/notes", tag = "conversations", params(("id" = String, Path)),
    request_body = AddNote,
    responses((status = 201, body = envelope::Doc<Resource<NoteAttributes>>), (status = 400, body = ErrorDoc), (status = 404, body = ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn add_note(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(body): Json<AddNote>,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Write)?;
    let id = conversation_id(&id)?;
    let mut p = Params::default();
    let given = body.body.as_deref().is_some_and(|b| !b.trim().is_empty());
    let text = bounded(&mut p, "body", body.body, NOTE_MAX);
    if !given {
        p.error("body", "is required (the note's text)");
    }
    p.finish()?;
    let text = text.unwrap_or_default();
    let created = s.store.add_note(&ctx, id, text).await?;
    Ok(envelope::one(StatusCode::CREATED, note(created)))
}

/// Who caused an event.
#[derive(Serialize, ToSchema)]
pub struct EventActor {
    /// user, bot, contact or system.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `null` for the system (a snooze wake-up, …).
    pub id: Option<String>,
    pub name: String,
}

/// An event's attributes.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventAttributes {
    /// The event type (`conversation.closed`, …).
    pub event: &'static str,
    /// The commit-ordered stream position (`null` until positioned, on PostgreSQL).
    pub position: Option<i64>,
    pub actor: EventActor,
    /// The id of what the event is about.
    pub subject_id: String,
    /// What the change was about beyond the snapshot (`changed`, a transfer's `reason`, …).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// The conversation's attributes right after the change.
    #[schema(value_type = Object)]
    pub snapshot: serde_json::Value,
    pub created_at: String,
}

fn event(e: Event) -> Resource<EventAttributes> {
    let snapshot = match serde_json::from_value::<ConversationView>(e.snapshot.clone()) {
        Ok(view) => serde_json::to_value(resource(view).attributes).unwrap_or(e.snapshot),
        Err(_) => e.snapshot,
    };
    Resource::new(
        "event",
        e.id,
        EventAttributes {
            event: e.event_type.as_str(),
            position: e.position,
            actor: EventActor {
                kind: e.actor.kind.as_str(),
                id: e.actor.id.map(|i| i.to_string()),
                name: e.actor.name,
            },
            subject_id: e.subject_id.to_string(),
            data: e.data,
            snapshot,
            created_at: iso(e.created_at),
        },
    )
}

/// A conversation's timeline: its events, oldest first.
#[utoipa::path(get, path = "/conversations/{id}/events", tag = "conversations",
    params(
        ("id" = String, Path),
        ("page" = Option<u32>, Query, description = "Page number, from 1"),
        ("perPage" = Option<u32>, Query, description = "Items per page (default 20, max 100)"),
    ),
    responses((status = 200, body = envelope::Doc<Vec<Resource<EventAttributes>>>), (status = 400, body = ErrorDoc), (status = 404, body = ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn list_conversation_events(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Read)?;
    let id: ConversationId = conversation_id(&id)?;
    let mut p = Params::from_query(q.as_deref());
    let page = page_request(&mut p);
    p.finish()?;
    let events = s.store.conversation_events(&ctx, id, page).await?;
    Ok(envelope::page_of(events, page, event))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn until_must_parse_and_lie_in_the_future() {
        let now = time::parse_iso("2024-01-15T10:00:00Z", false).unwrap();
        assert_eq!(snooze_until(None, now).unwrap_err().details[0].field, "until");
        assert!(snooze_until(Some("tomorrow".into()), now).unwrap_err().details[0].message.contains("ISO 8601"));
        let past = snooze_until(Some("2024-01-15T09:59:59Z".into()), now).unwrap_err();
        assert_eq!(past.details[0].message, "must be in the future");
        let later = snooze_until(Some("2024-01-15T12:00:00+01:00".into()), now).unwrap();
        assert_eq!(iso(later), "2024-01-15T11:00:00.000Z");
    }

    #[test]
    fn tag_lists_are_validated_per_name_and_deduplicated() {
        let mut p = Params::default();
        let names = tag_names(&mut p, Some(vec![" vip ".into(), "vip".into(), "".into(), "x\ny".into()]));
        assert_eq!(names, ["vip"]);
        let e = p.finish().unwrap_err();
        assert_eq!(e.details.iter().map(|d| d.field.as_str()).collect::<Vec<_>>(), ["tags[2]", "tags[3]"]);
        let mut p = Params::default();
        tag_names(&mut p, None);
        assert_eq!(p.finish().unwrap_err().details[0].field, "tags");
    }
}
