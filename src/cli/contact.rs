//! `dutybell contact verify|confirm|list`: contact-method verification (issue #4) on the
//! local database. `verify` sends the code itself, through channels built from the config,
//! so it works whether or not the server runs.

use anyhow::Context as _;

use super::ContactCommand;
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::verification::{Outcome, Status};
use crate::engine::verification;
use crate::notify::Notifiers;

pub async fn run(config: &Config, clock: &Clock, command: ContactCommand) -> anyhow::Result<()> {
    let store = super::open_store(config).await?;
    let now = clock.now();
    let result = match command {
        ContactCommand::Verify { person, kind } => {
            let notifiers = Notifiers::new(&config.settings)?;
            verification::send_code(&store, config, &notifiers, &person, &kind, now)
                .await
                .map(|expires_at| {
                    println!(
                        "Sent a code to {}'s {kind} contact; it expires at {expires_at}.",
                        super::who(config, &person)
                    );
                    println!("Confirm it with: dutybell contact confirm {person} {kind} CODE");
                })
                .with_context(|| format!("verifying {person}'s {kind} contact"))
        }
        ContactCommand::Confirm { person, kind, code } => {
            let outcome = verification::confirm(&store, config, &person, &kind, &code, now)
                .await
                .with_context(|| format!("confirming {person}'s {kind} contact"));
            match outcome {
                Ok(Outcome::Verified) => {
                    println!(
                        "{}'s {kind} contact is verified.",
                        super::who(config, &person)
                    );
                    Ok(())
                }
                Ok(refused) => Err(anyhow::anyhow!("{refused}")),
                Err(err) => Err(err),
            }
        }
        ContactCommand::List { person } => {
            verification::states(&store, config, person.as_deref(), now)
                .await
                .map(|states| {
                    println!("{:<12} {:<8} {:<14} ADDRESS", "PERSON", "KIND", "STATE");
                    for state in states {
                        let detail = match state.status {
                            Status::Verified { at } => format!("  (since {at})"),
                            Status::CodeSent { expires_at } => {
                                format!("  (code expires {expires_at})")
                            }
                            Status::NotRequired | Status::Unverified => String::new(),
                        };
                        println!(
                            "{:<12} {:<8} {:<14} {}{detail}",
                            state.person,
                            state.kind.as_str(),
                            state.status.as_str(),
                            state.address
                        );
                    }
                })
                .context("listing contacts")
        }
    };
    store.close().await;
    result
}
