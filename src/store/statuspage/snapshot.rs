//! Everything the public page shows, read in one read transaction into a
//! [`Snapshot`] (comms spec §4): the HTTP layer renders it once per change and serves the
//! result from memory, so page views never reach the database.
//!
//! Uptime inputs are prepared here: heartbeat gaps become no-data ranges, and ranges an
//! admin reclassified are applied to the stored intervals (maintenance turns them
//! `under_maintenance`, no data for one component cuts them out), leaving the stored
//! history itself untouched.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use sqlx::{AnyConnection, Row as _};

use super::{HEARTBEAT_GAP, RangeClass, parse_stored, read_reclassifications};
use crate::config::StatusPageConfig;
use crate::domain::statuspage::{
    AffectedComponent, Component, ComponentStatus, MaintenanceWindow, PublicIncident, Snapshot,
    StateInterval, Update, public_id, rollup,
};
use crate::store::{Result, Store, StoreError, from_ms, from_ms_opt, get_flag, to_ms};

/// How many incidents (and, separately, finished maintenances) a snapshot holds: the API
/// lists 50, history pages show more.
const KEPT: i64 = 250;
/// How far back intervals are read: a year of uptime plus the days around it.
const HISTORY: SignedDuration = SignedDuration::from_hours(400 * 24);

/// Reads the whole page at `now`; `base_url` is the page's absolute URL (no trailing `/`).
pub async fn snapshot(
    store: &Store,
    page: &StatusPageConfig,
    base_url: &str,
    now: Timestamp,
) -> Result<Snapshot> {
    // A read transaction: one consistent view even while writers commit.
    let mut tx = store.pool().begin().await?;
    let components = components(&mut tx, page, now).await?;
    let incidents = items(&mut tx, page, "incident").await?;
    let maintenances = items(&mut tx, page, "maintenance").await?;
    let since = now.saturating_sub(HISTORY).unwrap_or(now);
    let mut intervals = intervals(&mut tx, page, since).await?;
    let mut no_data = heartbeat_gaps(&mut tx, since, now).await?;
    for range in read_reclassifications(&mut tx).await? {
        let target = match &range.component {
            Some(key) => match page.components.iter().find(|c| &c.key == key) {
                Some(c) => Some(c.public_id.clone()),
                None => continue,
            },
            None => None,
        };
        let span = (range.start, range.end);
        match (range.class, target) {
            (RangeClass::NoData, None) => no_data.push(span),
            (class, target) => {
                intervals = reclassify(intervals, target.as_deref(), span, class);
            }
        }
    }
    // A probe's silence is no data for the component it drives (issue #9).
    for (key, span) in crate::store::probes::monitoring_gaps(&mut tx, since, now).await? {
        if let Some(c) = page.components.iter().find(|c| c.key == key) {
            intervals = reclassify(intervals, Some(&c.public_id), span, RangeClass::NoData);
        }
    }
    tx.commit().await?;

    let updated_at = components
        .iter()
        .map(|c| c.updated_at)
        .chain(incidents.iter().map(|i| i.updated_at))
        .chain(maintenances.iter().map(|m| m.updated_at))
        .max()
        .unwrap_or(now);
    Ok(Snapshot {
        page_id: public_id("page", "default"),
        name: page.name.clone(),
        url: base_url.trim_end_matches('/').to_string(),
        time_zone: page.time_zone.clone(),
        updated_at,
        components,
        incidents,
        maintenances,
        intervals,
        no_data,
        built_at: now,
    })
}

/// Components flat by position, each group right before its members (§4.4), groups in
/// the order their first member appears; a group's state is its worst child.
async fn components(
    conn: &mut AnyConnection,
    page: &StatusPageConfig,
    now: Timestamp,
) -> Result<Vec<Component>> {
    let rows: Vec<(String, String, i64, i64)> =
        sqlx::query_as("SELECT key, status, created_at, updated_at FROM statuspage_components")
            .fetch_all(&mut *conn)
            .await?;
    let mut stored = BTreeMap::new();
    for (key, status, created, updated) in rows {
        let status: ComponentStatus = parse_stored("component status", &status)?;
        stored.insert(key, (status, from_ms(created)?, from_ms(updated)?));
    }
    let component = |c: &crate::config::ComponentConfig, group_id: Option<String>| {
        let (status, created_at, updated_at) =
            stored
                .get(&c.key)
                .copied()
                .unwrap_or((ComponentStatus::Operational, now, now));
        Component {
            id: c.public_id.clone(),
            name: c.name.clone(),
            description: c.description.clone(),
            status,
            position: 0,
            showcase: c.showcase,
            only_show_if_degraded: c.only_show_if_degraded,
            start_date: c.start_date,
            group_id,
            children: None,
            created_at,
            updated_at,
        }
    };

    let mut out: Vec<Component> = Vec::new();
    let mut groups_done: Vec<&str> = Vec::new();
    for c in &page.components {
        let Some(group_key) = &c.group else {
            out.push(component(c, None));
            continue;
        };
        if groups_done.contains(&group_key.as_str()) {
            continue;
        }
        groups_done.push(group_key);
        let Some(group) = page.groups.iter().find(|g| &g.key == group_key) else {
            out.push(component(c, None));
            continue;
        };
        let members: Vec<Component> = page
            .components
            .iter()
            .filter(|m| m.group.as_deref() == Some(group_key))
            .map(|m| component(m, Some(group.public_id.clone())))
            .collect();
        let statuses: Vec<ComponentStatus> = members.iter().map(|m| m.status).collect();
        out.push(Component {
            id: group.public_id.clone(),
            name: group.name.clone(),
            description: group.description.clone(),
            status: rollup::group_status(&statuses),
            position: 0,
            showcase: members.iter().any(|m| m.showcase),
            only_show_if_degraded: false,
            start_date: members.iter().filter_map(|m| m.start_date).min(),
            group_id: None,
            children: Some(members.iter().map(|m| m.id.clone()).collect()),
            created_at: members.iter().map(|m| m.created_at).min().unwrap_or(now),
            updated_at: members.iter().map(|m| m.updated_at).max().unwrap_or(now),
        });
        out.extend(members);
    }
    for group in &page.groups {
        if !groups_done.contains(&group.key.as_str()) {
            out.push(Component {
                id: group.public_id.clone(),
                name: group.name.clone(),
                description: group.description.clone(),
                status: ComponentStatus::Operational,
                position: 0,
                showcase: false,
                only_show_if_degraded: false,
                start_date: None,
                group_id: None,
                children: Some(Vec::new()),
                created_at: now,
                updated_at: now,
            });
        }
    }
    for (i, c) in out.iter_mut().enumerate() {
        c.position = u32::try_from(i + 1).unwrap_or(u32::MAX);
    }
    Ok(out)
}

/// Public incidents or maintenances of `kind`, newest `created_at` first, with their
/// updates (newest first) and affected component ids. Unfinished ones are always kept;
/// finished ones up to [`KEPT`].
async fn items(
    conn: &mut AnyConnection,
    page: &StatusPageConfig,
    kind: &str,
) -> Result<Vec<PublicIncident>> {
    let rows = sqlx::query(
        "SELECT * FROM statuspage_incidents WHERE kind = $1 AND id IN ( \
           SELECT id FROM statuspage_incidents WHERE kind = $1 \
           ORDER BY status IN ('resolved', 'postmortem', 'completed'), created_at DESC \
           LIMIT $2) \
         ORDER BY created_at DESC, id",
    )
    .bind(kind)
    .bind(KEPT)
    .fetch_all(&mut *conn)
    .await?;
    let public_ids: BTreeMap<&str, &str> = page
        .components
        .iter()
        .map(|c| (c.key.as_str(), c.public_id.as_str()))
        .collect();

    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        let id: String = row.try_get("id")?;
        let keys: Vec<String> = sqlx::query_scalar(
            "SELECT component_key FROM statuspage_incident_components WHERE public_id = $1",
        )
        .bind(&id)
        .fetch_all(&mut *conn)
        .await?;
        let schedule = match (
            from_ms_opt(row.try_get("scheduled_for")?)?,
            from_ms_opt(row.try_get("scheduled_until")?)?,
        ) {
            (Some(scheduled_for), Some(scheduled_until)) if kind == "maintenance" => {
                Some(MaintenanceWindow {
                    scheduled_for,
                    scheduled_until,
                })
            }
            _ => None,
        };
        let impact: String = row.try_get("impact")?;
        items.push(PublicIncident {
            updates: updates(conn, &id).await?,
            id,
            name: row.try_get("name")?,
            status: row.try_get("status")?,
            impact: parse_stored("impact", &impact)?,
            created_at: from_ms(row.try_get("created_at")?)?,
            updated_at: from_ms(row.try_get("updated_at")?)?,
            monitoring_at: from_ms_opt(row.try_get("monitoring_at")?)?,
            resolved_at: from_ms_opt(row.try_get("resolved_at")?)?,
            started_at: from_ms(row.try_get("started_at")?)?,
            components: keys
                .iter()
                .filter_map(|key| public_ids.get(key.as_str()).map(|id| id.to_string()))
                .collect(),
            schedule,
        });
    }
    Ok(items)
}

async fn updates(conn: &mut AnyConnection, public_id: &str) -> Result<Vec<Update>> {
    // `seq` (insertion order) breaks ties of updates made in the same millisecond.
    let rows = sqlx::query(
        "SELECT id, status, body, display_at, created_at, updated_at, affected_components, \
         deliver_notifications FROM statuspage_updates WHERE public_id = $1 \
         ORDER BY display_at DESC, created_at DESC, seq DESC",
    )
    .bind(public_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            let affected: Option<String> = row.try_get("affected_components")?;
            let affected = affected
                .map(|text| serde_json::from_str::<Vec<AffectedComponent>>(&text))
                .transpose()
                .map_err(|e| StoreError::Corrupt(format!("affected components: {e}")))?;
            Ok(Update {
                id: row.try_get("id")?,
                status: row.try_get("status")?,
                body: row.try_get("body")?,
                created_at: from_ms(row.try_get("created_at")?)?,
                updated_at: from_ms(row.try_get("updated_at")?)?,
                display_at: from_ms(row.try_get("display_at")?)?,
                affected_components: affected,
                deliver_notifications: get_flag(row, "deliver_notifications")?,
            })
        })
        .collect()
}

/// Effective-state intervals that end after `since`, by component public id.
async fn intervals(
    conn: &mut AnyConnection,
    page: &StatusPageConfig,
    since: Timestamp,
) -> Result<Vec<StateInterval>> {
    let rows: Vec<(String, String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT component_key, status, start_at, end_at FROM statuspage_intervals \
         WHERE end_at IS NULL OR end_at > $1 ORDER BY component_key, start_at",
    )
    .bind(to_ms(since))
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for (key, status, start, end) in rows {
        let Some(component) = page.components.iter().find(|c| c.key == key) else {
            continue;
        };
        out.push(StateInterval {
            component_id: component.public_id.clone(),
            status: parse_stored("interval status", &status)?,
            start: from_ms(start)?,
            end: from_ms_opt(end)?,
        });
    }
    Ok(out)
}

/// No-data ranges from heartbeats (§4.9 rule 3): every gap longer than
/// [`HEARTBEAT_GAP`] between runs, and the time since the newest run when that is longer.
/// With no heartbeat at all, nothing is known to be missing.
async fn heartbeat_gaps(
    conn: &mut AnyConnection,
    since: Timestamp,
    now: Timestamp,
) -> Result<Vec<(Timestamp, Timestamp)>> {
    let runs: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT start_at, end_at FROM statuspage_heartbeats WHERE end_at > $1 ORDER BY start_at",
    )
    .bind(to_ms(since))
    .fetch_all(&mut *conn)
    .await?;
    let mut gaps = Vec::new();
    let mut previous_end: Option<Timestamp> = None;
    for (start, end) in runs {
        let (start, end) = (from_ms(start)?, from_ms(end)?);
        if let Some(previous) = previous_end
            && start.duration_since(previous) > HEARTBEAT_GAP
        {
            gaps.push((previous, start));
        }
        previous_end = Some(previous_end.map_or(end, |p| p.max(end)));
    }
    if let Some(previous) = previous_end
        && now.duration_since(previous) > HEARTBEAT_GAP
    {
        gaps.push((previous, now));
    }
    Ok(gaps)
}

/// Applies one reclassified range to the intervals of `target` (all components when
/// `None`): the overlapping part becomes `under_maintenance`, or is cut out for no data.
fn reclassify(
    intervals: Vec<StateInterval>,
    target: Option<&str>,
    (start, end): (Timestamp, Timestamp),
    class: RangeClass,
) -> Vec<StateInterval> {
    let mut out = Vec::with_capacity(intervals.len() + 2);
    for interval in intervals {
        let hit = target.is_none_or(|id| id == interval.component_id);
        let interval_end = interval.end.unwrap_or(Timestamp::MAX);
        if !hit || interval_end <= start || interval.start >= end {
            out.push(interval);
            continue;
        }
        if interval.start < start {
            out.push(StateInterval {
                end: Some(start),
                ..interval.clone()
            });
        }
        if class == RangeClass::Maintenance {
            out.push(StateInterval {
                status: ComponentStatus::UnderMaintenance,
                start: interval.start.max(start),
                end: Some(interval_end.min(end)),
                ..interval.clone()
            });
        }
        if interval_end > end {
            out.push(StateInterval {
                start: end,
                ..interval
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn interval(
        id: &str,
        status: ComponentStatus,
        start: &str,
        end: Option<&str>,
    ) -> StateInterval {
        StateInterval {
            component_id: id.into(),
            status,
            start: t(start),
            end: end.map(t),
        }
    }

    #[test]
    fn reclassified_maintenance_splits_only_the_overlap() {
        use ComponentStatus::*;
        let intervals = vec![
            interval(
                "db",
                MajorOutage,
                "2025-05-01T10:00:00Z",
                Some("2025-05-01T11:30:00Z"),
            ),
            interval("db", Operational, "2025-05-01T11:30:00Z", None),
            interval(
                "web",
                MajorOutage,
                "2025-05-01T10:00:00Z",
                Some("2025-05-01T11:30:00Z"),
            ),
        ];
        let span = (t("2025-05-01T10:30:00Z"), t("2025-05-01T11:30:00Z"));

        let out = reclassify(intervals, Some("db"), span, RangeClass::Maintenance);

        assert_eq!(
            out,
            vec![
                interval(
                    "db",
                    MajorOutage,
                    "2025-05-01T10:00:00Z",
                    Some("2025-05-01T10:30:00Z")
                ),
                interval(
                    "db",
                    UnderMaintenance,
                    "2025-05-01T10:30:00Z",
                    Some("2025-05-01T11:30:00Z")
                ),
                interval("db", Operational, "2025-05-01T11:30:00Z", None),
                interval(
                    "web",
                    MajorOutage,
                    "2025-05-01T10:00:00Z",
                    Some("2025-05-01T11:30:00Z")
                ),
            ]
        );
    }

    #[test]
    fn reclassified_no_data_cuts_a_hole() {
        use ComponentStatus::*;
        let intervals = vec![interval("db", Operational, "2025-05-01T00:00:00Z", None)];
        let span = (t("2025-05-01T01:00:00Z"), t("2025-05-01T02:00:00Z"));

        let out = reclassify(intervals, None, span, RangeClass::NoData);

        assert_eq!(
            out,
            vec![
                interval(
                    "db",
                    Operational,
                    "2025-05-01T00:00:00Z",
                    Some("2025-05-01T01:00:00Z")
                ),
                interval("db", Operational, "2025-05-01T02:00:00Z", None),
            ]
        );
    }
}
