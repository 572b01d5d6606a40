//! Direct pages (on-call spec §1.4): "page ana now", from the CLI or the API.
//!
//! Owns what a direct page request may hold and the policy it escalates with: one step
//! naming the chosen people, `repeat = 0`, on the built-in `direct` service. Storing the
//! alert belongs to `store::direct`, paging to `engine::escalation`.

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

/// A checked direct page request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectPage {
    /// Each person once, in the order given.
    pub people: Vec<String>,
    pub summary: String,
}

/// Why a request is refused, with the field at fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DirectPageError {
    #[error("name at least one person to page")]
    NoPeople,
    #[error("at most {MAX_PEOPLE} people per page")]
    TooManyPeople,
    #[error("no person {0:?} in team.toml")]
    UnknownPerson(String),
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
            _ => "people",
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
        let summary = summary.trim();
        if summary.is_empty() {
            return Err(DirectPageError::EmptySummary);
        }
        if summary.len() > MAX_SUMMARY_BYTES {
            return Err(DirectPageError::LongSummary);
        }
        Ok(DirectPage {
            people: unique,
            summary: summary.to_string(),
        })
    }
}

/// The policy a direct page escalates with: one step, the chosen people, no extra loop.
pub fn policy(people: &[String]) -> Policy {
    Policy {
        id: SERVICE.to_string(),
        repeat: 0,
        steps: vec![Step {
            targets: people.iter().cloned().map(Target::Person).collect(),
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

    #[test]
    fn the_policy_is_one_step_without_repeat() {
        let policy = policy(&ids(&["ana", "ben"]));
        assert_eq!(policy.repeat, 0);
        assert_eq!(policy.steps.len(), 1);
        assert_eq!(
            policy.steps[0].targets,
            vec![Target::Person("ana".into()), Target::Person("ben".into())]
        );
    }
}
