//! The signed-in web UI rendered (issue #7): login, dashboard, alert and incident pages,
//! and error pages.
//!
//! Templates under `templates/` are minijinja with HTML auto-escaping, written through the
//! status page's formatter (`escape_with_house_rules`), so both escape alike; nothing here
//! marks user text safe. Forms work without script: each carries the session's CSRF
//! token. Like the status page, these functions take plain values and return text; the
//! handlers in `http::ui` fetch the data and check who may see and do what.

pub mod admin;
pub mod comms;
pub mod learning;
pub mod reload;

pub mod schedules;

use std::sync::LazyLock;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use minijinja::value::Serde;
use minijinja::{Environment, UndefinedBehavior, Value, syntax::SyntaxConfig};
use serde::Serialize;

use crate::config::Config;
use crate::domain::accounts::Role;
use crate::domain::incident::Status;
use crate::domain::oncall::Shift;
use crate::store::alerts::{Alert, TimelineEntry};
use crate::store::incidents::{Event, Incident};

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    let syntax = SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build()
        .expect("the default delimiters are a valid syntax");
    env.set_syntax(syntax);
    env.set_formatter(crate::web::statuspage::html::escape_with_house_rules);
    let sources = [
        ("layout.html", include_str!("templates/layout.html")),
        ("parts.html", include_str!("templates/parts.html")),
        ("login.html", include_str!("templates/login.html")),
        ("dashboard.html", include_str!("templates/dashboard.html")),
        ("alert.html", include_str!("templates/alert.html")),
        ("incident.html", include_str!("templates/incident.html")),
        (
            "incident_forms.html",
            include_str!("templates/incident_forms.html"),
        ),
        ("error.html", include_str!("templates/error.html")),
        ("declare.html", include_str!("templates/declare.html")),
        ("schedules.html", include_str!("templates/schedules.html")),
        ("schedule.html", include_str!("templates/schedule.html")),
        ("services.html", include_str!("templates/services.html")),
        (
            "admin_users.html",
            include_str!("templates/admin_users.html"),
        ),
        (
            "comms_incident.html",
            include_str!("templates/comms_incident.html"),
        ),
        (
            "comms_status.html",
            include_str!("templates/comms_status.html"),
        ),
        (
            "comms_reports.html",
            include_str!("templates/comms_reports.html"),
        ),
        ("postmortem.html", include_str!("templates/postmortem.html")),
        ("actions.html", include_str!("templates/actions.html")),
        ("runbooks.html", include_str!("templates/runbooks.html")),
        ("runbook.html", include_str!("templates/runbook.html")),
        (
            "runbook_block.html",
            include_str!("templates/runbook_block.html"),
        ),
        (
            "config_reload.html",
            include_str!("templates/config_reload.html"),
        ),
    ];
    for (name, source) in sources {
        env.add_template(name, source)
            .expect("UI templates parse; every one is rendered by the tests");
    }
    env
});

/// Shown if a template fails at run time; carries no user text.
const FALLBACK: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>dutybell</title></head><body><p>This page cannot be shown right now.</p></body></html>";

fn render(template: &str, context: impl Serialize) -> String {
    let rendered = TEMPLATES
        .get_template(template)
        .and_then(|t| t.render(Value::from(Serde(&context))));
    match rendered {
        Ok(html) => html,
        Err(err) => {
            tracing::error!(template, error = format!("{err:#}"), "UI render failed");
            FALLBACK.to_string()
        }
    }
}

/// The signed-in user as the page header shows them, with the token their forms carry.
#[derive(Clone, Debug, Serialize)]
pub struct Me<'a> {
    pub login: &'a str,
    pub role: Role,
    pub csrf: &'a str,
}

/// How long ahead the dashboard looks for next shifts and the user's own.
pub const HORIZON_DAYS: i64 = 14;

/// `2025-06-12 03:00 UTC`: instants of alerts and incidents.
pub fn utc(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

/// `Thu 12 Jun 10:00 CEST`: shift edges, in the schedule's zone.
fn local(at: Timestamp, zone: &TimeZone) -> String {
    at.to_zoned(zone.clone())
        .strftime("%a %d %b %H:%M %Z")
        .to_string()
}

/// `Ana Ruiz` for a person in the config, else the id as given.
fn name(config: &Config, id: &str) -> String {
    config
        .person(id)
        .map_or_else(|| id.to_string(), |person| person.name.clone())
}

/// `/login`.
pub fn login(csrf: &str, login: &str, error: Option<&str>) -> String {
    #[derive(Serialize)]
    struct Page<'a> {
        me: Option<Me<'a>>,
        csrf: &'a str,
        login: &'a str,
        error: Option<&'a str>,
    }
    render(
        "login.html",
        Page {
            me: None,
            csrf,
            login,
            error,
        },
    )
}

/// One schedule's shifts now and next, as [`crate::domain::oncall::shifts`] gives them.
pub struct ScheduleShifts {
    pub id: String,
    pub time_zone: TimeZone,
    pub now: Vec<Shift>,
    pub next: Vec<Shift>,
}

/// What the dashboard shows.
pub struct Dashboard<'a> {
    pub me: Me<'a>,
    /// The user's person in team.toml, if linked.
    pub person: Option<&'a str>,
    pub alerts: &'a [Alert],
    pub incidents: &'a [Incident],
    pub schedules: &'a [ScheduleShifts],
    /// The user's own coming shifts: (schedule, its zone, shift).
    pub my_shifts: &'a [(String, TimeZone, Shift)],
}

#[derive(Serialize)]
struct AlertView<'a> {
    id: i64,
    summary: &'a str,
    service: &'a str,
    severity: &'a str,
    state: &'a str,
    source: &'a str,
    details: &'a str,
    runbook_url: Option<&'a str>,
    opened: String,
    acked: Option<String>,
    resolved: Option<String>,
}

fn alert_view(alert: &Alert) -> AlertView<'_> {
    let by = |at: Option<Timestamp>, who: &Option<String>| {
        at.map(|at| format!("{} by {}", utc(at), who.as_deref().unwrap_or("?")))
    };
    AlertView {
        id: alert.id,
        summary: &alert.summary,
        service: &alert.service_id,
        severity: alert.severity.as_str(),
        state: alert.state.as_str(),
        source: &alert.source,
        details: &alert.details,
        runbook_url: alert.runbook_url.as_deref(),
        opened: utc(alert.created_at),
        acked: by(alert.acked_at, &alert.acked_by),
        resolved: by(alert.resolved_at, &alert.resolved_by),
    }
}

#[derive(Serialize)]
struct IncidentView<'a> {
    number: i64,
    title: &'a str,
    severity: &'a str,
    status: &'a str,
    resolved: bool,
    commander: String,
    commander_id: &'a str,
    comms_lead_id: &'a str,
    public_id: Option<&'a str>,
    services: String,
    declared: String,
    declared_by: String,
    summary: &'a str,
    impact: &'a str,
}

fn incident_view<'a>(config: &Config, incident: &'a Incident) -> IncidentView<'a> {
    IncidentView {
        number: incident.number,
        title: &incident.title,
        severity: incident.severity.as_str(),
        status: incident.status.as_str(),
        resolved: incident.resolved_at.is_some(),
        commander: name(config, &incident.commander),
        commander_id: &incident.commander,
        comms_lead_id: incident.comms_lead.as_deref().unwrap_or(""),
        public_id: incident.public_incident_id.as_deref(),
        services: incident.services.join(", "),
        declared: utc(incident.declared_at),
        declared_by: name(config, &incident.declared_by),
        summary: &incident.summary,
        impact: &incident.impact,
    }
}

/// `/ui`: open alerts with Ack buttons, open incidents, who is on call now and next per
/// schedule, and the user's own shifts.
pub fn dashboard(config: &Config, data: &Dashboard<'_>) -> String {
    #[derive(Serialize)]
    struct ShiftView {
        name: String,
        from: String,
        until: String,
    }
    #[derive(Serialize)]
    struct ScheduleView<'a> {
        id: &'a str,
        now: Vec<ShiftView>,
        next: Vec<ShiftView>,
    }
    #[derive(Serialize)]
    struct MyShift<'a> {
        schedule: &'a str,
        from: String,
        until: String,
    }
    #[derive(Serialize)]
    struct Page<'a> {
        me: &'a Me<'a>,
        can_act: bool,
        person: Option<&'a str>,
        alerts: Vec<AlertView<'a>>,
        incidents: Vec<IncidentView<'a>>,
        schedules: Vec<ScheduleView<'a>>,
        my_shifts: Vec<MyShift<'a>>,
        horizon_days: i64,
    }
    let shift = |shift: &Shift, zone: &TimeZone| ShiftView {
        name: name(config, &shift.person),
        from: local(shift.start, zone),
        until: local(shift.end, zone),
    };
    let schedules = data
        .schedules
        .iter()
        .map(|s| ScheduleView {
            id: &s.id,
            now: s.now.iter().map(|x| shift(x, &s.time_zone)).collect(),
            next: s.next.iter().map(|x| shift(x, &s.time_zone)).collect(),
        })
        .collect();
    let my_shifts = data
        .my_shifts
        .iter()
        .map(|(schedule, zone, shift)| MyShift {
            schedule,
            from: local(shift.start, zone),
            until: local(shift.end, zone),
        })
        .collect();
    render(
        "dashboard.html",
        Page {
            me: &data.me,
            can_act: data.me.role.allows(Role::Responder),
            person: data.person,
            alerts: data.alerts.iter().map(alert_view).collect(),
            incidents: data
                .incidents
                .iter()
                .map(|i| incident_view(config, i))
                .collect(),
            schedules,
            my_shifts,
            horizon_days: HORIZON_DAYS,
        },
    )
}

#[derive(Serialize)]
struct EntryView<'a> {
    at: String,
    kind: &'a str,
    actor: &'a str,
    detail: String,
}

/// `/ui/alerts/{id}`: the alert, its timeline, Ack/Resolve for responders, and the
/// incidents it belongs to (`(number, open)`) or, in none yet, the promote form. (The engine
/// would promote an alert again once its incidents are resolved; the API and CLI can.)
pub fn alert(
    me: &Me<'_>,
    alert: &Alert,
    timeline: &[TimelineEntry],
    incidents: &[(i64, bool)],
) -> String {
    #[derive(Serialize)]
    struct InIncident {
        number: i64,
        open: bool,
    }
    #[derive(Serialize)]
    struct Page<'a> {
        me: &'a Me<'a>,
        can_act: bool,
        alert: AlertView<'a>,
        timeline: Vec<EntryView<'a>>,
        incidents: Vec<InIncident>,
        may_promote: bool,
        severities: &'static [&'static str],
    }
    let timeline = timeline
        .iter()
        .map(|entry| EntryView {
            at: utc(entry.at),
            kind: &entry.kind,
            actor: entry.actor.as_deref().unwrap_or(""),
            detail: compact(&entry.detail),
        })
        .collect();
    render(
        "alert.html",
        Page {
            me,
            can_act: me.role.allows(Role::Responder),
            alert: alert_view(alert),
            timeline,
            incidents: incidents
                .iter()
                .map(|&(number, open)| InIncident { number, open })
                .collect(),
            may_promote: incidents.is_empty(),
            severities: &comms::SEVERITIES,
        },
    )
}

/// What the incident page offers besides the incident and its timeline: the choices its
/// forms need (the same forms as `/ui/incidents/{n}/comms`) and the postmortem's state.
pub struct IncidentExtras<'a> {
    pub people: &'a [comms::PersonOption],
    /// The viewer's zone (their person's, else UTC): notes are typed in it.
    pub zone: &'a str,
    pub components: &'a [comms::ComponentView],
    /// The postmortem's status, if the incident has one.
    pub postmortem: Option<&'a str>,
}

/// `/ui/incidents/{number}`: the incident, its timeline, and for responders the status,
/// severity, people, note, update and public-post forms, and the postmortem's link or,
/// resolved without one, "request a draft" (and "skip" for a P3).
pub fn incident(
    config: &Config,
    me: &Me<'_>,
    incident: &Incident,
    events: &[Event],
    extras: &IncidentExtras<'_>,
) -> String {
    #[derive(Serialize)]
    struct Page<'a> {
        me: &'a Me<'a>,
        can_act: bool,
        incident: IncidentView<'a>,
        statuses: Vec<&'static str>,
        timeline: Vec<EntryView<'a>>,
        people: &'a [comms::PersonOption],
        zone: &'a str,
        components: &'a [comms::ComponentView],
        postmortem: Option<&'a str>,
        severities: &'static [&'static str],
        public_statuses: &'static [&'static str],
        component_statuses: &'static [&'static str],
        back: &'static str,
    }
    let timeline = events
        .iter()
        .map(|event| EntryView {
            at: utc(event.occurred_at),
            kind: &event.kind,
            actor: &event.actor,
            detail: event
                .data
                .get("text")
                .and_then(serde_json::Value::as_str)
                .map_or_else(|| compact(&event.data), str::to_string),
        })
        .collect();
    render(
        "incident.html",
        Page {
            me,
            can_act: me.role.allows(Role::Responder),
            incident: incident_view(config, incident),
            statuses: Status::ALL.iter().map(|s| s.as_str()).collect(),
            timeline,
            people: extras.people,
            zone: extras.zone,
            components: extras.components,
            postmortem: extras.postmortem,
            severities: &comms::SEVERITIES,
            public_statuses: &comms::PUBLIC_STATUSES,
            component_statuses: &comms::INCIDENT_COMPONENT_STATUSES,
            back: "incident",
        },
    )
}

/// `/ui/incidents/new`: the declaration form, one service to pick from `services`.
pub fn declare(me: &Me<'_>, person: Option<&str>, services: &[&str]) -> String {
    #[derive(Serialize)]
    struct Page<'a> {
        me: &'a Me<'a>,
        person: Option<&'a str>,
        services: &'a [&'a str],
    }
    render(
        "declare.html",
        Page {
            me,
            person,
            services,
        },
    )
}

/// An error page; `login_link` offers the login form instead of the dashboard.
pub fn error(me: Option<&Me<'_>>, heading: &str, message: &str, login_link: bool) -> String {
    #[derive(Serialize)]
    struct Page<'a> {
        me: Option<&'a Me<'a>>,
        heading: &'a str,
        message: &'a str,
        login_link: bool,
    }
    render(
        "error.html",
        Page {
            me,
            heading,
            message,
            login_link,
        },
    )
}

/// A timeline detail as one line of JSON; `{}` shows as nothing.
fn compact(detail: &serde_json::Value) -> String {
    match detail {
        serde_json::Value::Null => String::new(),
        serde_json::Value::Object(map) if map.is_empty() => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_page_escapes_the_login_and_carries_the_token() {
        let page = login(
            "tok123",
            "<script>x</script>",
            Some("Wrong login or password."),
        );

        assert!(page.contains(r#"name="csrf" value="tok123""#));
        assert!(page.contains("&lt;script&gt;x&lt;/script&gt;"));
        assert!(!page.contains("<script>x"));
        assert!(page.contains("Wrong login or password."));
    }

    #[test]
    fn error_page_escapes_its_message() {
        let me = Me {
            login: "ana",
            role: Role::Viewer,
            csrf: "t",
        };
        let page = error(Some(&me), "Forbidden", "<b>no</b>", false);

        assert!(page.contains("&lt;b&gt;no&lt;/b&gt;"));
        assert!(page.contains(r#"<span id="me">ana (viewer)</span>"#));
    }
}
