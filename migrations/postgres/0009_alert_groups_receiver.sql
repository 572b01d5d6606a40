-- PostgreSQL mirror of migrations/sqlite/0009_alert_groups_receiver.sql (issue #8):
-- the same tables, columns and indexes; INTEGER is BIGINT, rowid ids are identity columns.
-- Intake G4 and IN-08 (intake spec §3.4, §5).
-- `alert_groups`: a group (integration, dedup key of receiver + groupKey) attached to an
-- open alert it shares an occurrence with; its deliveries then act on that alert.
-- `alerts.receiver`: the group's receiver with Alertmanager's regex escaping undone, for
-- display only; the dedup key keeps the received string.
CREATE TABLE alert_groups (
    integration_id TEXT    NOT NULL,
    group_key      TEXT    NOT NULL,
    alert_id       BIGINT  NOT NULL REFERENCES alerts (id),
    attached_at    BIGINT  NOT NULL,
    PRIMARY KEY (integration_id, group_key, alert_id)
);
CREATE INDEX alert_groups_alert ON alert_groups (alert_id);
ALTER TABLE alerts ADD COLUMN receiver TEXT;
