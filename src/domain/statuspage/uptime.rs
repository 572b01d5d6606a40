//! Uptime (comms spec §4.9): which time counts, per-day buckets in the page zone, the
//! percentages and the colour of each day's bar.
//!
//! Pure arithmetic over what the store loaded: effective-state intervals, no-data ranges
//! and maintenance ranges (including past ranges an admin reclassified; recording that
//! reclassification is the store's job). The flow is [`timeline`] (one component) or
//! [`combine`] (a group or the page, rule 6), then [`days`] and [`Totals`], or all of it
//! at once with [`report`].

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan as _};

use super::{Component, ComponentStatus, Snapshot, StateInterval};

/// The periods the page reports, in days.
pub const PERIODS: [u32; 3] = [30, 90, 365];

/// How many daily bars a showcased component shows.
pub const BARS: u32 = 90;

/// How an instant counts (rule 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// `operational`, `degraded_performance`.
    Up,
    /// `partial_outage`, `major_outage`.
    Down,
    /// `under_maintenance` or a maintenance range: excluded, with a blue mark.
    Maintenance,
    /// Before `start_date`, a heartbeat gap, an admin-marked range, or no state known:
    /// excluded, grey.
    NoData,
}

impl Class {
    fn of_status(status: ComponentStatus) -> Class {
        match status {
            ComponentStatus::Operational | ComponentStatus::DegradedPerformance => Class::Up,
            ComponentStatus::PartialOutage | ComponentStatus::MajorOutage => Class::Down,
            ComponentStatus::UnderMaintenance => Class::Maintenance,
        }
    }
}

/// A stretch `[start, end)` of one class. Timelines are sorted, gap-free and merged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub start: Timestamp,
    pub end: Timestamp,
    pub class: Class,
}

/// What one component's uptime is computed from.
#[derive(Clone, Copy, Debug)]
pub struct Sources<'a> {
    /// This component's effective-state intervals (others are ignored by id).
    pub intervals: &'a [StateInterval],
    /// Ranges with no monitoring data, half-open.
    pub no_data: &'a [(Timestamp, Timestamp)],
    /// Ranges counted as maintenance whatever the state said, half-open.
    pub maintenance: &'a [(Timestamp, Timestamp)],
    /// Nothing counts before the start of this page-zone date.
    pub start_date: Option<Date>,
}

/// Open ranges at one instant, counted so overlapping inputs nest correctly.
#[derive(Clone, Copy, Debug, Default)]
struct Open {
    states: [i32; 5],
    maintenance: i32,
    no_data: i32,
}

impl Open {
    /// Maintenance beats everything (a planned or reclassified window costs nothing), no
    /// data beats any state, and overlapping states count as the worst.
    fn class(&self) -> Class {
        if self.maintenance > 0 {
            return Class::Maintenance;
        }
        if self.no_data > 0 {
            return Class::NoData;
        }
        const WORST_FIRST: [ComponentStatus; 5] = [
            ComponentStatus::MajorOutage,
            ComponentStatus::PartialOutage,
            ComponentStatus::DegradedPerformance,
            ComponentStatus::UnderMaintenance,
            ComponentStatus::Operational,
        ];
        WORST_FIRST
            .into_iter()
            .find(|s| self.states[*s as usize] > 0)
            .map_or(Class::NoData, Class::of_status)
    }
}

#[derive(Clone, Copy, Debug)]
enum Change {
    State(ComponentStatus),
    Maintenance,
    NoData,
}

/// One component's classes over `[from, to)` (rules 2 and 3).
pub fn timeline(sources: &Sources, tz: &TimeZone, from: Timestamp, to: Timestamp) -> Vec<Segment> {
    let mut events: Vec<(Timestamp, Change, i32)> = Vec::new();
    let mut range = |start: Timestamp, end: Timestamp, change: Change| {
        let (start, end) = (start.max(from), end.min(to));
        if start < end {
            events.push((start, change, 1));
            events.push((end, change, -1));
        }
    };

    for interval in sources.intervals {
        range(
            interval.start,
            interval.end.unwrap_or(to),
            Change::State(interval.status),
        );
    }
    for &(start, end) in sources.maintenance {
        range(start, end, Change::Maintenance);
    }
    for &(start, end) in sources.no_data {
        range(start, end, Change::NoData);
    }
    if let Some(first) = sources.start_date.and_then(|d| day_start(d, tz)) {
        range(from, first, Change::NoData);
    }

    events.sort_by_key(|(at, _, _)| *at);
    sweep(from, to, &events)
}

/// Walks the sorted changes, giving each stretch between them the class of what is open.
fn sweep(from: Timestamp, to: Timestamp, events: &[(Timestamp, Change, i32)]) -> Vec<Segment> {
    let mut open = Open::default();
    let mut out = Vec::new();
    let mut cursor = from;
    let mut i = 0;
    while cursor < to {
        while let Some(&(_, change, delta)) = events.get(i).filter(|e| e.0 <= cursor) {
            match change {
                Change::State(s) => open.states[s as usize] += delta,
                Change::Maintenance => open.maintenance += delta,
                Change::NoData => open.no_data += delta,
            }
            i += 1;
        }
        let next = events.get(i).map_or(to, |e| e.0.min(to));
        push_merged(
            &mut out,
            Segment {
                start: cursor,
                end: next,
                class: open.class(),
            },
        );
        cursor = next;
    }
    out
}

fn push_merged(out: &mut Vec<Segment>, segment: Segment) {
    match out.last_mut() {
        Some(last) if last.class == segment.class && last.end == segment.start => {
            last.end = segment.end;
        }
        _ => out.push(segment),
    }
}

/// A group or the whole page over `[from, to)` (rule 6): down if any member is down, up if
/// none is down and one is up, else excluded (maintenance if a member is in maintenance).
/// Pass only the showcased members.
pub fn combine(members: &[Vec<Segment>], from: Timestamp, to: Timestamp) -> Vec<Segment> {
    let mut cuts: Vec<Timestamp> = members
        .iter()
        .flatten()
        .flat_map(|s| [s.start, s.end])
        .filter(|t| (from..to).contains(t))
        .chain([from, to])
        .collect();
    cuts.sort();
    cuts.dedup();

    let mut out = Vec::new();
    let mut positions = vec![0usize; members.len()];
    for pair in cuts.windows(2) {
        let (start, end) = (pair[0], pair[1]);
        let classes = members.iter().zip(&mut positions).map(|(member, pos)| {
            while member.get(*pos).is_some_and(|s| s.end <= start) {
                *pos += 1;
            }
            member
                .get(*pos)
                .filter(|s| s.start <= start)
                .map_or(Class::NoData, |s| s.class)
        });
        push_merged(
            &mut out,
            Segment {
                start,
                end,
                class: rule_six(classes),
            },
        );
    }
    out
}

fn rule_six(classes: impl Iterator<Item = Class>) -> Class {
    let (mut up, mut maintenance) = (false, false);
    for class in classes {
        match class {
            Class::Down => return Class::Down,
            Class::Up => up = true,
            Class::Maintenance => maintenance = true,
            Class::NoData => {}
        }
    }
    match (up, maintenance) {
        (true, _) => Class::Up,
        (false, true) => Class::Maintenance,
        (false, false) => Class::NoData,
    }
}

/// Uptime as hundredths of a percent, rounded down: `9318` is 93.18 %.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Percent(pub u32);

impl Percent {
    /// `up / (up + down)` rounded down to two decimals (rule 7); `None` when nothing is
    /// eligible (rule 4). 100.00 comes only with zero downtime.
    pub fn of(up: i64, down: i64) -> Option<Percent> {
        let eligible = up.checked_add(down).filter(|e| *e > 0)?;
        let hundredths = i128::from(up.max(0)) * 10_000 / i128::from(eligible);
        u32::try_from(hundredths).ok().map(Percent)
    }
}

impl std::fmt::Display for Percent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// A day's bar colour by down share of eligible time (rule 7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BarColour {
    Green,
    Yellow,
    Orange,
    Red,
    Grey,
}

impl BarColour {
    /// 0 → green, ≤ 1 % → yellow, ≤ 5 % → orange, else red; nothing eligible → grey.
    pub fn of(up: i64, down: i64) -> BarColour {
        let eligible = up + down;
        if eligible <= 0 {
            BarColour::Grey
        } else if down <= 0 {
            BarColour::Green
        } else if down * 100 <= eligible {
            BarColour::Yellow
        } else if down * 20 <= eligible {
            BarColour::Orange
        } else {
            BarColour::Red
        }
    }

    /// Lowercase name, used as a CSS class suffix.
    pub fn as_str(self) -> &'static str {
        match self {
            BarColour::Green => "green",
            BarColour::Yellow => "yellow",
            BarColour::Orange => "orange",
            BarColour::Red => "red",
            BarColour::Grey => "grey",
        }
    }
}

/// Seconds of each class over some span.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub up: i64,
    pub down: i64,
    pub maintenance: i64,
    pub no_data: i64,
}

impl Totals {
    /// Seconds that count: up + down.
    pub fn eligible(&self) -> i64 {
        self.up + self.down
    }

    pub fn percent(&self) -> Option<Percent> {
        Percent::of(self.up, self.down)
    }

    pub fn colour(&self) -> BarColour {
        BarColour::of(self.up, self.down)
    }

    /// The blue maintenance mark.
    pub fn has_maintenance(&self) -> bool {
        self.maintenance > 0
    }

    /// Sums seconds (rule 4: never an average of daily percentages).
    pub fn sum<'a>(spans: impl IntoIterator<Item = &'a Totals>) -> Totals {
        spans.into_iter().fold(Totals::default(), |acc, t| Totals {
            up: acc.up + t.up,
            down: acc.down + t.down,
            maintenance: acc.maintenance + t.maintenance,
            no_data: acc.no_data + t.no_data,
        })
    }
}

/// One calendar day in the page zone (rule 5), `[start, end)`; today ends at `now`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Day {
    pub date: Date,
    pub start: Timestamp,
    pub end: Timestamp,
    pub totals: Totals,
}

/// The first instant of `date` in `tz` (after a DST gap at midnight, the first valid one);
/// `None` only for dates outside jiff's range.
fn day_start(date: Date, tz: &TimeZone) -> Option<Timestamp> {
    date.to_zoned(tz.clone())
        .ok()
        .and_then(|z| z.start_of_day().ok())
        .map(|z| z.timestamp())
}

/// The last `count` page-zone days up to and including today (oldest first), each with the
/// seconds of each class in it. Days are 23, 24 or 25 hours long as the zone says.
pub fn days(timeline: &[Segment], tz: &TimeZone, now: Timestamp, count: u32) -> Vec<Day> {
    let today = super::time::page_date(now, tz);
    let mut out = Vec::with_capacity(count as usize);
    let mut pos = 0;
    for back in (0..count).rev() {
        let Some(date) = today.checked_sub(i64::from(back).days()).ok() else {
            continue;
        };
        let (Some(start), Some(next)) = (
            day_start(date, tz),
            date.tomorrow().ok().and_then(|d| day_start(d, tz)),
        ) else {
            continue;
        };
        let end = next.min(now);
        while timeline.get(pos).is_some_and(|s| s.end <= start) {
            pos += 1;
        }
        let totals = bucket(&timeline[pos.min(timeline.len())..], start, end);
        out.push(Day {
            date,
            start,
            end,
            totals,
        });
    }
    out
}

/// Seconds of each class in `[start, end)`; time no segment covers is no data.
fn bucket(segments: &[Segment], start: Timestamp, end: Timestamp) -> Totals {
    let mut millis = [0i64; 4];
    let mut covered = 0i64;
    for segment in segments.iter().take_while(|s| s.start < end) {
        let overlap = segment
            .end
            .min(end)
            .duration_since(segment.start.max(start));
        if overlap <= SignedDuration::ZERO {
            continue;
        }
        let ms = i64::try_from(overlap.as_millis()).unwrap_or(i64::MAX);
        millis[segment.class as usize] += ms;
        covered += ms;
    }
    let span = end.duration_since(start).as_millis();
    millis[Class::NoData as usize] += i64::try_from(span).unwrap_or(0) - covered;
    Totals {
        up: millis[Class::Up as usize] / 1000,
        down: millis[Class::Down as usize] / 1000,
        maintenance: millis[Class::Maintenance as usize] / 1000,
        no_data: millis[Class::NoData as usize].max(0) / 1000,
    }
}

/// What a component, group or the page shows: 90 daily bars and the 30/90/365-day figures.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The last [`BARS`] days, oldest first.
    pub bars: Vec<Day>,
    /// One per [`PERIODS`] entry, in that order.
    pub periods: Vec<(u32, Totals)>,
}

impl Report {
    /// The figure for a period in [`PERIODS`].
    pub fn period(&self, days: u32) -> Option<Totals> {
        self.periods
            .iter()
            .find(|(d, _)| *d == days)
            .map(|(_, t)| *t)
    }
}

/// How many days a report covers: the longest period or the bars.
fn longest() -> u32 {
    PERIODS.iter().copied().fold(BARS, u32::max)
}

/// The first instant that any figure looks at: the start of the oldest counted day.
pub fn report_start(tz: &TimeZone, now: Timestamp) -> Timestamp {
    let today = super::time::page_date(now, tz);
    today
        .checked_sub(i64::from(longest() - 1).days())
        .ok()
        .and_then(|d| day_start(d, tz))
        .unwrap_or(now)
}

/// Bars and period figures from one timeline covering [`report_start`]..`now`.
pub fn report(timeline: &[Segment], tz: &TimeZone, now: Timestamp) -> Report {
    let all = days(timeline, tz, now, longest());
    let last = |n: u32| &all[all.len().saturating_sub(n as usize)..];
    Report {
        bars: last(BARS).to_vec(),
        periods: PERIODS
            .iter()
            .map(|&n| (n, Totals::sum(last(n).iter().map(|d| &d.totals))))
            .collect(),
    }
}

/// One component's timeline from a snapshot: its intervals (`under_maintenance` is the
/// maintenance), the page's no-data ranges and its `start_date`.
pub fn component_timeline(
    snapshot: &Snapshot,
    component: &Component,
    now: Timestamp,
) -> Vec<Segment> {
    let intervals: Vec<StateInterval> = snapshot
        .intervals
        .iter()
        .filter(|i| i.component_id == component.id)
        .cloned()
        .collect();
    let sources = Sources {
        intervals: &intervals,
        no_data: &snapshot.no_data,
        maintenance: &[],
        start_date: component.start_date,
    };
    let tz = &snapshot.time_zone;
    timeline(&sources, tz, report_start(tz, now), now)
}

/// A component's report from a snapshot.
pub fn component_report(snapshot: &Snapshot, component: &Component, now: Timestamp) -> Report {
    report(
        &component_timeline(snapshot, component, now),
        &snapshot.time_zone,
        now,
    )
}

/// A group's report (rule 6 over its showcased members).
pub fn group_report(snapshot: &Snapshot, group: &Component, now: Timestamp) -> Report {
    members_report(
        snapshot,
        |c| c.group_id.as_deref() == Some(group.id.as_str()),
        now,
    )
}

/// The page's report (rule 6 over every showcased component).
pub fn page_report(snapshot: &Snapshot, now: Timestamp) -> Report {
    members_report(snapshot, |_| true, now)
}

fn members_report(
    snapshot: &Snapshot,
    member: impl Fn(&Component) -> bool,
    now: Timestamp,
) -> Report {
    let tz = &snapshot.time_zone;
    let timelines: Vec<Vec<Segment>> = snapshot
        .components
        .iter()
        .filter(|c| c.children.is_none() && c.showcase && member(c))
        .map(|c| component_timeline(snapshot, c, now))
        .collect();
    report(&combine(&timelines, report_start(tz, now), now), tz, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ComponentStatus::*;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    /// Consecutive intervals for one component: each state lasts until the next change.
    fn changes(id: &str, list: &[(&str, ComponentStatus)]) -> Vec<StateInterval> {
        list.iter()
            .enumerate()
            .map(|(i, (start, status))| StateInterval {
                component_id: id.into(),
                status: *status,
                start: ts(start),
                end: list.get(i + 1).map(|(next, _)| ts(next)),
            })
            .collect()
    }

    fn sources<'a>(
        intervals: &'a [StateInterval],
        no_data: &'a [(Timestamp, Timestamp)],
        maintenance: &'a [(Timestamp, Timestamp)],
    ) -> Sources<'a> {
        Sources {
            intervals,
            no_data,
            maintenance,
            start_date: None,
        }
    }

    /// The totals of the single day holding `now`'s previous midnight, computed over
    /// `[day start, now)` where `now` is the next midnight.
    fn one_day(sources: &Sources, tz: &TimeZone, day: &str, next: &str) -> Totals {
        let (from, to) = (ts(day), ts(next));
        let line = timeline(sources, tz, from, to);
        let days = days(&line, tz, to, 2);
        assert_eq!(days[0].start, from);
        assert_eq!(days[0].end, to);
        days[0].totals
    }

    const MIN: i64 = 60;

    #[test]
    fn spec_example_day_is_93_18_percent() {
        let intervals = changes(
            "api",
            &[
                ("2025-01-10T00:00:00Z", Operational),
                ("2025-01-10T01:00:00Z", MajorOutage),
                ("2025-01-10T01:30:00Z", PartialOutage),
                ("2025-01-10T02:30:00Z", UnderMaintenance),
                ("2025-01-10T04:30:00Z", DegradedPerformance),
                ("2025-01-10T04:40:00Z", Operational),
            ],
        );

        let day = one_day(
            &sources(&intervals, &[], &[]),
            &TimeZone::UTC,
            "2025-01-10T00:00:00Z",
            "2025-01-11T00:00:00Z",
        );

        assert_eq!(day.eligible(), 1320 * MIN);
        assert_eq!(day.down, 90 * MIN);
        assert_eq!(day.maintenance, 120 * MIN);
        assert_eq!(day.percent().unwrap().to_string(), "93.18");
        assert_eq!(day.colour(), BarColour::Red);
        assert!(day.has_maintenance());
    }

    #[test]
    fn new_york_spring_forward_day_has_23_hours() {
        let ny = TimeZone::get("America/New_York").unwrap();
        let intervals = changes(
            "api",
            &[
                ("2025-03-09T05:00:00Z", Operational),
                ("2025-03-09T15:00:00Z", MajorOutage),
                ("2025-03-09T16:00:00Z", Operational),
            ],
        );

        let day = one_day(
            &sources(&intervals, &[], &[]),
            &ny,
            "2025-03-09T05:00:00Z",
            "2025-03-10T04:00:00Z",
        );

        assert_eq!(day.eligible(), 1380 * MIN);
        assert_eq!(day.percent().unwrap().to_string(), "95.65");
    }

    #[test]
    fn fall_back_day_has_25_hours() {
        let ny = TimeZone::get("America/New_York").unwrap();
        let intervals = changes("api", &[("2025-11-01T00:00:00Z", Operational)]);
        let line = timeline(
            &sources(&intervals, &[], &[]),
            &ny,
            ts("2025-11-01T00:00:00Z"),
            ts("2025-11-04T05:00:00Z"),
        );

        let days = days(&line, &ny, ts("2025-11-04T05:00:00Z"), 4);

        assert_eq!(days[1].date, jiff::civil::date(2025, 11, 2));
        assert_eq!(days[1].totals.up, 25 * 60 * MIN);
        assert_eq!(days[2].totals.up, 24 * 60 * MIN);
    }

    #[test]
    fn cm06_planned_maintenance_costs_no_uptime() {
        // The site was down during the window; the window still costs nothing.
        let intervals = changes(
            "api",
            &[
                ("2025-05-01T00:00:00Z", Operational),
                ("2025-05-10T02:00:00Z", MajorOutage),
                ("2025-05-10T03:00:00Z", Operational),
            ],
        );
        let window = [(ts("2025-05-10T02:00:00Z"), ts("2025-05-10T03:00:00Z"))];
        let sources = sources(&intervals, &[], &window);
        let now = ts("2025-05-31T00:00:00Z");
        let line = timeline(&sources, &TimeZone::UTC, ts("2025-05-01T00:00:00Z"), now);

        let days = days(&line, &TimeZone::UTC, now, 31);
        let month = Totals::sum(days[..30].iter().map(|d| &d.totals));

        assert_eq!(month.percent().unwrap().to_string(), "100.00");
        assert_eq!(month.maintenance, 60 * MIN);
        let window_day = days
            .iter()
            .find(|d| d.date == jiff::civil::date(2025, 5, 10));
        let window_day = window_day.unwrap().totals;
        assert_eq!(window_day.colour(), BarColour::Green);
        assert!(window_day.has_maintenance());
    }

    #[test]
    fn cm06_under_maintenance_state_is_excluded_too() {
        let intervals = changes(
            "api",
            &[
                ("2025-05-10T00:00:00Z", Operational),
                ("2025-05-10T02:00:00Z", UnderMaintenance),
                ("2025-05-10T03:00:00Z", Operational),
            ],
        );

        let day = one_day(
            &sources(&intervals, &[], &[]),
            &TimeZone::UTC,
            "2025-05-10T00:00:00Z",
            "2025-05-11T00:00:00Z",
        );

        assert_eq!(day.percent(), Some(Percent(10_000)));
        assert_eq!(day.maintenance, 60 * MIN);
    }

    #[test]
    fn cm07_monitoring_gap_is_no_data() {
        let intervals = changes(
            "api",
            &[
                ("2025-02-01T00:00:00Z", Operational),
                ("2025-02-01T12:00:00Z", MajorOutage),
                ("2025-02-01T13:00:00Z", Operational),
            ],
        );
        let gap = [(ts("2025-02-01T03:00:00Z"), ts("2025-02-01T05:00:00Z"))];

        let day = one_day(
            &sources(&intervals, &gap, &[]),
            &TimeZone::UTC,
            "2025-02-01T00:00:00Z",
            "2025-02-02T00:00:00Z",
        );

        assert_eq!(day.eligible(), 1320 * MIN);
        assert_eq!(day.no_data, 120 * MIN);
        assert_eq!(day.percent().unwrap().to_string(), "95.45");
        assert_eq!(day.colour(), BarColour::Orange);
        assert!(!day.has_maintenance());
    }

    #[test]
    fn cm08_reclassified_maintenance_recomputes_day_and_periods() {
        let intervals = changes(
            "api",
            &[
                ("2025-01-01T00:00:00Z", Operational),
                ("2025-01-20T10:00:00Z", MajorOutage),
                ("2025-01-20T11:30:00Z", Operational),
            ],
        );
        let now = ts("2025-01-31T00:00:00Z");
        let from = ts("2025-01-01T00:00:00Z");
        let reclassified = [(ts("2025-01-20T10:15:00Z"), ts("2025-01-20T11:15:00Z"))];
        let figures = |maintenance: &[(Timestamp, Timestamp)]| {
            let line = timeline(
                &sources(&intervals, &[], maintenance),
                &TimeZone::UTC,
                from,
                now,
            );
            let days = days(&line, &TimeZone::UTC, now, 31);
            let day = days
                .iter()
                .find(|d| d.date == jiff::civil::date(2025, 1, 20));
            let month = Totals::sum(days[..30].iter().map(|d| &d.totals));
            (day.unwrap().totals.percent(), month.percent())
        };

        let (before_day, before_month) = figures(&[]);
        let (after_day, after_month) = figures(&reclassified);

        assert_eq!(before_day.unwrap().to_string(), "93.75");
        assert_eq!(after_day.unwrap().to_string(), "97.82");
        assert_eq!(before_month.unwrap().to_string(), "99.79");
        assert_eq!(after_month.unwrap().to_string(), "99.93");
    }

    #[test]
    fn periods_sum_seconds_rather_than_average_days() {
        // Day 1: 60 eligible minutes, 30 down (50 %). Day 2: a full day up (100 %).
        // The average would be 75 %; the sum is 1470 / 1500.
        let intervals = changes(
            "api",
            &[
                ("2025-01-01T23:00:00Z", Operational),
                ("2025-01-01T23:30:00Z", MajorOutage),
                ("2025-01-02T00:00:00Z", Operational),
            ],
        );
        let now = ts("2025-01-03T00:00:00Z");
        let line = timeline(
            &sources(&intervals, &[], &[]),
            &TimeZone::UTC,
            ts("2025-01-01T00:00:00Z"),
            now,
        );

        let days = days(&line, &TimeZone::UTC, now, 3);
        let both = Totals::sum(days[..2].iter().map(|d| &d.totals));

        assert_eq!(days[0].totals.percent().unwrap().to_string(), "50.00");
        assert_eq!(days[0].totals.no_data, 23 * 60 * MIN);
        assert_eq!(both.percent().unwrap().to_string(), "98.00");
    }

    #[test]
    fn nothing_eligible_is_no_data_not_zero_or_hundred() {
        let line = timeline(
            &sources(&[], &[], &[]),
            &TimeZone::UTC,
            ts("2025-01-01T00:00:00Z"),
            ts("2025-01-02T00:00:00Z"),
        );

        let days = days(&line, &TimeZone::UTC, ts("2025-01-02T00:00:00Z"), 2);

        assert_eq!(days[0].totals.percent(), None);
        assert_eq!(days[0].totals.colour(), BarColour::Grey);
        assert_eq!(days[0].totals.no_data, 1440 * MIN);
    }

    #[test]
    fn rounding_is_down_and_hundred_needs_zero_downtime() {
        assert_eq!(Percent::of(999_999, 1).unwrap().to_string(), "99.99");
        assert_eq!(Percent::of(1, 0).unwrap().to_string(), "100.00");
        assert_eq!(Percent::of(0, 5).unwrap().to_string(), "0.00");
        assert_eq!(Percent::of(0, 0), None);
        assert_eq!(Percent::of(2, 1).unwrap().to_string(), "66.66");
    }

    #[test]
    fn bar_colours_follow_the_down_share() {
        assert_eq!(BarColour::of(100, 0), BarColour::Green);
        assert_eq!(BarColour::of(99, 1), BarColour::Yellow);
        assert_eq!(BarColour::of(98, 2), BarColour::Orange);
        assert_eq!(BarColour::of(95, 5), BarColour::Orange);
        assert_eq!(BarColour::of(94, 6), BarColour::Red);
        assert_eq!(BarColour::of(0, 0), BarColour::Grey);
    }

    #[test]
    fn start_date_and_today_bound_the_counted_time() {
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        let intervals = changes("api", &[("2025-06-01T00:00:00Z", Operational)]);
        let mut sources = sources(&intervals, &[], &[]);
        sources.start_date = Some(jiff::civil::date(2025, 6, 3));
        let now = ts("2025-06-03T10:00:00Z");
        let line = timeline(&sources, &berlin, ts("2025-06-01T00:00:00Z"), now);

        let days = days(&line, &berlin, now, 2);

        assert_eq!(days[0].totals.percent(), None);
        assert_eq!(days[1].start, ts("2025-06-02T22:00:00Z"));
        assert_eq!(days[1].end, now);
        assert_eq!(days[1].totals.up, 12 * 60 * MIN);
    }

    #[test]
    fn rule_six_groups_take_down_first_then_up() {
        let from = ts("2025-01-10T00:00:00Z");
        let to = ts("2025-01-11T00:00:00Z");
        let a = changes(
            "a",
            &[
                ("2025-01-10T00:00:00Z", Operational),
                ("2025-01-10T02:00:00Z", UnderMaintenance),
                ("2025-01-10T03:00:00Z", Operational),
                ("2025-01-10T10:00:00Z", MajorOutage),
                ("2025-01-10T11:00:00Z", Operational),
            ],
        );
        let b = changes(
            "b",
            &[
                ("2025-01-10T00:00:00Z", Operational),
                ("2025-01-10T02:00:00Z", UnderMaintenance),
                ("2025-01-10T03:00:00Z", Operational),
                ("2025-01-10T10:30:00Z", UnderMaintenance),
                ("2025-01-10T12:00:00Z", Operational),
            ],
        );
        let line = |intervals: &[StateInterval]| {
            timeline(&sources(intervals, &[], &[]), &TimeZone::UTC, from, to)
        };

        let group = combine(&[line(&a), line(&b)], from, to);
        let day = days(&group, &TimeZone::UTC, to, 2)[0].totals;

        assert_eq!(day.down, 60 * MIN);
        assert_eq!(day.maintenance, 60 * MIN);
        assert_eq!(day.up, 1320 * MIN);
        assert_eq!(day.percent().unwrap().to_string(), "95.65");
        assert_eq!(
            combine(&[], from, to),
            [Segment {
                start: from,
                end: to,
                class: Class::NoData
            }]
        );
    }
}
