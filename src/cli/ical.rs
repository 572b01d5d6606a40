//! `dutybell ical-url`: the secret feed URL of a schedule or a person.

use secrecy::ExposeSecret as _;

use crate::config::Config;
use crate::domain::feed_link;

pub fn url(config: &Config, schedule: Option<&str>, person: Option<&str>) -> anyhow::Result<()> {
    let path = match (schedule, person) {
        (Some(id), _) if config.schedules.contains_key(id) => feed_link::schedule_path(id),
        (Some(id), _) => anyhow::bail!("--schedule {id:?}: no such schedule in oncall.toml"),
        (None, Some(id)) if config.person(id).is_some() => feed_link::person_path(id),
        (None, Some(id)) => anyhow::bail!("--person {id:?}: no such person in team.toml"),
        (None, None) => anyhow::bail!("give --schedule or --person"),
    };
    let secret = config.settings.signing_secret.expose_secret();
    let token = feed_link::sign(&path, secret.as_bytes());
    println!("{}{path}?token={token}", config.settings.public_url());
    Ok(())
}
