//! Accounts as pure rules (issue #7): roles and what each may do, the formats of API
//! tokens and session ids and their stored digests, argon2id password hashes, the CSRF
//! token bound to a session, session lifetimes and the login rate limit.
//!
//! Randomness and the clock come from the caller: `store::accounts` keeps the rows,
//! `http::session` sets the cookies, `cli::user` creates users and tokens.

use std::str::FromStr;
use std::sync::LazyLock;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

/// What an account may do; each role includes the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads every page.
    Viewer,
    /// Also acts on alerts, incidents and overrides.
    Responder,
    /// Also manages users, tokens and config, and calls the admin API.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Responder => "responder",
            Role::Admin => "admin",
        }
    }

    /// Whether this role may do what `needed` may.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Role, String> {
        match text {
            "viewer" => Ok(Role::Viewer),
            "responder" => Ok(Role::Responder),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "{other:?} is not a role (admin, responder, viewer)"
            )),
        }
    }
}

/// Every API token starts with this, so a leaked one is recognisable in a scan and the
/// server can tell it from the instance token without a lookup.
pub const TOKEN_PREFIX: &str = "dbt_";
/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "dutybell_session";
/// A session ends this long after login, however busy.
pub const SESSION_TTL: SignedDuration = SignedDuration::from_hours(12);
/// A session ends after this long without a request.
pub const SESSION_IDLE: SignedDuration = SignedDuration::from_hours(1);
/// Failed logins allowed per login name, and per client address, within [`LOGIN_WINDOW`].
pub const LOGIN_FAILURES: usize = 5;
pub const LOGIN_WINDOW: SignedDuration = SignedDuration::from_mins(15);
/// Shortest password accepted when one is set.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// An API token from 32 random bytes: the prefix and 64 lowercase hex digits.
pub fn api_token(random: [u8; 32]) -> String {
    format!("{TOKEN_PREFIX}{}", hex::encode(random))
}

/// Whether `text` has the shape of an API token (it may still be unknown or revoked).
pub fn is_api_token(text: &str) -> bool {
    text.strip_prefix(TOKEN_PREFIX)
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A session id from 32 random bytes, as the cookie carries it (43 base64url characters).
pub fn session_id(random: [u8; 32]) -> String {
    URL_SAFE_NO_PAD.encode(random)
}

/// What the database keeps of a session id or API token: its SHA-256 in hex. The values
/// carry 256 random bits, so an unsalted fast hash is enough to make a stolen copy of the
/// table useless, and lookups stay one indexed equality.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A password to hand out once (`user add`, a reset on the admin page): 24 URL-safe
/// characters from 18 random bytes (144 bits).
pub fn generated_password(random: [u8; 18]) -> String {
    URL_SAFE_NO_PAD.encode(random)
}

/// A login name: 1 to 64 of `a-z 0-9 . _ -`, starting with a letter or digit.
pub fn check_login(login: &str) -> Result<(), String> {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c);
    let starts_well = login
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if login.len() > 64 || !starts_well || !login.chars().all(ok_char) {
        return Err(format!(
            "{login:?} is not a login: use 1-64 of a-z, 0-9, '.', '_', '-', starting with a \
             letter or digit"
        ));
    }
    Ok(())
}

/// Why a password was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("a password needs at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("hashing the password failed: {0}")]
    Hash(String),
}

/// The argon2id PHC string of `password` with a 16-byte random `salt`, with the crate's
/// default cost (19 MiB, 2 passes), the OWASP baseline for argon2id.
pub fn hash_password(password: &str, salt: [u8; 16]) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    let salt = SaltString::encode_b64(&salt).map_err(|err| PasswordError::Hash(err.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|err| PasswordError::Hash(err.to_string()))
}

/// Whether `password` matches the stored PHC string; a malformed one matches nothing.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|parsed| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Verifies `password` against a hash no login has, so a login naming nobody costs as much
/// time as a wrong password and timing does not reveal which logins exist.
pub fn verify_nobody(password: &str) -> bool {
    static DUMMY: LazyLock<String> = LazyLock::new(|| {
        hash_password("no account has this password", [0x5a; 16]).unwrap_or_default()
    });
    verify_password(password, &DUMMY)
}

/// The CSRF token of the session `session_id`: HMAC-SHA256 under the instance signing
/// secret, labelled so it can never equal another signature made with that key.
pub fn csrf_token(secret: &[u8], session_id: &str) -> String {
    hex::encode(csrf_mac(secret, session_id).finalize().into_bytes())
}

/// Whether `given` is the CSRF token of `session_id`, compared in constant time.
pub fn csrf_ok(secret: &[u8], session_id: &str, given: &str) -> bool {
    match hex::decode(given) {
        Ok(bytes) => csrf_mac(secret, session_id).verify_slice(&bytes).is_ok(),
        Err(_) => false,
    }
}

fn csrf_mac(secret: &[u8], session_id: &str) -> Hmac<Sha256> {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .expect("HMAC-SHA256 accepts keys of any length");
    mac.update(b"dutybell csrf v1:");
    mac.update(session_id.as_bytes());
    mac
}

/// Whether a session created at `created_at` and last used at `last_seen` still holds at
/// `now`: within both the absolute lifetime and the idle timeout.
pub fn session_live(created_at: Timestamp, last_seen: Timestamp, now: Timestamp) -> bool {
    now.duration_since(created_at) < SESSION_TTL && now.duration_since(last_seen) < SESSION_IDLE
}

/// How long until another login may be tried, given the failures recorded for one login
/// name or one address within [`LOGIN_WINDOW`] before `now` (any order); `None` when a try
/// is allowed now.
pub fn login_retry_after(failures: &[Timestamp], now: Timestamp) -> Option<SignedDuration> {
    let mut recent: Vec<Timestamp> = failures
        .iter()
        .copied()
        .filter(|at| now.duration_since(*at) < LOGIN_WINDOW)
        .collect();
    if recent.len() < LOGIN_FAILURES {
        return None;
    }
    // Allowed again once all but LOGIN_FAILURES - 1 of them have left the window: when the
    // LOGIN_FAILURES-th newest ages out.
    recent.sort_unstable_by(|a, b| b.cmp(a));
    let ages_out = recent[LOGIN_FAILURES - 1];
    let wait = LOGIN_WINDOW - now.duration_since(ages_out);
    Some(wait.max(SignedDuration::from_secs(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn roles_include_the_ones_below() {
        assert!(Role::Admin.allows(Role::Responder));
        assert!(Role::Responder.allows(Role::Viewer));
        assert!(Role::Responder.allows(Role::Responder));
        assert!(!Role::Viewer.allows(Role::Responder));
        assert!(!Role::Responder.allows(Role::Admin));
        assert_eq!("responder".parse::<Role>(), Ok(Role::Responder));
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn tokens_have_a_prefix_and_64_hex_digits() {
        let token = api_token([0xab; 32]);
        assert_eq!(token, format!("dbt_{}", "ab".repeat(32)));
        assert!(is_api_token(&token));
        assert!(!is_api_token("dbt_abc"));
        assert!(!is_api_token(&format!("xyz_{}", "ab".repeat(32))));
        assert_eq!(digest("abc").len(), 64);
        assert_ne!(digest(&token), token);
    }

    #[test]
    fn session_ids_are_43_url_safe_characters() {
        let id = session_id([7; 32]);
        assert_eq!(id.len(), 43);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }

    #[test]
    fn logins_are_plain_lowercase_names() {
        assert!(check_login("ana").is_ok());
        assert!(check_login("ci.bot-2").is_ok());
        assert!(check_login("").is_err());
        assert!(check_login("Ana").is_err());
        assert!(check_login("-x").is_err());
        assert!(check_login("a b").is_err());
        assert!(check_login(&"a".repeat(65)).is_err());
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("correct horse battery", [1; 16]).unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse batterY", &hash));
        assert!(!verify_password("anything at all", "not a hash"));
        assert!(!verify_nobody("correct horse battery"));
        assert_eq!(
            hash_password("short", [1; 16]),
            Err(PasswordError::TooShort)
        );
    }

    #[test]
    fn csrf_tokens_bind_to_the_session_and_the_secret() {
        let token = csrf_token(b"secret-one", "session-a");
        assert!(csrf_ok(b"secret-one", "session-a", &token));
        assert!(!csrf_ok(b"secret-one", "session-b", &token));
        assert!(!csrf_ok(b"secret-two", "session-a", &token));
        assert!(!csrf_ok(b"secret-one", "session-a", ""));
        assert!(!csrf_ok(b"secret-one", "session-a", "zz"));
    }

    #[test]
    fn sessions_end_when_idle_or_old() {
        let login = at("2025-01-01T00:00:00Z");
        assert!(session_live(login, login, at("2025-01-01T00:59:59Z")));
        assert!(!session_live(login, login, at("2025-01-01T01:00:00Z")));
        let busy = at("2025-01-01T11:30:00Z");
        assert!(session_live(login, busy, at("2025-01-01T11:59:59Z")));
        assert!(!session_live(login, busy, at("2025-01-01T12:00:00Z")));
    }

    #[test]
    fn five_failures_in_fifteen_minutes_lock_until_the_oldest_counted_ages_out() {
        let now = at("2025-01-01T01:00:00Z");
        let failures: Vec<Timestamp> = ["00:40", "00:50", "00:52", "00:55", "00:58", "00:59"]
            .iter()
            .map(|hm| at(&format!("2025-01-01T{hm}:00Z")))
            .collect();

        // 00:40 is outside the window; five remain, the fifth newest at 00:50.
        assert_eq!(
            login_retry_after(&failures, now),
            Some(SignedDuration::from_mins(5))
        );
        assert_eq!(login_retry_after(&failures[..5], now), None);
        assert_eq!(
            login_retry_after(&failures, at("2025-01-01T01:05:00Z")),
            None
        );
    }
}
