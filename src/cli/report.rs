//! `dutybell report hygiene|load|response [--days 30] [--format text|json]`: the comms
//! spec §7 reports over the local database, as a readable table or JSON.
//!
//! The rows come from `store::reports`, the figures from `domain::reports`; this module only
//! fills in what config knows (a service's runbook, a person's zone) and renders. The
//! renderers are public for tests; the hygiene table is `domain::reports::hygiene::text`,
//! shared with the weekly digest (`engine::digest`).

use anyhow::Context as _;
use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::clock::Clock;
use crate::config::Config;
use crate::domain::reports::{
    Period, heading, human_secs, hygiene, load, percent, response, table, utc,
};
use crate::engine::digest::hygiene_rows;
use crate::store::{self, Store};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// Alert rules that fire without anyone acting on them.
    Hygiene,
    /// Pages per person and shift, night pages, owed rest.
    Load,
    /// MTTA and MTTR per service and severity; open follow-ups.
    Response,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Which report.
    #[arg(value_enum)]
    pub kind: Kind,
    /// How many days back from now the report covers.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3660))]
    pub days: u32,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

pub async fn run(config: &Config, clock: &Clock, args: ReportArgs) -> anyhow::Result<()> {
    let store = Store::connect(&config.settings.database_url).await?;
    store.migrate().await.context("migrating the database")?;
    let out = render(
        &store,
        config,
        args.kind,
        args.format,
        args.days,
        clock.now(),
    )
    .await;
    store.close().await;
    print!("{}", out?);
    Ok(())
}

/// One report over the `days` up to `now`, rendered.
pub async fn render(
    store: &Store,
    config: &Config,
    kind: Kind,
    format: Format,
    days: u32,
    now: Timestamp,
) -> anyhow::Result<String> {
    let period = Period::last_days(now, days);
    let (json, text) = match kind {
        Kind::Hygiene => {
            let rows = hygiene_rows(store, config, period).await?;
            let json = serde_json::json!({ "period": period, "rows": rows });
            (json, hygiene::text(&rows, period, days))
        }
        Kind::Load => {
            let shifts = store::reports::shifts(store, period)
                .await
                .context("loading on-call history")?;
            let pages = store::reports::notifications(store, period)
                .await
                .context("loading pages")?;
            let load = load::report(&shifts, &pages, period, |id| zone_of(config, id));
            let json = serde_json::json!({
                "period": period, "people": load.people, "shifts": load.shifts,
            });
            (json, load_text(&load, period, days))
        }
        Kind::Response => {
            let acks = store::reports::acks(store, period)
                .await
                .context("loading acks")?;
            let incidents = store::reports::resolved_incidents(store, period)
                .await
                .context("loading incidents")?;
            let follow_ups = store::reports::follow_ups(store, now)
                .await
                .context("loading postmortems and action items")?;
            let response = response::report(&acks, &incidents, period);
            let json = serde_json::json!({
                "period": period, "mtta": response.mtta, "mttr": response.mttr,
                "open_action_items": follow_ups.open_action_items,
                "overdue_postmortems": follow_ups.overdue_postmortems,
            });
            (json, response_text(&response, follow_ups, period, days))
        }
    };
    Ok(match format {
        Format::Text => text,
        Format::Json => format!("{}\n", serde_json::to_string_pretty(&json)?),
    })
}

/// The zone a person's nights are read in (their own; UTC when unset or unknown).
// TODO(#6): §0 falls back person → schedule → instance zone; config keeps no trace of an
// unset person zone (it defaults to UTC), so the schedule's zone is never consulted yet.
fn zone_of(config: &Config, id: &str) -> TimeZone {
    config
        .person(id)
        .map_or(TimeZone::UTC, |person| person.time_zone.clone())
}

pub fn load_text(load: &load::Load, period: Period, days: u32) -> String {
    let mut out = heading("On-call load", period, days);
    let people: Vec<Vec<String>> = load
        .people
        .iter()
        .map(|p| {
            let owed: Vec<String> = p
                .owed_rest
                .iter()
                .map(|d| format!("night of {d}"))
                .collect();
            vec![
                p.person.clone(),
                p.pages.to_string(),
                p.notifications.to_string(),
                p.night_pages.to_string(),
                if owed.is_empty() {
                    "-".into()
                } else {
                    owed.join(", ")
                },
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "PERSON",
            "PAGES",
            "NOTIFICATIONS",
            "NIGHT PAGES",
            "OWED REST",
        ],
        &people,
    ));
    out.push('\n');
    let shifts: Vec<Vec<String>> = load
        .shifts
        .iter()
        .map(|s| {
            vec![
                s.schedule.clone(),
                s.person.clone(),
                utc(s.start),
                s.end.map_or("on call".into(), utc),
                s.pages.to_string(),
                s.notifications.to_string(),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "SCHEDULE",
            "PERSON",
            "FROM (UTC)",
            "TO (UTC)",
            "PAGES",
            "NOTIFICATIONS",
        ],
        &shifts,
    ));
    out
}

pub fn response_text(
    response: &response::Response,
    follow_ups: store::reports::FollowUps,
    period: Period,
    days: u32,
) -> String {
    let mut out = heading("Response times", period, days);
    out.push_str("\nTime to acknowledge (alerts that paged someone)\n");
    let mtta: Vec<Vec<String>> = response
        .mtta
        .iter()
        .map(|r| {
            vec![
                r.service.clone(),
                r.severity.clone(),
                r.alerts.to_string(),
                r.ack.count.to_string(),
                human_secs(r.ack.mean_s),
                human_secs(r.ack.median_s),
                human_secs(r.ack.p90_s),
                format!("{} ({})", r.never_acked, percent(Some(r.never_acked_share))),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "SERVICE",
            "SEVERITY",
            "ALERTS",
            "ACKED",
            "MEAN",
            "MEDIAN",
            "P90",
            "NEVER ACKED",
        ],
        &mtta,
    ));
    out.push_str("\nTime to resolve (incidents resolved in the period)\n");
    let mttr: Vec<Vec<String>> = response
        .mttr
        .iter()
        .map(|r| {
            vec![
                r.service.clone(),
                r.severity.clone(),
                r.incidents.to_string(),
                human_secs(r.resolve.mean_s),
                human_secs(r.resolve.median_s),
                human_secs(r.resolve.p90_s),
                human_secs(r.detect.mean_s),
                human_secs(r.mitigate.mean_s),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "SERVICE",
            "SEVERITY",
            "INCIDENTS",
            "MEAN",
            "MEDIAN",
            "P90",
            "DETECT (MEAN)",
            "MITIGATE (MEAN)",
        ],
        &mttr,
    ));
    out.push_str(&format!(
        "\nOpen action items: {}\nOverdue postmortems: {}\n",
        follow_ups.open_action_items, follow_ups.overdue_postmortems
    ));
    out
}
