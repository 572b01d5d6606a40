//! Built-in probes' runtime state (issue #9): each probe's streaks, health and next due
//! time (`probe_state`), and every run (`probe_runs`), which uptime and monitoring gaps
//! are computed from.
//!
//! The status page reads two things from here: the component state a probe holds
//! (`component_holds`, folded into `statuspage::recompute` like a public incident's
//! state) and the silences of a probe, which are no data for its component
//! (`monitoring_gaps`, applied by the snapshot). Which checks exist is config; what they
//! found is here.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use sqlx::{AnyConnection, Row as _};

use super::{Result, Store, StoreError, from_ms, from_ms_opt, to_ms};
use crate::config::StatusPageConfig;
use crate::domain::probe::{Health, ProbeState};
use crate::domain::statuspage::ComponentStatus;

/// A silence longer than this many intervals between two runs is a monitoring gap.
const GAP_INTERVALS: i64 = 2;

/// What is stored about one probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub state: ProbeState,
    pub next_due: Timestamp,
    /// The TLS expiry warning alert is open.
    pub cert_warned: bool,
    pub last_result: Option<Health>,
    pub last_at: Option<Timestamp>,
    pub last_error: Option<String>,
}

/// One finished check and the state it leaves, written together.
#[derive(Clone, Debug)]
pub struct Run<'a> {
    pub probe_id: &'a str,
    pub component: Option<&'a str>,
    pub interval: SignedDuration,
    pub at: Timestamp,
    pub result: Health,
    pub latency_ms: Option<i64>,
    pub error: Option<&'a str>,
    pub state: ProbeState,
    pub next_due: Timestamp,
    pub cert_not_after: Option<Timestamp>,
    pub cert_warned: bool,
}

/// Every stored probe by id.
pub async fn states(store: &Store) -> Result<BTreeMap<String, Stored>> {
    let rows = sqlx::query(
        "SELECT probe_id, health, failures, successes, slow, fast, next_due_at, cert_warned, \
         last_result, last_at, last_error FROM probe_state",
    )
    .fetch_all(store.pool())
    .await?;
    let mut out = BTreeMap::new();
    for row in rows {
        let count = |field: &str| -> Result<u32> {
            Ok(u32::try_from(row.try_get::<i64, _>(field)?).unwrap_or(0))
        };
        let last: Option<String> = row.try_get("last_result")?;
        let stored = Stored {
            state: ProbeState {
                health: parse_health(&row.try_get::<String, _>("health")?)?,
                failures: count("failures")?,
                successes: count("successes")?,
                slow: count("slow")?,
                fast: count("fast")?,
            },
            next_due: from_ms(row.try_get("next_due_at")?)?,
            cert_warned: row.try_get::<i64, _>("cert_warned")? != 0,
            last_result: last.as_deref().map(parse_health).transpose()?,
            last_at: from_ms_opt(row.try_get("last_at")?)?,
            last_error: row.try_get("last_error")?,
        };
        out.insert(row.try_get("probe_id")?, stored);
    }
    Ok(out)
}

fn parse_health(text: &str) -> Result<Health> {
    Health::parse(text).ok_or_else(|| StoreError::Corrupt(format!("probe health {text:?}")))
}

/// Makes the row of a probe seen for the first time, due at `next_due`.
pub async fn schedule(
    store: &Store,
    probe_id: &str,
    component: Option<&str>,
    interval: SignedDuration,
    next_due: Timestamp,
) -> Result<()> {
    let mut tx = store.begin().await?;
    sqlx::query(
        "INSERT INTO probe_state (probe_id, component, interval_ms, next_due_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(probe_id)
    .bind(component)
    .bind(interval_ms(interval))
    .bind(to_ms(next_due))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Drops the state of probes no longer configured, so a removed probe stops holding its
/// component; history stays. Returns how many were dropped.
pub async fn forget_others(
    store: &Store,
    page: &StatusPageConfig,
    ids: &[&str],
    now: Timestamp,
) -> Result<u64> {
    let ids = serde_json::to_string(ids).map_err(|err| StoreError::Corrupt(err.to_string()))?;
    let mut tx = store.begin().await?;
    let sql = format!(
        "DELETE FROM probe_state WHERE probe_id NOT IN (SELECT value FROM {})",
        store.dialect().json_values("$1")
    );
    let dropped = sqlx::query(&sql)
        .bind(ids)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if dropped > 0 {
        super::statuspage::recompute(&mut tx, page, now).await?;
    }
    tx.commit().await?;
    Ok(dropped)
}

/// Stores one run and the state it leaves in one transaction. With `page`, recomputes the
/// status page components in the same transaction and returns those that changed.
pub async fn record_run(
    store: &Store,
    run: &Run<'_>,
    page: Option<&StatusPageConfig>,
) -> Result<Vec<String>> {
    let mut tx = store.begin().await?;
    sqlx::query(
        "INSERT INTO probe_runs (probe_id, at, result, latency_ms, error) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(run.probe_id)
    .bind(to_ms(run.at))
    .bind(run.result.as_str())
    .bind(run.latency_ms)
    .bind(run.error)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO probe_state (probe_id, component, interval_ms, health, failures, \
         successes, slow, fast, last_result, last_at, last_latency_ms, last_error, \
         cert_not_after, cert_warned, next_due_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
         ON CONFLICT (probe_id) DO UPDATE SET component = $2, interval_ms = $3, health = $4, \
         failures = $5, successes = $6, slow = $7, fast = $8, last_result = $9, \
         last_at = $10, last_latency_ms = $11, last_error = $12, cert_not_after = $13, \
         cert_warned = $14, next_due_at = $15",
    )
    .bind(run.probe_id)
    .bind(run.component)
    .bind(interval_ms(run.interval))
    .bind(run.state.health.as_str())
    .bind(i64::from(run.state.failures))
    .bind(i64::from(run.state.successes))
    .bind(i64::from(run.state.slow))
    .bind(i64::from(run.state.fast))
    .bind(run.result.as_str())
    .bind(to_ms(run.at))
    .bind(run.latency_ms)
    .bind(run.error)
    .bind(run.cert_not_after.map(to_ms))
    .bind(i64::from(run.cert_warned))
    .bind(to_ms(run.next_due))
    .execute(&mut *tx)
    .await?;
    let changed = match page {
        Some(page) => super::statuspage::recompute(&mut tx, page, run.at).await?,
        None => Vec::new(),
    };
    tx.commit().await?;
    Ok(changed)
}

/// The component states probes hold now: down → `major_outage`, slow →
/// `degraded_performance`; an up probe holds nothing.
pub(crate) async fn component_holds(
    conn: &mut AnyConnection,
) -> Result<Vec<(String, ComponentStatus)>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT component, health FROM probe_state \
         WHERE component IS NOT NULL AND health != 'up' ORDER BY probe_id",
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|(component, health)| {
            let status = match parse_health(&health)? {
                Health::Down => ComponentStatus::MajorOutage,
                Health::Slow => ComponentStatus::DegradedPerformance,
                Health::Up => ComponentStatus::Operational,
            };
            Ok((component, status))
        })
        .collect()
}

/// Silences of the probes that drive a component, as `(component key, [start, end))`:
/// every stretch between two runs longer than [`GAP_INTERVALS`] intervals, and the time
/// since the newest run when that is longer. A probe that never ran has no gap: nothing is
/// known to be missing, as with the instance heartbeat.
pub(crate) async fn monitoring_gaps(
    conn: &mut AnyConnection,
    since: Timestamp,
    now: Timestamp,
) -> Result<Vec<(String, (Timestamp, Timestamp))>> {
    let probes: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT probe_id, component, interval_ms FROM probe_state \
         WHERE component IS NOT NULL ORDER BY probe_id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut gaps = Vec::new();
    for (probe_id, component, interval) in probes {
        let limit = SignedDuration::from_millis(interval.saturating_mul(GAP_INTERVALS));
        // The run just before `since` decides whether the window starts inside a gap.
        let runs: Vec<i64> = sqlx::query_scalar(
            "SELECT at FROM probe_runs WHERE probe_id = $1 AND at >= \
             COALESCE((SELECT MAX(at) FROM probe_runs WHERE probe_id = $1 AND at < $2), $2) \
             ORDER BY at",
        )
        .bind(&probe_id)
        .bind(to_ms(since))
        .fetch_all(&mut *conn)
        .await?;
        let mut previous: Option<Timestamp> = None;
        for at in runs {
            let at = from_ms(at)?;
            if let Some(previous) = previous
                && at.duration_since(previous) > limit
            {
                gaps.push((component.clone(), (previous, at)));
            }
            previous = Some(at);
        }
        if let Some(previous) = previous
            && now.duration_since(previous) > limit
        {
            gaps.push((component.clone(), (previous, now)));
        }
    }
    Ok(gaps)
}

/// A probe's record over a window, counted in runs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Uptime {
    pub runs: u32,
    pub up: u32,
    pub slow: u32,
    pub down: u32,
    /// Passing runs (up or slow) per hundred runs, to two decimals; `None` without runs.
    pub percent: Option<f64>,
}

/// Uptime of `probe_id` from its runs in `[from, to)`: a slow answer is still an answer,
/// so it counts as up, as `degraded_performance` does on the status page.
pub async fn uptime(
    store: &Store,
    probe_id: &str,
    from: Timestamp,
    to: Timestamp,
) -> Result<Uptime> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT result, COUNT(*) FROM probe_runs WHERE probe_id = $1 AND at >= $2 AND at < $3 \
         GROUP BY result",
    )
    .bind(probe_id)
    .bind(to_ms(from))
    .bind(to_ms(to))
    .fetch_all(store.pool())
    .await?;
    let mut uptime = Uptime {
        runs: 0,
        up: 0,
        slow: 0,
        down: 0,
        percent: None,
    };
    for (result, count) in rows {
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        match parse_health(&result)? {
            Health::Up => uptime.up = count,
            Health::Slow => uptime.slow = count,
            Health::Down => uptime.down = count,
        }
        uptime.runs = uptime.runs.saturating_add(count);
    }
    if uptime.runs > 0 {
        let passing = f64::from(uptime.up + uptime.slow);
        uptime.percent = Some((passing * 10_000.0 / f64::from(uptime.runs)).round() / 100.0);
    }
    Ok(uptime)
}

fn interval_ms(interval: SignedDuration) -> i64 {
    i64::try_from(interval.as_millis()).unwrap_or(i64::MAX)
}
