//! Admin API for alerts: list, show with timeline, acknowledge, resolve. Bearer token.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::{AppError, AppState, auth};
use crate::store::alerts::{self, Transition};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/alerts", get(list))
        .route("/api/v1/alerts/{id}", get(show))
        .route("/api/v1/alerts/{id}/ack", post(ack))
        .route("/api/v1/alerts/{id}/resolve", post(resolve))
}

fn require_token(state: &AppState, headers: &HeaderMap) -> Result<(), AppError> {
    auth::require_admin(state, headers)
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    all: bool,
}

async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<alerts::Alert>>, AppError> {
    require_token(&state, &headers)?;
    Ok(Json(alerts::list(&state.store, query.all).await?))
}

async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>, AppError> {
    require_token(&state, &headers)?;
    let alert = alerts::get(&state.store, id).await?;
    let timeline = alerts::timeline(&state.store, id).await?;
    Ok(Json(
        serde_json::json!({ "alert": alert, "timeline": timeline }),
    ))
}

#[derive(Deserialize, Default)]
struct ActBody {
    /// Who acts; recorded on the timeline.
    by: Option<String>,
}

async fn ack(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Option<Json<ActBody>>,
) -> Result<Json<serde_json::Value>, AppError> {
    require_token(&state, &headers)?;
    let by = actor(&state, body)?;
    let done = alerts::acknowledge(&state.store, id, &by, "api", state.clock.now()).await?;
    state.wake.notify_one();
    let changed = done == Transition::Changed;
    Ok(Json(
        serde_json::json!({ "id": id, "state": "acknowledged", "changed": changed }),
    ))
}

async fn resolve(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Option<Json<ActBody>>,
) -> Result<Json<serde_json::Value>, AppError> {
    require_token(&state, &headers)?;
    let by = actor(&state, body)?;
    let done = alerts::resolve(&state.store, id, &by, "api", state.clock.now()).await?;
    if done == Transition::Unchanged {
        return Err(AppError::Conflict("the alert is already resolved".into()));
    }
    state.wake.notify_one();
    Ok(Json(
        serde_json::json!({ "id": id, "state": "resolved", "changed": true }),
    ))
}

/// The acting person: must be someone in the team config when given.
fn actor(state: &AppState, body: Option<Json<ActBody>>) -> Result<String, AppError> {
    match body.and_then(|Json(body)| body.by) {
        Some(by) if state.config.person(&by).is_some() => Ok(by),
        Some(by) => Err(AppError::Invalid {
            field: "by".into(),
            message: format!("no person {by:?}"),
        }),
        None => Ok("api".into()),
    }
}
