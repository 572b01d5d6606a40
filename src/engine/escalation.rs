//! Firing due escalation steps: ask `domain::escalation` what the due time means, resolve
//! targets with `domain::oncall` at that instant, and store the new state, the timeline and
//! the pages in one transaction.

use std::collections::BTreeMap;

use anyhow::Context as _;
use jiff::{SignedDuration, Timestamp};

use super::Engine;
use crate::config::{Config, Contact};
use crate::domain::direct;
use crate::domain::escalation::{self, Event, Firing, Policy, Target};
use crate::domain::oncall::{self, Schedule};
use crate::domain::verification::{ContactKey, Verified};
use crate::store::alerts::{self, DueEscalation};
use crate::store::outbox::NewPage;
use crate::store::{self, Store, overrides};

/// Escalations handled per pass; the rest wait for the next pass, oldest first.
const BATCH: i64 = 200;
/// Firing later than this is noted on the timeline.
const LATE: SignedDuration = SignedDuration::from_mins(1);

/// Fires every escalation due at `now`; returns how many were handled.
pub async fn run_due(engine: &Engine, now: Timestamp) -> anyhow::Result<usize> {
    let due = alerts::due_escalations(&engine.store, now, BATCH).await?;
    let mut fired = 0;
    for item in &due {
        if fire(engine, item, now).await? {
            fired += 1;
        }
    }
    Ok(fired)
}

#[tracing::instrument(skip_all, fields(alert.id = due.alert_id, step = due.state.step))]
async fn fire(engine: &Engine, due: &DueEscalation, now: Timestamp) -> anyhow::Result<bool> {
    let config = &engine.config;
    if !due.deliberate
        && super::maintenance::service_held_until(config, &due.service_id, now).is_some()
    {
        // Opened since this pass held the service's alerts: the next pass holds it (D11).
        tracing::debug!(service.id = %due.service_id, "service in maintenance; not firing");
        return Ok(false);
    }
    let Some(policy) = policy_for(engine, &due.service_id, &due.policy_id, due.alert_id).await?
    else {
        // TODO(#9): config reload that removes a policy should move its alerts to the
        // service's current one; until then they stay triggered without paging.
        tracing::error!(policy.id = %due.policy_id, "escalation policy no longer exists");
        return Ok(false);
    };
    let schedules = schedules_at(&engine.store, config, &policy, now).await?;
    let firing = escalation::on_due(&policy, due.state, now, |targets| {
        resolve(config, &schedules, targets, now)
    });

    let late = now.duration_since(due.due_at);
    let verified = verified_for(&engine.store, config, &firing).await?;
    let (timeline, pages) = plan(config, &firing, &verified, late, now);
    let stored = alerts::record_firing(&engine.store, due, &firing, &timeline, &pages, now).await?;
    if !stored {
        tracing::debug!("alert changed since its due time was read; skipped");
    }
    Ok(stored)
}

/// The policy an alert escalates with: a direct page's own one-step policy (§1.4), else the
/// configured one it was opened with; `None` if that left the config.
pub(super) async fn policy_for(
    engine: &Engine,
    service_id: &str,
    policy_id: &str,
    alert_id: i64,
) -> anyhow::Result<Option<Policy>> {
    if service_id == direct::SERVICE {
        let targets = store::direct::targets(&engine.store, alert_id)
            .await
            .context("reading a direct page's targets")?;
        return Ok(Some(direct::policy(targets)));
    }
    Ok(engine.config.policies.get(policy_id).cloned())
}

/// The timeline entries and pages a firing stands for: one `escalated` entry per step that
/// paged (noting how late when over a minute), a ladder run per person paged, and
/// `nobody_on_call`, `no_notification_sent` and `escalation_exhausted` where they apply.
/// Contacts with `verify = true` page only when `verified` holds them; a person left with
/// no page because of that gets `no_notification_sent` with the reason `unverified`.
pub(super) fn plan(
    config: &Config,
    firing: &Firing,
    verified: &Verified,
    late: SignedDuration,
    now: Timestamp,
) -> (Vec<(&'static str, serde_json::Value)>, Vec<NewPage>) {
    let mut timeline = Vec::new();
    let mut pages = Vec::new();
    for event in &firing.events {
        match event {
            Event::WindowWait {
                step,
                loop_index,
                until,
            } => {
                tracing::info!(step, loop_index, until = %until, "step window closed; waiting");
                let detail =
                    serde_json::json!({ "step": step, "loop": loop_index, "until": until });
                timeline.push(("window_wait", detail));
            }
            Event::NobodyOnCall { step, loop_index } => {
                tracing::warn!(step, loop_index, "nobody on call");
                timeline.push((
                    "nobody_on_call",
                    serde_json::json!({ "step": step, "loop": loop_index }),
                ));
            }
            Event::Escalated {
                step,
                loop_index,
                people,
            } => {
                tracing::info!(step, loop_index, people = ?people, "escalated");
                let mut detail =
                    serde_json::json!({ "step": step, "loop": loop_index, "people": people });
                if late > LATE {
                    detail["late_seconds"] = late.as_secs().into();
                }
                timeline.push(("escalated", detail));
                let event = if *step == 0 && *loop_index == 0 {
                    "alert.triggered"
                } else {
                    "alert.escalated"
                };
                for person in people {
                    let (queued, unverified) =
                        pages_for(config, verified, person, event, *step, now);
                    if queued.is_empty() {
                        let mut detail = serde_json::json!({ "person": person });
                        if !unverified.is_empty() {
                            tracing::warn!(
                                user.id = %person,
                                "only unverified contacts; not paged"
                            );
                            detail["reason"] = "unverified".into();
                            detail["unverified"] = unverified.into();
                        }
                        timeline.push(("no_notification_sent", detail));
                    }
                    pages.extend(queued);
                }
            }
            Event::Exhausted => {
                tracing::info!("escalation exhausted");
                timeline.push(("escalation_exhausted", serde_json::json!({})));
            }
        }
    }
    (timeline, pages)
}

/// The schedules `policy` names, each with the stored overrides active at `now` merged in.
pub(super) async fn schedules_at(
    store: &Store,
    config: &Config,
    policy: &Policy,
    now: Timestamp,
) -> anyhow::Result<BTreeMap<String, Schedule>> {
    let mut schedules = BTreeMap::new();
    let named = policy.steps.iter().flat_map(|step| &step.targets);
    for target in named {
        let Target::Schedule(id) = target else {
            continue;
        };
        let Some(schedule) = config.schedules.get(id) else {
            continue;
        };
        if schedules.contains_key(id) {
            continue;
        }
        let end = now
            .checked_add(SignedDuration::from_nanos(1))
            .unwrap_or(now);
        let merged = overrides::with_overrides(store, schedule, now, end)
            .await
            .with_context(|| format!("reading overrides of schedule {id:?}"))?;
        schedules.insert(id.clone(), merged);
    }
    Ok(schedules)
}

/// The people a step's targets name at `now`, each once, in target order (D14).
///
/// `schedules` holds each named schedule with its stored overrides merged in; a schedule
/// missing from it (config validation rejects unknown ones) yields nobody.
pub fn resolve(
    config: &Config,
    schedules: &BTreeMap<String, Schedule>,
    targets: &[Target],
    now: Timestamp,
) -> Vec<String> {
    let mut people: Vec<String> = Vec::new();
    for target in targets {
        let found: Vec<String> = match target {
            Target::Person(id) => vec![id.clone()],
            Target::Rotation(id) => config
                .rotations
                .get(id)
                .and_then(|rotation| rotation.slot_at(now).person)
                .into_iter()
                .collect(),
            Target::Schedule(id) => schedules
                .get(id)
                .map(|schedule| oncall::oncall(schedule, &config.rotations, now))
                .into_iter()
                .flatten()
                .collect(),
        };
        for person in found {
            if !people.contains(&person) {
                people.push(person);
            }
        }
    }
    people
}

/// The verified contacts of the people `firing` pages who have contacts needing it; the
/// store is read only for those.
pub(super) async fn verified_for(
    store: &Store,
    config: &Config,
    firing: &Firing,
) -> anyhow::Result<Verified> {
    let mut verified = Verified::new();
    let paged = firing.events.iter().flat_map(|event| match event {
        Event::Escalated { people, .. } => people.as_slice(),
        _ => &[],
    });
    for id in paged {
        let needs = config
            .person(id)
            .is_some_and(|person| person.contacts.iter().any(|c| c.verify));
        if needs {
            let found = store::verification::verified_of(store, id)
                .await
                .context("reading verified contacts")?;
            verified.extend(found);
        }
    }
    Ok(verified)
}

/// One page per notification rule and matching usable contact method: a ladder run
/// (on-call §1.1) whose later rungs wait in the outbox until their due time or an ack
/// drops them. Also returns the kinds of the contacts skipped as unverified.
fn pages_for(
    config: &Config,
    verified: &Verified,
    person: &str,
    event: &str,
    step: usize,
    now: Timestamp,
) -> (Vec<NewPage>, Vec<&'static str>) {
    let Some(person) = config.person(person) else {
        return (Vec::new(), Vec::new());
    };
    let usable = |contact: &Contact| {
        !contact.verify
            || verified.contains(&ContactKey::new(
                &person.id,
                contact.kind.as_str(),
                &contact.address,
            ))
    };
    let mut pages = Vec::new();
    let mut unverified: Vec<&'static str> = Vec::new();
    for rule in &person.notify {
        for contact in person.contacts.iter().filter(|c| c.kind == rule.via) {
            if !usable(contact) {
                if !unverified.contains(&contact.kind.as_str()) {
                    unverified.push(contact.kind.as_str());
                }
                continue;
            }
            pages.push(NewPage {
                person_id: person.id.clone(),
                channel: contact.kind.as_str().to_string(),
                destination: contact.address.clone(),
                event: event.to_string(),
                step,
                due_at: now.saturating_add(rule.after).unwrap_or(now),
            });
        }
    }
    (pages, unverified)
}
