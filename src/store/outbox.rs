//! The outbox: pages written in the same transaction as the decision to send them, then
//! delivered by `engine::outbox` with retries. Every outcome lands on the alert timeline.
//!
//! Delivery works on groups: the due rows of one destination (channel, address) and one
//! service. A group is either held (its rows move to the throttle's next instant) or
//! claimed: its rows get one `message_id`, repeats per alert become `duplicate`, and what
//! is left goes out as one page (one alert) or one bundle (several), recorded row by row.
//! Throttles read `sent` rows back by message, so they survive a restart.

use jiff::Timestamp;
use sqlx::{AnyConnection, Row as _};

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
    conn: &mut AnyConnection,
    alert_id: i64,
    page: &NewPage,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO outbox (id, alert_id, person_id, channel, destination, event, step, state, \
         due_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9)",
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
pub(crate) async fn drop_pending(conn: &mut AnyConnection, alert_id: i64) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE outbox SET state = 'dropped' WHERE alert_id = $1 AND state = 'pending'",
    )
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
         WHERE o.state = 'pending' AND o.due_at <= $1 ORDER BY o.due_at, o.id LIMIT $2",
    )
    .bind(to_ms(now))
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(pending_from_row).collect()
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
    /// Try again at `at`; `counted` spends one of the retries (a pause asked for by the
    /// receiver does not).
    Retry {
        at: Timestamp,
        error: String,
        counted: bool,
    },
    Failed {
        error: String,
    },
    /// The alert is no longer triggered.
    Dropped,
}

impl Outcome {
    /// Whether this outcome spends an attempt.
    fn counts(&self) -> bool {
        !matches!(self, Outcome::Retry { counted: false, .. })
    }
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
    let attempts = page.attempts + i64::from(outcome.counts());
    let (state, due, error, sent_at) = match outcome {
        Outcome::Sent => ("sent", page.due_at, None, Some(to_ms(now))),
        Outcome::Retry { at, error, .. } => ("pending", *at, Some(error.as_str()), None),
        Outcome::Failed { error } => ("failed", page.due_at, Some(error.as_str()), None),
        Outcome::Dropped => ("dropped", page.due_at, None, None),
    };
    let updated = sqlx::query(
        "UPDATE outbox SET state = $1, due_at = $2, attempts = $3, last_error = $4, sent_at = $5, \
         message_id = COALESCE(message_id, id) WHERE id = $6 AND state = 'pending'",
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
    if matches!(outcome, Outcome::Failed { .. }) {
        fall_through(&mut tx, &page.id, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A page that failed for good hands over to the person's next notification rule at once
/// instead of at its `after` (on-call §1.1): the pending rows of the same ladder run (same
/// alert, person and step, queued together) with the earliest later due time move to `now`,
/// with a `notification_fell_through` entry. Returns how many rows moved.
async fn fall_through(conn: &mut AnyConnection, failed_id: &str, now: Timestamp) -> Result<u64> {
    let next = sqlx::query(
        "SELECT k.id, k.alert_id, k.person_id, k.channel, k.due_at, f.channel AS failed \
         FROM outbox f JOIN outbox k ON k.alert_id = f.alert_id \
         AND k.person_id = f.person_id AND k.step = f.step AND k.created_at = f.created_at \
         WHERE f.id = $1 AND k.state = 'pending' AND k.due_at > $2 ORDER BY k.due_at, k.id",
    )
    .bind(failed_id)
    .bind(to_ms(now))
    .fetch_all(&mut *conn)
    .await?;
    let Some(first) = next.first() else {
        return Ok(0);
    };
    let due: i64 = first.try_get("due_at")?;
    let alert_id: i64 = first.try_get("alert_id")?;
    let person: String = first.try_get("person_id")?;
    let failed: String = first.try_get("failed")?;
    let mut channels = Vec::new();
    let mut moved = 0;
    for row in next
        .iter()
        .filter(|row| row.try_get::<i64, _>("due_at").ok() == Some(due))
    {
        let id: String = row.try_get("id")?;
        sqlx::query("UPDATE outbox SET due_at = $1 WHERE id = $2 AND state = 'pending'")
            .bind(to_ms(now))
            .bind(&id)
            .execute(&mut *conn)
            .await?;
        channels.push(row.try_get::<String, _>("channel")?);
        moved += 1;
    }
    let detail = serde_json::json!({
        "person": person,
        "failed": failed,
        "next": channels,
        "was_due": from_ms(due)?,
    });
    add_event(
        conn,
        alert_id,
        now,
        "notification_fell_through",
        None,
        detail,
    )
    .await?;
    Ok(moved)
}

/// The due pending rows of one destination for one service: what one message may carry.
#[derive(Clone, Debug)]
pub struct DueGroup {
    pub channel: String,
    pub destination: String,
    pub service_id: String,
    /// The earliest due time among the rows.
    pub due_at: Timestamp,
}

/// Marks due pages of alerts no longer triggered `dropped`; returns how many. Ack and
/// resolve already drop them in their own transaction; this catches anything else.
pub async fn drop_stale(store: &Store, now: Timestamp) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE outbox SET state = 'dropped' WHERE state = 'pending' AND due_at <= $1 \
         AND EXISTS (SELECT 1 FROM alerts a WHERE a.id = outbox.alert_id \
         AND a.state <> 'triggered')",
    )
    .bind(to_ms(now))
    .execute(store.pool())
    .await?;
    Ok(done.rows_affected())
}

/// Up to `limit` groups with rows due at `now`, the longest-waiting first.
pub async fn due_groups(store: &Store, now: Timestamp, limit: i64) -> Result<Vec<DueGroup>> {
    let rows = sqlx::query(
        "SELECT o.channel, o.destination, a.service_id, MIN(o.due_at) AS due_at \
         FROM outbox o JOIN alerts a ON a.id = o.alert_id \
         WHERE o.state = 'pending' AND o.due_at <= $1 AND a.state = 'triggered' \
         GROUP BY o.channel, o.destination, a.service_id \
         ORDER BY due_at, o.channel, o.destination, a.service_id LIMIT $2",
    )
    .bind(to_ms(now))
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(DueGroup {
                channel: row.try_get("channel")?,
                destination: row.try_get("destination")?,
                service_id: row.try_get("service_id")?,
                due_at: from_ms(row.try_get("due_at")?)?,
            })
        })
        .collect()
}

/// When the messages sent through `channel` after `since` went out, oldest first: to
/// `destination` only, or to every destination of the kind. A bundle counts once.
pub async fn sent_times(
    store: &Store,
    channel: &str,
    destination: Option<&str>,
    since: Timestamp,
) -> Result<Vec<Timestamp>> {
    let times: Vec<i64> = sqlx::query_scalar(
        "SELECT MIN(sent_at) AS at FROM outbox WHERE state = 'sent' AND channel = $1 \
         AND ($2 IS NULL OR destination = $3) AND sent_at > $4 \
         GROUP BY COALESCE(message_id, id) ORDER BY at",
    )
    .bind(channel)
    .bind(destination)
    .bind(destination)
    .bind(to_ms(since))
    .fetch_all(store.pool())
    .await?;
    times.into_iter().map(from_ms).collect()
}

/// Holds a throttled group: its due rows wait until `until`, when they go out together
/// with whatever joined meanwhile. Returns how many rows wait.
pub async fn hold(
    store: &Store,
    group: &DueGroup,
    now: Timestamp,
    until: Timestamp,
) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE outbox SET due_at = $1 WHERE state = 'pending' AND due_at <= $2 \
         AND channel = $3 AND destination = $4 AND EXISTS (SELECT 1 FROM alerts a \
         WHERE a.id = outbox.alert_id AND a.service_id = $5)",
    )
    .bind(to_ms(until))
    .bind(to_ms(now))
    .bind(&group.channel)
    .bind(&group.destination)
    .bind(&group.service_id)
    .execute(store.pool())
    .await?;
    Ok(done.rows_affected())
}

/// A group claimed for one send.
#[derive(Clone, Debug)]
pub struct Claim {
    /// The longest-waiting row; its id is the message id.
    pub leader: PendingPage,
    /// Distinct alerts the message carries: 1 is a page, more a bundle.
    pub alerts: i64,
    /// The most attempts any claimed row has had.
    pub attempts: i64,
    /// Rows marked `duplicate` (another row for the same alert and destination stays).
    pub duplicates: u64,
}

/// Claims a group's due rows for one message, in one transaction: they get the leader's id
/// as `message_id`, and of several rows for one alert only the longest-waiting stays
/// pending; the rest become `duplicate`, each with a `notification_duplicate` entry.
/// `None` when nothing is left to send.
pub async fn claim(store: &Store, group: &DueGroup, now: Timestamp) -> Result<Option<Claim>> {
    let mut tx = store.begin().await?;
    let leader = sqlx::query(
        "SELECT o.id, o.alert_id, o.person_id, o.channel, o.destination, o.event, o.step, \
         o.attempts, o.due_at, a.state AS alert_state FROM outbox o \
         JOIN alerts a ON a.id = o.alert_id \
         WHERE o.state = 'pending' AND o.due_at <= $1 AND o.channel = $2 AND o.destination = $3 \
         AND a.service_id = $4 AND a.state = 'triggered' ORDER BY o.due_at, o.id LIMIT 1",
    )
    .bind(to_ms(now))
    .bind(&group.channel)
    .bind(&group.destination)
    .bind(&group.service_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(leader) = leader.as_ref().map(pending_from_row).transpose()? else {
        return Ok(None);
    };

    sqlx::query(
        "UPDATE outbox SET message_id = $1 WHERE state = 'pending' AND due_at <= $2 \
         AND channel = $3 AND destination = $4 AND EXISTS (SELECT 1 FROM alerts a \
         WHERE a.id = outbox.alert_id AND a.service_id = $5 AND a.state = 'triggered')",
    )
    .bind(&leader.id)
    .bind(to_ms(now))
    .bind(&group.channel)
    .bind(&group.destination)
    .bind(&group.service_id)
    .execute(&mut *tx)
    .await?;

    let repeats = sqlx::query(
        "SELECT o.id, o.alert_id, o.person_id, o.channel FROM outbox o \
         WHERE o.message_id = $1 AND o.state = 'pending' AND EXISTS (SELECT 1 FROM outbox k \
         WHERE k.message_id = o.message_id AND k.state = 'pending' \
         AND k.alert_id = o.alert_id \
         AND (k.due_at < o.due_at OR (k.due_at = o.due_at AND k.id < o.id)))",
    )
    .bind(&leader.id)
    .fetch_all(&mut *tx)
    .await?;
    for row in &repeats {
        let id: String = row.try_get("id")?;
        let alert_id: i64 = row.try_get("alert_id")?;
        sqlx::query("UPDATE outbox SET state = 'duplicate', message_id = NULL WHERE id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        let detail = serde_json::json!({
            "person": row.try_get::<String, _>("person_id")?,
            "channel": row.try_get::<String, _>("channel")?,
            "message_id": id,
            "kept_in": leader.id,
        });
        add_event(
            &mut tx,
            alert_id,
            now,
            "notification_duplicate",
            None,
            detail,
        )
        .await?;
    }

    let counts = sqlx::query(
        "SELECT COUNT(DISTINCT alert_id) AS alerts, MAX(attempts) AS attempts FROM outbox \
         WHERE message_id = $1 AND state = 'pending'",
    )
    .bind(&leader.id)
    .fetch_one(&mut *tx)
    .await?;
    let alerts: i64 = counts.try_get("alerts")?;
    let attempts: Option<i64> = counts.try_get("attempts")?;
    tx.commit().await?;
    Ok(Some(Claim {
        leader,
        alerts,
        attempts: attempts.unwrap_or(0),
        duplicates: u64::try_from(repeats.len()).unwrap_or(u64::MAX),
    }))
}

/// The alerts a claimed bundle carries: the first `limit` ids, oldest first, and the
/// newest id (what its ack-all link reaches up to).
pub async fn bundle_alerts(
    store: &Store,
    message_id: &str,
    limit: i64,
) -> Result<(Vec<i64>, Option<i64>)> {
    let first: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT alert_id FROM outbox WHERE message_id = $1 AND state = 'pending' \
         ORDER BY alert_id LIMIT $2",
    )
    .bind(message_id)
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    let newest: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(alert_id) FROM outbox WHERE message_id = $1 AND state = 'pending'",
    )
    .bind(message_id)
    .fetch_one(store.pool())
    .await?;
    Ok((first, newest))
}

/// Records a bundle attempt on every row it carried, with one timeline entry per alert,
/// in one transaction. Rows an ack dropped meanwhile stay dropped.
pub async fn record_bundle(
    store: &Store,
    message_id: &str,
    outcome: &Outcome,
    alerts: i64,
    now: Timestamp,
) -> Result<u64> {
    let mut tx = store.begin().await?;
    let (state, retry_at, error, sent_at) = match outcome {
        Outcome::Sent => ("sent", None, None, Some(to_ms(now))),
        Outcome::Retry { at, error, .. } => {
            ("pending", Some(to_ms(*at)), Some(error.as_str()), None)
        }
        Outcome::Failed { error } => ("failed", None, Some(error.as_str()), None),
        Outcome::Dropped => ("dropped", None, None, None),
    };
    let updated = sqlx::query(
        "UPDATE outbox SET state = $1, due_at = COALESCE($2, due_at), attempts = attempts + $3, \
         last_error = $4, sent_at = $5 WHERE message_id = $6 AND state = 'pending'",
    )
    .bind(state)
    .bind(retry_at)
    .bind(i64::from(outcome.counts()))
    .bind(error)
    .bind(sent_at)
    .bind(message_id)
    .execute(&mut *tx)
    .await?;
    let kind = match outcome {
        Outcome::Sent => Some("notification_sent"),
        Outcome::Failed { .. } => Some("notification_failed"),
        Outcome::Retry { .. } => Some("notification_retry"),
        Outcome::Dropped => None,
    };
    if let Some(kind) = kind {
        let sql = format!(
            "INSERT INTO timeline (alert_id, at, kind, actor, detail) \
             SELECT alert_id, $1, $2, NULL, {} \
             FROM outbox WHERE message_id = $5 AND state = $6",
            store.dialect().json_object(
                "'person', person_id, 'channel', channel, 'message_id', message_id, \
                 'attempt', attempts, 'error', $3, 'bundle', $4"
            )
        );
        sqlx::query(&sql)
            .bind(to_ms(now))
            .bind(kind)
            .bind(error)
            .bind(alerts)
            .bind(message_id)
            .bind(state)
            .execute(&mut *tx)
            .await?;
    }
    if matches!(outcome, Outcome::Failed { .. }) {
        let failed: Vec<String> =
            sqlx::query_scalar("SELECT id FROM outbox WHERE message_id = $1 AND state = 'failed'")
                .bind(message_id)
                .fetch_all(&mut *tx)
                .await?;
        for id in failed {
            fall_through(&mut tx, &id, now).await?;
        }
    }
    tx.commit().await?;
    Ok(updated.rows_affected())
}

/// A page the provider took but later reported as not delivered (Twilio's status
/// callback): every row sent as `message_id` turns `failed` with a `notification_failed`
/// entry and falls through, as a failure at send time does. Rows not `sent` are left
/// alone, so a repeated callback changes nothing. Returns how many rows changed.
pub async fn failed_after_send(
    store: &Store,
    message_id: &str,
    error: &str,
    now: Timestamp,
) -> Result<u64> {
    let mut tx = store.begin().await?;
    let ids: Vec<String> = sqlx::query_scalar(
        "UPDATE outbox SET state = 'failed', last_error = $1 \
         WHERE message_id = $2 AND state = 'sent' RETURNING id",
    )
    .bind(error)
    .bind(message_id)
    .fetch_all(&mut *tx)
    .await?;
    for id in &ids {
        let row =
            sqlx::query("SELECT alert_id, person_id, channel, attempts FROM outbox WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        let detail = serde_json::json!({
            "person": row.try_get::<String, _>("person_id")?,
            "channel": row.try_get::<String, _>("channel")?,
            "message_id": message_id,
            "attempt": row.try_get::<i64, _>("attempts")?,
            "error": error,
            "reported_later": true,
        });
        add_event(
            &mut tx,
            row.try_get("alert_id")?,
            now,
            "notification_failed",
            None,
            detail,
        )
        .await?;
        fall_through(&mut tx, id, now).await?;
    }
    tx.commit().await?;
    Ok(u64::try_from(ids.len()).unwrap_or(u64::MAX))
}

fn pending_from_row(row: &sqlx::any::AnyRow) -> Result<PendingPage> {
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
}
