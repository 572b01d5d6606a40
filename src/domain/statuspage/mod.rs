//! The public status page as data (comms spec §4): component states, public incidents and
//! their updates, scheduled maintenances, and the pure rules over them (rollup, uptime).
//!
//! Everything here is a value; `store::statuspage` loads a [`Snapshot`] and `web::statuspage`
//! renders it as HTML, Statuspage-v2 JSON and feeds. Times are UTC instants; the page zone
//! is applied only when rendering.

pub mod rollup;
pub mod time;
pub mod uptime;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// A stable 12-char lowercase base-36 id for a config-defined object (`kind` keeps a
/// component and a group with the same config id apart).
pub fn public_id(kind: &str, key: &str) -> String {
    let digest = Sha256::digest(format!("{kind}:{key}").as_bytes());
    let mut n = u128::from_be_bytes(digest[..16].try_into().expect("16 bytes"));
    let mut id = String::with_capacity(12);
    for _ in 0..12 {
        let digit = u32::try_from(n % 36).expect("below 36");
        id.push(char::from_digit(digit, 36).expect("base-36 digit"));
        n /= 36;
    }
    id
}

/// A new random 12-char base-36 id (public incidents, updates, maintenances).
pub fn new_public_id() -> String {
    let n: u128 = rand::random();
    public_id("random", &n.to_string())
}

/// A component's state (§4.2), declared worst last so `max` is the worse one, except
/// that `under_maintenance` sits between `degraded_performance` and `operational` as the
/// spec orders them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentStatus {
    Operational,
    UnderMaintenance,
    DegradedPerformance,
    PartialOutage,
    MajorOutage,
}

/// A public incident's impact, also the page indicator (§4.2), worst last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Impact {
    None,
    Maintenance,
    Minor,
    Major,
    Critical,
}

/// Public incident status (§4.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PublicStatus {
    Investigating,
    Identified,
    Monitoring,
    Resolved,
    Postmortem,
}

impl PublicStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PublicStatus::Investigating => "investigating",
            PublicStatus::Identified => "identified",
            PublicStatus::Monitoring => "monitoring",
            PublicStatus::Resolved => "resolved",
            PublicStatus::Postmortem => "postmortem",
        }
    }

    pub fn is_unresolved(self) -> bool {
        matches!(
            self,
            PublicStatus::Investigating | PublicStatus::Identified | PublicStatus::Monitoring
        )
    }
}

/// Scheduled maintenance status (§4.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaintenanceStatus {
    Scheduled,
    InProgress,
    Verifying,
    Completed,
}

/// A component as the page shows it, with its effective state now.
#[derive(Clone, Debug, PartialEq)]
pub struct Component {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// Effective state (§4.1): worst of manual, unresolved incidents, maintenance.
    pub status: ComponentStatus,
    pub position: u32,
    pub showcase: bool,
    pub only_show_if_degraded: bool,
    pub start_date: Option<Date>,
    /// The group's public id, for members of a group.
    pub group_id: Option<String>,
    /// Groups: child component ids; `None` for plain components.
    pub children: Option<Vec<String>>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A component change carried by an update.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AffectedComponent {
    /// The component's public id.
    pub code: String,
    pub name: String,
    pub old_status: ComponentStatus,
    pub new_status: ComponentStatus,
}

/// One customer-facing update (Markdown body ≤ 4096).
#[derive(Clone, Debug, PartialEq)]
pub struct Update {
    pub id: String,
    /// `PublicStatus` or `MaintenanceStatus` in snake case.
    pub status: String,
    pub body: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub display_at: Timestamp,
    pub affected_components: Option<Vec<AffectedComponent>>,
    pub deliver_notifications: bool,
}

/// A published incident (a projection of an internal one) or a scheduled maintenance.
#[derive(Clone, Debug, PartialEq)]
pub struct PublicIncident {
    pub id: String,
    pub name: String,
    /// `PublicStatus` (incidents) or `MaintenanceStatus` (maintenances) in snake case.
    pub status: String,
    pub impact: Impact,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub monitoring_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    pub started_at: Timestamp,
    /// Newest first.
    pub updates: Vec<Update>,
    /// Affected component public ids.
    pub components: Vec<String>,
    /// `Some` for scheduled maintenances.
    pub schedule: Option<MaintenanceWindow>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaintenanceWindow {
    pub scheduled_for: Timestamp,
    pub scheduled_until: Timestamp,
}

/// One effective-state interval of a component, half-open `[start, end)`; `end = None`
/// means still going. Uptime (§4.9) reads these.
#[derive(Clone, Debug, PartialEq)]
pub struct StateInterval {
    pub component_id: String,
    pub status: ComponentStatus,
    pub start: Timestamp,
    pub end: Option<Timestamp>,
}

/// Everything the public page shows, built once per change and served from memory.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub page_id: String,
    pub name: String,
    /// Absolute base URL of the page (no trailing `/`).
    pub url: String,
    pub time_zone: TimeZone,
    pub updated_at: Timestamp,
    /// Flat, by `position`, each group before its members.
    pub components: Vec<Component>,
    /// Incidents, any status, newest `created_at` first (at most 50 kept for the API;
    /// history may hold more).
    pub incidents: Vec<PublicIncident>,
    /// Maintenances, any status, newest first.
    pub maintenances: Vec<PublicIncident>,
    /// Effective-state intervals for the last 90 days and more, for uptime bars.
    pub intervals: Vec<StateInterval>,
    /// Ranges with no monitoring data (heartbeat gaps > 2 min, admin-marked).
    pub no_data: Vec<(Timestamp, Timestamp)>,
    /// When the snapshot was built; "today counts to now".
    pub built_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_ids_are_stable_twelve_char_base36() {
        let id = public_id("component", "api");
        assert_eq!(id.len(), 12);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
        );
        assert_eq!(id, public_id("component", "api"));
        assert_ne!(id, public_id("group", "api"));
        assert_ne!(new_public_id(), new_public_id());
    }

    #[test]
    fn worse_states_compare_greater() {
        use ComponentStatus::*;
        assert!(MajorOutage > PartialOutage);
        assert!(PartialOutage > DegradedPerformance);
        assert!(DegradedPerformance > UnderMaintenance);
        assert!(UnderMaintenance > Operational);
        assert!(Impact::Critical > Impact::Major && Impact::Minor > Impact::Maintenance);
    }
}
