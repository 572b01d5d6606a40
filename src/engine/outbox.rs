//! Delivering due pages (on-call spec §3, D9, D10): per destination and service, drop
//! pages of alerts no longer triggered, hold the group while a throttle says wait, else
//! claim it (one message per (destination, alert); repeats become `duplicate`) and send
//! one page, or one bundle when several alerts wait, then record the outcome on every
//! alert's timeline. A transient failure is retried after 10 s, 30 s, 2, 10 and 30 min
//! (comms spec §3), or after the receiver's `Retry-After` when it gives one, then logged
//! `notification_failed`; a rejection fails at once. A page that failed for good brings the
//! person's next notification rule forward to now (on-call §1.1: a failed channel falls
//! through), see `store::outbox::record`.
//!
//! Throttles are computed from the outbox's sent rows at each decision (per destination:
//! `domain::throttle`'s table for the channel kind; per kind: 5 per 5 s), so a restart
//! keeps them. A held group's rows move to the instant the throttle names; what arrives
//! meanwhile joins them, so a storm turns into a few bundles and nothing is dropped. Work
//! per pass is bounded: at most [`GROUPS`] groups, each listing at most [`LISTED`] alerts.

use jiff::{SignedDuration, Timestamp};
use secrecy::ExposeSecret as _;

use super::Engine;
use crate::config::{ChannelKind, Contact};
use crate::domain::action_link::{self, Action, ActionClaim};
use crate::domain::throttle::{self, Limit};
use crate::notify::{AlertView, Bundle, NotifyError, Page};
use crate::store::alerts;
use crate::store::outbox::{self, Claim, DueGroup, Outcome, PendingPage};

/// Destination-and-service groups handled per pass; the rest wait for the next pass.
pub const GROUPS: i64 = 50;
/// Alerts a bundle lists in full; the rest are counted.
pub const LISTED: i64 = 10;
/// Waits before each retry of a transient failure (comms spec §3); one retry per entry.
pub const RETRY_SCHEDULE: [SignedDuration; 5] = [
    SignedDuration::from_secs(10),
    SignedDuration::from_secs(30),
    SignedDuration::from_mins(2),
    SignedDuration::from_mins(10),
    SignedDuration::from_mins(30),
];
/// How long an action link in a page stays valid.
pub const LINK_LIFETIME: SignedDuration = action_link::LIFETIME;

/// Handles the groups due at `now`; returns how many messages were attempted.
pub async fn deliver_due(engine: &Engine, now: Timestamp) -> anyhow::Result<usize> {
    outbox::drop_stale(&engine.store, now).await?;
    let groups = outbox::due_groups(&engine.store, now, GROUPS).await?;
    let mut attempted = 0;
    for group in &groups {
        if deliver_group(engine, group, now).await? {
            attempted += 1;
        }
    }
    Ok(attempted)
}

/// The per-destination throttle for pages and bundles through `kind`.
fn destination_limits(kind: Option<ChannelKind>) -> &'static [Limit] {
    match kind {
        Some(ChannelKind::Sms) => throttle::SMS_PAGES,
        Some(ChannelKind::Voice) => throttle::VOICE_PAGES,
        Some(ChannelKind::Email) => throttle::EMAIL,
        _ => &[],
    }
}

/// When the group may next send, if not now: the later of its destination's throttle and
/// its channel kind's.
async fn held_until(
    engine: &Engine,
    group: &DueGroup,
    now: Timestamp,
) -> anyhow::Result<Option<Timestamp>> {
    let store = &engine.store;
    let limits = destination_limits(ChannelKind::parse(&group.channel));
    let mut until = None;
    if !limits.is_empty() {
        let since = now.saturating_sub(throttle::horizon(limits)).unwrap_or(now);
        let sent = outbox::sent_times(store, &group.channel, Some(&group.destination), since);
        until = throttle::next_allowed(limits, &sent.await?, now);
    }
    let kind = [throttle::PER_KIND];
    let since = now.saturating_sub(throttle::PER_KIND.per).unwrap_or(now);
    let sent = outbox::sent_times(store, &group.channel, None, since).await?;
    let slack = super::slack_pages::held_until(engine, group, now).await?;
    Ok(until
        .max(throttle::next_allowed(&kind, &sent, now))
        .max(slack))
}

/// Holds or sends one group; true when a message was attempted.
#[tracing::instrument(skip_all, fields(channel = %group.channel, service.id = %group.service_id))]
async fn deliver_group(engine: &Engine, group: &DueGroup, now: Timestamp) -> anyhow::Result<bool> {
    if let Some(until) = held_until(engine, group, now).await? {
        let held = outbox::hold(&engine.store, group, now, until).await?;
        tracing::debug!(held, until = %until, "throttled; pages wait and will bundle");
        return Ok(false);
    }
    let Some(claim) = outbox::claim(&engine.store, group, now).await? else {
        return Ok(false);
    };
    if claim.duplicates > 0 {
        tracing::debug!(
            duplicates = claim.duplicates,
            "repeat pages per alert marked"
        );
    }
    if claim.alerts < 2 {
        let outcome = attempt(engine, &claim.leader, now).await?;
        outbox::record(&engine.store, &claim.leader, &outcome, now).await?;
    } else {
        send_bundle(engine, group, &claim, now).await?;
    }
    Ok(true)
}

#[tracing::instrument(skip_all, fields(user.id = %claim.leader.person_id,
    message.id = %claim.leader.id, alerts = claim.alerts))]
async fn send_bundle(
    engine: &Engine,
    group: &DueGroup,
    claim: &Claim,
    now: Timestamp,
) -> anyhow::Result<()> {
    let leader = &claim.leader;
    let (listed, newest) = outbox::bundle_alerts(&engine.store, &leader.id, LISTED).await?;
    let outcome = match (contact_for(engine, leader), newest) {
        (Some(contact), Some(newest)) => {
            let mut alerts = Vec::with_capacity(listed.len());
            for id in listed {
                alerts.push(alerts::get(&engine.store, id).await?);
            }
            let message = render_bundle(engine, leader, group, &alerts, claim.alerts, newest, now);
            let sent = match (contact.slack_dm(), contact.kind) {
                (Some(member), _) => {
                    super::slack_pages::send(engine, leader, member, &message, None, now).await?
                }
                (None, ChannelKind::Discord) => {
                    super::discord_pages::send(engine, leader, contact, &message, None, now).await?
                }
                (None, _) => engine.notifiers.send(contact, &message, now).await,
            };
            classify(sent, claim.attempts, now)
        }
        (None, _) => Outcome::Failed {
            error: "contact method no longer configured".into(),
        },
        (_, None) => Outcome::Dropped,
    };
    if matches!(outcome, Outcome::Sent) {
        tracing::info!("bundle sent");
    }
    outbox::record_bundle(&engine.store, &leader.id, &outcome, claim.alerts, now).await?;
    Ok(())
}

/// The person's contact method this row goes to, if it is still configured.
fn contact_for<'a>(engine: &'a Engine, page: &PendingPage) -> Option<&'a Contact> {
    engine.config.person(&page.person_id).and_then(|person| {
        person
            .contacts
            .iter()
            .find(|c| c.kind.as_str() == page.channel && c.address == page.destination)
    })
}

/// Sorts a send result into the outcome to record, after `attempts` earlier tries.
fn classify(sent: Result<(), NotifyError>, attempts: i64, now: Timestamp) -> Outcome {
    let planned = usize::try_from(attempts)
        .ok()
        .and_then(|n| RETRY_SCHEDULE.get(n).copied());
    match (sent, planned) {
        (Ok(()), _) => Outcome::Sent,
        (Err(NotifyError::Retry { error, after }), Some(planned)) => {
            // The receiver's own estimate beats ours; `notify` caps it.
            let delay = after
                .and_then(|after| SignedDuration::try_from(after).ok())
                .unwrap_or(planned);
            tracing::warn!(
                error = %error,
                attempt = attempts + 1,
                retry_in_s = delay.as_secs(),
                "page failed; will retry"
            );
            Outcome::Retry {
                at: now.saturating_add(delay).unwrap_or(now),
                error,
                counted: true,
            }
        }
        (Err(NotifyError::Paused { error, after }), _) => {
            let delay = SignedDuration::try_from(after).unwrap_or(SignedDuration::from_mins(1));
            tracing::warn!(error = %error, retry_in_s = delay.as_secs(), "page paused");
            Outcome::Retry {
                at: now.saturating_add(delay).unwrap_or(now),
                error,
                counted: false,
            }
        }
        (Err(err), _) => {
            tracing::error!(error = %err, "page failed for good");
            Outcome::Failed {
                error: err.to_string(),
            }
        }
    }
}

#[tracing::instrument(skip_all, fields(alert.id = page.alert_id, user.id = %page.person_id,
    channel = %page.channel, message.id = %page.id))]
async fn attempt(engine: &Engine, page: &PendingPage, now: Timestamp) -> anyhow::Result<Outcome> {
    if page.alert_state != "triggered" {
        return Ok(Outcome::Dropped);
    }
    let Some(contact) = contact_for(engine, page) else {
        return Ok(Outcome::Failed {
            error: "contact method no longer configured".into(),
        });
    };
    let alert = alerts::get(&engine.store, page.alert_id).await?;
    let message = render(engine, page, &alert, now);
    // Slack app DMs and Discord messages are kept, to be edited on ack or resolve.
    let shown = crate::store::page_messages::Shown::of(&alert);
    let sent = match (contact.slack_dm(), contact.kind) {
        (Some(member), _) => {
            super::slack_pages::send(engine, page, member, &message, Some(&shown), now).await?
        }
        (None, ChannelKind::Discord) => {
            super::discord_pages::send(engine, page, contact, &message, Some(&shown), now).await?
        }
        (None, _) => engine.notifiers.send(contact, &message, now).await,
    };
    if sent.is_ok() {
        tracing::info!("page sent");
    }
    Ok(classify(sent, page.attempts, now))
}

/// Signs action links for `person`, valid for [`LINK_LIFETIME`] from `now`.
struct Links<'a> {
    base: String,
    secret: &'a [u8],
    person: &'a str,
    exp: i64,
}

impl<'a> Links<'a> {
    fn new(engine: &'a Engine, person: &'a str, now: Timestamp) -> Links<'a> {
        let settings = &engine.config.settings;
        Links {
            base: settings.public_url(),
            secret: settings.signing_secret.expose_secret().as_bytes(),
            person,
            exp: now.saturating_add(LINK_LIFETIME).unwrap_or(now).as_second(),
        }
    }

    fn link(&self, act: Action, target: i64) -> String {
        let claim = ActionClaim {
            act,
            target,
            person: self.person.to_string(),
            exp: self.exp,
        };
        format!("{}/a/{}", self.base, action_link::sign(&claim, self.secret))
    }
}

/// The service's display name, or its id once it left the config.
fn service_name(engine: &Engine, service_id: &str) -> String {
    engine
        .config
        .services
        .get(service_id)
        .map_or_else(|| service_id.to_string(), |s| s.name.clone())
}

fn person_name(engine: &Engine, person_id: &str) -> String {
    engine
        .config
        .person(person_id)
        .map_or_else(|| person_id.to_string(), |p| p.name.clone())
}

/// The alert as a message shows it, its view link signed for the recipient.
fn view(engine: &Engine, links: &Links<'_>, alert: &alerts::Alert) -> AlertView {
    // Comms spec §5.1 lookup: the alert's own URL, then a covering runbook from the config
    // directory, then the service's `runbook_url`.
    let runbook_url = alert
        .runbook_url
        .clone()
        .or_else(|| covering_runbook(engine, links, alert))
        .or_else(|| {
            engine
                .config
                .services
                .get(&alert.service_id)
                .and_then(|s| s.runbook_url.clone())
        });
    AlertView {
        id: alert.id,
        service: service_name(engine, &alert.service_id),
        name: alert
            .labels
            .get("alertname")
            .cloned()
            .unwrap_or_else(|| alert.summary.clone()),
        summary: alert.summary.clone(),
        severity: alert.severity,
        status: alert.state,
        labels: alert.labels.clone(),
        runbook_url,
        url: links.link(Action::View, alert.id),
        created_at: alert.created_at,
    }
}

/// The runbook in the config directory covering `alert`, if one does.
pub(crate) fn covering<'a>(
    config: &'a crate::config::Config,
    alert: &alerts::Alert,
) -> Option<&'a crate::domain::runbook::Runbook> {
    let name = alert.labels.get("alertname").unwrap_or(&alert.summary);
    config
        .runbooks
        .lookup(&alert.service_id, name, &alert.labels)
}

/// A signed link, for the page's recipient, to the runbook covering `alert`: the runbook
/// page itself needs the admin token, the link only proves the page was sent to them.
fn covering_runbook(engine: &Engine, links: &Links<'_>, alert: &alerts::Alert) -> Option<String> {
    covering(&engine.config, alert).map(|_| links.link(Action::Runbook, alert.id))
}

/// The page for `alert` as `page`'s recipient gets it, links signed for them.
pub(crate) fn render(
    engine: &Engine,
    page: &PendingPage,
    alert: &alerts::Alert,
    now: Timestamp,
) -> Page {
    let links = Links::new(engine, &page.person_id, now);
    Page {
        message_id: page.id.clone(),
        event: page.event.clone(),
        occurred_at: now,
        alert: view(engine, &links, alert),
        person_id: page.person_id.clone(),
        person_name: person_name(engine, &page.person_id),
        ack_url: links.link(Action::Ack, alert.id),
        resolve_url: links.link(Action::Resolve, alert.id),
        instance: links.base.clone(),
        bundle: None,
    }
}

/// The page a kept message (`page_messages`) shows for `alert` now: rendered for its
/// recipient as the original was, with fresh links, for an edit.
pub(crate) fn render_kept(
    engine: &Engine,
    message: &crate::store::page_messages::Stale,
    alert: &alerts::Alert,
    destination: String,
    now: Timestamp,
) -> Page {
    let row = PendingPage {
        id: message.outbox_id.clone(),
        alert_id: alert.id,
        person_id: message.person_id.clone(),
        channel: message.kind.clone(),
        destination,
        event: "alert.updated".into(),
        step: 0,
        attempts: 0,
        due_at: now,
        alert_state: alert.state.as_str().into(),
    };
    render(engine, &row, alert, now)
}

/// A bundle of `count` alerts whose first ones are `listed` and newest is `newest`. Its
/// `alert` is the plain-text stand-in other channels render (see [`Page::bundle`]).
fn render_bundle(
    engine: &Engine,
    leader: &PendingPage,
    group: &DueGroup,
    listed: &[alerts::Alert],
    count: i64,
    newest: i64,
    now: Timestamp,
) -> Page {
    let links = Links::new(engine, &leader.person_id, now);
    let bundle = Bundle {
        service_id: group.service_id.clone(),
        service: service_name(engine, &group.service_id),
        count,
        alerts: listed.iter().map(|a| view(engine, &links, a)).collect(),
        ack_all_url: links.link(Action::AckAll, newest),
    };
    let mut summary = format!("{count} unacked alerts:");
    for (i, alert) in listed.iter().enumerate() {
        let sep = if i == 0 { " " } else { "; " };
        summary.push_str(&format!("{sep}#A-{} {}", alert.id, alert.summary));
    }
    if bundle.unlisted() > 0 {
        summary.push_str(&format!("; and {} more", bundle.unlisted()));
    }
    let severity = listed.iter().map(|a| a.severity).max();
    let stand_in = AlertView {
        id: newest,
        service: bundle.service.clone(),
        name: format!("{count} unacked alerts"),
        summary,
        severity: severity.unwrap_or(crate::domain::alert::Severity::Critical),
        status: crate::domain::alert::AlertState::Triggered,
        labels: Default::default(),
        runbook_url: engine
            .config
            .services
            .get(&group.service_id)
            .and_then(|s| s.runbook_url.clone()),
        url: links.link(Action::View, newest),
        created_at: listed.first().map_or(now, |a| a.created_at),
    };
    Page {
        message_id: leader.id.clone(),
        event: "alert.bundle".into(),
        occurred_at: now,
        alert: stand_in,
        person_id: leader.person_id.clone(),
        person_name: person_name(engine, &leader.person_id),
        ack_url: bundle.ack_all_url.clone(),
        resolve_url: links.link(Action::View, newest),
        instance: links.base.clone(),
        bundle: Some(bundle),
    }
}
