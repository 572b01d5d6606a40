-- PostgreSQL mirror of migrations/sqlite/0027_alert_human_ack.sql (issue #8):
-- the same tables, columns and indexes; INTEGER is BIGINT, rowid ids are identity columns.
-- Reports (issue #7): each alert's first human ack, stored on the alert when it happens
-- (`store::reports::store_human_ack`, in the ack's own transaction), so the hygiene and
-- response reports read a column instead of searching every alert's timeline: a year-long
-- report took 65–180 ms doing that. Older alerts are filled in here from their timeline by
-- the reports' rule (`store::reports::by_human`): an `acknowledged` entry is a person's
-- unless it has no actor, its actor is `system`, or it came from the source
-- (`detail.via = "source"`, e.g. a PagerDuty acknowledge).
ALTER TABLE alerts ADD COLUMN human_ack_at BIGINT;
UPDATE alerts SET human_ack_at = (
    SELECT MIN(t.at) FROM timeline t
    WHERE t.alert_id = alerts.id AND t.kind = 'acknowledged'
      AND t.actor IS NOT NULL AND t.actor <> 'system'
      AND COALESCE((CAST(t.detail AS jsonb) ->> 'via'), '') <> 'source'
)
WHERE id IN (SELECT alert_id FROM timeline WHERE kind = 'acknowledged');

-- The reports' windows: alerts triggered in the period, pages sent in it. Without these a
-- 30-day report walks a year of alerts and pages.
CREATE INDEX alerts_created ON alerts (created_at);
CREATE INDEX outbox_sent ON outbox (sent_at) WHERE state = 'sent';
