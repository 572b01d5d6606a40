-- Alerts, their upstream members, raw deliveries, timelines and the notification outbox.
-- All instants are UTC unix milliseconds.

CREATE TABLE alerts (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id         TEXT    NOT NULL,
    integration_id     TEXT    NOT NULL,
    dedup_key          TEXT    NOT NULL,
    summary            TEXT    NOT NULL,
    details            TEXT    NOT NULL DEFAULT '',
    severity           TEXT    NOT NULL,
    source             TEXT    NOT NULL DEFAULT '',
    runbook_url        TEXT,
    labels             TEXT    NOT NULL DEFAULT '{}',
    links              TEXT    NOT NULL DEFAULT '[]',
    state              TEXT    NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    acked_at           INTEGER,
    acked_by           TEXT,
    resolved_at        INTEGER,
    resolved_by        TEXT,
    trigger_count      INTEGER NOT NULL DEFAULT 1,
    policy_id          TEXT    NOT NULL,
    esc_step           INTEGER NOT NULL DEFAULT 0,
    esc_loop           INTEGER NOT NULL DEFAULT 0,
    esc_loop_paged     INTEGER NOT NULL DEFAULT 0,
    esc_waiting        INTEGER NOT NULL DEFAULT 1,
    next_escalation_at INTEGER
);

-- One open alert per key and integration.
CREATE UNIQUE INDEX alerts_open_key ON alerts (integration_id, dedup_key)
    WHERE state <> 'resolved';
CREATE INDEX alerts_due ON alerts (next_escalation_at) WHERE next_escalation_at IS NOT NULL;
CREATE INDEX alerts_state ON alerts (state, id);

CREATE TABLE alert_members (
    integration_id TEXT    NOT NULL,
    fingerprint    TEXT    NOT NULL,
    alert_id       INTEGER REFERENCES alerts (id),
    status         TEXT    NOT NULL,
    starts_at      INTEGER NOT NULL,
    ends_at        INTEGER,
    labels         TEXT    NOT NULL,
    annotations    TEXT    NOT NULL,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (integration_id, fingerprint)
);
CREATE INDEX alert_members_alert ON alert_members (alert_id);

CREATE TABLE deliveries (
    id             TEXT    PRIMARY KEY,
    integration_id TEXT    NOT NULL,
    digest         TEXT    NOT NULL,
    received_at    INTEGER NOT NULL,
    alert_id       INTEGER,
    body           BLOB    NOT NULL
);
CREATE INDEX deliveries_digest ON deliveries (integration_id, digest, received_at);

CREATE TABLE timeline (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    at       INTEGER NOT NULL,
    kind     TEXT    NOT NULL,
    actor    TEXT,
    detail   TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX timeline_alert ON timeline (alert_id, id);

CREATE TABLE outbox (
    id          TEXT    PRIMARY KEY,
    alert_id    INTEGER NOT NULL REFERENCES alerts (id),
    person_id   TEXT    NOT NULL,
    channel     TEXT    NOT NULL,
    destination TEXT    NOT NULL,
    event       TEXT    NOT NULL,
    step        INTEGER NOT NULL,
    state       TEXT    NOT NULL,
    due_at      INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    sent_at     INTEGER,
    last_error  TEXT
);
CREATE INDEX outbox_due ON outbox (due_at) WHERE state = 'pending';
CREATE INDEX outbox_alert ON outbox (alert_id);
