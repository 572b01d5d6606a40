//! What previews and coverage notices derive from the sweep: forward-only gaps (D16) and
//! people the rules never put on call (D2).
//!
//! Owns the horizons; remembering which gaps were already told is the engine's job, with
//! [`unannounced_gaps`] as the pure half of it.

use std::collections::BTreeSet;

use jiff::{SignedDuration, Timestamp};

use super::PersonId;
use super::civil::wall_clock_end;
use super::eval::{Gap, gaps, shifts};
use super::rotation::{Advance, Rotation, RotationKind};
use super::schedule::{Rotations, Schedule, Target};

/// Something a schedule preview should point out (D2, §1.2).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PreviewWarning {
    /// A rotation targeted by a rule has no people.
    NoPeople { rotation: String },
    /// The rules give this member of the rotation no on-call time over a full cycle.
    NeverOnCall { rotation: String, person: PersonId },
}

/// How far ahead coverage gaps are reported (D16).
pub const COVERAGE_HORIZON: SignedDuration = SignedDuration::from_hours(7 * 24);

/// The longest horizon a preview checks for never-on-call people (D2).
const PREVIEW_CAP_HOURS: i64 = 366 * 24;

/// The gaps a coverage warning reports at `now`: those starting before `now` +
/// [`COVERAGE_HORIZON`] and ending after `now`, a current one from `now`, an ended one
/// never (D16).
///
/// A gap keeps its true end past the horizon, looked up as far as a second horizon, so it
/// reads the same on every pass; one still open there ends there.
pub fn coverage_gaps(schedule: &Schedule, rotations: &Rotations, now: Timestamp) -> Vec<Gap> {
    let horizon = now.checked_add(COVERAGE_HORIZON).unwrap_or(Timestamp::MAX);
    let lookahead = horizon
        .checked_add(COVERAGE_HORIZON)
        .unwrap_or(Timestamp::MAX);
    let mut out = gaps(schedule, rotations, now, lookahead);
    out.retain(|gap| gap.start < horizon);
    out
}

/// The gaps of `current` that overlap none of `announced`: what the next notice should
/// list, so each gap is told once even as its start moves to `now` or an edit widens it.
pub fn unannounced_gaps(current: &[Gap], announced: &[Gap]) -> Vec<Gap> {
    let overlaps = |a: &Gap, b: &Gap| a.start < b.end && b.start < a.end;
    let fresh = |gap: &&Gap| !announced.iter().any(|seen| overlaps(gap, seen));
    current.iter().filter(fresh).copied().collect()
}

/// Warnings for a preview starting at `from`: rotations with no people, and people the rules
/// never put on call over lcm(rotation cycle, 7 d), at most 366 d (D2).
///
/// `on-active-shifts` rotations are checked over the full 366 d: their cycle is counted in
/// active slots, so any member is reached once the rules use enough slots.
pub fn preview_warnings(
    schedule: &Schedule,
    rotations: &Rotations,
    from: Timestamp,
) -> Vec<PreviewWarning> {
    let mut warnings = Vec::new();
    let mut seen = BTreeSet::new();
    for rule in &schedule.rules {
        let Target::Rotation(id) = &rule.target else {
            continue;
        };
        let Some(rotation) = rotations.get(id) else {
            continue;
        };
        if !seen.insert(id) {
            continue;
        }
        if rotation.people.is_empty() {
            warnings.push(PreviewWarning::NoPeople {
                rotation: id.clone(),
            });
            continue;
        }

        // Only this rotation's rules count: overrides and other targets are not the rules
        // giving its people time.
        let only_rotation = Schedule {
            rules: schedule
                .rules
                .iter()
                .filter(|r| r.target == rule.target)
                .cloned()
                .collect(),
            overrides: Vec::new(),
            temporary: Vec::new(),
            ..schedule.clone()
        };
        let horizon = SignedDuration::from_hours(preview_hours(rotation));
        let to = wall_clock_end(from, horizon, &schedule.time_zone);
        let reached: BTreeSet<PersonId> = shifts(&only_rotation, rotations, from, to)
            .into_iter()
            .map(|s| s.person)
            .collect();

        let mut warned = BTreeSet::new();
        for person in &rotation.people {
            if !reached.contains(person) && warned.insert(person) {
                let warning = PreviewWarning::NeverOnCall {
                    rotation: id.clone(),
                    person: person.clone(),
                };
                warnings.push(warning);
            }
        }
    }
    warnings
}

/// Hours of wall clock after which the rules and the rotation repeat together, capped.
fn preview_hours(rotation: &Rotation) -> i64 {
    let people = i64::try_from(rotation.people.len()).unwrap_or(i64::MAX);
    let cycle_units = people.saturating_mul(i64::from(rotation.shift_length.max(1)));
    let cycle_hours = match (rotation.advance, rotation.kind) {
        (Advance::OnActiveShifts, _) | (_, RotationKind::Monthly) => return PREVIEW_CAP_HOURS,
        (Advance::Calendar, RotationKind::Hourly) => cycle_units,
        (Advance::Calendar, RotationKind::Daily) => cycle_units.saturating_mul(24),
        (Advance::Calendar, RotationKind::Weekly) => cycle_units.saturating_mul(168),
    };
    if cycle_hours >= PREVIEW_CAP_HOURS {
        return PREVIEW_CAP_HOURS;
    }
    let week = 168;
    (cycle_hours / gcd(cycle_hours, week) * week).min(PREVIEW_CAP_HOURS)
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a.max(1) } else { gcd(b, a % b) }
}
