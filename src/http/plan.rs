//! `GET /api/v1/plan` (bearer token): the server's view that `dutybell plan` compares a
//! candidate config directory against.
//!
//! Owns [`PlanView`] and [`view`], the one function both sides compute it with: who each
//! schedule and rotation puts on call now and in 7 days from the config's rules and the
//! rotations' stored anchors, each rotation's settings (so the CLI can re-anchor an edited
//! rotation the way a reload would, D13), and the ids of services and integrations, never
//! their keys. Stored overrides and temporary schedules stay as they are across a reload,
//! so the view leaves them out on both sides.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::{AppError, AppState, auth};
use crate::config::Config;
use crate::domain::oncall::{self, Advance, Anchor, Rotation, RotationKind};

/// How far ahead the second on-call sample is taken.
pub const NEXT_WEEK: SignedDuration = SignedDuration::from_hours(7 * 24);

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/plan", get(current))
}

async fn current(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<PlanView>, AppError> {
    let config = state.config.current();
    auth::require_admin(&state, &headers)?;
    Ok(Json(view(&config, state.clock.now())))
}

/// What a config decides at `at`, in the shape `GET /api/v1/plan` answers with.
// TODO(#9): add the handoffs between the two samples, so a plan also shows shifts that move
// within the week; two samples miss an edit that changes only, say, Wednesday.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanView {
    pub at: Timestamp,
    /// By schedule id.
    pub schedules: Vec<ScheduleView>,
    /// By rotation id.
    pub rotations: Vec<RotationView>,
    /// Service ids, sorted.
    pub services: Vec<String>,
    /// Integration ids (`<service>/<id or kind>`), sorted.
    pub integrations: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleView {
    pub id: String,
    /// Person ids on call at `at`, sorted.
    pub now: Vec<String>,
    /// Person ids on call at `at` + 7 days, sorted.
    pub next_week: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationView {
    pub id: String,
    pub now: Option<String>,
    pub next_week: Option<String>,
    pub settings: RotationSettings,
}

/// A rotation's settings and anchor as text, the way `oncall.toml` spells them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationSettings {
    pub kind: String,
    pub shift_length: u32,
    pub start: String,
    pub time_zone: String,
    pub people: Vec<String>,
    pub advance: String,
    pub anchor_at: Option<Timestamp>,
    pub anchor_position: Option<usize>,
}

impl RotationSettings {
    pub fn of(rotation: &Rotation) -> RotationSettings {
        let kind = match rotation.kind {
            RotationKind::Hourly => "hourly",
            RotationKind::Daily => "daily",
            RotationKind::Weekly => "weekly",
            RotationKind::Monthly => "monthly",
        };
        let advance = match rotation.advance {
            Advance::Calendar => "calendar",
            Advance::OnActiveShifts => "on-active-shifts",
        };
        RotationSettings {
            kind: kind.to_string(),
            shift_length: rotation.shift_length,
            start: rotation.start.to_string(),
            time_zone: rotation.time_zone.iana_name().unwrap_or("UTC").to_string(),
            people: rotation.people.clone(),
            advance: advance.to_string(),
            anchor_at: rotation.anchor.as_ref().map(|a| a.at),
            anchor_position: rotation.anchor.as_ref().map(|a| a.position),
        }
    }

    /// Whether the settings that decide the grid and its owners are the same (anchors
    /// aside): what decides whether a reload re-anchors (D13).
    pub fn same_grid(&self, other: &RotationSettings) -> bool {
        (
            &self.kind,
            self.shift_length,
            &self.start,
            &self.time_zone,
            &self.people,
            &self.advance,
        ) == (
            &other.kind,
            other.shift_length,
            &other.start,
            &other.time_zone,
            &other.people,
            &other.advance,
        )
    }

    /// The rotation these settings describe; `None` if any part does not read back.
    pub fn rotation(&self, id: &str) -> Option<Rotation> {
        let kind = match self.kind.as_str() {
            "hourly" => RotationKind::Hourly,
            "daily" => RotationKind::Daily,
            "weekly" => RotationKind::Weekly,
            "monthly" => RotationKind::Monthly,
            _ => return None,
        };
        let advance = match self.advance.as_str() {
            "calendar" => Advance::Calendar,
            "on-active-shifts" => Advance::OnActiveShifts,
            _ => return None,
        };
        let time_zone = match self.time_zone.as_str() {
            "UTC" => TimeZone::UTC,
            name => TimeZone::get(name).ok()?,
        };
        let anchor = match (self.anchor_at, self.anchor_position) {
            (Some(at), Some(position)) => Some(Anchor { at, position }),
            _ => None,
        };
        Some(Rotation {
            id: id.to_string(),
            kind,
            shift_length: self.shift_length,
            start: self.start.parse().ok()?,
            time_zone,
            people: self.people.clone(),
            advance,
            anchor,
        })
    }
}

/// The view of `config` (rotations already carrying their anchors) at `at`.
pub fn view(config: &Config, at: Timestamp) -> PlanView {
    let later = at.checked_add(NEXT_WEEK).unwrap_or(Timestamp::MAX);
    let schedules = config
        .schedules
        .iter()
        .map(|(id, schedule)| ScheduleView {
            id: id.clone(),
            now: oncall::oncall(schedule, &config.rotations, at)
                .into_iter()
                .collect(),
            next_week: oncall::oncall(schedule, &config.rotations, later)
                .into_iter()
                .collect(),
        })
        .collect();
    let rotations = config
        .rotations
        .iter()
        .map(|(id, rotation)| RotationView {
            id: id.clone(),
            now: rotation.slot_at(at).person,
            next_week: rotation.slot_at(later).person,
            settings: RotationSettings::of(rotation),
        })
        .collect();
    let mut integrations: Vec<String> = config.integrations.iter().map(|i| i.id.clone()).collect();
    integrations.sort();
    PlanView {
        at,
        schedules,
        rotations,
        services: config.services.keys().cloned().collect(),
        integrations,
    }
}
