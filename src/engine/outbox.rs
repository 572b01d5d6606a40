//! Delivering due pages: render each for its channel, send, and record the outcome on the
//! alert timeline. Pages for alerts no longer triggered are dropped unsent. A transient
//! failure is retried 3 times, 15 s apart or after the receiver's `Retry-After`, then
//! logged `notification_failed` (on-call spec §3); a rejection fails at once.
//!
//! TODO(#4): comms spec §3 backs off 10 s, 30 s, 2, 10, 30 min; the fixed 15 s stays until
//! the escalation tests are moved to that ladder.

use jiff::{SignedDuration, Timestamp};
use secrecy::ExposeSecret as _;

use super::Engine;
use crate::domain::action_link::{self, Action, ActionClaim};
use crate::notify::{AlertView, NotifyError, Page};
use crate::store::alerts;
use crate::store::outbox::{self, Outcome, PendingPage};

const BATCH: i64 = 100;
const RETRIES: i64 = 3;
const RETRY_AFTER: SignedDuration = SignedDuration::from_secs(15);
/// How long an action link in a page stays valid.
pub const LINK_LIFETIME: SignedDuration = SignedDuration::from_hours(24);

/// Attempts every page due at `now`; returns how many were attempted.
pub async fn deliver_due(engine: &Engine, now: Timestamp) -> anyhow::Result<usize> {
    let due = outbox::due(&engine.store, now, BATCH).await?;
    for page in &due {
        let outcome = attempt(engine, page, now).await?;
        outbox::record(&engine.store, page, &outcome, now).await?;
    }
    Ok(due.len())
}

#[tracing::instrument(skip_all, fields(alert.id = page.alert_id, user.id = %page.person_id,
    channel = %page.channel, message.id = %page.id))]
async fn attempt(engine: &Engine, page: &PendingPage, now: Timestamp) -> anyhow::Result<Outcome> {
    if page.alert_state != "triggered" {
        return Ok(Outcome::Dropped);
    }
    let config = &engine.config;
    let contact = config.person(&page.person_id).and_then(|person| {
        person
            .contacts
            .iter()
            .find(|c| c.kind.as_str() == page.channel && c.address == page.destination)
    });
    let Some(contact) = contact else {
        return Ok(Outcome::Failed {
            error: "contact method no longer configured".into(),
        });
    };
    let alert = alerts::get(&engine.store, page.alert_id).await?;
    let message = render(engine, page, &alert, now);
    match engine.notifiers.send(contact, &message, now).await {
        Ok(()) => {
            tracing::info!("page sent");
            Ok(Outcome::Sent)
        }
        Err(NotifyError::Retry { error, after }) if page.attempts < RETRIES => {
            // The receiver's own estimate beats ours; `notify` caps it.
            let delay = after
                .and_then(|after| SignedDuration::try_from(after).ok())
                .unwrap_or(RETRY_AFTER);
            tracing::warn!(
                error = %error,
                attempt = page.attempts + 1,
                retry_in_s = delay.as_secs(),
                "page failed; will retry"
            );
            Ok(Outcome::Retry {
                at: now.saturating_add(delay).unwrap_or(now),
                error,
            })
        }
        Err(err) => {
            tracing::error!(error = %err, "page failed for good");
            Ok(Outcome::Failed {
                error: err.to_string(),
            })
        }
    }
}

fn render(engine: &Engine, page: &PendingPage, alert: &alerts::Alert, now: Timestamp) -> Page {
    let settings = &engine.config.settings;
    let base = &settings.public_url();
    let secret = settings.signing_secret.expose_secret().as_bytes();
    let exp = now.saturating_add(LINK_LIFETIME).unwrap_or(now).as_second();
    let link = |act| {
        let claim = ActionClaim {
            act,
            target: alert.id,
            person: page.person_id.clone(),
            exp,
        };
        format!("{base}/a/{}", action_link::sign(&claim, secret))
    };
    let person_name = engine
        .config
        .person(&page.person_id)
        .map_or_else(|| page.person_id.clone(), |p| p.name.clone());
    let service = engine
        .config
        .services
        .get(&alert.service_id)
        .map_or_else(|| alert.service_id.clone(), |s| s.name.clone());
    let runbook_url = alert.runbook_url.clone().or_else(|| {
        engine
            .config
            .services
            .get(&alert.service_id)
            .and_then(|s| s.runbook_url.clone())
    });
    Page {
        message_id: page.id.clone(),
        event: page.event.clone(),
        occurred_at: now,
        alert: AlertView {
            id: alert.id,
            service,
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
            url: link(Action::View),
            created_at: alert.created_at,
        },
        person_id: page.person_id.clone(),
        person_name,
        ack_url: link(Action::Ack),
        resolve_url: link(Action::Resolve),
        instance: base.clone(),
    }
}
