//! `conversations.*` except the list: info, mark-read, tag, untag, set-state, remove-state,
//! update-contact, refetch (`reference/airy.md` §5), and the camelCase aliases `setState`,
//! `removeState`, `updateContact`. Every endpoint takes `conversation_id` (required, a UUID: 400
//! otherwise); an unknown conversation is 404 with an empty body, except for `mark-read`.
//!
//! Decisions:
//! - `mark-read` (204, never 404, as Airy) marks every inbound message of the conversation read, so
//!   `unread_count` is 0 afterwards (the same operation as /v1's bulk read of a conversation, with
//!   its `message.read` event); an unknown conversation is 204 too, changing nothing.
//! - `tag` attaches an existing tag by id (204; tagging twice is a no-op). Airy does not check the
//!   tag; Confab cannot attach a tag that does not exist: an unknown `tag_id` is 404 with `{"message":
//!   "Tag not found: …"}` — 404 as the other faces answer an unknown referenced id, with a body so that
//!   it cannot be mistaken for the conversation's (empty) 404. `untag` of a tag the conversation lacks,
//!   or of an unknown tag, is 204 (Airy's tombstone of a missing key).
//! - `set-state`: `state` is required (1 to 100 characters, trimmed). `OPEN` and `CLOSED`, in any
//!   case, are the core reopen and close (DESIGN.md, Lifecycle: the same operation, stamps and event
//!   as /v1's); the state it already has is a 204 no-op, never a 409 — but reopening while the
//!   contact has another active conversation on the channel is 409 `CONVERSATION_EXISTS` (`{"message"}`).
//!   An open, pending or snoozed conversation already reads `OPEN`, so `OPEN` leaves its status as it
//!   is. Both clear a custom label. Any other string is kept verbatim as Airy's custom state
//!   (`metadata.state`), beside the status, which it does not change. `remove-state` removes only the
//!   custom label (the state then reads `OPEN`/`CLOSED` again).
//! - `update-contact` (`display_name` required, 1 to 200 characters) renames the conversation's
//!   contact: the contact is shared by all its conversations (and is the /v1 contact), so they all
//!   show the new name — Airy keeps a name per conversation, but Confab has one contact. A
//!   conversation without a contact gets a new contact of that name.
//! - `refetch` answers 202 and appends `contact.refetch_requested` for connectors (DESIGN.md); a
//!   conversation without a contact has nothing to re-fetch: 202, no event.

use super::render::{conversations_json, ConversationJson};
use super::{no_content, required_id, required_text, AiryAuth, AiryError, Body, ErrorMessage};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use confab_core::model::*;
use confab_core::{ConversationId, Error, Resource, TagId};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The longest custom state accepted.
const STATE_MAX: usize = 100;
/// The longest contact name accepted (as /v1's contacts).
const NAME_MAX: usize = 200;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(conversation_info))
        .routes(routes!(mark_read))
        .routes(routes!(tag_conversation))
        .routes(routes!(untag_conversation))
        .routes(routes!(set_state))
        .routes(routes!(set_state_alias))
        .routes(routes!(remove_state))
        .routes(routes!(remove_state_alias))
        .routes(routes!(update_contact))
        .routes(routes!(update_contact_alias))
        .routes(routes!(refetch))
}

/// A request naming a conversation.
#[derive(Deserialize, ToSchema)]
pub struct ConversationRequest {
    /// The conversation's id (a UUID).
    pub conversation_id: Option<String>,
}

/// `conversations.tag` / `.untag`.
#[derive(Deserialize, ToSchema)]
pub struct TagRequest {
    pub conversation_id: Option<String>,
    /// The tag's id (a UUID).
    pub tag_id: Option<String>,
}

/// `conversations.set-state`.
#[derive(Deserialize, ToSchema)]
pub struct SetStateRequest {
    pub conversation_id: Option<String>,
    /// `OPEN` or `CLOSED` (any case: reopen or close), or a custom state kept as given.
    pub state: Option<String>,
}

/// `conversations.update-contact`.
#[derive(Deserialize, ToSchema)]
pub struct UpdateContactRequest {
    pub conversation_id: Option<String>,
    /// The contact's new name.
    pub display_name: Option<String>,
}

fn conversation_id(raw: Option<&str>) -> Result<ConversationId, AiryError> {
    required_id("conversation_id", raw).map(ConversationId)
}

/// A conversation, as `conversations.info` and `.list` render it.
#[utoipa::path(post, path = "/conversations.info", tag = "airy", request_body = ConversationRequest,
    responses(
        (status = 200, body = ConversationJson),
        (status = 400, body = ErrorMessage),
        (status = 403, description = "No key, an invalid key, or no conversations:read (empty body)"),
        (status = 404, description = "No such conversation (empty body)"),
    ),
    security(("bearer" = []), ("airy_cookie" = [])))]
async fn conversation_info(State(s): State<AppState>, auth: AiryAuth, body: Body) -> Result<Response, AiryError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Read)?;
    let req: ConversationRequest = body.parse()?;
    let id = conversation_id(req.conversation_id.as_deref())?;
    let view = s.store.get_conversation(&ctx, id).await?;
    let mut rendered = conversations_json(&s.store, &ctx, std::slice::from_ref(&view)).await?;
    Ok(axum::Json(rendered.remove(0)).into_response())
}

/// Mark every inbound message of the conversation read (unread_count becomes 0). Never 404.
#[utoipa::path(post, path = "/conversations.mark-read", tag = "airy", request_body = ConversationRequest,
    responses((status = 204), (status = 400, body = ErrorMessage), (status = 403)),
    security(("bearer" = []), ("airy_cookie" = [])))]
async fn mark_read(State(s): State<AppState>, auth: AiryAuth, body: Body) -> Result<Response, AiryError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Write)?;
    let req: ConversationRequest = body.parse()?;
    let id = conversation_id(req.conversation_id.as_deref())?;
    match s.store.bulk_read(&ctx, BulkRead::Conversation { id, before: None }).await {
        Ok(_) | Err(Error::NotFound { .. }) => Ok(no_content()),
        Err(e) => Err(e.into()),
    }
}

/// Tag a conversation with an existing tag.
#[utoipa::path(post, path = "/conversations.tag", tag = "airy", request_body = TagRequest,
    responses(
        (status = 204),
        (status = 400, body = ErrorMessage),
        (status = 403),
        (status = 404, description = "No such conversation (empty body), or no such tag (with a message)"),
    ),
    security(("bearer" = []), ("airy_cookie" = [])))]
async fn tag_conversation(State(s): State<AppState>, auth: AiryAuth, body: Body) -> Result<Response, AiryError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Write)?;
    let req: TagRequest = body.parse()?;
    let id = conversation_id(req.conversation_id.as_deref())?;
    let tag = TagId(required_id("tag_id", req.tag_id.as_deref())?);
    match s.store.add_conversation_tag_by_id(&ctx, id, tag).await {
        Ok(_) => Ok(no_content()),
        Err(Error::NotFound { resource: Resource::Tag, .. }) => Err(AiryError::Message(
            StatusCode::NOT_FOUND,
            "Tag not found: no tag with this tag_id exists (create it with tags.create).".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Remove a tag from a conversation (a tag it lacks is a no-op).
#[utoipa::path(post, path = "/conversations.untag", tag = "airy", request_body = TagRequest,
    responses((status = 204), (status = 400, body = ErrorMessage), (status = 403), (status = 404, description = "No such conversation (empty body)")),
    security(("bearer" = []), ("airy_cookie" = [])))]
async fn untag_conversation(State(s): State<AppState>, auth: AiryAuth, body: Body) -> Result<Response, AiryError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Write)?;
    let req: TagRequest = body.parse()?;
    let id = conversation_id(req.conversation_id.as_deref())?;
    let tag = TagId(required_id("tag_id", req.tag_id.as_deref())?);
    s.store.remove_conversation_tag_by_id(&ctx, id, tag).await?;
    Ok(no_content())
}

/// Set the state: `OPEN`/`CLOSED` reopen or close the conversation; anything else is a custom state.
#[utoipa::path(post, path = "/conversations.set-state", tag = "airy", request_body = SetStateRequest,
    responses(
        (status = 204),
        (status = 400, body = ErrorMessage),
        (status = 403),
        (status = 404, description = "No such conversation (empty body)"),
        (status = 409, description = "Reopening while the contact has another active conversation on the channel", body = ErrorMessage),
    ),
    security(("bearer" = []), ("airy_cookie" = [])))]
async fn set_state(State(s): State<AppState>, auth: AiryAuth, body: Body) -> Result<Response, AiryError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Write)?;
    let req: SetStateRequest = body.parse()?;
    let id = conversation_id(req.conversation_id.as_deref())?;
    let state = required_text("state", req.state, STATE_MAX)?;
    let change = if state.eq_ignore_ascii_case("OPEN") {
        StateChange::Open
    } else if state.eq_ignore_ascii_case("CLOSED") {
        StateChange::Closed
    } else {
        StateChange::Label(state)
    };
    s.store.set_conversation_state(&ctx, id, change).await?;
    Ok(no_content())
}

/// `conversations.setState`: the camelCase alias of `conversations.set-state`.
#[utoipa::path(post, path = "/conversations.setState", tag = "airy", request_body = SetStateRequest,
    responses((status = 204), (status = 400, body = ErrorMessage), (status = 403), (status = 404), (status = 409, body = ErrorMessage)),
    security(("bearer" = []), ("airy_cookie" = [])))]
async fn set_state_alias(state: State<AppState>, auth: AiryAuth, body: Body) -> Result<Response, AiryError> {
    set_state(state, auth, body).await
}

/// Remove the custom state (the state reads `OPEN` or `CLOSED` again).
#[utoipa::path(post, path = "/conversations.remove-state", tag = "airy", request_body = ConversationRequest,
    responses((status = 204), (status = 400, body = ErrorMessage), (status = 403), (status = 404, description = "No such conversation (empty body)")),
    security(("bearer" = []), ("airy_cookie" = [])))]
async fn remove_state(State(s): State<AppState>, auth: AiryAuth, body: Body) -> Result<Response, AiryError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Write)?;
    let req: ConversationRequest = body.parse()?;
    let id = conversation_id(req.conversation_id.as_deref())?;
    s.store.set_conversation_state(&ctx, id, StateChange::RemoveLabel).await?;
    Ok(no_content())
}

/// `conversations.removeState`: the camelCase alias of `conversations.remove-state`.
#[utoipa::path(post, path = "/conversations.removeState", tag = "airy", request_body = ConversationRequest,
    responses((status = 204), (status = 400, body = ErrorMessage), (status = 403), (status = 404)),
    security(("bearer" = []), ("airy_cookie" = [])))]
async fn remove_state_alias(state: State<AppState>, auth: AiryAuth, body: Body) -> Result<Response, AiryError> {
    remove_state(state, auth, body).await
}

/// Rename the conversation's contact (shared by all its conversations).
#[utoipa::path(post, path = "/conversations.update-contact", tag = "airy", request_body = UpdateContactRequest,
    responses((status = 204), (status = 400, body = ErrorMessage), (status = 403), (status = 404, description = "No such conversation (empty body)")),
    security(("bearer" = []), ("airy_cookie" = [])))]
async fn update_contact(State(s): State<AppState>, auth: AiryAuth, body: Body) -> Result<Response, AiryError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Write)?;
    let req: UpdateContactRequest = body.parse()?;
    let id = conversation_id(req.conversation_id.as_deref())?;
    let name = required_text("display_name", req.display_name, NAME_MAX)?;
    s.store.set_conversation_contact_name(&ctx, id, name).await?;
    Ok(no_content())
}

/// `conversations.updateContact`: the camelCase alias of `conversations.update-contact`.
#[utoipa::path(post, path = "/conversations.updateContact", tag = "airy", request_body = UpdateContactRequest,
    responses((status = 204), (status = 400, body = ErrorMessage), (status = 403), (status = 404)),
    security(("bearer" = []), ("airy_cookie" = [])))]
async fn update_contact_alias(state: State<AppState>, auth: AiryAuth, body: Body) -> Result<Response, AiryError> {
    update_contact(state, auth, body).await
}

/// Ask connectors to re-fetch the contact's profile (`contact.refetch_requested`).
#[utoipa::path(post, path = "/conversations.refetch", tag = "airy", request_body = ConversationRequest,
    responses((status = 202), (status = 400, body = ErrorMessage), (status = 403), (status = 404, description = "No such conversation (empty body)")),
    security(("bearer" = []), ("airy_cookie" = [])))]
async fn refetch(State(s): State<AppState>, auth: AiryAuth, body: Body) -> Result<Response, AiryError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Write)?;
    let req: ConversationRequest = body.parse()?;
    let id = conversation_id(req.conversation_id.as_deref())?;
    s.store.request_contact_refetch(&ctx, id).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}
