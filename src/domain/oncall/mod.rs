//! The on-call time engine: who is on call at an instant, and the shifts over a window.
//!
//! Owns rotations (§1.2), civil-time resolution across DST (§2.1, D1), schedules with rules,
//! overrides and temporary schedules (§1.3, D3), and the two functions every surface reads,
//! [`oncall`] and [`shifts`] (D4), plus what previews derive from them: [`gaps`],
//! [`coverage_gaps`] (D16) and [`preview_warnings`] (D2). Pure: no I/O and no clock; callers
//! pass every instant. History, notices and storing anchors belong to `engine` and `store`.
//!
//! Layout: `civil` resolves civil times, `rotation` lays the handoff grid and re-anchors,
//! `schedule` holds rules, overrides and temporary schedules as data, `eval` combines them,
//! `preview` derives gaps and warnings.

mod civil;
mod eval;
mod preview;
mod rotation;
mod schedule;

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;

pub use civil::{resolve_end, resolve_start, wall_clock_end};
pub use eval::{Gap, Shift, current, gaps, oncall, reanchor_in_schedule, shifts, slot_in_schedule};
pub use preview::{
    COVERAGE_HORIZON, PreviewWarning, coverage_gaps, preview_warnings, unannounced_gaps,
};
pub use rotation::{
    Advance, Anchor, Rotation, RotationKind, Slot, reanchor, reanchor_from_position,
};
pub use schedule::{
    Override, OverrideKind, Rotations, Rule, Schedule, ShiftEnd, Target, TemporarySchedule,
    TemporaryScheduleError, TemporaryShift, Weekdays,
};

/// A person's config id.
pub type PersonId = String;
