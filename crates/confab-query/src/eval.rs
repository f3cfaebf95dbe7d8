//! The in-memory evaluator: whether one conversation snapshot matches a query, with exactly the
//! semantics of the SQL that [`crate::sql`] generates (the event stream filters with it, the stores
//! filter with the SQL, and `tests/engines.rs` holds the three to the same answers).

use std::cmp::Ordering;
use std::ops::Bound;

use serde_json::Value;

use crate::analysis::{metadata_at, render_metadata, tokens};
use crate::ast::{Bool, Field, FieldKind, Leaf, Matcher, Node, Occur, Query};

/// The searchable fields of one conversation, as the query language sees them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Doc {
    /// The conversation id, as the lowercase UUID text.
    pub id: String,
    /// The channel id (lowercase UUID text), if the conversation has a channel.
    pub channel_id: Option<String>,
    /// The channel's source (`facebook`, `whatsapp`, …), if any.
    pub source: Option<String>,
    /// The contact's display name, if any.
    pub display_name: Option<String>,
    /// When the conversation was created, epoch milliseconds.
    pub created_at_ms: i64,
    /// The number of unread messages.
    pub unread_count: i64,
    /// The ids of the conversation's tags.
    pub tag_ids: Vec<String>,
    /// The conversation's metadata document (normally an object).
    pub metadata: Value,
}

/// Whether `doc` matches `query`.
pub fn matches(query: &Query, doc: &Doc) -> bool {
    node(&query.root, doc)
}

fn node(n: &Node, doc: &Doc) -> bool {
    match n {
        Node::All(_) => true,
        Node::Leaf(leaf) => self::leaf(leaf, doc),
        Node::Bool(b) => boolean(b, doc),
    }
}

fn boolean(b: &Bool, doc: &Doc) -> bool {
    let of = |occur: Occur| b.clauses.iter().filter(move |c| c.occur == occur).map(|c| &c.node);
    let positive = if of(Occur::Must).next().is_some() {
        of(Occur::Must).all(|n| node(n, doc))
    } else if of(Occur::Should).next().is_some() {
        of(Occur::Should).any(|n| node(n, doc))
    } else {
        // Only must-not clauses: everything but what they match.
        true
    };
    positive && !of(Occur::MustNot).any(|n| node(n, doc))
}

fn leaf(leaf: &Leaf, doc: &Doc) -> bool {
    match leaf.field.kind() {
        FieldKind::Integer => {
            let value = match leaf.field {
                Field::CreatedAt => doc.created_at_ms,
                _ => doc.unread_count,
            };
            match &leaf.matcher {
                Matcher::Int(n) => value == *n,
                Matcher::IntRange((lower, upper)) => in_range(&value, lower, upper),
                _ => false,
            }
        }
        FieldKind::Keyword => {
            let value = match leaf.field {
                Field::Id => Some(doc.id.as_str()),
                Field::ChannelId => doc.channel_id.as_deref(),
                _ => doc.source.as_deref(),
            };
            value.is_some_and(|v| unit_matches(&leaf.matcher, v))
        }
        FieldKind::Tags => doc.tag_ids.iter().any(|tag| unit_matches(&leaf.matcher, &tag.to_ascii_lowercase())),
        FieldKind::Text => {
            let text = match &leaf.field {
                Field::Metadata(path) => metadata_at(&doc.metadata, path).map(render_metadata),
                _ => doc.display_name.clone(),
            };
            let Some(text) = text else { return false };
            let tokens = tokens(&text);
            match &leaf.matcher {
                Matcher::Phrase(phrase) => {
                    !phrase.is_empty() && tokens.windows(phrase.len()).any(|w| w == phrase.as_slice())
                }
                m => tokens.iter().any(|t| unit_matches(m, t)),
            }
        }
    }
}

/// Whether one unit (a keyword value, a token, a lower-cased tag id) matches a text matcher.
fn unit_matches(m: &Matcher, unit: &str) -> bool {
    match m {
        Matcher::Term(t) => unit == t,
        Matcher::Wildcard(p) => p.matches(unit),
        // Byte-wise, as SQLite's BINARY and PostgreSQL's "C" collations compare.
        Matcher::Range((lower, upper)) => {
            in_range(unit, &lower.as_ref().map(String::as_str), &upper.as_ref().map(String::as_str))
        }
        Matcher::Phrase(_) | Matcher::Int(_) | Matcher::IntRange(_) => false,
    }
}

fn in_range<T: Ord + ?Sized, B: std::borrow::Borrow<T>>(value: &T, lower: &Bound<B>, upper: &Bound<B>) -> bool {
    let above = match lower {
        Bound::Unbounded => true,
        Bound::Included(b) => value.cmp(b.borrow()) != Ordering::Less,
        Bound::Excluded(b) => value.cmp(b.borrow()) == Ordering::Greater,
    };
    let below = match upper {
        Bound::Unbounded => true,
        Bound::Included(b) => value.cmp(b.borrow()) != Ordering::Greater,
        Bound::Excluded(b) => value.cmp(b.borrow()) == Ordering::Less,
    };
    above && below
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;
    use serde_json::json;

    fn corpus() -> Vec<Doc> {
        vec![
            Doc {
                id: "c1".into(),
                channel_id: Some("ch-a".into()),
                source: Some("facebook".into()),
                display_name: Some("Grace  Hopper".into()),
                created_at_ms: 1_600_000_000_000,
                unread_count: 0,
                tag_ids: vec!["T-VIP".into()],
                metadata: json!({"state": "CLOSED", "user_data": {"erp": {"id": "ABC"}}, "n": 2}),
            },
            Doc {
                id: "c2".into(),
                channel_id: Some("ch-b".into()),
                source: Some("google".into()),
                display_name: Some("Ada\tLovelace".into()),
                created_at_ms: 1_700_000_000_000,
                unread_count: 3,
                tag_ids: vec!["t-vip".into(), "t-new".into()],
                metadata: json!({"state": "OPEN", "list": ["x", "Y z"], "flag": true, "nothing": null}),
            },
            Doc {
                id: "c3".into(),
                channel_id: None,
                source: None,
                display_name: None,
                created_at_ms: 1_800_000_000_000,
                unread_count: 10,
                tag_ids: vec![],
                metadata: json!({}),
            },
        ]
    }

    fn ids(query: &str) -> Vec<String> {
        let q = parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
        corpus().into_iter().filter(|d| matches(&q, d)).map(|d| d.id).collect()
    }

    #[test]
    fn the_evaluator_answers_a_table_of_cases() {
        let cases: &[(&str, &[&str])] = &[
            ("*:*", &["c1", "c2", "c3"]),
            ("*", &["c1", "c2", "c3"]),
            ("c1", &["c1"]),
            ("C1", &[]),
            ("c?", &["c1", "c2", "c3"]),
            ("id:[c2 TO *]", &["c2", "c3"]),
            ("id:{c1 TO c3}", &["c2"]),
            ("source:facebook", &["c1"]),
            ("source:Facebook", &[]),
            ("source:*oo*", &["c1", "c2"]),
            ("source:*", &["c1", "c2"]),
            ("NOT source:*", &["c3"]),
            ("NOT source:facebook", &["c2", "c3"]),
            ("channel_id:(ch\\-a OR ch\\-b)", &["c1", "c2"]),
            ("display_name:grace", &["c1"]),
            ("display_name:GRACE", &["c1"]),
            ("display_name:gra", &[]),
            ("display_name:*race*", &["c1"]),
            ("display_name:g*r", &[]),
            ("display_name:\"grace hopper\"", &["c1"]),
            ("display_name:\"hopper grace\"", &[]),
            ("display_name:\"ada lovelace\"", &["c2"]),
            ("display_name:*", &["c1", "c2"]),
            ("display_name:\"\"", &[]),
            ("NOT display_name:\"\"", &["c1", "c2", "c3"]),
            ("display_name:[a TO b]", &["c2"]),
            ("created_at:1700000000000", &["c2"]),
            ("created_at:[1600000000000 TO 1700000000000]", &["c1", "c2"]),
            ("created_at:{1600000000000 TO 1700000000000]", &["c2"]),
            ("created_at:[1600000000000 TO 1700000000000}", &["c1"]),
            ("created_at:[* TO 1700000000000}", &["c1"]),
            ("unread_count:[1 TO *]", &["c2", "c3"]),
            ("unread_count:0", &["c1"]),
            ("unread_count:*", &["c1", "c2", "c3"]),
            ("tag_ids:t\\-vip", &["c1", "c2"]),
            ("tag_ids:(t\\-vip AND t\\-new)", &["c2"]),
            ("tag_ids:*", &["c1", "c2"]),
            ("tag_ids:T*NEW", &["c2"]),
            ("metadata.state:closed", &["c1"]),
            ("id:* AND NOT metadata.state:CLOSED", &["c2", "c3"]),
            ("NOT metadata.state:CLOSED", &["c2", "c3"]),
            ("metadata.user_data.erp.id:abc", &["c1"]),
            ("metadata.n:2", &["c1"]),
            ("metadata.flag:true", &["c2"]),
            ("metadata.nothing:null", &["c2"]),
            ("metadata.list:*x*", &["c2"]),
            ("metadata.list:z\\\"\\]", &["c2"]),
            ("metadata.list:\"z\\\"]\"", &["c2"]),
            ("metadata.list.0:x", &[]),
            ("metadata.state:*", &["c1", "c2"]),
            ("a OR c2 AND c3", &[]),
            ("c1 AND c2 OR c3", &[]),
            ("c1 OR c2 -c2", &["c1"]),
            ("c1 OR NOT c1", &[]),
            ("-c1 -c2", &["c3"]),
            ("c3 AND (NOT c1)", &["c3"]),
            ("+c1 c2", &["c1"]),
        ];
        for (query, want) in cases {
            assert_eq!(ids(query), *want, "{query}");
        }
    }
}
