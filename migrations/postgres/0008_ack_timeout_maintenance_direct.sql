-- PostgreSQL mirror of migrations/sqlite/0008_ack_timeout_maintenance_direct.sql (issue #8):
-- the same tables, columns and indexes; INTEGER is BIGINT, rowid ids are identity columns.
-- Ack timeouts, maintenance holds and direct pages (on-call spec D5, D8, D11, §1.4).
-- `ack_timeout_at`: when an acknowledged alert goes back to triggered; armed by the engine
-- from `acked_at` and the service's `ack_timeout`, cleared by a re-trigger or a resolve.
-- `maintenance_until`: the end of the maintenance window holding a triggered alert; while
-- set, `next_escalation_at` stays empty and the engine releases the alert at that instant.
-- `direct_people`: the JSON list of people a direct page targets (service `direct`).
ALTER TABLE alerts ADD COLUMN ack_timeout_at BIGINT;
ALTER TABLE alerts ADD COLUMN maintenance_until BIGINT;
ALTER TABLE alerts ADD COLUMN direct_people TEXT;
CREATE INDEX alerts_ack_timeout ON alerts (ack_timeout_at) WHERE ack_timeout_at IS NOT NULL;
CREATE INDEX alerts_maintenance ON alerts (maintenance_until)
    WHERE maintenance_until IS NOT NULL;
