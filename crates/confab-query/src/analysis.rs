//! How text becomes tokens, and how a metadata value becomes text: the definitions the parser applies
//! to query values, the evaluator applies to documents, and the SQL of [`crate::sql`] reproduces.
//!
//! - **Separators**: space, tab, line feed, vertical tab, form feed, carriage return, and U+0001 (the
//!   SQL uses U+0001 as a marker when it collapses runs of spaces, so it must not occur inside a token).
//!   Other Unicode spaces (U+00A0, U+3000, …) are part of tokens.
//! - **Case**: ASCII letters are lower-cased; other letters are kept as they are. SQLite's `lower()`
//!   only folds ASCII, and PostgreSQL's depends on the database locale, so ASCII-only folding is the
//!   one rule both engines and the evaluator can share exactly.
//! - **Metadata values** render as Airy indexes them: a string as itself, a number as its JSON text,
//!   `true`/`false`, `null`, and an array or object as its compact JSON text.

use serde_json::Value;

/// Whether `c` separates tokens of analysed text.
pub(crate) fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | '\u{01}')
}

/// The tokens of analysed text, in order: split on separators, empty pieces dropped, ASCII lower-cased.
pub(crate) fn tokens(text: &str) -> Vec<String> {
    text.split(is_separator).filter(|t| !t.is_empty()).map(str::to_ascii_lowercase).collect()
}

/// The value at `path` (object keys only; an array on the way or a missing key is `None`).
pub(crate) fn metadata_at<'a>(metadata: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(metadata, |v, key| v.as_object()?.get(key))
}

/// The text a metadata value is indexed as.
pub(crate) fn render_metadata(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(_) | Value::Object(_) => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tokens_split_on_every_separator_and_fold_ascii_only() {
        assert_eq!(tokens("  Grace\tHOPPER\n\r x\u{0B}y\u{0C}z\u{01}w "), ["grace", "hopper", "x", "y", "z", "w"]);
        assert_eq!(tokens("ÉCOLE Straße"), ["École", "straße"]);
        assert_eq!(tokens("a\u{a0}b\u{3000}c"), ["a\u{a0}b\u{3000}c"]);
        assert!(tokens(" \t ").is_empty());
    }

    #[test]
    fn metadata_renders_as_airy_indexes_it() {
        let m = json!({"a": {"b": [1, "x y", {"k": true}], "n": 2, "f": 1.5, "t": false, "z": null, "s": "Hi"}});
        let at =
            |p: &[&str]| metadata_at(&m, &p.iter().map(|s| s.to_string()).collect::<Vec<_>>()).map(render_metadata);
        assert_eq!(at(&["a", "b"]).as_deref(), Some(r#"[1,"x y",{"k":true}]"#));
        assert_eq!(at(&["a", "n"]).as_deref(), Some("2"));
        assert_eq!(at(&["a", "f"]).as_deref(), Some("1.5"));
        assert_eq!(at(&["a", "t"]).as_deref(), Some("false"));
        assert_eq!(at(&["a", "z"]).as_deref(), Some("null"));
        assert_eq!(at(&["a", "s"]).as_deref(), Some("Hi"));
        assert_eq!(at(&["a", "b", "0"]), None);
        assert_eq!(at(&["a", "missing"]), None);
        assert_eq!(at(&["a", "s", "deeper"]), None);
    }
}
