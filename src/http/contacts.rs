//! Contact-method verification over the admin API (issue #4), bearer token:
//! `POST /api/v1/people/{id}/contacts/{kind}/verify` sends a code through the contact, and
//! `POST /api/v1/people/{id}/contacts/{kind}/confirm` with `{"code": "123456"}` checks it.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

use super::{AppError, AppState, auth};
use crate::domain::verification::Outcome;
use crate::engine::verification;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/people/{id}/contacts/{kind}/verify", post(verify))
        .route("/api/v1/people/{id}/contacts/{kind}/confirm", post(confirm))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfirmBody {
    code: String,
}

/// Sends a new code; answers when it expires.
async fn verify(
    State(state): State<AppState>,
    Path((id, kind)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, AppError> {
    let config = state.config.current();
    auth::require_admin(&state, &headers)?;
    let now = state.clock.now();
    let expires_at = verification::send_code(
        &state.store,
        &config,
        &state.notifiers.current(),
        &id,
        &kind,
        now,
    )
    .await?;
    Ok(Json(serde_json::json!({
        "person": id,
        "kind": kind,
        "status": "code_sent",
        "expires_at": expires_at,
    })))
}

/// Checks a code: 200 when verified, 400 for a wrong code (saying how many tries are
/// left), 409 when no code can be confirmed (expired, locked or none sent).
async fn confirm(
    State(state): State<AppState>,
    Path((id, kind)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, AppError> {
    let config = state.config.current();
    auth::require_admin(&state, &headers)?;
    let body: ConfirmBody = serde_json::from_slice(&body).map_err(|err| AppError::Invalid {
        field: "body".into(),
        message: err.to_string(),
    })?;
    let now = state.clock.now();
    let outcome = verification::confirm(&state.store, &config, &id, &kind, &body.code, now).await?;
    match outcome {
        Outcome::Verified => Ok(Json(serde_json::json!({
            "person": id,
            "kind": kind,
            "status": "verified",
        }))),
        Outcome::Wrong { .. } => Err(AppError::Invalid {
            field: "code".into(),
            message: outcome.to_string(),
        }),
        Outcome::Expired | Outcome::Locked | Outcome::NoCode => {
            Err(AppError::Conflict(outcome.to_string()))
        }
    }
}
