//! `/conversations`: list, create, retrieve, update (PUT, partial), delete.
//!
//! Decisions (DESIGN.md, Protocol):
//! - Every conversation of the tenant is listed, whatever face created it, newest created first.
//!   `muted`, `archived`, `pinned`: absent = no filter, `true` = only those, `false` = only the
//!   others; `group_id` = the group's conversation.
//! - Create needs `contact_id` or `group_id` (both: 400). One conversation per contact — its
//!   channel-less Protocol conversation; conversations on channels do not count — and one per group:
//!   a second create returns the existing one with 200 (201 when created). An unknown id is 404
//!   `invalid_request` naming the field.
//! - PUT changes `pinned_message_id` (a message of this conversation, else 404 naming it; `null` or
//!   empty unpins), `is_pinned`, `is_muted`, `archived_at` (unix seconds; `null` or empty
//!   unarchives); other fields are ignored. One `conversation.updated` when something changed.
//! - DELETE (204) removes the conversation and its messages (and their attachments);
//!   `conversation.deleted` is appended and the events stay.
//! - `last_opened_at` is the authenticated user's: a retrieval (`GET /conversations/:id`) shows its
//!   own time and records it after the response, coalesced with other retrievals, with no event;
//!   lists show the recorded time.

use super::render::{self, ProtocolConversationJson};
use super::{bool_filter, cursor, json, no_content, Body, IdRef, PathId, ProtocolAuth, ProtocolError, ProtocolList};
use crate::faces::params::Params;
use crate::AppState;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use confab_core::model::*;
use confab_core::{ContactId, ConversationId, GroupId, MessageId, Resource, Time, UserId};
use confab_store::{DynStore, ProtocolConversationFilter, ProtocolConversationPatch, ProtocolTarget};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_conversations, create_conversation)).routes(routes!(
        get_conversation,
        update_conversation,
        delete_conversation
    ))
}

/// Records retrievals after their response: pending times per (user, conversation), written by one
/// task at a time, so a burst of retrievals becomes one write per conversation and user.
#[derive(Clone)]
pub struct OpenedRecorder {
    store: DynStore,
    pending: Arc<Mutex<HashMap<UserId, HashMap<ConversationId, Time>>>>,
}

impl OpenedRecorder {
    pub fn new(store: DynStore) -> Arc<Self> {
        Arc::new(OpenedRecorder { store, pending: Arc::default() })
    }

    /// Notes that `user` opened `id` at `at`; starts a flush unless one is pending already.
    pub fn record(&self, user: UserId, id: ConversationId, at: Time) {
        let start = {
            let Ok(mut pending) = self.pending.lock() else { return };
            let start = pending.is_empty();
            let slot = pending.entry(user).or_default().entry(id).or_insert(at);
            if at > *slot {
                *slot = at;
            }
            start
        };
        if start {
            let me = self.clone();
            tokio::spawn(async move {
                // Let the response go first, and gather the retrievals that come meanwhile.
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                let batch = me.pending.lock().map(|mut p| std::mem::take(&mut *p)).unwrap_or_default();
                for (user, opened) in batch {
                    let opened: Vec<_> = opened.into_iter().collect();
                    if let Err(e) = me.store.record_opened(user, &opened).await {
                        tracing::warn!(error = %e, "cannot record last_opened_at");
                    }
                }
            });
        }
    }
}

/// `POST /conversations`.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ProtocolCreateConversationRequest {
    /// The contact to talk to (or `group_id`).
    pub contact_id: Option<String>,
    /// The group whose conversation it is (or `contact_id`).
    pub group_id: Option<String>,
}

/// `PUT /conversations/:id`: only the fields given change.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ProtocolUpdateConversationRequest {
    /// A message of this conversation; `null` or empty unpins.
    pub pinned_message_id: Option<String>,
    pub is_pinned: Option<bool>,
    pub is_muted: Option<bool>,
    /// Unix seconds; `null` or empty unarchives.
    pub archived_at: Option<i64>,
}

#[utoipa::path(get, path = "/conversations", tag = "protocol",
    params(
        ("limit" = Option<u32>, Query, description = "1 to 100, default 10"),
        ("starting_after" = Option<String>, Query, description = "The last id of the current page"),
        ("ending_before" = Option<String>, Query, description = "The first id of the current page"),
        ("muted" = Option<bool>, Query), ("archived" = Option<bool>, Query), ("pinned" = Option<bool>, Query),
        ("group_id" = Option<String>, Query),
    ),
    responses((status = 200, body = ProtocolList<ProtocolConversationJson>), (status = 400, body = super::ProtocolErrorDoc),
        (status = 401, body = super::ProtocolErrorDoc), (status = 403, body = super::ProtocolErrorDoc)),
    security(("bearer" = []), ("basic" = [])))]
async fn list_conversations(
    State(s): State<AppState>,
    auth: ProtocolAuth,
    RawQuery(q): RawQuery,
) -> Result<Response, ProtocolError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Read)?;
    let mut p = Params::from_query(q.as_deref());
    let cursor = cursor(&mut p);
    let filter = ProtocolConversationFilter {
        muted: bool_filter(&mut p, "muted"),
        archived: bool_filter(&mut p, "archived"),
        pinned: bool_filter(&mut p, "pinned"),
        group_id: p.uuid("group_id").map(GroupId),
    };
    p.finish()?;
    let page = s.store.protocol_conversations(&ctx, &filter, cursor).await?;
    let ids: Vec<ConversationId> = page.items.iter().map(|v| v.conversation.id).collect();
    let opened = s.store.last_opened(auth.0 .0.user_id, &ids).await?;
    Ok(json(
        StatusCode::OK,
        ProtocolList { has_more: page.has_more, data: render::conversations(&page.items, &opened) },
    ))
}

#[utoipa::path(post, path = "/conversations", tag = "protocol", request_body(content = ProtocolCreateConversationRequest,
        content_type = "application/x-www-form-urlencoded", description = "Form-encoded (as Protocol's curl examples) or the same fields as JSON"),
    responses((status = 201, description = "Created", body = ProtocolConversationJson),
        (status = 200, description = "The contact's or group's existing conversation", body = ProtocolConversationJson),
        (status = 400, body = super::ProtocolErrorDoc), (status = 401, body = super::ProtocolErrorDoc),
        (status = 403, body = super::ProtocolErrorDoc), (status = 404, description = "Unknown contact_id or group_id", body = super::ProtocolErrorDoc)),
    security(("bearer" = []), ("basic" = [])))]
async fn create_conversation(
    State(s): State<AppState>,
    auth: ProtocolAuth,
    Body(f): Body,
) -> Result<Response, ProtocolError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Write)?;
    let contact = f.id("contact_id")?.flatten();
    let group = f.id("group_id")?.flatten();
    let target = match (contact, group) {
        (Some(_), Some(_)) => {
            return Err(crate::error::ApiError::invalid("group_id", "cannot be combined with contact_id").into())
        }
        (Some(c), None) => ProtocolTarget::Contact(ContactId(c.or_not_found(Resource::Contact, "contact_id")?)),
        (None, Some(g)) => ProtocolTarget::Group(GroupId(g.or_not_found(Resource::Group, "group_id")?)),
        (None, None) => return Err(crate::error::ApiError::invalid("contact_id", "is required (or group_id)").into()),
    };
    let (view, created) = s.store.protocol_open_conversation(&ctx, target).await?;
    let opened = s.store.last_opened(auth.0 .0.user_id, &[view.conversation.id]).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(json(status, render::conversation(&view, opened.get(&view.conversation.id).copied())))
}

#[utoipa::path(get, path = "/conversations/{id}", tag = "protocol", params(("id" = String, Path)),
    responses((status = 200, body = ProtocolConversationJson), (status = 401, body = super::ProtocolErrorDoc),
        (status = 403, body = super::ProtocolErrorDoc), (status = 404, body = super::ProtocolErrorDoc)),
    security(("bearer" = []), ("basic" = [])))]
async fn get_conversation(
    State(s): State<AppState>,
    Extension(recorder): Extension<Arc<OpenedRecorder>>,
    auth: ProtocolAuth,
    PathId(id): PathId,
) -> Result<Response, ProtocolError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Read)?;
    let view = s.store.get_conversation(&ctx, ConversationId(id)).await?;
    let now = confab_core::time::now();
    recorder.record(auth.0 .0.user_id, view.conversation.id, now);
    Ok(json(StatusCode::OK, render::conversation(&view, Some(now))))
}

#[utoipa::path(put, path = "/conversations/{id}", tag = "protocol", params(("id" = String, Path)),
    request_body(content = ProtocolUpdateConversationRequest,
        content_type = "application/x-www-form-urlencoded", description = "Form-encoded (as Protocol's curl examples) or the same fields as JSON"),
    responses((status = 200, body = ProtocolConversationJson), (status = 400, body = super::ProtocolErrorDoc),
        (status = 401, body = super::ProtocolErrorDoc), (status = 403, body = super::ProtocolErrorDoc),
        (status = 404, description = "Unknown conversation or pinned_message_id", body = super::ProtocolErrorDoc)),
    security(("bearer" = []), ("basic" = [])))]
async fn update_conversation(
    State(s): State<AppState>,
    auth: ProtocolAuth,
    PathId(id): PathId,
    Body(f): Body,
) -> Result<Response, ProtocolError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Write)?;
    let pinned = match f.id("pinned_message_id")? {
        None => None,
        Some(None) => Some(None),
        Some(Some(IdRef::Id(m))) => Some(Some(MessageId(m))),
        Some(Some(IdRef::NotAnId)) => {
            return Err(confab_core::Error::not_found_field(Resource::Message, "pinned_message_id").into())
        }
    };
    let patch = ProtocolConversationPatch {
        pinned_message_id: pinned,
        is_pinned: f.bool("is_pinned")?,
        is_muted: f.bool("is_muted")?,
        archived_at: f.time("archived_at")?,
    };
    let view = s.store.protocol_update_conversation(&ctx, ConversationId(id), patch).await?;
    let opened = s.store.last_opened(auth.0 .0.user_id, &[view.conversation.id]).await?;
    Ok(json(StatusCode::OK, render::conversation(&view, opened.get(&view.conversation.id).copied())))
}

#[utoipa::path(delete, path = "/conversations/{id}", tag = "protocol", params(("id" = String, Path)),
    responses((status = 204, description = "Deleted with its messages"), (status = 401, body = super::ProtocolErrorDoc),
        (status = 403, body = super::ProtocolErrorDoc), (status = 404, body = super::ProtocolErrorDoc)),
    security(("bearer" = []), ("basic" = [])))]
async fn delete_conversation(
    State(s): State<AppState>,
    auth: ProtocolAuth,
    PathId(id): PathId,
) -> Result<Response, ProtocolError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Write)?;
    s.store.delete_conversation(&ctx, ConversationId(id), None).await?;
    Ok(no_content())
}
