//! `GET /health`: 200 when the database answers, 503 otherwise.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use super::{AppError, AppState};

pub fn router() -> Router<AppState> {
    Router::new().route("/health", get(health))
}

async fn health(State(state): State<AppState>) -> Result<Json<serde_json::Value>, AppError> {
    state.store.ping().await?;
    Ok(Json(serde_json::json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "engine": if *state.lead.borrow() { "leading" } else { "standby" },
    })))
}
