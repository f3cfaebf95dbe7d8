//! `/api/v1/customers`: the tenant's contacts, shown as G-Tateth customers.
//!
//! Decisions:
//! - A customer is a Confab contact (the same rows as `/v1/contacts`, Airy and Protocol):
//!   `profile.firstName/lastName/email/phone/company/jobTitle` are the contact's fields,
//!   `customFields` its metadata, `tags` its labels; `profile.name` (an addition) is the name Confab
//!   shows, given through another face or derived from first and last name.
//! - `tier` is `bronze|silver|gold|platinum` and `status` `active|inactive|archived` (400 otherwise).
//!   A customer created here without a status is `active`; a contact created elsewhere without one
//!   reads `active` but is stored without a status, so `status=active` does not list it.
//! - Create needs at least one of `firstName`, `lastName`, `email`, `phone` (400 naming the four).
//!   Phone is normalised to E.164, email lower-cased; either taken by another contact is 409
//!   `CUSTOMER_EXISTS` naming the field.
//! - PUT is partial: absent fields stay, `null` (or an empty string) clears; `tags` replaces the list;
//!   `customFields` is deep-merged (a `null` value deletes the key).
//! - The list is newest first; `search` is the contacts search (words of the name, or part of the
//!   email or phone); `tags` (comma-separated or repeated `tags[]`) keeps customers carrying every tag.
//! - Delete keeps the customer's conversations, without a customer.

use super::render::{self, customer, list_of, one, page_request, path_id, require, Customer, GtError, Json, Path};
use crate::auth::Auth;
use crate::faces::params::{double_option, Checks, Params, TAGS_MAX};
use crate::AppState;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use confab_core::model::*;
use confab_core::ContactId;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const NAME_MAX: usize = 200;
const LIMIT_DEFAULT: u32 = 20;
const TIERS: [&str; 4] = ["bronze", "silver", "gold", "platinum"];
const STATUSES: [&str; 3] = ["active", "inactive", "archived"];

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_customers, create_customer)).routes(routes!(
        get_customer,
        update_customer,
        delete_customer
    ))
}

/// Request body of `POST /api/v1/customers`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateCustomer {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Unique per organisation; stored lower-cased.
    pub email: Option<String>,
    /// E.164; unique per organisation.
    pub phone: Option<String>,
    pub company: Option<String>,
    pub job_title: Option<String>,
    /// `bronze`, `silver`, `gold` or `platinum`.
    pub tier: Option<String>,
    /// `active` (default), `inactive` or `archived`.
    pub status: Option<String>,
    pub tags: Option<Vec<String>>,
    #[schema(value_type = Object)]
    pub custom_fields: Option<JsonMap>,
}

/// Request body of `PUT /api/v1/customers/{id}`: absent fields stay, `null` clears.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateCustomer {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub last_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
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
    /// Deep-merged; a `null` value deletes the key.
    #[schema(value_type = Object)]
    pub custom_fields: Option<JsonMap>,
}

/// List customers.
#[utoipa::path(get, path = "/customers", tag = "gtateth",
    params(
        ("search" = Option<String>, Query, description = "Words of the name, or part of the email or phone"),
        ("tier" = Option<String>, Query, description = "bronze, silver, gold or platinum"),
        ("status" = Option<String>, Query, description = "active, inactive or archived"),
        ("tags" = Option<String>, Query, description = "Comma-separated (or repeated tags[]); customers carrying all"),
        ("page" = Option<u32>, Query, description = "Page number, from 1"),
        ("limit" = Option<u32>, Query, description = "Items per page (default 20, max 100)"),
    ),
    responses((status = 200, body = render::ListDoc<Customer>), (status = 400, body = render::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn list_customers(State(s): State<AppState>, auth: Auth, RawQuery(q): RawQuery) -> Result<Response, GtError> {
    let ctx = require(&auth, ScopeResource::Contacts, Access::Read)?;
    let mut p = Params::from_query(q.as_deref());
    let page = page_request(&mut p, LIMIT_DEFAULT);
    let search = p.str("search");
    let tier = p.one_of("tier", |t| TIERS.contains(&t).then(|| t.to_string()), &TIERS.join(", "));
    let status = p.one_of("status", |t| STATUSES.contains(&t).then(|| t.to_string()), &STATUSES.join(", "));
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
    Ok(list_of(contacts, page, customer))
}

/// Create a customer.
#[utoipa::path(post, path = "/customers", tag = "gtateth", request_body = CreateCustomer,
    responses(
        (status = 201, body = render::Doc<Customer>),
        (status = 400, body = render::ErrorDoc),
        (status = 409, description = "CUSTOMER_EXISTS: another customer has this email or phone", body = render::ErrorDoc),
    ),
    security(("bearer" = []), ("api_key" = [])))]
async fn create_customer(
    State(s): State<AppState>,
    auth: Auth,
    Json(body): Json<CreateCustomer>,
) -> Result<Response, GtError> {
    let ctx = require(&auth, ScopeResource::Contacts, Access::Write)?;
    let mut c = Checks::default();
    let new = NewContact {
        first_name: c.text("firstName", body.first_name, NAME_MAX),
        last_name: c.text("lastName", body.last_name, NAME_MAX),
        email: c.email("email", body.email),
        phone: c.phone("phone", body.phone),
        company: c.text("company", body.company, NAME_MAX),
        job_title: c.text("jobTitle", body.job_title, NAME_MAX),
        tier: c.word("tier", body.tier, &TIERS),
        status: Some(c.word("status", body.status, &STATUSES).unwrap_or_else(|| "active".into())),
        tags: c.tags("tags", body.tags.unwrap_or_default()),
        metadata: c.json("customFields", body.custom_fields).unwrap_or_default(),
        ..NewContact::default()
    };
    if c.is_clean() && [&new.first_name, &new.last_name, &new.email, &new.phone].iter().all(|f| f.is_none()) {
        for field in ["firstName", "lastName", "email", "phone"] {
            c.push(field, "at least one of firstName, lastName, email or phone is required");
        }
    }
    c.finish()?;
    let contact = s.store.create_contact(&ctx, new).await?;
    Ok(one(StatusCode::CREATED, customer(contact)))
}

/// Get a customer.
#[utoipa::path(get, path = "/customers/{id}", tag = "gtateth", params(("id" = String, Path)),
    responses((status = 200, body = render::Doc<Customer>), (status = 404, body = render::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn get_customer(State(s): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<Response, GtError> {
    let ctx = require(&auth, ScopeResource::Contacts, Access::Read)?;
    let id: ContactId = path_id(&id, "customer")?;
    Ok(one(StatusCode::OK, customer(s.store.get_contact(&ctx, id).await?)))
}

/// Update a customer.
#[utoipa::path(put, path = "/customers/{id}", tag = "gtateth", params(("id" = String, Path)),
    request_body = UpdateCustomer,
    responses(
        (status = 200, body = render::Doc<Customer>),
        (status = 400, body = render::ErrorDoc),
        (status = 404, body = render::ErrorDoc),
        (status = 409, description = "CUSTOMER_EXISTS", body = render::ErrorDoc),
    ),
    security(("bearer" = []), ("api_key" = [])))]
async fn update_customer(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(body): Json<UpdateCustomer>,
) -> Result<Response, GtError> {
    let ctx = require(&auth, ScopeResource::Contacts, Access::Write)?;
    let id: ContactId = path_id(&id, "customer")?;
    let mut c = Checks::default();
    let patch = ContactPatch {
        first_name: c.clearable(body.first_name, |c, v| c.text("firstName", v, NAME_MAX)),
        last_name: c.clearable(body.last_name, |c, v| c.text("lastName", v, NAME_MAX)),
        email: c.clearable(body.email, |c, v| c.email("email", v)),
        phone: c.clearable(body.phone, |c, v| c.phone("phone", v)),
        company: c.clearable(body.company, |c, v| c.text("company", v, NAME_MAX)),
        job_title: c.clearable(body.job_title, |c, v| c.text("jobTitle", v, NAME_MAX)),
        tier: c.clearable(body.tier, |c, v| c.word("tier", v, &TIERS)),
        status: c.clearable(body.status, |c, v| c.word("status", v, &STATUSES)),
        tags: body.tags.map(|t| c.tags("tags", t.unwrap_or_default())),
        metadata: c.json("customFields", body.custom_fields),
        ..ContactPatch::default()
    };
    c.finish()?;
    Ok(one(StatusCode::OK, customer(s.store.update_contact(&ctx, id, patch).await?)))
}

/// Delete a customer; their conversations remain, without a customer.
#[utoipa::path(delete, path = "/customers/{id}", tag = "gtateth", params(("id" = String, Path)),
    responses((status = 200, body = render::MessageDoc), (status = 404, body = render::ErrorDoc)),
    security(("bearer" = []), ("api_key" = [])))]
async fn delete_customer(State(s): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<Response, GtError> {
    let ctx = require(&auth, ScopeResource::Contacts, Access::Write)?;
    let id: ContactId = path_id(&id, "customer")?;
    s.store.delete_contact(&ctx, id).await?;
    Ok(render::message("Customer deleted"))
}
