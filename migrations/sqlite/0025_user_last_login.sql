-- User administration (issue #7). `users.disabled_at` came with 0019 (a disabled user's
-- sessions and tokens stop at once: every lookup joins on it); the admin page also shows
-- when each user last signed in, which sessions alone cannot tell once they are swept.
ALTER TABLE users ADD COLUMN last_login_at INTEGER;
