-- PostgreSQL mirror of migrations/sqlite/0004_reopen.sql (issue #8):
-- the same tables, columns and indexes; INTEGER is BIGINT, rowid ids are identity columns.
-- Flapping and out-of-order deliveries (intake spec §3.4, §3.6): a source resolve remembers
-- the state and due time to return to if the alert re-fires within its reopen window, and
-- members remember their group key and when a disputed re-fire was first seen.
ALTER TABLE alerts ADD COLUMN reopen_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN resolved_via TEXT;
ALTER TABLE alerts ADD COLUMN prev_state TEXT;
ALTER TABLE alerts ADD COLUMN paused_next_at BIGINT;
ALTER TABLE alert_members ADD COLUMN group_key TEXT;
ALTER TABLE alert_members ADD COLUMN disputed_since BIGINT;
CREATE INDEX alerts_recent_key ON alerts (integration_id, dedup_key, resolved_at);
CREATE INDEX alert_members_disputed ON alert_members (disputed_since)
    WHERE disputed_since IS NOT NULL;
