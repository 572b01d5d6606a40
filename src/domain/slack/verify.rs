//! Slack request signatures (comms spec §2.2): every `/slack/*` request is checked here,
//! over the exact bytes received, before anything parses it.
//!
//! Slack signs `v0:{timestamp}:{raw body}` with the app's signing secret (HMAC-SHA256) and
//! sends `X-Slack-Request-Timestamp` and `X-Slack-Signature: v0=<hex>`. A request more than
//! [`MAX_SKEW_S`] seconds off `now` is refused, so a captured request cannot be replayed
//! later. The legacy `token` form field is never looked at.

use hmac::{Hmac, Mac as _};
use jiff::Timestamp;
use sha2::Sha256;

/// The header holding the request's unix time in seconds.
pub const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
/// The header holding `v0=<hex HMAC>`.
pub const SIGNATURE_HEADER: &str = "x-slack-signature";
/// How far a request's timestamp may be from `now`, either way.
pub const MAX_SKEW_S: i64 = 300;

/// Why a request was refused. Every case answers 401; the cases exist for logs and tests.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("no X-Slack-Request-Timestamp header")]
    MissingTimestamp,
    #[error("no X-Slack-Signature header")]
    MissingSignature,
    #[error("X-Slack-Request-Timestamp is not unix seconds")]
    BadTimestamp,
    #[error("the request is {skew_s} s away from now (at most {MAX_SKEW_S} s allowed)")]
    Stale { skew_s: i64 },
    #[error("X-Slack-Signature is not v0=<64 hex digits>")]
    MalformedSignature,
    #[error("the signature does not match")]
    Mismatch,
}

/// Checks one request's headers and raw body against `secret` at `now`.
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: Timestamp,
) -> Result<(), VerifyError> {
    let timestamp = timestamp.ok_or(VerifyError::MissingTimestamp)?.trim();
    let signature = signature.ok_or(VerifyError::MissingSignature)?.trim();
    let ts: i64 = timestamp.parse().map_err(|_| VerifyError::BadTimestamp)?;
    let skew_s = now.as_second().saturating_sub(ts).saturating_abs();
    if skew_s > MAX_SKEW_S {
        return Err(VerifyError::Stale { skew_s });
    }

    let given = signature
        .strip_prefix("v0=")
        .and_then(|hex_digits| hex::decode(hex_digits).ok())
        .filter(|bytes| bytes.len() == 32)
        .ok_or(VerifyError::MalformedSignature)?;
    // `verify_slice` compares in constant time. The timestamp is signed as received.
    mac(secret, timestamp, body)
        .verify_slice(&given)
        .map_err(|_| VerifyError::Mismatch)
}

/// The `X-Slack-Signature` value Slack would send for `body` at `timestamp`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, &timestamp.to_string(), body)
        .finalize()
        .into_bytes();
    format!("v0={}", hex::encode(tag))
}

fn mac(secret: &[u8], timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac =
        <Hmac<Sha256> as hmac::Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
    const BODY: &[u8] = b"token=x&team_id=T1&command=%2Fincident&text=p1+Checkout+down";

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).unwrap()
    }

    #[test]
    fn a_signature_over_the_raw_body_verifies() {
        let signature = sign(SECRET, 1_700_000_000, BODY);

        assert_eq!(
            verify(
                SECRET,
                Some("1700000000"),
                Some(&signature),
                BODY,
                at(1_700_000_299)
            ),
            Ok(())
        );
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_the_v0_base_string() {
        // Computed independently: printf 'v0:1:hello' | openssl dgst -sha256 -hmac key
        assert_eq!(
            sign(b"key", 1, b"hello"),
            "v0=b9c223743fc4de5bff966d3032cd0a247cdcf6c7b3e9700ef829511be48563a8"
        );
    }

    #[test]
    fn missing_headers_are_refused() {
        let signature = sign(SECRET, 1_700_000_000, BODY);
        let now = at(1_700_000_000);

        assert_eq!(
            verify(SECRET, None, Some(&signature), BODY, now),
            Err(VerifyError::MissingTimestamp)
        );
        assert_eq!(
            verify(SECRET, Some("1700000000"), None, BODY, now),
            Err(VerifyError::MissingSignature)
        );
        assert_eq!(
            verify(SECRET, Some("soon"), Some(&signature), BODY, now),
            Err(VerifyError::BadTimestamp)
        );
    }

    #[test]
    fn requests_older_or_newer_than_five_minutes_are_refused() {
        let signature = sign(SECRET, 1_700_000_000, BODY);

        assert_eq!(
            verify(
                SECRET,
                Some("1700000000"),
                Some(&signature),
                BODY,
                at(1_700_000_301)
            ),
            Err(VerifyError::Stale { skew_s: 301 })
        );
        assert_eq!(
            verify(
                SECRET,
                Some("1700000000"),
                Some(&signature),
                BODY,
                at(1_699_999_600)
            ),
            Err(VerifyError::Stale { skew_s: 400 })
        );
    }

    #[test]
    fn a_changed_body_secret_or_timestamp_is_refused() {
        let signature = sign(SECRET, 1_700_000_000, BODY);
        let now = at(1_700_000_000);
        let tampered = b"token=x&team_id=T1&command=%2Fincident&text=p1+Checkout+up";

        assert_eq!(
            verify(SECRET, Some("1700000000"), Some(&signature), tampered, now),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(b"other", Some("1700000000"), Some(&signature), BODY, now),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, Some("1700000001"), Some(&signature), BODY, now),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, Some("1700000000"), Some("v1=abcd"), BODY, now),
            Err(VerifyError::MalformedSignature)
        );
        assert_eq!(
            verify(SECRET, Some("1700000000"), Some("v0=zz"), BODY, now),
            Err(VerifyError::MalformedSignature)
        );
    }
}
