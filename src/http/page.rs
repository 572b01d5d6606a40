//! Direct pages over the admin API: `POST /api/v1/page` opens an alert on the built-in
//! `direct` service that pages the named people at once (on-call spec §1.4). Bearer token.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

use super::{AppError, AppState, auth};
use crate::domain::direct::DirectPage;
use crate::store;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/page", post(page))
}

/// `{"people": ["ana"], "summary": "…", "by": "ben"}`; `by` is optional.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageBody {
    people: Vec<String>,
    summary: String,
    by: Option<String>,
}

/// Opens the alert and wakes the engine, which pages in its next pass.
async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, AppError> {
    auth::require_admin(&state, &headers)?;
    let body: PageBody = serde_json::from_slice(&body).map_err(|err| AppError::Invalid {
        field: "body".into(),
        message: err.to_string(),
    })?;
    let config = &state.config;
    let request = DirectPage::new(&body.people, &body.summary, |id| {
        config.person(id).is_some()
    })
    .map_err(|err| AppError::Invalid {
        field: err.field().into(),
        message: err.to_string(),
    })?;
    let by = match body.by {
        Some(by) if config.person(&by).is_some() => by,
        Some(by) => {
            return Err(AppError::Invalid {
                field: "by".into(),
                message: format!("no person {by:?}"),
            });
        }
        None => "api".to_string(),
    };

    let id = store::direct::open(&state.store, &request, &by, "api", state.clock.now()).await?;
    tracing::info!(alert.id = id, people = ?request.people, by = %by, "direct page opened");
    state.wake.notify_one();
    Ok(Json(serde_json::json!({
        "alert_id": id,
        "service": crate::domain::direct::SERVICE,
        "people": request.people,
    })))
}
