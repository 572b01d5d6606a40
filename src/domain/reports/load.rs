//! On-call load (comms spec §7): pages per person and per shift, night pages in the
//! person's zone, and who is owed rest after a bad night.
//!
//! A shift is a maximal on-call interval of a person in a schedule (history rows that meet
//! end to start are joined). Its pages are the distinct alerts that notified the person
//! while it ran; the raw notification count is kept too. A night page is a person's first
//! notification about an alert falling in [22:00, 07:00) local time at that instant; a
//! night belongs to the date it starts on, so 01:30 on the 30th counts for the night of the
//! 29th. Three or more night pages in one night flag "owed rest".

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;

use super::Period;

/// Night pages in one night at or above this flag owed rest.
pub const OWED_REST_AT: usize = 3;
const NIGHT_STARTS: i8 = 22;
const NIGHT_ENDS: i8 = 7;

/// One on-call history row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShiftRow {
    pub schedule: String,
    pub person: String,
    pub start: Timestamp,
    /// `None` while still on call.
    pub end: Option<Timestamp>,
}

/// One page delivered to a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub alert_id: i64,
    pub person: String,
    pub at: Timestamp,
}

/// Load per person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PersonLoad {
    pub person: String,
    /// Distinct alerts that notified them.
    pub pages: usize,
    pub notifications: usize,
    pub night_pages: usize,
    /// Nights (by the date they start) with at least [`OWED_REST_AT`] night pages.
    pub owed_rest: Vec<Date>,
}

/// Load per shift.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ShiftLoad {
    pub schedule: String,
    pub person: String,
    #[serde(serialize_with = "super::utc_ms")]
    pub start: Timestamp,
    #[serde(serialize_with = "super::utc_ms_opt")]
    pub end: Option<Timestamp>,
    pub pages: usize,
    pub notifications: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Load {
    pub people: Vec<PersonLoad>,
    pub shifts: Vec<ShiftLoad>,
}

/// The date of the night `at` falls in, in `zone`, or `None` by day.
pub fn night_of(at: Timestamp, zone: &TimeZone) -> Option<Date> {
    let local = at.to_zoned(zone.clone());
    let hour = local.hour();
    if hour >= NIGHT_STARTS {
        Some(local.date())
    } else if hour < NIGHT_ENDS {
        local.date().yesterday().ok()
    } else {
        None
    }
}

/// Load from notifications in `period` and the shifts overlapping it; `zone_of` gives each
/// person's zone.
pub fn report(
    shifts: &[ShiftRow],
    notifications: &[Notification],
    period: Period,
    zone_of: impl Fn(&str) -> TimeZone,
) -> Load {
    let notifications: Vec<&Notification> = notifications
        .iter()
        .filter(|n| period.contains(n.at))
        .collect();

    // First notification per (person, alert): what night pages count.
    let mut first: BTreeMap<(&str, i64), Timestamp> = BTreeMap::new();
    for n in &notifications {
        let at = first.entry((n.person.as_str(), n.alert_id)).or_insert(n.at);
        *at = (*at).min(n.at);
    }
    let mut people: BTreeMap<&str, PersonLoad> = BTreeMap::new();
    let mut nights: BTreeMap<(&str, Date), usize> = BTreeMap::new();
    for (&(person, _), &at) in &first {
        let load = people.entry(person).or_insert_with(|| PersonLoad {
            person: person.to_string(),
            pages: 0,
            notifications: 0,
            night_pages: 0,
            owed_rest: Vec::new(),
        });
        load.pages += 1;
        if let Some(night) = night_of(at, &zone_of(person)) {
            load.night_pages += 1;
            *nights.entry((person, night)).or_default() += 1;
        }
    }
    for n in &notifications {
        if let Some(load) = people.get_mut(n.person.as_str()) {
            load.notifications += 1;
        }
    }
    for ((person, night), count) in nights {
        if count >= OWED_REST_AT
            && let Some(load) = people.get_mut(person)
        {
            load.owed_rest.push(night);
        }
    }

    let shifts = merge(shifts)
        .into_iter()
        .filter(|s| s.start < period.end && s.end.is_none_or(|end| end > period.start))
        .map(|s| {
            let inside: Vec<&&Notification> = notifications
                .iter()
                .filter(|n| n.person == s.person && s.start <= n.at)
                .filter(|n| s.end.is_none_or(|end| n.at < end))
                .collect();
            let alerts: BTreeSet<i64> = inside.iter().map(|n| n.alert_id).collect();
            ShiftLoad {
                pages: alerts.len(),
                notifications: inside.len(),
                schedule: s.schedule,
                person: s.person,
                start: s.start,
                end: s.end,
            }
        })
        .collect();
    Load {
        people: people.into_values().collect(),
        shifts,
    }
}

/// Joins rows of one (schedule, person) that meet end to start; sorted by schedule, start.
fn merge(rows: &[ShiftRow]) -> Vec<ShiftRow> {
    let mut rows = rows.to_vec();
    rows.sort_by(|a, b| (&a.schedule, &a.person, a.start).cmp(&(&b.schedule, &b.person, b.start)));
    let mut merged: Vec<ShiftRow> = Vec::new();
    for row in rows {
        if let Some(last) = merged.last_mut()
            && last.schedule == row.schedule
            && last.person == row.person
            && last.end.is_some_and(|end| end >= row.start)
        {
            last.end = match (last.end, row.end) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            };
            continue;
        }
        merged.push(row);
    }
    merged
        .sort_by(|a, b| (&a.schedule, a.start, &a.person).cmp(&(&b.schedule, b.start, &b.person)));
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn page(alert_id: i64, person: &str, when: &str) -> Notification {
        Notification {
            alert_id,
            person: person.into(),
            at: at(when),
        }
    }

    fn zone(name: &str) -> TimeZone {
        TimeZone::get(name).unwrap()
    }

    fn whole_year() -> Period {
        Period {
            start: at("2025-01-01T00:00:00Z"),
            end: at("2026-01-01T00:00:00Z"),
        }
    }

    #[test]
    fn night_hours_are_read_in_the_zone_at_that_instant() {
        let madrid = zone("Europe/Madrid");
        // 21:59 and 22:00 local (CEST, UTC+2), then 06:59 and 07:00 local next morning.
        assert_eq!(night_of(at("2025-06-12T19:59:00Z"), &madrid), None);
        let night = Some(jiff::civil::date(2025, 6, 12));
        assert_eq!(night_of(at("2025-06-12T20:00:00Z"), &madrid), night);
        assert_eq!(night_of(at("2025-06-13T04:59:00Z"), &madrid), night);
        assert_eq!(night_of(at("2025-06-13T05:00:00Z"), &madrid), None);
    }

    #[test]
    fn a_spring_forward_night_counts_by_local_wall_time() {
        // Madrid skips 02:00-03:00 on 2025-03-30: 06:30 CEST is 04:30Z, but 05:30Z is
        // 07:30 local (day), although it would be 06:30 in winter time.
        let madrid = zone("Europe/Madrid");
        let night = Some(jiff::civil::date(2025, 3, 29));
        assert_eq!(night_of(at("2025-03-30T00:30:00Z"), &madrid), night);
        assert_eq!(night_of(at("2025-03-30T04:30:00Z"), &madrid), night);
        assert_eq!(night_of(at("2025-03-30T05:30:00Z"), &madrid), None);
    }

    #[test]
    fn three_pages_in_one_fall_back_night_owe_rest() {
        // New York repeats 01:00-02:00 on 2025-11-02. Pages at 22:30 EDT (02:30Z), at the
        // first 01:30 (05:30Z, EDT) and the second 01:30 (06:30Z, EST): one night, three
        // pages. A page at 07:00 EST (12:00Z) is day.
        let pages = [
            page(1, "ana", "2025-11-02T02:30:00Z"),
            page(2, "ana", "2025-11-02T05:30:00Z"),
            page(3, "ana", "2025-11-02T06:30:00Z"),
            page(4, "ana", "2025-11-02T12:00:00Z"),
            page(4, "ana", "2025-11-02T12:05:00Z"),
        ];

        let load = report(&[], &pages, whole_year(), |_| zone("America/New_York"));

        assert_eq!(
            load.people,
            [PersonLoad {
                person: "ana".into(),
                pages: 4,
                notifications: 5,
                night_pages: 3,
                owed_rest: vec![jiff::civil::date(2025, 11, 1)],
            }]
        );
    }

    #[test]
    fn two_night_pages_owe_nothing_and_only_the_first_notification_counts() {
        // Alert 1 first reaches ben by day (18:00 Madrid), again at 23:00: not a night page.
        let pages = [
            page(1, "ben", "2025-06-12T16:00:00Z"),
            page(1, "ben", "2025-06-12T21:00:00Z"),
            page(2, "ben", "2025-06-12T21:30:00Z"),
            page(3, "ben", "2025-06-13T01:00:00Z"),
        ];

        let load = report(&[], &pages, whole_year(), |_| zone("Europe/Madrid"));

        assert_eq!(load.people[0].night_pages, 2);
        assert!(load.people[0].owed_rest.is_empty());
    }

    #[test]
    fn shifts_join_end_to_start_and_count_distinct_alerts() {
        let row = |person: &str, start: &str, end: Option<&str>| ShiftRow {
            schedule: "primary".into(),
            person: person.into(),
            start: at(start),
            end: end.map(at),
        };
        let shifts = [
            row("ana", "2025-06-02T08:00:00Z", Some("2025-06-05T08:00:00Z")),
            row("ana", "2025-06-05T08:00:00Z", Some("2025-06-09T08:00:00Z")),
            row("ben", "2025-06-09T08:00:00Z", None),
        ];
        let pages = [
            page(1, "ana", "2025-06-03T10:00:00Z"),
            page(1, "ana", "2025-06-03T10:05:00Z"),
            page(2, "ana", "2025-06-06T10:00:00Z"),
            page(3, "ben", "2025-06-10T10:00:00Z"),
            page(4, "ana", "2025-06-10T10:00:00Z"),
        ];

        let load = report(&shifts, &pages, whole_year(), |_| TimeZone::UTC);

        let got: Vec<(&str, usize, usize)> = load
            .shifts
            .iter()
            .map(|s| (s.person.as_str(), s.pages, s.notifications))
            .collect();
        assert_eq!(got, [("ana", 2, 3), ("ben", 1, 1)]);
        assert_eq!(load.shifts[0].end, Some(at("2025-06-09T08:00:00Z")));
    }
}
