//! Temporary schedules as runtime state (on-call spec §1.3): add, list, delete. Merging
//! them into a config schedule before evaluation is done with the overrides, in
//! `store::overrides::with_overrides`, so every surface sees both.
//!
//! Checking a request is `domain::temporary_request`'s job; this module keeps what was
//! accepted.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use sqlx::Row as _;

use super::{Result, Store, StoreError, from_ms, to_ms};
use crate::domain::oncall::{ShiftEnd, TemporarySchedule, TemporaryShift};

/// A temporary schedule as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredTemporary {
    pub id: i64,
    pub schedule_id: String,
    pub temporary: TemporarySchedule,
    pub created_at: Timestamp,
    pub created_by: Option<String>,
}

/// One shift in the `shifts` JSON column.
#[derive(Serialize, Deserialize)]
struct ShiftRow {
    person: String,
    start: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    end: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    length_s: Option<i64>,
}

fn to_rows(shifts: &[TemporaryShift]) -> Vec<ShiftRow> {
    shifts
        .iter()
        .map(|shift| {
            let (end, length_s) = match shift.end {
                ShiftEnd::At(end) => (Some(to_ms(end)), None),
                ShiftEnd::Length(length) => (None, Some(length.as_secs())),
            };
            ShiftRow {
                person: shift.person.clone(),
                start: to_ms(shift.start),
                end,
                length_s,
            }
        })
        .collect()
}

fn from_rows(rows: Vec<ShiftRow>) -> Result<Vec<TemporaryShift>> {
    rows.into_iter()
        .map(|row| {
            let end = match (row.end, row.length_s) {
                (Some(end), None) => ShiftEnd::At(from_ms(end)?),
                (None, Some(secs)) => ShiftEnd::Length(SignedDuration::from_secs(secs)),
                _ => return Err(StoreError::Corrupt("temporary shift end".into())),
            };
            Ok(TemporaryShift {
                person: row.person,
                start: from_ms(row.start)?,
                end,
            })
        })
        .collect()
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<StoredTemporary> {
    let shifts: String = row.try_get("shifts")?;
    let shifts: Vec<ShiftRow> = serde_json::from_str(&shifts)
        .map_err(|err| StoreError::Corrupt(format!("temporary shifts: {err}")))?;
    Ok(StoredTemporary {
        id: row.try_get("id")?,
        schedule_id: row.try_get("schedule_id")?,
        temporary: TemporarySchedule {
            start: from_ms(row.try_get("start_at")?)?,
            end: from_ms(row.try_get("end_at")?)?,
            shifts: from_rows(shifts)?,
        },
        created_at: from_ms(row.try_get("created_at")?)?,
        created_by: row.try_get("created_by")?,
    })
}

const COLUMNS: &str = "id, schedule_id, start_at, end_at, shifts, created_at, created_by";

/// Stores a checked temporary schedule.
pub async fn add(
    store: &Store,
    schedule_id: &str,
    temporary: &TemporarySchedule,
    by: Option<&str>,
    now: Timestamp,
) -> Result<StoredTemporary> {
    let mut tx = store.begin().await?;
    let shifts = serde_json::to_string(&to_rows(&temporary.shifts))
        .map_err(|err| StoreError::Corrupt(err.to_string()))?;
    let sql = format!(
        "INSERT INTO temporary_schedules (schedule_id, start_at, end_at, shifts, created_at, \
         created_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(schedule_id)
        .bind(to_ms(temporary.start))
        .bind(to_ms(temporary.end))
        .bind(shifts)
        .bind(to_ms(now))
        .bind(by)
        .fetch_one(&mut *tx)
        .await?;
    let stored = from_row(&row)?;
    tx.commit().await?;
    Ok(stored)
}

/// A schedule's temporary schedules, oldest first.
pub async fn list(store: &Store, schedule_id: &str) -> Result<Vec<StoredTemporary>> {
    let sql =
        format!("SELECT {COLUMNS} FROM temporary_schedules WHERE schedule_id = $1 ORDER BY id");
    let rows = sqlx::query(&sql)
        .bind(schedule_id)
        .fetch_all(store.pool())
        .await?;
    rows.iter().map(from_row).collect()
}

/// Those meeting `[from, to)`, oldest first (a later one wins where two overlap).
pub(crate) async fn meeting(
    store: &Store,
    schedule_id: &str,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<TemporarySchedule>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM temporary_schedules WHERE schedule_id = $1 AND end_at > $2 \
         AND start_at < $3 ORDER BY id"
    );
    let rows = sqlx::query(&sql)
        .bind(schedule_id)
        .bind(to_ms(from))
        .bind(super::to_ms_ceil(to))
        .fetch_all(store.pool())
        .await?;
    rows.iter()
        .map(|row| from_row(row).map(|stored| stored.temporary))
        .collect()
}

/// Deletes one; `NotFound` if it is not there (or belongs to another schedule).
pub async fn delete(store: &Store, schedule_id: &str, id: i64) -> Result<StoredTemporary> {
    let mut tx = store.begin().await?;
    let sql = format!(
        "DELETE FROM temporary_schedules WHERE id = $1 AND schedule_id = $2 RETURNING {COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(id)
        .bind(schedule_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
    let deleted = from_row(&row)?;
    tx.commit().await?;
    Ok(deleted)
}
