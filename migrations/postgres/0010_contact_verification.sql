-- PostgreSQL mirror of migrations/sqlite/0010_contact_verification.sql (issue #8):
-- the same tables, columns and indexes; INTEGER is BIGINT, rowid ids are identity columns.
-- Contact-method verification (on-call spec §1.1, issue #4), keyed by (person, kind,
-- address): a contact whose address changes in config has no row and is unverified again.
-- `code_hash`: HMAC-SHA256 (under the instance signing secret) of the pending code and the
-- key, lowercase hex; never the code itself. NULL when no code is pending.
-- `code_expires_at`: when the pending code stops being accepted (unix ms).
-- `attempts`: wrong codes entered against the pending code; a new code resets it.
-- `verified_at`: when a code was confirmed; NULL while unverified.
CREATE TABLE contact_verifications (
    person_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    address TEXT NOT NULL,
    code_hash TEXT,
    code_expires_at BIGINT,
    attempts BIGINT NOT NULL DEFAULT 0,
    code_sent_at BIGINT,
    verified_at BIGINT,
    PRIMARY KEY (person_id, kind, address)
);
