//! The Linktor face's error rendering and extractors (every rejection in the face's envelope).

use super::envelope::Meta;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::faces::params;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use utoipa::ToSchema;

/// An error rendered as Linktor renders errors.
#[derive(Debug)]
pub struct LinktorError(pub ApiError);

impl From<ApiError> for LinktorError {
    fn from(e: ApiError) -> Self {
        LinktorError(e)
    }
}

impl From<confab_core::Error> for LinktorError {
    fn from(e: confab_core::Error) -> Self {
        LinktorError(e.into())
    }
}

/// `{"error":{…},"meta":{"requestId"}}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorDoc {
    pub error: ErrorBody,
    pub meta: Meta,
}

/// What went wrong.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable code (`CONVERSATION_NOT_FOUND`, `VALIDATION_ERROR`, …).
    pub code: String,
    /// A sentence for people.
    pub message: String,
    /// The fields at fault.
    pub details: Vec<ErrorDetail>,
}

/// One field at fault.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    pub field: String,
    pub message: String,
}

impl IntoResponse for LinktorError {
    fn into_response(self) -> Response {
        let e = self.0;
        let doc = ErrorDoc {
            error: ErrorBody {
                code: e.code.to_string(),
                message: e.message,
                details: e.details.into_iter().map(|d| ErrorDetail { field: d.field, message: d.message }).collect(),
            },
            meta: Meta::new(None),
        };
        (e.status, axum::Json(doc)).into_response()
    }
}

/// A JSON body; problems are 400 `VALIDATION_ERROR` naming the field, 413 past the size limit.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = LinktorError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let bytes = params::read_body(req).await?;
        Ok(Json(params::parse_json(&bytes)?))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = LinktorError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Auth>().cloned().ok_or_else(|| LinktorError(ApiError::auth_required()))
    }
}

/// Path parameters. A path that does not decode (invalid UTF-8, a wrong shape) names nothing that
/// exists: 404 in the envelope, like an id that does not parse, instead of axum's plain-text 400.
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = LinktorError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(_) => Err(LinktorError(ApiError::new(
                StatusCode::NOT_FOUND,
                "RESOURCE_NOT_FOUND",
                "Nothing exists at this path: an id in it could not be read.",
            ))),
        }
    }
}

/// 204 No Content.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}
