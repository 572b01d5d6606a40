-- PostgreSQL mirror of migrations/sqlite/0026_retention.sql (issue #8):
-- the same tables, columns and indexes; INTEGER is BIGINT, rowid ids are identity columns.
-- Data retention (issue #8): when the engine's cleanup step is next due. One row; absent
-- until the first run. Persisted so a restart (or a crash loop) does not run the cleanup
-- on every start, and a backlog too big for one run continues a minute later.
-- Always written as id 1, so `id` is a plain key, not an identity column.
CREATE TABLE retention_state (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    next_run_at BIGINT NOT NULL,
    -- Totals since the table was created, for `dutybell backup` and operators' curiosity.
    alerts_deleted  BIGINT NOT NULL DEFAULT 0,
    notices_deleted BIGINT NOT NULL DEFAULT 0
);
