//! `GET /health`: 200 when the database answers, 503 otherwise.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use super::{AppError, AppState};

pub fn router() -> Router<AppState> {
    Router::new().route("/health", get(health))
}

/// How long the database may take to answer before the answer is 503: a load balancer or
/// `dutybell healthcheck` (5 s) should hear "unavailable", not time out.
const PING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

async fn health(State(state): State<AppState>) -> Result<Json<serde_json::Value>, AppError> {
    match tokio::time::timeout(PING_TIMEOUT, state.store.ping()).await {
        Ok(answer) => answer?,
        Err(_) => {
            let err = anyhow::anyhow!("the database did not answer within 2 s");
            return Err(AppError::Unavailable(err));
        }
    }
    Ok(Json(serde_json::json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "engine": if *state.lead.borrow() { "leading" } else { "standby" },
    })))
}
