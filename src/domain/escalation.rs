//! Escalation policy as a pure state machine (on-call spec §3, D6, D7, D14).
//!
//! Owns which step an alert is on, when the next step is due, and what happens when that
//! due time comes. Resolving targets to people is the caller's closure (it asks
//! `domain::oncall` at the firing instant); sending and storing belong to
//! `engine::escalation`.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// Who a step pages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    Person(String),
    Rotation(String),
    Schedule(String),
}

impl Target {
    /// Parses `person:ana`, `rotation:primary` or `schedule:weekday`.
    pub fn parse(s: &str) -> Option<Target> {
        let (kind, id) = s.split_once(':')?;
        let id = id.trim().to_string();
        if id.is_empty() {
            return None;
        }
        match kind.trim() {
            "person" | "user" => Some(Target::Person(id)),
            "rotation" => Some(Target::Rotation(id)),
            "schedule" => Some(Target::Schedule(id)),
            _ => None,
        }
    }
}

/// One step of a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub targets: Vec<Target>,
    /// How long to wait after this step fires before the next one.
    pub after: SignedDuration,
}

/// An escalation policy: steps run in order, then `repeat` extra loops.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub id: String,
    pub repeat: u32,
    pub steps: Vec<Step>,
}

/// An alert's persisted position in its policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EscalationState {
    pub step: usize,
    pub loop_index: u32,
    /// Whether any step of the current loop paged somebody.
    pub loop_paged: bool,
    /// True when the due time should run the current step (a new alert) rather than
    /// advance to the next one.
    pub waiting: bool,
}

impl EscalationState {
    /// The state of a new alert: step 0 of loop 0 runs when due.
    pub fn start() -> EscalationState {
        EscalationState {
            step: 0,
            loop_index: 0,
            loop_paged: false,
            waiting: true,
        }
    }
}

/// What happened during one firing, in order, for the timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    NobodyOnCall {
        step: usize,
        loop_index: u32,
    },
    Escalated {
        step: usize,
        loop_index: u32,
        people: Vec<String>,
    },
    Exhausted,
}

/// The outcome of a due time: events to log, the new state, and the next due time
/// (`None` once the policy is exhausted; the alert then stays triggered, D7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Firing {
    pub events: Vec<Event>,
    pub state: EscalationState,
    pub next_at: Option<Timestamp>,
}

/// Handles a due escalation time at `now`. `resolve` turns a step's targets into the
/// people on call at `now`, deduplicated, in target order.
pub fn on_due(
    policy: &Policy,
    state: EscalationState,
    now: Timestamp,
    mut resolve: impl FnMut(&[Target]) -> Vec<String>,
) -> Firing {
    let mut events = Vec::new();
    let mut state = state;
    // A config edit may have removed the current step: continue at the same index, or at
    // step 0 when that index is gone.
    if state.step >= policy.steps.len() {
        state.step = 0;
    }
    if !state.waiting && !advance(policy, &mut state) {
        events.push(Event::Exhausted);
        return Firing {
            events,
            state,
            next_at: None,
        };
    }
    state.waiting = false;

    // Each pass of this loop runs one step. It ends after at most every step of every loop
    // once, since each empty step either advances or stops (D6): the engine never spins.
    loop {
        let step = &policy.steps[state.step];
        let people = resolve(&step.targets);
        if !people.is_empty() {
            events.push(Event::Escalated {
                step: state.step,
                loop_index: state.loop_index,
                people,
            });
            state.loop_paged = true;
            return Firing {
                events,
                state,
                next_at: Some(after(now, step.after)),
            };
        }

        events.push(Event::NobodyOnCall {
            step: state.step,
            loop_index: state.loop_index,
        });
        let last_in_loop = state.step + 1 == policy.steps.len();
        if last_in_loop && !state.loop_paged {
            return Firing {
                events,
                state,
                next_at: Some(after(now, step.after)),
            };
        }
        if !advance(policy, &mut state) {
            events.push(Event::Exhausted);
            return Firing {
                events,
                state,
                next_at: None,
            };
        }
    }
}

/// An ack timeout re-triggers at `now` (D8): escalation restarts at step 0 of loop 0, and
/// that firing also starts a run for `acker`, once, even when they are on call anyway. If
/// step 0 has nobody on call, the acker alone is paged there and the policy goes on after
/// its `after`.
pub fn on_ack_timeout(
    policy: &Policy,
    acker: Option<&str>,
    now: Timestamp,
    mut resolve: impl FnMut(&[Target]) -> Vec<String>,
) -> Firing {
    let mut acker = acker.map(str::to_string);
    on_due(policy, EscalationState::start(), now, |targets| {
        let mut people = resolve(targets);
        // Only the first step run gets the acker: `take` leaves `None` for any later one.
        if let Some(acker) = acker.take()
            && !people.contains(&acker)
        {
            people.insert(0, acker);
        }
        people
    })
}

/// Moves to the next step, or to step 0 of the next loop; false when no loop remains.
fn advance(policy: &Policy, state: &mut EscalationState) -> bool {
    if state.step + 1 < policy.steps.len() {
        state.step += 1;
        return true;
    }
    if state.loop_index < policy.repeat {
        state.step = 0;
        state.loop_index += 1;
        state.loop_paged = false;
        return true;
    }
    false
}

fn after(now: Timestamp, wait: SignedDuration) -> Timestamp {
    now.saturating_add(wait).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minutes(m: i64) -> SignedDuration {
        SignedDuration::from_mins(m)
    }

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn policy(repeat: u32, steps: &[&str]) -> Policy {
        Policy {
            id: "p".into(),
            repeat,
            steps: steps
                .iter()
                .map(|who| Step {
                    targets: vec![Target::Person(who.to_string())],
                    after: minutes(15),
                })
                .collect(),
        }
    }

    /// Resolves `person:x` to x unless x is "nobody".
    fn people(targets: &[Target]) -> Vec<String> {
        targets
            .iter()
            .filter_map(|t| match t {
                Target::Person(p) if p != "nobody" => Some(p.clone()),
                _ => None,
            })
            .collect()
    }

    /// Runs due times until exhaustion and returns (instant, people) pages and the end.
    fn run(policy: &Policy, start: Timestamp) -> (Vec<(Timestamp, Vec<String>)>, Vec<Event>) {
        let mut state = EscalationState::start();
        let mut now = start;
        let mut pages = Vec::new();
        let mut all = Vec::new();
        for _ in 0..50 {
            let firing = on_due(policy, state, now, people);
            for event in &firing.events {
                if let Event::Escalated { people, .. } = event {
                    pages.push((now, people.clone()));
                }
            }
            all.extend(firing.events);
            state = firing.state;
            match firing.next_at {
                Some(next) => now = next,
                None => break,
            }
        }
        (pages, all)
    }

    #[test]
    fn primary_then_secondary_at_15_then_lead_at_30() {
        let start = t("2025-06-12T03:00:00Z");
        let (pages, events) = run(&policy(0, &["primary", "secondary", "lead"]), start);
        assert_eq!(
            pages,
            vec![
                (start, vec!["primary".to_string()]),
                (t("2025-06-12T03:15:00Z"), vec!["secondary".to_string()]),
                (t("2025-06-12T03:30:00Z"), vec!["lead".to_string()]),
            ]
        );
        assert_eq!(events.last(), Some(&Event::Exhausted));
    }

    #[test]
    fn repeat_counts_extra_loops() {
        let (pages, _) = run(&policy(2, &["a", "b"]), t("2025-06-12T03:00:00Z"));
        let who: Vec<_> = pages.iter().map(|(_, p)| p[0].as_str()).collect();
        assert_eq!(who, ["a", "b", "a", "b", "a", "b"]);
    }

    #[test]
    fn an_empty_step_does_not_wait_oc_11() {
        let start = t("2025-06-14T15:00:00Z");
        let (pages, events) = run(&policy(0, &["nobody", "m"]), start);
        assert_eq!(pages, vec![(start, vec!["m".to_string()])]);
        assert_eq!(
            events[0],
            Event::NobodyOnCall {
                step: 0,
                loop_index: 0
            }
        );
        assert_eq!(events.last(), Some(&Event::Exhausted));
    }

    #[test]
    fn all_empty_steps_loop_on_the_last_steps_after_without_spinning_oc_11() {
        let start = t("2025-06-14T15:00:00Z");
        let mut state = EscalationState::start();
        let mut now = start;
        let mut loops_at = Vec::new();
        let policy = policy(2, &["nobody", "nobody"]);
        loop {
            let firing = on_due(&policy, state, now, people);
            if firing
                .events
                .iter()
                .any(|e| matches!(e, Event::NobodyOnCall { step: 0, .. }))
            {
                loops_at.push(now);
            }
            state = firing.state;
            match firing.next_at {
                Some(next) => now = next,
                None => break,
            }
        }
        assert_eq!(
            loops_at,
            [
                t("2025-06-14T15:00:00Z"),
                t("2025-06-14T15:15:00Z"),
                t("2025-06-14T15:30:00Z")
            ]
        );
        assert_eq!(now, t("2025-06-14T15:45:00Z"));
    }

    #[test]
    fn an_ack_timeout_pages_the_acker_and_step_0_once_each_oc_15() {
        let now = t("2025-06-12T02:30:00Z");
        let firing = on_ack_timeout(&policy(0, &["b", "m"]), Some("a"), now, people);
        assert_eq!(
            firing.events,
            vec![Event::Escalated {
                step: 0,
                loop_index: 0,
                people: vec!["a".to_string(), "b".to_string()]
            }]
        );
        assert_eq!(firing.next_at, Some(t("2025-06-12T02:45:00Z")));

        let same = on_ack_timeout(&policy(0, &["a", "m"]), Some("a"), now, people);
        assert_eq!(
            same.events,
            vec![Event::Escalated {
                step: 0,
                loop_index: 0,
                people: vec!["a".to_string()]
            }]
        );
    }

    #[test]
    fn an_ack_timeout_with_nobody_on_call_pages_the_acker_at_step_0() {
        let now = t("2025-06-12T02:30:00Z");
        let firing = on_ack_timeout(&policy(0, &["nobody", "m"]), Some("a"), now, people);
        assert_eq!(
            firing.events,
            vec![Event::Escalated {
                step: 0,
                loop_index: 0,
                people: vec!["a".to_string()]
            }]
        );
        assert_eq!(firing.state.step, 0);
    }

    #[test]
    fn targets_parse_with_their_kind() {
        assert_eq!(
            Target::parse("rotation:primary"),
            Some(Target::Rotation("primary".into()))
        );
        assert_eq!(
            Target::parse("person:lead"),
            Some(Target::Person("lead".into()))
        );
        assert_eq!(Target::parse("team:x"), None);
        assert_eq!(Target::parse("person:"), None);
    }
}
