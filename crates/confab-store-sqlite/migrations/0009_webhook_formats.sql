-- Webhook subscriptions of every face: a name (G-Tateth, Airy), and the backoff between attempts:
-- `schedule` (the server-wide --webhook-retry-schedule), `exponential` (2 s, 4 s, 8 s, ...) or
-- `linear` (5 s, 10 s, 15 s, ...), G-Tateth's two strategies. An empty secret means unsigned
-- deliveries (Airy without signature_key). Same text on both engines.
ALTER TABLE webhook_subscriptions ADD COLUMN name TEXT;
ALTER TABLE webhook_subscriptions ADD COLUMN backoff TEXT NOT NULL DEFAULT 'schedule';
