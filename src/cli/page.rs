//! `dutybell page <person>... | --service S | --schedule S --summary "…"`: a direct page
//! (on-call spec §1.4), written to the local database. The server's engine pages at its
//! next pass (within seconds).

use anyhow::Context as _;
use clap::{ArgGroup, Args};

use crate::clock::Clock;
use crate::config::Config;
use crate::domain::direct::{Directory, Page, PageRequest, Reach};
use crate::store::{Store, direct};

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("reach").required(true).args(["people", "service", "schedule"])))]
pub struct PageArgs {
    /// Person ids from team.toml.
    people: Vec<String>,
    /// Or a service id: whoever its escalation policy reaches, escalating as usual.
    #[arg(long)]
    service: Option<String>,
    /// Or a schedule id: whoever is on call on it when the page fires, nobody else.
    #[arg(long)]
    schedule: Option<String>,
    /// What the page says.
    #[arg(long)]
    summary: String,
    /// Who pages (a person id); recorded on the timeline.
    #[arg(long = "as", env = "DUTYBELL_USER")]
    by: Option<String>,
}

pub async fn run(config: &Config, clock: &Clock, args: PageArgs) -> anyhow::Result<()> {
    let request = PageRequest {
        people: args.people,
        service: args.service,
        schedule: args.schedule,
        summary: args.summary,
    };
    let page = {
        let person_exists = |id: &str| config.person(id).is_some();
        let service_policy = |id: &str| config.service_policy(id);
        let schedule_exists = |id: &str| config.schedules.contains_key(id);
        let dir = Directory {
            person_exists: &person_exists,
            service_policy: &service_policy,
            schedule_exists: &schedule_exists,
        };
        Page::new(&request, &dir)?
    };
    if let Some(by) = &args.by
        && config.person(by).is_none()
    {
        anyhow::bail!("--as {by:?}: no such person in team.toml");
    }
    let by = args.by.unwrap_or_else(|| "cli".to_string());

    let store = Store::connect(&config.settings.database_url).await?;
    store.migrate().await.context("migrating the database")?;
    let id = direct::open(&store, &page, &by, "cli", clock.now())
        .await
        .context("opening the direct page")?;
    store.close().await;
    let whom = match &page.reach {
        Reach::People(people) => {
            let names: Vec<String> = people.iter().map(|p| super::who(config, p)).collect();
            names.join(", ")
        }
        Reach::Service { service, policy } => {
            format!("the on-call of service {service} (policy {policy})")
        }
        Reach::Schedule(schedule) => format!("whoever is on call for schedule {schedule}"),
    };
    println!("A-{id} paging {whom} (direct page by {by})");
    Ok(())
}
