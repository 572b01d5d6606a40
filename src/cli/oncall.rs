//! `dutybell oncall` and `dutybell integrations`.

use anyhow::Context as _;
use jiff::Timestamp;
use secrecy::ExposeSecret as _;

use crate::clock::Clock;
use crate::config::Config;

pub fn run(config: &Config, clock: &Clock, at: Option<&str>) -> anyhow::Result<()> {
    let at: Timestamp = match at {
        Some(text) => text
            .parse()
            .with_context(|| format!("--at {text:?} is not RFC 3339"))?,
        None => clock.now(),
    };
    println!("On call at {at}:");
    // TODO(#3): schedules (rules, overrides) once they exist in config; rotations for now.
    for (id, rotation) in &config.rotations {
        let slot = rotation.slot_at(at);
        let who = slot
            .person
            .as_deref()
            .map(|p| {
                config
                    .person(p)
                    .map_or(p.to_string(), |person| format!("{} ({p})", person.name))
            })
            .unwrap_or_else(|| "nobody".into());
        let local_end = slot.end.to_zoned(rotation.time_zone.clone());
        println!(
            "  {id:<16} {who:<28} until {} ({})",
            slot.end,
            local_end.strftime("%a %Y-%m-%d %H:%M %Z")
        );
    }
    Ok(())
}

pub fn integrations(config: &Config) {
    let base = config.settings.public_url();
    for integration in &config.integrations {
        println!(
            "{:<28} {base}/api/v1/integrations/{}/{}",
            integration.id,
            integration.key.expose_secret(),
            integration.kind.as_str()
        );
    }
}
