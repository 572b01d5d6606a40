-- Data retention (issue #8): when the engine's cleanup step is next due. One row; absent
-- until the first run. Persisted so a restart (or a crash loop) does not run the cleanup
-- on every start, and a backlog too big for one run continues a minute later.
CREATE TABLE retention_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    next_run_at INTEGER NOT NULL,
    -- Totals since the table was created, for `dutybell backup` and operators' curiosity.
    alerts_deleted  INTEGER NOT NULL DEFAULT 0,
    notices_deleted INTEGER NOT NULL DEFAULT 0
);
