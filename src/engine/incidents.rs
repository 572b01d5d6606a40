//! Incident workflows shared by the API, the CLI and Slack, and the incident nudges the
//! engine sends (comms spec §1.5, §1.6).
//!
//! [`declare`] checks a request against the config (`domain::incident::declare`), looks up
//! a promoted alert, and stores the incident with its pages in one transaction.
//! [`change`] applies one change and tells a new commander. [`nudge_due`] is the engine
//! step: update reminders to the comms owner while nothing is posted, and one status-page
//! prompt for unpublished P1/P2 incidents. Both are incident messages, not the "nags" that
//! quiet hours move: someone is working the incident when they arrive.

use jiff::Timestamp;

use super::Engine;
use crate::config::Config;
use crate::domain::incident::{self, Change, DeclareRequest, Directory, Promoted, Refused, Source};
use crate::store::incidents::{self, Incident, IncidentRef, Nudge};
use crate::store::notices::NoticeKind;
use crate::store::{Store, StoreError, alerts};

/// Why a declaration or change was not stored.
#[derive(Debug, thiserror::Error)]
pub enum IncidentError {
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Declares an incident for `declared_by` (a person id, or `system`), optionally promoting
/// an alert. P1/P2 open pages to each service's on-call in the same transaction; the
/// caller wakes the engine.
pub async fn declare(
    store: &Store,
    config: &Config,
    request: DeclareRequest,
    declared_by: &str,
    source: Source,
    from_alert: Option<i64>,
    now: Timestamp,
) -> Result<Incident, IncidentError> {
    let promoted = match from_alert {
        Some(id) => {
            let alert = alerts::get(store, id).await?;
            Some(Promoted {
                id,
                summary: alert.summary,
                severity: alert.severity,
                service: alert.service_id,
            })
        }
        None => None,
    };
    let new = {
        // Checked before any await: the lookups borrow the config.
        let person_exists = |id: &str| config.person(id).is_some();
        let service_policy = |id: &str| config.service_policy(id);
        let directory = Directory {
            person_exists: &person_exists,
            service_policy: &service_policy,
        };
        incident::declare(request, declared_by, source, promoted, &directory)?
    };
    let declared = incidents::declare(store, new, now).await?;
    tracing::info!(
        incident.number = declared.number,
        incident.severity = declared.severity.as_str(),
        incident.commander = %declared.commander,
        source = source.as_str(),
        "incident declared"
    );
    Ok(declared)
}

/// Applies one change as `actor`; a new commander (and the one handing over) is told.
pub async fn change(
    store: &Store,
    config: &Config,
    by: &IncidentRef,
    change: Change,
    actor: &str,
    source: Source,
    now: Timestamp,
) -> Result<incidents::Changed, IncidentError> {
    let field = match &change {
        Change::Commander(_) => Some("commander"),
        Change::CommsLead(_) => Some("comms_lead"),
        _ => None,
    };
    for person in [&change].into_iter().filter_map(|c| match c {
        Change::Commander(p) => Some(p),
        Change::CommsLead(Some(p)) => Some(p),
        _ => None,
    }) {
        if config.person(person).is_none() {
            return Err(Refused {
                field: field.unwrap_or("person"),
                message: format!("no person {person:?} in team.toml"),
            }
            .into());
        }
    }
    let checked = match change {
        Change::Note { text, key, at } => Change::Note {
            text: check(&text, "note")?,
            key,
            at,
        },
        Change::Update { text } => Change::Update {
            text: check(&text, "update")?,
        },
        Change::Summary(text) => Change::Summary(check(&text, "summary")?),
        Change::Impact(text) => Change::Impact(check(&text, "impact")?),
        // The text a status change may carry is bounded like any other; blank is none.
        Change::Status { to, text } => Change::Status {
            to,
            text: text
                .filter(|text| !text.trim().is_empty())
                .map(|text| check(&text, "text"))
                .transpose()?,
        },
        other => other,
    };
    let before = incidents::get(store, by).await?;
    let changed = incidents::change(store, by, checked.clone(), actor, source, now).await?;
    // Resolve drafts the postmortem, reopen stops its reminders (§6.3). The change is
    // stored already; a failure here is logged and the engine's sweep drafts it later.
    if let Err(err) = super::postmortems::after_change(store, config, &before, &changed, now).await
    {
        tracing::warn!(error = %err, incident.number = changed.incident.number,
            "postmortem follow-up failed");
    }
    if let (Change::Commander(new), Some(_)) = (&checked, &changed.event)
        && *new != before.commander
    {
        let inc = &changed.incident;
        let subject = format!(
            "[dutybell] You are now commander of incident #{}",
            inc.number
        );
        let body = format!(
            "You are now the commander of incident #{} ({}): {}\nHanded over by {actor}.",
            inc.number, inc.severity, inc.title
        );
        let handed = format!(
            "{} is now the commander of incident #{} ({}): {}",
            who(config, new),
            inc.number,
            inc.severity,
            inc.title
        );
        let mut notices = notices_for(config, new, inc, &subject, &body);
        let subject_old = format!("[dutybell] Commander of incident #{} changed", inc.number);
        notices.extend(notices_for(
            config,
            &before.commander,
            inc,
            &subject_old,
            &handed,
        ));
        let notices = super::shifts::unverified_dropped(store, config, notices).await?;
        crate::store::notices::queue(store, &notices, now).await?;
    }
    Ok(changed)
}

fn check(text: &str, field: &'static str) -> Result<String, Refused> {
    incident::check_text(field, text).map_err(|message| Refused { field, message })
}

fn who(config: &Config, id: &str) -> String {
    config
        .person(id)
        .map_or_else(|| id.to_string(), |p| p.name.clone())
}

/// Notices about `incident` to every contact of `person` that carries notices.
fn notices_for(
    config: &Config,
    person: &str,
    incident: &Incident,
    subject: &str,
    body: &str,
) -> Vec<crate::store::notices::NewNotice> {
    let data = serde_json::json!({
        "incident": {
            "id": incident.id,
            "number": incident.number,
            "title": incident.title,
            "severity": incident.severity,
            "status": incident.status,
        }
    });
    let topic = format!("incident:{}", incident.number);
    super::shifts::to_contacts(
        config,
        person,
        &topic,
        NoticeKind::Incident,
        subject,
        body,
        &data,
    )
}

/// Sends the nudges due at `now`; returns how many.
pub async fn nudge_due(engine: &Engine, now: Timestamp) -> anyhow::Result<usize> {
    let due = incidents::due_nudges(&engine.store, now, 100).await?;
    for (incident, nudge) in &due {
        let owner = incident.comms_owner();
        let url = format!(
            "{}{}",
            engine.config.settings.public_url(),
            incident::web_path(incident.number)
        );
        let (subject, body) = match nudge {
            Nudge::UpdateReminder => (
                format!(
                    "[dutybell] Update due: incident #{} {}",
                    incident.number, incident.title
                ),
                format!(
                    "Incident #{} ({}) has had no status update since {} UTC. Post one: \
                     `dutybell incident update {} \"…\"` or /incident update.\n{url}",
                    incident.number,
                    incident.severity,
                    incident.last_update_at.strftime("%H:%M"),
                    incident.number
                ),
            ),
            Nudge::PublishPrompt => (
                format!(
                    "[dutybell] Publish incident #{} to the status page?",
                    incident.number
                ),
                format!(
                    "Incident #{} ({}) is not on the status page. Publish it, or keep it \
                     internal: `dutybell incident publish {}`.\n{url}",
                    incident.number, incident.severity, incident.number
                ),
            ),
        };
        let notices = notices_for(&engine.config, owner, incident, &subject, &body);
        let notices =
            super::shifts::unverified_dropped(&engine.store, &engine.config, notices).await?;
        incidents::record_nudge(&engine.store, incident, *nudge, &notices, now).await?;
        tracing::info!(
            incident.number = incident.number,
            nudge = nudge.event_kind(),
            user.id = %owner,
            "incident nudge sent"
        );
    }
    Ok(due.len())
}
