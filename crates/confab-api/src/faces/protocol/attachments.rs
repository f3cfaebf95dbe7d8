//! `/attachments`: upload (multipart `file`), list, retrieve, rename (PUT `filename`), delete, and the
//! signed download `GET /protocol/v1/files/:id?expires=…&signature=…`.
//!
//! Decisions (DESIGN.md: attachments are stored in the database, `file_url` is signed):
//! - An upload stores the bytes in the database, up to [`MAX_FILE_BYTES`] (10 MiB; more is 413);
//!   `file_type` is the part's content type (`application/octet-stream` when not given),
//!   `filename` the part's file name (`file` when not given). It answers 201. The upload takes no
//!   `Idempotency-Key` (its body is larger than the guard buffers).
//! - An attachment is on no message until a message refers to it (`attachments[]` of
//!   `POST /messages` or `PUT /messages/:id`); it then has that `message_id` and is listed under its
//!   conversation (`GET /attachments?conversation_id=…`), and is deleted with its message.
//! - `file_url` is `…/protocol/v1/files/<id>?expires=<unix>&signature=<hex>`, valid for one hour: the
//!   signature is HMAC-SHA256 over `<id>.<expires>` with the server's URL signing key. The download
//!   needs no API key (the URL is the credential); an expired or forged URL is 403. Without
//!   `--url-signing-key` (`CONFAB_URL_SIGNING_KEY`) the server draws a random key at start: its URLs
//!   then stop working at a restart and are not valid on other nodes. The URL's host is the request's
//!   `Host` (scheme from `X-Forwarded-Proto`, else `http`).
//! - The download answers the bytes with the stored content type, `Content-Disposition: attachment`
//!   and `X-Content-Type-Options: nosniff` (an uploaded HTML file is never rendered as a page).
//! - Messages scope: `messages:read` for GET, `messages:write` otherwise.

use super::render::{self, ProtocolAttachmentJson};
use super::{cursor, json, no_content, Body, PathId, ProtocolAuth, ProtocolError, ProtocolList};
use crate::error::ApiError;
use crate::faces::params::Params;
use crate::AppState;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use confab_core::model::*;
use confab_core::{AttachmentId, ConversationId, Resource};
use confab_store::NewAttachment;
use rand::Rng;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The largest file accepted.
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
/// How long a `file_url` is valid.
pub const URL_VALIDITY_SECS: i64 = 3600;

/// Signs and checks download URLs.
pub struct UrlSigner {
    key: Vec<u8>,
}

impl UrlSigner {
    /// A signer with `key`, or with a random key when none is given.
    pub fn new(key: Option<&[u8]>) -> Self {
        let key = match key.filter(|k| !k.is_empty()) {
            Some(k) => k.to_vec(),
            None => {
                let mut k = vec![0u8; 32];
                rand::rng().fill(&mut k[..]);
                k
            }
        };
        UrlSigner { key }
    }

    /// HMAC-SHA256 (RFC 2104) of `msg`, hex.
    fn mac(&self, msg: &[u8]) -> String {
        let mut key = if self.key.len() > 64 { Sha256::digest(&self.key).to_vec() } else { self.key.clone() };
        key.resize(64, 0);
        let ipad: Vec<u8> = key.iter().map(|b| b ^ 0x36).collect();
        let opad: Vec<u8> = key.iter().map(|b| b ^ 0x5c).collect();
        let inner = Sha256::new().chain_update(&ipad).chain_update(msg).finalize();
        hex::encode(Sha256::new().chain_update(&opad).chain_update(inner).finalize())
    }

    pub fn sign(&self, id: AttachmentId, expires: i64) -> String {
        self.mac(format!("{id}.{expires}").as_bytes())
    }

    /// Whether `signature` signs `id` until `expires`, and `expires` is not past at `now`.
    pub fn verify(&self, id: AttachmentId, expires: i64, signature: &str, now: i64) -> bool {
        let expected = self.sign(id, expires);
        let same = expected.len() == signature.len()
            && expected.bytes().zip(signature.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        same && now <= expires
    }
}

/// The signed URL of attachment `id`, valid for an hour from now.
pub fn file_url(signer: &UrlSigner, headers: &HeaderMap, id: AttachmentId) -> String {
    let expires = confab_core::time::now().timestamp() + URL_VALIDITY_SECS;
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .filter(|p| *p == "https" || *p == "http")
        .unwrap_or("http");
    format!("{scheme}://{host}/protocol/v1/files/{id}?expires={expires}&signature={}", signer.sign(id, expires))
}

pub fn routes() -> OpenApiRouter<AppState> {
    let upload = OpenApiRouter::new()
        .routes(routes!(upload_attachment))
        .layer(DefaultBodyLimit::max(MAX_FILE_BYTES + 64 * 1024));
    OpenApiRouter::new().routes(routes!(list_attachments)).merge(upload).routes(routes!(
        get_attachment,
        rename_attachment,
        delete_attachment
    ))
}

/// The download route (no API key: the signature is the credential).
pub fn file_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(download))
}

/// `PUT /attachments/:id`.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ProtocolRenameAttachmentRequest {
    pub filename: String,
}

/// `POST /attachments` (multipart).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ProtocolUploadAttachmentRequest {
    /// The file.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

#[utoipa::path(get, path = "/attachments", tag = "protocol",
    params(("conversation_id" = Option<String>, Query), ("limit" = Option<u32>, Query),
        ("starting_after" = Option<String>, Query), ("ending_before" = Option<String>, Query)),
    responses((status = 200, body = ProtocolList<ProtocolAttachmentJson>), (status = 400, body = super::ProtocolErrorDoc),
        (status = 401, body = super::ProtocolErrorDoc), (status = 403, body = super::ProtocolErrorDoc)),
    security(("bearer" = []), ("basic" = [])))]
async fn list_attachments(
    State(s): State<AppState>,
    Extension(signer): Extension<Arc<UrlSigner>>,
    headers: HeaderMap,
    auth: ProtocolAuth,
    RawQuery(q): RawQuery,
) -> Result<Response, ProtocolError> {
    let ctx = auth.require(ScopeResource::Messages, Access::Read)?;
    let mut p = Params::from_query(q.as_deref());
    let cursor = cursor(&mut p);
    let conversation = p.str("conversation_id");
    p.finish()?;
    let conversation = match conversation {
        None => None,
        Some(c) => Some(ConversationId(
            uuid::Uuid::parse_str(&c)
                .map_err(|_| confab_core::Error::not_found_field(Resource::Conversation, "conversation_id"))?,
        )),
    };
    if let Some(c) = conversation {
        s.store.get_conversation(&ctx, c).await.map_err(|e| match e {
            confab_core::Error::NotFound { resource, .. } => {
                confab_core::Error::not_found_field(resource, "conversation_id")
            }
            e => e,
        })?;
    }
    let page = s.store.list_attachments(&ctx, conversation, cursor).await?;
    let data = page.items.iter().map(|a| render::attachment(a, file_url(&signer, &headers, a.id))).collect();
    Ok(json(StatusCode::OK, ProtocolList { has_more: page.has_more, data }))
}

#[utoipa::path(post, path = "/attachments", tag = "protocol",
    request_body(content = ProtocolUploadAttachmentRequest, content_type = "multipart/form-data"),
    responses((status = 201, body = ProtocolAttachmentJson), (status = 400, body = super::ProtocolErrorDoc),
        (status = 401, body = super::ProtocolErrorDoc), (status = 403, body = super::ProtocolErrorDoc),
        (status = 413, description = "The file is larger than 10 MiB", body = super::ProtocolErrorDoc)),
    security(("bearer" = []), ("basic" = [])))]
async fn upload_attachment(
    State(s): State<AppState>,
    Extension(signer): Extension<Arc<UrlSigner>>,
    auth: ProtocolAuth,
    req: Request,
) -> Result<Response, ProtocolError> {
    let ctx = auth.require(ScopeResource::Messages, Access::Write)?;
    let headers = req.headers().clone();
    let mut multipart = Multipart::from_request(req, &s)
        .await
        .map_err(|_| ApiError::invalid("file", "must be sent as multipart/form-data"))?;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("The file is larger than {MAX_FILE_BYTES} bytes."),
        )
    };
    let field_error = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            ApiError::invalid("file", format!("could not be read ({})", e.body_text()))
        }
    };
    let mut file = None;
    while let Some(field) = multipart.next_field().await.map_err(field_error)? {
        if field.name() != Some("file") {
            continue;
        }
        let filename = field
            .file_name()
            .map(|n| n.trim().replace('\0', ""))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "file".to_string());
        let content_type = field
            .content_type()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty() && t.len() <= 255 && !t.contains('\0'))
            .unwrap_or_else(|| "application/octet-stream".to_string());
        let data = field.bytes().await.map_err(field_error)?;
        if data.len() > MAX_FILE_BYTES {
            return Err(too_large().into());
        }
        let filename: String = filename.chars().take(255).collect();
        file = Some(NewAttachment { filename, content_type, data: data.to_vec() });
        break;
    }
    let new = file.ok_or_else(|| ApiError::invalid("file", "is required"))?;
    let a = s.store.create_attachment(&ctx, new).await?;
    Ok(json(StatusCode::CREATED, render::attachment(&a, file_url(&signer, &headers, a.id))))
}

#[utoipa::path(get, path = "/attachments/{id}", tag = "protocol", params(("id" = String, Path)),
    responses((status = 200, body = ProtocolAttachmentJson), (status = 401, body = super::ProtocolErrorDoc),
        (status = 403, body = super::ProtocolErrorDoc), (status = 404, body = super::ProtocolErrorDoc)),
    security(("bearer" = []), ("basic" = [])))]
async fn get_attachment(
    State(s): State<AppState>,
    Extension(signer): Extension<Arc<UrlSigner>>,
    headers: HeaderMap,
    auth: ProtocolAuth,
    PathId(id): PathId,
) -> Result<Response, ProtocolError> {
    let ctx = auth.require(ScopeResource::Messages, Access::Read)?;
    let a = s.store.get_attachment(&ctx, AttachmentId(id)).await?;
    Ok(json(StatusCode::OK, render::attachment(&a, file_url(&signer, &headers, a.id))))
}

#[utoipa::path(put, path = "/attachments/{id}", tag = "protocol", params(("id" = String, Path)),
    request_body(content = ProtocolRenameAttachmentRequest, content_type = "application/x-www-form-urlencoded", description = "Form-encoded (as Protocol's curl examples) or the same fields as JSON"),
    responses((status = 200, body = ProtocolAttachmentJson), (status = 400, body = super::ProtocolErrorDoc),
        (status = 401, body = super::ProtocolErrorDoc), (status = 403, body = super::ProtocolErrorDoc),
        (status = 404, body = super::ProtocolErrorDoc)),
    security(("bearer" = []), ("basic" = [])))]
async fn rename_attachment(
    State(s): State<AppState>,
    Extension(signer): Extension<Arc<UrlSigner>>,
    headers: HeaderMap,
    auth: ProtocolAuth,
    PathId(id): PathId,
    Body(f): Body,
) -> Result<Response, ProtocolError> {
    let ctx = auth.require(ScopeResource::Messages, Access::Write)?;
    let a = match f.text("filename", 255)? {
        None => s.store.get_attachment(&ctx, AttachmentId(id)).await?,
        Some(None) => return Err(ApiError::invalid("filename", "must not be empty").into()),
        Some(Some(name)) => s.store.rename_attachment(&ctx, AttachmentId(id), name).await?,
    };
    Ok(json(StatusCode::OK, render::attachment(&a, file_url(&signer, &headers, a.id))))
}

#[utoipa::path(delete, path = "/attachments/{id}", tag = "protocol", params(("id" = String, Path)),
    responses((status = 204, description = "The file is deleted"), (status = 401, body = super::ProtocolErrorDoc),
        (status = 403, body = super::ProtocolErrorDoc), (status = 404, body = super::ProtocolErrorDoc)),
    security(("bearer" = []), ("basic" = [])))]
async fn delete_attachment(
    State(s): State<AppState>,
    auth: ProtocolAuth,
    PathId(id): PathId,
) -> Result<Response, ProtocolError> {
    let ctx = auth.require(ScopeResource::Messages, Access::Write)?;
    s.store.delete_attachment(&ctx, AttachmentId(id)).await?;
    Ok(no_content())
}

/// The file's bytes, by its signed `file_url` (no API key).
#[utoipa::path(get, path = "/files/{id}", tag = "protocol",
    params(("id" = String, Path), ("expires" = i64, Query, description = "Unix seconds"),
        ("signature" = String, Query, description = "Hex HMAC-SHA256 over `<id>.<expires>`")),
    responses((status = 200, description = "The file, with its content type", content_type = "application/octet-stream"),
        (status = 403, description = "Expired or forged URL", body = super::ProtocolErrorDoc),
        (status = 404, body = super::ProtocolErrorDoc)),
    security(()))]
async fn download(
    State(s): State<AppState>,
    Extension(signer): Extension<Arc<UrlSigner>>,
    PathId(id): PathId,
    RawQuery(q): RawQuery,
) -> Result<Response, ProtocolError> {
    let denied = || {
        ProtocolError(ApiError::new(
            StatusCode::FORBIDDEN,
            "INVALID_SIGNATURE",
            "This file URL has expired or its signature is not valid; retrieve the attachment for a new file_url.",
        ))
    };
    let mut p = Params::from_query(q.as_deref());
    let expires = p.str("expires").and_then(|e| e.parse::<i64>().ok());
    let (Some(expires), Some(signature)) = (expires, p.str("signature")) else {
        return Err(denied());
    };
    let id = AttachmentId(id);
    if !signer.verify(id, expires, &signature, confab_core::time::now().timestamp()) {
        return Err(denied());
    }
    let (a, bytes) = s.store.attachment_data(id).await?;
    let mut response = bytes.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&a.content_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    let safe: String =
        a.filename.chars().filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\' || *c == ' ').collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_and_urls_expire() {
        // RFC 4231 test case 2.
        let s = UrlSigner::new(Some(b"Jefe"));
        assert_eq!(
            s.mac(b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let id = AttachmentId(uuid::Uuid::now_v7());
        let sig = s.sign(id, 1000);
        assert!(s.verify(id, 1000, &sig, 999));
        assert!(s.verify(id, 1000, &sig, 1000));
        assert!(!s.verify(id, 1000, &sig, 1001), "expired");
        assert!(!s.verify(id, 1001, &sig, 999), "another expiry");
        assert!(!s.verify(AttachmentId(uuid::Uuid::now_v7()), 1000, &sig, 999), "another file");
        assert!(!UrlSigner::new(None).verify(id, 1000, &sig, 999), "another key");
    }
}
