//! Incidents in Slack (comms spec §2.4, §2.6, §2.8): follows the incident timeline and
//! keeps the `incidents_channel` announcement and its thread in step with it.
//!
//! [`run_once`] works in two steps. *Ingest* reads the events after the stored cursor and
//! queues what each asks for (announce, re-render the announcement, reply in its thread),
//! moving the cursor in the same transaction, so no event is skipped. *Deliver* sends the
//! queue in order per channel: at most one message a second with a short burst, a 429
//! pauses the channel until its `Retry-After` (stored, so a restart keeps it), a transient
//! failure holds the channel and retries, a message that can no longer be edited is posted
//! anew, and a permanent failure becomes `notification.failed` on the incident timeline.
//! Re-renders read the incident as it is at send time, so an older state never overwrites
//! a newer one and queued re-renders coalesce.
//!
//! Webhook-only mode posts one new message per event (nothing can be edited) with `url`
//! buttons. Without `[slack]`, the cursor follows the timeline and nothing is queued.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context as _;
use jiff::{SignedDuration, Timestamp};
use secrecy::SecretString;
use serde_json::json;
use tracing::Instrument as _;

use super::Engine;
use crate::domain::incident::Source;
use crate::domain::slack::blocks::{self, Buttons, Extra, Link, Who};
use crate::notify::slack_api::{self, Posted, SlackApi, SlackError};
use crate::store::incidents::{self, Event, Incident, IncidentRef, NewEvent};
use crate::store::slack::{self, Channel, MessageKind, Op, Outcome, Queued, WEBHOOK, Work};

/// Events read per ingest batch, and batches per pass.
const BATCH: i64 = 100;
const BATCHES: usize = 10;
/// Queued items looked at per pass.
const DELIVER_LIMIT: i64 = 200;
/// One message a second per channel…
const PACE: SignedDuration = SignedDuration::from_secs(1);
/// …after a burst of up to five.
pub(crate) const BURST: SignedDuration = SignedDuration::from_secs(4);
/// Waits before each retry of a transient failure; then it fails for good.
const RETRIES: [SignedDuration; 5] = [
    SignedDuration::from_secs(10),
    SignedDuration::from_secs(30),
    SignedDuration::from_mins(2),
    SignedDuration::from_mins(10),
    SignedDuration::from_mins(30),
];

/// How incidents reach Slack, from `[slack]`.
enum Mode<'a> {
    /// Bot token: post, edit and thread in `channel`.
    App { api: SlackApi, channel: &'a str },
    /// Incoming webhook: one new message per event.
    Webhook { url: &'a SecretString },
}

impl<'a> Mode<'a> {
    fn of(engine: &'a Engine) -> Option<Mode<'a>> {
        let slack = engine.config.settings.slack.as_ref()?;
        match (
            &slack.bot_token,
            &slack.incidents_channel,
            &slack.webhook_url,
        ) {
            (Some(token), Some(channel), _) => Some(Mode::App {
                api: SlackApi::new(slack_api::http_client(), &slack.api_base, token.clone()),
                channel,
            }),
            (_, _, Some(url)) => Some(Mode::Webhook { url }),
            _ => None,
        }
    }

    fn channel(&self) -> &str {
        match self {
            Mode::App { channel, .. } => channel,
            Mode::Webhook { .. } => WEBHOOK,
        }
    }
}

/// One pass at `now`: queue new events, then send what is due. Returns how many queued
/// items were attempted.
pub async fn run_once(engine: &Engine, now: Timestamp) -> anyhow::Result<usize> {
    let Some(mode) = Mode::of(engine) else {
        slack::skip_to_end(&engine.store, now)
            .await
            .context("moving the Slack cursor")?;
        return Ok(0);
    };
    ingest(engine, &mode, now)
        .await
        .context("queueing incident events for Slack")?;
    deliver(engine, &mode, now).await
}

/// Turns the events after the cursor into queued work.
async fn ingest(engine: &Engine, mode: &Mode<'_>, now: Timestamp) -> anyhow::Result<()> {
    for _ in 0..BATCHES {
        let cursor = slack::cursor(&engine.store).await?;
        let events = incidents::events_after(&engine.store, cursor, BATCH).await?;
        let Some(last) = events.last().map(|e| e.seq) else {
            return Ok(());
        };
        let mut work = plan(mode, dedicated_channels(engine), &events);
        // A note captured from the incident's thread (`/slack/events`) is there already:
        // posting it again would echo the person's own message back at them.
        let captured = slack::captured_notes(&engine.store, &events).await?;
        work.retain(|w| !(w.op == Op::Reply && captured.contains(&w.event_seq)));
        tracing::debug!(
            events = events.len(),
            queued = work.len(),
            "queued Slack work"
        );
        slack::enqueue(&engine.store, &work, last, now).await?;
        if i64::try_from(events.len()).unwrap_or(i64::MAX) < BATCH {
            return Ok(());
        }
    }
    Ok(())
}

/// Whether incidents get channels of their own (app mode only, §2.7).
fn dedicated_channels(engine: &Engine) -> bool {
    engine
        .config
        .settings
        .slack
        .as_ref()
        .is_some_and(|slack| slack.dedicated_channels)
}

/// The queue key of the operations on an incident's own channel: one key per incident,
/// so creating, inviting and archiving keep their order.
fn dedicated_key(incident_id: &str) -> String {
    format!("dedicated:{incident_id}")
}

/// What each event asks for in `mode`, with `dedicated` channels or not.
fn plan(mode: &Mode<'_>, dedicated: bool, events: &[Event]) -> Vec<Work> {
    let channel = mode.channel();
    let app = matches!(mode, Mode::App { .. });
    let mut work = Vec::new();
    for event in events {
        let own = |op| Work {
            incident_id: event.incident_id.clone(),
            event_seq: event.seq,
            channel: dedicated_key(&event.incident_id),
            op,
        };
        if app && dedicated {
            match event.kind.as_str() {
                "incident.declared" => work.push(own(Op::CreateChannel)),
                "commander.changed" => work.push(own(Op::Invite)),
                "status.changed" if event.data["to"] == "closed" => work.push(own(Op::Archive)),
                _ => {}
            }
        }
        let mut push = |op| {
            work.push(Work {
                incident_id: event.incident_id.clone(),
                event_seq: event.seq,
                channel: channel.to_string(),
                op,
            });
        };
        if event.kind == "incident.declared" {
            push(Op::Announce);
            continue;
        }
        if app && blocks::rerenders(&event.kind) {
            push(Op::Rerender);
        }
        if replies(&event.kind) {
            push(Op::Reply);
        }
    }
    work
}

/// Kinds that get a line in the thread (§2.4: updates, notes and state changes).
fn replies(kind: &str) -> bool {
    matches!(
        kind,
        "update.posted"
            | "note.added"
            | "status.changed"
            | "severity.changed"
            | "commander.changed"
            | "comms_lead.changed"
            | "statuspage.published"
    )
}

/// Sends due items in order per channel; a channel that is paused, paced, or holding a
/// retry waits as a whole so its messages keep their order.
async fn deliver(engine: &Engine, mode: &Mode<'_>, now: Timestamp) -> anyhow::Result<usize> {
    let queue = slack::pending(&engine.store, DELIVER_LIMIT).await?;
    if queue.is_empty() {
        return Ok(0);
    }
    let mut channels = slack::channels(&engine.store).await?;
    let mut held = BTreeSet::new();
    let mut attempted = 0;
    for item in &queue {
        if held.contains(&item.channel) {
            continue;
        }
        let state = channels.entry(item.channel.clone()).or_default();
        let paused = state.paused_until.is_some_and(|until| until > now);
        let paced = state.pace_at > now.saturating_add(BURST).unwrap_or(now);
        if paused || paced || item.due_at > now {
            held.insert(item.channel.clone());
            continue;
        }

        attempted += 1;
        let span = tracing::info_span!("slack_send", incident.id = %item.incident_id,
            slack.channel = %item.channel, slack.op = item.op.as_str(), event.seq = item.event_seq);
        if deliver_one(engine, mode, item, state, now)
            .instrument(span)
            .await?
        {
            held.insert(item.channel.clone());
        }
    }
    Ok(attempted)
}

/// Sends one item and records what became of it; `true` when its channel must wait (a
/// 429 pause, or a retry that keeps the channel's order).
async fn deliver_one(
    engine: &Engine,
    mode: &Mode<'_>,
    item: &Queued,
    state: &mut Channel,
    now: Timestamp,
) -> anyhow::Result<bool> {
    let sent = match send(engine, mode, item, now).await {
        Ok(sent) => sent,
        Err(SlackError::RateLimited { after }) => {
            let after = SignedDuration::try_from(after).unwrap_or(SignedDuration::MAX);
            let until = now.saturating_add(after).unwrap_or(now);
            tracing::warn!(
                retry_in_s = after.as_secs(),
                "Slack answered 429; channel paused"
            );
            slack::pause(&engine.store, &item.channel, until).await?;
            return Ok(true);
        }
        Err(err) => Sent::Failed(err),
    };
    let outcome = outcome(engine, mode, item, sent, now).await;
    let pace_at = match outcome {
        // Nothing went to Slack, so the channel's pace is untouched.
        Outcome::Skipped => state.pace_at,
        _ => state.pace_at.max(now).saturating_add(PACE).unwrap_or(now),
    };
    slack::record(&engine.store, item, &outcome, pace_at, now).await?;
    state.pace_at = pace_at;
    Ok(matches!(outcome, Outcome::Retry { .. }))
}

/// What one send did, before it is sorted into an [`Outcome`].
enum Sent {
    Posted {
        kind: MessageKind,
        ts: Option<String>,
    },
    Updated {
        ts: String,
    },
    /// An operation on the incident's own channel.
    Done(Option<slack::DedicatedChange>),
    Skipped,
    Failed(SlackError),
}

async fn outcome(
    engine: &Engine,
    mode: &Mode<'_>,
    item: &Queued,
    sent: Sent,
    now: Timestamp,
) -> Outcome {
    let error = match sent {
        Sent::Posted { kind, ts } => {
            tracing::info!(slack.ts = ts.as_deref().unwrap_or(""), "posted to Slack");
            return Outcome::Posted {
                kind,
                ts,
                rendered_seq: item.event_seq,
            };
        }
        Sent::Updated { ts } => {
            tracing::info!(slack.ts = %ts, "announcement updated");
            return Outcome::Updated {
                ts,
                rendered_seq: item.event_seq,
            };
        }
        Sent::Done(dedicated) => {
            tracing::info!(slack.op = item.op.as_str(), "incident channel updated");
            return Outcome::Done { dedicated };
        }
        Sent::Skipped => return Outcome::Skipped,
        Sent::Failed(error) => error,
    };
    let attempts = usize::try_from(item.attempts).unwrap_or(usize::MAX);
    if let (SlackError::Retry(reason), Some(wait)) = (&error, RETRIES.get(attempts)) {
        tracing::warn!(error = %reason, attempt = attempts + 1, "Slack send failed; will retry");
        return Outcome::Retry {
            at: now.saturating_add(*wait).unwrap_or(now),
            error: reason.clone(),
        };
    }
    let unhealthy = matches!(error, SlackError::Unhealthy(_));
    let message = error.to_string();
    if item.op == Op::CreateChannel {
        // §2.7: the declaration stands; the declarer hears why there is no channel.
        tracing::error!(error = %message, "incident channel not created");
        tell_commander(engine, mode, item, &message, now).await;
    } else if unhealthy {
        tracing::error!(error = %message, "Slack channel unusable; incident not posted");
        tell_commander(engine, mode, item, &message, now).await;
    } else {
        tracing::error!(error = %message, "Slack message failed for good");
    }
    let event = NewEvent::now("notification.failed", "system", Source::Engine, now).with(json!({
        "channel": "slack",
        "slack_channel": item.channel,
        "op": item.op.as_str(),
        "event_seq": item.event_seq,
        "error": message,
    }));
    Outcome::Failed {
        error: message,
        event,
        unhealthy,
    }
}

/// §2.6: when the channel is unusable, the commander hears about it in a DM (best effort:
/// with a revoked token this fails too, and the timeline event is what remains). When the
/// incident's own channel could not be made (§2.7), the declarer is told instead.
async fn tell_commander(
    engine: &Engine,
    mode: &Mode<'_>,
    item: &Queued,
    error: &str,
    now: Timestamp,
) {
    let Mode::App { api, channel } = mode else {
        return;
    };
    let Ok(incident) =
        incidents::get(&engine.store, &IncidentRef::Id(item.incident_id.clone())).await
    else {
        return;
    };
    let (person, text) = if item.op == Op::CreateChannel {
        let text = format!(
            "I could not make a channel for incident #{}: {error}. The incident is declared; \
             it is announced in <#{channel}>.",
            incident.number
        );
        (&incident.declared_by, text)
    } else {
        let text = format!(
            "I could not post about incident #{} in <#{channel}>: {error}. Invite me to the \
             channel, or check `[slack]` in dutybell.toml.",
            incident.number
        );
        (&incident.commander, text)
    };
    let Some(slack_id) = engine
        .config
        .person(person)
        .and_then(|p| p.slack_id.as_deref())
    else {
        return;
    };
    let message = json!({"text": text});
    if let Err(err) = api.post_message(slack_id, &message, None, false, now).await {
        tracing::warn!(error = %err, user.id = %person, "could not DM about Slack trouble");
    }
}

/// Sends one queued item.
async fn send(
    engine: &Engine,
    mode: &Mode<'_>,
    item: &Queued,
    now: Timestamp,
) -> Result<Sent, SlackError> {
    let store = &engine.store;
    let incident = incidents::get(store, &IncidentRef::Id(item.incident_id.clone()))
        .await
        .map_err(|err| SlackError::Retry(format!("reading the incident: {err}")))?;
    if let (Mode::App { api, .. }, Op::CreateChannel | Op::Invite | Op::Archive) = (mode, item.op) {
        return own_channel(engine, api, item.op, &incident, now).await;
    }
    let extra = extra(engine, mode, &incident).await;
    match (mode, item.op) {
        (Mode::App { api, channel }, Op::Announce) => {
            let known = slack::announcement(store, &incident.id, channel)
                .await
                .map_err(|err| SlackError::Retry(format!("reading the announcement: {err}")))?;
            if known.is_some() {
                return Ok(Sent::Skipped);
            }
            let message = blocks::announcement(&incident, &extra);
            let Posted { ts, .. } = api
                .post_message(channel, &message, None, false, now)
                .await?;
            Ok(announced(ts))
        }
        (Mode::App { api, channel }, Op::Rerender) => {
            let message = blocks::announcement(&incident, &extra);
            let known = slack::announcement(store, &incident.id, channel)
                .await
                .map_err(|err| SlackError::Retry(format!("reading the announcement: {err}")))?;
            let Some(known) = known else {
                let Posted { ts, .. } = api
                    .post_message(channel, &message, None, false, now)
                    .await?;
                return Ok(announced(ts));
            };
            match api.update(channel, &known.ts, &message, now).await {
                Ok(Posted { ts, .. }) => Ok(Sent::Updated { ts }),
                Err(SlackError::PostAnew(reason)) => {
                    tracing::warn!(reason = %reason, "announcement gone; posting it anew");
                    let Posted { ts, .. } = api
                        .post_message(channel, &message, None, false, now)
                        .await?;
                    Ok(announced(ts))
                }
                Err(err) => Err(err),
            }
        }
        (Mode::App { api, channel }, Op::Reply) => {
            let Some((message, broadcast)) = reply(engine, &incident, item).await? else {
                return Ok(Sent::Skipped);
            };
            let thread = slack::announcement(store, &incident.id, channel)
                .await
                .map_err(|err| SlackError::Retry(format!("reading the announcement: {err}")))?;
            let thread_ts = thread.as_ref().map(|m| m.ts.as_str());
            let Posted { ts, .. } = api
                .post_message(channel, &message, thread_ts, broadcast, now)
                .await
                .map_err(|err| match err {
                    SlackError::PostAnew(code) => SlackError::Reject(code),
                    other => other,
                })?;
            Ok(Sent::Posted {
                kind: MessageKind::Thread,
                ts: Some(ts),
            })
        }
        (Mode::Webhook { url }, Op::Announce) => {
            let message = blocks::announcement(&incident, &extra);
            slack_api::webhook_post(&slack_api::http_client(), url, &message, now).await?;
            Ok(Sent::Posted {
                kind: MessageKind::Announcement,
                ts: None,
            })
        }
        (Mode::Webhook { url }, Op::Reply) => {
            let Some((line, _)) = reply(engine, &incident, item).await? else {
                return Ok(Sent::Skipped);
            };
            let Buttons::Links(links) = &extra.buttons else {
                return Ok(Sent::Skipped);
            };
            let message = blocks::webhook_event(&incident, &line, links);
            slack_api::webhook_post(&slack_api::http_client(), url, &message, now).await?;
            Ok(Sent::Posted {
                kind: MessageKind::Thread,
                ts: None,
            })
        }
        // Webhook messages cannot be edited, and have no channels of their own; nothing
        // queues these.
        (Mode::Webhook { .. }, _) | (Mode::App { .. }, _) => Ok(Sent::Skipped),
    }
}

/// Creates, invites into or archives the incident's own channel (§2.7). Every write first
/// checks the incident and the channel: a closed incident's channel, or an archived one,
/// gets nothing but the archive itself.
async fn own_channel(
    engine: &Engine,
    api: &SlackApi,
    op: Op,
    incident: &Incident,
    now: Timestamp,
) -> Result<Sent, SlackError> {
    let known = slack::dedicated(&engine.store, &incident.id)
        .await
        .map_err(|err| SlackError::Retry(format!("reading the incident channel: {err}")))?;
    let closed = incident.status == crate::domain::incident::Status::Closed;
    match (op, known) {
        (Op::CreateChannel, None) if !closed => create_channel(engine, api, incident, now).await,
        (Op::Invite, Some(own)) if !closed && own.archived_at.is_none() => {
            match member(engine, &incident.commander) {
                Some(user) => api.invite(&own.channel, &[user], now).await?,
                None => return Ok(Sent::Skipped),
            }
            Ok(Sent::Done(None))
        }
        (Op::Archive, Some(own)) if own.archived_at.is_none() => {
            api.archive(&own.channel, now).await?;
            Ok(Sent::Done(Some(slack::DedicatedChange::Archived)))
        }
        _ => Ok(Sent::Skipped),
    }
}

/// A person's Slack member id, if they have one.
fn member<'a>(engine: &'a Engine, person_id: &str) -> Option<&'a str> {
    engine
        .config
        .person(person_id)
        .and_then(|p| p.slack_id.as_deref())
}

/// Highest suffix tried when `inc-<n>-<slug>` is taken.
const NAME_TRIES: usize = 10;

async fn create_channel(
    engine: &Engine,
    api: &SlackApi,
    incident: &Incident,
    now: Timestamp,
) -> Result<Sent, SlackError> {
    let base = blocks::channel_name(incident.number, &incident.title);
    let mut created = None;
    for attempt in 1..=NAME_TRIES {
        let name = blocks::numbered_channel_name(&base, attempt);
        match api.create_channel(&name, now).await {
            Ok(channel) => {
                created = Some((channel, name));
                break;
            }
            Err(SlackError::Reject(code)) if code == "name_taken" => continue,
            Err(err) => return Err(err),
        }
    }
    let Some((channel, name)) = created else {
        return Err(SlackError::Reject(format!(
            "name_taken: {base} and {NAME_TRIES} numbered names"
        )));
    };
    let link = format!(
        "{}/ui/incidents/{}",
        engine.config.settings.public_url(),
        incident.number
    );
    let topic = crate::domain::text::truncate(&format!("{} · {link}", incident.title), 250);
    // The channel exists from here on: later trouble is logged, never a second channel.
    if let Err(err) = api.set_topic(&channel, &topic, now).await {
        tracing::warn!(error = %err, "incident channel topic not set");
    }
    let mut users: Vec<&str> = [&incident.commander, &incident.declared_by]
        .into_iter()
        .filter_map(|person| member(engine, person))
        .collect();
    users.dedup();
    if !users.is_empty()
        && let Err(err) = api.invite(&channel, &users, now).await
    {
        tracing::warn!(error = %err, "people not invited to the incident channel");
    }
    Ok(Sent::Done(Some(slack::DedicatedChange::Created {
        channel,
        name,
    })))
}

fn announced(ts: String) -> Sent {
    Sent::Posted {
        kind: MessageKind::Announcement,
        ts: Some(ts),
    }
}

/// The thread line for the item's event.
async fn reply(
    engine: &Engine,
    incident: &Incident,
    item: &Queued,
) -> Result<Option<(serde_json::Value, bool)>, SlackError> {
    let events = incidents::events_after(&engine.store, item.event_seq - 1, 1)
        .await
        .map_err(|err| SlackError::Retry(format!("reading the event: {err}")))?;
    let Some(event) = events.into_iter().find(|e| e.seq == item.event_seq) else {
        return Ok(None);
    };
    let who = |id: &str| who(engine, id);
    Ok(blocks::thread_reply(incident, &event, &who))
}

fn who(engine: &Engine, person_id: &str) -> Who {
    match engine.config.person(person_id) {
        Some(person) => Who {
            name: person.name.clone(),
            slack_id: person.slack_id.clone(),
        },
        None => Who {
            name: person_id.to_string(),
            slack_id: None,
        },
    }
}

/// What the announcement shows besides the incident row.
/// Most runbook links an announcement lists.
const RUNBOOK_LINKS: usize = 5;

async fn extra(engine: &Engine, mode: &Mode<'_>, incident: &Incident) -> Extra {
    let config = &engine.config;
    let base = config.settings.public_url();
    let incident_url = format!(
        "{base}{}",
        crate::domain::incident::web_path(incident.number)
    );
    let status_page_url = incident.public_incident_id.as_ref().map(|id| {
        let page = config
            .statuspage
            .url
            .clone()
            .unwrap_or_else(|| base.clone());
        format!("{}/incidents/{id}", page.trim_end_matches('/'))
    });
    let services: BTreeMap<&str, &crate::config::Service> = incident
        .services
        .iter()
        .filter_map(|id| config.services.get(id).map(|s| (id.as_str(), s)))
        .collect();
    // The attached alerts' runbooks first (their own link, else the covering runbook's
    // page in the web UI), then the services' own.
    let mut runbooks: Vec<Link> = Vec::new();
    for id in &incident.alerts {
        let Ok(alert) = crate::store::alerts::get(&engine.store, *id).await else {
            continue;
        };
        let link = match (&alert.runbook_url, super::outbox::covering(config, &alert)) {
            (Some(url), _) => Some(Link {
                label: alert.summary.clone(),
                url: url.clone(),
            }),
            (None, Some(runbook)) => Some(Link {
                label: runbook.title.clone(),
                url: format!("{base}/ui/runbooks/{}", runbook.slug),
            }),
            (None, None) => None,
        };
        runbooks.extend(link);
    }
    runbooks.extend(services.values().filter_map(|s| {
        s.runbook_url.as_ref().map(|url| Link {
            label: s.name.clone(),
            url: url.clone(),
        })
    }));
    let mut seen = BTreeSet::new();
    runbooks.retain(|link| seen.insert(link.url.clone()));
    runbooks.truncate(RUNBOOK_LINKS);
    let buttons = match mode {
        Mode::App { .. } => Buttons::Interactive,
        // TODO(#5): signed ack/resolve links for incidents need an incident target in
        // `domain::action_link`; webhook mode links to the incident and status page only.
        Mode::Webhook { .. } => {
            let mut links = vec![Link {
                label: "Open incident".into(),
                url: incident_url.clone(),
            }];
            if let Some(url) = &status_page_url {
                links.push(Link {
                    label: "Status page".into(),
                    url: url.clone(),
                });
            }
            Buttons::Links(links)
        }
    };
    Extra {
        commander: who(engine, &incident.commander),
        comms_lead: incident.comms_lead.as_deref().map(|id| who(engine, id)),
        incident_url,
        status_page_url,
        services: incident
            .services
            .iter()
            .map(|id| {
                services
                    .get(id.as_str())
                    .map_or(id.clone(), |s| s.name.clone())
            })
            .collect(),
        alerts: incident
            .alerts
            .iter()
            .map(|id| format!("#A-{id}"))
            .collect(),
        runbooks,
        buttons,
    }
}

/// When a channel in `state` may take its next message, if not now: after a 429 pause, and
/// once pacing allows (one a second, after a burst). The rule [`deliver`] applies; Slack
/// pages (`engine::slack_pages`) pace their DMs with it.
pub(crate) fn ready_at(state: &Channel, now: Timestamp) -> Option<Timestamp> {
    let paused = state.paused_until.filter(|until| *until > now);
    let paced = state.pace_at.checked_sub(BURST).ok().filter(|at| *at > now);
    paused.max(paced)
}

/// A channel's pacing after one more message at `now`.
pub(crate) fn paced_after(state: &Channel, now: Timestamp) -> Timestamp {
    state.pace_at.max(now).saturating_add(PACE).unwrap_or(now)
}

/// When the next pass has Slack work (for the engine's next due time).
pub async fn next_due(engine: &Engine) -> anyhow::Result<Option<Timestamp>> {
    Ok(slack::next_due_at(&engine.store, BURST).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: i64, kind: &str) -> Event {
        let at: Timestamp = "2025-06-12T03:00:00Z".parse().unwrap();
        Event {
            seq,
            id: format!("E{seq}"),
            incident_id: "I1".into(),
            kind: kind.into(),
            occurred_at: at,
            recorded_at: at,
            actor: "ana".into(),
            source: "slack".into(),
            entry_tz: None,
            key: false,
            data: json!({}),
        }
    }

    fn ops(mode: &Mode<'_>) -> Vec<(i64, Op, String)> {
        let events = [
            event(1, "incident.declared"),
            event(2, "status.changed"),
            event(3, "page.sent"),
            event(4, "milestone.set"),
            event(5, "note.added"),
            event(6, "notification.failed"),
        ];
        plan(mode, false, &events)
            .into_iter()
            .map(|w| (w.event_seq, w.op, w.channel))
            .collect()
    }

    #[test]
    fn app_mode_announces_rerenders_and_threads() {
        let api = SlackApi::new(
            slack_api::http_client(),
            "http://127.0.0.1:9/api",
            "x".to_string().into(),
        );
        let mode = Mode::App { api, channel: "C1" };
        let c1 = || "C1".to_string();

        assert_eq!(
            ops(&mode),
            [
                (1, Op::Announce, c1()),
                (2, Op::Rerender, c1()),
                (2, Op::Reply, c1()),
                (4, Op::Rerender, c1()),
                (5, Op::Reply, c1()),
            ]
        );
    }

    #[test]
    fn webhook_mode_only_posts_new_messages() {
        let url = SecretString::from("http://127.0.0.1:9/hook");
        let mode = Mode::Webhook { url: &url };
        let hook = || WEBHOOK.to_string();

        assert_eq!(
            ops(&mode),
            [
                (1, Op::Announce, hook()),
                (2, Op::Reply, hook()),
                (5, Op::Reply, hook()),
            ]
        );
    }

    #[test]
    fn dedicated_channels_are_made_at_declaration_joined_by_commanders_archived_at_close() {
        let api = SlackApi::new(
            slack_api::http_client(),
            "http://127.0.0.1:9/api",
            "x".to_string().into(),
        );
        let mode = Mode::App { api, channel: "C1" };
        let mut closed = event(3, "status.changed");
        closed.data = json!({"from": "resolved", "to": "closed"});
        let mut resolved = event(2, "status.changed");
        resolved.data = json!({"from": "monitoring", "to": "resolved"});
        let events = [
            event(1, "incident.declared"),
            resolved,
            event(4, "commander.changed"),
            closed,
        ];
        let own: Vec<(i64, Op)> = plan(&mode, true, &events)
            .into_iter()
            .filter(|w| w.channel == "dedicated:I1")
            .map(|w| (w.event_seq, w.op))
            .collect();
        assert_eq!(
            own,
            [(1, Op::CreateChannel), (4, Op::Invite), (3, Op::Archive)]
        );
        assert!(
            plan(&mode, false, &events)
                .iter()
                .all(|w| w.channel == "C1")
        );
    }
}
