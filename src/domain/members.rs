//! Member rules M1–M3 of intake spec §3.4: how one upstream alert entry (an Alertmanager or
//! Grafana member, by fingerprint) changes the latest occurrence dutybell knows of it.
//!
//! Deliveries arrive at least once, out of order and from HA peers with stale snapshots, so
//! state comes from comparing `startsAt` instants, never from arrival order or top-level
//! `status`. The group-level consequences (open, join, resolve the dutybell alert) are
//! applied by `store::alerts` from these outcomes.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A member's state at the time the sender flushed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberStatus {
    Firing,
    Resolved,
}

impl MemberStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Firing => "firing",
            MemberStatus::Resolved => "resolved",
        }
    }

    pub fn is_firing(self) -> bool {
        self == MemberStatus::Firing
    }

    pub fn parse(s: &str) -> Option<MemberStatus> {
        match s {
            "firing" => Some(MemberStatus::Firing),
            "resolved" => Some(MemberStatus::Resolved),
            _ => None,
        }
    }
}

/// The latest occurrence stored for a fingerprint, or the one a delivery reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Occurrence {
    pub starts_at: Timestamp,
    pub status: MemberStatus,
    pub ends_at: Option<Timestamp>,
}

/// What applying one entry does to the stored occurrence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberChange {
    /// M1 (stale entry) or M2 resolved-on-resolved: nothing changes.
    Ignore,
    /// M2 firing on firing: refresh labels and annotations; never pages.
    Refresh,
    /// M2 resolved on firing: the occurrence ended at `at`.
    Resolve { at: Timestamp },
    /// M2 firing on resolved: a stale snapshot or a real re-fire; decided after a grace.
    DisputedRefire,
    /// M3: a newer occurrence replaces the stored one (or the first one is seen).
    New(Occurrence),
}

/// Applies one entry to the latest stored occurrence of its fingerprint (M1–M3).
pub fn apply(
    latest: Option<&Occurrence>,
    entry: &Occurrence,
    received_at: Timestamp,
) -> MemberChange {
    let Some(latest) = latest else {
        return MemberChange::New(*entry);
    };
    if entry.starts_at < latest.starts_at {
        return MemberChange::Ignore;
    }
    if entry.starts_at > latest.starts_at {
        return MemberChange::New(*entry);
    }
    match (latest.status, entry.status) {
        (MemberStatus::Firing, MemberStatus::Firing) => MemberChange::Refresh,
        (MemberStatus::Firing, MemberStatus::Resolved) => MemberChange::Resolve {
            at: entry.ends_at.unwrap_or(received_at),
        },
        (MemberStatus::Resolved, MemberStatus::Resolved) => MemberChange::Ignore,
        (MemberStatus::Resolved, MemberStatus::Firing) => MemberChange::DisputedRefire,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MemberStatus::{Firing, Resolved};

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn occ(starts: &str, status: MemberStatus, ends: Option<&str>) -> Occurrence {
        Occurrence {
            starts_at: at(starts),
            status,
            ends_at: ends.map(at),
        }
    }

    #[test]
    fn m_rules_as_a_table_over_latest_state_and_entry() {
        let t10 = "2025-06-02T10:00:00Z";
        let t09 = "2025-06-02T09:00:00Z";
        let t11 = "2025-06-02T11:00:00Z";
        let recv = at("2025-06-02T12:00:00Z");
        let firing = occ(t10, Firing, None);
        let resolved = occ(t10, Resolved, Some("2025-06-02T10:07:00Z"));
        let cases: Vec<(&str, Option<Occurrence>, Occurrence, MemberChange)> = vec![
            (
                "first sight firing",
                None,
                firing,
                MemberChange::New(firing),
            ),
            (
                "first sight resolved",
                None,
                resolved,
                MemberChange::New(resolved),
            ),
            (
                "M1 stale firing",
                Some(firing),
                occ(t09, Firing, None),
                MemberChange::Ignore,
            ),
            (
                "M1 stale resolve",
                Some(firing),
                occ(t09, Resolved, Some(t10)),
                MemberChange::Ignore,
            ),
            (
                "M2 firing on firing",
                Some(firing),
                firing,
                MemberChange::Refresh,
            ),
            (
                "M2 resolved on firing uses endsAt",
                Some(firing),
                resolved,
                MemberChange::Resolve {
                    at: at("2025-06-02T10:07:00Z"),
                },
            ),
            (
                "M2 resolved without endsAt uses receive time",
                Some(firing),
                occ(t10, Resolved, None),
                MemberChange::Resolve { at: recv },
            ),
            (
                "M2 resolved on resolved",
                Some(resolved),
                resolved,
                MemberChange::Ignore,
            ),
            (
                "M2 firing on resolved",
                Some(resolved),
                firing,
                MemberChange::DisputedRefire,
            ),
            (
                "M3 newer firing",
                Some(resolved),
                occ(t11, Firing, None),
                MemberChange::New(occ(t11, Firing, None)),
            ),
        ];
        for (name, latest, entry, expected) in cases {
            assert_eq!(apply(latest.as_ref(), &entry, recv), expected, "{name}");
        }
    }
}
