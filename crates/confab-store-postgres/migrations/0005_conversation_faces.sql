-- What the Protocol and G-Tateth faces keep on a conversation. Keep in step with SQLite.
-- inbox_id and group_id point at tables their faces add; they are plain columns here so that each
-- face's migration can own its table.
ALTER TABLE conversations ADD COLUMN inbox_id UUID;
ALTER TABLE conversations ADD COLUMN group_id UUID;
ALTER TABLE conversations ADD COLUMN pinned_message_id UUID;
ALTER TABLE conversations ADD COLUMN is_pinned BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE conversations ADD COLUMN is_muted BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE conversations ADD COLUMN archived_at BIGINT;
CREATE INDEX ix_conversations_inbox ON conversations(tenant_id, inbox_id, updated_at, id);
CREATE INDEX ix_conversations_group ON conversations(tenant_id, group_id, created_at, id);
