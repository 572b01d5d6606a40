//! Slack pages in app mode (comms spec §3.4, §2.6): a page to a `{ kind = "slack", to =
//! "dm" }` contact is an app DM with buttons, and the DM follows its alert afterwards.
//!
//! `engine::outbox` hands such pages to [`send`]: `chat.postMessage` to the person's member
//! id (Slack opens the app DM) with `alert.ack`, `alert.resolve` and `alert.declare`
//! buttons, then the message's `channel` + `ts` and the alert state it shows are stored.
//! The result goes back to the outbox like any channel's: a 429 is a retry after its
//! `Retry-After` (and pauses the channel), other errors retry or reject as usual. Before
//! that, [`held_until`] holds a DM's group while its channel is paused or paced, with
//! `engine::slack`'s rule (one message a second after a short burst) over the same
//! `slack_channels` rows, so pacing has one mechanism.
//!
//! [`run_once`] edits every stored message whose alert no longer looks the way it shows it,
//! whichever surface moved the alert (API, CLI, signed link, Slack button, the source):
//! `chat.update` with the buttons swapped for "Acked by Ana Ruiz at 14:05 UTC", or back to
//! buttons if the alert triggers again. Each edit renders the alert as it is at send time,
//! so an older state never overwrites a newer one and changes in between coalesce. A
//! message that is gone or frozen is posted anew and its new `ts` kept; transient failures
//! retry on the outbox's schedule; a permanent one lands on the alert timeline as
//! `notification_failed`.

use anyhow::Context as _;
use jiff::{SignedDuration, Timestamp};
use tracing::Instrument as _;

use super::Engine;
use crate::config::Config;
use crate::domain::alert::AlertState;
use crate::notify::slack::{self as render, notify_error};
use crate::notify::slack_api::{Posted, SlackApi, SlackError};
use crate::notify::{NotifyError, Page};
use crate::store::alerts::{self, Alert};
use crate::store::outbox::{DueGroup, PendingPage};
use crate::store::page_messages::{self, Edited, NewMessage, Shown, Stale};
use crate::store::slack::{self as slack_store, Channel, Health};

/// Stale messages looked at per pass.
const EDIT_LIMIT: i64 = 100;

/// While a DM's channel is paused (429) or paced, when its group of pages may go out.
pub async fn held_until(
    engine: &Engine,
    group: &DueGroup,
    now: Timestamp,
) -> anyhow::Result<Option<Timestamp>> {
    if group.channel != "slack" {
        return Ok(None);
    }
    let Some(member) = group.destination.strip_prefix("dm:") else {
        return Ok(None);
    };
    let state = slack_store::channel(&engine.store, member).await?;
    Ok(super::slack::ready_at(&state, now))
}

/// Posts `message` to `member`'s DM. A single page (`shown`: the alert as rendered) is
/// stored for later edits; a bundle is not (it has no one alert to follow). The inner
/// result is the send's, for the outbox; the outer one a storage failure.
pub async fn send(
    engine: &Engine,
    row: &PendingPage,
    member: &str,
    message: &Page,
    shown: Option<&Shown>,
    now: Timestamp,
) -> anyhow::Result<Result<(), NotifyError>> {
    let Some(api) = engine.notifiers.slack_app() else {
        return Ok(Err(NotifyError::Reject(render::NO_APP.into())));
    };
    let store = &engine.store;
    let state = slack_store::channel(store, member).await?;
    let body = render::app_body(message);
    let posted = api.post_message(member, &body, None, false, now).await;
    reached(engine, member, &state, &posted, now).await?;
    let Posted { channel, ts } = match posted {
        Ok(posted) => posted,
        // §2.6: a 429 pauses the DM (see `reached`) and the page waits; it is never a
        // failed attempt, so a long rate limit cannot use up the retries and drop it.
        Err(SlackError::RateLimited { after }) => {
            return Ok(Err(NotifyError::Paused {
                error: "Slack answered 429 (rate limited)".into(),
                after,
            }));
        }
        Err(err) => return Ok(Err(notify_error(err))),
    };
    tracing::info!(slack.channel = %channel, slack.ts = %ts, "Slack DM posted");
    if let Some(shown) = shown {
        let new = NewMessage {
            kind: "slack",
            channel: &channel,
            ts: &ts,
            alert_id: row.alert_id,
            person_id: &row.person_id,
            member,
            outbox_id: &row.id,
            shown,
        };
        page_messages::insert(store, &new, now)
            .await
            .context("storing the Slack DM")?;
    }
    Ok(Ok(()))
}

/// Records what a call through `member`'s channel did to its pacing, pause and health.
async fn reached<T>(
    engine: &Engine,
    member: &str,
    state: &Channel,
    result: &Result<T, SlackError>,
    now: Timestamp,
) -> anyhow::Result<()> {
    let health = match result {
        Ok(_) => Health::Healthy,
        Err(SlackError::RateLimited { after }) => {
            let after = SignedDuration::try_from(*after).unwrap_or(SignedDuration::MAX);
            let until = now.saturating_add(after).unwrap_or(now);
            tracing::warn!(
                retry_in_s = after.as_secs(),
                "Slack answered 429; DM channel paused"
            );
            crate::store::slack::pause(&engine.store, member, until).await?;
            return Ok(());
        }
        Err(SlackError::Unhealthy(code)) => {
            tracing::error!(error = %code, "Slack DM channel unusable");
            Health::Unhealthy(code)
        }
        Err(_) => Health::Unchanged,
    };
    let pace_at = super::slack::paced_after(state, now);
    slack_store::sent(&engine.store, member, pace_at, health, now).await?;
    Ok(())
}

/// One pass at `now`: edits the stored DMs whose alert moved on. Returns how many edits
/// were attempted.
pub async fn run_once(engine: &Engine, now: Timestamp) -> anyhow::Result<usize> {
    let Some(api) = engine.notifiers.slack_app() else {
        return Ok(0);
    };
    let stale = page_messages::stale(&engine.store, "slack", now, EDIT_LIMIT).await?;
    let mut attempted = 0;
    for message in &stale {
        // Read per message: an earlier edit in this pass may have moved the pacing.
        let state = slack_store::channel(&engine.store, &message.member).await?;
        if super::slack::ready_at(&state, now).is_some() {
            continue;
        }
        attempted += 1;
        let span = tracing::info_span!("slack_page_edit", alert.id = message.alert_id,
            user.id = %message.person_id, slack.channel = %message.channel);
        edit(engine, api, message, &state, now)
            .instrument(span)
            .await?;
    }
    Ok(attempted)
}

/// Brings one message in step with its alert.
async fn edit(
    engine: &Engine,
    api: &SlackApi,
    message: &Stale,
    state: &Channel,
    now: Timestamp,
) -> anyhow::Result<()> {
    let store = &engine.store;
    let alert = alerts::get(store, message.alert_id).await?;
    let shown = Shown::of(&alert);
    let destination = format!("dm:{}", message.member);
    let page = super::outbox::render_kept(engine, message, &alert, destination, now);
    let body = match settled(&engine.config, &alert) {
        Some(settled) => render::settled_body(&page, &settled.line()),
        None => render::app_body(&page),
    };

    let updated = api.update(&message.channel, &message.ts, &body, now).await;
    reached(engine, &message.member, state, &updated, now).await?;
    let error = match updated {
        Ok(_) => {
            tracing::info!(alert.state = alert.state.as_str(), "Slack DM updated");
            page_messages::edited(store, message, &shown, &Edited::Done, now).await?;
            return Ok(());
        }
        Err(SlackError::PostAnew(reason)) => {
            tracing::warn!(reason = %reason, "Slack DM gone; posting it anew");
            // Pacing let one message through; the repost waits for the next pass's slot.
            let state = slack_store::channel(store, &message.member).await?;
            let posted = api
                .post_message(&message.member, &body, None, false, now)
                .await;
            reached(engine, &message.member, &state, &posted, now).await?;
            match posted {
                Ok(Posted { channel, ts }) => {
                    let anew = Edited::PostedAnew {
                        channel: &channel,
                        ts: &ts,
                    };
                    page_messages::edited(store, message, &shown, &anew, now).await?;
                    return Ok(());
                }
                Err(err) => err,
            }
        }
        Err(err) => err,
    };
    failed(engine, message, &shown, error, now).await
}

/// Records a failed edit: retried later if transient, else given up with a timeline entry.
async fn failed(
    engine: &Engine,
    message: &Stale,
    shown: &Shown,
    error: SlackError,
    now: Timestamp,
) -> anyhow::Result<()> {
    let store = &engine.store;
    let attempts = usize::try_from(message.attempts).unwrap_or(usize::MAX);
    match (&error, super::outbox::RETRY_SCHEDULE.get(attempts)) {
        // The channel is paused; the message stays stale and goes when the pause ends.
        (SlackError::RateLimited { .. }, _) => Ok(()),
        (SlackError::Retry(reason), Some(wait)) => {
            tracing::warn!(
                error = %reason,
                attempt = attempts + 1,
                "Slack DM edit failed; will retry"
            );
            let at = now.saturating_add(*wait).unwrap_or(now);
            page_messages::retry_at(store, message, at, reason).await?;
            Ok(())
        }
        _ => {
            let text = error.to_string();
            tracing::error!(error = %text, "Slack DM edit failed for good");
            let outcome = Edited::Failed { error: &text };
            page_messages::edited(store, message, shown, &outcome, now).await?;
            Ok(())
        }
    }
}

/// Who moved an alert on, and when, as page messages and click replies say it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settled {
    /// `acked` or `resolved`.
    pub verb: &'static str,
    /// The person's name, or whoever else acted (`api/alertmanager` for a source).
    pub by: String,
    pub at: Timestamp,
}

impl Settled {
    /// `Acked by Ana Ruiz at 14:05 UTC`.
    pub fn line(&self) -> String {
        let verb = match self.verb {
            "acked" => "Acked",
            _ => "Resolved",
        };
        format!("{verb} by {} at {} UTC", self.by, self.at.strftime("%H:%M"))
    }
}

/// The ack or resolve a page message shows in place of its buttons; `None` while the alert
/// is triggered.
pub fn settled(config: &Config, alert: &Alert) -> Option<Settled> {
    let (verb, by, at) = match alert.state {
        AlertState::Triggered => return None,
        AlertState::Acknowledged => ("acked", &alert.acked_by, alert.acked_at),
        AlertState::Resolved => ("resolved", &alert.resolved_by, alert.resolved_at),
    };
    let by = by.as_deref().unwrap_or("someone");
    Some(Settled {
        verb,
        by: config
            .person(by)
            .map_or_else(|| by.to_string(), |p| p.name.clone()),
        at: at.unwrap_or(alert.updated_at),
    })
}

/// When the next pass has DMs to edit (for the engine's next due time); `None` without app
/// mode, where nothing would be sent.
pub async fn next_due(engine: &Engine) -> anyhow::Result<Option<Timestamp>> {
    if engine.notifiers.slack_app().is_none() {
        return Ok(None);
    }
    Ok(page_messages::next_due_at(&engine.store, "slack", super::slack::BURST).await?)
}
