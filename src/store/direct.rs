//! Direct pages (on-call spec §1.4) and the other alerts a person opens rather than a
//! sender: pages on the built-in `direct` service, whose one-step policy's targets (people,
//! or a schedule) are stored on the alert itself, and pages to a service's on-call, opened
//! on that service with its policy. Incidents page responders through the same inserts.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::alerts::add_event;
use super::{Result, Store, StoreError, to_ms};
use crate::domain::alert::Severity;
use crate::domain::direct::{DirectPage, Page, Reach, SERVICE};
use crate::domain::escalation::Target;

/// A direct page's targets as stored in `alerts.direct_people`: a JSON list of person ids
/// (the original shape), or `{"schedule": id}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Stored {
    People(Vec<String>),
    Schedule { schedule: String },
}

/// An alert a person opens, due to escalate at once; every such alert is `critical`.
pub(crate) struct Opening<'a> {
    pub service: &'a str,
    /// Scopes the dedup key (the open-key index is per integration): `direct`, `incident`.
    pub integration: &'a str,
    pub policy: &'a str,
    pub key: String,
    pub summary: &'a str,
    /// Who opened it and from where, e.g. `api:ben`.
    pub source: String,
    /// The stored targets of a page on the `direct` service; `None` elsewhere.
    pub targets: Option<String>,
    /// One more field of the `created` entry beside the summary and severity, such as
    /// `("incident", 4)`.
    pub detail: (&'static str, serde_json::Value),
}

/// Inserts the alert and its `created` entry inside the caller's transaction, with its
/// first escalation due at `now`; returns its id.
pub(crate) async fn insert_in(
    conn: &mut sqlx::AnyConnection,
    alert: &Opening<'_>,
    actor: &str,
    now: Timestamp,
) -> Result<i64> {
    let severity = Severity::Critical.as_str();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO alerts (service_id, integration_id, dedup_key, summary, details, severity, \
         source, state, created_at, updated_at, policy_id, esc_waiting, next_escalation_at, \
         direct_people) \
         VALUES ($1, $2, $3, $4, '', $5, $6, 'triggered', $7, $8, $9, 1, $10, $11) RETURNING id",
    )
    .bind(alert.service)
    .bind(alert.integration)
    .bind(&alert.key)
    .bind(alert.summary)
    .bind(severity)
    .bind(&alert.source)
    .bind(to_ms(now))
    .bind(to_ms(now))
    .bind(alert.policy)
    .bind(to_ms(now))
    .bind(&alert.targets)
    .fetch_one(&mut *conn)
    .await?;
    let (field, value) = &alert.detail;
    let mut detail = serde_json::json!({ "summary": alert.summary, "severity": severity });
    detail[*field] = value.clone();
    add_event(conn, id, now, "created", Some(actor), detail).await?;
    Ok(id)
}

/// Opens the alert for a page, due to escalate at once, with its `created` entry; returns
/// its id. `by` is who paged, `via` the surface (`api`, `cli`).
pub async fn open(store: &Store, page: &Page, by: &str, via: &str, now: Timestamp) -> Result<i64> {
    let mut tx = store.begin().await?;
    let id = match &page.reach {
        Reach::People(people) => {
            let people = DirectPage {
                people: people.clone(),
                summary: page.summary.clone(),
            };
            open_in(&mut tx, &people, by, via, now).await?
        }
        Reach::Schedule(schedule) => {
            let stored = Stored::Schedule {
                schedule: schedule.clone(),
            };
            let detail = serde_json::json!({ "schedule": schedule, "via": via });
            let alert = on_direct(&page.summary, &stored, detail, by, via)?;
            insert_in(&mut tx, &alert, by, now).await?
        }
        Reach::Service { service, policy } => {
            // A person's deliberate page: maintenance windows never hold it.
            let alert = Opening {
                service,
                integration: SERVICE,
                policy,
                key: fresh_key(),
                summary: &page.summary,
                source: format!("{via}:{by}"),
                targets: None,
                detail: (
                    "direct",
                    serde_json::json!({ "service": service, "via": via }),
                ),
            };
            insert_in(&mut tx, &alert, by, now).await?
        }
    };
    tx.commit().await?;
    Ok(id)
}

/// Opens a page to people inside the caller's transaction (an incident paging responders).
pub(crate) async fn open_in(
    conn: &mut sqlx::AnyConnection,
    page: &DirectPage,
    by: &str,
    via: &str,
    now: Timestamp,
) -> Result<i64> {
    let stored = Stored::People(page.people.clone());
    let detail = serde_json::json!({ "people": page.people, "via": via });
    let alert = on_direct(&page.summary, &stored, detail, by, via)?;
    insert_in(conn, &alert, by, now).await
}

/// A page on the `direct` service with these stored targets.
fn on_direct<'a>(
    summary: &'a str,
    targets: &Stored,
    detail: serde_json::Value,
    by: &str,
    via: &str,
) -> Result<Opening<'a>> {
    let targets = serde_json::to_string(targets)
        .map_err(|err| StoreError::Corrupt(format!("direct page targets: {err}")))?;
    Ok(Opening {
        service: SERVICE,
        integration: SERVICE,
        policy: SERVICE,
        key: fresh_key(),
        summary,
        source: format!("{via}:{by}"),
        targets: Some(targets),
        detail: ("direct", detail),
    })
}

/// Every direct page is its own alert: the key is never reused.
fn fresh_key() -> String {
    format!("direct:{}", ulid::Ulid::new())
}

/// The targets of a page on the `direct` service (its people, or its schedule); empty for
/// any other alert.
pub async fn targets(store: &Store, alert_id: i64) -> Result<Vec<Target>> {
    let text: Option<Option<String>> =
        sqlx::query_scalar("SELECT direct_people FROM alerts WHERE id = $1")
            .bind(alert_id)
            .fetch_optional(store.pool())
            .await?;
    let Some(text) = text.ok_or(StoreError::NotFound)? else {
        return Ok(Vec::new());
    };
    let stored: Stored = serde_json::from_str(&text)
        .map_err(|err| StoreError::Corrupt(format!("direct page targets: {err}")))?;
    Ok(match stored {
        Stored::People(people) => people.into_iter().map(Target::Person).collect(),
        Stored::Schedule { schedule } => vec![Target::Schedule(schedule)],
    })
}
