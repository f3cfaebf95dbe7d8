-- Webhook subscriptions and their deliveries (the outbox fed from the event log). events and
-- headers are JSON text; cursor_position is the last event position turned into deliveries.
-- Keep in step with PostgreSQL.
CREATE TABLE webhook_subscriptions (
    id BLOB PRIMARY KEY,
    tenant_id BLOB NOT NULL REFERENCES tenants(id),
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    description TEXT,
    headers TEXT NOT NULL,
    secret TEXT NOT NULL,
    status TEXT NOT NULL,
    max_retries INTEGER NOT NULL,
    timeout_secs INTEGER NOT NULL,
    format TEXT NOT NULL,
    cursor_position INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX ix_webhook_subscriptions_tenant ON webhook_subscriptions(tenant_id, created_at, id);
CREATE TABLE webhook_deliveries (
    id BLOB PRIMARY KEY,
    subscription_id BLOB NOT NULL REFERENCES webhook_subscriptions(id) ON DELETE CASCADE,
    tenant_id BLOB NOT NULL,
    event_id BLOB NOT NULL,
    event_position INTEGER NOT NULL,
    event_type TEXT NOT NULL,
    conversation_id BLOB,
    attempts INTEGER NOT NULL,
    status TEXT NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    last_response_status INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX ux_webhook_deliveries_event ON webhook_deliveries(subscription_id, event_id);
CREATE INDEX ix_webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
CREATE INDEX ix_webhook_deliveries_sub ON webhook_deliveries(subscription_id, created_at, id);
