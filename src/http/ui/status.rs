//! `/ui/status`: the status page's admin in the UI (issue #7, comms spec §4.1, §4.6):
//! component states, maintenances (schedule, move) and recent public incidents. Edits
//! need the admin role and go through the store functions the admin API uses; every
//! write rebuilds the cached page before answering. Publishing incident updates is on the
//! incident's page (responders).

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::incident_actions::{components, wire};
use super::{FormPairs, UiError, html, invalid, see_other};
use crate::domain::accounts::Role;
use crate::domain::maintenance::{Boundary, boundary};
use crate::domain::statuspage::{ComponentStatus, MaintenanceStatus};
use crate::engine::publishing;
use crate::http::AppState;
use crate::http::session::{self, CurrentUser};
use crate::store::statuspage::{self, maintenances, wire_name};
use crate::web::ui::Me;
use crate::web::ui::comms::{self, MaintenanceView, PublicIncidentView, StatusAdmin};

/// How many recent public incidents the page lists.
const RECENT: usize = 10;

/// `GET /ui/status`.
pub async fn page(State(state): State<AppState>, user: CurrentUser) -> Result<Response, UiError> {
    let config = state.config.current();
    let open = maintenances::open(&state.store).await?;
    let maintenances = open
        .iter()
        .map(|m| MaintenanceView {
            id: m.id.clone(),
            name: m.name.clone(),
            status: wire_name(m.status),
            window: format!(
                "{} – {}",
                crate::web::ui::utc(m.scheduled_for),
                crate::web::ui::utc(m.scheduled_until)
            ),
        })
        .collect();
    let rendered = state.statuspage.current();
    let incidents = rendered
        .snapshot
        .incidents
        .iter()
        .take(RECENT)
        .map(|i| PublicIncidentView {
            name: i.name.clone(),
            status: i.status.clone(),
            impact: wire_name(i.impact),
            started: crate::web::ui::utc(i.started_at),
        })
        .collect();
    let page = comms::status(&StatusAdmin {
        me: Me {
            login: &user.user.login,
            role: user.user.role,
            csrf: &user.csrf,
        },
        page_zone: config
            .statuspage
            .time_zone
            .iana_name()
            .unwrap_or("UTC")
            .to_string(),
        components: components(&state),
        maintenances,
        incidents,
    });
    Ok(html(StatusCode::OK, page))
}

async fn page_changed(state: &AppState) {
    let config = state.config.current();
    let now = state.clock.now();
    state.statuspage.changed(&state.store, &config, now).await;
    state.wake.notify_one();
}

/// `POST /ui/status/components/{key}`: `status`, the manual state (admin).
pub async fn set_component(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path(key): Path<String>,
    Form(form): FormPairs,
) -> Result<Response, UiError> {
    let config = state.config.current();
    user.check_post(&state, &headers, &form, Role::Admin)?;
    let to: ComponentStatus = wire("status", session::field(&form, "status").unwrap_or(""))?;
    let page = &config.statuspage;
    let now = state.clock.now();
    statuspage::set_manual(&state.store, page, &key, to, now).await?;
    page_changed(&state).await;
    tracing::info!(component = %key, status = %wire_name(to), user.login = %user.user.login,
        "component state set from the web");
    Ok(see_other("/ui/status"))
}

/// `POST /ui/status/maintenances`: `name`, `scheduled_for`, `scheduled_until` (RFC 3339
/// or local in the page zone), `body`, `component` (repeated). Admin.
pub async fn schedule(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Form(form): FormPairs,
) -> Result<Response, UiError> {
    let config = state.config.current();
    user.check_post(&state, &headers, &form, Role::Admin)?;
    let field = |name: &str| -> &str { session::field(&form, name).unwrap_or_default() };
    let zone = &config.statuspage.time_zone;
    let at = |name: &str, side| {
        boundary(field(name), Some(zone), side).map_err(|message| invalid(name, message))
    };
    let scheduled_for = at("scheduled_for", Boundary::Start)?;
    let scheduled_until = at("scheduled_until", Boundary::End)?;
    if scheduled_until <= scheduled_for {
        return Err(invalid("scheduled_until", "must be after scheduled_for"));
    }
    let components: Vec<String> = form
        .iter()
        .filter(|(name, _)| name == "component")
        .map(|(_, key)| key.clone())
        .collect();
    for key in &components {
        publishing::check_component(&config, key)?;
    }
    let new = maintenances::NewMaintenance {
        name: publishing::check_name(field("name"))?,
        body: publishing::check_body(field("body"))?,
        components,
        scheduled_for,
        scheduled_until,
        auto_start: true,
        auto_complete: true,
        remind_before: Some(jiff::SignedDuration::from_mins(60)),
        notify: true,
    };
    let created = maintenances::create(&state.store, &new, state.clock.now()).await?;
    page_changed(&state).await;
    tracing::info!(maintenance.id = %created.id, user.login = %user.user.login,
        "maintenance scheduled from the web");
    Ok(see_other("/ui/status"))
}

/// `POST /ui/status/maintenances/{id}/status`: `status`, optional `body`. Admin.
pub async fn move_maintenance(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): FormPairs,
) -> Result<Response, UiError> {
    let config = state.config.current();
    user.check_post(&state, &headers, &form, Role::Admin)?;
    let to: MaintenanceStatus = wire("status", session::field(&form, "status").unwrap_or(""))?;
    let body = session::field(&form, "body")
        .filter(|b| !b.trim().is_empty())
        .map(publishing::check_body)
        .transpose()?;
    let page = &config.statuspage;
    let now = state.clock.now();
    maintenances::transition(&state.store, page, &id, to, body.as_deref(), now).await?;
    page_changed(&state).await;
    Ok(see_other("/ui/status"))
}
