//! Parser tests: every syntax element, valid and invalid, the limits, and a randomised no-panic run.

use super::*;
use crate::ast::FieldKind;
use crate::{matches, to_sql, Dialect, Doc, Schema, TagSource};

/// The canonical rendering of the parsed query.
fn canon(input: &str) -> String {
    match parse(input) {
        Ok(q) => q.to_string(),
        Err(e) => panic!("{input:?} should parse, got: {e}"),
    }
}

/// (code, position, message) of the refusal.
fn refusal(input: &str) -> (ErrorCode, usize, String) {
    match parse(input) {
        Ok(q) => panic!("{input:?} should be refused, parsed as {q}"),
        Err(e) => (e.code(), e.position(), e.message().to_string()),
    }
}

fn leaf(node: &Node) -> &Leaf {
    match node {
        Node::Leaf(l) => l,
        other => panic!("expected a leaf, got {other:?}"),
    }
}

fn clauses(node: &Node) -> &[Clause] {
    match node {
        Node::Bool(b) => &b.clauses,
        other => panic!("expected a list, got {other:?}"),
    }
}

#[test]
fn bare_terms_search_the_id_field() {
    assert_eq!(canon("abc"), "id:abc");
    assert_eq!(canon("a688d36c-a85e-44af-bc02-4248c2c97622"), "id:a688d36c-a85e-44af-bc02-4248c2c97622");
    assert_eq!(canon("a b"), "id:a id:b");
    assert_eq!(canon("  a\t\n\r b\u{3000}c "), "id:a id:b id:c");
    let q = parse("Grace").unwrap();
    let l = leaf(q.root());
    assert_eq!((l.field.clone(), l.field_span, l.matcher.clone()), (Field::Id, None, Matcher::Term("Grace".into())));
    assert_eq!(l.span, Span::new(0, 5));
}

#[test]
fn fields_resolve_to_their_kinds() {
    let kinds = [
        ("id:x", Field::Id, FieldKind::Keyword),
        ("channel_id:x", Field::ChannelId, FieldKind::Keyword),
        ("source:x", Field::Source, FieldKind::Keyword),
        ("display_name:x", Field::DisplayName, FieldKind::Text),
        ("created_at:1", Field::CreatedAt, FieldKind::Integer),
        ("unread_count:1", Field::UnreadCount, FieldKind::Integer),
        ("tag_ids:x", Field::TagIds, FieldKind::Tags),
        (
            "metadata.user_data.erp.id:x",
            Field::Metadata(vec!["user_data".into(), "erp".into(), "id".into()]),
            FieldKind::Text,
        ),
        ("metadata.state:x", Field::Metadata(vec!["state".into()]), FieldKind::Text),
    ];
    for (input, field, kind) in kinds {
        let q = parse(input).unwrap();
        let l = leaf(q.root());
        assert_eq!(l.field, field, "{input}");
        assert_eq!(l.field.kind(), kind, "{input}");
        assert_eq!(l.field.name(), input.split(':').next().unwrap());
    }
}

#[test]
fn leaves_carry_the_spans_of_field_and_value() {
    let input = "display_name:grace AND unread_count:[1 TO 5}";
    let q = parse(input).unwrap();
    let cs = clauses(q.root());
    assert_eq!(cs.len(), 2);
    let (a, b) = (leaf(&cs[0].node), leaf(&cs[1].node));
    assert_eq!((cs[0].occur, cs[1].occur), (Occur::Must, Occur::Must));
    assert_eq!(a.field_span, Some(Span::new(0, 12)));
    assert_eq!(a.span, Span::new(13, 18));
    assert_eq!(&input[b.field_span.unwrap().start..b.field_span.unwrap().end], "unread_count");
    assert_eq!(&input[b.span.start..b.span.end], "[1 TO 5}");
    assert_eq!(b.matcher, Matcher::IntRange((Bound::Included(1), Bound::Excluded(5))));

    let input = "x OR tag_ids:( a  b )";
    let q = parse(input).unwrap();
    let cs = clauses(q.root());
    let group = &cs[1].node;
    assert_eq!(&input[group.span().start..group.span().end], "( a  b )");
    for c in clauses(group) {
        let l = leaf(&c.node);
        assert_eq!(l.field_span, Some(Span::new(5, 12)), "the group's field");
        assert_eq!(l.field, Field::TagIds);
    }
    assert_eq!(q.root().span(), Span::new(0, input.len()));
}

#[test]
fn boolean_operators_follow_lucene() {
    let cases = [
        ("a AND b", "+id:a +id:b"),
        ("a && b", "+id:a +id:b"),
        ("a OR b", "id:a id:b"),
        ("a || b", "id:a id:b"),
        ("a OR b AND c", "id:a +id:b +id:c"),
        ("a AND b OR c", "+id:a +id:b id:c"),
        ("a AND b c", "+id:a +id:b id:c"),
        ("NOT a", "-id:a"),
        ("!a", "-id:a"),
        ("-a", "-id:a"),
        ("+a", "+id:a"),
        ("+a -b c", "+id:a -id:b id:c"),
        ("a NOT b", "id:a -id:b"),
        ("a AND NOT b", "+id:a -id:b"),
        ("NOT a AND b", "-id:a +id:b"),
        ("a OR NOT b", "id:a -id:b"),
        ("a AND -b", "+id:a -id:b"),
        ("a AND +b", "+id:a +id:b"),
        ("-a AND b", "-id:a +id:b"),
        ("NOT(a)", "-id:a"),
        ("!(a b)", "-(id:a id:b)"),
        ("(a OR b) AND c", "+(id:a id:b) +id:c"),
        ("a OR (b AND c)", "id:a (+id:b +id:c)"),
        ("((a))", "id:a"),
        ("(((a b)))", "id:a id:b"),
        ("+(a) -(b)", "+id:a -id:b"),
        ("and or not", "id:and id:or id:not"),
        ("ANDY ORB NOTE", "id:ANDY id:ORB id:NOTE"),
        ("\\AND \\OR \\NOT", "id:\\AND id:\\OR id:\\NOT"),
        ("a&&b a||b a&b", "id:a&&b id:a||b id:a&b"),
        ("a!b", "id:a -id:b"),
        ("a + b", "id:a id:\\+ id:b"),
        ("a - b ! c", "id:a id:\\- id:b id:\\! id:c"),
        ("a-b +c-d", "id:a-b +id:c-d"),
        ("- -a", "id:\\- -id:a"),
    ];
    for (input, want) in cases {
        assert_eq!(canon(input), want, "{input}");
    }
}

#[test]
fn airy_inbox_queries_parse() {
    let cases = [
        ("unread_count:[1 TO *]", "unread_count:[1 TO *]"),
        ("unread_count:0", "unread_count:0"),
        ("display_name:*Grace*", "display_name:*grace*"),
        // The UI's multi-word search, split by the lexer exactly as Lucene does (reference §4).
        ("display_name:*Grace Hopper*", "display_name:*grace id:Hopper*"),
        ("tag_ids:(F339C325 AND 9c2e)", "+tag_ids:f339c325 +tag_ids:9c2e"),
        ("channel_id:(a OR b)", "channel_id:a channel_id:b"),
        ("source:(facebook OR google)", "source:facebook source:google"),
        ("id:* AND NOT metadata.state:CLOSED", "+id:* -metadata.state:closed"),
        ("metadata.state:CLOSED", "metadata.state:closed"),
        (r#"id:"a688d36c\-a85e\-44af""#, "id:a688d36c-a85e-44af"),
        (r#"display_name:Grace OR id:"a688d36c""#, "display_name:grace id:a688d36c"),
        ("metadata.user_data.erp.id:abc", "metadata.user_data.erp.id:abc"),
        (
            "unread_count:[1 TO *] AND display_name:*ada* AND source:(facebook OR google)",
            "+unread_count:[1 TO *] +display_name:*ada* +(source:facebook source:google)",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(canon(input), want, "{input}");
    }
}

#[test]
fn terms_phrases_and_escapes() {
    let cases = [
        (r"a\:b", r"id:a\:b"),
        (r"a\ b", r#"id:"a b""#),
        (r"\*", r"id:\*"),
        (r"\-5", r"id:\-5"),
        (r"a\\b", r"id:a\\b"),
        (r#""Grace  Hopper""#, r#"id:"Grace  Hopper""#),
        (r#""say \"hi\"""#, r#"id:"say \"hi\"""#),
        (r#""""#, r#"id:"""#),
        ("display_name:\"Grace\tHOPPER\"", r#"display_name:"grace hopper""#),
        (r#"display_name:"  Grace  ""#, "display_name:grace"),
        (r"display_name:grace\ hopper", r#"display_name:"grace hopper""#),
        (r#"display_name:"""#, r#"display_name:"""#),
        (r"display_name:\ ", r#"display_name:"""#),
        (r"display_name:ÉCOLE", r"display_name:École"),
        (r#"tag_ids:"AbC d""#, r#"tag_ids:"abc d""#),
        (r#"source:"Twilio SMS""#, r#"source:"Twilio SMS""#),
        ("display_name : grace", "display_name:grace"),
        (r"metadata.a\ b.c\:d:x", r"metadata.a\ b.c\:d:x"),
        (r"metadata.url:https\:\/\/x.io", r"metadata.url:https\:\/\/x.io"),
        ("a^2 b^0.5", "id:a id:b"),
        ("\"x y\"^3 (a b)^2 [a TO b]^1", r#"id:"x y" (id:a id:b) id:[a TO b]"#),
        ("a ^2", "id:a"),
        ("*:*", "*:*"),
        ("*:*^2 OR a", "*:* id:a"),
        ("a:(b:c)", "unknown"),
    ];
    for (input, want) in cases {
        if want == "unknown" {
            assert_eq!(refusal(input).0, ErrorCode::UnknownField);
            continue;
        }
        assert_eq!(canon(input), want, "{input}");
    }
    let q = parse(r#"id:"a688d36c\-a85e""#).unwrap();
    assert_eq!(leaf(q.root()).matcher, Matcher::Term("a688d36c-a85e".into()));
    assert_eq!(leaf(q.root()).span, Span::new(3, 19));
}

#[test]
fn a_field_group_applies_its_field_unless_a_term_names_another() {
    assert_eq!(canon("display_name:(Grace OR source:x)"), "display_name:grace source:x");
    assert_eq!(canon("display_name:(a (b c))"), "display_name:a (display_name:b display_name:c)");
    assert_eq!(canon("tag_ids:(a AND b) AND x"), "+(+tag_ids:a +tag_ids:b) +id:x");
}

#[test]
fn wildcards_including_leading_ones() {
    let q = parse("display_name:*Gr?ce*").unwrap();
    assert_eq!(
        leaf(q.root()).matcher,
        Matcher::Wildcard(Pattern::new([
            PatternPart::AnyString,
            PatternPart::Literal("gr".into()),
            PatternPart::AnyChar,
            PatternPart::Literal("ce".into()),
            PatternPart::AnyString,
        ]))
    );
    let cases = [
        ("*", "id:*"),
        ("id:*", "id:*"),
        ("?bc", "id:?bc"),
        ("a**b", "id:a*b"),
        (r"a\*b*", r"id:a\*b*"),
        ("source:Face*", "source:Face*"),
        ("tag_ids:AB*", "tag_ids:ab*"),
        ("metadata.x:*VIP*", "metadata.x:*vip*"),
        ("unread_count:*", "unread_count:[* TO *]"),
        ("created_at:*", "created_at:[* TO *]"),
    ];
    for (input, want) in cases {
        assert_eq!(canon(input), want, "{input}");
    }
}

#[test]
fn ranges_every_bracket_and_open_end() {
    let cases = [
        ("unread_count:[1 TO 5]", "unread_count:[1 TO 5]"),
        ("unread_count:{1 TO 5}", "unread_count:{1 TO 5}"),
        ("unread_count:[1 TO 5}", "unread_count:[1 TO 5}"),
        ("unread_count:{1 TO 5]", "unread_count:{1 TO 5]"),
        ("unread_count:[* TO 5]", "unread_count:[* TO 5]"),
        ("unread_count:{* TO 5}", "unread_count:[* TO 5}"),
        ("unread_count:[* TO *]", "unread_count:[* TO *]"),
        ("unread_count:[-5 TO +5]", r"unread_count:[-5 TO 5]"),
        ("unread_count:[ \"1\"  TO\t\"2\" ]", "unread_count:[1 TO 2]"),
        ("created_at:[1600000000000 TO 1700000000000]", "created_at:[1600000000000 TO 1700000000000]"),
        ("created_at:\"1700000000000\"", "created_at:1700000000000"),
        ("unread_count:\\-3", "unread_count:\\-3"),
        ("id:[a TO b]", "id:[a TO b]"),
        ("id:[\"a b\" TO \"*\"]", "id:[\"a b\" TO \"*\"]"),
        ("id:[a\\]b TO c]", "id:[\"a]b\" TO c]"),
        ("display_name:[A TO M]", "display_name:[a TO m]"),
        ("tag_ids:{A TO *]", "tag_ids:{a TO *]"),
        ("[a TO b]", "id:[a TO b]"),
        ("[2020-01-01T00:00 TO *]", "id:[2020-01-01T00:00 TO *]"),
    ];
    for (input, want) in cases {
        assert_eq!(canon(input), want, "{input}");
    }
    let q = parse("created_at:{1 TO *]").unwrap();
    assert_eq!(leaf(q.root()).matcher, Matcher::IntRange((Bound::Excluded(1), Bound::Unbounded)));
    let q = parse("id:[\"*\" TO *]").unwrap();
    assert_eq!(leaf(q.root()).matcher, Matcher::Range((Bound::Included("*".into()), Bound::Unbounded)));
}

#[test]
fn syntax_errors_name_what_was_expected_and_where() {
    let c = EXPECTED_CLAUSE;
    let cases: &[(&str, ErrorCode, usize, &str)] = &[
        ("(a OR b", ErrorCode::Syntax, 7, "expected ')'"),
        ("(grace OR ada) OR (x", ErrorCode::Syntax, 20, "expected ')'"),
        ("a AND (b OR c", ErrorCode::Syntax, 13, "expected ')'"),
        ("a AND", ErrorCode::Syntax, 5, c),
        ("a AND ", ErrorCode::Syntax, 6, c),
        ("AND a", ErrorCode::Syntax, 0, c),
        ("OR", ErrorCode::Syntax, 0, c),
        ("a OR OR b", ErrorCode::Syntax, 5, c),
        ("a AND OR b", ErrorCode::Syntax, 6, c),
        ("NOT NOT a", ErrorCode::Syntax, 4, c),
        ("+-a", ErrorCode::Syntax, 1, c),
        ("NOT", ErrorCode::Syntax, 3, c),
        ("!", ErrorCode::Syntax, 1, c),
        ("()", ErrorCode::Syntax, 1, c),
        ("a ( )", ErrorCode::Syntax, 4, c),
        ("a AND )", ErrorCode::Syntax, 6, c),
        ("display_name:", ErrorCode::Syntax, 13, c),
        ("display_name: )", ErrorCode::Syntax, 14, c),
        ("a)", ErrorCode::Syntax, 1, "unexpected ')'"),
        ("(a))", ErrorCode::Syntax, 3, "unexpected ')'"),
        ("\"abc", ErrorCode::Syntax, 4, "expected '\"'"),
        ("a \"b\\\"", ErrorCode::Syntax, 6, "expected '\"'"),
        ("a\\", ErrorCode::Syntax, 1, "a backslash at the end of the query escapes nothing"),
        ("\"a\\", ErrorCode::Syntax, 2, "a backslash at the end of the query escapes nothing"),
        ("[1 2]", ErrorCode::Syntax, 3, "expected 'TO'"),
        ("[1 TOx 2]", ErrorCode::Syntax, 3, "expected 'TO'"),
        ("[1 TO 2", ErrorCode::Syntax, 7, "expected ']' or '}'"),
        ("[1 TO 2 3]", ErrorCode::Syntax, 8, "expected ']' or '}'"),
        ("[1 TO ]", ErrorCode::Syntax, 6, "expected a range bound (a value or '*')"),
        ("[", ErrorCode::Syntax, 1, "expected a range bound (a value or '*')"),
        ("{}", ErrorCode::Syntax, 1, "expected a range bound (a value or '*')"),
        ("[\"a TO b]", ErrorCode::Syntax, 9, "expected '\"'"),
        ("id:b:c", ErrorCode::Syntax, 4, "unexpected ':' (escape a literal ':' as '\\:')"),
        (":a", ErrorCode::Syntax, 0, "unexpected ':' (escape a literal ':' as '\\:')"),
        ("^a", ErrorCode::Syntax, 0, "unexpected '^' (a boost follows a term, as in 'a^2')"),
        ("a^", ErrorCode::Syntax, 2, "expected a number after '^'"),
        ("a^ 2", ErrorCode::Syntax, 2, "expected a number after '^'"),
        ("a^2.", ErrorCode::Syntax, 4, "expected digits after '.' in the boost"),
        ("a]", ErrorCode::Syntax, 1, "unexpected ']' (escape a literal ']' as '\\]')"),
        ("a }", ErrorCode::Syntax, 2, "unexpected '}' (escape a literal '}' as '\\}')"),
        ("di*:x", ErrorCode::Syntax, 0, "a field name cannot contain wildcards"),
    ];
    for &(input, code, position, message) in cases {
        assert_eq!(refusal(input), (code, position, message.to_string()), "{input:?}");
    }
    assert_eq!(parse("(a OR b").unwrap_err().to_string(), "expected ')' at position 7");
    assert_eq!(parse("(grace OR ada ").unwrap_err().to_string(), "expected ')' at position 14");
}

#[test]
fn unsupported_lucene_features_are_refused_with_a_position() {
    let cases =
        [("a~", 1), ("a~2", 1), ("\"a b\"~2", 5), ("a ~0.8", 2), ("/ab/", 0), ("a /b/", 2), ("*:a", 0), ("*:(a)", 0)];
    for (input, position) in cases {
        let (code, at, _) = refusal(input);
        assert_eq!((code, at), (ErrorCode::Unsupported, position), "{input:?}");
    }
    assert!(refusal("a~").2.starts_with("fuzzy and proximity searches ('~') are not supported"));
    assert!(refusal("/a/").2.starts_with("regular expressions ('/…/') are not supported"));
    assert_eq!(canon(r"a\~ b\/c"), r"id:a\~ id:b\/c");
}

#[test]
fn unknown_fields_and_bad_values_are_refused_where_they_are() {
    let (code, at, message) = refusal("a AND foo:bar");
    assert_eq!((code, at), (ErrorCode::UnknownField, 6));
    assert!(message.starts_with("unknown field 'foo' (the fields are id, channel_id"), "{message}");
    for (input, at) in
        [("metadata:x", 0), ("Display_Name:x", 0), ("metadata..a:x", 0), ("x metadata.a.:x", 2), ("metadata.:x", 0)]
    {
        assert_eq!(refusal(input).0, ErrorCode::UnknownField, "{input}");
        assert_eq!(refusal(input).1, at, "{input}");
    }
    let cases = [
        ("unread_count:abc", 13, "'abc' is not an integer, and unread_count holds integers"),
        ("created_at:1.5", 11, "'1.5' is not an integer, and created_at holds integers"),
        (
            "created_at:99999999999999999999",
            11,
            "'99999999999999999999' is not an integer, and created_at holds integers",
        ),
        ("unread_count:[1 TO x]", 19, "'x' is not an integer, and unread_count holds integers"),
        ("unread_count:{x TO 1]", 14, "'x' is not an integer, and unread_count holds integers"),
        ("unread_count:\"\"", 13, "'' is not an integer, and unread_count holds integers"),
        ("unread_count:1*", 13, "wildcards are not supported on unread_count, which holds integers (use a range)"),
        (
            "unread_count:(1 OR ?)",
            19,
            "wildcards are not supported on unread_count, which holds integers (use a range)",
        ),
    ];
    for (input, at, message) in cases {
        assert_eq!(refusal(input), (ErrorCode::InvalidValue, at, message.to_string()), "{input}");
    }
    let long = format!("unread_count:{}", "x".repeat(100));
    assert!(refusal(&long).2.contains("'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…'"));
}

#[test]
fn empty_queries_are_refused() {
    for input in ["", " ", "\t\n\r ", "\u{3000}"] {
        assert_eq!(refusal(input), (ErrorCode::Empty, 0, "the query is empty".to_string()), "{input:?}");
    }
    assert_eq!(parse("").unwrap_err().to_string(), "the query is empty at position 0");
}

#[test]
fn limits_on_length_depth_and_terms() {
    let longest = "a".repeat(4096);
    assert!(parse(&longest).is_ok());
    let too_long = "a".repeat(4097);
    assert_eq!(refusal(&too_long), (ErrorCode::TooLong, 4096, "the query is longer than 4096 bytes".to_string()));

    let nested = |n: usize| format!("{}a{}", "(".repeat(n), ")".repeat(n));
    assert_eq!(canon(&nested(32)), "id:a");
    assert_eq!(
        refusal(&nested(33)),
        (ErrorCode::TooDeep, 32, "the query nests parentheses deeper than 32 levels".to_string())
    );
    let fields = format!("{}a{}", "display_name:(".repeat(33), ")".repeat(33));
    assert_eq!(refusal(&fields).0, ErrorCode::TooDeep);
    // A deep but unclosed query fails on depth before anything else, without recursing further.
    assert_eq!(refusal(&"(".repeat(4000)).0, ErrorCode::TooDeep);

    let terms = |n: usize| vec!["a"; n].join(" ");
    assert!(parse(&terms(256)).is_ok());
    assert_eq!(refusal(&terms(257)), (ErrorCode::TooManyTerms, 512, "the query has more than 256 terms".to_string()));
    assert_eq!(refusal(&vec!["*:*"; 257].join(" ")).0, ErrorCode::TooManyTerms);

    let tight = Limits { max_len: 10, max_depth: 1, max_terms: 2 };
    assert!(parse_with("(a b)", &tight).is_ok());
    assert_eq!(parse_with("((a))", &tight).unwrap_err().code(), ErrorCode::TooDeep);
    assert_eq!(parse_with("a b c", &tight).unwrap_err().position(), 4);
    assert_eq!(parse_with("aaaaaaaaaaa", &tight).unwrap_err().code(), ErrorCode::TooLong);
}

// ---- randomised: nothing panics, errors point inside the text, canonical forms are fixed points ----

/// xorshift64*: a small deterministic generator (no dependency needed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const FRAGMENTS: &[&str] = &[
    "a",
    "b",
    "Grace",
    "ada",
    "é",
    "x1",
    "id",
    "display_name",
    "unread_count",
    "created_at",
    "tag_ids",
    "source",
    "channel_id",
    "metadata.a.b",
    "metadata",
    "foo",
    ":",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "\"",
    "\\",
    "*",
    "?",
    "+",
    "-",
    "!",
    "^",
    "^2",
    "~",
    "/",
    " ",
    " ",
    " ",
    "\t",
    "\n",
    "\u{3000}",
    "\u{1}",
    "AND",
    "OR",
    "NOT",
    "&&",
    "||",
    "TO",
    " TO ",
    "1",
    "-5",
    "42",
    "*:*",
    "\"x y\"",
    "\"\"",
    "[1 TO 5]",
    "{a TO *]",
    "\\:",
    "\\ ",
    "\\\"",
    ".",
    "_",
    "%",
];

fn random_text(rng: &mut Rng) -> String {
    let n = 1 + rng.below(14);
    (0..n).map(|_| rng.pick(FRAGMENTS)).collect()
}

fn docs() -> Vec<Doc> {
    vec![
        Doc::default(),
        Doc {
            id: "a".into(),
            channel_id: Some("x1".into()),
            source: Some("Grace".into()),
            display_name: Some("Grace  ada\té".into()),
            created_at_ms: 42,
            unread_count: -5,
            tag_ids: vec!["A".into(), "x y".into()],
            metadata: serde_json::json!({"a": {"b": ["x", 1]}, "foo": "Grace"}),
        },
    ]
}

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

/// Every placeholder `$offset+1 ..= $offset+n` appears exactly once, and no other.
fn check_placeholders(sql: &crate::Sql, offset: usize, input: &str) {
    let mut seen = Vec::new();
    let bytes = sql.sql.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            let digits: String = sql.sql[i + 1..].chars().take_while(char::is_ascii_digit).collect();
            i += digits.len();
            seen.push(digits.parse::<usize>().unwrap());
        }
        i += 1;
    }
    seen.sort_unstable();
    let want: Vec<usize> = (offset + 1..=offset + sql.binds.len()).collect();
    assert_eq!(seen, want, "placeholders of {input:?}: {}", sql.sql);
}

fn check(input: &str, docs: &[Doc]) -> bool {
    match parse(input) {
        Err(e) => {
            assert!(e.position() <= input.len(), "{input:?}: {e}");
            assert!(input.is_char_boundary(e.position()), "{input:?}: {e}");
            assert!(!e.message().is_empty());
            false
        }
        Ok(q) => {
            let text = q.to_string();
            let roomy = Limits { max_len: usize::MAX, ..Limits::default() };
            let again = parse_with(&text, &roomy).unwrap_or_else(|e| panic!("{input:?} → {text:?}: {e}"));
            assert_eq!(again.to_string(), text, "{input:?}");
            for doc in docs {
                assert_eq!(matches(&q, doc), matches(&again, doc), "{input:?} → {text:?}");
            }
            for dialect in [Dialect::Sqlite, Dialect::Postgres] {
                let sql = to_sql(&q, &schema(dialect), 3);
                check_placeholders(&sql, 3, input);
            }
            true
        }
    }
}

#[test]
fn random_texts_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let docs = docs();
    let mut parsed = 0;
    for _ in 0..20_000 {
        if check(&random_text(&mut rng), &docs) {
            parsed += 1;
        }
    }
    // The fragments are syntax-heavy; still, a good share must parse for the round trip to mean something.
    assert!(parsed > 2_000, "only {parsed} random texts parsed");
}

#[test]
fn random_characters_never_panic() {
    let mut rng = Rng(42);
    let alphabet: Vec<char> = "ab1 \t\\\"():[]{}*?+-!^~/&|ATONRé\u{3000}\u{1}".chars().collect();
    let docs = docs();
    for _ in 0..20_000 {
        let n = rng.below(24);
        let text: String = (0..n).map(|_| alphabet[rng.below(alphabet.len())]).collect();
        check(&text, &docs);
    }
}

#[test]
fn every_field_with_every_kind_of_value_binds_exactly_its_placeholders() {
    let fields = ["", "id:", "source:", "display_name:", "metadata.a.b:", "tag_ids:", "unread_count:", "created_at:"];
    let values = [
        "x", "\"x y\"", "\"\"", "\"  \"", "\\ ", "*", "a*", "?", "*a?b*", "[a TO b]", "{a TO *]", "[* TO *]",
        "[1 TO 2}", "1", "\\-1", "\"7\"", "(1 OR x)",
    ];
    let docs = docs();
    let mut parsed = 0;
    for field in fields {
        for value in values {
            for prefix in ["", "-", "x AND ", "NOT "] {
                if check(&format!("{prefix}{field}{value}"), &docs) {
                    parsed += 1;
                }
            }
        }
    }
    assert!(parsed > 300, "{parsed}");
}
