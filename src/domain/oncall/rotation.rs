//! Rotations: the civil handoff grid, who owns each slot, and re-anchoring on edits.
//!
//! Owns spec §1.2 for calendar advance: boundaries are civil `start + k × shift_length ×
//! unit`, resolved with [`resolve_start`](super::resolve_start); civil boundaries that land on
//! the same instant are one boundary, so no slot is empty and no person is skipped. Positions
//! are computed from the anchor, never stored per slot. Counting only active slots
//! (`on-active-shifts`, D2) needs schedule rules and lives in `eval`.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Span, Timestamp};

use super::PersonId;
use super::civil::try_resolve_start;

/// The unit of [`Rotation::shift_length`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RotationKind {
    Hourly,
    Daily,
    Weekly,
    Monthly,
}

/// Which slots use up a turn (D2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Advance {
    /// Every slot goes to the next person, used or not.
    #[default]
    Calendar,
    /// Only slots in which a schedule rule targeting the rotation is active count.
    OnActiveShifts,
}

/// A slot pinned to a position: the slot holding `at` belongs to `people[position]`.
///
/// Written by [`reanchor`] when an edit must not move who is on call (D13).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anchor {
    /// An instant in the anchored slot, normally its start.
    pub at: Timestamp,
    /// The position owning that slot.
    pub position: usize,
}

/// A rotation as configured, plus its stored anchor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rotation {
    /// The config id, which rules name in `rotation:` targets.
    pub id: String,
    /// The unit of `shift_length`.
    pub kind: RotationKind,
    /// Units per slot, 1..9000; 0 is read as 1 so the grid stays well defined.
    pub shift_length: u32,
    /// The handoff reference, civil in `time_zone`.
    pub start: DateTime,
    /// The zone the grid is laid in.
    pub time_zone: TimeZone,
    /// Ordered; repeats allowed; empty means nobody is ever on call.
    pub people: Vec<PersonId>,
    /// Which slots use up a turn.
    pub advance: Advance,
    /// From re-anchoring edits; `None` means the slot opening at `start` is position 0.
    pub anchor: Option<Anchor>,
}

/// One slot of a rotation: a maximal interval owned by one position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    /// `people[position]`, or `None` when the rotation has no people.
    pub person: Option<PersonId>,
    /// Index into `people`; 0 when there are none.
    pub position: usize,
    /// The handoff that opened the slot ([`Timestamp::MIN`] beyond jiff's range).
    pub start: Timestamp,
    /// The next handoff ([`Timestamp::MAX`] beyond jiff's range).
    pub end: Timestamp,
}

/// A resolved grid boundary, or a marker for one beyond the range jiff can represent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Bound {
    Before,
    At(Timestamp),
    After,
}

impl Bound {
    fn or_min(self) -> Timestamp {
        match self {
            Bound::At(t) => t,
            Bound::Before => Timestamp::MIN,
            Bound::After => Timestamp::MAX,
        }
    }
}

impl Rotation {
    /// The slot holding `t`, with its owner under calendar advance.
    ///
    /// For an `on-active-shifts` rotation the owner depends on the schedule's rules; use
    /// [`slot_in_schedule`](super::slot_in_schedule) for it. Start and end are the same in
    /// both modes.
    pub fn slot_at(&self, t: Timestamp) -> Slot {
        let k = self.slot_index(t);
        let (anchor_k, anchor_position) = self.anchor_index();
        let offset = self.slot_number(anchor_k, k);
        self.slot(k, self.position_after(anchor_position, offset))
    }

    /// Every handoff instant in `[from, to)`, ascending, each once.
    pub fn boundaries(&self, from: Timestamp, to: Timestamp) -> Vec<Timestamp> {
        let mut out = Vec::new();
        if from >= to {
            return out;
        }

        let mut k = self.slot_index(from);
        if self.bound(k) < Bound::At(from) {
            k += 1;
        }
        loop {
            match self.bound(k) {
                Bound::At(b) if b < to => {
                    // Merged civil boundaries share an instant; report it once.
                    if out.last() != Some(&b) {
                        out.push(b);
                    }
                }
                Bound::Before => {}
                Bound::At(_) | Bound::After => break,
            }
            k += 1;
        }
        out
    }

    /// Units per slot, never 0.
    fn step(&self) -> i64 {
        i64::from(self.shift_length.max(1))
    }

    /// Seconds in one unit, for the kinds whose civil unit has a fixed civil length.
    fn unit_secs(&self) -> Option<i64> {
        match self.kind {
            RotationKind::Hourly => Some(3_600),
            RotationKind::Daily => Some(86_400),
            RotationKind::Weekly => Some(604_800),
            RotationKind::Monthly => None,
        }
    }

    /// `start` plus `months` months, the day clamped to the month's end.
    fn plus_months(&self, months: i64) -> Option<DateTime> {
        // Always from `start` itself, so Jan 31 → Feb 29 → Mar 31, not Mar 29.
        let span = Span::new().try_months(months).ok()?;
        self.start.checked_add(span).ok()
    }

    /// Civil boundary k, or `None` outside jiff's civil range.
    fn civil_boundary(&self, k: i64) -> Option<DateTime> {
        let units = k.checked_mul(self.step())?;
        match self.unit_secs() {
            Some(secs) => {
                let secs = units.checked_mul(secs)?;
                self.start.checked_add(SignedDuration::from_secs(secs)).ok()
            }
            None => self.plus_months(units),
        }
    }

    /// Boundary k resolved as a start.
    pub(super) fn bound(&self, k: i64) -> Bound {
        match self
            .civil_boundary(k)
            .and_then(|c| try_resolve_start(c, &self.time_zone))
        {
            Some(t) => Bound::At(t),
            None if k < 0 => Bound::Before,
            None => Bound::After,
        }
    }

    /// The largest k whose civil boundary is at or before `x`.
    fn civil_floor(&self, x: DateTime) -> i64 {
        let step = self.step();
        match self.unit_secs() {
            Some(secs) => {
                let period = i128::from(step) * i128::from(secs) * 1_000_000_000;
                let elapsed = x.duration_since(self.start).as_nanos();
                // The civil range spans far fewer periods than i64 holds.
                i64::try_from(elapsed.div_euclid(period)).unwrap_or(i64::MAX)
            }
            None => {
                let years = i64::from(x.year()) - i64::from(self.start.year());
                let months = years * 12 + i64::from(x.month()) - i64::from(self.start.month());
                let months = match self.plus_months(months) {
                    Some(c) if c <= x => months,
                    _ => months - 1,
                };
                months.div_euclid(step)
            }
        }
    }

    /// The smallest k whose civil boundary is at or after `x`.
    fn civil_ceil(&self, x: DateTime) -> i64 {
        let k = self.civil_floor(x);
        if self.civil_boundary(k) == Some(x) {
            k
        } else {
            k + 1
        }
    }

    /// The grid index of the slot holding `t`: the largest k with boundary k at or before `t`.
    ///
    /// Being the largest, it never names an empty (merged) civil slot.
    pub(super) fn slot_index(&self, t: Timestamp) -> i64 {
        // The civil reading of `t` lands within a step or two of the answer; resolution
        // near transitions can move an instant across a boundary, so settle by probing.
        let mut k = self.civil_floor(self.time_zone.to_datetime(t));
        while self.bound(k) > Bound::At(t) {
            k -= 1;
        }
        while self.bound(k + 1) <= Bound::At(t) {
            k += 1;
        }
        k
    }

    /// Start and end of slot k.
    pub(super) fn slot_span(&self, k: i64) -> (Timestamp, Timestamp) {
        (self.bound(k).or_min(), self.bound(k + 1).or_min())
    }

    /// Slot k owned by `position`.
    pub(super) fn slot(&self, k: i64, position: usize) -> Slot {
        let (start, end) = self.slot_span(k);
        Slot {
            person: self.people.get(position).cloned(),
            position,
            start,
            end,
        }
    }

    /// The anchored slot index and its position.
    pub(super) fn anchor_index(&self) -> (i64, usize) {
        match &self.anchor {
            Some(anchor) => (self.slot_index(anchor.at), anchor.position),
            None => {
                // A fresh rotation: the slot opening at `start` is `people[0]`'s.
                let start = self.bound(0);
                let k = match start {
                    Bound::At(t) => self.slot_index(t),
                    Bound::Before | Bound::After => 0,
                };
                (k, 0)
            }
        }
    }

    /// How many slots (distinct instants, not civil indices) lie from slot `from` to slot
    /// `to`; negative when `to` comes first. Both must come from [`Self::slot_index`].
    pub(super) fn slot_number(&self, from: i64, to: i64) -> i64 {
        if to >= from {
            (to - from) - self.merges(from, to)
        } else {
            -((from - to) - self.merges(to, from))
        }
    }

    /// Civil boundaries j in `(lo, hi]` resolving to the same instant as j − 1.
    ///
    /// Only a gap merges boundaries: every civil boundary from the gap's first missing time
    /// to its first time after resolves to the transition instant.
    fn merges(&self, lo: i64, hi: i64) -> i64 {
        let tz = &self.time_zone;
        let first = self.bound(lo).or_min();
        let last = self.bound(hi).or_min();
        let mut merges = 0;
        for transition in tz.following(first) {
            let at = transition.timestamp();
            if at > last {
                break;
            }
            let after = transition.offset();
            let Ok(just_before) = at.checked_sub(SignedDuration::from_nanos(1)) else {
                continue;
            };
            let before = tz.to_offset(just_before);
            if after <= before {
                continue;
            }

            let gap_first = self.civil_ceil(before.to_datetime(at));
            let gap_last = self.civil_floor(after.to_datetime(at));
            let merged = gap_last.min(hi) - gap_first.max(lo);
            if merged > 0 {
                merges += merged;
            }
        }
        merges
    }

    /// `anchor_position` moved on by `offset` slots, wrapping; 0 when there are no people.
    pub(super) fn position_after(&self, anchor_position: usize, offset: i64) -> usize {
        let len = i128::try_from(self.people.len()).unwrap_or(i128::MAX);
        if len == 0 {
            return 0;
        }
        let anchor = i128::try_from(anchor_position).unwrap_or(0);
        usize::try_from((anchor + i128::from(offset)).rem_euclid(len)).unwrap_or(0)
    }
}

/// `new` with an anchor that keeps on call at `at` whoever was on call under `old` (D13).
///
/// The old owner is taken under calendar advance; for an `on-active-shifts` rotation use
/// [`reanchor_in_schedule`](super::reanchor_in_schedule), which counts with the rules.
pub fn reanchor(old: &Rotation, new: Rotation, at: Timestamp) -> Rotation {
    let position = old.slot_at(at).position;
    reanchor_from_position(old, position, new, at)
}

/// `new` anchored so that the person at `old_position` in `old.people` owns the slot of the
/// new grid holding `at`.
///
/// If that person was removed, the next remaining person after them in the old order takes
/// over, wrapping past the end. A person listed more than once keeps the same occurrence
/// when it still exists. No people: position 0, nobody on call.
pub fn reanchor_from_position(
    old: &Rotation,
    old_position: usize,
    mut new: Rotation,
    at: Timestamp,
) -> Rotation {
    let position = successor_position(&old.people, old_position, &new.people);
    let (slot_start, _) = new.slot_span(new.slot_index(at));
    new.anchor = Some(Anchor {
        at: slot_start,
        position,
    });
    new
}

/// Where the old person at `from` (or the first remaining one after them) sits in `new`.
fn successor_position(old: &[PersonId], from: usize, new: &[PersonId]) -> usize {
    if old.is_empty() || new.is_empty() {
        return 0;
    }
    let from = from % old.len();
    for step in 0..old.len() {
        let i = (from + step) % old.len();
        let person = &old[i];
        let occurrence = old[..i].iter().filter(|p| *p == person).count();
        let mut places = new
            .iter()
            .enumerate()
            .filter(|(_, p)| *p == person)
            .map(|(j, _)| j);
        let same_occurrence = places.clone().nth(occurrence);
        if let Some(j) = same_occurrence.or_else(|| places.next()) {
            return j;
        }
    }
    0
}
