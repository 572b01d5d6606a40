-- PostgreSQL mirror of migrations/sqlite/0016_slack_events.sql (issue #8):
-- the same tables, columns and indexes; INTEGER is BIGINT, rowid ids are identity columns.
-- Slack Events API (comms spec §1.4 via Slack, issue #5): each `event_id` taken once, so a
-- retried delivery (`X-Slack-Retry-Num`) adds no second note. A row is claimed before its
-- note is written; `event_seq` is the `note.added` event it became. While `event_seq` is
-- NULL the note may be on its way, and `actor` and `text` let the engine recognise it:
-- a note captured from a thread is never posted back into that thread.
CREATE TABLE slack_events (
    event_id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    channel TEXT NOT NULL,
    -- The captured message's own `ts`.
    ts TEXT NOT NULL,
    actor TEXT NOT NULL,
    text TEXT NOT NULL,
    event_seq BIGINT,
    received_at BIGINT NOT NULL
);
CREATE INDEX slack_events_seq ON slack_events (event_seq);
