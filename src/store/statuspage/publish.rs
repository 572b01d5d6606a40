//! Public incidents (comms spec §4.5): publishing an internal incident and posting its
//! customer-facing updates. Each is one transaction with the component states it moves,
//! the `statuspage.*` event on the internal timeline and the subscriber notices it causes.

use std::collections::BTreeMap;

use jiff::Timestamp;
use sqlx::{AnyConnection, Row as _};

use super::{parse_stored, recompute, subscribers, wire_name};
use crate::config::StatusPageConfig;
use crate::domain::incident::Source;
use crate::domain::statuspage::{
    AffectedComponent, ComponentStatus, Impact, PublicStatus, new_public_id,
};
use crate::store::incidents::{self, Incident, NewEvent};
use crate::store::{Result, Store, StoreError, from_ms, to_ms};

/// A public incident holds at most this many updates (§4.5).
pub const MAX_UPDATES: i64 = 100;

/// What to publish.
#[derive(Clone, Debug)]
pub struct Publish {
    pub name: String,
    /// Markdown.
    pub body: String,
    pub status: PublicStatus,
    pub impact: Impact,
    /// Component keys and the state this incident puts each in.
    pub components: Vec<(String, ComponentStatus)>,
    pub notify: bool,
    pub actor: String,
    pub source: Source,
}

/// A customer-facing update to a published incident.
#[derive(Clone, Debug)]
pub struct PublicUpdate {
    /// `None` keeps the current status.
    pub status: Option<PublicStatus>,
    pub body: String,
    /// Component keys and their new state in this incident.
    pub components: Vec<(String, ComponentStatus)>,
    pub notify: bool,
    /// When the update is shown as made; the caller keeps it within
    /// `[started_at, now]`. `None` is now.
    pub display_at: Option<Timestamp>,
    pub actor: String,
    pub source: Source,
}

/// The public incident an internal one was published as, briefly.
#[derive(Clone, Debug, PartialEq)]
pub struct PublicHead {
    pub id: String,
    pub incident_id: Option<String>,
    pub status: String,
    pub started_at: Timestamp,
    pub updates: i64,
}

/// What a publish or an update wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct Posted {
    pub public_id: String,
    pub update_id: String,
    pub status: PublicStatus,
    pub affected: Vec<AffectedComponent>,
}

/// Reads a public incident's head (not maintenances).
pub async fn head(store: &Store, public_id: &str) -> Result<PublicHead> {
    let mut conn = store.pool().acquire().await?;
    head_in(&mut conn, public_id).await
}

async fn head_in(conn: &mut AnyConnection, public_id: &str) -> Result<PublicHead> {
    let row = sqlx::query(
        "SELECT id, incident_id, status, started_at, \
         (SELECT COUNT(*) FROM statuspage_updates u WHERE u.public_id = i.id) AS updates \
         FROM statuspage_incidents i WHERE id = $1 AND kind = 'incident'",
    )
    .bind(public_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    Ok(PublicHead {
        id: row.try_get("id")?,
        incident_id: row.try_get("incident_id")?,
        status: row.try_get("status")?,
        started_at: from_ms(row.try_get("started_at")?)?,
        updates: row.try_get("updates")?,
    })
}

/// Publishes `incident` (§4.5): the public incident, its first update, the component
/// states it holds, `statuspage.published` on the internal timeline, the link back from
/// the incident and, when `notify`, the subscriber notices, in one transaction.
pub async fn publish(
    store: &Store,
    page: &StatusPageConfig,
    incident: &Incident,
    publish: &Publish,
    now: Timestamp,
) -> Result<Posted> {
    let mut tx = store.begin().await?;
    let linked: Option<String> =
        sqlx::query_scalar("SELECT public_incident_id FROM incidents WHERE id = $1")
            .bind(&incident.id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
    if let Some(public_id) = linked {
        return Err(StoreError::Conflict(format!(
            "the incident is already published as {public_id}; post a public update instead"
        )));
    }

    let public_id = new_public_id();
    let unresolved = publish.status.is_unresolved();
    sqlx::query(
        "INSERT INTO statuspage_incidents (id, kind, incident_id, name, status, impact, \
         started_at, created_at, updated_at, monitoring_at, resolved_at, notify) \
         VALUES ($1, 'incident', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&public_id)
    .bind(&incident.id)
    .bind(&publish.name)
    .bind(wire_name(publish.status))
    .bind(wire_name(publish.impact))
    .bind(to_ms(incident.started_at.min(now)))
    .bind(to_ms(now))
    .bind(to_ms(now))
    .bind((publish.status == PublicStatus::Monitoring).then_some(to_ms(now)))
    .bind((!unresolved).then_some(to_ms(now)))
    .bind(i64::from(publish.notify))
    .execute(&mut *tx)
    .await?;

    let mut affected = Vec::new();
    for (key, status) in &publish.components {
        let status = if unresolved {
            *status
        } else {
            ComponentStatus::Operational
        };
        set_held(&mut tx, &public_id, key, status).await?;
        affected.push(affected_entry(
            page,
            key,
            ComponentStatus::Operational,
            status,
        ));
    }
    let update_id = new_public_id();
    insert_update(
        &mut tx,
        (&public_id, &update_id),
        &wire_name(publish.status),
        &publish.body,
        (now, now),
        &affected,
        publish.notify,
    )
    .await?;
    recompute(&mut tx, page, now).await?;

    let components: BTreeMap<&str, String> = publish
        .components
        .iter()
        .map(|(key, status)| (key.as_str(), wire_name(*status)))
        .collect();
    let event = NewEvent::now("statuspage.published", &publish.actor, publish.source, now).with(
        serde_json::json!({
            "public_id": public_id, "update_id": update_id, "name": publish.name,
            "status": publish.status, "impact": publish.impact, "components": components,
            "notify": publish.notify,
        }),
    );
    incidents::add_event(&mut tx, &incident.id, &event, now).await?;
    incidents::set_public_incident(&mut tx, &incident.id, &public_id, now).await?;
    if publish.notify {
        let keys: Vec<String> = publish.components.iter().map(|(k, _)| k.clone()).collect();
        let kind = subscribers::MailKind::Incident;
        let about = (public_id.as_str(), update_id.as_str(), "published");
        subscribers::queue_notices(&mut tx, kind, about, &keys, now).await?;
    }
    tx.commit().await?;
    tracing::info!(incident.id = %incident.id, public.id = %public_id,
        status = %wire_name(publish.status), "incident published on the status page");
    Ok(Posted {
        public_id,
        update_id,
        status: publish.status,
        affected,
    })
}

/// Posts an update to the public incident `public_id` of internal incident `incident_id`
/// (§4.5): a new status and body, component changes, and when the status leaves the
/// unresolved ones, every component this incident held back to `operational` (others
/// holding them keep them where they are, through the effective-state rollup).
pub async fn update(
    store: &Store,
    page: &StatusPageConfig,
    (incident_id, public_id): (&str, &str),
    update: &PublicUpdate,
    now: Timestamp,
) -> Result<Posted> {
    let mut tx = store.begin().await?;
    let head = head_in(&mut tx, public_id).await?;
    if head.updates >= MAX_UPDATES {
        return Err(StoreError::Conflict(format!(
            "a public incident holds at most {MAX_UPDATES} updates"
        )));
    }
    let display_at = update.display_at.unwrap_or(now);
    if display_at > now || display_at < head.started_at {
        return Err(StoreError::Conflict(
            "display_at must lie between the incident's start and now".into(),
        ));
    }
    let current: PublicStatus = parse_stored("incident status", &head.status)?;
    let status = update.status.unwrap_or(current);

    let held: Vec<(String, String)> = sqlx::query_as(
        "SELECT component_key, status FROM statuspage_incident_components WHERE public_id = $1",
    )
    .bind(public_id)
    .fetch_all(&mut *tx)
    .await?;
    let mut states: BTreeMap<String, ComponentStatus> = BTreeMap::new();
    for (key, text) in held {
        states.insert(key, parse_stored("component status", &text)?);
    }
    let mut wanted: BTreeMap<String, ComponentStatus> = update.components.iter().cloned().collect();
    if !status.is_unresolved() {
        wanted = states
            .keys()
            .chain(update.components.iter().map(|(key, _)| key))
            .map(|key| (key.clone(), ComponentStatus::Operational))
            .collect();
    }
    let mut affected = Vec::new();
    for (key, new) in &wanted {
        let old = states
            .get(key)
            .copied()
            .unwrap_or(ComponentStatus::Operational);
        if old != *new || !states.contains_key(key) {
            set_held(&mut tx, public_id, key, *new).await?;
            affected.push(affected_entry(page, key, old, *new));
        }
    }

    // Placeholders are numbered as the list grows, in the order of the binds below.
    let mut sets = vec!["status = $1".to_owned(), "updated_at = $2".to_owned()];
    if status == PublicStatus::Monitoring {
        sets.push(format!(
            "monitoring_at = COALESCE(monitoring_at, ${})",
            sets.len() + 1
        ));
    }
    if status.is_unresolved() {
        sets.push("resolved_at = NULL".to_owned());
    } else {
        sets.push(format!(
            "resolved_at = COALESCE(resolved_at, ${})",
            sets.len() + 1
        ));
    }
    let binds = sets.iter().filter(|set| set.contains('$')).count();
    let sql = format!(
        "UPDATE statuspage_incidents SET {} WHERE id = ${}",
        sets.join(", "),
        binds + 1
    );
    let mut query = sqlx::query(&sql).bind(wire_name(status)).bind(to_ms(now));
    if status == PublicStatus::Monitoring {
        query = query.bind(to_ms(display_at));
    }
    if !status.is_unresolved() {
        query = query.bind(to_ms(display_at));
    }
    query.bind(public_id).execute(&mut *tx).await?;

    let update_id = new_public_id();
    insert_update(
        &mut tx,
        (public_id, &update_id),
        &wire_name(status),
        &update.body,
        (display_at, now),
        &affected,
        update.notify,
    )
    .await?;
    recompute(&mut tx, page, now).await?;

    let changes: BTreeMap<&str, String> = affected
        .iter()
        .map(|a| (a.code.as_str(), wire_name(a.new_status)))
        .collect();
    let event = NewEvent::now("statuspage.updated", &update.actor, update.source, now).with(
        serde_json::json!({
            "public_id": public_id, "update_id": update_id, "status": status,
            "components": changes, "notify": update.notify,
        }),
    );
    incidents::add_event(&mut tx, incident_id, &event, now).await?;
    // Re-linking moves the incident's update clock: a public update counts as one (§1.6).
    incidents::set_public_incident(&mut tx, incident_id, public_id, now).await?;
    if update.notify {
        let keys: Vec<String> = states.keys().chain(wanted.keys()).cloned().collect();
        let kind = subscribers::MailKind::Incident;
        let about = (public_id, update_id.as_str(), "updated");
        subscribers::queue_notices(&mut tx, kind, about, &keys, now).await?;
    }
    tx.commit().await?;
    tracing::info!(incident.id = %incident_id, public.id = %public_id,
        status = %wire_name(status), "status page incident updated");
    Ok(Posted {
        public_id: public_id.to_string(),
        update_id,
        status,
        affected,
    })
}

/// Sets the state public incident or maintenance `public_id` holds component `key` in.
pub(super) async fn set_held(
    conn: &mut AnyConnection,
    public_id: &str,
    key: &str,
    status: ComponentStatus,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO statuspage_incident_components (public_id, component_key, status) \
         VALUES ($1, $2, $3) ON CONFLICT (public_id, component_key) DO UPDATE SET \
         status = excluded.status",
    )
    .bind(public_id)
    .bind(key)
    .bind(wire_name(status))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Appends an update shown at `display_at`, made `now`.
pub(super) async fn insert_update(
    conn: &mut AnyConnection,
    (public_id, update_id): (&str, &str),
    status: &str,
    body: &str,
    (display_at, now): (Timestamp, Timestamp),
    affected: &[AffectedComponent],
    deliver: bool,
) -> Result<()> {
    let affected = if affected.is_empty() {
        None
    } else {
        Some(serde_json::to_string(affected).map_err(|e| StoreError::Corrupt(e.to_string()))?)
    };
    sqlx::query(
        "INSERT INTO statuspage_updates (id, public_id, status, body, display_at, created_at, \
         updated_at, affected_components, deliver_notifications) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(update_id)
    .bind(public_id)
    .bind(status)
    .bind(body)
    .bind(to_ms(display_at))
    .bind(to_ms(now))
    .bind(to_ms(now))
    .bind(affected)
    .bind(i64::from(deliver))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn affected_entry(
    page: &StatusPageConfig,
    key: &str,
    old: ComponentStatus,
    new: ComponentStatus,
) -> AffectedComponent {
    let component = page.components.iter().find(|c| c.key == key);
    AffectedComponent {
        code: component.map_or_else(|| key.to_string(), |c| c.public_id.clone()),
        name: component.map_or_else(|| key.to_string(), |c| c.name.clone()),
        old_status: old,
        new_status: new,
    }
}
