//! `/api/v1/inboxes`: G-Tateth documents none (reference §3.6), so they are designed in the face's
//! style.
//!
//! Decisions:
//! - An inbox is `{_id, name, description, channel, isActive, createdAt, updatedAt}`. `name` is
//!   required (1 to 100 characters) and unique per organisation regardless of case (409
//!   `INBOX_EXISTS` naming `name`); `description` at most 500 characters; `channel` one of the
//!   conversation channels (`email`, `chat`, `phone`, `whatsapp`, or a Confab channel type) and the
//!   default channel of the inbox's new conversations; `isActive` defaults to `true` and is
//!   informational (an inactive inbox still takes conversations).
//! - Scopes: inboxes belong to the `channels` scope (`read:inboxes`/`write:inboxes` are aliases).
//! - The list is oldest first, `page`/`limit` (default 20, max 100) with `pagination`.
//! - PUT is partial; `null` clears `description` and `channel`.
//! - Deleting an inbox that conversations belong to is refused, 409 `INBOX_NOT_EMPTY`: a
//!   conversation's inbox is required on create, so none is left without one.

use super::render::{
    self, channel_word, list_of, one, page_request, parse_channel, path_id, require, GtError, Json, Path, CHANNEL_WORDS,
};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::faces::params::{double_option, text, Params};
use crate::AppState;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use confab_core::model::{Access, ScopeResource};
use confab_core::{FieldError, InboxId};
use confab_store::{Inbox, InboxPatch, NewInbox};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const NAME_MAX: usize = 100;
const DESCRIPTION_MAX: usize = 500;
const LIMIT_DEFAULT: u32 = 20;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_inboxes, create_inbox)).routes(routes!(
        get_inbox,
        update_inbox,
        delete_inbox
    ))
}

/// An inbox.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InboxDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// The default channel of its new conversations.
    pub channel: Option<String>,
    pub is_active: bool,
    pub created_at: String,
    pub updated_at: String,
}

pub fn inbox(i: Inbox) -> InboxDoc {
    InboxDoc {
        id: i.id.to_string(),
        name: i.name,
        description: i.description,
        channel: i.channel.as_deref().map(channel_word),
        is_active: i.is_active,
        created_at: render::iso(i.created_at),
        updated_at: render::iso(i.updated_at),
    }
}

/// Request body of `POST /api/v1/inboxes`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateInbox {
    /// Required, 1 to 100 characters, unique per organisation.
    pub name: Option<String>,
    pub description: Option<String>,
    /// `email`, `chat`, `phone`, `whatsapp`, …
    pub channel: Option<String>,
    /// Default `true`.
    pub is_active: Option<bool>,
}

/// Request body of `PUT /api/v1/inboxes/{id}`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateInbox {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub channel: Option<Option<String>>,
    pub is_active: Option<bool>,
}

fn channel(errors: &mut Vec<FieldError>, raw: &str) -> Option<String> {
    let c = parse_channel(raw.trim()).map(str::to_string);
    if c.is_none() {
        errors.push(FieldError::new("channel", format!("must be one of: {CHANNEL_WORDS}")));
    }
    c
}

fn name(errors: &mut Vec<FieldError>, raw: Option<String>) -> Option<String> {
    match text("name", raw, NAME_MAX) {
        Ok(Some(n)) => Some(n),
        Ok(None) => {
            errors.push(FieldError::new("name", "is required"));
            None
        }
        Err(e) => {
            errors.extend(e.details);
            None
        }
    }
}

fn finish(errors: Vec<FieldError>) -> Result<(), GtError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid_fields(errors).into())
    }
}

/// List inboxes.
#[utoipa::path(get, path = "/inboxes", tag = "gtateth",
    params(
        ("page" = Option<u32>, Query, description = "Page number, from 1"),
        ("limit" = Option<u32>, Query, description = "Items per page (default 20, max 100)"),
    ),
    responses((status = 200, body = render::ListDoc<InboxDoc>), (status = 400, body = render::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn list_inboxes(State(s): State<AppState>, auth: Auth, RawQuery(q): RawQuery) -> Result<Response, GtError> {
    let ctx = require(&auth, ScopeResource::Channels, Access::Read)?;
    let mut p = Params::from_query(q.as_deref());
    let page = page_request(&mut p, LIMIT_DEFAULT);
    p.finish()?;
    Ok(list_of(s.store.list_inboxes(&ctx, page).await?, page, inbox))
}

/// Create an inbox.
#[utoipa::path(post, path = "/inboxes", tag = "gtateth", request_body = CreateInbox,
    responses(
        (status = 201, body = render::Doc<InboxDoc>),
        (status = 400, body = render::ErrorDoc),
        (status = 409, description = "INBOX_EXISTS", body = render::ErrorDoc),
    ),
    security(("bearer" = []), ("api_key" = [])))]
async fn create_inbox(
    State(s): State<AppState>,
    auth: Auth,
    Json(body): Json<CreateInbox>,
) -> Result<Response, GtError> {
    let ctx = require(&auth, ScopeResource::Channels, Access::Write)?;
    let mut errors = Vec::new();
    let name = name(&mut errors, body.name);
    let description = text("description", body.description, DESCRIPTION_MAX).unwrap_or_else(|e| {
        errors.extend(e.details);
        None
    });
    let ch = body.channel.filter(|c| !c.trim().is_empty()).and_then(|c| channel(&mut errors, &c));
    finish(errors)?;
    let new = NewInbox {
        name: name.unwrap_or_default(),
        description,
        channel: ch,
        is_active: body.is_active.unwrap_or(true),
    };
    Ok(one(StatusCode::CREATED, inbox(s.store.create_inbox(&ctx, new).await?)))
}

/// Get an inbox.
#[utoipa::path(get, path = "/inboxes/{id}", tag = "gtateth", params(("id" = String, Path)),
    responses((status = 200, body = render::Doc<InboxDoc>), (status = 404, body = render::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn get_inbox(State(s): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<Response, GtError> {
    let ctx = require(&auth, ScopeResource::Channels, Access::Read)?;
    let id: InboxId = path_id(&id, "inbox")?;
    Ok(one(StatusCode::OK, inbox(s.store.get_inbox(&ctx, id).await?)))
}

/// Update an inbox.
#[utoipa::path(put, path = "/inboxes/{id}", tag = "gtateth", params(("id" = String, Path)), request_body = UpdateInbox,
    responses(
        (status = 200, body = render::Doc<InboxDoc>),
        (status = 400, body = render::ErrorDoc),
        (status = 404, body = render::ErrorDoc),
        (status = 409, description = "INBOX_EXISTS", body = render::ErrorDoc),
    ),
    security(("bearer" = []), ("api_key" = [])))]
async fn update_inbox(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(body): Json<UpdateInbox>,
) -> Result<Response, GtError> {
    let ctx = require(&auth, ScopeResource::Channels, Access::Write)?;
    let id: InboxId = path_id(&id, "inbox")?;
    let mut errors = Vec::new();
    let name = body.name.map(|n| name(&mut errors, Some(n))).unwrap_or_default();
    let description = body.description.map(|d| {
        text("description", d, DESCRIPTION_MAX).unwrap_or_else(|e| {
            errors.extend(e.details);
            None
        })
    });
    let ch = match body.channel {
        None => None,
        Some(None) => Some(None),
        Some(Some(c)) if c.trim().is_empty() => Some(None),
        Some(Some(c)) => channel(&mut errors, &c).map(Some),
    };
    finish(errors)?;
    let patch = InboxPatch { name, description, channel: ch, is_active: body.is_active };
    Ok(one(StatusCode::OK, inbox(s.store.update_inbox(&ctx, id, patch).await?)))
}

/// Delete an inbox no conversation belongs to.
#[utoipa::path(delete, path = "/inboxes/{id}", tag = "gtateth", params(("id" = String, Path)),
    responses(
        (status = 200, body = render::MessageDoc),
        (status = 404, body = render::ErrorDoc),
        (status = 409, description = "INBOX_NOT_EMPTY", body = render::ErrorDoc),
    ),
    security(("bearer" = []), ("api_key" = [])))]
async fn delete_inbox(State(s): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<Response, GtError> {
    let ctx = require(&auth, ScopeResource::Channels, Access::Write)?;
    let id: InboxId = path_id(&id, "inbox")?;
    s.store.delete_inbox(&ctx, id).await?;
    Ok(render::message("Inbox deleted"))
}
