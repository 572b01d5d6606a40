//! The status page admin API (comms spec §4.5, §4.6, §4.9 rule 3), bearer token:
//! publishing an incident and its public updates, scheduling and moving maintenances,
//! manual component states, and reclassifying past ranges (audited). Every write rebuilds
//! the cached page before answering, so the caller's next read sees it.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use jiff::Timestamp;
use serde::Deserialize;

use crate::domain::incident::Source;
use crate::domain::maintenance::{Boundary, boundary};
use crate::domain::statuspage::{ComponentStatus, Impact, MaintenanceStatus, PublicStatus};
use crate::engine::publishing::{self, PublicPost};
use crate::http::input::{actor, invalid, json};
use crate::http::{AppError, AppState, auth};
use crate::store::incidents::{self, IncidentRef};
use crate::store::statuspage::maintenances::{self, Maintenance, NewMaintenance};
use crate::store::statuspage::publish::Posted;
use crate::store::statuspage::{self, RangeClass};

/// Longest reclassification reason.
const MAX_REASON: usize = 1000;

// TODO(#6): a postmortem note does not yet set the public status `postmortem` (§6.3).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/incidents/{id}/publish", post(publish))
        .route("/api/v1/incidents/{id}/public-updates", post(public_update))
        .route("/api/v1/statuspage/maintenances", post(schedule))
        .route(
            "/api/v1/statuspage/maintenances/{id}/status",
            post(move_maintenance),
        )
        .route("/api/v1/statuspage/components/{key}", post(set_component))
        .route("/api/v1/statuspage/reclassify", post(reclassify))
        .route(
            "/api/v1/statuspage/reclassifications",
            get(reclassifications),
        )
}

type Answer = Result<(StatusCode, Json<serde_json::Value>), AppError>;

fn check_name(name: &str) -> Result<String, AppError> {
    Ok(publishing::check_name(name)?)
}

fn check_body(body: &str) -> Result<String, AppError> {
    Ok(publishing::check_body(body)?)
}

fn check_component(state: &AppState, key: &str) -> Result<(), AppError> {
    let config = state.config.current();
    Ok(publishing::check_component(&config, key)?)
}

/// A publish or update as the API answers it.
fn posted(state: &AppState, posted: &Posted) -> serde_json::Value {
    let config = state.config.current();
    let base = super::page_url(&config);
    serde_json::json!({
        "public_id": posted.public_id,
        "update_id": posted.update_id,
        "status": posted.status,
        "shortlink": format!("{base}/incidents/{}", posted.public_id),
        "affected_components": posted.affected,
    })
}

async fn page_changed(state: &AppState) {
    let config = state.config.current();
    let now = state.clock.now();
    state.statuspage.changed(&state.store, &config, now).await;
    state.wake.notify_one();
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishBody {
    name: Option<String>,
    body: String,
    status: Option<PublicStatus>,
    #[serde(default)]
    components: BTreeMap<String, ComponentStatus>,
    impact: Option<Impact>,
    notify: Option<bool>,
    by: Option<String>,
}

/// `POST /api/v1/incidents/{id}/publish` (§4.5): name (default: the title), body, status
/// (default: from the internal state), components, impact (default: from severity), notify
/// (default on). `409` once published: post updates instead.
async fn publish(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    auth::require_admin(&state, &headers)?;
    let body: PublishBody = json(&body)?;
    let post = PublicPost {
        name: body.name,
        body: body.body,
        status: body.status,
        components: body.components,
        impact: body.impact,
        notify: body.notify,
        display_at: None,
    };
    post_public(&state, &id, post, body.by, false).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    status: Option<PublicStatus>,
    body: String,
    #[serde(default)]
    components: BTreeMap<String, ComponentStatus>,
    notify: Option<bool>,
    /// RFC 3339; between the incident's start and now.
    display_at: Option<Timestamp>,
    by: Option<String>,
}

/// `POST /api/v1/incidents/{id}/public-updates` (§4.5); `409` before the first publish.
async fn public_update(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    auth::require_admin(&state, &headers)?;
    let body: UpdateBody = json(&body)?;
    let post = PublicPost {
        status: body.status,
        body: body.body,
        components: body.components,
        notify: body.notify,
        display_at: body.display_at,
        ..PublicPost::default()
    };
    post_public(&state, &id, post, body.by, true).await
}

/// Publishes (`update` false) or posts an update (`update` true), refusing the other case.
async fn post_public(
    state: &AppState,
    id: &str,
    post: PublicPost,
    by: Option<String>,
    update: bool,
) -> Answer {
    let config = state.config.current();
    let reference: IncidentRef = id.parse().map_err(|m: String| invalid("id", m))?;
    let actor = actor(state, by)?;
    let incident = incidents::get(&state.store, &reference).await?;
    match (incident.public_incident_id.is_some(), update) {
        (true, false) => {
            let message = "the incident is published; post public updates instead";
            return Err(AppError::Conflict(message.into()));
        }
        (false, true) => {
            let message = "the incident is not published; publish it first";
            return Err(AppError::Conflict(message.into()));
        }
        _ => {}
    }
    let now = state.clock.now();
    let done = publishing::post(
        &state.store,
        &config,
        &reference,
        post,
        &actor,
        Source::Api,
        now,
    )
    .await?;
    page_changed(state).await;
    Ok((StatusCode::CREATED, Json(posted(state, &done))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MaintenanceBody {
    name: String,
    components: Vec<String>,
    /// RFC 3339, or a local time in the page zone.
    scheduled_for: String,
    scheduled_until: String,
    body: String,
    auto_start: Option<bool>,
    auto_complete: Option<bool>,
    /// `"60m"` (the default), or `null` / `"0m"` for no reminder.
    #[serde(default = "default_remind")]
    remind_before: Option<String>,
    notify: Option<bool>,
}

fn default_remind() -> Option<String> {
    Some("60m".into())
}

/// `POST /api/v1/statuspage/maintenances` (§4.6).
async fn schedule(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Answer {
    let config = state.config.current();
    auth::require_admin(&state, &headers)?;
    let body: MaintenanceBody = json(&body)?;
    let zone = &config.statuspage.time_zone;
    let at = |field: &str, text: &str, side| {
        boundary(text, Some(zone), side).map_err(|message| invalid(field, message))
    };
    let scheduled_for = at("scheduled_for", &body.scheduled_for, Boundary::Start)?;
    let scheduled_until = at("scheduled_until", &body.scheduled_until, Boundary::End)?;
    if scheduled_until <= scheduled_for {
        return Err(invalid("scheduled_until", "must be after scheduled_for"));
    }
    for key in &body.components {
        check_component(&state, key)?;
    }
    let remind_before = match body.remind_before.as_deref() {
        None => None,
        Some(text) => {
            let before = crate::domain::duration::parse_duration(text)
                .map_err(|message| invalid("remind_before", message))?;
            (before.is_positive()).then_some(before)
        }
    };
    let new = NewMaintenance {
        name: check_name(&body.name)?,
        body: check_body(&body.body)?,
        components: body.components,
        scheduled_for,
        scheduled_until,
        auto_start: body.auto_start.unwrap_or(true),
        auto_complete: body.auto_complete.unwrap_or(true),
        remind_before,
        notify: body.notify.unwrap_or(true),
    };
    let created = maintenances::create(&state.store, &new, state.clock.now()).await?;
    page_changed(&state).await;
    Ok((
        StatusCode::CREATED,
        Json(maintenance_json(&state, &created)),
    ))
}

fn maintenance_json(state: &AppState, m: &Maintenance) -> serde_json::Value {
    let config = state.config.current();
    let base = super::page_url(&config);
    serde_json::json!({
        "id": m.id,
        "name": m.name,
        "status": m.status,
        "components": m.components,
        "scheduled_for": m.scheduled_for,
        "scheduled_until": m.scheduled_until,
        "auto_start": m.auto_start,
        "auto_complete": m.auto_complete,
        "remind_before_s": m.remind_before.map(|d| d.as_secs()),
        "notify": m.notify,
        "shortlink": format!("{base}/incidents/{}", m.id),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MoveBody {
    status: MaintenanceStatus,
    body: Option<String>,
}

/// `POST /api/v1/statuspage/maintenances/{id}/status`: a move by hand (§4.6).
async fn move_maintenance(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let config = state.config.current();
    auth::require_admin(&state, &headers)?;
    let body: MoveBody = json(&body)?;
    let text = body.body.as_deref().map(check_body).transpose()?;
    let page = &config.statuspage;
    let now = state.clock.now();
    let moved =
        maintenances::transition(&state.store, page, &id, body.status, text.as_deref(), now)
            .await?;
    let changed = moved.is_some();
    let current = match moved {
        Some(moved) => moved,
        None => maintenances::get(&state.store, &id).await?,
    };
    page_changed(&state).await;
    let mut answer = maintenance_json(&state, &current);
    answer["changed"] = changed.into();
    Ok((StatusCode::OK, Json(answer)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ComponentBody {
    status: ComponentStatus,
}

/// `POST /api/v1/statuspage/components/{key}`: the manual state (§4.1).
async fn set_component(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(key): Path<String>,
    body: Bytes,
) -> Answer {
    let config = state.config.current();
    auth::require_admin(&state, &headers)?;
    let body: ComponentBody = json(&body)?;
    let page = &config.statuspage;
    let now = state.clock.now();
    let effective = statuspage::set_manual(&state.store, page, &key, body.status, now).await?;
    page_changed(&state).await;
    let answer = serde_json::json!({ "key": key, "manual": body.status, "status": effective });
    Ok((StatusCode::OK, Json(answer)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReclassifyBody {
    /// A component key; every component when absent.
    component: Option<String>,
    start: Timestamp,
    end: Timestamp,
    #[serde(rename = "as")]
    class: RangeClass,
    reason: String,
    by: Option<String>,
}

/// `POST /api/v1/statuspage/reclassify` (§4.9 rule 3): a past range counted as maintenance
/// or no data, with who and why kept as the audit entry.
async fn reclassify(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Answer {
    auth::require_admin(&state, &headers)?;
    let body: ReclassifyBody = json(&body)?;
    let now = state.clock.now();
    if body.start >= body.end {
        return Err(invalid("end", "must be after start"));
    }
    if body.end > now {
        return Err(invalid("end", "only past ranges can be reclassified"));
    }
    if let Some(key) = &body.component {
        check_component(&state, key).map_err(|_| invalid("component", format!("no {key:?}")))?;
    }
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON {
        return Err(invalid(
            "reason",
            format!("must be 1 to {MAX_REASON} characters"),
        ));
    }
    let admin = actor(&state, body.by)?;
    let range = (body.start, body.end);
    let component = body.component.as_deref();
    let done = statuspage::reclassify(
        &state.store,
        component,
        range,
        body.class,
        reason,
        &admin,
        now,
    )
    .await?;
    page_changed(&state).await;
    Ok((StatusCode::CREATED, Json(serde_json::json!(done))))
}

/// `GET /api/v1/statuspage/reclassifications`: the audit trail, oldest first.
async fn reclassifications(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, AppError> {
    auth::require_admin(&state, &headers)?;
    let all = statuspage::reclassifications(&state.store).await?;
    Ok(Json(serde_json::json!({ "reclassifications": all })))
}
