-- Dedicated incident channels (comms spec §2.7): the channel made for an incident, and
-- when it was archived (at close). Nothing is written to an archived channel.
CREATE TABLE slack_incident_channels (
    incident_id TEXT PRIMARY KEY REFERENCES incidents (id),
    channel TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    archived_at INTEGER
);

-- The queue learns three operations on that channel: create it, invite a new commander,
-- archive it. SQLite cannot widen a CHECK in place, so the table is rebuilt.
CREATE TABLE slack_queue_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    event_seq INTEGER NOT NULL,
    -- A Slack channel id, 'webhook' in webhook-only mode, or `dedicated:<incident id>`
    -- for the operations on an incident's own channel (kept in order among themselves).
    channel TEXT NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('announce', 'rerender', 'reply', 'create_channel',
        'invite', 'archive')),
    attempts INTEGER NOT NULL DEFAULT 0,
    due_at INTEGER NOT NULL,
    last_error TEXT,
    created_at INTEGER NOT NULL
);
INSERT INTO slack_queue_new (id, incident_id, event_seq, channel, op, attempts, due_at,
    last_error, created_at)
    SELECT id, incident_id, event_seq, channel, op, attempts, due_at, last_error, created_at
    FROM slack_queue;
DROP TABLE slack_queue;
ALTER TABLE slack_queue_new RENAME TO slack_queue;
CREATE INDEX slack_queue_channel ON slack_queue (channel, id);
