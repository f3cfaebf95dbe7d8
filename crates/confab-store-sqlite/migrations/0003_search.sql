-- Full-text search on SQLite: FTS5 indexes of contact names and message text. Keep in step with
-- confab-store-postgres/migrations/0003_search.sql, which splits and folds words exactly like the
-- tokenizer below (semantics: confab-store/sql/search.rs).
--
-- Both are external-content tables: the text stays in `contacts` and `messages`, the index refers
-- to rows by rowid and is kept in step by the triggers (the standard FTS5 recipe: a change removes
-- the old words with the 'delete' command, which needs the old values, then adds the new ones).
-- `unicode61` with `remove_diacritics 0`: case-insensitive, accents significant, as on PostgreSQL.
--
-- Neither table has an INTEGER PRIMARY KEY, so their rowids are not guaranteed to survive a VACUUM:
-- after one, run `INSERT INTO contacts_fts(contacts_fts) VALUES('rebuild')` and the same for
-- `messages_fts`.

CREATE VIRTUAL TABLE contacts_fts USING fts5(
    name, display_name,
    content = 'contacts', content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 0'
);
INSERT INTO contacts_fts(contacts_fts) VALUES ('rebuild');

CREATE TRIGGER contacts_fts_insert AFTER INSERT ON contacts BEGIN
    INSERT INTO contacts_fts(rowid, name, display_name) VALUES (new.rowid, new.name, new.display_name);
END;
CREATE TRIGGER contacts_fts_delete AFTER DELETE ON contacts BEGIN
    INSERT INTO contacts_fts(contacts_fts, rowid, name, display_name)
        VALUES ('delete', old.rowid, old.name, old.display_name);
END;
-- Every contact update sets every column: only a changed name or display name touches the index.
CREATE TRIGGER contacts_fts_update AFTER UPDATE OF name, display_name ON contacts
WHEN old.name IS NOT new.name OR old.display_name IS NOT new.display_name BEGIN
    INSERT INTO contacts_fts(contacts_fts, rowid, name, display_name)
        VALUES ('delete', old.rowid, old.name, old.display_name);
    INSERT INTO contacts_fts(rowid, name, display_name) VALUES (new.rowid, new.name, new.display_name);
END;

CREATE VIRTUAL TABLE messages_fts USING fts5(
    text,
    content = 'messages', content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 0'
);
INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts(rowid, text) VALUES (new.rowid, new.text);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
END;
-- Status reports and reads update messages often: only a changed text touches the index.
CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages
WHEN old.text IS NOT new.text BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
    INSERT INTO messages_fts(rowid, text) VALUES (new.rowid, new.text);
END;
