//! Secret tokens for calendar feed URLs (`/ical/schedules/{id}.ics?token=...`).
//!
//! A token is base64url HMAC-SHA256 of the feed's path under the instance signing secret, so
//! it proves the holder was given that one feed, needs no storage and never expires; rotating
//! the signing secret revokes every feed URL at once. Verification is constant-time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The path of a schedule's feed.
pub fn schedule_path(schedule_id: &str) -> String {
    format!("/ical/schedules/{schedule_id}.ics")
}

/// The path of a person's feed.
pub fn person_path(person_id: &str) -> String {
    format!("/ical/people/{person_id}.ics")
}

/// The token for the feed at `path`.
pub fn sign(path: &str, secret: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(mac(secret, path).finalize().into_bytes())
}

/// Whether `token` is the one for `path`.
pub fn verify(path: &str, token: &str, secret: &[u8]) -> bool {
    match URL_SAFE_NO_PAD.decode(token) {
        Ok(sig) => mac(secret, path).verify_slice(&sig).is_ok(),
        Err(_) => false,
    }
}

fn mac(secret: &[u8], path: &str) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    // A domain tag keeps a feed token from ever matching another use of the secret.
    mac.update(b"dutybell ical feed\n");
    mac.update(path.as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn a_token_opens_only_its_own_feed() {
        let token = sign(&schedule_path("main"), SECRET);

        assert!(verify(&schedule_path("main"), &token, SECRET));
        assert!(!verify(&schedule_path("other"), &token, SECRET));
        assert!(!verify(&person_path("main"), &token, SECRET));
        assert!(!verify(&schedule_path("main"), &token, b"another secret"));
        assert!(!verify(&schedule_path("main"), "not base64!", SECRET));
    }
}
