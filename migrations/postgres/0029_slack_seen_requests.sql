-- Signed Slack requests already taken (issue #8): a captured request replayed within its
-- 300 s window is refused by every instance sharing the database, and after a restart.
-- Rows older than 600 s are deleted as new ones arrive.
CREATE TABLE slack_seen_requests (
    signature TEXT   PRIMARY KEY,
    seen_at   BIGINT NOT NULL
);
CREATE INDEX slack_seen_requests_at ON slack_seen_requests (seen_at);
