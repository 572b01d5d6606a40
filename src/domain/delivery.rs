//! Normalised deliveries: what every wire format parses into before dedup and storage.
//!
//! Group formats (Alertmanager, Grafana) give a [`GroupDelivery`] whose members follow the
//! rules of `domain::members`; event formats (PagerDuty Events v2, generic JSON) give
//! [`AlertEvent`]s keyed by `dedup_key`. `store::deliveries` applies either in one
//! transaction.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use super::alert::Severity;
use super::members::Occurrence;

/// A link shown with an alert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Link {
    pub href: String,
    pub text: String,
}

/// One upstream alert inside a group, by fingerprint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub fingerprint: String,
    pub occurrence: Occurrence,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

/// A group delivery normalised from any wire format that groups members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupDelivery {
    /// Identity of the dutybell alert within the integration.
    pub dedup_key: String,
    /// The receiver for display, regex escaping undone (IN-08); `None` when not sent.
    pub receiver: Option<String>,
    /// Digest of the members' states, for duplicate detection (intake spec D3).
    pub digest: String,
    pub summary: String,
    pub details: String,
    pub severity: Severity,
    pub source: String,
    pub runbook_url: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub links: Vec<Link>,
    pub members: Vec<Member>,
    /// Lenient-parsing notes returned to the sender.
    pub warnings: Vec<String>,
    /// When dutybell received it.
    pub received_at: Timestamp,
}

impl GroupDelivery {
    /// What the alert shows, in the shape shared with event formats.
    pub fn fields(&self) -> AlertFields {
        AlertFields {
            summary: self.summary.clone(),
            details: self.details.clone(),
            severity: Some(self.severity),
            source: self.source.clone(),
            runbook_url: self.runbook_url.clone(),
            labels: self.labels.clone(),
            links: self.links.clone(),
        }
    }
}

/// What an event asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventAction {
    Trigger,
    Acknowledge,
    Resolve,
}

/// What an alert shows; the same fields whatever the wire format.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AlertFields {
    pub summary: String,
    pub details: String,
    pub severity: Option<Severity>,
    pub source: String,
    pub runbook_url: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub links: Vec<Link>,
}

/// One event of an event format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertEvent {
    pub action: EventAction,
    pub dedup_key: String,
    /// Empty for acknowledge and resolve.
    pub fields: AlertFields,
    /// When the sender says it happened (receive time when it does not say).
    pub timestamp: Timestamp,
}
