-- Incidents (comms spec §1): one row per incident, an append-only timeline, and the alerts
-- attached to it. `seq` orders the timeline globally so consumers (the Slack announcer,
-- the status-page notifier) keep a cursor; `id` is the event's ULID.
CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    number INTEGER NOT NULL UNIQUE,
    title TEXT NOT NULL,
    severity INTEGER NOT NULL,
    status TEXT NOT NULL,
    summary TEXT NOT NULL DEFAULT '',
    impact TEXT NOT NULL DEFAULT '',
    commander TEXT NOT NULL,
    comms_lead TEXT,
    services TEXT NOT NULL DEFAULT '[]',
    source TEXT NOT NULL,
    test INTEGER NOT NULL DEFAULT 0,
    declared_by TEXT NOT NULL,
    public_incident_id TEXT,
    related_to TEXT,
    started_at INTEGER NOT NULL,
    detected_at INTEGER NOT NULL,
    declared_at INTEGER NOT NULL,
    acknowledged_at INTEGER,
    identified_at INTEGER,
    mitigated_at INTEGER,
    resolved_at INTEGER,
    closed_at INTEGER,
    -- Newest update.posted / status.changed / statuspage.* (or the declaration): the
    -- update-reminder clock (§1.6) runs from here.
    last_update_at INTEGER NOT NULL,
    -- When the next update reminder is due; NULL when none is (P3, resolved).
    reminder_due_at INTEGER,
    -- When the status-page prompt is due; NULL once sent, published, or not wanted.
    publish_prompt_at INTEGER
);
CREATE INDEX incidents_open ON incidents (status) WHERE status NOT IN ('resolved', 'closed');
CREATE INDEX incidents_reminder ON incidents (reminder_due_at)
    WHERE reminder_due_at IS NOT NULL;
CREATE INDEX incidents_prompt ON incidents (publish_prompt_at)
    WHERE publish_prompt_at IS NOT NULL;

CREATE TABLE incident_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    kind TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    source TEXT NOT NULL,
    entry_tz TEXT,
    key INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX incident_events_timeline ON incident_events (incident_id, occurred_at, recorded_at);

CREATE TABLE incident_alerts (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    attached_at INTEGER NOT NULL,
    -- `attached` (promoted or linked) or `page` (opened to page responders).
    role TEXT NOT NULL,
    PRIMARY KEY (incident_id, alert_id)
);
CREATE INDEX incident_alerts_alert ON incident_alerts (alert_id);

-- Incident nudges travel the notice outbox: rebuild it to allow kind 'incident' (SQLite
-- cannot alter a CHECK constraint in place).
CREATE TABLE notices_new (
    id          TEXT    PRIMARY KEY,
    schedule_id TEXT    NOT NULL,
    kind        TEXT    NOT NULL
        CHECK (kind IN ('shift_started', 'shift_ended', 'coverage_gaps', 'incident')),
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
INSERT INTO notices_new SELECT id, schedule_id, kind, person_id, channel, destination, subject,
    body, data, state, due_at, attempts, created_at, sent_at, last_error FROM notices;
DROP TABLE notices;
ALTER TABLE notices_new RENAME TO notices;
CREATE INDEX notices_due ON notices (due_at) WHERE state = 'pending';
CREATE INDEX notices_destination ON notices (schedule_id, channel, destination)
    WHERE state = 'pending';
