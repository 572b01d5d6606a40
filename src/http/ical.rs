//! Calendar feeds: `/ical/schedules/{id}.ics` and `/ical/people/{id}.ics`, each opened by a
//! `?token=` signed for its path (`domain::feed_link`; `dutybell ical-url` prints them).
//!
//! Events are the shifts `domain::oncall::shifts` gives (stored overrides merged in) from
//! [`BACK`] before now to [`AHEAD`] after, so a feed agrees with escalation and the CLI. A
//! wrong token answers 404 like an unknown feed, so tokens reveal nothing about ids.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use jiff::{SignedDuration, Timestamp};
use secrecy::ExposeSecret as _;

use super::{AppError, AppState};
use crate::domain::feed_link;
use crate::domain::ical::{self, Event};
use crate::domain::oncall::{self, Schedule, Shift};
use crate::store::overrides;

/// How far back a feed reaches.
pub const BACK: SignedDuration = SignedDuration::from_hours(30 * 24);
/// How far ahead a feed reaches.
pub const AHEAD: SignedDuration = SignedDuration::from_hours(90 * 24);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ical/schedules/{file}", get(schedule_feed))
        .route("/ical/people/{file}", get(person_feed))
}

/// The id in `{id}.ics`, once the query's token is checked against `path(id)`.
fn checked_id(
    state: &AppState,
    file: &str,
    query: Option<&str>,
    path: fn(&str) -> String,
) -> Result<String, AppError> {
    let config = state.config.current();
    let id = file.strip_suffix(".ics").ok_or(AppError::NotFound)?;
    let token = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("token="))
        .ok_or(AppError::NotFound)?;
    let secret = config.settings.signing_secret.expose_secret();
    if feed_link::verify(&path(id), token, secret.as_bytes()) {
        Ok(id.to_string())
    } else {
        Err(AppError::NotFound)
    }
}

async fn schedule_feed(
    State(state): State<AppState>,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<impl IntoResponse, AppError> {
    let config = state.config.current();
    let id = checked_id(&state, &file, query.as_deref(), feed_link::schedule_path)?;
    let schedule = config.schedules.get(&id).ok_or(AppError::NotFound)?;
    let now = state.clock.now();

    let mut events = Vec::new();
    for shift in feed_shifts(&state, schedule, now).await? {
        let name = config
            .person(&shift.person)
            .map_or(shift.person.clone(), |p| p.name.clone());
        let summary = format!("On call: {name}");
        events.push(event(schedule, shift, summary));
    }
    Ok(calendar_response(&format!("dutybell: {id}"), &events, now))
}

async fn person_feed(
    State(state): State<AppState>,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<impl IntoResponse, AppError> {
    let config = state.config.current();
    let id = checked_id(&state, &file, query.as_deref(), feed_link::person_path)?;
    let person = config.person(&id).ok_or(AppError::NotFound)?;
    let now = state.clock.now();

    let mut events = Vec::new();
    for schedule in config.schedules.values() {
        for shift in feed_shifts(&state, schedule, now).await? {
            if shift.person == person.id {
                let summary = format!("On call: {}", schedule.id);
                events.push(event(schedule, shift, summary));
            }
        }
    }
    events.sort_by_key(|e| (e.start, e.end));
    let name = format!("dutybell: {} on call", person.name);
    Ok(calendar_response(&name, &events, now))
}

/// The feed window's shifts, minus one cut at the window's start: its start would move with
/// every fetch, and so would its UID.
async fn feed_shifts(
    state: &AppState,
    schedule: &Schedule,
    now: Timestamp,
) -> Result<Vec<Shift>, AppError> {
    let config = state.config.current();
    let from = now.checked_sub(BACK).unwrap_or(now);
    let to = now.checked_add(AHEAD).unwrap_or(now);
    let schedule = overrides::with_overrides(&state.store, schedule, from, to).await?;
    let mut shifts = oncall::shifts(&schedule, &config.rotations, from, to);
    shifts.retain(|shift| shift.start > from);
    Ok(shifts)
}

fn event(schedule: &Schedule, shift: Shift, summary: String) -> Event {
    Event {
        uid: format!(
            "{}-{}-{}@dutybell",
            schedule.id,
            shift.person,
            shift.start.as_second()
        ),
        start: shift.start,
        end: shift.end,
        summary,
        description: format!("Schedule {} ({})", schedule.id, zone_name(schedule)),
    }
}

fn zone_name(schedule: &Schedule) -> &str {
    schedule.time_zone.iana_name().unwrap_or("UTC")
}

fn calendar_response(name: &str, events: &[Event], now: Timestamp) -> impl IntoResponse + use<> {
    (
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (header::CACHE_CONTROL, "private, max-age=300"),
        ],
        ical::calendar(name, events, now),
    )
}
