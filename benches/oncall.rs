//! On-call benchmark (issue #3): one year of `shifts()` for a schedule with three rotations
//! and 20 overrides, the heaviest thing a calendar feed or preview asks for.
//!
//! Run with `cargo bench --bench oncall`. Pure computation, no I/O; prints the fastest and
//! the median of `DUTYBELL_BENCH_RUNS` [50] runs. The aim is under 5 ms.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use dutybell::domain::oncall::{
    Advance, Override, OverrideKind, Rotation, RotationKind, Rotations, Rule, Schedule, Target,
    Weekdays, shifts,
};
use jiff::civil::{DateTime, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

fn rotation(id: &str, kind: RotationKind, start: &str, people: &[&str]) -> Rotation {
    Rotation {
        id: id.into(),
        kind,
        shift_length: 1,
        start: start.parse::<DateTime>().expect("a civil start"),
        time_zone: TimeZone::get("America/Chicago").expect("a known zone"),
        people: people.iter().map(|p| p.to_string()).collect(),
        advance: Advance::Calendar,
        anchor: None,
    }
}

fn rule(days: Weekdays, from: (i8, i8), to: (i8, i8), rotation: &str) -> Rule {
    Rule {
        days,
        from: Time::constant(from.0, from.1, 0, 0),
        to: Time::constant(to.0, to.1, 0, 0),
        target: Target::Rotation(rotation.into()),
    }
}

/// Business hours, nights and weekends, each from its own rotation, plus 20 overrides of
/// every kind spread over the year; the year includes both DST changes of Chicago.
fn setup(from: Timestamp) -> (Schedule, Rotations) {
    let rotations: Rotations = [
        rotation(
            "day",
            RotationKind::Weekly,
            "2025-01-06T09:00",
            &["a", "b", "c", "d"],
        ),
        rotation(
            "night",
            RotationKind::Daily,
            "2025-01-01T17:00",
            &["e", "f", "g"],
        ),
        rotation(
            "weekend",
            RotationKind::Weekly,
            "2025-01-04T00:00",
            &["h", "i"],
        ),
    ]
    .into_iter()
    .map(|r| (r.id.clone(), r))
    .collect::<BTreeMap<_, _>>();

    let weekend: Weekdays = [Weekday::Saturday, Weekday::Sunday].into_iter().collect();
    let rules = vec![
        rule(Weekdays::MON_FRI, (9, 0), (17, 0), "day"),
        rule(Weekdays::MON_FRI, (17, 0), (9, 0), "night"),
        rule(weekend, (0, 0), (0, 0), "weekend"),
    ];

    let overrides = (0..20)
        .map(|i: i64| {
            let start = from + SignedDuration::from_hours(i * 17 * 24 + 7);
            let kind = match i % 3 {
                0 => OverrideKind::Replace {
                    remove: "b".into(),
                    add: "x".into(),
                },
                1 => OverrideKind::Add("y".into()),
                _ => OverrideKind::Remove("f".into()),
            };
            Override {
                start,
                end: start + SignedDuration::from_hours(36),
                kind,
            }
        })
        .collect();

    let schedule = Schedule {
        id: "bench".into(),
        time_zone: TimeZone::get("America/Chicago").expect("a known zone"),
        rules,
        overrides,
        temporary: Vec::new(),
    };
    (schedule, rotations)
}

fn main() {
    let runs: usize = std::env::var("DUTYBELL_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
        .max(1);
    let from: Timestamp = "2025-01-01T06:00:00Z".parse().expect("an instant");
    let to = from + SignedDuration::from_hours(365 * 24);
    let (schedule, rotations) = setup(from);

    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    let mut count = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let result = shifts(black_box(&schedule), black_box(&rotations), from, to);
        times.push(started.elapsed());
        count = black_box(result).len();
    }
    times.sort();

    println!(
        "oncall: 1 year of shifts(), 3 rotations, 20 overrides: {count} shifts; \
         fastest {:.2} ms, median {:.2} ms over {runs} runs (aim < 5 ms)",
        times[0].as_secs_f64() * 1e3,
        times[runs / 2].as_secs_f64() * 1e3,
    );
}
