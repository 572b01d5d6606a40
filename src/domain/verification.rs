//! Contact-method verification (on-call spec §1.1, issue #4): the code a person reads back
//! before an sms, voice or email contact with `verify = true` may carry pages, and what one
//! attempt to confirm it means.
//!
//! Codes are never stored or logged. The database keeps an HMAC over the code and its
//! contact under the instance signing secret: six digits behind a plain hash would fall to
//! anyone holding a copy of the database. `store::verification` keeps the HMAC, the expiry
//! and the attempt count; `engine::verification` generates, sends and confirms.

use std::collections::BTreeSet;
use std::fmt;

use hmac::{Hmac, Mac as _};
use jiff::{SignedDuration, Timestamp};
use sha2::Sha256;

/// How long a code is accepted after it was sent.
pub const CODE_TTL: SignedDuration = SignedDuration::from_mins(15);
/// Wrong codes accepted against one sent code; then it is locked until a new one is sent.
pub const MAX_ATTEMPTS: u32 = 5;
/// Codes are six decimal digits.
const SPACE: u32 = 1_000_000;

/// What a verification is about: one contact of one person. A changed address is a new
/// key, so the contact is unverified again.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ContactKey {
    pub person: String,
    /// `sms`, `voice` or `email`.
    pub kind: String,
    /// The E.164 number or email address.
    pub address: String,
}

impl ContactKey {
    pub fn new(person: &str, kind: &str, address: &str) -> ContactKey {
        ContactKey {
            person: person.to_string(),
            kind: kind.to_string(),
            address: address.to_string(),
        }
    }
}

/// The contacts confirmed so far.
pub type Verified = BTreeSet<ContactKey>;

/// A six-digit code. `Debug` shows no digits, so a code cannot reach a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Code(String);

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Code(******)")
    }
}

impl Code {
    /// A code from a uniformly random `u32`. `None` for the top sliver of values, which
    /// would make low codes likelier than high ones: the caller draws again.
    pub fn from_random(n: u32) -> Option<Code> {
        const LIMIT: u32 = (u32::MAX / SPACE) * SPACE;
        (n < LIMIT).then(|| Code(format!("{:06}", n % SPACE)))
    }

    /// A code as a person typed it: six ASCII digits, surrounding spaces ignored.
    pub fn parse(text: &str) -> Option<Code> {
        let text = text.trim();
        (text.len() == 6 && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| Code(text.to_string()))
    }

    /// The digits, for the message that carries them and nothing else.
    pub fn digits(&self) -> &str {
        &self.0
    }

    /// Lowercase hex HMAC-SHA256 of the code bound to `key`, under `secret`: what is
    /// stored instead of the code.
    pub fn hash(&self, secret: &[u8], key: &ContactKey) -> String {
        hex::encode(mac(secret, key, self).finalize().into_bytes())
    }

    /// Whether `stored` is this code's hash for `key`, compared in constant time.
    pub fn matches(&self, secret: &[u8], key: &ContactKey, stored: &str) -> bool {
        let Ok(stored) = hex::decode(stored) else {
            return false;
        };
        mac(secret, key, self).verify_slice(&stored).is_ok()
    }
}

fn mac(secret: &[u8], key: &ContactKey, code: &Code) -> Hmac<Sha256> {
    let mut mac =
        <Hmac<Sha256> as hmac::Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    // Separators keep ("ab", "c") and ("a", "bc") apart.
    mac.update(b"dutybell contact verification\0");
    for part in [&key.person, &key.kind, &key.address] {
        mac.update(part.as_bytes());
        mac.update(b"\0");
    }
    mac.update(code.0.as_bytes());
    mac
}

/// A sent code waiting to be confirmed, as stored.
#[derive(Clone, Debug)]
pub struct Pending {
    pub code_hash: String,
    pub expires_at: Timestamp,
    /// Wrong codes entered so far.
    pub attempts: u32,
}

/// What one confirmation attempt comes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Verified,
    /// The code was wrong; `left` more tries before the code locks (0: it just locked).
    Wrong {
        left: u32,
    },
    Expired,
    /// Too many wrong codes were entered against this one.
    Locked,
    /// No code was sent, or it was already used.
    NoCode,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Verified => f.write_str("verified"),
            Outcome::Wrong { left: 0 } => f.write_str(
                "wrong code; that was the last attempt, send a new code with `contact verify`",
            ),
            Outcome::Wrong { left } => write!(f, "wrong code; {left} attempt(s) left"),
            Outcome::Expired => f.write_str(
                "the code has expired (codes last 15 minutes); send a new one with \
                 `contact verify`",
            ),
            Outcome::Locked => f.write_str(
                "too many wrong codes; send a new code with `contact verify` and use that",
            ),
            Outcome::NoCode => {
                f.write_str("no code is pending for this contact; send one with `contact verify`")
            }
        }
    }
}

/// Judges one attempt at `now`; `matches` says whether the presented code hashes to the
/// stored one. Expired and locked codes are refused before the code is even looked at.
pub fn judge(
    pending: Option<&Pending>,
    matches: impl FnOnce(&str) -> bool,
    now: Timestamp,
) -> Outcome {
    let Some(pending) = pending else {
        return Outcome::NoCode;
    };
    if pending.attempts >= MAX_ATTEMPTS {
        return Outcome::Locked;
    }
    if now >= pending.expires_at {
        return Outcome::Expired;
    }
    if matches(&pending.code_hash) {
        Outcome::Verified
    } else {
        Outcome::Wrong {
            left: MAX_ATTEMPTS - pending.attempts - 1,
        }
    }
}

/// Where a contact stands, for listings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// No `verify = true`: usable as it is.
    NotRequired,
    Verified {
        at: Timestamp,
    },
    /// A code was sent and may still be confirmed.
    CodeSent {
        expires_at: Timestamp,
    },
    /// Needs a code: none sent, the last one expired or was locked.
    Unverified,
}

impl Status {
    /// From the contact's `verify` flag, what is stored for it, and `now`.
    pub fn of(
        required: bool,
        verified_at: Option<Timestamp>,
        pending: Option<&Pending>,
        now: Timestamp,
    ) -> Status {
        if !required {
            return Status::NotRequired;
        }
        if let Some(at) = verified_at {
            return Status::Verified { at };
        }
        match pending {
            Some(p) if p.attempts < MAX_ATTEMPTS && now < p.expires_at => Status::CodeSent {
                expires_at: p.expires_at,
            },
            _ => Status::Unverified,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotRequired => "not_required",
            Status::Verified { .. } => "verified",
            Status::CodeSent { .. } => "code_sent",
            Status::Unverified => "unverified",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ContactKey {
        ContactKey::new("vera", "email", "vera@example.com")
    }

    fn pending(attempts: u32) -> Pending {
        let code = Code::parse("123456").unwrap();
        Pending {
            code_hash: code.hash(b"secret", &key()),
            expires_at: "2025-06-12T03:15:00Z".parse().unwrap(),
            attempts,
        }
    }

    #[test]
    fn codes_are_six_digits_without_bias() {
        assert_eq!(Code::from_random(42).unwrap().digits(), "000042");
        assert_eq!(Code::from_random(1_999_999).unwrap().digits(), "999999");
        assert!(Code::from_random(u32::MAX).is_none());
        assert!(Code::from_random(4_294_000_000).is_none());
        assert!(Code::from_random(4_293_999_999).is_some());
        assert_eq!(
            format!("{:?}", Code::parse("123456").unwrap()),
            "Code(******)"
        );
        assert!(Code::parse(" 012345 ").is_some());
        for bad in ["12345", "1234567", "12a456", "", "１２３４５６"] {
            assert!(Code::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn the_hash_binds_the_code_to_its_contact_and_secret() {
        let code = Code::parse("123456").unwrap();
        let stored = code.hash(b"secret", &key());

        assert!(code.matches(b"secret", &key(), &stored));
        assert!(!code.matches(b"other", &key(), &stored));
        let moved = ContactKey::new("vera", "email", "vera@example.org");
        assert!(!code.matches(b"secret", &moved, &stored));
        assert!(
            !Code::parse("123457")
                .unwrap()
                .matches(b"secret", &key(), &stored)
        );
        assert!(!code.matches(b"secret", &key(), "not hex"));
    }

    #[test]
    fn attempts_are_judged_in_order_locked_expired_then_code() {
        let before: Timestamp = "2025-06-12T03:14:59Z".parse().unwrap();
        let at_expiry: Timestamp = "2025-06-12T03:15:00Z".parse().unwrap();
        let right = |_: &str| true;
        let wrong = |_: &str| false;

        assert_eq!(judge(None, right, before), Outcome::NoCode);
        assert_eq!(judge(Some(&pending(0)), right, before), Outcome::Verified);
        assert_eq!(
            judge(Some(&pending(0)), wrong, before),
            Outcome::Wrong { left: 4 }
        );
        assert_eq!(
            judge(Some(&pending(4)), wrong, before),
            Outcome::Wrong { left: 0 }
        );
        assert_eq!(judge(Some(&pending(4)), right, before), Outcome::Verified);
        assert_eq!(judge(Some(&pending(5)), right, before), Outcome::Locked);
        assert_eq!(judge(Some(&pending(0)), right, at_expiry), Outcome::Expired);
    }
}
