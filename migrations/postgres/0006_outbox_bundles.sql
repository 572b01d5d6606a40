-- PostgreSQL mirror of migrations/sqlite/0006_outbox_bundles.sql (issue #8):
-- the same tables, columns and indexes; INTEGER is BIGINT, rowid ids are identity columns.
-- Bundles and throttles (on-call spec D9, D10). Rows delivered as one message share
-- `message_id` (a single page's is its own id; a bundle's is its oldest row's id), so
-- throttles count messages, not rows, straight from the sent rows: nothing to lose on a
-- restart.
ALTER TABLE outbox ADD COLUMN message_id TEXT;
CREATE INDEX outbox_message ON outbox (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX outbox_sent_destination ON outbox (channel, destination, sent_at)
    WHERE state = 'sent';
CREATE INDEX outbox_sent_kind ON outbox (channel, sent_at) WHERE state = 'sent';
CREATE INDEX outbox_pending_destination ON outbox (channel, destination, due_at)
    WHERE state = 'pending';
