//! A status page to render in tests: a group of two components, two plain ones, an
//! unresolved and a resolved incident, and scheduled, active and completed maintenances,
//! in Australia/Sydney. User text carries markup so escaping shows.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::domain::statuspage::{
    AffectedComponent, Component, ComponentStatus, Impact, MaintenanceWindow, PublicIncident,
    Snapshot, StateInterval, Update,
};

pub fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// When the fixture is rendered: 09:00 AEDT on 2024-03-11.
pub fn now() -> Timestamp {
    ts("2024-03-10T22:00:00Z")
}

pub fn component(id: &str, name: &str, status: ComponentStatus, position: u32) -> Component {
    Component {
        id: id.into(),
        name: name.into(),
        description: None,
        status,
        position,
        showcase: false,
        only_show_if_degraded: false,
        start_date: None,
        group_id: None,
        children: None,
        created_at: ts("2024-01-01T00:00:00Z"),
        updated_at: ts("2024-03-10T20:30:00Z"),
    }
}

pub fn update(id: &str, status: &str, body: &str, at: &str) -> Update {
    Update {
        id: id.into(),
        status: status.into(),
        body: body.into(),
        created_at: ts(at),
        updated_at: ts(at),
        display_at: ts(at),
        affected_components: None,
        deliver_notifications: true,
    }
}

pub fn incident(id: &str, name: &str, status: &str, created: &str) -> PublicIncident {
    PublicIncident {
        id: id.into(),
        name: name.into(),
        status: status.into(),
        impact: Impact::Minor,
        created_at: ts(created),
        updated_at: ts(created),
        monitoring_at: None,
        resolved_at: None,
        started_at: ts(created),
        updates: vec![update(&format!("{id}-u1"), status, "First update", created)],
        components: Vec::new(),
        schedule: None,
    }
}

pub fn maintenance(id: &str, name: &str, status: &str, window: (&str, &str)) -> PublicIncident {
    let mut item = incident(id, name, status, "2024-03-05T09:00:00Z");
    item.impact = Impact::Maintenance;
    item.schedule = Some(MaintenanceWindow {
        scheduled_for: ts(window.0),
        scheduled_until: ts(window.1),
    });
    item
}

/// A page with nothing on it.
pub fn bare() -> Snapshot {
    Snapshot {
        page_id: "page00000001".into(),
        name: "Acme <Status>".into(),
        url: "https://status.example.com".into(),
        time_zone: TimeZone::get("Australia/Sydney").unwrap(),
        updated_at: ts("2024-03-10T21:15:00Z"),
        components: Vec::new(),
        incidents: Vec::new(),
        maintenances: Vec::new(),
        intervals: Vec::new(),
        no_data: Vec::new(),
        built_at: now(),
    }
}

/// The full fixture page.
pub fn snapshot() -> Snapshot {
    let mut group = component(
        "grp000000001",
        "Core <services>",
        ComponentStatus::PartialOutage,
        0,
    );
    group.children = Some(vec!["cmp000000001".into(), "cmp000000002".into()]);
    let mut api = component("cmp000000001", "API", ComponentStatus::PartialOutage, 1);
    api.group_id = Some(group.id.clone());
    api.showcase = true;
    api.start_date = Some(jiff::civil::date(2024, 1, 1));
    let mut db = component("cmp000000002", "Database", ComponentStatus::Operational, 2);
    db.group_id = Some(group.id.clone());
    let mut web = component("cmp000000003", "Website", ComponentStatus::Operational, 3);
    web.showcase = true;
    web.description = Some("Marketing & docs".into());
    let mut ftp = component(
        "cmp000000004",
        "Legacy FTP",
        ComponentStatus::Operational,
        4,
    );
    ftp.only_show_if_degraded = true;

    let mut open = incident(
        "inc000000001",
        "API errors <b>oops</b>",
        "identified",
        "2024-03-10T20:30:00Z",
    );
    open.impact = Impact::Major;
    open.updated_at = ts("2024-03-10T21:00:00Z");
    open.components = vec![api.id.clone()];
    let mut second = update(
        "upd000000002",
        "identified",
        "Fix **deploying** <script>alert(1)</script>",
        "2024-03-10T21:15:00Z",
    );
    second.affected_components = Some(vec![AffectedComponent {
        code: api.id.clone(),
        name: api.name.clone(),
        old_status: ComponentStatus::DegradedPerformance,
        new_status: ComponentStatus::PartialOutage,
    }]);
    let first = update(
        "upd000000001",
        "investigating",
        "Looking into it",
        "2024-03-10T20:30:00Z",
    );
    open.updates = vec![second, first];

    let mut old = incident(
        "inc000000000",
        "Old outage",
        "resolved",
        "2024-03-01T10:00:00Z",
    );
    old.resolved_at = Some(ts("2024-03-01T11:00:00Z"));
    old.updated_at = ts("2024-03-01T11:00:00Z");

    let mut upcoming = maintenance(
        "mnt000000001",
        "DB upgrade",
        "scheduled",
        ("2024-03-12T14:00:00Z", "2024-03-12T16:00:00Z"),
    );
    upcoming.components = vec![db.id.clone()];
    let active = maintenance(
        "mnt000000002",
        "Network work",
        "in_progress",
        ("2024-03-10T19:00:00Z", "2024-03-10T23:00:00Z"),
    );
    let done = maintenance(
        "mnt000000003",
        "Old maintenance",
        "completed",
        ("2024-03-02T19:00:00Z", "2024-03-02T21:00:00Z"),
    );

    let interval = |id: &str, status, start: &str, end: Option<&str>| StateInterval {
        component_id: id.into(),
        status,
        start: ts(start),
        end: end.map(ts),
    };
    let intervals = vec![
        interval(
            "cmp000000001",
            ComponentStatus::Operational,
            "2024-01-01T00:00:00Z",
            Some("2024-03-10T20:30:00Z"),
        ),
        interval(
            "cmp000000001",
            ComponentStatus::PartialOutage,
            "2024-03-10T20:30:00Z",
            None,
        ),
        interval(
            "cmp000000003",
            ComponentStatus::Operational,
            "2023-12-01T00:00:00Z",
            None,
        ),
    ];

    Snapshot {
        components: vec![group, api, db, web, ftp],
        incidents: vec![open, old],
        maintenances: vec![upcoming, active, done],
        intervals,
        ..bare()
    }
}
