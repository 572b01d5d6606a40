//! `dutybell page <person>... --summary "…"`: a direct page (on-call spec §1.4), written to
//! the local database. The server's engine pages at its next pass (within seconds).

use anyhow::Context as _;

use crate::clock::Clock;
use crate::config::Config;
use crate::domain::direct::DirectPage;
use crate::store::{Store, direct};

pub async fn run(
    config: &Config,
    clock: &Clock,
    people: &[String],
    summary: &str,
    by: Option<String>,
) -> anyhow::Result<()> {
    let page = DirectPage::new(people, summary, |id| config.person(id).is_some())?;
    if let Some(by) = &by
        && config.person(by).is_none()
    {
        anyhow::bail!("--as {by:?}: no such person in team.toml");
    }
    let by = by.unwrap_or_else(|| "cli".to_string());

    let store = Store::connect(&config.settings.database_url).await?;
    store.migrate().await.context("migrating the database")?;
    let id = direct::open(&store, &page, &by, "cli", clock.now())
        .await
        .context("opening the direct page")?;
    store.close().await;
    let names: Vec<String> = page.people.iter().map(|p| super::who(config, p)).collect();
    println!("A-{id} paging {} (direct page by {by})", names.join(", "));
    Ok(())
}
