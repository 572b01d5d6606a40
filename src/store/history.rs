//! On-call history (on-call spec §1.3): who was on call for each schedule, one row per
//! stretch, written by `engine::shifts` as it diffs `oncall()` against the open rows.
//!
//! The past is read from here and never recomputed from the current config, so an edit to
//! a rotation or schedule cannot rewrite who was on call yesterday (D13). Also answers the
//! question a shift-change summary asks: which pages went to a person in a span.

use std::collections::BTreeSet;

use jiff::Timestamp;
use sqlx::Row as _;

use super::{Result, Store, from_ms, from_ms_opt, to_ms};

/// One stretch of on-call time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryRow {
    pub schedule_id: String,
    pub person_id: String,
    pub started_at: Timestamp,
    /// `None` while the person is still on call.
    pub ended_at: Option<Timestamp>,
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<HistoryRow> {
    Ok(HistoryRow {
        schedule_id: row.try_get("schedule_id")?,
        person_id: row.try_get("person_id")?,
        started_at: from_ms(row.try_get("started_at")?)?,
        ended_at: from_ms_opt(row.try_get("ended_at")?)?,
    })
}

/// The open rows of `schedule_id`: who the history says is on call now.
pub async fn open(store: &Store, schedule_id: &str) -> Result<Vec<HistoryRow>> {
    let rows = sqlx::query(
        "SELECT schedule_id, person_id, started_at, ended_at FROM oncall_history \
         WHERE schedule_id = $1 AND ended_at IS NULL ORDER BY person_id",
    )
    .bind(schedule_id)
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(from_row).collect()
}

/// Every row of `schedule_id`, oldest first.
pub async fn list(store: &Store, schedule_id: &str) -> Result<Vec<HistoryRow>> {
    let rows = sqlx::query(
        "SELECT schedule_id, person_id, started_at, ended_at FROM oncall_history \
         WHERE schedule_id = $1 ORDER BY started_at, id",
    )
    .bind(schedule_id)
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(from_row).collect()
}

/// What one pass changed for one schedule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Handoff {
    /// People whose row opened at `now`.
    pub started: Vec<String>,
    /// People whose row closed at `now`, with when their stretch began.
    pub ended: Vec<(String, Timestamp)>,
    /// Whether this was the first pass to record the schedule: nothing to announce then.
    pub first: bool,
}

/// Makes the open rows of `schedule_id` match `on_call` at `now`, in one transaction:
/// newcomers get a row started at `now`, people gone get `ended_at = now`.
pub async fn record(
    store: &Store,
    schedule_id: &str,
    on_call: &BTreeSet<String>,
    now: Timestamp,
) -> Result<Handoff> {
    // Most passes change nothing: check without taking the write lock intake also needs.
    let begun: Option<i64> =
        sqlx::query_scalar("SELECT since FROM oncall_history_begun WHERE schedule_id = $1")
            .bind(schedule_id)
            .fetch_optional(store.pool())
            .await?;
    let open_now: BTreeSet<String> = open(store, schedule_id)
        .await?
        .into_iter()
        .map(|row| row.person_id)
        .collect();
    if begun.is_some() && &open_now == on_call {
        return Ok(Handoff::default());
    }

    let mut tx = store.begin().await?;
    let begun = sqlx::query(
        "INSERT INTO oncall_history_begun (schedule_id, since) VALUES ($1, $2) \
         ON CONFLICT (schedule_id) DO NOTHING",
    )
    .bind(schedule_id)
    .bind(to_ms(now))
    .execute(&mut *tx)
    .await?;
    let first = begun.rows_affected() == 1;

    let rows = sqlx::query(
        "SELECT person_id, started_at FROM oncall_history \
         WHERE schedule_id = $1 AND ended_at IS NULL",
    )
    .bind(schedule_id)
    .fetch_all(&mut *tx)
    .await?;
    let mut handoff = Handoff {
        first,
        ..Handoff::default()
    };
    let mut open = BTreeSet::new();
    for row in &rows {
        let person: String = row.try_get("person_id")?;
        if !on_call.contains(&person) {
            let since = from_ms(row.try_get("started_at")?)?;
            handoff.ended.push((person.clone(), since));
        }
        open.insert(person);
    }

    for (person, _) in &handoff.ended {
        sqlx::query(
            "UPDATE oncall_history SET ended_at = $1 \
             WHERE schedule_id = $2 AND person_id = $3 AND ended_at IS NULL",
        )
        .bind(to_ms(now))
        .bind(schedule_id)
        .bind(person)
        .execute(&mut *tx)
        .await?;
    }
    for person in on_call.difference(&open) {
        sqlx::query(
            "INSERT INTO oncall_history (schedule_id, person_id, started_at) VALUES ($1, $2, $3)",
        )
        .bind(schedule_id)
        .bind(person)
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await?;
        handoff.started.push(person.clone());
    }
    tx.commit().await?;
    Ok(handoff)
}

/// A page that reached a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentPage {
    pub alert_id: i64,
    pub summary: String,
    pub sent_at: Timestamp,
}

/// The pages sent to `person_id` in `[from, to)`, oldest first: what a shift-change
/// summary reports to the person going off call.
pub async fn pages_sent_to(
    store: &Store,
    person_id: &str,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<SentPage>> {
    let rows = sqlx::query(
        "SELECT o.alert_id, a.summary, o.sent_at FROM outbox o \
         JOIN alerts a ON a.id = o.alert_id \
         WHERE o.person_id = $1 AND o.state = 'sent' AND o.sent_at >= $2 AND o.sent_at < $3 \
         ORDER BY o.sent_at, o.id",
    )
    .bind(person_id)
    .bind(to_ms(from))
    .bind(to_ms(to))
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(SentPage {
                alert_id: row.try_get("alert_id")?,
                summary: row.try_get("summary")?,
                sent_at: from_ms(row.try_get("sent_at")?)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    async fn store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let store = Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        (store, dir)
    }

    fn set(people: &[&str]) -> BTreeSet<String> {
        people.iter().map(|p| p.to_string()).collect()
    }

    #[tokio::test]
    async fn record_opens_and_closes_rows_and_knows_the_first_pass() {
        let (store, _dir) = store().await;

        let first = record(&store, "s", &set(&["ana"]), ts("2025-06-10T10:00:00Z")).await;
        let same = record(&store, "s", &set(&["ana"]), ts("2025-06-10T10:30:00Z")).await;
        let handoff = record(&store, "s", &set(&["ben"]), ts("2025-06-10T11:00:00Z")).await;

        let first = first.unwrap();
        assert!(first.first);
        assert_eq!(first.started, ["ana"]);
        assert_eq!(same.unwrap(), Handoff::default());
        let handoff = handoff.unwrap();
        assert!(!handoff.first);
        assert_eq!(handoff.started, ["ben"]);
        assert_eq!(
            handoff.ended,
            [("ana".to_string(), ts("2025-06-10T10:00:00Z"))]
        );
        let rows = list(&store, "s").await.unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].ended_at, Some(ts("2025-06-10T11:00:00Z")));
        assert_eq!(open(&store, "s").await.unwrap()[0].person_id, "ben");
    }
}
