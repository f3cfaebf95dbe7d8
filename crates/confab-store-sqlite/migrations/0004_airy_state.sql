-- Airy's custom conversation state (`conversations.set-state` with anything but OPEN or CLOSED):
-- a label kept beside the status, shown by the Airy face as `metadata.state`; NULL when none.
-- `OPEN`/`CLOSED` and `remove-state` clear it. Keep in step with the other engine's 0004.
ALTER TABLE conversations ADD COLUMN state_label TEXT;
