//! Maintenance holds (on-call spec D11): triggered alerts of a service in maintenance wait
//! with no escalation due and no pending page, marked with the window's end; at that end
//! they start their policy again at step 0.

use jiff::Timestamp;

use super::alerts::add_event;
use super::{Result, Store, from_ms_opt, outbox, to_ms};

/// Holds every triggered alert of `service` until `until` that is not held yet, held only
/// until an earlier instant, or was given an escalation due time since (a reopen): its due
/// time and pending pages go, `maintenance_hold` is logged. Returns the ids held. Pages a
/// person opened (an incident's, a direct page to a service) are never held: someone
/// decided to page now.
pub async fn hold(
    store: &Store,
    service: &str,
    until: Timestamp,
    now: Timestamp,
) -> Result<Vec<i64>> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM alerts WHERE service_id = $1 AND state = 'triggered' \
         AND integration_id NOT IN ('incident', 'direct') \
         AND (maintenance_until IS NULL OR maintenance_until < $2 \
              OR next_escalation_at IS NOT NULL) ORDER BY id",
    )
    .bind(service)
    .bind(to_ms(until))
    .fetch_all(store.pool())
    .await?;
    let mut held = Vec::with_capacity(ids.len());
    for id in ids {
        let mut tx = store.begin().await?;
        let updated = sqlx::query(
            "UPDATE alerts SET maintenance_until = $1, next_escalation_at = NULL, updated_at = $2 \
             WHERE id = $3 AND state = 'triggered'",
        )
        .bind(to_ms(until))
        .bind(to_ms(now))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            continue;
        }
        let dropped = outbox::drop_pending(&mut tx, id).await?;
        let detail = serde_json::json!({ "until": until, "dropped_pages": dropped });
        add_event(&mut tx, id, now, "maintenance_hold", None, detail).await?;
        tx.commit().await?;
        held.push(id);
    }
    Ok(held)
}

/// Releases every alert held until `now` or earlier: a triggered one starts its policy at
/// step 0, due at `now`, and logs `maintenance_release`; others (acked or resolved
/// meanwhile) just lose the mark. Returns the ids released to escalate.
pub async fn release(store: &Store, now: Timestamp) -> Result<Vec<i64>> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT id, maintenance_until FROM alerts WHERE state = 'triggered' \
         AND maintenance_until <= $1 ORDER BY id",
    )
    .bind(to_ms(now))
    .fetch_all(store.pool())
    .await?;
    let mut released = Vec::with_capacity(rows.len());
    for (id, until) in rows {
        let mut tx = store.begin().await?;
        let updated = sqlx::query(
            "UPDATE alerts SET maintenance_until = NULL, esc_step = 0, esc_loop = 0, \
             esc_loop_paged = 0, esc_waiting = 1, next_escalation_at = $1, updated_at = $2 \
             WHERE id = $3 AND state = 'triggered' AND maintenance_until = $4",
        )
        .bind(to_ms(now))
        .bind(to_ms(now))
        .bind(id)
        .bind(until)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            continue;
        }
        let detail = serde_json::json!({ "held_until": from_ms_opt(Some(until))? });
        add_event(&mut tx, id, now, "maintenance_release", None, detail).await?;
        tx.commit().await?;
        released.push(id);
    }
    sqlx::query(
        "UPDATE alerts SET maintenance_until = NULL \
         WHERE maintenance_until <= $1 AND state <> 'triggered'",
    )
    .bind(to_ms(now))
    .execute(store.pool())
    .await?;
    Ok(released)
}

/// The earliest end of a hold on a triggered alert.
pub async fn next_release_at(store: &Store) -> Result<Option<Timestamp>> {
    let ms: Option<i64> =
        sqlx::query_scalar("SELECT MIN(maintenance_until) FROM alerts WHERE state = 'triggered'")
            .fetch_one(store.pool())
            .await?;
    from_ms_opt(ms)
}
