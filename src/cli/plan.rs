//! `dutybell plan [DIR]`: what reloading the running server with DIR would change, before
//! it happens. Asks the server for its view (`GET /api/v1/plan`), computes the same view
//! of DIR at the server's instant with `http::plan::view`, and prints a diff: who is on
//! call now and in 7 days per schedule and rotation, services and integrations added or
//! removed.
//!
//! An edited rotation is re-anchored the way a reload does it (D13, `engine::anchors`),
//! from the settings the server reports, so the "after" side is what the server would
//! really do. DIR is loaded offline like `dutybell check` (nothing written, unset
//! environment variables read as placeholders).

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use jiff::Timestamp;

use super::Global;
use crate::config::Config;
use crate::config::check::{self, Sources};
use crate::domain::oncall::{self, Advance, Rotation, Target};
use crate::http::plan::{NEXT_WEEK, PlanView, RotationSettings, view};

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The candidate config directory; defaults to --config.
    pub dir: Option<PathBuf>,
    /// Base URL of the running server.
    #[arg(long, env = "DUTYBELL_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// The server's admin API token.
    #[arg(long, env = "DUTYBELL_API_TOKEN", hide_env_values = true)]
    pub token: String,
}

pub async fn run(global: &Global, args: &PlanArgs) -> anyhow::Result<()> {
    let dir = args.dir.clone().unwrap_or_else(|| global.config.clone());
    let before = fetch(args).await?;

    let env = std::env::vars().collect();
    let offline = check::load_offline(&dir, &env, &mut Sources::default());
    let Some(mut config) = offline.config else {
        let lines: Vec<String> = offline.findings.iter().map(ToString::to_string).collect();
        anyhow::bail!(
            "{} has errors (see `dutybell check`):\n{}",
            dir.display(),
            lines.join("\n")
        );
    };
    anchor_like_a_reload(&mut config, &before);
    let after = view(&config, before.at);

    let later = before.at.checked_add(NEXT_WEEK).unwrap_or(Timestamp::MAX);
    println!(
        "Plan for {} against {} at {} (next week: {later})",
        dir.display(),
        args.server,
        before.at
    );
    let lines = diff(&before, &after);
    for line in &lines {
        println!("{line}");
    }
    let changes = lines
        .iter()
        .filter(|l| l.starts_with("+ ") || l.starts_with("- "))
        .count();
    if changes == 0 {
        println!("no changes");
    } else {
        println!("{changes} changed line(s)");
    }
    Ok(())
}

/// The server's view, with the admin token.
async fn fetch(args: &PlanArgs) -> anyhow::Result<PlanView> {
    let url = format!("{}/api/v1/plan", args.server.trim_end_matches('/'));
    let response = reqwest::Client::new()
        .get(&url)
        .bearer_auth(&args.token)
        .send()
        .await
        .with_context(|| format!("asking {} for its current view", args.server))?
        .error_for_status()
        .with_context(|| format!("{} refused the plan request", args.server))?;
    response
        .json()
        .await
        .context("reading the server's current view")
}

/// Gives each rotation the anchor a reload would (D13): the server's when its settings are
/// unchanged, re-anchored at the server's instant when edited, none when new.
fn anchor_like_a_reload(config: &mut Config, server: &PlanView) {
    for rotation in &server.rotations {
        let Some(new) = config.rotations.get(&rotation.id).cloned() else {
            continue;
        };
        let Some(old) = rotation.settings.rotation(&rotation.id) else {
            continue;
        };
        let anchored = if rotation.settings.same_grid(&RotationSettings::of(&new)) {
            Rotation {
                anchor: old.anchor.clone(),
                ..new
            }
        } else {
            reanchor(config, &old, new, server.at)
        };
        config.rotations.insert(rotation.id.clone(), anchored);
    }
}

/// `new` anchored at `at` after `old`, counting an `on-active-shifts` rotation with the
/// rules of a schedule using it, as `engine::anchors` does on a reload.
// TODO(#9): share this with `engine::anchors` (a pure `anchored(config, old, new, at)`
// there) so the two cannot drift.
fn reanchor(config: &Config, old: &Rotation, new: Rotation, at: Timestamp) -> Rotation {
    let target = Target::Rotation(old.id.clone());
    let using = config
        .schedules
        .values()
        .find(|schedule| schedule.rules.iter().any(|rule| rule.target == target));
    match (old.advance, using) {
        (Advance::OnActiveShifts, Some(schedule)) => {
            oncall::reanchor_in_schedule(schedule, old, new, at)
        }
        _ => oncall::reanchor(old, new, at),
    }
}

/// Who, as the diff prints it.
fn people<'a>(ids: impl IntoIterator<Item = &'a String>) -> String {
    let ids: Vec<&str> = ids.into_iter().map(String::as_str).collect();
    if ids.is_empty() {
        "nobody".to_string()
    } else {
        ids.join(", ")
    }
}

/// The diff lines: a header per schedule or rotation that changes, then `- label: old` and
/// `+ label: new`; then services and integrations added (`+`) or removed (`-`).
pub fn diff(before: &PlanView, after: &PlanView) -> Vec<String> {
    let mut lines = Vec::new();
    let samples = |now: String, next: String| [("now", now), ("next week", next)];

    let ids: BTreeSet<&String> = before
        .schedules
        .iter()
        .chain(&after.schedules)
        .map(|s| &s.id)
        .collect();
    for id in ids {
        let side = |view: &PlanView| {
            let schedule = view.schedules.iter().find(|s| &s.id == id)?;
            Some(samples(people(&schedule.now), people(&schedule.next_week)))
        };
        changed(
            &mut lines,
            &format!("schedule {id}"),
            side(before),
            side(after),
        );
    }

    let ids: BTreeSet<&String> = before
        .rotations
        .iter()
        .chain(&after.rotations)
        .map(|r| &r.id)
        .collect();
    for id in ids {
        let side = |view: &PlanView| {
            let rotation = view.rotations.iter().find(|r| &r.id == id)?;
            Some(samples(people(&rotation.now), people(&rotation.next_week)))
        };
        changed(
            &mut lines,
            &format!("rotation {id}"),
            side(before),
            side(after),
        );
    }

    listed(&mut lines, "services", &before.services, &after.services);
    listed(
        &mut lines,
        "integrations",
        &before.integrations,
        &after.integrations,
    );
    lines
}

type Samples = [(&'static str, String); 2];

fn changed(lines: &mut Vec<String>, title: &str, before: Option<Samples>, after: Option<Samples>) {
    match (before, after) {
        (None, None) => {}
        (None, Some(after)) => {
            lines.push(format!("{title} (new):"));
            lines.extend(after.iter().map(|(label, who)| format!("+ {label}: {who}")));
        }
        (Some(before), None) => {
            lines.push(format!("{title} (removed):"));
            lines.extend(
                before
                    .iter()
                    .map(|(label, who)| format!("- {label}: {who}")),
            );
        }
        (Some(before), Some(after)) => {
            let mut body = Vec::new();
            for ((label, old), (_, new)) in before.iter().zip(&after) {
                if old != new {
                    body.push(format!("- {label}: {old}"));
                    body.push(format!("+ {label}: {new}"));
                }
            }
            if !body.is_empty() {
                lines.push(format!("{title}:"));
                lines.extend(body);
            }
        }
    }
}

fn listed(lines: &mut Vec<String>, title: &str, before: &[String], after: &[String]) {
    let removed = before.iter().filter(|id| !after.contains(id));
    let added = after.iter().filter(|id| !before.contains(id));
    let body: Vec<String> = removed
        .map(|id| format!("- {id}"))
        .chain(added.map(|id| format!("+ {id}")))
        .collect();
    if !body.is_empty() {
        lines.push(format!("{title}:"));
        lines.extend(body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::plan::ScheduleView;

    fn plan(schedules: &[(&str, &[&str], &[&str])], services: &[&str]) -> PlanView {
        let ids = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        PlanView {
            at: Timestamp::UNIX_EPOCH,
            schedules: schedules
                .iter()
                .map(|(id, now, next)| ScheduleView {
                    id: id.to_string(),
                    now: ids(now),
                    next_week: ids(next),
                })
                .collect(),
            rotations: Vec::new(),
            services: ids(services),
            integrations: Vec::new(),
        }
    }

    #[test]
    fn added_and_removed_schedules_show_both_samples() {
        let before = plan(
            &[("old", &["ana"], &[]), ("same", &["ben"], &["ben"])],
            &["api"],
        );
        let after = plan(
            &[
                ("new", &["ana", "ben"], &["chen"]),
                ("same", &["ben"], &["ben"]),
            ],
            &[],
        );

        assert_eq!(
            diff(&before, &after),
            [
                "schedule new (new):",
                "+ now: ana, ben",
                "+ next week: chen",
                "schedule old (removed):",
                "- now: ana",
                "- next week: nobody",
                "services:",
                "- api",
            ]
        );
        assert!(diff(&after, &after).is_empty());
    }
}
