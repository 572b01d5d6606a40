//! Email subscribers (comms spec §4.8): double opt-in, component filters, personal
//! unsubscribe tokens and the outbox of mail to them.
//!
//! Tokens are 32 random bytes (base64url in links) stored only as their SHA-256, so the
//! database never holds a working link: a confirmation or unsubscribe token is made when
//! its mail is sent. Mail rows name what they are about and are rendered at sending.

use base64::Engine as _;
use jiff::{SignedDuration, Timestamp};
use rand::RngCore as _;
use sqlx::{AnyConnection, Row as _};

use crate::domain::fingerprint::sha256_hex;
use crate::store::{Result, Store, StoreError, from_ms, to_ms};

/// Confirmation mails per address per rolling 24 hours.
pub const MAX_CONFIRMATIONS_PER_DAY: i64 = 3;
/// How long a confirmation link works.
pub const CONFIRM_VALID: SignedDuration = SignedDuration::from_hours(48);
/// Unconfirmed subscribers are deleted after this long.
pub const UNCONFIRMED_KEPT: SignedDuration = SignedDuration::from_hours(7 * 24);

/// What a mail is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailKind {
    /// The double opt-in mail with the confirmation link.
    Confirm,
    /// A public incident was published or updated.
    Incident,
    /// A maintenance was scheduled, is near, started or completed.
    Maintenance,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::Confirm => "confirm",
            MailKind::Incident => "incident",
            MailKind::Maintenance => "maintenance",
        }
    }

    fn parse(text: &str) -> Result<MailKind> {
        match text {
            "confirm" => Ok(MailKind::Confirm),
            "incident" => Ok(MailKind::Incident),
            "maintenance" => Ok(MailKind::Maintenance),
            other => Err(StoreError::Corrupt(format!(
                "subscriber mail kind {other:?}"
            ))),
        }
    }
}

/// What a token opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenPurpose {
    Confirm,
    Unsubscribe,
}

impl TokenPurpose {
    fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::Confirm => "confirm",
            TokenPurpose::Unsubscribe => "unsubscribe",
        }
    }
}

/// A new token: 32 bytes from the OS-seeded generator, base64url without padding.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn token_hash(token: &str) -> String {
    sha256_hex(&[token.trim()])
}

/// Subscribes `email` to `components` (keys; empty for all). Answers nothing about the
/// address: a new or unconfirmed address gets a confirmation mail queued (at most
/// [`MAX_CONFIRMATIONS_PER_DAY`] per rolling day); a confirmed one is left as it is, so
/// nobody can change another person's subscription. Returns whether a mail was queued.
pub async fn subscribe(
    store: &Store,
    email: &str,
    components: &[String],
    now: Timestamp,
) -> Result<bool> {
    let filter =
        serde_json::to_string(components).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut tx = store.begin().await?;
    let found: Option<(String, Option<i64>)> =
        sqlx::query_as("SELECT id, confirmed_at FROM statuspage_subscribers WHERE email = $1")
            .bind(email)
            .fetch_optional(&mut *tx)
            .await?;
    let id = match found {
        Some((_, Some(_))) => {
            // TODO(#5): mail confirmed subscribers a "manage your subscription" link
            // instead of staying silent.
            return Ok(false);
        }
        Some((id, None)) => {
            // A new request: the 7-day purge counts from here, so a fresh link keeps working.
            sqlx::query(
                "UPDATE statuspage_subscribers SET components = $1, created_at = $2 WHERE id = $3",
            )
            .bind(&filter)
            .bind(to_ms(now))
            .bind(&id)
            .execute(&mut *tx)
            .await?;
            id
        }
        None => {
            let id = ulid::Ulid::new().to_string();
            sqlx::query(
                "INSERT INTO statuspage_subscribers (id, email, components, created_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&id)
            .bind(email)
            .bind(&filter)
            .bind(to_ms(now))
            .execute(&mut *tx)
            .await?;
            id
        }
    };
    let day_ago = now
        .saturating_sub(SignedDuration::from_hours(24))
        .unwrap_or(now);
    let sent: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM statuspage_outbox WHERE subscriber_id = $1 AND kind = 'confirm' \
         AND created_at > $2",
    )
    .bind(&id)
    .bind(to_ms(day_ago))
    .fetch_one(&mut *tx)
    .await?;
    let queue = sent < MAX_CONFIRMATIONS_PER_DAY;
    if queue {
        insert_mail(&mut tx, &id, MailKind::Confirm, None, now).await?;
    } else {
        tracing::info!(subscriber.id = %id, "confirmation mail limit reached; none queued");
    }
    tx.commit().await?;
    Ok(queue)
}

/// Whether `token` is a live token for `purpose`.
pub async fn token_valid(
    store: &Store,
    token: &str,
    purpose: TokenPurpose,
    now: Timestamp,
) -> Result<bool> {
    let mut conn = store.pool().acquire().await?;
    Ok(token_owner(&mut conn, token, purpose, now).await?.is_some())
}

async fn token_owner(
    conn: &mut AnyConnection,
    token: &str,
    purpose: TokenPurpose,
    now: Timestamp,
) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT subscriber_id FROM statuspage_subscriber_tokens WHERE token_hash = $1 \
         AND purpose = $2 AND (expires_at IS NULL OR expires_at > $3)",
    )
    .bind(token_hash(token))
    .bind(purpose.as_str())
    .bind(to_ms(now))
    .fetch_optional(&mut *conn)
    .await?)
}

/// Confirms the subscriber a live confirmation token belongs to; its confirmation tokens
/// go. Returns whether the token was live (confirming twice finds no token).
pub async fn confirm(store: &Store, token: &str, now: Timestamp) -> Result<bool> {
    let mut tx = store.begin().await?;
    let Some(id) = token_owner(&mut tx, token, TokenPurpose::Confirm, now).await? else {
        return Ok(false);
    };
    sqlx::query(
        "UPDATE statuspage_subscribers SET confirmed_at = COALESCE(confirmed_at, $1) WHERE id = $2",
    )
    .bind(to_ms(now))
    .bind(&id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "DELETE FROM statuspage_subscriber_tokens WHERE subscriber_id = $1 AND purpose = 'confirm'",
    )
    .bind(&id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(subscriber.id = %id, "status page subscriber confirmed");
    Ok(true)
}

/// Deletes the subscriber an unsubscribe token belongs to, with its tokens and unsent
/// mail. Returns whether the token was live.
pub async fn unsubscribe(store: &Store, token: &str, now: Timestamp) -> Result<bool> {
    let mut tx = store.begin().await?;
    let Some(id) = token_owner(&mut tx, token, TokenPurpose::Unsubscribe, now).await? else {
        return Ok(false);
    };
    sqlx::query("DELETE FROM statuspage_subscribers WHERE id = $1")
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(subscriber.id = %id, "status page subscriber unsubscribed");
    Ok(true)
}

/// Deletes subscribers left unconfirmed for [`UNCONFIRMED_KEPT`] and expired tokens.
/// Returns how many subscribers went.
pub async fn purge(store: &Store, now: Timestamp) -> Result<u64> {
    let cutoff = now.saturating_sub(UNCONFIRMED_KEPT).unwrap_or(now);
    let stale: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM statuspage_subscribers WHERE confirmed_at IS NULL \
         AND created_at <= $1",
    )
    .bind(to_ms(cutoff))
    .fetch_one(store.pool())
    .await?;
    let expired: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM statuspage_subscriber_tokens WHERE expires_at <= $1",
    )
    .bind(to_ms(now))
    .fetch_one(store.pool())
    .await?;
    if stale == 0 && expired == 0 {
        return Ok(0);
    }
    let mut tx = store.begin().await?;
    let gone = sqlx::query(
        "DELETE FROM statuspage_subscribers WHERE confirmed_at IS NULL AND created_at <= $1",
    )
    .bind(to_ms(cutoff))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query("DELETE FROM statuspage_subscriber_tokens WHERE expires_at <= $1")
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(gone)
}

/// Unsubscribe links in the newest this many mails to a subscriber always work.
pub const UNSUBSCRIBE_KEPT_NEWEST: i64 = 10;
/// Unsubscribe links younger than this always work.
pub const UNSUBSCRIBE_KEPT_FOR: SignedDuration = SignedDuration::from_hours(90 * 24);

/// Deletes at most `limit` unsubscribe tokens that are both older than
/// [`UNSUBSCRIBE_KEPT_FOR`] and not among a subscriber's [`UNSUBSCRIBE_KEPT_NEWEST`]
/// newest: every notice carries a fresh one, so rows grow with the mail sent. Returns how
/// many went; the engine calls it each pass until nothing is left.
pub async fn prune_tokens(store: &Store, now: Timestamp, limit: i64) -> Result<u64> {
    let cutoff = now.saturating_sub(UNSUBSCRIBE_KEPT_FOR).unwrap_or(now);
    let gone = sqlx::query(
        "DELETE FROM statuspage_subscriber_tokens WHERE token_hash IN (\
         SELECT token_hash FROM (SELECT token_hash, created_at, ROW_NUMBER() OVER (\
         PARTITION BY subscriber_id ORDER BY created_at DESC, token_hash) AS newest \
         FROM statuspage_subscriber_tokens WHERE purpose = $1) AS ranked \
         WHERE newest > $2 AND created_at < $3 LIMIT $4)",
    )
    .bind(TokenPurpose::Unsubscribe.as_str())
    .bind(UNSUBSCRIBE_KEPT_NEWEST)
    .bind(to_ms(cutoff))
    .bind(limit)
    .execute(store.pool())
    .await?
    .rows_affected();
    Ok(gone)
}

/// Makes a token for `subscriber_id`, storing only its hash; the caller mails it.
pub async fn issue_token(
    store: &Store,
    subscriber_id: &str,
    purpose: TokenPurpose,
    expires_at: Option<Timestamp>,
    now: Timestamp,
) -> Result<String> {
    let token = new_token();
    let mut tx = store.begin().await?;
    sqlx::query(
        "INSERT INTO statuspage_subscriber_tokens (token_hash, subscriber_id, purpose, \
         expires_at, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash(&token))
    .bind(subscriber_id)
    .bind(purpose.as_str())
    .bind(expires_at.map(to_ms))
    .bind(to_ms(now))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(token)
}

async fn insert_mail(
    conn: &mut AnyConnection,
    subscriber_id: &str,
    kind: MailKind,
    about: Option<(&str, &str, &str)>,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO statuspage_outbox (id, subscriber_id, kind, public_id, update_id, event, \
         state, due_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8)",
    )
    .bind(ulid::Ulid::new().to_string())
    .bind(subscriber_id)
    .bind(kind.as_str())
    .bind(about.map(|a| a.0))
    .bind(about.map(|a| a.1))
    .bind(about.map(|a| a.2))
    .bind(to_ms(now))
    .bind(to_ms(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Queues a notice about (public id, update id, event) for every confirmed subscriber
/// whose filter matches `components` (keys): an empty filter takes everything, and a
/// notice touching no component reaches everyone (§4.8). Returns how many were queued.
pub(crate) async fn queue_notices(
    conn: &mut AnyConnection,
    kind: MailKind,
    about: (&str, &str, &str),
    components: &[String],
    now: Timestamp,
) -> Result<usize> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, components FROM statuspage_subscribers WHERE confirmed_at IS NOT NULL",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut queued = 0;
    for (id, filter) in rows {
        let filter: Vec<String> = serde_json::from_str(&filter)
            .map_err(|e| StoreError::Corrupt(format!("subscriber components: {e}")))?;
        let wanted = filter.is_empty()
            || components.is_empty()
            || components.iter().any(|key| filter.contains(key));
        if wanted {
            insert_mail(conn, &id, kind, Some(about), now).await?;
            queued += 1;
        }
    }
    Ok(queued)
}

/// A mail whose time has come.
#[derive(Clone, Debug)]
pub struct PendingMail {
    /// Stable across retries: the Message-ID.
    pub id: String,
    pub subscriber_id: String,
    pub email: String,
    pub kind: MailKind,
    pub public_id: Option<String>,
    pub update_id: Option<String>,
    pub event: Option<String>,
    pub attempts: i64,
    pub created_at: Timestamp,
}

/// Mail due at `now`, oldest first.
pub async fn due_mail(store: &Store, now: Timestamp, limit: i64) -> Result<Vec<PendingMail>> {
    let rows = sqlx::query(
        "SELECT o.id, o.subscriber_id, s.email, o.kind, o.public_id, o.update_id, o.event, \
         o.attempts, o.created_at FROM statuspage_outbox o \
         JOIN statuspage_subscribers s ON s.id = o.subscriber_id \
         WHERE o.state = 'pending' AND o.due_at <= $1 ORDER BY o.due_at, o.id LIMIT $2",
    )
    .bind(to_ms(now))
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(PendingMail {
                id: row.try_get("id")?,
                subscriber_id: row.try_get("subscriber_id")?,
                email: row.try_get("email")?,
                kind: MailKind::parse(row.try_get("kind")?)?,
                public_id: row.try_get("public_id")?,
                update_id: row.try_get("update_id")?,
                event: row.try_get("event")?,
                attempts: row.try_get("attempts")?,
                created_at: from_ms(row.try_get("created_at")?)?,
            })
        })
        .collect()
}

/// What became of one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MailOutcome {
    Sent,
    Retry { at: Timestamp, error: String },
    Failed { error: String },
}

/// Stores the outcome of an attempt.
pub async fn record_mail(
    store: &Store,
    id: &str,
    outcome: &MailOutcome,
    now: Timestamp,
) -> Result<()> {
    let mut tx = store.begin().await?;
    let query = match outcome {
        MailOutcome::Sent => sqlx::query(
            "UPDATE statuspage_outbox SET state = 'sent', sent_at = $1, attempts = attempts + 1 \
             WHERE id = $2",
        )
        .bind(to_ms(now)),
        MailOutcome::Retry { at, error } => sqlx::query(
            "UPDATE statuspage_outbox SET due_at = $1, last_error = $2, attempts = attempts + 1 \
             WHERE id = $3",
        )
        .bind(to_ms(*at))
        .bind(error.clone()),
        MailOutcome::Failed { error } => sqlx::query(
            "UPDATE statuspage_outbox SET state = 'failed', last_error = $1, \
             attempts = attempts + 1 WHERE id = $2",
        )
        .bind(error.clone()),
    };
    query.bind(id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// The earliest due time of a pending mail.
pub async fn next_mail_at(store: &Store) -> Result<Option<Timestamp>> {
    let ms: Option<i64> =
        sqlx::query_scalar("SELECT MIN(due_at) FROM statuspage_outbox WHERE state = 'pending'")
            .fetch_one(store.pool())
            .await?;
    ms.map(from_ms).transpose()
}

/// What a notice tells: the public incident or maintenance and the update it is about.
#[derive(Clone, Debug, PartialEq)]
pub struct NoticeMatter {
    pub name: String,
    /// The status the update set (snake case).
    pub status: String,
    /// The update's Markdown body.
    pub body: String,
    pub display_at: Timestamp,
}

/// Reads what a notice about (`public_id`, `update_id`) says; `None` if either is gone.
pub async fn notice_matter(
    store: &Store,
    public_id: &str,
    update_id: &str,
) -> Result<Option<NoticeMatter>> {
    let row = sqlx::query(
        "SELECT i.name, u.status, u.body, u.display_at FROM statuspage_updates u \
         JOIN statuspage_incidents i ON i.id = u.public_id WHERE u.id = $1 AND i.id = $2",
    )
    .bind(update_id)
    .bind(public_id)
    .fetch_optional(store.pool())
    .await?;
    row.map(|row| {
        Ok(NoticeMatter {
            name: row.try_get("name")?,
            status: row.try_get("status")?,
            body: row.try_get("body")?,
            display_at: from_ms(row.try_get("display_at")?)?,
        })
    })
    .transpose()
}

/// How many confirmed subscribers there are (for the admin API and logs).
pub async fn confirmed_count(store: &Store) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM statuspage_subscribers WHERE confirmed_at IS NOT NULL",
    )
    .fetch_one(store.pool())
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let store = Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        (dir, store)
    }

    fn t(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    async fn subscriber_id(store: &Store, email: &str) -> Option<String> {
        sqlx::query_scalar("SELECT id FROM statuspage_subscribers WHERE email = $1")
            .bind(email)
            .fetch_optional(store.pool())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn old_unsubscribe_tokens_go_except_the_newest_ten_and_bounded() {
        let (_dir, store) = store().await;
        let day0 = t("2025-01-01T00:00:00Z");
        assert!(subscribe(&store, "a@example.com", &[], day0).await.unwrap());
        assert!(subscribe(&store, "b@example.com", &[], day0).await.unwrap());
        let a = subscriber_id(&store, "a@example.com").await.unwrap();
        let b = subscriber_id(&store, "b@example.com").await.unwrap();
        let mut tokens_a = Vec::new();
        for hour in 0..14 {
            let at = day0
                .saturating_add(SignedDuration::from_hours(hour))
                .unwrap();
            let token = issue_token(&store, &a, TokenPurpose::Unsubscribe, None, at).await;
            tokens_a.push(token.unwrap());
        }
        let old_b = issue_token(&store, &b, TokenPurpose::Unsubscribe, None, day0).await;
        let confirm_a = issue_token(&store, &a, TokenPurpose::Confirm, None, day0).await;
        let count = |purpose: &'static str| {
            let store = store.clone();
            async move {
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM statuspage_subscriber_tokens WHERE purpose = $1",
                )
                .bind(purpose)
                .fetch_one(store.pool())
                .await
                .unwrap();
                n
            }
        };

        // Exactly 90 days after the oldest token: none is older than that yet.
        let young = t("2025-04-01T00:00:00Z");
        assert_eq!(prune_tokens(&store, young, 100).await.unwrap(), 0);
        let late = t("2025-06-01T00:00:00Z");
        assert_eq!(prune_tokens(&store, late, 3).await.unwrap(), 3, "bounded");
        assert_eq!(prune_tokens(&store, late, 100).await.unwrap(), 1);
        assert_eq!(prune_tokens(&store, late, 100).await.unwrap(), 0);

        assert_eq!(
            count("unsubscribe").await,
            11,
            "a's newest ten and b's only one"
        );
        assert_eq!(count("confirm").await, 1, "other purposes are left alone");
        let kept = |token: &String| {
            let store = store.clone();
            let hash = token_hash(token);
            async move {
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM statuspage_subscriber_tokens WHERE token_hash = $1",
                )
                .bind(hash)
                .fetch_one(store.pool())
                .await
                .unwrap();
                n == 1
            }
        };
        for (i, token) in tokens_a.iter().enumerate() {
            assert_eq!(kept(token).await, i >= 4, "token {i}");
        }
        assert!(kept(&old_b.unwrap()).await);
        assert!(kept(&confirm_a.unwrap()).await);
    }

    #[tokio::test]
    async fn confirmation_tokens_expire_and_work_once_and_stale_rows_are_purged() {
        let (_dir, store) = store().await;
        let day0 = t("2025-06-01T00:00:00Z");
        assert!(subscribe(&store, "a@example.com", &[], day0).await.unwrap());
        assert!(subscribe(&store, "B@example.com", &[], day0).await.unwrap());
        let a = subscriber_id(&store, "a@example.com").await.unwrap();
        let b = subscriber_id(&store, "b@example.com").await.unwrap();
        let expires = Some(day0.saturating_add(CONFIRM_VALID).unwrap());
        let token_a = issue_token(&store, &a, TokenPurpose::Confirm, expires, day0).await;
        let token_b = issue_token(&store, &b, TokenPurpose::Confirm, expires, day0).await;
        let (token_a, token_b) = (token_a.unwrap(), token_b.unwrap());

        let late = t("2025-06-03T00:00:01Z");
        assert!(
            !confirm(&store, &token_b, late).await.unwrap(),
            "expired after 48 h"
        );
        assert!(confirm(&store, &token_a, day0).await.unwrap());
        assert!(!confirm(&store, &token_a, day0).await.unwrap(), "used up");
        assert_eq!(confirmed_count(&store).await.unwrap(), 1);
        assert_eq!(purge(&store, t("2025-06-07T23:59:59Z")).await.unwrap(), 0);
        assert_eq!(purge(&store, t("2025-06-08T00:00:00Z")).await.unwrap(), 1);

        assert_eq!(subscriber_id(&store, "b@example.com").await, None);
        assert!(
            subscriber_id(&store, "a@example.com").await.is_some(),
            "confirmed stays"
        );
        let stored: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM statuspage_subscriber_tokens WHERE token_hash = $1",
        )
        .bind(&token_a)
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!(stored, 0, "only hashes are stored");
    }

    #[tokio::test]
    async fn notices_reach_matching_confirmed_subscribers_only() {
        let (_dir, store) = store().await;
        let now = t("2025-06-01T00:00:00Z");
        for (email, filter) in [("all@x.com", vec![]), ("db@x.com", vec!["db".to_string()])] {
            subscribe(&store, email, &filter, now).await.unwrap();
            let id = subscriber_id(&store, email).await.unwrap();
            let token = issue_token(&store, &id, TokenPurpose::Confirm, None, now).await;
            assert!(confirm(&store, &token.unwrap(), now).await.unwrap());
        }
        subscribe(&store, "pending@x.com", &[], now).await.unwrap();

        let mut conn = store.pool().acquire().await.unwrap();
        sqlx::query(
            "INSERT INTO statuspage_incidents (id, kind, name, status, impact, started_at, \
             created_at, updated_at) VALUES ('p', 'incident', 'n', 'investigating', 'minor', \
             0, 0, 0)",
        )
        .execute(&mut *conn)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO statuspage_updates (id, public_id, status, body, display_at, \
             created_at, updated_at, deliver_notifications) \
             VALUES ('u', 'p', 'investigating', 'b', 0, 0, 0, 1)",
        )
        .execute(&mut *conn)
        .await
        .unwrap();
        let about = ("p", "u", "published");
        let (api, db) = (["api".to_string()], ["db".to_string()]);
        let to_api = queue_notices(&mut conn, MailKind::Incident, about, &api, now);
        assert_eq!(to_api.await.unwrap(), 1, "only the unfiltered subscriber");
        let to_db = queue_notices(&mut conn, MailKind::Incident, about, &db, now);
        assert_eq!(to_db.await.unwrap(), 2);
        let none = queue_notices(&mut conn, MailKind::Incident, about, &[], now);
        assert_eq!(
            none.await.unwrap(),
            2,
            "a notice touching nothing reaches everyone"
        );
    }
}
