//! `/login` and `/logout`: the login form, signing in with a rate limit per login name and
//! per client address (5 failures in 15 minutes, then `429` with `Retry-After`), and
//! signing out.

use axum::Form;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::response::Response;

use super::{FormPairs, UiError, html, see_other};
use crate::domain::accounts::{self, SESSION_COOKIE};
use crate::http::AppState;
use crate::http::session::{self, CurrentUser, LOGIN_COOKIE};
use crate::store::accounts as store;

/// How long the login form's CSRF cookie lives, in seconds.
const LOGIN_COOKIE_AGE: i64 = 3600;

/// `GET /login`: the form, its CSRF token bound to a pre-login cookie.
pub async fn form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let nonce = session::cookie(&headers, LOGIN_COOKIE).unwrap_or_else(session::new_id);
    let page = crate::web::ui::login(&session::login_csrf(&state, &nonce), "", None);
    let mut response = html(StatusCode::OK, page);
    let cookie = session::set_cookie(&state, LOGIN_COOKIE, &nonce, Some(LOGIN_COOKIE_AGE));
    response.headers_mut().append(SET_COOKIE, cookie);
    response
}

/// `POST /login`: checks the form's token and the rate limit, then the password; on
/// success starts a session and goes to the dashboard.
pub async fn submit(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    Form(form): FormPairs,
) -> Result<Response, UiError> {
    let config = state.config.current();
    session::check_login_csrf(&state, &headers, &form)?;
    // Logins are at most 64 characters; a longer name is kept short for the failure log.
    let login: String = session::field(&form, "login")
        .unwrap_or_default()
        .trim()
        .chars()
        .take(64)
        .collect();
    let login = login.as_str();
    let password = session::field(&form, "password")
        .unwrap_or_default()
        .to_string();
    let trusted = &config.settings.trusted_proxies;
    let ip = crate::http::client_ip::client_ip(&extensions, &headers, trusted);
    let now = state.clock.now();
    let nonce = session::cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    let again = |message: &str| {
        crate::web::ui::login(&session::login_csrf(&state, &nonce), login, Some(message))
    };

    let (by_login, by_ip) = store::recent_failures(&state.store, login, &ip, now).await?;
    let wait = [by_login, by_ip]
        .iter()
        .filter_map(|failures| accounts::login_retry_after(failures, now))
        .max();
    if let Some(wait) = wait {
        tracing::warn!(user.login = %login, client.ip = %ip, "login refused: rate limited");
        let retry_after = u64::try_from(wait.as_secs()).unwrap_or(1).max(1);
        let message = format!(
            "Too many failed logins; try again in {} minutes.",
            retry_after.div_ceil(60)
        );
        return Err(UiError::Throttled {
            retry_after,
            page: again(&message),
        });
    }

    let found = store::credentials(&state.store, login).await?;
    let stored = found.as_ref().map(|(_, hash)| hash.clone());
    // Argon2 takes tens of milliseconds of CPU: off the async workers.
    let ok = tokio::task::spawn_blocking(move || match stored {
        Some(hash) => accounts::verify_password(&password, &hash),
        None => accounts::verify_nobody(&password),
    })
    .await
    .unwrap_or(false);
    let Some((user, _)) = found.filter(|_| ok) else {
        store::record_failure(&state.store, login, &ip, now).await?;
        tracing::info!(user.login = %login, client.ip = %ip, "login failed");
        return Err(UiError::WrongPassword(again("Wrong login or password.")));
    };

    store::clear_failures(&state.store, login).await?;
    let session_id = session::new_id();
    store::create_session(&state.store, user.id, &accounts::digest(&session_id), now).await?;
    tracing::info!(user.login = %user.login, user.role = %user.role, "signed in");
    let mut response = see_other("/ui");
    let headers = response.headers_mut();
    headers.append(SET_COOKIE, session::session_cookie(&state, &session_id));
    headers.append(
        SET_COOKIE,
        session::set_cookie(&state, LOGIN_COOKIE, "", None),
    );
    Ok(response)
}

/// `POST /logout`: ends the session (any role may) and clears the cookie.
pub async fn logout(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Form(form): FormPairs,
) -> Result<Response, UiError> {
    user.check_post(&state, &headers, &form, accounts::Role::Viewer)?;
    store::delete_session(&state.store, &user.session_hash()).await?;
    tracing::info!(user.login = %user.user.login, "signed out");
    let mut response = see_other("/login");
    let cookie = session::set_cookie(&state, SESSION_COOKIE, "", None);
    response.headers_mut().append(SET_COOKIE, cookie);
    Ok(response)
}
