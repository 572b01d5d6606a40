//! The UI's form posts. Each checks origin, CSRF token and role (responder) first, then
//! calls the store or engine function the API and CLI call, so an ack from the browser is
//! the same ack; the timeline says `via: web`. Afterwards the browser is sent back to the
//! page it acted on.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::{FormPairs, UiError, see_other};
use crate::domain::accounts::Role;
use crate::domain::alert::parse_alert_id;
use crate::domain::incident::{Change, DeclareRequest, Source, Status};
use crate::engine;
use crate::http::session::{self, CurrentUser};
use crate::http::{AppError, AppState};
use crate::store::alerts;
use crate::store::incidents::IncidentRef;

/// `POST /ui/alerts/{id}/ack`.
pub async fn ack(
    state: State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    id: Path<String>,
    form: FormPairs,
) -> Result<Response, UiError> {
    act(state, user, headers, id, form, true).await
}

/// `POST /ui/alerts/{id}/resolve`.
pub async fn resolve(
    state: State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    id: Path<String>,
    form: FormPairs,
) -> Result<Response, UiError> {
    act(state, user, headers, id, form, false).await
}

async fn act(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): FormPairs,
    ack: bool,
) -> Result<Response, UiError> {
    user.check_post(&state, &headers, &form, Role::Responder)?;
    let id = parse_alert_id(&id).ok_or(AppError::NotFound)?;
    let by = user.user.actor();
    let now = state.clock.now();
    if ack {
        alerts::acknowledge(&state.store, id, &by, "web", now).await?;
    } else {
        alerts::resolve(&state.store, id, &by, "web", now).await?;
    }
    state.wake.notify_one();
    tracing::info!(alert.id = id, user.login = %user.user.login, ack, "alert changed from the web");
    Ok(see_other(&format!("/ui/alerts/{id}")))
}

/// `POST /ui/incidents`: fields `title`, `severity`, `service` and optional `summary`. The
/// declarer (and default commander) is the user's person; an account without one is
/// refused by the same check the API applies to `by`.
pub async fn declare(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Form(form): FormPairs,
) -> Result<Response, UiError> {
    let config = state.config.current();
    user.check_post(&state, &headers, &form, Role::Responder)?;
    let text = |name| session::field(&form, name).map(str::to_string);
    let request = DeclareRequest {
        title: text("title").unwrap_or_default(),
        severity: text("severity"),
        summary: text("summary").filter(|s| !s.trim().is_empty()),
        impact: None,
        commander: None,
        comms_lead: None,
        services: text("service").into_iter().collect(),
        page: None,
        test: false,
    };
    let incident = engine::incidents::declare(
        &state.store,
        &config,
        request,
        &user.user.actor(),
        Source::Web,
        None,
        state.clock.now(),
    )
    .await?;
    state.wake.notify_one();
    Ok(see_other(&format!("/ui/incidents/{}", incident.number)))
}

/// `POST /ui/incidents/{number}/status`: fields `status` and optional `text`.
pub async fn status(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path(number): Path<String>,
    Form(form): FormPairs,
) -> Result<Response, UiError> {
    let config = state.config.current();
    user.check_post(&state, &headers, &form, Role::Responder)?;
    let reference: IncidentRef = number.parse().map_err(|_| AppError::NotFound)?;
    let to: Status = session::field(&form, "status")
        .unwrap_or_default()
        .parse()
        .map_err(|message: String| AppError::Invalid {
            field: "status".into(),
            message,
        })?;
    let text = session::field(&form, "text").map(str::to_string);
    let changed = engine::incidents::change(
        &state.store,
        &config,
        &reference,
        Change::Status { to, text },
        &user.user.actor(),
        Source::Web,
        state.clock.now(),
    )
    .await?;
    state.wake.notify_one();
    Ok(see_other(&format!(
        "/ui/incidents/{}",
        changed.incident.number
    )))
}

/// `POST /ui/alerts/{id}/promote`: optional `severity` (empty: mapped from the alert's) and
/// `title` (empty: the alert's summary). The same `engine::incidents::declare` the API's
/// `from_alert` and `dutybell incident declare --from-alert` call: the alert attaches and is
/// acked, its service joins; the promoter (the user's person) commands.
pub async fn promote(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): FormPairs,
) -> Result<Response, UiError> {
    let config = state.config.current();
    user.check_post(&state, &headers, &form, Role::Responder)?;
    let id = parse_alert_id(&id).ok_or(AppError::NotFound)?;
    let text = |name| {
        session::field(&form, name)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let request = DeclareRequest {
        title: text("title").unwrap_or_default(),
        severity: text("severity"),
        ..DeclareRequest::default()
    };
    let incident = engine::incidents::declare(
        &state.store,
        &config,
        request,
        &user.user.actor(),
        Source::Web,
        Some(id),
        state.clock.now(),
    )
    .await?;
    state.wake.notify_one();
    tracing::info!(alert.id = id, incident.number = incident.number,
        user.login = %user.user.login, "alert promoted from the web");
    Ok(see_other(&format!("/ui/incidents/{}", incident.number)))
}
