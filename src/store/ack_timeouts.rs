//! Ack timeouts (on-call spec D8): the persisted instant an acknowledged alert triggers
//! again, and the re-trigger itself, written in one transaction with its timeline and pages.
//!
//! `ack_timeout_at` is armed from `acked_at` for services that have an `ack_timeout`, so
//! every ack surface (API, CLI, links, Slack, a source's ack) is covered without knowing
//! about timeouts; a resolve or a re-trigger clears it.

use jiff::{SignedDuration, Timestamp};
use sqlx::Row as _;

use super::alerts::add_event;
use super::{Result, Store, from_ms, outbox, to_ms};
use crate::domain::escalation::Firing;

/// An acknowledged alert whose ack timeout has come.
#[derive(Clone, Debug)]
pub struct DueAckTimeout {
    pub alert_id: i64,
    pub service_id: String,
    pub policy_id: String,
    pub acked_at: Option<Timestamp>,
    pub acked_by: Option<String>,
    pub due_at: Timestamp,
}

/// Arms the timeout of every acknowledged alert of `service` that has none yet, at
/// `acked_at + timeout`; returns how many.
pub async fn arm(store: &Store, service: &str, timeout: SignedDuration) -> Result<u64> {
    // Read first: most passes find nothing to arm, and a read takes no write lock.
    let unarmed: i64 = sqlx::query_scalar(
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM alerts WHERE service_id = $1 \
         AND state = 'acknowledged' AND ack_timeout_at IS NULL AND acked_at IS NOT NULL) \
         THEN 1 ELSE 0 END",
    )
    .bind(service)
    .fetch_one(store.pool())
    .await?;
    if unarmed == 0 {
        return Ok(0);
    }
    let timeout_ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
    let done = sqlx::query(
        "UPDATE alerts SET ack_timeout_at = acked_at + $1 WHERE service_id = $2 \
         AND state = 'acknowledged' AND ack_timeout_at IS NULL AND acked_at IS NOT NULL",
    )
    .bind(timeout_ms)
    .bind(service)
    .execute(store.pool())
    .await?;
    Ok(done.rows_affected())
}

/// Acknowledged alerts whose timeout is due at `now`, oldest first.
pub async fn due(store: &Store, now: Timestamp, limit: i64) -> Result<Vec<DueAckTimeout>> {
    let rows = sqlx::query(
        "SELECT id, service_id, policy_id, acked_at, acked_by, ack_timeout_at FROM alerts \
         WHERE state = 'acknowledged' AND ack_timeout_at <= $1 \
         ORDER BY ack_timeout_at, id LIMIT $2",
    )
    .bind(to_ms(now))
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(DueAckTimeout {
                alert_id: row.try_get("id")?,
                service_id: row.try_get("service_id")?,
                policy_id: row.try_get("policy_id")?,
                acked_at: super::from_ms_opt(row.try_get("acked_at")?)?,
                acked_by: row.try_get("acked_by")?,
                due_at: from_ms(row.try_get("ack_timeout_at")?)?,
            })
        })
        .collect()
}

/// The earliest armed ack timeout.
pub async fn next_due_at(store: &Store) -> Result<Option<Timestamp>> {
    let ms: Option<i64> =
        sqlx::query_scalar("SELECT MIN(ack_timeout_at) FROM alerts WHERE state = 'acknowledged'")
            .fetch_one(store.pool())
            .await?;
    super::from_ms_opt(ms)
}

/// Moves a due timeout to `until` (the end of the service's maintenance) and notes it on the
/// timeline. False if the alert changed meanwhile.
pub async fn postpone(
    store: &Store,
    due: &DueAckTimeout,
    until: Timestamp,
    now: Timestamp,
) -> Result<bool> {
    let mut tx = store.begin().await?;
    let moved = sqlx::query(
        "UPDATE alerts SET ack_timeout_at = $1 \
         WHERE id = $2 AND state = 'acknowledged' AND ack_timeout_at = $3",
    )
    .bind(to_ms(until))
    .bind(due.alert_id)
    .bind(to_ms(due.due_at))
    .execute(&mut *tx)
    .await?;
    if moved.rows_affected() == 0 {
        return Ok(false);
    }
    let detail = serde_json::json!({ "until": until, "ack_timeout_at": due.due_at });
    add_event(&mut tx, due.alert_id, now, "maintenance_hold", None, detail).await?;
    tx.commit().await?;
    Ok(true)
}

/// Clears a due timeout whose service no longer has one (a config edit).
pub async fn disarm(store: &Store, due: &DueAckTimeout) -> Result<()> {
    sqlx::query("UPDATE alerts SET ack_timeout_at = NULL WHERE id = $1 AND ack_timeout_at = $2")
        .bind(due.alert_id)
        .bind(to_ms(due.due_at))
        .execute(store.pool())
        .await?;
    Ok(())
}

/// Re-triggers: the alert goes back to `triggered` with the escalation state `firing`
/// left, the ack is forgotten, and `ack_timeout` then the firing's entries and pages are
/// written, in one transaction. False (nothing written) if the alert changed meanwhile.
pub async fn record_retrigger(
    store: &Store,
    due: &DueAckTimeout,
    firing: &Firing,
    timeline: &[(&str, serde_json::Value)],
    pages: &[outbox::NewPage],
    now: Timestamp,
) -> Result<bool> {
    let mut tx = store.begin().await?;
    let updated = sqlx::query(
        "UPDATE alerts SET state = 'triggered', acked_at = NULL, acked_by = NULL, \
         ack_timeout_at = NULL, maintenance_until = NULL, esc_step = $1, esc_loop = $2, \
         esc_loop_paged = $3, \
         esc_waiting = $4, next_escalation_at = $5, updated_at = $6 \
         WHERE id = $7 AND state = 'acknowledged' AND ack_timeout_at = $8",
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
    let detail = serde_json::json!({
        "acked_by": due.acked_by,
        "acked_at": due.acked_at,
        "due_at": due.due_at,
    });
    add_event(&mut tx, due.alert_id, now, "ack_timeout", None, detail).await?;
    for (kind, detail) in timeline {
        add_event(&mut tx, due.alert_id, now, kind, None, detail.clone()).await?;
    }
    for page in pages {
        outbox::insert(&mut tx, due.alert_id, page, now).await?;
    }
    tx.commit().await?;
    Ok(true)
}
