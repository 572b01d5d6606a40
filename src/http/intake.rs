//! Alert intake over HTTP: the single handler path every wire format goes through —
//! body limit, integration lookup by hashed key, token check, parse, one committed
//! transaction, then the answer (intake spec §2.5, §4).

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};

use super::{AppError, AppState, auth};
use crate::config::{Config, Integration, IntegrationKind};
use crate::domain::fingerprint::sha256_hex;
use crate::intake::alertmanager;
use crate::store::deliveries::{self, Target};

/// A 2xx is only sent after the commit; past this, 503 so the sender retries.
const RESPONSE_DEADLINE: Duration = Duration::from_secs(5);

pub fn router(config: &Config) -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/integrations/{key}/alertmanager",
            post(alertmanager_webhook),
        )
        .layer(DefaultBodyLimit::max(config.settings.max_body_bytes))
}

async fn alertmanager_webhook(
    State(state): State<AppState>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), AppError> {
    let body = body.map_err(|rejection| body_error(&state, &rejection))?;
    let integration = authorize(&state, &key, IntegrationKind::Alertmanager, &headers)?;
    let now = state.clock.now();
    let delivery = alertmanager::parse(&body, &integration.id, integration.default_severity, now)?;

    if state.draining.load(Ordering::SeqCst) {
        return Err(AppError::Unavailable(anyhow::anyhow!("shutting down")));
    }
    let policy = state
        .config
        .services
        .get(&integration.service)
        .map(|service| service.escalation.clone())
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("integration without service")))?;
    let target = Target {
        integration_id: &integration.id,
        service_id: &integration.service,
        policy_id: &policy,
    };
    let applied = tokio::time::timeout(
        RESPONSE_DEADLINE,
        deliveries::apply_group(&state.store, &target, &delivery, &body),
    )
    .await
    .map_err(|_| AppError::Unavailable(anyhow::anyhow!("storing the delivery took too long")))??;

    if applied.opened {
        tracing::info!(
            integration.id = %integration.id,
            alert.id = applied.alert_id,
            "alert opened"
        );
        state.wake.notify_one();
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({
            "status": "accepted",
            "delivery_id": applied.delivery_id,
            "alert_id": applied.alert_id,
            "alerts": delivery.members.len(),
            "duplicate": applied.duplicate,
            "warnings": delivery.warnings,
        })),
    ))
}

/// Finds the integration a presented key belongs to and checks its token. A key of
/// another kind is answered as unknown, so keys cannot be probed across endpoints.
fn authorize(
    state: &AppState,
    key: &str,
    kind: IntegrationKind,
    headers: &HeaderMap,
) -> Result<Integration, AppError> {
    let integration = state
        .config
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
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::TooLarge {
            limit: state.config.settings.max_body_bytes,
        }
    } else {
        AppError::Invalid {
            field: String::new(),
            message: rejection.body_text(),
        }
    }
}
