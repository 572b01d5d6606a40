//! `POST /api/v1/admin/reload` (issue #7): reloads the config directory without a restart,
//! through the same `engine::reload` path as SIGHUP and the web UI's button. Admin API
//! token, or a per-user token with role admin; a live token of a lower role gets 403.
//!
//! Answers `200` with what loaded (`{people, services, rotations, …, unmapped_accounts}`),
//! or `422` with every problem (`file:line: …`) while the previous config keeps serving.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};

use super::{AppError, AppState, auth};
use crate::engine::reload::{Summary, Trigger};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/admin/reload", post(reload))
}

async fn reload(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Summary>, AppError> {
    auth::require_admin(&state, &headers).map_err(|err| match auth::token_role() {
        Some(role) => {
            AppError::Forbidden(format!("reloading the config needs role admin, not {role}"))
        }
        None => err,
    })?;
    state
        .reloader
        .reload(Trigger::Api)
        .await
        .map(Json)
        .map_err(|errors| AppError::Unprocessable {
            message: format!(
                "the config was not reloaded ({} problem(s)); the previous one keeps serving",
                errors.len()
            ),
            errors,
        })
}
