-- Messages, the last message of a conversation, and the channel identities of contacts, on SQLite.
-- Keep in step with confab-store-postgres/migrations/0002_messages.sql.
--
-- `messages` keeps its implicit rowid (no WITHOUT ROWID): the full-text index (FTS5 with external
-- content) refers to messages by rowid.

CREATE TABLE messages (
    id BLOB PRIMARY KEY,
    tenant_id BLOB NOT NULL REFERENCES tenants(id),
    conversation_id BLOB NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    channel_id BLOB REFERENCES channels(id) ON DELETE SET NULL,
    direction TEXT NOT NULL,
    -- The sender as an Actor (kind, id, name), and its kind and id apart for filtering.
    sender TEXT NOT NULL,
    sender_type TEXT NOT NULL,
    sender_id BLOB,
    content TEXT NOT NULL,
    content_type TEXT NOT NULL,
    -- The searchable text of the content.
    text TEXT,
    status TEXT NOT NULL,
    status_history TEXT NOT NULL,
    external_id TEXT,
    metadata TEXT NOT NULL,
    error TEXT,
    created_at INTEGER NOT NULL,
    sent_at INTEGER,
    delivered_at INTEGER,
    read_at INTEGER,
    failed_at INTEGER
);
-- A conversation's messages by cursor, its newest messages, its next-newest after a delete.
CREATE INDEX ix_messages_conversation ON messages(conversation_id, created_at, id);
-- The tenant-wide list, newest or oldest first.
CREATE INDEX ix_messages_tenant_created ON messages(tenant_id, created_at, id);
-- Connectors polling a channel's pending outbound messages (`status=pending&channelId=…`); it also
-- serves the channel's foreign key (a channel delete sets `channel_id` to null).
CREATE INDEX ix_messages_channel_status ON messages(channel_id, status, created_at, id);
-- Inbound de-duplication: a connector's retry with the same external id on the channel is the same
-- message. The name lists its columns so both engines' violations can be recognised.
CREATE UNIQUE INDEX ux_messages_inbound_channel_id_external_id
    ON messages(channel_id, external_id)
    WHERE direction = 'inbound' AND external_id IS NOT NULL;
-- Unread counting: a conversation's inbound messages not yet read.
CREATE INDEX ix_messages_unread ON messages(conversation_id) WHERE direction = 'inbound' AND read_at IS NULL;

-- The newest message of a conversation, joined by the conversation view. No foreign key: the store
-- keeps it (a message delete moves it to the next newest), and a conversation delete cascading to its
-- messages must not have to update the row being deleted.
ALTER TABLE conversations ADD COLUMN last_message_id BLOB;

-- How a channel identifies a contact (the sender `externalId` of inbound messages): one contact per
-- (channel, external id).
CREATE TABLE contact_identities (
    tenant_id BLOB NOT NULL REFERENCES tenants(id),
    channel_id BLOB NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    external_id TEXT NOT NULL,
    contact_id BLOB NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, channel_id, external_id)
);
CREATE INDEX ix_contact_identities_contact ON contact_identities(contact_id);
CREATE INDEX ix_contact_identities_channel ON contact_identities(channel_id);
