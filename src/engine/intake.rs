//! Intake work that waits on time: disputed re-fires whose grace has passed (intake spec
//! M2, IN-02) become real re-fires.

use jiff::Timestamp;

use super::Engine;
use crate::config::{Config, Integration};
use crate::store::deliveries::{self, Target};

/// Where `integration`'s deliveries go: its service, policy and limits.
pub fn target<'a>(config: &'a Config, integration: &'a Integration) -> Option<Target<'a>> {
    let service = config.services.get(&integration.service)?;
    Some(Target {
        integration_id: &integration.id,
        service_id: &integration.service,
        policy_id: &service.escalation,
        max_open_unacked: service.max_open_unacked,
        reopen_window: integration.reopen_window,
    })
}

/// Settles every dispute past its integration's grace; returns how many alerts opened.
pub async fn settle_disputes(engine: &Engine, now: Timestamp) -> anyhow::Result<usize> {
    let mut opened = 0;
    for integration in &engine.config.integrations {
        let Some(target) = target(&engine.config, integration) else {
            continue;
        };
        let grace = integration.refire_grace;
        let severity = integration.default_severity;
        let ids = deliveries::settle_disputes(&engine.store, &target, grace, severity, now).await?;
        for id in &ids {
            tracing::info!(alert.id = id, integration.id = %integration.id, "re-fire opened alert");
        }
        opened += ids.len();
    }
    Ok(opened)
}
