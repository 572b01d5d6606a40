//! Status page times as text (comms spec §0, §4.3, §4.4, §4.7): the page zone's wall clock
//! for people and the API, UTC for feeds.
//!
//! Every string is built by hand from jiff's civil fields, never through the host's `TZ`
//! or locale, so a server run with `TZ=America/New_York LC_ALL=de_DE.UTF-8` writes the same
//! bytes (CM-03). Stored instants never change; only these renderings follow the page zone
//! (CM-02).

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Weekday};
use jiff::tz::{Offset, TimeZone};

/// Statuspage-v2 API time: RFC 3339 with milliseconds and the page zone's offset at that
/// instant, e.g. `2024-03-11T07:30:00.000+11:00` (§4.4).
pub fn api_time(ts: Timestamp, tz: &TimeZone) -> String {
    let local = tz.to_datetime(ts);
    format!(
        "{}.{:03}{}",
        civil_seconds(local),
        local.millisecond(),
        offset_text(tz.to_offset(ts))
    )
}

/// The calendar date in the page zone: history groups and uptime days use it (CM-01).
pub fn page_date(ts: Timestamp, tz: &TimeZone) -> Date {
    tz.to_datetime(ts).date()
}

/// Wall-clock time with the zone abbreviation, e.g. `07:30 AEDT` (§4.3).
pub fn page_clock(ts: Timestamp, tz: &TimeZone) -> String {
    let local = tz.to_datetime(ts);
    let info = tz.to_offset_info(ts);
    format!(
        "{:02}:{:02} {}",
        local.hour(),
        local.minute(),
        info.abbreviation()
    )
}

/// RFC 822 date in GMT with English names, e.g. `Wed, 26 Nov 2025 15:00:00 GMT` (§4.7).
pub fn rfc822_gmt(ts: Timestamp) -> String {
    let utc = TimeZone::UTC.to_datetime(ts);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        weekday_name(utc.weekday()),
        utc.day(),
        month_name(utc.month()),
        utc.year(),
        utc.hour(),
        utc.minute(),
        utc.second()
    )
}

/// RFC 3339 in UTC to the second, e.g. `2025-11-26T15:00:00Z` (Atom, `<time datetime>`).
pub fn atom_time(ts: Timestamp) -> String {
    format!("{}Z", civil_seconds(TimeZone::UTC.to_datetime(ts)))
}

/// `YYYY-MM-DDTHH:MM:SS` of a civil date-time.
fn civil_seconds(dt: DateTime) -> String {
    format!(
        "{}T{:02}:{:02}:{:02}",
        dt.date(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

/// `+HH:MM` / `-HH:MM`; `+00:00` for UTC. Sub-minute offsets (pre-1900 local mean time)
/// are truncated to the minute, as RFC 3339 cannot carry them.
fn offset_text(offset: Offset) -> String {
    let seconds = offset.seconds();
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Monday => "Mon",
        Weekday::Tuesday => "Tue",
        Weekday::Wednesday => "Wed",
        Weekday::Thursday => "Thu",
        Weekday::Friday => "Fri",
        Weekday::Saturday => "Sat",
        Weekday::Sunday => "Sun",
    }
}

/// `month` is 1..=12, as jiff guarantees.
fn month_name(month: i8) -> &'static str {
    match month {
        1 => "Jan",
        2 => "Feb",
        3 => "Mar",
        4 => "Apr",
        5 => "May",
        6 => "Jun",
        7 => "Jul",
        8 => "Aug",
        9 => "Sep",
        10 => "Oct",
        11 => "Nov",
        _ => "Dec",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn zone(name: &str) -> TimeZone {
        TimeZone::get(name).unwrap()
    }

    #[test]
    fn cm01_sydney_dates_and_clocks_follow_the_page_zone() {
        let sydney = zone("Australia/Sydney");
        let march = ts("2024-03-10T20:30:00Z");
        let april = ts("2024-04-10T20:30:00Z");

        assert_eq!(page_date(march, &sydney), jiff::civil::date(2024, 3, 11));
        assert_eq!(page_date(april, &sydney), jiff::civil::date(2024, 4, 11));
        assert_eq!(page_clock(march, &sydney), "07:30 AEDT");
        assert_eq!(page_clock(april, &sydney), "06:30 AEST");
        assert_eq!(api_time(march, &sydney), "2024-03-11T07:30:00.000+11:00");
        assert_eq!(api_time(april, &sydney), "2024-04-11T06:30:00.000+10:00");
    }

    #[test]
    fn cm02_changing_the_zone_changes_only_the_rendering() {
        let stored = ts("2024-06-01T08:00:00Z");
        let berlin = zone("Europe/Berlin");

        assert_eq!(page_clock(stored, &berlin), "10:00 CEST");
        assert_eq!(api_time(stored, &berlin), "2024-06-01T10:00:00.000+02:00");
        assert_eq!(page_clock(stored, &TimeZone::UTC), "08:00 UTC");
        assert_eq!(
            api_time(stored, &TimeZone::UTC),
            "2024-06-01T08:00:00.000+00:00"
        );
        assert_eq!(page_clock(stored, &berlin), "10:00 CEST");
        assert_eq!(stored, ts("2024-06-01T08:00:00Z"));
    }

    #[test]
    fn cm03_feed_dates_are_english_gmt_whatever_the_host() {
        let update = ts("2025-11-26T15:00:00.250Z");

        assert_eq!(rfc822_gmt(update), "Wed, 26 Nov 2025 15:00:00 GMT");
        assert_eq!(atom_time(update), "2025-11-26T15:00:00Z");
        assert_eq!(
            rfc822_gmt(ts("2024-02-04T03:04:05Z")),
            "Sun, 04 Feb 2024 03:04:05 GMT"
        );
    }

    #[test]
    fn api_time_keeps_milliseconds_and_negative_offsets() {
        let ny = zone("America/New_York");

        assert_eq!(
            api_time(ts("2025-01-15T12:00:00.123Z"), &ny),
            "2025-01-15T07:00:00.123-05:00"
        );
        assert_eq!(
            api_time(ts("2025-01-15T12:00:00Z"), &zone("Asia/Kolkata")),
            "2025-01-15T17:30:00.000+05:30"
        );
    }
}
