A=set(); D=set(); F={}
for line in open('classes.tsv'):
    c,a,d,f=map(int,line.split())
    if a: A.add(c)
    elif d: D.add(c)
    if (a or d) and f!=c: F[c]=f
def ranges(s):
    r=[]
    for c in sorted(s):
        if r and r[-1][1]==c-1: r[-1][1]=c
        else: r.append([c,c])
    return r
def rx(c): return '\\u%04X' % c if c <= 0xFFFF else '\\U%08X' % c
def cls(rs): return ''.join(rx(a) if a==b else rx(a)+'-'+rx(b) for a,b in rs)
def ue(c): return '\\%04X' % c if c <= 0xFFFF else '\\+%06X' % c
allcp=set(c for c in range(1,0x110000) if not 0xD800<=c<=0xDFFF)
notA = ranges(allcp - A)
notC = ranges(allcp - A - D)
token_re = '[^' + cls(notA) + '][^' + cls(notC) + ']*'
src = sorted(c for c in F if c >= 128)
upper_re = '[' + cls(ranges(src)) + ']'
def lit(cs, target=False):
    return "U&'" + ''.join(ue(F[c] if target else c) for c in cs) + "'"
groups = [
    ('Latin', [(0x80, 0x2FF), (0x1E00, 0x1EFF)]),
    ('Greek', [(0x370, 0x3FF), (0x1F00, 0x1FFF)]),
    ('Cyrillic and Armenian', [(0x400, 0x58F)]),
]
W = 'w'
cases = []
for name, rs in groups:
    cs = [c for c in src if any(a <= c <= b for a, b in rs)]
    only = '^[\\u0001-\\u007F' + ''.join(rx(a) + '-' + rx(b) for a, b in rs) + ']*$'
    cases.append(f"        -- {name} (and ASCII) only: {len(cs)} pairs.\n"
                 f"        WHEN {W} ~ '{only}' THEN translate(lower({W} COLLATE \"C\"),\n"
                 f"            {lit(cs)},\n            {lit(cs, True)})\n")
fold = (f"CASE\n"
        f"        -- ASCII, or no character that folds to another: ASCII folding only.\n"
        f"        WHEN octet_length({W}) = char_length({W}) OR {W} !~ '{upper_re}' THEN lower({W} COLLATE \"C\")\n"
        + ''.join(cases) +
        f"        -- Anything else: all {len(src)} pairs.\n"
        f"        ELSE translate(lower({W} COLLATE \"C\"),\n            {lit(src)},\n            {lit(src, True)})\n"
        f"    END")
sql = f"""-- Full-text search on PostgreSQL: GIN indexes of contact names and message text. Keep in step
-- with confab-store-sqlite/migrations/0003_search.sql (semantics: confab-store/sql/search.rs).
--
-- Words are found exactly as SQLite's FTS5 `unicode61` tokenizer (remove_diacritics 0) finds them,
-- not by PostgreSQL's text-search parser: that parser keeps e-mails, URLs, host names, hyphenated
-- words and decimals whole, drops HTML-like tags, and classifies and lower-cases letters by the
-- database's locale (ASCII only under `C`), so the two engines would answer differently. Instead:
--
-- - `confab_search_vector(text)`: the words of a text as a `tsvector` (no positions). A word is a
--   token character followed by token characters or continuing diacritics: the regular
--   expression's two negated classes list every code point that is not one, as `unicode61`'s
--   tables say (generated from SQLite 3.46's fts5_unicode2.c, with U+FFFE and U+FFFF separators as
--   FTS5 reads them as U+FFFD). Each word is cut to its first 255 characters (a lexeme may not
--   exceed 2047 bytes; queries cut words alike) and case-folded with the tokenizer's own table:
--   ASCII by `lower(… COLLATE "C")`, the rest by `translate` with the tokenizer's pairs, only for
--   words that contain a character that folds, with the pairs of their script when they are of one.
--   Nothing depends on a locale, a collation or ICU, so the function is immutable for real and can
--   be indexed, and it only calls pg_catalog functions, so that an index rebuilt by a restore
--   (empty search_path) computes the same vectors.
-- - `confab_search_prefix(word)`: the query `'<folded word>':*`, a prefix match. The store only
--   passes words of one token (no quote, colon or backslash), as bound parameters; anything else
--   (no word, several) gives NULL, which matches nothing.
--
-- COST 1000: a call takes some 30 to 60 µs for a chat message (several times `to_tsvector`), so
-- that the planner prefers the indexes to calling it on every row of a scan.
--
-- A query must use the indexed expression itself, `confab_search_vector(<column>)`, for an index to
-- serve it (the store's dialect.rs does). tests/api/search.rs checks, on every code point, that
-- these functions give the words FTS5 gives.

CREATE FUNCTION confab_search_vector(t text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE COST 1000 AS $fn$
SELECT array_to_tsvector(ARRAY(
    SELECT DISTINCT {fold}
    FROM regexp_matches(coalesce(t, ''),
        '{token_re}',
        'g') AS r(m), left(r.m[1], 255) AS {W}))
$fn$;

CREATE FUNCTION confab_search_prefix(w text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
SELECT CASE WHEN length(v) = 1 THEN CAST('''' || (tsvector_to_array(v))[1] || ''':*' AS tsquery) END
FROM confab_search_vector(w) AS v
$fn$;

-- Contacts by name (conversation and contact search) and display name (contact search).
CREATE INDEX ix_contacts_search_name ON contacts USING gin (confab_search_vector(name));
CREATE INDEX ix_contacts_search_display_name ON contacts USING gin (confab_search_vector(display_name));
-- Messages by text (conversation and message search).
CREATE INDEX ix_messages_search ON messages USING gin (confab_search_vector(text));
"""
open('0003_search.sql','w').write(sql)
