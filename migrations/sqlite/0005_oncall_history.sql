-- On-call history, shift-change and coverage-gap notices, and stored rotation anchors
-- (on-call spec §1.2, §1.3, D13, D16). All instants are UTC unix milliseconds.

-- Who was on call for a schedule, as the engine saw it pass by pass. A row is open
-- (`ended_at` NULL) while the person is on call. The past is read from here, never
-- recomputed from the current config.
CREATE TABLE oncall_history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    schedule_id TEXT    NOT NULL,
    person_id   TEXT    NOT NULL,
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER,
    CHECK (ended_at IS NULL OR started_at <= ended_at)
);
CREATE UNIQUE INDEX oncall_history_open ON oncall_history (schedule_id, person_id)
    WHERE ended_at IS NULL;
CREATE INDEX oncall_history_schedule ON oncall_history (schedule_id, started_at);

-- Schedules whose history has begun: the pass that first records a schedule sends no
-- shift-change notices (a fresh install, or a new schedule, has no handoff to announce).
CREATE TABLE oncall_history_begun (
    schedule_id TEXT    PRIMARY KEY,
    since       INTEGER NOT NULL
);

-- Notices about schedules (not alerts), one row per destination, delivered with retries
-- like pages. `superseded`: a newer shift-change notice to the same (schedule, channel,
-- destination) replaced it before it went out.
CREATE TABLE notices (
    id          TEXT    PRIMARY KEY,
    schedule_id TEXT    NOT NULL,
    kind        TEXT    NOT NULL
        CHECK (kind IN ('shift_started', 'shift_ended', 'coverage_gaps')),
    person_id   TEXT    NOT NULL,
    channel     TEXT    NOT NULL,
    destination TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    data        TEXT    NOT NULL DEFAULT '{}',
    state       TEXT    NOT NULL
        CHECK (state IN ('pending', 'sent', 'failed', 'superseded')),
    due_at      INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    sent_at     INTEGER,
    last_error  TEXT
);
CREATE INDEX notices_due ON notices (due_at) WHERE state = 'pending';
CREATE INDEX notices_destination ON notices (schedule_id, channel, destination)
    WHERE state = 'pending';

-- Coverage gaps already announced (D16), so each is told once.
CREATE TABLE coverage_announced (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    schedule_id  TEXT    NOT NULL,
    gap_start    INTEGER NOT NULL,
    gap_end      INTEGER NOT NULL,
    announced_at INTEGER NOT NULL
);
CREATE INDEX coverage_announced_schedule ON coverage_announced (schedule_id, gap_end);

-- Each rotation's settings as last seen in config and its anchor (D13): an edit is noticed
-- by comparing with these, and re-anchors so whoever is on call stays on call.
CREATE TABLE rotation_state (
    rotation_id     TEXT    PRIMARY KEY,
    kind            TEXT    NOT NULL,
    shift_length    INTEGER NOT NULL,
    start           TEXT    NOT NULL,
    time_zone       TEXT    NOT NULL,
    people          TEXT    NOT NULL,
    advance         TEXT    NOT NULL,
    anchor_at       INTEGER,
    anchor_position INTEGER,
    updated_at      INTEGER NOT NULL
);
