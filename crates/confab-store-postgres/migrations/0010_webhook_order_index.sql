-- The sender's claim asks, for each due delivery, whether an earlier event of the same
-- (subscription, conversation) is still pending: this partial index answers it without reading a
-- subscription's whole delivery log (which only grows). Same text on both engines.
CREATE INDEX ix_webhook_deliveries_pending_order
    ON webhook_deliveries(subscription_id, conversation_id, event_position) WHERE status = 'pending';
