-- What a delivery is ordered by within its subscription: the event's conversation, or, for an
-- event of no conversation (a contact, a channel, a bot, a user, a tag), its subject: a contact's
-- updated waits for its created like a conversation's events wait for each other. Test deliveries
-- have none. The partial index of 0010 is replaced by one on the key. Keep in step with
-- PostgreSQL.
ALTER TABLE webhook_deliveries ADD COLUMN order_key BLOB;
UPDATE webhook_deliveries SET order_key = conversation_id;
DROP INDEX ix_webhook_deliveries_pending_order;
CREATE INDEX ix_webhook_deliveries_pending_order_key
    ON webhook_deliveries(subscription_id, order_key, event_position) WHERE status = 'pending';
