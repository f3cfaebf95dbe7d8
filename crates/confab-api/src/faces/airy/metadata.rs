//! `metadata.upsert` (`reference/airy.md` §9): `{subject, id, data}` → 204.
//!
//! Decisions:
//! - `subject` is `conversation`, `message` or `channel` (anything else, or none, is 400 naming
//!   `subject`); `id` is the subject's id (a UUID, 400 otherwise); `data` is a JSON object (400
//!   otherwise), nested at most 16 levels.
//! - The scope is the subject's write scope: `conversations:write`, `messages:write`,
//!   `channels:write` (403, empty, without it).
//! - Airy writes every leaf of `data` as a record under `user_data.` and renders the records as
//!   nested objects, so an upsert deep-merges: objects merge key by key, anything else (arrays too)
//!   replaces. Confab does the same with the core's deep merge, where a `null` value deletes the key
//!   (Airy has no delete endpoint and would keep a `null`; the core's merge is the one /v1's PATCH
//!   uses, so both faces agree on what `null` means).
//! - A conversation's `user_data` *is* its core custom metadata (DESIGN.md, mapping table): the data
//!   is merged into it, and /v1 shows it as the conversation's `metadata`. A message's and a
//!   channel's metadata are rendered whole by this face, so the data is merged under their
//!   `user_data` key, where Airy clients read it (`metadata.user_data.…`), and /v1 shows it there.
//!   A message change appends `message.updated`, a conversation change `conversation.updated`, a
//!   channel change `channel.updated`; a merge that changes nothing appends nothing (but the channel
//!   store's update, which always appends its event).
//! - Airy does not check that the subject exists; Confab does: an unknown subject (or an inactive
//!   channel, which this face does not show) is 404 with an empty body.

use super::channels::active_channel;
use super::{no_content, required_id, AiryAuth, AiryError, Body, ErrorMessage};
use crate::faces::params::json_object;
use crate::AppState;
use axum::extract::State;
use axum::response::Response;
use confab_core::model::*;
use confab_core::{ChannelId, ConversationId, MessageId};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(upsert_metadata))
}

/// `metadata.upsert`.
#[derive(Deserialize, ToSchema)]
pub struct UpsertRequest {
    /// `conversation`, `message` or `channel`.
    pub subject: Option<String>,
    /// The subject's id (a UUID).
    pub id: Option<String>,
    /// Deep-merged into the subject's `user_data`; a `null` value deletes the key.
    #[schema(value_type = Object)]
    pub data: Option<Value>,
}

/// The subjects metadata can be written on.
#[derive(Clone, Copy)]
enum Subject {
    Conversation,
    Message,
    Channel,
}

impl Subject {
    fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "conversation" => Subject::Conversation,
            "message" => Subject::Message,
            "channel" => Subject::Channel,
            _ => return None,
        })
    }

    fn scope(self) -> ScopeResource {
        match self {
            Subject::Conversation => ScopeResource::Conversations,
            Subject::Message => ScopeResource::Messages,
            Subject::Channel => ScopeResource::Channels,
        }
    }
}

/// `{"user_data": data}`: where a message's or a channel's metadata keeps what Airy writes.
fn under_user_data(data: JsonMap) -> JsonMap {
    let mut patch = JsonMap::new();
    patch.insert("user_data".into(), Value::Object(data));
    patch
}

/// Merge data into a conversation's, a message's or a channel's user_data.
#[utoipa::path(post, path = "/metadata.upsert", tag = "airy", request_body = UpsertRequest,
    responses(
        (status = 204),
        (status = 400, body = ErrorMessage),
        (status = 403, description = "No key, an invalid key, or not the subject's write scope (empty body)"),
        (status = 404, description = "No such subject (empty body)"),
    ),
    security(("bearer" = []), ("airy_cookie" = [])))]
async fn upsert_metadata(State(s): State<AppState>, auth: AiryAuth, body: Body) -> Result<Response, AiryError> {
    // The scope depends on the subject, so the body is read first; a key without any of the three
    // scopes is refused before that.
    let writes_any = [ScopeResource::Conversations, ScopeResource::Messages, ScopeResource::Channels]
        .into_iter()
        .any(|r| auth.require(r, Access::Write).is_ok());
    if !writes_any {
        auth.require(ScopeResource::Conversations, Access::Write)?;
    }
    let req: UpsertRequest = body.parse()?;
    let subject = req.subject.as_deref().map(str::trim);
    let subject = match subject {
        None => return Err(AiryError::invalid("subject", "is required")),
        Some(raw) => Subject::parse(raw)
            .ok_or_else(|| AiryError::invalid("subject", "must be one of conversation, message, channel"))?,
    };
    let ctx = auth.require(subject.scope(), Access::Write)?;
    let id = required_id("id", req.id.as_deref())?;
    let data = match req.data {
        None => return Err(AiryError::invalid("data", "is required")),
        Some(Value::Object(map)) => json_object("data", Some(map))?.unwrap_or_default(),
        Some(_) => return Err(AiryError::invalid("data", "must be a JSON object")),
    };
    match subject {
        Subject::Conversation => {
            let patch = ConversationPatch { metadata: Some(data), ..ConversationPatch::default() };
            s.store.update_conversation(&ctx, ConversationId(id), patch).await?;
        }
        Subject::Message => {
            s.store.update_message_metadata(&ctx, MessageId(id), under_user_data(data)).await?;
        }
        Subject::Channel => {
            let id = ChannelId(id);
            active_channel(&s.store, &ctx, id).await?;
            let patch = ChannelPatch { metadata: Some(under_user_data(data)), ..ChannelPatch::default() };
            s.store.update_channel(&ctx, id, patch).await?;
        }
    }
    Ok(no_content())
}
