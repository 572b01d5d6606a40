//! The weekly alert-hygiene digest (comms spec §7): Monday 09:00 in the `[reports]` zone,
//! to each `digest_to` person by their e-mail and Slack contacts, through the notice
//! outbox (`engine::notices` delivers and retries). Quiet hours move a recipient's copy to
//! 09:00 their time (§0). `report_digests` remembers each (week, person) queued, so a
//! restart never sends a week twice; a week missed by more than a day is skipped.

use anyhow::Context as _;
use jiff::Timestamp;

use super::Engine;
use crate::config::{ChannelKind, Config};
use crate::domain::reports::{Period, digest, hygiene};
use crate::store::notices::{NewNotice, NoticeKind};
use crate::store::{self, Store};

/// Days the digest's hygiene report covers.
const DAYS: u32 = 30;

/// Hygiene rows for `period`. An alert without a runbook URL of its own shows the runbook
/// covering it (comms spec §5.1 lookup, as pages link it), else its service's.
pub async fn hygiene_rows(
    store: &Store,
    config: &Config,
    period: Period,
) -> anyhow::Result<Vec<hygiene::Row>> {
    let mut firings = store::reports::firings(store, period)
        .await
        .context("loading alert firings")?;
    let base = config.settings.public_url();
    for firing in &mut firings {
        if firing.runbook.is_none() {
            let covering = config
                .runbooks
                .lookup(&firing.service, &firing.name, &firing.labels)
                .map(|rb| format!("{}/runbooks/{}", base.trim_end_matches('/'), rb.slug));
            firing.runbook = covering.or_else(|| {
                config
                    .services
                    .get(&firing.service)
                    .and_then(|s| s.runbook_url.clone())
            });
        }
    }
    Ok(hygiene::report(&firings, period))
}

/// Queues the digests due at `now`; returns how many people got one.
pub async fn run(engine: &Engine, now: Timestamp) -> anyhow::Result<usize> {
    let Some(reports) = &engine.config.settings.reports else {
        return Ok(0);
    };
    let Some(slot) = digest::slot_at_or_before(now, &reports.time_zone) else {
        return Ok(0);
    };
    let mut queued = 0;
    for id in &reports.digest_to {
        let Some(person) = engine.config.person(id) else {
            tracing::warn!(user.id = %id, "digest recipient is not in team.toml; skipped");
            continue;
        };
        let due = digest::out_of_quiet_hours(slot, &person.time_zone);
        let missed = now.duration_since(due) > digest::GRACE;
        if due > now || missed || store::reports::digest_queued(&engine.store, slot, id).await? {
            continue;
        }
        let period = Period::last_days(slot, DAYS);
        let rows = hygiene_rows(&engine.store, &engine.config, period).await?;
        let subject = digest::subject(&rows);
        let body = format!("{}{}", digest::intro(), hygiene::text(&rows, period, DAYS));
        let data = serde_json::json!({ "kind": "hygiene_digest", "period": period, "rows": rows });
        let notices: Vec<NewNotice> = person
            .contacts
            .iter()
            .filter(|c| matches!(c.kind, ChannelKind::Email | ChannelKind::Slack))
            .map(|contact| NewNotice {
                schedule_id: "reports:digest".into(),
                // TODO(#6): a `digest` notice kind (needs the notices CHECK widened); digests
                // travel as the nag kind postmortem reminders use meanwhile.
                kind: NoticeKind::Incident,
                person_id: person.id.clone(),
                channel: contact.kind.as_str().into(),
                destination: contact.address.clone(),
                subject: subject.clone(),
                body: body.clone(),
                data: data.clone(),
            })
            .collect();
        if store::reports::queue_digest(&engine.store, slot, id, &notices, now).await? {
            tracing::info!(user.id = %id, notices = notices.len(), "hygiene digest queued");
            queued += 1;
        }
    }
    Ok(queued)
}

/// The next instant a digest falls due after `now`, if any is configured.
pub async fn next_due(engine: &Engine, now: Timestamp) -> anyhow::Result<Option<Timestamp>> {
    let Some(reports) = &engine.config.settings.reports else {
        return Ok(None);
    };
    let zone = &reports.time_zone;
    let Some(slot) = digest::slot_at_or_before(now, zone) else {
        return Ok(None);
    };
    let mut next: Option<Timestamp> = None;
    for id in &reports.digest_to {
        let Some(person) = engine.config.person(id) else {
            continue;
        };
        // This week's copy, while still ahead (quiet hours may have moved it past `now`);
        // else next week's.
        let this_week = digest::out_of_quiet_hours(slot, &person.time_zone);
        let due = if this_week > now
            && !store::reports::digest_queued(&engine.store, slot, id).await?
        {
            Some(this_week)
        } else {
            digest::next_slot(slot, zone).map(|s| digest::out_of_quiet_hours(s, &person.time_zone))
        };
        next = match (next, due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    Ok(next)
}
