//! `/v1/channels`: create, list, get, update, delete, activate, deactivate.
//!
//! Decisions: a channel created through the API starts `active` (connectors live outside Confab,
//! DESIGN.md); its `type` cannot change; an unknown type is 400 `INVALID_CHANNEL_TYPE`; deleting a
//! channel with active conversations is 400 `ACTIVE_CONVERSATIONS_EXIST` unless `force=true`, which
//! closes them first (their conversations remain, with `channel: null`).

use super::envelope::{self, iso, page_request, Resource};
use super::extract::Path;
use super::extract::{no_content, Json, LinktorError};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::faces::params::{json_object, text, Params};
use crate::AppState;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use confab_core::model::*;
use confab_core::{BotId, ChannelId, Error, Resource as R};
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
