//! iCalendar (RFC 5545) text for on-call feeds.
//!
//! Owns the wire format only: CRLF line ends, content lines folded at 75 octets without
//! splitting a UTF-8 character, escaped TEXT values and UTC `DATE-TIME`s (`...Z`), so no
//! `VTIMEZONE` is needed and no client can read a shift in the wrong zone. Which shifts go
//! into a feed (from `domain::oncall::shifts`) is `http::ical`'s job.

use jiff::Timestamp;

/// One event of a feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Stable across fetches, so clients update an event instead of duplicating it.
    pub uid: String,
    pub start: Timestamp,
    pub end: Timestamp,
    pub summary: String,
    pub description: String,
}

/// A whole `VCALENDAR` named `name`; `stamp` is the `DTSTAMP` of every event.
pub fn calendar(name: &str, events: &[Event], stamp: Timestamp) -> String {
    let mut out = String::new();
    let mut line = |text: String| fold_into(&mut out, &text);
    line("BEGIN:VCALENDAR".into());
    line("VERSION:2.0".into());
    line("PRODID:-//dutybell//on-call feed//EN".into());
    line("CALSCALE:GREGORIAN".into());
    line("METHOD:PUBLISH".into());
    line(format!("X-WR-CALNAME:{}", escape(name)));
    for event in events {
        line("BEGIN:VEVENT".into());
        line(format!("UID:{}", escape(&event.uid)));
        line(format!("DTSTAMP:{}", utc(stamp)));
        line(format!("DTSTART:{}", utc(event.start)));
        line(format!("DTEND:{}", utc(event.end)));
        line(format!("SUMMARY:{}", escape(&event.summary)));
        if !event.description.is_empty() {
            line(format!("DESCRIPTION:{}", escape(&event.description)));
        }
        line("TRANSP:TRANSPARENT".into());
        line("END:VEVENT".into());
    }
    line("END:VCALENDAR".into());
    out
}

/// A UTC `DATE-TIME` value, form #2 of RFC 5545 §3.3.5.
pub fn utc(at: Timestamp) -> String {
    at.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// A TEXT value (RFC 5545 §3.3.11): backslash, semicolon, comma and newlines escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends `line` with CRLF, folded so no physical line exceeds 75 octets: a continuation
/// starts with one space, which counts toward its 75 (RFC 5545 §3.1).
fn fold_into(out: &mut String, line: &str) {
    const LIMIT: usize = 75;
    let mut used = 0;
    for c in line.chars() {
        if used + c.len_utf8() > LIMIT {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += c.len_utf8();
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
    }

    #[test]
    fn long_lines_fold_at_75_octets_without_splitting_characters() {
        let mut out = String::new();
        let long = format!("SUMMARY:{}", "é".repeat(60));

        fold_into(&mut out, &long);

        let lines: Vec<&str> = out.split_terminator("\r\n").collect();
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| l.len() <= 75), "{lines:?}");
        assert!(lines[1..].iter().all(|l| l.starts_with(' ')));
        let unfolded = out.replace("\r\n ", "");
        assert_eq!(unfolded, format!("{long}\r\n"));
    }

    #[test]
    fn a_calendar_has_utc_times_and_crlf_lines() {
        let event = Event {
            uid: "1741482000-ana-nyc@dutybell".into(),
            start: ts("2025-03-09T01:00:00Z"),
            end: ts("2025-03-10T00:00:00Z"),
            summary: "On call: ana, nyc".into(),
            description: String::new(),
        };

        let text = calendar("nyc", &[event], ts("2025-03-09T12:00:00Z"));

        assert!(text.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
        assert!(text.contains("\r\nDTSTART:20250309T010000Z\r\n"));
        assert!(text.contains("\r\nDTEND:20250310T000000Z\r\n"));
        assert!(text.contains("\r\nSUMMARY:On call: ana\\, nyc\r\n"));
        assert!(text.ends_with("END:VCALENDAR\r\n"));
        assert!(!text.replace("\r\n", "").contains('\n'), "bare LF");
    }
}
