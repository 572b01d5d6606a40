//! People in team.toml ↔ web UI accounts (issue #7): a person's `login = "…"` maps the
//! account of that name to them.
//!
//! Runs when the server starts, and is the function a config reload calls after swapping
//! the config in. It only ever fills an empty `person_id`: a mapping made by hand (CLI or
//! admin page) wins, roles never change, and no account is created, since an account needs
//! a password someone has to be told. People whose login has no account yet are listed on
//! the admin page instead ([`missing_accounts`]).

use anyhow::Context as _;

use crate::config::Config;
use crate::store::Store;
use crate::store::accounts::{self as store, Account};

/// What one sync did: the logins it mapped (to whom), and the people whose login names
/// no account.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// `(login, person id)` for each account mapped now.
    pub mapped: Vec<(String, String)>,
    /// `(person id, login)` for each person whose login has no account yet.
    pub missing: Vec<(String, String)>,
}

/// Maps each unmapped account named by a person's `login` to that person.
#[tracing::instrument(skip_all)]
pub async fn sync_people_accounts(db: &Store, config: &Config) -> anyhow::Result<SyncReport> {
    let accounts = store::list_accounts(db).await.context("listing accounts")?;
    let mut report = SyncReport {
        missing: missing_accounts(config, &accounts),
        ..SyncReport::default()
    };
    for person in config.people.values() {
        let Some(login) = &person.login else {
            continue;
        };
        let mapped = store::map_if_unmapped(db, login, &person.id)
            .await
            .with_context(|| format!("mapping account {login:?} to {}", person.id))?;
        if mapped {
            tracing::info!(user.login = %login, person.id = %person.id,
                "account mapped to its person from team.toml");
            report.mapped.push((login.clone(), person.id.clone()));
        }
    }
    for (person, login) in &report.missing {
        tracing::debug!(person.id = %person, user.login = %login, "person's login has no account");
    }
    Ok(report)
}

/// `(person id, login)` for each person in `config` whose `login` no account has.
pub fn missing_accounts(config: &Config, accounts: &[Account]) -> Vec<(String, String)> {
    config
        .people
        .values()
        .filter_map(|person| Some((person, person.login.as_ref()?)))
        .filter(|(_, login)| !accounts.iter().any(|a| &a.user.login == *login))
        .map(|(person, login)| (person.id.clone(), login.clone()))
        .collect()
}
