//! `dutybell oncall` and `dutybell integrations`.
//!
//! `oncall` answers from `domain::oncall` with the stored overrides merged in, the same
//! function escalation and the calendar feeds use (D4): each schedule's people and the end
//! of their current shift, then each rotation's slot.

use anyhow::Context as _;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use secrecy::ExposeSecret as _;

use super::{open_store, who};
use crate::clock::Clock;
use crate::config::{Config, IntegrationKind};
use crate::domain::oncall::{self, Advance, Target};
use crate::store::overrides;

/// How far ahead `oncall` looks for the end of a current shift.
const LOOKAHEAD: SignedDuration = SignedDuration::from_hours(90 * 24);

pub async fn run(config: &Config, clock: &Clock, at: Option<&str>) -> anyhow::Result<()> {
    let at: Timestamp = match at {
        Some(text) => text
            .parse()
            .with_context(|| format!("--at {text:?} is not RFC 3339"))?,
        None => clock.now(),
    };
    println!("On call at {at}:");

    if !config.schedules.is_empty() {
        let store = open_store(config).await?;
        let to = at.checked_add(LOOKAHEAD).unwrap_or(Timestamp::MAX);
        println!("Schedules:");
        for (id, schedule) in &config.schedules {
            let schedule = overrides::with_overrides(&store, schedule, at, to)
                .await
                .with_context(|| format!("reading overrides of schedule {id:?}"))?;
            let current = oncall::current(&schedule, &config.rotations, at, LOOKAHEAD);
            if current.is_empty() {
                println!("  {id:<16} nobody");
            }
            for (i, shift) in current.iter().enumerate() {
                let label = if i == 0 { id.as_str() } else { "" };
                let until = if shift.end == to {
                    format!("beyond {}", until(to, &schedule.time_zone))
                } else {
                    until(shift.end, &schedule.time_zone)
                };
                println!(
                    "  {label:<16} {:<28} until {until}",
                    who(config, &shift.person)
                );
            }
        }
        println!("Rotations:");
    }

    for (id, rotation) in &config.rotations {
        // An on-active-shifts rotation only has an owner through a schedule using it (D2).
        let using = config.schedules.values().find(|schedule| {
            let target = Target::Rotation(id.clone());
            schedule.rules.iter().any(|rule| rule.target == target)
        });
        let slot = match (rotation.advance, using) {
            (Advance::OnActiveShifts, Some(schedule)) => {
                oncall::slot_in_schedule(schedule, rotation, at)
            }
            _ => rotation.slot_at(at),
        };
        let person = slot.person.as_deref().map(|p| who(config, p));
        let person = person.unwrap_or_else(|| "nobody".into());
        println!(
            "  {id:<16} {person:<28} until {}",
            until(slot.end, &rotation.time_zone)
        );
    }
    Ok(())
}

/// `2025-06-09T08:00:00Z (Mon 2025-06-09 10:00 CEST)`.
fn until(end: Timestamp, zone: &TimeZone) -> String {
    let local = end.to_zoned(zone.clone());
    format!("{end} ({})", local.strftime("%a %Y-%m-%d %H:%M %Z"))
}

pub fn integrations(config: &Config) {
    let base = config.settings.public_url();
    for integration in &config.integrations {
        let key = integration.key.expose_secret();
        let mut url = integration.intake_url(&base, key);
        if integration.kind == IntegrationKind::Pagerduty {
            url.push_str(&format!("  routing_key={key}"));
        }
        println!("{:<28} {url}", integration.id);
    }
}
