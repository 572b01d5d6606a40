//! `dutybell alerts`, `alerts show`, `ack` and `resolve`, on the local database.

use anyhow::Context as _;
use jiff::Timestamp;

use crate::clock::Clock;
use crate::config::Config;
use crate::store::{Store, alerts};

async fn open(config: &Config) -> anyhow::Result<Store> {
    let store = Store::connect(&config.settings.database_url).await?;
    store.migrate().await.context("migrating the database")?;
    Ok(store)
}

/// Accepts `12` or `A-12`.
fn parse_id(text: &str) -> anyhow::Result<i64> {
    crate::domain::alert::parse_alert_id(text)
        .with_context(|| format!("{text:?} is not an alert id like 12 or A-12"))
}

pub async fn list(config: &Config, clock: &Clock, all: bool) -> anyhow::Result<()> {
    let store = open(config).await?;
    let alerts = alerts::list(&store, all).await?;
    if alerts.is_empty() {
        println!("No open alerts.");
        return Ok(());
    }
    let now = clock.now();
    println!(
        "{:<7} {:<13} {:<12} {:<9} {:<16} SUMMARY",
        "ID", "STATE", "SERVICE", "AGE", "PAGED"
    );
    for alert in alerts {
        let paged = if alert.paged.is_empty() {
            "-".to_string()
        } else {
            alert.paged.join(",")
        };
        println!(
            "{:<7} {:<13} {:<12} {:<9} {:<16} {}",
            format!("A-{}", alert.id),
            alert.state.as_str(),
            alert.service_id,
            age(now, alert.created_at),
            paged,
            alert.summary
        );
    }
    Ok(())
}

pub async fn show(config: &Config, id: &str) -> anyhow::Result<()> {
    let store = open(config).await?;
    let id = parse_id(id)?;
    let alert = alerts::get(&store, id)
        .await
        .with_context(|| format!("alert A-{id}"))?;
    println!(
        "A-{}  {}  [{}] {}",
        alert.id, alert.state, alert.severity, alert.summary
    );
    println!(
        "service: {}  source: {}  created: {}",
        alert.service_id, alert.source, alert.created_at
    );
    if let Some(runbook) = &alert.runbook_url {
        println!("runbook: {runbook}");
    }
    println!("timeline (UTC):");
    for entry in alerts::timeline(&store, id).await? {
        let actor = entry.actor.map(|a| format!(" by {a}")).unwrap_or_default();
        println!("  {}  {}{}  {}", entry.at, entry.kind, actor, entry.detail);
    }
    Ok(())
}

pub async fn act(
    config: &Config,
    clock: &Clock,
    id: &str,
    by: Option<String>,
    ack: bool,
) -> anyhow::Result<()> {
    let store = open(config).await?;
    let id = parse_id(id)?;
    if let Some(by) = &by
        && config.person(by).is_none()
    {
        anyhow::bail!("--as {by:?}: no such person in team.toml");
    }
    let by = by.context("who is acting? pass --as PERSON (a person id) or set DUTYBELL_USER")?;
    let now = clock.now();
    let (verb, result) = if ack {
        (
            "acknowledged",
            alerts::acknowledge(&store, id, &by, "cli", now).await,
        )
    } else {
        (
            "resolved",
            alerts::resolve(&store, id, &by, "cli", now).await,
        )
    };
    match result.with_context(|| format!("alert A-{id}"))? {
        alerts::Transition::Changed => println!("A-{id} {verb} by {by}"),
        alerts::Transition::Unchanged => println!("A-{id} was already {verb}"),
    }
    Ok(())
}

fn age(now: Timestamp, since: Timestamp) -> String {
    let secs = now.duration_since(since).as_secs().max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}
