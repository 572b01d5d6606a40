-- PostgreSQL mirror of migrations/sqlite/0011_open_alert_cap_index.sql (issue #8):
-- the same tables, columns and indexes; INTEGER is BIGINT, rowid ids are identity columns.
-- The open-alert cap counts a service's triggered alerts on every new alert (D10); without
-- this index the count walks every triggered alert of every service, growing with a storm.
CREATE INDEX alerts_triggered_service ON alerts (service_id) WHERE state = 'triggered';
