//! Admin API for built-in probes (issue #9): `GET /api/v1/probes` lists every configured
//! probe with its settled health, streaks, newest result, next due time and uptime over the
//! last 24 hours and 7 days, counted in runs. Bearer token.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use jiff::SignedDuration;
use serde_json::{Value, json};

use super::{AppError, AppState, auth};
use crate::engine::probes::target_text;
use crate::store::probes;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/probes", get(list))
}

/// Probes in config order; one never run yet has `health` and `last_result` null.
async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, AppError> {
    let config = state.config.current();
    auth::require_admin(&state, &headers)?;
    let now = state.clock.now();
    let stored = probes::states(&state.store).await?;
    // Windows are half-open; a run at this very instant counts.
    let to = now
        .saturating_add(SignedDuration::from_millis(1))
        .unwrap_or(now);
    let mut out = Vec::with_capacity(config.probes.len());
    for probe in &config.probes {
        let known = stored.get(&probe.id);
        let mut uptime = serde_json::Map::new();
        for (name, hours) in [("24h", 24), ("7d", 7 * 24)] {
            let from = now
                .saturating_sub(SignedDuration::from_hours(hours))
                .unwrap_or(now);
            let figure = probes::uptime(&state.store, &probe.id, from, to).await?;
            uptime.insert(
                name.to_string(),
                serde_json::to_value(figure).unwrap_or_default(),
            );
        }
        let ran = known.filter(|k| k.last_result.is_some());
        out.push(json!({
            "id": probe.id,
            "kind": probe.check.kind(),
            "service": probe.service,
            "component": probe.component,
            "target": target_text(&probe.check),
            "interval_s": probe.interval.as_secs(),
            "health": ran.map(|k| k.state.health.as_str()),
            "failures": known.map_or(0, |k| k.state.failures),
            "successes": known.map_or(0, |k| k.state.successes),
            "last_result": ran.and_then(|k| k.last_result).map(|r| r.as_str()),
            "last_at": known.and_then(|k| k.last_at),
            "last_error": known.and_then(|k| k.last_error.clone()),
            "next_due": known.map(|k| k.next_due),
            "uptime": uptime,
        }));
    }
    Ok(Json(Value::Array(out)))
}
