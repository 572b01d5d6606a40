//! Escalation policy as a pure state machine (on-call spec §3, D6, D7, D14).
//!
//! Owns which step an alert is on, when the next step is due, and what happens when that
//! due time comes. Resolving targets to people is the caller's closure (it asks
//! `domain::oncall` at the firing instant); sending and storing belong to
//! `engine::escalation`.

use jiff::civil::Time;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::oncall::{self, Rule, Weekdays};

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
    /// When the step may fire at all (D12); reached outside it, it waits for the opening.
    pub window: Option<StepWindow>,
}

/// A weekly window in an explicit zone (D12), with the semantics of a schedule rule: an
/// overnight window belongs to the day it opens, edges resolve across DST as in §2.1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepWindow {
    pub time_zone: TimeZone,
    pub days: Weekdays,
    pub from: Time,
    pub to: Time,
}

/// How far ahead a closed window's next opening is looked for: a week covers every
/// weekly pattern that opens at all.
const OPENING_HORIZON: SignedDuration = SignedDuration::from_hours(8 * 24);

impl StepWindow {
    /// The window as a schedule rule; the target is never read.
    fn rule(&self) -> Rule {
        Rule {
            days: self.days,
            from: self.from,
            to: self.to,
            target: oncall::Target::Person(String::new()),
        }
    }

    pub fn is_open(&self, at: Timestamp) -> bool {
        self.rule().is_active(&self.time_zone, at)
    }

    /// The first instant after `at` at which the window is open, if it ever opens.
    pub fn next_opening(&self, at: Timestamp) -> Option<Timestamp> {
        let until = at.checked_add(OPENING_HORIZON).ok()?;
        self.rule()
            .windows(&self.time_zone, at, until)
            .into_iter()
            .map(|(start, _)| start.max(at))
            .find(|start| *start > at || self.is_open(*start))
    }
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
    /// The step's window is closed; it runs when the window opens at `until`.
    WindowWait {
        step: usize,
        loop_index: u32,
        until: Timestamp,
    },
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
        // A closed window waits for its opening and runs this same step then (D12); one
        // that never opens is treated like an empty step, so the policy still moves on.
        if let Some(window) = step.window.as_ref().filter(|w| !w.is_open(now))
            && let Some(until) = window.next_opening(now)
        {
            events.push(Event::WindowWait {
                step: state.step,
                loop_index: state.loop_index,
                until,
            });
            state.waiting = true;
            return Firing {
                events,
                state,
                next_at: Some(until),
            };
        }
        let people = match &step.window {
            Some(window) if !window.is_open(now) => Vec::new(),
            _ => resolve(&step.targets),
        };
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
                    window: None,
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

    fn window(zone: &str, days: Weekdays, from: &str, to: &str) -> StepWindow {
        StepWindow {
            time_zone: TimeZone::get(zone).unwrap(),
            days,
            from: from.parse().unwrap(),
            to: to.parse().unwrap(),
        }
    }

    #[test]
    fn a_closed_window_waits_for_its_next_opening_and_then_runs_the_same_step() {
        let mut policy = policy(0, &["a", "b"]);
        policy.steps[0].window = Some(window("UTC", Weekdays::ALL, "08:00", "17:00"));
        let start = t("2023-01-24T05:00:00Z");

        let waiting = on_due(&policy, EscalationState::start(), start, people);
        assert_eq!(
            waiting.events,
            [Event::WindowWait {
                step: 0,
                loop_index: 0,
                until: t("2023-01-24T08:00:00Z")
            }]
        );
        assert!(waiting.state.waiting);

        let opened = on_due(&policy, waiting.state, t("2023-01-24T08:00:00Z"), people);
        assert_eq!(
            opened.events,
            [Event::Escalated {
                step: 0,
                loop_index: 0,
                people: vec!["a".into()]
            }]
        );
    }

    #[test]
    fn overnight_and_weekday_windows_open_when_their_day_says() {
        // Fri 22:00 to Sat 06:00 belongs to Friday; on Saturday 03:00 it is open.
        let fri = Weekdays::NONE.with(jiff::civil::Weekday::Friday);
        let night = window("America/Chicago", fri, "22:00", "06:00");
        assert!(night.is_open(t("2025-06-14T08:00:00Z")), "Sat 03:00 CDT");
        assert!(!night.is_open(t("2025-06-15T08:00:00Z")), "Sun 03:00 CDT");
        assert_eq!(
            night.next_opening(t("2025-06-15T08:00:00Z")),
            Some(t("2025-06-21T03:00:00Z"))
        );
        // Business hours in London across the autumn change (OC-02).
        let london = window("Europe/London", Weekdays::ALL, "08:30", "17:30");
        assert_eq!(
            london.next_opening(t("2023-10-27T05:00:00Z")),
            Some(t("2023-10-27T07:30:00Z"))
        );
        assert_eq!(
            london.next_opening(t("2023-10-30T08:00:00Z")),
            Some(t("2023-10-30T08:30:00Z"))
        );
    }
}
