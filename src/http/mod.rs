//! HTTP surface: one router per resource, thin handlers, errors mapped in `error`.
//!
//! - `intake`: alert sources (`/api/v1/integrations/{key}/…`).
//! - `alerts`: the admin API for alerts (`/api/v1/alerts`), bearer token.
//! - `page`: direct pages (`/api/v1/page`), bearer token.
//! - `runbooks`: runbooks from the config directory as HTML (`/runbooks/{slug}`), bearer token.
//! - `incidents`: declare, change and page into incidents (`/api/v1/incidents`), bearer token.
//! - `contacts`: contact-method verification (`/api/v1/people/{id}/contacts/…`), bearer token.
//! - `schedules`: the admin API for schedule overrides (`/api/v1/schedules/{id}/overrides`).
//! - `ical`: calendar feeds per schedule and person (`/ical/…`), signed token in the query.
//! - `actions`: signed one-click links from notifications (`/a/{token}`).
//! - `twilio`: press-1-to-ack callbacks of voice pages (`/twilio/voice/{token}`).
//! - `statuspage`: the public status page (`/`, `/api/v2/…`, feeds, subscriptions) served
//!   from memory, and its admin API.
//! - `health`: liveness and database check.
//! - `metrics`: Prometheus counters and gauges (`/metrics`), bearer token.
//! - `ui`: the signed-in web UI (`/login`, `/ui/…`); `session`: its cookies, CSRF and roles.
//! - `plan`: the on-call view `dutybell plan` diffs against (`/api/v1/plan`), bearer token.
//! - `reload`: config reload without restart (`/api/v1/admin/reload`), admin token.

pub mod actions;
pub mod alerts;
pub mod auth;
pub mod client_ip;
pub mod contacts;
pub mod error;
pub mod health;
pub mod ical;
pub mod incidents;
pub mod input;
pub mod intake;
pub mod limit;
pub mod metrics;
pub mod oncall;
pub mod page;
pub mod plan;
pub mod postmortems;
pub mod probes;
pub mod reload;
pub mod runbooks;
pub mod schedules;
pub mod services;
pub mod session;
pub mod slack;
pub mod slack_pages;
pub mod statuspage;
pub mod temporary;
pub mod twilio;
pub mod ui;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::Notify;
use tracing::Instrument as _;

use crate::clock::Clock;
use crate::engine::reload::SharedNotifiers;
use crate::store::Store;
pub use error::AppError;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// The current config: a handler takes `state.config.current()` once, at its start,
    /// and uses that snapshot throughout (a reload may swap the config meanwhile).
    pub config: crate::config::Shared,
    pub clock: Clock,
    /// Wakes the engine after intake or an ack.
    pub wake: Arc<Notify>,
    /// Set while shutting down: intake answers 503 so senders retry elsewhere or later.
    pub draining: Arc<AtomicBool>,
    /// Ingress windows per integration.
    pub limiter: Arc<limit::RateLimiter>,
    /// Channels for messages sent while answering (verification codes); rebuilt by a
    /// reload like the config.
    pub notifiers: SharedNotifiers,
    /// The public status page, pre-rendered; public routes read only this.
    pub statuspage: Arc<statuspage::StatusCache>,
    /// Reloads the config directory (SIGHUP, `reload`, the web UI).
    pub reloader: Arc<crate::engine::reload::Reloader>,
    /// Whether this instance runs the background work (always on SQLite; issue #8).
    pub lead: crate::engine::leader::Lead,
}

/// The whole application router; public so tests can call it without a socket.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(intake::router(&state.config.current()))
        .merge(reload::router())
        .merge(alerts::router())
        .merge(page::router())
        .merge(runbooks::router())
        .merge(incidents::router())
        .merge(postmortems::router())
        .merge(contacts::router())
        .merge(schedules::router())
        .merge(services::router())
        .merge(probes::router())
        .merge(oncall::router())
        .merge(plan::router())
        .merge(temporary::router())
        .merge(ical::router())
        .merge(actions::router())
        .merge(slack::router())
        .merge(twilio::router())
        .merge(statuspage::router())
        .merge(health::router())
        .merge(metrics::router())
        .merge(ui::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::api_tokens,
        ))
        .layer(axum::middleware::from_fn(request_span))
        .with_state(state)
}

async fn not_found() -> AppError {
    AppError::NotFound
}

async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}

/// Runs each request in a span keyed by the matched route, never the raw path: intake
/// paths carry integration keys, which must not reach the logs.
async fn request_span(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("<unmatched>", |path| path.as_str())
        .to_string();
    let span = tracing::info_span!(
        "request",
        http.method = %request.method(),
        http.route = %route,
        request.id = %ulid::Ulid::new(),
    );
    async move {
        let response = next.run(request).await;
        tracing::debug!(http.status = response.status().as_u16(), "answered");
        response
    }
    .instrument(span)
    .await
}
