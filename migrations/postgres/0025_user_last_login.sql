-- PostgreSQL mirror of migrations/sqlite/0025_user_last_login.sql (issue #8):
-- the same tables, columns and indexes; INTEGER is BIGINT, rowid ids are identity columns.
-- User administration (issue #7). `users.disabled_at` came with 0019 (a disabled user's
-- sessions and tokens stop at once: every lookup joins on it); the admin page also shows
-- when each user last signed in, which sessions alone cannot tell once they are swept.
ALTER TABLE users ADD COLUMN last_login_at BIGINT;
