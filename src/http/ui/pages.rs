//! The UI's pages: the dashboard, an alert (with its incidents, or the promote form), an
//! incident (with its action forms). Any role may read them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use jiff::{SignedDuration, Timestamp};

use super::{UiError, html, incident_actions, me};
use crate::domain::alert::parse_alert_id;
use crate::domain::oncall;
use crate::http::session::CurrentUser;
use crate::http::{AppError, AppState};
use crate::store::incidents::{self, IncidentRef};
use crate::store::{alerts, overrides, postmortems};
use crate::web::ui::{self, Dashboard, HORIZON_DAYS, IncidentExtras, ScheduleShifts};

/// `GET /ui`.
pub async fn dashboard(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Response, UiError> {
    let config = state.config.current();
    let now = state.clock.now();
    let open_alerts = alerts::list(&state.store, false).await?;
    let open_incidents = incidents::list(&state.store, true).await?;
    let person = user.user.person_id.as_deref();
    let (schedules, my_shifts) = shifts(&state, person, now).await?;

    let page = ui::dashboard(
        &config,
        &Dashboard {
            me: me(&user),
            person,
            alerts: &open_alerts,
            incidents: &open_incidents,
            schedules: &schedules,
            my_shifts: &my_shifts,
        },
    );
    Ok(html(StatusCode::OK, page))
}

type MyShifts = Vec<(String, jiff::tz::TimeZone, oncall::Shift)>;

/// Each schedule's shifts now and next, and `person`'s own, over the coming
/// [`HORIZON_DAYS`]: `shifts()` with stored overrides merged in, the function
/// `dutybell oncall`, escalation and the API use.
async fn shifts(
    state: &AppState,
    person: Option<&str>,
    now: Timestamp,
) -> Result<(Vec<ScheduleShifts>, MyShifts), UiError> {
    let config = state.config.current();
    let horizon = SignedDuration::from_hours(24 * HORIZON_DAYS);
    let to = now.checked_add(horizon).unwrap_or(Timestamp::MAX);
    let mut schedules = Vec::new();
    let mut mine = Vec::new();
    for (id, schedule) in &config.schedules {
        let schedule = overrides::with_overrides(&state.store, schedule, now, to).await?;
        let all = oncall::shifts(&schedule, &config.rotations, now, to);
        let current = oncall::current(&schedule, &config.rotations, now, horizon);
        let first_next = all.iter().map(|s| s.start).filter(|at| *at > now).min();
        let next = all
            .iter()
            .filter(|s| Some(s.start) == first_next)
            .cloned()
            .collect();
        mine.extend(
            all.iter()
                .filter(|s| Some(s.person.as_str()) == person)
                .map(|s| (id.clone(), schedule.time_zone.clone(), s.clone())),
        );
        schedules.push(ScheduleShifts {
            id: id.clone(),
            time_zone: schedule.time_zone.clone(),
            now: current,
            next,
        });
    }
    mine.sort_by_key(|(_, _, shift)| shift.start);
    Ok((schedules, mine))
}

/// `GET /ui/alerts/{id}`.
pub async fn alert(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let id = parse_alert_id(&id).ok_or(AppError::NotFound)?;
    let alert = alerts::get(&state.store, id).await?;
    let timeline = alerts::timeline(&state.store, id).await?;
    let in_incidents = incidents::for_alert(&state.store, id).await?;
    let page = ui::alert(&me(&user), &alert, &timeline, &in_incidents);
    let page = super::runbooks::with_alert_runbook(&state, &user, &alert, &timeline, page);
    Ok(html(StatusCode::OK, page))
}

/// `GET /ui/incidents/new`: the declaration form.
pub async fn declare_form(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Response, UiError> {
    let config = state.config.current();
    let services: Vec<&str> = config.services.keys().map(String::as_str).collect();
    let person = user.user.person_id.as_deref();
    let page = ui::declare(&me(&user), person, &services);
    Ok(html(StatusCode::OK, page))
}

/// `GET /ui/incidents/{number}` (the link Slack announcements carry), with the forms of
/// `incident_actions` and the postmortem's link or offer.
pub async fn incident(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(number): Path<String>,
) -> Result<Response, UiError> {
    let config = state.config.current();
    let reference: IncidentRef = number.parse().map_err(|_| AppError::NotFound)?;
    let incident = incidents::get(&state.store, &reference).await?;
    let events = incidents::timeline(&state.store, &incident.id).await?;
    let postmortem = postmortems::get(&state.store, &incident.id).await?;
    let zone = incident_actions::zone_of(&state, &user);
    let extras = IncidentExtras {
        people: &incident_actions::people(&state),
        zone: zone.iana_name().unwrap_or("UTC"),
        components: &incident_actions::components(&state),
        postmortem: postmortem.as_ref().map(|p| p.status.as_str()),
    };
    let page = ui::incident(&config, &me(&user), &incident, &events, &extras);
    let page = super::runbooks::with_incident_runbooks(&state, &user, &incident, page).await?;
    Ok(html(StatusCode::OK, page))
}
