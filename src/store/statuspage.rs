//! The public status page's runtime state (comms spec §4): component states and their
//! effective-state history, public incidents and their updates, scheduled maintenances,
//! reclassified ranges, heartbeats and email subscribers.
//!
//! Components themselves live in `statuspage.toml`; rows here are keyed by the config key.
//! Every write that can move a component's effective state ends with `recompute` in the
//! same transaction, so `statuspage_intervals` (what uptime reads) never lags behind.
//! Submodules: `publish` (public incidents and updates), `maintenances`, `subscribers`
//! (subscribers, their tokens and their outbox) and `snapshot` (everything the page shows,
//! read in one go for the in-memory cache).

pub mod maintenances;
pub mod publish;
pub mod snapshot;
pub mod subscribers;

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::AnyConnection;

use super::{Result, Store, StoreError, from_ms, to_ms};
use crate::config::StatusPageConfig;
use crate::domain::statuspage::ComponentStatus;
use crate::domain::statuspage::rollup;

pub use snapshot::snapshot;

/// A heartbeat within this long of the last one continues the run; a longer gap is no data
/// (§4.9 rule 3).
pub const HEARTBEAT_GAP: SignedDuration = SignedDuration::from_mins(2);
/// How often the engine records a heartbeat.
pub const HEARTBEAT_EVERY: SignedDuration = SignedDuration::from_secs(30);

/// The wire and database name of a snake-case serde enum (statuses, impacts).
pub fn wire_name<T: Serialize>(value: T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        _ => String::new(),
    }
}

/// Reads a stored snake-case enum value.
pub(crate) fn parse_stored<T: DeserializeOwned>(what: &str, text: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(|_| StoreError::Corrupt(format!("status page {what} {text:?}")))
}

/// Makes a row (operational, with an open interval from `now`) for every configured
/// component that has none yet.
pub(crate) async fn ensure_components(
    conn: &mut AnyConnection,
    page: &StatusPageConfig,
    now: Timestamp,
) -> Result<()> {
    for component in &page.components {
        let inserted = sqlx::query(
            "INSERT INTO statuspage_components (key, created_at, updated_at) \
             VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(&component.key)
        .bind(to_ms(now))
        .bind(to_ms(now))
        .execute(&mut *conn)
        .await?;
        if inserted.rows_affected() > 0 {
            open_interval(conn, &component.key, ComponentStatus::Operational, now).await?;
        }
    }
    Ok(())
}

async fn open_interval(
    conn: &mut AnyConnection,
    key: &str,
    status: ComponentStatus,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO statuspage_intervals (component_key, status, start_at) VALUES ($1, $2, $3)",
    )
    .bind(key)
    .bind(wire_name(status))
    .bind(to_ms(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Recomputes every configured component's effective state (§4.1) from its manual state,
/// the unresolved public incidents holding it and the active maintenances covering it. A
/// changed state closes the open interval at `now` (dropping it if it is empty) and opens
/// the next. Returns the keys whose state changed.
pub(crate) async fn recompute(
    conn: &mut AnyConnection,
    page: &StatusPageConfig,
    now: Timestamp,
) -> Result<Vec<String>> {
    ensure_components(conn, page, now).await?;
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT key, manual_status, status FROM statuspage_components")
            .fetch_all(&mut *conn)
            .await?;
    let held: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT c.component_key, c.status, i.kind FROM statuspage_incident_components c \
         JOIN statuspage_incidents i ON i.id = c.public_id \
         WHERE (i.kind = 'incident' AND i.status IN ('investigating', 'identified', 'monitoring')) \
            OR (i.kind = 'maintenance' AND i.status IN ('in_progress', 'verifying'))",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut incidents: BTreeMap<String, Vec<ComponentStatus>> = BTreeMap::new();
    let mut maintenance: BTreeMap<String, bool> = BTreeMap::new();
    for (key, status, kind) in held {
        if kind == "maintenance" {
            maintenance.insert(key, true);
        } else {
            let status = parse_stored("component status", &status)?;
            incidents.entry(key).or_default().push(status);
        }
    }
    // Probes hold their component like a public incident does (issue #9).
    for (key, status) in super::probes::component_holds(&mut *conn).await? {
        incidents.entry(key).or_default().push(status);
    }

    let mut changed = Vec::new();
    for (key, manual, current) in rows {
        if !page.components.iter().any(|c| c.key == key) {
            continue;
        }
        let manual: ComponentStatus = parse_stored("manual status", &manual)?;
        let current: ComponentStatus = parse_stored("component status", &current)?;
        let held = incidents.get(&key).map_or(&[][..], Vec::as_slice);
        let effective = rollup::effective_status(manual, held, maintenance.contains_key(&key));
        if effective == current {
            continue;
        }
        sqlx::query("UPDATE statuspage_components SET status = $1, updated_at = $2 WHERE key = $3")
            .bind(wire_name(effective))
            .bind(to_ms(now))
            .bind(&key)
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "DELETE FROM statuspage_intervals WHERE component_key = $1 AND end_at IS NULL \
             AND start_at >= $2",
        )
        .bind(&key)
        .bind(to_ms(now))
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "UPDATE statuspage_intervals SET end_at = $1 WHERE component_key = $2 \
             AND end_at IS NULL",
        )
        .bind(to_ms(now))
        .bind(&key)
        .execute(&mut *conn)
        .await?;
        open_interval(conn, &key, effective, now).await?;
        tracing::info!(component = %key, from = %wire_name(current), to = %wire_name(effective),
            "status page component changed");
        changed.push(key);
    }
    Ok(changed)
}

/// The `seq` of the newest publish or public update on any incident timeline (0 when
/// none): how a server notices what another process (the CLI) published.
pub async fn last_publish(store: &Store) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COALESCE(MAX(seq), 0) FROM incident_events \
         WHERE kind IN ('statuspage.published', 'statuspage.updated')",
    )
    .fetch_one(store.pool())
    .await?)
}

/// Brings component rows in line with the config (new components, a changed config at a
/// restart) and their states with what holds them.
pub async fn sync(store: &Store, page: &StatusPageConfig, now: Timestamp) -> Result<()> {
    let mut tx = store.begin().await?;
    recompute(&mut tx, page, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Sets a component's manual state (an admin's own judgement, §4.1).
pub async fn set_manual(
    store: &Store,
    page: &StatusPageConfig,
    key: &str,
    status: ComponentStatus,
    now: Timestamp,
) -> Result<ComponentStatus> {
    if !page.components.iter().any(|c| c.key == key) {
        return Err(StoreError::NotFound);
    }
    let mut tx = store.begin().await?;
    ensure_components(&mut tx, page, now).await?;
    sqlx::query("UPDATE statuspage_components SET manual_status = $1 WHERE key = $2")
        .bind(wire_name(status))
        .bind(key)
        .execute(&mut *tx)
        .await?;
    recompute(&mut tx, page, now).await?;
    let effective: String =
        sqlx::query_scalar("SELECT status FROM statuspage_components WHERE key = $1")
            .bind(key)
            .fetch_one(&mut *tx)
            .await?;
    tx.commit().await?;
    parse_stored("component status", &effective)
}

/// How a reclassified range counts for uptime (§4.9 rule 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RangeClass {
    Maintenance,
    NoData,
}

/// A past range an admin reclassified, with its audit fields.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reclassification {
    pub id: i64,
    /// The component key; `None` for every component.
    pub component: Option<String>,
    pub start: Timestamp,
    pub end: Timestamp,
    #[serde(rename = "as")]
    pub class: RangeClass,
    pub reason: String,
    pub admin: String,
    pub created_at: Timestamp,
}

/// Records a reclassification; figures recompute from it at the next snapshot. The caller
/// checks that the range is past and the component exists.
pub async fn reclassify(
    store: &Store,
    component: Option<&str>,
    (start, end): (Timestamp, Timestamp),
    class: RangeClass,
    reason: &str,
    admin: &str,
    now: Timestamp,
) -> Result<Reclassification> {
    let mut tx = store.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO statuspage_reclassified (component_key, start_at, end_at, class, reason, \
         admin, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(component)
    .bind(to_ms(start))
    .bind(to_ms(end))
    .bind(wire_name(class))
    .bind(reason)
    .bind(admin)
    .bind(to_ms(now))
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(reclassification.id = id, component = ?component, class = %wire_name(class),
        admin = %admin, "status page range reclassified");
    Ok(Reclassification {
        id,
        component: component.map(str::to_string),
        start,
        end,
        class,
        reason: reason.to_string(),
        admin: admin.to_string(),
        created_at: now,
    })
}

/// Every reclassification, oldest first: the audit trail.
pub async fn reclassifications(store: &Store) -> Result<Vec<Reclassification>> {
    let mut conn = store.pool().acquire().await?;
    read_reclassifications(&mut conn).await
}

pub(crate) async fn read_reclassifications(
    conn: &mut AnyConnection,
) -> Result<Vec<Reclassification>> {
    type Row = (i64, Option<String>, i64, i64, String, String, String, i64);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, component_key, start_at, end_at, class, reason, admin, created_at \
         FROM statuspage_reclassified ORDER BY id",
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(
            |(id, component, start, end, class, reason, admin, created_at)| {
                Ok(Reclassification {
                    id,
                    component,
                    start: from_ms(start)?,
                    end: from_ms(end)?,
                    class: parse_stored("range class", &class)?,
                    reason,
                    admin,
                    created_at: from_ms(created_at)?,
                })
            },
        )
        .collect()
}

/// Records that the instance is alive at `now` (§4.9 rule 3): extends the newest run of
/// heartbeats when it ended at most [`HEARTBEAT_GAP`] ago, else starts a new run. Writes
/// at most once per [`HEARTBEAT_EVERY`].
pub async fn heartbeat(store: &Store, now: Timestamp) -> Result<()> {
    let newest: Option<(i64, i64)> =
        sqlx::query_as("SELECT id, end_at FROM statuspage_heartbeats ORDER BY id DESC LIMIT 1")
            .fetch_optional(store.pool())
            .await?;
    let now_ms = to_ms(now);
    let gap_ms = HEARTBEAT_GAP.as_millis() as i64;
    let every_ms = HEARTBEAT_EVERY.as_millis() as i64;
    match newest {
        Some((_, end)) if now_ms >= end && now_ms - end < every_ms => return Ok(()),
        Some((_, end)) if now_ms < end => return Ok(()),
        _ => {}
    }
    let mut tx = store.begin().await?;
    match newest {
        Some((id, end)) if now_ms - end <= gap_ms => {
            sqlx::query("UPDATE statuspage_heartbeats SET end_at = $1 WHERE id = $2")
                .bind(now_ms)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        _ => {
            sqlx::query("INSERT INTO statuspage_heartbeats (start_at, end_at) VALUES ($1, $2)")
                .bind(now_ms)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}
