//! Contact-method verification (issue #4): the one flow behind `dutybell contact` and the
//! admin API. Sending a code draws it from the OS random generator, stores only its HMAC
//! with an expiry, and sends it through the contact; confirming judges one attempt; a
//! listing says where each contact stands. Escalation reads the result through
//! `store::verification::verified_of`.
//!
//! A person with two contacts of one kind that both need a code verifies the first one
//! listed; name the other differently (sms and voice, say) until codes take an address.

use jiff::Timestamp;
use rand::TryRngCore as _;
use secrecy::ExposeSecret as _;

use crate::config::{ChannelKind, Config, Contact, Person};
use crate::domain::verification::{CODE_TTL, Code, ContactKey, Outcome, Status};
use crate::notify::{Notifiers, NotifyError};
use crate::store::{self, Store, StoreError};

/// Why a verification step could not run. Codes and addresses never appear here.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("no person {0:?} in team.toml")]
    NoPerson(String),
    #[error("{person:?} has no {kind} contact")]
    NoContact { person: String, kind: String },
    #[error(
        "{person:?}'s {kind} contact needs no code: only contacts with `verify = true` \
         in team.toml are verified"
    )]
    NotRequired { person: String, kind: String },
    #[error("a code is six digits")]
    BadCode,
    #[error("sending the code failed: {0}")]
    Send(#[source] NotifyError),
    #[error("the OS random generator failed: {0}")]
    Random(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where one contact stands.
#[derive(Clone, Debug)]
pub struct ContactState {
    pub person: String,
    pub kind: ChannelKind,
    pub address: String,
    pub status: Status,
}

/// The contact of `person` named by `kind` that needs a code, with its key.
fn find<'a>(
    config: &'a Config,
    person: &str,
    kind: &str,
) -> Result<(&'a Contact, ContactKey), VerifyError> {
    let found: &Person = config
        .person(person)
        .ok_or_else(|| VerifyError::NoPerson(person.to_string()))?;
    let no_contact = || VerifyError::NoContact {
        person: person.to_string(),
        kind: kind.to_string(),
    };
    let parsed = ChannelKind::parse(kind).ok_or_else(no_contact)?;
    let mut same_kind = found
        .contacts
        .iter()
        .filter(|c| c.kind == parsed)
        .peekable();
    if same_kind.peek().is_none() {
        return Err(no_contact());
    }
    let contact = same_kind
        .find(|c| c.verify)
        .ok_or_else(|| VerifyError::NotRequired {
            person: person.to_string(),
            kind: kind.to_string(),
        })?;
    let key = ContactKey::new(&found.id, contact.kind.as_str(), &contact.address);
    Ok((contact, key))
}

/// A fresh code from the OS random generator.
fn draw() -> Result<Code, VerifyError> {
    loop {
        let n = rand::rngs::OsRng
            .try_next_u32()
            .map_err(|err| VerifyError::Random(err.to_string()))?;
        if let Some(code) = Code::from_random(n) {
            return Ok(code);
        }
    }
}

/// Sends a new code to `person`'s `kind` contact, replacing any pending one; returns when
/// it expires. The code is stored before it is sent, so it is never out without a record.
#[tracing::instrument(skip_all, fields(user.id = %person, channel = %kind))]
pub async fn send_code(
    store: &Store,
    config: &Config,
    notifiers: &Notifiers,
    person: &str,
    kind: &str,
    now: Timestamp,
) -> Result<Timestamp, VerifyError> {
    let (contact, key) = find(config, person, kind)?;
    let code = draw()?;
    let secret = config.settings.signing_secret.expose_secret().as_bytes();
    let expires_at = now.saturating_add(CODE_TTL).unwrap_or(now);

    store::verification::start(store, &key, &code.hash(secret, &key), expires_at, now).await?;
    notifiers
        .send_code(contact, &code, now)
        .await
        .map_err(VerifyError::Send)?;
    tracing::info!(expires_at = %expires_at, "verification code sent");
    Ok(expires_at)
}

/// Judges `code` for `person`'s `kind` contact at `now`.
#[tracing::instrument(skip_all, fields(user.id = %person, channel = %kind))]
pub async fn confirm(
    store: &Store,
    config: &Config,
    person: &str,
    kind: &str,
    code: &str,
    now: Timestamp,
) -> Result<Outcome, VerifyError> {
    let (_, key) = find(config, person, kind)?;
    let code = Code::parse(code).ok_or(VerifyError::BadCode)?;
    let secret = config.settings.signing_secret.expose_secret().as_bytes();

    let outcome = store::verification::confirm(
        store,
        &key,
        |stored| code.matches(secret, &key, stored),
        now,
    )
    .await?;
    match outcome {
        Outcome::Verified => tracing::info!("contact verified"),
        other => tracing::info!(outcome = ?other, "verification refused"),
    }
    Ok(outcome)
}

/// Every contact of `person` (or of everyone), in config order, with its status at `now`.
pub async fn states(
    store: &Store,
    config: &Config,
    person: Option<&str>,
    now: Timestamp,
) -> Result<Vec<ContactState>, VerifyError> {
    if let Some(id) = person
        && config.person(id).is_none()
    {
        return Err(VerifyError::NoPerson(id.to_string()));
    }
    let stored = store::verification::list(store, person).await?;
    let mut states = Vec::new();
    let people = config
        .people
        .values()
        .filter(|p| person.is_none_or(|id| p.id == id));
    for found in people {
        for contact in &found.contacts {
            let key = ContactKey::new(&found.id, contact.kind.as_str(), &contact.address);
            let row = stored.iter().find(|row| row.key == key);
            let status = Status::of(
                contact.verify,
                row.and_then(|r| r.verified_at),
                row.and_then(|r| r.pending.as_ref()),
                now,
            );
            states.push(ContactState {
                person: found.id.clone(),
                kind: contact.kind,
                address: contact.address.clone(),
                status,
            });
        }
    }
    Ok(states)
}
