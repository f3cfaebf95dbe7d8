-- Confab's foundation schema on SQLite. Keep in step with confab-store-postgres/migrations.
-- Ids are UUID v7 as 16-byte BLOBs; instants are INTEGER microseconds since the epoch; JSON is TEXT.

CREATE TABLE tenants (
    id BLOB PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE users (
    id BLOB PRIMARY KEY,
    tenant_id BLOB NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    email TEXT,
    role TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX ux_users_email ON users(tenant_id, email);
CREATE INDEX ix_users_name ON users(tenant_id, name);
CREATE INDEX ix_users_created ON users(tenant_id, created_at, id);

CREATE TABLE api_keys (
    id BLOB PRIMARY KEY,
    tenant_id BLOB NOT NULL REFERENCES tenants(id),
    user_id BLOB NOT NULL REFERENCES users(id),
    prefix TEXT NOT NULL,
    hash BLOB NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE TABLE bots (
    id BLOB PRIMARY KEY,
    tenant_id BLOB NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    active INTEGER NOT NULL,
    config TEXT NOT NULL,
    metadata TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX ix_bots_created ON bots(tenant_id, created_at, id);

CREATE TABLE channels (
    id BLOB PRIMARY KEY,
    tenant_id BLOB NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    channel_type TEXT NOT NULL,
    status TEXT NOT NULL,
    config TEXT NOT NULL,
    default_bot_id BLOB REFERENCES bots(id) ON DELETE SET NULL,
    metadata TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX ix_channels_created ON channels(tenant_id, created_at, id);
CREATE INDEX ix_channels_default_bot ON channels(default_bot_id);

CREATE TABLE contacts (
    id BLOB PRIMARY KEY,
    tenant_id BLOB NOT NULL REFERENCES tenants(id),
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
    tags TEXT NOT NULL,
    metadata TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX ux_contacts_phone ON contacts(tenant_id, phone);
CREATE UNIQUE INDEX ux_contacts_email ON contacts(tenant_id, email);
CREATE INDEX ix_contacts_created ON contacts(tenant_id, created_at, id);
CREATE INDEX ix_contacts_name ON contacts(tenant_id, name);

CREATE TABLE tags (
    id BLOB PRIMARY KEY,
    tenant_id BLOB NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    color TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX ux_tags_name ON tags(tenant_id, name);

CREATE TABLE conversations (
    id BLOB PRIMARY KEY,
    tenant_id BLOB NOT NULL REFERENCES tenants(id),
    channel_id BLOB REFERENCES channels(id) ON DELETE SET NULL,
    channel_type TEXT,
    contact_id BLOB REFERENCES contacts(id) ON DELETE SET NULL,
    subject TEXT,
    status TEXT NOT NULL,
    snoozed_until INTEGER,
    priority INTEGER NOT NULL,
    assignee_type TEXT,
    assignee_id BLOB,
    bot_id BLOB REFERENCES bots(id) ON DELETE SET NULL,
    metadata TEXT NOT NULL,
    message_count INTEGER NOT NULL DEFAULT 0,
    unread_count INTEGER NOT NULL DEFAULT 0,
    first_message_at INTEGER,
    last_message_at INTEGER,
    closed_at INTEGER,
    closed_by TEXT,
    resolution TEXT,
    closure_reason TEXT,
    reopened_at INTEGER,
    reopened_by TEXT,
    assigned_at INTEGER,
    assigned_by TEXT,
    transferred_at INTEGER,
    transferred_by TEXT,
    source TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
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
CREATE INDEX ix_conversations_priority ON conversations(tenant_id, priority, id);
CREATE INDEX ix_conversations_status ON conversations(tenant_id, status, updated_at, id);
CREATE INDEX ix_conversations_channel ON conversations(tenant_id, channel_id, updated_at, id);
CREATE INDEX ix_conversations_channel_type ON conversations(tenant_id, channel_type, updated_at, id);
CREATE INDEX ix_conversations_assignee ON conversations(tenant_id, assignee_id, updated_at, id);
CREATE INDEX ix_conversations_contact ON conversations(tenant_id, contact_id, updated_at, id);
CREATE INDEX ix_conversations_bot ON conversations(tenant_id, bot_id, updated_at, id);
CREATE INDEX ix_conversations_snoozed ON conversations(snoozed_until) WHERE status = 'snoozed';

CREATE TABLE conversation_tags (
    conversation_id BLOB NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    tag_id BLOB NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, tag_id)
);
CREATE INDEX ix_conversation_tags_tag ON conversation_tags(tag_id, conversation_id);

CREATE TABLE conversation_participants (
    conversation_id BLOB NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    participant_type TEXT NOT NULL,
    participant_id BLOB NOT NULL,
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, participant_type, participant_id)
);

CREATE TABLE notes (
    id BLOB PRIMARY KEY,
    tenant_id BLOB NOT NULL REFERENCES tenants(id),
    conversation_id BLOB NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    author TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX ix_notes_conversation ON notes(conversation_id, created_at, id);

-- The event log. On SQLite the single writer commits in insert order, so the position is given at
-- insert. Events have no foreign keys: they outlive what they describe.
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id BLOB NOT NULL UNIQUE,
    position INTEGER UNIQUE,
    tenant_id BLOB NOT NULL,
    event_type TEXT NOT NULL,
    subject_id BLOB NOT NULL,
    conversation_id BLOB,
    actor TEXT NOT NULL,
    snapshot TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX ix_events_conversation ON events(tenant_id, conversation_id, seq);
CREATE INDEX ix_events_tenant_position ON events(tenant_id, position);

CREATE TABLE idempotency_keys (
    api_key_id BLOB NOT NULL,
    key TEXT NOT NULL,
    fingerprint BLOB NOT NULL,
    completed INTEGER NOT NULL DEFAULT 0,
    response_status INTEGER,
    response_body BLOB,
    content_type TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (api_key_id, key)
);
CREATE INDEX ix_idempotency_created ON idempotency_keys(created_at);
