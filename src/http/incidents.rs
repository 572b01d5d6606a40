//! Incidents over the admin API (comms spec §1): declare (or promote an alert), list,
//! show with the timeline, and one route per change. Bearer token.
//!
//! `{ref}` is a number (`42`, `%2342`) or the incident's ULID. Every write names who acts
//! in `by` (a person id from team.toml); a declaration needs it, since the declarer is
//! the default commander.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::input::{actor, invalid, json};
use super::{AppError, AppState, auth};
use crate::domain::incident::{self, Change, DeclareRequest, Responders, Severity, Source, Status};
use crate::engine;
use crate::store::incidents::{self, IncidentRef};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/incidents", get(list).post(declare))
        .route("/api/v1/incidents/{id}", get(show))
        .route("/api/v1/incidents/{id}/status", post(status))
        .route("/api/v1/incidents/{id}/severity", post(severity))
        .route("/api/v1/incidents/{id}/commander", post(commander))
        .route("/api/v1/incidents/{id}/comms", post(comms))
        .route("/api/v1/incidents/{id}/notes", post(note))
        .route("/api/v1/incidents/{id}/updates", post(update))
        .route("/api/v1/incidents/{id}/summary", post(summary))
        .route("/api/v1/incidents/{id}/impact", post(impact))
        .route("/api/v1/incidents/{id}/page", post(page))
        .route("/api/v1/incidents/{id}/alerts", post(attach))
}

type Answer = Result<Json<serde_json::Value>, AppError>;

fn reference(text: &str) -> Result<IncidentRef, AppError> {
    text.parse()
        .map_err(|message: String| invalid("id", message))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeclareBody {
    title: Option<String>,
    severity: Option<String>,
    summary: Option<String>,
    impact: Option<String>,
    commander: Option<String>,
    comms_lead: Option<String>,
    #[serde(default)]
    services: Vec<String>,
    page: Option<bool>,
    #[serde(default)]
    test: bool,
    /// Promote this alert (id `12` or `A-12`).
    from_alert: Option<String>,
    /// The declarer: a person id.
    by: String,
}

async fn declare(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Answer {
    let config = state.config.current();
    auth::require_admin(&state, &headers)?;
    let body: DeclareBody = json(&body)?;
    let from_alert = match &body.from_alert {
        Some(text) => Some(
            crate::domain::alert::parse_alert_id(text)
                .ok_or_else(|| invalid("from_alert", format!("{text:?} is not an alert id")))?,
        ),
        None => None,
    };
    let request = DeclareRequest {
        title: body.title.unwrap_or_default(),
        severity: body.severity,
        summary: body.summary,
        impact: body.impact,
        commander: body.commander,
        comms_lead: body.comms_lead,
        services: body.services,
        page: body.page,
        test: body.test,
    };
    let incident = engine::incidents::declare(
        &state.store,
        &config,
        request,
        &body.by,
        Source::Api,
        from_alert,
        state.clock.now(),
    )
    .await?;
    state.wake.notify_one();
    Ok(Json(serde_json::json!({ "incident": incident })))
}

async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Answer {
    auth::require_admin(&state, &headers)?;
    let open = match query.get("open").map(String::as_str) {
        None | Some("false" | "0" | "no") => false,
        Some("true" | "1" | "yes" | "") => true,
        Some(other) => return Err(invalid("open", format!("{other:?} is not true or false"))),
    };
    let list = incidents::list(&state.store, open).await?;
    Ok(Json(serde_json::json!({ "incidents": list })))
}

async fn show(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    auth::require_admin(&state, &headers)?;
    let incident = incidents::get(&state.store, &reference(&id)?).await?;
    let timeline = incidents::timeline(&state.store, &incident.id).await?;
    Ok(Json(
        serde_json::json!({ "incident": incident, "timeline": timeline }),
    ))
}

/// Applies one change and answers the incident plus the event written (`null` for a
/// no-op such as a move to the current status).
async fn apply(state: &AppState, id: &str, change: Change, by: Option<String>) -> Answer {
    let config = state.config.current();
    let by = actor(state, by)?;
    let changed = engine::incidents::change(
        &state.store,
        &config,
        &reference(id)?,
        change,
        &by,
        Source::Api,
        state.clock.now(),
    )
    .await?;
    state.wake.notify_one();
    Ok(Json(serde_json::json!({
        "incident": changed.incident,
        "event": changed.event,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    status: String,
    text: Option<String>,
    /// With `resolved`: resolve the attached alerts too.
    #[serde(default)]
    resolve_alerts: bool,
    by: Option<String>,
}

async fn status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    auth::require_admin(&state, &headers)?;
    let body: StatusBody = json(&body)?;
    let to: Status = body
        .status
        .parse()
        .map_err(|m: String| invalid("status", m))?;
    let change = Change::Status {
        to,
        text: body.text,
    };
    let resolve_alerts = body.resolve_alerts && to == Status::Resolved;
    let by = body.by;
    let answer = apply(&state, &id, change, by.clone()).await?;
    if resolve_alerts {
        // An incident's resolve may close its alerts; an alert's never closes the incident.
        let by = actor(&state, by)?;
        let now = state.clock.now();
        let ids = answer.0["incident"]["alerts"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for alert in ids.iter().filter_map(serde_json::Value::as_i64) {
            crate::store::alerts::resolve(&state.store, alert, &by, "incident", now).await?;
        }
    }
    Ok(answer)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeverityBody {
    severity: String,
    by: Option<String>,
}

async fn severity(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    auth::require_admin(&state, &headers)?;
    let body: SeverityBody = json(&body)?;
    let severity: Severity = body
        .severity
        .parse()
        .map_err(|m: String| invalid("severity", m))?;
    apply(&state, &id, Change::Severity(severity), body.by).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    /// The person taking the role; for `commander`, absent means `by` claims it; for
    /// `comms`, absent (or null) hands comms back to the commander.
    person: Option<String>,
    by: Option<String>,
}

async fn commander(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    auth::require_admin(&state, &headers)?;
    let body: RoleBody = json(&body)?;
    let person = body
        .person
        .or_else(|| body.by.clone())
        .ok_or_else(|| invalid("person", "name the new commander (or `by` to claim)"))?;
    apply(&state, &id, Change::Commander(person), body.by).await
}

async fn comms(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    auth::require_admin(&state, &headers)?;
    let body: RoleBody = json(&body)?;
    apply(&state, &id, Change::CommsLead(body.person), body.by).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TextBody {
    text: String,
    /// Notes only: copy into the postmortem.
    #[serde(default)]
    key: bool,
    /// Notes only: when it happened, as typed (`2025-02-03 14:05`) in `time_zone`.
    at: Option<String>,
    /// Notes only: the IANA zone `at` was typed in (default UTC).
    time_zone: Option<String>,
    by: Option<String>,
}

impl TextBody {
    /// The text and actor of an update, summary or impact, which take none of the notes'
    /// fields: a caller who sends one is told, rather than seeing it silently dropped.
    fn plain(self) -> Result<(String, Option<String>), AppError> {
        let notes_only = [
            ("key", self.key),
            ("at", self.at.is_some()),
            ("time_zone", self.time_zone.is_some()),
        ];
        match notes_only.into_iter().find(|(_, given)| *given) {
            Some((field, _)) => Err(invalid(field, format!("only notes take `{field}`"))),
            None => Ok((self.text, self.by)),
        }
    }
}

async fn note(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let config = state.config.current();
    auth::require_admin(&state, &headers)?;
    let body: TextBody = json(&body)?;
    let at = match (&body.at, &body.time_zone) {
        (Some(at), zone) => {
            // Read in the zone given, else the author's own, else UTC.
            let zone = match zone {
                Some(zone) => {
                    jiff::tz::TimeZone::get(zone).map_err(|_| {
                        invalid("time_zone", format!("{zone:?} is not an IANA zone"))
                    })?;
                    zone.clone()
                }
                None => body
                    .by
                    .as_deref()
                    .and_then(|by| config.person(by))
                    .and_then(|p| p.time_zone.iana_name().map(str::to_string))
                    .unwrap_or_else(|| "UTC".into()),
            };
            let entry = incident::entry_time(at, &zone).map_err(|m| invalid("at", m))?;
            if entry.at > state.clock.now() {
                return Err(invalid("at", "a note cannot be dated in the future"));
            }
            Some(entry)
        }
        (None, Some(_)) => return Err(invalid("time_zone", "only with `at`")),
        (None, None) => None,
    };
    let change = Change::Note {
        text: body.text,
        key: body.key,
        at,
    };
    apply(&state, &id, change, body.by).await
}

async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    auth::require_admin(&state, &headers)?;
    let (text, by) = json::<TextBody>(&body)?.plain()?;
    apply(&state, &id, Change::Update { text }, by).await
}

async fn summary(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    auth::require_admin(&state, &headers)?;
    let (text, by) = json::<TextBody>(&body)?.plain()?;
    apply(&state, &id, Change::Summary(text), by).await
}

async fn impact(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    auth::require_admin(&state, &headers)?;
    let (text, by) = json::<TextBody>(&body)?.plain()?;
    apply(&state, &id, Change::Impact(text), by).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageBody {
    /// People to page at once.
    #[serde(default)]
    people: Vec<String>,
    /// Or: whoever the service's escalation policy reaches.
    service: Option<String>,
    by: Option<String>,
}

/// Pages more responders into the incident: people, or a service's on-call.
async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let config = state.config.current();
    auth::require_admin(&state, &headers)?;
    let body: PageBody = json(&body)?;
    let by = actor(&state, body.by)?;
    let who = match (body.people.is_empty(), body.service) {
        (false, None) => {
            let checked = crate::domain::direct::DirectPage::new(&body.people, "incident", |p| {
                config.person(p).is_some()
            })
            .map_err(|err| invalid(err.field(), err.to_string()))?;
            Responders::People(checked.people)
        }
        (true, Some(service)) => {
            let policy = config
                .service_policy(&service)
                .ok_or_else(|| invalid("service", format!("no service {service:?}")))?;
            Responders::Service { service, policy }
        }
        (true, None) => return Err(invalid("people", "name the people or the service to page")),
        (false, Some(_)) => return Err(invalid("service", "name people or a service, not both")),
    };
    let now = state.clock.now();
    let alert_id = incidents::page(&state.store, &reference(&id)?, &who, &by, now).await?;
    state.wake.notify_one();
    Ok(Json(serde_json::json!({ "alert_id": alert_id })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AttachBody {
    alert: String,
    by: Option<String>,
}

/// Attaches an alert (an alert joins at most one open incident).
async fn attach(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    auth::require_admin(&state, &headers)?;
    let body: AttachBody = json(&body)?;
    let by = actor(&state, body.by)?;
    let alert = crate::domain::alert::parse_alert_id(&body.alert)
        .ok_or_else(|| invalid("alert", format!("{:?} is not an alert id", body.alert)))?;
    let now = state.clock.now();
    let incident =
        incidents::attach(&state.store, &reference(&id)?, alert, "attached", &by, now).await?;
    Ok(Json(serde_json::json!({ "incident": incident })))
}
