//! The UI's user administration (issue #7): `GET /ui/admin/users` and its forms, for
//! admins only. Add a user (a generated password, shown once), change a role, map to a
//! person of team.toml or to nobody, disable or enable, reset a password, create an API
//! token (shown once; its role at most the user's) or revoke one. The same store functions
//! back `dutybell user …`; the store refuses to disable or demote the last enabled admin.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use rand::RngCore as _;

use super::{FormPairs, UiError, html, invalid, me, see_other};
use crate::config::Config;
use crate::domain::accounts::{self, Role};
use crate::engine::accounts::missing_accounts;
use crate::http::session::{self, CurrentUser};
use crate::http::{AppError, AppState};
use crate::store::accounts as store;
use crate::web::ui::admin::{self as view, Created};

// TODO(#7): admin changes are logged, not yet kept on an audit trail.

const PAGE: &str = "/ui/admin/users";

/// The admin page, with a password to show once after an add or a reset.
async fn page(
    state: &AppState,
    config: &Config,
    user: &CurrentUser,
    created: Option<Created<'_>>,
) -> Result<Response, UiError> {
    let accounts = store::list_accounts(&state.store).await?;
    let tokens = store::list_tokens(&state.store).await?;
    let missing = missing_accounts(config, &accounts);
    let body = view::users(config, &me(user), &accounts, &tokens, &missing, created);
    Ok(html(StatusCode::OK, body))
}

/// `GET /ui/admin/users`.
pub async fn list(State(state): State<AppState>, user: CurrentUser) -> Result<Response, UiError> {
    if !user.user.role.allows(Role::Admin) {
        return Err(UiError::Forbidden(format!(
            "This needs the admin role; you are a {}.",
            user.user.role
        )));
    }
    let config = state.config.current();
    page(&state, &config, &user, None).await
}

/// A person id from the form: empty is nobody; else it must be in team.toml.
fn person(config: &Config, form: &[(String, String)]) -> Result<Option<String>, UiError> {
    let person = session::field(form, "person").unwrap_or_default().trim();
    if person.is_empty() {
        return Ok(None);
    }
    if config.person(person).is_none() {
        return Err(invalid(
            "person",
            format!("No person {person:?} in team.toml."),
        ));
    }
    Ok(Some(person.to_string()))
}

fn role(form: &[(String, String)]) -> Result<Role, UiError> {
    let text = session::field(form, "role").unwrap_or_default();
    text.parse().map_err(|message| invalid("role", message))
}

/// A fresh password and its argon2id hash, hashed off the async workers.
async fn new_password() -> Result<(String, String), UiError> {
    let mut random = [0u8; 18];
    rand::rng().fill_bytes(&mut random);
    let password = accounts::generated_password(random);
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let plain = password.clone();
    let hash = tokio::task::spawn_blocking(move || accounts::hash_password(&plain, salt))
        .await
        .map_err(|err| UiError::App(AppError::Internal(err.into())))?
        .map_err(|err| UiError::App(AppError::Internal(err.into())))?;
    Ok((password, hash))
}

/// `POST /ui/admin/users`: fields `login`, `role`, `person` (empty for nobody). Answers
/// the page itself, with the generated password shown once.
pub async fn add(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Form(form): FormPairs,
) -> Result<Response, UiError> {
    user.check_post(&state, &headers, &form, Role::Admin)?;
    let login = session::field(&form, "login").unwrap_or_default().trim();
    accounts::check_login(login).map_err(|message| invalid("login", message))?;
    let role = role(&form)?;
    let config = state.config.current();
    let person = person(&config, &form)?;

    let (password, hash) = new_password().await?;
    let now = state.clock.now();
    let added = store::add_user(&state.store, login, &hash, role, person.as_deref(), now).await?;
    tracing::info!(user.login = %added.login, user.role = %added.role,
        by = %user.user.login, "user added from the web");
    let created = Created {
        heading: "User added",
        login: &added.login,
        token: None,
        password: &password,
    };
    page(&state, &config, &user, Some(created)).await
}

/// `POST /ui/admin/users/{login}/role`: field `role`.
pub async fn set_role(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path(login): Path<String>,
    Form(form): FormPairs,
) -> Result<Response, UiError> {
    user.check_post(&state, &headers, &form, Role::Admin)?;
    let role = role(&form)?;
    store::set_role(&state.store, &login, role).await?;
    tracing::info!(user.login = %login, user.role = %role, by = %user.user.login,
        "role changed from the web");
    Ok(see_other(PAGE))
}

/// `POST /ui/admin/users/{login}/person`: field `person`, empty for nobody.
pub async fn set_person(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path(login): Path<String>,
    Form(form): FormPairs,
) -> Result<Response, UiError> {
    user.check_post(&state, &headers, &form, Role::Admin)?;
    let config = state.config.current();
    let person = person(&config, &form)?;
    store::set_person(&state.store, &login, person.as_deref()).await?;
    tracing::info!(user.login = %login, person.id = person.as_deref().unwrap_or(""),
        by = %user.user.login, "user mapped from the web");
    Ok(see_other(PAGE))
}

/// `POST /ui/admin/users/{login}/disable`: ends their sessions; tokens stop working.
pub async fn disable(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path(login): Path<String>,
    Form(form): FormPairs,
) -> Result<Response, UiError> {
    user.check_post(&state, &headers, &form, Role::Admin)?;
    let now = state.clock.now();
    store::set_disabled(&state.store, &login, Some(now)).await?;
    tracing::info!(user.login = %login, by = %user.user.login, "user disabled from the web");
    Ok(see_other(PAGE))
}

/// `POST /ui/admin/users/{login}/enable`.
pub async fn enable(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path(login): Path<String>,
    Form(form): FormPairs,
) -> Result<Response, UiError> {
    user.check_post(&state, &headers, &form, Role::Admin)?;
    store::set_disabled(&state.store, &login, None).await?;
    tracing::info!(user.login = %login, by = %user.user.login, "user enabled from the web");
    Ok(see_other(PAGE))
}

/// `POST /ui/admin/users/{login}/password`: a generated password, shown once; their
/// sessions end.
pub async fn reset_password(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path(login): Path<String>,
    Form(form): FormPairs,
) -> Result<Response, UiError> {
    user.check_post(&state, &headers, &form, Role::Admin)?;
    if store::account(&state.store, &login).await?.is_none() {
        return Err(UiError::App(AppError::NotFound));
    }
    let (password, hash) = new_password().await?;
    store::set_password(&state.store, &login, &hash).await?;
    tracing::info!(user.login = %login, by = %user.user.login, "password reset from the web");
    let created = Created {
        heading: "Password reset",
        login: &login,
        token: None,
        password: &password,
    };
    let config = state.config.current();
    page(&state, &config, &user, Some(created)).await
}

/// `POST /ui/admin/tokens/{id}/revoke`.
pub async fn revoke_token(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): FormPairs,
) -> Result<Response, UiError> {
    user.check_post(&state, &headers, &form, Role::Admin)?;
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let info = store::revoke_token_id(&state.store, id).await?;
    tracing::info!(user.login = %info.login, token.name = %info.name, by = %user.user.login,
        "api token revoked from the web");
    Ok(see_other(PAGE))
}

/// `POST /ui/admin/users/{login}/tokens`: fields `name` and `role` (at most the user's;
/// the store refuses more). Answers the page itself, with the token shown once; only its
/// digest is stored, as with `dutybell user token create`.
pub async fn create_token(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path(login): Path<String>,
    Form(form): FormPairs,
) -> Result<Response, UiError> {
    user.check_post(&state, &headers, &form, Role::Admin)?;
    let name = session::field(&form, "name").unwrap_or_default().trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(invalid(
            "name",
            "Name the token in one line of at most 64 characters, e.g. ci.",
        ));
    }
    let role = role(&form)?;

    let mut random = [0u8; 32];
    rand::rng().fill_bytes(&mut random);
    let token = accounts::api_token(random);
    let digest = accounts::digest(&token);
    let now = state.clock.now();
    let info = store::create_token(&state.store, &login, name, Some(role), &digest, now).await?;
    tracing::info!(user.login = %info.login, token.name = %info.name, token.role = %info.role,
        by = %user.user.login, "api token created from the web");
    let created = Created {
        heading: "API token created",
        login: &info.login,
        token: Some(&info.name),
        password: &token,
    };
    let config = state.config.current();
    page(&state, &config, &user, Some(created)).await
}
