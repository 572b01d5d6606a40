//! The history step of a pass (on-call spec §1.3, §3, D16): diff `oncall()` against the open
//! history rows of every schedule, then queue the notices that change calls for.
//!
//! - History: newcomers get a row started at `now`, people gone get `ended_at = now`; the
//!   past is read from `store::history`, never recomputed.
//! - Shift-change notices (schedules with `shift_notices = true`): the incoming person is
//!   told until when they are on call (the end of their shift from `shifts()`), the outgoing
//!   one gets the pages sent to them since their row started. The first pass to record a
//!   schedule (a fresh install or a new schedule) records silently.
//! - Coverage-gap notices (schedules with `notify = [...]`): gaps entering the 7-day
//!   horizon are announced once, in one notice per pass, and remembered.
//!
//! Notices go to every contact method of the person except voice and `verify = true`
//! contacts not verified yet; `engine::notices` delivers them. A handoff is seen by the
//! first pass at or after it (passes run at least every 5 s), so history and notices are
//! late by at most that much.

use std::collections::BTreeSet;

use anyhow::Context as _;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::Engine;
use crate::config::{Config, ScheduleNotices};
use crate::domain::oncall::{self, Gap, Schedule};
use crate::domain::verification::{ContactKey, Verified};
use crate::notify::notice::carries_notices;
use crate::store::history::{self, SentPage};
use crate::store::notices::{self, NewNotice, NoticeKind};
use crate::store::{Store, overrides, verification};

/// How far ahead a shift's end is looked up; a shift running past it is "until further
/// notice".
const LOOKAHEAD: SignedDuration = SignedDuration::from_hours(90 * 24);

/// What the step did, for the pass summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recorded {
    /// History rows opened or closed.
    pub changes: usize,
    /// Notices queued (one per destination).
    pub notices: usize,
}

/// Records history for every schedule at `now` and queues the notices it calls for.
pub async fn run(engine: &Engine, now: Timestamp) -> anyhow::Result<Recorded> {
    let mut total = Recorded::default();
    for (id, schedule) in &engine.config.schedules {
        let done = record_schedule(engine, schedule, now)
            .await
            .with_context(|| format!("recording on-call history of schedule {id:?}"))?;
        total.changes += done.changes;
        total.notices += done.notices;
    }
    Ok(total)
}

#[tracing::instrument(skip_all, fields(schedule.id = %schedule.id))]
async fn record_schedule(
    engine: &Engine,
    schedule: &Schedule,
    now: Timestamp,
) -> anyhow::Result<Recorded> {
    let config = &engine.config;
    let store = &engine.store;
    let to = now.checked_add(LOOKAHEAD).unwrap_or(Timestamp::MAX);
    let merged = overrides::with_overrides(store, schedule, now, to).await?;

    let on_call = oncall::oncall(&merged, &config.rotations, now);
    let handoff = history::record(store, &schedule.id, &on_call, now).await?;
    let changes = handoff.started.len() + handoff.ended.len();
    if changes > 0 {
        tracing::info!(
            started = ?handoff.started,
            ended = ?handoff.ended.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            first = handoff.first,
            "on-call changed"
        );
    }

    let settings = config.schedule_notices.get(&schedule.id);
    let settings = settings.cloned().unwrap_or_default();
    let mut queued = 0;

    // A schedule seen for the first time has no handoff to tell anyone about.
    if settings.shift_changes && !handoff.first && changes > 0 {
        let mut new = Vec::new();
        let shifts = oncall::shifts(&merged, &config.rotations, now, to);
        for person in &handoff.started {
            let end = shifts
                .iter()
                .find(|s| &s.person == person && s.start == now)
                .map(|s| s.end)
                .filter(|end| *end < to);
            new.extend(shift_started(config, schedule, person, now, end));
        }
        for (person, since) in &handoff.ended {
            let pages = history::pages_sent_to(store, person, *since, now).await?;
            new.extend(shift_ended(config, schedule, person, *since, now, &pages));
        }
        let new = unverified_dropped(store, config, new).await?;
        notices::queue(store, &new, now).await?;
        queued += new.len();
    }

    if !settings.gaps_to.is_empty() {
        queued += announce_gaps(engine, &merged, &settings, now).await?;
    }
    Ok(Recorded {
        changes,
        notices: queued,
    })
}

/// Queues one notice listing the gaps that entered the horizon since the last one (D16).
async fn announce_gaps(
    engine: &Engine,
    merged: &Schedule,
    settings: &ScheduleNotices,
    now: Timestamp,
) -> anyhow::Result<usize> {
    let store = &engine.store;
    let current = oncall::coverage_gaps(merged, &engine.config.rotations, now);
    let announced = notices::announced_gaps(store, &merged.id, now).await?;
    let fresh = oncall::unannounced_gaps(&current, &announced);
    if fresh.is_empty() {
        return Ok(0);
    }
    tracing::info!(gaps = fresh.len(), "coverage gaps entered the horizon");
    let new: Vec<NewNotice> = settings
        .gaps_to
        .iter()
        .flat_map(|person| coverage_gaps(&engine.config, merged, person, &fresh))
        .collect();
    let new = unverified_dropped(store, &engine.config, new).await?;
    notices::queue_gap_notices(store, &merged.id, &fresh, &new, now).await?;
    Ok(new.len())
}

/// `Mon 2025-06-16 10:00 CEST`.
fn local(at: Timestamp, zone: &TimeZone) -> String {
    at.to_zoned(zone.clone())
        .strftime("%a %Y-%m-%d %H:%M %Z")
        .to_string()
}

/// The person's zone, else the schedule's.
fn zone_of(config: &Config, person: &str, schedule: &Schedule) -> TimeZone {
    config
        .person(person)
        .map_or_else(|| schedule.time_zone.clone(), |p| p.time_zone.clone())
}

/// One notice per contact method of `person` that carries notices; `topic` is what the
/// notice is about (a schedule id, or `incident:<number>`).
/// [`unverified_dropped`] then removes the `verify = true` ones not yet verified.
pub(crate) fn to_contacts(
    config: &Config,
    person: &str,
    topic: &str,
    kind: NoticeKind,
    subject: &str,
    body: &str,
    data: &serde_json::Value,
) -> Vec<NewNotice> {
    let Some(found) = config.person(person) else {
        return Vec::new();
    };
    found
        .contacts
        .iter()
        .filter(|contact| carries_notices(contact.kind))
        .map(|contact| NewNotice {
            schedule_id: topic.to_string(),
            kind,
            person_id: person.to_string(),
            channel: contact.kind.as_str().to_string(),
            destination: contact.address.clone(),
            subject: subject.to_string(),
            body: body.to_string(),
            data: data.clone(),
        })
        .collect()
}

/// `notices` without those to a `verify = true` contact that is not verified yet, as pages
/// skip them (`engine::escalation`); the store is read only for people with such contacts.
pub(crate) async fn unverified_dropped(
    store: &Store,
    config: &Config,
    notices: Vec<NewNotice>,
) -> Result<Vec<NewNotice>, crate::store::StoreError> {
    let needs_check = |notice: &NewNotice| {
        config.person(&notice.person_id).is_some_and(|person| {
            person.contacts.iter().any(|contact| {
                contact.verify
                    && contact.kind.as_str() == notice.channel
                    && contact.address == notice.destination
            })
        })
    };
    let mut verified = Verified::new();
    let mut read = BTreeSet::new();
    let mut kept = Vec::with_capacity(notices.len());
    for notice in notices {
        if !needs_check(&notice) {
            kept.push(notice);
            continue;
        }
        if read.insert(notice.person_id.clone()) {
            let found = verification::verified_of(store, &notice.person_id).await?;
            verified.extend(found);
        }
        let key = ContactKey::new(&notice.person_id, &notice.channel, &notice.destination);
        if verified.contains(&key) {
            kept.push(notice);
        } else {
            tracing::info!(
                person.id = %notice.person_id,
                channel = %notice.channel,
                "notice skipped: contact not verified"
            );
        }
    }
    Ok(kept)
}

/// `"You are now on call for <schedule> until <end>"`.
fn shift_started(
    config: &Config,
    schedule: &Schedule,
    person: &str,
    now: Timestamp,
    end: Option<Timestamp>,
) -> Vec<NewNotice> {
    let zone = zone_of(config, person, schedule);
    let until = match end {
        Some(end) => format!("until {}", local(end, &zone)),
        None => "until further notice".to_string(),
    };
    let subject = format!("[dutybell] On call: {} {until}", schedule.id);
    let mut body = format!("You are now on call for {} {until}.\n", schedule.id);
    if let Some(end) = end {
        body.push_str(&format!("\nShift: {now} to {end} (UTC).\n"));
    }
    let data = serde_json::json!({
        "person": person,
        "shift": { "start": now, "end": end },
    });
    to_contacts(
        config,
        person,
        &schedule.id,
        NoticeKind::ShiftStarted,
        &subject,
        &body,
        &data,
    )
}

/// "Your shift ended; you were paged N times about M alerts".
fn shift_ended(
    config: &Config,
    schedule: &Schedule,
    person: &str,
    since: Timestamp,
    now: Timestamp,
    pages: &[SentPage],
) -> Vec<NewNotice> {
    let zone = zone_of(config, person, schedule);
    let mut alerts: Vec<(i64, &str)> = Vec::new();
    let mut seen = BTreeSet::new();
    for page in pages {
        if seen.insert(page.alert_id) {
            alerts.push((page.alert_id, page.summary.as_str()));
        }
    }
    let subject = format!(
        "[dutybell] Off call: {} ({} page(s) during your shift)",
        schedule.id,
        pages.len()
    );
    let mut body = format!(
        "Your on-call shift for {} ended at {}: {} page(s) about {} alert(s) since {}.\n",
        schedule.id,
        local(now, &zone),
        pages.len(),
        alerts.len(),
        local(since, &zone),
    );
    if !alerts.is_empty() {
        body.push('\n');
    }
    for (id, summary) in &alerts {
        let summary = crate::intake::truncate_chars(summary, 200);
        body.push_str(&format!("- #A-{id} {summary}\n"));
    }
    let listed: Vec<_> = alerts
        .iter()
        .map(|(id, summary)| serde_json::json!({ "id": id, "summary": summary }))
        .collect();
    let data = serde_json::json!({
        "person": person,
        "shift": { "start": since, "end": now },
        "pages": pages.len(),
        "alerts": listed,
    });
    to_contacts(
        config,
        person,
        &schedule.id,
        NoticeKind::ShiftEnded,
        &subject,
        &body,
        &data,
    )
}

/// `"Nobody is on call for <schedule> in these windows"`.
fn coverage_gaps(
    config: &Config,
    schedule: &Schedule,
    person: &str,
    gaps: &[Gap],
) -> Vec<NewNotice> {
    let zone = &schedule.time_zone;
    let subject = format!(
        "[dutybell] Coverage gaps: {} has nobody on call {} time(s) in the next 7 days",
        schedule.id,
        gaps.len()
    );
    let mut body = format!(
        "Nobody is on call for {} in {} window(s) of the next 7 days:\n\n",
        schedule.id,
        gaps.len()
    );
    for gap in gaps {
        body.push_str(&format!(
            "- {} → {}\n",
            local(gap.start, zone),
            local(gap.end, zone)
        ));
    }
    let listed: Vec<_> = gaps
        .iter()
        .map(|gap| serde_json::json!({ "start": gap.start, "end": gap.end }))
        .collect();
    let data = serde_json::json!({ "gaps": listed });
    to_contacts(
        config,
        person,
        &schedule.id,
        NoticeKind::CoverageGaps,
        &subject,
        &body,
        &data,
    )
}
