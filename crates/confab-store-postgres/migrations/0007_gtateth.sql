-- G-Tateth inboxes: named queues conversations belong to (conversations.inbox_id, since 0005).
-- name_key is the lower-cased name: names are unique per tenant regardless of case. Keep in step
-- with SQLite.
CREATE TABLE inboxes (
    id UUID PRIMARY KEY,
    tenant_id UUID NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    description TEXT,
    channel TEXT,
    is_active BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_inboxes_name_key ON inboxes(tenant_id, name_key);
CREATE INDEX ix_inboxes_created ON inboxes(tenant_id, created_at, id);
