//! When the weekly hygiene digest is due: Monday 09:00 in the instance zone, moved out of
//! each recipient's quiet hours (22:00–07:00 in their zone, comms spec §0) to 09:00 their
//! time. A slot missed by more than [`GRACE`] (the server was down, or installed since) is
//! skipped rather than sent late.

use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan as _};

use super::hygiene::{FLAG_ABOVE, Row};

/// How late a digest may still go out.
pub const GRACE: SignedDuration = SignedDuration::from_hours(24);
const SEND_AT: Time = Time::constant(9, 0, 0, 0);

/// `date` at 09:00 in `zone` (a DST gap moves it later, a fold picks the earlier instant).
fn nine_on(date: jiff::civil::Date, zone: &TimeZone) -> Option<Timestamp> {
    date.to_datetime(SEND_AT)
        .to_zoned(zone.clone())
        .ok()
        .map(|z| z.timestamp())
}

/// The latest Monday 09:00 in `zone` at or before `now`.
pub fn slot_at_or_before(now: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
    let today = now.to_zoned(zone.clone()).date();
    let back = i64::from(today.weekday().to_monday_zero_offset());
    let monday = today.checked_sub(back.days()).ok()?;
    let slot = nine_on(monday, zone)?;
    if slot <= now {
        Some(slot)
    } else {
        nine_on(monday.checked_sub(7.days()).ok()?, zone)
    }
}

/// The Monday 09:00 after `slot`.
pub fn next_slot(slot: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
    let date = slot.to_zoned(zone.clone()).date();
    debug_assert_eq!(date.weekday(), Weekday::Monday);
    nine_on(date.checked_add(7.days()).ok()?, zone)
}

/// `at`, or 09:00 local when `at` falls in quiet hours in `zone`.
pub fn out_of_quiet_hours(at: Timestamp, zone: &TimeZone) -> Timestamp {
    let local = at.to_zoned(zone.clone());
    let date = match local.hour() {
        22.. => local.date().tomorrow().ok(),
        ..7 => Some(local.date()),
        _ => None,
    };
    date.and_then(|date| nine_on(date, zone)).unwrap_or(at)
}

/// The subject line for a digest of `rows`.
pub fn subject(rows: &[Row]) -> String {
    let flagged = rows.iter().filter(|r| r.flagged).count();
    match flagged {
        0 => "[dutybell] Weekly alert hygiene: nothing to fix".into(),
        1 => "[dutybell] Weekly alert hygiene: 1 rule to fix or delete".into(),
        n => format!("[dutybell] Weekly alert hygiene: {n} rules to fix or delete"),
    }
}

/// What precedes the table in the digest.
pub fn intro() -> String {
    format!(
        "Alert rules that fired more than {FLAG_ABOVE} times in the last 30 days with nobody \
         acting on them are flagged: fix or delete them.\n\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn the_slot_is_monday_nine_in_the_instance_zone() {
        let madrid = TimeZone::get("Europe/Madrid").unwrap();
        // Thursday 2025-06-12: the slot before is Monday 9 June 09:00 CEST (07:00Z).
        let slot = slot_at_or_before(at("2025-06-12T03:00:00Z"), &madrid).unwrap();
        assert_eq!(slot, at("2025-06-09T07:00:00Z"));
        assert_eq!(next_slot(slot, &madrid), Some(at("2025-06-16T07:00:00Z")));
        // Monday 08:59 local is still last week's slot; 09:00 is this week's.
        let early = slot_at_or_before(at("2025-06-16T06:59:00Z"), &madrid).unwrap();
        assert_eq!(early, at("2025-06-09T07:00:00Z"));
        let on_time = slot_at_or_before(at("2025-06-16T07:00:00Z"), &madrid).unwrap();
        assert_eq!(on_time, at("2025-06-16T07:00:00Z"));
    }

    #[test]
    fn a_slot_after_a_dst_change_keeps_local_nine() {
        // Madrid moves to CEST on Sunday 2025-03-30: the Monday before is 08:00Z, after 07:00Z.
        let madrid = TimeZone::get("Europe/Madrid").unwrap();
        assert_eq!(
            next_slot(at("2025-03-24T08:00:00Z"), &madrid),
            Some(at("2025-03-31T07:00:00Z"))
        );
    }

    #[test]
    fn quiet_hours_move_to_nine_local() {
        let new_york = TimeZone::get("America/New_York").unwrap();
        // Monday 09:00 Madrid is 03:00 in New York: moved to 09:00 there (13:00Z).
        assert_eq!(
            out_of_quiet_hours(at("2025-06-16T07:00:00Z"), &new_york),
            at("2025-06-16T13:00:00Z")
        );
        // 23:00 New York → 09:00 the next day.
        assert_eq!(
            out_of_quiet_hours(at("2025-06-17T03:00:00Z"), &new_york),
            at("2025-06-17T13:00:00Z")
        );
        // 10:00 local stays.
        let ten = at("2025-06-16T14:00:00Z");
        assert_eq!(out_of_quiet_hours(ten, &new_york), ten);
    }
}
