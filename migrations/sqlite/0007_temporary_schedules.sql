-- Temporary schedules (on-call spec §1.3): runtime state. While one covers an instant, the
-- schedule's on-call set is exactly its shifts at that instant. `shifts` is JSON:
-- [{"person": "ana", "start": <ms>, "end": <ms>} | {"person", "start", "length_s": <s>}].
CREATE TABLE temporary_schedules (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    schedule_id TEXT    NOT NULL,
    start_at    INTEGER NOT NULL,
    end_at      INTEGER NOT NULL,
    shifts      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    created_by  TEXT,
    CHECK (start_at < end_at)
);
CREATE INDEX temporary_schedules_schedule ON temporary_schedules (schedule_id, end_at);
