//! Maintenance windows in the engine (on-call spec D11, §3): at the start of each pass,
//! release alerts whose hold has ended (they start at step 0 in this same pass), then hold
//! every triggered alert of a service in maintenance, so nothing escalates or pages while
//! a window is open. Intake is untouched: alerts are still stored and deduplicated.

use jiff::Timestamp;

use super::Engine;
use crate::config::Config;
use crate::domain::maintenance;
use crate::store;

/// What one maintenance step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub held: usize,
    pub released: usize,
}

/// The end of the maintenance `service` is in at `now`, if it is in one.
pub fn service_held_until(config: &Config, service: &str, now: Timestamp) -> Option<Timestamp> {
    let service = config.services.get(service)?;
    maintenance::active_until(&service.maintenance, now)
}

/// Holds and releases at `now`.
pub async fn run(engine: &Engine, now: Timestamp) -> anyhow::Result<Changes> {
    use anyhow::Context as _;
    let mut changes = Changes::default();
    for service in engine.config.services.values() {
        let Some(until) = maintenance::active_until(&service.maintenance, now) else {
            continue;
        };
        let held = store::maintenance::hold(&engine.store, &service.id, until, now)
            .await
            .with_context(|| format!("holding alerts of service {:?}", service.id))?;
        for id in &held {
            tracing::info!(alert.id = id, service.id = %service.id, until = %until,
                "held for maintenance");
        }
        changes.held += held.len();
    }

    // After holding: an alert whose hold ended while a new window of its service opened
    // was moved to that window's end above, so only alerts with nothing to wait for are here.
    let released = store::maintenance::release(&engine.store, now)
        .await
        .context("releasing alerts after maintenance")?;
    for id in &released {
        tracing::info!(
            alert.id = id,
            "released after maintenance; escalating from step 0"
        );
    }
    changes.released = released.len();
    Ok(changes)
}

/// When maintenance next needs a pass: the first hold to end, or the first window to open.
pub async fn next_due(engine: &Engine, now: Timestamp) -> anyhow::Result<Option<Timestamp>> {
    let release = store::maintenance::next_release_at(&engine.store).await?;
    let opening = engine
        .config
        .services
        .values()
        .filter_map(|service| maintenance::next_start(&service.maintenance, now))
        .min();
    Ok([release, opening].into_iter().flatten().min())
}
