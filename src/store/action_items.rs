//! Action items (comms spec §6.4): rows per incident in document order, their reminder
//! counter and next reminder instant. `engine::postmortems` decides what those are;
//! this module only keeps them. A new item also writes `action_item.created` on the
//! incident timeline, in the same transaction.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;
use sqlx::{AnyConnection, Row as _};

use super::incidents::{NewEvent, add_event};
use super::{Result, Store, StoreError, from_ms, from_ms_opt, to_ms};
use crate::domain::incident::Source;
use crate::domain::postmortem::{ItemRow, ItemStatus, ItemType};

/// One action item, with the incident it came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ActionItem {
    pub id: String,
    pub incident_id: String,
    pub incident_number: i64,
    pub position: i64,
    pub title: String,
    pub owner: Option<String>,
    pub due: Option<Date>,
    #[serde(rename = "type")]
    pub kind: ItemType,
    pub status: ItemStatus,
    /// Why it won't be done.
    pub reason: Option<String>,
    pub ticket_url: Option<String>,
    pub created_by: String,
    pub created_at: Timestamp,
    pub completed_at: Option<Timestamp>,
    #[serde(skip)]
    pub reminders_sent: i64,
    #[serde(skip)]
    pub next_reminder_at: Option<Timestamp>,
}

impl ActionItem {
    /// What the document's table shows of it.
    pub fn row(&self) -> ItemRow {
        ItemRow {
            title: self.title.clone(),
            ticket_url: self.ticket_url.clone(),
            owner: self.owner.clone(),
            due: self.due,
            kind: self.kind,
            status: self.status,
        }
    }
}

fn corrupt(what: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("action item {what}: {err}"))
}

const SELECT: &str = "SELECT a.*, i.number AS incident_number FROM action_items a \
    JOIN incidents i ON i.id = a.incident_id";

fn read(row: &sqlx::any::AnyRow) -> Result<ActionItem> {
    let due: Option<String> = row.try_get("due")?;
    let kind: String = row.try_get("kind")?;
    let status: String = row.try_get("status")?;
    Ok(ActionItem {
        id: row.try_get("id")?,
        incident_id: row.try_get("incident_id")?,
        incident_number: row.try_get("incident_number")?,
        position: row.try_get("position")?,
        title: row.try_get("title")?,
        owner: row.try_get("owner")?,
        due: due
            .map(|d| d.parse::<Date>())
            .transpose()
            .map_err(|err| corrupt("due", err))?,
        kind: kind.parse().map_err(|err| corrupt("kind", err))?,
        status: status.parse().map_err(|err| corrupt("status", err))?,
        reason: row.try_get("reason")?,
        ticket_url: row.try_get("ticket_url")?,
        created_by: row.try_get("created_by")?,
        created_at: from_ms(row.try_get("created_at")?)?,
        completed_at: from_ms_opt(row.try_get("completed_at")?)?,
        reminders_sent: row.try_get("reminders_sent")?,
        next_reminder_at: from_ms_opt(row.try_get("next_reminder_at")?)?,
    })
}

/// Writes `item` (insert or full update) inside the caller's transaction. A new one gets
/// `action_item.created` on the incident's timeline.
pub(crate) async fn save_in(
    conn: &mut AnyConnection,
    item: &ActionItem,
    source: Source,
    now: Timestamp,
) -> Result<()> {
    let existed: Option<String> = sqlx::query_scalar("SELECT id FROM action_items WHERE id = $1")
        .bind(&item.id)
        .fetch_optional(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO action_items (id, incident_id, position, title, owner, due, kind, status, \
         reason, ticket_url, created_by, created_at, completed_at, reminders_sent, \
         next_reminder_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
         ON CONFLICT (id) DO UPDATE SET position = excluded.position, title = excluded.title, \
         owner = excluded.owner, due = excluded.due, kind = excluded.kind, \
         status = excluded.status, reason = excluded.reason, ticket_url = excluded.ticket_url, \
         completed_at = excluded.completed_at, reminders_sent = excluded.reminders_sent, \
         next_reminder_at = excluded.next_reminder_at",
    )
    .bind(&item.id)
    .bind(&item.incident_id)
    .bind(item.position)
    .bind(&item.title)
    .bind(&item.owner)
    .bind(item.due.map(|d| d.to_string()))
    .bind(item.kind.as_str())
    .bind(item.status.as_str())
    .bind(&item.reason)
    .bind(&item.ticket_url)
    .bind(&item.created_by)
    .bind(to_ms(item.created_at))
    .bind(item.completed_at.map(to_ms))
    .bind(item.reminders_sent)
    .bind(item.next_reminder_at.map(to_ms))
    .execute(&mut *conn)
    .await?;
    if existed.is_none() {
        let event = NewEvent::now("action_item.created", &item.created_by, source, now).with(
            serde_json::json!({
                "id": item.id, "title": item.title, "owner": item.owner,
                "due": item.due.map(|d| d.to_string()),
            }),
        );
        add_event(conn, &item.incident_id, &event, now).await?;
    }
    Ok(())
}

/// Writes one item in its own transaction.
pub async fn save(store: &Store, item: &ActionItem, source: Source, now: Timestamp) -> Result<()> {
    let mut tx = store.begin().await?;
    save_in(&mut tx, item, source, now).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn get(store: &Store, id: &str) -> Result<ActionItem> {
    let row = sqlx::query(&format!("{SELECT} WHERE a.id = $1"))
        .bind(id)
        .fetch_optional(store.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
    read(&row)
}

/// An incident's items in document order.
pub async fn for_incident(store: &Store, incident_id: &str) -> Result<Vec<ActionItem>> {
    let rows = sqlx::query(&format!(
        "{SELECT} WHERE a.incident_id = $1 ORDER BY a.position, a.id"
    ))
    .bind(incident_id)
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(read).collect()
}

/// Every open item, by owner then due date (no owner and no due date last).
pub async fn open(store: &Store) -> Result<Vec<ActionItem>> {
    let rows = sqlx::query(&format!(
        "{SELECT} WHERE a.status = 'open' \
         ORDER BY a.owner IS NULL, a.owner, a.due IS NULL, a.due, i.number, a.position"
    ))
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(read).collect()
}

/// Items with a reminder due at `now`, oldest first.
pub async fn due_reminders(store: &Store, now: Timestamp, limit: i64) -> Result<Vec<ActionItem>> {
    let rows = sqlx::query(&format!(
        "{SELECT} WHERE a.status = 'open' AND a.next_reminder_at <= $1 \
         ORDER BY a.next_reminder_at, a.id LIMIT $2"
    ))
    .bind(to_ms(now))
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(read).collect()
}

/// Records a sent reminder: the notices, the next slot and its instant. One
/// transaction, so a crash never sends the same reminder twice or skips one.
pub async fn record_reminder(
    store: &Store,
    item: &ActionItem,
    notices: &[super::notices::NewNotice],
    next_slot: i64,
    next: Option<Timestamp>,
    now: Timestamp,
) -> Result<()> {
    let mut tx = store.begin().await?;
    sqlx::query(
        "UPDATE action_items SET reminders_sent = $1, next_reminder_at = $2 \
         WHERE id = $3",
    )
    .bind(next_slot)
    .bind(next.map(to_ms))
    .bind(&item.id)
    .execute(&mut *tx)
    .await?;
    super::notices::insert_all(&mut tx, notices, now).await?;
    tx.commit().await?;
    Ok(())
}

/// The earliest action-item reminder still to send.
pub async fn next_reminder_at(store: &Store) -> Result<Option<Timestamp>> {
    let at: Option<i64> =
        sqlx::query_scalar("SELECT MIN(next_reminder_at) FROM action_items WHERE status = 'open'")
            .fetch_one(store.pool())
            .await?;
    from_ms_opt(at)
}

/// Removes an item (created by mistake); the timeline keeps its `action_item.created`.
pub async fn delete(store: &Store, id: &str) -> Result<()> {
    let gone = sqlx::query("DELETE FROM action_items WHERE id = $1")
        .bind(id)
        .execute(store.pool())
        .await?
        .rows_affected();
    if gone == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
