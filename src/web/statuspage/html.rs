//! Server-rendered status pages (comms spec §4.3): `/`, `/incidents/<id>`, `/history` and
//! `/subscribe`, from a [`Snapshot`].
//!
//! Pages are minijinja templates under `templates/` with HTML auto-escaping, so user text
//! reaches a page only escaped; the one value marked safe is an update body after
//! [`markdown::render`]. No script and no inline style: the look is [`STYLESHEET`], which
//! the HTTP layer serves at `/statuspage.css`, so a CSP of `default-src 'self'; style-src
//! 'self'` holds. Here we turn the snapshot into plain view values; the templates only lay
//! them out.

use std::sync::LazyLock;

use jiff::Timestamp;
use jiff::civil::Date;
use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value, syntax::SyntaxConfig};
use serde::Serialize;

use super::{impact_name, label, markdown, status_name};
use crate::domain::escape;
use crate::domain::statuspage::rollup::{
    self, is_active_maintenance, is_unresolved_incident, is_upcoming_maintenance,
};
use crate::domain::statuspage::uptime::{self, Report, Totals};
use crate::domain::statuspage::{
    Component, ComponentStatus, Impact, PublicIncident, Snapshot, time,
};

/// The page stylesheet, served at `/statuspage.css`.
pub const STYLESHEET: &str = include_str!("templates/statuspage.css");

/// How many page-zone days the front page lists under "Past incidents".
pub const PAST_DAYS: u32 = 14;

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    let syntax = SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build()
        .expect("the default delimiters are a valid syntax");
    env.set_syntax(syntax);
    env.set_formatter(escape_with_house_rules);
    let sources = [
        ("layout.html", include_str!("templates/layout.html")),
        ("parts.html", include_str!("templates/parts.html")),
        ("index.html", include_str!("templates/index.html")),
        ("incident.html", include_str!("templates/incident.html")),
        ("history.html", include_str!("templates/history.html")),
        ("subscribe.html", include_str!("templates/subscribe.html")),
    ];
    for (name, source) in sources {
        env.add_template(name, source)
            .expect("status page templates parse; every one is rendered by the tests");
    }
    env
});

/// Writes a template value: user text through `escape::html`, the crate's one HTML
/// escaper, so pages and hand-built fragments escape alike; values already marked safe
/// (rendered Markdown) and everything else go through minijinja's own formatter.
pub(crate) fn escape_with_house_rules(
    out: &mut minijinja::Output,
    state: &mut minijinja::State,
    value: &Value,
) -> Result<(), minijinja::Error> {
    let html = *state.auto_escape() == AutoEscape::Html;
    if !html || value.is_safe() || value.is_undefined() || value.is_none() {
        return minijinja::escape_formatter(out, state, value);
    }
    out.write_str(&escape::html(&value.to_string()))?;
    Ok(())
}

/// Shown if a template fails at run time, which the tests rule out for every page; it
/// carries no user text.
const FALLBACK: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Status</title></head><body><p>The status page cannot be shown right now.</p>\
</body></html>";

fn render(template: &str, context: impl Serialize) -> String {
    let rendered = TEMPLATES
        .get_template(template)
        .and_then(|t| t.render(Value::from(Serde(&context))));
    match rendered {
        Ok(html) => html,
        Err(err) => {
            tracing::error!(
                template,
                error = format!("{err:#}"),
                "status page render failed"
            );
            FALLBACK.to_string()
        }
    }
}

/// `/`: banner, active incidents, maintenance, components (90-day bars for showcased
/// ones, groups as `<details>`), then the last 14 days by page-zone date.
pub fn index(snapshot: &Snapshot, now: Timestamp) -> String {
    let indicator = rollup::snapshot_status(snapshot);
    let components = component_views(snapshot, now);
    let any_uptime = components
        .iter()
        .flat_map(|c| std::iter::once(c).chain(&c.members))
        .any(|c| c.uptime.is_some());

    let mut active: Vec<&PublicIncident> = snapshot
        .incidents
        .iter()
        .filter(|i| is_unresolved_incident(i))
        .collect();
    active.sort_by_key(|i| std::cmp::Reverse(i.created_at));
    let mut maintenances: Vec<&PublicIncident> = snapshot
        .maintenances
        .iter()
        .filter(|m| is_active_maintenance(m) || is_upcoming_maintenance(m))
        .collect();
    maintenances.sort_by_key(|m| m.schedule.map(|w| w.scheduled_for));

    let today = time::page_date(now, &snapshot.time_zone);
    let days = (0..PAST_DAYS)
        .filter_map(|back| today.checked_sub(jiff::Span::new().days(back)).ok())
        .map(|date| day_view(snapshot, date))
        .collect::<Vec<_>>();

    render(
        "index.html",
        IndexPage {
            page_name: &snapshot.name,
            indicator: indicator.as_str(),
            description: indicator.description(),
            active: active.into_iter().map(|i| item_view(snapshot, i)).collect(),
            maintenances: maintenances
                .into_iter()
                .map(|m| item_view(snapshot, m))
                .collect(),
            components,
            any_uptime,
            days,
        },
    )
}

/// `/incidents/<id>` for an incident or a maintenance; `None` for an unknown id.
pub fn incident(snapshot: &Snapshot, id: &str) -> Option<String> {
    let item = all_items(snapshot).find(|i| i.id == id)?;
    let page = IncidentPage {
        page_name: &snapshot.name,
        item: item_view(snapshot, item),
    };
    Some(render("incident.html", page))
}

/// `/history`: every incident and past or running maintenance, grouped by page-zone
/// creation date, newest first.
pub fn history(snapshot: &Snapshot) -> String {
    let mut items: Vec<&PublicIncident> = all_items(snapshot)
        .filter(|i| !is_upcoming_maintenance(i))
        .collect();
    items.sort_by_key(|i| std::cmp::Reverse(i.created_at));

    let mut days: Vec<DayView> = Vec::new();
    for item in items {
        let date = time::page_date(item.created_at, &snapshot.time_zone).to_string();
        let view = item_view(snapshot, item);
        match days.last_mut() {
            Some(day) if day.date == date => day.items.push(view),
            _ => days.push(DayView {
                date,
                items: vec![view],
            }),
        }
    }
    render(
        "history.html",
        HistoryPage {
            page_name: &snapshot.name,
            days,
        },
    )
}

/// `/subscribe`: a form POSTing `email` to `/subscribe`, with an optional message (the
/// answer to a previous POST) shown above it.
///
/// One checkbox per component (groups are not offered: notices name components): ticking
/// none means every notice (§4.8).
pub fn subscribe_form(snapshot: &Snapshot, message: Option<&str>) -> String {
    let choices = snapshot
        .components
        .iter()
        .filter(|c| c.children.is_none())
        .map(|c| Choice {
            id: &c.id,
            name: &c.name,
        })
        .collect();
    render(
        "subscribe.html",
        SubscribePage {
            page_name: &snapshot.name,
            message,
            choices,
        },
    )
}

fn all_items(snapshot: &Snapshot) -> impl Iterator<Item = &PublicIncident> {
    snapshot.incidents.iter().chain(&snapshot.maintenances)
}

#[derive(Serialize)]
struct IndexPage<'a> {
    page_name: &'a str,
    indicator: &'static str,
    description: &'static str,
    active: Vec<ItemView>,
    maintenances: Vec<ItemView>,
    components: Vec<ComponentView>,
    any_uptime: bool,
    days: Vec<DayView>,
}

#[derive(Serialize)]
struct IncidentPage<'a> {
    page_name: &'a str,
    item: ItemView,
}

#[derive(Serialize)]
struct HistoryPage<'a> {
    page_name: &'a str,
    days: Vec<DayView>,
}

#[derive(Serialize)]
struct SubscribePage<'a> {
    page_name: &'a str,
    message: Option<&'a str>,
    choices: Vec<Choice<'a>>,
}

/// A component checkbox on the subscribe form.
#[derive(Serialize)]
struct Choice<'a> {
    id: &'a str,
    name: &'a str,
}

/// An instant for `<time datetime="UTC">` plus its page-zone date and clock.
#[derive(Serialize)]
struct When {
    utc: String,
    date: String,
    clock: String,
}

fn when(snapshot: &Snapshot, ts: Timestamp) -> When {
    let tz = &snapshot.time_zone;
    When {
        utc: time::atom_time(ts),
        date: time::page_date(ts, tz).to_string(),
        clock: time::page_clock(ts, tz),
    }
}

#[derive(Serialize)]
struct WindowView {
    from: When,
    until: When,
}

#[derive(Serialize)]
struct UpdateView {
    status_label: String,
    /// Rendered Markdown, marked safe.
    body: Value,
    at: When,
}

#[derive(Serialize)]
struct ItemView {
    name: String,
    href: String,
    status_label: String,
    impact: &'static str,
    /// `None` for `impact = none`.
    impact_label: Option<String>,
    created: When,
    started: When,
    window: Option<WindowView>,
    /// Names of the affected components.
    components: Vec<String>,
    updates: Vec<UpdateView>,
}

fn item_view(snapshot: &Snapshot, item: &PublicIncident) -> ItemView {
    let impact = match item.schedule {
        Some(_) => Impact::Maintenance,
        None => item.impact,
    };
    let components = item
        .components
        .iter()
        .filter_map(|id| snapshot.components.iter().find(|c| &c.id == id))
        .map(|c| c.name.clone())
        .collect();
    let updates = item
        .updates
        .iter()
        .map(|u| UpdateView {
            status_label: label(&u.status),
            body: Value::from_safe_string(markdown::render(&u.body)),
            at: when(snapshot, u.display_at),
        })
        .collect();
    ItemView {
        name: item.name.clone(),
        href: format!("/incidents/{}", item.id),
        status_label: label(&item.status),
        impact: impact_name(impact),
        impact_label: (impact != Impact::None).then(|| label(impact_name(impact))),
        created: when(snapshot, item.created_at),
        started: when(snapshot, item.started_at),
        window: item.schedule.map(|w| WindowView {
            from: when(snapshot, w.scheduled_for),
            until: when(snapshot, w.scheduled_until),
        }),
        components,
        updates,
    }
}

#[derive(Serialize)]
struct DayView {
    /// `YYYY-MM-DD` in the page zone.
    date: String,
    items: Vec<ItemView>,
}

/// Incidents and non-upcoming maintenances created on `date` (page zone), newest first.
fn day_view(snapshot: &Snapshot, date: Date) -> DayView {
    let mut items: Vec<&PublicIncident> = all_items(snapshot)
        .filter(|i| !is_upcoming_maintenance(i))
        .filter(|i| time::page_date(i.created_at, &snapshot.time_zone) == date)
        .collect();
    items.sort_by_key(|i| std::cmp::Reverse(i.created_at));
    DayView {
        date: date.to_string(),
        items: items.into_iter().map(|i| item_view(snapshot, i)).collect(),
    }
}

#[derive(Serialize)]
struct ComponentView {
    name: String,
    description: Option<String>,
    status: &'static str,
    status_label: String,
    uptime: Option<UptimeView>,
    group: bool,
    /// Groups start open unless every member is operational.
    open: bool,
    members: Vec<ComponentView>,
}

#[derive(Serialize)]
struct UptimeView {
    /// The 90-day figure, `None` without eligible time.
    percent: Option<String>,
    bars: Vec<BarView>,
}

#[derive(Serialize)]
struct BarView {
    /// `bar bar-<colour>`, plus `maint` for the blue maintenance mark.
    class: String,
    title: String,
}

/// Top-level rows in page order: plain components and groups with their members.
/// `only_show_if_degraded` components stay hidden while operational, and so does a group
/// left with no member to show.
fn component_views(snapshot: &Snapshot, now: Timestamp) -> Vec<ComponentView> {
    let visible =
        |c: &&Component| !c.only_show_if_degraded || c.status != ComponentStatus::Operational;
    let mut views = Vec::new();
    for c in snapshot
        .components
        .iter()
        .filter(|c| c.group_id.is_none())
        .filter(visible)
    {
        let Some(children) = &c.children else {
            views.push(component_view(snapshot, c, now));
            continue;
        };
        let members: Vec<ComponentView> = children
            .iter()
            .filter_map(|id| snapshot.components.iter().find(|m| &m.id == id))
            .filter(visible)
            .map(|m| component_view(snapshot, m, now))
            .collect();
        if members.is_empty() {
            continue;
        }
        let member_states: Vec<ComponentStatus> = children
            .iter()
            .filter_map(|id| snapshot.components.iter().find(|m| &m.id == id))
            .map(|m| m.status)
            .collect();
        let status = rollup::group_status(&member_states).max(c.status);
        views.push(ComponentView {
            members,
            group: true,
            open: status != ComponentStatus::Operational,
            status: status_name(status),
            status_label: label(status_name(status)),
            ..component_view(snapshot, c, now)
        });
    }
    views
}

fn component_view(snapshot: &Snapshot, c: &Component, now: Timestamp) -> ComponentView {
    let uptime = (c.showcase && c.children.is_none())
        .then(|| uptime_view(&uptime::component_report(snapshot, c, now)));
    ComponentView {
        name: c.name.clone(),
        description: c.description.clone(),
        status: status_name(c.status),
        status_label: label(status_name(c.status)),
        uptime,
        group: false,
        open: false,
        members: Vec::new(),
    }
}

fn uptime_view(report: &Report) -> UptimeView {
    let bars = report
        .bars
        .iter()
        .map(|day| {
            let mark = if day.totals.has_maintenance() {
                " maint"
            } else {
                ""
            };
            BarView {
                class: format!("bar bar-{}{mark}", day.totals.colour().as_str()),
                title: bar_title(day.date, &day.totals),
            }
        })
        .collect();
    UptimeView {
        percent: report
            .period(uptime::BARS)
            .and_then(|t| t.percent())
            .map(|p| p.to_string()),
        bars,
    }
}

/// A bar's tooltip: the day's figure and where its time went, e.g.
/// `2025-02-01: 95.45 % uptime · down 60 min · no data 120 min`.
fn bar_title(date: Date, totals: &Totals) -> String {
    let mut parts = vec![match totals.percent() {
        Some(percent) => format!("{date}: {percent} % uptime"),
        None => format!("{date}: no data"),
    }];
    let counted = totals.percent().is_some();
    for (what, seconds, show) in [
        ("down", totals.down, true),
        ("maintenance", totals.maintenance, true),
        ("no data", totals.no_data, counted),
    ] {
        if show && seconds > 0 {
            parts.push(format!("{what} {} min", seconds / 60));
        }
    }
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{self, ts};
    use super::*;

    /// Nothing that a CSP of `default-src 'self'; style-src 'self'` would block or that
    /// could run script.
    fn assert_csp_clean(html: &str) {
        let lower = html.to_ascii_lowercase();
        assert!(!lower.contains("<script"), "script in page");
        assert!(!lower.contains(" style="), "inline style in page");
        assert!(!lower.contains("<style"), "style element in page");
        assert!(!lower.contains(" onload=") && !lower.contains(" onerror="));
        assert!(lower.contains("<meta name=\"viewport\""));
        assert!(lower.contains("<link rel=\"stylesheet\" href=\"/statuspage.css\">"));
    }

    #[test]
    fn index_shows_banner_components_incidents_and_maintenance() {
        let html = index(&fixtures::snapshot(), fixtures::now());

        assert_csp_clean(&html);
        assert!(html.contains(
            "<section class=\"banner indicator-major\">\n<h1>Partial System Outage</h1>"
        ));
        assert!(html.contains("<title>Acme &lt;Status&gt;</title>"));
        assert!(
            html.contains("<details open>"),
            "a degraded group starts open"
        );
        assert!(html.contains(
            "<span class=\"name\" title=\"Core &lt;services&gt;\">Core &lt;services&gt;</span>"
        ));
        assert!(
            !html.contains("Legacy FTP"),
            "only_show_if_degraded hides it"
        );
        assert!(html.contains("<p class=\"description\">Marketing &amp; docs</p>"));
        assert!(html.contains("<h2>Active incidents</h2>"));
        assert!(html.contains("API errors &lt;b&gt;oops&lt;/b&gt;"));
        assert!(!html.contains("<b>oops"));
        assert!(html.contains("Fix <strong>deploying</strong> &lt;script&gt;"));
        assert!(
            html.contains("<time datetime=\"2024-03-10T21:15:00Z\">2024-03-11 08:15 AEDT</time>")
        );
        let maintenance = &html[html.find("<h2>Scheduled maintenance</h2>").unwrap()..];
        let running = maintenance.find("Network work").unwrap();
        let upcoming = maintenance.find("DB upgrade").unwrap();
        assert!(running < upcoming, "soonest first");
    }

    #[test]
    fn showcased_components_get_ninety_bars_and_the_exclusion_note() {
        let html = index(&fixtures::snapshot(), fixtures::now());

        // API and Website are showcased; Database is not.
        assert_eq!(html.matches("<ol class=\"bars\">").count(), 2);
        assert_eq!(html.matches("<li class=\"bar bar-").count(), 180);
        assert!(html.contains(
            "<li class=\"bar bar-red\" title=\"2024-03-11: 83.33 % uptime · down 90 min\"></li>"
        ));
        assert!(html.contains("<span>100.00 % uptime</span>"));
        assert!(
            html.contains(
                "Uptime excludes scheduled maintenance and time without monitoring data."
            )
        );
    }

    #[test]
    fn past_days_are_grouped_by_page_zone_date() {
        let html = index(&fixtures::snapshot(), fixtures::now());
        let past = &html[html.find("<h2>Past incidents</h2>").unwrap()..];

        assert_eq!(past.matches("<h3 class=\"day\">").count(), 14);
        assert!(past.starts_with(
            "<h2>Past incidents</h2>\n<h3 class=\"day\"><time datetime=\"2024-03-11\">\
             2024-03-11</time></h3>\n<article"
        ));
        assert!(past.contains("<time datetime=\"2024-02-27\">2024-02-27</time>"));
        assert!(!past.contains("2024-02-26"));
        assert!(past.contains("No incidents reported."));
        assert!(
            !past.contains("DB upgrade"),
            "upcoming maintenance is not past"
        );
    }

    #[test]
    fn cm01_history_lists_incidents_under_the_page_zone_date() {
        let mut snapshot = fixtures::bare();
        snapshot.incidents = vec![
            fixtures::incident("b", "April", "resolved", "2024-04-10T20:30:00Z"),
            fixtures::incident("a", "March", "resolved", "2024-03-10T20:30:00Z"),
        ];

        let html = history(&snapshot);

        assert_csp_clean(&html);
        assert!(html.contains(
            "<h2 class=\"day\"><time datetime=\"2024-04-11\">2024-04-11</time></h2>\n\
             <ul class=\"history\">\n<li class=\"impact-minor\">\
             <time datetime=\"2024-04-10T20:30:00Z\">06:30 AEST</time>"
        ));
        assert!(html.contains(
            "<h2 class=\"day\"><time datetime=\"2024-03-11\">2024-03-11</time></h2>\n\
             <ul class=\"history\">\n<li class=\"impact-minor\">\
             <time datetime=\"2024-03-10T20:30:00Z\">07:30 AEDT</time>"
        ));
        assert!(html.find("2024-04-11").unwrap() < html.find("2024-03-11").unwrap());
    }

    #[test]
    fn cm02_page_times_follow_the_zone_setting() {
        let mut snapshot = fixtures::bare();
        snapshot.time_zone = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
        snapshot.maintenances = vec![fixtures::maintenance(
            "m1",
            "Upgrade",
            "scheduled",
            ("2024-06-01T08:00:00Z", "2024-06-01T09:00:00Z"),
        )];
        let page = |s: &Snapshot| incident(s, "m1").unwrap();

        let berlin = page(&snapshot);
        snapshot.time_zone = jiff::tz::TimeZone::UTC;
        let utc = page(&snapshot);

        assert!(
            berlin.contains("<time datetime=\"2024-06-01T08:00:00Z\">2024-06-01 10:00 CEST</time>")
        );
        assert!(
            utc.contains("<time datetime=\"2024-06-01T08:00:00Z\">2024-06-01 08:00 UTC</time>")
        );
    }

    #[test]
    fn incident_page_shows_updates_and_escapes_user_text() {
        let snapshot = fixtures::snapshot();

        let html = incident(&snapshot, "inc000000001").unwrap();

        assert_csp_clean(&html);
        assert!(
            html.contains(
                "<title>API errors &lt;b&gt;oops&lt;/b&gt; · Acme &lt;Status&gt;</title>"
            )
        );
        assert!(html.contains("<h1 class=\"name\" title=\"API errors &lt;b&gt;oops&lt;/b&gt;\">"));
        assert!(html.contains("Identified"));
        assert!(
            html.contains(
                "<span class=\"status\">Identified</span> · Impact: Major · Started <time"
            )
        );
        assert!(html.contains("Affected:\n<span title=\"API\">API</span></p>"));
        let newest = html.find("Fix <strong>deploying</strong>").unwrap();
        let oldest = html.find("Looking into it").unwrap();
        assert!(newest < oldest);
        assert_eq!(incident(&snapshot, "nope"), None);
        let maintenance = incident(&snapshot, "mnt000000001").unwrap();
        assert!(maintenance.contains(
            "Scheduled for <time datetime=\"2024-03-12T14:00:00Z\">2024-03-13 01:00 AEDT</time>"
        ));
    }

    #[test]
    fn subscribe_form_posts_email_and_shows_the_message_escaped() {
        let snapshot = fixtures::snapshot();

        let empty = subscribe_form(&snapshot, None);
        let answered = subscribe_form(&snapshot, Some("Check <your> inbox"));

        assert_csp_clean(&empty);
        assert!(empty.contains("<form class=\"subscribe\" method=\"post\" action=\"/subscribe\">"));
        assert!(empty.contains("name=\"email\" type=\"email\" required"));
        assert!(!empty.contains("role=\"status\""));
        assert!(
            answered.contains("<p class=\"message\" role=\"status\">Check &lt;your&gt; inbox</p>")
        );
    }

    #[test]
    fn cm05_banner_follows_the_one_rollup() {
        let mut snapshot = fixtures::bare();
        let banner = |s: &Snapshot| {
            let html = index(s, fixtures::now());
            let start = html.find("<h1>").unwrap() + 4;
            html[start..start + html[start..].find('<').unwrap()].to_string()
        };

        assert_eq!(banner(&snapshot), "All Systems Operational");
        snapshot.components = vec![fixtures::component(
            "c1",
            "A",
            ComponentStatus::Operational,
            0,
        )];
        assert_eq!(banner(&snapshot), "All Systems Operational");
        snapshot.components[0].status = ComponentStatus::DegradedPerformance;
        assert_eq!(banner(&snapshot), "Minor Service Outage");
    }

    #[test]
    fn cm06_cm07_bars_show_maintenance_marks_and_grey_gaps() {
        let mut snapshot = fixtures::bare();
        snapshot.time_zone = jiff::tz::TimeZone::UTC;
        let mut api = fixtures::component("c1", "API", ComponentStatus::Operational, 0);
        api.showcase = true;
        snapshot.components = vec![api];
        let interval =
            |status, start: &str, end: Option<&str>| crate::domain::statuspage::StateInterval {
                component_id: "c1".into(),
                status,
                start: ts(start),
                end: end.map(ts),
            };
        snapshot.intervals = vec![
            interval(
                ComponentStatus::Operational,
                "2024-01-01T00:00:00Z",
                Some("2024-03-05T02:00:00Z"),
            ),
            interval(
                ComponentStatus::UnderMaintenance,
                "2024-03-05T02:00:00Z",
                Some("2024-03-05T03:00:00Z"),
            ),
            interval(
                ComponentStatus::Operational,
                "2024-03-05T03:00:00Z",
                Some("2024-03-07T12:00:00Z"),
            ),
            interval(
                ComponentStatus::MajorOutage,
                "2024-03-07T12:00:00Z",
                Some("2024-03-07T13:00:00Z"),
            ),
            interval(ComponentStatus::Operational, "2024-03-07T13:00:00Z", None),
        ];
        snapshot.no_data = vec![(ts("2024-03-07T03:00:00Z"), ts("2024-03-07T05:00:00Z"))];

        let html = index(&snapshot, ts("2024-03-09T00:00:00Z"));

        assert!(html.contains(
            "<li class=\"bar bar-green maint\" title=\"2024-03-05: 100.00 % uptime · \
             maintenance 60 min\"></li>"
        ));
        assert!(html.contains(
            "<li class=\"bar bar-orange\" title=\"2024-03-07: 95.45 % uptime · down 60 min · \
             no data 120 min\"></li>"
        ));
        assert!(html.contains("<li class=\"bar bar-grey\" title=\"2023-12-31: no data\"></li>"));
        assert!(html.contains("Uptime excludes scheduled maintenance"));
    }

    #[test]
    fn stylesheet_wraps_long_names_and_has_no_imports() {
        assert!(STYLESHEET.contains("overflow-wrap: anywhere"));
        assert!(STYLESHEET.contains("-webkit-line-clamp: 3"));
        assert!(!STYLESHEET.contains("@import") && !STYLESHEET.contains("url("));
    }
}
