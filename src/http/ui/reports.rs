//! `/ui/reports?days=30` (issue #7, comms spec §7): alert hygiene, on-call load and
//! MTTA/MTTR, computed by the same domain and store report functions `dutybell report`
//! uses; `web::ui::comms` renders them (bars as server-side SVG). Any role may read it.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use jiff::tz::TimeZone;
use serde::Deserialize;

use super::{UiError, html};
use crate::domain::reports::{Period, load, response};
use crate::engine::digest::hygiene_rows;
use crate::http::session::CurrentUser;
use crate::http::{AppError, AppState};
use crate::store;
use crate::web::ui::Me;
use crate::web::ui::comms::{self, Reports};

// TODO(#7): per-shift load, open action items and overdue postmortems (the CLI's response
// report shows them) are not on the page yet.
/// Longest window, as the CLI allows.
const MAX_DAYS: u32 = 3660;

#[derive(Deserialize)]
pub struct Days {
    days: Option<String>,
}

/// `GET /ui/reports?days=N` (default 30, 1 to 3660).
pub async fn page(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(query): Query<Days>,
) -> Result<Response, UiError> {
    let config = state.config.current();
    let days = match query.days.as_deref().map(str::trim) {
        None | Some("") => 30,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|d| (1..=MAX_DAYS).contains(d))
            .ok_or_else(|| AppError::Invalid {
                field: "days".into(),
                message: format!("must be a whole number from 1 to {MAX_DAYS}"),
            })?,
    };
    let now = state.clock.now();
    let period = Period::last_days(now, days);
    let hygiene = hygiene_rows(&state.store, &config, period)
        .await
        .map_err(AppError::Internal)?;
    let shifts = store::reports::shifts(&state.store, period).await?;
    let pages = store::reports::notifications(&state.store, period).await?;
    let zone_of = |id: &str| {
        config
            .person(id)
            .map_or(TimeZone::UTC, |person| person.time_zone.clone())
    };
    let load = load::report(&shifts, &pages, period, zone_of);
    let acks = store::reports::acks(&state.store, period).await?;
    let incidents = store::reports::resolved_incidents(&state.store, period).await?;
    let response = response::report(&acks, &incidents, period);
    let names = |id: &str| {
        config
            .person(id)
            .map_or_else(|| id.to_string(), |p| p.name.clone())
    };
    let page = comms::reports(&Reports {
        me: Me {
            login: &user.user.login,
            role: user.user.role,
            csrf: &user.csrf,
        },
        days,
        period,
        hygiene: &hygiene,
        load: &load,
        response: &response,
        names: &names,
    });
    Ok(html(StatusCode::OK, page))
}
