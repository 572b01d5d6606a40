//! Direct pages over the admin API: `POST /api/v1/page` pages named people, a service's
//! on-call or a schedule's (on-call spec §1.4). Bearer token.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

use super::{AppError, AppState, auth};
use crate::config::Config;
use crate::domain::direct::{self, Directory, Page, PageRequest, Reach};
use crate::store;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/page", post(page))
}

/// `{"people": ["ana"] | "service": "api" | "schedule": "business", "summary": "…",
/// "by": "ben"}`: exactly one of the first three; `by` is optional.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageBody {
    #[serde(default)]
    people: Vec<String>,
    service: Option<String>,
    schedule: Option<String>,
    summary: String,
    by: Option<String>,
}

/// Opens the alert and wakes the engine, which pages in its next pass.
async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, AppError> {
    let config = state.config.current();
    auth::require_admin(&state, &headers)?;
    let body: PageBody = serde_json::from_slice(&body).map_err(|err| AppError::Invalid {
        field: "body".into(),
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
    let request = PageRequest {
        people: body.people,
        service: body.service,
        schedule: body.schedule,
        summary: body.summary,
    };
    let page = check(&config, &request).map_err(|err| AppError::Invalid {
        field: err.field().into(),
        message: err.to_string(),
    })?;

    let id = store::direct::open(&state.store, &page, &by, "api", state.clock.now()).await?;
    tracing::info!(alert.id = id, reach = ?page.reach, by = %by, "direct page opened");
    state.wake.notify_one();
    Ok(Json(answer(id, &page.reach)))
}

/// Checks a page request against the config.
fn check(config: &Config, request: &PageRequest) -> Result<Page, direct::DirectPageError> {
    let person_exists = |id: &str| config.person(id).is_some();
    let service_policy = |id: &str| config.service_policy(id);
    let schedule_exists = |id: &str| config.schedules.contains_key(id);
    let dir = Directory {
        person_exists: &person_exists,
        service_policy: &service_policy,
        schedule_exists: &schedule_exists,
    };
    Page::new(request, &dir)
}

/// `{"alert_id", "service", …}` with whom the page reaches: `people`, the service's
/// `policy`, or the `schedule`.
fn answer(id: i64, reach: &Reach) -> serde_json::Value {
    match reach {
        Reach::People(people) => serde_json::json!({
            "alert_id": id, "service": direct::SERVICE, "people": people,
        }),
        Reach::Service { service, policy } => serde_json::json!({
            "alert_id": id, "service": service, "policy": policy,
        }),
        Reach::Schedule(schedule) => serde_json::json!({
            "alert_id": id, "service": direct::SERVICE, "schedule": schedule,
        }),
    }
}
