//! Clicks on Slack page DMs (comms spec §2.5, §3.4): `alert.ack`, `alert.resolve` and
//! `alert.declare`, whose `value` is the alert id. `http::slack` verifies the request and
//! finds the clicker's person before handing the click here.
//!
//! The value is only a pointer: the alert is read again, and a click on one that moved on
//! (a stale message, a double click) is told who moved it and when, ephemeral. Success
//! answers nothing: the engine edits the DM itself (`engine::slack_pages`), as it does for
//! an ack or resolve from any other surface.

use super::AppState;
use crate::domain::alert::{AlertState, parse_alert_id};
use crate::domain::escape::mrkdwn;
use crate::domain::incident::{DeclareRequest, Source};
use crate::engine::incidents::{self as workflow, IncidentError};
use crate::engine::slack_pages::settled;
use crate::notify::slack::action;
use crate::store::StoreError;
use crate::store::alerts::{self, Alert, Transition};

/// What the surface is called on the alert timeline (`via`).
const VIA: &str = "slack";

/// Does what the page button says as `person`; `Some` is a message for the clicker. Link
/// buttons (open, runbook, ack all) need nothing.
pub(super) async fn click(
    state: &AppState,
    action_id: &str,
    value: &str,
    person: &str,
) -> anyhow::Result<Option<String>> {
    if ![action::ACK, action::RESOLVE, action::DECLARE].contains(&action_id) {
        return Ok(None);
    }
    let Some(id) = parse_alert_id(value) else {
        return Ok(Some("That button points at no alert.".into()));
    };
    let alert = match alerts::get(&state.store, id).await {
        Ok(alert) => alert,
        Err(StoreError::NotFound) => return Ok(Some(format!("There is no alert #A-{id}."))),
        Err(err) => return Err(err.into()),
    };
    let now = state.clock.now();
    let done = match action_id {
        action::ACK if alert.state != AlertState::Triggered => return stale(state, id).await,
        action::ACK => alerts::acknowledge(&state.store, id, person, VIA, now).await,
        action::RESOLVE if alert.state == AlertState::Resolved => return stale(state, id).await,
        action::RESOLVE => alerts::resolve(&state.store, id, person, VIA, now).await,
        _ => return declare(state, &alert, person).await,
    };
    match done {
        Ok(Transition::Changed) => {
            tracing::info!(alert.id = id, user.id = %person, slack.action = %action_id,
                "alert changed from Slack");
            state.wake.notify_one();
            Ok(None)
        }
        // Someone else got there between the read and the write.
        Ok(Transition::Unchanged) | Err(StoreError::Conflict(_)) => stale(state, id).await,
        Err(err) => Err(err.into()),
    }
}

/// "#A-12 is already acked by Ana Ruiz at 14:05 UTC."
async fn stale(state: &AppState, id: i64) -> anyhow::Result<Option<String>> {
    let config = state.config.current();
    let alert = alerts::get(&state.store, id).await?;
    Ok(Some(match settled(&config, &alert) {
        Some(s) => format!(
            "#A-{id} is already {} by {} at {} UTC.",
            s.verb,
            mrkdwn(&s.by),
            s.at.strftime("%H:%M")
        ),
        None => format!("#A-{id} is firing again; try once more."),
    }))
}

/// Promotes the alert to an incident with the clicker as commander (comms spec §1.5): its
/// summary is the title, its severity picks P2 or P3, and the promotion acks it.
async fn declare(state: &AppState, alert: &Alert, person: &str) -> anyhow::Result<Option<String>> {
    let config = state.config.current();
    let request = DeclareRequest {
        title: String::new(),
        severity: None,
        summary: None,
        impact: None,
        commander: None,
        comms_lead: None,
        services: Vec::new(),
        page: None,
        test: false,
    };
    let now = state.clock.now();
    let declared = workflow::declare(
        &state.store,
        &config,
        request,
        person,
        Source::Slack,
        Some(alert.id),
        now,
    )
    .await;
    let incident = match declared {
        Ok(incident) => incident,
        Err(IncidentError::Refused(refused)) => return Ok(Some(mrkdwn(&refused.message))),
        Err(IncidentError::Store(StoreError::Conflict(message))) => {
            return Ok(Some(mrkdwn(&message)));
        }
        Err(IncidentError::Store(err)) => return Err(err.into()),
    };
    state.wake.notify_one();
    Ok(Some(format!(
        "Declared #{} ({}) from #A-{}. You are the commander; the announcement follows in the \
         incidents channel.",
        incident.number, incident.severity, alert.id
    )))
}
