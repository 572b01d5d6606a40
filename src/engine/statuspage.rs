//! The status page in the engine (comms spec §4.6, §4.8, §4.9): each pass moves
//! maintenances at their window's edges and sends their reminders, holds alerts of the
//! services bound to components under active maintenance (recorded, not sent), records the
//! instance heartbeat, delivers subscriber mail with retries, purges stale subscribers and
//! prunes old unsubscribe tokens and Slack event ids (bounded per pass). Recurring windows
//! from `statuspage.toml` are materialised seven days ahead first (`recurring`). When the
//! page changed, or its rendering is a minute old, the in-memory page cache is rebuilt.
//!
//! Runs after `maintenance` and before escalations, so an alert opened for a held service
//! is held in the same pass before it can page.

mod mail;
pub mod recurring;

// TODO(#5): `escalation::fire` and `ack_timeout::fire` re-check only config maintenance
// windows (`service_held_until`); an alert opened between this step's holds and the
// escalation step of the same pass, or an ack timeout, still pages during a status-page
// maintenance. Fix by letting that check consult active status-page maintenances too.
// TODO(#5): per-component `auto_status` while a bound alert fires (§4.5).
// TODO(#5): occurrences of a `[[maintenance]]` removed from or changed in statuspage.toml
// stay as materialised; cancel or complete them by hand.

use jiff::{SignedDuration, Timestamp};

use super::Engine;
use crate::domain::escape;
use crate::domain::statuspage::time::page_clock;
use crate::notify::NotifyError;
use crate::store::statuspage::maintenances::{self, NewMaintenance, hold_until, services_of};
use crate::store::statuspage::subscribers::{
    self, CONFIRM_VALID, MailKind, MailOutcome, NoticeMatter, PendingMail, TokenPurpose,
};
use crate::store::{self, statuspage};
use mail::{Mailer, Outgoing};

/// Mails attempted per pass.
const BATCH: i64 = 100;
/// Rows each housekeeping delete removes at most per pass, so a backlog never holds the
/// database long; the next pass takes the next batch.
const PRUNE_BATCH: i64 = 500;
/// Waits before each retry of a mail, as for pages; then it fails.
const RETRIES: [SignedDuration; 5] = [
    SignedDuration::from_secs(10),
    SignedDuration::from_secs(30),
    SignedDuration::from_mins(2),
    SignedDuration::from_mins(10),
    SignedDuration::from_mins(30),
];

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Occurrences of recurring windows newly scheduled.
    pub scheduled: usize,
    /// Automatic maintenance moves (start, completion).
    pub moved: usize,
    pub reminders: usize,
    /// Alerts held for an active maintenance.
    pub held: usize,
    pub mails_attempted: usize,
    pub purged: u64,
    /// Old unsubscribe tokens and Slack event ids deleted.
    pub pruned: u64,
}

/// One pass at `now`.
pub async fn run(engine: &Engine, now: Timestamp) -> anyhow::Result<Changes> {
    use anyhow::Context as _;
    let mut changes = Changes::default();
    let page = &engine.config.statuspage;
    let store = &engine.store;

    changes.scheduled = materialise(engine, now).await?;
    let mut active = Vec::new();
    for mut maintenance in maintenances::open(store).await? {
        while let Some(to) = maintenance.due_move(now) {
            let moved = maintenances::transition(store, page, &maintenance.id, to, None, now)
                .await
                .with_context(|| format!("moving maintenance {}", maintenance.id))?;
            let Some(moved) = moved else { break };
            changes.moved += 1;
            maintenance = moved;
        }
        if maintenance.reminder_due().is_some_and(|at| at <= now) {
            maintenances::remind(store, &maintenance.id, now).await?;
            changes.reminders += 1;
        }
        if maintenance.is_active() {
            active.push(maintenance);
        }
    }

    // §4.6: notifications for alerts bound to covered components are recorded, not sent.
    for maintenance in &active {
        let until = hold_until(maintenance, now);
        for service in services_of(page, &maintenance.components) {
            let held = store::maintenance::hold(store, &service, until, now)
                .await
                .with_context(|| format!("holding alerts of service {service:?}"))?;
            for id in &held {
                tracing::info!(alert.id = id, service.id = %service, until = %until,
                    maintenance.id = %maintenance.id, "held for status page maintenance");
            }
            changes.held += held.len();
        }
    }

    // The rest never stops a pass: pages matter more than the page.
    if let Err(err) = statuspage::heartbeat(store, now).await {
        tracing::warn!(error = %err, "status page heartbeat not recorded");
    }
    match deliver_mail(engine, now).await {
        Ok(attempted) => changes.mails_attempted = attempted,
        Err(err) => tracing::error!(error = %crate::telemetry::chain(&err),
            "mailing status page subscribers failed"),
    }
    match subscribers::purge(store, now).await {
        Ok(purged) => changes.purged = purged,
        Err(err) => tracing::warn!(error = %err, "purging unconfirmed subscribers failed"),
    }
    match subscribers::prune_tokens(store, now, PRUNE_BATCH).await {
        Ok(pruned) => changes.pruned += pruned,
        Err(err) => tracing::warn!(error = %err, "pruning unsubscribe tokens failed"),
    }
    match store::slack::prune_events(store, now, PRUNE_BATCH).await {
        Ok(pruned) => changes.pruned += pruned,
        Err(err) => tracing::warn!(error = %err, "pruning Slack event ids failed"),
    }

    if changes.scheduled > 0 || changes.moved > 0 || changes.reminders > 0 {
        engine.statuspage.bump();
    }
    if let Err(err) = engine.statuspage.notice_outside_writes(store).await {
        tracing::warn!(error = %crate::telemetry::chain(&err), "status page check failed");
    }
    if let Err(err) = engine.statuspage.refresh(store, &engine.config, now).await {
        tracing::warn!(error = %crate::telemetry::chain(&err),
            "status page rebuild failed; serving the previous one");
    }
    Ok(changes)
}

/// Schedules the occurrences of recurring windows (§4.6) in the next seven days that are
/// not scheduled yet; returns how many.
async fn materialise(engine: &Engine, now: Timestamp) -> anyhow::Result<usize> {
    use anyhow::Context as _;
    let mut scheduled = 0;
    for window in &engine.config.statuspage.recurring {
        for occurrence in recurring::upcoming(window, now)? {
            let new = NewMaintenance {
                name: window.name.clone(),
                body: window.body.clone(),
                components: window.components.clone(),
                scheduled_for: occurrence.starts,
                scheduled_until: occurrence.ends,
                auto_start: true,
                auto_complete: true,
                remind_before: window.notify.then_some(SignedDuration::from_mins(60)),
                notify: window.notify,
            };
            let created = maintenances::create_recurring(&engine.store, &new, &occurrence.key, now)
                .await
                .with_context(|| format!("scheduling maintenance {}", occurrence.key))?;
            if let Some(created) = created {
                tracing::info!(maintenance.id = %created.id, occurrence = %occurrence.key,
                    "recurring maintenance scheduled");
                scheduled += 1;
            }
        }
    }
    Ok(scheduled)
}

/// When the status page next needs a pass: a maintenance edge or reminder, or a mail.
/// Heartbeats need no due time: the engine loop looks at least every few seconds.
pub async fn next_due(engine: &Engine) -> anyhow::Result<Option<Timestamp>> {
    let store = &engine.store;
    let maintenance = maintenances::open(store)
        .await?
        .iter()
        .filter_map(maintenances::Maintenance::next_due)
        .min();
    let mail = subscribers::next_mail_at(store).await?;
    Ok([maintenance, mail].into_iter().flatten().min())
}

/// Attempts every subscriber mail due at `now`; returns how many were attempted.
async fn deliver_mail(engine: &Engine, now: Timestamp) -> anyhow::Result<usize> {
    let due = subscribers::due_mail(&engine.store, now, BATCH).await?;
    if due.is_empty() {
        return Ok(0);
    }
    let mailer = engine
        .config
        .settings
        .smtp
        .as_ref()
        .map(Mailer::new)
        .transpose()?;
    for pending in &due {
        let outcome = match &mailer {
            Some(mailer) => attempt(engine, mailer, pending, now).await?,
            None => MailOutcome::Failed {
                error: "no [smtp] relay is configured".into(),
            },
        };
        subscribers::record_mail(&engine.store, &pending.id, &outcome, now).await?;
    }
    Ok(due.len())
}

#[tracing::instrument(skip_all, fields(subscriber.id = %pending.subscriber_id,
    message.id = %pending.id, mail.kind = pending.kind.as_str()))]
async fn attempt(
    engine: &Engine,
    mailer: &Mailer,
    pending: &PendingMail,
    now: Timestamp,
) -> anyhow::Result<MailOutcome> {
    let Some(mail) = render(engine, pending, now).await? else {
        tracing::info!("what the mail was about is gone; dropped");
        return Ok(MailOutcome::Failed {
            error: "the incident or update no longer exists".into(),
        });
    };
    Ok(match mailer.send(&mail).await {
        Ok(()) => {
            tracing::info!("subscriber mail sent");
            MailOutcome::Sent
        }
        Err(NotifyError::Retry { error, after }) => {
            match RETRIES.get(usize::try_from(pending.attempts).unwrap_or(usize::MAX)) {
                Some(wait) => {
                    let wait = after
                        .and_then(|after| SignedDuration::try_from(after).ok())
                        .map_or(*wait, |after| after.max(*wait));
                    tracing::warn!(error = %error, attempt = pending.attempts + 1,
                        retry_in_s = wait.as_secs(), "subscriber mail failed; will retry");
                    MailOutcome::Retry {
                        at: now.saturating_add(wait).unwrap_or(now),
                        error,
                    }
                }
                None => {
                    tracing::error!(error = %error, "subscriber mail failed for good");
                    MailOutcome::Failed { error }
                }
            }
        }
        Err(err) => {
            tracing::warn!(error = %err, "subscriber mail rejected");
            MailOutcome::Failed {
                error: err.to_string(),
            }
        }
    })
}

/// Renders a queued mail, making the token it carries; `None` when the update it is about
/// no longer exists.
async fn render(
    engine: &Engine,
    pending: &PendingMail,
    now: Timestamp,
) -> anyhow::Result<Option<Outgoing>> {
    let config = &engine.config;
    let page = &config.statuspage;
    let base = crate::http::statuspage::page_url(config);
    if pending.kind == MailKind::Confirm {
        let expires = now.saturating_add(CONFIRM_VALID).unwrap_or(now);
        let token = subscribers::issue_token(
            &engine.store,
            &pending.subscriber_id,
            TokenPurpose::Confirm,
            Some(expires),
            now,
        )
        .await?;
        return Ok(Some(confirm_mail(&page.name, &base, pending, &token, now)));
    }
    let (Some(public_id), Some(update_id)) = (&pending.public_id, &pending.update_id) else {
        return Ok(None);
    };
    let Some(matter) = subscribers::notice_matter(&engine.store, public_id, update_id).await?
    else {
        return Ok(None);
    };
    let token = subscribers::issue_token(
        &engine.store,
        &pending.subscriber_id,
        TokenPurpose::Unsubscribe,
        None,
        now,
    )
    .await?;
    let about = Notice {
        page_name: &page.name,
        base: &base,
        zone: &page.time_zone,
        public_id,
        event: pending.event.as_deref().unwrap_or_default(),
        matter: &matter,
    };
    Ok(Some(notice_mail(&about, pending, &token, now)))
}

/// The double opt-in mail.
fn confirm_mail(
    page_name: &str,
    base: &str,
    pending: &PendingMail,
    token: &str,
    now: Timestamp,
) -> Outgoing {
    let link = format!("{base}/subscribe/confirm?token={token}");
    let text = format!(
        "Someone, hopefully you, asked to receive status updates from {page_name} at this \
         address.\n\nConfirm the subscription: {link}\n\nThe link works for 48 hours. If you \
         did not ask for this, ignore this mail: nothing more will be sent.\n"
    );
    let html = format!(
        "<p>Someone, hopefully you, asked to receive status updates from {page} at this \
         address.</p><p><a href=\"{link}\">Confirm the subscription</a></p><p>The link works \
         for 48 hours. If you did not ask for this, ignore this mail: nothing more will be \
         sent.</p>",
        page = escape::html(page_name),
        link = escape::html(&link),
    );
    Outgoing {
        to: pending.email.clone(),
        message_id: pending.id.clone(),
        subject: format!("[{page_name}] Confirm your subscription"),
        html,
        text,
        unsubscribe: None,
        date: now,
    }
}

/// What a notice is about.
struct Notice<'a> {
    page_name: &'a str,
    base: &'a str,
    zone: &'a jiff::tz::TimeZone,
    public_id: &'a str,
    /// published, updated, created, reminder, started, completed.
    event: &'a str,
    matter: &'a NoticeMatter,
}

/// An incident or maintenance notice (§3.2 subjects), with the personal unsubscribe link.
fn notice_mail(about: &Notice, pending: &PendingMail, token: &str, now: Timestamp) -> Outgoing {
    let matter = about.matter;
    let head = match (pending.kind, about.event) {
        (MailKind::Maintenance, "started") => "Maintenance in progress".to_string(),
        (MailKind::Maintenance, "completed") => "Maintenance completed".to_string(),
        (MailKind::Maintenance, _) => "Scheduled maintenance".to_string(),
        _ => crate::web::statuspage::label(&matter.status),
    };
    let link = format!("{}/incidents/{}", about.base, about.public_id);
    let unsubscribe = format!("{}/unsubscribe?token={token}", about.base);
    let when = format!(
        "{} {}",
        crate::domain::statuspage::time::page_date(matter.display_at, about.zone),
        page_clock(matter.display_at, about.zone)
    );
    let text = format!(
        "{name}\n{status} ({when})\n\n{body}\n\nDetails: {link}\n\n-- \nYou receive this \
         because you subscribed to {page}. Unsubscribe: {unsubscribe}\n",
        name = matter.name,
        status = crate::web::statuspage::label(&matter.status),
        body = matter.body,
        page = about.page_name,
    );
    let html = format!(
        "<h1>{name}</h1><p>{status} ({when})</p>{body}<p><a href=\"{link}\">Details</a></p>\
         <hr><p>You receive this because you subscribed to {page}. \
         <a href=\"{unsubscribe}\">Unsubscribe</a></p>",
        name = escape::html(&matter.name),
        status = escape::html(&crate::web::statuspage::label(&matter.status)),
        when = escape::html(&when),
        body = crate::web::statuspage::markdown::render(&matter.body),
        link = escape::html(&link),
        page = escape::html(about.page_name),
        unsubscribe = escape::html(&unsubscribe),
    );
    Outgoing {
        to: pending.email.clone(),
        message_id: pending.id.clone(),
        subject: format!("[{}] {head}: {}", about.page_name, matter.name),
        text,
        html,
        unsubscribe: Some(unsubscribe),
        date: now,
    }
}
