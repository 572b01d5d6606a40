//! Direct pages (on-call spec §1.4): "page ana now", "page the api team", "page whoever is
//! on call for business", from the CLI or the API.
//!
//! Owns what a direct page request may hold, whom it reaches and the policy a page on the
//! built-in `direct` service escalates with: one step, `repeat = 0`. A page to a service
//! opens its alert on that service and escalates with the service's own policy. Storing
//! the alert belongs to `store::direct`, paging to `engine::escalation`.

use jiff::SignedDuration;

use super::escalation::{Policy, Step, Target};

/// The built-in service (and policy id) every direct page opens its alert on; config may
/// not define a service with this id.
pub const SERVICE: &str = "direct";
/// Most people one direct page names, like a policy step's targets.
pub const MAX_PEOPLE: usize = 20;
/// Longest summary, like any alert's (§1.5).
pub const MAX_SUMMARY_BYTES: usize = 1024;
/// How long the one step waits before the policy counts as exhausted.
const STEP_AFTER: SignedDuration = SignedDuration::from_mins(15);

/// A checked page to people, by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectPage {
    /// Each person once, in the order given.
    pub people: Vec<String>,
    pub summary: String,
}

/// Whom a page reaches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reach {
    /// These people, at once, through their own notification rules.
    People(Vec<String>),
    /// Whoever the service's escalation policy reaches: an alert on that service with its
    /// policy (`policy` is its id), escalating like any other alert there.
    Service { service: String, policy: String },
    /// Whoever is on call on this schedule when the page fires, then nobody else.
    Schedule(String),
}

/// A page as asked for, before checking: exactly one of `people`, `service`, `schedule`.
#[derive(Clone, Debug, Default)]
pub struct PageRequest {
    pub people: Vec<String>,
    pub service: Option<String>,
    pub schedule: Option<String>,
    pub summary: String,
}

/// A checked page of any reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub reach: Reach,
    pub summary: String,
}

/// What a request may name, looked up by the caller in the config.
pub struct Directory<'a> {
    pub person_exists: &'a dyn Fn(&str) -> bool,
    /// A service's escalation policy id, if the service exists.
    pub service_policy: &'a dyn Fn(&str) -> Option<String>,
    pub schedule_exists: &'a dyn Fn(&str) -> bool,
}

/// Why a request is refused, with the field at fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DirectPageError {
    #[error("name at least one person to page")]
    NoPeople,
    #[error("name people, a service or a schedule to page")]
    NoReach,
    /// Two of `people`, `service`, `schedule` were given; the field is the later one.
    #[error("page people, a service or a schedule: only one of them")]
    MoreThanOne(&'static str),
    #[error("at most {MAX_PEOPLE} people per page")]
    TooManyPeople,
    #[error("no person {0:?} in team.toml")]
    UnknownPerson(String),
    #[error("no service {0:?} in services.toml")]
    UnknownService(String),
    #[error("no schedule {0:?} in oncall.toml")]
    UnknownSchedule(String),
    #[error("the summary must not be empty")]
    EmptySummary,
    #[error("the summary must fit in {MAX_SUMMARY_BYTES} bytes")]
    LongSummary,
}

impl DirectPageError {
    /// The request field the problem is about.
    pub fn field(&self) -> &'static str {
        match self {
            DirectPageError::EmptySummary | DirectPageError::LongSummary => "summary",
            DirectPageError::MoreThanOne(field) => field,
            DirectPageError::UnknownService(_) => "service",
            DirectPageError::UnknownSchedule(_) => "schedule",
            DirectPageError::NoPeople
            | DirectPageError::NoReach
            | DirectPageError::TooManyPeople
            | DirectPageError::UnknownPerson(_) => "people",
        }
    }
}

impl DirectPage {
    /// Checks a request; `known` says whether a person id exists.
    pub fn new(
        people: &[String],
        summary: &str,
        known: impl Fn(&str) -> bool,
    ) -> Result<DirectPage, DirectPageError> {
        let mut unique: Vec<String> = Vec::new();
        for person in people {
            let person = person.trim();
            if !known(person) {
                return Err(DirectPageError::UnknownPerson(person.to_string()));
            }
            if !unique.iter().any(|p| p == person) {
                unique.push(person.to_string());
            }
        }
        if unique.is_empty() {
            return Err(DirectPageError::NoPeople);
        }
        if unique.len() > MAX_PEOPLE {
            return Err(DirectPageError::TooManyPeople);
        }
        Ok(DirectPage {
            people: unique,
            summary: check_summary(summary)?,
        })
    }
}

impl Page {
    /// Checks a request against the config: exactly one reach, and it exists.
    pub fn new(request: &PageRequest, dir: &Directory<'_>) -> Result<Page, DirectPageError> {
        let service = request.service.as_deref().map(str::trim);
        let schedule = request.schedule.as_deref().map(str::trim);
        let given = [
            ("people", !request.people.is_empty()),
            ("service", service.is_some()),
            ("schedule", schedule.is_some()),
        ];
        let mut named = given
            .iter()
            .filter(|(_, set)| *set)
            .map(|(field, _)| *field);
        if named.next().is_none() {
            return Err(DirectPageError::NoReach);
        }
        if let Some(extra) = named.next() {
            return Err(DirectPageError::MoreThanOne(extra));
        }

        let reach = match (service, schedule) {
            (Some(service), _) => {
                let policy = (dir.service_policy)(service)
                    .ok_or_else(|| DirectPageError::UnknownService(service.to_string()))?;
                Reach::Service {
                    service: service.to_string(),
                    policy,
                }
            }
            (None, Some(schedule)) => {
                if !(dir.schedule_exists)(schedule) {
                    return Err(DirectPageError::UnknownSchedule(schedule.to_string()));
                }
                Reach::Schedule(schedule.to_string())
            }
            (None, None) => {
                let page = DirectPage::new(&request.people, &request.summary, dir.person_exists)?;
                return Ok(Page {
                    reach: Reach::People(page.people),
                    summary: page.summary,
                });
            }
        };
        Ok(Page {
            reach,
            summary: check_summary(&request.summary)?,
        })
    }
}

fn check_summary(summary: &str) -> Result<String, DirectPageError> {
    let summary = summary.trim();
    if summary.is_empty() {
        return Err(DirectPageError::EmptySummary);
    }
    if summary.len() > MAX_SUMMARY_BYTES {
        return Err(DirectPageError::LongSummary);
    }
    Ok(summary.to_string())
}

/// The policy a page on the `direct` service escalates with: one step naming `targets`
/// (people, or a schedule resolved at the instant the step fires), no extra loop.
pub fn policy(targets: Vec<Target>) -> Policy {
    Policy {
        id: SERVICE.to_string(),
        repeat: 0,
        steps: vec![Step {
            targets,
            after: STEP_AFTER,
            window: None,
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn people_are_checked_and_kept_once_in_order() {
        let known = |p: &str| ["ana", "ben"].contains(&p);
        let page = DirectPage::new(&ids(&["ben", "ana", "ben"]), " db down ", known).unwrap();
        assert_eq!(page.people, ids(&["ben", "ana"]));
        assert_eq!(page.summary, "db down");
        assert_eq!(
            DirectPage::new(&ids(&["zed"]), "x", known),
            Err(DirectPageError::UnknownPerson("zed".into()))
        );
        assert_eq!(
            DirectPage::new(&[], "x", known),
            Err(DirectPageError::NoPeople)
        );
        let long = "x".repeat(MAX_SUMMARY_BYTES + 1);
        assert_eq!(
            DirectPage::new(&ids(&["ana"]), &long, known)
                .unwrap_err()
                .field(),
            "summary"
        );
    }

    fn check(request: PageRequest) -> Result<Page, DirectPageError> {
        let person_exists = |p: &str| ["ana", "ben"].contains(&p);
        let service_policy = |s: &str| (s == "api").then(|| "default".to_string());
        let schedule_exists = |s: &str| s == "business";
        let dir = Directory {
            person_exists: &person_exists,
            service_policy: &service_policy,
            schedule_exists: &schedule_exists,
        };
        Page::new(&request, &dir)
    }

    #[test]
    fn a_page_reaches_people_a_service_or_a_schedule() {
        let people = PageRequest {
            people: ids(&["ben", "ben"]),
            summary: "db down".into(),
            ..PageRequest::default()
        };
        let service = PageRequest {
            service: Some(" api ".into()),
            summary: "db down".into(),
            ..PageRequest::default()
        };
        let schedule = PageRequest {
            schedule: Some("business".into()),
            summary: " db down ".into(),
            ..PageRequest::default()
        };

        assert_eq!(check(people).unwrap().reach, Reach::People(ids(&["ben"])));
        assert_eq!(
            check(service).unwrap().reach,
            Reach::Service {
                service: "api".into(),
                policy: "default".into()
            }
        );
        assert_eq!(
            check(schedule).unwrap(),
            Page {
                reach: Reach::Schedule("business".into()),
                summary: "db down".into()
            }
        );
    }

    #[test]
    fn a_page_names_exactly_one_reach_that_exists() {
        let base = PageRequest {
            summary: "x".into(),
            ..PageRequest::default()
        };
        let cases = [
            (base.clone(), DirectPageError::NoReach, "people"),
            (
                PageRequest {
                    people: ids(&["ana"]),
                    service: Some("api".into()),
                    ..base.clone()
                },
                DirectPageError::MoreThanOne("service"),
                "service",
            ),
            (
                PageRequest {
                    service: Some("api".into()),
                    schedule: Some("business".into()),
                    ..base.clone()
                },
                DirectPageError::MoreThanOne("schedule"),
                "schedule",
            ),
            (
                PageRequest {
                    service: Some("direct".into()),
                    ..base.clone()
                },
                DirectPageError::UnknownService("direct".into()),
                "service",
            ),
            (
                PageRequest {
                    schedule: Some("nights".into()),
                    ..base.clone()
                },
                DirectPageError::UnknownSchedule("nights".into()),
                "schedule",
            ),
            (
                PageRequest {
                    schedule: Some("business".into()),
                    summary: " ".into(),
                    ..base.clone()
                },
                DirectPageError::EmptySummary,
                "summary",
            ),
        ];
        for (request, error, field) in cases {
            let refused = check(request.clone()).unwrap_err();
            assert_eq!(refused, error, "{request:?}");
            assert_eq!(refused.field(), field, "{request:?}");
        }
    }

    #[test]
    fn the_policy_is_one_step_without_repeat() {
        let policy = policy(vec![
            Target::Person("ana".into()),
            Target::Person("ben".into()),
        ]);
        assert_eq!(policy.repeat, 0);
        assert_eq!(policy.steps.len(), 1);
        assert_eq!(
            policy.steps[0].targets,
            vec![Target::Person("ana".into()), Target::Person("ben".into())]
        );
    }
}
