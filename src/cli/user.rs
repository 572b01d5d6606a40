//! `dutybell user add|list|token`: web UI accounts and API tokens (issue #7) on the local
//! database, so the first admin can be made before the server ever runs.
//!
//! Secrets are printed once and never stored: passwords as argon2id hashes, tokens as
//! SHA-256 digests (`domain::accounts`).

use std::io::Read as _;
use std::path::PathBuf;

use anyhow::Context as _;
use base64::Engine as _;
use clap::Subcommand;
use rand::RngCore as _;

use crate::clock::Clock;
use crate::config::Config;
use crate::domain::accounts::{self, Role};
use crate::store::{StoreError, accounts as store};

// TODO(#7): `user disable|enable|passwd|role`, and accounts created from the people in
// team.toml on config reload (the `person` mapping is set by hand until then).
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user. Without --password-stdin or --password-file a password is generated
    /// and printed once (first-run bootstrap: `dutybell user add admin --role admin`).
    Add {
        /// Login name: a-z, 0-9, '.', '_', '-'.
        login: String,
        /// admin, responder or viewer.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The person in team.toml this user acts as.
        #[arg(long)]
        person: Option<String>,
        /// Read the password from standard input (one line).
        #[arg(long, conflicts_with = "password_file")]
        password_stdin: bool,
        /// Read the password from this file (first line).
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// List users.
    List,
    /// API tokens for scripts and the CLI.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token for a user and print it once.
    Create {
        login: String,
        /// A name to revoke it by, e.g. `ci`.
        #[arg(long)]
        name: String,
        /// At most the user's own role (default: the user's role).
        #[arg(long, value_parser = parse_role)]
        role: Option<Role>,
    },
    /// Revoke a user's token by name.
    Revoke {
        login: String,
        #[arg(long)]
        name: String,
    },
    /// List tokens (never the tokens themselves).
    List,
}

fn parse_role(text: &str) -> Result<Role, String> {
    text.parse()
}

pub async fn run(config: &Config, clock: &Clock, command: UserCommand) -> anyhow::Result<()> {
    let store_handle = super::open_store(config).await?;
    let db = &store_handle;
    let now = clock.now();
    match command {
        UserCommand::Add {
            login,
            role,
            person,
            password_stdin,
            password_file,
        } => {
            accounts::check_login(&login).map_err(anyhow::Error::msg)?;
            if let Some(person) = &person
                && config.person(person).is_none()
            {
                anyhow::bail!("--person: no person {person:?} in team.toml");
            }
            let (password, generated) = match (password_stdin, password_file) {
                (true, _) => {
                    let mut text = String::new();
                    std::io::stdin()
                        .read_to_string(&mut text)
                        .context("reading the password from standard input")?;
                    (first_line(&text), false)
                }
                (false, Some(path)) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    (first_line(&text), false)
                }
                (false, None) => (generate_password(), true),
            };
            let mut salt = [0u8; 16];
            rand::rng().fill_bytes(&mut salt);
            let hash = accounts::hash_password(&password, salt)?;
            let user = store::add_user(db, &login, &hash, role, person.as_deref(), now)
                .await
                .with_context(|| format!("adding user {login:?}"))?;
            tracing::info!(user.login = %user.login, user.role = %user.role, "user added");
            println!("Added {} ({}).", user.login, user.role);
            if generated {
                println!("Password (shown once): {password}");
            }
        }
        UserCommand::List => {
            println!("{:<20} {:<10} {:<12} CREATED", "LOGIN", "ROLE", "PERSON");
            for user in store::list_users(db).await? {
                let person = user.person_id.as_deref().unwrap_or("-");
                println!(
                    "{:<20} {:<10} {:<12} {}",
                    user.login, user.role, person, user.created_at
                );
            }
        }
        UserCommand::Token { command } => token(db, command, now).await?,
    }
    store_handle.close().await;
    Ok(())
}

async fn token(
    db: &crate::store::Store,
    command: TokenCommand,
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { login, name, role } => {
            let mut random = [0u8; 32];
            rand::rng().fill_bytes(&mut random);
            let token = accounts::api_token(random);
            let info = store::create_token(db, &login, &name, role, &accounts::digest(&token), now)
                .await
                .map_err(|err| match err {
                    StoreError::NotFound => anyhow::anyhow!("no user {login:?}"),
                    other => anyhow::Error::new(other),
                })
                .with_context(|| format!("creating token {name:?} for {login:?}"))?;
            tracing::info!(user.login = %login, token.name = %name, "api token created");
            println!(
                "Token {:?} for {} (role {}); shown once:",
                info.name, info.login, info.role
            );
            println!("{token}");
        }
        TokenCommand::Revoke { login, name } => {
            store::revoke_token(db, &login, &name)
                .await
                .map_err(|err| match err {
                    StoreError::NotFound => anyhow::anyhow!("{login:?} has no token {name:?}"),
                    other => anyhow::Error::new(other),
                })?;
            tracing::info!(user.login = %login, token.name = %name, "api token revoked");
            println!("Revoked {login}'s token {name:?}.");
        }
        TokenCommand::List => {
            println!("{:<20} {:<16} {:<10} LAST USED", "LOGIN", "NAME", "ROLE");
            for info in store::list_tokens(db).await? {
                let used = info
                    .last_used_at
                    .map_or_else(|| "never".to_string(), |at| at.to_string());
                println!(
                    "{:<20} {:<16} {:<10} {used}",
                    info.login, info.name, info.role
                );
            }
        }
    }
    Ok(())
}

/// The first line of `text` without its line ending.
fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

/// 24 URL-safe characters from 18 random bytes (144 bits).
fn generate_password() -> String {
    let mut bytes = [0u8; 18];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
