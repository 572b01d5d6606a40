-- PostgreSQL mirror of migrations/sqlite/0024_recurring_maintenance.sql (issue #8):
-- the same tables, columns and indexes; INTEGER is BIGINT, rowid ids are identity columns.
-- Recurring maintenance windows from statuspage.toml (comms spec §4.6): each occurrence is
-- an ordinary maintenance row keyed `<config id>@<local start date>`, so materialising the
-- next seven days again finds the rows it already made. NULL for everything else.
ALTER TABLE statuspage_incidents ADD COLUMN recurring_key TEXT;

CREATE UNIQUE INDEX statuspage_incidents_recurring_key
    ON statuspage_incidents (recurring_key) WHERE recurring_key IS NOT NULL;
