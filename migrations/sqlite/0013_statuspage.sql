-- The public status page (comms spec §4, issue #5). Components live in statuspage.toml;
-- these tables hold what changes at runtime. Instants are unix milliseconds, UTC.

-- One row per configured component key, made when first seen. `manual_status` is what an
-- admin set by hand; `status` the effective state last computed (§4.1), kept in step with
-- the open row of `statuspage_intervals`.
CREATE TABLE statuspage_components (
    key TEXT PRIMARY KEY,
    manual_status TEXT NOT NULL DEFAULT 'operational',
    status TEXT NOT NULL DEFAULT 'operational',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Effective-state history per component, half-open [start_at, end_at); end_at NULL for the
-- state it is in now. Uptime (§4.9) is computed from these.
CREATE TABLE statuspage_intervals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    component_key TEXT NOT NULL,
    status TEXT NOT NULL,
    start_at INTEGER NOT NULL,
    end_at INTEGER
);
CREATE INDEX statuspage_intervals_component ON statuspage_intervals (component_key, start_at);
CREATE UNIQUE INDEX statuspage_intervals_open ON statuspage_intervals (component_key)
    WHERE end_at IS NULL;

-- Public incidents (kind 'incident', a projection of an internal incident, published by
-- hand) and scheduled maintenances (kind 'maintenance'), which share the public shape.
-- `id` is the 12-char base-36 public id. The schedule columns are set for maintenances
-- only; `remind_before_s` NULL means no reminder; `reminded_at` once it went out.
CREATE TABLE statuspage_incidents (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    incident_id TEXT UNIQUE REFERENCES incidents (id),
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    impact TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    monitoring_at INTEGER,
    resolved_at INTEGER,
    scheduled_for INTEGER,
    scheduled_until INTEGER,
    auto_start INTEGER NOT NULL DEFAULT 0,
    auto_complete INTEGER NOT NULL DEFAULT 0,
    remind_before_s INTEGER,
    reminded_at INTEGER,
    notify INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX statuspage_incidents_created ON statuspage_incidents (kind, created_at);

-- Components a public incident or maintenance touches, and the state it holds each in
-- (maintenances: `under_maintenance`). Resolved incidents keep their rows for the record.
CREATE TABLE statuspage_incident_components (
    public_id TEXT NOT NULL REFERENCES statuspage_incidents (id),
    component_key TEXT NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (public_id, component_key)
);

-- Customer-facing updates. `affected_components`: JSON array of {code, name, old_status,
-- new_status} or NULL.
CREATE TABLE statuspage_updates (
    id TEXT PRIMARY KEY,
    public_id TEXT NOT NULL REFERENCES statuspage_incidents (id),
    status TEXT NOT NULL,
    body TEXT NOT NULL,
    display_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    affected_components TEXT,
    deliver_notifications INTEGER NOT NULL
);
CREATE INDEX statuspage_updates_incident ON statuspage_updates (public_id, display_at);

-- Past ranges an admin reclassified (§4.9 rule 3), which is also their audit trail:
-- `component_key` NULL for every component; `class` is 'maintenance' or 'no_data'.
CREATE TABLE statuspage_reclassified (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    component_key TEXT,
    start_at INTEGER NOT NULL,
    end_at INTEGER NOT NULL,
    class TEXT NOT NULL,
    reason TEXT NOT NULL,
    admin TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- Runs of instance heartbeats (every 30 s): a heartbeat within 2 minutes of the newest
-- run's end extends it, a later one starts a new run. Gaps between runs are no data.
CREATE TABLE statuspage_heartbeats (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    start_at INTEGER NOT NULL,
    end_at INTEGER NOT NULL
);

-- Email subscribers (§4.8). `components`: JSON array of component keys, empty for all.
-- `created_at`: the newest subscription request; unconfirmed rows go 7 days after it.
-- Confirmation mails sent are counted from the outbox (kind 'confirm').
CREATE TABLE statuspage_subscribers (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    components TEXT NOT NULL DEFAULT '[]',
    confirmed_at INTEGER,
    created_at INTEGER NOT NULL
);

-- Confirmation and unsubscribe tokens: SHA-256 (lowercase hex) of 32 random bytes; the
-- token itself is only ever in the mail. `expires_at` NULL never expires.
CREATE TABLE statuspage_subscriber_tokens (
    token_hash TEXT PRIMARY KEY,
    subscriber_id TEXT NOT NULL REFERENCES statuspage_subscribers (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    expires_at INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX statuspage_subscriber_tokens_subscriber
    ON statuspage_subscriber_tokens (subscriber_id);

-- Mail to subscribers, delivered at least once with a stable `id` (the Message-ID), and
-- rendered when sent (tokens are only ever in the mail). `kind`: 'confirm', 'incident' or
-- 'maintenance'; the others name what the mail is about: the public incident or
-- maintenance, its update, and `event` (published, updated, created, reminder, started,
-- completed). `state`: pending | sent | failed.
CREATE TABLE statuspage_outbox (
    id TEXT PRIMARY KEY,
    subscriber_id TEXT NOT NULL REFERENCES statuspage_subscribers (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    public_id TEXT REFERENCES statuspage_incidents (id),
    update_id TEXT REFERENCES statuspage_updates (id),
    event TEXT,
    state TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    sent_at INTEGER
);
CREATE INDEX statuspage_outbox_due ON statuspage_outbox (due_at) WHERE state = 'pending';
CREATE INDEX statuspage_outbox_subscriber ON statuspage_outbox (subscriber_id, kind, created_at);
