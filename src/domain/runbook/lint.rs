//! Findings that need more than one file: the date (RB02 stale, RB06 future), the config's
//! escalation targets (RB08 unknown) and the alert history (RB01 uncovered, RB08 tie and
//! orphan). The history is passed in; `None` is `--offline` and skips those checks.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};

use super::{Code, Finding, Runbook, candidates, match_labels};

/// RB01 looks this far back.
pub const FIRING_WINDOW: SignedDuration = SignedDuration::from_hours(30 * 24);
/// RB08 (orphan, tie) looks this far back.
pub const ORPHAN_WINDOW: SignedDuration = SignedDuration::from_hours(90 * 24);
/// `runbooks.stale_after_days` when unset.
pub const DEFAULT_STALE_AFTER_DAYS: i64 = 180;
/// Prefixes of `Escalate to` code spans checked against the config (RB08).
const TARGET_KINDS: [&str; 4] = ["person:", "rotation:", "schedule:", "policy:"];

/// One firing: a new alert instance (never a dedup repeat).
#[derive(Clone, Debug)]
pub struct Firing {
    pub service: String,
    /// The `alertname` label, else the summary (how notifications name the alert).
    pub alert: String,
    pub labels: BTreeMap<String, String>,
    pub at: Timestamp,
}

/// What the checks compare against.
#[derive(Clone, Debug)]
pub struct Context<'a> {
    pub now: Timestamp,
    /// Today's date where the team works (for RB02 and future dates).
    pub today: Date,
    pub stale_after_days: i64,
    /// `None` skips the history checks (`--offline`).
    pub history: Option<&'a [Firing]>,
    /// Escalation targets that exist, as `person:ana`, `rotation:primary`, …
    pub targets: &'a BTreeSet<String>,
}

/// Every finding for `runbooks` beyond what each file shows on its own.
pub fn lint(runbooks: &[Runbook], ctx: &Context<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for rb in runbooks {
        dates(rb, ctx, &mut findings);
        for (target, line) in &rb.escalate_refs {
            let checked = TARGET_KINDS.iter().any(|kind| target.starts_with(kind));
            if checked && !ctx.targets.contains(target) {
                findings.push(Finding::new(
                    Code::RB08,
                    Some(&rb.file),
                    Some(*line),
                    format!("`Escalate to` names `{target}`, which the config does not have"),
                ));
            }
        }
    }
    if let Some(history) = ctx.history {
        uncovered(runbooks, history, ctx.now, &mut findings);
        ties_and_orphans(runbooks, history, ctx.now, &mut findings);
    }
    findings
}

fn dates(rb: &Runbook, ctx: &Context<'_>, findings: &mut Vec<Finding>) {
    let line = Some(rb.last_updated_line);
    if rb.last_updated > ctx.today {
        let message = format!("`last_updated` {} is in the future", rb.last_updated);
        findings.push(Finding::new(Code::RB06, Some(&rb.file), line, message));
        return;
    }
    let age = (ctx.today - rb.last_updated).get_days();
    if i64::from(age) > ctx.stale_after_days {
        let message = format!(
            "last updated {} ({age} days ago, more than {} days): review it",
            rb.last_updated, ctx.stale_after_days
        );
        findings.push(Finding::new(Code::RB02, Some(&rb.file), line, message));
    }
}

/// RB01: (service, alert) pairs that fired more than once in 30 days, uncovered.
fn uncovered(runbooks: &[Runbook], history: &[Firing], now: Timestamp, out: &mut Vec<Finding>) {
    let since = now - FIRING_WINDOW;
    let mut counts: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for firing in history.iter().filter(|f| f.at >= since && f.at <= now) {
        let labels = match_labels(&firing.service, &firing.labels);
        if candidates(runbooks, &firing.alert, &labels).is_empty() {
            *counts.entry((&firing.service, &firing.alert)).or_default() += 1;
        }
    }
    for ((service, alert), count) in counts {
        if count > 1 {
            let message = format!(
                "`{alert}` (service {service}) fired {count} times in the last 30 days and no \
                 runbook covers it"
            );
            out.push(Finding::new(Code::RB01, None, None, message).with_alert(alert));
        }
    }
}

/// RB08: alerts two runbooks cover equally, and runbooks no recent alert needs.
fn ties_and_orphans(
    runbooks: &[Runbook],
    history: &[Firing],
    now: Timestamp,
    out: &mut Vec<Finding>,
) {
    let since = now - ORPHAN_WINDOW;
    let mut used: BTreeSet<&str> = BTreeSet::new();
    let mut ties: BTreeMap<(&str, Vec<&str>), ()> = BTreeMap::new();
    for firing in history.iter().filter(|f| f.at >= since && f.at <= now) {
        let labels = match_labels(&firing.service, &firing.labels);
        for rb in runbooks
            .iter()
            .filter(|rb| rb.covers(&firing.alert, &labels))
        {
            used.insert(&rb.file);
        }
        let best = candidates(runbooks, &firing.alert, &labels);
        if best.len() > 1 {
            let files = best.iter().map(|rb| rb.file.as_str()).collect();
            ties.insert((&firing.alert, files), ());
        }
    }
    for (alert, files) in ties.into_keys() {
        let message = format!(
            "`{alert}` is covered equally by {}; {} is used",
            files.join(", "),
            files[0]
        );
        out.push(Finding::new(Code::RB08, Some(files[0]), None, message).with_alert(alert));
    }
    for rb in runbooks
        .iter()
        .filter(|rb| !used.contains(rb.file.as_str()))
    {
        let message = "covers no alert that fired in the last 90 days".to_string();
        out.push(Finding::new(Code::RB08, Some(&rb.file), Some(1), message));
    }
}

/// The order findings are printed in: by file and line (alert findings last, by alert),
/// then code.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        let key = |f: &Finding| {
            (
                f.file.is_none(),
                f.file.clone(),
                f.line.unwrap_or(0),
                f.code,
                f.alert.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    fn runbook(slug: &str, front: &str, body: &str) -> Runbook {
        let text = format!("+++\n{front}\n+++\n# Runbook: x\n{body}");
        parse(&format!("runbooks/{slug}.md"), &text)
            .runbook
            .expect("front matter parses")
    }

    fn firing(service: &str, alert: &str, days_ago: i64) -> Firing {
        Firing {
            service: service.into(),
            alert: alert.into(),
            labels: BTreeMap::new(),
            at: now() - SignedDuration::from_hours(24 * days_ago),
        }
    }

    fn now() -> Timestamp {
        "2025-06-12T03:00:00Z".parse().unwrap()
    }

    fn run(runbooks: &[Runbook], history: Option<&[Firing]>) -> Vec<String> {
        let targets = ["person:lead".to_string()].into();
        let ctx = Context {
            now: now(),
            today: Date::constant(2025, 6, 12),
            stale_after_days: DEFAULT_STALE_AFTER_DAYS,
            history,
            targets: &targets,
        };
        let mut found = lint(runbooks, &ctx);
        sort(&mut found);
        found.iter().map(|f| f.to_string()).collect()
    }

    #[test]
    fn stale_and_future_dates() {
        let old = runbook("old", "alerts = [\"A\"]\nlast_updated = 2024-12-13", "");
        let fresh = runbook("fresh", "alerts = [\"A\"]\nlast_updated = 2024-12-14", "");
        let future = runbook("future", "alerts = [\"A\"]\nlast_updated = 2025-06-13", "");
        assert_eq!(
            run(&[old, fresh, future], None),
            [
                "runbooks/future.md:3: RB06 error: `last_updated` 2025-06-13 is in the future",
                "runbooks/old.md:3: RB02 warning: last updated 2024-12-13 (181 days ago, more \
                 than 180 days): review it",
            ]
        );
    }

    #[test]
    fn unknown_escalation_targets_are_rb08() {
        let body = "## Escalate to\n\n- `person:lead` first\n- `person:zed` then\n- `#ops`\n";
        let rb = runbook("a", "alerts = [\"A\"]\nlast_updated = 2025-06-01", body);
        assert_eq!(
            run(&[rb], None),
            [
                "runbooks/a.md:9: RB08 warning: `Escalate to` names `person:zed`, which the \
              config does not have"
            ]
        );
    }

    #[test]
    fn repeated_uncovered_firings_are_rb01_and_unused_runbooks_orphans() {
        let covered = runbook(
            "disk",
            "alerts = [\"DiskFull\"]\nlast_updated = 2025-06-01",
            "",
        );
        let history = [
            firing("api", "HighLatency", 1),
            firing("api", "HighLatency", 29),
            firing("api", "HighLatency", 31),
            firing("web", "HighLatency", 2),
            firing("api", "Once", 3),
        ];
        assert_eq!(
            run(std::slice::from_ref(&covered), Some(&history)),
            [
                "runbooks/disk.md:1: RB08 warning: covers no alert that fired in the last 90 \
                 days",
                "RB01 error: `HighLatency` (service api) fired 2 times in the last 30 days and \
                 no runbook covers it",
            ]
        );
        let history = [firing("api", "DiskFull", 1), firing("api", "DiskFull", 2)];
        assert_eq!(run(&[covered], Some(&history)), Vec::<String>::new());
    }

    #[test]
    fn offline_skips_history() {
        let rb = runbook(
            "disk",
            "alerts = [\"DiskFull\"]\nlast_updated = 2025-06-01",
            "",
        );
        assert_eq!(run(&[rb], None), Vec::<String>::new());
    }

    #[test]
    fn two_equal_runbooks_for_one_alert_are_a_tie() {
        let a = runbook(
            "a",
            "alerts = [\"DiskFull\"]\nlast_updated = 2025-06-01",
            "",
        );
        let b = runbook(
            "b",
            "alerts = [\"DiskFull\"]\nlast_updated = 2025-06-01",
            "",
        );
        let history = [firing("api", "DiskFull", 1)];
        assert_eq!(
            run(&[a, b], Some(&history)),
            [
                "runbooks/a.md: RB08 warning: `DiskFull` is covered equally by runbooks/a.md, \
              runbooks/b.md; runbooks/a.md is used"
            ]
        );
    }
}
