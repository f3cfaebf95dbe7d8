//! The Linktor success envelope: `{"data": resource | [resource], "meta": {requestId, pagination?}}`,
//! a resource being `{id, type, attributes, relationships?}`.

use crate::faces::params::Params;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use confab_core::model::{Page, PageRequest};
use serde::Serialize;
use utoipa::ToSchema;

/// The default and largest page sizes of Linktor lists.
pub const PER_PAGE_DEFAULT: u32 = 20;
pub const PER_PAGE_MAX: u32 = 100;

/// `meta` of every response.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    /// The request's id (the client's `X-Request-ID` when it sent one).
    pub request_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
}

impl Meta {
    pub fn new(pagination: Option<Pagination>) -> Self {
        Meta { request_id: crate::request_id::current(), pagination }
    }
}

/// Offset pagination of a list.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub page: u32,
    pub per_page: u32,
    pub total_pages: u64,
    pub total_count: u64,
    pub has_next_page: bool,
    pub has_prev_page: bool,
}

impl Pagination {
    pub fn new(page: PageRequest, total: u64) -> Self {
        let per = u64::from(page.per_page.max(1));
        let total_pages = total.div_ceil(per);
        Pagination {
            page: page.page,
            per_page: page.per_page,
            total_pages,
            total_count: total,
            has_next_page: u64::from(page.page) < total_pages,
            has_prev_page: page.page > 1,
        }
    }
}

/// `page` (from 1) and `perPage` (1 to 100, default 20) of a Linktor list.
pub fn page_request(p: &mut Params) -> PageRequest {
    PageRequest { page: p.int("page", 1, 1, 1_000_000), per_page: p.int("perPage", PER_PAGE_DEFAULT, 1, PER_PAGE_MAX) }
}

/// A resource: `{id, type, attributes, relationships?}`.
#[derive(Serialize, ToSchema)]
pub struct Resource<A> {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub attributes: A,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relationships: Option<serde_json::Value>,
}

impl<A> Resource<A> {
    pub fn new(kind: &'static str, id: impl ToString, attributes: A) -> Self {
        Resource { id: id.to_string(), kind, attributes, relationships: None }
    }
}

/// `{"data": …, "meta": …}`.
#[derive(Serialize, ToSchema)]
pub struct Doc<T> {
    pub data: T,
    pub meta: Meta,
}

/// One resource with a status.
pub fn one<A: Serialize>(status: StatusCode, resource: Resource<A>) -> Response {
    (status, axum::Json(Doc { data: resource, meta: Meta::new(None) })).into_response()
}

/// A page of resources.
pub fn page<A: Serialize>(items: Vec<Resource<A>>, page: PageRequest, total: u64) -> Response {
    let doc = Doc { data: items, meta: Meta::new(Some(Pagination::new(page, total))) };
    (StatusCode::OK, axum::Json(doc)).into_response()
}

/// A whole (unpaginated) list.
pub fn list<A: Serialize>(items: Vec<Resource<A>>) -> Response {
    (StatusCode::OK, axum::Json(Doc { data: items, meta: Meta::new(None) })).into_response()
}

/// Maps a page of core values to resources.
pub fn page_of<T, A: Serialize>(p: Page<T>, req: PageRequest, f: impl Fn(T) -> Resource<A>) -> Response {
    page(p.items.into_iter().map(f).collect(), req, p.total)
}

/// An instant as Linktor shows it.
pub fn iso(t: confab_core::Time) -> String {
    confab_core::time::iso(t)
}
