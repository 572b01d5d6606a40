//! `dutybell runbook new <alert>` and `dutybell runbook lint` (comms spec §5.3).
//!
//! `new` writes `runbooks/<slug>.md` from the template and never overwrites. `lint` prints
//! every finding (text, or JSON with `--format json`) and fails with exit 1 on errors, or
//! on warnings with `--deny-warnings`; clap's usage errors exit 2. The history checks read
//! the local database unless `--offline`.

use std::collections::BTreeSet;
use std::io::Write as _;

use anyhow::Context as _;
use clap::{Subcommand, ValueEnum};

use crate::clock::Clock;
use crate::config::Config;
use crate::config::runbooks::{DIR, read_dir};
use crate::domain::runbook::lint::{self, DEFAULT_STALE_AFTER_DAYS, Firing};
use crate::domain::runbook::{self, Finding, Level};
use crate::store::alerts;

#[derive(Debug, Subcommand)]
pub enum RunbookCommand {
    /// Write `runbooks/<slug>.md` for an alert from the template (never overwrites).
    New {
        /// The alert name, e.g. DiskFull.
        alert: String,
        /// Cover only this service's alerts (adds a `service="…"` matcher).
        #[arg(long)]
        service: Option<String>,
        /// Who owns the runbook, e.g. a team name.
        #[arg(long, default_value = "unassigned")]
        owner: String,
    },
    /// Check every runbook; exit 1 on errors (or warnings with --deny-warnings).
    Lint {
        /// Skip the checks that read the alert history (RB01, RB08 tie and orphan).
        #[arg(long)]
        offline: bool,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Fail on warnings too.
        #[arg(long)]
        deny_warnings: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

pub async fn run(config: &Config, clock: &Clock, command: RunbookCommand) -> anyhow::Result<()> {
    match command {
        RunbookCommand::New {
            alert,
            service,
            owner,
        } => new(config, clock, &alert, service.as_deref(), &owner),
        RunbookCommand::Lint {
            offline,
            format,
            deny_warnings,
        } => lint(config, clock, offline, format, deny_warnings).await,
    }
}

fn new(
    config: &Config,
    clock: &Clock,
    alert: &str,
    service: Option<&str>,
    owner: &str,
) -> anyhow::Result<()> {
    if let Some(service) = service
        && !config.services.contains_key(service)
    {
        anyhow::bail!("--service {service:?}: no such service in services.toml");
    }
    let slug = runbook::slug(alert);
    anyhow::ensure!(
        !slug.is_empty(),
        "{alert:?} has no letters or digits to name a file"
    );

    let dir = config.dir.join(DIR);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("{slug}.md"));
    let today = clock.now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let text = runbook::template(alert, service, owner, today);
    // `create_new` refuses an existing file atomically: a runbook is never overwritten.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| format!("creating {} (it is never overwritten)", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}

/// `[runbooks] stale_after_days` from `dutybell.toml`, else the spec default (180).
fn stale_after_days(config: &Config) -> anyhow::Result<i64> {
    let path = config.dir.join("dutybell.toml");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
    };
    let file: crate::config::raw::InstanceFile =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    Ok(file
        .runbooks
        .and_then(|r| r.stale_after_days)
        .map_or(DEFAULT_STALE_AFTER_DAYS, i64::from))
}

async fn lint(
    config: &Config,
    clock: &Clock,
    offline: bool,
    format: Format,
    deny_warnings: bool,
) -> anyhow::Result<()> {
    let (runbooks, mut findings) = read_dir(&config.dir);
    let history = if offline {
        None
    } else {
        Some(history(config).await?)
    };
    let targets = targets(config);
    let now = clock.now();
    let ctx = lint::Context {
        now,
        today: now.to_zoned(jiff::tz::TimeZone::UTC).date(),
        stale_after_days: stale_after_days(config)?,
        history: history.as_deref(),
        targets: &targets,
    };
    findings.extend(lint::lint(&runbooks, &ctx));
    lint::sort(&mut findings);

    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => {
            let json = serde_json::to_string_pretty(&findings).context("encoding findings")?;
            writeln!(out, "{json}")?;
        }
        Format::Text => {
            for finding in &findings {
                writeln!(out, "{finding}")?;
            }
            writeln!(out, "{}", summary(&findings, runbooks.len()))?;
        }
    }
    out.flush()?;

    let errors = count(&findings, Level::Error);
    let warnings = count(&findings, Level::Warning);
    if errors > 0 || (deny_warnings && warnings > 0) {
        anyhow::bail!("runbook lint failed: {errors} error(s), {warnings} warning(s)");
    }
    Ok(())
}

fn count(findings: &[Finding], level: Level) -> usize {
    findings.iter().filter(|f| f.level == level).count()
}

fn summary(findings: &[Finding], runbooks: usize) -> String {
    format!(
        "{runbooks} runbook(s): {} error(s), {} warning(s)",
        count(findings, Level::Error),
        count(findings, Level::Warning)
    )
}

/// Every alert instance in the local database (dedup repeats are not rows).
async fn history(config: &Config) -> anyhow::Result<Vec<Firing>> {
    let store = super::open_store(config).await?;
    // TODO(#6): a store query bounded to the 90-day window; the CLI reads every alert row.
    let rows = alerts::list(&store, true)
        .await
        .context("reading the alert history")?;
    store.close().await;
    Ok(rows
        .into_iter()
        .map(|alert| Firing {
            alert: alert
                .labels
                .get("alertname")
                .cloned()
                .unwrap_or_else(|| alert.summary.clone()),
            service: alert.service_id,
            labels: alert.labels,
            at: alert.created_at,
        })
        .collect())
}

/// Escalation targets `Escalate to` may name: `person:`, `rotation:`, `schedule:` and
/// `policy:` followed by an id from the config.
fn targets(config: &Config) -> BTreeSet<String> {
    let ids = |kind: &str, keys: Vec<&String>| {
        keys.into_iter()
            .map(|id| format!("{kind}:{id}"))
            .collect::<Vec<_>>()
    };
    let mut all = BTreeSet::new();
    all.extend(ids("person", config.people.keys().collect()));
    all.extend(ids("rotation", config.rotations.keys().collect()));
    all.extend(ids("schedule", config.schedules.keys().collect()));
    all.extend(ids("policy", config.policies.keys().collect()));
    all
}
