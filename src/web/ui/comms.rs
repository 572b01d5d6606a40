//! The web UI's comms pages rendered (issue #7, comms spec §1, §4): an incident's actions
//! and public updates, the status-page admin page and the reports page (with server-side
//! SVG bars).
//!
//! Templates live beside the other UI templates and extend the same `layout.html`; they are
//! rendered here through their own environment with the same escaping formatter, so no
//! user text is ever marked safe. Handlers in `http::ui` gather plain values; these
//! functions only shape and render them.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;

use super::{Me, render};
use crate::domain::accounts::Role;
use crate::domain::reports::load::Load;
use crate::domain::reports::response::Response;
use crate::domain::reports::{self, Period, hygiene};

/// `2025-06-12 05:00 CEST (Europe/Berlin)`: the viewer's local time, shown on hover.
pub fn local(at: Timestamp, zone: &TimeZone) -> String {
    let name = zone.iana_name().unwrap_or("UTC");
    let shown = at.to_zoned(zone.clone()).strftime("%Y-%m-%d %H:%M %Z");
    format!("{shown} ({name})")
}

/// A person to pick.
#[derive(Clone, Debug, Serialize)]
pub struct PersonOption {
    pub id: String,
    pub name: String,
}

/// A status-page component with its effective state now.
#[derive(Clone, Debug, Serialize)]
pub struct ComponentView {
    pub key: String,
    pub name: String,
    pub status: String,
}

/// The incident as the actions page heads it.
#[derive(Clone, Debug, Serialize)]
pub struct IncidentHead {
    pub number: i64,
    pub title: String,
    pub status: String,
    pub severity: String,
    pub commander: String,
    pub commander_id: String,
    pub comms_lead: String,
    pub comms_lead_id: String,
    pub public_id: Option<String>,
}

/// One timeline entry: UTC shown, the viewer's local time as its `title`.
#[derive(Clone, Debug, Serialize)]
pub struct TimelineView {
    pub at: String,
    pub local: String,
    pub kind: String,
    pub actor: String,
    pub detail: String,
}

/// What `/ui/incidents/{n}/comms` shows.
pub struct IncidentComms<'a> {
    pub me: Me<'a>,
    pub incident: IncidentHead,
    pub people: Vec<PersonOption>,
    /// The viewer's zone (their person's, else UTC): notes are typed in it.
    pub zone: String,
    pub components: Vec<ComponentView>,
    pub timeline: Vec<TimelineView>,
}

pub(super) const SEVERITIES: [&str; 3] = ["P1", "P2", "P3"];
pub(super) const PUBLIC_STATUSES: [&str; 4] =
    ["investigating", "identified", "monitoring", "resolved"];
/// `under_maintenance` is left out: that is what maintenances are for.
pub(super) const INCIDENT_COMPONENT_STATUSES: [&str; 4] = [
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
];
const COMPONENT_STATUSES: [&str; 5] = [
    "operational",
    "under_maintenance",
    "degraded_performance",
    "partial_outage",
    "major_outage",
];
const MAINTENANCE_STATUSES: [&str; 4] = ["scheduled", "in_progress", "verifying", "completed"];

/// `/ui/incidents/{n}/comms`: severity, commander, comms lead, note, internal update and
/// the public post forms (responders), and the timeline.
pub fn incident(page: &IncidentComms<'_>) -> String {
    #[derive(Serialize)]
    struct Page<'a> {
        me: &'a Me<'a>,
        can_act: bool,
        incident: &'a IncidentHead,
        people: &'a [PersonOption],
        zone: &'a str,
        components: &'a [ComponentView],
        timeline: &'a [TimelineView],
        severities: &'static [&'static str],
        public_statuses: &'static [&'static str],
        component_statuses: &'static [&'static str],
        /// Forms on this page come back to it.
        back: Option<&'static str>,
    }
    render(
        "comms_incident.html",
        Page {
            me: &page.me,
            can_act: page.me.role.allows(Role::Responder),
            incident: &page.incident,
            people: &page.people,
            zone: &page.zone,
            components: &page.components,
            timeline: &page.timeline,
            severities: &SEVERITIES,
            public_statuses: &PUBLIC_STATUSES,
            component_statuses: &INCIDENT_COMPONENT_STATUSES,
            back: None,
        },
    )
}

/// A maintenance row.
#[derive(Clone, Debug, Serialize)]
pub struct MaintenanceView {
    pub id: String,
    pub name: String,
    pub status: String,
    pub window: String,
}

/// A recent public incident row.
#[derive(Clone, Debug, Serialize)]
pub struct PublicIncidentView {
    pub name: String,
    pub status: String,
    pub impact: String,
    pub started: String,
}

/// What `/ui/status` shows.
pub struct StatusAdmin<'a> {
    pub me: Me<'a>,
    pub page_zone: String,
    pub components: Vec<ComponentView>,
    pub maintenances: Vec<MaintenanceView>,
    pub incidents: Vec<PublicIncidentView>,
}

/// `/ui/status`: components and their states, maintenances, recent public incidents;
/// the edit forms for admins.
pub fn status(page: &StatusAdmin<'_>) -> String {
    #[derive(Serialize)]
    struct Page<'a> {
        me: &'a Me<'a>,
        is_admin: bool,
        page_zone: &'a str,
        components: &'a [ComponentView],
        maintenances: &'a [MaintenanceView],
        incidents: &'a [PublicIncidentView],
        component_statuses: &'static [&'static str],
        maintenance_statuses: &'static [&'static str],
    }
    render(
        "comms_status.html",
        Page {
            me: &page.me,
            is_admin: page.me.role.allows(Role::Admin),
            page_zone: &page.page_zone,
            components: &page.components,
            maintenances: &page.maintenances,
            incidents: &page.incidents,
            component_statuses: &COMPONENT_STATUSES,
            maintenance_statuses: &MAINTENANCE_STATUSES,
        },
    )
}

/// What `/ui/reports` shows: the report functions' own rows, already computed.
pub struct Reports<'a> {
    pub me: Me<'a>,
    pub days: u32,
    pub period: Period,
    pub hygiene: &'a [hygiene::Row],
    pub load: &'a Load,
    pub response: &'a Response,
    /// A person id to their display name.
    pub names: &'a dyn Fn(&str) -> String,
}

/// Widest bar in the load chart, in SVG units.
const BAR_MAX: usize = 240;

/// `/ui/reports`: hygiene (flagged rows marked), on-call load with per-person bars as
/// server-side SVG, and MTTA/MTTR per service and severity.
pub fn reports(data: &Reports<'_>) -> String {
    #[derive(Serialize)]
    struct HygieneView<'a> {
        service: &'a str,
        alert: &'a str,
        fires: usize,
        open: usize,
        no_action: usize,
        rate: String,
        last: String,
        flagged: bool,
    }
    #[derive(Serialize)]
    struct PersonView {
        id: String,
        name: String,
        pages: usize,
        notifications: usize,
        night_pages: usize,
        owed_rest: String,
    }
    #[derive(Serialize)]
    struct Bar {
        label: String,
        pages: usize,
        y: usize,
        width: usize,
    }
    #[derive(Serialize)]
    struct MttaView<'a> {
        service: &'a str,
        severity: &'a str,
        alerts: usize,
        acked: usize,
        mean: String,
        median: String,
        p90: String,
        never: String,
    }
    #[derive(Serialize)]
    struct MttrView<'a> {
        service: &'a str,
        severity: &'a str,
        incidents: usize,
        mean: String,
        median: String,
        p90: String,
    }
    #[derive(Serialize)]
    struct Page<'a> {
        me: &'a Me<'a>,
        days: u32,
        period: String,
        hygiene: Vec<HygieneView<'a>>,
        bars: Vec<Bar>,
        chart_height: usize,
        people: Vec<PersonView>,
        mtta: Vec<MttaView<'a>>,
        mttr: Vec<MttrView<'a>>,
    }
    let hygiene = data
        .hygiene
        .iter()
        .map(|r| HygieneView {
            service: &r.service,
            alert: &r.alert,
            fires: r.fires,
            open: r.open,
            no_action: r.no_action,
            rate: reports::percent(r.action_rate),
            last: reports::utc(r.last_fired),
            flagged: r.flagged,
        })
        .collect();
    let most = data.load.people.iter().map(|p| p.pages).max().unwrap_or(0);
    let bars: Vec<Bar> = data
        .load
        .people
        .iter()
        .enumerate()
        .map(|(i, p)| Bar {
            label: (data.names)(&p.person),
            pages: p.pages,
            y: i * 24,
            width: (p.pages * BAR_MAX).checked_div(most).unwrap_or(0),
        })
        .collect();
    let chart_height = bars.len() * 24 + 4;
    let people = data
        .load
        .people
        .iter()
        .map(|p| PersonView {
            id: p.person.clone(),
            name: (data.names)(&p.person),
            pages: p.pages,
            notifications: p.notifications,
            night_pages: p.night_pages,
            owed_rest: p
                .owed_rest
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect();
    let mtta = data
        .response
        .mtta
        .iter()
        .map(|r| MttaView {
            service: &r.service,
            severity: &r.severity,
            alerts: r.alerts,
            acked: r.ack.count,
            mean: reports::human_secs(r.ack.mean_s),
            median: reports::human_secs(r.ack.median_s),
            p90: reports::human_secs(r.ack.p90_s),
            never: format!("{} ({:.1}%)", r.never_acked, r.never_acked_share),
        })
        .collect();
    let mttr = data
        .response
        .mttr
        .iter()
        .map(|r| MttrView {
            service: &r.service,
            severity: &r.severity,
            incidents: r.incidents,
            mean: reports::human_secs(r.resolve.mean_s),
            median: reports::human_secs(r.resolve.median_s),
            p90: reports::human_secs(r.resolve.p90_s),
        })
        .collect();
    render(
        "comms_reports.html",
        Page {
            me: &data.me,
            days: data.days,
            period: format!(
                "{} to {} UTC",
                reports::utc(data.period.start),
                reports::utc(data.period.end)
            ),
            hygiene,
            bars,
            chart_height,
            people,
            mtta,
            mttr,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::reports::load::PersonLoad;

    fn me() -> Me<'static> {
        Me {
            login: "ana",
            role: Role::Viewer,
            csrf: "t",
        }
    }

    #[test]
    fn reports_page_renders_bars_with_escaped_labels() {
        let load = Load {
            people: vec![
                PersonLoad {
                    person: "ben".into(),
                    pages: 4,
                    notifications: 8,
                    night_pages: 3,
                    owed_rest: vec![],
                },
                PersonLoad {
                    person: "x".into(),
                    pages: 1,
                    notifications: 1,
                    night_pages: 0,
                    owed_rest: vec![],
                },
            ],
            shifts: vec![],
        };
        let response = Response {
            mtta: vec![],
            mttr: vec![],
        };
        let names = |id: &str| format!("<b>{id}</b>");
        let at: Timestamp = "2025-06-12T08:00:00Z".parse().expect("an instant");
        let page = reports(&Reports {
            me: me(),
            days: 30,
            period: Period::last_days(at, 30),
            hygiene: &[],
            load: &load,
            response: &response,
            names: &names,
        });

        assert!(
            page.contains("<rect x=\"120\" y=\"0\" width=\"240\""),
            "{page}"
        );
        assert!(
            page.contains("<rect x=\"120\" y=\"24\" width=\"60\""),
            "{page}"
        );
        assert!(page.contains("&lt;b&gt;ben&lt;/b&gt;"), "{page}");
        assert!(!page.contains("<b>ben"));
    }
}
