//! The incident aggregate (comms spec §1): incidents with their milestones and roles, the
//! append-only timeline, and the alerts attached to them.
//!
//! Every change is one transaction that updates the row and appends exactly one event.
//! Events carry a global `seq`, so consumers (the Slack announcer, status-page notices)
//! read [`events_after`] their own stored cursor: the timeline is their outbox.
//! Pages, acks and failed notifications of attached alerts reach the timeline through
//! `mirror_alert_event`, called by the alert timeline itself.

use std::str::FromStr;

use jiff::Timestamp;
use serde::Serialize;
use sqlx::{AnyConnection, Row as _};

use super::{Result, Store, StoreError, alerts, from_ms, from_ms_opt, to_ms};
use crate::domain::incident::{
    self, Change, Move, NewIncident, Responders, Severity, Source, Status,
};

/// An incident as the API, CLI and Slack show it.
#[derive(Clone, Debug, Serialize)]
pub struct Incident {
    pub id: String,
    pub number: i64,
    pub title: String,
    pub severity: Severity,
    pub status: Status,
    pub summary: String,
    pub impact: String,
    pub commander: String,
    pub comms_lead: Option<String>,
    pub services: Vec<String>,
    pub source: Source,
    pub test: bool,
    pub declared_by: String,
    pub public_incident_id: Option<String>,
    pub started_at: Timestamp,
    pub detected_at: Timestamp,
    pub declared_at: Timestamp,
    pub acknowledged_at: Option<Timestamp>,
    pub identified_at: Option<Timestamp>,
    pub mitigated_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
    pub last_update_at: Timestamp,
    /// Alert ids attached to it (promoted, linked or opened to page).
    pub alerts: Vec<i64>,
}

impl Incident {
    /// Who gets nudged for updates: the comms lead, else the commander (§1.3).
    pub fn comms_owner(&self) -> &str {
        self.comms_lead.as_deref().unwrap_or(&self.commander)
    }
}

/// One timeline entry.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    /// Global order of recording; consumers keep a cursor on it.
    pub seq: i64,
    pub id: String,
    pub incident_id: String,
    pub kind: String,
    pub occurred_at: Timestamp,
    pub recorded_at: Timestamp,
    pub actor: String,
    pub source: String,
    /// The zone a manually typed time was entered in.
    pub entry_tz: Option<String>,
    /// Copied into the postmortem.
    pub key: bool,
    pub data: serde_json::Value,
}

/// An event to append.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub kind: String,
    pub actor: String,
    pub source: String,
    pub occurred_at: Timestamp,
    pub entry_tz: Option<String>,
    pub key: bool,
    pub data: serde_json::Value,
}

impl NewEvent {
    /// An event that happened now.
    pub fn now(kind: &str, actor: &str, source: Source, now: Timestamp) -> NewEvent {
        NewEvent {
            kind: kind.to_string(),
            actor: actor.to_string(),
            source: source.as_str().to_string(),
            occurred_at: now,
            entry_tz: None,
            key: false,
            data: serde_json::json!({}),
        }
    }

    pub fn with(mut self, data: serde_json::Value) -> NewEvent {
        self.data = data;
        self
    }
}

/// An incident by number (`42`, `#42`) or by ULID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IncidentRef {
    Number(i64),
    Id(String),
}

impl FromStr for IncidentRef {
    type Err = String;

    fn from_str(text: &str) -> Result<IncidentRef, String> {
        let text = text.trim();
        let digits = text.strip_prefix('#').unwrap_or(text);
        if let Ok(number) = digits.parse::<i64>() {
            return Ok(IncidentRef::Number(number));
        }
        match ulid::Ulid::from_string(text) {
            Ok(id) => Ok(IncidentRef::Id(id.to_string())),
            Err(_) => Err(format!("{text:?} is neither an incident number nor an id")),
        }
    }
}

/// What a change did.
#[derive(Clone, Debug, Serialize)]
pub struct Changed {
    pub incident: Incident,
    /// `None` when the change was a no-op (a move to the current state).
    pub event: Option<Event>,
}

const COLUMNS: &str = "id, number, title, severity, status, summary, impact, commander, \
    comms_lead, services, source, test, declared_by, public_incident_id, started_at, \
    detected_at, declared_at, acknowledged_at, identified_at, mitigated_at, resolved_at, \
    closed_at, last_update_at";

fn corrupt(what: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("incident {what}: {err}"))
}

fn read_incident(row: &sqlx::any::AnyRow, alerts: Vec<i64>) -> Result<Incident> {
    let severity: i64 = row.try_get("severity")?;
    let status: String = row.try_get("status")?;
    let services: String = row.try_get("services")?;
    let source: String = row.try_get("source")?;
    Ok(Incident {
        id: row.try_get("id")?,
        number: row.try_get("number")?,
        title: row.try_get("title")?,
        severity: Severity::from_rank(severity).ok_or_else(|| corrupt("severity", severity))?,
        status: status.parse().map_err(|err| corrupt("status", err))?,
        summary: row.try_get("summary")?,
        impact: row.try_get("impact")?,
        commander: row.try_get("commander")?,
        comms_lead: row.try_get("comms_lead")?,
        services: serde_json::from_str(&services).map_err(|err| corrupt("services", err))?,
        source: source.parse().map_err(|err| corrupt("source", err))?,
        test: super::get_flag(row, "test")?,
        declared_by: row.try_get("declared_by")?,
        public_incident_id: row.try_get("public_incident_id")?,
        started_at: from_ms(row.try_get("started_at")?)?,
        detected_at: from_ms(row.try_get("detected_at")?)?,
        declared_at: from_ms(row.try_get("declared_at")?)?,
        acknowledged_at: from_ms_opt(row.try_get("acknowledged_at")?)?,
        identified_at: from_ms_opt(row.try_get("identified_at")?)?,
        mitigated_at: from_ms_opt(row.try_get("mitigated_at")?)?,
        resolved_at: from_ms_opt(row.try_get("resolved_at")?)?,
        closed_at: from_ms_opt(row.try_get("closed_at")?)?,
        last_update_at: from_ms(row.try_get("last_update_at")?)?,
        alerts,
    })
}

fn read_event(row: &sqlx::any::AnyRow) -> Result<Event> {
    let data: String = row.try_get("data")?;
    Ok(Event {
        seq: row.try_get("seq")?,
        id: row.try_get("id")?,
        incident_id: row.try_get("incident_id")?,
        kind: row.try_get("kind")?,
        occurred_at: from_ms(row.try_get("occurred_at")?)?,
        recorded_at: from_ms(row.try_get("recorded_at")?)?,
        actor: row.try_get("actor")?,
        source: row.try_get("source")?,
        entry_tz: row.try_get("entry_tz")?,
        key: super::get_flag(row, "key")?,
        data: serde_json::from_str(&data).map_err(|err| corrupt("event data", err))?,
    })
}

/// Appends one event inside the caller's transaction.
pub(crate) async fn add_event(
    conn: &mut AnyConnection,
    incident_id: &str,
    event: &NewEvent,
    now: Timestamp,
) -> Result<Event> {
    let id = ulid::Ulid::new().to_string();
    let row = sqlx::query(
        "INSERT INTO incident_events (id, incident_id, kind, occurred_at, recorded_at, actor, \
         source, entry_tz, key, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *",
    )
    .bind(&id)
    .bind(incident_id)
    .bind(&event.kind)
    .bind(to_ms(event.occurred_at))
    .bind(to_ms(now))
    .bind(&event.actor)
    .bind(&event.source)
    .bind(&event.entry_tz)
    .bind(i64::from(event.key))
    .bind(event.data.to_string())
    .fetch_one(conn)
    .await?;
    read_event(&row)
}

/// The incident kinds alert timeline entries stand for, when the alert is attached.
fn mirrored_kind(alert_kind: &str) -> Option<&'static str> {
    match alert_kind {
        "notification_sent" => Some("page.sent"),
        "notification_failed" => Some("notification.failed"),
        "acknowledged" => Some("page.acked"),
        "escalated" => Some("page.escalated"),
        "resolved" => Some("alert.resolved"),
        "runbook.step" => Some("runbook.step"),
        _ => None,
    }
}

/// Copies an alert timeline entry onto the timeline of every open incident the alert is
/// attached to (pages, acks, failures), in the same transaction.
pub(crate) async fn mirror_alert_event(
    conn: &mut AnyConnection,
    alert_id: i64,
    at: Timestamp,
    kind: &str,
    actor: Option<&str>,
    detail: &serde_json::Value,
) -> Result<()> {
    let Some(incident_kind) = mirrored_kind(kind) else {
        return Ok(());
    };
    let incidents: Vec<String> = sqlx::query_scalar(
        "SELECT i.id FROM incident_alerts a JOIN incidents i ON i.id = a.incident_id \
         WHERE a.alert_id = $1 AND i.status != 'closed'",
    )
    .bind(alert_id)
    .fetch_all(&mut *conn)
    .await?;
    for incident_id in incidents {
        let mut data = detail.clone();
        if let Some(map) = data.as_object_mut() {
            map.insert("alert_id".into(), alert_id.into());
        }
        let event = NewEvent {
            kind: incident_kind.to_string(),
            actor: actor.unwrap_or("system").to_string(),
            source: Source::Engine.as_str().to_string(),
            occurred_at: at,
            entry_tz: None,
            key: false,
            data,
        };
        add_event(conn, &incident_id, &event, at).await?;
        if incident_kind == "page.acked" {
            sqlx::query(
                "UPDATE incidents SET acknowledged_at = COALESCE(acknowledged_at, $1) \
                 WHERE id = $2",
            )
            .bind(to_ms(at))
            .bind(&incident_id)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

async fn alert_ids(conn: &mut AnyConnection, incident_id: &str) -> Result<Vec<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT alert_id FROM incident_alerts WHERE incident_id = $1 ORDER BY alert_id",
    )
    .bind(incident_id)
    .fetch_all(conn)
    .await?)
}

async fn get_in(conn: &mut AnyConnection, by: &IncidentRef) -> Result<Incident> {
    let sql = match by {
        IncidentRef::Number(_) => format!("SELECT {COLUMNS} FROM incidents WHERE number = $1"),
        IncidentRef::Id(_) => format!("SELECT {COLUMNS} FROM incidents WHERE id = $1"),
    };
    let query = sqlx::query(&sql);
    let query = match by {
        IncidentRef::Number(n) => query.bind(*n),
        IncidentRef::Id(id) => query.bind(id.clone()),
    };
    let row = query
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    let id: String = row.try_get("id")?;
    let alerts = alert_ids(conn, &id).await?;
    read_incident(&row, alerts)
}

pub async fn get(store: &Store, by: &IncidentRef) -> Result<Incident> {
    let mut conn = store.pool().acquire().await?;
    get_in(&mut conn, by).await
}

/// Incidents newest first; `open_only` keeps those not resolved or closed.
pub async fn list(store: &Store, open_only: bool) -> Result<Vec<Incident>> {
    let filter = if open_only {
        "WHERE status NOT IN ('resolved', 'closed')"
    } else {
        ""
    };
    let mut conn = store.pool().acquire().await?;
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM incidents {filter} ORDER BY number DESC LIMIT 500"
    ))
    .fetch_all(&mut *conn)
    .await?;
    let mut incidents = Vec::with_capacity(rows.len());
    for row in rows {
        let id: String = row.try_get("id")?;
        let alerts = alert_ids(&mut conn, &id).await?;
        incidents.push(read_incident(&row, alerts)?);
    }
    Ok(incidents)
}

/// The incidents an alert belongs to (promoted, linked or opened to page), oldest first:
/// each one's number and whether it is still open (neither resolved nor closed).
pub async fn for_alert(store: &Store, alert_id: i64) -> Result<Vec<(i64, bool)>> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT i.number, i.status FROM incident_alerts a \
         JOIN incidents i ON i.id = a.incident_id WHERE a.alert_id = $1 ORDER BY i.number",
    )
    .bind(alert_id)
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(number, status)| (number, !matches!(status.as_str(), "resolved" | "closed")))
        .collect())
}

/// The timeline in display order: (`occurred_at`, `recorded_at`, `seq`).
pub async fn timeline(store: &Store, incident_id: &str) -> Result<Vec<Event>> {
    let rows = sqlx::query(
        "SELECT * FROM incident_events WHERE incident_id = $1 \
         ORDER BY occurred_at, recorded_at, seq",
    )
    .bind(incident_id)
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(read_event).collect()
}

/// Events recorded after `seq`, oldest first: how consumers follow every incident.
pub async fn events_after(store: &Store, seq: i64, limit: i64) -> Result<Vec<Event>> {
    let rows = sqlx::query("SELECT * FROM incident_events WHERE seq > $1 ORDER BY seq LIMIT $2")
        .bind(seq)
        .bind(limit)
        .fetch_all(store.pool())
        .await?;
    rows.iter().map(read_event).collect()
}

/// Declares an incident: the row, `incident.declared`, and for a promotion the alert
/// attached (its earlier entries copied with their original times) and, when a person
/// promoted it, acked; then the pages it asks for (P1/P2: each service's on-call). One
/// transaction.
pub async fn declare(store: &Store, new: NewIncident, now: Timestamp) -> Result<Incident> {
    let mut tx = store.begin().await?;
    let number: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(number), 0) + 1 FROM incidents")
        .fetch_one(&mut *tx)
        .await?;
    let id = ulid::Ulid::new().to_string();
    let (started_at, detected_at) = match new.from_alert {
        Some(alert_id) => promoted_times(&mut tx, alert_id).await?,
        None => (now, now),
    };
    let human = new.declared_by != "system";
    let services = serde_json::to_string(&new.services).map_err(|err| corrupt("services", err))?;
    sqlx::query(
        "INSERT INTO incidents (id, number, title, severity, status, summary, impact, \
         commander, comms_lead, services, source, test, declared_by, started_at, detected_at, \
         declared_at, acknowledged_at, last_update_at, reminder_due_at, publish_prompt_at) \
         VALUES ($1, $2, $3, $4, 'investigating', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
         $15, $16, $17, $18, $19)",
    )
    .bind(&id)
    .bind(number)
    .bind(&new.title)
    .bind(new.severity.rank())
    .bind(&new.summary)
    .bind(&new.impact)
    .bind(&new.commander)
    .bind(&new.comms_lead)
    .bind(services)
    .bind(new.source.as_str())
    .bind(i64::from(new.test))
    .bind(&new.declared_by)
    .bind(to_ms(started_at))
    .bind(to_ms(detected_at))
    .bind(to_ms(now))
    .bind(human.then(|| to_ms(now)))
    .bind(to_ms(now))
    .bind(incident::reminder_due(new.severity, Status::Investigating, now).map(to_ms))
    // Drills are never published, so they are never prompted to be.
    .bind(
        new.severity
            .publish_prompt_after()
            .filter(|_| !new.test)
            .map(|after| to_ms(now + after)),
    )
    .execute(&mut *tx)
    .await?;
    let data = serde_json::json!({
        "number": number,
        "title": new.title,
        "severity": new.severity,
        "commander": new.commander,
        "services": new.services,
        "from_alert": new.from_alert,
    });
    let event = NewEvent::now("incident.declared", &new.declared_by, new.source, now).with(data);
    add_event(&mut tx, &id, &event, now).await?;
    if let Some(alert_id) = new.from_alert {
        attach_in(&mut tx, &id, alert_id, "attached", &new.declared_by, now).await?;
        if human {
            let via = format!("incident #{number}");
            match alerts::acknowledge_in(&mut tx, alert_id, &new.declared_by, &via, now).await {
                Ok(_) | Err(StoreError::Conflict(_)) => {}
                Err(err) => return Err(err),
            }
        }
    }
    let incident = get_in(&mut tx, &IncidentRef::Id(id.clone())).await?;
    for who in &new.page {
        page_in(&mut tx, &incident, who, &new.declared_by, now).await?;
    }
    let incident = get_in(&mut tx, &IncidentRef::Id(id)).await?;
    tx.commit().await?;
    Ok(incident)
}

/// `started_at` (the alert's source start: its earliest member's `startsAt`, else its
/// receipt) and `detected_at` (its receipt) for an alert joining an incident; refuses an
/// unknown alert or one already in an open incident.
async fn promoted_times(conn: &mut AnyConnection, alert_id: i64) -> Result<(Timestamp, Timestamp)> {
    let taken: Option<i64> = sqlx::query_scalar(
        "SELECT i.number FROM incident_alerts a JOIN incidents i ON i.id = a.incident_id \
         WHERE a.alert_id = $1 AND i.status NOT IN ('resolved', 'closed')",
    )
    .bind(alert_id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(number) = taken {
        return Err(StoreError::Conflict(format!(
            "alert {alert_id} is already part of open incident #{number}"
        )));
    }
    let received: Option<i64> = sqlx::query_scalar("SELECT created_at FROM alerts WHERE id = $1")
        .bind(alert_id)
        .fetch_optional(&mut *conn)
        .await?;
    let received = received.ok_or(StoreError::NotFound)?;
    let source_start: Option<i64> =
        sqlx::query_scalar("SELECT MIN(starts_at) FROM alert_members WHERE alert_id = $1")
            .bind(alert_id)
            .fetch_one(&mut *conn)
            .await?;
    let started = source_start.map_or(received, |start| start.min(received));
    Ok((from_ms(started)?, from_ms(received)?))
}

/// Attaches an alert inside the caller's transaction and copies its history (the
/// `alert.fired` entry at the alert's creation, then its pages and acks as they were).
async fn attach_in(
    conn: &mut AnyConnection,
    incident_id: &str,
    alert_id: i64,
    role: &str,
    actor: &str,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO incident_alerts (incident_id, alert_id, attached_at, role) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(incident_id)
    .bind(alert_id)
    .bind(to_ms(now))
    .bind(role)
    .execute(&mut *conn)
    .await?;
    let history = sqlx::query(
        "SELECT at, kind, actor, detail FROM timeline WHERE alert_id = $1 ORDER BY at, id",
    )
    .bind(alert_id)
    .fetch_all(&mut *conn)
    .await?;
    for row in history {
        let kind: String = row.try_get("kind")?;
        let incident_kind = match kind.as_str() {
            "created" => "alert.fired",
            other => match mirrored_kind(other) {
                Some(kind) => kind,
                None => continue,
            },
        };
        let detail: String = row.try_get("detail")?;
        let mut data: serde_json::Value = serde_json::from_str(&detail).unwrap_or_default();
        if let Some(map) = data.as_object_mut() {
            map.insert("alert_id".into(), alert_id.into());
        }
        let event = NewEvent {
            kind: incident_kind.to_string(),
            actor: row
                .try_get::<Option<String>, _>("actor")?
                .unwrap_or_else(|| "system".into()),
            source: Source::Engine.as_str().to_string(),
            occurred_at: from_ms(row.try_get("at")?)?,
            entry_tz: None,
            key: false,
            data,
        };
        add_event(conn, incident_id, &event, now).await?;
    }
    let event = NewEvent::now("alert.attached", actor, Source::Engine, now)
        .with(serde_json::json!({ "alert_id": alert_id, "role": role }));
    add_event(conn, incident_id, &event, now).await?;
    Ok(())
}

/// Applies one change in one transaction: the row, one event, the reminder clock.
pub async fn change(
    store: &Store,
    by: &IncidentRef,
    change: Change,
    actor: &str,
    source: Source,
    now: Timestamp,
) -> Result<Changed> {
    let mut tx = store.begin().await?;
    let before = get_in(&mut tx, by).await?;
    // A closed incident is history, but people still own its follow-ups: notes and role
    // changes remain possible (comms spec CM-10), nothing else.
    let allowed = matches!(
        change,
        Change::Note { .. } | Change::Commander(_) | Change::CommsLead(_)
    );
    if before.status == Status::Closed && !allowed {
        return Err(StoreError::Conflict(format!(
            "incident #{} is closed; only notes and role changes are possible",
            before.number
        )));
    }
    let id = before.id.clone();
    let mut data = serde_json::json!({});
    let mut key = false;
    let mut entry = None;
    match &change {
        Change::Status { to, text } => {
            let step = incident::check_move(before.status, *to).map_err(StoreError::Conflict)?;
            match step {
                Move::Same => {
                    tx.rollback().await?;
                    return Ok(Changed {
                        incident: before,
                        event: None,
                    });
                }
                Move::To(to) => {
                    set_status(&mut tx, &id, to, now).await?;
                    if to == Status::Resolved {
                        resolve_own_pages(&mut tx, &id, actor, now).await?;
                    }
                }
                Move::Reopen => {
                    sqlx::query(
                        "UPDATE incidents SET status = 'investigating', resolved_at = NULL \
                         WHERE id = $1",
                    )
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            data = serde_json::json!({ "from": before.status, "to": to, "text": text });
        }
        Change::Severity(severity) => {
            if *severity == before.severity {
                tx.rollback().await?;
                return Ok(Changed {
                    incident: before,
                    event: None,
                });
            }
            set_column(&mut tx, &id, "severity", severity.rank()).await?;
            data = serde_json::json!({ "from": before.severity, "to": severity });
        }
        Change::Commander(person) if *person == before.commander => {
            tx.rollback().await?;
            return Ok(Changed {
                incident: before,
                event: None,
            });
        }
        Change::CommsLead(person) if *person == before.comms_lead => {
            tx.rollback().await?;
            return Ok(Changed {
                incident: before,
                event: None,
            });
        }
        Change::Commander(person) => {
            set_column(&mut tx, &id, "commander", person.clone()).await?;
            data = serde_json::json!({ "from": before.commander, "to": person });
        }
        Change::CommsLead(person) => {
            set_column(&mut tx, &id, "comms_lead", person.clone()).await?;
            data = serde_json::json!({ "from": before.comms_lead, "to": person });
        }
        Change::Note {
            text,
            key: is_key,
            at,
        } => {
            key = *is_key;
            data = serde_json::json!({ "text": text });
            entry = at.clone();
        }
        Change::Update { text } => data = serde_json::json!({ "text": text }),
        Change::Summary(text) => {
            set_column(&mut tx, &id, "summary", text.clone()).await?;
            data = serde_json::json!({ "field": "summary", "text": text });
        }
        Change::Impact(text) => {
            set_column(&mut tx, &id, "impact", text.clone()).await?;
            data = serde_json::json!({ "field": "impact", "text": text });
        }
    }
    if change.counts_as_update() {
        sqlx::query("UPDATE incidents SET last_update_at = $1 WHERE id = $2")
            .bind(to_ms(now))
            .bind(&id)
            .execute(&mut *tx)
            .await?;
    }
    reschedule_reminder(&mut tx, &id).await?;
    let mut event = NewEvent::now(change.event_kind(), actor, source, now).with(data);
    event.key = key;
    if let Some(entry) = entry {
        event.occurred_at = entry.at;
        event.entry_tz = Some(entry.zone);
    }
    let event = add_event(&mut tx, &id, &event, now).await?;
    let incident = get_in(&mut tx, &IncidentRef::Id(id)).await?;
    tx.commit().await?;
    Ok(Changed {
        incident,
        event: Some(event),
    })
}

/// Resolving an incident ends the pages it opened (alerts attached with role `page`):
/// nobody is escalated to for an incident that is over. Promoted alerts stay as they are.
async fn resolve_own_pages(
    conn: &mut AnyConnection,
    incident_id: &str,
    actor: &str,
    now: Timestamp,
) -> Result<()> {
    let open: Vec<i64> = sqlx::query_scalar(
        "SELECT a.alert_id FROM incident_alerts a JOIN alerts x ON x.id = a.alert_id \
         WHERE a.incident_id = $1 AND a.role = 'page' AND x.state <> 'resolved'",
    )
    .bind(incident_id)
    .fetch_all(&mut *conn)
    .await?;
    for alert in open {
        alerts::resolve_in(conn, alert, actor, "incident", now, now).await?;
    }
    Ok(())
}

async fn set_column<T>(conn: &mut AnyConnection, id: &str, column: &str, value: T) -> Result<()>
where
    T: for<'q> sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any> + Send,
{
    sqlx::query(&format!("UPDATE incidents SET {column} = $1 WHERE id = $2"))
        .bind(value)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A forward or backward move within the open states, or resolving; sets the milestone
/// the state first reaches (`identified_at`, `mitigated_at`) and `resolved_at` (last).
async fn set_status(conn: &mut AnyConnection, id: &str, to: Status, now: Timestamp) -> Result<()> {
    let milestone = match to {
        Status::Identified => Some("identified_at = COALESCE(identified_at, $3)"),
        Status::Monitoring => Some("mitigated_at = COALESCE(mitigated_at, $3)"),
        Status::Resolved => Some("resolved_at = $3"),
        Status::Closed => Some("closed_at = $3"),
        Status::Investigating => None,
    };
    // The instant is bound only when a milestone takes it, so every placeholder is used
    // and Postgres never has to type one from the bound value alone (issue #8).
    let sql = match milestone {
        Some(set) => format!("UPDATE incidents SET status = $1, {set} WHERE id = $2"),
        None => "UPDATE incidents SET status = $1 WHERE id = $2".to_owned(),
    };
    let mut query = sqlx::query(&sql).bind(to.as_str()).bind(id);
    if milestone.is_some() {
        query = query.bind(to_ms(now));
    }
    query.execute(conn).await?;
    Ok(())
}

/// Recomputes the update-reminder due time from the stored row (§1.6).
async fn reschedule_reminder(conn: &mut AnyConnection, id: &str) -> Result<()> {
    let row = sqlx::query("SELECT severity, status, last_update_at FROM incidents WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    let severity: i64 = row.try_get("severity")?;
    let status: String = row.try_get("status")?;
    let severity = Severity::from_rank(severity).ok_or_else(|| corrupt("severity", severity))?;
    let status: Status = status.parse().map_err(|err| corrupt("status", err))?;
    let due = incident::reminder_due(severity, status, from_ms(row.try_get("last_update_at")?)?);
    let prompt_done = if status.is_open() {
        ""
    } else {
        ", publish_prompt_at = NULL"
    };
    sqlx::query(&format!(
        "UPDATE incidents SET reminder_due_at = $1{prompt_done} WHERE id = $2"
    ))
    .bind(due.map(to_ms))
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Links an incident to its public status-page incident (inside the publisher's
/// transaction); publishing also stops the status-page prompt and counts as an update.
pub(crate) async fn set_public_incident(
    conn: &mut AnyConnection,
    incident_id: &str,
    public_id: &str,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "UPDATE incidents SET public_incident_id = $1, publish_prompt_at = NULL, \
         last_update_at = $2 WHERE id = $3",
    )
    .bind(public_id)
    .bind(to_ms(now))
    .bind(incident_id)
    .execute(&mut *conn)
    .await?;
    reschedule_reminder(conn, incident_id).await
}

/// Attaches an alert to an incident (an alert joins at most one open incident).
pub async fn attach(
    store: &Store,
    by: &IncidentRef,
    alert_id: i64,
    role: &str,
    actor: &str,
    now: Timestamp,
) -> Result<Incident> {
    let mut tx = store.begin().await?;
    let incident = get_in(&mut tx, by).await?;
    if !incident.alerts.contains(&alert_id) {
        promoted_times(&mut tx, alert_id).await?;
        attach_in(&mut tx, &incident.id, alert_id, role, actor, now).await?;
    }
    let incident = get_in(&mut tx, &IncidentRef::Id(incident.id)).await?;
    tx.commit().await?;
    Ok(incident)
}

/// Opens the alert that pages `who` for an incident and attaches it (role `page`), inside
/// the caller's transaction; returns the alert id. The escalation engine pages from there
/// like any alert, so acks, escalation and notification rules all apply.
async fn page_in(
    conn: &mut AnyConnection,
    incident: &Incident,
    who: &Responders,
    actor: &str,
    now: Timestamp,
) -> Result<i64> {
    let summary = format!(
        "Incident #{} ({}): {}",
        incident.number, incident.severity, incident.title
    );
    let alert_id = match who {
        Responders::People(people) => {
            let page = crate::domain::direct::DirectPage {
                people: people.clone(),
                summary,
            };
            super::direct::open_in(conn, &page, actor, "incident", now).await?
        }
        Responders::Service { service, policy } => {
            let alert = super::direct::Opening {
                service,
                integration: "incident",
                policy,
                // Every page its own alert: paging a service twice is two pages, not a clash.
                key: format!("incident:{}:{service}:{}", incident.id, ulid::Ulid::new()),
                summary: &summary,
                source: format!("incident:{actor}"),
                targets: None,
                detail: ("incident", incident.number.into()),
            };
            super::direct::insert_in(conn, &alert, actor, now).await?
        }
    };
    attach_in(conn, &incident.id, alert_id, "page", actor, now).await?;
    Ok(alert_id)
}

/// Pages responders into an open incident; returns the alert id that carries the page.
pub async fn page(
    store: &Store,
    by: &IncidentRef,
    who: &Responders,
    actor: &str,
    now: Timestamp,
) -> Result<i64> {
    let mut tx = store.begin().await?;
    let incident = get_in(&mut tx, by).await?;
    if !incident.status.is_open() {
        return Err(StoreError::Conflict(format!(
            "incident #{} is {}; reopen it to page responders",
            incident.number, incident.status
        )));
    }
    let alert_id = page_in(&mut tx, &incident, who, actor, now).await?;
    tx.commit().await?;
    Ok(alert_id)
}

/// A nudge the engine owes an incident (§1.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nudge {
    /// No update for one interval: remind the comms owner.
    UpdateReminder,
    /// Still not on the status page: ask once to publish or keep it internal.
    PublishPrompt,
}

impl Nudge {
    pub fn event_kind(self) -> &'static str {
        match self {
            Nudge::UpdateReminder => "update.reminder",
            Nudge::PublishPrompt => "statuspage.prompt",
        }
    }
}

/// Open incidents with a nudge due at `now`, oldest due first.
pub async fn due_nudges(
    store: &Store,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<(Incident, Nudge)>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS}, CASE WHEN reminder_due_at <= $1 THEN 1 ELSE 0 END AS remind, \
         CASE WHEN publish_prompt_at <= $1 THEN 1 ELSE 0 END AS prompt \
         FROM incidents WHERE status NOT IN ('resolved', 'closed') \
         AND (reminder_due_at <= $1 OR publish_prompt_at <= $1) \
         ORDER BY {first} LIMIT $2",
        first = store.dialect().least(&[
            "COALESCE(reminder_due_at, $1)",
            "COALESCE(publish_prompt_at, $1)"
        ])
    ))
    .bind(to_ms(now))
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    let mut due = Vec::new();
    for row in rows {
        let incident = read_incident(&row, Vec::new())?;
        if row
            .try_get::<Option<i64>, _>("prompt")?
            .is_some_and(|v| v != 0)
        {
            due.push((incident.clone(), Nudge::PublishPrompt));
        }
        if row
            .try_get::<Option<i64>, _>("remind")?
            .is_some_and(|v| v != 0)
        {
            due.push((incident, Nudge::UpdateReminder));
        }
    }
    Ok(due)
}

/// Records a nudge: its timeline event (`update.reminder`, `statuspage.prompt`; the Slack
/// thread shows it), the notices to the person, and the next due time (a reminder comes
/// again one interval later while nothing is posted; the prompt only once). One
/// transaction.
pub async fn record_nudge(
    store: &Store,
    incident: &Incident,
    nudge: Nudge,
    notices: &[super::notices::NewNotice],
    now: Timestamp,
) -> Result<()> {
    let mut tx = store.begin().await?;
    let column = match nudge {
        Nudge::UpdateReminder => "reminder_due_at",
        Nudge::PublishPrompt => "publish_prompt_at",
    };
    let next = match nudge {
        Nudge::UpdateReminder => incident
            .severity
            .update_interval()
            .map(|every| to_ms(now + every)),
        Nudge::PublishPrompt => None,
    };
    set_column(&mut tx, &incident.id, column, next).await?;
    let data = serde_json::json!({ "to": incident.comms_owner() });
    let event = NewEvent::now(nudge.event_kind(), "system", Source::Engine, now).with(data);
    add_event(&mut tx, &incident.id, &event, now).await?;
    super::notices::insert_all(&mut tx, notices, now).await?;
    tx.commit().await?;
    Ok(())
}

/// The earliest nudge due for an open incident.
pub async fn next_nudge_at(store: &Store) -> Result<Option<Timestamp>> {
    let sql = format!(
        "SELECT MIN({}) FROM incidents WHERE status NOT IN ('resolved', 'closed')",
        store.dialect().least(&[
            "COALESCE(reminder_due_at, publish_prompt_at)",
            "COALESCE(publish_prompt_at, reminder_due_at)"
        ])
    );
    let at: Option<i64> = sqlx::query_scalar(&sql).fetch_one(store.pool()).await?;
    from_ms_opt(at)
}
