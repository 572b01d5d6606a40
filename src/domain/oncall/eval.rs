//! The one on-call function (D4) and everything derived from it.
//!
//! Owns precedence (D3: temporary schedule > overrides > rules), counting of active slots
//! for `on-active-shifts` rotations (D2), and the sweep that turns `oncall()` at every change
//! point into shifts and gaps. Every derived answer calls the same evaluation at the same
//! instants, so the surfaces cannot disagree; `preview` builds on the sweep.

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};

use super::PersonId;
use super::rotation::{Advance, Rotation, Slot, reanchor_from_position};
use super::schedule::{Rotations, Rule, Schedule, Target, push_merged};

/// A maximal interval during which one person is on call, clipped to the queried window.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Shift {
    /// First instant on call (or the window's start).
    pub start: Timestamp,
    /// First instant off call (or the window's end).
    pub end: Timestamp,
    /// Who.
    pub person: PersonId,
}

/// A maximal interval with nobody on call, clipped to the queried window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gap {
    /// First uncovered instant (or the window's start).
    pub start: Timestamp,
    /// First covered instant (or the window's end).
    pub end: Timestamp,
}

/// Who is on call for `schedule` at `at`.
///
/// Rotation targets naming no entry of `rotations` yield nobody; config validation rejects
/// them before they get here.
pub fn oncall(schedule: &Schedule, rotations: &Rotations, at: Timestamp) -> BTreeSet<PersonId> {
    Evaluator::new(schedule, rotations, at, at).at(at)
}

/// Every shift of `schedule` meeting `[from, to)`, clipped to it, ordered by start, end and
/// person.
///
/// Built from `oncall()` at every instant where membership can change (rotation handoffs,
/// rule window edges, override and temporary schedule edges), so it agrees with `oncall()`
/// at every instant of the window.
pub fn shifts(
    schedule: &Schedule,
    rotations: &Rotations,
    from: Timestamp,
    to: Timestamp,
) -> Vec<Shift> {
    let mut out = Vec::new();
    let mut open: BTreeMap<PersonId, Timestamp> = BTreeMap::new();
    for (start, _, set) in segments(schedule, rotations, from, to) {
        open.retain(|person, since| {
            let stays = set.contains(person);
            if !stays {
                out.push(Shift {
                    start: *since,
                    end: start,
                    person: person.clone(),
                });
            }
            stays
        });
        for person in set {
            open.entry(person).or_insert(start);
        }
    }
    for (person, since) in open {
        out.push(Shift {
            start: since,
            end: to,
            person,
        });
    }
    out.sort();
    out
}

/// Every interval of `[from, to)` with nobody on call, clipped to it, ascending.
pub fn gaps(
    schedule: &Schedule,
    rotations: &Rotations,
    from: Timestamp,
    to: Timestamp,
) -> Vec<Gap> {
    segments(schedule, rotations, from, to)
        .into_iter()
        .filter(|(_, _, set)| set.is_empty())
        .map(|(start, end, _)| Gap { start, end })
        .collect()
}

/// The slot of `rotation` holding `t`, its owner counted the way the rotation advances:
/// every slot, or only slots in which a rule of `schedule` targeting it is active.
pub fn slot_in_schedule(schedule: &Schedule, rotation: &Rotation, t: Timestamp) -> Slot {
    match rotation.advance {
        Advance::Calendar => rotation.slot_at(t),
        Advance::OnActiveShifts => ActiveSlots::new(schedule, rotation, t, t).slot(rotation, t),
    }
}

/// [`reanchor`](super::reanchor) for a rotation whose old owner at `at` depends on the rules
/// of `schedule` (`on-active-shifts`); also what editing such a rule calls, with the rule's
/// schedule before the edit and `new` equal to `old`.
pub fn reanchor_in_schedule(
    schedule: &Schedule,
    old: &Rotation,
    new: Rotation,
    at: Timestamp,
) -> Rotation {
    let position = slot_in_schedule(schedule, old, at).position;
    reanchor_from_position(old, position, new, at)
}

/// `[from, to)` cut at every change point, each piece with its on-call set; neighbours with
/// equal sets merged.
pub(super) fn segments(
    schedule: &Schedule,
    rotations: &Rotations,
    from: Timestamp,
    to: Timestamp,
) -> Vec<(Timestamp, Timestamp, BTreeSet<PersonId>)> {
    let mut out: Vec<(Timestamp, Timestamp, BTreeSet<PersonId>)> = Vec::new();
    if from >= to {
        return out;
    }

    let evaluator = Evaluator::new(schedule, rotations, from, to);
    let points = change_points(schedule, rotations, from, to);
    for (i, &start) in points.iter().enumerate() {
        let end = points.get(i + 1).copied().unwrap_or(to);
        let set = evaluator.at(start);
        match out.last_mut() {
            Some(last) if last.2 == set => last.1 = end,
            _ => out.push((start, end, set)),
        }
    }
    out
}

/// `from` and every instant in `(from, to)` where the on-call set may change, ascending.
fn change_points(
    schedule: &Schedule,
    rotations: &Rotations,
    from: Timestamp,
    to: Timestamp,
) -> Vec<Timestamp> {
    let tz = &schedule.time_zone;
    let mut points = vec![from];

    let mut targeted = BTreeSet::new();
    for rule in &schedule.rules {
        for (start, end) in rule.windows(tz, from, to) {
            points.extend([start, end]);
        }
        if let Target::Rotation(id) = &rule.target {
            targeted.insert(id);
        }
    }
    for rotation in targeted.into_iter().filter_map(|id| rotations.get(id)) {
        points.extend(rotation.boundaries(from, to));
    }
    for o in &schedule.overrides {
        points.extend([o.start, o.end]);
    }
    for temporary in &schedule.temporary {
        points.extend([temporary.start, temporary.end]);
        for shift in &temporary.shifts {
            points.extend([shift.start, shift.end_in(tz)]);
        }
    }

    points.retain(|p| from <= *p && *p < to);
    points.sort();
    points.dedup();
    points
}

/// Evaluates one schedule at instants of a range, with active-slot counts prepared once.
struct Evaluator<'a> {
    schedule: &'a Schedule,
    rotations: &'a Rotations,
    /// For each `on-active-shifts` rotation a rule targets: its counts over the range.
    active: BTreeMap<&'a str, ActiveSlots>,
}

impl<'a> Evaluator<'a> {
    /// Ready to evaluate at instants in `[lo, hi]`.
    fn new(schedule: &'a Schedule, rotations: &'a Rotations, lo: Timestamp, hi: Timestamp) -> Self {
        let mut active = BTreeMap::new();
        for rule in &schedule.rules {
            let Target::Rotation(id) = &rule.target else {
                continue;
            };
            let Some(rotation) = rotations.get(id) else {
                continue;
            };
            if rotation.advance == Advance::OnActiveShifts && !active.contains_key(id.as_str()) {
                active.insert(id.as_str(), ActiveSlots::new(schedule, rotation, lo, hi));
            }
        }
        Evaluator {
            schedule,
            rotations,
            active,
        }
    }

    /// The on-call set at `t`, by precedence D3.
    fn at(&self, t: Timestamp) -> BTreeSet<PersonId> {
        let tz = &self.schedule.time_zone;

        // A covering temporary schedule decides alone, overrides included.
        if let Some(temporary) = self.schedule.temporary.iter().rev().find(|s| s.covers(t)) {
            let covering = temporary.shifts.iter().filter(|shift| shift.covers(t, tz));
            return covering.map(|shift| shift.person.clone()).collect();
        }

        let mut set = BTreeSet::new();
        for rule in self
            .schedule
            .rules
            .iter()
            .filter(|rule| rule.is_active(tz, t))
        {
            match &rule.target {
                Target::Person(person) => {
                    set.insert(person.clone());
                }
                Target::Rotation(id) => {
                    if let Some(person) = self.rotation_person(id, t) {
                        set.insert(person);
                    }
                }
            }
        }

        for o in self.schedule.overrides.iter().filter(|o| o.is_active(t)) {
            o.apply(&mut set);
        }
        set
    }

    fn rotation_person(&self, id: &str, t: Timestamp) -> Option<PersonId> {
        let rotation = self.rotations.get(id)?;
        let slot = match (rotation.advance, self.active.get(id)) {
            (Advance::OnActiveShifts, Some(counts)) if counts.prepared_for(rotation, t) => {
                counts.slot(rotation, t)
            }
            _ => slot_in_schedule(self.schedule, rotation, t),
        };
        slot.person
    }
}

/// The slots of an `on-active-shifts` rotation in which a schedule rule targeting it is
/// active, from its anchor across a range of instants.
struct ActiveSlots {
    /// The anchored slot's grid index and position.
    anchor_k: i64,
    anchor_position: usize,
    /// Grid indices of the first and last slot counted.
    first_k: i64,
    last_k: i64,
    /// Active slots as inclusive ranges of slot numbers (0 = anchored slot), ascending and
    /// merged.
    ranges: Vec<(i64, i64)>,
}

impl ActiveSlots {
    /// Counts over the slots from the anchor to the slots holding `lo` and `hi`.
    ///
    /// Costs one pass over the rule windows in that span, so it grows with the time since
    /// the anchor.
    fn new(schedule: &Schedule, rotation: &Rotation, lo: Timestamp, hi: Timestamp) -> Self {
        let (anchor_k, anchor_position) = rotation.anchor_index();
        let first_k = rotation.slot_index(lo).min(anchor_k);
        let last_k = rotation.slot_index(hi).max(anchor_k);
        let (span_start, _) = rotation.slot_span(first_k);
        let (_, span_end) = rotation.slot_span(last_k);

        let rules = schedule
            .rules
            .iter()
            .filter(|rule| targets(rule, &rotation.id));
        let mut windows = Vec::new();
        for rule in rules {
            windows.extend(rule.windows(&schedule.time_zone, span_start, span_end));
        }
        windows.sort();
        let mut merged = Vec::new();
        for window in windows {
            push_merged(&mut merged, window);
        }

        // A slot counts if any instant of it is in a window: map each clipped window to the
        // numbers of the slots holding its first and last instant.
        let mut ranges: Vec<(i64, i64)> = Vec::new();
        for (start, end) in merged {
            let (start, end) = (start.max(span_start), end.min(span_end));
            let Ok(last) = end.checked_sub(SignedDuration::from_nanos(1)) else {
                continue;
            };
            if start >= end {
                continue;
            }
            let first_n = rotation.slot_number(anchor_k, rotation.slot_index(start));
            let last_n = rotation.slot_number(anchor_k, rotation.slot_index(last));
            match ranges.last_mut() {
                Some(prev) if first_n <= prev.1 + 1 => prev.1 = prev.1.max(last_n),
                _ => ranges.push((first_n, last_n)),
            }
        }
        ActiveSlots {
            anchor_k,
            anchor_position,
            first_k,
            last_k,
            ranges,
        }
    }

    /// Whether the counts reach the slot holding `t`.
    fn prepared_for(&self, rotation: &Rotation, t: Timestamp) -> bool {
        let k = rotation.slot_index(t);
        self.first_k <= k && k <= self.last_k
    }

    /// Active slots numbered in `[from, to)`.
    fn count(&self, from: i64, to: i64) -> i64 {
        let overlap = |&(first, last): &(i64, i64)| (last + 1).min(to) - first.max(from);
        self.ranges.iter().map(overlap).filter(|n| *n > 0).sum()
    }

    /// The slot holding `t`: the anchored position moved on by the active slots between.
    fn slot(&self, rotation: &Rotation, t: Timestamp) -> Slot {
        let k = rotation.slot_index(t);
        let n = rotation.slot_number(self.anchor_k, k);
        let moved = if n >= 0 {
            self.count(0, n)
        } else {
            -self.count(n, 0)
        };
        rotation.slot(k, rotation.position_after(self.anchor_position, moved))
    }
}

fn targets(rule: &Rule, rotation_id: &str) -> bool {
    matches!(&rule.target, Target::Rotation(id) if id == rotation_id)
}

/// The shifts under way at `at`: each person on call then, with the end of their current
/// shift as `shifts()` gives it, looking at most `horizon` ahead (a shift still running at
/// the horizon ends there). What every "who is on call now, until when" view shows.
pub fn current(
    schedule: &Schedule,
    rotations: &Rotations,
    at: Timestamp,
    horizon: SignedDuration,
) -> Vec<Shift> {
    let to = at.checked_add(horizon).unwrap_or(Timestamp::MAX);
    shifts(schedule, rotations, at, to)
        .into_iter()
        .filter(|shift| shift.start == at)
        .collect()
}
