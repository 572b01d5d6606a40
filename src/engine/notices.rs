//! Delivering due on-call notices (shift changes, coverage gaps) queued by `engine::shifts`.
//!
//! Retries like pages (on-call spec §3): a transient failure is tried again 3 times, 15 s
//! apart or after the receiver's `Retry-After`, then marked failed; a rejection fails at
//! once. Notices belong to no alert, so nothing lands on a timeline; outcomes are logged.

// TODO(#3): D10 throttles shift-change notices (3 / min, 20 / h per destination); they go
// unthrottled until the page throttle lands and can be shared.

use jiff::{SignedDuration, Timestamp};

use super::Engine;
use crate::notify::NotifyError;
use crate::notify::notice::Notice;
use crate::store::notices::{self, NoticeOutcome, PendingNotice};

const BATCH: i64 = 100;
const RETRIES: i64 = 3;
const RETRY_AFTER: SignedDuration = SignedDuration::from_secs(15);

/// Attempts every notice due at `now`; returns how many were attempted.
pub async fn deliver_due(engine: &Engine, now: Timestamp) -> anyhow::Result<usize> {
    let due = notices::due(&engine.store, now, BATCH).await?;
    for notice in &due {
        let outcome = attempt(engine, notice, now).await;
        notices::record(&engine.store, notice, &outcome, now).await?;
    }
    Ok(due.len())
}

#[tracing::instrument(skip_all, fields(schedule.id = %pending.schedule_id,
    user.id = %pending.person_id, channel = %pending.channel, message.id = %pending.id,
    notice.kind = pending.kind.as_str()))]
async fn attempt(engine: &Engine, pending: &PendingNotice, now: Timestamp) -> NoticeOutcome {
    let config = &engine.config;
    let person = config.person(&pending.person_id);
    let contact = person.and_then(|person| {
        person
            .contacts
            .iter()
            .find(|c| c.kind.as_str() == pending.channel && c.address == pending.destination)
    });
    let (Some(person), Some(contact)) = (person, contact) else {
        tracing::warn!("contact method no longer configured; notice dropped");
        return NoticeOutcome::Failed {
            error: "contact method no longer configured".into(),
        };
    };
    let notice = Notice {
        message_id: pending.id.clone(),
        event: pending.kind.event(),
        occurred_at: pending.created_at,
        schedule: pending.schedule_id.clone(),
        person_id: person.id.clone(),
        person_name: person.name.clone(),
        subject: pending.subject.clone(),
        text: pending.body.clone(),
        data: pending.data.clone(),
        instance: config.settings.public_url(),
    };
    match engine.notifiers.send_notice(contact, &notice, now).await {
        Ok(()) => {
            tracing::info!("notice sent");
            NoticeOutcome::Sent
        }
        Err(NotifyError::Retry { error, after }) if pending.attempts < RETRIES => {
            let delay = after
                .and_then(|after| SignedDuration::try_from(after).ok())
                .unwrap_or(RETRY_AFTER);
            tracing::warn!(
                error = %error,
                attempt = pending.attempts + 1,
                retry_in_s = delay.as_secs(),
                "notice failed; will retry"
            );
            NoticeOutcome::Retry {
                at: now.saturating_add(delay).unwrap_or(now),
                error,
            }
        }
        Err(err) => {
            tracing::warn!(error = %err, "notice failed for good");
            NoticeOutcome::Failed {
                error: err.to_string(),
            }
        }
    }
}
