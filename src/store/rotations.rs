//! Rotation state (on-call spec §1.2, D13): each rotation's settings as last seen in config
//! and its anchor. Anchors live in the database, not in config; `engine::anchors` compares
//! the two and re-anchors on an edit. This module only keeps and returns them.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use sqlx::Row as _;

use super::{Result, Store, StoreError, from_ms, to_ms};
use crate::domain::oncall::{Advance, Anchor, Rotation, RotationKind};

fn kind_str(kind: RotationKind) -> &'static str {
    match kind {
        RotationKind::Hourly => "hourly",
        RotationKind::Daily => "daily",
        RotationKind::Weekly => "weekly",
        RotationKind::Monthly => "monthly",
    }
}

fn advance_str(advance: Advance) -> &'static str {
    match advance {
        Advance::Calendar => "calendar",
        Advance::OnActiveShifts => "on-active-shifts",
    }
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<Rotation> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("rotation state {what}"));
    let kind = match row.try_get::<String, _>("kind")?.as_str() {
        "hourly" => RotationKind::Hourly,
        "daily" => RotationKind::Daily,
        "weekly" => RotationKind::Weekly,
        "monthly" => RotationKind::Monthly,
        _ => return Err(corrupt("kind")),
    };
    let advance = match row.try_get::<String, _>("advance")?.as_str() {
        "calendar" => Advance::Calendar,
        "on-active-shifts" => Advance::OnActiveShifts,
        _ => return Err(corrupt("advance")),
    };
    let start: String = row.try_get("start")?;
    let zone: String = row.try_get("time_zone")?;
    let people: String = row.try_get("people")?;
    let anchor_at: Option<i64> = row.try_get("anchor_at")?;
    let anchor_position: Option<i64> = row.try_get("anchor_position")?;
    let anchor = match (anchor_at, anchor_position) {
        (Some(at), Some(position)) => Some(Anchor {
            at: from_ms(at)?,
            position: usize::try_from(position).map_err(|_| corrupt("anchor position"))?,
        }),
        _ => None,
    };
    Ok(Rotation {
        id: row.try_get("rotation_id")?,
        kind,
        shift_length: u32::try_from(row.try_get::<i64, _>("shift_length")?)
            .map_err(|_| corrupt("shift length"))?,
        start: start.parse().map_err(|_| corrupt("start"))?,
        time_zone: zone_by_name(&zone).ok_or_else(|| corrupt("time zone"))?,
        people: serde_json::from_str(&people).map_err(|_| corrupt("people"))?,
        advance,
        anchor,
    })
}

fn zone_by_name(name: &str) -> Option<TimeZone> {
    if name == "UTC" {
        return Some(TimeZone::UTC);
    }
    TimeZone::get(name).ok()
}

/// The zone's IANA name, as stored; config zones always have one.
pub fn zone_name(zone: &TimeZone) -> String {
    zone.iana_name().unwrap_or("UTC").to_string()
}

/// Every stored rotation, by id, as last seen with its anchor.
pub async fn all(store: &Store) -> Result<BTreeMap<String, Rotation>> {
    let rows = sqlx::query(
        "SELECT rotation_id, kind, shift_length, start, time_zone, people, advance, \
         anchor_at, anchor_position FROM rotation_state",
    )
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|row| from_row(row).map(|rotation| (rotation.id.clone(), rotation)))
        .collect()
}

/// Stores `rotation`'s settings and anchor as the ones last seen.
pub async fn save(store: &Store, rotation: &Rotation, now: Timestamp) -> Result<()> {
    let people = serde_json::to_string(&rotation.people)
        .map_err(|err| StoreError::Corrupt(err.to_string()))?;
    let anchor_at = rotation.anchor.as_ref().map(|a| to_ms(a.at));
    let anchor_position = rotation
        .anchor
        .as_ref()
        .map(|a| i64::try_from(a.position).unwrap_or(0));
    let mut tx = store.begin().await?;
    sqlx::query(
        "INSERT INTO rotation_state (rotation_id, kind, shift_length, start, time_zone, people, \
         advance, anchor_at, anchor_position, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (rotation_id) DO UPDATE SET kind = excluded.kind, \
         shift_length = excluded.shift_length, start = excluded.start, \
         time_zone = excluded.time_zone, people = excluded.people, advance = excluded.advance, \
         anchor_at = excluded.anchor_at, anchor_position = excluded.anchor_position, \
         updated_at = excluded.updated_at",
    )
    .bind(&rotation.id)
    .bind(kind_str(rotation.kind))
    .bind(i64::from(rotation.shift_length))
    .bind(rotation.start.to_string())
    .bind(zone_name(&rotation.time_zone))
    .bind(people)
    .bind(advance_str(rotation.advance))
    .bind(anchor_at)
    .bind(anchor_position)
    .bind(to_ms(now))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_saved_rotation_reads_back_equal() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let store = Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        let now: Timestamp = "2025-06-04T17:00:00Z".parse().unwrap();
        let rotation = Rotation {
            id: "primary".into(),
            kind: RotationKind::Weekly,
            shift_length: 2,
            start: "2025-05-19T09:00".parse().unwrap(),
            time_zone: TimeZone::get("America/Chicago").unwrap(),
            people: vec!["ana".into(), "ben".into()],
            advance: Advance::OnActiveShifts,
            anchor: Some(Anchor {
                at: now,
                position: 1,
            }),
        };

        save(&store, &rotation, now).await.unwrap();

        assert_eq!(all(&store).await.unwrap()["primary"], rotation);
    }
}
