//! The public status page rendered (comms spec §4.3, §4.4, §4.7): Statuspage-v2 JSON
//! ([`json`]), server-side HTML ([`html`]), RSS and Atom ([`feeds`]), and the Markdown of
//! update bodies ([`markdown`]).
//!
//! Every renderer reads one [`Snapshot`] and returns text; none reads the clock or does
//! I/O. Rules (rollup, uptime) and time formats live in `domain::statuspage`, escaping in
//! `domain::escape`, so the outputs cannot disagree. Routes, caching headers and ETags are
//! the HTTP layer's.

pub mod feeds;
pub mod html;
pub mod json;
pub mod markdown;

#[cfg(test)]
pub(crate) mod fixtures;

use jiff::Timestamp;

use crate::domain::statuspage::{ComponentStatus, Impact, PublicIncident, Snapshot};

/// How many incidents or maintenances a list (API, feeds) carries.
pub const LIST_LIMIT: usize = 50;

/// The absolute link to an incident's or maintenance's page (`shortlink`, feed links).
pub fn incident_url(snapshot: &Snapshot, id: &str) -> String {
    format!("{}/incidents/{id}", snapshot.url)
}

/// The item's newest activity: its own `updated_at` or its newest update, whichever is
/// later. Feeds order by it and `Last-Modified` derives from it.
pub fn last_activity(item: &PublicIncident) -> Timestamp {
    item.updates
        .iter()
        .map(|u| u.created_at)
        .fold(item.updated_at, Timestamp::max)
}

/// Wire name of a component state (`major_outage`).
pub fn status_name(status: ComponentStatus) -> &'static str {
    match status {
        ComponentStatus::Operational => "operational",
        ComponentStatus::UnderMaintenance => "under_maintenance",
        ComponentStatus::DegradedPerformance => "degraded_performance",
        ComponentStatus::PartialOutage => "partial_outage",
        ComponentStatus::MajorOutage => "major_outage",
    }
}

/// Wire name of an impact (`minor`).
pub fn impact_name(impact: Impact) -> &'static str {
    match impact {
        Impact::None => "none",
        Impact::Maintenance => "maintenance",
        Impact::Minor => "minor",
        Impact::Major => "major",
        Impact::Critical => "critical",
    }
}

/// A wire name for people: `degraded_performance` → `Degraded performance`.
pub fn label(wire: &str) -> String {
    let spaced = wire.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_read_as_words() {
        assert_eq!(label("degraded_performance"), "Degraded performance");
        assert_eq!(label("in_progress"), "In progress");
        assert_eq!(label(""), "");
    }

    #[test]
    fn last_activity_is_the_newest_of_item_and_updates() {
        let snapshot = fixtures::snapshot();
        let item = &snapshot.incidents[0];

        assert_eq!(last_activity(item), fixtures::ts("2024-03-10T21:15:00Z"));
        assert_eq!(
            incident_url(&snapshot, &item.id),
            "https://status.example.com/incidents/inc000000001"
        );
    }
}
