//! A normalised delivery: what every wire format parses into before dedup and storage.
//!
//! `intake/` produces it from a request body; `store::deliveries` applies it in one
//! transaction with the member rules of `domain::members`.

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
