//! `channels.list`, `channels.info`, `channels.update` (`reference/airy.md` §8): the organisation's
//! channels as Airy shows them (the JSON in [`super::render`]). Connecting and disconnecting are per
//! source in Airy and done through /v1 in Confab (create, activate, deactivate).
//!
//! Decisions:
//! - Airy shows connected channels only, and so does this face: `channels.list` lists the active
//!   channels (newest first), `channels.info` and `channels.update` are 404 (empty) for an inactive
//!   one as for an unknown one.
//! - `channels.list` `{source?}`: only channels of that type; a source Confab has no channels of
//!   (`twilio.sms`, a typo) is an empty list, as Airy's equality filter gives.
//! - `channels.update` `{channel_id, name?, image_url?}` answers 200 with the channel. `name` (1 to
//!   200 characters) renames it (the /v1 name too); `image_url` (at most 2,000 characters) is kept in
//!   the channel's metadata as `image_url`, where Airy shows it; `null` or `""` removes it.

use super::render::{channel_json, ChannelJson, DataList};
use super::{required_id, AiryAuth, AiryError, Body, ErrorMessage};
use crate::faces::params::{double_option, text};
use crate::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use confab_core::model::*;
use confab_core::ChannelId;
use confab_store::DynStore;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const NAME_MAX: usize = 200;
const IMAGE_URL_MAX: usize = 2000;
/// Channels read per query while listing them all.
const LIST_CHUNK: u32 = 500;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_channels)).routes(routes!(channel_info)).routes(routes!(update_channel))
}

/// `channels.list`.
#[derive(Deserialize, ToSchema)]
pub struct ListChannelsRequest {
    /// Only channels of this source (channel type).
    pub source: Option<String>,
}

/// `channels.info`.
#[derive(Deserialize, ToSchema)]
pub struct ChannelRequest {
    /// The channel's id (a UUID).
    pub channel_id: Option<String>,
}

/// `channels.update`: absent fields are left as they are.
#[derive(Deserialize, ToSchema)]
pub struct UpdateChannelRequest {
    pub channel_id: Option<String>,
    pub name: Option<String>,
    /// Kept in the channel's metadata; `null` or `""` removes it.
    #[serde(default, deserialize_with = "double_option")]
    pub image_url: Option<Option<String>>,
}

/// An active channel of the tenant; an inactive or unknown one is 404.
pub(super) async fn active_channel(store: &DynStore, ctx: &Ctx, id: ChannelId) -> Result<Channel, AiryError> {
    let channel = store.get_channel(ctx, id).await?;
    if channel.status != ChannelStatus::Active {
        return Err(AiryError::not_found());
    }
    Ok(channel)
}

/// List the active channels.
#[utoipa::path(post, path = "/channels.list", tag = "airy", request_body = ListChannelsRequest,
    responses((status = 200, body = DataList<ChannelJson>), (status = 400, body = ErrorMessage), (status = 403)),
    security(("bearer" = []), ("airy_cookie" = [])))]
async fn list_channels(State(s): State<AppState>, auth: AiryAuth, body: Body) -> Result<Response, AiryError> {
    let ctx = auth.require(ScopeResource::Channels, Access::Read)?;
    let req: ListChannelsRequest = body.parse()?;
    let source = req.source.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let channel_type = match source.as_deref() {
        None => None,
        Some(raw) => match ChannelType::parse(raw) {
            Some(t) => Some(t),
            None => return Ok(axum::Json(DataList::<ChannelJson> { data: Vec::new() }).into_response()),
        },
    };
    let filter = ChannelFilter { channel_type, status: Some(ChannelStatus::Active), search: None };
    let mut data = Vec::new();
    for page in 1.. {
        let chunk = s.store.list_channels(&ctx, &filter, PageRequest { page, per_page: LIST_CHUNK }).await?;
        let done = chunk.items.len() < LIST_CHUNK as usize;
        data.extend(chunk.items.iter().map(channel_json));
        if done {
            break;
        }
    }
    Ok(axum::Json(DataList { data }).into_response())
}

/// An active channel.
#[utoipa::path(post, path = "/channels.info", tag = "airy", request_body = ChannelRequest,
    responses(
        (status = 200, body = ChannelJson),
        (status = 400, body = ErrorMessage),
        (status = 403),
        (status = 404, description = "No such active channel (empty body)"),
    ),
    security(("bearer" = []), ("airy_cookie" = [])))]
async fn channel_info(State(s): State<AppState>, auth: AiryAuth, body: Body) -> Result<Response, AiryError> {
    let ctx = auth.require(ScopeResource::Channels, Access::Read)?;
    let req: ChannelRequest = body.parse()?;
    let id = ChannelId(required_id("channel_id", req.channel_id.as_deref())?);
    let channel = active_channel(&s.store, &ctx, id).await?;
    Ok(axum::Json(channel_json(&channel)).into_response())
}

/// Rename a channel or set its image.
#[utoipa::path(post, path = "/channels.update", tag = "airy", request_body = UpdateChannelRequest,
    responses(
        (status = 200, body = ChannelJson),
        (status = 400, body = ErrorMessage),
        (status = 403),
        (status = 404, description = "No such active channel (empty body)"),
    ),
    security(("bearer" = []), ("airy_cookie" = [])))]
async fn update_channel(State(s): State<AppState>, auth: AiryAuth, body: Body) -> Result<Response, AiryError> {
    let ctx = auth.require(ScopeResource::Channels, Access::Write)?;
    let req: UpdateChannelRequest = body.parse()?;
    let id = ChannelId(required_id("channel_id", req.channel_id.as_deref())?);
    let name = match req.name {
        None => None,
        Some(n) => {
            Some(text("name", Some(n), NAME_MAX)?.ok_or_else(|| AiryError::invalid("name", "must not be empty"))?)
        }
    };
    let metadata = match req.image_url {
        None => None,
        Some(url) => {
            let url = text("image_url", url, IMAGE_URL_MAX)?;
            let mut patch = JsonMap::new();
            patch.insert("image_url".into(), url.map_or(Value::Null, Value::String));
            Some(patch)
        }
    };
    active_channel(&s.store, &ctx, id).await?;
    let patch = ChannelPatch { name, metadata, ..ChannelPatch::default() };
    let channel = s.store.update_channel(&ctx, id, patch).await?;
    Ok(axum::Json(channel_json(&channel)).into_response())
}
