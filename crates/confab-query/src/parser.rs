//! The parser of Lucene's classic query syntax, as Airy's `conversations.list` accepts it.
//!
//! A hand-written recursive-descent parser over the text (the lexer is called on demand because ranges
//! have their own lexical rules, as in Lucene's JavaCC grammar). It follows Lucene's `QueryParser.jj`
//! token by token — which characters start and continue a term, `AND`/`&&`, `OR`/`||`, `NOT`/`!`,
//! `+`/`-`, a bare `+ `/`- `/`! ` being a one-character term, the way `AND` and `OR` rewrite the occur of
//! neighbouring clauses with the default operator OR — and resolves every field and value as it goes,
//! so what comes out is the typed tree of [`crate::ast`]. See `GRAMMAR.md` for the grammar.
//!
//! It never panics and never recurses deeper than [`Limits::max_depth`]: the length check comes first,
//! the depth is checked at every `(`, and the number of terms at every term.

use std::ops::Bound;

use crate::analysis;
use crate::ast::{
    is_lexer_whitespace, Bool, Clause, Field, Leaf, Matcher, Node, Occur, Pattern, PatternPart, Query, Span,
};
use crate::error::{ErrorCode, QueryError};

/// Bounds on a query, checked while parsing. The defaults suit an HTTP API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest query text, in bytes (default 4096).
    pub max_len: usize,
    /// The deepest nesting of parentheses, `field:( … )` included (default 32).
    pub max_depth: usize,
    /// The most terms, phrases, ranges and `*:*` in one query (default 256).
    pub max_terms: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_len: 4096, max_depth: 32, max_terms: 256 }
    }
}

/// Parses `input` with the default [`Limits`].
pub fn parse(input: &str) -> Result<Query, QueryError> {
    parse_with(input, &Limits::default())
}

/// Parses `input` within `limits`.
pub fn parse_with(input: &str, limits: &Limits) -> Result<Query, QueryError> {
    if input.len() > limits.max_len {
        return Err(QueryError::new(
            ErrorCode::TooLong,
            limits.max_len,
            format!("the query is longer than {} bytes", limits.max_len),
        ));
    }
    if input.chars().all(is_lexer_whitespace) {
        return Err(QueryError::new(ErrorCode::Empty, 0, "the query is empty"));
    }
    let mut p = Parser { src: input, pos: 0, limits: *limits, terms: 0 };
    let root = p.query(None, 0)?;
    let t = p.lex()?;
    match t.tok {
        Tok::End => Ok(Query { root }),
        // `query` stops only at the end or at a `)`.
        _ => Err(syntax(t.span.start, "unexpected ')'")),
    }
}

const EXPECTED_CLAUSE: &str = "expected a term, a phrase, a range or '('";

fn syntax(position: usize, message: impl Into<String>) -> QueryError {
    QueryError::new(ErrorCode::Syntax, position, message)
}

/// A term as written: its characters, each marked escaped (`\x`) or not.
#[derive(Debug, Clone, PartialEq)]
struct Word {
    chars: Vec<(char, bool)>,
}

impl Word {
    fn text(&self) -> String {
        self.chars.iter().map(|(c, _)| *c).collect()
    }

    fn has_wildcard(&self) -> bool {
        self.chars.iter().any(|&(c, escaped)| !escaped && (c == '*' || c == '?'))
    }

    fn is_star(&self) -> bool {
        self.chars == [('*', false)]
    }

    fn pattern(&self) -> Pattern {
        Pattern::new(self.chars.iter().map(|&(c, escaped)| match (c, escaped) {
            ('*', false) => PatternPart::AnyString,
            ('?', false) => PatternPart::AnyChar,
            (c, _) => PatternPart::Literal(c.to_string()),
        }))
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// `AND`, `&&`.
    And,
    /// `OR`, `||`.
    Or,
    /// `NOT`, `!`.
    Not,
    Plus,
    Minus,
    /// `+`, `-` or `!` followed by whitespace: Lucene's BAREOPER, a one-character term.
    BareOp(char),
    LParen,
    RParen,
    Colon,
    Caret,
    Quote,
    LBracket,
    LBrace,
    RBracket,
    RBrace,
    Tilde,
    Slash,
    Word(Word),
    End,
}

struct Lexed {
    tok: Tok,
    span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Conj {
    None,
    And,
    Or,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Modifier {
    None,
    Required,
    Prohibited,
}

/// The field a `field:( … )` group gives the terms inside it.
struct Scope {
    field: Field,
    span: Span,
}

/// A range end as written.
enum RawEnd {
    Open,
    Value(String),
}

/// A value as written, before the field resolves it.
enum RawValue {
    Word(Word),
    Phrase(String),
    Range { lower: (RawEnd, Span, bool), upper: (RawEnd, Span, bool) },
}

/// Characters that start a term (Lucene's `_TERM_START_CHAR`, minus the escape).
fn is_term_start(c: char) -> bool {
    !is_lexer_whitespace(c)
        && !matches!(
            c,
            '+' | '-' | '!' | '(' | ')' | ':' | '^' | '[' | ']' | '"' | '{' | '}' | '~' | '*' | '?' | '\\' | '/'
        )
}

/// Characters that continue a term or a wildcard term (`*` and `?` included).
fn is_word_char(c: char) -> bool {
    is_term_start(c) || matches!(c, '-' | '+' | '*' | '?')
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    limits: Limits,
    terms: usize,
}

impl Parser<'_> {
    fn char_at(&self, at: usize) -> Option<char> {
        self.src.get(at..)?.chars().next()
    }

    fn skip_ws_from(&self, mut at: usize) -> usize {
        while let Some(c) = self.char_at(at) {
            if !is_lexer_whitespace(c) {
                break;
            }
            at += c.len_utf8();
        }
        at
    }

    /// The next token after whitespace, without consuming it.
    fn lex(&self) -> Result<Lexed, QueryError> {
        let start = self.skip_ws_from(self.pos);
        let Some(c) = self.char_at(start) else {
            return Ok(Lexed { tok: Tok::End, span: Span::new(start, start) });
        };
        let one = |tok| Ok(Lexed { tok, span: Span::new(start, start + c.len_utf8()) });
        let followed_by_ws = self.char_at(start + 1).is_some_and(is_lexer_whitespace);
        match c {
            '+' | '-' | '!' if followed_by_ws => one(Tok::BareOp(c)),
            '+' => one(Tok::Plus),
            '-' => one(Tok::Minus),
            '!' => one(Tok::Not),
            '(' => one(Tok::LParen),
            ')' => one(Tok::RParen),
            ':' => one(Tok::Colon),
            '^' => one(Tok::Caret),
            '"' => one(Tok::Quote),
            '[' => one(Tok::LBracket),
            '{' => one(Tok::LBrace),
            ']' => one(Tok::RBracket),
            '}' => one(Tok::RBrace),
            '~' => one(Tok::Tilde),
            '/' => one(Tok::Slash),
            _ => {
                let (word, end) = self.lex_word(start)?;
                let tok = match &self.src[start..end] {
                    "AND" | "&&" => Tok::And,
                    "OR" | "||" => Tok::Or,
                    "NOT" => Tok::Not,
                    _ => Tok::Word(word),
                };
                Ok(Lexed { tok, span: Span::new(start, end) })
            }
        }
    }

    /// A term starting at `start` (which holds a term-start character, `*`, `?` or `\`).
    fn lex_word(&self, start: usize) -> Result<(Word, usize), QueryError> {
        let mut chars = Vec::new();
        let mut at = start;
        while let Some(c) = self.char_at(at) {
            if c == '\\' {
                let escaped = self.escaped_after(at)?;
                chars.push((escaped, true));
                at += 1 + escaped.len_utf8();
            } else if is_word_char(c) && (at > start || is_term_start(c) || c == '*' || c == '?') {
                chars.push((c, false));
                at += c.len_utf8();
            } else {
                break;
            }
        }
        Ok((Word { chars }, at))
    }

    /// The character a backslash at `at` escapes.
    fn escaped_after(&self, at: usize) -> Result<char, QueryError> {
        self.char_at(at + 1).ok_or_else(|| syntax(at, "a backslash at the end of the query escapes nothing"))
    }

    /// A quoted text starting at the `"` at `start`; returns the unescaped text and the end.
    fn lex_quoted(&self, start: usize) -> Result<(String, usize), QueryError> {
        let mut text = String::new();
        let mut at = start + 1;
        loop {
            match self.char_at(at) {
                None => return Err(syntax(at, "expected '\"'")),
                Some('"') => return Ok((text, at + 1)),
                Some('\\') => {
                    let c = self.escaped_after(at)?;
                    text.push(c);
                    at += 1 + c.len_utf8();
                }
                Some(c) => {
                    text.push(c);
                    at += c.len_utf8();
                }
            }
        }
    }

    fn count_term(&mut self, at: usize) -> Result<(), QueryError> {
        self.terms += 1;
        if self.terms > self.limits.max_terms {
            return Err(QueryError::new(
                ErrorCode::TooManyTerms,
                at,
                format!("the query has more than {} terms", self.limits.max_terms),
            ));
        }
        Ok(())
    }

    /// `Query ::= Modifiers Clause ( Conjunction Modifiers Clause )*`, up to the end or a `)`.
    fn query(&mut self, scope: Option<&Scope>, depth: usize) -> Result<Node, QueryError> {
        let start = self.skip_ws_from(self.pos);
        let mut clauses: Vec<Clause> = Vec::new();
        loop {
            let mut t = self.lex()?;
            if matches!(t.tok, Tok::End | Tok::RParen) {
                break;
            }
            let mut conj = Conj::None;
            if matches!(t.tok, Tok::And | Tok::Or) && !clauses.is_empty() {
                conj = if t.tok == Tok::And { Conj::And } else { Conj::Or };
                self.pos = t.span.end;
                t = self.lex()?;
            }
            let modifier = match t.tok {
                Tok::Plus => Modifier::Required,
                Tok::Minus | Tok::Not => Modifier::Prohibited,
                _ => Modifier::None,
            };
            if modifier != Modifier::None {
                self.pos = t.span.end;
                t = self.lex()?;
            }
            let node = self.clause(t, scope, depth)?;
            add_clause(&mut clauses, conj, modifier, node);
        }
        if clauses.is_empty() {
            let t = self.lex()?;
            return Err(syntax(t.span.start, EXPECTED_CLAUSE));
        }
        if clauses.len() == 1 && clauses[0].occur == Occur::Should {
            return Ok(clauses.remove(0).node);
        }
        let end = clauses.last().map_or(start, |c| c.node.span().end).max(start);
        Ok(Node::Bool(Bool { clauses, span: Span::new(start, end) }))
    }

    /// `Clause ::= [ field ":" ] ( Term | "(" Query ")" )`.
    fn clause(&mut self, t: Lexed, scope: Option<&Scope>, depth: usize) -> Result<Node, QueryError> {
        match t.tok {
            Tok::Word(ref word) => {
                let after = self.skip_ws_from(t.span.end);
                if self.char_at(after) != Some(':') {
                    return self.leaf(t, scope);
                }
                if word.is_star() {
                    self.pos = after + 1;
                    let v = self.lex()?;
                    if matches!(&v.tok, Tok::Word(w) if w.is_star()) {
                        self.pos = v.span.end;
                        self.count_term(t.span.start)?;
                        self.boost()?;
                        return Ok(Node::All(Span::new(t.span.start, v.span.end)));
                    }
                    return Err(QueryError::new(
                        ErrorCode::Unsupported,
                        t.span.start,
                        "'*:' (every field) is only supported as '*:*' (every conversation)",
                    ));
                }
                if word.has_wildcard() {
                    return Err(syntax(t.span.start, "a field name cannot contain wildcards"));
                }
                let field = resolve_field(&word.text(), t.span.start)?;
                let field_scope = Scope { field, span: t.span };
                self.pos = after + 1;
                let v = self.lex()?;
                match v.tok {
                    Tok::LParen => self.group(v, Some(&field_scope), depth),
                    Tok::Word(_) | Tok::Quote | Tok::LBracket | Tok::LBrace | Tok::BareOp(_) => {
                        self.leaf(v, Some(&field_scope))
                    }
                    _ => Err(self.not_a_clause(&v)),
                }
            }
            Tok::Quote | Tok::LBracket | Tok::LBrace | Tok::BareOp(_) => self.leaf(t, scope),
            Tok::LParen => self.group(t, scope, depth),
            _ => Err(self.not_a_clause(&t)),
        }
    }

    /// The error for a token where a clause must start.
    fn not_a_clause(&self, t: &Lexed) -> QueryError {
        let at = t.span.start;
        match t.tok {
            Tok::Tilde => QueryError::new(
                ErrorCode::Unsupported,
                at,
                "fuzzy and proximity searches ('~') are not supported (escape a literal '~' as '\\~')",
            ),
            Tok::Slash => QueryError::new(
                ErrorCode::Unsupported,
                at,
                "regular expressions ('/…/') are not supported (escape a literal '/' as '\\/')",
            ),
            Tok::Colon => syntax(at, "unexpected ':' (escape a literal ':' as '\\:')"),
            Tok::Caret => syntax(at, "unexpected '^' (a boost follows a term, as in 'a^2')"),
            Tok::RBracket => syntax(at, "unexpected ']' (escape a literal ']' as '\\]')"),
            Tok::RBrace => syntax(at, "unexpected '}' (escape a literal '}' as '\\}')"),
            _ => syntax(at, EXPECTED_CLAUSE),
        }
    }

    /// `"(" Query ")"`, the `(` being `open`.
    fn group(&mut self, open: Lexed, scope: Option<&Scope>, depth: usize) -> Result<Node, QueryError> {
        let depth = depth + 1;
        if depth > self.limits.max_depth {
            return Err(QueryError::new(
                ErrorCode::TooDeep,
                open.span.start,
                format!("the query nests parentheses deeper than {} levels", self.limits.max_depth),
            ));
        }
        self.pos = open.span.end;
        let inner = self.query(scope, depth)?;
        let close = self.lex()?;
        if close.tok != Tok::RParen {
            return Err(syntax(close.span.start, "expected ')'"));
        }
        self.pos = close.span.end;
        self.boost()?;
        Ok(match inner {
            Node::Bool(mut b) => {
                b.span = Span::new(open.span.start, close.span.end);
                Node::Bool(b)
            }
            other => other,
        })
    }

    /// An optional boost, `^2` or `^0.5`: accepted and ignored (Confab does not score).
    fn boost(&mut self) -> Result<(), QueryError> {
        let t = self.lex()?;
        if t.tok != Tok::Caret {
            return Ok(());
        }
        let digits = |from: usize| {
            let n = self.src[from..].bytes().take_while(u8::is_ascii_digit).count();
            (n > 0).then_some(from + n)
        };
        let Some(mut end) = digits(t.span.end) else {
            return Err(syntax(t.span.end, "expected a number after '^'"));
        };
        if self.char_at(end) == Some('.') {
            end = digits(end + 1).ok_or_else(|| syntax(end + 1, "expected digits after '.' in the boost"))?;
        }
        self.pos = end;
        Ok(())
    }

    /// A term, phrase or range, searched in the scope's field (or `id`).
    fn leaf(&mut self, t: Lexed, scope: Option<&Scope>) -> Result<Node, QueryError> {
        self.count_term(t.span.start)?;
        let (raw, span) = match t.tok {
            Tok::Word(word) => {
                self.pos = t.span.end;
                (RawValue::Word(word), t.span)
            }
            Tok::BareOp(c) => {
                self.pos = t.span.end;
                (RawValue::Word(Word { chars: vec![(c, true)] }), t.span)
            }
            Tok::Quote => {
                let (text, end) = self.lex_quoted(t.span.start)?;
                self.pos = end;
                (RawValue::Phrase(text), Span::new(t.span.start, end))
            }
            Tok::LBracket | Tok::LBrace => self.range(t)?,
            _ => return Err(self.not_a_clause(&t)),
        };
        self.boost()?;
        let (field, field_span) = match scope {
            Some(s) => (s.field.clone(), Some(s.span)),
            None => (Field::Id, None),
        };
        let matcher = resolve_value(&field, raw, span)?;
        Ok(Node::Leaf(Leaf { field, field_span, matcher, span }))
    }

    /// `( "[" | "{" ) bound "TO" bound ( "]" | "}" )`, the opening bracket being `open`.
    fn range(&mut self, open: Lexed) -> Result<(RawValue, Span), QueryError> {
        let lower_inclusive = open.tok == Tok::LBracket;
        self.pos = open.span.end;
        let (lower, lower_span) = self.range_end()?;
        let at = self.skip_ws_from(self.pos);
        let (_, to_end, raw_to) = self.range_goop(at)?;
        if raw_to != "TO" {
            return Err(syntax(at, "expected 'TO'"));
        }
        self.pos = to_end;
        let (upper, upper_span) = self.range_end()?;
        let at = self.skip_ws_from(self.pos);
        let upper_inclusive = match self.char_at(at) {
            Some(']') => true,
            Some('}') => false,
            _ => return Err(syntax(at, "expected ']' or '}'")),
        };
        self.pos = at + 1;
        let raw = RawValue::Range {
            lower: (lower, lower_span, lower_inclusive),
            upper: (upper, upper_span, upper_inclusive),
        };
        Ok((raw, Span::new(open.span.start, at + 1)))
    }

    /// One end of a range: `*` (open), a quoted text, or a run of characters up to whitespace, `]` or `}`.
    fn range_end(&mut self) -> Result<(RawEnd, Span), QueryError> {
        let at = self.skip_ws_from(self.pos);
        match self.char_at(at) {
            None | Some(']') | Some('}') => Err(syntax(at, "expected a range bound (a value or '*')")),
            Some('"') => {
                let (text, end) = self.lex_quoted(at)?;
                self.pos = end;
                Ok((RawEnd::Value(text), Span::new(at, end)))
            }
            Some(_) => {
                let (text, end, raw) = self.range_goop(at)?;
                let value = if raw == "*" { RawEnd::Open } else { RawEnd::Value(text) };
                self.pos = end;
                Ok((value, Span::new(at, end)))
            }
        }
    }

    /// A run of characters up to whitespace, `]` or `}` (escapes allowed): (unescaped, end, raw).
    fn range_goop(&self, start: usize) -> Result<(String, usize, &str), QueryError> {
        let mut text = String::new();
        let mut at = start;
        while let Some(c) = self.char_at(at) {
            if is_lexer_whitespace(c) || c == ']' || c == '}' {
                break;
            }
            if c == '\\' {
                let e = self.escaped_after(at)?;
                text.push(e);
                at += 1 + e.len_utf8();
            } else {
                text.push(c);
                at += c.len_utf8();
            }
        }
        Ok((text, at, &self.src[start..at]))
    }
}

/// Lucene's `QueryParserBase.addClause` with the default operator OR.
fn add_clause(clauses: &mut Vec<Clause>, conj: Conj, modifier: Modifier, node: Node) {
    // `a AND b`: AND makes the clause before it required too, unless it is prohibited.
    if conj == Conj::And {
        if let Some(last) = clauses.last_mut() {
            if last.occur != Occur::MustNot {
                last.occur = Occur::Must;
            }
        }
    }
    let occur = match modifier {
        Modifier::Prohibited => Occur::MustNot,
        Modifier::Required => Occur::Must,
        Modifier::None if conj == Conj::And => Occur::Must,
        Modifier::None => Occur::Should,
    };
    clauses.push(Clause { occur, node });
}

/// The field a (unescaped) field name names.
fn resolve_field(name: &str, at: usize) -> Result<Field, QueryError> {
    Ok(match name {
        "id" => Field::Id,
        "channel_id" => Field::ChannelId,
        "source" => Field::Source,
        "display_name" => Field::DisplayName,
        "created_at" => Field::CreatedAt,
        "unread_count" => Field::UnreadCount,
        "tag_ids" => Field::TagIds,
        _ => match name.strip_prefix("metadata.") {
            Some(path) => {
                let keys: Vec<String> = path.split('.').map(str::to_string).collect();
                if keys.iter().any(String::is_empty) {
                    return Err(QueryError::new(
                        ErrorCode::UnknownField,
                        at,
                        format!(
                            "'{}' is not a metadata path: the keys between the dots must not be empty",
                            shorten(name)
                        ),
                    ));
                }
                Field::Metadata(keys)
            }
            None => {
                return Err(QueryError::new(
                    ErrorCode::UnknownField,
                    at,
                    format!(
                        "unknown field '{}' (the fields are id, channel_id, source, display_name, created_at, \
                         unread_count, tag_ids and metadata.<path>)",
                        shorten(name)
                    ),
                ))
            }
        },
    })
}

/// `text` cut to 40 characters for a message.
fn shorten(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(40).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

fn parse_int(field: &Field, text: &str, at: usize) -> Result<i64, QueryError> {
    text.parse::<i64>().map_err(|_| {
        QueryError::new(
            ErrorCode::InvalidValue,
            at,
            format!("'{}' is not an integer, and {} holds integers", shorten(text), field.name()),
        )
    })
}

/// A text matcher for an analysed field: one token is a term, several a phrase, none matches nothing.
fn analysed(text: &str) -> Matcher {
    let mut tokens = analysis::tokens(text);
    if tokens.len() == 1 {
        Matcher::Term(tokens.remove(0))
    } else {
        Matcher::Phrase(tokens)
    }
}

fn bound<T>(inclusive: bool, value: T) -> Bound<T> {
    if inclusive {
        Bound::Included(value)
    } else {
        Bound::Excluded(value)
    }
}

/// The matcher a value written as `raw` becomes in `field`.
fn resolve_value(field: &Field, raw: RawValue, span: Span) -> Result<Matcher, QueryError> {
    use crate::ast::FieldKind as K;
    let kind = field.kind();
    match raw {
        RawValue::Word(word) if word.has_wildcard() => {
            let pattern = word.pattern();
            match kind {
                K::Keyword => Ok(Matcher::Wildcard(pattern)),
                K::Text | K::Tags => Ok(Matcher::Wildcard(pattern.to_ascii_lowercase())),
                K::Integer if pattern.is_match_all() => Ok(Matcher::IntRange((Bound::Unbounded, Bound::Unbounded))),
                K::Integer => Err(QueryError::new(
                    ErrorCode::InvalidValue,
                    span.start,
                    format!("wildcards are not supported on {}, which holds integers (use a range)", field.name()),
                )),
            }
        }
        RawValue::Word(word) => {
            let text = word.text();
            match kind {
                K::Keyword => Ok(Matcher::Term(text)),
                K::Text => Ok(analysed(&text)),
                K::Tags => Ok(Matcher::Term(text.to_ascii_lowercase())),
                K::Integer => Ok(Matcher::Int(parse_int(field, &text, span.start)?)),
            }
        }
        RawValue::Phrase(text) => match kind {
            K::Keyword => Ok(Matcher::Term(text)),
            K::Text => Ok(analysed(&text)),
            K::Tags => Ok(Matcher::Term(text.to_ascii_lowercase())),
            K::Integer => Ok(Matcher::Int(parse_int(field, &text, span.start)?)),
        },
        RawValue::Range { lower, upper } => {
            if kind == K::Integer {
                let end = |(raw, span, inclusive): (RawEnd, Span, bool)| -> Result<Bound<i64>, QueryError> {
                    match raw {
                        RawEnd::Open => Ok(Bound::Unbounded),
                        RawEnd::Value(v) => Ok(bound(inclusive, parse_int(field, &v, span.start)?)),
                    }
                };
                return Ok(Matcher::IntRange((end(lower)?, end(upper)?)));
            }
            let fold = kind != K::Keyword;
            let end = |(raw, _, inclusive): (RawEnd, Span, bool)| match raw {
                RawEnd::Open => Bound::Unbounded,
                RawEnd::Value(v) if fold => bound(inclusive, v.to_ascii_lowercase()),
                RawEnd::Value(v) => bound(inclusive, v),
            };
            Ok(Matcher::Range((end(lower), end(upper))))
        }
    }
}

#[cfg(test)]
mod tests;
