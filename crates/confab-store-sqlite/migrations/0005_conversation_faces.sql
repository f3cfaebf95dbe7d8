-- What the Protocol and G-Tateth faces keep on a conversation. Keep in step with PostgreSQL.
-- inbox_id and group_id point at tables their faces add; they are plain columns here so that each
-- face's migration can own its table.
ALTER TABLE conversations ADD COLUMN inbox_id BLOB;
ALTER TABLE conversations ADD COLUMN group_id BLOB;
ALTER TABLE conversations ADD COLUMN pinned_message_id BLOB;
ALTER TABLE conversations ADD COLUMN is_pinned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN is_muted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN archived_at INTEGER;
CREATE INDEX ix_conversations_inbox ON conversations(tenant_id, inbox_id, updated_at, id);
CREATE INDEX ix_conversations_group ON conversations(tenant_id, group_id, created_at, id);
