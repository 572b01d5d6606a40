//! Rows for reports and `/metrics`: alert firings with their human actions, pages per
//! person, on-call history, incidents, and the counters `/metrics` exposes.
//!
//! What counts as human lives here, in SQL: an `acknowledged` or `resolved` timeline entry
//! is a person's unless it came from the source (`via = "source"`, e.g. a PagerDuty
//! acknowledge or an Alertmanager resolve) or from `system`. The computations are in
//! `domain::reports`.

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;
use sqlx::Row as _;

use super::{Dialect, Result, Store, StoreError, from_ms, from_ms_opt, to_ms};
use crate::domain::reports::Period;
use crate::domain::reports::hygiene::Firing;
use crate::domain::reports::load::{Notification, ShiftRow};
use crate::domain::reports::response::{AckRow, IncidentRow};

/// A timeline entry made by a person (SQL condition over a `timeline t`).
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

fn first_human_ack(dialect: Dialect) -> String {
    format!(
        "(SELECT MIN(t.at) FROM timeline t WHERE t.alert_id = a.id \
         AND t.kind = 'acknowledged' AND {})",
        by_human(dialect)
    )
}

/// `alertname`, else the summary: the rule an alert came from.
fn alert_name(labels: &BTreeMap<String, String>, summary: String) -> String {
    labels.get("alertname").cloned().unwrap_or(summary)
}

/// Every alert-rule firing triggered in `period`, with its human ack and follow-ups.
pub async fn firings(store: &Store, period: Period) -> Result<Vec<Firing>> {
    let (start, end) = (to_ms(period.start), to_ms(period.end));
    let sql = format!(
        "SELECT a.id, a.service_id, a.summary, a.labels, a.runbook_url, a.state, a.created_at, \
         {ack} AS human_ack_at FROM alerts a \
         WHERE a.created_at >= $1 AND a.created_at < $2 AND {FROM_RULES} AND {NOT_DRILL} \
         ORDER BY a.id",
        ack = first_human_ack(store.dialect())
    );
    let rows = sqlx::query(&sql)
        .bind(start)
        .bind(end)
        .fetch_all(store.pool())
        .await?;

    // A person resolving by hand, or putting the alert into an incident, follows up.
    let sql = format!(
        "SELECT t.alert_id, t.at FROM timeline t JOIN alerts a ON a.id = t.alert_id \
         WHERE a.created_at >= $1 AND a.created_at < $2 AND t.kind = 'resolved' AND {by_human} \
         UNION ALL \
         SELECT ia.alert_id, ia.attached_at FROM incident_alerts ia \
         JOIN alerts a ON a.id = ia.alert_id \
         WHERE a.created_at >= $3 AND a.created_at < $4 AND ia.role = 'attached'",
        by_human = by_human(store.dialect())
    );
    // TODO(#6): alert notes and ticked runbook steps count as follow-ups too (§7) once
    // alerts can carry notes and runbook ticks reach the alert timeline.
    let follow_rows = sqlx::query(&sql)
        .bind(start)
        .bind(end)
        .bind(start)
        .bind(end)
        .fetch_all(store.pool())
        .await?;
    let mut follow_ups: HashMap<i64, Vec<Timestamp>> = HashMap::new();
    for row in &follow_rows {
        follow_ups
            .entry(row.try_get("alert_id")?)
            .or_default()
            .push(from_ms(row.try_get("at")?)?);
    }

    rows.iter()
        .map(|row| {
            let id: i64 = row.try_get("id")?;
            let labels: String = row.try_get("labels")?;
            let labels: BTreeMap<String, String> = serde_json::from_str(&labels)
                .map_err(|err| StoreError::Corrupt(format!("alert labels: {err}")))?;
            let state: String = row.try_get("state")?;
            Ok(Firing {
                service: row.try_get("service_id")?,
                name: alert_name(&labels, row.try_get("summary")?),
                triggered_at: from_ms(row.try_get("created_at")?)?,
                open: state != "resolved",
                human_ack_at: from_ms_opt(row.try_get("human_ack_at")?)?,
                follow_ups: follow_ups.remove(&id).unwrap_or_default(),
                labels,
                runbook: row.try_get("runbook_url")?,
            })
        })
        .collect()
}

/// Pages delivered to people in `period` (one row per sent message row).
pub async fn notifications(store: &Store, period: Period) -> Result<Vec<Notification>> {
    let sql = format!(
        "SELECT o.alert_id, o.person_id, o.sent_at FROM outbox o JOIN alerts a \
         ON a.id = o.alert_id WHERE o.state = 'sent' AND o.sent_at >= $1 AND o.sent_at < $2 \
         AND {NOT_DRILL} ORDER BY o.sent_at, o.id"
    );
    let rows = sqlx::query(&sql)
        .bind(to_ms(period.start))
        .bind(to_ms(period.end))
        .fetch_all(store.pool())
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Notification {
                alert_id: row.try_get("alert_id")?,
                person: row.try_get("person_id")?,
                at: from_ms(row.try_get("sent_at")?)?,
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
    let sql = format!(
        "SELECT a.service_id, a.severity, a.created_at, {ack} AS human_ack_at FROM alerts a \
         WHERE a.created_at >= $1 AND a.created_at < $2 AND {NOT_DRILL} \
         AND EXISTS (SELECT 1 FROM outbox o WHERE o.alert_id = a.id AND o.state = 'sent') \
         ORDER BY a.id",
        ack = first_human_ack(store.dialect())
    );
    let rows = sqlx::query(&sql)
        .bind(to_ms(period.start))
        .bind(to_ms(period.end))
        .fetch_all(store.pool())
        .await?;
    rows.iter()
        .map(|row| {
            Ok(AckRow {
                service: row.try_get("service_id")?,
                severity: row.try_get("severity")?,
                triggered_at: from_ms(row.try_get("created_at")?)?,
                first_human_ack: from_ms_opt(row.try_get("human_ack_at")?)?,
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
