//! The G-Tateth face's envelopes, errors, extractors and vocabulary mappings.

use crate::auth::Auth;
use crate::error::ApiError;
use crate::faces::params::{self, Params};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use confab_core::model::{Access, ChannelType, Contact, Ctx, Page, PageRequest, Priority, ScopeResource, Status};
use confab_core::FieldError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

/// The largest `limit` of every list.
pub const LIMIT_MAX: u32 = 100;

// ------------------------------------------------------------------------------------------------
// Vocabulary mappings (documented in the module docs of `gtateth`).

/// Core status → G-Tateth status: snoozed reads `pending`.
pub fn status_word(s: Status) -> &'static str {
    match s {
        Status::Open => "open",
        Status::Pending | Status::Snoozed => "pending",
        Status::Closed => "closed",
    }
}

/// G-Tateth status → core status (`pending` is the core's pending).
pub fn parse_status(s: &str) -> Option<Status> {
    match s {
        "open" => Some(Status::Open),
        "pending" => Some(Status::Pending),
        "closed" => Some(Status::Closed),
        _ => None,
    }
}

/// Core priority → G-Tateth priority: normal reads `medium`.
pub fn priority_word(p: Priority) -> &'static str {
    match p {
        Priority::Low => "low",
        Priority::Normal => "medium",
        Priority::High => "high",
        Priority::Urgent => "urgent",
    }
}

/// G-Tateth priority → core priority.
pub fn parse_priority(s: &str) -> Option<Priority> {
    match s {
        "low" => Some(Priority::Low),
        "medium" => Some(Priority::Normal),
        "high" => Some(Priority::High),
        "urgent" => Some(Priority::Urgent),
        _ => None,
    }
}

/// The channel words accepted, for messages.
pub const CHANNEL_WORDS: &str =
    "email, chat, phone, whatsapp (or a Confab channel type: sms, telegram, facebook, instagram, rcs, api, webchat, voice)";

/// G-Tateth channel → the Confab channel type stored: `chat` is `webchat`, `phone` is `voice`;
/// `email` and `whatsapp` and every other Confab channel type are themselves.
pub fn parse_channel(s: &str) -> Option<&'static str> {
    match s {
        "chat" => Some(ChannelType::Webchat.as_str()),
        "phone" => Some(ChannelType::Voice.as_str()),
        other => ChannelType::parse(other).map(ChannelType::as_str),
    }
}

/// A stored channel type as G-Tateth shows it (the inverse of [`parse_channel`]).
pub fn channel_word(t: &str) -> String {
    match t {
        "webchat" => "chat".into(),
        "voice" => "phone".into(),
        other => other.into(),
    }
}

// ------------------------------------------------------------------------------------------------
// Errors.

/// An error rendered as G-Tateth renders errors:
/// `{"success":false,"error":{code,message,details,requestId,timestamp}}`.
#[derive(Debug)]
pub struct GtError(pub ApiError);

impl From<ApiError> for GtError {
    fn from(e: ApiError) -> Self {
        GtError(e)
    }
}

impl From<confab_core::Error> for GtError {
    fn from(e: confab_core::Error) -> Self {
        GtError(e.into())
    }
}

/// The error document.
#[derive(Serialize, ToSchema)]
pub struct ErrorDoc {
    /// Always `false`.
    pub success: bool,
    pub error: ErrorBody,
}

/// What went wrong.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// `AUTH_REQUIRED`, `API_KEY_INVALID`, `VALIDATION_ERROR`, `NOT_FOUND`, `INSUFFICIENT_PERMISSIONS`,
    /// `CUSTOMER_EXISTS`, `INBOX_EXISTS`, `INBOX_NOT_EMPTY`, `PAYLOAD_TOO_LARGE`, …
    pub code: String,
    pub message: String,
    /// The fields at fault: field name → what is wrong.
    #[schema(value_type = Object)]
    pub details: Map<String, Value>,
    pub request_id: String,
    /// ISO 8601.
    pub timestamp: String,
}

/// The face's code for a face-independent one.
fn code(e: &ApiError) -> &'static str {
    match (e.status, e.code) {
        (StatusCode::UNAUTHORIZED, "AUTHENTICATION_REQUIRED") => "AUTH_REQUIRED",
        (StatusCode::UNAUTHORIZED, _) => "API_KEY_INVALID",
        (StatusCode::FORBIDDEN, _) => "INSUFFICIENT_PERMISSIONS",
        (StatusCode::NOT_FOUND, _) => "NOT_FOUND",
        (_, "CONTACT_EXISTS") => "CUSTOMER_EXISTS",
        (_, c) => c,
    }
}

/// Contacts are customers here.
fn customer_words(s: String) -> String {
    s.replace("Contact", "Customer").replace("contact", "customer")
}

impl IntoResponse for GtError {
    fn into_response(self) -> Response {
        let e = self.0;
        let contact = e.code.starts_with("CONTACT_");
        let fix = |s: String| if contact { customer_words(s) } else { s };
        let details: Map<String, Value> =
            e.details.iter().map(|d| (d.field.clone(), Value::String(fix(d.message.clone())))).collect();
        let doc = ErrorDoc {
            success: false,
            error: ErrorBody {
                code: code(&e).to_string(),
                message: fix(e.message.clone()),
                details,
                request_id: crate::request_id::current(),
                timestamp: confab_core::time::iso(confab_core::time::now()),
            },
        };
        (e.status, axum::Json(doc)).into_response()
    }
}

/// 404 `NOT_FOUND` for something a request field named (or a path id, with `field` `None`).
pub fn not_found(noun: &str, field: Option<&str>) -> GtError {
    let mut sentence = noun.to_string();
    sentence[..1].make_ascii_uppercase();
    let mut e = ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", format!("{sentence} not found."));
    if let Some(f) = field {
        e.details.push(FieldError::new(f, format!("no {noun} with this id exists")));
    }
    GtError(e)
}

/// Renames the field a store error names (`contactId` → `customerId`).
pub fn rename_field(e: confab_core::Error, from: &str, to: &str) -> GtError {
    let mut e: ApiError = e.into();
    for d in &mut e.details {
        if d.field == from {
            d.field = to.to_string();
        }
    }
    GtError(e)
}

/// 403 `INSUFFICIENT_PERMISSIONS` unless the key holds the scope; the scope is named in G-Tateth's
/// spelling (`write:customers`).
pub fn require(auth: &Auth, resource: ScopeResource, access: Access) -> Result<Ctx, GtError> {
    auth.require(resource, access).map_err(|_| {
        let noun = match resource {
            ScopeResource::Contacts => "customers",
            ScopeResource::Channels => "inboxes",
            ScopeResource::Conversations => "conversations",
            ScopeResource::Bots => "bots",
            ScopeResource::Messages => "messages",
            ScopeResource::Webhooks => "webhooks",
        };
        let access = match access {
            Access::Read => "read",
            Access::Write => "write",
        };
        let scope = format!("{access}:{noun}");
        let mut e = ApiError::new(
            StatusCode::FORBIDDEN,
            "INSUFFICIENT_PERMISSIONS",
            format!("The API key lacks the permission {scope}."),
        );
        e.details.push(FieldError::new("requiredPermission", scope));
        GtError(e)
    })
}

// ------------------------------------------------------------------------------------------------
// Extractors.

/// A JSON body; problems are 400 `VALIDATION_ERROR` naming the field, 413 past the size limit. An
/// empty body is `{}`.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = GtError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let bytes = params::read_body(req).await?;
        Ok(Json(params::parse_json(&bytes)?))
    }
}

/// Path parameters; one that does not decode is 404 `NOT_FOUND`.
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = GtError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(_) => Err(GtError(ApiError::new(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "Nothing exists at this path: an id in it could not be read.",
            ))),
        }
    }
}

/// A path id of type `T`; one that does not parse is 404 `NOT_FOUND`.
pub fn path_id<T: std::str::FromStr>(raw: &str, noun: &str) -> Result<T, GtError> {
    raw.parse().map_err(|_| not_found(noun, None))
}

// ------------------------------------------------------------------------------------------------
// Envelopes.

/// `{"success":true,"data":…}`.
#[derive(Serialize, ToSchema)]
pub struct Doc<T> {
    /// Always `true`.
    pub success: bool,
    pub data: T,
}

/// `{"success":true,"data":[…],"pagination":{…}}`.
#[derive(Serialize, ToSchema)]
pub struct ListDoc<T> {
    pub success: bool,
    pub data: Vec<T>,
    pub pagination: Pagination,
}

/// Page-based pagination.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub total: u64,
    pub page: u32,
    pub limit: u32,
    /// `ceil(total / limit)`.
    pub total_pages: u64,
}

/// `{"success":true,"message":…}` (deletes).
#[derive(Serialize, ToSchema)]
pub struct MessageDoc {
    pub success: bool,
    pub message: String,
}

/// One object with a status.
pub fn one<T: Serialize>(status: StatusCode, data: T) -> Response {
    (status, axum::Json(Doc { success: true, data })).into_response()
}

/// A page of objects.
pub fn list<T: Serialize>(items: Vec<T>, page: PageRequest, total: u64) -> Response {
    let pagination = Pagination {
        total,
        page: page.page,
        limit: page.per_page,
        total_pages: total.div_ceil(u64::from(page.per_page.max(1))),
    };
    (StatusCode::OK, axum::Json(ListDoc { success: true, data: items, pagination })).into_response()
}

/// A page of core values mapped to objects.
pub fn list_of<T, U: Serialize>(p: Page<T>, page: PageRequest, f: impl FnMut(T) -> U) -> Response {
    list(p.items.into_iter().map(f).collect(), page, p.total)
}

/// `{"success":true,"message":…}`.
pub fn message(text: &str) -> Response {
    (StatusCode::OK, axum::Json(MessageDoc { success: true, message: text.into() })).into_response()
}

/// `page` (from 1) and `limit` (1 to 100, `default`).
pub fn page_request(p: &mut Params, default: u32) -> PageRequest {
    PageRequest { page: p.int("page", 1, 1, 1_000_000), per_page: p.int("limit", default, 1, LIMIT_MAX) }
}

/// An instant as G-Tateth shows it (ISO 8601 UTC).
pub fn iso(t: confab_core::Time) -> String {
    confab_core::time::iso(t)
}

// ------------------------------------------------------------------------------------------------
// Customers (Confab contacts).

/// A customer's profile.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// The name Confab shows (given through another face, or derived from first and last name).
    pub name: Option<String>,
    pub email: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    pub company: Option<String>,
    pub job_title: Option<String>,
}

/// A customer.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    #[serde(rename = "_id")]
    pub id: String,
    pub profile: Profile,
    /// `bronze`, `silver`, `gold`, `platinum` (or what another face stored), `null` when unset.
    pub tier: Option<String>,
    /// `active`, `inactive`, `archived`; a contact with no status reads `active`.
    pub status: String,
    pub tags: Vec<String>,
    /// The contact's metadata.
    #[schema(value_type = Object)]
    pub custom_fields: Map<String, Value>,
    pub created_at: String,
    pub updated_at: String,
}

pub fn customer(c: Contact) -> Customer {
    Customer {
        id: c.id.to_string(),
        profile: Profile {
            first_name: c.first_name,
            last_name: c.last_name,
            name: c.name,
            email: c.email,
            phone: c.phone,
            company: c.company,
            job_title: c.job_title,
        },
        tier: c.tier,
        status: c.status.unwrap_or_else(|| "active".into()),
        tags: c.tags,
        custom_fields: c.metadata,
        created_at: iso(c.created_at),
        updated_at: iso(c.updated_at),
    }
}

/// A user as `assignedTo` shows it when populated.
pub fn user_json(id: impl ToString, name: &str, email: Option<&str>, role: &str) -> Value {
    json!({ "_id": id.to_string(), "name": name, "email": email, "role": role })
}
