-- What the Protocol face (/protocol/v1) adds, on PostgreSQL. Keep in step with SQLite.

-- Groups of contacts; each has one conversation (conversations.group_id, unique below).
CREATE TABLE contact_groups (
    id UUID PRIMARY KEY,
    tenant_id UUID NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    description TEXT,
    avatar_url TEXT,
    archived_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX ix_groups_tenant_created ON contact_groups(tenant_id, created_at, id);

CREATE TABLE group_members (
    group_id UUID NOT NULL REFERENCES contact_groups(id) ON DELETE CASCADE,
    contact_id UUID NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
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
    id UUID PRIMARY KEY,
    tenant_id UUID NOT NULL REFERENCES tenants(id),
    message_id UUID REFERENCES messages(id) ON DELETE CASCADE,
    conversation_id UUID,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    data BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX ix_attachments_tenant_created ON attachments(tenant_id, created_at, id);
CREATE INDEX ix_attachments_message ON attachments(message_id);
CREATE INDEX ix_attachments_conversation ON attachments(conversation_id, created_at, id);

-- Protocol reactions ({emoji: [usernames]}) and the time a message's text, reactions or attachments
-- were last changed through PUT.
ALTER TABLE messages ADD COLUMN reactions JSONB NOT NULL DEFAULT '{}';
ALTER TABLE messages ADD COLUMN edited_at BIGINT;

-- When each user last opened (retrieved) a conversation: Protocol's per-user last_opened_at.
CREATE TABLE conversation_reads (
    conversation_id UUID NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    opened_at BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
);
