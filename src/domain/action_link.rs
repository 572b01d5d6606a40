//! Signed, expiring one-click action links (`/a/<payload>.<sig>`, comms spec §0).
//!
//! The payload is base64url JSON `{act, target, person, exp}`; the signature is
//! HMAC-SHA256 over the encoded payload with the instance secret. A link proves who it was
//! sent to and what it may do, until it expires. Verification is constant-time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// What a link does when its button is pressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Ack,
    Resolve,
    /// Read-only: shows the alert and its timeline to whoever the page was sent to.
    View,
    /// From a bundle (on-call D9): acknowledges every open alert of the target's service,
    /// up to the target (the bundle's newest), that was paged to the person.
    AckAll,
    /// Read-only: shows the runbook covering the alert (comms spec §5.1), so a responder
    /// opens it from any notification without logging in.
    Runbook,
}

impl Action {
    pub fn verb(self) -> &'static str {
        match self {
            Action::Ack => "Acknowledge",
            Action::Resolve => "Resolve",
            Action::View => "View",
            Action::AckAll => "Acknowledge all",
            Action::Runbook => "Open runbook",
        }
    }
}

/// The signed content of a link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionClaim {
    pub act: Action,
    /// The alert id; for `ack_all`, the newest alert of the bundle.
    pub target: i64,
    /// The person the link was sent to; recorded as the actor.
    pub person: String,
    /// Expiry, unix seconds.
    pub exp: i64,
}

/// How long an action link stays valid after it is signed.
pub const LIFETIME: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

impl ActionClaim {
    /// Whether the link can be about an alert created at `created`: links are signed when
    /// a page about an existing alert goes out, [`LIFETIME`] before they expire. An alert
    /// created later holds a number reused since (a restore rolled the ids back).
    pub fn predates(&self, created: Timestamp) -> bool {
        created.as_second() <= self.exp.saturating_sub(LIFETIME.as_secs())
    }
}

/// Why a link was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LinkError {
    #[error("the link is malformed")]
    Malformed,
    #[error("the link's signature does not match")]
    BadSignature,
    #[error("the link has expired")]
    Expired,
}

/// Encodes and signs a claim into the `<payload>.<sig>` token.
pub fn sign(claim: &ActionClaim, secret: &[u8]) -> String {
    // Serializing a plain struct of strings and integers cannot fail.
    let json = serde_json::to_vec(claim).unwrap_or_default();
    let payload = URL_SAFE_NO_PAD.encode(json);
    let sig = URL_SAFE_NO_PAD.encode(mac(secret, payload.as_bytes()).finalize().into_bytes());
    format!("{payload}.{sig}")
}

/// Checks a token's signature and expiry at `now` and returns its claim.
pub fn verify(token: &str, secret: &[u8], now: Timestamp) -> Result<ActionClaim, LinkError> {
    let (payload, sig) = token.split_once('.').ok_or(LinkError::Malformed)?;
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| LinkError::Malformed)?;
    mac(secret, payload.as_bytes())
        .verify_slice(&sig)
        .map_err(|_| LinkError::BadSignature)?;
    let json = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| LinkError::Malformed)?;
    let claim: ActionClaim = serde_json::from_slice(&json).map_err(|_| LinkError::Malformed)?;
    if now.as_second() >= claim.exp {
        return Err(LinkError::Expired);
    }
    Ok(claim)
}

fn mac(secret: &[u8], data: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(data);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn claim() -> ActionClaim {
        ActionClaim {
            act: Action::Ack,
            target: 7,
            person: "ana".into(),
            exp: 1_000,
        }
    }

    #[test]
    fn a_signed_link_verifies_before_expiry() {
        let token = sign(&claim(), SECRET);
        let now = Timestamp::from_second(999).unwrap();
        assert_eq!(verify(&token, SECRET, now), Ok(claim()));
    }

    #[test]
    fn an_expired_link_is_refused() {
        let token = sign(&claim(), SECRET);
        let now = Timestamp::from_second(1_000).unwrap();
        assert_eq!(verify(&token, SECRET, now), Err(LinkError::Expired));
    }

    #[test]
    fn a_tampered_or_foreign_link_is_refused() {
        let token = sign(&claim(), SECRET);
        let now = Timestamp::from_second(10).unwrap();
        let forged = sign(
            &ActionClaim {
                target: 8,
                ..claim()
            },
            b"another secret",
        );
        let (forged_payload, _) = forged.split_once('.').unwrap();
        let (_, sig) = token.split_once('.').unwrap();
        let spliced = format!("{forged_payload}.{sig}");
        assert_eq!(verify(&spliced, SECRET, now), Err(LinkError::BadSignature));
        assert_eq!(verify(&forged, SECRET, now), Err(LinkError::BadSignature));
        assert_eq!(verify("garbage", SECRET, now), Err(LinkError::Malformed));
    }
}
