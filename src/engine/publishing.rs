//! Publishing an internal incident to the status page and posting its public updates
//! (comms spec §4.5): the checks and defaults the API, Slack and the CLI share. Storing is
//! `store::statuspage::publish`; callers that hold the page cache rebuild it afterwards
//! (a CLI write shows on the page at the server's next engine pass).

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::incidents::IncidentError;
use crate::config::Config;
use crate::domain::incident::{Refused, Source, Status};
use crate::domain::statuspage::{ComponentStatus, Impact, PublicStatus};
use crate::store::incidents::{self, IncidentRef};
use crate::store::statuspage::publish::{self, Posted, PublicUpdate, Publish};
use crate::store::{Store, StoreError};

/// Longest public name (§4.1).
pub const MAX_NAME: usize = 200;
/// Longest update body, Markdown (§4.1).
pub const MAX_BODY: usize = 4096;

/// What a person asks to publish or post; unset fields take the defaults of §4.5. A first
/// publish that names no components takes those bound to the incident's services, at the
/// state its severity implies.
#[derive(Clone, Debug, Default)]
pub struct PublicPost {
    /// First publish only: the public name (default: the incident's title).
    pub name: Option<String>,
    /// Markdown shown to customers.
    pub body: String,
    /// First publish: from the internal status; updates: unchanged.
    pub status: Option<PublicStatus>,
    /// Component keys and the state this incident puts each in.
    pub components: BTreeMap<String, ComponentStatus>,
    /// First publish only: default from the severity.
    pub impact: Option<Impact>,
    /// Mail subscribers (default on).
    pub notify: Option<bool>,
    /// Updates only: shown as made at (within the start and now).
    pub display_at: Option<Timestamp>,
}

fn refused(field: &'static str, message: impl Into<String>) -> IncidentError {
    IncidentError::Refused(Refused {
        field,
        message: message.into(),
    })
}

pub fn check_name(name: &str) -> Result<String, IncidentError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(refused(
            "name",
            format!("must be 1 to {MAX_NAME} characters"),
        ));
    }
    Ok(name.to_string())
}

pub fn check_body(body: &str) -> Result<String, IncidentError> {
    if body.trim().is_empty() || body.chars().count() > MAX_BODY {
        let message = format!("must be 1 to {MAX_BODY} characters of Markdown");
        return Err(refused("body", message));
    }
    Ok(body.to_string())
}

/// A component key from `statuspage.toml`.
pub fn check_component(config: &Config, key: &str) -> Result<(), IncidentError> {
    if config.statuspage.components.iter().any(|c| c.key == key) {
        Ok(())
    } else {
        Err(refused(
            "components",
            format!("no component {key:?} in statuspage.toml"),
        ))
    }
}

/// Known keys, and no `under_maintenance` (that is what maintenances are for).
fn check_components(
    config: &Config,
    components: BTreeMap<String, ComponentStatus>,
) -> Result<Vec<(String, ComponentStatus)>, IncidentError> {
    for (key, status) in &components {
        check_component(config, key)?;
        if *status == ComponentStatus::UnderMaintenance {
            let message = "use a scheduled maintenance for under_maintenance";
            return Err(refused("components", message));
        }
    }
    Ok(components.into_iter().collect())
}

/// The public status an internal one starts as.
fn public_status(status: Status) -> PublicStatus {
    match status {
        Status::Investigating => PublicStatus::Investigating,
        Status::Identified => PublicStatus::Identified,
        Status::Monitoring => PublicStatus::Monitoring,
        Status::Resolved | Status::Closed => PublicStatus::Resolved,
    }
}

/// Publishes the incident (first time) or posts an update to its public incident.
pub async fn post(
    store: &Store,
    config: &Config,
    by: &IncidentRef,
    post: PublicPost,
    actor: &str,
    source: Source,
    now: Timestamp,
) -> Result<Posted, IncidentError> {
    let incident = incidents::get(store, by).await?;
    if incident.test {
        let message = "test incidents are never published";
        return Err(StoreError::Conflict(message.into()).into());
    }
    let mut components = post.components;
    if incident.public_incident_id.is_none() && components.is_empty() {
        // Nothing named: the components bound to the incident's services, at the state
        // its severity implies.
        let status = incident.severity.default_component_status();
        for component in &config.statuspage.components {
            if component
                .services
                .iter()
                .any(|s| incident.services.contains(s))
            {
                components.insert(component.key.clone(), status);
            }
        }
    }
    let components = check_components(config, components)?;
    let body = check_body(&post.body)?;
    let notify = post.notify.unwrap_or(true);
    let page = &config.statuspage;
    let Some(public_id) = incident.public_incident_id.clone() else {
        let impact = post
            .impact
            .unwrap_or_else(|| incident.severity.default_impact());
        if impact == Impact::Maintenance {
            let message = "an incident's impact is none, minor, major or critical";
            return Err(refused("impact", message));
        }
        let request = Publish {
            name: check_name(post.name.as_deref().unwrap_or(&incident.title))?,
            body,
            status: post.status.unwrap_or(public_status(incident.status)),
            impact,
            components,
            notify,
            actor: actor.to_string(),
            source,
        };
        return Ok(publish::publish(store, page, &incident, &request, now).await?);
    };
    let head = publish::head(store, &public_id).await?;
    if let Some(at) = post.display_at
        && (at > now || at < head.started_at)
    {
        let message = format!("must lie between the start ({}) and now", head.started_at);
        return Err(refused("display_at", message));
    }
    let update = PublicUpdate {
        status: post.status,
        body,
        components,
        notify,
        display_at: post.display_at,
        actor: actor.to_string(),
        source,
    };
    let ids = (incident.id.as_str(), public_id.as_str());
    Ok(publish::update(store, page, ids, &update, now).await?)
}
