//! Property tests over random instants in zones with odd transitions (STYLE: time math).

use std::collections::BTreeSet;

use jiff::civil::{DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

use super::*;

const ZONES: &[&str] = &[
    "America/Chicago",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "UTC",
];

/// 2019-06-01T00:00Z and three years after, in minutes.
const FIRST_MINUTE: i64 = 1_559_347_200 / 60;
const MINUTES: i64 = 3 * 366 * 24 * 60;

fn minute(m: i64) -> Timestamp {
    Timestamp::from_second(m * 60).unwrap()
}

fn zone() -> impl Strategy<Value = TimeZone> {
    prop::sample::select(ZONES).prop_map(|name| TimeZone::get(name).unwrap())
}

fn instant() -> impl Strategy<Value = Timestamp> {
    (FIRST_MINUTE..FIRST_MINUTE + MINUTES).prop_map(minute)
}

/// A civil time on a quarter hour, so many land in gaps and folds.
fn quarter_clock() -> impl Strategy<Value = Time> {
    (0i8..24, prop::sample::select(vec![0i8, 15, 30, 45]))
        .prop_map(|(h, m)| Time::new(h, m, 0, 0).unwrap())
}

fn kind() -> impl Strategy<Value = RotationKind> {
    prop::sample::select(vec![
        RotationKind::Hourly,
        RotationKind::Daily,
        RotationKind::Weekly,
        RotationKind::Monthly,
    ])
}

/// A rotation starting within about 40 days of `near`.
fn rotation_near(near: Timestamp, tz: TimeZone) -> impl Strategy<Value = Rotation> {
    (
        kind(),
        1u32..4,
        -40i64..40,
        quarter_clock(),
        1usize..5,
        prop::sample::select(vec![Advance::Calendar, Advance::OnActiveShifts]),
    )
        .prop_map(move |(kind, shift_length, days, clock, people, advance)| {
            let date = tz.to_datetime(near).date() + jiff::Span::new().days(days);
            Rotation {
                id: "r".into(),
                kind,
                shift_length,
                start: DateTime::from_parts(date, clock),
                time_zone: tz.clone(),
                people: (0..people).map(|i| format!("p{i}")).collect(),
                advance,
                anchor: None,
            }
        })
}

fn rule() -> impl Strategy<Value = Rule> {
    (0u8..128, quarter_clock(), quarter_clock(), any::<bool>()).prop_map(
        |(days, from, to, to_rotation)| {
            let days = (0..7)
                .filter(|i| days & (1 << i) != 0)
                .map(|i| jiff::civil::Weekday::from_monday_zero_offset(i).unwrap())
                .collect();
            let target = if to_rotation {
                Target::Rotation("r".into())
            } else {
                Target::Person("x".into())
            };
            Rule {
                days,
                from,
                to,
                target,
            }
        },
    )
}

fn an_override(near: Timestamp) -> impl Strategy<Value = Override> {
    let person = prop::sample::select(vec!["p0", "p1", "x", "y"]);
    (
        0i64..6 * 24 * 60,
        1i64..48 * 60,
        0u8..3,
        person.clone(),
        person,
    )
        .prop_map(move |(offset, length, kind, a, b)| {
            let start = near + SignedDuration::from_mins(offset);
            let kind = match kind {
                0 => OverrideKind::Add(a.into()),
                1 => OverrideKind::Remove(a.into()),
                _ => OverrideKind::Replace {
                    remove: a.into(),
                    add: b.into(),
                },
            };
            Override {
                start,
                end: start + SignedDuration::from_mins(length),
                kind,
            }
        })
}

/// A window start, a schedule and its rotation around it.
fn scenario() -> impl Strategy<Value = (Timestamp, Schedule, Rotations)> {
    (instant(), zone()).prop_flat_map(|(from, tz)| {
        let rules = prop::collection::vec(rule(), 1..4);
        let overrides = prop::collection::vec(an_override(from), 0..3);
        (
            Just(from),
            rotation_near(from, tz.clone()),
            rules,
            overrides,
        )
            .prop_map(move |(from, rotation, rules, overrides)| {
                let schedule = Schedule {
                    id: "s".into(),
                    time_zone: tz.clone(),
                    rules,
                    overrides,
                    temporary: Vec::new(),
                };
                (from, schedule, [("r".to_string(), rotation)].into())
            })
    })
}

fn implied(all: &[Shift], t: Timestamp) -> BTreeSet<PersonId> {
    all.iter()
        .filter(|s| s.start <= t && t < s.end)
        .map(|s| s.person.clone())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn consecutive_slots_meet_end_to_start(
        (t, rotation) in (instant(), zone())
            .prop_flat_map(|(t, tz)| (Just(t), rotation_near(t, tz)))
    ) {
        let slot = rotation.slot_at(t);
        prop_assert!(slot.start <= t && t < slot.end);

        let next = rotation.slot_at(slot.end);
        prop_assert_eq!(next.start, slot.end);
        prop_assert_eq!(next.position, (slot.position + 1) % rotation.people.len());
        let previous = rotation.slot_at(slot.start - SignedDuration::from_nanos(1));
        prop_assert_eq!(previous.end, slot.start);

        let through = next.end + SignedDuration::from_nanos(1);
        let want = vec![slot.start, next.start, next.end];
        prop_assert_eq!(rotation.boundaries(slot.start, through), want);
    }

    #[test]
    fn shifts_agree_with_oncall(
        (from, schedule, rotations) in scenario(),
        hours in 1i64..(6 * 24),
        samples in prop::collection::vec(0i64..(6 * 24 * 60), 24),
    ) {
        let to = from + SignedDuration::from_hours(hours);
        let all = shifts(&schedule, &rotations, from, to);

        for shift in &all {
            prop_assert!(from <= shift.start && shift.start < shift.end && shift.end <= to);
        }
        // Maximal: one person's shifts neither overlap nor touch.
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                prop_assert!(a.person != b.person || a.end < b.start || b.end < a.start);
            }
        }

        let edges = all.iter().flat_map(|s| [s.start, s.end - SignedDuration::from_nanos(1)]);
        let minutes = samples.iter().map(|m| from + SignedDuration::from_mins(*m));
        for t in edges.chain(minutes).filter(|t| *t < to) {
            prop_assert_eq!(implied(&all, t), oncall(&schedule, &rotations, t), "at {}", t);
        }

        let empty: Vec<Gap> = gaps(&schedule, &rotations, from, to);
        for gap in &empty {
            prop_assert!(implied(&all, gap.start).is_empty());
        }
    }

    #[test]
    fn clipping_to_a_window_is_exact(
        (from, schedule, rotations) in scenario(),
        hours in 1i64..(3 * 24),
        before in 0i64..(2 * 24 * 60),
        after in 0i64..(2 * 24 * 60),
    ) {
        let to = from + SignedDuration::from_hours(hours);
        let wide_from = from - SignedDuration::from_mins(before);
        let wide_to = to + SignedDuration::from_mins(after);

        let mut clipped: Vec<Shift> = shifts(&schedule, &rotations, wide_from, wide_to)
            .into_iter()
            .map(|s| Shift { start: s.start.max(from), end: s.end.min(to), person: s.person })
            .filter(|s| s.start < s.end)
            .collect();
        clipped.sort();
        prop_assert_eq!(shifts(&schedule, &rotations, from, to), clipped);
    }
}
