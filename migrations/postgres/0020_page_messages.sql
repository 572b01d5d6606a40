-- PostgreSQL mirror of migrations/sqlite/0020_page_messages.sql (issue #8):
-- the same tables, columns and indexes; INTEGER is BIGINT, rowid ids are identity columns.
-- Page messages that follow their alert (comms spec §3.4, §3.6): besides Slack app DMs,
-- Discord webhook messages are kept so an ack or resolve can PATCH them. One table for
-- both, told apart by `kind`. For Discord, `channel` is the contact's address (as in the
-- outbox's `destination`) and `ts` the message id Discord answered with; `member` is
-- empty (Slack pacing keys on it).
ALTER TABLE slack_page_messages RENAME TO page_messages;
ALTER TABLE page_messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'slack'
    CHECK (kind IN ('slack', 'discord'));
