//! The postmortem editor and action items in the web UI (issues #7 and #6, comms spec
//! §6): `GET /ui/incidents/{number}/postmortem` and its form posts (save the sections,
//! change the owner, add an item, change one's title, owner, due date and ticket, mark it
//! done or won't do, publish, skip), "request a draft" (offered on the incident page of a
//! resolved incident without one, beside "skip" for a P3), and `GET /ui/actions`.
//!
//! Every change goes through `engine::postmortems`, the functions the API and CLI call,
//! with source `web`; a refused publish shows the editor again with what is missing.
//! Any role reads; responders and up edit.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use jiff::civil::Date;

use super::{FormPairs, UiError, html, invalid, me, see_other};
use crate::domain::accounts::Role;
use crate::domain::incident::Source;
use crate::domain::postmortem::{self as pm, ItemStatus, ItemType, Status};
use crate::engine::incidents::IncidentError;
use crate::engine::postmortems::{self, Edit, Full, ItemEdit, NewItem};
use crate::http::session::{self, CurrentUser};
use crate::http::{AppError, AppState};
use crate::store::action_items::{self, ActionItem};
use crate::store::incidents::IncidentRef;
use crate::web::ui::learning;

fn reference(number: &str) -> Result<IncidentRef, UiError> {
    Ok(number.parse().map_err(|_| AppError::NotFound)?)
}

fn editor_path(number: i64) -> String {
    format!("/ui/incidents/{number}/postmortem")
}

fn editor(state: &AppState, user: &CurrentUser, full: &Full, refusals: &[String]) -> Response {
    let config = state.config.current();
    let status = if refusals.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let page = learning::postmortem(&config, &me(user), full, refusals);
    html(status, page)
}

/// `GET /ui/incidents/{number}/postmortem`.
pub async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(number): Path<String>,
) -> Result<Response, UiError> {
    let full = postmortems::get(&state.store, &reference(&number)?).await?;
    Ok(editor(&state, &user, &full, &[]))
}

/// `POST /ui/incidents/{number}/postmortem`: the sections (fields named as in
/// [`learning::SECTIONS`]; absent ones stay as they are) and optional `status` (`draft`
/// or `in_review`).
pub async fn save(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path(number): Path<String>,
    Form(form): FormPairs,
) -> Result<Response, UiError> {
    let config = state.config.current();
    user.check_post(&state, &headers, &form, Role::Responder)?;
    let reference = reference(&number)?;
    let full = postmortems::get(&state.store, &reference).await?;
    let mut document = full.postmortem.document.clone();
    for (key, _) in learning::SECTIONS {
        if let (Some(text), Some(slot)) = (
            session::field(&form, key),
            learning::section_mut(&mut document, key),
        ) {
            *slot = text.to_string();
        }
    }
    let status = match session::field(&form, "status").filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => Some(
            text.parse::<Status>()
                .map_err(|message: String| invalid("status", message))?,
        ),
    };
    let edit = Edit {
        document: Some(document),
        owner: None,
        status,
    };
    let now = state.clock.now();
    let saved =
        postmortems::edit(&state.store, &config, &reference, edit, Source::Web, now).await?;
    tracing::info!(incident.number = saved.incident.number, user.login = %user.user.login,
        "postmortem edited from the web");
    Ok(see_other(&editor_path(saved.incident.number)))
}

/// `POST /ui/incidents/{number}/postmortem/items`: `title`, optional `owner` (person
/// id), `due` (`YYYY-MM-DD`) and `kind` (prevent, mitigate, process).
pub async fn add_item(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path(number): Path<String>,
    Form(form): FormPairs,
) -> Result<Response, UiError> {
    let config = state.config.current();
    user.check_post(&state, &headers, &form, Role::Responder)?;
    let reference = reference(&number)?;
    let full = postmortems::get(&state.store, &reference).await?;
    if !full.postmortem.status.is_open() {
        return Err(AppError::Conflict(format!(
            "the postmortem of incident #{} is {}",
            full.incident.number, full.postmortem.status
        ))
        .into());
    }
    let text = |name| {
        session::field(&form, name)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let due = match text("due") {
        None => None,
        Some(due) => Some(
            due.parse::<Date>()
                .map_err(|_| invalid("due", "the due date is written YYYY-MM-DD"))?,
        ),
    };
    let kind = match text("kind") {
        None => ItemType::Prevent,
        Some(kind) => kind
            .parse::<ItemType>()
            .map_err(|message: String| invalid("kind", message))?,
    };
    let new = NewItem {
        title: text("title").unwrap_or_default().to_string(),
        owner: text("owner").map(str::to_string),
        due,
        kind,
        ticket_url: text("ticket_url").map(str::to_string),
    };
    let item = postmortems::add_item(
        &state.store,
        &config,
        &reference,
        new,
        &user.user.actor(),
        Source::Web,
        state.clock.now(),
    )
    .await?;
    state.wake.notify_one();
    tracing::info!(incident.number = item.incident_number, item.id = %item.id,
        user.login = %user.user.login, "action item added from the web");
    Ok(see_other(&editor_path(item.incident_number)))
}

/// `POST /ui/incidents/{number}/postmortem/draft`: drafts the postmortem of a resolved
/// incident that has none (P3s are not drafted on resolve), then opens the editor.
pub async fn request_draft(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path(number): Path<String>,
    Form(form): FormPairs,
) -> Result<Response, UiError> {
    let config = state.config.current();
    user.check_post(&state, &headers, &form, Role::Responder)?;
    let reference = reference(&number)?;
    let now = state.clock.now();
    let full = postmortems::request_draft(&state.store, &config, &reference, now).await?;
    state.wake.notify_one();
    tracing::info!(incident.number = full.incident.number, user.login = %user.user.login,
        "postmortem draft requested from the web");
    Ok(see_other(&editor_path(full.incident.number)))
}

/// `POST /ui/incidents/{number}/postmortem/owner`: `owner`, a person id.
pub async fn set_owner(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path(number): Path<String>,
    Form(form): FormPairs,
) -> Result<Response, UiError> {
    let config = state.config.current();
    user.check_post(&state, &headers, &form, Role::Responder)?;
    let reference = reference(&number)?;
    let owner = session::field(&form, "owner").unwrap_or_default().trim();
    let edit = Edit {
        owner: Some(owner.to_string()),
        ..Edit::default()
    };
    let now = state.clock.now();
    let saved =
        postmortems::edit(&state.store, &config, &reference, edit, Source::Web, now).await?;
    tracing::info!(incident.number = saved.incident.number, user.login = %user.user.login,
        postmortem.owner = %saved.postmortem.owner, "postmortem owner changed from the web");
    Ok(see_other(&editor_path(saved.incident.number)))
}

/// `POST /ui/incidents/{number}/postmortem/items/{item}/details`: `title`, `owner` (person
/// id), `due` (`YYYY-MM-DD`) and `ticket_url`; an empty owner, due date or ticket clears it.
pub async fn edit_item_details(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path((number, id)): Path<(String, String)>,
    Form(form): FormPairs,
) -> Result<Response, UiError> {
    let config = state.config.current();
    user.check_post(&state, &headers, &form, Role::Responder)?;
    let reference = reference(&number)?;
    let item = item_of(&state, &reference, &id).await?;
    let text = |name| {
        session::field(&form, name)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let due = match text("due") {
        None => None,
        Some(due) => Some(
            due.parse::<Date>()
                .map_err(|_| invalid("due", "the due date is written YYYY-MM-DD"))?,
        ),
    };
    let edit = ItemEdit {
        title: Some(text("title").unwrap_or_default()),
        owner: Some(text("owner")),
        due: Some(due),
        ticket_url: Some(text("ticket_url")),
        ..ItemEdit::default()
    };
    let now = state.clock.now();
    let item =
        postmortems::edit_item(&state.store, &config, &item.id, edit, Source::Web, now).await?;
    state.wake.notify_one();
    tracing::info!(incident.number = item.incident_number, item.id = %item.id,
        user.login = %user.user.login, "action item edited from the web");
    Ok(see_other(&editor_path(item.incident_number)))
}

/// The item `id` if it belongs to incident `reference`; `NotFound` otherwise.
async fn item_of(
    state: &AppState,
    reference: &IncidentRef,
    id: &str,
) -> Result<ActionItem, UiError> {
    let full = postmortems::get(&state.store, reference).await?;
    let item = action_items::get(&state.store, id).await?;
    if item.incident_id != full.incident.id {
        return Err(AppError::NotFound.into());
    }
    Ok(item)
}

/// `POST /ui/incidents/{number}/postmortem/items/{item}`: `status` `done` or `wont_do`
/// (with a `reason`).
pub async fn edit_item(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path((number, id)): Path<(String, String)>,
    Form(form): FormPairs,
) -> Result<Response, UiError> {
    let config = state.config.current();
    user.check_post(&state, &headers, &form, Role::Responder)?;
    let reference = reference(&number)?;
    let item = item_of(&state, &reference, &id).await?;
    let status = session::field(&form, "status")
        .unwrap_or_default()
        .parse::<ItemStatus>()
        .map_err(|message: String| invalid("status", message))?;
    let edit = ItemEdit {
        status: Some(status),
        reason: session::field(&form, "reason").map(str::to_string),
        ..ItemEdit::default()
    };
    let now = state.clock.now();
    let item =
        postmortems::edit_item(&state.store, &config, &item.id, edit, Source::Web, now).await?;
    state.wake.notify_one();
    tracing::info!(incident.number = item.incident_number, item.id = %item.id,
        status = item.status.as_str(), "action item changed from the web");
    Ok(see_other(&editor_path(item.incident_number)))
}

/// `POST /ui/incidents/{number}/postmortem/publish`: closes the incident, or shows the
/// editor again listing what is missing.
pub async fn publish(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path(number): Path<String>,
    Form(form): FormPairs,
) -> Result<Response, UiError> {
    user.check_post(&state, &headers, &form, Role::Responder)?;
    let reference = reference(&number)?;
    let now = state.clock.now();
    let by = user.user.actor();
    match postmortems::publish(&state.store, &reference, &by, Source::Web, now).await {
        Ok(full) => {
            state.wake.notify_one();
            tracing::info!(incident.number = full.incident.number, user.login = %user.user.login,
                "postmortem published from the web");
            Ok(see_other(&editor_path(full.incident.number)))
        }
        Err(IncidentError::Refused(refused)) if refused.field == "postmortem" => {
            // The same check publish ran, item by item, for the page's list.
            let full = postmortems::get(&state.store, &reference).await?;
            let rows: Vec<_> = full.items.iter().map(ActionItem::row).collect();
            let mut missing = pm::missing_for_publish(&full.postmortem.document, &rows);
            if missing.is_empty() {
                missing.push(refused.message);
            }
            Ok(editor(&state, &user, &full, &missing))
        }
        Err(err) => Err(err.into()),
    }
}

/// `POST /ui/incidents/{number}/postmortem/skip`: `reason`; P3 only, closes the incident.
pub async fn skip(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path(number): Path<String>,
    Form(form): FormPairs,
) -> Result<Response, UiError> {
    let config = state.config.current();
    user.check_post(&state, &headers, &form, Role::Responder)?;
    let reference = reference(&number)?;
    let reason = session::field(&form, "reason").unwrap_or_default();
    let full = postmortems::skip(
        &state.store,
        &config,
        &reference,
        reason,
        &user.user.actor(),
        Source::Web,
        state.clock.now(),
    )
    .await?;
    state.wake.notify_one();
    Ok(see_other(&editor_path(full.incident.number)))
}

/// `GET /ui/actions`: open action items by owner, overdue ones marked.
pub async fn actions(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Response, UiError> {
    let config = state.config.current();
    let now = state.clock.now();
    let items = postmortems::open_items(&state.store, &config, now).await?;
    let page = learning::actions(&config, &me(&user), &items);
    Ok(html(StatusCode::OK, page))
}
