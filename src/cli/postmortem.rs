//! `dutybell postmortem …`: show, draft, export, import, publish and skip postmortems on
//! the local database (comms spec §6). Export writes
//! `postmortems/YYYY-MM-DD-inc-<number>-<slug>.md` in the config directory (or `--dir`);
//! edit it in the repo and `import` it back. Writes need `--as <person>`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;

use crate::clock::Clock;
use crate::config::Config;
use crate::domain::incident::Source;
use crate::engine::postmortems::{self, Full};
use crate::store::incidents::IncidentRef;

#[derive(Debug, Subcommand)]
pub enum PostmortemCommand {
    /// The postmortem of an incident as Markdown, with its status, owner and due time.
    Show { incident: String },
    /// Draft a postmortem now (P3 incidents get one only on request).
    Draft {
        incident: String,
        #[arg(long = "as", env = "DUTYBELL_USER")]
        by: Option<String>,
    },
    /// Write it to `postmortems/YYYY-MM-DD-inc-<n>-<slug>.md`.
    Export {
        incident: String,
        /// The directory to write to (default: `postmortems/` in the config directory).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Overwrite a file edited since the last export.
        #[arg(long)]
        force: bool,
    },
    /// Read an exported (and edited) file back.
    Import {
        file: PathBuf,
        #[arg(long = "as", env = "DUTYBELL_USER")]
        by: Option<String>,
    },
    /// Publish it (refused, listing what is missing, while TBDs remain); closes the
    /// incident.
    Publish {
        incident: String,
        #[arg(long = "as", env = "DUTYBELL_USER")]
        by: Option<String>,
    },
    /// Skip the postmortem of a P3 incident, with a reason; closes the incident.
    Skip {
        incident: String,
        #[arg(long)]
        reason: String,
        #[arg(long = "as", env = "DUTYBELL_USER")]
        by: Option<String>,
    },
}

fn reference(text: &str) -> anyhow::Result<IncidentRef> {
    text.parse().map_err(anyhow::Error::msg)
}

pub(super) fn person(config: &Config, by: Option<String>) -> anyhow::Result<String> {
    let by = by.context("say who you are: --as <person id> (or set DUTYBELL_USER)")?;
    anyhow::ensure!(
        config.person(&by).is_some(),
        "--as {by:?}: no such person in team.toml"
    );
    Ok(by)
}

fn print(full: &Full) {
    let pm = &full.postmortem;
    println!(
        "Postmortem of #{} ({}): {}, owner {}, due {}",
        full.incident.number,
        full.incident.status,
        pm.status,
        pm.owner,
        pm.due_at.strftime("%Y-%m-%d %H:%M UTC")
    );
    println!();
    print!("{}", full.markdown());
}

pub async fn run(config: &Config, clock: &Clock, command: PostmortemCommand) -> anyhow::Result<()> {
    let store = super::open_store(config).await?;
    let now = clock.now();
    match command {
        PostmortemCommand::Show { incident } => {
            let full = postmortems::get(&store, &reference(&incident)?)
                .await
                .with_context(|| format!("no postmortem for incident {incident}"))?;
            print(&full);
        }
        PostmortemCommand::Draft { incident, by } => {
            person(config, by)?;
            let full =
                postmortems::request_draft(&store, config, &reference(&incident)?, now).await?;
            print(&full);
        }
        PostmortemCommand::Export {
            incident,
            dir,
            force,
        } => {
            let dir = dir.unwrap_or_else(|| config.dir.join("postmortems"));
            let path = postmortems::export(&store, &reference(&incident)?, &dir, force).await?;
            println!("{}", path.display());
        }
        PostmortemCommand::Import { file, by } => {
            let by = person(config, by)?;
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let full = postmortems::import(&store, config, &text, &by, Source::Cli, now)
                .await
                .with_context(|| format!("importing {}", file.display()))?;
            println!(
                "#{} postmortem updated from {} ({} action items)",
                full.incident.number,
                file.display(),
                full.items.len()
            );
        }
        PostmortemCommand::Publish { incident, by } => {
            let by = person(config, by)?;
            let full =
                postmortems::publish(&store, &reference(&incident)?, &by, Source::Cli, now).await?;
            println!(
                "#{} postmortem published; the incident is {}",
                full.incident.number, full.incident.status
            );
        }
        PostmortemCommand::Skip {
            incident,
            reason,
            by,
        } => {
            let by = person(config, by)?;
            let target = reference(&incident)?;
            let full =
                postmortems::skip(&store, config, &target, &reason, &by, Source::Cli, now).await?;
            println!(
                "#{} postmortem skipped; the incident is {}",
                full.incident.number, full.incident.status
            );
        }
    }
    store.close().await;
    Ok(())
}
