//! The UI's services page (issue #7): `GET /ui/services`, each service with its escalation
//! policy, who its policy's first step reaches now, and its integrations with intake URLs
//! and receiver snippets. Any role reads; keys and tokens are secrets, shown to admins
//! only (others see them masked).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use jiff::SignedDuration;
use secrecy::ExposeSecret as _;

use super::me;
use super::{UiError, html};
use crate::domain::accounts::Role;
use crate::domain::escalation::Target;
use crate::engine::escalation::resolve;
use crate::http::AppState;
use crate::http::session::CurrentUser;
use crate::store::overrides;
use crate::web::ui::schedules::{self as view, MASK, ServiceRow};

/// `GET /ui/services`.
pub async fn list(State(state): State<AppState>, user: CurrentUser) -> Result<Response, UiError> {
    let config = state.config.current();
    let now = state.clock.now();
    let end = now
        .checked_add(SignedDuration::from_nanos(1))
        .unwrap_or(now);
    let mut rows = Vec::new();
    for service in config.services.values() {
        let first = config
            .policies
            .get(&service.escalation)
            .and_then(|policy| policy.steps.first());
        let targets = first
            .map(|step| step.targets.as_slice())
            .unwrap_or_default();
        let mut schedules = BTreeMap::new();
        for target in targets {
            if let Target::Schedule(id) = target
                && let Some(schedule) = config.schedules.get(id)
            {
                let merged = overrides::with_overrides(&state.store, schedule, now, end).await?;
                schedules.insert(id.clone(), merged);
            }
        }
        rows.push(ServiceRow {
            id: &service.id,
            name: &service.name,
            escalation: &service.escalation,
            on_call: resolve(&config, &schedules, targets, now),
            integrations: config
                .integrations
                .iter()
                .filter(|integration| integration.service == service.id)
                .collect(),
        });
    }
    let admin = user.user.role.allows(Role::Admin);
    let page = view::services(&config, &me(&user), &rows, |integration| {
        if admin {
            let token = integration.token.as_ref();
            (
                integration.key.expose_secret().to_string(),
                token.map(|t| t.expose_secret().to_string()),
            )
        } else {
            (
                MASK.to_string(),
                integration.token.as_ref().map(|_| MASK.to_string()),
            )
        }
    });
    Ok(html(StatusCode::OK, page))
}
