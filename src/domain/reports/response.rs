//! Response times (comms spec §7), per service and severity.
//!
//! **MTTA**: for each alert triggered in the period that notified a person, first human
//! ack − `triggered_at`. Alerts never acked are a count and share beside the figures, never
//! averaged in. **MTTR**: for each incident resolved in the period (drills left out by the
//! store), `resolved_at − started_at`, with time to detect (`detected_at − started_at`) and
//! to mitigate (`mitigated_at − started_at`, when it was), always with the incident count.
//! An incident on several services counts under each; one on none under `-`.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::{Period, Stats};

/// An alert that notified someone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AckRow {
    pub service: String,
    pub severity: String,
    pub triggered_at: Timestamp,
    pub first_human_ack: Option<Timestamp>,
}

/// An incident with its milestones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncidentRow {
    pub number: i64,
    pub services: Vec<String>,
    /// `P1`…`P3`.
    pub severity: String,
    pub started_at: Timestamp,
    pub detected_at: Timestamp,
    pub mitigated_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MttaRow {
    pub service: String,
    pub severity: String,
    pub alerts: usize,
    /// Time to acknowledge over the acked alerts.
    pub ack: Stats,
    pub never_acked: usize,
    /// Never-acked share of `alerts`, 0–100, one decimal.
    pub never_acked_share: f64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MttrRow {
    pub service: String,
    pub severity: String,
    pub incidents: usize,
    pub resolve: Stats,
    pub detect: Stats,
    /// Over the incidents that had a mitigation milestone.
    pub mitigate: Stats,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Response {
    pub mtta: Vec<MttaRow>,
    pub mttr: Vec<MttrRow>,
}

pub fn report(alerts: &[AckRow], incidents: &[IncidentRow], period: Period) -> Response {
    let mut by_key: BTreeMap<(&str, &str), Vec<&AckRow>> = BTreeMap::new();
    for alert in alerts.iter().filter(|a| period.contains(a.triggered_at)) {
        by_key
            .entry((alert.service.as_str(), alert.severity.as_str()))
            .or_default()
            .push(alert);
    }
    let mtta = by_key
        .into_iter()
        .map(|((service, severity), group)| {
            let acked: Vec<SignedDuration> = group
                .iter()
                .filter_map(|a| {
                    a.first_human_ack
                        .map(|ack| ack.duration_since(a.triggered_at))
                })
                .collect();
            let never_acked = group.len() - acked.len();
            MttaRow {
                service: service.to_string(),
                severity: severity.to_string(),
                alerts: group.len(),
                ack: Stats::of(&acked),
                never_acked,
                never_acked_share: (never_acked as f64 * 1000.0 / group.len() as f64).round()
                    / 10.0,
            }
        })
        .collect();

    let mut by_key: BTreeMap<(String, &str), Vec<&IncidentRow>> = BTreeMap::new();
    let resolved = incidents
        .iter()
        .filter(|i| i.resolved_at.is_some_and(|at| period.contains(at)));
    for incident in resolved {
        let services = if incident.services.is_empty() {
            vec!["-".to_string()]
        } else {
            incident.services.clone()
        };
        for service in services {
            by_key
                .entry((service, incident.severity.as_str()))
                .or_default()
                .push(incident);
        }
    }
    let mttr = by_key
        .into_iter()
        .map(|((service, severity), group)| {
            let since_start = |at: Option<Timestamp>, i: &IncidentRow| {
                at.map(|at| at.duration_since(i.started_at))
            };
            let resolve: Vec<_> = group
                .iter()
                .filter_map(|i| since_start(i.resolved_at, i))
                .collect();
            let detect: Vec<_> = group
                .iter()
                .filter_map(|i| since_start(Some(i.detected_at), i))
                .collect();
            let mitigate: Vec<_> = group
                .iter()
                .filter_map(|i| since_start(i.mitigated_at, i))
                .collect();
            MttrRow {
                service,
                severity: severity.to_string(),
                incidents: group.len(),
                resolve: Stats::of(&resolve),
                detect: Stats::of(&detect),
                mitigate: Stats::of(&mitigate),
            }
        })
        .collect();
    Response { mtta, mttr }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn period() -> Period {
        Period::last_days(at("2025-07-01T00:00:00Z"), 30)
    }

    fn alert(service: &str, minute: i64, ack_after_s: Option<i64>) -> AckRow {
        let triggered_at = at("2025-06-10T00:00:00Z") + SignedDuration::from_mins(minute);
        AckRow {
            service: service.into(),
            severity: "critical".into(),
            triggered_at,
            first_human_ack: ack_after_s.map(|s| triggered_at + SignedDuration::from_secs(s)),
        }
    }

    #[test]
    fn mtta_leaves_never_acked_alerts_out_of_the_figures() {
        let alerts = [
            alert("api", 0, Some(60)),
            alert("api", 1, Some(180)),
            alert("api", 2, None),
            alert("api", 3, Some(600)),
            alert("web", 0, None),
        ];

        let response = report(&alerts, &[], period());

        assert_eq!(response.mtta.len(), 2);
        let api = &response.mtta[0];
        assert_eq!(
            (api.alerts, api.never_acked, api.never_acked_share),
            (4, 1, 25.0)
        );
        assert_eq!(
            api.ack,
            Stats {
                count: 3,
                mean_s: Some(280),
                median_s: Some(180),
                p90_s: Some(600),
            }
        );
        assert_eq!(response.mtta[1].ack, Stats::default());
        assert_eq!(response.mtta[1].never_acked_share, 100.0);
    }

    #[test]
    fn mttr_counts_incidents_resolved_in_the_period_under_each_service() {
        let incident = |number, resolved: Option<&str>| IncidentRow {
            number,
            services: vec!["api".into(), "web".into()],
            severity: "P1".into(),
            started_at: at("2025-06-20T10:00:00Z"),
            detected_at: at("2025-06-20T10:05:00Z"),
            mitigated_at: Some(at("2025-06-20T10:30:00Z")),
            resolved_at: resolved.map(at),
        };
        let incidents = [
            incident(1, Some("2025-06-20T11:00:00Z")),
            incident(2, Some("2025-06-20T12:00:00Z")),
            incident(3, None),
            incident(4, Some("2025-07-02T00:00:00Z")),
        ];

        let response = report(&[], &incidents, period());

        assert_eq!(response.mttr.len(), 2);
        let api = &response.mttr[0];
        assert_eq!((api.service.as_str(), api.incidents), ("api", 2));
        assert_eq!(api.resolve.mean_s, Some(5400));
        assert_eq!(api.resolve.median_s, Some(5400));
        assert_eq!(api.resolve.p90_s, Some(7200));
        assert_eq!(api.detect.mean_s, Some(300));
        assert_eq!(api.mitigate.count, 2);
    }
}
