//! `conversations.list` (`reference/airy.md` §4, DESIGN.md "Faces" and "Query language"): the
//! conversations a Lucene filter matches, newest last message first, paged by offset.
//!
//! Request `{filters?, cursor?, page_size?}`; an empty body or `{}` lists everything from the start.
//!
//! - `filters`: Lucene's classic syntax over `id` (the default field of bare terms), `channel_id`,
//!   `source`, `display_name`, `created_at` (epoch ms), `unread_count`, `tag_ids` and
//!   `metadata.<path>` — the language of `confab_query` (its `GRAMMAR.md`), read against the
//!   conversation as this face renders it (`confab-store/sql/conversations/airy.rs`). `null` or
//!   absent lists every conversation; `""` does not parse (as in Airy). A filter that does not parse
//!   or cannot hold — bad syntax, an unknown field, `unread_count:abc`, too long or too deep — is 400
//!   `{"message": "Failed to parse Lucene query: <why> at position <n>"}` (Airy answered some of
//!   these 500). A filter that runs past the store's time limit (5 seconds a statement) is 400
//!   `{"message": "The filter took longer than 5 seconds to run; narrow it …"}`: a client error, not
//!   a 500.
//! - `cursor`: the offset, a decimal string or a number (Airy coerces numbers); absent, `null` or
//!   blank is 0. Anything else (a negative, a fraction, a word) is 400 `{"message"}` naming `cursor`.
//! - `page_size`: 20 by default, 1 to 1000 (DESIGN.md: at most 1000, above is 400), a number or a
//!   decimal string. 0 or less is 400 too: Airy answered an empty page (negative) or an empty page
//!   whose `next_cursor` is the request's own cursor (0), on which its client loops forever.
//! - Response `{data: [conversation…], pagination_data: {previous_cursor, next_cursor, total}}`:
//!   `total` counts every match; `previous_cursor` is the request's own offset as a string (`"0"` on
//!   the first page, never `null` — Airy's code, not its docs); `next_cursor` is
//!   `String(cursor + page_size)` while that is below `total`, else `null`. An offset past the end
//!   is an empty page with the right total.
//! - Order: the newest last message first; conversations without messages after the others, the
//!   newest created first; ties by id. Confab has no 2000-hit window: every page is reachable.
//!
//! Scope `conversations:read`.

use super::render::{conversations_json, ConversationJson};
use super::{AiryAuth, AiryError, Body, ErrorMessage};
use crate::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use confab_core::model::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The page size without `page_size`.
const DEFAULT_PAGE_SIZE: u32 = 20;
/// The largest `page_size` (DESIGN.md).
const MAX_PAGE_SIZE: u32 = 1000;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_conversations))
}

/// `conversations.list`.
#[derive(Deserialize, ToSchema)]
pub struct ConversationListRequest {
    /// A Lucene query (classic syntax); absent or `null`: every conversation.
    pub filters: Option<String>,
    /// The offset of the page, a decimal string (or number); 0 by default.
    #[schema(value_type = Option<String>, example = "20")]
    pub cursor: Option<Value>,
    /// 1 to 1000; 20 by default.
    #[schema(value_type = Option<u32>, example = 20)]
    pub page_size: Option<Value>,
}

/// Airy's `pagination_data`.
#[derive(Serialize, ToSchema)]
pub struct PaginationData {
    /// The request's own cursor.
    pub previous_cursor: Option<String>,
    /// The cursor of the next page, `null` on the last.
    pub next_cursor: Option<String>,
    /// How many items match.
    pub total: u64,
}

/// A page of conversations.
#[derive(Serialize, ToSchema)]
pub struct ConversationList {
    pub data: Vec<ConversationJson>,
    pub pagination_data: PaginationData,
}

/// A whole number from a JSON number or a decimal string (surrounding spaces ignored); `None` when
/// `v` is neither or not whole.
pub(super) fn whole_number(v: &Value) -> Option<i128> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 1e18).map(|f| f as i128)),
        Value::String(s) => s.trim().parse::<i128>().ok(),
        _ => None,
    }
}

/// The offset `cursor` names: 0 when absent, `null` or blank.
fn offset(cursor: Option<&Value>) -> Result<u64, AiryError> {
    match cursor {
        None | Some(Value::Null) => Ok(0),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(0),
        Some(v) => whole_number(v)
            .and_then(|n| u64::try_from(n).ok())
            .filter(|n| *n <= i64::MAX as u64)
            .ok_or_else(|| AiryError::invalid("cursor", "must be a decimal offset (a whole number, 0 or more)")),
    }
}

/// `page_size`: the default when absent or `null`, else 1 to [`MAX_PAGE_SIZE`].
fn page_size(v: Option<&Value>) -> Result<u32, AiryError> {
    match v {
        None | Some(Value::Null) => Ok(DEFAULT_PAGE_SIZE),
        Some(v) => {
            whole_number(v).filter(|n| (1..=i128::from(MAX_PAGE_SIZE)).contains(n)).map(|n| n as u32).ok_or_else(|| {
                AiryError::invalid("page_size", &format!("must be a whole number from 1 to {MAX_PAGE_SIZE}"))
            })
        }
    }
}

/// List conversations, filtered with a Lucene query, newest last message first.
#[utoipa::path(post, path = "/conversations.list", tag = "airy", request_body = ConversationListRequest,
    responses(
        (status = 200, body = ConversationList),
        (status = 400, description = "A filter that does not parse (`Failed to parse Lucene query: …`) or runs too long, a bad cursor or page_size", body = ErrorMessage),
        (status = 403, description = "No key, an invalid key, or no conversations:read (empty body)"),
    ),
    security(("bearer" = []), ("airy_cookie" = [])))]
async fn list_conversations(State(s): State<AppState>, auth: AiryAuth, body: Body) -> Result<Response, AiryError> {
    let ctx = auth.require(ScopeResource::Conversations, Access::Read)?;
    let req: ConversationListRequest = body.parse()?;
    let offset = offset(req.cursor.as_ref())?;
    let page_size = page_size(req.page_size.as_ref())?;
    let query = req
        .filters
        .as_deref()
        .map(confab_query::parse)
        .transpose()
        .map_err(|e| AiryError::bad_request(format!("Failed to parse Lucene query: {e}")))?;
    let page = s.store.airy_list_conversations(&ctx, query.as_ref(), offset, page_size).await?;
    let data = conversations_json(&s.store, &ctx, &page.items).await?;
    let next = offset.saturating_add(u64::from(page_size));
    let pagination_data = PaginationData {
        previous_cursor: Some(offset.to_string()),
        next_cursor: (next < page.total).then(|| next.to_string()),
        total: page.total,
    };
    Ok(axum::Json(ConversationList { data, pagination_data }).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cursors_are_whole_offsets_from_strings_or_numbers() {
        for (v, want) in [(json!("20"), 20), (json!(" 40 "), 40), (json!(60), 60), (json!(80.0), 80), (json!(""), 0)] {
            assert_eq!(offset(Some(&v)).unwrap(), want, "{v}");
        }
        assert_eq!(offset(None).unwrap(), 0);
        assert_eq!(offset(Some(&Value::Null)).unwrap(), 0);
        for bad in
            [json!("-1"), json!(-1), json!("1.5"), json!(2.5), json!("abc"), json!(true), json!({}), json!("1e3")]
        {
            assert!(offset(Some(&bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn page_sizes_run_from_1_to_1000() {
        assert_eq!(page_size(None).unwrap(), 20);
        assert_eq!(page_size(Some(&json!(1000))).unwrap(), 1000);
        assert_eq!(page_size(Some(&json!("5"))).unwrap(), 5);
        for bad in [json!(0), json!(-3), json!(1001), json!("x"), json!(1.5)] {
            assert!(page_size(Some(&bad)).is_err(), "{bad}");
        }
    }
}
