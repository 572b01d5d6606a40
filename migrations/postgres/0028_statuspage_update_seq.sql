-- PostgreSQL mirror of migrations/sqlite/0028_statuspage_update_seq.sql (issue #8): the
-- same nullable `seq` column without a default (so the schemas compare equal), filled by
-- a trigger from a sequence instead of from a rowid.
ALTER TABLE statuspage_updates ADD COLUMN seq BIGINT;
CREATE SEQUENCE statuspage_updates_seq OWNED BY statuspage_updates.seq;

-- Rows already stored, in the order the queries used to read: inserting transaction,
-- then place in the table.
UPDATE statuspage_updates u SET seq = o.n
FROM (
    SELECT id, row_number() OVER (ORDER BY CAST(CAST(xmin AS TEXT) AS BIGINT), ctid) AS n
    FROM statuspage_updates
) o
WHERE u.id = o.id;
SELECT setval('statuspage_updates_seq', COALESCE(MAX(seq), 0) + 1, false)
FROM statuspage_updates;

CREATE FUNCTION statuspage_updates_seq() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.seq := nextval('statuspage_updates_seq');
    RETURN NEW;
END
$$;
CREATE TRIGGER statuspage_updates_seq BEFORE INSERT ON statuspage_updates
    FOR EACH ROW EXECUTE FUNCTION statuspage_updates_seq();
