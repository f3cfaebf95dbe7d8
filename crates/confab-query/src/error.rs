//! The one error of this crate: why a query was refused, and where.
//!
//! Every refusal carries a stable [`ErrorCode`] (for clients and logs: never parse the message), a sentence
//! that says what was expected or what is wrong, and the 0-based **byte** offset in the query text where
//! the problem is. `Display` renders `"<message> at position <n>"`, e.g. `expected ')' at position 14`.
//! A face answers all of them with 400.

use thiserror::Error;

/// What kind of problem a [`QueryError`] is. The snake_case names are public API: add, never rename.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The query is empty or only whitespace.
    Empty,
    /// The query is longer than [`Limits::max_len`](crate::Limits::max_len) bytes.
    TooLong,
    /// Parentheses nest deeper than [`Limits::max_depth`](crate::Limits::max_depth).
    TooDeep,
    /// More than [`Limits::max_terms`](crate::Limits::max_terms) terms, phrases and ranges.
    TooManyTerms,
    /// The text does not follow the grammar (a missing `)`, a dangling `AND`, an unclosed phrase, …).
    Syntax,
    /// A field that conversations do not have.
    UnknownField,
    /// A value the field cannot hold (`unread_count:abc`, a wildcard on an integer field, …).
    InvalidValue,
    /// Lucene syntax this implementation refuses on purpose (fuzzy `~`, regular expressions `/…/`).
    Unsupported,
}

impl ErrorCode {
    /// The stable snake_case name of the code.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Empty => "empty",
            ErrorCode::TooLong => "too_long",
            ErrorCode::TooDeep => "too_deep",
            ErrorCode::TooManyTerms => "too_many_terms",
            ErrorCode::Syntax => "syntax",
            ErrorCode::UnknownField => "unknown_field",
            ErrorCode::InvalidValue => "invalid_value",
            ErrorCode::Unsupported => "unsupported",
        }
    }
}

/// A query that was refused: a code, a sentence and the byte position of the problem.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message} at position {position}")]
pub struct QueryError {
    code: ErrorCode,
    message: String,
    position: usize,
}

impl QueryError {
    /// A new error; `position` is a byte offset into the query text.
    pub(crate) fn new(code: ErrorCode, position: usize, message: impl Into<String>) -> QueryError {
        QueryError { code, message: message.into(), position }
    }

    /// The kind of problem.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The sentence, without the position (`expected ')'`).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The 0-based byte offset in the query text where the problem is (the query's length when the
    /// problem is that the text ended too early).
    pub fn position(&self) -> usize {
        self.position
    }
}
