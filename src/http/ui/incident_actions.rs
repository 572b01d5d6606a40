//! The incident's comms actions in the UI (issue #7, comms spec §1, §4.5): the page
//! `/ui/incidents/{n}/comms` and its forms for severity, commander, comms lead, notes,
//! internal updates and public posts (first publish or update). Every change goes
//! through `engine::incidents::change` or `engine::publishing::post`, the paths the API,
//! Slack and CLI use; the timeline says `web`. The incident page shows the same forms
//! (`templates/incident_forms.html`) with `back=incident`, which sends the browser back
//! there instead of here.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use jiff::tz::TimeZone;
use serde::de::DeserializeOwned;

use super::{FormPairs, UiError, html, invalid, me, see_other};
use crate::domain::accounts::Role;
use crate::domain::incident::{self, Change, Severity, Source};
use crate::engine::publishing::{self, PublicPost};
use crate::http::session::{self, CurrentUser};
use crate::http::{AppError, AppState};
use crate::store::incidents::{self as store_incidents, IncidentRef};
use crate::web::ui::comms::{self, ComponentView, IncidentComms, IncidentHead, PersonOption};

// TODO(#7): `display_at` and `notify` for public updates are not offered yet.

/// A wire name (`partial_outage`) read as the enum the API takes.
pub(super) fn wire<T: DeserializeOwned>(field: &str, text: &str) -> Result<T, UiError> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(|_| invalid(field, format!("{text:?} is not a valid {field}")))
}

/// The viewer's zone: their person's, else UTC.
pub(super) fn zone_of(state: &AppState, user: &CurrentUser) -> TimeZone {
    let config = state.config.current();
    user.user
        .person_id
        .as_deref()
        .and_then(|id| config.person(id))
        .map_or(TimeZone::UTC, |p| p.time_zone.clone())
}

/// Components with their effective state from the cached page.
pub(super) fn components(state: &AppState) -> Vec<ComponentView> {
    let config = state.config.current();
    let rendered = state.statuspage.current();
    config
        .statuspage
        .components
        .iter()
        .map(|c| {
            let status = rendered
                .snapshot
                .components
                .iter()
                .find(|s| s.id == c.public_id)
                .map_or_else(String::new, |s| {
                    crate::store::statuspage::wire_name(s.status)
                });
            ComponentView {
                key: c.key.clone(),
                name: c.name.clone(),
                status,
            }
        })
        .collect()
}

/// The people of team.toml, to pick a commander or comms lead from.
pub(super) fn people(state: &AppState) -> Vec<PersonOption> {
    let config = state.config.current();
    config
        .people
        .values()
        .map(|p| PersonOption {
            id: p.id.clone(),
            name: p.name.clone(),
        })
        .collect()
}

/// Where a form sends the browser afterwards: the incident page when it came from there
/// (`back=incident`), else the actions page. Only these two, so no open redirect.
fn back_to(form: &[(String, String)], number: &str) -> String {
    match session::field(form, "back") {
        Some("incident") => format!("/ui/incidents/{number}"),
        _ => format!("/ui/incidents/{number}/comms"),
    }
}

fn person_name(state: &AppState, id: &str) -> String {
    let config = state.config.current();
    config
        .person(id)
        .map_or_else(|| id.to_string(), |p| p.name.clone())
}

/// `GET /ui/incidents/{number}/comms`.
pub async fn page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(number): Path<String>,
) -> Result<Response, UiError> {
    let reference: IncidentRef = number.parse().map_err(|_| AppError::NotFound)?;
    let incident = store_incidents::get(&state.store, &reference).await?;
    let events = store_incidents::timeline(&state.store, &incident.id).await?;
    let zone = zone_of(&state, &user);
    let timeline = events
        .iter()
        .map(|event| comms::TimelineView {
            at: crate::web::ui::utc(event.occurred_at),
            local: comms::local(event.occurred_at, &zone),
            kind: event.kind.clone(),
            actor: event.actor.clone(),
            detail: event
                .data
                .get("text")
                .and_then(serde_json::Value::as_str)
                .map_or_else(|| detail(&event.data), str::to_string),
        })
        .collect();
    let comms_lead = incident.comms_lead.clone().unwrap_or_default();
    let head = IncidentHead {
        number: incident.number,
        title: incident.title.clone(),
        status: incident.status.as_str().to_string(),
        severity: incident.severity.as_str().to_string(),
        commander: person_name(&state, &incident.commander),
        commander_id: incident.commander.clone(),
        comms_lead: if comms_lead.is_empty() {
            "(the commander)".to_string()
        } else {
            person_name(&state, &comms_lead)
        },
        comms_lead_id: comms_lead,
        public_id: incident.public_incident_id.clone(),
    };
    let page = comms::incident(&IncidentComms {
        me: me(&user),
        incident: head,
        people: people(&state),
        zone: zone.iana_name().unwrap_or("UTC").to_string(),
        components: components(&state),
        timeline,
    });
    Ok(html(StatusCode::OK, page))
}

/// A timeline detail as one line of JSON; `{}` shows as nothing.
fn detail(data: &serde_json::Value) -> String {
    match data {
        serde_json::Value::Null => String::new(),
        serde_json::Value::Object(map) if map.is_empty() => String::new(),
        other => other.to_string(),
    }
}

/// Applies `changes` and sends the browser back to the page the form was on.
async fn apply(
    state: &AppState,
    user: &CurrentUser,
    number: &str,
    form: &[(String, String)],
    changes: Vec<Change>,
) -> Result<Response, UiError> {
    let config = state.config.current();
    let reference: IncidentRef = number.parse().map_err(|_| AppError::NotFound)?;
    let mut shown = None;
    for change in changes {
        let kind = change.event_kind();
        let changed = crate::engine::incidents::change(
            &state.store,
            &config,
            &reference,
            change,
            &user.user.actor(),
            Source::Web,
            state.clock.now(),
        )
        .await?;
        tracing::info!(incident.number = changed.incident.number, kind,
            user.login = %user.user.login, "incident changed from the web");
        shown = Some(changed.incident.number);
    }
    state.wake.notify_one();
    let number = shown.map_or_else(|| number.to_string(), |n| n.to_string());
    Ok(see_other(&back_to(form, &number)))
}

fn text(form: &[(String, String)], name: &str) -> Option<String> {
    session::field(form, name)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `POST /ui/incidents/{number}/severity`: `severity`, optional `note` (added as a note).
pub async fn severity(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path(number): Path<String>,
    Form(form): FormPairs,
) -> Result<Response, UiError> {
    user.check_post(&state, &headers, &form, Role::Responder)?;
    let severity: Severity = session::field(&form, "severity")
        .unwrap_or_default()
        .parse()
        .map_err(|message: String| invalid("severity", message))?;
    let mut changes = vec![Change::Severity(severity)];
    if let Some(note) = text(&form, "note") {
        changes.push(Change::Note {
            text: note,
            key: false,
            at: None,
        });
    }
    apply(&state, &user, &number, &form, changes).await
}

/// `POST /ui/incidents/{number}/commander`: `person`.
pub async fn commander(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path(number): Path<String>,
    Form(form): FormPairs,
) -> Result<Response, UiError> {
    user.check_post(&state, &headers, &form, Role::Responder)?;
    let person = text(&form, "person").ok_or_else(|| invalid("person", "pick a person"))?;
    apply(
        &state,
        &user,
        &number,
        &form,
        vec![Change::Commander(person)],
    )
    .await
}

/// `POST /ui/incidents/{number}/comms-lead`: `person`, empty to hand comms back.
pub async fn comms_lead(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path(number): Path<String>,
    Form(form): FormPairs,
) -> Result<Response, UiError> {
    user.check_post(&state, &headers, &form, Role::Responder)?;
    let change = Change::CommsLead(text(&form, "person"));
    apply(&state, &user, &number, &form, vec![change]).await
}

/// `POST /ui/incidents/{number}/note`: `text`, optional `key`, and optional `at` typed in
/// `time_zone` (the viewer's zone by default), as the API reads them.
pub async fn note(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path(number): Path<String>,
    Form(form): FormPairs,
) -> Result<Response, UiError> {
    user.check_post(&state, &headers, &form, Role::Responder)?;
    let at = match text(&form, "at") {
        None => None,
        Some(at) => {
            let zone = text(&form, "time_zone").unwrap_or_else(|| {
                let zone = zone_of(&state, &user);
                zone.iana_name().unwrap_or("UTC").to_string()
            });
            let entry = incident::entry_time(&at, &zone).map_err(|m| invalid("at", m))?;
            if entry.at > state.clock.now() {
                return Err(invalid("at", "a note cannot be dated in the future"));
            }
            Some(entry)
        }
    };
    let change = Change::Note {
        text: session::field(&form, "text")
            .unwrap_or_default()
            .to_string(),
        key: session::field(&form, "key").is_some(),
        at,
    };
    apply(&state, &user, &number, &form, vec![change]).await
}

/// `POST /ui/incidents/{number}/update`: `text`, an internal status update.
pub async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path(number): Path<String>,
    Form(form): FormPairs,
) -> Result<Response, UiError> {
    user.check_post(&state, &headers, &form, Role::Responder)?;
    let change = Change::Update {
        text: session::field(&form, "text")
            .unwrap_or_default()
            .to_string(),
    };
    apply(&state, &user, &number, &form, vec![change]).await
}

/// `POST /ui/incidents/{number}/public`: publishes the incident (first time: `name`) or
/// posts a public update: `status`, `body`, and `component.<key>` states (empty: leave).
pub async fn public(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path(number): Path<String>,
    Form(form): FormPairs,
) -> Result<Response, UiError> {
    let config = state.config.current();
    user.check_post(&state, &headers, &form, Role::Responder)?;
    let reference: IncidentRef = number.parse().map_err(|_| AppError::NotFound)?;
    let mut components = BTreeMap::new();
    for (name, value) in &form {
        if let Some(key) = name.strip_prefix("component.")
            && !value.is_empty()
        {
            components.insert(key.to_string(), wire("component state", value)?);
        }
    }
    let status = text(&form, "status")
        .map(|s| wire("status", &s))
        .transpose()?;
    let post = PublicPost {
        name: text(&form, "name"),
        body: session::field(&form, "body")
            .unwrap_or_default()
            .to_string(),
        status,
        components,
        ..PublicPost::default()
    };
    let now = state.clock.now();
    let posted = publishing::post(
        &state.store,
        &config,
        &reference,
        post,
        &user.user.actor(),
        Source::Web,
        now,
    )
    .await?;
    state.statuspage.changed(&state.store, &config, now).await;
    state.wake.notify_one();
    tracing::info!(public.id = %posted.public_id, user.login = %user.user.login,
        "public incident posted from the web");
    Ok(see_other(&back_to(&form, &number)))
}
