//! The UI's schedule and service pages rendered (issue #7): the schedules list, one
//! schedule's month calendar with its overrides and override forms, and the services page
//! with copy-ready intake URLs and receiver snippets.
//!
//! Like the rest of `web::ui`, these take plain values (shifts already computed by
//! `domain::oncall::shifts`, keys already masked or not) and return text; the handlers in
//! `http::ui` decide who sees what. The only computing here is laying shifts out by local
//! day, which is presentation.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;

use super::{Me, name, render};
use crate::config::{Config, Integration, IntegrationKind};
use crate::domain::accounts::Role;
use crate::domain::oncall::{OverrideKind, Shift};
use crate::store::overrides::StoredOverride;

/// One row of `/ui/schedules`.
pub struct ScheduleRow<'a> {
    pub id: &'a str,
    pub time_zone: &'a TimeZone,
    /// Person ids on call now.
    pub on_call: Vec<String>,
}

/// `/ui/schedules`: every schedule, its zone and who is on call now.
pub fn schedules(config: &Config, me: &Me<'_>, rows: &[ScheduleRow<'_>]) -> String {
    #[derive(Serialize)]
    struct Row<'a> {
        id: &'a str,
        zone: &'a str,
        on_call: Vec<String>,
    }
    #[derive(Serialize)]
    struct Page<'a> {
        me: &'a Me<'a>,
        schedules: Vec<Row<'a>>,
    }
    let schedules = rows
        .iter()
        .map(|row| Row {
            id: row.id,
            zone: zone_name(row.time_zone),
            on_call: row.on_call.iter().map(|p| name(config, p)).collect(),
        })
        .collect();
    render("schedules.html", Page { me, schedules })
}

fn zone_name(zone: &TimeZone) -> &str {
    zone.iana_name().unwrap_or("UTC")
}

/// The first day of the month `YYYY-MM`, or `None` if `text` is not one.
pub fn parse_month(text: &str) -> Option<Date> {
    let bytes = text.as_bytes();
    if bytes.len() != 7 || bytes[4] != b'-' {
        return None;
    }
    format!("{text}-01").parse().ok()
}

/// Each day of the month starting `first`, with the instants its local day starts and
/// ends in `zone` (a DST day is 23 or 25 hours long).
pub fn month_days(
    first: Date,
    zone: &TimeZone,
) -> Result<Vec<(Date, Timestamp, Timestamp)>, jiff::Error> {
    let mut days = Vec::new();
    let mut day = first.first_of_month();
    while day.month() == first.month() {
        let next = day.tomorrow()?;
        let start = day.to_zoned(zone.clone())?.timestamp();
        let end = next.to_zoned(zone.clone())?.timestamp();
        days.push((day, start, end));
        day = next;
    }
    Ok(days)
}

/// What a schedule's month page shows.
pub struct MonthPage<'a> {
    pub me: Me<'a>,
    pub id: &'a str,
    pub time_zone: &'a TimeZone,
    /// The month's first day.
    pub month: Date,
    /// Today in the schedule's zone, marked in the calendar.
    pub today: Date,
    /// `shifts()` over the whole month, stored overrides merged in.
    pub shifts: &'a [Shift],
    /// The schedule's stored overrides, in creation order.
    pub overrides: &'a [StoredOverride],
}

/// `/ui/schedules/{id}?month=YYYY-MM`: a calendar of the month, one cell per local day
/// listing who is on call from when to when (`24:00` when a shift runs past midnight), the
/// overrides, and for responders the add and delete forms.
pub fn schedule(config: &Config, page: &MonthPage<'_>) -> Result<String, jiff::Error> {
    #[derive(Serialize)]
    struct Entry {
        name: String,
        from: String,
        to: String,
    }
    #[derive(Serialize)]
    struct Day {
        date: String,
        day: i8,
        today: bool,
        entries: Vec<Entry>,
    }
    #[derive(Serialize)]
    struct OverrideRow<'a> {
        id: i64,
        what: String,
        from: String,
        until: String,
        by: &'a str,
    }
    #[derive(Serialize)]
    struct PersonOption<'a> {
        id: &'a str,
        name: &'a str,
    }
    #[derive(Serialize)]
    struct Page<'a> {
        me: &'a Me<'a>,
        can_act: bool,
        id: &'a str,
        zone: &'a str,
        month: String,
        month_name: String,
        prev: String,
        next: String,
        weeks: Vec<Vec<Option<Day>>>,
        overrides: Vec<OverrideRow<'a>>,
        people: Vec<PersonOption<'a>>,
    }
    let zone = page.time_zone;
    let clock = |at: Timestamp| at.to_zoned(zone.clone()).strftime("%H:%M").to_string();
    let mut weeks: Vec<Vec<Option<Day>>> = Vec::new();
    let lead = usize::try_from(page.month.weekday().to_monday_zero_offset()).unwrap_or(0);
    let mut week: Vec<Option<Day>> = (0..lead).map(|_| None).collect();
    for (date, start, end) in month_days(page.month, zone)? {
        let entries = page
            .shifts
            .iter()
            .filter(|shift| shift.start < end && shift.end > start)
            .map(|shift| Entry {
                name: name(config, &shift.person),
                from: clock(shift.start.max(start)),
                to: if shift.end >= end {
                    "24:00".to_string()
                } else {
                    clock(shift.end)
                },
            })
            .collect();
        week.push(Some(Day {
            date: date.to_string(),
            day: date.day(),
            today: date == page.today,
            entries,
        }));
        if week.len() == 7 {
            weeks.push(std::mem::take(&mut week));
        }
    }
    if !week.is_empty() {
        week.resize_with(7, || None);
        weeks.push(week);
    }

    let local = |at: Timestamp| {
        at.to_zoned(zone.clone())
            .strftime("%a %Y-%m-%d %H:%M %Z")
            .to_string()
    };
    let overrides = page
        .overrides
        .iter()
        .map(|stored| OverrideRow {
            id: stored.id,
            what: describe(config, &stored.rule.kind),
            from: local(stored.rule.start),
            until: local(stored.rule.end),
            by: stored.created_by.as_deref().unwrap_or(""),
        })
        .collect();
    let people = config
        .people
        .iter()
        .map(|(id, person)| PersonOption {
            id,
            name: &person.name,
        })
        .collect();
    let prev = page.month.first_of_month().yesterday()?;
    let next = page.month.last_of_month().tomorrow()?;
    let month = |date: Date| date.strftime("%Y-%m").to_string();
    Ok(render(
        "schedule.html",
        Page {
            me: &page.me,
            can_act: page.me.role.allows(Role::Responder),
            id: page.id,
            zone: zone_name(zone),
            month: month(page.month),
            month_name: page.month.strftime("%B %Y").to_string(),
            prev: month(prev),
            next: month(next),
            weeks,
            overrides,
            people,
        },
    ))
}

/// `replace Ana Ruiz with Ben Ode`, `add …`, `remove …`.
fn describe(config: &Config, kind: &OverrideKind) -> String {
    match kind {
        OverrideKind::Add(person) => format!("add {}", name(config, person)),
        OverrideKind::Remove(person) => format!("remove {}", name(config, person)),
        OverrideKind::Replace { remove, add } => format!(
            "replace {} with {}",
            name(config, remove),
            name(config, add)
        ),
    }
}

/// Shown in place of a key or token to people who may not see secrets.
pub const MASK: &str = "********";

/// One service on `/ui/services`.
pub struct ServiceRow<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub escalation: &'a str,
    /// Person ids the policy's first step reaches now.
    pub on_call: Vec<String>,
    pub integrations: Vec<&'a Integration>,
}

/// What an integration's row shows: the URL and secrets as the viewer may see them.
struct Shown {
    url: String,
    key: String,
    token: Option<String>,
}

/// `/ui/services`: each service with its policy and who is on call now, and each
/// integration's intake URL with a snippet to paste into the sender. `reveal` shows keys
/// and tokens (admins); otherwise they read [`MASK`].
pub fn services(
    config: &Config,
    me: &Me<'_>,
    rows: &[ServiceRow<'_>],
    reveal: impl Fn(&Integration) -> (String, Option<String>),
) -> String {
    #[derive(Serialize)]
    struct IntegrationView<'a> {
        id: &'a str,
        slug: String,
        kind: &'a str,
        url: String,
        routing_key: Option<String>,
        snippet: Option<String>,
    }
    #[derive(Serialize)]
    struct ServiceView<'a> {
        id: &'a str,
        name: &'a str,
        escalation: &'a str,
        on_call: Vec<String>,
        integrations: Vec<IntegrationView<'a>>,
    }
    #[derive(Serialize)]
    struct Page<'a> {
        me: &'a Me<'a>,
        masked: bool,
        services: Vec<ServiceView<'a>>,
    }
    let base = config.settings.public_url();
    let services = rows
        .iter()
        .map(|row| ServiceView {
            id: row.id,
            name: row.name,
            escalation: row.escalation,
            on_call: row.on_call.iter().map(|p| name(config, p)).collect(),
            integrations: row
                .integrations
                .iter()
                .map(|integration| {
                    let (key, token) = reveal(integration);
                    let shown = Shown {
                        url: integration.intake_url(&base, &key),
                        key,
                        token,
                    };
                    IntegrationView {
                        id: &integration.id,
                        slug: integration.id.replace(['/', '@', '.'], "-"),
                        kind: integration.kind.as_str(),
                        routing_key: (integration.kind == IntegrationKind::Pagerduty)
                            .then(|| shown.key.clone()),
                        snippet: snippet(row.id, integration.kind, &shown),
                        // An email integration's key is its address: mail goes there.
                        url: if integration.kind == IntegrationKind::Email {
                            format!("mailto:{}", shown.key)
                        } else {
                            shown.url
                        },
                    }
                })
                .collect(),
        })
        .collect();
    render(
        "services.html",
        Page {
            me,
            masked: !me.role.allows(Role::Admin),
            services,
        },
    )
}

// TODO(#7): Grafana contact points for integrations with `hmac_secret_env` should carry the
// HMAC signature settings too, and the page could offer a copy button (needs script, which
// the UI's CSP forbids today).
/// A receiver to paste into the sender's config, for the formats that have one:
/// Alertmanager `webhook_configs`, Alertmanager `pagerduty_configs` for PagerDuty-style
/// integrations, and a Grafana contact point (provisioning file).
fn snippet(service: &str, kind: IntegrationKind, shown: &Shown) -> Option<String> {
    let name = format!("dutybell-{service}");
    let url = &shown.url;
    let text = match kind {
        IntegrationKind::Alertmanager => {
            let mut text = format!(
                "receivers:\n  - name: {name}\n    webhook_configs:\n      - url: {url}\n        \
                 send_resolved: true\n"
            );
            if let Some(token) = &shown.token {
                text.push_str(&format!(
                    "        http_config:\n          authorization:\n            \
                     credentials: {token}\n"
                ));
            }
            text
        }
        IntegrationKind::Pagerduty => format!(
            "receivers:\n  - name: {name}\n    pagerduty_configs:\n      - url: {url}\n        \
             routing_key: {key}\n        send_resolved: true\n",
            key = shown.key
        ),
        IntegrationKind::Grafana => {
            let mut text = format!(
                "apiVersion: 1\ncontactPoints:\n  - orgId: 1\n    name: {name}\n    \
                 receivers:\n      - uid: {name}\n        type: webhook\n        \
                 settings:\n          url: {url}\n          httpMethod: POST\n"
            );
            if let Some(token) = &shown.token {
                text.push_str(&format!(
                    "          authorization_scheme: Bearer\n          \
                     authorization_credentials: {token}\n"
                ));
            }
            text
        }
        IntegrationKind::Generic | IntegrationKind::Email => return None,
    };
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_month_takes_only_year_dash_month() {
        assert_eq!(parse_month("2025-03"), Some(jiff::civil::date(2025, 3, 1)));
        for bad in ["2025-13", "2025-3", "2025-03-01", "202503", "", "2025_03"] {
            assert_eq!(parse_month(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn month_days_follow_the_zone_across_dst() {
        let zone = TimeZone::get("America/New_York").unwrap();
        let days = month_days(jiff::civil::date(2025, 3, 1), &zone).unwrap();
        assert_eq!(days.len(), 31);
        let (date, start, end) = days[8];
        assert_eq!(date, jiff::civil::date(2025, 3, 9));
        assert_eq!(start.to_string(), "2025-03-09T05:00:00Z");
        assert_eq!(end.to_string(), "2025-03-10T04:00:00Z");
        assert_eq!(days[30].2.to_string(), "2025-04-01T04:00:00Z");
    }
}
