//! State rollup (comms spec §4.1, §4.2): a component's effective state, a group's state and
//! the page indicator.
//!
//! [`page_status`] is the one function behind the HTML banner, `status.json`,
//! `summary.json` and both feed descriptions, so they cannot disagree (CM-05).

use super::{Component, ComponentStatus, Impact, MaintenanceStatus, PublicIncident, Snapshot};

/// A component's effective state (§4.1): the worst of its manual state and the states
/// unresolved public incidents give it, and `under_maintenance` while a maintenance covering
/// it is active.
///
/// During maintenance the incident (alert-driven) states are ignored, so a planned outage
/// shows as maintenance rather than an outage; the manual state still counts, because a
/// person set it on purpose (a manual `major_outage` stays visible through the window).
pub fn effective_status(
    manual: ComponentStatus,
    incidents: &[ComponentStatus],
    in_maintenance: bool,
) -> ComponentStatus {
    if in_maintenance {
        return manual.max(ComponentStatus::UnderMaintenance);
    }
    incidents.iter().copied().fold(manual, ComponentStatus::max)
}

/// A group's state: its worst child (§4.2); `operational` for a group with no children.
pub fn group_status(children: &[ComponentStatus]) -> ComponentStatus {
    children
        .iter()
        .copied()
        .max()
        .unwrap_or(ComponentStatus::Operational)
}

/// The page indicator (§4.2), Statuspage's `status.indicator`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Indicator {
    None,
    Minor,
    Major,
    Critical,
    Maintenance,
}

impl Indicator {
    /// The wire name (`status.indicator`), also used as a CSS class suffix.
    pub fn as_str(self) -> &'static str {
        match self {
            Indicator::None => "none",
            Indicator::Minor => "minor",
            Indicator::Major => "major",
            Indicator::Critical => "critical",
            Indicator::Maintenance => "maintenance",
        }
    }

    /// The banner text (`status.description`, feed descriptions).
    pub fn description(self) -> &'static str {
        match self {
            Indicator::None => "All Systems Operational",
            Indicator::Minor => "Minor Service Outage",
            Indicator::Major => "Partial System Outage",
            Indicator::Critical => "Major Service Outage",
            Indicator::Maintenance => "Service Under Maintenance",
        }
    }
}

/// How bad a component state is for the page: degraded → minor, partial → major, major →
/// critical; operational and under maintenance → none (maintenance is decided afterwards).
fn severity_of_status(status: ComponentStatus) -> Impact {
    match status {
        ComponentStatus::Operational | ComponentStatus::UnderMaintenance => Impact::None,
        ComponentStatus::DegradedPerformance => Impact::Minor,
        ComponentStatus::PartialOutage => Impact::Major,
        ComponentStatus::MajorOutage => Impact::Critical,
    }
}

/// The page indicator (§4.2): the worst of the components' states and the unresolved
/// items' impacts; when that is `none` and a component is under maintenance, or an active
/// maintenance is among `unresolved` (impact `maintenance`), the page shows `maintenance`.
/// No components and nothing unresolved → `none`.
///
/// Groups need no special case: a group's state is its worst child, so counting the group
/// rows with the others changes nothing.
pub fn page_status(components: &[Component], unresolved: &[Impact]) -> Indicator {
    let worst = components
        .iter()
        .map(|c| severity_of_status(c.status))
        .chain(unresolved.iter().copied())
        .max()
        .unwrap_or(Impact::None);
    let maintenance = components
        .iter()
        .any(|c| c.status == ComponentStatus::UnderMaintenance);
    match worst {
        Impact::Critical => Indicator::Critical,
        Impact::Major => Indicator::Major,
        Impact::Minor => Indicator::Minor,
        Impact::Maintenance => Indicator::Maintenance,
        Impact::None if maintenance => Indicator::Maintenance,
        Impact::None => Indicator::None,
    }
}

/// [`page_status`] of a whole snapshot: every component, the impacts of unresolved public
/// incidents and `maintenance` for each active maintenance.
pub fn snapshot_status(snapshot: &Snapshot) -> Indicator {
    let incidents = snapshot
        .incidents
        .iter()
        .filter(|i| is_unresolved_incident(i))
        .map(|i| i.impact);
    let maintenances = snapshot
        .maintenances
        .iter()
        .filter(|m| is_active_maintenance(m))
        .map(|_| Impact::Maintenance);
    let unresolved: Vec<Impact> = incidents.chain(maintenances).collect();
    page_status(&snapshot.components, &unresolved)
}

/// The incident's status is `investigating`, `identified` or `monitoring`.
pub fn is_unresolved_incident(incident: &PublicIncident) -> bool {
    matches!(
        incident.status.as_str(),
        "investigating" | "identified" | "monitoring"
    )
}

/// The maintenance's status, if `status` names one (`None` for an incident).
pub fn maintenance_status(item: &PublicIncident) -> Option<MaintenanceStatus> {
    item.schedule?;
    match item.status.as_str() {
        "scheduled" => Some(MaintenanceStatus::Scheduled),
        "in_progress" => Some(MaintenanceStatus::InProgress),
        "verifying" => Some(MaintenanceStatus::Verifying),
        "completed" => Some(MaintenanceStatus::Completed),
        _ => None,
    }
}

/// The maintenance is `in_progress` or `verifying` (§4.6 "active").
pub fn is_active_maintenance(item: &PublicIncident) -> bool {
    matches!(
        maintenance_status(item),
        Some(MaintenanceStatus::InProgress | MaintenanceStatus::Verifying)
    )
}

/// The maintenance is still `scheduled` (upcoming).
pub fn is_upcoming_maintenance(item: &PublicIncident) -> bool {
    maintenance_status(item) == Some(MaintenanceStatus::Scheduled)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ComponentStatus::*;

    pub(crate) fn component(id: &str, status: ComponentStatus) -> Component {
        let at: jiff::Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        Component {
            id: id.into(),
            name: format!("Component {id}"),
            description: None,
            status,
            position: 0,
            showcase: false,
            only_show_if_degraded: false,
            start_date: None,
            group_id: None,
            children: None,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn effective_status_is_the_worst_of_manual_and_incidents() {
        assert_eq!(effective_status(Operational, &[], false), Operational);
        assert_eq!(
            effective_status(DegradedPerformance, &[PartialOutage, Operational], false),
            PartialOutage
        );
        assert_eq!(
            effective_status(MajorOutage, &[DegradedPerformance], false),
            MajorOutage
        );
    }

    #[test]
    fn maintenance_ignores_incident_states_but_not_the_manual_one() {
        assert_eq!(
            effective_status(Operational, &[MajorOutage], true),
            UnderMaintenance
        );
        assert_eq!(
            effective_status(PartialOutage, &[MajorOutage], true),
            PartialOutage
        );
    }

    #[test]
    fn groups_show_their_worst_child() {
        assert_eq!(group_status(&[]), Operational);
        assert_eq!(
            group_status(&[Operational, PartialOutage, UnderMaintenance]),
            PartialOutage
        );
        assert_eq!(
            group_status(&[Operational, UnderMaintenance]),
            UnderMaintenance
        );
    }

    #[test]
    fn indicator_maps_component_states_and_impacts() {
        let page = |states: &[ComponentStatus], impacts: &[Impact]| {
            let components: Vec<Component> = states
                .iter()
                .enumerate()
                .map(|(i, s)| component(&i.to_string(), *s))
                .collect();
            page_status(&components, impacts)
        };

        assert_eq!(page(&[], &[]), Indicator::None);
        assert_eq!(page(&[Operational], &[]), Indicator::None);
        assert_eq!(
            page(&[Operational, DegradedPerformance], &[]),
            Indicator::Minor
        );
        assert_eq!(page(&[PartialOutage], &[Impact::Minor]), Indicator::Major);
        assert_eq!(page(&[MajorOutage], &[]), Indicator::Critical);
        assert_eq!(
            page(&[Operational], &[Impact::Critical]),
            Indicator::Critical
        );
        assert_eq!(
            page(&[UnderMaintenance, Operational], &[]),
            Indicator::Maintenance
        );
        assert_eq!(
            page(&[UnderMaintenance], &[Impact::Minor]),
            Indicator::Minor
        );
        assert_eq!(page(&[], &[Impact::Maintenance]), Indicator::Maintenance);
        assert_eq!(page(&[], &[Impact::None]), Indicator::None);
    }

    #[test]
    fn indicator_names_and_descriptions_follow_the_spec() {
        let all = [
            (Indicator::None, "none", "All Systems Operational"),
            (Indicator::Minor, "minor", "Minor Service Outage"),
            (Indicator::Major, "major", "Partial System Outage"),
            (Indicator::Critical, "critical", "Major Service Outage"),
            (
                Indicator::Maintenance,
                "maintenance",
                "Service Under Maintenance",
            ),
        ];
        for (indicator, name, description) in all {
            assert_eq!(indicator.as_str(), name);
            assert_eq!(indicator.description(), description);
        }
    }
}
