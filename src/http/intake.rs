//! Alert intake over HTTP: one pipeline for every wire format — body limit, integration
//! lookup by hashed key, token check, parse, one committed transaction, then the answer
//! (intake spec §2.5, §4). Formats differ only in their parse function and, for PagerDuty,
//! in the shape of the answer.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;

use super::error::PagerDutyError;
use super::{AppError, AppState, auth};
use crate::config::{Config, IntakeMode, Integration, IntegrationKind};
use crate::domain::delivery::{AlertEvent, EventAction, GroupDelivery};
use crate::domain::fingerprint::sha256_hex;
use crate::intake::{alertmanager, generic, pagerduty};
use crate::store::deliveries::{self, Target};
use crate::store::services;

/// A 2xx is only sent after the commit; past this, 503 so the sender retries.
const RESPONSE_DEADLINE: Duration = Duration::from_secs(5);

pub fn router(config: &Config) -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/integrations/{key}/alertmanager",
            post(alertmanager_webhook),
        )
        .route(
            "/api/v1/integrations/{key}/grafana",
            post(grafana_webhook).put(grafana_webhook),
        )
        .route("/api/v1/integrations/{key}/generic", post(generic_webhook))
        .route("/v2/enqueue", post(pagerduty_enqueue))
        .route("/v2/change/enqueue", post(pagerduty_change))
        .layer(DefaultBodyLimit::max(config.settings.max_body_bytes))
}

type Answer = Result<(StatusCode, Json<serde_json::Value>), AppError>;
type Body = Result<Bytes, BytesRejection>;
/// A body not read yet: the native endpoints check the key in the path first, so an
/// unknown caller cannot make the server buffer a large body.
type Raw = axum::body::Body;

async fn alertmanager_webhook(s: State<AppState>, k: Path<String>, h: HeaderMap, b: Raw) -> Answer {
    keyed(s, k, h, b, IntegrationKind::Alertmanager).await
}

async fn grafana_webhook(s: State<AppState>, k: Path<String>, h: HeaderMap, b: Raw) -> Answer {
    keyed(s, k, h, b, IntegrationKind::Grafana).await
}

async fn generic_webhook(s: State<AppState>, k: Path<String>, h: HeaderMap, b: Raw) -> Answer {
    keyed(s, k, h, b, IntegrationKind::Generic).await
}

/// What a body parses into.
enum Parsed {
    Group(Box<GroupDelivery>),
    /// `alert` mode: one single-member group per fingerprint (intake spec §3.3).
    Alerts(Vec<GroupDelivery>),
    /// Generic events, and warnings for the sender.
    Events(Vec<AlertEvent>, Vec<String>),
}

/// The native endpoints: key in the path, the answer in dutybell's own shape.
async fn keyed(
    State(state): State<AppState>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Raw,
    kind: IntegrationKind,
) -> Answer {
    let config = state.config.current();
    let integration = authorize(&config, &key, kind, &headers)?;
    let limit = config.settings.max_body_bytes;
    let body = axum::body::to_bytes(body, limit).await.map_err(|err| {
        let too_large = std::error::Error::source(&err)
            .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
        if too_large {
            AppError::TooLarge { limit }
        } else {
            AppError::Invalid {
                field: String::new(),
                message: format!("reading the body: {err}"),
            }
        }
    })?;
    let now = state.clock.now();
    if let Some(signature) = &integration.hmac
        && !auth::signature_ok(signature, &headers, &body, now)
    {
        tracing::info!(integration.id = %integration.id, "intake refused: bad signature");
        return Err(AppError::Unauthorized);
    }
    let (id, severity) = (integration.id.as_str(), integration.default_severity);
    let parsed = match (kind, integration.mode) {
        (IntegrationKind::Alertmanager | IntegrationKind::Grafana, IntakeMode::Alert) => {
            let flavor = if kind == IntegrationKind::Grafana {
                alertmanager::Flavor::Grafana
            } else {
                alertmanager::Flavor::Alertmanager
            };
            Parsed::Alerts(alertmanager::parse_alerts(
                &body, flavor, id, severity, now,
            )?)
        }
        (IntegrationKind::Alertmanager, _) => {
            Parsed::Group(Box::new(alertmanager::parse(&body, id, severity, now)?))
        }
        (IntegrationKind::Grafana, _) => Parsed::Group(Box::new(alertmanager::parse_grafana(
            &body, id, severity, now,
        )?)),
        (IntegrationKind::Generic, _) => {
            let (events, warnings) = generic::parse_with_warnings(&body, now, new_key)?;
            Parsed::Events(events, warnings)
        }
        (IntegrationKind::Pagerduty | IntegrationKind::Email, _) => {
            return Err(AppError::UnknownIntegration);
        }
    };
    let firing = match &parsed {
        Parsed::Group(delivery) => delivery
            .members
            .iter()
            .any(|m| m.occurrence.status.is_firing()),
        Parsed::Alerts(deliveries) => deliveries
            .iter()
            .flat_map(|d| &d.members)
            .any(|m| m.occurrence.status.is_firing()),
        Parsed::Events(events, _) => events.iter().any(|e| e.action == EventAction::Trigger),
    };
    admit(&state, &integration, firing)?;
    match parsed {
        Parsed::Group(delivery) => {
            let target = target(&state, &config, &integration)?;
            let write = deliveries::apply_group(&state.store, &target, &delivery, &body);
            let applied = within_deadline(write).await?;
            if applied.opened {
                opened(&state, &integration, applied.alert_id);
            }
            Ok(accepted(json!({
                "delivery_id": applied.delivery_id,
                "alert_id": applied.alert_id,
                "alerts": delivery.members.len(),
                "duplicate": applied.duplicate,
                "warnings": delivery.warnings,
            })))
        }
        Parsed::Alerts(split) => {
            let target = target(&state, &config, &integration)?;
            let write = deliveries::apply_groups(&state.store, &target, &split, &body);
            let applied = within_deadline(write).await?;
            for one in applied.iter().filter(|one| one.opened) {
                opened(&state, &integration, one.alert_id);
            }
            // One entry per member in body order; a fingerprint listed twice appears once.
            let mut alert_ids: Vec<Option<i64>> = Vec::with_capacity(applied.len());
            let mut seen = std::collections::HashSet::new();
            for (one, delivery) in applied.iter().zip(&split) {
                if seen.insert(delivery.dedup_key.as_str()) {
                    alert_ids.push(one.alert_id);
                }
            }
            let delivery_id = applied
                .iter()
                .find(|one| !one.duplicate)
                .or(applied.first())
                .map(|one| one.delivery_id.clone());
            let warnings: Vec<&String> = split.iter().flat_map(|d| &d.warnings).collect();
            Ok(accepted(json!({
                "delivery_id": delivery_id,
                "alert_ids": alert_ids,
                "alerts": split.len(),
                "duplicate": applied.iter().all(|one| one.duplicate),
                "warnings": warnings,
            })))
        }
        Parsed::Events(events, warnings) => {
            let (delivery_id, outcomes) =
                apply_events(&state, &integration, &events, &body).await?;
            let keys: Vec<&str> = outcomes.iter().map(|o| o.dedup_key.as_str()).collect();
            Ok(accepted(json!({
                "delivery_id": delivery_id,
                "alerts": events.len(),
                "duplicate": false,
                "dedup_keys": keys,
                "results": outcomes,
                "warnings": warnings,
            })))
        }
    }
}

/// `POST /v2/enqueue`: PagerDuty Events API v2, answered in PagerDuty's shapes.
async fn pagerduty_enqueue(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<serde_json::Value>), PagerDutyError> {
    let (body, integration) = pagerduty_integration(&state, &headers, body)?;
    let enqueue =
        pagerduty::parse_enqueue(&body, state.clock.now(), new_key).map_err(AppError::from)?;
    admit(
        &state,
        &integration,
        enqueue.event.action == EventAction::Trigger,
    )?;
    let events = [enqueue.event];
    apply_events(&state, &integration, &events, &body).await?;
    let [event] = events;
    let answer = json!({
        "status": "success",
        "message": "Event processed",
        "dedup_key": event.dedup_key,
    });
    Ok((StatusCode::ACCEPTED, Json(answer)))
}

/// `POST /v2/change/enqueue`: a change event lands on the service timeline; never pages.
async fn pagerduty_change(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<serde_json::Value>), PagerDutyError> {
    let (body, integration) = pagerduty_integration(&state, &headers, body)?;
    let change = pagerduty::parse_change(&body, state.clock.now()).map_err(AppError::from)?;
    draining(&state)?;
    services::record_change(&state.store, &integration.service, &integration.id, &change)
        .await
        .map_err(AppError::from)?;
    let answer = json!({ "status": "success", "message": "Change event processed" });
    Ok((StatusCode::ACCEPTED, Json(answer)))
}

/// The body and the integration its `routing_key` names. PagerDuty answers an unknown
/// routing key with 400, not 404.
fn pagerduty_integration(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Bytes, Integration), AppError> {
    let body = body.map_err(|rejection| body_error(state, &rejection))?;
    let key = pagerduty::routing_key(&body)?;
    match authorize(
        &state.config.current(),
        &key,
        IntegrationKind::Pagerduty,
        headers,
    ) {
        Ok(integration) => Ok((body, integration)),
        Err(AppError::UnknownIntegration) => Err(AppError::Invalid {
            field: "routing_key".into(),
            message: "'routing_key' is not a known integration key".into(),
        }),
        Err(other) => Err(other),
    }
}

pub(crate) async fn apply_events(
    state: &AppState,
    integration: &Integration,
    events: &[AlertEvent],
    body: &[u8],
) -> Result<(String, Vec<deliveries::EventOutcome>), AppError> {
    let config = state.config.current();
    let now = state.clock.now();
    let severity = integration.default_severity;
    let target = target(state, &config, integration)?;
    let write = deliveries::apply_events(&state.store, &target, events, severity, body, now);
    let (id, outcomes) = within_deadline(write).await?;
    for outcome in outcomes.iter().filter(|o| o.effect == "opened") {
        opened(state, integration, outcome.alert_id);
    }
    Ok((id, outcomes))
}

/// Where `integration`'s deliveries go; refused while draining. An integration whose
/// service a config reload removed since it was looked up is unknown now.
fn target<'a>(
    state: &AppState,
    config: &'a Config,
    integration: &'a Integration,
) -> Result<Target<'a>, AppError> {
    draining(state)?;
    crate::engine::intake::target(config, integration).ok_or(AppError::UnknownIntegration)
}

/// Awaits a store write for at most the response deadline; late is 503 (the commit may
/// still land, and the sender's retry is then a duplicate).
async fn within_deadline<T>(
    write: impl std::future::Future<Output = Result<T, crate::store::StoreError>>,
) -> Result<T, AppError> {
    tokio::time::timeout(RESPONSE_DEADLINE, write)
        .await
        .map_err(|_| AppError::Unavailable(anyhow::anyhow!("storing the delivery took too long")))?
        .map_err(AppError::from)
}

/// Applies the integration's ingress limit. Deliveries that only resolve or acknowledge
/// pass uncounted: stopping a resolve would keep a page going (D10).
pub(crate) fn admit(
    state: &AppState,
    integration: &Integration,
    counts: bool,
) -> Result<(), AppError> {
    let Some(limit) = integration.rate.filter(|_| counts) else {
        return Ok(());
    };
    state
        .limiter
        .admit(&integration.id, limit, state.clock.now())
        .map_err(|retry_after| {
            tracing::warn!(integration.id = %integration.id, "intake rate limit reached");
            AppError::Throttled {
                code: "rate_limited",
                limit: limit.0,
                retry_after,
                message: format!("more than {} requests in {}", limit.0, limit.1),
            }
        })
}

fn draining(state: &AppState) -> Result<(), AppError> {
    if state.draining.load(Ordering::SeqCst) {
        return Err(AppError::Unavailable(anyhow::anyhow!("shutting down")));
    }
    Ok(())
}

fn opened(state: &AppState, integration: &Integration, alert_id: Option<i64>) {
    tracing::info!(integration.id = %integration.id, alert.id = alert_id, "alert opened");
    state.wake.notify_one();
}

fn accepted(mut body: serde_json::Value) -> (StatusCode, Json<serde_json::Value>) {
    body["status"] = "accepted".into();
    (StatusCode::ACCEPTED, Json(body))
}

/// A fresh dedup key for a trigger that names none: never derived from content, so two
/// different problems with equal text stay two alerts (IN-06).
fn new_key() -> String {
    format!(
        "auto:{}",
        ulid::Ulid::new().to_string().to_ascii_lowercase()
    )
}

/// Finds the integration a presented key belongs to and checks its token. A key of
/// another kind is answered as unknown, so keys cannot be probed across endpoints.
fn authorize(
    config: &Config,
    key: &str,
    kind: IntegrationKind,
    headers: &HeaderMap,
) -> Result<Integration, AppError> {
    let integration = config
        .integration_by_key_hash(&sha256_hex(&[key]))
        .filter(|integration| integration.kind == kind)
        .ok_or(AppError::UnknownIntegration)?;
    if let Some(token) = &integration.token
        && !auth::matches(headers, token)
    {
        tracing::info!(integration.id = %integration.id, "intake refused: bad token");
        return Err(AppError::Unauthorized);
    }
    Ok(integration.clone())
}

fn body_error(state: &AppState, rejection: &BytesRejection) -> AppError {
    let config = state.config.current();
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::TooLarge {
            limit: config.settings.max_body_bytes,
        }
    } else {
        AppError::Invalid {
            field: String::new(),
            message: rejection.body_text(),
        }
    }
}
