//! Admin API for services: the service timeline (change events). Bearer token.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};

use super::{AppError, AppState, auth};
use crate::store::services::{self, ServiceEntry};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/services/{id}/timeline", get(timeline))
}

async fn timeline(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Vec<ServiceEntry>>, AppError> {
    let config = state.config.current();
    auth::require_admin(&state, &headers)?;
    if !config.services.contains_key(&id) {
        return Err(AppError::NotFound);
    }
    Ok(Json(services::timeline(&state.store, &id, 200).await?))
}
