//! Data retention (issue #8): deleting old history in bounded batches, and when the cleanup
//! is next due. `engine::retention` decides when to run and with which cut-offs.
//!
//! An alert goes only when it is resolved before the cut-off, attached to no incident, and
//! named by no incident timeline entry (a postmortem is built from that timeline). Its rows
//! in `timeline`, `outbox`, `page_messages`, `alert_members`, `alert_groups` and
//! `deliveries` go with it: none of the foreign keys cascades, so children are deleted
//! first, in the same transaction as the alert.

use jiff::Timestamp;

use super::{Result, Store, StoreError, from_ms_opt, to_ms};

/// Tables holding an `alert_id` whose rows go with their alert, children first. Every table
/// with an `alert_id` is here except `incident_alerts`, whose alerts are never deleted.
const ALERT_CHILDREN: [&str; 6] = [
    "timeline",
    "outbox",
    "page_messages",
    "alert_members",
    "alert_groups",
    "deliveries",
];

/// When the cleanup is next due; `None` before the first run.
pub async fn next_run_at(store: &Store) -> Result<Option<Timestamp>> {
    let at: Option<i64> =
        sqlx::query_scalar("SELECT next_run_at FROM retention_state WHERE id = 1")
            .fetch_optional(store.pool())
            .await?;
    from_ms_opt(at)
}

/// Records a finished run and when the next is due, adding to the running totals.
pub async fn finish_run(
    store: &Store,
    next: Timestamp,
    alerts_deleted: u64,
    notices_deleted: u64,
) -> Result<()> {
    let mut tx = store.begin().await?;
    sqlx::query(
        "INSERT INTO retention_state (id, next_run_at, alerts_deleted, notices_deleted) \
         VALUES (1, $1, $2, $3) ON CONFLICT (id) DO UPDATE SET next_run_at = excluded.next_run_at, \
         alerts_deleted = retention_state.alerts_deleted + excluded.alerts_deleted, \
         notices_deleted = retention_state.notices_deleted + excluded.notices_deleted",
    )
    .bind(to_ms(next))
    .bind(count(alerts_deleted)?)
    .bind(count(notices_deleted)?)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes up to `limit` alerts resolved before `cutoff` that nothing keeps, with their
/// rows, in one transaction. Returns how many alerts went; fewer than `limit` means none
/// are left.
pub async fn delete_alerts_batch(store: &Store, cutoff: Timestamp, limit: u32) -> Result<u64> {
    let mut tx = store.begin().await?;

    // Chosen inside the write transaction, so an incident cannot attach one in between.
    let dialect = store.dialect();
    let sql = format!(
        "SELECT a.id FROM alerts a WHERE a.state = 'resolved' AND a.resolved_at < $1 \
         AND NOT EXISTS (SELECT 1 FROM incident_alerts ia WHERE ia.alert_id = a.id) \
         AND a.id NOT IN (SELECT {alert_id} FROM incident_events e \
                          WHERE {alert_id} IS NOT NULL) \
         ORDER BY a.id LIMIT $2",
        alert_id = dialect.json_int("e.data", "alert_id")
    );
    let ids: Vec<i64> = sqlx::query_scalar(&sql)
        .bind(to_ms(cutoff))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let ids = serde_json::to_string(&ids).map_err(|err| StoreError::Corrupt(err.to_string()))?;

    for table in ALERT_CHILDREN {
        let sql = format!(
            "DELETE FROM {table} WHERE alert_id IN ({})",
            dialect.json_ints("$1")
        );
        sqlx::query(&sql).bind(&ids).execute(&mut *tx).await?;
    }
    let sql = format!(
        "DELETE FROM alerts WHERE id IN ({})",
        dialect.json_ints("$1")
    );
    let deleted = sqlx::query(&sql)
        .bind(&ids)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(deleted)
}

/// Deletes up to `limit` notices queued before `cutoff` that are no longer pending. Returns
/// how many went.
pub async fn delete_notices_batch(store: &Store, cutoff: Timestamp, limit: u32) -> Result<u64> {
    let mut tx = store.begin().await?;
    let deleted = sqlx::query(
        "DELETE FROM notices WHERE id IN (SELECT id FROM notices \
         WHERE state <> 'pending' AND created_at < $1 LIMIT $2)",
    )
    .bind(to_ms(cutoff))
    .bind(i64::from(limit))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(deleted)
}

fn count(n: u64) -> Result<i64> {
    i64::try_from(n).map_err(|err| StoreError::Corrupt(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        (store, dir)
    }

    /// `n` alerts in `state`, resolved (when resolved) at `at`, each with a timeline entry,
    /// a page and a raw delivery.
    async fn alerts(store: &Store, n: i64, state: &str, at: Timestamp) {
        let resolved = (state == "resolved").then_some(to_ms(at));
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
             INSERT INTO alerts (service_id, integration_id, dedup_key, summary, severity, \
             state, created_at, updated_at, resolved_at, policy_id) \
             SELECT 'api', 'api/generic', $2 || i, 's', 'critical', $3, $4, $5, $6, \
             'default' FROM n",
        )
        .bind(n)
        .bind(state)
        .bind(state)
        .bind(to_ms(at))
        .bind(to_ms(at))
        .bind(resolved)
        .execute(store.pool())
        .await
        .unwrap();
        for sql in [
            "INSERT INTO timeline (alert_id, at, kind) SELECT id, created_at, 'created' \
             FROM alerts WHERE id NOT IN (SELECT alert_id FROM timeline)",
            "INSERT INTO outbox (id, alert_id, person_id, channel, destination, event, step, \
             state, due_at, created_at) SELECT 'o' || id, id, 'ana', 'email', 'a@x', \
             'triggered', 0, 'sent', created_at, created_at FROM alerts \
             WHERE id NOT IN (SELECT alert_id FROM outbox)",
            "INSERT INTO deliveries (id, integration_id, digest, received_at, alert_id, body) \
             SELECT 'd' || id, 'api/generic', 'x', created_at, id, x'00' FROM alerts \
             WHERE id NOT IN (SELECT alert_id FROM deliveries)",
        ] {
            sqlx::query(sql).execute(store.pool()).await.unwrap();
        }
    }

    async fn count(store: &Store, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(store.pool())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn batches_stay_bounded_and_take_the_children_along() {
        let (store, _dir) = store().await;
        let old: Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        let cutoff: Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
        alerts(&store, 1203, "resolved", old).await;
        alerts(&store, 3, "triggered", old).await;
        alerts(&store, 4, "resolved", cutoff).await;

        let mut batches = Vec::new();
        loop {
            let deleted = delete_alerts_batch(&store, cutoff, 500).await.unwrap();
            batches.push(deleted);
            if deleted < 500 {
                break;
            }
        }

        assert_eq!(batches, [500, 500, 203]);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM alerts").await, 7);
        for table in ["timeline", "outbox", "deliveries"] {
            let sql = format!(
                "SELECT COUNT(*) FROM {table} WHERE alert_id NOT IN (SELECT id FROM alerts)"
            );
            assert_eq!(count(&store, &sql).await, 0, "orphans in {table}");
            let sql = format!("SELECT COUNT(*) FROM {table}");
            assert_eq!(
                count(&store, &sql).await,
                7,
                "kept alerts keep their {table}"
            );
        }
    }

    #[tokio::test]
    async fn only_finished_notices_before_the_cutoff_go() {
        let (store, _dir) = store().await;
        let old: Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        let cutoff: Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
        for (id, state, at) in [
            ("sent-old", "sent", old),
            ("failed-old", "failed", old),
            ("pending-old", "pending", old),
            ("sent-new", "sent", cutoff),
        ] {
            sqlx::query(
                "INSERT INTO notices (id, schedule_id, kind, person_id, channel, destination, \
                 subject, body, state, due_at, created_at) \
                 VALUES ($1, 'business', 'shift_started', 'ana', 'email', 'a@x', 's', 'b', $2, \
                 $3, $4)",
            )
            .bind(id)
            .bind(state)
            .bind(to_ms(at))
            .bind(to_ms(at))
            .execute(store.pool())
            .await
            .unwrap();
        }

        let deleted = delete_notices_batch(&store, cutoff, 500).await.unwrap();

        let left: Vec<String> = sqlx::query_scalar("SELECT id FROM notices ORDER BY id")
            .fetch_all(store.pool())
            .await
            .unwrap();
        assert_eq!(deleted, 2);
        assert_eq!(left, ["pending-old", "sent-new"]);
    }
}
