//! Browser sessions and CSRF for the web UI (issue #7).
//!
//! The `dutybell_session` cookie carries a random 32-byte id (base64url); the database
//! keeps only its SHA-256. It is `HttpOnly`, `SameSite=Lax`, `Path=/`, and `Secure` when
//! the public URL is https. [`CurrentUser`] is the extractor every UI handler starts with:
//! pages without a live session redirect to `/login`, other requests get `401`.
//!
//! Every form carries a CSRF token, HMAC-SHA256 of the session id under the instance
//! signing secret (`domain::accounts::csrf_token`), and every POST checks it; `Origin` and
//! `Sec-Fetch-Site` are checked too when the browser sends them. The login form, which has
//! no session yet, binds its token to a random pre-login cookie instead.

use axum::extract::FromRequestParts;
use axum::http::header::{ACCEPT, COOKIE, HOST, ORIGIN};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretString};

use super::AppState;
use super::ui::UiError;
use crate::domain::accounts::{self, Role, SESSION_COOKIE};
use crate::store::accounts::{self as store, User};

/// The cookie the login form's CSRF token is bound to.
pub const LOGIN_COOKIE: &str = "dutybell_login";

/// The signed-in user of a request, with what their forms need.
#[derive(Clone, Debug)]
pub struct CurrentUser {
    pub user: User,
    /// The raw session id from the cookie: the CSRF token is derived from it.
    session_id: String,
    /// The token this session's forms carry.
    pub csrf: String,
}

impl CurrentUser {
    /// The digest the session is stored under.
    pub fn session_hash(&self) -> String {
        accounts::digest(&self.session_id)
    }

    /// Checks a state-changing request: its origin, its CSRF token (the `csrf` form
    /// field), then the role. Every UI POST handler calls this first.
    pub fn check_post(
        &self,
        state: &AppState,
        headers: &HeaderMap,
        form: &[(String, String)],
        needed: Role,
    ) -> Result<(), UiError> {
        same_origin(state, headers)?;
        let given = field(form, "csrf").unwrap_or_default();
        if !accounts::csrf_ok(
            secret(state).expose_secret().as_bytes(),
            &self.session_id,
            given,
        ) {
            tracing::info!(user.login = %self.user.login, "form refused: bad CSRF token");
            return Err(UiError::Forbidden(
                "The form has expired; reload the page.".into(),
            ));
        }
        if !self.user.role.allows(needed) {
            tracing::info!(user.login = %self.user.login, role = %self.user.role,
                needed = %needed, "form refused: role");
            return Err(UiError::Forbidden(format!(
                "This needs the {needed} role; you are a {}.",
                self.user.role
            )));
        }
        Ok(())
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, UiError> {
        let refuse = || {
            let wants_json = parts
                .headers
                .get(ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("application/json") && !v.contains("text/html"));
            if wants_json {
                UiError::App(super::AppError::Unauthorized)
            } else if parts.method == Method::GET || parts.method == Method::HEAD {
                UiError::Login
            } else {
                UiError::Unauthorized
            }
        };
        let Some(session_id) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(refuse());
        };
        let now = state.clock.now();
        let user = store::session_user(&state.store, &accounts::digest(&session_id), now)
            .await
            .map_err(|err| UiError::App(err.into()))?;
        let Some(user) = user else {
            return Err(refuse());
        };
        let csrf = accounts::csrf_token(secret(state).expose_secret().as_bytes(), &session_id);
        Ok(CurrentUser {
            user,
            session_id,
            csrf,
        })
    }
}

/// The instance signing secret, the key of every CSRF token.
fn secret(state: &AppState) -> SecretString {
    state.config.current().settings.signing_secret.clone()
}

/// A value of the form, by name.
pub fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// The value of cookie `name`, from any `Cookie` header.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().to_string())
        .filter(|value| !value.is_empty())
}

/// 32 random bytes as a session id (or pre-login nonce).
pub fn new_id() -> String {
    let mut random = [0u8; 32];
    rand::rng().fill_bytes(&mut random);
    accounts::session_id(random)
}

/// `Set-Cookie` for `name=value` with the house flags; `None` max-age ends it now.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    let config = state.config.current();
    let secure = if config.settings.public_url().starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let age = max_age.unwrap_or(0);
    let text = format!("{name}={value}; HttpOnly; SameSite=Lax; Path=/; Max-Age={age}{secure}");
    // Ids are base64url and names are constants, so the value is always a valid header.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The session cookie for a new session.
pub fn session_cookie(state: &AppState, session_id: &str) -> HeaderValue {
    let age = accounts::SESSION_TTL.as_secs();
    set_cookie(state, SESSION_COOKIE, session_id, Some(age))
}

/// The CSRF token of the login form bound to the pre-login nonce.
pub fn login_csrf(state: &AppState, nonce: &str) -> String {
    accounts::csrf_token(
        secret(state).expose_secret().as_bytes(),
        &format!("login:{nonce}"),
    )
}

/// Checks the login form's CSRF token against the pre-login cookie.
pub fn check_login_csrf(
    state: &AppState,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Result<(), UiError> {
    same_origin(state, headers)?;
    let nonce = cookie(headers, LOGIN_COOKIE).unwrap_or_default();
    let given = field(form, "csrf").unwrap_or_default();
    if nonce.is_empty()
        || !accounts::csrf_ok(
            secret(state).expose_secret().as_bytes(),
            &format!("login:{nonce}"),
            given,
        )
    {
        return Err(UiError::Forbidden(
            "The login form has expired; reload the page.".into(),
        ));
    }
    Ok(())
}

/// Refuses requests a browser marks as cross-site: `Sec-Fetch-Site` other than
/// `same-origin` or `none`, or an `Origin` that is neither the public URL's nor this
/// request's own host. Clients that send neither (scripts, old browsers) pass on to the
/// CSRF token check.
fn same_origin(state: &AppState, headers: &HeaderMap) -> Result<(), UiError> {
    let config = state.config.current();
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if let Some(site) = header("sec-fetch-site")
        && site != "same-origin"
        && site != "none"
    {
        return Err(UiError::Forbidden(
            "Cross-site form posts are refused.".into(),
        ));
    }
    if let Some(origin) = header(ORIGIN.as_str()) {
        let public = config.settings.public_url();
        let public = public.trim_end_matches('/');
        let own_host = header(HOST.as_str()).is_some_and(|host| {
            origin
                .split_once("://")
                .is_some_and(|(_, authority)| authority == host)
        });
        if origin != public && !own_host {
            return Err(UiError::Forbidden(
                "Cross-site form posts are refused.".into(),
            ));
        }
    }
    Ok(())
}
