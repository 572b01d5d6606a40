//! Checking a schedule override request from the API or the CLI into an [`Override`].
//!
//! Owns what both surfaces accept: the kind (given, or implied by which of `add` and
//! `remove` are set), known people, and times as RFC 3339 instants or local
//! `YYYY-MM-DDTHH:MM` read in the schedule's zone (a start with `resolve_start`, an end with
//! `resolve_end`, spec §2.1). Each problem names the request field it is about. Storing the
//! result is `store::overrides`' job.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

use super::oncall::{Override, OverrideKind, resolve_end, resolve_start};

/// An override as a person typed it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OverrideRequest {
    /// `add`, `remove` or `replace`; implied by `add` and `remove` when absent.
    pub kind: Option<String>,
    /// Who comes on call (add, replace).
    pub add: Option<String>,
    /// Who goes off call (remove, replace).
    pub remove: Option<String>,
    /// First instant it applies.
    pub start: Option<String>,
    /// First instant it no longer applies.
    pub end: Option<String>,
}

/// A problem with one field of a request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RequestError {
    /// The request field (`kind`, `add`, `remove`, `start`, `end`).
    pub field: String,
    pub message: String,
}

fn problem(field: &str, message: impl Into<String>) -> RequestError {
    RequestError {
        field: field.into(),
        message: message.into(),
    }
}

impl OverrideRequest {
    /// The override this request asks for, for a schedule in `zone`, checked at `now`:
    /// people must pass `is_person`, the start must come before the end, and the end must
    /// lie after `now` (an override wholly in the past would change nothing).
    pub fn check(
        &self,
        zone: &TimeZone,
        now: Timestamp,
        is_person: impl Fn(&str) -> bool,
    ) -> Result<Override, RequestError> {
        let person = |field: &str, value: &Option<String>| -> Result<_, RequestError> {
            match value.as_deref().map(str::trim) {
                None | Some("") => Ok(None),
                Some(id) if is_person(id) => Ok(Some(id.to_string())),
                Some(id) => Err(problem(field, format!("no person {id:?}"))),
            }
        };
        let add = person("add", &self.add)?;
        let remove = person("remove", &self.remove)?;

        let kind = match (self.kind.as_deref(), add, remove) {
            (None | Some("add"), Some(add), None) => OverrideKind::Add(add),
            (None | Some("remove"), None, Some(remove)) => OverrideKind::Remove(remove),
            (None | Some("replace"), Some(add), Some(remove)) => {
                if add == remove {
                    return Err(problem("add", "a person cannot replace themselves"));
                }
                OverrideKind::Replace { remove, add }
            }
            (Some("add"), None, _) | (Some("replace"), None, _) => {
                return Err(problem("add", "who comes on call is missing"));
            }
            (Some("remove"), _, None) | (Some("replace"), _, None) => {
                return Err(problem("remove", "who goes off call is missing"));
            }
            (Some("add"), _, Some(_)) => {
                return Err(problem("remove", "an add override takes only `add`"));
            }
            (Some("remove"), Some(_), _) => {
                return Err(problem("add", "a remove override takes only `remove`"));
            }
            (Some(other), _, _) => {
                return Err(problem(
                    "kind",
                    format!("{other:?} is not add, remove or replace"),
                ));
            }
            (None, None, None) => {
                return Err(problem("add", "give `add`, `remove` or both (replace)"));
            }
        };

        let start = parse_time("start", self.start.as_deref(), zone, resolve_start)?;
        let end = parse_time("end", self.end.as_deref(), zone, resolve_end)?;
        if start >= end {
            return Err(problem("end", "must be after the start"));
        }
        if end <= now {
            return Err(problem("end", "must be in the future"));
        }
        Ok(Override { start, end, kind })
    }
}

/// An RFC 3339 instant, or a local date and clock in `zone` resolved with `resolve`.
pub fn parse_time(
    field: &str,
    text: Option<&str>,
    zone: &TimeZone,
    resolve: fn(DateTime, &TimeZone) -> Timestamp,
) -> Result<Timestamp, RequestError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Err(problem(field, "is missing"));
    };
    if let Ok(instant) = text.parse::<Timestamp>() {
        return Ok(instant);
    }
    match text.parse::<DateTime>() {
        Ok(civil) => Ok(resolve(civil, zone)),
        Err(_) => Err(problem(
            field,
            format!(
                "{text:?} is not an RFC 3339 instant (2025-06-12T09:00:00Z) or a local time \
                 (2025-06-12T09:00)"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(add: Option<&str>, remove: Option<&str>, start: &str, end: &str) -> OverrideRequest {
        OverrideRequest {
            kind: None,
            add: add.map(String::from),
            remove: remove.map(String::from),
            start: Some(start.into()),
            end: Some(end.into()),
        }
    }

    fn check(r: &OverrideRequest) -> Result<Override, RequestError> {
        let zone = TimeZone::get("America/New_York").unwrap();
        let now: Timestamp = "2025-03-01T00:00:00Z".parse().unwrap();
        r.check(&zone, now, |p| ["ana", "ben"].contains(&p))
    }

    fn field(r: &OverrideRequest) -> String {
        check(r).unwrap_err().field
    }

    #[test]
    fn the_kind_follows_from_add_and_remove() {
        let start = "2025-03-08T20:00:00Z";
        let end = "2025-03-09T20:00:00Z";
        let kind = |a, r| check(&request(a, r, start, end)).unwrap().kind;
        assert_eq!(kind(Some("ana"), None), OverrideKind::Add("ana".into()));
        assert_eq!(kind(None, Some("ben")), OverrideKind::Remove("ben".into()));
        assert_eq!(
            kind(Some("ana"), Some("ben")),
            OverrideKind::Replace {
                remove: "ben".into(),
                add: "ana".into()
            }
        );
    }

    #[test]
    fn local_times_are_read_in_the_schedule_zone_across_the_spring_gap() {
        // 02:30 does not exist on 2025-03-09 in New York: both ends go to the transition.
        let r = request(Some("ana"), None, "2025-03-08T20:00", "2025-03-09T02:30");
        let rule = check(&r).unwrap();
        assert_eq!(rule.start.to_string(), "2025-03-09T01:00:00Z");
        assert_eq!(rule.end.to_string(), "2025-03-09T07:00:00Z");
    }

    #[test]
    fn each_problem_names_its_field() {
        let ok = ("2025-03-08T20:00", "2025-03-09T20:00");
        assert_eq!(field(&request(Some("zoe"), None, ok.0, ok.1)), "add");
        assert_eq!(field(&request(None, Some("zoe"), ok.0, ok.1)), "remove");
        assert_eq!(field(&request(None, None, ok.0, ok.1)), "add");
        assert_eq!(field(&request(Some("ana"), Some("ana"), ok.0, ok.1)), "add");
        assert_eq!(field(&request(Some("ana"), None, "soon", ok.1)), "start");
        assert_eq!(field(&request(Some("ana"), None, ok.1, ok.0)), "end");
        assert_eq!(
            field(&request(
                Some("ana"),
                None,
                "2025-01-01T00:00",
                "2025-01-02T00:00"
            )),
            "end"
        );
        let mut bad_kind = request(Some("ana"), None, ok.0, ok.1);
        bad_kind.kind = Some("swap".into());
        assert_eq!(field(&bad_kind), "kind");
        bad_kind.kind = Some("replace".into());
        assert_eq!(field(&bad_kind), "remove");
        bad_kind.start = None;
        assert_eq!(field(&bad_kind), "remove", "people are checked first");
    }
}
