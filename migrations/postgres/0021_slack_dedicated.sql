-- PostgreSQL mirror of migrations/sqlite/0021_slack_dedicated.sql (issue #8):
-- the same tables, columns and indexes; INTEGER is BIGINT, rowid ids are identity columns.
-- Dedicated incident channels (comms spec §2.7): the channel made for an incident, and
-- when it was archived (at close). Nothing is written to an archived channel.
CREATE TABLE slack_incident_channels (
    incident_id TEXT PRIMARY KEY REFERENCES incidents (id),
    channel TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    archived_at BIGINT
);

-- The queue learns three operations on that channel: create it, invite a new commander,
-- archive it. (SQLite rebuilds the table to widen the CHECK; PostgreSQL swaps the
-- constraint in place.) `channel` may now also be `dedicated:<incident id>` for the
-- operations on an incident's own channel (kept in order among themselves).
ALTER TABLE slack_queue
    DROP CONSTRAINT slack_queue_op_check,
    ADD CONSTRAINT slack_queue_op_check
        CHECK (op IN ('announce', 'rerender', 'reply', 'create_channel', 'invite', 'archive'));
