//! `/v1/contacts`: create, list (with search), get, update, delete.
//!
//! Linktor documents no contacts API (its SDKs call `/contacts`), so this one is designed in the
//! face's style. Decisions:
//! - Fields are the union of the faces' (DESIGN.md): `name`, `firstName`, `lastName`, `username`,
//!   `displayName`, `phone`, `email`, `avatar` (also accepted as `avatarUrl`), `company`, `jobTitle`,
//!   `tier`, `status`, `tags`, `metadata`. `tier` and `status` are free words here (at most 50
//!   characters); faces with a closed set (G-Tateth) check their own.
//! - A new contact needs something to know it by: a name (or first/last/display/user name), a phone
//!   or an email; otherwise 400 naming `name`. Without `name`, the name shown is derived from the first
//!   and last name, else the display name, else the username.
//! - `phone` is normalised to E.164 (`+` and 8 to 15 digits; spaces, dashes, dots and parentheses are
//!   dropped) and `email` is lower-cased; either malformed is 400 naming it. Both are unique per
//!   tenant: taking one another contact has is 409 `CONTACT_EXISTS` naming the field, on create and on
//!   update alike.
//! - `avatar` must be an `http(s)` URL. `tags` are at most 50 names of 1 to 100 characters, kept in
//!   order without duplicates; they are the contact's own labels (not the conversation tags of
//!   `/v1/tags`).
//! - PATCH changes only the fields sent; `null` (or an empty string) clears a field, and clearing
//!   `name` shows the derived name again; `tags` replaces the list (`null` empties it); `metadata` is
//!   deep-merged, a `null` value deleting its key.
//! - Every problem in a body is reported at once, in one 400 naming each field.
//! - The list is newest first; `search` matches part of the name, email or phone, case-insensitively;
//!   `tags` (comma-separated or repeated) keeps contacts carrying every tag listed (tags match
//!   case-insensitively).
//! - `tier` and `status` filter by exact value.
//! - Deleting a contact keeps its conversations, with `contact: null`; each of them gets a
//!   `conversation.updated` event (and a new `updatedAt`).

use super::envelope::{self, iso, page_request, Resource};
use super::extract::Path;
use super::extract::{no_content, Json, LinktorError};
use crate::auth::Auth;
use crate::faces::params::{double_option, Checks, Params, TAGS_MAX};
use crate::AppState;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use confab_core::model::*;
use confab_core::{ContactId, Error, Resource as R};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The longest name-like field.
const NAME_MAX: usize = 200;
/// The longest `tier` or `status` word.
const WORD_MAX: usize = 50;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_contacts, create_contact)).routes(routes!(
        get_contact,
        update_contact,
        delete_contact
    ))
}

/// A contact's attributes.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactAttributes {
    /// The name shown: as given, else derived from first and last name, display name or username.
    pub name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub display_name: Option<String>,
    /// E.164 (`+5511999999999`).
    pub phone: Option<String>,
    /// Lower-cased.
    pub email: Option<String>,
    /// URL of the contact's picture.
    pub avatar: Option<String>,
    pub company: Option<String>,
    pub job_title: Option<String>,
    pub tier: Option<String>,
    pub status: Option<String>,
    /// The contact's labels.
    pub tags: Vec<String>,
    #[schema(value_type = Object)]
    pub metadata: JsonMap,
    pub created_at: String,
    pub updated_at: String,
}

pub fn resource(c: Contact) -> Resource<ContactAttributes> {
    Resource::new(
        "contact",
        c.id,
        ContactAttributes {
            name: c.name,
            first_name: c.first_name,
            last_name: c.last_name,
            username: c.username,
            display_name: c.display_name,
            phone: c.phone,
            email: c.email,
            avatar: c.avatar_url,
            company: c.company,
            job_title: c.job_title,
            tier: c.tier,
            status: c.status,
            tags: c.tags,
            metadata: c.metadata,
            created_at: iso(c.created_at),
            updated_at: iso(c.updated_at),
        },
    )
}

/// A path id; one that does not parse is simply not found.
fn contact_id(raw: &str) -> Result<ContactId, LinktorError> {
    raw.parse().map_err(|_| Error::not_found(R::Contact).into())
}

/// Request body of `POST /v1/contacts`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateContact {
    /// The name shown (1 to 200 characters); derived from the other names when absent.
    pub name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub display_name: Option<String>,
    /// E.164, e.g. `+5511999999999` (spaces, dashes, dots and parentheses are removed). Unique per
    /// organisation.
    pub phone: Option<String>,
    /// An email address, stored lower-cased. Unique per organisation.
    pub email: Option<String>,
    /// URL (`http` or `https`) of the contact's picture.
    pub avatar: Option<String>,
    /// Same as `avatar` (the spelling of other faces); `avatar` wins when both are sent.
    pub avatar_url: Option<String>,
    pub company: Option<String>,
    pub job_title: Option<String>,
    /// A free word, at most 50 characters.
    pub tier: Option<String>,
    /// A free word, at most 50 characters.
    pub status: Option<String>,
    /// At most 50 labels of 1 to 100 characters.
    pub tags: Option<Vec<String>>,
    /// Free-form JSON object.
    #[schema(value_type = Object)]
    pub metadata: Option<JsonMap>,
}

/// Request body of `PATCH /v1/contacts/{id}`: absent fields are left as they are, `null` clears.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateContact {
    /// `null` shows the derived name again.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub last_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub username: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub display_name: Option<Option<String>>,
    /// E.164; 409 `CONTACT_EXISTS` when another contact has it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    /// 409 `CONTACT_EXISTS` when another contact has it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub avatar: Option<Option<String>>,
    /// Same as `avatar`.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub avatar_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub company: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub job_title: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub tier: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub status: Option<Option<String>>,
    /// Replaces the list; `null` empties it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Vec<String>>)]
    pub tags: Option<Option<Vec<String>>>,
    /// Deep-merged into the existing metadata; a `null` value deletes the key.
    #[schema(value_type = Object)]
    pub metadata: Option<JsonMap>,
}

/// The check of a plain text field of a PATCH.
fn named(field: &'static str, max: usize) -> impl FnOnce(&mut Checks, Option<String>) -> Option<String> {
    move |c, v| c.text(field, v, max)
}

/// List contacts.
#[utoipa::path(get, path = "/contacts", tag = "contacts",
    params(
        ("page" = Option<u32>, Query, description = "Page number, from 1"),
        ("perPage" = Option<u32>, Query, description = "Items per page (default 20, max 100)"),
        ("search" = Option<String>, Query, description = "Case-insensitive part of the name, email or phone"),
        ("tier" = Option<String>, Query, description = "Only contacts of this tier"),
        ("status" = Option<String>, Query, description = "Only contacts with this status"),
        ("tags" = Option<String>, Query, description = "Comma-separated tags; contacts carrying all of them"),
    ),
    responses((status = 200, body = envelope::Doc<Vec<Resource<ContactAttributes>>>), (status = 400, body = super::extract::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn list_contacts(State(s): State<AppState>, auth: Auth, RawQuery(q): RawQuery) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Contacts, Access::Read)?;
    let mut p = Params::from_query(q.as_deref());
    let page = page_request(&mut p);
    let search = p.str("search");
    let tier = p.str("tier");
    let status = p.str("status");
    let mut tags = Vec::new();
    for raw in p.list("tags") {
        match normalize_tag_name(&raw) {
            Some(t) => tags.push(t),
            None => p.error("tags", format!("each tag must be 1 to {TAG_NAME_MAX} characters")),
        }
    }
    if tags.len() > TAGS_MAX {
        p.error("tags", format!("must list at most {TAGS_MAX} tags"));
    }
    p.finish()?;
    let filter = ContactFilter { search, tier, status, tags };
    let contacts = s.store.list_contacts(&ctx, &filter, page).await?;
    Ok(envelope::page_of(contacts, page, resource))
}

/// Create a contact.
#[utoipa::path(post, path = "/contacts", tag = "contacts", request_body = CreateContact,
    responses(
        (status = 201, body = envelope::Doc<Resource<ContactAttributes>>),
        (status = 400, body = super::extract::ErrorDoc),
        (status = 409, description = "CONTACT_EXISTS: another contact has this phone or email", body = super::extract::ErrorDoc),
    ),
    security(("bearer" = []), ("api_key" = [])))]
async fn create_contact(
    State(s): State<AppState>,
    auth: Auth,
    Json(body): Json<CreateContact>,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Contacts, Access::Write)?;
    let mut c = Checks::default();
    let (avatar_field, avatar) = match body.avatar {
        Some(a) => ("avatar", Some(a)),
        None => ("avatarUrl", body.avatar_url),
    };
    let new = NewContact {
        name: c.text("name", body.name, NAME_MAX),
        first_name: c.text("firstName", body.first_name, NAME_MAX),
        last_name: c.text("lastName", body.last_name, NAME_MAX),
        username: c.text("username", body.username, NAME_MAX),
        display_name: c.text("displayName", body.display_name, NAME_MAX),
        phone: c.phone("phone", body.phone),
        email: c.email("email", body.email),
        avatar_url: c.url(avatar_field, avatar),
        company: c.text("company", body.company, NAME_MAX),
        job_title: c.text("jobTitle", body.job_title, NAME_MAX),
        tier: c.text("tier", body.tier, WORD_MAX),
        status: c.text("status", body.status, WORD_MAX),
        tags: c.tags("tags", body.tags.unwrap_or_default()),
        metadata: c.json("metadata", body.metadata).unwrap_or_default(),
    };
    let known_by =
        [&new.name, &new.first_name, &new.last_name, &new.username, &new.display_name, &new.phone, &new.email];
    if c.is_clean() && known_by.iter().all(|f| f.is_none()) {
        c.push("name", "is required when there is no phone or email (or another name field)");
    }
    c.finish()?;
    let contact = s.store.create_contact(&ctx, new).await?;
    Ok(envelope::one(StatusCode::CREATED, resource(contact)))
}

/// Get a contact.
#[utoipa::path(get, path = "/contacts/{id}", tag = "contacts", params(("id" = String, Path)),
    responses((status = 200, body = envelope::Doc<Resource<ContactAttributes>>), (status = 404, body = super::extract::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn get_contact(State(s): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Contacts, Access::Read)?;
    let contact = s.store.get_contact(&ctx, contact_id(&id)?).await?;
    Ok(envelope::one(StatusCode::OK, resource(contact)))
}

/// Update a contact.
#[utoipa::path(patch, path = "/contacts/{id}", tag = "contacts", params(("id" = String, Path)), request_body = UpdateContact,
    responses(
        (status = 200, body = envelope::Doc<Resource<ContactAttributes>>),
        (status = 400, body = super::extract::ErrorDoc),
        (status = 404, body = super::extract::ErrorDoc),
        (status = 409, description = "CONTACT_EXISTS: another contact has this phone or email", body = super::extract::ErrorDoc),
    ),
    security(("bearer" = []), ("api_key" = [])))]
async fn update_contact(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(body): Json<UpdateContact>,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Contacts, Access::Write)?;
    let id = contact_id(&id)?;
    let mut c = Checks::default();
    let (avatar_field, avatar) = match body.avatar {
        Some(a) => ("avatar", Some(a)),
        None => ("avatarUrl", body.avatar_url),
    };
    let patch = ContactPatch {
        name: c.clearable(body.name, named("name", NAME_MAX)),
        first_name: c.clearable(body.first_name, named("firstName", NAME_MAX)),
        last_name: c.clearable(body.last_name, named("lastName", NAME_MAX)),
        username: c.clearable(body.username, named("username", NAME_MAX)),
        display_name: c.clearable(body.display_name, named("displayName", NAME_MAX)),
        phone: c.clearable(body.phone, |c, v| c.phone("phone", v)),
        email: c.clearable(body.email, |c, v| c.email("email", v)),
        avatar_url: c.clearable(avatar, |c, v| c.url(avatar_field, v)),
        company: c.clearable(body.company, named("company", NAME_MAX)),
        job_title: c.clearable(body.job_title, named("jobTitle", NAME_MAX)),
        tier: c.clearable(body.tier, named("tier", WORD_MAX)),
        status: c.clearable(body.status, named("status", WORD_MAX)),
        tags: body.tags.map(|t| c.tags("tags", t.unwrap_or_default())),
        metadata: c.json("metadata", body.metadata),
    };
    c.finish()?;
    let contact = s.store.update_contact(&ctx, id, patch).await?;
    Ok(envelope::one(StatusCode::OK, resource(contact)))
}

/// Delete a contact; its conversations remain, without a contact.
#[utoipa::path(delete, path = "/contacts/{id}", tag = "contacts", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = super::extract::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn delete_contact(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Response, LinktorError> {
    let ctx = auth.require(ScopeResource::Contacts, Access::Write)?;
    s.store.delete_contact(&ctx, contact_id(&id)?).await?;
    Ok(no_content())
}
