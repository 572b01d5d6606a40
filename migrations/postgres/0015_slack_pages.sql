-- PostgreSQL mirror of migrations/sqlite/0015_slack_pages.sql (issue #8):
-- the same tables, columns and indexes; INTEGER is BIGINT, rowid ids are identity columns.
-- Slack pages in app mode (comms spec §3.4, §2.6): the DM posted for each page, so an ack
-- or resolve from any surface can edit it. `chat.update` needs the `channel` (the DM's
-- conversation id, from `chat.postMessage`) and the `ts`. Pacing and 429 pauses stay in
-- `slack_channels`, keyed here by the member id the page was posted to.
CREATE TABLE slack_page_messages (
    channel TEXT NOT NULL,
    ts TEXT NOT NULL,
    alert_id BIGINT NOT NULL REFERENCES alerts (id),
    person_id TEXT NOT NULL,
    -- The Slack member id (`U…`) the page went to: the `slack_channels` key.
    member TEXT NOT NULL,
    -- The outbox row the page was sent for.
    outbox_id TEXT NOT NULL,
    -- The alert as the message shows it; a message whose alert differs is edited.
    shown_state TEXT NOT NULL,
    shown_acked_at BIGINT,
    shown_resolved_at BIGINT,
    -- Edits that failed transiently, and when the next may be tried.
    attempts BIGINT NOT NULL DEFAULT 0,
    due_at BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (channel, ts)
);
CREATE INDEX slack_page_messages_alert ON slack_page_messages (alert_id);
