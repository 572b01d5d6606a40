-- Slack app mode (comms spec §2): what we posted and may edit, how far we have read the
-- incident timeline, what is still to send, and per-channel pacing and health.

-- Messages we may edit: `chat.update` needs the channel and the `ts` Slack gave back.
CREATE TABLE slack_messages (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    channel TEXT NOT NULL,
    ts TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('announcement', 'thread')),
    -- The timeline event a thread reply was posted for.
    event_seq INTEGER,
    -- The newest timeline event the message's content reflects: older never overwrites.
    rendered_seq INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (channel, ts)
);
CREATE UNIQUE INDEX slack_messages_announcement ON slack_messages (incident_id, channel)
    WHERE kind = 'announcement';

-- The last incident event `seq` turned into queued work (one row).
CREATE TABLE slack_cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
INSERT INTO slack_cursor (id, seq, updated_at)
    SELECT 1, COALESCE(MAX(seq), 0), 0 FROM incident_events;

-- Work still to send, in order per channel. `rerender` rows coalesce: one per incident and
-- channel, carrying the newest event that asked for it.
CREATE TABLE slack_queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    event_seq INTEGER NOT NULL,
    -- A Slack channel id, or 'webhook' in webhook-only mode.
    channel TEXT NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('announce', 'rerender', 'reply')),
    attempts INTEGER NOT NULL DEFAULT 0,
    due_at INTEGER NOT NULL,
    last_error TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX slack_queue_channel ON slack_queue (channel, id);

-- Per channel: paused after a 429 until `paused_until`; `pace_at` paces sends to one a
-- second with a short burst; `last_error` marks it unhealthy (invalid_auth, not_in_channel…).
CREATE TABLE slack_channels (
    channel TEXT PRIMARY KEY,
    paused_until INTEGER,
    pace_at INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    last_error_at INTEGER
);
