//! Direct pages (on-call spec §1.4): alerts on the built-in `direct` service whose one-step
//! policy names the chosen people, stored on the alert itself.

use jiff::Timestamp;

use super::alerts::add_event;
use super::{Result, Store, StoreError, to_ms};
use crate::domain::alert::Severity;
use crate::domain::direct::{DirectPage, SERVICE};

/// Opens the alert for a direct page, due to escalate at once, with its `created` entry;
/// returns its id. `by` is who paged, `via` the surface (`api`, `cli`).
pub async fn open(
    store: &Store,
    page: &DirectPage,
    by: &str,
    via: &str,
    now: Timestamp,
) -> Result<i64> {
    let mut tx = store.begin().await?;
    let id = open_in(&mut tx, page, by, via, now).await?;
    tx.commit().await?;
    Ok(id)
}

/// Opens a direct page inside the caller's transaction (an incident paging responders).
pub(crate) async fn open_in(
    conn: &mut sqlx::SqliteConnection,
    page: &DirectPage,
    by: &str,
    via: &str,
    now: Timestamp,
) -> Result<i64> {
    let people = serde_json::to_string(&page.people)
        .map_err(|err| StoreError::Corrupt(format!("direct page people: {err}")))?;
    // Every direct page is its own alert: the key is never reused.
    let key = format!("direct:{}", ulid::Ulid::new());
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO alerts (service_id, integration_id, dedup_key, summary, details, severity, \
         source, state, created_at, updated_at, policy_id, esc_waiting, next_escalation_at, \
         direct_people) \
         VALUES (?, ?, ?, ?, '', ?, ?, 'triggered', ?, ?, ?, 1, ?, ?) RETURNING id",
    )
    .bind(SERVICE)
    .bind(SERVICE)
    .bind(&key)
    .bind(&page.summary)
    .bind(Severity::Critical.as_str())
    .bind(format!("{via}:{by}"))
    .bind(to_ms(now))
    .bind(to_ms(now))
    .bind(SERVICE)
    .bind(to_ms(now))
    .bind(people)
    .fetch_one(&mut *conn)
    .await?;
    let detail = serde_json::json!({
        "summary": page.summary,
        "severity": Severity::Critical.as_str(),
        "direct": { "people": page.people, "via": via },
    });
    add_event(conn, id, now, "created", Some(by), detail).await?;
    Ok(id)
}

/// The people a direct page's alert targets; empty for any other alert.
pub async fn people(store: &Store, alert_id: i64) -> Result<Vec<String>> {
    let text: Option<Option<String>> =
        sqlx::query_scalar("SELECT direct_people FROM alerts WHERE id = ?")
            .bind(alert_id)
            .fetch_optional(store.pool())
            .await?;
    match text.ok_or(StoreError::NotFound)? {
        None => Ok(Vec::new()),
        Some(text) => serde_json::from_str(&text)
            .map_err(|err| StoreError::Corrupt(format!("direct page people: {err}"))),
    }
}
