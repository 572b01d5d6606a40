//! `dutybell schedule preview`: a text calendar of a schedule's shifts in its own zone, then
//! what `domain::oncall` warns about: people the rules never reach (D2) and coverage gaps
//! from now over the next 7 days, never past ones (D16).

use anyhow::Context as _;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::{open_store, who};
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::oncall::{
    self, COVERAGE_HORIZON, PreviewWarning, resolve_start, wall_clock_end,
};
use crate::domain::override_request::parse_time;
use crate::store::overrides;

pub async fn preview(
    config: &Config,
    clock: &Clock,
    id: &str,
    weeks: u16,
    from: Option<&str>,
) -> anyhow::Result<()> {
    let schedule = config
        .schedules
        .get(id)
        .with_context(|| format!("{id:?}: no such schedule in oncall.toml"))?;
    let zone = &schedule.time_zone;
    let now = clock.now();
    let from = match from {
        Some(text) => parse_time("--from", Some(text), zone, resolve_start)
            .map_err(|err| anyhow::anyhow!("{err}"))?,
        None => now,
    };
    let length = SignedDuration::from_hours(i64::from(weeks) * 7 * 24);
    let to = wall_clock_end(from, length, zone);

    let store = open_store(config).await?;
    let with_overrides = overrides::with_overrides(&store, schedule, from, to).await?;
    let shifts = oncall::shifts(&with_overrides, &config.rotations, from, to);

    let zone_name = zone.iana_name().unwrap_or("UTC");
    println!(
        "Schedule {id}: {weeks} week(s) from {} (times in {zone_name})",
        local(from, zone)
    );
    let mut week: Option<Date> = None;
    for shift in &shifts {
        let monday = monday_of(shift.start, zone);
        if week != Some(monday) {
            println!("Week of {}", monday.strftime("%a %Y-%m-%d"));
            week = Some(monday);
        }
        println!(
            "  {} → {}  {}",
            local(shift.start, zone),
            local(shift.end, zone),
            who(config, &shift.person)
        );
    }
    if shifts.is_empty() {
        println!("  nobody is on call in this period");
    }

    println!("Warnings:");
    let warnings = oncall::preview_warnings(schedule, &config.rotations, from);
    for warning in &warnings {
        match warning {
            PreviewWarning::NoPeople { rotation } => {
                println!("  rotation {rotation} has no people");
            }
            PreviewWarning::NeverOnCall { rotation, person } => println!(
                "  rotation {rotation}: {} is never on call under these rules",
                who(config, person)
            ),
        }
    }
    if warnings.is_empty() {
        println!("  none");
    }

    // Gaps are about the future only, whatever period the calendar shows (D16).
    let lookahead = now
        .checked_add(COVERAGE_HORIZON)
        .and_then(|t| t.checked_add(COVERAGE_HORIZON))
        .unwrap_or(Timestamp::MAX);
    let current = overrides::with_overrides(&store, schedule, now, lookahead).await?;
    let gaps = oncall::coverage_gaps(&current, &config.rotations, now);
    println!("Gaps in the next 7 days (from {}):", local(now, zone));
    for gap in &gaps {
        println!(
            "  {} → {}  nobody on call",
            local(gap.start, zone),
            local(gap.end, zone)
        );
    }
    if gaps.is_empty() {
        println!("  none");
    }
    Ok(())
}

/// `Mon 2025-06-09 09:00 CEST`.
fn local(at: Timestamp, zone: &TimeZone) -> String {
    at.to_zoned(zone.clone())
        .strftime("%a %Y-%m-%d %H:%M %Z")
        .to_string()
}

/// The local Monday of the week holding `at`.
fn monday_of(at: Timestamp, zone: &TimeZone) -> Date {
    let date = zone.to_datetime(at).date();
    let back = i64::from(date.weekday().to_monday_zero_offset());
    date.checked_sub(jiff::Span::new().days(back))
        .unwrap_or(date)
}
