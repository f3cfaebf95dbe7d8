//! `/v1/tags`: the organisation's conversation tags (list, create, delete).
//!
//! Linktor has tags only as names on conversations; this resource is designed in the face's style.
//! Decisions:
//! - Tags belong to the conversations scope (DESIGN.md): reading needs `conversations:read`, creating
//!   and deleting `conversations:write`.
//! - A conversation's tags are names, created on first use (`tag-blue`); this resource lists every
//!   tag of the organisation, sorted by name, in one unpaginated list.
//! - `name` is trimmed, 1 to 100 characters without control characters, and unique in the
//!   organisation as spelled (409 `TAG_EXISTS` naming `name`).
//! - `color` is one of Airy's four colours, `tag-blue` (the default), `tag-red`, `tag-green` and
//!   `tag-purple`: tags are shared with the Airy face, whose clients know no other colour. Anything
//!   else is 400 naming `color`.
//! - `DELETE /v1/tags/{id}` also takes the tag's name in place of an id that does not parse as a UUID
//!   (URL-encoded); the tag leaves every conversation that carried it, each with a
//!   `conversation.updated` event. An unknown tag is 404 `TAG_NOT_FOUND`.

use super::envelope::{self, iso, Resource};
use super::extract::Path;
use super::extract::{no_content, Json, LinktorError};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use confab_core::model::*;
use confab_core::{Error, FieldError, Resource as R, TagId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_tags, create_tag)).routes(routes!(delete_tag))
}

/// A tag's attributes.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TagAttributes {
    /// The name conversations carry.
    pub name: String,
    /// tag-blue, tag-red, tag-green or tag-purple.
    pub color: String,
    pub created_at: String,
}

pub fn resource(t: Tag) -> Resource<TagAttributes> {
    Resource::new("tag", t.id, TagAttributes { name: t.name, color: t.color, created_at: iso(t.created_at) })
}

/// Request body of `POST /v1/tags`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateTag {
    /// 1 to 100 characters; unique in the organisation.
    pub name: Option<String>,
    /// tag-blue (default), tag-red, tag-green or tag-purple.
    pub color: Option<String>,
}

/// List every tag of the organisation, by name.
#[utoipa::path(get, path = "/tags", tag = "tags",
    responses((status = 200, body = envelope::Doc<Vec<Resource<TagAttributes>>>)),
    security(("bearer" = []), ("api_key" = [])))]
async fn list_tags(State(s): State<AppState>, auth: Auth) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Read)?;
    let tags = s.store.list_tags(&ctx).await?;
    Ok(envelope::list(tags.into_iter().map(resource).collect()))
}

/// Create a tag.
#[utoipa::path(post, path = "/tags", tag = "tags", request_body = CreateTag,
    responses(
        (status = 201, body = envelope::Doc<Resource<TagAttributes>>),
        (status = 400, body = super::extract::ErrorDoc),
        (status = 409, description = "TAG_EXISTS: a tag has this name", body = super::extract::ErrorDoc),
    ),
    security(("bearer" = []), ("api_key" = [])))]
async fn create_tag(
    State(s): State<AppState>,
    auth: Auth,
    Json(body): Json<CreateTag>,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Write)?;
    let mut errors = Vec::new();
    let name = match body.name.as_deref() {
        None => {
            errors.push(FieldError::new("name", "is required"));
            None
        }
        Some(raw) => {
            let name = normalize_tag_name(raw);
            if name.is_none() {
                errors.push(FieldError::new(
                    "name",
                    format!("must be 1 to {TAG_NAME_MAX} characters without control characters"),
                ));
            }
            name
        }
    };
    let color = match body.color.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        None => None,
        Some(raw) => {
            let color = parse_tag_color(raw);
            if color.is_none() {
                errors.push(FieldError::new("color", format!("must be one of: {}", TAG_COLORS.join(", "))));
            }
            color
        }
    };
    let Some(name) = name.filter(|_| errors.is_empty()) else {
        return Err(ApiError::invalid_fields(errors).into());
    };
    let tag = s.store.create_tag(&ctx, name, Some(color.unwrap_or(TAG_COLOR_DEFAULT).to_string())).await?;
    Ok(envelope::one(StatusCode::CREATED, resource(tag)))
}

/// Delete a tag (by id, or by name); it leaves every conversation that carried it.
#[utoipa::path(delete, path = "/tags/{id}", tag = "tags",
    params(("id" = String, Path, description = "The tag's id, or its name (URL-encoded)")),
    responses((status = 204), (status = 404, body = super::extract::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn delete_tag(State(s): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Write)?;
    let id: TagId = match id.parse() {
        Ok(id) => id,
        Err(_) => {
            let found = match normalize_tag_name(&id) {
                Some(name) => s.store.find_tag_by_name(&ctx, &name).await?,
                None => None,
            };
            found.ok_or_else(|| Error::not_found(R::Tag))?.id
        }
    };
    s.store.delete_tag(&ctx, id).await?;
    Ok(no_content())
}
