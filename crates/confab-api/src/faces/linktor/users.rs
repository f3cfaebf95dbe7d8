//! `/v1/users`: the agents and admins of the organisation (create, list, get). Admin only.
//!
//! Linktor has no users API (users appear as assignees, closers and participants), so this one is
//! designed in the face's style. Decisions:
//! - Every route needs the `admin` scope, reads included (a user list is an organisation's staff
//!   directory); any other key is 403 `INSUFFICIENT_PERMISSIONS`.
//! - `name` is required (1 to 200 characters); `email` is optional, lower-cased, and unique per
//!   organisation (409 `USER_EXISTS` naming `email`); `role` is `admin`, `agent` (the default) or
//!   `viewer`, from Linktor's getting-started roles. Roles are recorded; what a request may do is
//!   decided by its API key's scopes.
//! - The list is oldest first (the organisation's first admin leads), paginated like every list.
//! - Users are created here or by `confab keys create`; there is no update or delete in this
//!   version (an API key refers to its user).

use super::envelope::{self, iso, page_request, Resource};
use super::extract::Path;
use super::extract::{Json, LinktorError};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::faces::params::{text, Params};
use crate::AppState;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use confab_core::model::*;
use confab_core::rules::contact::normalize_email;
use confab_core::{Error, FieldError, Resource as R, UserId};
use confab_store::NewUser;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_users, create_user)).routes(routes!(get_user))
}

/// A user's attributes.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserAttributes {
    pub name: String,
    /// Lower-cased; unique in the organisation.
    pub email: Option<String>,
    /// admin, agent or viewer.
    pub role: &'static str,
    pub created_at: String,
    pub updated_at: String,
}

pub fn resource(u: User) -> Resource<UserAttributes> {
    Resource::new(
        "user",
        u.id,
        UserAttributes {
            name: u.name,
            email: u.email,
            role: u.role.as_str(),
            created_at: iso(u.created_at),
            updated_at: iso(u.updated_at),
        },
    )
}

/// A path id; one that does not parse is simply not found.
fn user_id(raw: &str) -> Result<UserId, LinktorError> {
    raw.parse().map_err(|_| Error::not_found(R::User).into())
}

/// Request body of `POST /v1/users`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateUser {
    /// Full name (1 to 200 characters).
    pub name: Option<String>,
    /// Email address; unique in the organisation.
    pub email: Option<String>,
    /// admin, agent (default) or viewer.
    pub role: Option<String>,
}

/// List the organisation's users.
#[utoipa::path(get, path = "/users", tag = "users",
    params(
        ("page" = Option<u32>, Query, description = "Page number, from 1"),
        ("perPage" = Option<u32>, Query, description = "Items per page (default 20, max 100)"),
    ),
    responses(
        (status = 200, body = envelope::Doc<Vec<Resource<UserAttributes>>>),
        (status = 400, body = super::extract::ErrorDoc),
        (status = 403, description = "The key lacks the admin scope", body = super::extract::ErrorDoc),
    ),
    security(("bearer" = []), ("api_key" = [])))]
async fn list_users(State(s): State<AppState>, auth: Auth, RawQuery(q): RawQuery) -> Result<Response, LinktorError> {
    let ctx = auth.require_admin()?;
    let mut p = Params::from_query(q.as_deref());
    let page = page_request(&mut p);
    p.finish()?;
    let users = s.store.list_users(&ctx, page).await?;
    Ok(envelope::page_of(users, page, resource))
}

/// Create a user.
#[utoipa::path(post, path = "/users", tag = "users", request_body = CreateUser,
    responses(
        (status = 201, body = envelope::Doc<Resource<UserAttributes>>),
        (status = 400, body = super::extract::ErrorDoc),
        (status = 403, description = "The key lacks the admin scope", body = super::extract::ErrorDoc),
        (status = 409, description = "USER_EXISTS: another user has this email", body = super::extract::ErrorDoc),
    ),
    security(("bearer" = []), ("api_key" = [])))]
async fn create_user(
    State(s): State<AppState>,
    auth: Auth,
    Json(body): Json<CreateUser>,
) -> Result<Response, LinktorError> {
    let ctx = auth.require_admin()?;
    let mut errors = Vec::new();
    let name = match text("name", body.name, 200) {
        Ok(Some(n)) => Some(n),
        Ok(None) => {
            errors.push(FieldError::new("name", "is required"));
            None
        }
        Err(e) => {
            errors.extend(e.details);
            None
        }
    };
    let email = match text("email", body.email, 254) {
        Ok(Some(raw)) => {
            let email = normalize_email(&raw);
            if email.is_none() {
                errors.push(FieldError::new("email", "must be an email address such as ana@example.com"));
            }
            email
        }
        Ok(None) => None,
        Err(e) => {
            errors.extend(e.details);
            None
        }
    };
    let role = match body.role.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        None => UserRole::Agent,
        Some(r) => UserRole::parse(r).unwrap_or_else(|| {
            errors.push(FieldError::new("role", "must be one of: admin, agent, viewer"));
            UserRole::Agent
        }),
    };
    let Some(name) = name.filter(|_| errors.is_empty()) else {
        return Err(ApiError::invalid_fields(errors).into());
    };
    let user = s.store.create_user(&ctx, NewUser { name, email, role }).await?;
    Ok(envelope::one(StatusCode::CREATED, resource(user)))
}

/// Get a user.
#[utoipa::path(get, path = "/users/{id}", tag = "users", params(("id" = String, Path)),
    responses(
        (status = 200, body = envelope::Doc<Resource<UserAttributes>>),
        (status = 403, description = "The key lacks the admin scope", body = super::extract::ErrorDoc),
        (status = 404, body = super::extract::ErrorDoc),
    ),
    security(("bearer" = []), ("api_key" = [])))]
async fn get_user(State(s): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<Response, LinktorError> {
    let ctx = auth.require_admin()?;
    let user = s.store.get_user(&ctx, user_id(&id)?).await?;
    Ok(envelope::one(StatusCode::OK, resource(user)))
}
