//! Golden vectors of spec §4 and the on-call cases of §5 (OC-01..OC-10).

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

use super::*;

fn tz(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap()
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn civil(s: &str) -> DateTime {
    s.parse().unwrap()
}

/// `2020-03-08 03:00 -05:00`, the spec's local notation.
fn local(t: Timestamp, zone: &TimeZone) -> String {
    t.to_zoned(zone.clone())
        .strftime("%Y-%m-%d %H:%M %:z")
        .to_string()
}

fn rotation(zone: &str, kind: RotationKind, length: u32, start: &str, people: &[&str]) -> Rotation {
    Rotation {
        id: "r".into(),
        kind,
        shift_length: length,
        start: civil(start),
        time_zone: tz(zone),
        people: people.iter().map(|p| p.to_string()).collect(),
        advance: Advance::Calendar,
        anchor: None,
    }
}

const PEOPLE: &[&str] = &["p0", "p1", "p2", "p3", "p4", "p5", "p6"];

/// Checks that the boundaries from the first to the last expected one are exactly `rows`.
fn assert_boundaries(rot: &Rotation, rows: &[(&str, &str)]) {
    let first = ts(rows[0].1);
    let last = ts(rows[rows.len() - 1].1);
    let got = rot.boundaries(first, last + jiff::SignedDuration::from_nanos(1));
    let got: Vec<(String, String)> = got
        .iter()
        .map(|t| (local(*t, &rot.time_zone), t.to_string()))
        .collect();
    let want: Vec<(String, String)> = rows
        .iter()
        .map(|(l, u)| (l.to_string(), ts(u).to_string()))
        .collect();
    assert_eq!(got, want, "rotation starting {}", rot.start);

    // Consecutive slots meet, persons advance one by one, and slot_at agrees.
    for pair in got.windows(2) {
        let a = rot.slot_at(ts(&pair[0].1));
        let b = rot.slot_at(ts(&pair[1].1));
        assert_eq!(a.start.to_string(), pair[0].1);
        assert_eq!(a.end, b.start);
        assert_eq!((a.position + 1) % rot.people.len(), b.position);
    }
}

#[test]
fn r1_daily_over_spring_gap() {
    let rot = rotation(
        "America/Chicago",
        RotationKind::Daily,
        1,
        "2020-03-06T02:30",
        PEOPLE,
    );
    assert_boundaries(
        &rot,
        &[
            ("2020-03-07 02:30 -06:00", "2020-03-07T08:30Z"),
            ("2020-03-08 03:00 -05:00", "2020-03-08T08:00Z"),
            ("2020-03-09 02:30 -05:00", "2020-03-09T07:30Z"),
        ],
    );
}

#[test]
fn r2_hourly_at_half_past_over_spring_gap() {
    for start in [
        "2020-03-08T00:30",
        "2020-03-01T13:30",
        "2019-07-04T23:30",
        "2021-01-01T00:30",
    ] {
        let rot = rotation("America/Chicago", RotationKind::Hourly, 1, start, PEOPLE);
        assert_boundaries(
            &rot,
            &[
                ("2020-03-08 00:30 -06:00", "2020-03-08T06:30Z"),
                ("2020-03-08 01:30 -06:00", "2020-03-08T07:30Z"),
                ("2020-03-08 03:00 -05:00", "2020-03-08T08:00Z"),
                ("2020-03-08 03:30 -05:00", "2020-03-08T08:30Z"),
                ("2020-03-08 04:30 -05:00", "2020-03-08T09:30Z"),
            ],
        );
    }
}

#[test]
fn r3_hourly_on_the_hour_merges_missing_boundary() {
    for start in [
        "2020-03-08T00:00",
        "2020-03-08T02:00",
        "2018-01-01T05:00",
        "2022-03-13T02:00",
    ] {
        let rot = rotation("America/Chicago", RotationKind::Hourly, 1, start, PEOPLE);
        assert_boundaries(
            &rot,
            &[
                ("2020-03-08 01:00 -06:00", "2020-03-08T07:00Z"),
                ("2020-03-08 03:00 -05:00", "2020-03-08T08:00Z"),
                ("2020-03-08 04:00 -05:00", "2020-03-08T09:00Z"),
                ("2020-03-08 05:00 -05:00", "2020-03-08T10:00Z"),
            ],
        );
    }
}

#[test]
fn r3_merged_boundary_skips_nobody() {
    let rot = rotation(
        "America/Chicago",
        RotationKind::Hourly,
        1,
        "2020-03-08T00:00",
        PEOPLE,
    );

    // 00:00 p0, 01:00 p1, then 02:00 and 03:00 are one handoff to p2.
    assert_eq!(
        rot.slot_at(ts("2020-03-08T07:30Z")).person.as_deref(),
        Some("p1")
    );
    assert_eq!(
        rot.slot_at(ts("2020-03-08T08:00Z")).person.as_deref(),
        Some("p2")
    );
    assert_eq!(
        rot.slot_at(ts("2020-03-08T09:00Z")).person.as_deref(),
        Some("p3")
    );

    // Counting backwards across the merge from a later anchor agrees.
    let mut later = rot.clone();
    later.anchor = Some(Anchor {
        at: ts("2020-03-08T10:00Z"),
        position: 4,
    });
    assert_eq!(
        later.slot_at(ts("2020-03-08T07:30Z")).person.as_deref(),
        Some("p1")
    );
    assert_eq!(
        later.slot_at(ts("2020-03-08T06:00Z")).person.as_deref(),
        Some("p0")
    );
}

#[test]
fn r4_hourly_over_autumn_fold() {
    let rot = rotation(
        "America/Chicago",
        RotationKind::Hourly,
        1,
        "2020-10-31T12:30",
        PEOPLE,
    );
    assert_boundaries(
        &rot,
        &[
            ("2020-11-01 00:30 -05:00", "2020-11-01T05:30Z"),
            ("2020-11-01 01:30 -05:00", "2020-11-01T06:30Z"),
            ("2020-11-01 02:30 -06:00", "2020-11-01T08:30Z"),
            ("2020-11-01 03:30 -06:00", "2020-11-01T09:30Z"),
        ],
    );
}

#[test]
fn r5_every_24_hours_over_autumn_fold() {
    let rot = rotation(
        "America/Chicago",
        RotationKind::Hourly,
        24,
        "2020-10-30T01:30",
        PEOPLE,
    );
    assert_boundaries(
        &rot,
        &[
            ("2020-10-31 01:30 -05:00", "2020-10-31T06:30Z"),
            ("2020-11-01 01:30 -05:00", "2020-11-01T06:30Z"),
            ("2020-11-02 01:30 -06:00", "2020-11-02T07:30Z"),
        ],
    );
}

#[test]
fn r6_r7_monthly() {
    let r6 = rotation(
        "America/Chicago",
        RotationKind::Monthly,
        1,
        "2020-01-02T01:30",
        PEOPLE,
    );
    assert_boundaries(
        &r6,
        &[
            ("2020-03-02 01:30 -06:00", "2020-03-02T07:30Z"),
            ("2020-04-02 01:30 -05:00", "2020-04-02T06:30Z"),
            ("2020-05-02 01:30 -05:00", "2020-05-02T06:30Z"),
            ("2020-06-02 01:30 -05:00", "2020-06-02T06:30Z"),
            ("2020-07-02 01:30 -05:00", "2020-07-02T06:30Z"),
        ],
    );
    let r7 = rotation(
        "America/Chicago",
        RotationKind::Monthly,
        1,
        "2020-10-01T01:30",
        PEOPLE,
    );
    assert_boundaries(
        &r7,
        &[
            ("2020-10-01 01:30 -05:00", "2020-10-01T06:30Z"),
            ("2020-11-01 01:30 -05:00", "2020-11-01T06:30Z"),
            ("2020-12-01 01:30 -06:00", "2020-12-01T07:30Z"),
        ],
    );
}

#[test]
fn monthly_clamps_from_start_itself() {
    let rot = rotation("UTC", RotationKind::Monthly, 1, "2024-01-31T09:00", PEOPLE);
    let got = rot.boundaries(ts("2024-01-01T00:00Z"), ts("2024-05-01T00:00Z"));
    let want = [
        "2024-01-31T09:00Z",
        "2024-02-29T09:00Z",
        "2024-03-31T09:00Z",
        "2024-04-30T09:00Z",
    ];
    assert_eq!(got, want.map(ts));
}

#[test]
fn r8_lord_howe_daily_over_half_hour_gap() {
    let rot = rotation(
        "Australia/Lord_Howe",
        RotationKind::Daily,
        1,
        "2020-10-02T02:15",
        PEOPLE,
    );
    assert_boundaries(
        &rot,
        &[
            ("2020-10-03 02:15 +10:30", "2020-10-02T15:45Z"),
            ("2020-10-04 02:30 +11:00", "2020-10-03T15:30Z"),
            ("2020-10-05 02:15 +11:00", "2020-10-04T15:15Z"),
        ],
    );
}

#[test]
fn r9_lord_howe_hourly_over_half_hour_fold() {
    let rot = rotation(
        "Australia/Lord_Howe",
        RotationKind::Hourly,
        1,
        "2021-04-01T07:30",
        PEOPLE,
    );
    assert_boundaries(
        &rot,
        &[
            ("2021-04-04 00:30 +11:00", "2021-04-03T13:30Z"),
            ("2021-04-04 01:30 +11:00", "2021-04-03T14:30Z"),
            ("2021-04-04 02:30 +10:30", "2021-04-03T16:00Z"),
            ("2021-04-04 03:30 +10:30", "2021-04-03T17:00Z"),
        ],
    );
}

#[test]
fn r10_havana_daily_over_missing_midnight() {
    let rot = rotation(
        "America/Havana",
        RotationKind::Daily,
        1,
        "2024-03-09T00:00",
        PEOPLE,
    );
    assert_boundaries(
        &rot,
        &[
            ("2024-03-09 00:00 -05:00", "2024-03-09T05:00Z"),
            ("2024-03-10 01:00 -04:00", "2024-03-10T05:00Z"),
            ("2024-03-11 00:00 -04:00", "2024-03-11T04:00Z"),
        ],
    );
}

#[test]
fn slot_lengths_match_notes() {
    let r1 = rotation(
        "America/Chicago",
        RotationKind::Daily,
        1,
        "2020-03-06T02:30",
        PEOPLE,
    );
    let slot = r1.slot_at(ts("2020-03-07T12:00Z"));
    assert_eq!(
        slot.end.duration_since(slot.start),
        jiff::SignedDuration::from_mins(23 * 60 + 30)
    );
    let r7 = rotation(
        "America/Chicago",
        RotationKind::Monthly,
        1,
        "2020-10-01T01:30",
        PEOPLE,
    );
    let slot = r7.slot_at(ts("2020-11-15T00:00Z"));
    assert_eq!(
        slot.end.duration_since(slot.start),
        jiff::SignedDuration::from_hours(30 * 24 + 1)
    );
}

#[test]
fn first_slot_belongs_to_first_person_and_runs_both_ways() {
    let rot = rotation(
        "Europe/Madrid",
        RotationKind::Weekly,
        1,
        "2025-06-02T10:00",
        &["a", "b", "c"],
    );
    assert_eq!(
        rot.slot_at(ts("2025-06-02T08:00Z")).person.as_deref(),
        Some("a")
    );
    assert_eq!(
        rot.slot_at(ts("2025-06-02T07:59Z")).person.as_deref(),
        Some("c")
    );
    assert_eq!(
        rot.slot_at(ts("2025-06-09T08:00Z")).person.as_deref(),
        Some("b")
    );
    assert_eq!(rot.slot_at(ts("2024-06-03T08:00Z")).position, 2); // 52 weeks back
    assert_eq!(
        rotation("UTC", RotationKind::Daily, 1, "2025-01-01T00:00", &[])
            .slot_at(ts("2025-06-01T00:00Z"))
            .person,
        None
    );
}

#[test]
fn civil_resolution_table() {
    let rows = [
        (
            "America/Chicago",
            "2018-11-04T01:00",
            true,
            "2018-11-04 01:00 -05:00",
            "2018-11-04T06:00Z",
        ),
        (
            "America/Chicago",
            "2018-11-04T01:00",
            false,
            "2018-11-04 01:00 -06:00",
            "2018-11-04T07:00Z",
        ),
        (
            "America/Havana",
            "2024-11-03T00:00",
            true,
            "2024-11-03 00:00 -04:00",
            "2024-11-03T04:00Z",
        ),
        (
            "America/Havana",
            "2024-11-03T00:00",
            false,
            "2024-11-03 00:00 -05:00",
            "2024-11-03T05:00Z",
        ),
    ];
    for (zone, dt, start, want_local, want_utc) in rows {
        let zone = tz(zone);
        let got = if start {
            resolve_start(civil(dt), &zone)
        } else {
            resolve_end(civil(dt), &zone)
        };
        assert_eq!(
            (local(got, &zone), got),
            (want_local.to_string(), ts(want_utc)),
            "{dt}"
        );
    }

    let both = [
        (
            "America/Chicago",
            "2018-03-11T02:00",
            "2018-03-11 03:00 -05:00",
            "2018-03-11T08:00Z",
        ),
        (
            "America/Chicago",
            "2018-03-11T02:30",
            "2018-03-11 03:00 -05:00",
            "2018-03-11T08:00Z",
        ),
        (
            "America/Havana",
            "2024-03-10T00:00",
            "2024-03-10 01:00 -04:00",
            "2024-03-10T05:00Z",
        ),
    ];
    for (zone, dt, want_local, want_utc) in both {
        let zone = tz(zone);
        for got in [
            resolve_start(civil(dt), &zone),
            resolve_end(civil(dt), &zone),
        ] {
            assert_eq!(
                (local(got, &zone), got),
                (want_local.to_string(), ts(want_utc)),
                "{dt}"
            );
        }
    }
}

#[test]
fn resolution_saturates_at_the_limits() {
    let zone = tz("America/Chicago");
    assert_eq!(resolve_start(DateTime::MAX, &zone), Timestamp::MAX);
    assert_eq!(resolve_end(DateTime::MIN, &zone), Timestamp::MIN);
    let rot = rotation(
        "America/Chicago",
        RotationKind::Hourly,
        1,
        "2020-01-01T00:00",
        PEOPLE,
    );
    let slot = rot.slot_at(Timestamp::MAX);
    assert!(slot.start <= Timestamp::MAX && slot.end == Timestamp::MAX);
    let slot = rot.slot_at(Timestamp::MIN);
    assert!(slot.start == Timestamp::MIN && slot.end >= Timestamp::MIN);
}

// ---- Schedules (§1.3, §5) ----

use std::collections::BTreeSet;

use jiff::SignedDuration;
use jiff::civil::{Time, Weekday};

fn set(people: &[&str]) -> BTreeSet<PersonId> {
    people.iter().map(|p| p.to_string()).collect()
}

fn clock(s: &str) -> Time {
    s.parse().unwrap()
}

fn rule(days: Weekdays, from: &str, to: &str, target: Target) -> Rule {
    Rule {
        days,
        from: clock(from),
        to: clock(to),
        target,
    }
}

fn person(p: &str) -> Target {
    Target::Person(p.into())
}

fn rot_target(id: &str) -> Target {
    Target::Rotation(id.into())
}

fn schedule(zone: &str, rules: Vec<Rule>) -> Schedule {
    Schedule {
        id: "s".into(),
        time_zone: tz(zone),
        rules,
        overrides: Vec::new(),
        temporary: Vec::new(),
    }
}

fn rotations(list: &[&Rotation]) -> Rotations {
    list.iter().map(|r| (r.id.clone(), (*r).clone())).collect()
}

fn shift(person: &str, start: &str, end: &str) -> Shift {
    Shift {
        person: person.into(),
        start: ts(start),
        end: ts(end),
    }
}

/// Every minute of `[from, to)`: the set `shifts()` implies equals `oncall()`.
fn assert_agrees_each_minute(s: &Schedule, rots: &Rotations, from: &str, to: &str) {
    let (from, to) = (ts(from), ts(to));
    let all = shifts(s, rots, from, to);
    let mut t = from;
    while t < to {
        let implied: BTreeSet<PersonId> = all
            .iter()
            .filter(|x| x.start <= t && t < x.end)
            .map(|x| x.person.clone())
            .collect();
        assert_eq!(implied, oncall(s, rots, t), "at {t}");
        t += SignedDuration::from_mins(1);
    }
}

#[test]
fn oc01_touching_rules_overlap_in_the_repeated_hour() {
    let sunday = Weekdays::NONE.with(Weekday::Sunday);
    let s = schedule(
        "America/Chicago",
        vec![
            rule(sunday, "00:00", "01:00", person("U1")),
            rule(sunday, "01:00", "05:00", person("U2")),
        ],
    );
    let none = Rotations::new();

    assert_eq!(oncall(&s, &none, ts("2018-11-04T05:30Z")), set(&["U1"]));
    assert_eq!(
        oncall(&s, &none, ts("2018-11-04T06:30Z")),
        set(&["U1", "U2"])
    );
    assert_eq!(oncall(&s, &none, ts("2018-11-04T07:00Z")), set(&["U2"]));
    assert_eq!(
        shifts(&s, &none, ts("2018-11-04T00:00Z"), ts("2018-11-05T00:00Z")),
        [
            shift("U1", "2018-11-04T05:00Z", "2018-11-04T07:00Z"),
            shift("U2", "2018-11-04T06:00Z", "2018-11-04T11:00Z"),
        ]
    );
    assert!(gaps(&s, &none, ts("2018-11-04T05:00Z"), ts("2018-11-04T11:00Z")).is_empty());
    assert_agrees_each_minute(&s, &none, "2018-11-04T04:00Z", "2018-11-04T12:00Z");
}

#[test]
fn oc02_london_day_shift_across_the_autumn_change() {
    let mut a = rotation(
        "Europe/London",
        RotationKind::Daily,
        1,
        "2023-10-02T08:30",
        &["A"],
    );
    a.id = "day".into();
    let s = schedule(
        "Europe/London",
        vec![rule(Weekdays::ALL, "08:30", "17:30", rot_target("day"))],
    );
    let rots = rotations(&[&a]);

    for (from, to) in [
        ("2023-10-27T07:30Z", "2023-10-27T16:30Z"),
        ("2023-10-30T08:30Z", "2023-10-30T17:30Z"),
        ("2024-04-01T07:30Z", "2024-04-01T16:30Z"),
    ] {
        let day_start = ts(from) - SignedDuration::from_hours(6);
        let day_end = ts(to) + SignedDuration::from_hours(6);
        assert_eq!(
            shifts(&s, &rots, day_start, day_end),
            [shift("A", from, to)]
        );
    }
    assert_eq!(oncall(&s, &rots, ts("2023-10-30T07:30Z")), set(&[]));
    assert_agrees_each_minute(&s, &rots, "2023-10-28T00:00Z", "2023-10-30T00:00Z");
}

/// OC-03's answer, for any of its three set-ups.
fn assert_oc03(s: &Schedule, rots: &Rotations) {
    let (from, to) = ("2025-03-09T01:00Z", "2025-03-11T00:00Z");
    assert_eq!(
        shifts(s, rots, ts(from), ts(to)),
        [
            shift("A", "2025-03-09T01:00Z", "2025-03-10T00:00Z"),
            shift("B", "2025-03-10T00:00Z", "2025-03-11T00:00Z"),
        ]
    );
    assert_eq!(oncall(s, rots, ts("2025-03-09T23:59Z")), set(&["A"]));
    assert_eq!(oncall(s, rots, ts("2025-03-10T00:00Z")), set(&["B"]));
    assert!(gaps(s, rots, ts(from), ts(to)).is_empty());
}

#[test]
fn oc03_a_23_hour_day_from_a_rotation() {
    let mut ab = rotation(
        "America/New_York",
        RotationKind::Daily,
        1,
        "2025-03-08T20:00",
        &["A", "B"],
    );
    ab.id = "ab".into();
    let always = rule(Weekdays::ALL, "00:00", "00:00", rot_target("ab"));
    let s = schedule("America/New_York", vec![always]);

    assert_oc03(&s, &rotations(&[&ab]));
}

#[test]
fn oc03_a_23_hour_day_from_a_temporary_schedule() {
    let zone = tz("America/New_York");
    // (b) `length = "24h"`; (c) an import's `duration = 86400` seconds means the same.
    for length in [
        SignedDuration::from_hours(24),
        SignedDuration::from_secs(86_400),
    ] {
        let fixed = |person: &str, start: &str| TemporaryShift {
            person: person.into(),
            start: resolve_start(civil(start), &zone),
            end: ShiftEnd::Length(length),
        };
        let mut s = schedule(
            "America/New_York",
            vec![rule(Weekdays::ALL, "00:00", "00:00", person("Z"))],
        );
        s.temporary.push(TemporarySchedule {
            start: ts("2025-03-09T01:00Z"),
            end: ts("2025-03-11T00:00Z"),
            shifts: vec![
                fixed("A", "2025-03-08T20:00"),
                fixed("B", "2025-03-09T20:00"),
            ],
        });
        // Overrides never reach into a temporary schedule (D3).
        s.overrides.push(Override {
            start: ts("2025-03-09T00:00Z"),
            end: ts("2025-03-12T00:00Z"),
            kind: OverrideKind::Add("Y".into()),
        });

        assert_oc03(&s, &Rotations::new());
        assert_eq!(
            oncall(&s, &Rotations::new(), ts("2025-03-11T00:00Z")),
            set(&["Y", "Z"])
        );
    }
}

#[test]
fn temporary_schedule_may_be_empty_and_clamps_to_creation() {
    let mut s = schedule(
        "UTC",
        vec![rule(Weekdays::ALL, "00:00", "00:00", person("Z"))],
    );
    let temp = TemporarySchedule {
        start: ts("2025-01-01T00:00Z"),
        end: ts("2025-01-03T00:00Z"),
        shifts: Vec::new(),
    };
    let created = temp.clone().created_at(ts("2025-01-02T00:00Z")).unwrap();
    assert_eq!(created.start, ts("2025-01-02T00:00Z"));
    assert!(temp.clone().created_at(ts("2025-01-03T00:00Z")).is_err());

    s.temporary.push(created);
    let none = Rotations::new();
    assert_eq!(oncall(&s, &none, ts("2025-01-01T12:00Z")), set(&["Z"]));
    assert_eq!(oncall(&s, &none, ts("2025-01-02T12:00Z")), set(&[]));
    assert_eq!(
        gaps(&s, &none, ts("2025-01-01T00:00Z"), ts("2025-01-04T00:00Z")),
        [Gap {
            start: ts("2025-01-02T00:00Z"),
            end: ts("2025-01-03T00:00Z")
        }]
    );
}

/// OC-05's schedule, its rotation advancing as `advance` says.
fn oc05(advance: Advance) -> (Schedule, Rotations) {
    let mut r = rotation(
        "Europe/Paris",
        RotationKind::Daily,
        1,
        "2024-01-01T08:00",
        &["U1", "U2"],
    );
    r.id = "pair".into();
    r.advance = advance;
    let s = schedule(
        "Europe/Paris",
        vec![rule(
            Weekdays::MON_FRI,
            "08:00",
            "18:00",
            rot_target("pair"),
        )],
    );
    (s, rotations(&[&r]))
}

#[test]
fn oc05_two_people_weekdays_only() {
    for advance in [Advance::Calendar, Advance::OnActiveShifts] {
        let (s, rots) = oc05(advance);

        let got = shifts(&s, &rots, ts("2024-01-01T00:00Z"), ts("2024-01-13T00:00Z"));
        let days: Vec<(String, &str)> = got
            .iter()
            .map(|x| {
                (
                    local(x.start, &s.time_zone)[..10].to_string(),
                    x.person.as_str(),
                )
            })
            .collect();
        let want = [
            ("2024-01-01", "U1"),
            ("2024-01-02", "U2"),
            ("2024-01-03", "U1"),
            ("2024-01-04", "U2"),
            ("2024-01-05", "U1"),
            ("2024-01-08", "U2"),
            ("2024-01-09", "U1"),
            ("2024-01-10", "U2"),
            ("2024-01-11", "U1"),
            ("2024-01-12", "U2"),
        ];
        assert_eq!(days, want.map(|(d, p)| (d.to_string(), p)), "{advance:?}");
        assert!(
            got.iter()
                .all(|x| x.end.duration_since(x.start) == SignedDuration::from_hours(10))
        );

        assert_eq!(oncall(&s, &rots, ts("2024-01-01T07:00Z")), set(&["U1"]));
        assert_eq!(oncall(&s, &rots, ts("2024-01-02T07:00Z")), set(&["U2"]));
        assert_eq!(oncall(&s, &rots, ts("2024-01-01T17:00Z")), set(&[]));
        assert!(preview_warnings(&s, &rots, ts("2024-01-01T00:00Z")).is_empty());
    }
}

#[test]
fn oc08_replace_acts_only_while_the_replaced_person_is_on_call() {
    let mut s = schedule(
        "America/Chicago",
        vec![
            rule(Weekdays::ALL, "00:00", "00:00", person("u1")),
            rule(Weekdays::ALL, "09:00", "21:00", person("u2")),
        ],
    );
    s.overrides.push(Override {
        start: ts("2025-06-10T05:00Z"),
        end: ts("2025-06-14T05:00Z"),
        kind: OverrideKind::Replace {
            remove: "u2".into(),
            add: "u3".into(),
        },
    });
    let none = Rotations::new();

    assert_eq!(oncall(&s, &none, ts("2025-06-10T05:30Z")), set(&["u1"]));
    assert_eq!(
        oncall(&s, &none, ts("2025-06-10T14:00Z")),
        set(&["u1", "u3"])
    );
    assert_eq!(oncall(&s, &none, ts("2025-06-11T02:00Z")), set(&["u1"]));
    assert_eq!(
        oncall(&s, &none, ts("2025-06-14T14:00Z")),
        set(&["u1", "u2"])
    );

    let all = shifts(&s, &none, ts("2025-06-08T00:00Z"), ts("2025-06-17T00:00Z"));
    let u3: Vec<&Shift> = all.iter().filter(|x| x.person == "u3").collect();
    let want = [
        shift("u3", "2025-06-10T14:00Z", "2025-06-11T02:00Z"),
        shift("u3", "2025-06-11T14:00Z", "2025-06-12T02:00Z"),
        shift("u3", "2025-06-12T14:00Z", "2025-06-13T02:00Z"),
        shift("u3", "2025-06-13T14:00Z", "2025-06-14T02:00Z"),
    ];
    assert_eq!(u3, want.iter().collect::<Vec<_>>());
}

#[test]
fn oc09_covering_two_shifts_gives_two_shifts() {
    let tuesday = Weekdays::NONE.with(Weekday::Tuesday);
    let mut s = schedule(
        "America/Chicago",
        vec![
            rule(tuesday, "09:00", "12:00", person("A")),
            rule(tuesday, "13:00", "17:00", person("A")),
        ],
    );
    s.overrides.push(Override {
        start: ts("2025-06-10T13:00Z"),
        end: ts("2025-06-10T23:00Z"),
        kind: OverrideKind::Replace {
            remove: "A".into(),
            add: "B".into(),
        },
    });
    let none = Rotations::new();

    let at = |t: &str| oncall(&s, &none, ts(t));
    assert_eq!(at("2025-06-10T13:30Z"), set(&[]));
    assert_eq!(at("2025-06-10T14:00Z"), set(&["B"]));
    assert_eq!(at("2025-06-10T17:00Z"), set(&[]));
    assert_eq!(at("2025-06-10T17:30Z"), set(&[]));
    assert_eq!(at("2025-06-10T18:00Z"), set(&["B"]));
    assert_eq!(at("2025-06-10T22:00Z"), set(&[]));
    assert_eq!(
        shifts(&s, &none, ts("2025-06-10T00:00Z"), ts("2025-06-11T00:00Z")),
        [
            shift("B", "2025-06-10T14:00Z", "2025-06-10T17:00Z"),
            shift("B", "2025-06-10T18:00Z", "2025-06-10T22:00Z"),
        ]
    );
}

#[test]
fn overrides_apply_in_creation_order() {
    // "B covers A" then "C covers B".
    let mut s = schedule(
        "UTC",
        vec![rule(Weekdays::ALL, "00:00", "00:00", person("A"))],
    );
    let replace = |remove: &str, add: &str| Override {
        start: ts("2025-01-01T00:00Z"),
        end: ts("2025-01-02T00:00Z"),
        kind: OverrideKind::Replace {
            remove: remove.into(),
            add: add.into(),
        },
    };
    s.overrides = vec![replace("A", "B"), replace("B", "C")];
    let none = Rotations::new();
    assert_eq!(oncall(&s, &none, ts("2025-01-01T12:00Z")), set(&["C"]));

    s.overrides.reverse();
    assert_eq!(oncall(&s, &none, ts("2025-01-01T12:00Z")), set(&["B"]));

    s.overrides.push(Override {
        start: ts("2025-01-01T06:00Z"),
        end: ts("2025-01-01T07:00Z"),
        kind: OverrideKind::Remove("B".into()),
    });
    assert_eq!(oncall(&s, &none, ts("2025-01-01T06:30Z")), set(&[]));
    assert_eq!(oncall(&s, &none, ts("2025-01-01T07:00Z")), set(&["B"]));
}

#[test]
fn rule_shapes() {
    let friday = Weekdays::NONE.with(Weekday::Friday);
    let none = Rotations::new();

    // Overnight: owned by the day it starts.
    let s = schedule("UTC", vec![rule(friday, "22:00", "06:00", person("A"))]);
    assert_eq!(
        shifts(&s, &none, ts("2025-06-01T00:00Z"), ts("2025-06-09T00:00Z")),
        [shift("A", "2025-06-06T22:00Z", "2025-06-07T06:00Z")]
    );

    // `from == to` on some days: adjacent days merge, the block ends on the first
    // disabled day.
    let days = [Weekday::Friday, Weekday::Saturday, Weekday::Monday]
        .into_iter()
        .collect();
    let s = schedule("UTC", vec![rule(days, "08:00", "08:00", person("A"))]);
    assert_eq!(
        shifts(&s, &none, ts("2025-06-05T00:00Z"), ts("2025-06-11T00:00Z")),
        [
            shift("A", "2025-06-06T08:00Z", "2025-06-08T08:00Z"),
            shift("A", "2025-06-09T08:00Z", "2025-06-10T08:00Z"),
        ]
    );

    // No days: never.
    let s = schedule(
        "UTC",
        vec![rule(Weekdays::NONE, "08:00", "08:00", person("A"))],
    );
    assert!(shifts(&s, &none, ts("2025-06-01T00:00Z"), ts("2025-06-09T00:00Z")).is_empty());
}

// ---- Advance, edits and coverage (§5) ----

/// OC-04's rotation and schedule.
fn oc04(advance: Advance) -> (Schedule, Rotations) {
    let people: Vec<String> = (0..14).map(|i| format!("P{i}")).collect();
    let people: Vec<&str> = people.iter().map(String::as_str).collect();
    let mut r = rotation(
        "America/Chicago",
        RotationKind::Daily,
        1,
        "2025-12-08T09:00",
        &people,
    );
    r.id = "big".into();
    r.advance = advance;
    let weekdays = rule(Weekdays::MON_FRI, "09:00", "17:00", rot_target("big"));
    (
        schedule("America/Chicago", vec![weekdays]),
        rotations(&[&r]),
    )
}

/// Who is on call each weekday from 2025-12-08, in order.
fn weekday_owners(s: &Schedule, rots: &Rotations, weeks: i64) -> Vec<String> {
    let from = ts("2025-12-08T06:00Z");
    let to = from + SignedDuration::from_hours(weeks * 7 * 24);
    shifts(s, rots, from, to)
        .into_iter()
        .map(|x| x.person)
        .collect()
}

fn names(numbers: &[usize]) -> Vec<String> {
    numbers.iter().map(|i| format!("P{i}")).collect()
}

#[test]
fn oc04_weekday_rule_over_a_14_person_rotation() {
    let (cal, cal_rots) = oc04(Advance::Calendar);
    let (act, act_rots) = oc04(Advance::OnActiveShifts);

    let calendar = [
        0, 1, 2, 3, 4, 7, 8, 9, 10, 11, 0, 1, 2, 3, 4, 7, 8, 9, 10, 11,
    ];
    assert_eq!(weekday_owners(&cal, &cal_rots, 4), names(&calendar));
    let active = [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 0, 1, 2, 3, 4, 5,
    ];
    assert_eq!(weekday_owners(&act, &act_rots, 4), names(&active));

    // First window 15:00Z–23:00Z; Saturday is empty in both modes.
    let first = shifts(
        &act,
        &act_rots,
        ts("2025-12-08T00:00Z"),
        ts("2025-12-09T00:00Z"),
    );
    assert_eq!(
        first,
        [shift("P0", "2025-12-08T15:00Z", "2025-12-08T23:00Z")]
    );
    assert_eq!(oncall(&cal, &cal_rots, ts("2025-12-13T16:00Z")), set(&[]));
    assert_eq!(oncall(&act, &act_rots, ts("2025-12-13T16:00Z")), set(&[]));

    // An 8-week preview: calendar leaves out exactly four people.
    let from = ts("2025-12-08T06:00Z");
    let never = |p: &str| PreviewWarning::NeverOnCall {
        rotation: "big".into(),
        person: p.into(),
    };
    assert_eq!(
        preview_warnings(&cal, &cal_rots, from),
        ["P5", "P6", "P12", "P13"].map(never)
    );
    assert!(preview_warnings(&act, &act_rots, from).is_empty());
    assert_eq!(weekday_owners(&cal, &cal_rots, 8).len(), 40);

    // Week 5 opens with the 21st active slot (P6) or the 29th calendar day (P0).
    assert_eq!(
        oncall(&act, &act_rots, ts("2026-01-05T16:00Z")),
        set(&["P6"])
    );
    assert_eq!(
        oncall(&cal, &cal_rots, ts("2026-01-05T16:00Z")),
        set(&["P0"])
    );

    // In the first 20 weekdays P0–P5 have two shifts, P6–P13 one.
    let owners = weekday_owners(&act, &act_rots, 4);
    for (i, name) in names(&(0..14).collect::<Vec<_>>()).iter().enumerate() {
        let count = owners.iter().filter(|p| *p == name).count();
        assert_eq!(count, if i <= 5 { 2 } else { 1 }, "{name}");
    }
}

fn weekly_abcd() -> Rotation {
    rotation(
        "America/Chicago",
        RotationKind::Weekly,
        1,
        "2025-05-19T09:00",
        &["A", "B", "C", "D"],
    )
}

fn with_people(r: &Rotation, people: &[&str]) -> Rotation {
    Rotation {
        people: people.iter().map(|p| p.to_string()).collect(),
        ..r.clone()
    }
}

fn owner(r: &Rotation, t: &str) -> Option<String> {
    r.slot_at(ts(t)).person
}

#[test]
fn oc06_removing_a_person_keeps_the_current_one() {
    let old = weekly_abcd();
    let edit = ts("2025-06-04T17:00Z");
    let slot = old.slot_at(edit);
    assert_eq!(
        (slot.person.as_deref(), slot.start),
        (Some("C"), ts("2025-06-02T14:00Z"))
    );

    let new = reanchor(&old, with_people(&old, &["B", "C", "D"]), edit);
    assert_eq!(owner(&new, "2025-06-04T17:00Z").as_deref(), Some("C"));
    assert_eq!(new.slot_at(edit).end, ts("2025-06-09T14:00Z"));
    assert_eq!(owner(&new, "2025-06-09T14:00Z").as_deref(), Some("D"));
    assert_eq!(owner(&new, "2025-06-16T14:00Z").as_deref(), Some("B"));
    assert_eq!(owner(&new, "2025-06-23T14:00Z").as_deref(), Some("C"));

    // Removing the current person hands over to the next one at once.
    let new = reanchor(&old, with_people(&old, &["A", "B", "D"]), edit);
    assert_eq!(owner(&new, "2025-06-04T17:00Z").as_deref(), Some("D"));
    assert_eq!(owner(&new, "2025-06-09T14:00Z").as_deref(), Some("A"));

    // ... wrapping past the end.
    let edit = ts("2025-06-11T17:00Z");
    assert_eq!(owner(&old, "2025-06-11T17:00Z").as_deref(), Some("D"));
    let new = reanchor(&old, with_people(&old, &["A", "B", "C"]), edit);
    assert_eq!(owner(&new, "2025-06-11T17:00Z").as_deref(), Some("A"));
    assert_eq!(owner(&new, "2025-06-16T14:00Z").as_deref(), Some("B"));

    // Nobody left: nobody on call, and the preview says so.
    let mut empty = reanchor(&old, with_people(&old, &[]), edit);
    assert_eq!(owner(&empty, "2025-06-11T17:00Z"), None);
    empty.id = "w".into();
    let s = schedule(
        "America/Chicago",
        vec![rule(Weekdays::ALL, "00:00", "00:00", rot_target("w"))],
    );
    let rots = rotations(&[&empty]);
    assert_eq!(oncall(&s, &rots, edit), set(&[]));
    assert_eq!(
        preview_warnings(&s, &rots, edit),
        [PreviewWarning::NoPeople {
            rotation: "w".into()
        }]
    );
}

#[test]
fn oc07_changing_the_shift_length_keeps_the_current_person() {
    let old = rotation(
        "America/Chicago",
        RotationKind::Daily,
        4,
        "2025-06-01T09:00",
        &["A", "B", "C"],
    );
    let edit = ts("2025-06-04T19:00Z");
    assert_eq!(old.slot_at(edit).end, ts("2025-06-05T14:00Z"));

    let new = reanchor(
        &old,
        Rotation {
            shift_length: 3,
            ..old.clone()
        },
        edit,
    );
    let a = new.slot_at(edit);
    assert_eq!(
        (a.person.as_deref(), a.end),
        (Some("A"), ts("2025-06-07T14:00Z"))
    );
    let b = new.slot_at(a.end);
    assert_eq!(
        (b.person.as_deref(), b.end),
        (Some("B"), ts("2025-06-10T14:00Z"))
    );
    let c = new.slot_at(b.end);
    assert_eq!(
        (c.person.as_deref(), c.end),
        (Some("C"), ts("2025-06-13T14:00Z"))
    );
    assert_eq!(new.start, civil("2025-06-01T09:00"));
}

#[test]
fn editing_an_active_shifts_rule_keeps_the_current_person() {
    let (s, rots) = oc04(Advance::OnActiveShifts);
    let rot = &rots["big"];
    let edit = ts("2025-12-17T16:00Z"); // Wed of week 2: P7
    assert_eq!(oncall(&s, &rots, edit), set(&["P7"]));

    // Rules become every day: the rotation re-anchors under the old rules first.
    let anchored = reanchor_in_schedule(&s, rot, rot.clone(), edit);
    let every_day = rule(Weekdays::ALL, "09:00", "17:00", rot_target("big"));
    let s2 = schedule("America/Chicago", vec![every_day]);
    let rots2 = rotations(&[&anchored]);
    assert_eq!(oncall(&s2, &rots2, edit), set(&["P7"]));
    assert_eq!(oncall(&s2, &rots2, ts("2025-12-20T16:00Z")), set(&["P10"]));
}

#[test]
fn oc10_coverage_gaps_look_forward_only() {
    let mut r = rotation(
        "America/Chicago",
        RotationKind::Daily,
        1,
        "2023-01-02T00:00",
        &["A", "B"],
    );
    r.id = "ab".into();
    let rots = rotations(&[&r]);
    let before = schedule(
        "America/Chicago",
        vec![rule(Weekdays::ALL, "00:00", "00:00", rot_target("ab"))],
    );
    let after = schedule(
        "America/Chicago",
        vec![rule(Weekdays::ALL, "04:00", "00:00", rot_target("ab"))],
    );
    let edit = ts("2023-01-09T16:00Z");
    assert!(coverage_gaps(&before, &rots, edit).is_empty());

    let mut announced = coverage_gaps(&after, &rots, edit);
    let want: Vec<Gap> = (10..=16)
        .map(|d| Gap {
            start: ts(&format!("2023-01-{d}T06:00Z")),
            end: ts(&format!("2023-01-{d}T10:00Z")),
        })
        .collect();
    assert_eq!(announced, want);

    // Hourly passes: only the 2023-01-17 gap is new, when it enters the horizon at 07:00Z.
    let mut notices = Vec::new();
    let mut now = edit + SignedDuration::from_hours(1);
    while now <= ts("2023-01-10T12:00Z") {
        let fresh = unannounced_gaps(&coverage_gaps(&after, &rots, now), &announced);
        if !fresh.is_empty() {
            notices.push((now, fresh.clone()));
            announced.extend(fresh);
        }
        now += SignedDuration::from_hours(1);
    }
    let gap_17 = Gap {
        start: ts("2023-01-17T06:00Z"),
        end: ts("2023-01-17T10:00Z"),
    };
    assert_eq!(notices, [(ts("2023-01-10T07:00Z"), vec![gap_17])]);

    // A current gap is reported from now.
    let current = coverage_gaps(&after, &rots, ts("2023-01-10T08:00Z"));
    assert_eq!(
        current[0],
        Gap {
            start: ts("2023-01-10T08:00Z"),
            end: ts("2023-01-10T10:00Z")
        }
    );
}
