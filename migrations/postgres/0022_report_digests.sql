-- PostgreSQL mirror of migrations/sqlite/0022_report_digests.sql (issue #8):
-- the same tables, columns and indexes; INTEGER is BIGINT, rowid ids are identity columns.
-- Weekly alert-hygiene digests (comms spec §7, issue #6): one row per (slot, person) once
-- their digest is queued on the notice outbox, so a restart never sends a week twice.
-- `slot` is the Monday 09:00 (instance zone) the digest belongs to, UTC unix milliseconds.
CREATE TABLE report_digests (
    slot      BIGINT  NOT NULL,
    person_id TEXT    NOT NULL,
    queued_at BIGINT  NOT NULL,
    PRIMARY KEY (slot, person_id)
);
