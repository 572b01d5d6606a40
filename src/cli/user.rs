//! `dutybell user add|list|disable|enable|passwd|role|map|token`: web UI accounts and API
//! tokens (issue #7) on the local database, so the first admin can be made before the
//! server ever runs, and a locked-out admin can be let back in. The admin page
//! (`http::ui::admin_users`) does the same through the same store functions.
//!
//! Secrets are printed once and never stored: passwords as argon2id hashes, tokens as
//! SHA-256 digests (`domain::accounts`).

use std::io::Read as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use rand::RngCore as _;

use crate::clock::Clock;
use crate::config::Config;
use crate::domain::accounts::{self, Role};
use crate::store::{StoreError, accounts as store};

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
    /// List users, disabled ones too.
    List,
    /// Disable a user: they cannot log in, and their sessions and API tokens stop at once.
    Disable { login: String },
    /// Enable a disabled user again (their tokens work again; sessions were ended).
    Enable { login: String },
    /// Set a user's password and end their sessions. Without --password-stdin or
    /// --password-file a password is generated and printed once.
    Passwd {
        login: String,
        /// Read the password from standard input (one line).
        #[arg(long, conflicts_with = "password_file")]
        password_stdin: bool,
        /// Read the password from this file (first line).
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// Change a user's role; their tokens above it come down to it.
    Role {
        login: String,
        /// admin, responder or viewer.
        #[arg(value_parser = parse_role)]
        role: Role,
    },
    /// Set the person in team.toml a user acts as, or clear it with --clear.
    Map {
        login: String,
        /// A person id from team.toml.
        #[arg(required_unless_present = "clear", conflicts_with = "clear")]
        person: Option<String>,
        /// Map the user to nobody.
        #[arg(long)]
        clear: bool,
    },
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
            if let Some(person) = &person {
                known_person(config, person).context("--person")?;
            }
            let (password, generated) = password(password_stdin, password_file)?;
            let hash = hash(&password)?;
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
            println!(
                "{:<20} {:<10} {:<12} {:<9} CREATED",
                "LOGIN", "ROLE", "PERSON", "STATE"
            );
            for account in store::list_accounts(db).await? {
                let user = &account.user;
                let person = user.person_id.as_deref().unwrap_or("-");
                let state = if account.disabled_at.is_some() {
                    "disabled"
                } else {
                    "active"
                };
                println!(
                    "{:<20} {:<10} {:<12} {state:<9} {}",
                    user.login, user.role, person, user.created_at
                );
            }
        }
        UserCommand::Disable { login } => {
            store::set_disabled(db, &login, Some(now))
                .await
                .map_err(|err| explain(err, &login))?;
            tracing::info!(user.login = %login, "user disabled");
            println!("Disabled {login}: their sessions ended and their tokens are refused.");
        }
        UserCommand::Enable { login } => {
            store::set_disabled(db, &login, None)
                .await
                .map_err(|err| explain(err, &login))?;
            tracing::info!(user.login = %login, "user enabled");
            println!("Enabled {login}.");
        }
        UserCommand::Passwd {
            login,
            password_stdin,
            password_file,
        } => {
            // Fail on an unknown login before asking for or hashing a password.
            if store::account(db, &login).await?.is_none() {
                return Err(explain(StoreError::NotFound, &login));
            }
            let (password, generated) = password(password_stdin, password_file)?;
            let hash = hash(&password)?;
            store::set_password(db, &login, &hash)
                .await
                .map_err(|err| explain(err, &login))?;
            tracing::info!(user.login = %login, "password changed");
            println!("Changed {login}'s password; their sessions ended.");
            if generated {
                println!("Password (shown once): {password}");
            }
        }
        UserCommand::Role { login, role } => {
            store::set_role(db, &login, role)
                .await
                .map_err(|err| explain(err, &login))?;
            tracing::info!(user.login = %login, user.role = %role, "role changed");
            println!("{login} is now a {role}.");
        }
        UserCommand::Map {
            login,
            person,
            clear: _,
        } => {
            if let Some(person) = &person {
                known_person(config, person)?;
            }
            store::set_person(db, &login, person.as_deref())
                .await
                .map_err(|err| explain(err, &login))?;
            tracing::info!(user.login = %login, person.id = person.as_deref().unwrap_or(""),
                "user mapped");
            match person {
                Some(person) => println!("{login} now acts as {person}."),
                None => println!("{login} is mapped to nobody now."),
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

/// `NotFound` said as "no user", other store errors as they are.
fn explain(err: StoreError, login: &str) -> anyhow::Error {
    match err {
        StoreError::NotFound => anyhow::anyhow!("no user {login:?} (see `dutybell user list`)"),
        StoreError::Conflict(message) => anyhow::Error::msg(message),
        other => anyhow::Error::new(other),
    }
}

/// Refuses a person id team.toml does not have, naming the ones it has.
fn known_person(config: &Config, person: &str) -> anyhow::Result<()> {
    if config.person(person).is_some() {
        return Ok(());
    }
    let known: Vec<&str> = config.people.keys().map(String::as_str).collect();
    anyhow::bail!(
        "no person {person:?} in team.toml; known ids: {}",
        known.join(", ")
    )
}

/// The password from standard input or a file, else a generated one (`true`).
fn password(stdin: bool, file: Option<PathBuf>) -> anyhow::Result<(String, bool)> {
    Ok(match (stdin, file) {
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
    })
}

/// The argon2id hash of `password` under a fresh random salt.
fn hash(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    Ok(accounts::hash_password(password, salt)?)
}

/// The first line of `text` without its line ending.
fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

/// A generated password (`domain::accounts::generated_password`).
fn generate_password() -> String {
    let mut bytes = [0u8; 18];
    rand::rng().fill_bytes(&mut bytes);
    accounts::generated_password(bytes)
}
