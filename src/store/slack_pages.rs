//! Slack pages in app mode (comms spec §3.4, §2.6): the DM posted for each page
//! (`slack_page_messages`) and the alert state it shows, so `engine::slack_pages` can edit
//! every message whose alert moved on, whichever surface moved it.
//!
//! Pacing and 429 pauses are `store::slack`'s `slack_channels` rows, keyed here by the
//! member id a page went to; this module only reads and advances them for those keys.

use jiff::Timestamp;
use sqlx::Row as _;

use super::alerts::{Alert, add_event};
use super::slack::Channel;
use super::{Result, Store, StoreError, from_ms, from_ms_opt, to_ms};
use crate::domain::alert::AlertState;

/// The alert as a message shows it: a message is stale once its alert differs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shown {
    pub state: AlertState,
    pub acked_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
}

impl Shown {
    pub fn of(alert: &Alert) -> Shown {
        Shown {
            state: alert.state,
            acked_at: alert.acked_at,
            resolved_at: alert.resolved_at,
        }
    }
}

/// A page just posted.
#[derive(Clone, Debug)]
pub struct NewMessage<'a> {
    /// The conversation Slack answered with (the DM, `D…`).
    pub channel: &'a str,
    pub ts: &'a str,
    pub alert_id: i64,
    pub person_id: &'a str,
    /// The member id it was posted to.
    pub member: &'a str,
    pub outbox_id: &'a str,
    pub shown: &'a Shown,
}

/// Stores a posted page.
pub async fn insert(store: &Store, message: &NewMessage<'_>, now: Timestamp) -> Result<()> {
    let mut tx = store.begin().await?;
    sqlx::query(
        "INSERT OR REPLACE INTO slack_page_messages (channel, ts, alert_id, person_id, member, \
         outbox_id, shown_state, shown_acked_at, shown_resolved_at, attempts, due_at, \
         created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
    )
    .bind(message.channel)
    .bind(message.ts)
    .bind(message.alert_id)
    .bind(message.person_id)
    .bind(message.member)
    .bind(message.outbox_id)
    .bind(message.shown.state.as_str())
    .bind(message.shown.acked_at.map(to_ms))
    .bind(message.shown.resolved_at.map(to_ms))
    .bind(to_ms(now))
    .bind(to_ms(now))
    .bind(to_ms(now))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A posted page whose alert no longer looks the way the message shows it.
#[derive(Clone, Debug)]
pub struct Stale {
    pub channel: String,
    pub ts: String,
    pub alert_id: i64,
    pub person_id: String,
    pub member: String,
    pub outbox_id: String,
    pub attempts: i64,
}

/// Messages whose alert differs from what they show.
const STALE: &str = "m.shown_state <> a.state OR m.shown_acked_at IS NOT a.acked_at \
    OR m.shown_resolved_at IS NOT a.resolved_at";

/// Stale messages due for an edit at `now`, the longest-waiting first.
pub async fn stale(store: &Store, now: Timestamp, limit: i64) -> Result<Vec<Stale>> {
    let sql = format!(
        "SELECT m.channel, m.ts, m.alert_id, m.person_id, m.member, m.outbox_id, m.attempts \
         FROM slack_page_messages m JOIN alerts a ON a.id = m.alert_id \
         WHERE ({STALE}) AND m.due_at <= ? ORDER BY m.due_at, m.created_at LIMIT ?"
    );
    let rows = sqlx::query(&sql)
        .bind(to_ms(now))
        .bind(limit)
        .fetch_all(store.pool())
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Stale {
                channel: row.try_get("channel")?,
                ts: row.try_get("ts")?,
                alert_id: row.try_get("alert_id")?,
                person_id: row.try_get("person_id")?,
                member: row.try_get("member")?,
                outbox_id: row.try_get("outbox_id")?,
                attempts: row.try_get("attempts")?,
            })
        })
        .collect()
}

/// How an edit of a stale message ended.
#[derive(Clone, Debug)]
pub enum Edited<'a> {
    /// The message now shows the alert as `Shown`.
    Done,
    /// The message was gone or frozen and was posted anew at `channel` + `ts`.
    PostedAnew { channel: &'a str, ts: &'a str },
    /// Failed for good: the message keeps its old look, and the alert's timeline gets a
    /// `notification_failed` entry.
    Failed { error: &'a str },
}

/// Records that `message` was brought to `shown` (or given up on), in one transaction.
pub async fn edited(
    store: &Store,
    message: &Stale,
    shown: &Shown,
    outcome: &Edited<'_>,
    now: Timestamp,
) -> Result<()> {
    let mut tx = store.begin().await?;
    let (channel, ts) = match outcome {
        Edited::PostedAnew { channel, ts } => (*channel, *ts),
        _ => (message.channel.as_str(), message.ts.as_str()),
    };
    let error = match outcome {
        Edited::Failed { error } => Some(*error),
        _ => None,
    };
    sqlx::query(
        "UPDATE slack_page_messages SET channel = ?, ts = ?, shown_state = ?, \
         shown_acked_at = ?, shown_resolved_at = ?, attempts = 0, due_at = ?, last_error = ?, \
         updated_at = ? WHERE channel = ? AND ts = ?",
    )
    .bind(channel)
    .bind(ts)
    .bind(shown.state.as_str())
    .bind(shown.acked_at.map(to_ms))
    .bind(shown.resolved_at.map(to_ms))
    .bind(to_ms(now))
    .bind(error)
    .bind(to_ms(now))
    .bind(&message.channel)
    .bind(&message.ts)
    .execute(&mut *tx)
    .await?;
    if let Some(error) = error {
        let detail = serde_json::json!({
            "person": message.person_id,
            "channel": "slack",
            "message_id": message.outbox_id,
            "op": "update",
            "error": error,
        });
        add_event(
            &mut tx,
            message.alert_id,
            now,
            "notification_failed",
            None,
            detail,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A transient edit failure: try again at `at`.
pub async fn retry_at(store: &Store, message: &Stale, at: Timestamp, error: &str) -> Result<()> {
    sqlx::query(
        "UPDATE slack_page_messages SET attempts = attempts + 1, due_at = ?, last_error = ? \
         WHERE channel = ? AND ts = ?",
    )
    .bind(to_ms(at))
    .bind(error)
    .bind(&message.channel)
    .bind(&message.ts)
    .execute(store.pool())
    .await?;
    Ok(())
}

/// When the next stale message may be edited: its due time, after its channel's pause and
/// pacing (`pace_at` less the allowed `burst`); `None` when every message is up to date.
pub async fn next_due_at(store: &Store, burst: jiff::SignedDuration) -> Result<Option<Timestamp>> {
    let sql = format!(
        "SELECT MIN(MAX(m.due_at, COALESCE(c.paused_until, 0), COALESCE(c.pace_at, 0) - ?)) \
         FROM slack_page_messages m JOIN alerts a ON a.id = m.alert_id \
         LEFT JOIN slack_channels c ON c.channel = m.member WHERE {STALE}"
    );
    let at: Option<i64> = sqlx::query_scalar(&sql)
        .bind(i64::try_from(burst.as_millis()).unwrap_or(i64::MAX))
        .fetch_one(store.pool())
        .await?;
    from_ms_opt(at)
}

/// The pacing, pause and health of one `slack_channels` key (defaults when it has none).
pub async fn channel(store: &Store, key: &str) -> Result<Channel> {
    let row = sqlx::query(
        "SELECT paused_until, pace_at, last_error FROM slack_channels WHERE channel = ?",
    )
    .bind(key)
    .fetch_optional(store.pool())
    .await?;
    let Some(row) = row else {
        return Ok(Channel::default());
    };
    Ok(Channel {
        paused_until: from_ms_opt(row.try_get("paused_until")?)?,
        pace_at: from_ms(row.try_get("pace_at")?)?,
        last_error: row.try_get("last_error")?,
    })
}

/// What a call through a channel says about its health.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health<'a> {
    /// It worked: any earlier error is cleared.
    Healthy,
    /// The token or channel is unusable (`invalid_auth`, `channel_not_found`…).
    Unhealthy(&'a str),
    /// A failure that says nothing about the channel.
    Unchanged,
}

/// Records a call that reached Slack through `key`: its pacing moves to `pace_at` and its
/// health follows `health`.
pub async fn sent(
    store: &Store,
    key: &str,
    pace_at: Timestamp,
    health: Health<'_>,
    now: Timestamp,
) -> Result<()> {
    let mut tx = store.begin().await?;
    sqlx::query(
        "INSERT INTO slack_channels (channel, pace_at) VALUES (?1, ?2) \
         ON CONFLICT (channel) DO UPDATE SET pace_at = MAX(pace_at, ?2)",
    )
    .bind(key)
    .bind(to_ms(pace_at))
    .execute(&mut *tx)
    .await?;
    match health {
        Health::Healthy => {
            sqlx::query(
                "UPDATE slack_channels SET last_error = NULL, last_error_at = NULL \
                 WHERE channel = ?",
            )
            .bind(key)
            .execute(&mut *tx)
            .await?;
        }
        Health::Unhealthy(error) => {
            sqlx::query(
                "UPDATE slack_channels SET last_error = ?, last_error_at = ? WHERE channel = ?",
            )
            .bind(error)
            .bind(to_ms(now))
            .bind(key)
            .execute(&mut *tx)
            .await?;
        }
        Health::Unchanged => {}
    }
    tx.commit().await?;
    Ok(())
}

/// The stored page messages of an alert, oldest first: `(channel, ts)`.
pub async fn of_alert(store: &Store, alert_id: i64) -> Result<Vec<(String, String)>> {
    let rows = sqlx::query(
        "SELECT channel, ts FROM slack_page_messages WHERE alert_id = ? ORDER BY created_at, ts",
    )
    .bind(alert_id)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("channel")?, row.try_get("ts")?)))
        .collect::<std::result::Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
}
