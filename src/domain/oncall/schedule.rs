//! Schedules as data: weekly rules, overrides and temporary schedules (spec §1.3).
//!
//! Owns what each piece means on its own: when a rule's windows open and close (overnight and
//! `from == to` included), whether an override or a temporary shift covers an instant, and
//! what an override does to a set. Combining them by precedence (D3) is `eval`'s job.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::civil::{resolve_end, resolve_start, wall_clock_end};
use super::{PersonId, Rotation};

/// Rotations by id, as rules name them in `rotation:` targets.
pub type Rotations = BTreeMap<String, Rotation>;

/// A half-open interval `[start, end)` of instants.
pub(super) type Window = (Timestamp, Timestamp);

/// A set of weekdays.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Weekdays(u8);

impl Weekdays {
    /// No day: the rule never applies.
    pub const NONE: Weekdays = Weekdays(0);
    /// Monday to Friday.
    pub const MON_FRI: Weekdays = Weekdays(0b001_1111);
    /// Every day.
    pub const ALL: Weekdays = Weekdays(0b111_1111);

    /// This set plus `day`.
    pub fn with(self, day: Weekday) -> Weekdays {
        Weekdays(self.0 | bit(day))
    }

    /// Whether `day` is in the set.
    pub fn contains(self, day: Weekday) -> bool {
        self.0 & bit(day) != 0
    }

    /// Whether the set has no day.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether the set has all seven days.
    pub fn is_all(self) -> bool {
        self.0 == Self::ALL.0
    }
}

impl FromIterator<Weekday> for Weekdays {
    fn from_iter<I: IntoIterator<Item = Weekday>>(days: I) -> Weekdays {
        days.into_iter().fold(Weekdays::NONE, Weekdays::with)
    }
}

fn bit(day: Weekday) -> u8 {
    1 << day.to_monday_zero_offset()
}

/// Whom a rule puts on call.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// That person.
    Person(PersonId),
    /// Whoever the rotation with this id yields at the instant.
    Rotation(String),
}

/// A weekly rule, evaluated per local date in the schedule's zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The local dates that own a window.
    pub days: Weekdays,
    /// Opening clock; the window opens at `resolve_start`.
    pub from: Time,
    /// Closing clock; the window closes at `resolve_end`, the next day when `to <= from`.
    pub to: Time,
    /// Who is on call while the window is open.
    pub target: Target,
}

impl Rule {
    /// `from == to` on all seven days: on call at every instant, no daily edge.
    fn always(&self) -> bool {
        self.from == self.to && self.days.is_all()
    }

    /// The window owned by local `date`, if that weekday is enabled.
    fn window_on(&self, date: Date, tz: &TimeZone) -> Option<Window> {
        if !self.days.contains(date.weekday()) {
            return None;
        }

        // Overnight and 24-hour (`from == to`) windows belong to the day they start on.
        let end_date = if self.from < self.to {
            date
        } else {
            date.tomorrow().ok()?
        };
        let start = resolve_start(date.to_datetime(self.from), tz);
        let end = resolve_end(end_date.to_datetime(self.to), tz);
        (start < end).then_some((start, end))
    }

    /// Whether the rule puts its target on call at `t`.
    pub fn is_active(&self, tz: &TimeZone, t: Timestamp) -> bool {
        if self.always() {
            return true;
        }

        // A window starts on its own date and runs at most into the next; a gap or a fold
        // around midnight can shift a date by one more, hence the slack on both sides.
        let date = tz.to_datetime(t).date();
        dates_around(date, 2, 1).any(|day| match self.window_on(day, tz) {
            Some((start, end)) => start <= t && t < end,
            None => false,
        })
    }

    /// The rule's windows meeting `[from, to)`, ascending, overlapping or touching ones
    /// merged, not clipped to the range.
    pub fn windows(&self, tz: &TimeZone, from: Timestamp, to: Timestamp) -> Vec<Window> {
        let mut out: Vec<Window> = Vec::new();
        if from >= to || self.days.is_empty() {
            return out;
        }
        if self.always() {
            return vec![(Timestamp::MIN, Timestamp::MAX)];
        }

        let first = tz.to_datetime(from).date();
        let last = tz.to_datetime(to).date();
        let mut day = dates_around(first, 2, 0).next().unwrap_or(first);
        let last = dates_around(last, 0, 1).last().unwrap_or(last);
        while day <= last {
            match self.window_on(day, tz) {
                Some((start, end)) if start < to && end > from => {
                    push_merged(&mut out, (start, end));
                }
                _ => {}
            }
            match day.tomorrow() {
                Ok(next) => day = next,
                Err(_) => break,
            }
        }
        out
    }
}

/// `date` with `before` days before it and `after` after it, ascending, within jiff's range.
fn dates_around(date: Date, before: i32, after: i32) -> impl Iterator<Item = Date> {
    (-before..=after).filter_map(move |days| date.checked_add(jiff::Span::new().days(days)).ok())
}

/// Appends `window` to ascending `windows`, merging it into the last one if they meet.
pub(super) fn push_merged(windows: &mut Vec<Window>, window: Window) {
    match windows.last_mut() {
        Some(last) if window.0 <= last.1 => last.1 = last.1.max(window.1),
        _ => windows.push(window),
    }
}

/// What an override does to the set left by the rules and earlier overrides.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum OverrideKind {
    /// Puts the person on call.
    Add(PersonId),
    /// Takes the person off call.
    Remove(PersonId),
    /// Swaps `remove` for `add`, only while `remove` is in the set (D3).
    Replace { remove: PersonId, add: PersonId },
}

/// A runtime override, active on `[start, end)`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Override {
    /// First instant it applies.
    pub start: Timestamp,
    /// First instant it no longer applies; after `start`.
    pub end: Timestamp,
    /// What it does.
    pub kind: OverrideKind,
}

impl Override {
    /// Whether the override applies at `t`.
    pub fn is_active(&self, t: Timestamp) -> bool {
        self.start <= t && t < self.end
    }

    /// Applies the override to `set`.
    pub(super) fn apply(&self, set: &mut BTreeSet<PersonId>) {
        match &self.kind {
            OverrideKind::Add(person) => {
                set.insert(person.clone());
            }
            OverrideKind::Remove(person) => {
                set.remove(person);
            }
            OverrideKind::Replace { remove, add } => {
                if set.remove(remove) {
                    set.insert(add.clone());
                }
            }
        }
    }
}

/// How a temporary shift's end is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ShiftEnd {
    /// At this instant.
    At(Timestamp),
    /// A wall-clock length (D1): added to the civil start in the schedule's zone and
    /// resolved as an end, so `24h` from 20:00 ends at 20:00 even on a 23-hour day. An
    /// imported `duration` in seconds means the same.
    Length(SignedDuration),
}

/// One fixed shift of a temporary schedule.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TemporaryShift {
    /// Who is on call.
    pub person: PersonId,
    /// First instant on call.
    pub start: Timestamp,
    /// When it ends.
    pub end: ShiftEnd,
}

impl TemporaryShift {
    /// The end instant, a `Length` read in `tz`.
    pub fn end_in(&self, tz: &TimeZone) -> Timestamp {
        match self.end {
            ShiftEnd::At(end) => end,
            ShiftEnd::Length(length) => wall_clock_end(self.start, length, tz),
        }
    }

    /// Whether the shift covers `t`.
    pub fn covers(&self, t: Timestamp, tz: &TimeZone) -> bool {
        self.start <= t && t < self.end_in(tz)
    }
}

/// A temporary schedule: while its span covers an instant, its shifts alone decide (D3).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TemporarySchedule {
    /// First instant it replaces the schedule.
    pub start: Timestamp,
    /// First instant it no longer does.
    pub end: Timestamp,
    /// The fixed shifts; instants of the span none covers have nobody on call.
    pub shifts: Vec<TemporaryShift>,
}

/// Why a temporary schedule cannot be created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemporaryScheduleError {
    /// The end is not after the creation instant.
    EndNotInFuture,
}

impl fmt::Display for TemporaryScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemporaryScheduleError::EndNotInFuture => {
                f.write_str("a temporary schedule must end in the future")
            }
        }
    }
}

impl std::error::Error for TemporaryScheduleError {}

impl TemporarySchedule {
    /// Whether the span covers `t`.
    pub fn covers(&self, t: Timestamp) -> bool {
        self.start <= t && t < self.end
    }

    /// The schedule as created at `now`: a start in the past moves to `now`, and the end
    /// must lie after `now`.
    pub fn created_at(mut self, now: Timestamp) -> Result<Self, TemporaryScheduleError> {
        if self.end <= now {
            return Err(TemporaryScheduleError::EndNotInFuture);
        }
        self.start = self.start.max(now);
        Ok(self)
    }
}

/// A schedule: its zone, weekly rules and runtime state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// Config id.
    pub id: String,
    /// The zone rules are read in, and temporary `Length`s are added in.
    pub time_zone: TimeZone,
    /// Weekly rules; the union of active targets is the base set.
    pub rules: Vec<Rule>,
    /// Overrides in creation order; later ones act on the set earlier ones left.
    pub overrides: Vec<Override>,
    /// Temporary schedules; where several cover an instant, the last one listed wins.
    pub temporary: Vec<TemporarySchedule>,
}
