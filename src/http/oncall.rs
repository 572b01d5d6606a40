//! Admin API for who is on call (`GET /api/v1/oncall[?at=T]`) and a schedule's shifts
//! (`GET /api/v1/schedules/{id}/shifts?from=T&to=T`), bearer token. Both answer from
//! `domain::oncall` with stored overrides and temporary schedules merged in — the same
//! function escalation, the CLI, iCal and notices use (D4).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::{AppError, AppState, auth};
use crate::domain::oncall;
use crate::store::overrides;

/// How far ahead the end of a current shift is looked for.
const LOOKAHEAD: SignedDuration = SignedDuration::from_hours(90 * 24);
/// Longest window `shifts` answers for.
const MAX_WINDOW: SignedDuration = SignedDuration::from_hours(366 * 24);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/oncall", get(now))
        .route("/api/v1/schedules/{id}/shifts", get(shifts))
}

fn instant(query: &HashMap<String, String>, name: &str) -> Result<Option<Timestamp>, AppError> {
    query
        .get(name)
        .map(|text| {
            text.parse().map_err(|_| AppError::Invalid {
                field: name.into(),
                message: format!("{text:?} is not an RFC 3339 instant"),
            })
        })
        .transpose()
}

async fn now(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, AppError> {
    let config = state.config.current();
    auth::require_admin(&state, &headers)?;
    let at = instant(&query, "at")?.unwrap_or_else(|| state.clock.now());
    let horizon_end = at.checked_add(LOOKAHEAD).unwrap_or(Timestamp::MAX);
    let mut schedules = Vec::new();
    for (id, schedule) in &config.schedules {
        let schedule = overrides::with_overrides(&state.store, schedule, at, horizon_end).await?;
        let people: Vec<Value> = oncall::current(&schedule, &config.rotations, at, LOOKAHEAD)
            .into_iter()
            .map(|shift| {
                json!({ "person": shift.person, "until": shift.end,
                                 "until_beyond_horizon": shift.end == horizon_end })
            })
            .collect();
        schedules.push(
            json!({ "id": id, "time_zone": schedule.time_zone.iana_name(),
                               "on_call": people }),
        );
    }
    let rotations: Vec<Value> = config
        .rotations
        .iter()
        .map(|(id, rotation)| {
            let slot = rotation.slot_at(at);
            json!({ "id": id, "person": slot.person, "since": slot.start, "until": slot.end })
        })
        .collect();
    Ok(Json(
        json!({ "at": at, "schedules": schedules, "rotations": rotations }),
    ))
}

async fn shifts(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, AppError> {
    let config = state.config.current();
    auth::require_admin(&state, &headers)?;
    let schedule = config.schedules.get(&id).ok_or(AppError::NotFound)?;
    let from = instant(&query, "from")?.unwrap_or_else(|| state.clock.now());
    let default_to = from
        .checked_add(SignedDuration::from_hours(7 * 24))
        .unwrap_or(from);
    let to = instant(&query, "to")?.unwrap_or(default_to);
    if to <= from || to.duration_since(from) > MAX_WINDOW {
        return Err(AppError::Invalid {
            field: "to".into(),
            message: "must be after `from` and at most 366 days later".into(),
        });
    }
    let schedule = overrides::with_overrides(&state.store, schedule, from, to).await?;
    let shifts: Vec<Value> = oncall::shifts(&schedule, &config.rotations, from, to)
        .into_iter()
        .map(|shift| json!({ "person": shift.person, "start": shift.start, "end": shift.end }))
        .collect();
    Ok(Json(
        json!({ "schedule": id, "from": from, "to": to, "shifts": shifts }),
    ))
}
