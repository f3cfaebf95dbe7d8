//! `Idempotency-Key` on POST requests: a retry of a request that already ran returns the stored
//! response instead of doing the work again.
//!
//! Keys are per API key and kept for [`RETENTION`] (24 h, Linktor's documented window). The key's
//! row is reserved in the store *before* the work, so that:
//! - a retry after completion replays the stored status, body and content type, with
//!   `Idempotency-Replayed: true` (any response below 500 is stored, 4xx included: the same request
//!   gets the same answer);
//! - a duplicate arriving while the first is still running is 409 `IDEMPOTENCY_KEY_IN_USE`;
//! - the same key with a different request (method, path, query or body bytes) is 422
//!   `IDEMPOTENCY_KEY_REUSED`;
//! - a 5xx (or a panic) releases the key, so the retry runs the work again.
//!
//! Without the header a request passes through untouched; a header that is empty, longer than
//! [`MAX_KEY_LEN`] or not printable ASCII is 400 `VALIDATION_ERROR` naming `Idempotency-Key`.
//!
//! Once reserved, the work runs in a task of its own: a client that disconnects mid-request does
//! not cancel it halfway, and its response is still stored for the retry, so the work happens once.
//!
//! [`guard`] is face-independent (it returns [`ApiError`]s); each face wraps it with its own error
//! rendering, as [`linktor`] does. Expired keys are deleted when their key is reserved again and by
//! the server's hourly purge.

use crate::auth::Auth;
use crate::error::ApiError;
use crate::faces::linktor::LinktorError;
use crate::AppState;
use axum::body::Body;
use axum::extract::{OriginalUri, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use confab_core::{ApiKeyId, Time};
use confab_store::{DynStore, Reservation};
use futures_util::FutureExt;
use sha2::{Digest, Sha256};
use std::panic::AssertUnwindSafe;
use std::time::Duration;
use tracing::Instrument;

/// The request header carrying the key.
pub const HEADER: &str = "idempotency-key";
/// The response header marking a replayed response.
pub const REPLAYED_HEADER: &str = "idempotency-replayed";
/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 255;
/// How long a key is remembered.
pub const RETENTION: Duration = Duration::from_secs(24 * 60 * 60);
/// The field name errors about the header carry.
const FIELD: &str = "Idempotency-Key";

/// Keys created before the returned instant are expired at `now`.
pub fn cutoff(now: Time) -> Time {
    now - chrono::Duration::seconds(RETENTION.as_secs() as i64)
}

/// What identifies "the same request": SHA-256 over the method, the path, the query string and the
/// body bytes (each part length-prefixed, so no two different requests share an input).
pub fn fingerprint(method: &str, path: &str, query: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    for part in [method.as_bytes(), path.as_bytes(), query.unwrap_or("").as_bytes(), body] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.finalize().to_vec()
}

/// The key a request carries: `None` without the header, 400 when it is malformed.
pub fn requested_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let mut values = headers.get_all(HEADER).iter();
    let Some(value) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err(ApiError::invalid(FIELD, "must be sent once"));
    }
    let bytes = value.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_KEY_LEN || !bytes.iter().all(|b| (0x20..=0x7e).contains(b)) {
        return Err(ApiError::invalid(FIELD, format!("must be 1 to {MAX_KEY_LEN} printable ASCII characters")));
    }
    // Printable ASCII is valid UTF-8.
    Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
}

/// 409: the same key is being processed right now.
pub fn in_use() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "IDEMPOTENCY_KEY_IN_USE",
        "A request with this Idempotency-Key is still being processed; retry once it has finished.",
    )
}

/// 422: the key was used for a different request.
pub fn reused() -> ApiError {
    let mut e = ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "IDEMPOTENCY_KEY_REUSED",
        "This Idempotency-Key was already used for a different request (method, path or body); \
         send a new key with a new request.",
    );
    e.details.push(confab_core::FieldError::new(FIELD, "was used for a different request"));
    e
}

/// Runs a request of `api_key` under its `Idempotency-Key`, if it is a POST carrying one; any other
/// request goes straight to `next`. Errors are the face's to render.
pub async fn guard(store: &DynStore, api_key: ApiKeyId, req: Request, next: Next) -> Result<Response, ApiError> {
    if req.method() != Method::POST {
        return Ok(next.run(req).await);
    }
    let Some(key) = requested_key(req.headers())? else {
        return Ok(next.run(req).await);
    };
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, crate::MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::too_large(crate::MAX_BODY_BYTES))?;
    // Inside a nested router the URI has lost its mount point; fingerprint the path the client sent.
    let uri = parts.extensions.get::<OriginalUri>().map(|o| o.0.clone()).unwrap_or_else(|| parts.uri.clone());
    let print = fingerprint(parts.method.as_str(), uri.path(), uri.query(), &bytes);
    let now = confab_core::time::now();
    match store.reserve_idempotency(api_key, &key, &print, cutoff(now)).await? {
        Reservation::Reserved => {}
        Reservation::Completed { status, body, content_type } => return Ok(replay(status, body, content_type)),
        Reservation::InProgress => return Err(in_use()),
        Reservation::Mismatch => return Err(reused()),
    }
    let req = Request::from_parts(parts, Body::from(bytes));
    let work = run_reserved(store.clone(), api_key, key, req, next);
    let work = crate::request_id::scope(crate::request_id::current(), work).instrument(tracing::Span::current());
    match tokio::spawn(work).await {
        Ok(response) => Ok(response),
        // The handler panicked (the reservation is released by then): let the panic layer answer.
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(confab_core::Error::Internal(format!("idempotent request task ended: {e}")).into()),
    }
}

/// Runs a reserved request to its end and records the outcome: completed with the response below
/// 500, released otherwise.
async fn run_reserved(store: DynStore, api_key: ApiKeyId, key: String, req: Request, next: Next) -> Response {
    let response = match AssertUnwindSafe(next.run(req)).catch_unwind().await {
        Ok(r) => r,
        Err(panic) => {
            release(&store, api_key, &key).await;
            std::panic::resume_unwind(panic);
        }
    };
    let (parts, body) = response.into_parts();
    if parts.status.is_server_error() {
        release(&store, api_key, &key).await;
        return Response::from_parts(parts, body);
    }
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            release(&store, api_key, &key).await;
            tracing::error!(error = %e, "cannot read the response of an idempotent request");
            let e: ApiError = confab_core::Error::Internal(format!("response body: {e}")).into();
            return LinktorError(e).into_response();
        }
    };
    let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if let Err(e) = store.complete_idempotency(api_key, &key, parts.status.as_u16(), &bytes, content_type).await {
        // The work is done and the client gets its answer; without a stored response, the key must
        // not stay "in use" for a day either.
        tracing::warn!(error = %e, "cannot store the response of an idempotent request");
        release(&store, api_key, &key).await;
    }
    Response::from_parts(parts, Body::from(bytes))
}

async fn release(store: &DynStore, api_key: ApiKeyId, key: &str) {
    if let Err(e) = store.release_idempotency(api_key, key).await {
        tracing::warn!(error = %e, "cannot release an idempotency key");
    }
}

/// The stored response, marked as a replay.
fn replay(status: u16, body: Vec<u8>, content_type: Option<String>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    if let Some(v) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    response.headers_mut().insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}

/// The middleware for the Linktor face (inside its auth layer, which provides the key).
pub async fn linktor(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(api_key) = req.extensions().get::<Auth>().map(|a| a.0.key_id) else {
        return next.run(req).await;
    };
    match guard(&state.store, api_key, req, next).await {
        Ok(response) => response,
        Err(e) => LinktorError(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(HEADER, HeaderValue::from_bytes(v).unwrap());
        }
        h
    }

    #[test]
    fn keys_are_one_to_255_printable_ascii_characters_sent_once() {
        assert_eq!(requested_key(&HeaderMap::new()).unwrap(), None);
        assert_eq!(requested_key(&headers(&[b"order-42 retry"])).unwrap().as_deref(), Some("order-42 retry"));
        assert!(requested_key(&headers(&["k".repeat(255).as_bytes()])).unwrap().is_some());
        for bad in [&b""[..], "k".repeat(256).as_bytes(), "clé".as_bytes(), b"a\tb"] {
            let e = requested_key(&headers(&[bad])).unwrap_err();
            assert_eq!((e.status, e.details[0].field.as_str()), (StatusCode::BAD_REQUEST, FIELD));
        }
        assert!(requested_key(&headers(&[b"a", b"b"])).is_err());
    }

    #[test]
    fn the_fingerprint_tells_method_path_query_and_body_apart() {
        let base = fingerprint("POST", "/v1/channels", None, b"{}");
        assert_eq!(base, fingerprint("POST", "/v1/channels", Some(""), b"{}"));
        assert_ne!(base, fingerprint("POST", "/v1/channels", None, b"{ }"));
        assert_ne!(base, fingerprint("POST", "/v1/contacts", None, b"{}"));
        assert_ne!(base, fingerprint("POST", "/v1/channels", Some("a=1"), b"{}"));
        assert_ne!(base, fingerprint("PUT", "/v1/channels", None, b"{}"));
        // Moving bytes between parts changes the fingerprint.
        assert_ne!(fingerprint("POST", "/a", Some("b"), b""), fingerprint("POST", "/a", None, b"b"));
    }
}
