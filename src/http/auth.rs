//! Request credentials: integration tokens, the instance admin API token (compared in
//! constant time) and per-user API tokens (looked up by digest, issue #7).

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};

use super::{AppError, AppState};
use crate::domain::accounts::{self, Role};

/// The credential a request presents: a Bearer token, or the password of Basic auth (how
/// Alertmanager's `basic_auth` and Grafana's user/password send it).
pub fn presented(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.trim().to_string());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        return text
            .split_once(':')
            .map(|(_, password)| password.to_string());
    }
    None
}

/// Admin API access: the request must carry the instance API token, or a per-user API
/// token with role admin (looked up by [`api_tokens`] before the handler ran).
pub fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<(), AppError> {
    if matches(headers, &state.config.current().settings.api_token) {
        return Ok(());
    }
    let role = TOKEN_ROLE.try_with(|role| *role).ok().flatten();
    if role.is_some_and(|role| role.allows(Role::Admin)) {
        Ok(())
    } else {
        Err(AppError::Unauthorized)
    }
}

/// The role of the live per-user API token the current request carries, if any.
pub fn token_role() -> Option<Role> {
    TOKEN_ROLE.try_with(|role| *role).ok().flatten()
}

tokio::task_local! {
    /// The role of the per-user API token the current request carries, if it is a live one.
    static TOKEN_ROLE: Option<Role>;
}

/// Middleware: looks up a per-user API token (`dbt_…`) the request presents, by its digest,
/// and makes its role visible to [`require_admin`] for the rest of the request. Handlers
/// keep calling the synchronous check; only requests carrying such a token touch the
/// database. The token itself is never logged; its name is.
pub async fn api_tokens(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let role = match presented(request.headers()) {
        Some(token) if accounts::is_api_token(&token) => {
            let digest = accounts::digest(&token);
            let now = state.clock.now();
            match crate::store::accounts::token_by_hash(&state.store, &digest, now).await {
                Ok(Some(info)) => {
                    tracing::debug!(user.login = %info.login, token.name = %info.name,
                        "api token accepted");
                    Some(info.role)
                }
                Ok(None) => None,
                Err(err) => {
                    tracing::warn!(error = %err, "api token lookup failed");
                    None
                }
            }
        }
        _ => None,
    };
    TOKEN_ROLE.scope(role, next.run(request)).await
}

/// Whether the request carries `expected`.
pub fn matches(headers: &HeaderMap, expected: &SecretString) -> bool {
    presented(headers)
        .is_some_and(|given| equal(given.as_bytes(), expected.expose_secret().as_bytes()))
}

/// Constant-time equality: compares fixed-length digests with no early exit, so timing
/// reveals neither the length nor a matching prefix.
pub fn equal(a: &[u8], b: &[u8]) -> bool {
    let (a, b) = (Sha256::digest(a), Sha256::digest(b));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// Whether a delivery carries a valid body signature (intake spec §1, Grafana 12+): the
/// header holds lowercase hex HMAC-SHA256 over the body, or over `<ts>:<body>` when a
/// timestamp header is configured, whose unix timestamp must be within
/// [`SIGNATURE_WINDOW`](crate::config::SIGNATURE_WINDOW) of `now`. The comparison is
/// constant-time (`verify_slice`).
pub fn signature_ok(
    signature: &crate::config::BodySignature,
    headers: &HeaderMap,
    body: &[u8],
    now: jiff::Timestamp,
) -> bool {
    use hmac::Mac as _;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let Some(given) = header(&signature.header).and_then(|hex_text| hex::decode(hex_text).ok())
    else {
        return false;
    };
    let Ok(mut mac) =
        hmac::Hmac::<Sha256>::new_from_slice(signature.secret.expose_secret().as_bytes())
    else {
        return false;
    };
    if let Some(name) = &signature.timestamp_header {
        let Some(ts) = header(name) else {
            return false;
        };
        let Ok(seconds) = ts.parse::<i64>() else {
            return false;
        };
        let skew = (now.as_second() - seconds).abs();
        if skew > crate::config::SIGNATURE_WINDOW.as_secs() {
            return false;
        }
        mac.update(ts.as_bytes());
        mac.update(b":");
    }
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}
