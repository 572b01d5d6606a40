//! The outbox: pages written in the same transaction as the decision to send them, then
//! delivered by `engine::outbox` with retries. Every outcome lands on the alert timeline.

use jiff::Timestamp;
use sqlx::{Row as _, SqliteConnection};

use super::alerts::add_event;
use super::{Result, Store, from_ms, to_ms};

/// A page to queue.
#[derive(Clone, Debug)]
pub struct NewPage {
    pub person_id: String,
    /// Channel kind: `email` or `webhook`.
    pub channel: String,
    /// Where it goes: an address or URL. Shown on the timeline only as the channel kind.
    pub destination: String,
    /// `alert.triggered` or `alert.escalated`.
    pub event: String,
    pub step: usize,
    pub due_at: Timestamp,
}

/// A queued page whose time has come.
#[derive(Clone, Debug)]
pub struct PendingPage {
    /// Stable across retries: receivers deduplicate on it.
    pub id: String,
    pub alert_id: i64,
    pub person_id: String,
    pub channel: String,
    pub destination: String,
    pub event: String,
    pub step: i64,
    pub attempts: i64,
    pub due_at: Timestamp,
    /// The alert's state now; pages for alerts no longer triggered are dropped.
    pub alert_state: String,
}

pub(crate) async fn insert(
    conn: &mut SqliteConnection,
    alert_id: i64,
    page: &NewPage,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO outbox (id, alert_id, person_id, channel, destination, event, step, state, \
         due_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
    )
    .bind(ulid::Ulid::new().to_string())
    .bind(alert_id)
    .bind(&page.person_id)
    .bind(&page.channel)
    .bind(&page.destination)
    .bind(&page.event)
    .bind(i64::try_from(page.step).unwrap_or(0))
    .bind(to_ms(page.due_at))
    .bind(to_ms(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks an alert's unsent pages dropped (ack or resolve); returns how many.
pub(crate) async fn drop_pending(conn: &mut SqliteConnection, alert_id: i64) -> Result<u64> {
    let done =
        sqlx::query("UPDATE outbox SET state = 'dropped' WHERE alert_id = ? AND state = 'pending'")
            .bind(alert_id)
            .execute(conn)
            .await?;
    Ok(done.rows_affected())
}

/// Pending pages due at `now`, oldest first.
pub async fn due(store: &Store, now: Timestamp, limit: i64) -> Result<Vec<PendingPage>> {
    let rows = sqlx::query(
        "SELECT o.id, o.alert_id, o.person_id, o.channel, o.destination, o.event, o.step, \
         o.attempts, o.due_at, a.state AS alert_state FROM outbox o \
         JOIN alerts a ON a.id = o.alert_id \
         WHERE o.state = 'pending' AND o.due_at <= ? ORDER BY o.due_at, o.id LIMIT ?",
    )
    .bind(to_ms(now))
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(PendingPage {
                id: row.try_get("id")?,
                alert_id: row.try_get("alert_id")?,
                person_id: row.try_get("person_id")?,
                channel: row.try_get("channel")?,
                destination: row.try_get("destination")?,
                event: row.try_get("event")?,
                step: row.try_get("step")?,
                attempts: row.try_get("attempts")?,
                due_at: from_ms(row.try_get("due_at")?)?,
                alert_state: row.try_get("alert_state")?,
            })
        })
        .collect()
}

/// The earliest due time of any pending page.
pub async fn next_due_at(store: &Store) -> Result<Option<Timestamp>> {
    let ms: Option<i64> =
        sqlx::query_scalar("SELECT MIN(due_at) FROM outbox WHERE state = 'pending'")
            .fetch_one(store.pool())
            .await?;
    super::from_ms_opt(ms)
}

/// How a delivery attempt ended.
#[derive(Clone, Debug)]
pub enum Outcome {
    Sent,
    /// Try again at `at`.
    Retry {
        at: Timestamp,
        error: String,
    },
    Failed {
        error: String,
    },
    /// The alert is no longer triggered.
    Dropped,
}

/// Records an attempt's outcome, with its timeline entry, in one transaction. Only a page
/// still pending is updated, so an ack that dropped it meanwhile wins.
pub async fn record(
    store: &Store,
    page: &PendingPage,
    outcome: &Outcome,
    now: Timestamp,
) -> Result<()> {
    let mut tx = store.begin().await?;
    let attempts = page.attempts + 1;
    let (state, due, error, sent_at) = match outcome {
        Outcome::Sent => ("sent", page.due_at, None, Some(to_ms(now))),
        Outcome::Retry { at, error } => ("pending", *at, Some(error.as_str()), None),
        Outcome::Failed { error } => ("failed", page.due_at, Some(error.as_str()), None),
        Outcome::Dropped => ("dropped", page.due_at, None, None),
    };
    let updated = sqlx::query(
        "UPDATE outbox SET state = ?, due_at = ?, attempts = ?, last_error = ?, sent_at = ? \
         WHERE id = ? AND state = 'pending'",
    )
    .bind(state)
    .bind(to_ms(due))
    .bind(attempts)
    .bind(error)
    .bind(sent_at)
    .bind(&page.id)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Ok(());
    }
    let detail = serde_json::json!({
        "person": page.person_id,
        "channel": page.channel,
        "message_id": page.id,
        "attempt": attempts,
        "error": error,
    });
    let kind = match outcome {
        Outcome::Sent => Some("notification_sent"),
        Outcome::Failed { .. } => Some("notification_failed"),
        Outcome::Retry { .. } => Some("notification_retry"),
        Outcome::Dropped => None,
    };
    if let Some(kind) = kind {
        add_event(&mut tx, page.alert_id, now, kind, None, detail).await?;
    }
    tx.commit().await?;
    Ok(())
}
