//! `Idempotency-Key` on POST requests (being written).

use crate::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// The middleware for the Linktor face.
pub async fn linktor(State(_state): State<AppState>, req: Request, next: Next) -> Response {
    next.run(req).await
}
