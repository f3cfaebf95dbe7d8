//! `/v1/channels`: create, list, get, update, delete, activate, deactivate.
//!
//! Decisions: a channel created through the API starts `active` (connectors live outside Confab,
//! DESIGN.md); its `type` cannot change; an unknown type is 400 `INVALID_CHANNEL_TYPE`; deleting a
//! channel with active conversations is 400 `ACTIVE_CONVERSATIONS_EXIST` unless `force=true`, which
//! closes them first (their conversations remain, with `channel: null`).
//!
//! `POST /v1/channels/{id}/inbound` is how channel connectors feed Confab (scope `messages:write`):
//! `{externalId?, sender{phone|email|externalId, name?}, content, metadata?, sentAt?}`. The sender's
//! phone (E.164, normalised), else email (lower-cased), else `externalId` (the sender's id at this
//! channel) finds the contact, created when none matches (with `name`); the contact's open, pending
//! or snoozed conversation on the channel takes the message (a pending or snoozed one is opened), or
//! a new one starts (a closed one is never reused). The top-level `externalId` is the message's id
//! at the channel: a retry with the same one answers 200 with the stored message and changes
//! nothing; a new message answers 201. `meta.created` says which, `meta.conversationCreated`
//! whether a conversation was started, `meta.contactId` who sent it. Every invalid field is
//! reported in one 400 (`sender` when it has none of the three, `sender.phone`, `content.text`, …;
//! an unknown `content.type` is 400 `UNSUPPORTED_CONTENT_TYPE`); `sentAt` (ISO 8601; more than five
//! minutes ahead of the server's clock is refused) is the contact's time, kept as `sentAt`, while
//! `createdAt` (when Confab stored it) orders the conversation. An unknown channel is 404
//! `CHANNEL_NOT_FOUND`; an inactive one is 422 `CHANNEL_NOT_CONNECTED` (Linktor's code for a channel
//! that cannot carry messages), so the connector keeps the message and retries once the channel is
//! activated.

use super::envelope::{self, iso, page_request, Resource};
use super::extract::Path;
use super::extract::{no_content, Json, LinktorError};
use super::message_render::{self, MessageAttributes};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::faces::params::{json_object, text, Params};
use crate::AppState;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use confab_core::model::*;
use confab_core::rules::contact::{normalize_email, normalize_phone};
use confab_core::rules::message::validate_content;
use confab_core::{time, BotId, ChannelId, Error, FieldError, Resource as R};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_channels, create_channel))
        .routes(routes!(get_channel, update_channel, delete_channel))
        .routes(routes!(activate_channel))
        .routes(routes!(deactivate_channel))
        .routes(routes!(receive_inbound))
}

/// A channel's attributes.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelAttributes {
    pub name: String,
    /// whatsapp, telegram, sms, email, webchat, facebook, instagram, voice, rcs or api.
    pub channel_type: &'static str,
    /// active or inactive.
    pub status: &'static str,
    #[schema(value_type = Object)]
    pub config: JsonMap,
    pub default_bot_id: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: JsonMap,
    pub created_at: String,
    pub updated_at: String,
}

pub fn resource(c: Channel) -> Resource<ChannelAttributes> {
    Resource::new(
        "channel",
        c.id,
        ChannelAttributes {
            name: c.name,
            channel_type: c.channel_type.as_str(),
            status: c.status.as_str(),
            config: c.config,
            default_bot_id: c.default_bot_id.map(|b| b.to_string()),
            metadata: c.metadata,
            created_at: iso(c.created_at),
            updated_at: iso(c.updated_at),
        },
    )
}

/// A path id; one that does not parse is simply not found.
fn channel_id(raw: &str) -> Result<ChannelId, LinktorError> {
    raw.parse().map_err(|_| Error::not_found(R::Channel).into())
}

fn bot_ref(field: &str, raw: &str) -> Result<BotId, LinktorError> {
    raw.parse().map_err(|_| Error::not_found_field(R::Bot, field).into())
}

/// Request body of `POST /v1/channels`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateChannel {
    /// Display name (1 to 200 characters).
    pub name: Option<String>,
    /// The channel type.
    #[serde(rename = "type", alias = "channelType")]
    pub channel_type: Option<String>,
    /// Connector settings, kept as given.
    #[schema(value_type = Object)]
    pub config: Option<JsonMap>,
    pub default_bot_id: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Option<JsonMap>,
}

/// Request body of `PATCH /v1/channels/{id}`; absent fields are left as they are.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateChannel {
    pub name: Option<String>,
    /// Merged into the existing config; a `null` value deletes the key.
    #[schema(value_type = Object)]
    pub config: Option<JsonMap>,
    /// `null` removes the default bot.
    #[serde(default, deserialize_with = "crate::faces::params::double_option")]
    pub default_bot_id: Option<Option<String>>,
    /// Deep-merged into the existing metadata; a `null` value deletes the key.
    #[schema(value_type = Object)]
    pub metadata: Option<JsonMap>,
}

/// List channels.
#[utoipa::path(get, path = "/channels", tag = "channels",
    params(
        ("page" = Option<u32>, Query, description = "Page number, from 1"),
        ("perPage" = Option<u32>, Query, description = "Items per page (default 20, max 100)"),
        ("type" = Option<String>, Query, description = "Filter by channel type"),
        ("status" = Option<String>, Query, description = "active or inactive"),
        ("search" = Option<String>, Query, description = "Case-insensitive part of the name"),
    ),
    responses((status = 200, body = envelope::Doc<Vec<Resource<ChannelAttributes>>>), (status = 400, body = super::extract::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn list_channels(State(s): State<AppState>, auth: Auth, RawQuery(q): RawQuery) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Channels, Access::Read)?;
    let mut p = Params::from_query(q.as_deref());
    let page = page_request(&mut p);
    let filter = ChannelFilter {
        channel_type: p.one_of("type", ChannelType::parse, &ChannelType::list()),
        status: p.one_of("status", ChannelStatus::parse, "active, inactive"),
        search: p.str("search"),
    };
    p.finish()?;
    let channels = s.store.list_channels(&ctx, &filter, page).await?;
    Ok(envelope::page_of(channels, page, resource))
}

/// Create a channel.
#[utoipa::path(post, path = "/channels", tag = "channels", request_body = CreateChannel,
    responses((status = 201, body = envelope::Doc<Resource<ChannelAttributes>>), (status = 400, body = super::extract::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn create_channel(
    State(s): State<AppState>,
    auth: Auth,
    Json(body): Json<CreateChannel>,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Channels, Access::Write)?;
    let name = text("name", body.name, 200)?.ok_or_else(|| ApiError::invalid("name", "is required"))?;
    let raw_type = body.channel_type.ok_or_else(|| ApiError::invalid("type", "is required"))?;
    let channel_type = ChannelType::parse(raw_type.trim()).ok_or_else(|| {
        let mut e = ApiError::invalid("type", format!("must be one of: {}", ChannelType::list()));
        e.code = "INVALID_CHANNEL_TYPE";
        e
    })?;
    let default_bot_id = body.default_bot_id.as_deref().map(|b| bot_ref("defaultBotId", b)).transpose()?;
    let new = NewChannel {
        name,
        channel_type,
        config: json_object("config", body.config)?.unwrap_or_default(),
        default_bot_id,
        metadata: json_object("metadata", body.metadata)?.unwrap_or_default(),
    };
    let channel = s.store.create_channel(&ctx, new).await?;
    Ok(envelope::one(StatusCode::CREATED, resource(channel)))
}

/// Get a channel.
#[utoipa::path(get, path = "/channels/{id}", tag = "channels", params(("id" = String, Path)),
    responses((status = 200, body = envelope::Doc<Resource<ChannelAttributes>>), (status = 404, body = super::extract::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn get_channel(State(s): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Channels, Access::Read)?;
    let channel = s.store.get_channel(&ctx, channel_id(&id)?).await?;
    Ok(envelope::one(StatusCode::OK, resource(channel)))
}

/// Update a channel.
#[utoipa::path(patch, path = "/channels/{id}", tag = "channels", params(("id" = String, Path)), request_body = UpdateChannel,
    responses((status = 200, body = envelope::Doc<Resource<ChannelAttributes>>), (status = 404, body = super::extract::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn update_channel(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(body): Json<UpdateChannel>,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Channels, Access::Write)?;
    let id = channel_id(&id)?;
    let name = match body.name {
        Some(n) => Some(text("name", Some(n), 200)?.ok_or_else(|| ApiError::invalid("name", "must not be empty"))?),
        None => None,
    };
    let default_bot_id = match body.default_bot_id {
        None => None,
        Some(None) => Some(None),
        Some(Some(b)) => Some(Some(bot_ref("defaultBotId", &b)?)),
    };
    let patch = ChannelPatch {
        name,
        config: json_object("config", body.config)?,
        default_bot_id,
        metadata: json_object("metadata", body.metadata)?,
    };
    let channel = s.store.update_channel(&ctx, id, patch).await?;
    Ok(envelope::one(StatusCode::OK, resource(channel)))
}

/// Delete a channel.
#[utoipa::path(delete, path = "/channels/{id}", tag = "channels",
    params(("id" = String, Path), ("force" = Option<bool>, Query, description = "Close its active conversations first")),
    responses((status = 204), (status = 400, body = super::extract::ErrorDoc), (status = 404, body = super::extract::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn delete_channel(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Channels, Access::Write)?;
    let id = channel_id(&id)?;
    let mut p = Params::from_query(q.as_deref());
    let force = p.bool("force", false);
    p.finish()?;
    s.store.delete_channel(&ctx, id, force).await?;
    Ok(no_content())
}

/// Activate a channel.
#[utoipa::path(post, path = "/channels/{id}/activate", tag = "channels", params(("id" = String, Path)),
    responses((status = 200, body = envelope::Doc<Resource<ChannelAttributes>>), (status = 404, body = super::extract::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn activate_channel(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Channels, Access::Write)?;
    let channel = s.store.set_channel_status(&ctx, channel_id(&id)?, ChannelStatus::Active).await?;
    Ok(envelope::one(StatusCode::OK, resource(channel)))
}

/// Deactivate a channel.
#[utoipa::path(post, path = "/channels/{id}/deactivate", tag = "channels", params(("id" = String, Path)),
    responses((status = 200, body = envelope::Doc<Resource<ChannelAttributes>>), (status = 404, body = super::extract::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn deactivate_channel(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Channels, Access::Write)?;
    let channel = s.store.set_channel_status(&ctx, channel_id(&id)?, ChannelStatus::Inactive).await?;
    Ok(envelope::one(StatusCode::OK, resource(channel)))
}

// ---------------------------------------------------------------------------------------------
// POST /v1/channels/{id}/inbound

/// The longest external id (of a message or a sender) accepted.
const EXTERNAL_ID_MAX: usize = 255;
/// The longest sender name accepted.
const SENDER_NAME_MAX: usize = 200;
/// How far ahead of the server's clock a `sentAt` may be (clock skew).
const SENT_AT_SKEW: chrono::Duration = chrono::Duration::minutes(5);

/// Who sent an inbound message: a phone, an email or an external id is required.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InboundSenderBody {
    /// E.164 (`+5511999999999`); spaces, dashes, dots and parentheses are removed.
    pub phone: Option<String>,
    /// Stored lower-cased.
    pub email: Option<String>,
    /// The sender's id at this channel (at most 255 characters).
    pub external_id: Option<String>,
    /// The name of a contact created for this sender (an existing contact keeps its own).
    pub name: Option<String>,
}

/// Request body of `POST /v1/channels/{id}/inbound`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InboundBody {
    /// The message's id at the channel (at most 255 characters): a retry with the same id is not
    /// stored twice.
    pub external_id: Option<String>,
    /// Who sent it (required).
    pub sender: Option<InboundSenderBody>,
    /// `{type, …}`: text, image, document, audio, video, location, buttons or template (required).
    #[schema(value_type = Object)]
    pub content: Option<JsonMap>,
    /// Free-form JSON object kept with the message.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<JsonMap>,
    /// When the contact sent it (ISO 8601; defaults to now).
    pub sent_at: Option<String>,
}

/// `meta` of an inbound answer.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InboundMeta {
    pub request_id: String,
    /// `false` when the channel had already received a message with this `externalId` (a retry).
    pub created: bool,
    /// Whether a new conversation was started for the message.
    pub conversation_created: bool,
    /// The contact the message is from.
    pub contact_id: String,
}

/// `{"data": message, "meta": {requestId, created, conversationCreated, contactId}}`.
#[derive(Serialize, ToSchema)]
pub struct InboundDoc {
    pub data: Resource<MessageAttributes>,
    pub meta: InboundMeta,
}

/// A trimmed string of at most `max` characters; empty is absent.
fn bounded(field: &str, value: Option<String>, max: usize, errors: &mut Vec<FieldError>) -> Option<String> {
    match text(field, value, max) {
        Ok(v) => v,
        Err(e) => {
            errors.extend(e.details);
            None
        }
    }
}

/// The sender, validated: at least one of phone, email and external id, each well-formed.
fn inbound_sender(body: Option<InboundSenderBody>, errors: &mut Vec<FieldError>) -> InboundSender {
    let Some(s) = body else {
        errors.push(FieldError::new("sender", "is required (with a phone, an email or an externalId)"));
        return InboundSender::default();
    };
    let before = errors.len();
    let phone = bounded("sender.phone", s.phone, 64, errors).and_then(|raw| {
        let p = normalize_phone(&raw);
        if p.is_none() {
            errors.push(FieldError::new("sender.phone", "must be a phone number in E.164 format (+5511999999999)"));
        }
        p
    });
    let email = bounded("sender.email", s.email, 254, errors).and_then(|raw| {
        let e = normalize_email(&raw);
        if e.is_none() {
            errors.push(FieldError::new("sender.email", "must be an email address (name@example.com)"));
        }
        e
    });
    let external_id = bounded("sender.externalId", s.external_id, EXTERNAL_ID_MAX, errors);
    let name = bounded("sender.name", s.name, SENDER_NAME_MAX, errors);
    if errors.len() == before && phone.is_none() && email.is_none() && external_id.is_none() {
        errors.push(FieldError::new("sender", "needs a phone (E.164), an email or an externalId"));
    }
    InboundSender { phone, email, external_id, name }
}

/// Receive an inbound message.
///
/// For channel connectors: stores a message a contact sent on this channel, finding or creating the
/// contact and its active conversation. Answers 201 with the message, or 200 with the stored one
/// when the channel already received a message with this `externalId`.
#[utoipa::path(post, path = "/channels/{id}/inbound", tag = "channels", params(("id" = String, Path)),
    request_body = InboundBody,
    responses(
        (status = 201, description = "The message was stored", body = InboundDoc),
        (status = 200, description = "A retry: the message stored before (`meta.created: false`)", body = InboundDoc),
        (status = 400, description = "VALIDATION_ERROR naming each invalid field, or UNSUPPORTED_CONTENT_TYPE", body = super::extract::ErrorDoc),
        (status = 403, description = "INSUFFICIENT_PERMISSIONS (messages:write)", body = super::extract::ErrorDoc),
        (status = 404, description = "CHANNEL_NOT_FOUND", body = super::extract::ErrorDoc),
        (status = 422, description = "CHANNEL_NOT_CONNECTED: the channel is inactive", body = super::extract::ErrorDoc),
    ),
    security(("bearer" = []), ("api_key" = [])))]
async fn receive_inbound(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(body): Json<InboundBody>,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Messages, Access::Write)?;
    let channel_id = channel_id(&id)?;
    let mut errors = Vec::new();
    let external_id = bounded("externalId", body.external_id, EXTERNAL_ID_MAX, &mut errors);
    let sender = inbound_sender(body.sender, &mut errors);
    let mut unsupported = None;
    let content = match json_object("content", body.content) {
        Err(e) => {
            errors.extend(e.details);
            None
        }
        Ok(None) => {
            errors.push(FieldError::new("content", "is required"));
            None
        }
        Ok(Some(content)) => match validate_content(&content) {
            Ok(_) => Some(content),
            Err(Error::Validation(e)) => {
                errors.extend(e);
                None
            }
            Err(e) => {
                unsupported = Some(e);
                None
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
    let sent_at =
        body.sent_at.as_deref().map(str::trim).filter(|v| !v.is_empty()).and_then(|raw| {
            match time::parse_iso(raw, false) {
                Some(t) if t > time::now() + SENT_AT_SKEW => {
                    errors.push(FieldError::new("sentAt", "must not be in the future"));
                    None
                }
                Some(t) => Some(t),
                None => {
                    errors.push(FieldError::new("sentAt", "must be an ISO 8601 date-time (2024-01-15T10:00:00Z)"));
                    None
                }
            }
        });
    if !errors.is_empty() {
        return Err(ApiError::invalid_fields(errors).into());
    }
    if let Some(e) = unsupported {
        return Err(inbound_error(e));
    }
    let inbound =
        InboundMessage { channel_id, external_id, sender, content: content.unwrap_or_default(), metadata, sent_at };
    let ingested = s.store.ingest_inbound(&ctx, inbound).await.map_err(inbound_error)?;
    let status = if ingested.created { StatusCode::CREATED } else { StatusCode::OK };
    let doc = InboundDoc {
        data: message_render::resource(ingested.message),
        meta: InboundMeta {
            request_id: crate::request_id::current(),
            created: ingested.created,
            conversation_created: ingested.conversation_created,
            contact_id: ingested.contact_id.to_string(),
        },
    };
    Ok((status, axum::Json(doc)).into_response())
}

/// An error of an inbound message with the statuses Linktor documents for its codes:
/// `UNSUPPORTED_CONTENT_TYPE` is 400 (naming `content.type`), `CHANNEL_NOT_CONNECTED` 422.
fn inbound_error(e: Error) -> LinktorError {
    let mut api = ApiError::from(e);
    match api.code {
        "UNSUPPORTED_CONTENT_TYPE" => {
            api.status = StatusCode::BAD_REQUEST;
            if api.details.is_empty() {
                api.details = vec![FieldError::new("content.type", api.message.clone())];
            }
        }
        "CHANNEL_NOT_CONNECTED" => api.status = StatusCode::UNPROCESSABLE_ENTITY,
        _ => {}
    }
    LinktorError(api)
}
