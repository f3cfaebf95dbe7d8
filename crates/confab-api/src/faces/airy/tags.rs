//! `tags.create`, `tags.list`, `tags.update`, `tags.delete` (`reference/airy.md` §7): the tags of
//! the organisation, the same tags /v1 shows by name.
//!
//! Decisions:
//! - `tags.create` `{name, color}` answers 201 with the tag. Both are required: a missing or unknown
//!   colour is Airy's 400 `{"message": "Tag color must be one of [tag-blue, tag-red, tag-green,
//!   tag-purple]"}`; a missing or invalid name (1 to 100 characters without control characters) is
//!   400 naming `name`. Tag names are unique in the organisation (DESIGN.md: /v1 shows tags by name),
//!   which Airy does not require: a name taken is 409 `{"message": "A tag named '…' already exists."}`.
//! - `tags.list` is `{"data": [...]}` (Airy's code; its docs say `tags`), every tag, by name.
//! - `tags.update` `{id, name?, color?}`: 204; 404 (empty) for an unknown tag; the same 400s as
//!   create for what is given, 409 for a name taken. A rename shows in every conversation at once
//!   (/v1 shows names); Airy's conversations carry tag ids, unchanged.
//! - `tags.delete` `{id}`: 204; 404 (empty) for an unknown tag. Unlike Airy (which leaves dangling ids
//!   on conversations), the tag leaves every conversation that carried it: a conversation cannot
//!   carry a tag that does not exist.

use super::render::{tag_json, DataList, TagJson};
use super::{no_content, required_id, AiryAuth, AiryError, Body, ErrorMessage};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use confab_core::model::*;
use confab_core::TagId;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_tag))
        .routes(routes!(list_tags))
        .routes(routes!(update_tag))
        .routes(routes!(delete_tag))
}

/// `tags.create`.
#[derive(Deserialize, ToSchema)]
pub struct CreateTagRequest {
    /// 1 to 100 characters, unique in the organisation.
    pub name: Option<String>,
    /// `tag-blue`, `tag-red`, `tag-green` or `tag-purple`.
    pub color: Option<String>,
}

/// `tags.update`: absent fields are left as they are.
#[derive(Deserialize, ToSchema)]
pub struct UpdateTagRequest {
    /// The tag's id (a UUID).
    pub id: Option<String>,
    pub name: Option<String>,
    pub color: Option<String>,
}

/// `tags.delete`.
#[derive(Deserialize, ToSchema)]
pub struct DeleteTagRequest {
    /// The tag's id (a UUID).
    pub id: Option<String>,
}

/// Airy's colour error.
fn color_error() -> AiryError {
    AiryError::bad_request(format!("Tag color must be one of [{}]", TAG_COLORS.join(", ")))
}

fn color(raw: Option<&str>) -> Result<&'static str, AiryError> {
    raw.map(str::trim).and_then(parse_tag_color).ok_or_else(color_error)
}

fn name(raw: &str) -> Result<String, AiryError> {
    normalize_tag_name(raw).ok_or_else(|| {
        AiryError::invalid("name", &format!("must be 1 to {TAG_NAME_MAX} characters without control characters"))
    })
}

/// Create a tag.
#[utoipa::path(post, path = "/tags.create", tag = "airy", request_body = CreateTagRequest,
    responses(
        (status = 201, body = TagJson),
        (status = 400, description = "A missing or invalid name or colour", body = ErrorMessage),
        (status = 403),
        (status = 409, description = "A tag has this name", body = ErrorMessage),
    ),
    security(("bearer" = []), ("airy_cookie" = [])))]
async fn create_tag(State(s): State<AppState>, auth: AiryAuth, body: Body) -> Result<Response, AiryError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Write)?;
    let req: CreateTagRequest = body.parse()?;
    let name = name(req.name.as_deref().ok_or_else(|| AiryError::invalid("name", "is required"))?)?;
    let color = color(req.color.as_deref())?;
    let tag = s.store.create_tag(&ctx, name, Some(color.to_string())).await?;
    Ok((StatusCode::CREATED, axum::Json(tag_json(tag))).into_response())
}

/// List every tag of the organisation, by name.
#[utoipa::path(post, path = "/tags.list", tag = "airy",
    responses((status = 200, body = DataList<TagJson>), (status = 403)),
    security(("bearer" = []), ("airy_cookie" = [])))]
async fn list_tags(State(s): State<AppState>, auth: AiryAuth, body: Body) -> Result<Response, AiryError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Read)?;
    // No field is read, but the body must still be JSON (or empty).
    body.parse::<serde_json::Value>()?;
    let tags = s.store.list_tags(&ctx).await?;
    Ok(axum::Json(DataList { data: tags.into_iter().map(tag_json).collect() }).into_response())
}

/// Rename or recolour a tag.
#[utoipa::path(post, path = "/tags.update", tag = "airy", request_body = UpdateTagRequest,
    responses(
        (status = 204),
        (status = 400, body = ErrorMessage),
        (status = 403),
        (status = 404, description = "No such tag (empty body)"),
        (status = 409, description = "Another tag has this name", body = ErrorMessage),
    ),
    security(("bearer" = []), ("airy_cookie" = [])))]
async fn update_tag(State(s): State<AppState>, auth: AiryAuth, body: Body) -> Result<Response, AiryError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Write)?;
    let req: UpdateTagRequest = body.parse()?;
    let id = TagId(required_id("id", req.id.as_deref())?);
    let patch = TagPatch {
        name: req.name.as_deref().map(name).transpose()?,
        color: match req.color.as_deref() {
            None => None,
            Some(raw) => Some(color(Some(raw))?.to_string()),
        },
    };
    s.store.update_tag(&ctx, id, patch).await?;
    Ok(no_content())
}

/// Delete a tag; it leaves every conversation that carried it.
#[utoipa::path(post, path = "/tags.delete", tag = "airy", request_body = DeleteTagRequest,
    responses((status = 204), (status = 400, body = ErrorMessage), (status = 403), (status = 404, description = "No such tag (empty body)")),
    security(("bearer" = []), ("airy_cookie" = [])))]
async fn delete_tag(State(s): State<AppState>, auth: AiryAuth, body: Body) -> Result<Response, AiryError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Write)?;
    let req: DeleteTagRequest = body.parse()?;
    let id = TagId(required_id("id", req.id.as_deref())?);
    s.store.delete_tag(&ctx, id).await?;
    Ok(no_content())
}
