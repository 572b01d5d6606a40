//! The service aggregate's timeline: change events and other entries that belong to a
//! service rather than to one alert.

use jiff::Timestamp;
use serde::Serialize;
use sqlx::Row as _;

use super::{Result, Store, StoreError, from_ms, to_ms};
use crate::intake::pagerduty::Change;

/// One entry of a service timeline.
#[derive(Clone, Debug, Serialize)]
pub struct ServiceEntry {
    pub at: Timestamp,
    pub kind: String,
    pub integration_id: Option<String>,
    pub summary: String,
    pub detail: serde_json::Value,
}

/// Stores a change event (`kind = "change"`).
pub async fn record_change(
    store: &Store,
    service: &str,
    integration: &str,
    change: &Change,
) -> Result<()> {
    let mut tx = store.begin().await?;
    let detail = serde_json::json!({
        "source": change.source,
        "custom_details": change.details,
        "links": change.links,
    });
    sqlx::query(
        "INSERT INTO service_timeline (service_id, at, kind, integration_id, summary, detail) \
         VALUES ($1, $2, 'change', $3, $4, $5)",
    )
    .bind(service)
    .bind(to_ms(change.timestamp))
    .bind(integration)
    .bind(&change.summary)
    .bind(detail.to_string())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A service's timeline, newest first, at most `limit` entries.
pub async fn timeline(store: &Store, service: &str, limit: i64) -> Result<Vec<ServiceEntry>> {
    let rows = sqlx::query(
        "SELECT at, kind, integration_id, summary, detail FROM service_timeline \
         WHERE service_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
    )
    .bind(service)
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|row| {
            let detail: String = row.try_get("detail")?;
            Ok(ServiceEntry {
                at: from_ms(row.try_get("at")?)?,
                kind: row.try_get("kind")?,
                integration_id: row.try_get("integration_id")?,
                summary: row.try_get("summary")?,
                detail: serde_json::from_str(&detail)
                    .map_err(|e| StoreError::Corrupt(format!("service timeline: {e}")))?,
            })
        })
        .collect()
}
