//! `/groups`: list (`archived` filter), create, retrieve, update (PUT), delete.
//!
//! Decisions:
//! - A group is a named set of the tenant's contacts with its own conversation, created with it
//!   (`conversation_id`; `conversation.created`). `name` is required; `description`, `avatar_url`
//!   and `contacts[]` (contact ids; an unknown one is 404 naming `contacts`) are optional. 201.
//! - PUT changes `name`, `description`, `avatar_url` (`null`/empty clears the last two),
//!   `contacts` (replaces the members) and `archived_at` (unix seconds; `null`/empty unarchives).
//! - `archived`: absent = every group, `true` = archived ones, `false` = the others.
//! - DELETE (204) deletes the group, its conversation and that conversation's messages.
//! - The contacts scope (`contacts:read` for GET, `contacts:write` otherwise).

use super::render::{self, ProtocolGroupJson};
use super::{bool_filter, cursor, json, no_content, Body, Fields, PathId, ProtocolAuth, ProtocolError, ProtocolList};
use crate::error::ApiError;
use crate::faces::params::Params;
use crate::AppState;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use confab_core::model::*;
use confab_core::{ContactId, GroupId, Resource};
use confab_store::{GroupPatch, NewGroup};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_groups, create_group)).routes(routes!(
        get_group,
        update_group,
        delete_group
    ))
}

/// `POST /groups`.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ProtocolCreateGroupRequest {
    pub name: String,
    pub description: Option<String>,
    pub avatar_url: Option<String>,
    /// Contact ids (`contacts[]=` in forms).
    pub contacts: Option<Vec<String>>,
}

/// `PUT /groups/:id`.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ProtocolUpdateGroupRequest {
    pub name: Option<String>,
    pub description: Option<String>,
    pub avatar_url: Option<String>,
    pub contacts: Option<Vec<String>>,
    pub archived_at: Option<i64>,
}

fn contacts(f: &Fields) -> Result<Option<Vec<ContactId>>, ProtocolError> {
    let Some(ids) = f.ids("contacts")? else { return Ok(None) };
    Ok(Some(
        ids.into_iter()
            .map(|i| i.or_not_found(Resource::Contact, "contacts").map(ContactId))
            .collect::<Result<Vec<_>, _>>()?,
    ))
}

#[utoipa::path(get, path = "/groups", tag = "protocol",
    params(("limit" = Option<u32>, Query), ("archived" = Option<bool>, Query),
        ("starting_after" = Option<String>, Query), ("ending_before" = Option<String>, Query)),
    responses((status = 200, body = ProtocolList<ProtocolGroupJson>), (status = 400, body = super::ProtocolErrorDoc),
        (status = 401, body = super::ProtocolErrorDoc), (status = 403, body = super::ProtocolErrorDoc)),
    security(("bearer" = []), ("basic" = [])))]
async fn list_groups(
    State(s): State<AppState>,
    auth: ProtocolAuth,
    RawQuery(q): RawQuery,
) -> Result<Response, ProtocolError> {
    let ctx = auth.require(ScopeResource::Contacts, Access::Read)?;
    let mut p = Params::from_query(q.as_deref());
    let cursor = cursor(&mut p);
    let archived = bool_filter(&mut p, "archived");
    p.finish()?;
    let page = s.store.list_groups(&ctx, archived, cursor).await?;
    Ok(json(
        StatusCode::OK,
        ProtocolList { has_more: page.has_more, data: page.items.iter().map(render::group).collect() },
    ))
}

#[utoipa::path(post, path = "/groups", tag = "protocol", request_body(content = ProtocolCreateGroupRequest,
        content_type = "application/x-www-form-urlencoded", description = "Form-encoded (as Protocol's curl examples) or the same fields as JSON"),
    responses((status = 201, body = ProtocolGroupJson), (status = 400, body = super::ProtocolErrorDoc),
        (status = 401, body = super::ProtocolErrorDoc), (status = 403, body = super::ProtocolErrorDoc),
        (status = 404, description = "An unknown contact in contacts", body = super::ProtocolErrorDoc)),
    security(("bearer" = []), ("basic" = [])))]
async fn create_group(State(s): State<AppState>, auth: ProtocolAuth, Body(f): Body) -> Result<Response, ProtocolError> {
    let ctx = auth.require(ScopeResource::Contacts, Access::Write)?;
    let new = NewGroup {
        name: f.required_text("name", 200)?,
        description: f.text("description", 2000)?.flatten(),
        avatar_url: f.text("avatar_url", 2000)?.flatten(),
        contacts: contacts(&f)?.unwrap_or_default(),
    };
    let g = s.store.create_group(&ctx, new).await?;
    Ok(json(StatusCode::CREATED, render::group(&g)))
}

#[utoipa::path(get, path = "/groups/{id}", tag = "protocol", params(("id" = String, Path)),
    responses((status = 200, body = ProtocolGroupJson), (status = 401, body = super::ProtocolErrorDoc),
        (status = 403, body = super::ProtocolErrorDoc), (status = 404, body = super::ProtocolErrorDoc)),
    security(("bearer" = []), ("basic" = [])))]
async fn get_group(
    State(s): State<AppState>,
    auth: ProtocolAuth,
    PathId(id): PathId,
) -> Result<Response, ProtocolError> {
    let ctx = auth.require(ScopeResource::Contacts, Access::Read)?;
    let g = s.store.get_group(&ctx, GroupId(id)).await?;
    Ok(json(StatusCode::OK, render::group(&g)))
}

#[utoipa::path(put, path = "/groups/{id}", tag = "protocol", params(("id" = String, Path)),
    request_body(content = ProtocolUpdateGroupRequest, content_type = "application/x-www-form-urlencoded", description = "Form-encoded (as Protocol's curl examples) or the same fields as JSON"),
    responses((status = 200, body = ProtocolGroupJson), (status = 400, body = super::ProtocolErrorDoc),
        (status = 401, body = super::ProtocolErrorDoc), (status = 403, body = super::ProtocolErrorDoc),
        (status = 404, body = super::ProtocolErrorDoc)),
    security(("bearer" = []), ("basic" = [])))]
async fn update_group(
    State(s): State<AppState>,
    auth: ProtocolAuth,
    PathId(id): PathId,
    Body(f): Body,
) -> Result<Response, ProtocolError> {
    let ctx = auth.require(ScopeResource::Contacts, Access::Write)?;
    let name = match f.text("name", 200)? {
        None => None,
        Some(None) => return Err(ApiError::invalid("name", "must not be empty").into()),
        Some(Some(n)) => Some(n),
    };
    let patch = GroupPatch {
        name,
        description: f.text("description", 2000)?,
        avatar_url: f.text("avatar_url", 2000)?,
        contacts: contacts(&f)?,
        archived_at: f.time("archived_at")?,
    };
    let g = s.store.update_group(&ctx, GroupId(id), patch).await?;
    Ok(json(StatusCode::OK, render::group(&g)))
}

#[utoipa::path(delete, path = "/groups/{id}", tag = "protocol", params(("id" = String, Path)),
    responses((status = 204, description = "Deleted with its conversation and messages"),
        (status = 401, body = super::ProtocolErrorDoc), (status = 403, body = super::ProtocolErrorDoc),
        (status = 404, body = super::ProtocolErrorDoc)),
    security(("bearer" = []), ("basic" = [])))]
async fn delete_group(
    State(s): State<AppState>,
    auth: ProtocolAuth,
    PathId(id): PathId,
) -> Result<Response, ProtocolError> {
    let ctx = auth.require(ScopeResource::Contacts, Access::Write)?;
    s.store.delete_group(&ctx, GroupId(id)).await?;
    Ok(no_content())
}
