//! Postmortem and action-item workflows (comms spec §6), shared by the API and the CLI,
//! and the reminders the engine sends for them.
//!
//! [`after_change`] is the hook `engine::incidents::change` calls: resolving a P1/P2
//! incident drafts its postmortem (from the incident and its timeline), reopening stops
//! its reminders. [`run`] is the engine step: drafts any resolved P1/P2 incident still
//! without one (so a crash between a resolve and its draft loses nothing), then sends
//! the due postmortem reminders (owner → commander → declarer) and action-item reminders
//! (owner) as notices — never pages — with quiet hours moved to 09:00 local (§0).
//! Publishing or skipping closes the incident (`store::postmortems::close`).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use sha2::{Digest as _, Sha256};

use super::Engine;
use super::incidents::IncidentError;
use crate::config::Config;
use crate::domain::escalation::Target;
use crate::domain::incident::{Refused, Severity, Source, Status as IncidentStatus};
use crate::domain::oncall::{self, Advance};
use crate::domain::postmortem::{
    self as pm, Document, Entry, ItemStatus, ItemType, ReminderKind, Status,
};
use crate::store::action_items::{self, ActionItem};
use crate::store::incidents::{self, Changed, Incident, IncidentRef};
use crate::store::notices::{NewNotice, NoticeKind};
use crate::store::overrides;
use crate::store::postmortems::{self, Postmortem};
use crate::store::{Store, StoreError};

const BATCH: i64 = 100;

fn refused(field: &'static str, message: impl Into<String>) -> IncidentError {
    IncidentError::Refused(Refused {
        field,
        message: message.into(),
    })
}

fn name(config: &Config, id: &str) -> String {
    config
        .person(id)
        .map_or_else(|| id.to_string(), |p| p.name.clone())
}

/// The zone times in a postmortem are written in (`[postmortem] time_zone`, UTC).
fn document_zone(config: &Config) -> TimeZone {
    config.settings.postmortem.time_zone.clone()
}

fn person_zone(config: &Config, id: &str) -> TimeZone {
    // TODO(#6): person → schedule → instance zone (§0); a person without a zone is UTC.
    config
        .person(id)
        .map_or(TimeZone::UTC, |p| p.time_zone.clone())
}

/// The first service's primary at `at` (§6.1): the first target of its escalation
/// policy's first step, resolved as `dutybell oncall` resolves it (overrides included).
async fn primary_at(
    store: &Store,
    config: &Config,
    services: &[String],
    at: Timestamp,
) -> Result<Option<String>, StoreError> {
    let policy = services
        .first()
        .and_then(|id| config.services.get(id))
        .and_then(|service| config.policies.get(&service.escalation));
    let Some(target) = policy
        .and_then(|p| p.steps.first())
        .and_then(|step| step.targets.first())
    else {
        return Ok(None);
    };
    Ok(match target {
        Target::Person(id) => Some(id.clone()),
        Target::Rotation(id) => config.rotations.get(id).and_then(|rotation| {
            // An on-active-shifts rotation only has an owner through a schedule (D2).
            let using = config.schedules.values().find(|schedule| {
                let target = oncall::Target::Rotation(id.clone());
                schedule.rules.iter().any(|rule| rule.target == target)
            });
            match (rotation.advance, using) {
                (Advance::OnActiveShifts, Some(schedule)) => {
                    oncall::slot_in_schedule(schedule, rotation, at).person
                }
                _ => rotation.slot_at(at).person,
            }
        }),
        Target::Schedule(id) => match config.schedules.get(id) {
            None => None,
            Some(schedule) => {
                let to = at.checked_add(ONCALL_HORIZON).unwrap_or(Timestamp::MAX);
                let schedule = overrides::with_overrides(store, schedule, at, to).await?;
                oncall::current(&schedule, &config.rotations, at, ONCALL_HORIZON)
                    .into_iter()
                    .next()
                    .map(|shift| shift.person)
            }
        },
    })
}

/// How far ahead the on-call lookup looks for the end of a shift.
const ONCALL_HORIZON: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

/// Who was on call (§6.1): the first service's primary at `started_at`, then the acker
/// when different; without a primary from the schedule, the first person paged.
fn on_call(config: &Config, primary: Option<String>, events: &[Entry]) -> Vec<String> {
    let first_paged = || {
        events
            .iter()
            .find(|e| e.kind == "page.sent")
            .and_then(|e| e.data["person"].as_str().map(str::to_string))
    };
    let first = primary.or_else(first_paged);
    let acker = events
        .iter()
        .find(|e| e.kind == "page.acked")
        .map(|e| e.actor.clone());
    let mut people: Vec<String> = Vec::new();
    for person in [first, acker].into_iter().flatten() {
        if !people.contains(&person) {
            people.push(person);
        }
    }
    people.iter().map(|id| name(config, id)).collect()
}

fn entries(events: &[incidents::Event]) -> Vec<Entry> {
    events
        .iter()
        .map(|e| Entry {
            kind: e.kind.clone(),
            occurred_at: e.occurred_at,
            actor: e.actor.clone(),
            key: e.key,
            data: e.data.clone(),
        })
        .collect()
}

/// Builds the draft document of a resolved incident from its timeline.
pub async fn build_draft(
    store: &Store,
    config: &Config,
    incident: &Incident,
    resolved_at: Timestamp,
) -> Result<Document, StoreError> {
    let events = entries(&incidents::timeline(store, &incident.id).await?);
    let primary = primary_at(store, config, &incident.services, incident.started_at).await?;
    let on_call = on_call(config, primary, &events);
    let zone = document_zone(config);
    let impact_minutes = postmortems::public_impact_spans(store, &incident.id, resolved_at)
        .await?
        .map(|(from, to, spans)| pm::visible_minutes(from, to, &spans));
    let commander = name(config, &incident.commander);
    let names = |id: &str| name(config, id);
    let facts = pm::Facts {
        title: &incident.title,
        severity: incident.severity,
        summary: &incident.summary,
        impact: &incident.impact,
        impact_minutes,
        started_at: incident.started_at,
        detected_at: incident.detected_at,
        resolved_at,
        detected_by_alert: events.iter().any(|e| e.kind == "alert.fired"),
        commander: &commander,
        on_call: &on_call,
        name: &names,
        zone: &zone,
    };
    Ok(pm::draft(&facts, &events))
}

/// The first reminder slot at or after `from` (slot index and instant), for reminders to
/// `owner`.
fn postmortem_slot(
    config: &Config,
    pm: &Postmortem,
    resolved_at: Timestamp,
    from_slot: i64,
    after: Option<Timestamp>,
) -> (i64, Timestamp) {
    let zone = person_zone(config, &pm.owner);
    let mut slot = from_slot;
    loop {
        let at = pm::postmortem_reminder(resolved_at, pm.due_at, slot, &zone);
        // Catching up after downtime sends one reminder, not one per missed day.
        if after.is_none_or(|after| at > after) || slot > from_slot + 1000 {
            return (slot, at);
        }
        slot += 1;
    }
}

/// Drafts the postmortem of a resolved incident, if it has none; `due_raised` is the
/// instant a severity raise after resolve asked for one (§6.3).
pub async fn draft(
    store: &Store,
    config: &Config,
    incident: &Incident,
    due_raised: Option<Timestamp>,
    now: Timestamp,
) -> Result<Option<Postmortem>, StoreError> {
    let Some(resolved_at) = incident.resolved_at else {
        return Err(StoreError::Conflict(format!(
            "incident #{} is {}; its postmortem is drafted when it is resolved",
            incident.number, incident.status
        )));
    };
    let document = build_draft(store, config, incident, resolved_at).await?;
    let mut new = Postmortem {
        incident_id: incident.id.clone(),
        status: Status::Draft,
        owner: incident.commander.clone(),
        due_at: pm::due_at_after(
            resolved_at,
            due_raised,
            config.settings.postmortem.due_after,
        ),
        document,
        skip_reason: None,
        reminders_sent: 0,
        next_reminder_at: None,
        exported_hash: None,
        created_at: now,
        updated_at: now,
        closed_at: None,
    };
    // A draft made late (a sweep after downtime, a severity raised after resolve) starts at
    // the next reminder still ahead rather than sending the missed ones at once.
    let (slot, first) = postmortem_slot(config, &new, resolved_at, 0, Some(now));
    new.reminders_sent = slot;
    new.next_reminder_at = Some(first);
    if !postmortems::create(store, &new, now).await? {
        return Ok(None);
    }
    tracing::info!(
        incident.number = incident.number,
        postmortem.owner = %new.owner,
        postmortem.due_at = %new.due_at,
        "postmortem drafted"
    );
    Ok(Some(new))
}

/// The hook after an incident change: resolve drafts (P1/P2), reopen stops reminders,
/// a severity raise to P1/P2 after resolve drafts with the later due time (§6.3).
pub async fn after_change(
    store: &Store,
    config: &Config,
    before: &Incident,
    changed: &Changed,
    now: Timestamp,
) -> Result<(), StoreError> {
    if changed.event.is_none() {
        return Ok(());
    }
    let after = &changed.incident;
    let reopened = before.status == IncidentStatus::Resolved && after.status.is_open();
    if reopened {
        postmortems::cancel_reminders(store, &after.id).await?;
        tracing::info!(
            incident.number = after.number,
            "postmortem reminders stopped"
        );
        return Ok(());
    }
    if after.status != IncidentStatus::Resolved || after.severity > Severity::P2 {
        return Ok(());
    }
    if before.status != IncidentStatus::Resolved {
        return match postmortems::get(store, &after.id).await? {
            None => draft(store, config, after, None, now).await.map(drop),
            Some(existing) => restart_reminders(store, config, existing, after, now).await,
        };
    }
    if before.severity > Severity::P2 {
        draft(store, config, after, Some(now), now).await?;
    }
    Ok(())
}

/// A postmortem whose incident was reopened and resolved again: due and reminders run
/// from the new resolve; the text people wrote stays.
async fn restart_reminders(
    store: &Store,
    config: &Config,
    mut existing: Postmortem,
    incident: &Incident,
    now: Timestamp,
) -> Result<(), StoreError> {
    let Some(resolved_at) = incident.resolved_at else {
        return Ok(());
    };
    if !existing.status.is_open() {
        return Ok(());
    }
    existing.due_at = pm::due_at_after(resolved_at, None, config.settings.postmortem.due_after);
    let (slot, at) = postmortem_slot(config, &existing, resolved_at, 0, Some(now));
    existing.reminders_sent = slot;
    existing.next_reminder_at = Some(at);
    postmortems::save(store, &existing, &[], Source::Engine, now).await
}

/// A postmortem with its incident and items.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Full {
    pub incident: Incident,
    pub postmortem: Postmortem,
    pub items: Vec<ActionItem>,
}

impl Full {
    /// The document as Markdown, items with their current status.
    pub fn markdown(&self) -> String {
        let rows: Vec<_> = self.items.iter().map(ActionItem::row).collect();
        pm::render(&self.postmortem.document, self.postmortem.status, &rows)
    }
}

/// The postmortem of an incident; `NotFound` when it has none.
pub async fn get(store: &Store, by: &IncidentRef) -> Result<Full, StoreError> {
    let incident = incidents::get(store, by).await?;
    let postmortem = postmortems::get(store, &incident.id)
        .await?
        .ok_or(StoreError::NotFound)?;
    let items = action_items::for_incident(store, &incident.id).await?;
    Ok(Full {
        incident,
        postmortem,
        items,
    })
}

/// Drafts a postmortem on request (P3, §6.2), or answers the existing one.
pub async fn request_draft(
    store: &Store,
    config: &Config,
    by: &IncidentRef,
    now: Timestamp,
) -> Result<Full, IncidentError> {
    let incident = incidents::get(store, by).await?;
    draft(store, config, &incident, None, now).await?;
    Ok(get(store, by).await?)
}

/// An edit of the document and who owns it; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct Edit {
    pub document: Option<Document>,
    pub owner: Option<String>,
    pub status: Option<Status>,
}

fn editable(full: &Full) -> Result<(), IncidentError> {
    if !full.postmortem.status.is_open() {
        return Err(StoreError::Conflict(format!(
            "the postmortem of incident #{} is {}",
            full.incident.number, full.postmortem.status
        ))
        .into());
    }
    Ok(())
}

/// Saves an edit of an open postmortem.
pub async fn edit(
    store: &Store,
    config: &Config,
    by: &IncidentRef,
    edit: Edit,
    source: Source,
    now: Timestamp,
) -> Result<Full, IncidentError> {
    let mut full = get(store, by).await?;
    editable(&full)?;
    let pm = &mut full.postmortem;
    if let Some(doc) = edit.document {
        pm.document = doc.normalized();
    }
    if let Some(owner) = edit.owner {
        if config.person(&owner).is_none() {
            return Err(refused(
                "owner",
                format!("no person {owner:?} in team.toml"),
            ));
        }
        pm.owner = owner;
    }
    match edit.status {
        None => {}
        Some(status @ (Status::Draft | Status::InReview)) => pm.status = status,
        Some(other) => {
            return Err(refused(
                "status",
                format!("{other} is set by publish or skip, not by an edit"),
            ));
        }
    }
    postmortems::save(store, pm, &[], source, now).await?;
    Ok(get(store, by).await?)
}

/// Publishes (§6.3): refused, listing what is missing, until the checks pass; then
/// closes the incident. Reminders stop.
pub async fn publish(
    store: &Store,
    by: &IncidentRef,
    actor: &str,
    source: Source,
    now: Timestamp,
) -> Result<Full, IncidentError> {
    let mut full = get(store, by).await?;
    editable(&full)?;
    let rows: Vec<_> = full.items.iter().map(ActionItem::row).collect();
    let missing = pm::missing_for_publish(&full.postmortem.document, &rows);
    if !missing.is_empty() {
        return Err(refused(
            "postmortem",
            format!("cannot publish yet: {}", missing.join("; ")),
        ));
    }
    full.postmortem.status = Status::Published;
    full.postmortem.next_reminder_at = None;
    full.postmortem.closed_at = Some(now);
    postmortems::close(store, &full.postmortem, actor, source, now).await?;
    tracing::info!(
        incident.number = full.incident.number,
        "postmortem published"
    );
    // TODO(#6): the `postmortem.published` webhook event (§3.1) for subscribed receivers.
    Ok(get(store, by).await?)
}

/// Skips the postmortem of a P3 incident with a reason, closing it (§6.3).
pub async fn skip(
    store: &Store,
    config: &Config,
    by: &IncidentRef,
    reason: &str,
    actor: &str,
    source: Source,
    now: Timestamp,
) -> Result<Full, IncidentError> {
    let incident = incidents::get(store, by).await?;
    if incident.severity != Severity::P3 {
        return Err(refused(
            "severity",
            format!(
                "a {} postmortem is required; only P3 may skip",
                incident.severity
            ),
        ));
    }
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(refused("reason", "say why the postmortem is skipped"));
    }
    let Some(resolved_at) = incident.resolved_at else {
        return Err(StoreError::Conflict(format!(
            "incident #{} is {}; resolve it first",
            incident.number, incident.status
        ))
        .into());
    };
    let mut postmortem = match postmortems::get(store, &incident.id).await? {
        Some(existing) => existing,
        None => {
            let document = build_draft(store, config, &incident, resolved_at).await?;
            let new = Postmortem {
                incident_id: incident.id.clone(),
                status: Status::Draft,
                owner: incident.commander.clone(),
                due_at: pm::due_at_after(resolved_at, None, config.settings.postmortem.due_after),
                document,
                skip_reason: None,
                reminders_sent: 0,
                next_reminder_at: None,
                exported_hash: None,
                created_at: now,
                updated_at: now,
                closed_at: None,
            };
            postmortems::create(store, &new, now).await?;
            new
        }
    };
    if !postmortem.status.is_open() {
        return Err(StoreError::Conflict(format!(
            "the postmortem of incident #{} is {}",
            incident.number, postmortem.status
        ))
        .into());
    }
    postmortem.status = Status::Skipped;
    postmortem.skip_reason = Some(reason.to_string());
    postmortem.next_reminder_at = None;
    postmortem.closed_at = Some(now);
    postmortems::close(store, &postmortem, actor, source, now).await?;
    tracing::info!(incident.number = incident.number, "postmortem skipped");
    Ok(get(store, by).await?)
}

/// A new action item as typed.
#[derive(Clone, Debug)]
pub struct NewItem {
    pub title: String,
    pub owner: Option<String>,
    pub due: Option<Date>,
    pub kind: ItemType,
    pub ticket_url: Option<String>,
}

/// A change to an item; `None` leaves a field as it is (`Some(None)` clears it).
#[derive(Clone, Debug, Default)]
pub struct ItemEdit {
    pub title: Option<String>,
    pub owner: Option<Option<String>>,
    pub due: Option<Option<Date>>,
    pub kind: Option<ItemType>,
    pub ticket_url: Option<Option<String>>,
    pub status: Option<ItemStatus>,
    pub reason: Option<String>,
}

fn check_item(config: &Config, item: &ActionItem) -> Result<(), IncidentError> {
    if item.title.trim().is_empty() || item.title.chars().any(char::is_control) {
        return Err(refused("title", "an action item needs a one-line title"));
    }
    if let Some(owner) = &item.owner
        && config.person(owner).is_none()
    {
        return Err(refused(
            "owner",
            format!("no person {owner:?} in team.toml"),
        ));
    }
    if let Some(url) = &item.ticket_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err(refused("ticket_url", "the ticket URL must be http(s)"));
    }
    if item.status == ItemStatus::WontDo && item.reason.as_deref().is_none_or(str::is_empty) {
        return Err(refused("reason", "say why it won't be done"));
    }
    Ok(())
}

/// The item's next reminder (§6.4): from 09:00 owner-local on the due date, weekdays
/// after; an overdue item just scheduled is reminded now (out of quiet hours).
fn schedule_item(config: &Config, item: &mut ActionItem, now: Timestamp) {
    item.reminders_sent = 0;
    item.next_reminder_at = None;
    let (Some(owner), Some(due), ItemStatus::Open) = (&item.owner, item.due, item.status) else {
        return;
    };
    let zone = person_zone(config, owner);
    item.next_reminder_at =
        pm::item_reminder(due, 0, &zone).map(|first| first.max(pm::out_of_quiet_hours(now, &zone)));
}

/// The slot after `sent`: the first weekday 09:00 after `now`.
fn next_item_slot(config: &Config, item: &ActionItem, now: Timestamp) -> (i64, Option<Timestamp>) {
    let (Some(owner), Some(due)) = (&item.owner, item.due) else {
        return (item.reminders_sent, None);
    };
    let zone = person_zone(config, owner);
    let mut slot = item.reminders_sent + 1;
    while slot < item.reminders_sent + 1000 {
        match pm::item_reminder(due, slot, &zone) {
            Some(at) if at > now => return (slot, Some(at)),
            Some(_) => slot += 1,
            None => break,
        }
    }
    (slot, None)
}

/// Adds an action item to an incident (during it or in the postmortem).
pub async fn add_item(
    store: &Store,
    config: &Config,
    by: &IncidentRef,
    new: NewItem,
    actor: &str,
    source: Source,
    now: Timestamp,
) -> Result<ActionItem, IncidentError> {
    let incident = incidents::get(store, by).await?;
    let existing = action_items::for_incident(store, &incident.id).await?;
    let mut item = ActionItem {
        id: ulid::Ulid::new().to_string(),
        incident_id: incident.id.clone(),
        incident_number: incident.number,
        position: existing.iter().map(|i| i.position).max().unwrap_or(0) + 1,
        title: new.title.trim().to_string(),
        owner: new.owner,
        due: new.due,
        kind: new.kind,
        status: ItemStatus::Open,
        reason: None,
        ticket_url: new.ticket_url,
        created_by: actor.to_string(),
        created_at: now,
        completed_at: None,
        reminders_sent: 0,
        next_reminder_at: None,
    };
    check_item(config, &item)?;
    schedule_item(config, &mut item, now);
    action_items::save(store, &item, source, now).await?;
    tracing::info!(incident.number = incident.number, item.id = %item.id, "action item added");
    Ok(item)
}

fn apply_item_edit(
    config: &Config,
    item: &mut ActionItem,
    edit: ItemEdit,
    now: Timestamp,
) -> Result<(), IncidentError> {
    let before = item.clone();
    if let Some(title) = edit.title {
        item.title = title.trim().to_string();
    }
    if let Some(owner) = edit.owner {
        item.owner = owner;
    }
    if let Some(due) = edit.due {
        item.due = due;
    }
    if let Some(kind) = edit.kind {
        item.kind = kind;
    }
    if let Some(url) = edit.ticket_url {
        item.ticket_url = url;
    }
    if let Some(reason) = edit.reason {
        item.reason = Some(reason.trim().to_string()).filter(|r| !r.is_empty());
    }
    if let Some(status) = edit.status {
        item.status = status;
    }
    if item.status != before.status {
        item.completed_at = (item.status != ItemStatus::Open).then_some(now);
        if item.status != ItemStatus::WontDo {
            item.reason = None;
        }
    }
    check_item(config, item)?;
    if (&item.owner, item.due, item.status) != (&before.owner, before.due, before.status) {
        schedule_item(config, item, now);
    }
    Ok(())
}

/// Changes an item: fields, or its status (done, won't do with a reason).
pub async fn edit_item(
    store: &Store,
    config: &Config,
    id: &str,
    edit: ItemEdit,
    source: Source,
    now: Timestamp,
) -> Result<ActionItem, IncidentError> {
    let mut item = action_items::get(store, id).await?;
    apply_item_edit(config, &mut item, edit, now)?;
    action_items::save(store, &item, source, now).await?;
    Ok(item)
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The exported file's name and bytes (§6.5): same data, same bytes.
pub fn export_text(full: &Full) -> anyhow::Result<(String, String)> {
    let incident = &full.incident;
    let front = pm::FrontMatter {
        incident: incident.number,
        severity: full.postmortem.document.severity.clone(),
        status: full.postmortem.status.as_str().to_string(),
        started_at: incident.started_at.to_string(),
        resolved_at: incident
            .resolved_at
            .map(|at| at.to_string())
            .unwrap_or_default(),
    };
    let text = pm::export_text(&front, &full.markdown()).map_err(anyhow::Error::msg)?;
    let date = incident
        .started_at
        .to_zoned(TimeZone::UTC)
        .date()
        .to_string();
    Ok((pm::file_name(&date, incident.number, &incident.title), text))
}

/// Writes the postmortem to `dir`; refuses to overwrite a file edited since the last
/// export or import unless `force`. Returns the path written.
pub async fn export(
    store: &Store,
    by: &IncidentRef,
    dir: &Path,
    force: bool,
) -> anyhow::Result<PathBuf> {
    let full = get(store, by).await.context("reading the postmortem")?;
    let (file, text) = export_text(&full)?;
    let path = dir.join(file);
    match std::fs::read_to_string(&path) {
        Ok(on_disk) if on_disk == text => {}
        Ok(on_disk) => {
            let known = full.postmortem.exported_hash.as_deref() == Some(&sha256_hex(&on_disk));
            anyhow::ensure!(
                known || force,
                "{} was edited since the last export; import it first, or pass --force to \
                 overwrite it",
                path.display()
            );
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
    postmortems::set_exported_hash(store, &full.incident.id, &sha256_hex(&text))
        .await
        .context("recording the export")?;
    Ok(path)
}

/// Reads an exported (and maybe edited) file back: the document, its status (draft or
/// in review), and the items (matched by action text; new rows become new items).
pub async fn import(
    store: &Store,
    config: &Config,
    text: &str,
    actor: &str,
    source: Source,
    now: Timestamp,
) -> Result<Full, IncidentError> {
    let (front, body) = pm::split_export(text).map_err(|message| refused("file", message))?;
    let parsed = pm::parse(body).map_err(|err| refused("file", err.to_string()))?;
    let by = IncidentRef::Number(front.incident);
    let mut full = get(store, &by).await?;
    editable(&full)?;
    match parsed.status {
        None | Some(Status::Draft | Status::InReview) => {}
        Some(other) => {
            return Err(refused(
                "status",
                format!("{other} is set by `dutybell postmortem publish` or `skip`"),
            ));
        }
    }
    let mut unused: Vec<ActionItem> = full.items.clone();
    let mut changed = Vec::new();
    for (index, row) in parsed.items.iter().enumerate() {
        let position = i64::try_from(index).unwrap_or(i64::MAX - 1) + 1;
        let found = unused.iter().position(|item| item.title == row.title);
        let mut item = match found {
            Some(at) => unused.remove(at),
            None => ActionItem {
                id: ulid::Ulid::new().to_string(),
                incident_id: full.incident.id.clone(),
                incident_number: full.incident.number,
                position,
                title: row.title.clone(),
                owner: None,
                due: None,
                kind: row.kind,
                status: ItemStatus::Open,
                reason: None,
                ticket_url: None,
                created_by: actor.to_string(),
                created_at: now,
                completed_at: None,
                reminders_sent: 0,
                next_reminder_at: None,
            },
        };
        let before = item.clone();
        let reason = (row.status == ItemStatus::WontDo && item.reason.is_none())
            .then(|| "marked won't do in the postmortem".to_string());
        let edit = ItemEdit {
            owner: Some(row.owner.clone()),
            due: Some(row.due),
            kind: Some(row.kind),
            ticket_url: Some(row.ticket_url.clone()),
            status: Some(row.status),
            reason,
            ..ItemEdit::default()
        };
        apply_item_edit(config, &mut item, edit, now)?;
        if found.is_none() {
            schedule_item(config, &mut item, now);
        }
        item.position = position;
        if item != before || found.is_none() {
            changed.push(item);
        }
    }
    // Rows deleted from the file: their open items become won't do, with the reason, so
    // nothing is silently lost and reminders for them stop.
    for mut item in unused.into_iter().filter(|i| i.status == ItemStatus::Open) {
        let edit = ItemEdit {
            status: Some(ItemStatus::WontDo),
            reason: Some(REMOVED_FROM_FILE.to_string()),
            ..ItemEdit::default()
        };
        apply_item_edit(config, &mut item, edit, now)?;
        changed.push(item);
    }
    full.postmortem.document = parsed.doc;
    if let Some(status) = parsed.status {
        full.postmortem.status = status;
    }
    full.postmortem.exported_hash = Some(sha256_hex(text));
    postmortems::save(store, &full.postmortem, &changed, source, now).await?;
    Ok(get(store, &by).await?)
}

/// Why an import closed an item whose row was deleted from the file.
pub const REMOVED_FROM_FILE: &str = "removed from the postmortem file";

/// Who a postmortem reminder goes to (§6.3): the owner, else the commander, else the
/// declarer — the first still in team.toml.
fn reminder_recipient<'a>(config: &Config, pm: &'a Postmortem, incident: &'a Incident) -> &'a str {
    [
        pm.owner.as_str(),
        incident.commander.as_str(),
        incident.declared_by.as_str(),
    ]
    .into_iter()
    .find(|id| config.person(id).is_some())
    .unwrap_or(pm.owner.as_str())
}

/// Longest reminder subject (§3.2, CM-13), in characters.
const SUBJECT_MAX: usize = 150;

/// A reminder subject cut to [`SUBJECT_MAX`] characters at a grapheme boundary, with `…`.
fn subject_line(subject: &str) -> String {
    crate::domain::text::truncate(subject, SUBJECT_MAX)
}

fn notices_to(
    config: &Config,
    person: &str,
    incident: &Incident,
    subject: &str,
    body: &str,
    data: serde_json::Value,
) -> Vec<NewNotice> {
    let topic = format!("incident:{}", incident.number);
    let subject = subject_line(subject);
    super::shifts::to_contacts(
        config,
        person,
        &topic,
        NoticeKind::Incident,
        &subject,
        body,
        &data,
    )
}

/// Sends the postmortem reminders due at `now`; returns how many.
async fn postmortem_reminders(engine: &Engine, now: Timestamp) -> anyhow::Result<usize> {
    let config = &engine.config;
    let due = postmortems::due_reminders(&engine.store, now, BATCH).await?;
    for pm in &due {
        let incident = incidents::get(&engine.store, &IncidentRef::Id(pm.incident_id.clone()))
            .await
            .context("reading the postmortem's incident")?;
        let Some(resolved_at) = incident.resolved_at else {
            // Reopened between the reminder being scheduled and now.
            postmortems::cancel_reminders(&engine.store, &incident.id).await?;
            continue;
        };
        let to = reminder_recipient(config, pm, &incident);
        let slot = pm.reminders_sent;
        let due_text = pm.due_at.strftime("%Y-%m-%d %H:%M UTC");
        let (subject, when) = match pm::postmortem_reminder_kind(resolved_at, pm.due_at, slot) {
            ReminderKind::DueSoon => ("Postmortem due in 24 h", format!("is due {due_text}")),
            ReminderKind::DueNow => ("Postmortem due now", format!("is due now ({due_text})")),
            ReminderKind::Overdue => ("Postmortem overdue", format!("was due {due_text}")),
        };
        let subject = format!(
            "[dutybell] {subject}: #{} {}",
            incident.number, incident.title
        );
        let body = format!(
            "The postmortem of incident #{} ({}): {} {when}.\nEdit it: `dutybell postmortem \
             export {n}`, then `import`; publish: `dutybell postmortem publish {n}`.\n{}{}",
            incident.number,
            incident.severity,
            incident.title,
            config.settings.public_url(),
            crate::domain::incident::web_path(incident.number),
            n = incident.number,
        );
        let data = serde_json::json!({
            "incident": { "id": incident.id, "number": incident.number,
                "title": incident.title, "severity": incident.severity },
            "postmortem": { "status": pm.status, "due_at": pm.due_at, "owner": pm.owner },
        });
        let notices = notices_to(config, to, &incident, &subject, &body, data);
        let notices = super::shifts::unverified_dropped(&engine.store, config, notices).await?;
        let (next_slot, next_at) = postmortem_slot(config, pm, resolved_at, slot + 1, Some(now));
        // TODO(#6): at due, one line in the incident's Slack thread too (§6.3).
        postmortems::record_reminder(&engine.store, pm, &notices, next_slot, Some(next_at), now)
            .await?;
        tracing::info!(
            incident.number = incident.number,
            user.id = %to,
            reminder = slot,
            "postmortem reminder sent"
        );
    }
    Ok(due.len())
}

/// Sends the action-item reminders due at `now`; returns how many.
async fn item_reminders(engine: &Engine, now: Timestamp) -> anyhow::Result<usize> {
    let config = &engine.config;
    let due = action_items::due_reminders(&engine.store, now, BATCH).await?;
    for item in &due {
        let incident = incidents::get(&engine.store, &IncidentRef::Id(item.incident_id.clone()))
            .await
            .context("reading the action item's incident")?;
        let Some(owner) = item.owner.as_deref() else {
            continue;
        };
        let zone = person_zone(config, owner);
        let overdue = pm::item_overdue(item.status, item.due, now, &zone);
        let due_text = item.due.map(|d| d.to_string()).unwrap_or_default();
        let (subject, said) = if overdue {
            (
                format!(
                    "[dutybell] Action item overdue: {} (#{})",
                    item.title, incident.number
                ),
                format!("was due {due_text}"),
            )
        } else {
            (
                format!(
                    "[dutybell] Action item due today: {} (#{})",
                    item.title, incident.number
                ),
                format!("is due today ({due_text})"),
            )
        };
        let body = format!(
            "Your action item from incident #{} ({}) {said}: {}\nClose it: `dutybell actions \
             done {}`.",
            incident.number, incident.title, item.title, item.id
        );
        let data = serde_json::json!({
            "incident": { "id": incident.id, "number": incident.number,
                "title": incident.title },
            "action_item": item,
        });
        let notices = notices_to(config, owner, &incident, &subject, &body, data);
        let notices = super::shifts::unverified_dropped(&engine.store, config, notices).await?;
        let (next_slot, next_at) = next_item_slot(config, item, now);
        action_items::record_reminder(&engine.store, item, &notices, next_slot, next_at, now)
            .await?;
        tracing::info!(
            incident.number = incident.number,
            item.id = %item.id,
            user.id = %owner,
            overdue,
            "action item reminder sent"
        );
    }
    // TODO(#6): the Monday team digest of open and overdue items (§6.4).
    Ok(due.len())
}

/// The engine step: drafts missing postmortems, then sends due reminders; returns how many
/// reminders went out.
pub async fn run(engine: &Engine, now: Timestamp) -> anyhow::Result<usize> {
    for id in postmortems::missing_drafts(&engine.store, BATCH).await? {
        let incident = incidents::get(&engine.store, &IncidentRef::Id(id)).await?;
        draft(&engine.store, &engine.config, &incident, None, now)
            .await
            .context("drafting a postmortem")?;
    }
    let sent = postmortem_reminders(engine, now).await?;
    Ok(sent + item_reminders(engine, now).await?)
}

/// The earliest postmortem or action-item reminder still to send.
pub async fn next_due(engine: &Engine) -> anyhow::Result<Option<Timestamp>> {
    let postmortem = postmortems::next_reminder_at(&engine.store).await?;
    let item = action_items::next_reminder_at(&engine.store).await?;
    Ok(postmortem.into_iter().chain(item).min())
}

/// Open action items by owner, each with whether it is overdue in its owner's zone.
pub async fn open_items(
    store: &Store,
    config: &Config,
    now: Timestamp,
) -> Result<Vec<(ActionItem, bool)>, StoreError> {
    let items = action_items::open(store).await?;
    Ok(items
        .into_iter()
        .map(|item| {
            let zone = item
                .owner
                .as_deref()
                .map_or(TimeZone::UTC, |o| person_zone(config, o));
            let overdue = pm::item_overdue(item.status, item.due, now, &zone);
            (item, overdue)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reminder_subjects_are_cut_to_150_characters_at_a_grapheme_boundary() {
        let short = "[dutybell] Postmortem due now: #1 API down";
        assert_eq!(subject_line(short), short);
        // 148 characters, then a flag (two scalar values, one grapheme) and more text.
        let long = format!("{}\u{1F1EA}\u{1F1F8} and more", "a".repeat(148));
        let cut = subject_line(&long);
        assert_eq!(cut, format!("{}…", "a".repeat(148)));
        assert_eq!(cut.chars().count(), 149);
        let exact = "b".repeat(150);
        assert_eq!(subject_line(&exact), exact);
        let over = "c".repeat(151);
        assert_eq!(subject_line(&over), format!("{}…", "c".repeat(149)));
    }
}
