//! The Lucene query language of Airy's `conversations.list`, as a library: a parser for the classic
//! syntax producing a typed tree with byte spans ([`parse`]), a compiler from that tree to a
//! parameterised SQL `WHERE` fragment for SQLite and PostgreSQL ([`to_sql`]), and an in-memory evaluator
//! over a conversation snapshot ([`matches()`]) with exactly the SQL's semantics. No IO: the stores run the
//! SQL, the event stream runs the evaluator.
//!
//! ```
//! use confab_query::{matches, parse, to_sql, Bind, Dialect, Doc, Schema, TagSource};
//!
//! let query = parse("display_name:*grace* AND NOT metadata.state:CLOSED").unwrap();
//!
//! let doc = Doc {
//!     id: "a688d36c-a85e-44af-bc02-4248c2c97622".into(),
//!     display_name: Some("Grace Hopper".into()),
//!     metadata: serde_json::json!({"state": "OPEN"}),
//!     ..Doc::default()
//! };
//! assert!(matches(&query, &doc));
//!
//! let schema = Schema {
//!     dialect: Dialect::Postgres,
//!     id: "c.id::text".into(),
//!     channel_id: "c.channel_id::text".into(),
//!     source: "c.source".into(),
//!     display_name: "c.display_name".into(),
//!     created_at_ms: "c.created_at_ms".into(),
//!     unread_count: "c.unread_count".into(),
//!     tags: TagSource {
//!         from_where: "conversation_tags ct WHERE ct.conversation_id = c.id".into(),
//!         tag_id: "ct.tag_id::text".into(),
//!     },
//!     metadata: "c.metadata".into(),
//! };
//! // The caller's statement already binds $1 (the tenant): the fragment starts at $2.
//! let sql = to_sql(&query, &schema, 1);
//! assert!(sql.sql.contains("$2") && sql.sql.contains("$3"));
//! assert_eq!(sql.binds[0], Bind::Text("%grace%".into()));
//!
//! let err = parse("(a OR b").unwrap_err();
//! assert_eq!(err.to_string(), "expected ')' at position 7");
//! ```
//!
//! The language — fields, syntax, Boolean logic, limits, errors — is specified in [`grammar`]
//! (`GRAMMAR.md`). The decisions in short:
//!
//! - Lucene's classic Boolean logic (default operator OR; `AND` makes its neighbours required), except
//!   that a group of only negative clauses matches "everything but" instead of nothing.
//! - Bare terms search `id`. Keyword fields (`id`, `channel_id`, `source`) compare whole values
//!   case-sensitively; text fields (`display_name`, `metadata.<path>`) compare whitespace-separated,
//!   ASCII-lower-cased tokens; `tag_ids` compares tag ids ignoring ASCII case; `created_at` (epoch ms)
//!   and `unread_count` are integers, where a bad number is an error with its position.
//! - NULL never matches a positive clause, and always matches its negation.
//! - Bounds: 4096 bytes, 32 levels of parentheses, 256 terms ([`Limits`]); an empty query is an error.

#![forbid(unsafe_code)]

mod analysis;
pub mod ast;
mod error;
mod eval;
mod parser;
pub mod sql;

#[doc = include_str!("../GRAMMAR.md")]
pub mod grammar {}

pub use ast::{Bool, Clause, Field, FieldKind, Leaf, Matcher, Node, Occur, Pattern, PatternPart, Query, Span};
pub use error::{ErrorCode, QueryError};
pub use eval::{matches, Doc};
pub use parser::{parse, parse_with, Limits};
pub use sql::{to_sql, Bind, Dialect, Schema, Sql, TagSource};

impl Query {
    /// Parses `input` with the default [`Limits`] (same as [`parse`]).
    pub fn parse(input: &str) -> Result<Query, QueryError> {
        parse(input)
    }

    /// Whether `doc` matches (same as [`matches()`]).
    pub fn matches(&self, doc: &Doc) -> bool {
        matches(self, doc)
    }

    /// The SQL `WHERE` fragment (same as [`to_sql`]).
    pub fn to_sql(&self, schema: &Schema, param_offset: usize) -> Sql {
        to_sql(self, schema, param_offset)
    }
}
