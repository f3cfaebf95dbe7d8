//! `/contacts`: list, create, retrieve, update (PUT `display_name`), delete.
//!
//! Decisions:
//! - These are the tenant's contacts, the same as everywhere (Linktor contacts, G-Tateth
//!   customers): `username` ↔ username, `phone_number` ↔ phone (E.164, normalised; 400 naming it
//!   when not a phone), `display_name` ↔ display name (rendered as the username when unset; it also
//!   becomes the contact's name the other faces show), `avatar_url` ↔ avatar.
//! - Create needs `username` and `phone_number` (201); a phone taken by another contact is 409.
//! - `conversation_id` is the contact's channel-less Protocol conversation: `null` until it is
//!   created with `POST /conversations {contact_id}` (contacts are not given one eagerly, so that
//!   contacts created by other faces and by Protocol look alike).
//! - PUT changes `display_name` only (`null` or empty clears it); other fields are ignored.
//! - DELETE (204) deletes the contact and its Protocol conversation with its messages, as the
//!   Protocol doc says; its conversations on channels (created by other faces) are kept, without a
//!   contact, as a Linktor contact delete keeps them.

use super::render::{self, ProtocolContactJson};
use super::{cursor, json, no_content, Body, PathId, ProtocolAuth, ProtocolError, ProtocolList};
use crate::error::ApiError;
use crate::faces::params::Params;
use crate::AppState;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use confab_core::model::*;
use confab_core::rules::contact::normalize_phone;
use confab_core::ContactId;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_contacts, create_contact)).routes(routes!(
        get_contact,
        update_contact,
        delete_contact
    ))
}

/// `POST /contacts`.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ProtocolCreateContactRequest {
    pub username: String,
    /// E.164 (spaces, dashes, dots and parentheses are removed).
    pub phone_number: String,
    pub avatar_url: Option<String>,
    pub display_name: Option<String>,
}

/// `PUT /contacts/:id`.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ProtocolUpdateContactRequest {
    /// `null` or empty clears it.
    pub display_name: Option<String>,
}

#[utoipa::path(get, path = "/contacts", tag = "protocol",
    params(("limit" = Option<u32>, Query), ("starting_after" = Option<String>, Query),
        ("ending_before" = Option<String>, Query)),
    responses((status = 200, body = ProtocolList<ProtocolContactJson>), (status = 400, body = super::ProtocolErrorDoc),
        (status = 401, body = super::ProtocolErrorDoc), (status = 403, body = super::ProtocolErrorDoc)),
    security(("bearer" = []), ("basic" = [])))]
async fn list_contacts(
    State(s): State<AppState>,
    auth: ProtocolAuth,
    RawQuery(q): RawQuery,
) -> Result<Response, ProtocolError> {
    let ctx = auth.require(ScopeResource::Contacts, Access::Read)?;
    let mut p = Params::from_query(q.as_deref());
    let cursor = cursor(&mut p);
    p.finish()?;
    let page = s.store.protocol_contacts(&ctx, cursor).await?;
    Ok(json(
        StatusCode::OK,
        ProtocolList { has_more: page.has_more, data: page.items.iter().map(render::contact).collect() },
    ))
}

#[utoipa::path(post, path = "/contacts", tag = "protocol", request_body(content = ProtocolCreateContactRequest,
        content_type = "application/x-www-form-urlencoded", description = "Form-encoded (as Protocol's curl examples) or the same fields as JSON"),
    responses((status = 201, body = ProtocolContactJson), (status = 400, body = super::ProtocolErrorDoc),
        (status = 401, body = super::ProtocolErrorDoc), (status = 403, body = super::ProtocolErrorDoc),
        (status = 409, description = "The phone number belongs to another contact", body = super::ProtocolErrorDoc)),
    security(("bearer" = []), ("basic" = [])))]
async fn create_contact(
    State(s): State<AppState>,
    auth: ProtocolAuth,
    Body(f): Body,
) -> Result<Response, ProtocolError> {
    let ctx = auth.require(ScopeResource::Contacts, Access::Write)?;
    let username = f.required_text("username", 100)?;
    let raw_phone = f.required_text("phone_number", 40)?;
    let phone = normalize_phone(&raw_phone)
        .ok_or_else(|| ApiError::invalid("phone_number", "must be a phone number in E.164 (+ and 8 to 15 digits)"))?;
    let display_name = f.text("display_name", 200)?.flatten();
    let avatar_url = f.text("avatar_url", 2000)?.flatten();
    let new = NewContact {
        name: Some(display_name.clone().unwrap_or_else(|| username.clone())),
        username: Some(username),
        display_name,
        phone: Some(phone),
        avatar_url,
        ..Default::default()
    };
    let c = s.store.create_contact(&ctx, new).await.map_err(rename_phone)?;
    let p = s.store.protocol_contact(&ctx, c.id).await?;
    Ok(json(StatusCode::CREATED, render::contact(&p)))
}

/// The core names the phone field `phone`; Protocol calls it `phone_number`.
fn rename_phone(e: confab_core::Error) -> ProtocolError {
    let mut e: ApiError = e.into();
    for d in &mut e.details {
        if d.field == "phone" {
            d.field = "phone_number".into();
        }
    }
    ProtocolError(e)
}

#[utoipa::path(get, path = "/contacts/{id}", tag = "protocol", params(("id" = String, Path)),
    responses((status = 200, body = ProtocolContactJson), (status = 401, body = super::ProtocolErrorDoc),
        (status = 403, body = super::ProtocolErrorDoc), (status = 404, body = super::ProtocolErrorDoc)),
    security(("bearer" = []), ("basic" = [])))]
async fn get_contact(
    State(s): State<AppState>,
    auth: ProtocolAuth,
    PathId(id): PathId,
) -> Result<Response, ProtocolError> {
    let ctx = auth.require(ScopeResource::Contacts, Access::Read)?;
    let p = s.store.protocol_contact(&ctx, ContactId(id)).await?;
    Ok(json(StatusCode::OK, render::contact(&p)))
}

#[utoipa::path(put, path = "/contacts/{id}", tag = "protocol", params(("id" = String, Path)),
    request_body(content = ProtocolUpdateContactRequest, content_type = "application/x-www-form-urlencoded", description = "Form-encoded (as Protocol's curl examples) or the same fields as JSON"),
    responses((status = 200, body = ProtocolContactJson), (status = 400, body = super::ProtocolErrorDoc),
        (status = 401, body = super::ProtocolErrorDoc), (status = 403, body = super::ProtocolErrorDoc),
        (status = 404, body = super::ProtocolErrorDoc)),
    security(("bearer" = []), ("basic" = [])))]
async fn update_contact(
    State(s): State<AppState>,
    auth: ProtocolAuth,
    PathId(id): PathId,
    Body(f): Body,
) -> Result<Response, ProtocolError> {
    let ctx = auth.require(ScopeResource::Contacts, Access::Write)?;
    let id = ContactId(id);
    if let Some(display_name) = f.text("display_name", 200)? {
        let current = s.store.get_contact(&ctx, id).await?;
        let name = display_name.clone().or(current.username.clone()).or(current.name.clone());
        let patch = ContactPatch { display_name: Some(display_name), name: Some(name), ..Default::default() };
        s.store.update_contact(&ctx, id, patch).await?;
    }
    let p = s.store.protocol_contact(&ctx, id).await?;
    Ok(json(StatusCode::OK, render::contact(&p)))
}

#[utoipa::path(delete, path = "/contacts/{id}", tag = "protocol", params(("id" = String, Path)),
    responses((status = 204, description = "Deleted with its Protocol conversation"),
        (status = 401, body = super::ProtocolErrorDoc), (status = 403, body = super::ProtocolErrorDoc),
        (status = 404, body = super::ProtocolErrorDoc)),
    security(("bearer" = []), ("basic" = [])))]
async fn delete_contact(
    State(s): State<AppState>,
    auth: ProtocolAuth,
    PathId(id): PathId,
) -> Result<Response, ProtocolError> {
    let ctx = auth.require(ScopeResource::Contacts, Access::Write)?;
    s.store.protocol_delete_contact(&ctx, ContactId(id)).await?;
    Ok(no_content())
}
