-- Webhook subscriptions and their deliveries (the outbox fed from the event log). events and
-- headers are JSON text; cursor_position is the last event position turned into deliveries.
-- Keep in step with SQLite.
CREATE TABLE webhook_subscriptions (
    id UUID PRIMARY KEY,
    tenant_id UUID NOT NULL REFERENCES tenants(id),
    url TEXT NOT NULL,
    events JSONB NOT NULL,
    description TEXT,
    headers JSONB NOT NULL,
    secret TEXT NOT NULL,
    status TEXT NOT NULL,
    max_retries BIGINT NOT NULL,
    timeout_secs BIGINT NOT NULL,
    format TEXT NOT NULL,
    cursor_position BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX ix_webhook_subscriptions_tenant ON webhook_subscriptions(tenant_id, created_at, id);
CREATE TABLE webhook_deliveries (
    id UUID PRIMARY KEY,
    subscription_id UUID NOT NULL REFERENCES webhook_subscriptions(id) ON DELETE CASCADE,
    tenant_id UUID NOT NULL,
    event_id UUID NOT NULL,
    event_position BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    conversation_id UUID,
    attempts BIGINT NOT NULL,
    status TEXT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_response_status BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_webhook_deliveries_event ON webhook_deliveries(subscription_id, event_id);
CREATE INDEX ix_webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
CREATE INDEX ix_webhook_deliveries_sub ON webhook_deliveries(subscription_id, created_at, id);
