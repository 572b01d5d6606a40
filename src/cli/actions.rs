//! `dutybell actions …`: action items from incidents and postmortems (comms spec §6.4) on
//! the local database: list the open ones grouped by owner, add one, mark one done or
//! won't do. The server's engine sends their reminders.

use clap::Subcommand;
use jiff::civil::Date;

use super::postmortem::person;
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::incident::Source;
use crate::domain::postmortem::{ItemStatus, ItemType};
use crate::engine::postmortems::{self, ItemEdit, NewItem};
use crate::store::incidents::IncidentRef;

#[derive(Debug, Subcommand)]
pub enum ActionsCommand {
    /// Open action items grouped by owner.
    List {
        /// Only those past their due date (in the owner's zone).
        #[arg(long)]
        overdue: bool,
        /// Only this person's.
        #[arg(long)]
        owner: Option<String>,
    },
    /// Add an action item to an incident.
    Add {
        incident: String,
        title: String,
        #[arg(long)]
        owner: Option<String>,
        /// YYYY-MM-DD in the owner's zone.
        #[arg(long)]
        due: Option<String>,
        /// mitigate, prevent or process.
        #[arg(long = "type", default_value = "prevent")]
        kind: String,
        #[arg(long)]
        ticket: Option<String>,
        #[arg(long = "as", env = "DUTYBELL_USER")]
        by: Option<String>,
    },
    /// Mark an item done.
    Done {
        id: String,
        #[arg(long = "as", env = "DUTYBELL_USER")]
        by: Option<String>,
    },
    /// Mark an item as won't do, with a reason.
    WontDo {
        id: String,
        #[arg(long)]
        reason: String,
        #[arg(long = "as", env = "DUTYBELL_USER")]
        by: Option<String>,
    },
}

pub async fn run(config: &Config, clock: &Clock, command: ActionsCommand) -> anyhow::Result<()> {
    let store = super::open_store(config).await?;
    let now = clock.now();
    match command {
        ActionsCommand::List { overdue, owner } => {
            let items = postmortems::open_items(&store, config, now).await?;
            let mut shown = 0;
            let mut current: Option<Option<String>> = None;
            for (item, late) in items {
                if (overdue && !late)
                    || owner
                        .as_ref()
                        .is_some_and(|o| item.owner.as_ref() != Some(o))
                {
                    continue;
                }
                if current.as_ref() != Some(&item.owner) {
                    let heading = item
                        .owner
                        .as_deref()
                        .map_or("(no owner)".to_string(), |o| super::who(config, o));
                    println!("{}{heading}", if shown == 0 { "" } else { "\n" });
                    current = Some(item.owner.clone());
                }
                let due = item
                    .due
                    .map_or("no due date".to_string(), |d| format!("due {d}"));
                let late = if late { "  OVERDUE" } else { "" };
                println!(
                    "  {}  #{} {} ({}, {due}){late}",
                    item.id,
                    item.incident_number,
                    item.title,
                    item.kind.as_str()
                );
                shown += 1;
            }
            if shown == 0 {
                println!("No open action items.");
            }
        }
        ActionsCommand::Add {
            incident,
            title,
            owner,
            due,
            kind,
            ticket,
            by,
        } => {
            let by = person(config, by)?;
            let due = due
                .map(|d| d.parse::<Date>())
                .transpose()
                .map_err(|_| anyhow::anyhow!("--due: use a date like 2025-06-30"))?;
            let new = NewItem {
                title,
                owner,
                due,
                kind: kind.parse::<ItemType>().map_err(anyhow::Error::msg)?,
                ticket_url: ticket,
            };
            let target: IncidentRef = incident.parse().map_err(anyhow::Error::msg)?;
            let item =
                postmortems::add_item(&store, config, &target, new, &by, Source::Cli, now).await?;
            println!("{} added to #{}", item.id, item.incident_number);
        }
        ActionsCommand::Done { id, by } => {
            person(config, by)?;
            let edit = ItemEdit {
                status: Some(ItemStatus::Done),
                ..ItemEdit::default()
            };
            let item = postmortems::edit_item(&store, config, &id, edit, Source::Cli, now).await?;
            println!("{} done: {}", item.id, item.title);
        }
        ActionsCommand::WontDo { id, reason, by } => {
            person(config, by)?;
            let edit = ItemEdit {
                status: Some(ItemStatus::WontDo),
                reason: Some(reason),
                ..ItemEdit::default()
            };
            let item = postmortems::edit_item(&store, config, &id, edit, Source::Cli, now).await?;
            println!("{} won't be done: {}", item.id, item.title);
        }
    }
    store.close().await;
    Ok(())
}
