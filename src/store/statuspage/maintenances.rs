//! Scheduled maintenances (comms spec §4.6): creation, moves between `scheduled`,
//! `in_progress`, `verifying` and `completed` (by hand, or automatically at the window's
//! edges by `engine::statuspage`), reminders, and the alert holds they imply.
//!
//! Active (`in_progress`/`verifying`) never begins before `scheduled_for`; while active,
//! covered components are `under_maintenance` through the effective-state rollup.

use jiff::{SignedDuration, Timestamp};
use sqlx::{AnyConnection, Row as _};

use super::publish::{insert_update, set_held};
use super::subscribers::{self, MailKind};
use super::{parse_stored, recompute, wire_name};
use crate::config::StatusPageConfig;
use crate::domain::statuspage::{ComponentStatus, MaintenanceStatus, new_public_id};
use crate::store::{Result, Store, StoreError, can_match, from_ms_opt, get_flag, to_ms};

/// A maintenance to schedule.
#[derive(Clone, Debug)]
pub struct NewMaintenance {
    pub name: String,
    /// Markdown.
    pub body: String,
    /// Component keys.
    pub components: Vec<String>,
    pub scheduled_for: Timestamp,
    pub scheduled_until: Timestamp,
    pub auto_start: bool,
    pub auto_complete: bool,
    /// `None`: no reminder.
    pub remind_before: Option<SignedDuration>,
    pub notify: bool,
}

/// A maintenance as the engine and the admin API see it.
#[derive(Clone, Debug, PartialEq)]
pub struct Maintenance {
    pub id: String,
    pub name: String,
    pub status: MaintenanceStatus,
    pub components: Vec<String>,
    pub scheduled_for: Timestamp,
    pub scheduled_until: Timestamp,
    pub auto_start: bool,
    pub auto_complete: bool,
    pub remind_before: Option<SignedDuration>,
    pub reminded_at: Option<Timestamp>,
    pub notify: bool,
}

impl Maintenance {
    pub fn is_active(&self) -> bool {
        matches!(
            self.status,
            MaintenanceStatus::InProgress | MaintenanceStatus::Verifying
        )
    }

    /// When its reminder is due, if it still has one to send.
    pub fn reminder_due(&self) -> Option<Timestamp> {
        let before = self.remind_before?;
        if self.reminded_at.is_some() || self.status != MaintenanceStatus::Scheduled {
            return None;
        }
        self.scheduled_for.checked_sub(before).ok()
    }

    /// The automatic move due at `now`, if any (§4.6: windows are `[for, until)`).
    pub fn due_move(&self, now: Timestamp) -> Option<MaintenanceStatus> {
        match self.status {
            MaintenanceStatus::Scheduled if self.auto_start && self.scheduled_for <= now => {
                Some(MaintenanceStatus::InProgress)
            }
            MaintenanceStatus::InProgress | MaintenanceStatus::Verifying
                if self.auto_complete && self.scheduled_until <= now =>
            {
                Some(MaintenanceStatus::Completed)
            }
            _ => None,
        }
    }

    /// The next instant something automatic is due for it.
    pub fn next_due(&self) -> Option<Timestamp> {
        let edge = match self.status {
            MaintenanceStatus::Scheduled if self.auto_start => Some(self.scheduled_for),
            MaintenanceStatus::InProgress | MaintenanceStatus::Verifying if self.auto_complete => {
                Some(self.scheduled_until)
            }
            _ => None,
        };
        [edge, self.reminder_due()].into_iter().flatten().min()
    }
}

/// Whether a maintenance may move from `from` to `to`; `Ok(false)` for a move to where it
/// is already.
pub fn check_move(from: MaintenanceStatus, to: MaintenanceStatus) -> Result<bool, String> {
    use MaintenanceStatus::*;
    if from == to {
        return Ok(false);
    }
    let allowed: &[MaintenanceStatus] = match from {
        Scheduled => &[InProgress, Completed],
        InProgress => &[Verifying, Completed],
        Verifying => &[InProgress, Completed],
        Completed => &[],
    };
    if allowed.contains(&to) {
        Ok(true)
    } else {
        let names: Vec<String> = allowed.iter().map(|s| wire_name(*s)).collect();
        Err(format!(
            "a {} maintenance cannot become {}; allowed: {}",
            wire_name(from),
            wire_name(to),
            if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            }
        ))
    }
}

/// Schedules a maintenance with its first update (`scheduled`) and, when `notify`, the
/// subscriber notices; nothing is active before `scheduled_for`, so no component moves.
/// A reminder that would be due at creation already is skipped: the
/// creation notice says the same.
pub async fn create(store: &Store, new: &NewMaintenance, now: Timestamp) -> Result<Maintenance> {
    create_keyed(store, new, None, now).await
}

/// Schedules one occurrence of a recurring window (§4.6) unless the occurrence `key`
/// already exists; `None` then. Idempotent: the key is unique in the store.
pub async fn create_recurring(
    store: &Store,
    new: &NewMaintenance,
    key: &str,
    now: Timestamp,
) -> Result<Option<Maintenance>> {
    let known: Option<String> =
        sqlx::query_scalar("SELECT id FROM statuspage_incidents WHERE recurring_key = $1")
            .bind(key)
            .fetch_optional(store.pool())
            .await?;
    if known.is_some() {
        return Ok(None);
    }
    create_keyed(store, new, Some(key), now).await.map(Some)
}

async fn create_keyed(
    store: &Store,
    new: &NewMaintenance,
    recurring_key: Option<&str>,
    now: Timestamp,
) -> Result<Maintenance> {
    let id = new_public_id();
    let remind_at = new
        .remind_before
        .and_then(|before| new.scheduled_for.checked_sub(before).ok());
    let reminded_at = remind_at.filter(|at| *at <= now).map(|_| now);
    let mut tx = store.begin().await?;
    sqlx::query(
        "INSERT INTO statuspage_incidents (id, kind, name, status, impact, started_at, \
         created_at, updated_at, scheduled_for, scheduled_until, auto_start, auto_complete, \
         remind_before_s, reminded_at, notify, recurring_key) \
         VALUES ($1, 'maintenance', $2, 'scheduled', 'maintenance', $3, $4, $5, $6, $7, $8, $9, \
         $10, $11, $12, \
         $13)",
    )
    .bind(&id)
    .bind(&new.name)
    .bind(to_ms(new.scheduled_for))
    .bind(to_ms(now))
    .bind(to_ms(now))
    .bind(to_ms(new.scheduled_for))
    .bind(to_ms(new.scheduled_until))
    .bind(i64::from(new.auto_start))
    .bind(i64::from(new.auto_complete))
    .bind(new.remind_before.map(|d| d.as_secs()))
    .bind(reminded_at.map(to_ms))
    .bind(i64::from(new.notify))
    .bind(recurring_key)
    .execute(&mut *tx)
    .await?;
    for key in &new.components {
        set_held(&mut tx, &id, key, ComponentStatus::UnderMaintenance).await?;
    }
    let update_id = new_public_id();
    let ids = (id.as_str(), update_id.as_str());
    insert_update(
        &mut tx,
        ids,
        "scheduled",
        &new.body,
        (now, now),
        &[],
        new.notify,
    )
    .await?;
    if new.notify {
        let about = (id.as_str(), update_id.as_str(), "created");
        subscribers::queue_notices(&mut tx, MailKind::Maintenance, about, &new.components, now)
            .await?;
    }
    let created = get_in(&mut tx, &id).await?;
    tx.commit().await?;
    tracing::info!(maintenance.id = %id, scheduled_for = %new.scheduled_for,
        scheduled_until = %new.scheduled_until, "maintenance scheduled");
    Ok(created)
}

/// Moves a maintenance to `to` with an update (`body`, or a standard sentence), moving
/// the components it covers, and queues subscriber notices for a start or completion.
/// Returns `None` when it already was there.
pub async fn transition(
    store: &Store,
    page: &StatusPageConfig,
    id: &str,
    to: MaintenanceStatus,
    body: Option<&str>,
    now: Timestamp,
) -> Result<Option<Maintenance>> {
    let mut tx = store.begin().await?;
    let current = get_in(&mut tx, id).await?;
    if !check_move(current.status, to).map_err(StoreError::Conflict)? {
        return Ok(None);
    }
    if to == MaintenanceStatus::InProgress && now < current.scheduled_for {
        return Err(StoreError::Conflict(format!(
            "a maintenance cannot start before its scheduled_for ({})",
            current.scheduled_for
        )));
    }
    let completed = to == MaintenanceStatus::Completed;
    sqlx::query(
        "UPDATE statuspage_incidents SET status = $1, updated_at = $2, \
         resolved_at = CASE WHEN $3 THEN $4 ELSE resolved_at END WHERE id = $5",
    )
    .bind(wire_name(to))
    .bind(to_ms(now))
    .bind(completed)
    .bind(to_ms(now))
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let body = body.map_or_else(
        || standard_body(current.status, to).to_string(),
        str::to_string,
    );
    let update_id = new_public_id();
    let ids = (id, update_id.as_str());
    let status = wire_name(to);
    insert_update(
        &mut tx,
        ids,
        &status,
        &body,
        (now, now),
        &[],
        current.notify,
    )
    .await?;
    recompute(&mut tx, page, now).await?;
    if completed && current.is_active() {
        let services = services_of(page, &current.components);
        let held_until = hold_until(&current, now);
        let shortened = end_holds(&mut tx, &services, held_until, now).await?;
        if shortened > 0 {
            tracing::info!(maintenance.id = %id, alerts = shortened,
                "maintenance ended early; its alert holds end now");
        }
    }
    let event = match to {
        MaintenanceStatus::InProgress if current.status == MaintenanceStatus::Scheduled => {
            Some("started")
        }
        MaintenanceStatus::Completed => Some("completed"),
        _ => None,
    };
    if let Some(event) = event
        && current.notify
    {
        let about = (id, update_id.as_str(), event);
        let kind = MailKind::Maintenance;
        subscribers::queue_notices(&mut tx, kind, about, &current.components, now).await?;
    }
    let moved = get_in(&mut tx, id).await?;
    tx.commit().await?;
    tracing::info!(maintenance.id = %id, from = %wire_name(current.status), to = %status,
        "maintenance moved");
    Ok(Some(moved))
}

fn standard_body(from: MaintenanceStatus, to: MaintenanceStatus) -> &'static str {
    match (from, to) {
        (MaintenanceStatus::Scheduled, MaintenanceStatus::Completed) => {
            "This scheduled maintenance has been cancelled."
        }
        (_, MaintenanceStatus::InProgress) => "Scheduled maintenance is currently in progress.",
        (_, MaintenanceStatus::Verifying) => "Verification is underway for the maintenance.",
        (_, MaintenanceStatus::Completed) => "The scheduled maintenance has been completed.",
        (_, MaintenanceStatus::Scheduled) => "The maintenance is scheduled.",
    }
}

/// Queues the reminder notice for a maintenance and marks it sent.
pub async fn remind(store: &Store, id: &str, now: Timestamp) -> Result<()> {
    let mut tx = store.begin().await?;
    let current = get_in(&mut tx, id).await?;
    if current.reminder_due().is_none() {
        return Ok(());
    }
    sqlx::query("UPDATE statuspage_incidents SET reminded_at = $1 WHERE id = $2")
        .bind(to_ms(now))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let first: Option<String> = sqlx::query_scalar(
        "SELECT id FROM statuspage_updates WHERE public_id = $1 \
         ORDER BY display_at DESC, created_at DESC, seq DESC LIMIT 1",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    if let (true, Some(update_id)) = (current.notify, first) {
        let about = (id, update_id.as_str(), "reminder");
        let kind = MailKind::Maintenance;
        subscribers::queue_notices(&mut tx, kind, about, &current.components, now).await?;
    }
    tx.commit().await?;
    tracing::info!(maintenance.id = %id, "maintenance reminder queued");
    Ok(())
}

/// Every maintenance not completed, soonest first.
pub async fn open(store: &Store) -> Result<Vec<Maintenance>> {
    let mut conn = store.pool().acquire().await?;
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM statuspage_incidents WHERE kind = 'maintenance' \
         AND status <> 'completed' ORDER BY scheduled_for, id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut open = Vec::with_capacity(ids.len());
    for id in ids {
        open.push(get_in(&mut conn, &id).await?);
    }
    Ok(open)
}

pub async fn get(store: &Store, id: &str) -> Result<Maintenance> {
    let mut conn = store.pool().acquire().await?;
    get_in(&mut conn, id).await
}

async fn get_in(conn: &mut AnyConnection, id: &str) -> Result<Maintenance> {
    if !can_match(id) {
        return Err(StoreError::NotFound);
    }
    let row = sqlx::query(
        "SELECT id, name, status, scheduled_for, scheduled_until, auto_start, auto_complete, \
         remind_before_s, reminded_at, notify FROM statuspage_incidents \
         WHERE id = $1 AND kind = 'maintenance'",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    let components: Vec<String> = sqlx::query_scalar(
        "SELECT component_key FROM statuspage_incident_components WHERE public_id = $1 \
         ORDER BY component_key",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let status: String = row.try_get("status")?;
    let remind: Option<i64> = row.try_get("remind_before_s")?;
    let missing = || StoreError::Corrupt(format!("maintenance {id} has no schedule"));
    Ok(Maintenance {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        status: parse_stored("maintenance status", &status)?,
        components,
        scheduled_for: from_ms_opt(row.try_get("scheduled_for")?)?.ok_or_else(missing)?,
        scheduled_until: from_ms_opt(row.try_get("scheduled_until")?)?.ok_or_else(missing)?,
        auto_start: get_flag(&row, "auto_start")?,
        auto_complete: get_flag(&row, "auto_complete")?,
        remind_before: remind.map(SignedDuration::from_secs),
        reminded_at: from_ms_opt(row.try_get("reminded_at")?)?,
        notify: get_flag(&row, "notify")?,
    })
}

/// Shortens the alert holds a maintenance that ends early left behind: alerts of
/// `services` held until `until` are held until `now` instead, so the next engine pass
/// releases them (and holds them again if their service is still in another maintenance).
async fn end_holds(
    conn: &mut AnyConnection,
    services: &[String],
    until: Timestamp,
    now: Timestamp,
) -> Result<u64> {
    let mut shortened = 0;
    for service in services {
        shortened += sqlx::query(
            "UPDATE alerts SET maintenance_until = $1 WHERE service_id = $2 \
             AND maintenance_until = $3",
        )
        .bind(to_ms(now))
        .bind(service)
        .bind(to_ms(until))
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(shortened)
}

/// The services whose alerts concern `components` (keys), each once.
pub fn services_of(page: &StatusPageConfig, components: &[String]) -> Vec<String> {
    let mut services: Vec<String> = page
        .components
        .iter()
        .filter(|c| components.contains(&c.key))
        .flat_map(|c| c.services.iter().cloned())
        .collect();
    services.sort();
    services.dedup();
    services
}

/// How long alerts of an active maintenance are held: to its scheduled end, or for one
/// that overran (completed by hand later), to the next whole hour past that end, so the
/// hold is renewed hourly instead of on every pass.
pub fn hold_until(maintenance: &Maintenance, now: Timestamp) -> Timestamp {
    let end = maintenance.scheduled_until;
    if end > now {
        return end;
    }
    let hours = now.duration_since(end).as_secs() / 3600 + 1;
    end.checked_add(SignedDuration::from_hours(hours))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use MaintenanceStatus::*;

    fn t(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn window(status: MaintenanceStatus) -> Maintenance {
        Maintenance {
            id: "m".into(),
            name: "n".into(),
            status,
            components: vec!["db".into()],
            scheduled_for: t("2025-05-01T02:00:00Z"),
            scheduled_until: t("2025-05-01T04:00:00Z"),
            auto_start: true,
            auto_complete: true,
            remind_before: Some(SignedDuration::from_mins(60)),
            reminded_at: None,
            notify: true,
        }
    }

    #[test]
    fn windows_are_half_open_and_move_only_at_their_edges() {
        let scheduled = window(Scheduled);
        let running = window(InProgress);

        assert_eq!(scheduled.due_move(t("2025-05-01T01:59:59Z")), None);
        assert_eq!(
            scheduled.due_move(t("2025-05-01T02:00:00Z")),
            Some(InProgress)
        );
        assert_eq!(running.due_move(t("2025-05-01T03:59:59Z")), None);
        assert_eq!(running.due_move(t("2025-05-01T04:00:00Z")), Some(Completed));
        assert_eq!(
            scheduled.next_due(),
            Some(t("2025-05-01T01:00:00Z")),
            "the reminder"
        );
        assert_eq!(running.next_due(), Some(t("2025-05-01T04:00:00Z")));
        let manual = Maintenance {
            auto_start: false,
            remind_before: None,
            ..window(Scheduled)
        };
        assert_eq!(manual.due_move(t("2025-05-01T03:00:00Z")), None);
        assert_eq!(manual.next_due(), None);
    }

    #[test]
    fn moves_follow_the_lifecycle() {
        assert_eq!(check_move(Scheduled, InProgress), Ok(true));
        assert_eq!(check_move(InProgress, Verifying), Ok(true));
        assert_eq!(check_move(Verifying, InProgress), Ok(true));
        assert_eq!(check_move(Verifying, Verifying), Ok(false));
        assert!(check_move(Scheduled, Verifying).is_err());
        assert!(check_move(Completed, InProgress).is_err());
    }

    #[test]
    fn an_overrunning_window_is_held_an_hour_at_a_time() {
        let running = window(InProgress);

        assert_eq!(
            hold_until(&running, t("2025-05-01T03:00:00Z")),
            t("2025-05-01T04:00:00Z")
        );
        assert_eq!(
            hold_until(&running, t("2025-05-01T04:00:00Z")),
            t("2025-05-01T05:00:00Z")
        );
        assert_eq!(
            hold_until(&running, t("2025-05-01T05:30:00Z")),
            t("2025-05-01T06:00:00Z")
        );
    }
}
