//! Postmortems (comms spec §6): one row per incident with its document, owner, due time,
//! reminder counter and the hash of the last exported file.
//!
//! Publishing or skipping closes the incident in the same transaction, writing
//! `status.changed` (resolved → closed) and `postmortem.published|skipped` on its
//! timeline. What the document says and when reminders fall is `domain::postmortem`'s.

use jiff::Timestamp;
use serde::Serialize;
use sqlx::{AnyConnection, Row as _};

use super::action_items::{self, ActionItem};
use super::incidents::{NewEvent, add_event};
use super::{Result, Store, StoreError, from_ms, from_ms_opt, to_ms};
use crate::domain::incident::Source;
use crate::domain::postmortem::{Document, Status};

/// A postmortem as the API and CLI show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Postmortem {
    pub incident_id: String,
    pub status: Status,
    /// A person id: who writes it (the commander by default).
    pub owner: String,
    pub due_at: Timestamp,
    pub document: Document,
    pub skip_reason: Option<String>,
    #[serde(skip)]
    pub reminders_sent: i64,
    pub next_reminder_at: Option<Timestamp>,
    #[serde(skip)]
    pub exported_hash: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub closed_at: Option<Timestamp>,
}

fn corrupt(what: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("postmortem {what}: {err}"))
}

fn read(row: &sqlx::any::AnyRow) -> Result<Postmortem> {
    let status: String = row.try_get("status")?;
    let document: String = row.try_get("document")?;
    Ok(Postmortem {
        incident_id: row.try_get("incident_id")?,
        status: status.parse().map_err(|err| corrupt("status", err))?,
        owner: row.try_get("owner")?,
        due_at: from_ms(row.try_get("due_at")?)?,
        document: serde_json::from_str(&document).map_err(|err| corrupt("document", err))?,
        skip_reason: row.try_get("skip_reason")?,
        reminders_sent: row.try_get("reminders_sent")?,
        next_reminder_at: from_ms_opt(row.try_get("next_reminder_at")?)?,
        exported_hash: row.try_get("exported_hash")?,
        created_at: from_ms(row.try_get("created_at")?)?,
        updated_at: from_ms(row.try_get("updated_at")?)?,
        closed_at: from_ms_opt(row.try_get("closed_at")?)?,
    })
}

fn document_json(doc: &Document) -> Result<String> {
    serde_json::to_string(doc).map_err(|err| corrupt("document", err))
}

pub async fn get(store: &Store, incident_id: &str) -> Result<Option<Postmortem>> {
    let row = sqlx::query("SELECT * FROM postmortems WHERE incident_id = $1")
        .bind(incident_id)
        .fetch_optional(store.pool())
        .await?;
    row.as_ref().map(read).transpose()
}

/// Stores a new draft and writes `postmortem.created`; `false` when the incident already
/// has one (the resolve hook and the engine's sweep may both try).
pub async fn create(store: &Store, pm: &Postmortem, now: Timestamp) -> Result<bool> {
    let mut tx = store.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO postmortems (incident_id, status, owner, due_at, document, \
         reminders_sent, next_reminder_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
    )
    .bind(&pm.incident_id)
    .bind(pm.status.as_str())
    .bind(&pm.owner)
    .bind(to_ms(pm.due_at))
    .bind(document_json(&pm.document)?)
    .bind(pm.reminders_sent)
    .bind(pm.next_reminder_at.map(to_ms))
    .bind(to_ms(now))
    .bind(to_ms(now))
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if inserted {
        let data = serde_json::json!({ "owner": pm.owner, "due_at": pm.due_at });
        let event = NewEvent::now("postmortem.created", "system", Source::Engine, now).with(data);
        add_event(&mut tx, &pm.incident_id, &event, now).await?;
    }
    tx.commit().await?;
    Ok(inserted)
}

async fn write_in(conn: &mut AnyConnection, pm: &Postmortem, now: Timestamp) -> Result<()> {
    sqlx::query(
        "UPDATE postmortems SET status = $1, owner = $2, due_at = $3, document = $4, \
         skip_reason = $5, reminders_sent = $6, next_reminder_at = $7, exported_hash = $8, \
         updated_at = $9, closed_at = $10 WHERE incident_id = $11",
    )
    .bind(pm.status.as_str())
    .bind(&pm.owner)
    .bind(to_ms(pm.due_at))
    .bind(document_json(&pm.document)?)
    .bind(&pm.skip_reason)
    .bind(pm.reminders_sent)
    .bind(pm.next_reminder_at.map(to_ms))
    .bind(&pm.exported_hash)
    .bind(to_ms(now))
    .bind(pm.closed_at.map(to_ms))
    .bind(&pm.incident_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes the postmortem and `items` (new or changed) in one transaction.
pub async fn save(
    store: &Store,
    pm: &Postmortem,
    items: &[ActionItem],
    source: Source,
    now: Timestamp,
) -> Result<()> {
    let mut tx = store.begin().await?;
    write_in(&mut tx, pm, now).await?;
    for item in items {
        action_items::save_in(&mut tx, item, source, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Records the hash of the file just exported.
pub async fn set_exported_hash(store: &Store, incident_id: &str, hash: &str) -> Result<()> {
    sqlx::query("UPDATE postmortems SET exported_hash = $1 WHERE incident_id = $2")
        .bind(hash)
        .bind(incident_id)
        .execute(store.pool())
        .await?;
    Ok(())
}

/// Publishes or skips `pm` (its status already set by the caller) and closes the resolved
/// incident: `closed_at`, `status.changed` and `postmortem.published|skipped`, one
/// transaction. Refused unless the incident is `resolved`.
pub async fn close(
    store: &Store,
    pm: &Postmortem,
    actor: &str,
    source: Source,
    now: Timestamp,
) -> Result<()> {
    let mut tx = store.begin().await?;
    let status: Option<String> = sqlx::query_scalar("SELECT status FROM incidents WHERE id = $1")
        .bind(&pm.incident_id)
        .fetch_optional(&mut *tx)
        .await?;
    match status.as_deref() {
        None => return Err(StoreError::NotFound),
        Some("resolved") => {}
        Some(other) => {
            return Err(StoreError::Conflict(format!(
                "the incident is {other}; only a resolved incident's postmortem closes it"
            )));
        }
    }
    write_in(&mut tx, pm, now).await?;
    sqlx::query(
        "UPDATE incidents SET status = 'closed', closed_at = $1, reminder_due_at = NULL, \
         publish_prompt_at = NULL WHERE id = $2",
    )
    .bind(to_ms(now))
    .bind(&pm.incident_id)
    .execute(&mut *tx)
    .await?;
    let kind = match pm.status {
        Status::Skipped => "postmortem.skipped",
        _ => "postmortem.published",
    };
    let data = serde_json::json!({ "reason": pm.skip_reason });
    let event = NewEvent::now(kind, actor, source, now).with(data);
    add_event(&mut tx, &pm.incident_id, &event, now).await?;
    let data = serde_json::json!({ "from": "resolved", "to": "closed", "text": null });
    let event = NewEvent::now("status.changed", actor, source, now).with(data);
    add_event(&mut tx, &pm.incident_id, &event, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Stops the reminders of an incident's postmortem (a reopen, §1.1).
pub async fn cancel_reminders(store: &Store, incident_id: &str) -> Result<()> {
    sqlx::query("UPDATE postmortems SET next_reminder_at = NULL WHERE incident_id = $1")
        .bind(incident_id)
        .execute(store.pool())
        .await?;
    Ok(())
}

/// Open postmortems with a reminder due at `now`.
pub async fn due_reminders(store: &Store, now: Timestamp, limit: i64) -> Result<Vec<Postmortem>> {
    let rows = sqlx::query(
        "SELECT * FROM postmortems WHERE status IN ('draft', 'in_review') \
         AND next_reminder_at <= $1 ORDER BY next_reminder_at LIMIT $2",
    )
    .bind(to_ms(now))
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(read).collect()
}

/// Records a sent reminder: notices, the next slot and its instant, one transaction.
pub async fn record_reminder(
    store: &Store,
    pm: &Postmortem,
    notices: &[super::notices::NewNotice],
    next_slot: i64,
    next: Option<Timestamp>,
    now: Timestamp,
) -> Result<()> {
    let mut tx = store.begin().await?;
    sqlx::query(
        "UPDATE postmortems SET reminders_sent = $1, next_reminder_at = $2 \
         WHERE incident_id = $3",
    )
    .bind(next_slot)
    .bind(next.map(to_ms))
    .bind(&pm.incident_id)
    .execute(&mut *tx)
    .await?;
    let data = serde_json::json!({ "to": pm.owner, "n": pm.reminders_sent + 1 });
    let event = NewEvent::now("postmortem.reminder", "system", Source::Engine, now).with(data);
    add_event(&mut tx, &pm.incident_id, &event, now).await?;
    super::notices::insert_all(&mut tx, notices, now).await?;
    tx.commit().await?;
    Ok(())
}

/// The earliest postmortem reminder still to send.
pub async fn next_reminder_at(store: &Store) -> Result<Option<Timestamp>> {
    let at: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(next_reminder_at) FROM postmortems WHERE status IN ('draft', 'in_review')",
    )
    .fetch_one(store.pool())
    .await?;
    from_ms_opt(at)
}

/// Resolved P1/P2 incidents that have no postmortem yet: the engine drafts them, so a
/// crash between a resolve and its draft loses nothing.
pub async fn missing_drafts(store: &Store, limit: i64) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT i.id FROM incidents i LEFT JOIN postmortems p ON p.incident_id = i.id \
         WHERE i.status = 'resolved' AND i.severity <= 2 AND p.incident_id IS NULL \
         ORDER BY i.number LIMIT $1",
    )
    .bind(limit)
    .fetch_all(store.pool())
    .await?)
}

/// The customer-visible spans of incident `incident_id`'s public projection (§6.2): the
/// intervals in which a component it holds was degraded or down (not operational, not
/// under maintenance), within `[started_at, resolved_at)` of the projection (`until` while
/// it is still open). `None` when the incident was never published on the status page.
pub async fn public_impact_spans(
    store: &Store,
    incident_id: &str,
    until: Timestamp,
) -> Result<Option<(Timestamp, Timestamp, Vec<(Timestamp, Timestamp)>)>> {
    let projection: Option<(String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT id, started_at, resolved_at FROM statuspage_incidents \
         WHERE incident_id = $1 AND kind = 'incident'",
    )
    .bind(incident_id)
    .fetch_optional(store.pool())
    .await?;
    let Some((public_id, started_at, resolved_at)) = projection else {
        return Ok(None);
    };
    let (from, to) = (
        from_ms(started_at)?,
        from_ms_opt(resolved_at)?.unwrap_or(until),
    );
    let rows: Vec<(i64, Option<i64>)> = sqlx::query_as(
        "SELECT v.start_at, v.end_at FROM statuspage_intervals v \
         JOIN statuspage_incident_components c ON c.component_key = v.component_key \
         WHERE c.public_id = $1 AND v.status NOT IN ('operational', 'under_maintenance') \
           AND v.start_at < $2 AND (v.end_at IS NULL OR v.end_at > $3) \
         ORDER BY v.start_at",
    )
    .bind(&public_id)
    .bind(to_ms(to))
    .bind(to_ms(from))
    .fetch_all(store.pool())
    .await?;
    let mut spans = Vec::with_capacity(rows.len());
    for (start, end) in rows {
        spans.push((from_ms(start)?, from_ms_opt(end)?.unwrap_or(to)));
    }
    Ok(Some((from, to, spans)))
}
