//! Rows for reports and `/metrics`: alert firings with their human actions, pages per
//! person, on-call history, incidents, and the counters `/metrics` exposes.
//!
//! What counts as human lives here, in SQL: an `acknowledged` or `resolved` timeline entry
//! is a person's unless it came from the source (`via = "source"`, e.g. a PagerDuty
//! acknowledge or an Alertmanager resolve) or from `system`. An alert's first human ack is
//! also kept on the alert (`alerts.human_ack_at`, issue #7), written by the same rule in
//! the ack's transaction, so reports need not search every timeline. The computations are
//! in `domain::reports`.

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;
use sqlx::{AnyConnection, Row as _};

use super::{Dialect, Result, Store, StoreError, from_ms, from_ms_opt, to_ms};
use crate::domain::reports::Period;
use crate::domain::reports::hygiene::Firing;
use crate::domain::reports::load::{Notification, ShiftRow};
use crate::domain::reports::response::{AckRow, IncidentRow};

/// A timeline entry made by a person (SQL condition over a `timeline t`). Migration 0027
/// spells it out to fill in `alerts.human_ack_at`: a change here needs a migration that
/// fills the column in again.
fn by_human(dialect: Dialect) -> String {
    format!(
        "t.actor IS NOT NULL AND t.actor <> 'system' AND COALESCE({}, '') <> 'source'",
        dialect.json_text("t.detail", "via")
    )
}

/// Alerts opened by an alert rule, not by a person (incident pages, direct pages).
const FROM_RULES: &str = "a.integration_id NOT IN ('incident', 'direct')";

/// Alerts belonging to a drill (an incident of kind test) are left out of every report.
const NOT_DRILL: &str = "NOT EXISTS (SELECT 1 FROM incident_alerts ia \
    JOIN incidents i ON i.id = ia.incident_id WHERE ia.alert_id = a.id AND i.test <> 0)";

/// The first human ack in the timeline of the alert whose id is `alert` (a scalar
/// subquery). Migration 0027 spells the same rule out to fill in older alerts.
fn first_human_ack(dialect: Dialect, alert: &str) -> String {
    format!(
        "(SELECT MIN(t.at) FROM timeline t WHERE t.alert_id = {alert} \
         AND t.kind = 'acknowledged' AND {})",
        by_human(dialect)
    )
}

/// Brings alert `id`'s stored first human ack up to date with its timeline, inside the
/// caller's transaction; called whenever an `acknowledged` entry is added. Derived from the
/// timeline rather than from the caller's actor, so the column cannot drift from the rule.
pub(crate) async fn store_human_ack(conn: &mut AnyConnection, id: i64) -> Result<()> {
    let sql = format!(
        "UPDATE alerts SET human_ack_at = {} WHERE id = $1",
        first_human_ack(Dialect::of(conn), "alerts.id")
    );
    sqlx::query(&sql).bind(id).execute(&mut *conn).await?;
    Ok(())
}

/// `alertname`, else the summary: the rule an alert came from.
fn alert_name(labels: &BTreeMap<String, String>, summary: String) -> String {
    labels.get("alertname").cloned().unwrap_or(summary)
}

/// Reads `SELECT <rows> FROM …` (`from`, with the period's start and end as `$1` and `$2`)
/// where `<rows>` aggregates `values` of every row, in `order`, into one JSON text; decodes
/// a `T` (a tuple) per row. A year holds thousands of alerts and pages, and the Any driver
/// hands rows over one at a time at a few microseconds each: that was most of a year-long
/// report's time (issue #7). One text costs a fraction of it.
async fn json_rows<T: serde::de::DeserializeOwned>(
    store: &Store,
    values: &str,
    order: &str,
    from: &str,
    period: Period,
) -> Result<Vec<T>> {
    let sql = format!("SELECT {} {from}", store.dialect().json_rows(values, order));
    let text: Option<String> = sqlx::query_scalar(&sql)
        .bind(to_ms(period.start))
        .bind(to_ms(period.end))
        .fetch_one(store.pool())
        .await?;
    match text {
        None => Ok(Vec::new()),
        Some(text) => serde_json::from_str(&text)
            .map_err(|err| StoreError::Corrupt(format!("report rows: {err}"))),
    }
}

/// Every alert-rule firing triggered in `period`, with its human ack and follow-ups.
pub async fn firings(store: &Store, period: Period) -> Result<Vec<Firing>> {
    type Row = (
        i64,
        String,
        String,
        String,
        Option<String>,
        String,
        i64,
        Option<i64>,
    );
    let rows: Vec<Row> = json_rows(
        store,
        "a.id, a.service_id, a.summary, a.labels, a.runbook_url, a.state, a.created_at, \
         a.human_ack_at",
        "a.id",
        &format!(
            "FROM alerts a WHERE a.created_at >= $1 AND a.created_at < $2 AND {FROM_RULES} \
             AND {NOT_DRILL}"
        ),
        period,
    )
    .await?;

    // A person resolving by hand, or putting the alert into an incident, follows up.
    let from = format!(
        "FROM (SELECT t.alert_id, t.at FROM timeline t JOIN alerts a ON a.id = t.alert_id \
         WHERE a.created_at >= $1 AND a.created_at < $2 AND t.kind = 'resolved' AND {by_human} \
         UNION ALL \
         SELECT ia.alert_id, ia.attached_at FROM incident_alerts ia \
         JOIN alerts a ON a.id = ia.alert_id \
         WHERE a.created_at >= $1 AND a.created_at < $2 AND ia.role = 'attached') f",
        by_human = by_human(store.dialect())
    );
    // TODO(#6): alert notes and ticked runbook steps count as follow-ups too (§7) once
    // alerts can carry notes and runbook ticks reach the alert timeline.
    let follow_rows: Vec<(i64, i64)> =
        json_rows(store, "f.alert_id, f.at", "", &from, period).await?;
    let mut follow_ups: HashMap<i64, Vec<Timestamp>> = HashMap::new();
    for (alert, at) in follow_rows {
        follow_ups.entry(alert).or_default().push(from_ms(at)?);
    }

    rows.into_iter()
        .map(
            |(id, service, summary, labels, runbook, state, created_at, ack)| {
                let labels: BTreeMap<String, String> = serde_json::from_str(&labels)
                    .map_err(|err| StoreError::Corrupt(format!("alert labels: {err}")))?;
                Ok(Firing {
                    service,
                    name: alert_name(&labels, summary),
                    triggered_at: from_ms(created_at)?,
                    open: state != "resolved",
                    human_ack_at: from_ms_opt(ack)?,
                    follow_ups: follow_ups.remove(&id).unwrap_or_default(),
                    labels,
                    runbook,
                })
            },
        )
        .collect()
}

/// Pages delivered to people in `period` (one row per sent message row).
pub async fn notifications(store: &Store, period: Period) -> Result<Vec<Notification>> {
    let rows: Vec<(i64, String, i64)> = json_rows(
        store,
        "o.alert_id, o.person_id, o.sent_at",
        "o.sent_at, o.id",
        &format!(
            "FROM outbox o JOIN alerts a ON a.id = o.alert_id WHERE o.state = 'sent' \
             AND o.sent_at >= $1 AND o.sent_at < $2 AND {NOT_DRILL}"
        ),
        period,
    )
    .await?;
    rows.into_iter()
        .map(|(alert_id, person, at)| {
            Ok(Notification {
                alert_id,
                person,
                at: from_ms(at)?,
            })
        })
        .collect()
}

/// On-call history rows overlapping `period`.
pub async fn shifts(store: &Store, period: Period) -> Result<Vec<ShiftRow>> {
    let rows = sqlx::query(
        "SELECT schedule_id, person_id, started_at, ended_at FROM oncall_history \
         WHERE started_at < $1 AND (ended_at IS NULL OR ended_at > $2) \
         ORDER BY schedule_id, started_at, id",
    )
    .bind(to_ms(period.end))
    .bind(to_ms(period.start))
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(ShiftRow {
                schedule: row.try_get("schedule_id")?,
                person: row.try_get("person_id")?,
                start: from_ms(row.try_get("started_at")?)?,
                end: from_ms_opt(row.try_get("ended_at")?)?,
            })
        })
        .collect()
}

/// Alerts triggered in `period` that notified a person, with their first human ack.
pub async fn acks(store: &Store, period: Period) -> Result<Vec<AckRow>> {
    let rows: Vec<(String, String, i64, Option<i64>)> = json_rows(
        store,
        "a.service_id, a.severity, a.created_at, a.human_ack_at",
        "a.id",
        &format!(
            "FROM alerts a WHERE a.created_at >= $1 AND a.created_at < $2 AND {NOT_DRILL} \
             AND EXISTS (SELECT 1 FROM outbox o WHERE o.alert_id = a.id AND o.state = 'sent')"
        ),
        period,
    )
    .await?;
    rows.into_iter()
        .map(|(service, severity, created_at, ack)| {
            Ok(AckRow {
                service,
                severity,
                triggered_at: from_ms(created_at)?,
                first_human_ack: from_ms_opt(ack)?,
            })
        })
        .collect()
}

/// Incidents (drills left out) resolved in `period`.
pub async fn resolved_incidents(store: &Store, period: Period) -> Result<Vec<IncidentRow>> {
    let rows = sqlx::query(
        "SELECT number, services, severity, started_at, detected_at, mitigated_at, \
         resolved_at FROM incidents WHERE test = 0 AND resolved_at >= $1 AND resolved_at < $2 \
         ORDER BY number",
    )
    .bind(to_ms(period.start))
    .bind(to_ms(period.end))
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|row| {
            let services: String = row.try_get("services")?;
            let severity: i64 = row.try_get("severity")?;
            Ok(IncidentRow {
                number: row.try_get("number")?,
                services: serde_json::from_str(&services)
                    .map_err(|err| StoreError::Corrupt(format!("incident services: {err}")))?,
                severity: format!("P{severity}"),
                started_at: from_ms(row.try_get("started_at")?)?,
                detected_at: from_ms(row.try_get("detected_at")?)?,
                mitigated_at: from_ms_opt(row.try_get("mitigated_at")?)?,
                resolved_at: from_ms_opt(row.try_get("resolved_at")?)?,
            })
        })
        .collect()
}

/// Counters and gauges for `/metrics`, read in one go.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    /// (service, state) → alerts now in that state.
    pub alerts: Vec<(String, String, i64)>,
    /// service → alerts ever opened.
    pub alerts_created: Vec<(String, i64)>,
    /// channel → pages delivered.
    pub pages_sent: Vec<(String, i64)>,
    /// channel → pages given up on.
    pub pages_failed: Vec<(String, i64)>,
    /// (via human or source) → acks.
    pub acks: Vec<(String, i64)>,
    /// channel → failed delivery attempts (pages, retried or not, and notices).
    pub notification_failures: Vec<(String, i64)>,
    /// rank → open incidents (drills left out).
    pub open_incidents: Vec<(i64, i64)>,
}

async fn pairs(store: &Store, sql: &str) -> Result<Vec<(String, i64)>> {
    let rows = sqlx::query(sql).fetch_all(store.pool()).await?;
    rows.iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect()
}

pub async fn counts(store: &Store) -> Result<Counts> {
    let rows = sqlx::query(
        "SELECT service_id, state, COUNT(*) FROM alerts GROUP BY service_id, state \
         ORDER BY service_id, state",
    )
    .fetch_all(store.pool())
    .await?;
    let alerts = rows
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
        .collect::<Result<_>>()?;
    let open_incidents = sqlx::query(
        "SELECT severity, COUNT(*) FROM incidents WHERE test = 0 \
         AND status NOT IN ('resolved', 'closed') GROUP BY severity ORDER BY severity",
    )
    .fetch_all(store.pool())
    .await?
    .iter()
    .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
    .collect::<Result<_>>()?;
    Ok(Counts {
        alerts,
        alerts_created: pairs(
            store,
            "SELECT service_id, COUNT(*) FROM alerts GROUP BY service_id ORDER BY service_id",
        )
        .await?,
        pages_sent: pairs(
            store,
            "SELECT channel, COUNT(*) FROM outbox WHERE state = 'sent' \
             GROUP BY channel ORDER BY channel",
        )
        .await?,
        pages_failed: pairs(
            store,
            "SELECT channel, COUNT(*) FROM outbox WHERE state = 'failed' \
             GROUP BY channel ORDER BY channel",
        )
        .await?,
        acks: pairs(
            store,
            &format!(
                "SELECT CASE WHEN COALESCE({}, '') = 'source' \
                 THEN 'source' ELSE 'human' END AS who, COUNT(*) FROM timeline \
                 WHERE kind = 'acknowledged' GROUP BY who ORDER BY who",
                store.dialect().json_text("detail", "via")
            ),
        )
        .await?,
        notification_failures: pairs(
            store,
            &format!(
                "SELECT channel, COUNT(*) FROM ( \
                   SELECT COALESCE({}, '') AS channel FROM timeline \
                   WHERE kind IN ('notification_failed', 'notification_retry') \
                   UNION ALL SELECT channel FROM notices WHERE state = 'failed') AS failures \
                 GROUP BY channel ORDER BY channel",
                store.dialect().json_text("detail", "channel")
            ),
        )
        .await?,
        open_incidents,
    })
}

/// The earliest due time of any engine work still waiting (escalations, pages, notices,
/// ack timeouts, incident nudges): the engine is behind by `now` minus this, if positive.
pub async fn earliest_due(store: &Store) -> Result<Option<Timestamp>> {
    Ok([
        super::alerts::next_escalation_at(store).await?,
        super::outbox::next_due_at(store).await?,
        super::notices::next_due_at(store).await?,
        super::ack_timeouts::next_due_at(store).await?,
        super::incidents::next_nudge_at(store).await?,
    ]
    .into_iter()
    .flatten()
    .min())
}

/// Postmortem and action-item follow-ups (comms spec §6.3, §6.4), drills left out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FollowUps {
    pub open_action_items: i64,
    /// Drafts and reviews past their due time at `now`.
    pub overdue_postmortems: i64,
}

pub async fn follow_ups(store: &Store, now: Timestamp) -> Result<FollowUps> {
    let open_action_items: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM action_items ai JOIN incidents i ON i.id = ai.incident_id \
         WHERE ai.status = 'open' AND i.test = 0",
    )
    .fetch_one(store.pool())
    .await?;
    let overdue_postmortems: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM postmortems p JOIN incidents i ON i.id = p.incident_id \
         WHERE p.status IN ('draft', 'in_review') AND p.due_at < $1 AND i.test = 0",
    )
    .bind(to_ms(now))
    .fetch_one(store.pool())
    .await?;
    Ok(FollowUps {
        open_action_items,
        overdue_postmortems,
    })
}

/// Whether `person`'s digest for `slot` was queued.
pub async fn digest_queued(store: &Store, slot: Timestamp, person: &str) -> Result<bool> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM report_digests WHERE slot = $1 AND person_id = $2")
            .bind(to_ms(slot))
            .bind(person)
            .fetch_optional(store.pool())
            .await?;
    Ok(found.is_some())
}

/// Records `person`'s digest for `slot` and queues its notices, in one transaction, so a
/// crash can neither lose it nor send it twice. False (nothing queued) if it already was.
pub async fn queue_digest(
    store: &Store,
    slot: Timestamp,
    person: &str,
    notices: &[super::notices::NewNotice],
    now: Timestamp,
) -> Result<bool> {
    let mut tx = store.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO report_digests (slot, person_id, queued_at) VALUES ($1, $2, $3) \
         ON CONFLICT (slot, person_id) DO NOTHING",
    )
    .bind(to_ms(slot))
    .bind(person)
    .bind(to_ms(now))
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(false);
    }
    super::notices::insert_all(&mut tx, notices, now).await?;
    tx.commit().await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use sqlx::{Connection as _, SqliteConnection};

    use super::*;
    use crate::store::{Backend, alerts};

    async fn store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let store = Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        (store, dir)
    }

    fn at(minute: i64) -> Timestamp {
        let start: Timestamp = "2026-03-02T09:00:00Z".parse().unwrap();
        start + jiff::SignedDuration::from_mins(minute)
    }

    /// What the stored ack says and what the timeline says by the reports' rule.
    async fn stored_and_rule(store: &Store, id: i64) -> (Option<i64>, Option<i64>) {
        let sql = format!(
            "SELECT human_ack_at, {} FROM alerts WHERE id = $1",
            first_human_ack(store.dialect(), "alerts.id")
        );
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_one(store.pool())
            .await
            .unwrap();
        (row.try_get(0).unwrap(), row.try_get(1).unwrap())
    }

    #[tokio::test]
    async fn the_stored_ack_is_the_first_by_a_person_not_a_source_nor_the_system() {
        let (store, _dir) = store().await;
        sqlx::query(
            "INSERT INTO alerts (id, service_id, integration_id, dedup_key, summary, severity, \
             state, created_at, updated_at, policy_id) \
             VALUES (7, 'api', 'api/pagerduty', 'k', 'disk full', 'critical', 'triggered', \
             $1, $1, 'default')",
        )
        .bind(to_ms(at(0)))
        .execute(store.pool())
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO outbox (id, alert_id, person_id, channel, destination, event, step, \
             state, due_at, created_at, sent_at) VALUES ('o7', 7, 'ana', 'email', 'a@x', \
             'triggered', 0, 'sent', $1, $1, $1)",
        )
        .bind(to_ms(at(0)))
        .execute(store.pool())
        .await
        .unwrap();
        // An ack timeout puts an acked alert back to triggered; each ack below is a new one.
        let retrigger = || async {
            sqlx::query("UPDATE alerts SET state = 'triggered' WHERE id = 7")
                .execute(store.pool())
                .await
                .unwrap();
        };

        alerts::acknowledge(&store, 7, "pagerduty", "source", at(1))
            .await
            .unwrap();
        let after_source = stored_and_rule(&store, 7).await;
        retrigger().await;
        alerts::acknowledge(&store, 7, "system", "api", at(2))
            .await
            .unwrap();
        let after_system = stored_and_rule(&store, 7).await;
        retrigger().await;
        alerts::acknowledge(&store, 7, "ben", "web", at(3))
            .await
            .unwrap();
        let after_ben = stored_and_rule(&store, 7).await;
        retrigger().await;
        alerts::acknowledge(&store, 7, "ana", "cli", at(4))
            .await
            .unwrap();
        let after_ana = stored_and_rule(&store, 7).await;

        assert_eq!(after_source, (None, None));
        assert_eq!(after_system, (None, None));
        let ben = Some(to_ms(at(3)));
        assert_eq!(after_ben, (ben, ben));
        assert_eq!(after_ana, (ben, ben));
        let period = Period {
            start: at(0),
            end: at(60),
        };
        let firings = firings(&store, period).await.unwrap();
        let acks = acks(&store, period).await.unwrap();
        assert_eq!(firings.len(), 1);
        assert_eq!(firings[0].human_ack_at, Some(at(3)));
        assert_eq!(acks.len(), 1);
        assert_eq!(acks[0].first_human_ack, Some(at(3)));
    }

    #[tokio::test]
    async fn migration_0027_fills_in_the_first_human_ack_of_older_alerts() {
        let migrations = sqlx::migrate!("./migrations/sqlite");
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        for migration in migrations.iter().filter(|m| m.version < 27) {
            sqlx::raw_sql(&migration.sql)
                .execute(&mut conn)
                .await
                .unwrap();
        }
        // 1: a source ack, then two people's acks stored out of order; 2: acks by the system
        // and by nobody, and a person's resolve; 3: no ack; 4: a person's ack with no `via`.
        sqlx::raw_sql(
            "INSERT INTO alerts (id, service_id, integration_id, dedup_key, summary, severity, \
             state, created_at, updated_at, policy_id) VALUES \
             (1, 'api', 'api/generic', 'a', 's', 'critical', 'resolved', 0, 0, 'default'), \
             (2, 'api', 'api/generic', 'b', 's', 'critical', 'resolved', 0, 0, 'default'), \
             (3, 'api', 'api/generic', 'c', 's', 'critical', 'triggered', 0, 0, 'default'), \
             (4, 'api', 'api/generic', 'd', 's', 'critical', 'acknowledged', 0, 0, 'default'); \
             INSERT INTO timeline (alert_id, at, kind, actor, detail) VALUES \
             (1, 10, 'acknowledged', 'pagerduty', '{\"via\":\"source\"}'), \
             (1, 30, 'acknowledged', 'ben', '{\"via\":\"web\"}'), \
             (1, 20, 'acknowledged', 'ana', '{\"via\":\"slack\"}'), \
             (2, 10, 'acknowledged', 'system', '{\"via\":\"api\"}'), \
             (2, 15, 'acknowledged', NULL, '{\"via\":\"api\"}'), \
             (2, 20, 'resolved', 'ben', '{\"via\":\"web\"}'), \
             (3, 10, 'created', 'api/generic', '{}'), \
             (4, 40, 'acknowledged', 'chen', '{}');",
        )
        .execute(&mut conn)
        .await
        .unwrap();

        let backfill = migrations.iter().find(|m| m.version == 27).unwrap();
        sqlx::raw_sql(&backfill.sql)
            .execute(&mut conn)
            .await
            .unwrap();

        let stored: Vec<(i64, Option<i64>)> =
            sqlx::query_as("SELECT id, human_ack_at FROM alerts ORDER BY id")
                .fetch_all(&mut conn)
                .await
                .unwrap();
        assert_eq!(stored, [(1, Some(20)), (2, None), (3, None), (4, Some(40))]);
        let sql = format!(
            "SELECT COUNT(*) FROM alerts WHERE human_ack_at IS NOT {}",
            first_human_ack(Dialect(Backend::Sqlite), "alerts.id")
        );
        let differ: i64 = sqlx::query_scalar(&sql).fetch_one(&mut conn).await.unwrap();
        assert_eq!(differ, 0, "the backfill and the reports' rule disagree");
    }
}
