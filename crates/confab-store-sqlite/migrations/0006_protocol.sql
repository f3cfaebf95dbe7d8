-- What the Protocol face (/protocol/v1) adds, on SQLite. Keep in step with PostgreSQL.

-- Groups of contacts; each has one conversation (conversations.group_id, unique below).
CREATE TABLE contact_groups (
    id BLOB PRIMARY KEY,
    tenant_id BLOB NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    description TEXT,
    avatar_url TEXT,
    archived_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX ix_groups_tenant_created ON contact_groups(tenant_id, created_at, id);

CREATE TABLE group_members (
    group_id BLOB NOT NULL REFERENCES contact_groups(id) ON DELETE CASCADE,
    contact_id BLOB NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    PRIMARY KEY (group_id, contact_id)
);
CREATE INDEX ix_group_members_contact ON group_members(contact_id);

-- One conversation per group, and one Protocol (channel-less) conversation per contact.
CREATE UNIQUE INDEX ux_conversations_group_id ON conversations(tenant_id, group_id) WHERE group_id IS NOT NULL;
CREATE UNIQUE INDEX ux_conversations_protocol_contact_id
    ON conversations(tenant_id, contact_id) WHERE source = 'protocol' AND contact_id IS NOT NULL AND group_id IS NULL;
CREATE INDEX ix_conversations_tenant_created ON conversations(tenant_id, created_at, id);

-- Files uploaded through POST /protocol/v1/attachments, stored in the database. An attachment is
-- unattached until a message refers to it; it goes with its message.
CREATE TABLE attachments (
    id BLOB PRIMARY KEY,
    tenant_id BLOB NOT NULL REFERENCES tenants(id),
    message_id BLOB REFERENCES messages(id) ON DELETE CASCADE,
    conversation_id BLOB,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    data BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX ix_attachments_tenant_created ON attachments(tenant_id, created_at, id);
CREATE INDEX ix_attachments_message ON attachments(message_id);
CREATE INDEX ix_attachments_conversation ON attachments(conversation_id, created_at, id);

-- Protocol reactions ({emoji: [usernames]}) and the time a message's text, reactions or attachments
-- were last changed through PUT.
ALTER TABLE messages ADD COLUMN reactions TEXT NOT NULL DEFAULT '{}';
ALTER TABLE messages ADD COLUMN edited_at INTEGER;

-- When each user last opened (retrieved) a conversation: Protocol's per-user last_opened_at.
CREATE TABLE conversation_reads (
    conversation_id BLOB NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    opened_at INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
);
