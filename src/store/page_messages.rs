//! Page messages that follow their alert (`page_messages`): the Slack app DM (comms spec
//! §3.4) or Discord webhook message (§3.6) posted for a page, with the alert state it
//! shows, so `engine::slack_pages` and `engine::discord_pages` can edit every message whose
//! alert moved on, whichever surface moved it. Each kind only sees its own rows.

use jiff::Timestamp;
use sqlx::Row as _;

use super::alerts::{Alert, add_event};
use super::{Result, Store, StoreError, from_ms_opt, to_ms};
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
    /// `slack` or `discord`.
    pub kind: &'a str,
    /// Slack: the conversation it answered with (the DM, `D…`). Discord: the contact.
    pub channel: &'a str,
    /// Slack: the message `ts`. Discord: the message id.
    pub ts: &'a str,
    pub alert_id: i64,
    pub person_id: &'a str,
    /// The Slack member id it was posted to; empty for Discord.
    pub member: &'a str,
    pub outbox_id: &'a str,
    pub shown: &'a Shown,
}

/// Stores a posted page.
pub async fn insert(store: &Store, message: &NewMessage<'_>, now: Timestamp) -> Result<()> {
    let mut tx = store.begin().await?;
    sqlx::query(
        "INSERT INTO page_messages (kind, channel, ts, alert_id, person_id, member, \
         outbox_id, shown_state, shown_acked_at, shown_resolved_at, attempts, due_at, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, $12, \
         $13) ON CONFLICT (channel, ts) DO UPDATE SET kind = excluded.kind, \
         alert_id = excluded.alert_id, person_id = excluded.person_id, \
         member = excluded.member, outbox_id = excluded.outbox_id, \
         shown_state = excluded.shown_state, shown_acked_at = excluded.shown_acked_at, \
         shown_resolved_at = excluded.shown_resolved_at, attempts = excluded.attempts, \
         due_at = excluded.due_at, created_at = excluded.created_at, \
         updated_at = excluded.updated_at",
    )
    .bind(message.kind)
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
    pub kind: String,
    pub channel: String,
    pub ts: String,
    pub alert_id: i64,
    pub person_id: String,
    pub member: String,
    pub outbox_id: String,
    pub attempts: i64,
}

/// Messages whose alert differs from what they show.
const STALE: &str = "m.shown_state <> a.state \
    OR m.shown_acked_at IS DISTINCT FROM a.acked_at \
    OR m.shown_resolved_at IS DISTINCT FROM a.resolved_at";

/// Stale messages of `kind` due for an edit at `now`, the longest-waiting first.
pub async fn stale(store: &Store, kind: &str, now: Timestamp, limit: i64) -> Result<Vec<Stale>> {
    let sql = format!(
        "SELECT m.kind, m.channel, m.ts, m.alert_id, m.person_id, m.member, m.outbox_id, \
         m.attempts FROM page_messages m JOIN alerts a ON a.id = m.alert_id \
         WHERE m.kind = $1 AND ({STALE}) AND m.due_at <= $2 \
         ORDER BY m.due_at, m.created_at LIMIT $3"
    );
    let rows = sqlx::query(&sql)
        .bind(kind)
        .bind(to_ms(now))
        .bind(limit)
        .fetch_all(store.pool())
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Stale {
                kind: row.try_get("kind")?,
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
    /// The message was gone or frozen and was posted anew at `channel` + `ts` (Slack).
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
        "UPDATE page_messages SET channel = $1, ts = $2, shown_state = $3, \
         shown_acked_at = $4, shown_resolved_at = $5, attempts = 0, due_at = $6, last_error = $7, \
         updated_at = $8 WHERE kind = $9 AND channel = $10 AND ts = $11",
    )
    .bind(channel)
    .bind(ts)
    .bind(shown.state.as_str())
    .bind(shown.acked_at.map(to_ms))
    .bind(shown.resolved_at.map(to_ms))
    .bind(to_ms(now))
    .bind(error)
    .bind(to_ms(now))
    .bind(&message.kind)
    .bind(&message.channel)
    .bind(&message.ts)
    .execute(&mut *tx)
    .await?;
    if let Some(error) = error {
        let detail = serde_json::json!({
            "person": message.person_id,
            "channel": message.kind,
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
        "UPDATE page_messages SET attempts = attempts + 1, due_at = $1, last_error = $2 \
         WHERE kind = $3 AND channel = $4 AND ts = $5",
    )
    .bind(to_ms(at))
    .bind(error)
    .bind(&message.kind)
    .bind(&message.channel)
    .bind(&message.ts)
    .execute(store.pool())
    .await?;
    Ok(())
}

/// When the next stale message of `kind` may be edited: its due time, after its Slack
/// channel's pause and pacing (`pace_at` less the allowed `burst`; Discord rows have
/// none); `None` when every message is up to date.
pub async fn next_due_at(
    store: &Store,
    kind: &str,
    burst: jiff::SignedDuration,
) -> Result<Option<Timestamp>> {
    let sql = format!(
        "SELECT MIN({greatest}) \
         FROM page_messages m JOIN alerts a ON a.id = m.alert_id \
         LEFT JOIN slack_channels c ON c.channel = m.member AND m.kind = 'slack' \
         WHERE m.kind = $2 AND ({STALE})",
        greatest = store.dialect().greatest(&[
            "m.due_at",
            "COALESCE(c.paused_until, 0)",
            "COALESCE(c.pace_at, 0) - $1"
        ])
    );
    let at: Option<i64> = sqlx::query_scalar(&sql)
        .bind(i64::try_from(burst.as_millis()).unwrap_or(i64::MAX))
        .bind(kind)
        .fetch_one(store.pool())
        .await?;
    from_ms_opt(at)
}

/// The stored page messages of `kind` for an alert, oldest first: `(channel, ts)`.
pub async fn of_alert(store: &Store, kind: &str, alert_id: i64) -> Result<Vec<(String, String)>> {
    let rows = sqlx::query(
        "SELECT channel, ts FROM page_messages WHERE kind = $1 AND alert_id = $2 \
         ORDER BY created_at, ts",
    )
    .bind(kind)
    .bind(alert_id)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("channel")?, row.try_get("ts")?)))
        .collect::<std::result::Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
}
