//! The notice outbox: shift-change and coverage-gap notices about schedules (on-call spec
//! §1.3, D16), queued by `engine::shifts` and delivered with retries by `engine::notices`.
//!
//! Kept apart from the page `outbox`: notices belong to no alert, are never dropped by an
//! ack, and a newer shift-change notice to a destination replaces an unsent older one.
//! Also remembers which coverage gaps were announced, so each is told once.

use jiff::Timestamp;
use sqlx::{AnyConnection, Row as _};

use super::{Result, Store, from_ms, to_ms};
use crate::domain::oncall::Gap;

/// What a notice is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeKind {
    /// The recipient has just come on call.
    ShiftStarted,
    /// The recipient has just gone off call; carries a summary of their pages.
    ShiftEnded,
    /// Newly seen gaps in the schedule's coverage (D16).
    CoverageGaps,
    /// An incident nudge to its commander or comms lead (update reminder, status-page
    /// prompt, role change); `schedule_id` then holds `incident:<number>`.
    Incident,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::ShiftStarted => "shift_started",
            NoticeKind::ShiftEnded => "shift_ended",
            NoticeKind::CoverageGaps => "coverage_gaps",
            NoticeKind::Incident => "incident",
        }
    }

    /// The event name receivers see (`oncall.shift_started`, `incident.nudge`).
    pub fn event(self) -> String {
        match self {
            NoticeKind::Incident => "incident.nudge".into(),
            kind => format!("oncall.{}", kind.as_str()),
        }
    }

    fn parse(text: &str) -> Option<NoticeKind> {
        match text {
            "shift_started" => Some(NoticeKind::ShiftStarted),
            "shift_ended" => Some(NoticeKind::ShiftEnded),
            "coverage_gaps" => Some(NoticeKind::CoverageGaps),
            "incident" => Some(NoticeKind::Incident),
            _ => None,
        }
    }

    /// Whether only the newest pending one per (schedule, destination) goes out (§1.3).
    fn supersedes(self) -> bool {
        matches!(self, NoticeKind::ShiftStarted | NoticeKind::ShiftEnded)
    }
}

/// A notice to queue for one destination.
#[derive(Clone, Debug)]
pub struct NewNotice {
    pub schedule_id: String,
    pub kind: NoticeKind,
    pub person_id: String,
    /// Channel kind, as in the page outbox.
    pub channel: String,
    pub destination: String,
    /// Email subject and push title.
    pub subject: String,
    /// Plain text every channel can show.
    pub body: String,
    /// Structured detail for webhooks.
    pub data: serde_json::Value,
}

/// A queued notice whose time has come.
#[derive(Clone, Debug)]
pub struct PendingNotice {
    /// Stable across retries: receivers deduplicate on it.
    pub id: String,
    pub schedule_id: String,
    pub kind: NoticeKind,
    pub person_id: String,
    pub channel: String,
    pub destination: String,
    pub subject: String,
    pub body: String,
    pub data: serde_json::Value,
    pub attempts: i64,
    pub due_at: Timestamp,
    pub created_at: Timestamp,
}

/// Queues `notices`, due at `now`, in one transaction. A shift-change notice first marks
/// any pending shift-change notice to the same (schedule, channel, destination)
/// `superseded`.
pub async fn queue(store: &Store, notices: &[NewNotice], now: Timestamp) -> Result<()> {
    if notices.is_empty() {
        return Ok(());
    }
    let mut tx = store.begin().await?;
    insert_all(&mut tx, notices, now).await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn insert_all(
    conn: &mut AnyConnection,
    notices: &[NewNotice],
    now: Timestamp,
) -> Result<()> {
    for notice in notices {
        if notice.kind.supersedes() {
            sqlx::query(
                "UPDATE notices SET state = 'superseded' WHERE state = 'pending' \
                 AND schedule_id = $1 AND channel = $2 AND destination = $3 \
                 AND kind IN ('shift_started', 'shift_ended')",
            )
            .bind(&notice.schedule_id)
            .bind(&notice.channel)
            .bind(&notice.destination)
            .execute(&mut *conn)
            .await?;
        }
        sqlx::query(
            "INSERT INTO notices (id, schedule_id, kind, person_id, channel, destination, \
             subject, body, data, state, due_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10, $11)",
        )
        .bind(ulid::Ulid::new().to_string())
        .bind(&notice.schedule_id)
        .bind(notice.kind.as_str())
        .bind(&notice.person_id)
        .bind(&notice.channel)
        .bind(&notice.destination)
        .bind(&notice.subject)
        .bind(&notice.body)
        .bind(notice.data.to_string())
        .bind(to_ms(now))
        .bind(to_ms(now))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

const COLUMNS: &str = "id, schedule_id, kind, person_id, channel, destination, subject, body, \
    data, attempts, due_at, created_at";

fn from_row(row: &sqlx::any::AnyRow) -> Result<PendingNotice> {
    let kind: String = row.try_get("kind")?;
    let kind = NoticeKind::parse(&kind)
        .ok_or_else(|| super::StoreError::Corrupt(format!("notice kind {kind:?}")))?;
    let data: String = row.try_get("data")?;
    Ok(PendingNotice {
        id: row.try_get("id")?,
        schedule_id: row.try_get("schedule_id")?,
        kind,
        person_id: row.try_get("person_id")?,
        channel: row.try_get("channel")?,
        destination: row.try_get("destination")?,
        subject: row.try_get("subject")?,
        body: row.try_get("body")?,
        data: serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
        attempts: row.try_get("attempts")?,
        due_at: from_ms(row.try_get("due_at")?)?,
        created_at: from_ms(row.try_get("created_at")?)?,
    })
}

/// Pending notices due at `now`, oldest first.
pub async fn due(store: &Store, now: Timestamp, limit: i64) -> Result<Vec<PendingNotice>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM notices WHERE state = 'pending' AND due_at <= $1 \
         ORDER BY due_at, id LIMIT $2"
    );
    let rows = sqlx::query(&sql)
        .bind(to_ms(now))
        .bind(limit)
        .fetch_all(store.pool())
        .await?;
    rows.iter().map(from_row).collect()
}

/// The earliest due time of any pending notice.
pub async fn next_due_at(store: &Store) -> Result<Option<Timestamp>> {
    let ms: Option<i64> =
        sqlx::query_scalar("SELECT MIN(due_at) FROM notices WHERE state = 'pending'")
            .fetch_one(store.pool())
            .await?;
    super::from_ms_opt(ms)
}

/// How a delivery attempt ended.
#[derive(Clone, Debug)]
pub enum NoticeOutcome {
    Sent,
    /// Try again at `at`.
    Retry {
        at: Timestamp,
        error: String,
    },
    Failed {
        error: String,
    },
}

/// Records an attempt's outcome; only a notice still pending is updated, so one superseded
/// meanwhile stays superseded.
pub async fn record(
    store: &Store,
    notice: &PendingNotice,
    outcome: &NoticeOutcome,
    now: Timestamp,
) -> Result<()> {
    let (state, due, error, sent_at) = match outcome {
        NoticeOutcome::Sent => ("sent", notice.due_at, None, Some(to_ms(now))),
        NoticeOutcome::Retry { at, error } => ("pending", *at, Some(error.as_str()), None),
        NoticeOutcome::Failed { error } => ("failed", notice.due_at, Some(error.as_str()), None),
    };
    let mut tx = store.begin().await?;
    sqlx::query(
        "UPDATE notices SET state = $1, due_at = $2, attempts = $3, last_error = $4, sent_at = $5 \
         WHERE id = $6 AND state = 'pending'",
    )
    .bind(state)
    .bind(to_ms(due))
    .bind(notice.attempts + 1)
    .bind(error)
    .bind(sent_at)
    .bind(&notice.id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A notice as stored, for tests and tooling.
#[derive(Clone, Debug)]
pub struct StoredNotice {
    pub kind: NoticeKind,
    pub person_id: String,
    pub channel: String,
    pub state: String,
    pub created_at: Timestamp,
    pub body: String,
}

/// Every notice of `schedule_id`, in queueing order.
pub async fn list(store: &Store, schedule_id: &str) -> Result<Vec<StoredNotice>> {
    let rows = sqlx::query(
        "SELECT kind, person_id, channel, state, created_at, body FROM notices \
         WHERE schedule_id = $1 ORDER BY created_at, id",
    )
    .bind(schedule_id)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|row| {
            let kind: String = row.try_get("kind")?;
            Ok(StoredNotice {
                kind: NoticeKind::parse(&kind)
                    .ok_or_else(|| super::StoreError::Corrupt(format!("notice kind {kind:?}")))?,
                person_id: row.try_get("person_id")?,
                channel: row.try_get("channel")?,
                state: row.try_get("state")?,
                created_at: from_ms(row.try_get("created_at")?)?,
                body: row.try_get("body")?,
            })
        })
        .collect()
}

/// The gaps of `schedule_id` already announced that have not ended at `now`; ended ones
/// are forgotten, since D16 never reports them again anyway.
pub async fn announced_gaps(store: &Store, schedule_id: &str, now: Timestamp) -> Result<Vec<Gap>> {
    let mut tx = store.begin().await?;
    sqlx::query("DELETE FROM coverage_announced WHERE schedule_id = $1 AND gap_end <= $2")
        .bind(schedule_id)
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await?;
    let rows = sqlx::query(
        "SELECT gap_start, gap_end FROM coverage_announced WHERE schedule_id = $1 \
         ORDER BY gap_start",
    )
    .bind(schedule_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    rows.iter()
        .map(|row| {
            Ok(Gap {
                start: from_ms(row.try_get("gap_start")?)?,
                end: from_ms(row.try_get("gap_end")?)?,
            })
        })
        .collect()
}

/// Queues `notices` and remembers `gaps` as announced, in one transaction, so a crash
/// cannot announce a gap twice or mark one told that never was queued.
pub async fn queue_gap_notices(
    store: &Store,
    schedule_id: &str,
    gaps: &[Gap],
    notices: &[NewNotice],
    now: Timestamp,
) -> Result<()> {
    let mut tx = store.begin().await?;
    for gap in gaps {
        sqlx::query(
            "INSERT INTO coverage_announced (schedule_id, gap_start, gap_end, announced_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(schedule_id)
        .bind(to_ms(gap.start))
        .bind(to_ms(gap.end))
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await?;
    }
    insert_all(&mut tx, notices, now).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(kind: NoticeKind, destination: &str) -> NewNotice {
        NewNotice {
            schedule_id: "desk".into(),
            kind,
            person_id: "ana".into(),
            channel: "webhook".into(),
            destination: destination.into(),
            subject: "s".into(),
            body: "b".into(),
            data: serde_json::json!({}),
        }
    }

    #[tokio::test]
    async fn only_the_newest_pending_shift_notice_per_destination_is_sent() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let store = Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        let now: Timestamp = "2025-06-12T06:00:00Z".parse().unwrap();
        let gaps = notice(NoticeKind::CoverageGaps, "http://a");

        queue(
            &store,
            &[notice(NoticeKind::ShiftStarted, "http://a"), gaps],
            now,
        )
        .await
        .unwrap();
        queue(&store, &[notice(NoticeKind::ShiftEnded, "http://a")], now)
            .await
            .unwrap();
        queue(&store, &[notice(NoticeKind::ShiftStarted, "http://b")], now)
            .await
            .unwrap();

        let kinds: Vec<(NoticeKind, String)> = due(&store, now, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|n| (n.kind, n.destination))
            .collect();
        assert_eq!(kinds.len(), 3, "{kinds:?}");
        assert!(!kinds.contains(&(NoticeKind::ShiftStarted, "http://a".into())));
        assert!(kinds.contains(&(NoticeKind::ShiftEnded, "http://a".into())));
        assert!(kinds.contains(&(NoticeKind::CoverageGaps, "http://a".into())));
        let states: Vec<String> = list(&store, "desk")
            .await
            .unwrap()
            .into_iter()
            .map(|n| n.state)
            .collect();
        assert!(states.contains(&"superseded".to_string()));
    }
}
