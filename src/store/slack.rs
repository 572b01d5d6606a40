//! Slack app mode's state (comms spec §2.4, §2.6): the messages we posted and may edit
//! (`slack_messages`), the cursor on the incident timeline (`slack_cursor`), the work
//! still to send (`slack_queue`), per-channel pacing, 429 pauses and health
//! (`slack_channels`), and the Events API deliveries already taken (`slack_events`).
//!
//! `engine::slack` turns timeline events into queued work and moves the cursor in one
//! transaction, so an event is never skipped; each send's outcome is then recorded here,
//! together with its timeline event when it failed for good.

use std::collections::BTreeMap;

use jiff::Timestamp;
use sqlx::Row as _;

use super::incidents::{self, NewEvent};
use super::{Dialect, Result, Store, StoreError, from_ms, from_ms_opt, to_ms};
use crate::domain::incident::Source;

/// What a queued item does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Post the announcement (`chat.postMessage`), or in webhook mode its one message.
    Announce,
    /// Re-render the announcement in place (`chat.update`) from the incident as it is now.
    Rerender,
    /// Post the event's line in the announcement's thread (webhook mode: a new message).
    Reply,
    /// Make the incident's own channel, set its topic, invite commander and declarer.
    CreateChannel,
    /// Invite the new commander into the incident's own channel.
    Invite,
    /// Archive the incident's own channel (at close).
    Archive,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Announce => "announce",
            Op::Rerender => "rerender",
            Op::Reply => "reply",
            Op::CreateChannel => "create_channel",
            Op::Invite => "invite",
            Op::Archive => "archive",
        }
    }

    fn parse(text: &str) -> Result<Op> {
        match text {
            "announce" => Ok(Op::Announce),
            "rerender" => Ok(Op::Rerender),
            "reply" => Ok(Op::Reply),
            "create_channel" => Ok(Op::CreateChannel),
            "invite" => Ok(Op::Invite),
            "archive" => Ok(Op::Archive),
            other => Err(StoreError::Corrupt(format!("slack_queue.op {other:?}"))),
        }
    }
}

/// Which kind of message a stored `ts` belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    Announcement,
    Thread,
}

impl MessageKind {
    fn as_str(self) -> &'static str {
        match self {
            MessageKind::Announcement => "announcement",
            MessageKind::Thread => "thread",
        }
    }
}

/// Work to queue for one timeline event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Work {
    pub incident_id: String,
    pub event_seq: i64,
    /// A Slack channel id, or [`WEBHOOK`].
    pub channel: String,
    pub op: Op,
}

/// The channel key of webhook-only mode: the URL fixes the real channel.
pub const WEBHOOK: &str = "webhook";

/// A queued item.
#[derive(Clone, Debug)]
pub struct Queued {
    pub id: i64,
    pub incident_id: String,
    pub event_seq: i64,
    pub channel: String,
    pub op: Op,
    pub attempts: i64,
    pub due_at: Timestamp,
}

/// A channel's pacing, pause and health.
// TODO(#5): surface `last_error` as a health warning (`/health`, §0 "Outbox").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    /// Set by a 429 until its `Retry-After` has passed.
    pub paused_until: Option<Timestamp>,
    /// Pacing's theoretical next send time: sends may run up to a burst ahead of it.
    pub pace_at: Timestamp,
    /// Why the channel is unhealthy (`not_in_channel`, `invalid_auth`…), until a send works.
    pub last_error: Option<String>,
}

impl Default for Channel {
    fn default() -> Self {
        Channel {
            paused_until: None,
            pace_at: Timestamp::UNIX_EPOCH,
            last_error: None,
        }
    }
}

/// A message we posted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub incident_id: String,
    pub channel: String,
    pub ts: String,
    pub rendered_seq: i64,
}

/// The last timeline `seq` turned into queued work.
pub async fn cursor(store: &Store) -> Result<i64> {
    let seq: Option<i64> = sqlx::query_scalar("SELECT seq FROM slack_cursor WHERE id = 1")
        .fetch_optional(store.pool())
        .await?;
    Ok(seq.unwrap_or(0))
}

/// Queues `work` and moves the cursor to `seq`, in one transaction. A `Rerender` joins the
/// one already waiting for the same incident and channel.
pub async fn enqueue(store: &Store, work: &[Work], seq: i64, now: Timestamp) -> Result<()> {
    let mut tx = store.begin().await?;
    for item in work {
        if item.op == Op::Rerender {
            let sql = format!(
                "UPDATE slack_queue SET event_seq = {} \
                 WHERE incident_id = $2 AND channel = $3 AND op = 'rerender'",
                store.dialect().greatest(&["event_seq", "$1"])
            );
            let joined = sqlx::query(&sql)
                .bind(item.event_seq)
                .bind(&item.incident_id)
                .bind(&item.channel)
                .execute(&mut *tx)
                .await?;
            if joined.rows_affected() > 0 {
                continue;
            }
        }
        sqlx::query(
            "INSERT INTO slack_queue (incident_id, event_seq, channel, op, due_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&item.incident_id)
        .bind(item.event_seq)
        .bind(&item.channel)
        .bind(item.op.as_str())
        .bind(to_ms(now))
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await?;
    }
    set_cursor(&mut tx, seq, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Moves the cursor past every event recorded so far, queueing nothing: while Slack is
/// not configured, so turning it on later does not announce history.
pub async fn skip_to_end(store: &Store, now: Timestamp) -> Result<()> {
    // Read first: most passes find nothing new and need no write transaction.
    let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM incident_events")
        .fetch_one(store.pool())
        .await?;
    if last <= cursor(store).await? {
        return Ok(());
    }
    let mut tx = store.begin().await?;
    set_cursor(&mut tx, last, now).await?;
    tx.commit().await?;
    Ok(())
}

async fn set_cursor(conn: &mut sqlx::AnyConnection, seq: i64, now: Timestamp) -> Result<()> {
    let sql = format!(
        "INSERT INTO slack_cursor (id, seq, updated_at) VALUES (1, $1, $2) \
         ON CONFLICT (id) DO UPDATE SET seq = {}, updated_at = $2",
        Dialect::of(conn).greatest(&["slack_cursor.seq", "$1"])
    );
    sqlx::query(&sql)
        .bind(seq)
        .bind(to_ms(now))
        .execute(conn)
        .await?;
    Ok(())
}

/// Queued items, oldest first (per channel, that is the order they must go out in).
pub async fn pending(store: &Store, limit: i64) -> Result<Vec<Queued>> {
    let rows = sqlx::query(
        "SELECT id, incident_id, event_seq, channel, op, attempts, due_at FROM slack_queue \
         ORDER BY id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Queued {
                id: row.try_get("id")?,
                incident_id: row.try_get("incident_id")?,
                event_seq: row.try_get("event_seq")?,
                channel: row.try_get("channel")?,
                op: Op::parse(row.try_get("op")?)?,
                attempts: row.try_get("attempts")?,
                due_at: from_ms(row.try_get("due_at")?)?,
            })
        })
        .collect()
}

/// Every channel with state, by channel key.
pub async fn channels(store: &Store) -> Result<BTreeMap<String, Channel>> {
    let rows = sqlx::query("SELECT channel, paused_until, pace_at, last_error FROM slack_channels")
        .fetch_all(store.pool())
        .await?;
    rows.iter()
        .map(|row| {
            let channel = Channel {
                paused_until: from_ms_opt(row.try_get("paused_until")?)?,
                pace_at: from_ms(row.try_get("pace_at")?)?,
                last_error: row.try_get("last_error")?,
            };
            Ok((row.try_get("channel")?, channel))
        })
        .collect()
}

/// The incident's announcement in `channel`, if one was posted.
pub async fn announcement(
    store: &Store,
    incident_id: &str,
    channel: &str,
) -> Result<Option<Message>> {
    let row = sqlx::query(
        "SELECT incident_id, channel, ts, rendered_seq FROM slack_messages \
         WHERE incident_id = $1 AND channel = $2 AND kind = 'announcement'",
    )
    .bind(incident_id)
    .bind(channel)
    .fetch_optional(store.pool())
    .await?;
    row.map(|row| {
        Ok(Message {
            incident_id: row.try_get("incident_id")?,
            channel: row.try_get("channel")?,
            ts: row.try_get("ts")?,
            rendered_seq: row.try_get("rendered_seq")?,
        })
    })
    .transpose()
}

/// What became of one queued item.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// Posted; keep `ts` (`None` in webhook mode, where nothing comes back). An
    /// announcement replaces the one stored for the incident and channel.
    Posted {
        kind: MessageKind,
        ts: Option<String>,
        rendered_seq: i64,
    },
    /// The announcement was edited in place to reflect events up to `rendered_seq`.
    Updated { ts: String, rendered_seq: i64 },
    /// Nothing to send after all (e.g. an event line with no text).
    Skipped,
    /// An operation on the incident's own channel went through; `dedicated` says what it
    /// changed about that channel, if anything.
    Done { dedicated: Option<DedicatedChange> },
    /// Try again at `at`; the channel keeps its order behind it.
    Retry { at: Timestamp, error: String },
    /// Failed for good: `event` (`notification.failed`) lands on the incident timeline;
    /// `unhealthy` marks the channel.
    Failed {
        error: String,
        event: NewEvent,
        unhealthy: bool,
    },
}

/// What an operation did to an incident's own channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DedicatedChange {
    Created { channel: String, name: String },
    Archived,
}

/// An incident's own channel (comms spec §2.7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dedicated {
    pub channel: String,
    pub name: String,
    pub archived_at: Option<Timestamp>,
}

/// The incident's own channel, if one was made.
pub async fn dedicated(store: &Store, incident_id: &str) -> Result<Option<Dedicated>> {
    let row = sqlx::query(
        "SELECT channel, name, archived_at FROM slack_incident_channels WHERE incident_id = $1",
    )
    .bind(incident_id)
    .fetch_optional(store.pool())
    .await?;
    row.map(|row| {
        Ok(Dedicated {
            channel: row.try_get("channel")?,
            name: row.try_get("name")?,
            archived_at: from_ms_opt(row.try_get("archived_at")?)?,
        })
    })
    .transpose()
}

/// The incident whose own channel is `channel`, if any (commands typed there need no `#N`).
pub async fn incident_of_channel(store: &Store, channel: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT incident_id FROM slack_incident_channels WHERE channel = $1")
            .bind(channel)
            .fetch_optional(store.pool())
            .await?,
    )
}

/// Records `outcome` for `item` in one transaction; `pace_at` is the channel's pacing
/// after this send (unchanged when nothing was sent).
pub async fn record(
    store: &Store,
    item: &Queued,
    outcome: &Outcome,
    pace_at: Timestamp,
    now: Timestamp,
) -> Result<()> {
    let mut tx = store.begin().await?;
    match outcome {
        Outcome::Retry { at, error } => {
            sqlx::query(
                "UPDATE slack_queue SET attempts = attempts + 1, due_at = $1, last_error = $2 \
                 WHERE id = $3",
            )
            .bind(to_ms(*at))
            .bind(error)
            .bind(item.id)
            .execute(&mut *tx)
            .await?;
        }
        other => {
            sqlx::query("DELETE FROM slack_queue WHERE id = $1")
                .bind(item.id)
                .execute(&mut *tx)
                .await?;
            if let Outcome::Posted {
                kind,
                ts: Some(ts),
                rendered_seq,
            } = other
            {
                if *kind == MessageKind::Announcement {
                    sqlx::query(
                        "DELETE FROM slack_messages WHERE incident_id = $1 AND channel = $2 \
                         AND kind = 'announcement'",
                    )
                    .bind(&item.incident_id)
                    .bind(&item.channel)
                    .execute(&mut *tx)
                    .await?;
                }
                sqlx::query(
                    // Replaces: the post already happened; a `ts` seen before (only a
                    // fake reuses them) must not fail the step and send the post again.
                    "INSERT INTO slack_messages (incident_id, channel, ts, kind, \
                     event_seq, rendered_seq, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (channel, ts) DO UPDATE SET incident_id = excluded.incident_id, \
                     kind = excluded.kind, event_seq = excluded.event_seq, \
                     rendered_seq = excluded.rendered_seq, created_at = excluded.created_at, \
                     updated_at = excluded.updated_at",
                )
                .bind(&item.incident_id)
                .bind(&item.channel)
                .bind(ts)
                .bind(kind.as_str())
                .bind(item.event_seq)
                .bind(rendered_seq)
                .bind(to_ms(now))
                .bind(to_ms(now))
                .execute(&mut *tx)
                .await?;
            }
            if let Outcome::Updated { ts, rendered_seq } = other {
                let sql = format!(
                    "UPDATE slack_messages SET rendered_seq = {}, \
                     updated_at = $2 WHERE channel = $3 AND ts = $4",
                    store.dialect().greatest(&["rendered_seq", "$1"])
                );
                sqlx::query(&sql)
                    .bind(rendered_seq)
                    .bind(to_ms(now))
                    .bind(&item.channel)
                    .bind(ts)
                    .execute(&mut *tx)
                    .await?;
            }
            if let Outcome::Failed { event, .. } = other {
                incidents::add_event(&mut tx, &item.incident_id, event, now).await?;
            }
            match other {
                Outcome::Done {
                    dedicated: Some(DedicatedChange::Created { channel, name }),
                } => {
                    sqlx::query(
                        "INSERT INTO slack_incident_channels (incident_id, channel, \
                         name, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    )
                    .bind(&item.incident_id)
                    .bind(channel)
                    .bind(name)
                    .bind(to_ms(now))
                    .execute(&mut *tx)
                    .await?;
                }
                Outcome::Done {
                    dedicated: Some(DedicatedChange::Archived),
                } => {
                    sqlx::query(
                        "UPDATE slack_incident_channels SET archived_at = $1 \
                         WHERE incident_id = $2 AND archived_at IS NULL",
                    )
                    .bind(to_ms(now))
                    .bind(&item.incident_id)
                    .execute(&mut *tx)
                    .await?;
                }
                _ => {}
            }
        }
    }
    let (last_error, healthy) = match outcome {
        Outcome::Failed {
            error,
            unhealthy: true,
            ..
        } => (Some(error.as_str()), false),
        Outcome::Posted { .. } | Outcome::Updated { .. } | Outcome::Done { .. } => (None, true),
        _ => (None, false),
    };
    sqlx::query(&format!(
        "INSERT INTO slack_channels (channel, pace_at) VALUES ($1, $2) \
             ON CONFLICT (channel) DO UPDATE SET pace_at = {}",
        store.dialect().greatest(&["slack_channels.pace_at", "$2"])
    ))
    .bind(&item.channel)
    .bind(to_ms(pace_at))
    .execute(&mut *tx)
    .await?;
    if healthy || last_error.is_some() {
        sqlx::query(
            "UPDATE slack_channels SET last_error = $1, last_error_at = $2 WHERE channel = $3",
        )
        .bind(last_error)
        .bind(last_error.map(|_| to_ms(now)))
        .bind(&item.channel)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Pauses `channel` until `until` (a 429's `Retry-After`); its queue keeps its order.
pub async fn pause(store: &Store, channel: &str, until: Timestamp) -> Result<()> {
    let mut tx = store.begin().await?;
    sqlx::query(
        "INSERT INTO slack_channels (channel, paused_until) VALUES ($1, $2) \
         ON CONFLICT (channel) DO UPDATE SET paused_until = $2",
    )
    .bind(channel)
    .bind(to_ms(until))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// When the next queued item may go out: its due time, after its channel's pause and
/// pacing (`pace_at` less the allowed `burst`); `None` with an empty queue.
pub async fn next_due_at(store: &Store, burst: jiff::SignedDuration) -> Result<Option<Timestamp>> {
    let sql = format!(
        "SELECT MIN({}) FROM slack_queue q LEFT JOIN slack_channels c ON c.channel = q.channel",
        store.dialect().greatest(&[
            "q.due_at",
            "COALESCE(c.paused_until, 0)",
            "COALESCE(c.pace_at, 0) - $1"
        ])
    );
    let at: Option<i64> = sqlx::query_scalar(&sql)
        .bind(i64::try_from(burst.as_millis()).unwrap_or(i64::MAX))
        .fetch_one(store.pool())
        .await?;
    from_ms_opt(at)
}

/// The incident whose announcement in `channel` is the message `ts`.
pub async fn incident_by_announcement(
    store: &Store,
    channel: &str,
    ts: &str,
) -> Result<Option<String>> {
    let id = sqlx::query_scalar(
        "SELECT incident_id FROM slack_messages \
         WHERE channel = $1 AND ts = $2 AND kind = 'announcement'",
    )
    .bind(channel)
    .bind(ts)
    .fetch_optional(store.pool())
    .await?;
    Ok(id)
}

/// A thread message being captured as a note (Events API).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capture {
    /// Slack's `event_id`: one capture per id, however often Slack retries.
    pub event_id: String,
    pub incident_id: String,
    pub channel: String,
    /// The message's own `ts`.
    pub ts: String,
    /// The person the note is added as.
    pub actor: String,
    /// The note's text as it will be stored.
    pub text: String,
}

/// Claims `capture`'s `event_id`; `false` when it was taken before (a retry).
pub async fn claim_event(store: &Store, capture: &Capture, now: Timestamp) -> Result<bool> {
    let mut tx = store.begin().await?;
    let claimed = sqlx::query(
        "INSERT INTO slack_events (event_id, incident_id, channel, ts, actor, text, \
         received_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(&capture.event_id)
    .bind(&capture.incident_id)
    .bind(&capture.channel)
    .bind(&capture.ts)
    .bind(&capture.actor)
    .bind(&capture.text)
    .bind(to_ms(now))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(claimed.rows_affected() == 1)
}

/// How long a signed request is remembered: twice the 300 s window either side of its
/// timestamp, so a replay is refused for as long as its signature could verify.
pub const REQUESTS_KEPT: jiff::SignedDuration = jiff::SignedDuration::from_secs(600);

/// Takes the signed request with `signature` at `now`: `true` the first time, `false` for a
/// replay, on whichever instance sharing the database took it. Forgets requests older than
/// [`REQUESTS_KEPT`] in the same transaction.
pub async fn first_request(store: &Store, signature: &str, now: Timestamp) -> Result<bool> {
    let mut tx = store.begin().await?;
    let cutoff = now.saturating_sub(REQUESTS_KEPT).unwrap_or(now);
    sqlx::query("DELETE FROM slack_seen_requests WHERE seen_at <= $1")
        .bind(to_ms(cutoff))
        .execute(&mut *tx)
        .await?;
    let taken = sqlx::query(
        "INSERT INTO slack_seen_requests (signature, seen_at) VALUES ($1, $2) \
         ON CONFLICT (signature) DO NOTHING",
    )
    .bind(signature)
    .bind(to_ms(now))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(taken == 1)
}

/// How long a taken Events API delivery is remembered: Slack retries within the hour, and
/// the engine relays a captured note's event long before this.
pub const EVENTS_KEPT: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

/// Deletes at most `limit` `slack_events` rows received [`EVENTS_KEPT`] or longer before
/// `now`; returns how many went.
pub async fn prune_events(store: &Store, now: Timestamp, limit: i64) -> Result<u64> {
    let cutoff = now.saturating_sub(EVENTS_KEPT).unwrap_or(now);
    let gone = sqlx::query(
        "DELETE FROM slack_events WHERE event_id IN (SELECT event_id FROM slack_events \
         WHERE received_at <= $1 LIMIT $2)",
    )
    .bind(to_ms(cutoff))
    .bind(limit)
    .execute(store.pool())
    .await?
    .rows_affected();
    Ok(gone)
}

/// Records the timeline event (`seq`) a claimed capture became.
pub async fn captured_as(store: &Store, event_id: &str, seq: i64) -> Result<()> {
    let mut tx = store.begin().await?;
    sqlx::query("UPDATE slack_events SET event_seq = $1 WHERE event_id = $2")
        .bind(seq)
        .bind(event_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Gives up a claim whose note was not written, so Slack's retry may try again.
pub async fn release_event(store: &Store, event_id: &str) -> Result<()> {
    let mut tx = store.begin().await?;
    sqlx::query("DELETE FROM slack_events WHERE event_id = $1 AND event_seq IS NULL")
        .bind(event_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The `seq`s among `events` that are notes captured from a Slack thread: they are in the
/// thread already. A claim is written before its note, so a note the engine reads is
/// recognised even before [`captured_as`] ran: by its seq, or while that is still unset,
/// by incident, actor and text.
pub async fn captured_notes(store: &Store, events: &[incidents::Event]) -> Result<Vec<i64>> {
    let mut captured = Vec::new();
    for event in events {
        if event.kind != "note.added" || event.source != Source::Slack.as_str() {
            continue;
        }
        let text = event.data["text"].as_str().unwrap_or_default();
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM slack_events WHERE incident_id = $1 AND (event_seq = $2 \
             OR (event_seq IS NULL AND actor = $3 AND text = $4)) LIMIT 1",
        )
        .bind(&event.incident_id)
        .bind(event.seq)
        .bind(&event.actor)
        .bind(text)
        .fetch_optional(store.pool())
        .await?;
        if found.is_some() {
            captured.push(event.seq);
        }
    }
    Ok(captured)
}

/// The pacing, pause and health of one `slack_channels` key (defaults when it has none).
pub async fn channel(store: &Store, key: &str) -> Result<Channel> {
    let row = sqlx::query(
        "SELECT paused_until, pace_at, last_error FROM slack_channels WHERE channel = $1",
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
    sqlx::query(&format!(
        "INSERT INTO slack_channels (channel, pace_at) VALUES ($1, $2) \
             ON CONFLICT (channel) DO UPDATE SET pace_at = {}",
        store.dialect().greatest(&["slack_channels.pace_at", "$2"])
    ))
    .bind(key)
    .bind(to_ms(pace_at))
    .execute(&mut *tx)
    .await?;
    match health {
        Health::Healthy => {
            sqlx::query(
                "UPDATE slack_channels SET last_error = NULL, last_error_at = NULL \
                 WHERE channel = $1",
            )
            .bind(key)
            .execute(&mut *tx)
            .await?;
        }
        Health::Unhealthy(error) => {
            sqlx::query(
                "UPDATE slack_channels SET last_error = $1, last_error_at = $2 WHERE channel = $3",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_older_than_a_day_are_pruned_in_bounded_batches() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let store = Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        sqlx::query(
            "INSERT INTO incidents (id, number, title, severity, status, commander, source, \
             declared_by, started_at, detected_at, declared_at, last_update_at) \
             VALUES ('inc', 1, 'T', 1, 'investigating', 'lead', 'web', 'lead', 0, 0, 0, 0)",
        )
        .execute(store.pool())
        .await
        .unwrap();
        let day0: Timestamp = "2025-06-01T00:00:00Z".parse().unwrap();
        for (i, hours) in [0, 1, 2, 20].into_iter().enumerate() {
            let capture = Capture {
                event_id: format!("Ev{i}"),
                incident_id: "inc".into(),
                channel: "C1".into(),
                ts: format!("{i}.0"),
                actor: "lead".into(),
                text: "note".into(),
            };
            let at = day0
                .saturating_add(jiff::SignedDuration::from_hours(hours))
                .unwrap();
            assert!(claim_event(&store, &capture, at).await.unwrap());
        }
        let left = || async {
            let ids: Vec<String> =
                sqlx::query_scalar("SELECT event_id FROM slack_events ORDER BY event_id")
                    .fetch_all(store.pool())
                    .await
                    .unwrap();
            ids
        };

        let next_day: Timestamp = "2025-06-01T23:59:59Z".parse().unwrap();
        assert_eq!(prune_events(&store, next_day, 10).await.unwrap(), 0);
        let later: Timestamp = "2025-06-02T02:00:00Z".parse().unwrap();
        assert_eq!(prune_events(&store, later, 2).await.unwrap(), 2, "bounded");
        assert_eq!(prune_events(&store, later, 10).await.unwrap(), 1);

        assert_eq!(left().await, ["Ev3"]);
    }
}
