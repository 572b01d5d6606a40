//! Built-in probes as a pure state machine (issue #9): how consecutive check results
//! settle into a probe's health, and when each probe runs.
//!
//! Owns the flap damping (`down_after` failures in a row before a probe is down, `up_after`
//! successes in a row before it is up again; the same counts move it between up and slow)
//! and the start offsets that spread probes over their interval. Runs nothing and stores
//! nothing: `engine::probes` checks targets and `store::probes` keeps the counts.

use jiff::{SignedDuration, Timestamp};

/// A probe's settled health, and also what one check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Health {
    /// The check passed within its latency budget.
    Up,
    /// The check passed, but slower than `max_latency`.
    Slow,
    /// The check failed: refused, timed out, wrong status or body, expired certificate.
    Down,
}

impl Health {
    /// The database and log name.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Up => "up",
            Health::Slow => "slow",
            Health::Down => "down",
        }
    }

    pub fn parse(text: &str) -> Option<Health> {
        match text {
            "up" => Some(Health::Up),
            "slow" => Some(Health::Slow),
            "down" => Some(Health::Down),
            _ => None,
        }
    }
}

/// How many results in a row it takes to change health.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Thresholds {
    /// Failures in a row before a probe is down (and slow results before it is slow).
    pub down_after: u32,
    /// Successes in a row before a down probe is up again (and fast results before a slow
    /// one is up).
    pub up_after: u32,
}

/// A probe's health and the streaks that move it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeState {
    pub health: Health,
    /// Failed checks in a row.
    pub failures: u32,
    /// Passed checks (slow or not) in a row.
    pub successes: u32,
    /// Slow passes in a row.
    pub slow: u32,
    /// Passes within the latency budget in a row.
    pub fast: u32,
}

impl Default for ProbeState {
    /// A probe never checked counts as up: nothing is known to be wrong with it.
    fn default() -> Self {
        ProbeState {
            health: Health::Up,
            failures: 0,
            successes: 0,
            slow: 0,
            fast: 0,
        }
    }
}

/// A change of settled health.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    pub from: Health,
    pub to: Health,
}

impl ProbeState {
    /// Counts one check result; returns the change of health it completes, if any.
    ///
    /// A down probe comes back only after `up_after` passes in a row, as slow when the
    /// last of them was slow. Between up and slow the same counts apply to slow and fast
    /// passes, so one slow answer does not turn the status page yellow.
    pub fn record(&mut self, result: Health, limits: Thresholds) -> Option<Change> {
        let from = self.health;
        match result {
            Health::Down => {
                self.failures = self.failures.saturating_add(1);
                (self.successes, self.slow, self.fast) = (0, 0, 0);
            }
            Health::Slow => {
                self.failures = 0;
                self.successes = self.successes.saturating_add(1);
                self.slow = self.slow.saturating_add(1);
                self.fast = 0;
            }
            Health::Up => {
                self.failures = 0;
                self.successes = self.successes.saturating_add(1);
                self.fast = self.fast.saturating_add(1);
                self.slow = 0;
            }
        }

        let to = match (from, result) {
            (Health::Up | Health::Slow, Health::Down) if self.failures >= limits.down_after => {
                Health::Down
            }
            (Health::Down, Health::Up | Health::Slow) if self.successes >= limits.up_after => {
                result
            }
            (Health::Up, Health::Slow) if self.slow >= limits.down_after => Health::Slow,
            (Health::Slow, Health::Up) if self.fast >= limits.up_after => Health::Up,
            _ => from,
        };
        self.health = to;
        (to != from).then_some(Change { from, to })
    }
}

/// Where in its interval a probe runs: a fixed offset derived from its id, so probes
/// with equal intervals do not all start at once, and a restart keeps each one's slot.
/// Tests can compute it too.
pub fn start_offset(id: &str, interval: SignedDuration) -> SignedDuration {
    // FNV-1a: stable across builds and platforms, unlike the std hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let seconds = u64::try_from(interval.as_secs()).unwrap_or(0);
    if seconds == 0 {
        return SignedDuration::ZERO;
    }
    SignedDuration::from_secs(i64::try_from(hash % seconds).unwrap_or(0))
}

/// The first slot after `now` on the grid `due + k * interval`: a late pass skips the
/// slots it missed instead of running them back to back.
pub fn next_due(due: Timestamp, interval: SignedDuration, now: Timestamp) -> Timestamp {
    if interval <= SignedDuration::ZERO {
        return now;
    }
    let mut next = due.saturating_add(interval).unwrap_or(now);
    if next <= now {
        let behind = now.duration_since(due).as_nanos();
        let steps = behind / interval.as_nanos() + 1;
        let skip = SignedDuration::from_nanos(
            i64::try_from(interval.as_nanos() * steps).unwrap_or(i64::MAX),
        );
        next = due.saturating_add(skip).unwrap_or(now);
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Thresholds = Thresholds {
        down_after: 3,
        up_after: 2,
    };

    fn run(results: &[Health]) -> (ProbeState, Vec<(usize, Change)>) {
        let mut state = ProbeState::default();
        let mut changes = Vec::new();
        for (i, result) in results.iter().enumerate() {
            if let Some(change) = state.record(*result, LIMITS) {
                changes.push((i + 1, change));
            }
        }
        (state, changes)
    }

    use Health::{Down, Slow, Up};

    #[test]
    fn goes_down_at_the_third_failure_in_a_row_and_up_at_the_second_pass() {
        let (state, changes) = run(&[Up, Down, Down, Down, Down, Up, Up, Up]);

        assert_eq!(
            changes,
            vec![
                (4, Change { from: Up, to: Down }),
                (7, Change { from: Down, to: Up }),
            ]
        );
        assert_eq!(state.successes, 3);
    }

    #[test]
    fn interrupted_streaks_change_nothing() {
        let (state, changes) = run(&[Down, Down, Up, Down, Down, Up, Slow, Down]);

        assert_eq!(changes, vec![]);
        assert_eq!(state.health, Up);
        assert_eq!(state.failures, 1);
    }

    #[test]
    fn a_pass_then_a_failure_keeps_a_down_probe_down() {
        let (state, changes) = run(&[Down, Down, Down, Up, Down, Up]);

        assert_eq!(changes, vec![(3, Change { from: Up, to: Down })]);
        assert_eq!(state.health, Down);
    }

    #[test]
    fn slow_needs_a_streak_too_and_recovers_with_fast_passes() {
        let (state, changes) = run(&[Slow, Slow, Up, Slow, Slow, Slow, Up, Up]);

        assert_eq!(
            changes,
            vec![
                (6, Change { from: Up, to: Slow }),
                (8, Change { from: Slow, to: Up }),
            ]
        );
        assert_eq!(state.fast, 2);
    }

    #[test]
    fn a_down_probe_recovering_slowly_comes_back_slow() {
        let (state, changes) = run(&[Down, Down, Down, Slow, Slow]);

        assert_eq!(
            changes.last(),
            Some(&(
                5,
                Change {
                    from: Down,
                    to: Slow
                }
            ))
        );
        assert_eq!(state.health, Slow);
    }

    #[test]
    fn offsets_are_stable_within_the_interval_and_spread() {
        let interval = SignedDuration::from_secs(60);
        let ids = ["api", "db", "web", "tls-api", "dns", "checkout"];
        let offsets: Vec<i64> = ids
            .iter()
            .map(|id| start_offset(id, interval).as_secs())
            .collect();

        assert!(offsets.iter().all(|s| (0..60).contains(s)), "{offsets:?}");
        assert_eq!(start_offset("api", interval), start_offset("api", interval));
        let distinct: std::collections::BTreeSet<_> = offsets.iter().collect();
        assert!(distinct.len() >= 4, "{offsets:?}");
    }

    #[test]
    fn next_due_stays_on_the_grid_and_skips_missed_slots() {
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        let minute = SignedDuration::from_secs(60);

        let on_time = next_due(t("2025-01-01T00:00:10Z"), minute, t("2025-01-01T00:00:11Z"));
        let late = next_due(t("2025-01-01T00:00:10Z"), minute, t("2025-01-01T00:03:10Z"));

        assert_eq!(on_time, t("2025-01-01T00:01:10Z"));
        assert_eq!(late, t("2025-01-01T00:04:10Z"));
    }
}
