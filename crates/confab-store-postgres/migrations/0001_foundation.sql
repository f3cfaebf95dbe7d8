-- Confab's foundation schema on PostgreSQL. Keep in step with confab-store-sqlite/migrations.
-- Ids are UUID v7; instants are BIGINT microseconds since the epoch (as on SQLite, so both engines
-- sort and compare alike); JSON is JSONB.

CREATE TABLE tenants (
    id UUID PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id UUID PRIMARY KEY,
    tenant_id UUID NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    email TEXT,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_users_email ON users(tenant_id, email);
CREATE INDEX ix_users_name ON users(tenant_id, name);
CREATE INDEX ix_users_created ON users(tenant_id, created_at, id);

CREATE TABLE api_keys (
    id UUID PRIMARY KEY,
    tenant_id UUID NOT NULL REFERENCES tenants(id),
    user_id UUID NOT NULL REFERENCES users(id),
    prefix TEXT NOT NULL,
    hash BYTEA NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE bots (
    id UUID PRIMARY KEY,
    tenant_id UUID NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    config JSONB NOT NULL,
    metadata JSONB NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX ix_bots_created ON bots(tenant_id, created_at, id);

CREATE TABLE channels (
    id UUID PRIMARY KEY,
    tenant_id UUID NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    channel_type TEXT NOT NULL,
    status TEXT NOT NULL,
    config JSONB NOT NULL,
    default_bot_id UUID REFERENCES bots(id) ON DELETE SET NULL,
    metadata JSONB NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX ix_channels_created ON channels(tenant_id, created_at, id);
CREATE INDEX ix_channels_default_bot ON channels(default_bot_id);

CREATE TABLE contacts (
    id UUID PRIMARY KEY,
    tenant_id UUID NOT NULL REFERENCES tenants(id),
    name TEXT,
    first_name TEXT,
    last_name TEXT,
    username TEXT,
    display_name TEXT,
    phone TEXT,
    email TEXT,
    avatar_url TEXT,
    company TEXT,
    job_title TEXT,
    tier TEXT,
    status TEXT,
    tags JSONB NOT NULL,
    metadata JSONB NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_contacts_phone ON contacts(tenant_id, phone);
CREATE UNIQUE INDEX ux_contacts_email ON contacts(tenant_id, email);
CREATE INDEX ix_contacts_created ON contacts(tenant_id, created_at, id);
CREATE INDEX ix_contacts_name ON contacts(tenant_id, name);

CREATE TABLE tags (
    id UUID PRIMARY KEY,
    tenant_id UUID NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    color TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_tags_name ON tags(tenant_id, name);

CREATE TABLE conversations (
    id UUID PRIMARY KEY,
    tenant_id UUID NOT NULL REFERENCES tenants(id),
    channel_id UUID REFERENCES channels(id) ON DELETE SET NULL,
    channel_type TEXT,
    contact_id UUID REFERENCES contacts(id) ON DELETE SET NULL,
    subject TEXT,
    status TEXT NOT NULL,
    snoozed_until BIGINT,
    priority BIGINT NOT NULL,
    assignee_type TEXT,
    assignee_id UUID,
    bot_id UUID REFERENCES bots(id) ON DELETE SET NULL,
    metadata JSONB NOT NULL,
    message_count BIGINT NOT NULL DEFAULT 0,
    unread_count BIGINT NOT NULL DEFAULT 0,
    first_message_at BIGINT,
    last_message_at BIGINT,
    closed_at BIGINT,
    closed_by JSONB,
    resolution TEXT,
    closure_reason TEXT,
    reopened_at BIGINT,
    reopened_by JSONB,
    assigned_at BIGINT,
    assigned_by JSONB,
    transferred_at BIGINT,
    transferred_by JSONB,
    source TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- The one-active-conversation rule: at most one open, pending or snoozed conversation per
-- (contact, channel). The name lists its columns so both engines' violations can be recognised.
CREATE UNIQUE INDEX ux_conversations_active_contact_id_channel_id
    ON conversations(tenant_id, contact_id, channel_id)
    WHERE status <> 'closed' AND contact_id IS NOT NULL AND channel_id IS NOT NULL;
-- Every sort of the list, and every filter combined with the default sort.
CREATE INDEX ix_conversations_updated ON conversations(tenant_id, updated_at, id);
CREATE INDEX ix_conversations_created ON conversations(tenant_id, created_at, id);
CREATE INDEX ix_conversations_last_message ON conversations(tenant_id, last_message_at, id);
-- Newest last message first with conversations without messages last (PostgreSQL puts NULLs first
-- in a backward scan of the index above; SQLite's order already matches).
CREATE INDEX ix_conversations_last_message_desc ON conversations(tenant_id, last_message_at DESC NULLS LAST, id DESC);
CREATE INDEX ix_conversations_priority ON conversations(tenant_id, priority, id);
CREATE INDEX ix_conversations_status ON conversations(tenant_id, status, updated_at, id);
CREATE INDEX ix_conversations_channel ON conversations(tenant_id, channel_id, updated_at, id);
CREATE INDEX ix_conversations_channel_type ON conversations(tenant_id, channel_type, updated_at, id);
CREATE INDEX ix_conversations_assignee ON conversations(tenant_id, assignee_id, updated_at, id);
CREATE INDEX ix_conversations_contact ON conversations(tenant_id, contact_id, updated_at, id);
CREATE INDEX ix_conversations_bot ON conversations(tenant_id, bot_id, updated_at, id);
CREATE INDEX ix_conversations_snoozed ON conversations(snoozed_until) WHERE status = 'snoozed';

CREATE TABLE conversation_tags (
    conversation_id UUID NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    tag_id UUID NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, tag_id)
);
CREATE INDEX ix_conversation_tags_tag ON conversation_tags(tag_id, conversation_id);

CREATE TABLE conversation_participants (
    conversation_id UUID NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    participant_type TEXT NOT NULL,
    participant_id UUID NOT NULL,
    joined_at BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, participant_type, participant_id)
);

CREATE TABLE notes (
    id UUID PRIMARY KEY,
    tenant_id UUID NOT NULL REFERENCES tenants(id),
    conversation_id UUID NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    author JSONB NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX ix_notes_conversation ON notes(conversation_id, created_at, id);

-- The event log. Concurrent transactions commit out of sequence order, so the position is not given
-- at insert: the relay gives positions to events whose transaction lies below every running
-- transaction's id (the xid watermark), in one batch at a time, so positions follow commit order.
-- Events have no foreign keys: they outlive what they describe.
CREATE TABLE events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id UUID NOT NULL UNIQUE,
    position BIGINT UNIQUE,
    tenant_id UUID NOT NULL,
    event_type TEXT NOT NULL,
    subject_id UUID NOT NULL,
    conversation_id UUID,
    actor JSONB NOT NULL,
    snapshot JSONB NOT NULL,
    data JSONB NOT NULL,
    created_at BIGINT NOT NULL,
    xid XID8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX ix_events_unpositioned ON events(seq) WHERE position IS NULL;
CREATE INDEX ix_events_conversation ON events(tenant_id, conversation_id, seq);
CREATE INDEX ix_events_tenant_position ON events(tenant_id, position);

CREATE TABLE idempotency_keys (
    api_key_id UUID NOT NULL,
    key TEXT NOT NULL,
    fingerprint BYTEA NOT NULL,
    completed BOOLEAN NOT NULL DEFAULT FALSE,
    response_status INTEGER,
    response_body BYTEA,
    content_type TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (api_key_id, key)
);
CREATE INDEX ix_idempotency_created ON idempotency_keys(created_at);
