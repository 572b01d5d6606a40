-- PostgreSQL mirror of migrations/sqlite/0017_postmortems.sql (issue #8):
-- the same tables, columns and indexes; INTEGER is BIGINT, rowid ids are identity columns.
-- Postmortems and action items (comms spec §6, issue #6). One postmortem per incident; its
-- text is the JSON of `domain::postmortem::Document`. `reminders_sent` is the index of the
-- next reminder slot (the schedule is computed from it), `next_reminder_at` its instant
-- (NULL once published, skipped or reopened). `exported_hash` is the SHA-256 of the last
-- file exported or imported, so an export never overwrites a file edited since.
CREATE TABLE postmortems (
    incident_id TEXT PRIMARY KEY REFERENCES incidents (id),
    status TEXT NOT NULL,
    owner TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    document TEXT NOT NULL,
    skip_reason TEXT,
    reminders_sent BIGINT NOT NULL DEFAULT 0,
    next_reminder_at BIGINT,
    exported_hash TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    closed_at BIGINT
);
CREATE INDEX postmortems_next_reminder ON postmortems (next_reminder_at);

-- Action items (§6.4): `due` is a civil date (YYYY-MM-DD) in the owner's zone. Reminders
-- follow the same counter + next instant pattern; `next_reminder_at` is NULL while the item
-- has no owner or due date, and once it is done or won't be done.
CREATE TABLE action_items (
    id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    position BIGINT NOT NULL,
    title TEXT NOT NULL,
    owner TEXT,
    due TEXT,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    ticket_url TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    completed_at BIGINT,
    reminders_sent BIGINT NOT NULL DEFAULT 0,
    next_reminder_at BIGINT
);
CREATE INDEX action_items_incident ON action_items (incident_id, position);
CREATE INDEX action_items_next_reminder ON action_items (next_reminder_at);
