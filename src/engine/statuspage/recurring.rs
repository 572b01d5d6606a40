//! Recurring maintenance windows (`[[maintenance]]` in `statuspage.toml`, comms spec §4.6):
//! which occurrences fall in the next seven days, and the instant a wall-clock start means
//! in its zone. A start in a DST gap begins at the transition (the first valid instant
//! after it); a start in a fold at the earlier of its two instants.

use anyhow::Context as _;
use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp, ToSpan as _};

use crate::config::RecurringMaintenance;

/// How far ahead occurrences are materialised.
pub const AHEAD: SignedDuration = SignedDuration::from_hours(7 * 24);

/// One occurrence of a recurring window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Occurrence {
    /// `<config id>@<local start date>`: stable whatever the zone does.
    pub key: String,
    pub starts: Timestamp,
    pub ends: Timestamp,
}

/// Occurrences not over at `now` that start before `now` + [`AHEAD`], soonest first.
pub fn upcoming(window: &RecurringMaintenance, now: Timestamp) -> anyhow::Result<Vec<Occurrence>> {
    let zone = &window.time_zone;
    let horizon = now.checked_add(AHEAD).context("horizon out of range")?;
    // From yesterday (a window of up to 24 h may still run) to the horizon's date.
    let first = now
        .to_zoned(zone.clone())
        .date()
        .checked_sub(1.day())
        .context("date out of range")?;
    let last = horizon.to_zoned(zone.clone()).date();
    let mut found = Vec::new();
    let mut date = first;
    while date <= last {
        if window.every.contains(&date.weekday()) {
            let starts = wall_instant(zone, date.to_datetime(window.start))?;
            let ends = starts
                .checked_add(window.duration)
                .context("window end out of range")?;
            if ends > now && starts < horizon {
                found.push(Occurrence {
                    key: format!("{}@{date}", window.key),
                    starts,
                    ends,
                });
            }
        }
        date = date.tomorrow().context("date out of range")?;
    }
    Ok(found)
}

/// The instant wall time `dt` means in `zone`: in a gap the transition that ends it, in a
/// fold the earlier instant.
pub fn wall_instant(zone: &TimeZone, dt: DateTime) -> anyhow::Result<Timestamp> {
    let instant = match zone.to_ambiguous_timestamp(dt).offset() {
        AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(dt)?,
        // `before` is the larger offset of a fold, so the earlier instant.
        AmbiguousOffset::Fold { before, .. } => before.to_timestamp(dt)?,
        AmbiguousOffset::Gap { before, after } => {
            // Read with the later offset, the wall time lands before the transition; the
            // next transition from there is where valid wall time resumes.
            let early = after.to_timestamp(dt)?;
            match zone.following(early).next() {
                Some(transition) => transition.timestamp(),
                None => before.to_timestamp(dt)?,
            }
        }
    };
    Ok(instant)
}

#[cfg(test)]
mod tests {
    use jiff::civil::{Time, Weekday};

    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn window(every: Vec<Weekday>, start: Time, hours: i64) -> RecurringMaintenance {
        RecurringMaintenance {
            key: "backup".into(),
            name: "Nightly backup".into(),
            body: "Backups run.".into(),
            components: vec!["db".into()],
            every,
            start,
            duration: SignedDuration::from_hours(hours),
            time_zone: TimeZone::get("Europe/Berlin").unwrap(),
            notify: false,
        }
    }

    fn daily() -> Vec<Weekday> {
        use Weekday::*;
        vec![
            Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday,
        ]
    }

    fn starts(found: &[Occurrence]) -> Vec<(String, String, String)> {
        found
            .iter()
            .map(|o| (o.key.clone(), o.starts.to_string(), o.ends.to_string()))
            .collect()
    }

    fn row(key: &str, starts: &str, ends: &str) -> (String, String, String) {
        (key.into(), starts.into(), ends.into())
    }

    #[test]
    fn a_start_in_the_spring_forward_gap_begins_at_the_transition() {
        let window = window(daily(), Time::constant(2, 30, 0, 0), 1);

        let found = upcoming(&window, at("2025-03-29T00:00:00Z")).unwrap();

        assert_eq!(
            starts(&found[..3]),
            [
                row(
                    "backup@2025-03-29",
                    "2025-03-29T01:30:00Z",
                    "2025-03-29T02:30:00Z"
                ),
                // 02:30 does not exist on the 30th: 03:00 CEST is 01:00 UTC.
                row(
                    "backup@2025-03-30",
                    "2025-03-30T01:00:00Z",
                    "2025-03-30T02:00:00Z"
                ),
                row(
                    "backup@2025-03-31",
                    "2025-03-31T00:30:00Z",
                    "2025-03-31T01:30:00Z"
                ),
            ]
        );
        assert_eq!(found.len(), 7, "{found:?}");
        assert_eq!(found[6].key, "backup@2025-04-04");
    }

    #[test]
    fn a_start_in_the_fall_back_fold_takes_the_earlier_instant() {
        let window = window(daily(), Time::constant(2, 30, 0, 0), 2);

        let found = upcoming(&window, at("2025-10-25T00:00:00Z")).unwrap();

        assert_eq!(
            starts(&found[..3]),
            [
                row(
                    "backup@2025-10-25",
                    "2025-10-25T00:30:00Z",
                    "2025-10-25T02:30:00Z"
                ),
                // 02:30 happens twice on the 26th: first in CEST.
                row(
                    "backup@2025-10-26",
                    "2025-10-26T00:30:00Z",
                    "2025-10-26T02:30:00Z"
                ),
                row(
                    "backup@2025-10-27",
                    "2025-10-27T01:30:00Z",
                    "2025-10-27T03:30:00Z"
                ),
            ]
        );
    }

    #[test]
    fn weekdays_filter_and_a_running_window_counts_until_it_ends() {
        let window = window(
            vec![Weekday::Monday, Weekday::Thursday],
            Time::constant(22, 0, 0, 0),
            4,
        );

        // Tue 2025-06-03 01:00 Berlin: Monday's window (22:00–02:00) still runs.
        let found = upcoming(&window, at("2025-06-02T23:00:00Z")).unwrap();

        assert_eq!(
            starts(&found),
            [
                row(
                    "backup@2025-06-02",
                    "2025-06-02T20:00:00Z",
                    "2025-06-03T00:00:00Z"
                ),
                row(
                    "backup@2025-06-05",
                    "2025-06-05T20:00:00Z",
                    "2025-06-06T00:00:00Z"
                ),
                row(
                    "backup@2025-06-09",
                    "2025-06-09T20:00:00Z",
                    "2025-06-10T00:00:00Z"
                ),
            ]
        );
        let later = upcoming(&window, at("2025-06-03T00:00:00Z")).unwrap();
        assert_eq!(
            later[0].key, "backup@2025-06-05",
            "an ended window is left out"
        );
    }
}
