//! Admin API for schedule overrides (`/api/v1/schedules/{id}/overrides`), bearer token.
//!
//! `POST` adds one (`{"add": "bob", "remove": "alice", "start": "...", "end": "..."}`; the
//! kind follows from `add`/`remove` or is given as `kind`), `GET` lists them in creation
//! order, `DELETE .../{override_id}` removes one. Checking is `domain::override_request`,
//! storage `store::overrides`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get};
use axum::{Json, Router};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{AppError, AppState, auth};
use crate::config::Config;
use crate::domain::oncall::{OverrideKind, Schedule};
use crate::domain::override_request::OverrideRequest;
use crate::store::overrides::{self, StoredOverride};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/schedules/{id}/overrides", get(list).post(create))
        .route(
            "/api/v1/schedules/{id}/overrides/{override_id}",
            delete(remove),
        )
}

/// The request body of `POST`; `from`/`until` are accepted for `start`/`end`, as the CLI
/// spells them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    kind: Option<String>,
    add: Option<String>,
    remove: Option<String>,
    #[serde(alias = "from")]
    start: Option<String>,
    #[serde(alias = "until")]
    end: Option<String>,
    /// Who asks; a person id, recorded with the override.
    by: Option<String>,
}

/// An override as the API shows it.
#[derive(Debug, Serialize)]
pub struct OverrideView {
    pub id: i64,
    pub schedule: String,
    pub kind: &'static str,
    pub add: Option<String>,
    pub remove: Option<String>,
    pub start: Timestamp,
    pub end: Timestamp,
    pub created_at: Timestamp,
    pub created_by: Option<String>,
}

impl From<StoredOverride> for OverrideView {
    fn from(stored: StoredOverride) -> Self {
        let (kind, add, remove) = match stored.rule.kind {
            OverrideKind::Add(add) => ("add", Some(add), None),
            OverrideKind::Remove(remove) => ("remove", None, Some(remove)),
            OverrideKind::Replace { remove, add } => ("replace", Some(add), Some(remove)),
        };
        OverrideView {
            id: stored.id,
            schedule: stored.schedule_id,
            kind,
            add,
            remove,
            start: stored.rule.start,
            end: stored.rule.end,
            created_at: stored.created_at,
            created_by: stored.created_by,
        }
    }
}

fn schedule<'a>(config: &'a Config, id: &str) -> Result<&'a Schedule, AppError> {
    config.schedules.get(id).ok_or(AppError::NotFound)
}

async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Vec<OverrideView>>, AppError> {
    auth::require_admin(&state, &headers)?;
    schedule(&state.config.current(), &id)?;
    let stored = overrides::list(&state.store, &id).await?;
    Ok(Json(stored.into_iter().map(OverrideView::from).collect()))
}

async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<OverrideView>), AppError> {
    let config = state.config.current();
    auth::require_admin(&state, &headers)?;
    let schedule = schedule(&config, &id)?;
    let invalid_body = |message: String| AppError::Invalid {
        field: "body".into(),
        message,
    };
    let body = body.map_err(|rejection| invalid_body(rejection.body_text()))?;
    let body: CreateBody =
        serde_json::from_slice(&body).map_err(|err| invalid_body(err.to_string()))?;

    let is_person = |p: &str| config.person(p).is_some();
    if let Some(by) = body.by.as_deref().filter(|by| !is_person(by)) {
        return Err(AppError::Invalid {
            field: "by".into(),
            message: format!("no person {by:?}"),
        });
    }
    let request = OverrideRequest {
        kind: body.kind,
        add: body.add,
        remove: body.remove,
        start: body.start,
        end: body.end,
    };
    let now = state.clock.now();
    let rule = request.check(&schedule.time_zone, now, is_person)?;
    let by = body.by.unwrap_or_else(|| "api".into());
    let stored = overrides::add(&state.store, &id, &rule, Some(&by), now).await?;

    tracing::info!(schedule.id = %id, override.id = stored.id, "override added");
    Ok((StatusCode::CREATED, Json(stored.into())))
}

async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, override_id)): Path<(String, String)>,
) -> Result<Json<OverrideView>, AppError> {
    auth::require_admin(&state, &headers)?;
    schedule(&state.config.current(), &id)?;
    let override_id: i64 = override_id.parse().map_err(|_| AppError::NotFound)?;
    let deleted = overrides::delete(&state.store, Some(&id), override_id).await?;
    tracing::info!(schedule.id = %id, override.id = override_id, "override deleted");
    Ok(Json(deleted.into()))
}
