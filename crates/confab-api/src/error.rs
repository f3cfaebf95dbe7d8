//! Face-independent errors: a status, a stable code, a sentence, and the fields at fault. Each face
//! renders them in its own envelope and may map the code to its own vocabulary.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use confab_core::{Error, FieldError};

/// An error on its way to a client.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Vec<FieldError>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), details: Vec::new() }
    }

    /// 400 `VALIDATION_ERROR` for one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::invalid(field, message).into()
    }

    /// 400 `VALIDATION_ERROR` for several fields.
    pub fn invalid_fields(details: Vec<FieldError>) -> Self {
        Error::Validation(details).into()
    }

    pub fn auth_required() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "AUTHENTICATION_REQUIRED",
            "An API key is required: send Authorization: Bearer <key>.",
        )
    }

    pub fn invalid_key() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "INVALID_API_KEY", "The API key is not valid (unknown or revoked).")
    }

    pub fn forbidden(scope: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, "INSUFFICIENT_PERMISSIONS", format!("The API key lacks the scope {scope}."))
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("The request body is larger than {limit} bytes."),
        )
    }

    pub fn route_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND", "No such endpoint.")
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Validation(details) => ApiError {
                status: StatusCode::BAD_REQUEST,
                code: "VALIDATION_ERROR",
                message: match details.as_slice() {
                    [one] => {
                        format!("Invalid request parameters: {} {}.", one.field, one.message.trim_end_matches('.'))
                    }
                    _ => "Invalid request parameters.".into(),
                },
                details,
            },
            Error::NotFound { resource, field } => {
                let noun = resource.noun();
                let mut sentence = noun.to_string();
                sentence[..1].make_ascii_uppercase();
                ApiError {
                    status: StatusCode::NOT_FOUND,
                    code: resource.not_found_code(),
                    message: format!("{sentence} not found."),
                    details: field
                        .map(|f| vec![FieldError::new(f, format!("no {noun} with this id exists"))])
                        .unwrap_or_default(),
                }
            }
            Error::Conflict { code, message, field } => ApiError {
                status: StatusCode::CONFLICT,
                code,
                details: field.map(|f| vec![FieldError::new(f, message.clone())]).unwrap_or_default(),
                message,
            },
            Error::Refused { code, message } => ApiError::new(StatusCode::BAD_REQUEST, code, message),
            Error::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "INTERNAL_ERROR",
                    "Something went wrong on our side; it has been logged.",
                )
            }
        }
    }
}

/// What a panic in a handler becomes: a 500 in no face's envelope in particular (it should never
/// happen; it is logged).
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [("content-type", "application/json")],
        r#"{"error":{"code":"INTERNAL_ERROR","message":"Something went wrong on our side; it has been logged.","details":[]}}"#,
    )
        .into_response()
}
