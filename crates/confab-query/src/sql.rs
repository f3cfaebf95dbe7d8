//! The compiler from a [`Query`] to a parameterised SQL `WHERE` fragment, for SQLite and PostgreSQL.
//!
//! The caller (a store) describes, in a [`Schema`], the SQL expression of each field over its
//! conversation row; [`to_sql`] returns a boolean expression over those expressions and the values to
//! bind to its placeholders `$n` (numbered from the offset the caller gives, so the fragment can join a
//! statement that already has parameters). User text only ever travels in binds: the SQL text is built
//! from the schema's expressions and constants of this module.
//!
//! The fragment is `TRUE` for a matching row and `FALSE` or `NULL` otherwise, so it belongs in a `WHERE`
//! (wrap it as `(…) IS TRUE` to use it as a two-valued boolean elsewhere). Negation is two-valued
//! (`(x) IS NOT TRUE`): a conversation whose field is `NULL` never matches a positive clause on that
//! field, and always matches its negation.
//!
//! How each kind of field is matched, identically on both engines and in [`crate::matches`]:
//!
//! - **Keyword** (`id`, `channel_id`, `source`): `=`, case-sensitive; wildcards with `GLOB` on SQLite
//!   (SQLite's `LIKE` ignores ASCII case) and `LIKE` on PostgreSQL; ranges byte-wise (`COLLATE "C"` on
//!   PostgreSQL). The expressions must compare with a binary collation (SQLite's default).
//! - **Text** (`display_name`, `metadata.*`): the value is normalised in SQL — the token separators of
//!   the [grammar](crate::grammar) (space, tab, LF, VT, FF, CR, U+0001) become spaces, ASCII letters
//!   lower-case (`lower()` on SQLite, which folds only ASCII; `translate()` on PostgreSQL, whose
//!   `lower()` depends on the locale). A term is
//!   `(' ' || norm || ' ') LIKE '% term %'`; a phrase is the same over the text with runs of spaces
//!   collapsed; wildcards and ranges test each token, split by `json_each` over a JSON array built with
//!   `json_quote` (SQLite) or `unnest(string_to_array(…))` (PostgreSQL), because a `LIKE` `%` over the
//!   whole text would match across tokens.
//! - **Tags**: `EXISTS (SELECT 1 FROM <from_where> AND <test on the lower-cased tag id>)`.
//! - **Integers**: `=`, `<`, `<=`, `>`, `>=` on the expression with integer binds.
//! - **Metadata paths**: the value at the path is rendered as text in SQL — SQLite: `json_type` and
//!   `json_extract`/`->` with the JSON path `$."a"."b"` bound as text; PostgreSQL:
//!   `jsonb_path_query_first(col::jsonb, $n::jsonpath, '{}', true)` with `strict $."a"."b"` bound as
//!   text, arrays and objects re-rendered compactly with a `regexp_replace` that keeps string literals.
//!   Keys are matched exactly, array elements are never addressed (`metadata.a.0` is the key `"0"`).

use std::ops::Bound;

use crate::ast::{Bool, Field, FieldKind, Leaf, Matcher, Node, Occur, Pattern, PatternPart, Query};

/// The SQL engine to generate for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// SQLite 3.45 or later (JSON functions, `->`, escaped keys in JSON paths).
    Sqlite,
    /// PostgreSQL 12 or later (`jsonpath`).
    Postgres,
}

/// A value to bind to a placeholder of the generated SQL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Bind {
    /// A text value (terms, patterns, JSON paths).
    Text(String),
    /// A 64-bit integer (integer fields).
    Int(i64),
}

/// How tags are found: `EXISTS (SELECT 1 FROM {from_where} AND <test on {tag_id}>)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TagSource {
    /// The tail of the subquery from its `FROM` on, ending with a `WHERE` condition that ties it to the
    /// conversation row, e.g. `conversation_tags ct WHERE ct.conversation_id = c.id`.
    pub from_where: String,
    /// The text expression of one tag's id within that subquery, e.g. `ct.tag_id`.
    pub tag_id: String,
}

/// The SQL expressions of the searchable fields over one conversation row (say, aliased `c`). These are
/// trusted SQL written by the store, never user input.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Schema {
    /// The engine.
    pub dialect: Dialect,
    /// The conversation id as lowercase UUID text (e.g. `c.id::text` on PostgreSQL).
    pub id: String,
    /// The channel id as lowercase UUID text; may be NULL.
    pub channel_id: String,
    /// The channel's source; may be NULL.
    pub source: String,
    /// The contact's display name; may be NULL.
    pub display_name: String,
    /// The creation time in epoch milliseconds, an integer.
    pub created_at_ms: String,
    /// The unread count, an integer.
    pub unread_count: String,
    /// The tags of the conversation.
    pub tags: TagSource,
    /// The metadata JSON document (TEXT on SQLite; `json` or `jsonb` on PostgreSQL); may be NULL.
    pub metadata: String,
}

/// A compiled `WHERE` fragment and the values of its placeholders, in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sql {
    /// The boolean SQL expression; its placeholders are `$(offset+1)` … `$(offset+binds.len())`.
    pub sql: String,
    /// The values to bind, the first to `$(offset+1)`.
    pub binds: Vec<Bind>,
}

/// Compiles `query` over `schema`. `param_offset` is the number of parameters the caller's statement
/// already uses: the first placeholder of the fragment is `$(param_offset + 1)`. Each placeholder
/// appears exactly once in the text.
pub fn to_sql(query: &Query, schema: &Schema, param_offset: usize) -> Sql {
    let mut c = Compiler { schema, binds: Vec::new(), offset: param_offset };
    let sql = c.node(&query.root);
    Sql { sql, binds: c.binds }
}

/// Alias of the token table in the subqueries of text fields.
const TOK: &str = "cq_tok";

struct Compiler<'a> {
    schema: &'a Schema,
    binds: Vec<Bind>,
    offset: usize,
}

impl Compiler<'_> {
    fn pg(&self) -> bool {
        self.schema.dialect == Dialect::Postgres
    }

    fn param(&mut self, bind: Bind) -> String {
        self.binds.push(bind);
        format!("${}", self.offset + self.binds.len())
    }

    fn text(&mut self, text: impl Into<String>) -> String {
        self.param(Bind::Text(text.into()))
    }

    fn node(&mut self, n: &Node) -> String {
        match n {
            Node::All(_) => "TRUE".into(),
            Node::Leaf(leaf) => self.leaf(leaf),
            Node::Bool(b) => self.boolean(b),
        }
    }

    fn boolean(&mut self, b: &Bool) -> String {
        let of = |occur: Occur| b.clauses.iter().filter(move |c| c.occur == occur).map(|c| &c.node);
        let mut parts = Vec::new();
        if of(Occur::Must).next().is_some() {
            // Should clauses beside a must clause only score in Lucene: they do not filter.
            parts.extend(of(Occur::Must).map(|n| self.node(n)));
        } else if of(Occur::Should).next().is_some() {
            let shoulds: Vec<String> = of(Occur::Should).map(|n| self.node(n)).collect();
            parts.push(if shoulds.len() == 1 { shoulds.concat() } else { format!("({})", shoulds.join(" OR ")) });
        }
        parts.extend(of(Occur::MustNot).map(|n| format!("({}) IS NOT TRUE", self.node(n))));
        if parts.len() == 1 {
            parts.concat()
        } else {
            format!("({})", parts.join(" AND "))
        }
    }

    fn leaf(&mut self, leaf: &Leaf) -> String {
        let s = self.schema;
        match leaf.field.kind() {
            FieldKind::Integer => {
                let e = if leaf.field == Field::CreatedAt { &s.created_at_ms } else { &s.unread_count };
                match &leaf.matcher {
                    Matcher::Int(n) => format!("({e} = {})", self.param(Bind::Int(*n))),
                    Matcher::IntRange((lower, upper)) => {
                        let lower = lower.map(Bind::Int);
                        let upper = upper.map(Bind::Int);
                        self.range(e, &lower, &upper, false).unwrap_or_else(|| format!("({e} IS NOT NULL)"))
                    }
                    _ => "FALSE".into(),
                }
            }
            FieldKind::Keyword => {
                let e = match leaf.field {
                    Field::Id => &s.id,
                    Field::ChannelId => &s.channel_id,
                    _ => &s.source,
                };
                match &leaf.matcher {
                    Matcher::Wildcard(p) if !self.pg() => format!("({e} GLOB {})", self.text(glob(p))),
                    m => self.unit(e, m).unwrap_or_else(|| format!("({e} IS NOT NULL)")),
                }
            }
            FieldKind::Tags => {
                let tag = self.lower_ascii(&s.tags.tag_id);
                let test = self.unit(&tag, &leaf.matcher).unwrap_or_else(|| "TRUE".into());
                format!("EXISTS (SELECT 1 FROM {} AND {test})", s.tags.from_where)
            }
            FieldKind::Text => {
                if matches!(&leaf.matcher, Matcher::Phrase(tokens) if tokens.is_empty()) {
                    // No token to look for (`display_name:""`): nothing matches, and nothing is bound.
                    return "FALSE".into();
                }
                let value = match &leaf.field {
                    Field::Metadata(path) => self.metadata(path),
                    _ => s.display_name.clone(),
                };
                let norm = self.norm(&value);
                match &leaf.matcher {
                    Matcher::Term(t) => {
                        let p = self.text(format!("% {} %", like_escape(t)));
                        format!("((' ' || {norm} || ' ') LIKE {p} ESCAPE {})", self.escape())
                    }
                    Matcher::Phrase(tokens) => {
                        let collapsed = self.collapse(&norm);
                        let p = self.text(format!("% {} %", like_escape(&tokens.join(" "))));
                        format!("((' ' || {collapsed} || ' ') LIKE {p} ESCAPE {})", self.escape())
                    }
                    m => {
                        let (from, tok) = self.tokens(&norm);
                        let test = match self.unit(&tok, m) {
                            Some(test) => format!(" AND {test}"),
                            None => String::new(),
                        };
                        format!("EXISTS (SELECT 1 FROM {from} WHERE {tok} <> ''{test})")
                    }
                }
            }
        }
    }

    /// A test of one text unit `e` (a keyword value, a token, a lower-cased tag id) against a term,
    /// a wildcard (as `LIKE`) or a range; `None` when every non-NULL unit matches.
    fn unit(&mut self, e: &str, m: &Matcher) -> Option<String> {
        match m {
            Matcher::Term(t) => Some(format!("({e} = {})", self.text(t.clone()))),
            Matcher::Wildcard(p) if p.is_match_all() => None,
            Matcher::Wildcard(p) => {
                let p = self.text(like(p));
                Some(format!("({e} LIKE {p} ESCAPE {})", self.escape()))
            }
            Matcher::Range((lower, upper)) => {
                let lower = lower.as_ref().map(|v| Bind::Text(v.clone()));
                let upper = upper.as_ref().map(|v| Bind::Text(v.clone()));
                self.range(e, &lower, &upper, true)
            }
            Matcher::Phrase(_) | Matcher::Int(_) | Matcher::IntRange(_) => Some("FALSE".into()),
        }
    }

    /// `e` within the bounds; text compares byte-wise. `None` when both ends are open.
    fn range(&mut self, e: &str, lower: &Bound<Bind>, upper: &Bound<Bind>, text: bool) -> Option<String> {
        let e = if text && self.pg() { format!("{e} COLLATE \"C\"") } else { e.to_string() };
        let mut tests = Vec::new();
        for (bound, incl, excl) in [(lower, ">=", ">"), (upper, "<=", "<")] {
            match bound {
                Bound::Included(v) => tests.push(format!("{e} {incl} {}", self.param(v.clone()))),
                Bound::Excluded(v) => tests.push(format!("{e} {excl} {}", self.param(v.clone()))),
                Bound::Unbounded => {}
            }
        }
        (!tests.is_empty()).then(|| format!("({})", tests.join(" AND ")))
    }

    fn escape(&self) -> &'static str {
        if self.pg() {
            r"E'\\'"
        } else {
            r"'\'"
        }
    }

    /// ASCII lower-casing only (PostgreSQL's `lower()` follows the locale).
    fn lower_ascii(&self, e: &str) -> String {
        if self.pg() {
            format!("translate({e}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')")
        } else {
            format!("lower({e})")
        }
    }

    /// Separators to spaces, ASCII letters to lower case.
    fn norm(&self, e: &str) -> String {
        if self.pg() {
            format!(
                r"translate({e}, E'\x01\t\n\x0B\x0C\rABCDEFGHIJKLMNOPQRSTUVWXYZ', '      abcdefghijklmnopqrstuvwxyz')"
            )
        } else {
            let mut x = e.to_string();
            for code in [1, 9, 10, 11, 12, 13] {
                x = format!("replace({x}, char({code}), ' ')");
            }
            format!("lower({x})")
        }
    }

    /// Runs of spaces collapsed into one (U+0001, which `norm` has removed, serves as a marker).
    fn collapse(&self, e: &str) -> String {
        let mark = if self.pg() { "chr(1)" } else { "char(1)" };
        format!("replace(replace(replace({e}, ' ', ' ' || {mark}), {mark} || ' ', ''), {mark}, '')")
    }

    /// The table of the space-separated pieces of `norm` (empty ones included): (FROM item, column).
    fn tokens(&self, norm: &str) -> (String, String) {
        if self.pg() {
            (format!("unnest(string_to_array({norm}, ' ')) AS {TOK}(t)"), format!("{TOK}.t"))
        } else {
            (
                format!("json_each('[' || replace(json_quote({norm}), ' ', '\",\"') || ']') AS {TOK}"),
                format!("{TOK}.value"),
            )
        }
    }

    /// The text of the metadata value at `path`, or NULL when there is none.
    fn metadata(&mut self, path: &[String]) -> String {
        let col = self.schema.metadata.clone();
        if self.pg() {
            let p = self.text(jsonpath(path));
            let v = "cq_m.v";
            let compact = format!(r#"regexp_replace({v}::text, E'("(?:[^"\\\\]|\\\\.)*")|\\s+', E'\\1', 'g')"#);
            format!(
                "(SELECT CASE jsonb_typeof({v}) WHEN 'string' THEN {v} #>> '{{}}' WHEN 'array' THEN {compact} \
                 WHEN 'object' THEN {compact} ELSE {v}::text END \
                 FROM (SELECT jsonb_path_query_first(({col})::jsonb, {p}::jsonpath, '{{}}'::jsonb, true) AS v) AS cq_m)"
            )
        } else {
            let p = self.text(sqlite_path(path));
            format!(
                "(SELECT CASE json_type(cq_m.j, cq_m.p) WHEN 'text' THEN json_extract(cq_m.j, cq_m.p) \
                 WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN 'null' THEN 'null' \
                 ELSE cq_m.j -> cq_m.p END FROM (SELECT {col} AS j, {p} AS p) AS cq_m)"
            )
        }
    }
}

/// `text` with LIKE's `\`, `%` and `_` escaped by `\`.
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A wildcard pattern as a `LIKE` pattern (escape `\`).
fn like(p: &Pattern) -> String {
    p.parts
        .iter()
        .map(|part| match part {
            PatternPart::Literal(s) => like_escape(s),
            PatternPart::AnyChar => "_".into(),
            PatternPart::AnyString => "%".into(),
        })
        .collect()
}

/// A wildcard pattern as an SQLite `GLOB` pattern (literal `*`, `?`, `[` in brackets).
fn glob(p: &Pattern) -> String {
    let mut out = String::new();
    for part in &p.parts {
        match part {
            PatternPart::Literal(s) => {
                for c in s.chars() {
                    match c {
                        '*' | '?' | '[' => {
                            out.push('[');
                            out.push(c);
                            out.push(']');
                        }
                        c => out.push(c),
                    }
                }
            }
            PatternPart::AnyChar => out.push('?'),
            PatternPart::AnyString => out.push('*'),
        }
    }
    out
}

/// A key as the inside of a double-quoted string with JSON escapes (`"`, `\` and control characters);
/// `quote` is how to write `"` (SQLite ends a quoted path label at the first `"`, escaped or not).
fn json_key(key: &str, quote: &str) -> String {
    let mut out = String::new();
    for c in key.chars() {
        match c {
            '"' => out.push_str(quote),
            '\\' => out.push_str(r"\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// SQLite's JSON path for the keys: `$."a"."b"`.
fn sqlite_path(path: &[String]) -> String {
    path.iter().fold("$".to_string(), |acc, key| format!("{acc}.\"{}\"", json_key(key, r"\u0022")))
}

/// PostgreSQL's strict `jsonpath` for the keys: `strict $."a"."b"`.
fn jsonpath(path: &[String]) -> String {
    path.iter().fold("strict $".to_string(), |acc, key| format!("{acc}.\"{}\"", json_key(key, "\\\"")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_escape_for_like_and_glob() {
        let p = Pattern::new([PatternPart::Literal("a%_\\*?[]".into()), PatternPart::AnyString, PatternPart::AnyChar]);
        assert_eq!(like(&p), r"a\%\_\\*?[]%_");
        assert_eq!(glob(&p), r"a%_\[*][?][[]]*?");
    }

    #[test]
    fn json_paths_quote_every_key() {
        let path = vec!["a".to_string(), "q\"k\\".to_string(), "x\ny".to_string()];
        assert_eq!(sqlite_path(&path), r#"$."a"."q\u0022k\\"."x\u000ay""#);
        assert_eq!(jsonpath(&path), r#"strict $."a"."q\"k\\"."x\u000ay""#);
    }
}

#[cfg(test)]
mod more_tests {
    use super::*;
    use crate::parse;

    fn schema(dialect: Dialect) -> Schema {
        Schema {
            dialect,
            id: "c.id".into(),
            channel_id: "c.channel_id".into(),
            source: "c.source".into(),
            display_name: "c.display_name".into(),
            created_at_ms: "c.created_at_ms".into(),
            unread_count: "c.unread_count".into(),
            tags: TagSource { from_where: "t WHERE t.c = c.id".into(), tag_id: "t.tag_id".into() },
            metadata: "c.metadata".into(),
        }
    }

    #[test]
    fn simple_clauses_compile_to_plain_comparisons_numbered_from_the_offset() {
        let q = parse("source:facebook AND unread_count:[1 TO *] AND NOT id:x").unwrap();
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            let sql = to_sql(&q, &schema(dialect), 2);
            assert_eq!(sql.sql, "((c.source = $3) AND (c.unread_count >= $4) AND ((c.id = $5)) IS NOT TRUE)");
            assert_eq!(sql.binds, vec![Bind::Text("facebook".into()), Bind::Int(1), Bind::Text("x".into())]);
        }
        let q = parse("a OR b").unwrap();
        assert_eq!(to_sql(&q, &schema(Dialect::Sqlite), 0).sql, "((c.id = $1) OR (c.id = $2))");
        assert_eq!(to_sql(&parse("*:*").unwrap(), &schema(Dialect::Sqlite), 0).sql, "TRUE");
        assert_eq!(to_sql(&parse("-a").unwrap(), &schema(Dialect::Sqlite), 0).sql, "((c.id = $1)) IS NOT TRUE");
    }

    #[test]
    fn keyword_wildcards_are_case_sensitive_on_both_engines() {
        let q = parse("source:Face*").unwrap();
        let sqlite = to_sql(&q, &schema(Dialect::Sqlite), 0);
        assert_eq!(sqlite.sql, "(c.source GLOB $1)");
        assert_eq!(sqlite.binds, vec![Bind::Text("Face*".into())]);
        let pg = to_sql(&q, &schema(Dialect::Postgres), 0);
        assert_eq!(pg.sql, r"(c.source LIKE $1 ESCAPE E'\\')");
        assert_eq!(pg.binds, vec![Bind::Text("Face%".into())]);
    }

    #[test]
    fn text_ranges_compare_bytewise_on_postgres() {
        let q = parse("id:{a TO b]").unwrap();
        assert_eq!(
            to_sql(&q, &schema(Dialect::Postgres), 0).sql,
            r#"(c.id COLLATE "C" > $1 AND c.id COLLATE "C" <= $2)"#
        );
        assert_eq!(to_sql(&q, &schema(Dialect::Sqlite), 0).sql, "(c.id > $1 AND c.id <= $2)");
    }

    #[test]
    fn user_text_only_travels_in_binds() {
        let evil = r#"x' OR 1=1; DROP TABLE c; --"#;
        let escaped: String =
            evil.chars().flat_map(|c| if c.is_alphanumeric() { vec![c] } else { vec!['\\', c] }).collect();
        for field in ["id", "display_name", "tag_ids", "source", "metadata.a", "metadata.x'y"] {
            for value in [escaped.clone(), format!("\"{}\"", evil.replace('"', "\\\"")), format!("*{escaped}*")] {
                let q = parse(&format!("{}:{value}", field.replace('\'', "\\'"))).unwrap();
                for dialect in [Dialect::Sqlite, Dialect::Postgres] {
                    let sql = to_sql(&q, &schema(dialect), 0);
                    assert!(!sql.sql.contains("DROP"), "{field}:{value} → {}", sql.sql);
                    assert!(!sql.sql.contains("x'y"), "{field}:{value} → {}", sql.sql);
                }
            }
        }
    }

    #[test]
    fn metadata_paths_are_bound_not_interpolated() {
        let q = parse("metadata.user_data.erp.id:abc").unwrap();
        let sqlite = to_sql(&q, &schema(Dialect::Sqlite), 0);
        assert_eq!(sqlite.binds[0], Bind::Text(r#"$."user_data"."erp"."id""#.into()));
        assert_eq!(sqlite.binds[1], Bind::Text("% abc %".into()));
        let pg = to_sql(&q, &schema(Dialect::Postgres), 0);
        assert_eq!(pg.binds[0], Bind::Text(r#"strict $."user_data"."erp"."id""#.into()));
        assert!(pg.sql.contains("$1::jsonpath"), "{}", pg.sql);
    }
}
