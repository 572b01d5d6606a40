//! Ack timeouts in the engine (on-call spec D8, OC-15): arm the due time of new acks on
//! services with an `ack_timeout`, then re-trigger every acknowledged alert whose time has
//! come. A re-trigger restarts the policy at step 0 of loop 0 and pages the acker and
//! step 0's people once each; an ack timeout due while the service is in maintenance waits
//! for the window's end.

use anyhow::Context as _;
use jiff::Timestamp;

use super::Engine;
use super::escalation::{plan, policy_for, resolve, schedules_at, verified_for};
use crate::domain::escalation;
use crate::store::ack_timeouts::{self, DueAckTimeout};

/// Re-triggers handled per pass; the rest wait for the next pass, oldest first.
const BATCH: i64 = 200;

/// Arms new acks and fires due timeouts at `now`; returns how many alerts re-triggered.
pub async fn run(engine: &Engine, now: Timestamp) -> anyhow::Result<usize> {
    for service in engine.config.services.values() {
        if let Some(timeout) = service.ack_timeout {
            ack_timeouts::arm(&engine.store, &service.id, timeout)
                .await
                .with_context(|| format!("arming ack timeouts of service {:?}", service.id))?;
        }
    }

    let due = ack_timeouts::due(&engine.store, now, BATCH).await?;
    let mut fired = 0;
    for item in &due {
        if fire(engine, item, now).await? {
            fired += 1;
        }
    }
    Ok(fired)
}

#[tracing::instrument(skip_all, fields(alert.id = due.alert_id))]
async fn fire(engine: &Engine, due: &DueAckTimeout, now: Timestamp) -> anyhow::Result<bool> {
    let config = &engine.config;
    let timeout = config
        .services
        .get(&due.service_id)
        .and_then(|s| s.ack_timeout);
    if timeout.is_none() {
        tracing::info!(service.id = %due.service_id, "ack timeout turned off; disarmed");
        ack_timeouts::disarm(&engine.store, due).await?;
        return Ok(false);
    }
    if let Some(until) = super::maintenance::service_held_until(config, &due.service_id, now) {
        tracing::info!(until = %until, "ack timeout waits for the end of maintenance");
        ack_timeouts::postpone(&engine.store, due, until, now).await?;
        return Ok(false);
    }
    let Some(policy) = policy_for(engine, &due.service_id, &due.policy_id, due.alert_id).await?
    else {
        tracing::error!(policy.id = %due.policy_id, "escalation policy no longer exists");
        return Ok(false);
    };

    let schedules = schedules_at(&engine.store, config, &policy, now).await?;
    let acker = due
        .acked_by
        .as_deref()
        .filter(|id| config.person(id).is_some());
    let firing = escalation::on_ack_timeout(&policy, acker, now, |targets| {
        resolve(config, &schedules, targets, now)
    });
    let late = now.duration_since(due.due_at);
    let verified = verified_for(&engine.store, config, &firing).await?;
    let (timeline, pages) = plan(config, &firing, &verified, late, now);
    let stored =
        ack_timeouts::record_retrigger(&engine.store, due, &firing, &timeline, &pages, now).await?;
    if stored {
        tracing::info!(acked_by = ?due.acked_by, "ack timed out; triggered again");
    } else {
        tracing::debug!("alert changed since its ack timeout was read; skipped");
    }
    Ok(stored)
}
