//! The typed syntax tree a query parses into, with the byte spans of what the user wrote.
//!
//! The tree is already *resolved*: every leaf names a known [`Field`], and its [`Matcher`] holds the value
//! as that field compares it (integers parsed, analysed text split into lower-cased tokens, tag ids
//! lower-cased, keyword text verbatim). The SQL compiler and the in-memory evaluator both read only this
//! tree, which is what keeps them in step.
//!
//! Boolean structure follows Lucene's classic `QueryParser`: a query is a flat list of clauses, each
//! with an [`Occur`] (`+`/`AND` → must, `-`/`NOT`/`!` → must not, otherwise should). `Display` renders
//! the canonical Lucene form (`+id:a -metadata.state:closed`), which parses back into the same tree.

use std::fmt::{self, Write as _};
use std::ops::Bound;

/// A byte range `start..end` of the query text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// The offset of the first byte.
    pub start: usize,
    /// The offset just past the last byte.
    pub end: usize,
}

impl Span {
    /// The span `start..end`.
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }
}

/// A parsed, resolved query. Build one with [`parse`](crate::parse).
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub(crate) root: Node,
}

impl Query {
    /// The root of the tree.
    pub fn root(&self) -> &Node {
        &self.root
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.root {
            Node::Bool(b) => write_clauses(f, &b.clauses),
            other => fmt::Display::fmt(other, f),
        }
    }
}

/// A node of the tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// `*:*`: every conversation.
    All(Span),
    /// One field compared with one value.
    Leaf(Leaf),
    /// Clauses combined the Lucene way (see [`Bool`]).
    Bool(Bool),
}

impl Node {
    /// Where the node is in the query text.
    pub fn span(&self) -> Span {
        match self {
            Node::All(s) => *s,
            Node::Leaf(l) => l.span,
            Node::Bool(b) => b.span,
        }
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::All(_) => f.write_str("*:*"),
            Node::Leaf(l) => fmt::Display::fmt(l, f),
            Node::Bool(b) => {
                f.write_char('(')?;
                write_clauses(f, &b.clauses)?;
                f.write_char(')')
            }
        }
    }
}

fn write_clauses(f: &mut fmt::Formatter<'_>, clauses: &[Clause]) -> fmt::Result {
    for (i, c) in clauses.iter().enumerate() {
        if i > 0 {
            f.write_char(' ')?;
        }
        match c.occur {
            Occur::Must => f.write_char('+')?,
            Occur::MustNot => f.write_char('-')?,
            Occur::Should => {}
        }
        fmt::Display::fmt(&c.node, f)?;
    }
    Ok(())
}

/// A list of clauses, matched as Lucene's `BooleanQuery` matches:
///
/// - if any clause is [`Occur::Must`], a conversation matches when it matches every must clause and no
///   must-not clause (should clauses then only affect scoring, which Confab does not do, so they are
///   ignored);
/// - otherwise it matches when it matches at least one should clause and no must-not clause;
/// - a list of only must-not clauses matches every conversation that matches none of them (Lucene would
///   match nothing; Solr and Elasticsearch match "all but", and so does Confab — see `GRAMMAR.md`).
#[derive(Debug, Clone, PartialEq)]
pub struct Bool {
    /// The clauses, in query order; never empty.
    pub clauses: Vec<Clause>,
    /// The text of the list (including the parentheses of a group).
    pub span: Span,
}

/// One clause of a [`Bool`].
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    /// How the clause takes part.
    pub occur: Occur,
    /// The clause.
    pub node: Node,
}

/// How a clause takes part in its list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Occur {
    /// `+x`, or either side of `AND`.
    Must,
    /// No operator, or `OR`.
    Should,
    /// `-x`, `NOT x`, `!x`.
    MustNot,
}

/// A field compared with a value: `display_name:grace`, `unread_count:[1 TO *]`, a bare `abc` (= `id:abc`).
#[derive(Debug, Clone, PartialEq)]
pub struct Leaf {
    /// The field searched.
    pub field: Field,
    /// Where the field was named (`None` for a bare term searching the default field `id`); for a term
    /// inside `field:( … )` it is the span of that `field`.
    pub field_span: Option<Span>,
    /// The value, as the field compares it.
    pub matcher: Matcher,
    /// The text of the value (the term, phrase or range).
    pub span: Span,
}

impl fmt::Display for Leaf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_field(f, &self.field)?;
        f.write_char(':')?;
        match &self.matcher {
            Matcher::Term(t) if t.is_empty() || t.chars().any(is_lexer_whitespace) => write_phrase(f, t),
            Matcher::Term(t) => write_term(f, t),
            Matcher::Phrase(tokens) => write_phrase(f, &tokens.join(" ")),
            Matcher::Wildcard(p) => write_pattern(f, p),
            Matcher::Range(r) => write_range(f, r, |f, v| write_range_text(f, v)),
            Matcher::Int(n) => write_term(f, &n.to_string()),
            Matcher::IntRange(r) => write_range(f, r, |f, v| write!(f, "{v}")),
        }
    }
}

/// The fields conversations are searched by (Airy's Lucene index, reference §4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    /// `id`: keyword, the conversation's lowercase UUID; the default field of bare terms.
    Id,
    /// `channel_id`: keyword.
    ChannelId,
    /// `source`: keyword (`facebook`, `twilio.sms`, …).
    Source,
    /// `display_name`: analysed text (the contact's display name).
    DisplayName,
    /// `created_at`: integer, epoch milliseconds.
    CreatedAt,
    /// `unread_count`: integer.
    UnreadCount,
    /// `tag_ids`: one case-insensitive token per tag id.
    TagIds,
    /// `metadata.<dot.path>`: analysed text of the metadata value at that path; holds the path's keys.
    Metadata(Vec<String>),
}

/// How a [`Field`] compares values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// The whole value, case-sensitively (Lucene `StringField`): `id`, `channel_id`, `source`.
    Keyword,
    /// Whitespace-separated, ASCII-lower-cased tokens (Lucene `TextField` with Airy's analyser):
    /// `display_name`, `metadata.*`.
    Text,
    /// A set of tokens, one per tag id, ASCII-lower-cased: `tag_ids`.
    Tags,
    /// A 64-bit integer: `created_at`, `unread_count`.
    Integer,
}

impl Field {
    /// How the field compares values.
    pub fn kind(&self) -> FieldKind {
        match self {
            Field::Id | Field::ChannelId | Field::Source => FieldKind::Keyword,
            Field::DisplayName | Field::Metadata(_) => FieldKind::Text,
            Field::TagIds => FieldKind::Tags,
            Field::CreatedAt | Field::UnreadCount => FieldKind::Integer,
        }
    }

    /// The field's name as written in a query (`metadata.a.b` for a metadata path).
    pub fn name(&self) -> String {
        match self {
            Field::Id => "id".into(),
            Field::ChannelId => "channel_id".into(),
            Field::Source => "source".into(),
            Field::DisplayName => "display_name".into(),
            Field::CreatedAt => "created_at".into(),
            Field::UnreadCount => "unread_count".into(),
            Field::TagIds => "tag_ids".into(),
            Field::Metadata(path) => format!("metadata.{}", path.join(".")),
        }
    }
}

/// A value as its field compares it.
#[derive(Debug, Clone, PartialEq)]
pub enum Matcher {
    /// Keyword fields: the whole value equals this text. Text fields: some token equals this token.
    /// Tags: some tag id (lower-cased) equals this text.
    Term(String),
    /// Text fields only: these tokens appear consecutively. No tokens (`""`) matches nothing.
    Phrase(Vec<String>),
    /// `*` and `?` wildcards; against the whole value (keyword fields), some token (text fields) or
    /// some tag id (tags).
    Wildcard(Pattern),
    /// A range of text, compared byte-wise (UTF-8 order), against the same units as [`Matcher::Term`].
    Range(TextRange),
    /// Integer fields: equals.
    Int(i64),
    /// Integer fields: within the range (both ends unbounded = every conversation).
    IntRange(IntRange),
}

/// A range of text.
pub type TextRange = (Bound<String>, Bound<String>);

/// A range of integers.
pub type IntRange = (Bound<i64>, Bound<i64>);

/// A wildcard pattern: literal text, `?` (one character) and `*` (any run of characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pattern {
    /// The parts, in order; literal runs are merged and `*` runs collapsed into one.
    pub parts: Vec<PatternPart>,
}

/// One part of a [`Pattern`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PatternPart {
    /// Text matched literally.
    Literal(String),
    /// `?`: exactly one character.
    AnyChar,
    /// `*`: any run of characters, including none.
    AnyString,
}

impl Pattern {
    /// Builds a pattern from parts, merging adjacent literals and collapsing `**` into `*`.
    pub fn new(parts: impl IntoIterator<Item = PatternPart>) -> Pattern {
        let mut out: Vec<PatternPart> = Vec::new();
        for part in parts {
            match (out.last_mut(), part) {
                (_, PatternPart::Literal(s)) if s.is_empty() => {}
                (Some(PatternPart::Literal(prev)), PatternPart::Literal(s)) => prev.push_str(&s),
                (Some(PatternPart::AnyString), PatternPart::AnyString) => {}
                (_, part) => out.push(part),
            }
        }
        Pattern { parts: out }
    }

    /// Whether `text` matches the whole pattern (characters are Unicode scalar values).
    pub fn matches(&self, text: &str) -> bool {
        enum P {
            Char(char),
            One,
            Star,
        }
        let pat: Vec<P> = self
            .parts
            .iter()
            .flat_map(|p| match p {
                PatternPart::Literal(s) => s.chars().map(P::Char).collect::<Vec<_>>(),
                PatternPart::AnyChar => vec![P::One],
                PatternPart::AnyString => vec![P::Star],
            })
            .collect();
        let text: Vec<char> = text.chars().collect();
        // The classic greedy matcher with one backtrack point: O(len(text) × len(pattern)) at worst.
        let (mut t, mut p) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            match pat.get(p) {
                Some(P::Star) => {
                    star = Some((p, t));
                    p += 1;
                }
                Some(P::One) => {
                    t += 1;
                    p += 1;
                }
                Some(P::Char(c)) if *c == text[t] => {
                    t += 1;
                    p += 1;
                }
                _ => match star {
                    Some((sp, st)) => {
                        p = sp + 1;
                        t = st + 1;
                        star = Some((sp, st + 1));
                    }
                    None => return false,
                },
            }
        }
        pat[p..].iter().all(|x| matches!(x, P::Star))
    }

    /// Whether the pattern is a lone `*` (matches any value, including the empty one).
    pub fn is_match_all(&self) -> bool {
        matches!(self.parts.as_slice(), [PatternPart::AnyString])
    }

    /// The same pattern with ASCII letters of its literal parts lower-cased.
    pub(crate) fn to_ascii_lowercase(&self) -> Pattern {
        Pattern::new(self.parts.iter().map(|p| match p {
            PatternPart::Literal(s) => PatternPart::Literal(s.to_ascii_lowercase()),
            other => other.clone(),
        }))
    }
}

/// The whitespace that separates tokens of the query language itself (Lucene's lexer).
pub(crate) fn is_lexer_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{3000}')
}

/// Characters that cannot appear unescaped anywhere in a term.
fn is_special(c: char) -> bool {
    is_lexer_whitespace(c)
        || matches!(c, '\\' | '!' | '(' | ')' | ':' | '^' | '[' | ']' | '"' | '{' | '}' | '~' | '*' | '?' | '/')
}

fn write_escaped(f: &mut fmt::Formatter<'_>, text: &str, at_start: bool) -> fmt::Result {
    for (i, c) in text.chars().enumerate() {
        if is_special(c) || (i == 0 && at_start && matches!(c, '+' | '-')) {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    Ok(())
}

fn is_operator_word(text: &str) -> bool {
    matches!(text, "AND" | "OR" | "NOT" | "&&" | "||")
}

fn write_term(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    if is_operator_word(text) {
        // `\AND` is the term "AND", not the operator.
        f.write_char('\\')?;
        let mut chars = text.chars();
        f.write_char(chars.next().unwrap_or_default())?;
        return write_escaped(f, chars.as_str(), false);
    }
    write_escaped(f, text, true)
}

fn write_phrase(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_char('"')
}

fn write_pattern(f: &mut fmt::Formatter<'_>, p: &Pattern) -> fmt::Result {
    for (i, part) in p.parts.iter().enumerate() {
        match part {
            PatternPart::Literal(s) => write_escaped(f, s, i == 0)?,
            PatternPart::AnyChar => f.write_char('?')?,
            PatternPart::AnyString => f.write_char('*')?,
        }
    }
    Ok(())
}

fn write_range_text(f: &mut fmt::Formatter<'_>, v: &str) -> fmt::Result {
    let needs_quotes = v.is_empty()
        || v == "*"
        || v == "TO"
        || v.starts_with('"')
        || v.chars().any(|c| is_lexer_whitespace(c) || matches!(c, ']' | '}' | '\\'));
    if needs_quotes {
        write_phrase(f, v)
    } else {
        f.write_str(v)
    }
}

fn write_range<T>(
    f: &mut fmt::Formatter<'_>,
    (lower, upper): &(Bound<T>, Bound<T>),
    value: impl Fn(&mut fmt::Formatter<'_>, &T) -> fmt::Result,
) -> fmt::Result {
    match lower {
        Bound::Excluded(v) => {
            f.write_str("{")?;
            value(f, v)?;
        }
        Bound::Included(v) => {
            f.write_str("[")?;
            value(f, v)?;
        }
        Bound::Unbounded => f.write_str("[*")?,
    }
    f.write_str(" TO ")?;
    match upper {
        Bound::Excluded(v) => {
            value(f, v)?;
            f.write_str("}")
        }
        Bound::Included(v) => {
            value(f, v)?;
            f.write_str("]")
        }
        Bound::Unbounded => f.write_str("*]"),
    }
}

fn write_field(f: &mut fmt::Formatter<'_>, field: &Field) -> fmt::Result {
    match field {
        Field::Metadata(path) => {
            f.write_str("metadata")?;
            for seg in path {
                f.write_char('.')?;
                write_escaped(f, seg, false)?;
            }
            Ok(())
        }
        other => f.write_str(&other.name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(s: &str) -> Pattern {
        Pattern::new(s.chars().map(|c| match c {
            '*' => PatternPart::AnyString,
            '?' => PatternPart::AnyChar,
            c => PatternPart::Literal(c.to_string()),
        }))
    }

    #[test]
    fn patterns_merge_literals_and_collapse_stars() {
        assert_eq!(
            pat("ab**c?").parts,
            vec![
                PatternPart::Literal("ab".into()),
                PatternPart::AnyString,
                PatternPart::Literal("c".into()),
                PatternPart::AnyChar
            ]
        );
        assert!(pat("***").is_match_all());
    }

    #[test]
    fn wildcard_matching_covers_the_edges() {
        let cases = [
            ("*", "", true),
            ("*", "abc", true),
            ("?", "", false),
            ("?", "é", true),
            ("a*", "a", true),
            ("*a", "ba", true),
            ("*a", "ab", false),
            ("*grace*", "disgraceful", true),
            ("g*r", "grace", false),
            ("g*r", "ghr", true),
            ("a?c", "abc", true),
            ("a?c", "abbc", false),
            ("*a*b*c*", "xaxbxcx", true),
            ("*a*b*c*", "xaxcxbx", false),
            ("abc", "abc", true),
            ("abc", "abcd", false),
            ("", "", true),
            ("", "a", false),
        ];
        for (p, text, want) in cases {
            assert_eq!(pat(p).matches(text), want, "{p:?} against {text:?}");
        }
    }
}
