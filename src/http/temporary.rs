//! Admin API for temporary schedules (`/api/v1/schedules/{id}/temporary`), bearer token.
//!
//! `POST {"start", "end", "shifts": [{"person", "start", "end" | "length"}]}` adds one,
//! `GET` lists them, `DELETE .../{temporary_id}` removes one. While a temporary schedule
//! covers an instant, the schedule's on-call set is exactly its shifts then (D3).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get};
use axum::{Json, Router};
use jiff::Timestamp;
use serde::Serialize;

use super::{AppError, AppState, auth};
use crate::domain::oncall::ShiftEnd;
use crate::domain::temporary_request::TemporaryRequest;
use crate::store::temporary::{self, StoredTemporary};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/schedules/{id}/temporary", get(list).post(create))
        .route(
            "/api/v1/schedules/{id}/temporary/{temporary_id}",
            delete(remove),
        )
}

/// A temporary schedule as the API shows it; shift ends are resolved instants.
#[derive(Debug, Serialize)]
pub struct TemporaryView {
    pub id: i64,
    pub schedule: String,
    pub start: Timestamp,
    pub end: Timestamp,
    pub shifts: Vec<ShiftView>,
    pub created_at: Timestamp,
    pub created_by: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ShiftView {
    pub person: String,
    pub start: Timestamp,
    pub end: Timestamp,
    /// The wall-clock length asked for, when it was given as a length.
    pub length: Option<String>,
}

fn view(state: &AppState, stored: StoredTemporary) -> TemporaryView {
    let config = state.config.current();
    let zone = config
        .schedules
        .get(&stored.schedule_id)
        .map_or(jiff::tz::TimeZone::UTC, |s| s.time_zone.clone());
    let shifts = stored
        .temporary
        .shifts
        .iter()
        .map(|shift| ShiftView {
            person: shift.person.clone(),
            start: shift.start,
            end: shift.end_in(&zone),
            length: match shift.end {
                ShiftEnd::Length(length) => Some(format!("{}s", length.as_secs())),
                ShiftEnd::At(_) => None,
            },
        })
        .collect();
    TemporaryView {
        id: stored.id,
        schedule: stored.schedule_id,
        start: stored.temporary.start,
        end: stored.temporary.end,
        shifts,
        created_at: stored.created_at,
        created_by: stored.created_by,
    }
}

async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Vec<TemporaryView>>, AppError> {
    let config = state.config.current();
    auth::require_admin(&state, &headers)?;
    config.schedules.get(&id).ok_or(AppError::NotFound)?;
    let stored = temporary::list(&state.store, &id).await?;
    Ok(Json(stored.into_iter().map(|s| view(&state, s)).collect()))
}

async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<TemporaryView>), AppError> {
    let config = state.config.current();
    auth::require_admin(&state, &headers)?;
    let schedule = config.schedules.get(&id).ok_or(AppError::NotFound)?;
    let request: TemporaryRequest =
        serde_json::from_slice(&body).map_err(|err| AppError::Invalid {
            field: "body".into(),
            message: err.to_string(),
        })?;
    let now = state.clock.now();
    let checked = request.check(&schedule.time_zone, now, |p| config.person(p).is_some())?;
    let stored = temporary::add(&state.store, &id, &checked, Some("api"), now).await?;
    tracing::info!(schedule.id = %id, temporary.id = stored.id, "temporary schedule added");
    Ok((StatusCode::CREATED, Json(view(&state, stored))))
}

async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, temporary_id)): Path<(String, String)>,
) -> Result<Json<TemporaryView>, AppError> {
    auth::require_admin(&state, &headers)?;
    let temporary_id: i64 = temporary_id.parse().map_err(|_| AppError::NotFound)?;
    let deleted = temporary::delete(&state.store, &id, temporary_id).await?;
    Ok(Json(view(&state, deleted)))
}
