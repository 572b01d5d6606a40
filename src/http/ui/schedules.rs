//! The UI's schedule pages and override forms (issue #7): `/ui/schedules`, a schedule's
//! month calendar, and adding and deleting overrides.
//!
//! The calendar is `domain::oncall::shifts` with the stored overrides merged in, the call
//! the API's `/api/v1/schedules/{id}/shifts` makes. An override from the form is checked by
//! `domain::override_request` and kept by `store::overrides`, as from the CLI and the API.
//! Any role reads; adding and deleting need a responder.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use jiff::{SignedDuration, Timestamp};

use super::{FormPairs, UiError, html, me, see_other};
use crate::config::Config;
use crate::domain::accounts::Role;
use crate::domain::oncall::{self, Schedule};
use crate::domain::override_request::OverrideRequest;
use crate::http::session::{self, CurrentUser};
use crate::http::{AppError, AppState};
use crate::store::overrides;
use crate::web::ui::schedules::{self as view, MonthPage, ScheduleRow};

fn schedule<'a>(config: &'a Config, id: &str) -> Result<&'a Schedule, AppError> {
    config.schedules.get(id).ok_or(AppError::NotFound)
}

/// `GET /ui/schedules`.
pub async fn list(State(state): State<AppState>, user: CurrentUser) -> Result<Response, UiError> {
    let config = state.config.current();
    let now = state.clock.now();
    let end = now
        .checked_add(SignedDuration::from_nanos(1))
        .unwrap_or(now);
    let mut merged = Vec::new();
    for schedule in config.schedules.values() {
        merged.push(overrides::with_overrides(&state.store, schedule, now, end).await?);
    }
    let rows: Vec<ScheduleRow> = merged
        .iter()
        .map(|schedule| ScheduleRow {
            id: &schedule.id,
            time_zone: &schedule.time_zone,
            on_call: oncall::oncall(schedule, &config.rotations, now)
                .into_iter()
                .collect(),
        })
        .collect();
    let page = view::schedules(&config, &me(&user), &rows);
    Ok(html(StatusCode::OK, page))
}

/// `GET /ui/schedules/{id}?month=YYYY-MM`; without `month`, this month in the schedule's
/// zone.
pub async fn month(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, UiError> {
    let config = state.config.current();
    let config_schedule = schedule(&config, &id)?;
    let zone = &config_schedule.time_zone;
    let now = state.clock.now();
    let today = now.to_zoned(zone.clone()).date();
    let first = match query.get("month") {
        Some(text) => view::parse_month(text).ok_or_else(|| AppError::Invalid {
            field: "month".into(),
            message: format!("{text:?} is not a month like 2025-06"),
        })?,
        None => today.first_of_month(),
    };
    let out_of_range = |_| AppError::Invalid {
        field: "month".into(),
        message: "the month is out of range".into(),
    };
    let days = view::month_days(first, zone).map_err(out_of_range)?;
    let (Some((_, from, _)), Some((_, _, to))) = (days.first(), days.last()) else {
        return Err(AppError::NotFound.into());
    };
    let merged = overrides::with_overrides(&state.store, config_schedule, *from, *to).await?;
    let shifts = oncall::shifts(&merged, &config.rotations, *from, *to);
    let stored = overrides::list(&state.store, &id).await?;
    let page = view::schedule(
        &config,
        &MonthPage {
            me: me(&user),
            id: &id,
            time_zone: zone,
            month: first,
            today,
            shifts: &shifts,
            overrides: &stored,
        },
    )
    .map_err(out_of_range)?;
    Ok(html(StatusCode::OK, page))
}

/// `/ui/schedules/{id}?month=` of the month `at` falls in, in the schedule's zone.
fn month_of(schedule: &Schedule, at: Timestamp) -> String {
    let local = at.to_zoned(schedule.time_zone.clone());
    format!(
        "/ui/schedules/{}?month={}",
        schedule.id,
        local.strftime("%Y-%m")
    )
}

/// `POST /ui/schedules/{id}/overrides`: fields `kind` (`replace`, `add`, `remove`),
/// `remove`, `add`, `start` and `end` (local `YYYY-MM-DDTHH:MM` in the schedule's zone, or
/// RFC 3339). A person field the kind does not use is ignored, so a form with both
/// selects filled still means what its kind says.
pub async fn add(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): FormPairs,
) -> Result<Response, UiError> {
    let config = state.config.current();
    user.check_post(&state, &headers, &form, Role::Responder)?;
    let schedule = schedule(&config, &id)?;
    let text = |name| session::field(&form, name).map(str::to_string);
    let kind = text("kind").filter(|k| !k.is_empty());
    let (add, remove) = match kind.as_deref() {
        Some("add") => (text("add"), None),
        Some("remove") => (None, text("remove")),
        _ => (text("add"), text("remove")),
    };
    let request = OverrideRequest {
        kind,
        add,
        remove,
        start: text("start"),
        end: text("end"),
    };
    let now = state.clock.now();
    let is_person = |p: &str| config.person(p).is_some();
    let rule = request
        .check(&schedule.time_zone, now, is_person)
        .map_err(AppError::from)?;
    let by = user.user.actor();
    let stored = overrides::add(&state.store, &id, &rule, Some(&by), now).await?;
    state.wake.notify_one();
    tracing::info!(schedule.id = %id, override.id = stored.id, user.login = %user.user.login,
        "override added from the web");
    Ok(see_other(&month_of(schedule, stored.rule.start)))
}

/// `POST /ui/schedules/{id}/overrides/{oid}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path((id, oid)): Path<(String, String)>,
    Form(form): FormPairs,
) -> Result<Response, UiError> {
    let config = state.config.current();
    user.check_post(&state, &headers, &form, Role::Responder)?;
    let schedule = schedule(&config, &id)?;
    let oid: i64 = oid.parse().map_err(|_| AppError::NotFound)?;
    let deleted = overrides::delete(&state.store, Some(&id), oid).await?;
    state.wake.notify_one();
    tracing::info!(schedule.id = %id, override.id = oid, user.login = %user.user.login,
        "override deleted from the web");
    Ok(see_other(&month_of(schedule, deleted.rule.start)))
}
