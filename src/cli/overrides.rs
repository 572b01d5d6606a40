//! `dutybell override add | list | delete`, on the local database.
//!
//! Checks requests with `domain::override_request`, like the HTTP API, and names the flag a
//! problem is about.

use anyhow::Context as _;
use clap::{ArgGroup, Args};

use super::{OverrideCommand, open_store, who};
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::oncall::{OverrideKind, Schedule};
use crate::domain::override_request::OverrideRequest;
use crate::store::overrides::{self, StoredOverride};

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("kind").required(true).args(["replace", "add", "remove"])))]
pub struct AddArgs {
    /// A schedule id from oncall.toml.
    #[arg(long)]
    schedule: String,
    /// Whose shifts to cover (with --with); acts only while they are on call.
    #[arg(long, value_name = "PERSON", requires = "with")]
    replace: Option<String>,
    /// Who covers for --replace.
    #[arg(long, value_name = "PERSON", requires = "replace")]
    with: Option<String>,
    /// Put this person on call.
    #[arg(long, value_name = "PERSON")]
    add: Option<String>,
    /// Take this person off call.
    #[arg(long, value_name = "PERSON")]
    remove: Option<String>,
    /// Start: RFC 3339, or local `YYYY-MM-DDTHH:MM` in the schedule's zone.
    #[arg(long)]
    from: String,
    /// End: RFC 3339, or local `YYYY-MM-DDTHH:MM` in the schedule's zone.
    #[arg(long)]
    until: String,
    /// Who asks (a person id from team.toml).
    #[arg(long = "as", env = "DUTYBELL_USER")]
    by: Option<String>,
}

pub async fn run(config: &Config, clock: &Clock, command: OverrideCommand) -> anyhow::Result<()> {
    match command {
        OverrideCommand::Add(args) => add(config, clock, args).await,
        OverrideCommand::List { schedule } => list(config, &schedule).await,
        OverrideCommand::Delete { id } => delete(config, &id).await,
    }
}

fn schedule<'a>(config: &'a Config, id: &str) -> anyhow::Result<&'a Schedule> {
    config
        .schedules
        .get(id)
        .with_context(|| format!("--schedule {id:?}: no such schedule in oncall.toml"))
}

async fn add(config: &Config, clock: &Clock, args: AddArgs) -> anyhow::Result<()> {
    let schedule = schedule(config, &args.schedule)?;
    if let Some(by) = &args.by
        && config.person(by).is_none()
    {
        anyhow::bail!("--as {by:?}: no such person in team.toml");
    }
    let (add, remove) = match args.replace {
        Some(replaced) => (args.with, Some(replaced)),
        None => (args.add, args.remove),
    };
    let request = OverrideRequest {
        kind: None,
        add,
        remove,
        start: Some(args.from),
        end: Some(args.until),
    };
    let now = clock.now();
    let rule = request
        .check(&schedule.time_zone, now, |p| config.person(p).is_some())
        .map_err(|err| anyhow::anyhow!("{}: {}", flag(&err.field), err.message))?;

    let store = open_store(config).await?;
    let by = args.by.unwrap_or_else(|| "cli".into());
    let stored = overrides::add(&store, &schedule.id, &rule, Some(&by), now)
        .await
        .context("storing the override")?;
    println!("added override {} to schedule {}:", stored.id, schedule.id);
    print_one(config, schedule, &stored);
    Ok(())
}

/// The flag a request field came from.
fn flag(field: &str) -> &'static str {
    match field {
        "add" => "--add/--with",
        "remove" => "--remove/--replace",
        "start" => "--from",
        "end" => "--until",
        _ => "override",
    }
}

async fn list(config: &Config, id: &str) -> anyhow::Result<()> {
    let schedule = schedule(config, id)?;
    let store = open_store(config).await?;
    let stored = overrides::list(&store, id).await?;
    if stored.is_empty() {
        println!("Schedule {id} has no overrides.");
        return Ok(());
    }
    println!(
        "Overrides of {id}, in the order they apply (times in {}):",
        zone(schedule)
    );
    for one in &stored {
        print_one(config, schedule, one);
    }
    Ok(())
}

async fn delete(config: &Config, id: &str) -> anyhow::Result<()> {
    let number: i64 = id
        .trim()
        .parse()
        .with_context(|| format!("{id:?} is not an override id like 12"))?;
    let store = open_store(config).await?;
    let deleted = overrides::delete(&store, None, number)
        .await
        .with_context(|| format!("override {number}"))?;
    println!(
        "deleted override {number} from schedule {}",
        deleted.schedule_id
    );
    Ok(())
}

fn zone(schedule: &Schedule) -> &str {
    schedule.time_zone.iana_name().unwrap_or("UTC")
}

fn print_one(config: &Config, schedule: &Schedule, stored: &StoredOverride) {
    let what = match &stored.rule.kind {
        OverrideKind::Add(p) => format!("add {}", who(config, p)),
        OverrideKind::Remove(p) => format!("remove {}", who(config, p)),
        OverrideKind::Replace { remove, add } => {
            format!("replace {} with {}", who(config, remove), who(config, add))
        }
    };
    let local = |at: jiff::Timestamp| {
        at.to_zoned(schedule.time_zone.clone())
            .strftime("%a %Y-%m-%d %H:%M %Z")
            .to_string()
    };
    println!(
        "  {:<5} {} → {}  {what}",
        stored.id,
        local(stored.rule.start),
        local(stored.rule.end)
    );
}
