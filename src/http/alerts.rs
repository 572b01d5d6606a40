//! Admin API for alerts: list, show with timeline, acknowledge, resolve. Bearer token.
//!
//! Path ids accept `12` or `A-12`; bodies are read leniently (any content type, empty
//! allowed), and every malformed input is answered through `AppError` as JSON.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::input::invalid;
use super::{AppError, AppState, auth};
use crate::domain::alert::parse_alert_id;
use crate::store::alerts::{self, Transition};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/alerts", get(list))
        .route("/api/v1/alerts/{id}", get(show))
        .route("/api/v1/alerts/{id}/ack", post(ack))
        .route("/api/v1/alerts/{id}/resolve", post(resolve))
}

type Answer = Result<Json<serde_json::Value>, AppError>;

async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Vec<alerts::Alert>>, AppError> {
    auth::require_admin(&state, &headers)?;
    let all = match query.get("all").map(String::as_str) {
        None | Some("false" | "0" | "no") => false,
        Some("true" | "1" | "yes" | "") => true,
        Some(other) => return Err(invalid("all", format!("{other:?} is not true or false"))),
    };
    Ok(Json(alerts::list(&state.store, all).await?))
}

async fn show(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    auth::require_admin(&state, &headers)?;
    let id = alert_id(&id)?;
    let alert = alerts::get(&state.store, id).await?;
    let timeline = alerts::timeline(&state.store, id).await?;
    Ok(Json(
        serde_json::json!({ "alert": alert, "timeline": timeline }),
    ))
}

async fn ack(s: State<AppState>, h: HeaderMap, id: Path<String>, body: Bytes) -> Answer {
    act(s, h, id, body, true).await
}

async fn resolve(s: State<AppState>, h: HeaderMap, id: Path<String>, body: Bytes) -> Answer {
    act(s, h, id, body, false).await
}

/// Acknowledges or resolves. A repeated ack is a no-op (`changed: false`); resolving a
/// resolved alert, or acking one, is a conflict (409): a resolved alert never changes.
async fn act(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
    ack: bool,
) -> Answer {
    auth::require_admin(&state, &headers)?;
    let id = alert_id(&id)?;
    let by = actor(&state, &body)?;
    let now = state.clock.now();
    let (done, verb) = if ack {
        (
            alerts::acknowledge(&state.store, id, &by, "api", now).await?,
            "acknowledged",
        )
    } else {
        (
            alerts::resolve(&state.store, id, &by, "api", now).await?,
            "resolved",
        )
    };
    if !ack && done == Transition::Unchanged {
        return Err(AppError::Conflict("the alert is already resolved".into()));
    }
    state.wake.notify_one();
    let changed = done == Transition::Changed;
    Ok(Json(
        serde_json::json!({ "id": id, "state": verb, "changed": changed }),
    ))
}

fn alert_id(text: &str) -> Result<i64, AppError> {
    parse_alert_id(text).ok_or_else(|| invalid("id", format!("{text:?} is not an alert id")))
}

#[derive(Deserialize, Default)]
struct ActBody {
    /// Who acts; recorded on the timeline.
    by: Option<String>,
}

/// The acting person from an optional JSON body; must be someone in the team config.
fn actor(state: &AppState, body: &[u8]) -> Result<String, AppError> {
    let body: ActBody = if body.iter().all(u8::is_ascii_whitespace) {
        ActBody::default()
    } else {
        serde_json::from_slice(body).map_err(|err| invalid("by", format!("body: {err}")))?
    };
    super::input::actor(state, body.by)
}
