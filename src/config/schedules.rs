//! Checking `[[schedule]]` tables of `oncall.toml` into [`Schedule`]s (on-call spec §1.3).
//!
//! Owns the rule syntax: day sets (`"all"`, `"weekdays"`, `"weekends"` or a list of day
//! names), `HH:MM` clocks and `person:`/`rotation:` targets. Every problem is reported with
//! its key; a schedule with problems still counts as defined, so a step naming it adds no
//! second, misleading error. Overrides are runtime state and live in `store::overrides`.
//! Also checks who a schedule notifies (`shift_notices`, `notify`).

use std::collections::BTreeMap;
use std::path::Path;

use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;

use super::{Person, ScheduleNotices, Validator, raw};
use crate::domain::escalation::StepWindow;
use crate::domain::oncall::{Rotations, Rule, Schedule, Target, Weekdays};

/// Spec §1.3: at most this many rules per schedule.
const MAX_RULES: usize = 30;

impl Validator {
    pub(super) fn schedules(
        &mut self,
        dir: &Path,
        raws: &[raw::RawSchedule],
        people: &BTreeMap<String, Person>,
        rotations: &Rotations,
    ) -> BTreeMap<String, Schedule> {
        const FILE: &str = "oncall.toml";
        let mut schedules = BTreeMap::new();
        for (i, raw) in raws.iter().enumerate() {
            let key = |field: &str| format!("schedule[{i}].{field}");
            if schedules.contains_key(&raw.id) {
                self.invalid(
                    dir,
                    FILE,
                    key("id"),
                    format!("duplicate schedule id {:?}", raw.id),
                );
                continue;
            }
            let time_zone = self
                .zone(dir, FILE, key("time_zone"), &raw.time_zone)
                .unwrap_or(TimeZone::UTC);
            if raw.rules.len() > MAX_RULES {
                self.invalid(
                    dir,
                    FILE,
                    key("rules"),
                    format!("at most {MAX_RULES} rules per schedule"),
                );
            }

            let mut rules = Vec::new();
            for (j, rule) in raw.rules.iter().enumerate() {
                let rkey = |field: &str| format!("schedule[{i}].rules[{j}].{field}");
                let days = match parse_days(rule.days.as_ref()) {
                    Ok(days) => Some(days),
                    Err(problem) => {
                        self.invalid(dir, FILE, rkey("days"), problem);
                        None
                    }
                };
                let from = self.clock(dir, FILE, rkey("from"), &rule.from);
                let to = self.clock(dir, FILE, rkey("to"), &rule.to);
                let target = match parse_target(&rule.target) {
                    Some(Target::Person(p)) if !people.contains_key(&p) => {
                        self.invalid(
                            dir,
                            FILE,
                            rkey("target"),
                            format!("no person {p:?} in team.toml"),
                        );
                        None
                    }
                    Some(Target::Rotation(r)) if !rotations.contains_key(&r) => {
                        self.invalid(dir, FILE, rkey("target"), format!("no rotation {r:?}"));
                        None
                    }
                    Some(target) => Some(target),
                    None => {
                        let problem =
                            format!("{:?} is not person:<id> or rotation:<id>", rule.target);
                        self.invalid(dir, FILE, rkey("target"), problem);
                        None
                    }
                };
                if let (Some(days), Some(from), Some(to), Some(target)) = (days, from, to, target) {
                    rules.push(Rule {
                        days,
                        from,
                        to,
                        target,
                    });
                }
            }

            let schedule = Schedule {
                id: raw.id.clone(),
                time_zone,
                rules,
                overrides: Vec::new(),
                temporary: Vec::new(),
            };
            schedules.insert(raw.id.clone(), schedule);
        }
        schedules
    }

    /// The notice settings of each schedule that sends any; `notify` targets must name
    /// people.
    pub(super) fn schedule_notices(
        &mut self,
        dir: &Path,
        raws: &[raw::RawSchedule],
        people: &BTreeMap<String, Person>,
    ) -> BTreeMap<String, ScheduleNotices> {
        const FILE: &str = "oncall.toml";
        let mut out = BTreeMap::new();
        for (i, raw) in raws.iter().enumerate() {
            let mut gaps_to = Vec::new();
            for (j, text) in raw.notify.iter().enumerate() {
                let key = format!("schedule[{i}].notify[{j}]");
                match parse_target(text) {
                    Some(Target::Person(p)) if people.contains_key(&p) => {
                        if !gaps_to.contains(&p) {
                            gaps_to.push(p);
                        }
                    }
                    Some(Target::Person(p)) => {
                        self.invalid(dir, FILE, key, format!("no person {p:?} in team.toml"));
                    }
                    _ => self.invalid(dir, FILE, key, format!("{text:?} is not person:<id>")),
                }
            }
            let notices = ScheduleNotices {
                shift_changes: raw.shift_notices.unwrap_or(false),
                gaps_to,
            };
            if notices != ScheduleNotices::default() {
                out.entry(raw.id.clone()).or_insert(notices);
            }
        }
        out
    }

    /// A step window (D12): like a schedule rule, with a zone that must be given.
    pub(super) fn step_window(
        &mut self,
        dir: &Path,
        file: &str,
        key: String,
        raw: &raw::RawStepWindow,
    ) -> Option<StepWindow> {
        let time_zone = self.zone(dir, file, format!("{key}.time_zone"), &raw.time_zone);
        let from = self.clock(dir, file, format!("{key}.from"), &raw.from);
        let to = self.clock(dir, file, format!("{key}.to"), &raw.to);
        let days = match parse_days(raw.days.as_ref()) {
            Ok(days) if days.is_empty() => {
                self.invalid(
                    dir,
                    file,
                    format!("{key}.days"),
                    "a window needs at least one day",
                );
                None
            }
            Ok(days) => Some(days),
            Err(problem) => {
                self.invalid(dir, file, format!("{key}.days"), problem);
                None
            }
        };
        Some(StepWindow {
            time_zone: time_zone?,
            days: days?,
            from: from?,
            to: to?,
        })
    }

    fn clock(&mut self, dir: &Path, file: &str, key: String, text: &str) -> Option<Time> {
        let parsed = parse_clock(text);
        if parsed.is_none() {
            self.invalid(
                dir,
                file,
                key,
                format!("{text:?} is not a clock like \"09:00\""),
            );
        }
        parsed
    }
}

/// `HH:MM`, 00:00 to 23:59.
fn parse_clock(text: &str) -> Option<Time> {
    let (hour, minute) = text.trim().split_once(':')?;
    if hour.len() != 2 || minute.len() != 2 {
        return None;
    }
    let hour: i8 = hour.parse().ok()?;
    let minute: i8 = minute.parse().ok()?;
    Time::new(hour, minute, 0, 0).ok()
}

/// A named day set or a list of day names; absent means every day.
fn parse_days(days: Option<&raw::RawDays>) -> Result<Weekdays, String> {
    match days {
        None => Ok(Weekdays::ALL),
        Some(raw::RawDays::Named(name)) => match name.trim().to_ascii_lowercase().as_str() {
            "all" => Ok(Weekdays::ALL),
            "weekdays" => Ok(Weekdays::MON_FRI),
            "weekends" => Ok([Weekday::Saturday, Weekday::Sunday].into_iter().collect()),
            other => parse_day(other).map(|day| Weekdays::NONE.with(day)),
        },
        Some(raw::RawDays::List(names)) => {
            let mut days = Weekdays::NONE;
            for name in names {
                days = days.with(parse_day(&name.trim().to_ascii_lowercase())?);
            }
            Ok(days)
        }
    }
}

fn parse_day(name: &str) -> Result<Weekday, String> {
    match name {
        "mon" | "monday" => Ok(Weekday::Monday),
        "tue" | "tuesday" => Ok(Weekday::Tuesday),
        "wed" | "wednesday" => Ok(Weekday::Wednesday),
        "thu" | "thursday" => Ok(Weekday::Thursday),
        "fri" | "friday" => Ok(Weekday::Friday),
        "sat" | "saturday" => Ok(Weekday::Saturday),
        "sun" | "sunday" => Ok(Weekday::Sunday),
        other => Err(format!(
            "{other:?} is not a day (mon … sun) or \"all\", \"weekdays\", \"weekends\""
        )),
    }
}

/// `person:<id>` or `rotation:<id>`.
fn parse_target(text: &str) -> Option<Target> {
    let (kind, id) = text.split_once(':')?;
    let id = id.trim();
    if id.is_empty() {
        return None;
    }
    match kind.trim() {
        "person" => Some(Target::Person(id.to_string())),
        "rotation" => Some(Target::Rotation(id.to_string())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_are_hh_mm() {
        assert_eq!(parse_clock("09:00"), Some(Time::constant(9, 0, 0, 0)));
        assert_eq!(parse_clock("23:59"), Some(Time::constant(23, 59, 0, 0)));
        assert_eq!(parse_clock("24:00"), None);
        assert_eq!(parse_clock("9:00"), None);
        assert_eq!(parse_clock("09:60"), None);
        assert_eq!(parse_clock("nine"), None);
    }

    #[test]
    fn day_sets_by_name_or_list() {
        let named = |s: &str| parse_days(Some(&raw::RawDays::Named(s.into())));
        assert_eq!(named("all"), Ok(Weekdays::ALL));
        assert_eq!(named("weekdays"), Ok(Weekdays::MON_FRI));
        assert!(named("weekend").is_err());
        let list = raw::RawDays::List(vec!["sat".into(), "Sunday".into()]);
        assert_eq!(parse_days(Some(&list)), named("weekends"));
        assert_eq!(
            parse_days(Some(&raw::RawDays::List(Vec::new()))),
            Ok(Weekdays::NONE)
        );
    }
}
