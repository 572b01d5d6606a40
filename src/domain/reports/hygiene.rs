//! Alert hygiene (comms spec §7): per (service, alert name), how often it fired in the period
//! and how often nobody acted on it. A rule with more than five no-action firings is
//! flagged "fix or delete it".
//!
//! A firing is an alert instance (a row of `alerts`), never a dedup repeat. It is
//! *actioned* when a human acked it (an incident promotion acks too) and then a human
//! resolved it by hand, put it into an incident, noted or ticked a runbook step. Anything
//! else closed is *no action*: auto-resolved unacked, acked then auto-resolved untouched,
//! expired. Firings still open are counted as fires but not judged yet.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use super::{Period, heading, percent, table, utc};

/// More no-action firings than this flags a rule (6 → flagged, 5 → not).
pub const FLAG_ABOVE: usize = 5;

/// One alert instance as the store saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Firing {
    pub service: String,
    /// The `alertname` label, else the summary.
    pub name: String,
    pub triggered_at: Timestamp,
    /// Still triggered or acknowledged.
    pub open: bool,
    /// The first ack by a person (not a source's own ack).
    pub human_ack_at: Option<Timestamp>,
    /// Instants a person resolved it, attached it to an incident, noted or ticked a step.
    pub follow_ups: Vec<Timestamp>,
    /// The alert's labels, for finding the runbook that covers it.
    pub labels: BTreeMap<String, String>,
    /// The runbook the alert links to: its own, else the covering one, else its service's.
    pub runbook: Option<String>,
}

impl Firing {
    /// Acked by a person, then acted on by a person (at or after the ack: a promotion
    /// acks and attaches in one step).
    pub fn actioned(&self) -> bool {
        self.human_ack_at
            .is_some_and(|ack| self.follow_ups.iter().any(|&at| at >= ack))
    }
}

/// One line of the hygiene report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    pub service: String,
    pub alert: String,
    pub fires: usize,
    /// Fires still open, not judged yet.
    pub open: usize,
    pub no_action: usize,
    /// Actioned share of the judged (closed) fires, 0–100, one decimal; `None` if none.
    pub action_rate: Option<f64>,
    #[serde(serialize_with = "super::utc_ms")]
    pub last_fired: Timestamp,
    pub runbook: Option<String>,
    pub flagged: bool,
}

/// The rows for firings triggered in `period`: flagged rules first, then by no-action
/// count (most first), then by service and name.
pub fn report(firings: &[Firing], period: Period) -> Vec<Row> {
    let mut groups: BTreeMap<(&str, &str), Vec<&Firing>> = BTreeMap::new();
    for firing in firings.iter().filter(|f| period.contains(f.triggered_at)) {
        groups
            .entry((firing.service.as_str(), firing.name.as_str()))
            .or_default()
            .push(firing);
    }
    let mut rows: Vec<Row> = groups
        .into_iter()
        .filter_map(|((service, alert), group)| {
            let last = group.iter().max_by_key(|f| f.triggered_at)?;
            let open = group.iter().filter(|f| f.open).count();
            let judged = group.len() - open;
            let actioned = group.iter().filter(|f| !f.open && f.actioned()).count();
            let no_action = judged - actioned;
            let action_rate =
                (judged > 0).then(|| (actioned as f64 * 1000.0 / judged as f64).round() / 10.0);
            Some(Row {
                service: service.to_string(),
                alert: alert.to_string(),
                fires: group.len(),
                open,
                no_action,
                action_rate,
                last_fired: last.triggered_at,
                runbook: last.runbook.clone(),
                flagged: no_action > FLAG_ABOVE,
            })
        })
        .collect();
    rows.sort_by(|a, b| {
        b.flagged
            .cmp(&a.flagged)
            .then(b.no_action.cmp(&a.no_action))
            .then_with(|| (&a.service, &a.alert).cmp(&(&b.service, &b.alert)))
    });
    rows
}

/// The report as a text table, flagged rules first.
pub fn text(rows: &[Row], period: Period, days: u32) -> String {
    let mut out = heading("Alert hygiene", period, days);
    if rows.is_empty() {
        out.push_str("No alerts fired.\n");
        return out;
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            vec![
                row.service.clone(),
                row.alert.clone(),
                row.fires.to_string(),
                row.open.to_string(),
                row.no_action.to_string(),
                percent(row.action_rate),
                utc(row.last_fired),
                row.runbook.clone().unwrap_or_else(|| "-".into()),
                if row.flagged { "fix or delete it" } else { "" }.into(),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "SERVICE",
            "ALERT",
            "FIRES",
            "OPEN",
            "NO ACTION",
            "ACTION RATE",
            "LAST FIRED (UTC)",
            "RUNBOOK",
            "FLAG",
        ],
        &cells,
    ));
    out
}

#[cfg(test)]
mod tests {
    use jiff::SignedDuration;

    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn firing(name: &str, minute: i64) -> Firing {
        Firing {
            service: "api".into(),
            name: name.into(),
            triggered_at: at("2025-06-01T00:00:00Z") + SignedDuration::from_mins(minute),
            open: false,
            human_ack_at: None,
            follow_ups: Vec::new(),
            labels: BTreeMap::new(),
            runbook: None,
        }
    }

    fn period() -> Period {
        Period::last_days(at("2025-06-20T00:00:00Z"), 30)
    }

    #[test]
    fn six_unactioned_firings_flag_a_rule_and_five_do_not() {
        let mut firings: Vec<Firing> = (0..6).map(|i| firing("Six", i)).collect();
        firings.extend((0..5).map(|i| firing("Five", i)));

        let rows = report(&firings, period());

        let got: Vec<(&str, usize, usize, bool)> = rows
            .iter()
            .map(|r| (r.alert.as_str(), r.fires, r.no_action, r.flagged))
            .collect();
        assert_eq!(got, [("Six", 6, 6, true), ("Five", 5, 5, false)]);
        assert_eq!(rows[0].action_rate, Some(0.0));
        assert_eq!(rows[0].last_fired, at("2025-06-01T00:05:00Z"));
    }

    #[test]
    fn an_ack_alone_or_a_follow_up_alone_is_no_action() {
        let ack = at("2025-06-01T00:10:00Z");
        let mut acked_only = firing("A", 0);
        acked_only.human_ack_at = Some(ack);
        let mut resolved_only = firing("A", 1);
        resolved_only.follow_ups = vec![ack];
        let mut noted_before_ack = firing("A", 2);
        noted_before_ack.human_ack_at = Some(ack);
        noted_before_ack.follow_ups = vec![ack - SignedDuration::from_secs(1)];
        let mut actioned = firing("A", 3);
        actioned.human_ack_at = Some(ack);
        actioned.follow_ups = vec![ack];

        let rows = report(
            &[acked_only, resolved_only, noted_before_ack, actioned],
            period(),
        );

        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].fires, rows[0].no_action), (4, 3));
        assert_eq!(rows[0].action_rate, Some(25.0));
    }

    #[test]
    fn open_firings_count_as_fires_but_are_not_judged_and_old_ones_are_left_out() {
        let mut open = firing("A", 0);
        open.open = true;
        let mut old = firing("A", 0);
        old.triggered_at = at("2025-05-01T00:00:00Z");

        let rows = report(&[open, old, firing("A", 5)], period());

        assert_eq!((rows[0].fires, rows[0].open, rows[0].no_action), (2, 1, 1));
        assert_eq!(rows[0].action_rate, Some(0.0));
    }
}
