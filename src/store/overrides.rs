//! Schedule overrides as runtime state (on-call spec §1.3): add, list in creation order,
//! delete, and merging the stored ones into a config [`Schedule`] before it is evaluated.
//!
//! Checking a request (known people, start before end, times in the schedule's zone) is
//! `domain::override_request`'s job; this module only keeps what was accepted.

use jiff::Timestamp;

use super::{Result, Store, StoreError, from_ms, to_ms};
use crate::domain::oncall::{Override, OverrideKind, Schedule};

/// Spec §1.3: at most this many overrides per schedule that have not ended yet.
pub const MAX_PENDING: i64 = 35;

/// An override as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredOverride {
    /// Creation order: a higher id applies after a lower one.
    pub id: i64,
    pub schedule_id: String,
    pub rule: Override,
    pub created_at: Timestamp,
    pub created_by: Option<String>,
}

const COLUMNS: &str = "id, schedule_id, kind, add_person, remove_person, start_at, end_at, \
    created_at, created_by";

fn from_row(row: &sqlx::any::AnyRow) -> Result<StoredOverride> {
    use sqlx::Row as _;
    let corrupt = |what: &str| StoreError::Corrupt(format!("override {what}"));
    let kind: String = row.try_get("kind")?;
    let add: Option<String> = row.try_get("add_person")?;
    let remove: Option<String> = row.try_get("remove_person")?;
    let kind = match (kind.as_str(), add, remove) {
        ("add", Some(add), None) => OverrideKind::Add(add),
        ("remove", None, Some(remove)) => OverrideKind::Remove(remove),
        ("replace", Some(add), Some(remove)) => OverrideKind::Replace { remove, add },
        _ => return Err(corrupt("kind and people do not match")),
    };
    Ok(StoredOverride {
        id: row.try_get("id")?,
        schedule_id: row.try_get("schedule_id")?,
        rule: Override {
            start: from_ms(row.try_get("start_at")?)?,
            end: from_ms(row.try_get("end_at")?)?,
            kind,
        },
        created_at: from_ms(row.try_get("created_at")?)?,
        created_by: row.try_get("created_by")?,
    })
}

/// Stores a new override for `schedule_id`, last in creation order.
///
/// `Conflict` when the schedule already has [`MAX_PENDING`] overrides that have not ended
/// at `now`.
pub async fn add(
    store: &Store,
    schedule_id: &str,
    rule: &Override,
    created_by: Option<&str>,
    now: Timestamp,
) -> Result<StoredOverride> {
    let (kind, add, remove) = match &rule.kind {
        OverrideKind::Add(person) => ("add", Some(person), None),
        OverrideKind::Remove(person) => ("remove", None, Some(person)),
        OverrideKind::Replace { remove, add } => ("replace", Some(add), Some(remove)),
    };

    let mut tx = store.begin().await?;
    let pending: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM schedule_overrides WHERE schedule_id = $1 AND end_at > $2",
    )
    .bind(schedule_id)
    .bind(to_ms(now))
    .fetch_one(&mut *tx)
    .await?;
    if pending >= MAX_PENDING {
        return Err(StoreError::Conflict(format!(
            "schedule {schedule_id:?} already has {MAX_PENDING} current or future overrides"
        )));
    }

    let sql = format!(
        "INSERT INTO schedule_overrides (schedule_id, kind, add_person, remove_person, \
         start_at, end_at, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         RETURNING {COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(schedule_id)
        .bind(kind)
        .bind(add)
        .bind(remove)
        .bind(to_ms(rule.start))
        .bind(to_ms(rule.end))
        .bind(to_ms(now))
        .bind(created_by)
        .fetch_one(&mut *tx)
        .await?;
    let stored = from_row(&row)?;
    tx.commit().await?;
    Ok(stored)
}

/// Every override of `schedule_id`, in creation order.
pub async fn list(store: &Store, schedule_id: &str) -> Result<Vec<StoredOverride>> {
    let sql =
        format!("SELECT {COLUMNS} FROM schedule_overrides WHERE schedule_id = $1 ORDER BY id");
    let rows = sqlx::query(&sql)
        .bind(schedule_id)
        .fetch_all(store.pool())
        .await?;
    rows.iter().map(from_row).collect()
}

/// The overrides of `schedule_id` active at some instant of `[from, to)`, in creation order.
pub async fn meeting(
    store: &Store,
    schedule_id: &str,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<StoredOverride>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM schedule_overrides \
         WHERE schedule_id = $1 AND start_at < $2 AND end_at > $3 ORDER BY id"
    );
    let rows = sqlx::query(&sql)
        .bind(schedule_id)
        .bind(super::to_ms_ceil(to))
        .bind(to_ms(from))
        .fetch_all(store.pool())
        .await?;
    rows.iter().map(from_row).collect()
}

/// Deletes override `id` (only if it belongs to `schedule_id`, when given) and returns it;
/// `NotFound` when there is no such override.
pub async fn delete(store: &Store, schedule_id: Option<&str>, id: i64) -> Result<StoredOverride> {
    let mut tx = store.begin().await?;
    let sql = format!(
        "DELETE FROM schedule_overrides WHERE id = $1 AND ($2 IS NULL OR schedule_id = $3) \
         RETURNING {COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(id)
        .bind(schedule_id)
        .bind(schedule_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
    let deleted = from_row(&row)?;
    tx.commit().await?;
    Ok(deleted)
}

/// `schedule` with its stored overrides and temporary schedules that meet `[from, to)`
/// appended in creation order: what `oncall()` and `shifts()` must see for instants in
/// that window.
pub async fn with_overrides(
    store: &Store,
    schedule: &Schedule,
    from: Timestamp,
    to: Timestamp,
) -> Result<Schedule> {
    let stored = meeting(store, &schedule.id, from, to).await?;
    let mut schedule = schedule.clone();
    schedule
        .overrides
        .extend(stored.into_iter().map(|stored| stored.rule));
    let temporary = super::temporary::meeting(store, &schedule.id, from, to).await?;
    schedule.temporary.extend(temporary);
    Ok(schedule)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// A fresh database in a temp dir (an in-memory one would differ per pooled connection).
    async fn store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let store = Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        (store, dir)
    }

    fn replace(start: &str, end: &str) -> Override {
        Override {
            start: ts(start),
            end: ts(end),
            kind: OverrideKind::Replace {
                remove: "ana".into(),
                add: "ben".into(),
            },
        }
    }

    #[tokio::test]
    async fn overrides_round_trip_in_creation_order() {
        let (store, _dir) = store().await;
        let now = ts("2025-06-01T00:00:00Z");
        let first = replace("2025-06-02T00:00:00Z", "2025-06-03T00:00:00Z");
        let second = Override {
            kind: OverrideKind::Add("chen".into()),
            ..first.clone()
        };
        let third = Override {
            kind: OverrideKind::Remove("dara".into()),
            ..first.clone()
        };

        for rule in [&first, &second, &third] {
            add(&store, "main", rule, Some("lead"), now).await.unwrap();
        }
        add(&store, "other", &first, None, now).await.unwrap();

        let listed = list(&store, "main").await.unwrap();
        let rules: Vec<&Override> = listed.iter().map(|o| &o.rule).collect();
        assert_eq!(rules, [&first, &second, &third]);
        assert_eq!(listed[0].created_by.as_deref(), Some("lead"));

        let deleted = delete(&store, Some("main"), listed[1].id).await.unwrap();
        assert_eq!(deleted.rule, second);
        assert!(matches!(
            delete(&store, Some("other"), listed[0].id).await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(list(&store, "main").await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn only_overrides_meeting_the_window_are_merged() {
        let (store, _dir) = store().await;
        let now = ts("2025-06-01T00:00:00Z");
        let early = replace("2025-06-02T00:00:00Z", "2025-06-03T00:00:00Z");
        let late = replace("2025-06-05T00:00:00Z", "2025-06-06T00:00:00Z");
        add(&store, "main", &early, None, now).await.unwrap();
        add(&store, "main", &late, None, now).await.unwrap();

        let at = ts("2025-06-03T00:00:00Z");
        let found = meeting(&store, "main", at, ts("2025-06-05T00:00:01Z"))
            .await
            .unwrap();

        assert_eq!(found.len(), 1, "touching the end is not meeting");
        assert_eq!(found[0].rule, late);
    }

    #[tokio::test]
    async fn a_schedule_takes_at_most_35_pending_overrides() {
        let (store, _dir) = store().await;
        let now = ts("2025-06-01T00:00:00Z");
        let rule = replace("2025-06-02T00:00:00Z", "2025-06-03T00:00:00Z");
        for _ in 0..MAX_PENDING {
            add(&store, "main", &rule, None, now).await.unwrap();
        }

        let refused = add(&store, "main", &rule, None, now).await;
        let later = add(&store, "main", &rule, None, ts("2025-06-03T00:00:00Z")).await;

        assert!(matches!(refused, Err(StoreError::Conflict(_))));
        assert!(later.is_ok(), "ended overrides do not count");
    }
}
