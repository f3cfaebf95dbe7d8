//! `/messages`: list, send, retrieve, update (PUT), delete.
//!
//! Decisions:
//! - A message sent here is an outbound text message of the conversation from the key's user
//!   (`message.sent`, as `POST /v1/messages`); its `contact` is made from the user (DESIGN.md
//!   mapping table). Inbound messages show their contact. `conversation_id` and `message` are
//!   required; an unknown conversation is 404 naming `conversation_id`.
//! - `attachments[]` are ids of uploaded attachments not yet on a message (404 naming
//!   `attachments` otherwise); they then belong to the message (and its conversation) and go with
//!   it.
//! - The list is the tenant's messages, or one conversation's with `conversation_id` (404 naming it
//!   when unknown), newest first.
//! - PUT changes `message` (the text), `reactions` (`{emoji: [usernames]}`; form
//!   `reactions[emoji][]=name`; replaces them all, an emoji with no names is dropped) and
//!   `attachments` (replaces them; the ones left out become unattached). A change sets
//!   `updated_at` and appends `message.updated`. Reactions render as `[{"emoji": [names]}]`.
//! - DELETE (204) deletes the message and its attachments; the conversation's counters follow.

use super::attachments::{file_url, UrlSigner};
use super::render::{self, ProtocolMessageJson};
use super::{cursor, json, no_content, Body, Fields, IdRef, PathId, ProtocolAuth, ProtocolError, ProtocolList};
use crate::error::ApiError;
use crate::faces::params::Params;
use crate::AppState;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use confab_core::model::*;
use confab_core::{AttachmentId, ContactId, ConversationId, MessageId, Resource};
use confab_store::{ProtocolContact, ProtocolMessage, ProtocolMessagePatch};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The longest message text.
pub const MAX_TEXT: usize = 4096;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_messages, send_message)).routes(routes!(
        get_message,
        update_message,
        delete_message
    ))
}

/// `POST /messages`.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ProtocolSendMessageRequest {
    pub conversation_id: String,
    pub message: String,
    /// Ids of uploaded attachments.
    pub attachments: Option<Vec<String>>,
}

/// `PUT /messages/:id`.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ProtocolUpdateMessageRequest {
    pub message: Option<String>,
    /// `{emoji: [usernames]}`.
    #[schema(value_type = Option<Object>)]
    pub reactions: Option<Value>,
    pub attachments: Option<Vec<String>>,
}

/// Renders messages, loading the contacts who sent them (each once).
async fn render_all(
    s: &AppState,
    ctx: &Ctx,
    signer: &UrlSigner,
    headers: &HeaderMap,
    items: &[ProtocolMessage],
) -> Result<Vec<ProtocolMessageJson>, ProtocolError> {
    let mut contacts: HashMap<uuid::Uuid, ProtocolContact> = HashMap::new();
    for m in items {
        if let (ActorKind::Contact, Some(id)) = (m.message.sender.kind, m.message.sender.id) {
            if contacts.contains_key(&id) {
                continue;
            }
            match s.store.protocol_contact(ctx, ContactId(id)).await {
                Ok(c) => {
                    contacts.insert(id, c);
                }
                Err(confab_core::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    let url = |a: &confab_store::Attachment| file_url(signer, headers, a.id);
    Ok(items.iter().map(|m| render::message(m, &contacts, &url)).collect())
}

fn attachment_ids(f: &Fields) -> Result<Option<Vec<AttachmentId>>, ProtocolError> {
    let Some(ids) = f.ids("attachments")? else { return Ok(None) };
    Ok(Some(
        ids.into_iter()
            .map(|i| i.or_not_found(Resource::Attachment, "attachments").map(AttachmentId))
            .collect::<Result<Vec<_>, _>>()?,
    ))
}

/// `{emoji: [names]}` (also `[{emoji: [names]}]`, the shape Protocol renders).
fn reactions(f: &Fields) -> Result<Option<BTreeMap<String, Vec<String>>>, ApiError> {
    let bad = || ApiError::invalid("reactions", "must map each emoji to a list of usernames");
    let mut entries: Vec<(String, Value)> = Vec::new();
    match f.0.get("reactions") {
        None => return Ok(None),
        Some(Value::Null) => return Ok(Some(BTreeMap::new())),
        Some(Value::String(s)) if s.is_empty() => return Ok(Some(BTreeMap::new())),
        Some(Value::Object(m)) => entries.extend(m.iter().map(|(k, v)| (k.clone(), v.clone()))),
        Some(Value::Array(items)) => {
            for item in items {
                let Value::Object(m) = item else { return Err(bad()) };
                entries.extend(m.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        Some(_) => return Err(bad()),
    }
    if entries.len() > 100 {
        return Err(ApiError::invalid("reactions", "must hold at most 100 emojis"));
    }
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (emoji, names) in entries {
        let emoji = emoji.trim().to_string();
        if emoji.is_empty() || emoji.chars().count() > 100 {
            return Err(ApiError::invalid("reactions", "emoji names must be 1 to 100 characters"));
        }
        let names = match names {
            Value::String(s) => vec![s],
            Value::Array(a) => {
                a.into_iter().map(|v| v.as_str().map(str::to_string).ok_or_else(bad)).collect::<Result<_, _>>()?
            }
            Value::Null => Vec::new(),
            _ => return Err(bad()),
        };
        let slot = out.entry(emoji).or_default();
        for n in names.into_iter().map(|n| n.trim().to_string()).filter(|n| !n.is_empty()) {
            if n.chars().count() > 100 {
                return Err(ApiError::invalid("reactions", "usernames must be at most 100 characters"));
            }
            if !slot.contains(&n) {
                slot.push(n);
            }
        }
        if slot.len() > 1000 {
            return Err(ApiError::invalid("reactions", "must hold at most 1000 usernames per emoji"));
        }
    }
    out.retain(|_, v| !v.is_empty());
    Ok(Some(out))
}

#[utoipa::path(get, path = "/messages", tag = "protocol",
    params(("conversation_id" = Option<String>, Query), ("limit" = Option<u32>, Query),
        ("starting_after" = Option<String>, Query), ("ending_before" = Option<String>, Query)),
    responses((status = 200, body = ProtocolList<ProtocolMessageJson>), (status = 400, body = super::ProtocolErrorDoc),
        (status = 401, body = super::ProtocolErrorDoc), (status = 403, body = super::ProtocolErrorDoc),
        (status = 404, body = super::ProtocolErrorDoc)),
    security(("bearer" = []), ("basic" = [])))]
async fn list_messages(
    State(s): State<AppState>,
    Extension(signer): Extension<Arc<UrlSigner>>,
    headers: HeaderMap,
    auth: ProtocolAuth,
    RawQuery(q): RawQuery,
) -> Result<Response, ProtocolError> {
    let ctx = auth.require(ScopeResource::Messages, Access::Read)?;
    let mut p = Params::from_query(q.as_deref());
    let cursor = cursor(&mut p);
    let conversation = p.str("conversation_id");
    p.finish()?;
    let conversation = match conversation {
        None => None,
        Some(c) => Some(ConversationId(
            uuid::Uuid::parse_str(&c)
                .map_err(|_| confab_core::Error::not_found_field(Resource::Conversation, "conversation_id"))?,
        )),
    };
    let page = s.store.protocol_messages(&ctx, conversation, cursor).await?;
    let data = render_all(&s, &ctx, &signer, &headers, &page.items).await?;
    Ok(json(StatusCode::OK, ProtocolList { has_more: page.has_more, data }))
}

#[utoipa::path(post, path = "/messages", tag = "protocol", request_body(content = ProtocolSendMessageRequest,
        content_type = "application/x-www-form-urlencoded", description = "Form-encoded (as Protocol's curl examples) or the same fields as JSON"),
    responses((status = 201, body = ProtocolMessageJson), (status = 400, body = super::ProtocolErrorDoc),
        (status = 401, body = super::ProtocolErrorDoc), (status = 403, body = super::ProtocolErrorDoc),
        (status = 404, description = "Unknown conversation_id or attachments", body = super::ProtocolErrorDoc)),
    security(("bearer" = []), ("basic" = [])))]
async fn send_message(
    State(s): State<AppState>,
    Extension(signer): Extension<Arc<UrlSigner>>,
    headers: HeaderMap,
    auth: ProtocolAuth,
    Body(f): Body,
) -> Result<Response, ProtocolError> {
    let ctx = auth.require(ScopeResource::Messages, Access::Write)?;
    let conversation = match f.id("conversation_id")?.flatten() {
        None => return Err(ApiError::invalid("conversation_id", "is required").into()),
        Some(IdRef::NotAnId) => {
            return Err(confab_core::Error::not_found_field(Resource::Conversation, "conversation_id").into())
        }
        Some(IdRef::Id(u)) => ConversationId(u),
    };
    let text = f.required_text("message", MAX_TEXT)?;
    let files = attachment_ids(&f)?.unwrap_or_default();
    for id in &files {
        let a = s.store.get_attachment(&ctx, *id).await.map_err(|e| match e {
            confab_core::Error::NotFound { resource, .. } => {
                confab_core::Error::not_found_field(resource, "attachments")
            }
            e => e,
        })?;
        if a.message_id.is_some() {
            return Err(ApiError::invalid("attachments", "holds an attachment that is already on a message").into());
        }
    }
    let pm = s.store.protocol_send_message(&ctx, conversation, text, &files).await?;
    let mut out = render_all(&s, &ctx, &signer, &headers, std::slice::from_ref(&pm)).await?;
    Ok(json(StatusCode::CREATED, out.pop()))
}

#[utoipa::path(get, path = "/messages/{id}", tag = "protocol", params(("id" = String, Path)),
    responses((status = 200, body = ProtocolMessageJson), (status = 401, body = super::ProtocolErrorDoc),
        (status = 403, body = super::ProtocolErrorDoc), (status = 404, body = super::ProtocolErrorDoc)),
    security(("bearer" = []), ("basic" = [])))]
async fn get_message(
    State(s): State<AppState>,
    Extension(signer): Extension<Arc<UrlSigner>>,
    headers: HeaderMap,
    auth: ProtocolAuth,
    PathId(id): PathId,
) -> Result<Response, ProtocolError> {
    let ctx = auth.require(ScopeResource::Messages, Access::Read)?;
    let pm = s.store.protocol_message(&ctx, MessageId(id)).await?;
    let mut out = render_all(&s, &ctx, &signer, &headers, std::slice::from_ref(&pm)).await?;
    Ok(json(StatusCode::OK, out.pop()))
}

#[utoipa::path(put, path = "/messages/{id}", tag = "protocol", params(("id" = String, Path)),
    request_body(content = ProtocolUpdateMessageRequest, content_type = "application/x-www-form-urlencoded", description = "Form-encoded (as Protocol's curl examples) or the same fields as JSON"),
    responses((status = 200, body = ProtocolMessageJson), (status = 400, body = super::ProtocolErrorDoc),
        (status = 401, body = super::ProtocolErrorDoc), (status = 403, body = super::ProtocolErrorDoc),
        (status = 404, body = super::ProtocolErrorDoc)),
    security(("bearer" = []), ("basic" = [])))]
async fn update_message(
    State(s): State<AppState>,
    Extension(signer): Extension<Arc<UrlSigner>>,
    headers: HeaderMap,
    auth: ProtocolAuth,
    PathId(id): PathId,
    Body(f): Body,
) -> Result<Response, ProtocolError> {
    let ctx = auth.require(ScopeResource::Messages, Access::Write)?;
    let text = match f.text("message", MAX_TEXT)? {
        None => None,
        Some(None) => return Err(ApiError::invalid("message", "must not be empty").into()),
        Some(Some(t)) => Some(t),
    };
    let patch = ProtocolMessagePatch { text, reactions: reactions(&f)?, attachments: attachment_ids(&f)? };
    let pm = s.store.protocol_update_message(&ctx, MessageId(id), patch).await?;
    let mut out = render_all(&s, &ctx, &signer, &headers, std::slice::from_ref(&pm)).await?;
    Ok(json(StatusCode::OK, out.pop()))
}

#[utoipa::path(delete, path = "/messages/{id}", tag = "protocol", params(("id" = String, Path)),
    responses((status = 204, description = "Deleted with its attachments"), (status = 401, body = super::ProtocolErrorDoc),
        (status = 403, body = super::ProtocolErrorDoc), (status = 404, body = super::ProtocolErrorDoc)),
    security(("bearer" = []), ("basic" = [])))]
async fn delete_message(
    State(s): State<AppState>,
    auth: ProtocolAuth,
    PathId(id): PathId,
) -> Result<Response, ProtocolError> {
    let ctx = auth.require(ScopeResource::Messages, Access::Write)?;
    s.store.delete_message(&ctx, MessageId(id)).await?;
    Ok(no_content())
}
