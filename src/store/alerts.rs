//! The alert aggregate: reads for the API and CLI, ack and resolve, the escalation state
//! the engine advances, and the alert timeline.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;
use sqlx::{AnyConnection, Row as _};

use super::{Result, Store, StoreError, from_ms, from_ms_opt, outbox, to_ms};
use crate::domain::alert::{AlertState, Severity};
use crate::domain::delivery::Link;
use crate::domain::escalation::{EscalationState, Firing};

/// An alert as the API and CLI show it.
#[derive(Clone, Debug, Serialize)]
pub struct Alert {
    pub id: i64,
    pub service_id: String,
    pub integration_id: String,
    pub dedup_key: String,
    pub summary: String,
    pub details: String,
    pub severity: Severity,
    pub source: String,
    pub runbook_url: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub links: Vec<Link>,
    pub state: AlertState,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub acked_at: Option<Timestamp>,
    pub acked_by: Option<String>,
    pub resolved_at: Option<Timestamp>,
    pub resolved_by: Option<String>,
    pub trigger_count: i64,
    /// How often a source re-fire reopened it (flapping).
    pub reopen_count: i64,
    pub policy_id: String,
    pub escalation: EscalationState,
    pub next_escalation_at: Option<Timestamp>,
    /// People a page was delivered to, in id order.
    pub paged: Vec<String>,
    /// Upstream members (Alertmanager, Grafana) belonging to it.
    pub members: i64,
    /// The receiver of its group, regex escaping undone (intake IN-08); display only.
    pub receiver: Option<String>,
}

/// One entry of an alert's timeline.
#[derive(Clone, Debug, Serialize)]
pub struct TimelineEntry {
    pub at: Timestamp,
    pub kind: String,
    pub actor: Option<String>,
    pub detail: serde_json::Value,
}

/// An alert whose escalation due time has come.
#[derive(Clone, Debug)]
pub struct DueEscalation {
    pub alert_id: i64,
    pub service_id: String,
    /// Opened by a person (an incident's page, a direct page): maintenance never holds it.
    pub deliberate: bool,
    pub policy_id: String,
    pub state: EscalationState,
    pub due_at: Timestamp,
}

/// What an ack or resolve did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    Changed,
    /// The alert was already in that state; nothing was written.
    Unchanged,
}

const ALERT_COLUMNS: &str = "id, service_id, integration_id, dedup_key, summary, details, \
    severity, source, runbook_url, labels, links, state, created_at, updated_at, acked_at, \
    acked_by, resolved_at, resolved_by, trigger_count, reopen_count, policy_id, esc_step, \
    esc_loop, \
    esc_loop_paged, esc_waiting, next_escalation_at, receiver, \
    (SELECT COUNT(*) FROM alert_members m WHERE m.alert_id = alerts.id) AS members, \
    (SELECT string_agg(person_id, ',' ORDER BY person_id) FROM (SELECT DISTINCT person_id \
       FROM outbox o WHERE o.alert_id = alerts.id AND o.state = 'sent') AS p) AS paged";

fn alert_from_row(row: &sqlx::any::AnyRow) -> Result<Alert> {
    let corrupt = |what: &str, err: String| StoreError::Corrupt(format!("alert {what}: {err}"));
    let labels: String = row.try_get("labels")?;
    let links: String = row.try_get("links")?;
    let severity: String = row.try_get("severity")?;
    let state: String = row.try_get("state")?;
    let paged: Option<String> = row.try_get("paged")?;
    Ok(Alert {
        id: row.try_get("id")?,
        service_id: row.try_get("service_id")?,
        integration_id: row.try_get("integration_id")?,
        dedup_key: row.try_get("dedup_key")?,
        summary: row.try_get("summary")?,
        details: row.try_get("details")?,
        severity: severity.parse().map_err(|e| corrupt("severity", e))?,
        source: row.try_get("source")?,
        runbook_url: row.try_get("runbook_url")?,
        labels: serde_json::from_str(&labels).map_err(|e| corrupt("labels", e.to_string()))?,
        links: serde_json::from_str::<Vec<LinkRow>>(&links)
            .map_err(|e| corrupt("links", e.to_string()))?
            .into_iter()
            .map(|l| Link {
                href: l.href,
                text: l.text,
            })
            .collect(),
        state: state.parse().map_err(|e| corrupt("state", e))?,
        created_at: from_ms(row.try_get("created_at")?)?,
        updated_at: from_ms(row.try_get("updated_at")?)?,
        acked_at: from_ms_opt(row.try_get("acked_at")?)?,
        acked_by: row.try_get("acked_by")?,
        resolved_at: from_ms_opt(row.try_get("resolved_at")?)?,
        resolved_by: row.try_get("resolved_by")?,
        trigger_count: row.try_get("trigger_count")?,
        reopen_count: row.try_get("reopen_count")?,
        policy_id: row.try_get("policy_id")?,
        escalation: escalation_from_row(row)?,
        next_escalation_at: from_ms_opt(row.try_get("next_escalation_at")?)?,
        paged: paged
            .map(|p| p.split(',').map(str::to_string).collect())
            .unwrap_or_default(),
        members: row.try_get("members")?,
        receiver: row.try_get("receiver")?,
    })
}

/// The `esc_*` columns of an alert row.
fn escalation_from_row(row: &sqlx::any::AnyRow) -> Result<EscalationState> {
    Ok(EscalationState {
        step: usize::try_from(row.try_get::<i64, _>("esc_step")?).unwrap_or(0),
        loop_index: u32::try_from(row.try_get::<i64, _>("esc_loop")?).unwrap_or(0),
        loop_paged: super::get_flag(row, "esc_loop_paged")?,
        waiting: super::get_flag(row, "esc_waiting")?,
    })
}

#[derive(serde::Deserialize)]
struct LinkRow {
    href: String,
    text: String,
}

/// Open (not resolved) alerts, oldest first; with `all`, resolved ones too.
pub async fn list(store: &Store, all: bool) -> Result<Vec<Alert>> {
    let filter = if all { "" } else { "WHERE state <> 'resolved'" };
    let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts {filter} ORDER BY id");
    let rows = sqlx::query(&sql).fetch_all(store.pool()).await?;
    rows.iter().map(alert_from_row).collect()
}

/// One alert by id.
pub async fn get(store: &Store, id: i64) -> Result<Alert> {
    let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1");
    let row = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(store.pool())
        .await?;
    alert_from_row(&row.ok_or(StoreError::NotFound)?)
}

/// An alert's timeline, oldest first.
pub async fn timeline(store: &Store, id: i64) -> Result<Vec<TimelineEntry>> {
    let rows =
        sqlx::query("SELECT at, kind, actor, detail FROM timeline WHERE alert_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(store.pool())
            .await?;
    rows.iter()
        .map(|row| {
            let detail: String = row.try_get("detail")?;
            Ok(TimelineEntry {
                at: from_ms(row.try_get("at")?)?,
                kind: row.try_get("kind")?,
                actor: row.try_get("actor")?,
                detail: serde_json::from_str(&detail)
                    .map_err(|e| StoreError::Corrupt(format!("timeline detail: {e}")))?,
            })
        })
        .collect()
}

/// Appends a timeline entry inside the caller's transaction.
pub(crate) async fn add_event(
    conn: &mut AnyConnection,
    alert_id: i64,
    at: Timestamp,
    kind: &str,
    actor: Option<&str>,
    detail: serde_json::Value,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO timeline (alert_id, at, kind, actor, detail) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(alert_id)
    .bind(to_ms(at))
    .bind(kind)
    .bind(actor)
    .bind(detail.to_string())
    .execute(&mut *conn)
    .await?;
    super::incidents::mirror_alert_event(conn, alert_id, at, kind, actor, &detail).await
}

/// Acknowledges a triggered alert: escalation stops and unsent pages are dropped (D8).
/// `via` says which surface (api, cli, link) for the timeline.
pub async fn acknowledge(
    store: &Store,
    id: i64,
    by: &str,
    via: &str,
    now: Timestamp,
) -> Result<Transition> {
    let mut tx = store.begin().await?;
    let done = acknowledge_in(&mut tx, id, by, via, now).await?;
    tx.commit().await?;
    Ok(done)
}

/// Acknowledges inside the caller's transaction.
pub(crate) async fn acknowledge_in(
    conn: &mut AnyConnection,
    id: i64,
    by: &str,
    via: &str,
    now: Timestamp,
) -> Result<Transition> {
    match current_state(conn, id).await? {
        AlertState::Resolved => return Err(StoreError::Conflict("the alert is resolved".into())),
        AlertState::Acknowledged => return Ok(Transition::Unchanged),
        AlertState::Triggered => {}
    }
    sqlx::query(
        "UPDATE alerts SET state = 'acknowledged', acked_at = $1, acked_by = $2, updated_at = $3, \
         next_escalation_at = NULL WHERE id = $4",
    )
    .bind(to_ms(now))
    .bind(by)
    .bind(to_ms(now))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    let dropped = outbox::drop_pending(conn, id).await?;
    let detail = serde_json::json!({ "via": via, "dropped_pages": dropped });
    add_event(conn, id, now, "acknowledged", Some(by), detail).await?;
    // Reports read the first human ack from the alert (issue #7).
    super::reports::store_human_ack(conn, id).await?;
    Ok(Transition::Changed)
}

/// Acknowledges, for a bundle's ack-all link (D9), every triggered alert of `upto`'s
/// service with an id up to `upto` that was paged to `person`; returns how many. One
/// transaction, so a responder never sees half a bundle acked.
pub async fn acknowledge_all(
    store: &Store,
    upto: i64,
    person: &str,
    via: &str,
    now: Timestamp,
) -> Result<u64> {
    let mut tx = store.begin().await?;
    let service: Option<String> = sqlx::query_scalar("SELECT service_id FROM alerts WHERE id = $1")
        .bind(upto)
        .fetch_optional(&mut *tx)
        .await?;
    let service = service.ok_or(StoreError::NotFound)?;
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM alerts WHERE service_id = $1 AND state = 'triggered' AND id <= $2 \
         AND EXISTS (SELECT 1 FROM outbox o WHERE o.alert_id = alerts.id \
         AND o.person_id = $3 AND o.state = 'sent') ORDER BY id",
    )
    .bind(&service)
    .bind(upto)
    .bind(person)
    .fetch_all(&mut *tx)
    .await?;
    let mut acked = 0;
    for id in ids {
        if acknowledge_in(&mut tx, id, person, via, now).await? == Transition::Changed {
            acked += 1;
        }
    }
    tx.commit().await?;
    Ok(acked)
}

/// Resolves an open alert; final (D8). A repeat is `Unchanged`.
pub async fn resolve(
    store: &Store,
    id: i64,
    by: &str,
    via: &str,
    now: Timestamp,
) -> Result<Transition> {
    let mut tx = store.begin().await?;
    if current_state(&mut tx, id).await? == AlertState::Resolved {
        return Ok(Transition::Unchanged);
    }
    resolve_in(&mut tx, id, by, via, now, now).await?;
    tx.commit().await?;
    Ok(Transition::Changed)
}

/// Resolves inside the caller's transaction; `ended_at` is when the problem ended (from the
/// payload when the source resolves), `now` when dutybell learnt it.
pub(crate) async fn resolve_in(
    conn: &mut AnyConnection,
    id: i64,
    by: &str,
    via: &str,
    ended_at: Timestamp,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "UPDATE alerts SET prev_state = state, paused_next_at = next_escalation_at, \
         resolved_via = $1, state = 'resolved', resolved_at = $2, resolved_by = $3, \
         updated_at = $4, next_escalation_at = NULL, ack_timeout_at = NULL \
         WHERE id = $5 AND state <> 'resolved'",
    )
    .bind(via)
    .bind(to_ms(ended_at))
    .bind(by)
    .bind(to_ms(now))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    // A person resolving closes the members too, so the source's next resolve is a no-op.
    sqlx::query(
        "UPDATE alert_members SET status = 'resolved', ends_at = COALESCE(ends_at, $1), \
         updated_at = $2 WHERE alert_id = $3 AND status = 'firing'",
    )
    .bind(to_ms(ended_at))
    .bind(to_ms(now))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    if via != "source" {
        // The source may still be firing: its next snapshot must be read again (M5, a
        // disputed re-fire), not skipped as a duplicate of one seen before the resolve.
        sqlx::query(
            "UPDATE deliveries SET digest = 'superseded:' || digest \
             WHERE alert_id = $1 AND digest NOT LIKE 'superseded:%'",
        )
        .bind(id)
        .execute(&mut *conn)
        .await?;
    }
    let dropped = outbox::drop_pending(conn, id).await?;
    let detail = serde_json::json!({ "via": via, "ended_at": ended_at, "dropped_pages": dropped });
    add_event(conn, id, now, "resolved", Some(by), detail).await?;
    Ok(())
}

async fn current_state(conn: &mut AnyConnection, id: i64) -> Result<AlertState> {
    let state: Option<String> = sqlx::query_scalar("SELECT state FROM alerts WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    state
        .ok_or(StoreError::NotFound)?
        .parse()
        .map_err(StoreError::Corrupt)
}

/// Triggered alerts whose escalation is due at `now`, oldest due first.
pub async fn due_escalations(
    store: &Store,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<DueEscalation>> {
    let rows = sqlx::query(
        "SELECT id, service_id, integration_id, policy_id, esc_step, esc_loop, esc_loop_paged, \
         esc_waiting, next_escalation_at FROM alerts \
         WHERE state = 'triggered' AND next_escalation_at <= $1 \
         ORDER BY next_escalation_at, id LIMIT $2",
    )
    .bind(to_ms(now))
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(DueEscalation {
                alert_id: row.try_get("id")?,
                service_id: row.try_get("service_id")?,
                deliberate: matches!(
                    row.try_get::<String, _>("integration_id")?.as_str(),
                    "incident" | "direct"
                ),
                policy_id: row.try_get("policy_id")?,
                state: escalation_from_row(row)?,
                due_at: from_ms(row.try_get("next_escalation_at")?)?,
            })
        })
        .collect()
}

/// The earliest escalation due time of any triggered alert.
pub async fn next_escalation_at(store: &Store) -> Result<Option<Timestamp>> {
    let ms: Option<i64> =
        sqlx::query_scalar("SELECT MIN(next_escalation_at) FROM alerts WHERE state = 'triggered'")
            .fetch_one(store.pool())
            .await?;
    from_ms_opt(ms)
}

/// The escalation policies alerts not yet resolved still follow (direct pages, whose
/// policy is their own, left out), with how many alerts follow each.
pub async fn open_policies(store: &Store) -> Result<BTreeMap<String, i64>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT policy_id, COUNT(*) FROM alerts WHERE state <> 'resolved' AND service_id <> $1 \
         GROUP BY policy_id",
    )
    .bind(crate::domain::direct::SERVICE)
    .fetch_all(store.pool())
    .await?;
    Ok(rows.into_iter().collect())
}

/// Stores the outcome of a due escalation with its timeline entries and pages, in one
/// transaction. Returns false (and writes nothing) if the alert changed meanwhile — acked,
/// resolved or fired by someone else — since the due time was read.
pub async fn record_firing(
    store: &Store,
    due: &DueEscalation,
    firing: &Firing,
    timeline: &[(&str, serde_json::Value)],
    pages: &[outbox::NewPage],
    now: Timestamp,
) -> Result<bool> {
    let mut tx = store.begin().await?;
    let updated = sqlx::query(
        "UPDATE alerts SET esc_step = $1, esc_loop = $2, esc_loop_paged = $3, esc_waiting = $4, \
         next_escalation_at = $5, updated_at = $6 \
         WHERE id = $7 AND state = 'triggered' AND next_escalation_at = $8",
    )
    .bind(i64::try_from(firing.state.step).unwrap_or(0))
    .bind(i64::from(firing.state.loop_index))
    .bind(i64::from(firing.state.loop_paged))
    .bind(i64::from(firing.state.waiting))
    .bind(firing.next_at.map(to_ms))
    .bind(to_ms(now))
    .bind(due.alert_id)
    .bind(to_ms(due.due_at))
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Ok(false);
    }
    for (kind, detail) in timeline {
        add_event(&mut tx, due.alert_id, now, kind, None, detail.clone()).await?;
    }
    for page in pages {
        outbox::insert(&mut tx, due.alert_id, page, now).await?;
    }
    tx.commit().await?;
    Ok(true)
}
