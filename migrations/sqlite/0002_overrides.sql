-- Schedule overrides (on-call spec §1.3): runtime state, applied in creation order (id).
-- `add_person` is set for add and replace, `remove_person` for remove and replace.
-- All instants are UTC unix milliseconds.

CREATE TABLE schedule_overrides (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    schedule_id   TEXT    NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind IN ('add', 'remove', 'replace')),
    add_person    TEXT,
    remove_person TEXT,
    start_at      INTEGER NOT NULL,
    end_at        INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    created_by    TEXT,
    CHECK (start_at < end_at),
    CHECK ((kind = 'remove') = (add_person IS NULL)),
    CHECK ((kind = 'add') = (remove_person IS NULL))
);
CREATE INDEX schedule_overrides_schedule ON schedule_overrides (schedule_id, end_at);
