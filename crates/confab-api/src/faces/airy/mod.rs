//! The Airy Core face, mounted at the root: dotted RPC endpoints (`POST /conversations.info`, …),
//! snake_case JSON with nulls included, times in ISO 8601 UTC with exactly three fraction digits and
//! `Z` (`2019-01-07T09:01:44.000Z`), ids as lowercase UUIDs. The reference is Airy's code
//! (`reference/airy.md`); where DESIGN.md decides otherwise, DESIGN.md wins. Each module documents
//! its endpoints' decisions; what they share is here.
//!
//! **Requests.** POST only (another method is 405). The body is JSON whatever the `Content-Type`
//! says (Airy's Spring answers 415 without `application/json`; accepting it costs nothing and
//! `curl -d` users send form types); an empty body is `{}` (Airy's JS client sends list calls with a
//! JSON content type and no body); unknown fields, including the camelCase spellings Airy's JS
//! client adds, are ignored. A body over 1 MiB is 413. The camelCase aliases Airy still routes exist
//! too: `conversations.setState`, `.removeState`, `.updateContact` (not `.markRead`: Airy removed
//! it).
//!
//! **Auth** (`reference/airy.md` §2). The API keys of /v1, presented as `Authorization: Bearer
//! <key>`, as the bare key in `Authorization` (what Airy's own tests send), or as the cookie
//! `airy_auth_token=<key>` (what Airy's web inbox sends; the header wins when both are present).
//! Every failure — no key, an unknown or revoked key, a key without the scope — is 403 with an empty
//! body: Airy never answers 401. Scopes as everywhere (DESIGN.md, Auth): `conversations:read` for
//! reading conversations and tags, `conversations:write` for changing them (tags, state, contact
//! name, mark-read, refetch, tag administration), `channels:read`/`channels:write` for channels;
//! `metadata.upsert` needs the write scope of its subject (`conversations`, `messages`, `channels`).
//! The scope is checked before the body is read, so a key without it learns nothing about bodies.
//!
//! **Errors.** Airy's shapes, decided per case from `reference/airy.md` §1 and §5–§9:
//!
//! | case | status | body |
//! |---|---|---|
//! | the subject does not exist (conversation, tag, channel, message) | 404 | empty, as Airy's `notFound().build()` |
//! | any auth failure | 403 | empty |
//! | a missing required field, a wrong JSON type, an id that is not a UUID, malformed JSON | 400 | `{"message": "Invalid request: conversation_id must be a UUID."}` |
//! | Airy's own validation (tag colour) | 400 | Airy's sentence, `{"message": "Tag color must be one of [tag-blue, tag-red, tag-green, tag-purple]"}` |
//! | a conflict (a tag name taken, reopening beside another active conversation) | 409 | `{"message": …}` |
//! | a body over 1 MiB | 413 | `{"message": …}` |
//! | a fault of Confab | 500 | `{"message": …}`, the cause logged, never sent |
//!
//! Validation failures deviate on purpose: Spring's default body (`{timestamp, status, error,
//! path}`) names no field, so Confab sends Airy's own `{"message"}` shape with a sentence naming the
//! field — a client parsing Airy errors reads it the same way.
//!
//! **Existence.** Airy writes metadata records without looking (tagging an unknown conversation id,
//! upserting metadata on anything); Confab is strongly consistent and checks: an unknown subject is
//! 404 (empty) everywhere except `conversations.mark-read`, which is 204 for any id as in Airy.
//! Conversations exist from their creation, with or without messages (Airy knows a conversation only
//! from its first message); one without messages renders `last_message: null`. The face sees only
//! active channels, as Airy sees only connected ones: an inactive channel is 404 in `channels.info`,
//! `channels.update` and `metadata.upsert`, and missing from `channels.list`.
//!
//! The JSON shapes and the core ↔ Airy mapping are in [`render`]. Webhook subscriptions
//! (`webhooks.*`) are in `webhooks`, what they deliver in [`webhook_format`], and the realtime
//! websocket (`GET /ws.communication`, STOMP) in [`ws`].

mod channels;
mod conversations;
mod list;
mod messages;
mod metadata;
pub mod render;
mod tags;
pub mod webhook_format;
mod webhooks;
pub mod ws;

use crate::auth::Auth;
use crate::error::ApiError;
use crate::faces::params;
use crate::AppState;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use confab_core::model::{Access, Ctx, ScopeResource};
use serde::de::DeserializeOwned;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

pub use render::{conversation_json, conversations_json, message_json, ConversationJson, MessageJson};

/// The cookie Airy's web inbox authenticates with.
pub const AUTH_COOKIE: &str = "airy_auth_token";

/// Every Airy route, without the auth layer (for the OpenAPI document).
pub fn routes() -> OpenApiRouter<AppState> {
    rpc_routes().merge(ws::routes())
}

/// The dotted RPC endpoints (POST), all behind the key check.
fn rpc_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(conversations::routes())
        .merge(list::routes())
        .merge(messages::routes())
        .merge(tags::routes())
        .merge(channels::routes())
        .merge(metadata::routes())
        .merge(webhooks::routes())
}

/// The Airy router: every RPC route behind the key check, and the websocket
/// (`GET /ws.communication`), which checks the key itself (it may come in the STOMP `CONNECT`
/// frame, see [`ws`]). It sets no fallback: unknown paths at the root stay axum's plain 404.
pub fn router(state: AppState) -> OpenApiRouter<AppState> {
    rpc_routes().layer(axum::middleware::from_fn_with_state(state, authenticate)).merge(ws::routes())
}

/// The key of a request: `Authorization` (with or without `Bearer`), else the `airy_auth_token`
/// cookie.
pub fn presented_key(headers: &HeaderMap) -> Option<String> {
    let from_header = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| {
        let v = v.trim();
        let key = match v.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            _ => v,
        };
        (!key.is_empty()).then(|| key.to_string())
    });
    from_header.or_else(|| {
        headers
            .get_all("cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| name.trim() == AUTH_COOKIE)
            .map(|(_, value)| value.trim().trim_matches('"').to_string())
            .filter(|v| !v.is_empty())
    })
}

async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(key) = presented_key(req.headers()) else {
        return AiryError::Empty(StatusCode::FORBIDDEN).into_response();
    };
    match state.keys.resolve(&state.store, &key).await {
        Ok(principal) => {
            req.extensions_mut().insert(Auth(principal));
            next.run(req).await
        }
        Err(e) => AiryError::from(e).into_response(),
    }
}

/// An error as Airy renders it: an empty body, or `{"message": …}`.
#[derive(Debug)]
pub enum AiryError {
    /// A status with an empty body (404 of a subject, every 403).
    Empty(StatusCode),
    /// A status with `{"message": …}`.
    Message(StatusCode, String),
}

impl AiryError {
    /// 404, empty.
    pub fn not_found() -> Self {
        AiryError::Empty(StatusCode::NOT_FOUND)
    }

    /// 400 `{"message"}` naming `field`.
    pub fn invalid(field: &str, message: &str) -> Self {
        ApiError::invalid(field, message).into()
    }

    /// 400 with Airy's own sentence.
    pub fn bad_request(message: impl Into<String>) -> Self {
        AiryError::Message(StatusCode::BAD_REQUEST, message.into())
    }
}

/// `{"message": …}`: the body of Airy's own errors.
#[derive(Serialize, ToSchema)]
pub struct ErrorMessage {
    /// A sentence for people.
    pub message: String,
}

impl From<ApiError> for AiryError {
    fn from(e: ApiError) -> Self {
        match e.status {
            // Airy never answers 401: a missing or invalid key is 403 like a missing scope.
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => AiryError::Empty(StatusCode::FORBIDDEN),
            StatusCode::NOT_FOUND => AiryError::not_found(),
            StatusCode::BAD_REQUEST if !e.details.is_empty() => {
                let fields: Vec<String> =
                    e.details.iter().map(|d| format!("{} {}", d.field, d.message.trim_end_matches('.'))).collect();
                AiryError::Message(StatusCode::BAD_REQUEST, format!("Invalid request: {}.", fields.join("; ")))
            }
            status => AiryError::Message(status, e.message),
        }
    }
}

impl From<confab_core::Error> for AiryError {
    fn from(e: confab_core::Error) -> Self {
        ApiError::from(e).into()
    }
}

impl IntoResponse for AiryError {
    fn into_response(self) -> Response {
        match self {
            AiryError::Empty(status) => status.into_response(),
            AiryError::Message(status, message) => (status, axum::Json(ErrorMessage { message })).into_response(),
        }
    }
}

/// The authenticated key of an Airy request (the middleware put it there).
pub struct AiryAuth(pub Auth);

impl AiryAuth {
    /// The store context, or 403 (empty) unless the key holds `resource:access`.
    pub fn require(&self, resource: ScopeResource, access: Access) -> Result<Ctx, AiryError> {
        Ok(self.0.require(resource, access)?)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AiryAuth {
    type Rejection = AiryError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Auth>().cloned().map(AiryAuth).ok_or(AiryError::Empty(StatusCode::FORBIDDEN))
    }
}

/// A request body, read (413 beyond 1 MiB) but not yet parsed: handlers check the key's scope
/// first, then [`Body::parse`] it.
pub struct Body(axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = AiryError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Body(params::read_body(req).await?))
    }
}

impl Body {
    /// The body as `T`: empty is `{}`; malformed JSON or a wrong type is 400 naming the field.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, AiryError> {
        Ok(params::parse_json(&self.0)?)
    }
}

/// A required id field: 400 when absent or not a UUID.
pub fn required_id(field: &str, value: Option<&str>) -> Result<Uuid, AiryError> {
    let raw = value.ok_or_else(|| AiryError::invalid(field, "is required"))?;
    Uuid::parse_str(raw.trim()).map_err(|_| AiryError::invalid(field, "must be a UUID"))
}

/// A required text field, trimmed: 400 when absent, empty or longer than `max` characters.
pub fn required_text(field: &str, value: Option<String>, max: usize) -> Result<String, AiryError> {
    let value = value.ok_or_else(|| AiryError::invalid(field, "is required"))?;
    params::text(field, Some(value), max)?.ok_or_else(|| AiryError::invalid(field, "must not be empty"))
}

/// 204 No Content.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(*n, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_key_comes_from_the_header_with_or_without_bearer_else_from_the_cookie() {
        assert_eq!(presented_key(&headers(&[("authorization", "Bearer cfb_x")])).as_deref(), Some("cfb_x"));
        assert_eq!(presented_key(&headers(&[("authorization", "cfb_x")])).as_deref(), Some("cfb_x"));
        let cookie = headers(&[("cookie", "theme=dark; airy_auth_token=cfb_y; other=1")]);
        assert_eq!(presented_key(&cookie).as_deref(), Some("cfb_y"));
        let both = headers(&[("authorization", "Bearer cfb_x"), ("cookie", "airy_auth_token=cfb_y")]);
        assert_eq!(presented_key(&both).as_deref(), Some("cfb_x"));
        assert_eq!(presented_key(&headers(&[("cookie", "airy_auth_token=")])), None);
        assert_eq!(presented_key(&headers(&[("x-api-key", "cfb_x")])), None);
    }

    #[test]
    fn validation_errors_name_their_fields_and_not_found_is_empty() {
        let AiryError::Message(status, message) = AiryError::invalid("conversation_id", "must be a UUID") else {
            panic!("a validation error has a message")
        };
        assert_eq!(
            (status, message.as_str()),
            (StatusCode::BAD_REQUEST, "Invalid request: conversation_id must be a UUID.")
        );
        let e: AiryError = confab_core::Error::not_found(confab_core::Resource::Conversation).into();
        assert!(matches!(e, AiryError::Empty(StatusCode::NOT_FOUND)));
        let e: AiryError = ApiError::auth_required().into();
        assert!(matches!(e, AiryError::Empty(StatusCode::FORBIDDEN)));
    }
}
