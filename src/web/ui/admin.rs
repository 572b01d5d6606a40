//! The UI's admin pages rendered (issue #7): `/ui/admin/users`, every account with its
//! role, person, state, last login and API tokens, the forms that change them, the people
//! of team.toml whose `login` has no account yet, and a new password or token shown once.
//!
//! Like the rest of `web::ui`, this takes plain values and returns text, through its own
//! template environment with the same escaping formatter; `http::ui::admin_users` decides
//! who may see it and does the changes.

use serde::Serialize;

use super::{Me, render, utc};
use crate::config::Config;
use crate::domain::accounts::Role;
use crate::store::accounts::{Account, TokenInfo};

/// A password just set or an API token just created, to show once. No `Debug`, so it
/// cannot end up in a log.
#[derive(Serialize)]
pub struct Created<'a> {
    /// "User added", "Password reset" or "API token created".
    pub heading: &'a str,
    pub login: &'a str,
    /// The token's name when `password` is an API token.
    pub token: Option<&'a str>,
    pub password: &'a str,
}

/// `/ui/admin/users`. `missing` is `(person id, login)` per person whose login has no
/// account (`engine::accounts::missing_accounts`).
pub fn users(
    config: &Config,
    me: &Me<'_>,
    accounts: &[Account],
    tokens: &[TokenInfo],
    missing: &[(String, String)],
    created: Option<Created<'_>>,
) -> String {
    #[derive(Serialize)]
    struct TokenView<'a> {
        id: i64,
        name: &'a str,
        role: &'a str,
        last_used: Option<String>,
    }
    #[derive(Serialize)]
    struct AccountView<'a> {
        login: &'a str,
        role: &'a str,
        person: Option<&'a str>,
        person_known: bool,
        disabled: Option<String>,
        last_login: Option<String>,
        tokens: Vec<TokenView<'a>>,
        /// Roles a new token of theirs may have: up to their own.
        token_roles: Vec<&'static str>,
        is_me: bool,
    }
    #[derive(Serialize)]
    struct PersonView<'a> {
        id: &'a str,
        name: &'a str,
    }
    #[derive(Serialize)]
    struct MissingView<'a> {
        person: &'a str,
        name: &'a str,
        login: &'a str,
    }
    #[derive(Serialize)]
    struct Page<'a> {
        me: &'a Me<'a>,
        accounts: Vec<AccountView<'a>>,
        people: Vec<PersonView<'a>>,
        missing: Vec<MissingView<'a>>,
        roles: [&'static str; 3],
        created: Option<Created<'a>>,
    }
    let accounts = accounts
        .iter()
        .map(|account| {
            let user = &account.user;
            AccountView {
                login: &user.login,
                role: user.role.as_str(),
                person: user.person_id.as_deref(),
                person_known: user
                    .person_id
                    .as_deref()
                    .is_some_and(|p| config.person(p).is_some()),
                disabled: account.disabled_at.map(utc),
                last_login: account.last_login_at.map(utc),
                tokens: tokens
                    .iter()
                    .filter(|t| t.login == user.login)
                    .map(|t| TokenView {
                        id: t.id,
                        name: &t.name,
                        role: t.role.as_str(),
                        last_used: t.last_used_at.map(utc),
                    })
                    .collect(),
                token_roles: [Role::Viewer, Role::Responder, Role::Admin]
                    .into_iter()
                    .filter(|r| user.role.allows(*r))
                    .map(Role::as_str)
                    .collect(),
                is_me: user.login == me.login,
            }
        })
        .collect();
    let people = config
        .people
        .values()
        .map(|p| PersonView {
            id: &p.id,
            name: &p.name,
        })
        .collect();
    let missing = missing
        .iter()
        .map(|(person, login)| MissingView {
            person,
            name: config.person(person).map_or(person.as_str(), |p| &p.name),
            login,
        })
        .collect();
    render(
        "admin_users.html",
        Page {
            me,
            accounts,
            people,
            missing,
            roles: ["viewer", "responder", "admin"],
            created,
        },
    )
}
