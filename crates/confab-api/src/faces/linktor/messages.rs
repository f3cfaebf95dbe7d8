//! `/v1/messages` and `/v1/conversations/{id}/messages`: sending, listing, reading, deleting
//! messages, and the delivery reports of channel connectors (Linktor's `api/messages.md`).
//!
//! Every message is rendered whole (see `message_render`). Reads need `messages:read`, writes
//! `messages:write`. A message id that does not parse, or names a message of another tenant, is 404
//! `MESSAGE_NOT_FOUND`.
//!
//! Decisions where the seed is silent:
//!
//! - **Send** (`POST /v1/messages`, 201). The sender is the key's user; the message is outbound and
//!   `pending` until a connector reports on it. `conversationId` sends into that conversation;
//!   otherwise `channelId` and `to` are required and `to` (an E.164 phone, normalised, or an email,
//!   lower-cased) finds the tenant's contact with that address (or creates it) and its open, pending
//!   or snoozed conversation on the channel (or starts one), as an inbound message would; the key
//!   needs no contacts or conversations scope for that. A `channelId` given with a `conversationId`
//!   must be the conversation's channel (else 400 naming `channelId`). Problems are reported in this
//!   order: every missing or malformed field at once (400 `VALIDATION_ERROR`, content fields named
//!   `content.<field>`), then a `to` that is neither a phone nor an email (400 `INVALID_RECIPIENT`),
//!   then an unknown `content.type` (400 `UNSUPPORTED_CONTENT_TYPE`); then an unknown conversation
//!   or channel (404 naming the field), then an inactive channel (422 `CHANNEL_NOT_CONNECTED`, also
//!   for a conversation whose channel is inactive). Sending into a closed conversation is allowed
//!   and does not reopen it; a conversation without a channel (its channel was deleted) still
//!   takes messages, which carry no channel. `scheduledAt` is not supported: any
//!   value is 400 naming it, so that a message meant for later is never sent now. `metadata` is a
//!   JSON object (at most 16 levels deep).
//! - **List** (`GET /v1/messages`). Filters combine with AND; `startDate`/`endDate` bound
//!   `createdAt`, both inclusive at millisecond precision (a date-only `endDate` covers its day);
//!   `search` matches words of the message text; `sortBy` is `createdAt` only (the default; ties by
//!   id), `sortOrder` `desc` by default. Connectors poll `?status=pending&channelId=…&direction=
//!   outbound&sortOrder=asc`. Ids that are not UUIDs are 400 naming the field.
//! - **Cursor pages** (`GET /v1/conversations/{id}/messages`). `direction=before` (the default) walks
//!   from the newest message to older ones, newest first; `after` walks from the oldest to newer
//!   ones, oldest first. `meta.cursor.next` continues in the same direction and is `null` (with
//!   `hasMore: false`) on the last page. A cursor is opaque; one that is not Confab's is 400 naming
//!   `cursor`. `limit` is 1 to 100 (default 50).
//! - **Read.** `POST /v1/messages/{id}/read` answers the whole message (`status: read`, `readAt`).
//!   `POST /v1/messages/bulk-read` takes `messageIds` (1 to 1,000 UUIDs; ids of no message of the
//!   tenant are not counted) or `conversationId` with an optional `beforeTimestamp` (ISO 8601:
//!   messages created at or before it); giving both, or `beforeTimestamp` with `messageIds`, is 400.
//!   It answers `{markedCount, conversationId}` (`conversationId` is `null` when the ids span several
//!   conversations). Only inbound messages count as unread.
//! - **Delete** answers 200 `{id, deleted: true, deletedAt}`; the conversation's counters and last
//!   message follow. Deletion is from Confab for every reader: `forEveryone` (`true|false`) is
//!   accepted and validated for Linktor clients but changes nothing; deleting at the channel is the
//!   connector's business (it sees the `message.deleted` event). There is no deletion window.
//! - **Status reports** (`PATCH /v1/messages/{id}/status`, for connectors): `status` is `sent`,
//!   `delivered`, `read` or `failed`; `timestamp` (ISO 8601, at most 5 minutes ahead of the server's
//!   clock) defaults to now; `error` (at most 1,000 characters) only with `failed`; `externalId` (at
//!   most 255 characters) records the channel's id of the message. Statuses only move forward
//!   (`failed` from anything but `read`); a report that would move one back, or repeats the current
//!   status, changes nothing and answers the message as it is (connectors retry and race).

use super::envelope::{self, iso, page_request, Meta, Resource};
use super::extract::Path;
use super::extract::{ErrorDoc, Json, LinktorError};
use super::message_render::{resource, MessageAttributes};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::faces::params::{json_object, text, Params};
use crate::AppState;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use confab_core::model::*;
use confab_core::rules::contact::{normalize_email, normalize_phone};
use confab_core::rules::message::{validate_content, CONTENT_TYPES};
use confab_core::{time, ChannelId, ConversationId, Error, FieldError, MessageId, Resource as R, Time};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_messages, send_message))
        .routes(routes!(bulk_read_messages))
        .routes(routes!(get_message, delete_message))
        .routes(routes!(read_message))
        .routes(routes!(report_message_status))
        .routes(routes!(list_conversation_messages))
}

/// The default and largest page of `GET /v1/conversations/{id}/messages`.
pub const CURSOR_LIMIT_DEFAULT: u32 = 50;
pub const CURSOR_LIMIT_MAX: u32 = 100;
/// The most ids `bulk-read` takes.
pub const BULK_READ_MAX: usize = 1000;
/// The longest `externalId` and `error` of a status report.
const EXTERNAL_ID_MAX: usize = 255;
const ERROR_MAX: usize = 1000;
/// How far ahead of the server's clock a connector's `timestamp` may be (clock skew).
const CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(5);

type One = envelope::Doc<Resource<MessageAttributes>>;
type Many = envelope::Doc<Vec<Resource<MessageAttributes>>>;

/// A path id; one that does not parse is simply not found.
fn message_id(raw: &str) -> Result<MessageId, LinktorError> {
    raw.parse().map_err(|_| Error::not_found(R::Message).into())
}

/// A non-empty trimmed string, else `None`.
fn present(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|s| !s.is_empty())
}

/// Gives a not-found error the request field that led to it.
fn naming(e: Error, field: &str) -> Error {
    match e {
        Error::NotFound { resource, field: None } => Error::not_found_field(resource, field),
        other => other,
    }
}

/// An error of a send, with the statuses Linktor documents for its codes whatever variant the core
/// used (`INVALID_RECIPIENT` and `UNSUPPORTED_CONTENT_TYPE` 400, `CHANNEL_NOT_CONNECTED` 422), and
/// the request field at fault named: `field` chose the conversation or the channel.
fn send_error(e: Error, field: &str) -> LinktorError {
    let mut api = ApiError::from(naming(e, field));
    let (status, at) = match api.code {
        "INVALID_RECIPIENT" => (StatusCode::BAD_REQUEST, "to"),
        "UNSUPPORTED_CONTENT_TYPE" => (StatusCode::BAD_REQUEST, "content.type"),
        "CHANNEL_NOT_CONNECTED" => (StatusCode::UNPROCESSABLE_ENTITY, field),
        _ => return LinktorError(api),
    };
    api.status = status;
    if api.details.is_empty() {
        api.details = vec![FieldError::new(at, api.message.clone())];
    }
    LinktorError(api)
}

/// 400 with a code of its own, naming one field.
fn coded(code: &'static str, field: &str, message: impl Into<String>) -> ApiError {
    let message = message.into();
    let mut e = ApiError::new(StatusCode::BAD_REQUEST, code, message.clone());
    e.details = vec![FieldError::new(field, message)];
    e
}

/// The last instant of the millisecond `t` falls in: an inclusive upper bound compared at the
/// precision Confab renders.
fn end_of_millisecond(t: Time) -> Time {
    let micros = time::to_micros(t);
    time::from_micros(micros - micros.rem_euclid(1000) + 999)
}

// ---------------------------------------------------------------------------------------------
// Sending, shared with `/transfer`'s `notifyContact`

/// Sends an outbound message (the store checks, in its transaction, that the conversation or
/// channel exists and that the channel is active). `field` names the request field that chose the
/// conversation or channel, for the errors.
pub async fn send(s: &AppState, ctx: &Ctx, send: SendMessage, field: &str) -> Result<Message, LinktorError> {
    s.store.send_message(ctx, send).await.map_err(|e| send_error(e, field))
}

/// Request body of `POST /v1/messages`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendMessageBody {
    /// The channel to send through; required unless `conversationId` is given (then, if given, it
    /// must be the conversation's channel).
    pub channel_id: Option<String>,
    /// The conversation to send into.
    pub conversation_id: Option<String>,
    /// The recipient when there is no `conversationId`: an E.164 phone (`+5511999999999`) or an
    /// email address.
    pub to: Option<String>,
    /// `{type, …}`: text, image, document, audio, video, location, buttons or template (required).
    #[schema(value_type = Object)]
    pub content: Option<JsonMap>,
    /// Free-form JSON object kept with the message.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<JsonMap>,
    /// Not supported: any value is refused (400), so a message meant for later is never sent now.
    #[schema(value_type = Option<String>)]
    pub scheduled_at: Option<serde_json::Value>,
}

/// What `to` is: an address, or one of two ways of being wrong.
enum To {
    Address(String),
    Missing,
    Invalid,
}

fn recipient_address(raw: Option<&str>) -> To {
    match present(raw) {
        None => To::Missing,
        Some(raw) => {
            let normalised = if raw.contains('@') { normalize_email(raw) } else { normalize_phone(raw) };
            normalised.map(To::Address).unwrap_or(To::Invalid)
        }
    }
}

/// Send a message.
///
/// Outbound, from the key's user, `pending` until the channel's connector reports it sent. Answers
/// 201 with the message.
#[utoipa::path(post, path = "/messages", tag = "messages", request_body = SendMessageBody,
    responses(
        (status = 201, body = One),
        (status = 400, description = "VALIDATION_ERROR, INVALID_RECIPIENT (`to`) or UNSUPPORTED_CONTENT_TYPE (`content.type`), naming the field", body = ErrorDoc),
        (status = 403, description = "INSUFFICIENT_PERMISSIONS (messages:write)", body = ErrorDoc),
        (status = 404, description = "CONVERSATION_NOT_FOUND or CHANNEL_NOT_FOUND, naming the field", body = ErrorDoc),
        (status = 422, description = "CHANNEL_NOT_CONNECTED: the channel is inactive", body = ErrorDoc),
    ),
    security(("bearer" = []), ("api_key" = [])))]
async fn send_message(
    State(s): State<AppState>,
    auth: Auth,
    Json(body): Json<SendMessageBody>,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Messages, Access::Write)?;
    let mut errors = Vec::new();
    let conversation_raw = present(body.conversation_id.as_deref());
    let channel_raw = present(body.channel_id.as_deref());
    let to = match conversation_raw {
        Some(_) => None,
        None => {
            if channel_raw.is_none() {
                errors.push(FieldError::new("channelId", "is required unless conversationId is given"));
            }
            let to = recipient_address(body.to.as_deref());
            if matches!(to, To::Missing) {
                errors.push(FieldError::new("to", "is required unless conversationId is given"));
            }
            Some(to)
        }
    };
    let mut unsupported = None;
    let content = match body.content {
        None => {
            errors.push(FieldError::new("content", "is required"));
            None
        }
        Some(content) => match json_object("content", Some(content)) {
            Err(e) => {
                errors.extend(e.details);
                None
            }
            Ok(content) => {
                let content = content.unwrap_or_default();
                match validate_content(&content) {
                    Ok(_) => Some(content),
                    Err(Error::Validation(e)) => {
                        errors.extend(e);
                        None
                    }
                    Err(e) => {
                        unsupported = Some(ApiError::from(e));
                        None
                    }
                }
            }
        },
    };
    let metadata = match json_object("metadata", body.metadata) {
        Ok(m) => m.unwrap_or_default(),
        Err(e) => {
            errors.extend(e.details);
            JsonMap::new()
        }
    };
    if body.scheduled_at.as_ref().is_some_and(|v| !v.is_null()) {
        errors.push(FieldError::new(
            "scheduledAt",
            "scheduling is not supported: send the message when it is due (leave scheduledAt out)",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid_fields(errors).into());
    }
    if matches!(to, Some(To::Invalid)) {
        return Err(coded(
            "INVALID_RECIPIENT",
            "to",
            "must be a phone number in E.164 format (+5511999999999) or an email address",
        )
        .into());
    }
    if let Some(mut e) = unsupported {
        e.status = StatusCode::BAD_REQUEST;
        if e.details.is_empty() {
            e.details = vec![FieldError::new("content.type", e.message.clone())];
        }
        return Err(e.into());
    }
    let Some(content) = content else { unreachable!("a missing or invalid content was reported") };

    let (recipient, field) = match (conversation_raw, to) {
        (Some(raw), _) => {
            let id: ConversationId =
                raw.parse().map_err(|_| Error::not_found_field(R::Conversation, "conversationId"))?;
            if let Some(channel_raw) = channel_raw {
                // The channel never changes, so a check before the send's transaction holds.
                let view = s.store.get_conversation(&ctx, id).await.map_err(|e| naming(e, "conversationId"))?;
                if channel_raw.parse::<ChannelId>().ok() != view.conversation.channel_id {
                    let message = "must be the channel of the conversation (or left out)";
                    return Err(ApiError::invalid("channelId", message).into());
                }
            }
            (Recipient::Conversation(id), "conversationId")
        }
        (None, Some(To::Address(to))) => {
            let channel_id: ChannelId =
                channel_raw.unwrap_or_default().parse().map_err(|_| Error::not_found_field(R::Channel, "channelId"))?;
            (Recipient::Address { channel_id, to }, "channelId")
        }
        (None, _) => unreachable!("a missing or invalid recipient was reported"),
    };
    let new = SendMessage { recipient, content, metadata, external_id: None };
    let message = send(&s, &ctx, new, field).await?;
    Ok(envelope::one(StatusCode::CREATED, resource(message)))
}

// ---------------------------------------------------------------------------------------------
// GET /v1/messages

fn parse_order(s: &str) -> Option<SortOrder> {
    if s.eq_ignore_ascii_case("asc") {
        Some(SortOrder::Asc)
    } else if s.eq_ignore_ascii_case("desc") {
        Some(SortOrder::Desc)
    } else {
        None
    }
}

fn content_type(s: &str) -> Option<String> {
    CONTENT_TYPES.contains(&s).then(|| s.to_string())
}

/// List messages.
///
/// Filters combine with AND; `meta.pagination` gives the page, its size and the totals.
#[utoipa::path(get, path = "/messages", tag = "messages",
    params(
        ("page" = Option<u32>, Query, description = "Page number, from 1"),
        ("perPage" = Option<u32>, Query, description = "Items per page (default 20, max 100)"),
        ("conversationId" = Option<String>, Query, description = "Only messages of this conversation"),
        ("channelId" = Option<String>, Query, description = "Only messages of this channel"),
        ("direction" = Option<String>, Query, description = "inbound or outbound"),
        ("status" = Option<String>, Query, description = "pending, sent, delivered, read or failed"),
        ("contentType" = Option<String>, Query, description = "text, image, document, audio, video, location, buttons, template or custom"),
        ("startDate" = Option<String>, Query, description = "Created at or after (ISO 8601 date or date-time)"),
        ("endDate" = Option<String>, Query, description = "Created at or before (ISO 8601; a date covers its whole day)"),
        ("search" = Option<String>, Query, description = "Words of the message text (case-insensitive, prefixes match)"),
        ("sortBy" = Option<String>, Query, description = "createdAt (the only sort key)"),
        ("sortOrder" = Option<String>, Query, description = "asc or desc (default)"),
    ),
    responses(
        (status = 200, body = Many),
        (status = 400, description = "VALIDATION_ERROR naming each bad parameter", body = ErrorDoc),
        (status = 403, description = "INSUFFICIENT_PERMISSIONS (messages:read)", body = ErrorDoc),
    ),
    security(("bearer" = []), ("api_key" = [])))]
async fn list_messages(State(s): State<AppState>, auth: Auth, RawQuery(q): RawQuery) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Messages, Access::Read)?;
    let mut p = Params::from_query(q.as_deref());
    let page = page_request(&mut p);
    let conversation_id = p.uuid("conversationId").map(ConversationId);
    let channel_id = p.uuid("channelId").map(ChannelId);
    let direction = p.one_of("direction", Direction::parse, "inbound, outbound");
    let status = p.one_of("status", MessageStatus::parse, "pending, sent, delivered, read, failed");
    let content_type = p.one_of("contentType", content_type, &CONTENT_TYPES.join(", "));
    let created_from = p.time("startDate", false);
    let created_to = p.time("endDate", true).map(end_of_millisecond);
    if let (Some(from), Some(to)) = (created_from, created_to) {
        if to < from {
            p.error("endDate", "must not be before startDate");
        }
    }
    let search = p.str("search");
    p.one_of("sortBy", |s| matches!(s, "createdAt" | "created_at").then_some(()), "createdAt");
    let order = p.one_of("sortOrder", parse_order, "asc, desc");
    p.finish()?;
    let filter = MessageFilter {
        conversation_id,
        channel_id,
        direction,
        status,
        content_type,
        created_from,
        created_to,
        search,
        order: order.unwrap_or_default(),
    };
    let messages = s.store.list_messages(&ctx, &filter, page).await?;
    Ok(envelope::page_of(messages, page, resource))
}

// ---------------------------------------------------------------------------------------------
// GET /v1/messages/{id}, DELETE /v1/messages/{id}

/// Get a message.
#[utoipa::path(get, path = "/messages/{id}", tag = "messages", params(("id" = String, Path, description = "The message's id")),
    responses(
        (status = 200, body = One),
        (status = 403, description = "INSUFFICIENT_PERMISSIONS (messages:read)", body = ErrorDoc),
        (status = 404, description = "MESSAGE_NOT_FOUND", body = ErrorDoc),
    ),
    security(("bearer" = []), ("api_key" = [])))]
async fn get_message(State(s): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Messages, Access::Read)?;
    let message = s.store.get_message(&ctx, message_id(&id)?).await?;
    Ok(envelope::one(StatusCode::OK, resource(message)))
}

/// What a deletion answers.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Deleted {
    pub id: String,
    /// Always true.
    pub deleted: bool,
    pub deleted_at: String,
}

/// `{"data": …, "meta": …}` of a deletion.
#[derive(Serialize, ToSchema)]
pub struct DeletedDoc {
    pub data: Deleted,
    pub meta: Meta,
}

/// Delete a message.
///
/// The conversation's message and unread counts and its last message follow.
#[utoipa::path(delete, path = "/messages/{id}", tag = "messages",
    params(
        ("id" = String, Path, description = "The message's id"),
        ("forEveryone" = Option<bool>, Query, description = "Accepted for Linktor clients; a deletion is always for every reader of Confab"),
    ),
    responses(
        (status = 200, body = DeletedDoc),
        (status = 400, description = "VALIDATION_ERROR (forEveryone)", body = ErrorDoc),
        (status = 403, description = "INSUFFICIENT_PERMISSIONS (messages:write)", body = ErrorDoc),
        (status = 404, description = "MESSAGE_NOT_FOUND", body = ErrorDoc),
    ),
    security(("bearer" = []), ("api_key" = [])))]
async fn delete_message(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Messages, Access::Write)?;
    let id = message_id(&id)?;
    let mut p = Params::from_query(q.as_deref());
    let _for_everyone = p.bool("forEveryone", true);
    p.finish()?;
    let message = s.store.delete_message(&ctx, id).await?;
    let data = Deleted { id: message.id.to_string(), deleted: true, deleted_at: iso(time::now()) };
    Ok((StatusCode::OK, axum::Json(DeletedDoc { data, meta: Meta::new(None) })).into_response())
}

// ---------------------------------------------------------------------------------------------
// Reading

/// Mark a message read.
///
/// Answers the whole message, `status: read` with its `readAt`; the conversation's unread count
/// drops by one if it was unread. Marking a read message again changes nothing.
#[utoipa::path(post, path = "/messages/{id}/read", tag = "messages", params(("id" = String, Path, description = "The message's id")),
    responses(
        (status = 200, body = One),
        (status = 403, description = "INSUFFICIENT_PERMISSIONS (messages:write)", body = ErrorDoc),
        (status = 404, description = "MESSAGE_NOT_FOUND", body = ErrorDoc),
    ),
    security(("bearer" = []), ("api_key" = [])))]
async fn read_message(State(s): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Messages, Access::Write)?;
    let message = s.store.mark_message_read(&ctx, message_id(&id)?).await?;
    Ok(envelope::one(StatusCode::OK, resource(message)))
}

/// Request body of `POST /v1/messages/bulk-read`: `messageIds`, or `conversationId` (with an
/// optional `beforeTimestamp`).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkReadBody {
    /// The messages to mark read (1 to 1,000 ids).
    pub message_ids: Option<Vec<String>>,
    /// Mark the conversation's messages read.
    pub conversation_id: Option<String>,
    /// With `conversationId`: only messages created at or before this instant (ISO 8601).
    pub before_timestamp: Option<String>,
}

/// What `bulk-read` did.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkReadResult {
    /// How many messages changed to read.
    pub marked_count: u64,
    /// The conversation concerned (`null` when the ids span several).
    pub conversation_id: Option<String>,
}

/// `{"data": …, "meta": …}` of `bulk-read`.
#[derive(Serialize, ToSchema)]
pub struct BulkReadDoc {
    pub data: BulkReadResult,
    pub meta: Meta,
}

/// The request of a bulk read, checked.
fn bulk_read_request(body: BulkReadBody) -> Result<BulkRead, LinktorError> {
    let mut errors = Vec::new();
    let conversation_raw = present(body.conversation_id.as_deref());
    let before_raw = present(body.before_timestamp.as_deref());
    let ids = match body.message_ids {
        None => None,
        Some(raw) => {
            if raw.is_empty() {
                errors.push(FieldError::new("messageIds", "must hold at least one id"));
            } else if raw.len() > BULK_READ_MAX {
                errors.push(FieldError::new("messageIds", format!("must hold at most {BULK_READ_MAX} ids")));
            }
            let mut ids = Vec::with_capacity(raw.len().min(BULK_READ_MAX));
            for (i, r) in raw.iter().take(BULK_READ_MAX).enumerate() {
                match r.trim().parse::<MessageId>() {
                    Ok(id) if !ids.contains(&id) => ids.push(id),
                    Ok(_) => {}
                    Err(_) if errors.len() < 20 => {
                        errors.push(FieldError::new(format!("messageIds[{i}]"), "must be a message id (a UUID)"))
                    }
                    Err(_) => {}
                }
            }
            Some(ids)
        }
    };
    match (&ids, conversation_raw) {
        (None, None) => errors.push(FieldError::new("messageIds", "is required unless conversationId is given")),
        (Some(_), Some(_)) => {
            errors.push(FieldError::new("conversationId", "may not be given with messageIds: give one of them"))
        }
        _ => {}
    }
    let before = before_raw.and_then(|raw| match time::parse_iso(raw, true) {
        Some(t) => Some(end_of_millisecond(t)),
        None => {
            errors.push(FieldError::new("beforeTimestamp", "must be an ISO 8601 date or date-time"));
            None
        }
    });
    if before.is_some() && ids.is_some() {
        errors.push(FieldError::new("beforeTimestamp", "may only be given with conversationId"));
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid_fields(errors).into());
    }
    Ok(match (ids, conversation_raw) {
        (Some(ids), _) => BulkRead::Messages(ids),
        (None, Some(raw)) => BulkRead::Conversation {
            id: raw.parse().map_err(|_| Error::not_found_field(R::Conversation, "conversationId"))?,
            before,
        },
        (None, None) => unreachable!("reported above"),
    })
}

/// Mark several messages read.
///
/// By ids, or every unread message of a conversation (up to `beforeTimestamp`). The conversation's
/// unread count follows.
#[utoipa::path(post, path = "/messages/bulk-read", tag = "messages", request_body = BulkReadBody,
    responses(
        (status = 200, body = BulkReadDoc),
        (status = 400, description = "VALIDATION_ERROR naming each bad field (messageIds when neither is given)", body = ErrorDoc),
        (status = 403, description = "INSUFFICIENT_PERMISSIONS (messages:write)", body = ErrorDoc),
        (status = 404, description = "CONVERSATION_NOT_FOUND", body = ErrorDoc),
    ),
    security(("bearer" = []), ("api_key" = [])))]
async fn bulk_read_messages(
    State(s): State<AppState>,
    auth: Auth,
    Json(body): Json<BulkReadBody>,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Messages, Access::Write)?;
    let read = bulk_read_request(body)?;
    let (marked, conversation) = s.store.bulk_read(&ctx, read).await.map_err(|e| naming(e, "conversationId"))?;
    let data = BulkReadResult { marked_count: marked, conversation_id: conversation.map(|c| c.to_string()) };
    Ok((StatusCode::OK, axum::Json(BulkReadDoc { data, meta: Meta::new(None) })).into_response())
}

// ---------------------------------------------------------------------------------------------
// PATCH /v1/messages/{id}/status

/// Request body of `PATCH /v1/messages/{id}/status` (channel connectors).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusReportBody {
    /// sent, delivered, read or failed (required).
    pub status: Option<String>,
    /// When it happened (ISO 8601; default now).
    pub timestamp: Option<String>,
    /// Why delivery failed (only with `failed`; at most 1,000 characters).
    pub error: Option<String>,
    /// The channel's id of the message (at most 255 characters).
    pub external_id: Option<String>,
}

fn report_status(s: &str) -> Option<MessageStatus> {
    MessageStatus::parse(s).filter(|s| *s != MessageStatus::Pending)
}

/// Report a message's delivery status.
///
/// For channel connectors. Statuses move forward only; a report that would move one back changes
/// nothing. Answers the message after the report, with its `statusHistory`.
#[utoipa::path(patch, path = "/messages/{id}/status", tag = "messages",
    params(("id" = String, Path, description = "The message's id")),
    request_body = StatusReportBody,
    responses(
        (status = 200, body = One),
        (status = 400, description = "VALIDATION_ERROR naming each bad field", body = ErrorDoc),
        (status = 403, description = "INSUFFICIENT_PERMISSIONS (messages:write)", body = ErrorDoc),
        (status = 404, description = "MESSAGE_NOT_FOUND", body = ErrorDoc),
    ),
    security(("bearer" = []), ("api_key" = [])))]
async fn report_message_status(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(body): Json<StatusReportBody>,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Messages, Access::Write)?;
    let id = message_id(&id)?;
    let mut errors = Vec::new();
    let status = match present(body.status.as_deref()) {
        None => {
            errors.push(FieldError::new("status", "is required"));
            None
        }
        Some(raw) => {
            let s = report_status(raw);
            if s.is_none() {
                errors.push(FieldError::new("status", "must be one of: sent, delivered, read, failed"));
            }
            s
        }
    };
    let now = time::now();
    let at = present(body.timestamp.as_deref()).and_then(|raw| match time::parse_iso(raw, false) {
        Some(t) if t > now + CLOCK_SKEW => {
            errors.push(FieldError::new("timestamp", "must not be in the future"));
            None
        }
        Some(t) => Some(t),
        None => {
            errors.push(FieldError::new("timestamp", "must be an ISO 8601 date-time (2024-01-15T10:00:00Z)"));
            None
        }
    });
    let error = match text("error", body.error, ERROR_MAX) {
        Ok(e) => e,
        Err(e) => {
            errors.extend(e.details);
            None
        }
    };
    if error.is_some() && status.is_some_and(|s| s != MessageStatus::Failed) {
        errors.push(FieldError::new("error", "may only be given with the status failed"));
    }
    let external_id = match text("externalId", body.external_id, EXTERNAL_ID_MAX) {
        Ok(e) => e,
        Err(e) => {
            errors.extend(e.details);
            None
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::invalid_fields(errors).into());
    }
    let Some(status) = status else { unreachable!("a missing status was reported") };
    let report = StatusReport { status, at, error, external_id };
    let message = s.store.report_status(&ctx, id, report).await?;
    Ok(envelope::one(StatusCode::OK, resource(message)))
}

// ---------------------------------------------------------------------------------------------
// GET /v1/conversations/{id}/messages

/// `meta.cursor` of a cursor page.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CursorMeta {
    /// The cursor of the next page in the same direction (`null` on the last page).
    pub next: Option<String>,
    pub has_more: bool,
}

/// `meta` of a cursor page.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CursorPageMeta {
    pub request_id: String,
    pub cursor: CursorMeta,
}

/// `{"data": [messages], "meta": {requestId, cursor}}`.
#[derive(Serialize, ToSchema)]
pub struct CursorDoc {
    pub data: Vec<Resource<MessageAttributes>>,
    pub meta: CursorPageMeta,
}

fn cursor_direction(s: &str) -> Option<CursorDirection> {
    match s {
        "before" => Some(CursorDirection::Before),
        "after" => Some(CursorDirection::After),
        _ => None,
    }
}

/// List a conversation's messages by cursor.
///
/// `before` (the default) pages from the newest message towards older ones, newest first; `after`
/// from the oldest towards newer ones, oldest first. Pass `meta.cursor.next` as `cursor` to go on.
#[utoipa::path(get, path = "/conversations/{id}/messages", tag = "messages",
    params(
        ("id" = String, Path, description = "The conversation's id"),
        ("cursor" = Option<String>, Query, description = "`meta.cursor.next` of the previous page"),
        ("limit" = Option<u32>, Query, description = "Messages per page (1 to 100, default 50)"),
        ("direction" = Option<String>, Query, description = "before (default: newest first) or after (oldest first)"),
    ),
    responses(
        (status = 200, body = CursorDoc),
        (status = 400, description = "VALIDATION_ERROR naming each bad parameter (cursor, limit, direction)", body = ErrorDoc),
        (status = 403, description = "INSUFFICIENT_PERMISSIONS (messages:read)", body = ErrorDoc),
        (status = 404, description = "CONVERSATION_NOT_FOUND", body = ErrorDoc),
    ),
    security(("bearer" = []), ("api_key" = [])))]
async fn list_conversation_messages(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Messages, Access::Read)?;
    let id = super::conversations::conversation_id(&id)?;
    let mut p = Params::from_query(q.as_deref());
    let cursor = p.str("cursor");
    let limit = p.int("limit", CURSOR_LIMIT_DEFAULT, 1, CURSOR_LIMIT_MAX);
    let direction = p.one_of("direction", cursor_direction, "before, after");
    p.finish()?;
    let page = s.store.conversation_messages(&ctx, id, cursor.as_deref(), limit, direction.unwrap_or_default()).await?;
    let doc = CursorDoc {
        data: page.items.into_iter().map(resource).collect(),
        meta: CursorPageMeta {
            request_id: crate::request_id::current(),
            cursor: CursorMeta { next: page.next, has_more: page.has_more },
        },
    };
    Ok((StatusCode::OK, axum::Json(doc)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: serde_json::Value) -> BulkReadBody {
        serde_json::from_value(v).unwrap()
    }

    fn fields(r: Result<BulkRead, LinktorError>) -> Vec<String> {
        r.expect_err("an error").0.details.into_iter().map(|d| d.field).collect()
    }

    #[test]
    fn a_recipient_is_a_phone_or_an_email() {
        assert!(matches!(recipient_address(Some(" +55 11 99999-9999 ")), To::Address(a) if a == "+5511999999999"));
        assert!(matches!(recipient_address(Some("Ann@Example.COM")), To::Address(a) if a == "ann@example.com"));
        assert!(matches!(recipient_address(Some("5511999999999")), To::Invalid));
        assert!(matches!(recipient_address(Some("ann@")), To::Invalid));
        assert!(matches!(recipient_address(Some("  ")), To::Missing));
        assert!(matches!(recipient_address(None), To::Missing));
    }

    #[test]
    fn bulk_read_needs_exactly_one_selection() {
        assert_eq!(fields(bulk_read_request(body(serde_json::json!({})))), ["messageIds"]);
        assert_eq!(fields(bulk_read_request(body(serde_json::json!({"messageIds": []})))), ["messageIds"]);
        let both = serde_json::json!({"messageIds": [uuid::Uuid::now_v7()], "conversationId": uuid::Uuid::now_v7()});
        assert_eq!(fields(bulk_read_request(body(both))), ["conversationId"]);
        let ids_before = serde_json::json!({"messageIds": [uuid::Uuid::now_v7()], "beforeTimestamp": "2024-01-15"});
        assert_eq!(fields(bulk_read_request(body(ids_before))), ["beforeTimestamp"]);
        let bad = serde_json::json!({"messageIds": ["x", uuid::Uuid::now_v7(), "y"]});
        assert_eq!(fields(bulk_read_request(body(bad))), ["messageIds[0]", "messageIds[2]"]);
        let dup = uuid::Uuid::now_v7();
        let Ok(BulkRead::Messages(ids)) = bulk_read_request(body(serde_json::json!({"messageIds": [dup, dup]}))) else {
            panic!("valid ids")
        };
        assert_eq!(ids.len(), 1);
        let ok = serde_json::json!({"conversationId": uuid::Uuid::now_v7(), "beforeTimestamp": "2024-01-15T10:00:00Z"});
        let Ok(BulkRead::Conversation { before: Some(t), .. }) = bulk_read_request(body(ok)) else { panic!("valid") };
        assert_eq!(iso(t), "2024-01-15T10:00:00.000Z");
    }
}
