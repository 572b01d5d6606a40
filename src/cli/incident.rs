//! `dutybell incident …`: declare, list, show and change incidents on the local database
//! (comms spec §1). The running server's engine pages and announces at its next pass.
//! Every write needs `--as <person>` (or `DUTYBELL_USER`): incidents name who did what.

use anyhow::Context as _;
use clap::Subcommand;

use crate::clock::Clock;
use crate::config::Config;
use crate::domain::incident::{Change, DeclareRequest, Severity, Source, Status};
use crate::engine;
use crate::engine::publishing::PublicPost;
use crate::store::incidents::{self, IncidentRef};

#[derive(Debug, Subcommand)]
pub enum IncidentCommand {
    /// Declare an incident: `incident declare "Checkout down" --severity p1 --service api`.
    Declare {
        /// What is broken, in a few words (optional with --from-alert).
        title: Option<String>,
        /// P1, P2 or P3 (with --from-alert, defaults from the alert's severity).
        #[arg(long, short)]
        severity: Option<String>,
        /// Affected service ids (repeat the flag for several).
        #[arg(long = "service")]
        services: Vec<String>,
        /// The commander; defaults to you.
        #[arg(long)]
        commander: Option<String>,
        /// What happened.
        #[arg(long)]
        summary: Option<String>,
        /// What users see.
        #[arg(long)]
        impact: Option<String>,
        /// Promote this alert (12 or A-12): it attaches and, as you promote it, is acked.
        #[arg(long)]
        from_alert: Option<String>,
        /// Don't page the services' on-call (P1/P2 page by default).
        #[arg(long)]
        no_page: bool,
        /// A drill: never pages, never counts in metrics.
        #[arg(long)]
        test: bool,
        #[arg(long = "as", env = "DUTYBELL_USER")]
        by: Option<String>,
    },
    /// Open incidents (`--all` for every one).
    List {
        #[arg(long)]
        all: bool,
    },
    /// One incident with its timeline.
    Show { incident: String },
    /// Move the status: investigating, identified, monitoring or resolved.
    Status {
        incident: String,
        status: String,
        /// What changed, for the timeline and the Slack thread.
        text: Option<String>,
        #[arg(long = "as", env = "DUTYBELL_USER")]
        by: Option<String>,
    },
    /// Change the severity (P1, P2, P3).
    Sev {
        incident: String,
        severity: String,
        #[arg(long = "as", env = "DUTYBELL_USER")]
        by: Option<String>,
    },
    /// Hand command to someone (default: take it yourself).
    Commander {
        incident: String,
        person: Option<String>,
        #[arg(long = "as", env = "DUTYBELL_USER")]
        by: Option<String>,
    },
    /// Post an internal status update.
    Update {
        incident: String,
        text: String,
        #[arg(long = "as", env = "DUTYBELL_USER")]
        by: Option<String>,
    },
    /// Publish to the status page (first time) or post a public update; customers see
    /// TEXT (Markdown). The running server shows it at its next engine pass.
    Publish {
        incident: String,
        text: String,
        /// investigating, identified, monitoring or resolved (default: unchanged, or the
        /// internal status on the first publish).
        #[arg(long)]
        status: Option<String>,
        /// The customer-facing name on the first publish (default: the incident's title).
        #[arg(long)]
        name: Option<String>,
        /// Don't mail subscribers.
        #[arg(long)]
        quiet: bool,
        #[arg(long = "as", env = "DUTYBELL_USER")]
        by: Option<String>,
    },
    /// Add a note to the timeline (`--key` copies it into the postmortem).
    Note {
        incident: String,
        text: String,
        #[arg(long)]
        key: bool,
        #[arg(long = "as", env = "DUTYBELL_USER")]
        by: Option<String>,
    },
}

fn reference(text: &str) -> anyhow::Result<IncidentRef> {
    text.parse().map_err(anyhow::Error::msg)
}

fn person(config: &Config, by: Option<String>) -> anyhow::Result<String> {
    let by = by.context("say who you are: --as <person id> (or set DUTYBELL_USER)")?;
    anyhow::ensure!(
        config.person(&by).is_some(),
        "--as {by:?}: no such person in team.toml"
    );
    Ok(by)
}

pub async fn run(config: &Config, clock: &Clock, command: IncidentCommand) -> anyhow::Result<()> {
    let store = super::open_store(config).await?;
    let now = clock.now();
    let (target, change, by) = match command {
        IncidentCommand::Declare {
            title,
            severity,
            services,
            commander,
            summary,
            impact,
            from_alert,
            no_page,
            test,
            by,
        } => {
            let by = person(config, by)?;
            let from_alert = from_alert
                .map(|text| {
                    crate::domain::alert::parse_alert_id(&text)
                        .with_context(|| format!("{text:?} is not an alert id like 12 or A-12"))
                })
                .transpose()?;
            let request = DeclareRequest {
                title: title.unwrap_or_default(),
                severity,
                summary,
                impact,
                commander,
                services,
                page: no_page.then_some(false),
                test,
                ..DeclareRequest::default()
            };
            let incident = engine::incidents::declare(
                &store,
                config,
                request,
                &by,
                Source::Cli,
                from_alert,
                now,
            )
            .await?;
            println!(
                "Declared incident #{} ({}) {} — commander {}",
                incident.number,
                incident.severity,
                incident.title,
                super::who(config, &incident.commander)
            );
            store.close().await;
            return Ok(());
        }
        IncidentCommand::List { all } => {
            print_list(&incidents::list(&store, !all).await?);
            store.close().await;
            return Ok(());
        }
        IncidentCommand::Show { incident } => {
            let incident = incidents::get(&store, &reference(&incident)?).await?;
            let timeline = incidents::timeline(&store, &incident.id).await?;
            print_incident(config, &incident);
            println!("\nTimeline (UTC):");
            for event in timeline {
                println!(
                    "  {}  {:<20} {:<10} {}",
                    event.occurred_at.strftime("%Y-%m-%d %H:%M:%S"),
                    event.kind,
                    event.actor,
                    describe(&event)
                );
            }
            store.close().await;
            return Ok(());
        }
        IncidentCommand::Publish {
            incident,
            text,
            status,
            name,
            quiet,
            by,
        } => {
            let by = person(config, by)?;
            let status = status
                .map(|s| serde_json::from_value(serde_json::Value::String(s.clone())))
                .transpose()
                .map_err(|_| {
                    anyhow::anyhow!(
                        "--status: use investigating, identified, monitoring or resolved"
                    )
                })?;
            let post = PublicPost {
                name,
                body: text,
                status,
                notify: Some(!quiet),
                ..PublicPost::default()
            };
            let target = reference(&incident)?;
            let posted =
                engine::publishing::post(&store, config, &target, post, &by, Source::Cli, now)
                    .await?;
            println!(
                "Status page: public incident {} is {}",
                posted.public_id,
                posted.status.as_str()
            );
            store.close().await;
            return Ok(());
        }
        IncidentCommand::Status {
            incident,
            status,
            text,
            by,
        } => {
            let to: Status = status.parse().map_err(anyhow::Error::msg)?;
            (incident, Change::Status { to, text }, by)
        }
        IncidentCommand::Sev {
            incident,
            severity,
            by,
        } => {
            let severity: Severity = severity.parse().map_err(anyhow::Error::msg)?;
            (incident, Change::Severity(severity), by)
        }
        IncidentCommand::Commander {
            incident,
            person: new,
            by,
        } => {
            let me = person(config, by.clone())?;
            (incident, Change::Commander(new.unwrap_or(me)), by)
        }
        IncidentCommand::Update { incident, text, by } => (incident, Change::Update { text }, by),
        IncidentCommand::Note {
            incident,
            text,
            key,
            by,
        } => (
            incident,
            Change::Note {
                text,
                key,
                at: None,
            },
            by,
        ),
    };
    let by = person(config, by)?;
    let changed = engine::incidents::change(
        &store,
        config,
        &reference(&target)?,
        change,
        &by,
        Source::Cli,
        now,
    )
    .await?;
    let inc = &changed.incident;
    match &changed.event {
        Some(event) => println!(
            "#{} {}: {} ({})",
            inc.number, event.kind, inc.title, inc.status
        ),
        None => println!("#{} unchanged: already {}", inc.number, inc.status),
    }
    store.close().await;
    Ok(())
}

fn print_list(list: &[incidents::Incident]) {
    if list.is_empty() {
        println!("No incidents.");
        return;
    }
    println!(
        "{:<6} {:<4} {:<14} {:<12} TITLE",
        "#", "SEV", "STATUS", "COMMANDER"
    );
    for incident in list {
        let drill = if incident.test { " (drill)" } else { "" };
        println!(
            "{:<6} {:<4} {:<14} {:<12} {}{drill}",
            format!("#{}", incident.number),
            incident.severity.as_str(),
            incident.status.as_str(),
            incident.commander,
            incident.title
        );
    }
}

fn print_incident(config: &Config, incident: &incidents::Incident) {
    let drill = if incident.test { " (drill)" } else { "" };
    println!(
        "#{} {} [{}] {}{drill}\ncommander: {}  declared: {}  started: {}",
        incident.number,
        incident.severity,
        incident.status,
        incident.title,
        super::who(config, &incident.commander),
        incident.declared_at,
        incident.started_at
    );
    let or_none = |list: Vec<String>| {
        if list.is_empty() {
            "-".to_string()
        } else {
            list.join(", ")
        }
    };
    let alerts = incident.alerts.iter().map(|a| format!("A-{a}")).collect();
    println!(
        "services: {}  alerts: {}",
        or_none(incident.services.clone()),
        or_none(alerts)
    );
    for (label, text) in [("summary", &incident.summary), ("impact", &incident.impact)] {
        if !text.is_empty() {
            println!("{label}: {text}");
        }
    }
}

/// One line of detail for a timeline event: its text, a change's from → to, a key mark.
fn describe(event: &incidents::Event) -> String {
    let field = |name: &str| match event.data.get(name) {
        Some(serde_json::Value::String(text)) => Some(text.clone()),
        Some(serde_json::Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    };
    let mut parts = Vec::new();
    if let (Some(from), Some(to)) = (field("from"), field("to")) {
        parts.push(format!("{from} → {to}"));
    } else if let Some(to) = field("to") {
        parts.push(format!("→ {to}"));
    }
    if let Some(person) = field("person") {
        parts.push(person);
    }
    if let Some(text) = field("text") {
        parts.push(text);
    }
    if event.key {
        parts.push("[key]".into());
    }
    parts.join("  ")
}
