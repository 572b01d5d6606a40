//! Checking a temporary-schedule request from the API or the CLI into a
//! [`TemporarySchedule`] (on-call spec §1.3): a span `[start, end)` with fixed shifts
//! `(person, start, end)` or `(person, start, length)`, `length` being wall-clock (D1).
//! Times are RFC 3339 instants or local `YYYY-MM-DDTHH:MM` in the schedule's zone. A start
//! in the past moves to the creation instant; the end must lie in the future.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Deserialize;

use super::oncall::{ShiftEnd, TemporarySchedule, TemporaryShift, resolve_end, resolve_start};
use super::override_request::{RequestError, parse_time};

/// One shift as a person typed it.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ShiftRequest {
    pub person: String,
    pub start: Option<String>,
    pub end: Option<String>,
    /// Wall-clock length instead of `end`, e.g. `"24h"`.
    pub length: Option<String>,
}

/// A temporary schedule as a person typed it.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct TemporaryRequest {
    #[serde(alias = "from")]
    pub start: Option<String>,
    #[serde(alias = "until")]
    pub end: Option<String>,
    #[serde(default)]
    pub shifts: Vec<ShiftRequest>,
}

fn problem(field: String, message: impl Into<String>) -> RequestError {
    RequestError {
        field,
        message: message.into(),
    }
}

impl TemporaryRequest {
    /// The temporary schedule asked for, for a schedule in `zone`, checked at `now`.
    pub fn check(
        &self,
        zone: &TimeZone,
        now: Timestamp,
        is_person: impl Fn(&str) -> bool,
    ) -> Result<TemporarySchedule, RequestError> {
        let start = parse_time("start", self.start.as_deref(), zone, resolve_start)?;
        let end = parse_time("end", self.end.as_deref(), zone, resolve_end)?;
        if end <= start {
            return Err(problem("end".into(), "must be after start"));
        }
        let mut shifts = Vec::with_capacity(self.shifts.len());
        for (i, shift) in self.shifts.iter().enumerate() {
            let field = |name: &str| format!("shifts[{i}].{name}");
            if !is_person(shift.person.trim()) {
                return Err(problem(
                    field("person"),
                    format!("no person {:?}", shift.person),
                ));
            }
            let shift_start =
                parse_time(&field("start"), shift.start.as_deref(), zone, resolve_start)?;
            let shift_end = match (&shift.end, &shift.length) {
                (Some(_), None) => ShiftEnd::At(parse_time(
                    &field("end"),
                    shift.end.as_deref(),
                    zone,
                    resolve_end,
                )?),
                (None, Some(length)) => {
                    let length = super::duration::parse_duration(length)
                        .map_err(|message| problem(field("length"), message))?;
                    ShiftEnd::Length(length)
                }
                _ => return Err(problem(field("end"), "give either end or length")),
            };
            let shift = TemporaryShift {
                person: shift.person.trim().to_string(),
                start: shift_start,
                end: shift_end,
            };
            if shift.end_in(zone) <= shift.start {
                return Err(problem(field("end"), "must be after start"));
            }
            shifts.push(shift);
        }
        TemporarySchedule { start, end, shifts }
            .created_at(now)
            .map_err(|err| problem("end".into(), err.to_string()))
    }
}
