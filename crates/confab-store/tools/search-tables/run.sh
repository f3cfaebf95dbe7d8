#!/bin/sh
# Regenerates the search tables from the SQLite that sqlx bundles (libsqlite3-sys's sqlite3.c):
#   classes.tsv      code point, token char?, continuing diacritic?, fold (from FTS5's own functions)
#   rust_tables.rs   TOKEN_CHARS / DIACRITICS for confab-store/sql/search.rs
#   0003_search.sql  the PostgreSQL migration (functions and indexes)
#   digest.py prints SPLIT_DIGEST (search.rs unit test) and FOLDED_DIGEST (tests/api/search.rs).
set -e
cp ~/.cargo/registry/src/*/libsqlite3-sys-0.30.1/sqlite3/sqlite3.c .
gcc -O1 -w -o gen gen.c -lpthread -lm -ldl
./gen
python3 gen.py
python3 genpg.py
python3 digest.py
