//! Contact-method verification state (issue #4), one row per (person, kind, address): the
//! HMAC of a pending code, its expiry and wrong attempts, and when the contact was
//! verified. `domain::verification` decides what an attempt means; this module keeps it.

use jiff::Timestamp;
use sqlx::Row as _;

use super::{Result, Store, StoreError, from_ms, from_ms_opt, to_ms};
use crate::domain::verification::{self, ContactKey, Outcome, Pending};

/// What is stored for one contact.
#[derive(Clone, Debug)]
pub struct Stored {
    pub key: ContactKey,
    pub verified_at: Option<Timestamp>,
    pub pending: Option<Pending>,
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<Stored> {
    let hash: Option<String> = row.try_get("code_hash")?;
    let expires: Option<i64> = row.try_get("code_expires_at")?;
    let attempts: i64 = row.try_get("attempts")?;
    let pending = match (hash, expires) {
        (Some(code_hash), Some(expires)) => Some(Pending {
            code_hash,
            expires_at: from_ms(expires)?,
            attempts: u32::try_from(attempts)
                .map_err(|_| StoreError::Corrupt("verification attempts".into()))?,
        }),
        _ => None,
    };
    Ok(Stored {
        key: ContactKey {
            person: row.try_get("person_id")?,
            kind: row.try_get("kind")?,
            address: row.try_get("address")?,
        },
        verified_at: from_ms_opt(row.try_get("verified_at")?)?,
        pending,
    })
}

const COLUMNS: &str = "person_id, kind, address, code_hash, code_expires_at, attempts, verified_at";

/// Records a newly sent code for `key`: replaces any pending one and resets the attempt
/// count. A contact already verified stays verified.
pub async fn start(
    store: &Store,
    key: &ContactKey,
    code_hash: &str,
    expires_at: Timestamp,
    now: Timestamp,
) -> Result<()> {
    let mut tx = store.begin().await?;
    sqlx::query(
        "INSERT INTO contact_verifications \
         (person_id, kind, address, code_hash, code_expires_at, attempts, code_sent_at) \
         VALUES ($1, $2, $3, $4, $5, 0, $6) \
         ON CONFLICT (person_id, kind, address) DO UPDATE SET \
         code_hash = excluded.code_hash, code_expires_at = excluded.code_expires_at, \
         attempts = 0, code_sent_at = excluded.code_sent_at",
    )
    .bind(&key.person)
    .bind(&key.kind)
    .bind(&key.address)
    .bind(code_hash)
    .bind(to_ms(expires_at))
    .bind(to_ms(now))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Judges one attempt at `now` and stores its effect, in one write transaction so that
/// concurrent attempts cannot both use the last try: a wrong code counts, a right one
/// marks the contact verified and uses the code up. `matches` checks the presented code
/// against the stored hash.
pub async fn confirm(
    store: &Store,
    key: &ContactKey,
    matches: impl FnOnce(&str) -> bool,
    now: Timestamp,
) -> Result<Outcome> {
    let mut tx = store.begin().await?;
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM contact_verifications \
         WHERE person_id = $1 AND kind = $2 AND address = $3"
    ))
    .bind(&key.person)
    .bind(&key.kind)
    .bind(&key.address)
    .fetch_optional(&mut *tx)
    .await?;
    let stored = row.as_ref().map(from_row).transpose()?;
    let outcome = verification::judge(
        stored.as_ref().and_then(|s| s.pending.as_ref()),
        matches,
        now,
    );
    let query = match outcome {
        Outcome::Verified => sqlx::query(
            "UPDATE contact_verifications SET verified_at = $1, code_hash = NULL, \
             code_expires_at = NULL, attempts = 0 \
             WHERE person_id = $2 AND kind = $3 AND address = $4",
        )
        .bind(to_ms(now)),
        Outcome::Wrong { .. } => sqlx::query(
            "UPDATE contact_verifications SET attempts = attempts + 1 \
             WHERE person_id = $1 AND kind = $2 AND address = $3",
        ),
        Outcome::Expired | Outcome::Locked | Outcome::NoCode => return Ok(outcome),
    };
    query
        .bind(&key.person)
        .bind(&key.kind)
        .bind(&key.address)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(outcome)
}

/// The verified contacts of `person`.
pub async fn verified_of(store: &Store, person: &str) -> Result<Vec<ContactKey>> {
    let rows = sqlx::query(
        "SELECT person_id, kind, address FROM contact_verifications \
         WHERE person_id = $1 AND verified_at IS NOT NULL",
    )
    .bind(person)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(ContactKey {
                person: row.try_get("person_id")?,
                kind: row.try_get("kind")?,
                address: row.try_get("address")?,
            })
        })
        .collect()
}

/// Everything stored for `person`, or for everyone.
pub async fn list(store: &Store, person: Option<&str>) -> Result<Vec<Stored>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM contact_verifications \
         WHERE $1 IS NULL OR person_id = $1 ORDER BY person_id, kind, address"
    ))
    .bind(person)
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(from_row).collect()
}
