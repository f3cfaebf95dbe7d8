//! The Protocol face, mounted at `/protocol/v1` (seed 002: the Tailwind UI "Protocol" API;
//! `reference/linktor-protocol-gtateth.md` §2): bare snake_case objects, unix-second timestamps,
//! `null` where unset, lists `{has_more, data}`, ids as lowercase UUIDs.
//!
//! **Auth.** `Authorization: Bearer <key>`, or HTTP Basic with the key as the *password* (any
//! username, as `curl -u anything:<key>`). Missing or invalid credentials are 401
//! `invalid_request`; a key without the scope is 403. Scopes (DESIGN.md): `conversations` (read for
//! GET, write otherwise), `contacts` for contacts and groups, `messages` for messages and
//! attachments. `Idempotency-Key` applies to every POST except the multipart attachment upload
//! (whose body may exceed the 1 MiB the guard buffers).
//!
//! **Requests.** Bodies are JSON or `application/x-www-form-urlencoded` ([`form`]: `key[]=` lists,
//! `key[sub]=` maps, `true`/`false` booleans; numbers as decimal strings), and multipart for
//! `POST /attachments`. GET filters come from the query string. Unknown fields are ignored; `PUT`
//! changes only the fields it lists and that are given. An empty form value or a JSON `null` clears
//! a clearable field (`pinned_message_id`, `archived_at`, `description`, `avatar_url`).
//!
//! **Lists.** Newest first (created time, then id). `limit` 1–100, default 10 (above: 400).
//! `starting_after=<id>` reads the page after (older than) that item, `ending_before=<id>` the page
//! before (newer than) it; `has_more` says whether more items lie beyond the page *in the direction
//! read* (older for `starting_after` and for no cursor, newer for `ending_before`). An id that is
//! not an item of the list is 400 naming the cursor; both cursors at once are 400.
//!
//! **Errors.** `{"type", "message", "documentation_url"}`: `invalid_request` for every 4xx (400
//! validation, 401, 403, 404, 409, 413, 422), `api_error` for 5xx; `documentation_url` is
//! `https://protocol.chat/docs/errors/<type>`. The message names the field at fault. An id in a path
//! that does not parse is 404, as an unknown one.
//!
//! **Status.** Protocol has no status or priority (DESIGN.md mapping table): the face neither shows
//! nor changes them; conversations created here are `open`, `normal`, and stay whatever other faces
//! make them. `archived_at` is independent of the status.
//!
//! | core | Protocol |
//! |---|---|
//! | status open / pending / snoozed / closed | — (not shown, not changed) |
//! | priority low / normal / high / urgent | — |
//! | archived flag | `archived_at` |
//! | sender user of an outbound message | `contact` made from the user |

mod attachments;
mod contacts;
mod conversations;
pub mod form;
mod groups;
mod messages;
pub mod render;
pub mod webhook_format;

use crate::auth::Auth;
use crate::error::ApiError;
use crate::faces::params::{self, Params};
use crate::AppState;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use confab_core::model::{Access, Ctx, ScopeResource};
use confab_core::Time;
use confab_store::Cursor;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

pub use attachments::UrlSigner;

/// The default and largest `limit`.
pub const LIMIT_DEFAULT: u32 = 10;
pub const LIMIT_MAX: u32 = 100;

/// Every Protocol route, without the auth layer (for the OpenAPI document).
pub fn routes() -> OpenApiRouter<AppState> {
    api_routes().merge(attachments::file_routes())
}

/// The routes behind the key check.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(conversations::routes())
        .merge(contacts::routes())
        .merge(messages::routes())
        .merge(groups::routes())
        .merge(attachments::routes())
}

/// The Protocol router: the signed file download without a key, everything else behind it.
pub fn router(state: AppState) -> OpenApiRouter<AppState> {
    let signer = state.url_signer.clone();
    let recorder = conversations::OpenedRecorder::new(state.store.clone());
    api_routes()
        .fallback(|| async { ProtocolError(ApiError::route_not_found()) })
        .layer(axum::middleware::from_fn_with_state(state.clone(), idempotency))
        .layer(axum::middleware::from_fn_with_state(state, authenticate))
        .merge(attachments::file_routes())
        .layer(axum::Extension(recorder))
        .layer(axum::Extension(signer))
}

/// The key of a request: `Authorization: Bearer <key>`, or `Basic` with the key as the password.
pub fn presented_key(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = v.split_once(' ')?;
    let rest = rest.trim();
    let key = if scheme.eq_ignore_ascii_case("bearer") {
        rest.to_string()
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = String::from_utf8(base64_decode(rest)?).ok()?;
        decoded.split_once(':')?.1.to_string()
    } else {
        return None;
    };
    (!key.trim().is_empty()).then(|| key.trim().to_string())
}

/// Standard base64 (with or without padding); `None` when malformed.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn auth_required() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "AUTHENTICATION_REQUIRED",
        "Credentials are required: send Authorization: Bearer <key>, or HTTP Basic with the key as the password.",
    )
}

async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(key) = presented_key(req.headers()) else {
        return ProtocolError(auth_required()).into_response();
    };
    match state.keys.resolve(&state.store, &key).await {
        Ok(principal) => {
            req.extensions_mut().insert(Auth(principal));
            next.run(req).await
        }
        Err(e) => ProtocolError(e).into_response(),
    }
}

/// `Idempotency-Key` on POSTs (not the multipart upload), errors in the face's shape.
async fn idempotency(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(api_key) = req.extensions().get::<Auth>().map(|a| a.0.key_id) else {
        return next.run(req).await;
    };
    if req.uri().path().ends_with("/attachments") {
        return next.run(req).await;
    }
    match crate::idempotency::guard(&state.store, api_key, req, next).await {
        Ok(response) => response,
        Err(e) => ProtocolError(e).into_response(),
    }
}

/// An error as Protocol renders errors.
#[derive(Debug)]
pub struct ProtocolError(pub ApiError);

impl From<ApiError> for ProtocolError {
    fn from(e: ApiError) -> Self {
        ProtocolError(e)
    }
}

impl From<confab_core::Error> for ProtocolError {
    fn from(e: confab_core::Error) -> Self {
        ProtocolError(e.into())
    }
}

/// `{"type", "message", "documentation_url"}`.
#[derive(Serialize, ToSchema)]
pub struct ProtocolErrorDoc {
    /// `invalid_request` (4xx: the client's fault) or `api_error` (5xx).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// A sentence naming the field at fault, if any.
    pub message: String,
    pub documentation_url: String,
}

/// The body of an error.
pub fn error_doc(e: &ApiError) -> ProtocolErrorDoc {
    let kind = if e.status.is_server_error() { "api_error" } else { "invalid_request" };
    let mut message = e.message.clone();
    if e.status != StatusCode::BAD_REQUEST || e.details.len() > 1 {
        for d in &e.details {
            message.push_str(&format!(" {}: {}.", d.field, d.message.trim_end_matches('.')));
        }
    }
    ProtocolErrorDoc { kind, message, documentation_url: format!("https://protocol.chat/docs/errors/{kind}") }
}

impl IntoResponse for ProtocolError {
    fn into_response(self) -> Response {
        let doc = error_doc(&self.0);
        (self.0.status, axum::Json(doc)).into_response()
    }
}

/// The authenticated key of a request.
pub struct ProtocolAuth(pub Auth);

impl ProtocolAuth {
    /// 403 unless the key holds `resource:access`.
    pub fn require(&self, resource: ScopeResource, access: Access) -> Result<Ctx, ProtocolError> {
        Ok(self.0.require(resource, access)?)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ProtocolAuth {
    type Rejection = ProtocolError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Auth>().cloned().map(ProtocolAuth).ok_or_else(|| ProtocolError(auth_required()))
    }
}

/// A path id: one that does not parse names nothing (404 for `resource`).
pub struct PathId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ProtocolError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<String>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(s)) => match Uuid::parse_str(&s) {
                Ok(u) => Ok(PathId(u)),
                Err(_) => Err(ProtocolError(not_found_path())),
            },
            Err(_) => Err(ProtocolError(not_found_path())),
        }
    }
}

fn not_found_path() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND", "Nothing exists with this id.")
}

/// A request body, JSON or form-encoded, as an object (an empty body is `{}`).
pub struct Body(pub Fields);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ProtocolError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
        let bytes = params::read_body(req).await?;
        let map = if form {
            form::parse(&bytes)?
        } else {
            match params::parse_json::<Value>(&bytes)? {
                Value::Object(m) => m,
                _ => return Err(ApiError::invalid("body", "must be a JSON object").into()),
            }
        };
        Ok(Body(Fields(map)))
    }
}

/// The fields of a body, read one by one: form strings are accepted where JSON has numbers.
pub struct Fields(pub Map<String, Value>);

/// `None`: absent; `Some(None)`: null or empty (clear it); `Some(Some(v))`: a value.
pub type Change<T> = Option<Option<T>>;

impl Fields {
    fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// A string of at most `max` characters, trimmed.
    pub fn text(&self, name: &str, max: usize) -> Result<Change<String>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s)) => Ok(Some(params::text(name, Some(s.clone()), max)?)),
            Some(Value::Number(n)) => Ok(Some(Some(n.to_string()))),
            Some(_) => Err(ApiError::invalid(name, "must be a string")),
        }
    }

    /// A required string.
    pub fn required_text(&self, name: &str, max: usize) -> Result<String, ApiError> {
        self.text(name, max)?.flatten().ok_or_else(|| ApiError::invalid(name, "is required"))
    }

    /// A boolean (`true`/`false`, also as strings).
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s == "true" || s == "1" => Ok(Some(true)),
            Some(Value::String(s)) if s == "false" || s == "0" => Ok(Some(false)),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(_) => Err(ApiError::invalid(name, "must be true or false")),
        }
    }

    /// An id; a string that is not a UUID names nothing (`Some(Some(nil))` would be wrong: it is
    /// kept as `Err(NotAnId)` for the caller to answer 404 naming the field).
    pub fn id(&self, name: &str) -> Result<Change<IdRef>, ApiError> {
        Ok(self.text(name, 100)?.map(|v| v.map(|s| parse_id(&s))))
    }

    /// A unix-second timestamp (a number, or its decimal string).
    pub fn time(&self, name: &str) -> Result<Change<Time>, ApiError> {
        let secs = match self.get(name) {
            None => return Ok(None),
            Some(Value::Null) => return Ok(Some(None)),
            Some(Value::String(s)) if s.trim().is_empty() => return Ok(Some(None)),
            Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
            Some(Value::Number(n)) => n.as_i64(),
            Some(_) => None,
        };
        secs.and_then(|s| chrono::DateTime::from_timestamp(s, 0))
            .map(|t| Some(Some(t)))
            .ok_or_else(|| ApiError::invalid(name, "must be a unix timestamp in seconds"))
    }

    /// A list of ids (`name[]=` in forms, an array in JSON, a single string too).
    pub fn ids(&self, name: &str) -> Result<Option<Vec<IdRef>>, ApiError> {
        let items = match self.get(name) {
            None => return Ok(None),
            Some(Value::Null) => return Ok(Some(Vec::new())),
            Some(Value::String(s)) if s.trim().is_empty() => return Ok(Some(Vec::new())),
            Some(Value::String(s)) => vec![Value::String(s.clone())],
            Some(Value::Array(a)) => a.clone(),
            Some(_) => return Err(ApiError::invalid(name, "must be a list of ids")),
        };
        if items.len() > 1000 {
            return Err(ApiError::invalid(name, "must hold at most 1000 ids"));
        }
        items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(parse_id(s.trim())),
                _ => Err(ApiError::invalid(name, "must be a list of ids")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

/// An id a client sent: a UUID, or something that cannot name anything.
#[derive(Clone, Copy, Debug)]
pub enum IdRef {
    Id(Uuid),
    NotAnId,
}

fn parse_id(s: &str) -> IdRef {
    Uuid::parse_str(s).map(IdRef::Id).unwrap_or(IdRef::NotAnId)
}

impl IdRef {
    /// The id, or 404 naming `field` (the thing cannot exist).
    pub fn or_not_found(self, resource: confab_core::Resource, field: &str) -> Result<Uuid, ApiError> {
        match self {
            IdRef::Id(u) => Ok(u),
            IdRef::NotAnId => Err(confab_core::Error::not_found_field(resource, field).into()),
        }
    }
}

/// `limit`, `starting_after`, `ending_before` of a list.
pub fn cursor(p: &mut Params) -> Cursor {
    let limit = p.int("limit", LIMIT_DEFAULT, 1, LIMIT_MAX);
    let after = cursor_id(p, "starting_after");
    let before = cursor_id(p, "ending_before");
    if after.is_some() && before.is_some() {
        p.error("ending_before", "cannot be combined with starting_after");
    }
    Cursor { limit, after, before }
}

fn cursor_id(p: &mut Params, name: &str) -> Option<Uuid> {
    let v = p.str(name)?;
    match Uuid::parse_str(&v) {
        Ok(u) => Some(u),
        Err(_) => {
            p.error(name, "is not the id of an item of this list");
            None
        }
    }
}

/// A boolean filter: absent = no filter.
pub fn bool_filter(p: &mut Params, name: &str) -> Option<bool> {
    p.str(name)?;
    Some(p.bool(name, false))
}

/// `{has_more, data}`.
#[derive(Serialize, ToSchema)]
pub struct ProtocolList<T> {
    pub has_more: bool,
    pub data: Vec<T>,
}

/// A JSON response with a status.
pub fn json<T: Serialize>(status: StatusCode, body: T) -> Response {
    (status, axum::Json(body)).into_response()
}

/// 204 No Content.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// The 4xx/5xx responses every operation declares.
pub type Err = ProtocolError;

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_auth(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn bearer_and_basic_with_the_key_as_password() {
        assert_eq!(presented_key(&with_auth("Bearer cfb_x")).as_deref(), Some("cfb_x"));
        // base64("anyone:cfb_x") and base64(":cfb_x")
        assert_eq!(presented_key(&with_auth("Basic YW55b25lOmNmYl94")).as_deref(), Some("cfb_x"));
        assert_eq!(presented_key(&with_auth("basic OmNmYl94")).as_deref(), Some("cfb_x"));
        // base64("cfb_x") has no colon: no password.
        assert_eq!(presented_key(&with_auth("Basic Y2ZiX3g=")), None);
        assert_eq!(presented_key(&with_auth("Basic !!!")), None);
        assert_eq!(presented_key(&with_auth("cfb_x")), None);
        assert_eq!(presented_key(&HeaderMap::new()), None);
    }

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(base64_decode("aGk=").unwrap(), b"hi");
        assert_eq!(base64_decode("aGk").unwrap(), b"hi");
        assert_eq!(base64_decode("aGVsbG8gd29ybGQ=").unwrap(), b"hello world");
        assert!(base64_decode("a b").is_none());
    }

    #[test]
    fn errors_are_invalid_request_or_api_error() {
        let e = error_doc(&ApiError::invalid("limit", "must be between 1 and 100"));
        assert_eq!(
            (e.kind, e.documentation_url.as_str()),
            ("invalid_request", "https://protocol.chat/docs/errors/invalid_request")
        );
        assert!(e.message.contains("limit"));
        let nf = error_doc(&confab_core::Error::not_found_field(confab_core::Resource::Contact, "contact_id").into());
        assert!(nf.message.contains("contact_id"), "{}", nf.message);
        let internal = error_doc(&confab_core::Error::Internal("x".into()).into());
        assert_eq!(internal.kind, "api_error");
    }
}
