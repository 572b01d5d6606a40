-- Insertion order of status page updates (issue #8). Updates shown at the same instant and
-- made in the same millisecond are listed newest inserted first; that order came from
-- SQLite's `rowid`, which Postgres has no counterpart of, so both now read `seq`. A
-- trigger fills it on every insert, so no writer has to know about it; rows already
-- stored keep their rowid order.
ALTER TABLE statuspage_updates ADD COLUMN seq INTEGER;
UPDATE statuspage_updates SET seq = rowid;
CREATE TRIGGER statuspage_updates_seq AFTER INSERT ON statuspage_updates
BEGIN
    UPDATE statuspage_updates SET seq = NEW.rowid WHERE rowid = NEW.rowid;
END;
