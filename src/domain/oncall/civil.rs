//! Civil-time resolution: a local date and clock in an IANA zone becomes one instant.
//!
//! Owns the two rules of spec §2.1 (D1). A repeated civil time resolves to its first
//! occurrence for a start and its last for an end, so windows meeting in a repeated hour
//! overlap instead of leaving a hole. A missing civil time resolves, for both, to the
//! transition instant (the first instant after the gap), never to a time shifted by the whole
//! gap as jiff's `Disambiguation` strategies do.

use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp};

/// Which end of an interval a civil time stands for; only a repeated time cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Start,
    End,
}

/// The instant a civil `dt` in `tz` opens at: the earlier one when repeated, the transition
/// instant when missing.
///
/// Civil times too close to jiff's limits (year ±9999) to have an instant saturate to
/// [`Timestamp::MIN`] or [`Timestamp::MAX`].
pub fn resolve_start(dt: DateTime, tz: &TimeZone) -> Timestamp {
    try_resolve(dt, tz, Side::Start).unwrap_or_else(|| saturated(dt))
}

/// The instant a civil `dt` in `tz` closes at: the later one when repeated, the transition
/// instant when missing.
///
/// Saturates like [`resolve_start`].
pub fn resolve_end(dt: DateTime, tz: &TimeZone) -> Timestamp {
    try_resolve(dt, tz, Side::End).unwrap_or_else(|| saturated(dt))
}

/// [`resolve_start`] without saturation: `None` when `dt` has no instant in jiff's range.
pub(super) fn try_resolve_start(dt: DateTime, tz: &TimeZone) -> Option<Timestamp> {
    try_resolve(dt, tz, Side::Start)
}

fn try_resolve(dt: DateTime, tz: &TimeZone, side: Side) -> Option<Timestamp> {
    match tz.to_ambiguous_timestamp(dt).offset() {
        AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(dt).ok(),
        AmbiguousOffset::Fold { before, after } => {
            // `before` is the larger offset, so reading `dt` with it gives the earlier instant.
            let offset = if side == Side::Start { before } else { after };
            offset.to_timestamp(dt).ok()
        }
        AmbiguousOffset::Gap { after, .. } => {
            // Read with the post-gap offset, `dt` lands just before the transition; the next
            // transition from there is the first instant after the gap.
            let just_before = after.to_timestamp(dt).ok()?;
            tz.following(just_before)
                .next()
                .map(|transition| transition.timestamp())
        }
    }
}

fn saturated(dt: DateTime) -> Timestamp {
    if dt.year() > 0 {
        Timestamp::MAX
    } else {
        Timestamp::MIN
    }
}

/// The civil time `length` after the civil reading of `start` in `tz`, resolved as an end.
///
/// This is how a wall-clock length (D1) becomes an instant: `24h` from 20:00 ends at 20:00
/// the next day even when that day has 23 or 25 hours.
pub fn wall_clock_end(start: Timestamp, length: SignedDuration, tz: &TimeZone) -> Timestamp {
    let civil = tz.to_datetime(start);
    match civil.checked_add(length) {
        Ok(end) => resolve_end(end, tz),
        Err(_) if length.is_negative() => Timestamp::MIN,
        Err(_) => Timestamp::MAX,
    }
}
