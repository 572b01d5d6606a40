//! Runbooks in the web UI (issues #7 and #6, comms spec §5): `GET /ui/runbooks` (list),
//! `GET /ui/runbooks/{slug}` (rendered), the covering runbook on the alert and incident
//! pages, and `POST /ui/alerts/{id}/runbook/step`, a responder ticking a step.
//!
//! A tick is a `runbook.step` entry on the alert timeline (detail: runbook slug, step text,
//! ticked by), mirrored by the store onto the timeline of each open incident the alert is
//! in. Only steps of the alert's covering runbook are accepted, and a step already ticked
//! is not recorded twice. Runbooks come from the config directory and hold internal
//! commands, so every page here needs a session.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{UiError, html, invalid, me, see_other};
use crate::domain::accounts::Role;
use crate::domain::alert::parse_alert_id;
use crate::engine::outbox::covering;
use crate::http::session::{self, CurrentUser};
use crate::http::{AppError, AppState};
use crate::store::alerts::{self, Alert, TimelineEntry};
use crate::store::incidents::Incident;
use crate::web::ui::learning;

/// `GET /ui/runbooks`.
pub async fn list(State(state): State<AppState>, user: CurrentUser) -> Result<Response, UiError> {
    let config = state.config.current();
    let page = learning::runbooks(&me(&user), config.runbooks.all());
    Ok(html(StatusCode::OK, page))
}

/// `GET /ui/runbooks/{slug}`.
pub async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(slug): Path<String>,
) -> Result<Response, UiError> {
    let config = state.config.current();
    let runbook = config.runbooks.get(&slug).ok_or(AppError::NotFound)?;
    Ok(html(StatusCode::OK, learning::runbook(&me(&user), runbook)))
}

/// `POST /ui/alerts/{id}/runbook/step`: fields `runbook` (slug) and `step` (its text as
/// the page shows it).
pub async fn tick(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    let config = state.config.current();
    user.check_post(&state, &headers, &form, Role::Responder)?;
    let id = parse_alert_id(&id).ok_or(AppError::NotFound)?;
    let alert = alerts::get(&state.store, id).await?;
    let slug = session::field(&form, "runbook").unwrap_or_default();
    let step = session::field(&form, "step").unwrap_or_default();
    let runbook = covering(&config, &alert)
        .filter(|runbook| runbook.slug == slug)
        .ok_or_else(|| invalid("runbook", "that runbook does not cover this alert"))?;
    if !learning::steps(&runbook.body).iter().any(|s| s == step) {
        return Err(invalid("step", "that is not a step of this runbook"));
    }
    // TODO(#6): check and insert in one transaction; two ticks of the same step at the
    // same instant can both be recorded.
    let timeline = alerts::timeline(&state.store, id).await?;
    if learning::ticked_by(&timeline, slug, step).is_none() {
        let by = user.user.actor();
        let detail = serde_json::json!({
            "runbook": slug,
            "step": step,
            "ticked_by": by,
            "via": "web",
        });
        let now = state.clock.now();
        let mut tx = state.store.begin().await?;
        alerts::add_event(&mut tx, id, now, learning::STEP_EVENT, Some(&by), detail).await?;
        tx.commit().await.map_err(crate::store::StoreError::from)?;
        tracing::info!(alert.id = id, runbook.slug = %slug, user.login = %user.user.login,
            "runbook step ticked from the web");
    }
    Ok(see_other(&back(&form, id)))
}

/// Where the browser goes after a tick: the incident page it was ticked on, else the
/// alert page; anything else in `back` is ignored, so the form cannot redirect off-site.
fn back(form: &[(String, String)], alert_id: i64) -> String {
    let incident = session::field(form, "back")
        .and_then(|path| path.strip_prefix("/ui/incidents/"))
        .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
    match incident {
        Some(number) => format!("/ui/incidents/{number}"),
        None => format!("/ui/alerts/{alert_id}"),
    }
}

/// `page` (the alert page) with the alert's covering runbook and its steps.
pub fn with_alert_runbook(
    state: &AppState,
    user: &CurrentUser,
    alert: &Alert,
    timeline: &[TimelineEntry],
    page: String,
) -> String {
    let config = state.config.current();
    let Some(runbook) = covering(&config, alert) else {
        return page;
    };
    let back = format!("/ui/alerts/{}", alert.id);
    let block = learning::runbook_block(&me(user), &back, alert.id, runbook, timeline);
    learning::with_blocks(page, &[block])
}

/// `page` (the incident page) with the covering runbook of each attached alert, once per
/// runbook; its ticks go to the first attached alert it covers.
pub async fn with_incident_runbooks(
    state: &AppState,
    user: &CurrentUser,
    incident: &Incident,
    page: String,
) -> Result<String, UiError> {
    let config = state.config.current();
    let back = format!("/ui/incidents/{}", incident.number);
    let mut seen: Vec<&str> = Vec::new();
    let mut blocks = Vec::new();
    for &id in &incident.alerts {
        let alert = alerts::get(&state.store, id).await?;
        let Some(runbook) = covering(&config, &alert) else {
            continue;
        };
        if seen.contains(&runbook.slug.as_str()) {
            continue;
        }
        seen.push(&runbook.slug);
        let timeline = alerts::timeline(&state.store, id).await?;
        blocks.push(learning::runbook_block(
            &me(user),
            &back,
            id,
            runbook,
            &timeline,
        ));
    }
    Ok(learning::with_blocks(page, &blocks))
}
