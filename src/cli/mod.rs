//! The `dutybell` command line. Global flags locate the config directory and the data;
//! every flag is also a `DUTYBELL_*` environment variable. Commands other than `serve` act
//! on the local database directly, so they work while the server runs.

mod actions;
mod alerts;
mod backup;
mod check;
mod contact;
mod healthcheck;
mod ical;
pub mod incident;
mod oncall;
mod overrides;
mod page;
mod plan;
mod postmortem;
pub mod report;
mod runbook;
mod schedule;
mod serve;
mod user;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

use crate::clock::Clock;
use crate::config::{Config, Overrides, Source};
use crate::store::Store;

#[derive(Debug, Parser)]
#[command(
    name = "dutybell",
    version,
    about = "Incident response for small teams"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    /// Log filter, e.g. `info` or `dutybell=debug` (default: `info` for `serve`, `warn` for
    /// the other commands, whose output is their answer).
    #[arg(long, env = "DUTYBELL_LOG", global = true)]
    pub log: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The log filter to install: the one asked for, else `info` for the server and `warn`
    /// for commands, so their stderr carries only what went wrong.
    pub fn log_filter(&self) -> &str {
        match (&self.log, &self.command) {
            (Some(filter), _) => filter,
            (None, Command::Serve) => "info",
            (None, _) => "warn",
        }
    }
}

#[derive(Debug, Args)]
pub struct Global {
    /// The team's config directory (team.toml, oncall.toml, services.toml).
    #[arg(
        long,
        env = "DUTYBELL_CONFIG",
        default_value = "examples/team",
        global = true
    )]
    pub config: PathBuf,
    /// Where the SQLite database and generated secrets live.
    #[arg(long, env = "DUTYBELL_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Database URL; defaults to `sqlite://<data dir>/dutybell.db`.
    #[arg(long, env = "DUTYBELL_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Address to serve on (default 127.0.0.1:8080).
    #[arg(long, env = "DUTYBELL_LISTEN", global = true)]
    pub listen: Option<SocketAddr>,
    /// Base URL for links in notifications (default `http://<listen>`).
    #[arg(long, env = "DUTYBELL_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Test hook: read "now" from this file (RFC 3339) instead of the system clock.
    #[arg(long, env = "DUTYBELL_CLOCK_FILE", hide = true, global = true)]
    pub clock_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve HTTP and run the escalation engine.
    Serve,
    /// Who is on call now (or at --at) for each schedule and rotation, and until when.
    Oncall {
        /// An instant (RFC 3339, e.g. 2025-06-02T10:00:00Z) instead of now.
        #[arg(long)]
        at: Option<String>,
    },
    /// List open alerts (`alerts show <id>` for one with its timeline).
    Alerts {
        #[command(subcommand)]
        command: Option<AlertsCommand>,
        /// Include resolved alerts.
        #[arg(long)]
        all: bool,
    },
    /// Acknowledge an alert: escalation and further pages stop.
    Ack {
        /// Alert id, e.g. 12 or A-12.
        alert: String,
        /// Who acknowledges (a person id from team.toml).
        #[arg(long = "as", env = "DUTYBELL_USER")]
        by: Option<String>,
    },
    /// Resolve an alert.
    Resolve {
        alert: String,
        #[arg(long = "as", env = "DUTYBELL_USER")]
        by: Option<String>,
    },
    /// Page people or a team directly: `page ana ben --summary "db is down"`, a service's
    /// on-call with `page --service api …`, a schedule's with `page --schedule business …`.
    Page(page::PageArgs),
    /// Incidents: declare, list, show, and change status, severity, commander, updates.
    Incident {
        #[command(subcommand)]
        command: incident::IncidentCommand,
    },
    /// Postmortems: show, draft, export to Markdown, import, publish, skip.
    Postmortem {
        #[command(subcommand)]
        command: postmortem::PostmortemCommand,
    },
    /// Action items: `actions list [--overdue] [--owner P]`, add, done, wont-do.
    Actions {
        #[command(subcommand)]
        command: actions::ActionsCommand,
    },
    /// Print each integration's intake URL (contains its secret key).
    Integrations,
    /// Reports over history (spec §7): `report hygiene|load|response [--days 30]
    /// [--format text|json]`.
    Report(report::ReportArgs),
    /// Contact methods: send and confirm verification codes, list their state.
    Contact {
        #[command(subcommand)]
        command: ContactCommand,
    },
    /// Web UI accounts and API tokens: `user add admin --role admin` makes the first admin.
    User {
        #[command(subcommand)]
        command: user::UserCommand,
    },
    /// Schedule overrides: cover someone's shifts, add or remove a person for a while.
    Override {
        #[command(subcommand)]
        command: OverrideCommand,
    },
    /// Schedules: `schedule preview <id>` shows the coming shifts, warnings and gaps.
    Schedule {
        #[command(subcommand)]
        command: ScheduleCommand,
    },
    /// Print the secret calendar feed URL of a schedule or a person.
    #[command(group(clap::ArgGroup::new("feed").required(true).args(["schedule", "person"])))]
    IcalUrl {
        /// A schedule id from oncall.toml.
        #[arg(long)]
        schedule: Option<String>,
        /// A person id from team.toml: their shifts on every schedule.
        #[arg(long)]
        person: Option<String>,
    },
    /// Runbooks: `runbook new <alert>` writes one from the template, `runbook lint` checks
    /// them all (exit 1 on errors).
    Runbook {
        #[command(subcommand)]
        command: runbook::RunbookCommand,
    },
    /// Validate a config directory offline (`file:line: message`); exit 1 on errors.
    Check(check::CheckArgs),
    /// Show what reloading the running server with a config directory would change.
    Plan(plan::PlanArgs),
    /// Exit 0 when a running server's /health answers 200 (for container health checks).
    Healthcheck(healthcheck::HealthcheckArgs),
    /// Copy the live database to FILE while the server runs (checked, with counts).
    Backup(backup::BackupArgs),
    /// Replace the database with a backup FILE; refused while a server has it open.
    Restore(backup::RestoreArgs),
}

#[derive(Debug, Subcommand)]
pub enum OverrideCommand {
    /// Add an override: `--replace alice --with bob`, `--add bob` or `--remove alice`.
    Add(overrides::AddArgs),
    /// List a schedule's overrides in the order they apply.
    List {
        #[arg(long)]
        schedule: String,
    },
    /// Delete an override by id.
    Delete { id: String },
}

#[derive(Debug, Subcommand)]
pub enum ContactCommand {
    /// Send a 6-digit code (valid 15 minutes) through a `verify = true` contact.
    Verify {
        /// A person id from team.toml.
        person: String,
        /// The contact's kind: sms, voice or email.
        kind: String,
    },
    /// Confirm the code the contact received; 5 wrong codes lock it until a new `verify`.
    Confirm {
        person: String,
        kind: String,
        code: String,
    },
    /// Each contact method with its verification state.
    List {
        /// Only this person's contacts.
        person: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// A text calendar of the coming shifts, then warnings and gaps in the next 7 days.
    Preview {
        /// A schedule id from oncall.toml.
        schedule: String,
        /// How many weeks to show.
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=53))]
        weeks: u16,
        /// Start (RFC 3339, or local `YYYY-MM-DDTHH:MM` in the schedule's zone); default now.
        #[arg(long)]
        from: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// One alert with its timeline.
    Show { alert: String },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let clock = cli
        .global
        .clock_file
        .clone()
        .map_or(Clock::System, Clock::File);
    // These never load the server's config or touch the data dir: check and plan read the
    // directory they are given, offline; healthcheck only asks a URL.
    match &cli.command {
        Command::Check(args) => return check::run(&cli.global, &clock, args),
        Command::Plan(args) => return plan::run(&cli.global, args).await,
        Command::Healthcheck(args) => return healthcheck::run(args).await,
        _ => {}
    }
    let config = load_config(&cli.global)?;
    match cli.command {
        Command::Serve => serve::run(config, source(&cli.global), clock).await,
        Command::Check(_) | Command::Plan(_) | Command::Healthcheck(_) => {
            unreachable!("handled before loading config")
        }
        Command::Oncall { at } => {
            let config = anchored(config, &clock).await?;
            oncall::run(&config, &clock, at.as_deref()).await
        }
        Command::Integrations => {
            oncall::integrations(&config);
            Ok(())
        }
        Command::Alerts { command: None, all } => alerts::list(&config, &clock, all).await,
        Command::Alerts {
            command: Some(AlertsCommand::Show { alert }),
            ..
        } => alerts::show(&config, &alert).await,
        Command::Contact { command } => contact::run(&config, &clock, command).await,
        Command::Runbook { command } => runbook::run(&config, &clock, command).await,
        Command::Override { command } => overrides::run(&config, &clock, command).await,
        Command::User { command } => user::run(&config, &clock, command).await,
        Command::Schedule {
            command:
                ScheduleCommand::Preview {
                    schedule: id,
                    weeks,
                    from,
                },
        } => {
            let config = anchored(config, &clock).await?;
            schedule::preview(&config, &clock, &id, weeks, from.as_deref()).await
        }
        Command::IcalUrl { schedule, person } => {
            ical::url(&config, schedule.as_deref(), person.as_deref())
        }
        Command::Page(args) => page::run(&config, &clock, args).await,
        Command::Report(args) => report::run(&config, &clock, args).await,
        Command::Incident { command } => incident::run(&config, &clock, command).await,
        Command::Postmortem { command } => postmortem::run(&config, &clock, command).await,
        Command::Actions { command } => actions::run(&config, &clock, command).await,
        Command::Ack { alert, by } => alerts::act(&config, &clock, &alert, by, true).await,
        Command::Resolve { alert, by } => alerts::act(&config, &clock, &alert, by, false).await,
        Command::Backup(args) => backup::backup(&config, &args).await,
        Command::Restore(args) => backup::restore(&config, &args).await,
    }
}

/// The local database, migrated.
async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let store = Store::connect(&config.settings.database_url).await?;
    store.migrate().await.context("migrating the database")?;
    Ok(store)
}

/// `config` with each rotation's stored anchor, the way the server sees it (D13).
async fn anchored(mut config: Config, clock: &Clock) -> anyhow::Result<Config> {
    let store = open_store(&config).await?;
    crate::engine::anchors::sync(&store, &mut config, clock.now())
        .await
        .context("syncing rotation anchors")?;
    store.close().await;
    Ok(config)
}

/// `name (id)` for a person in the config, else the id alone.
fn who(config: &Config, id: &str) -> String {
    config
        .person(id)
        .map_or(id.to_string(), |person| format!("{} ({id})", person.name))
}

fn load_config(global: &Global) -> anyhow::Result<Config> {
    let source = source(global);
    Config::load(&source.dir, &source.overrides, &source.env)
        .with_context(|| format!("loading config from {}", global.config.display()))
}

/// Where the config comes from: the directory, the flags and the environment, which
/// `serve` keeps for reloads (issue #7).
fn source(global: &Global) -> Source {
    Source {
        dir: global.config.clone(),
        overrides: Overrides {
            listen: global.listen,
            public_url: global.public_url.clone(),
            data_dir: global.data_dir.clone(),
            database_url: global.database_url.clone(),
        },
        env: std::env::vars().collect(),
    }
}
