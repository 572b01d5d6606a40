//! Maintenance windows as data (on-call spec D11): when a service is quiet, and until when.
//!
//! Owns reading a window boundary (a civil time in a zone, or an RFC 3339 instant) and
//! answering "is this service in maintenance at `now`, and until when?". Holding and
//! releasing alerts belongs to `engine::maintenance`.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::oncall::{resolve_end, resolve_start};

/// One window, `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// Which boundary a text stands for; only a civil time in a repeated or missing hour cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Boundary {
    Start,
    End,
}

/// Reads `2025-06-12T02:00` (civil, in `zone`) or `2025-06-12T00:00:00Z` (an instant with an
/// offset). Civil times resolve like schedule windows (§2.1): a start to the earlier of a
/// repeated time, an end to the later, a missing time to the transition.
pub fn boundary(text: &str, zone: Option<&TimeZone>, side: Boundary) -> Result<Timestamp, String> {
    if let Ok(instant) = text.parse::<Timestamp>() {
        return Ok(instant);
    }
    let civil: jiff::civil::DateTime = text.parse().map_err(|_| {
        format!(
            "{text:?} is neither a local time like \"2025-06-12T02:00\" nor an RFC 3339 \
             instant like \"2025-06-12T00:00:00Z\""
        )
    })?;
    let zone = zone.ok_or_else(|| format!("{text:?} is a local time: set `time_zone`"))?;
    Ok(match side {
        Boundary::Start => resolve_start(civil, zone),
        Boundary::End => resolve_end(civil, zone),
    })
}

/// The end of the maintenance covering `now`, if one does. Of overlapping windows the
/// latest end wins; a window that starts exactly at that end is found again at the end.
pub fn active_until(windows: &[Window], now: Timestamp) -> Option<Timestamp> {
    windows
        .iter()
        .filter(|w| w.start <= now && now < w.end)
        .map(|w| w.end)
        .max()
}

/// The earliest window start after `now`: when the engine must next look, to hold alerts
/// opened before the window.
pub fn next_start(windows: &[Window], now: Timestamp) -> Option<Timestamp> {
    windows.iter().map(|w| w.start).filter(|s| *s > now).min()
}

/// Longest window accepted: a year. Longer reads as a mistake (a wrong year).
pub const MAX_LENGTH: SignedDuration = SignedDuration::from_hours(366 * 24);

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn civil_boundaries_resolve_in_their_zone() {
        let madrid = TimeZone::get("Europe/Madrid").unwrap();
        let start = boundary("2025-06-12T02:00", Some(&madrid), Boundary::Start).unwrap();
        assert_eq!(start, t("2025-06-12T00:00:00Z"));
        assert!(boundary("2025-06-12T02:00", None, Boundary::Start).is_err());
        assert!(boundary("tomorrow", Some(&madrid), Boundary::Start).is_err());
    }

    #[test]
    fn instants_ignore_the_zone() {
        let madrid = TimeZone::get("Europe/Madrid").unwrap();
        let at = boundary("2025-06-12T02:00:00+01:00", Some(&madrid), Boundary::End).unwrap();
        assert_eq!(at, t("2025-06-12T01:00:00Z"));
    }

    #[test]
    fn a_repeated_hour_gives_the_earlier_start_and_the_later_end() {
        let madrid = TimeZone::get("Europe/Madrid").unwrap();
        let start = boundary("2025-10-26T02:30", Some(&madrid), Boundary::Start).unwrap();
        let end = boundary("2025-10-26T02:30", Some(&madrid), Boundary::End).unwrap();
        assert_eq!(start, t("2025-10-26T00:30:00Z"));
        assert_eq!(end, t("2025-10-26T01:30:00Z"));
    }

    #[test]
    fn windows_are_half_open_and_overlaps_take_the_latest_end() {
        let windows = [
            Window {
                start: t("2025-06-12T00:00:00Z"),
                end: t("2025-06-12T02:00:00Z"),
            },
            Window {
                start: t("2025-06-12T01:00:00Z"),
                end: t("2025-06-12T03:00:00Z"),
            },
        ];
        assert_eq!(active_until(&windows, t("2025-06-11T23:59:59Z")), None);
        assert_eq!(
            active_until(&windows, t("2025-06-12T00:00:00Z")),
            Some(t("2025-06-12T02:00:00Z"))
        );
        assert_eq!(
            active_until(&windows, t("2025-06-12T01:30:00Z")),
            Some(t("2025-06-12T03:00:00Z"))
        );
        assert_eq!(active_until(&windows, t("2025-06-12T03:00:00Z")), None);
        assert_eq!(
            next_start(&windows, t("2025-06-12T00:00:00Z")),
            Some(t("2025-06-12T01:00:00Z"))
        );
        assert_eq!(next_start(&windows, t("2025-06-12T01:00:00Z")), None);
    }
}
