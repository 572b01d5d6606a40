//! Signed one-click links from notifications (`/a/{token}`). `GET` only shows a page with
//! one button, because mail scanners prefetch links; `POST` acts. Repeats are no-ops. A
//! `view` link shows the alert and its timeline, read-only, to the page's recipient; an
//! `ack_all` link (from a bundle) acknowledges the bundle's alerts at once.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::get;
use secrecy::ExposeSecret as _;

use super::{AppError, AppState};
use crate::domain::action_link::{self, Action, ActionClaim};
use crate::store::{StoreError, alerts};

pub fn router() -> Router<AppState> {
    Router::new().route("/a/{token}", get(confirm).post(act))
}

fn claim(state: &AppState, token: &str) -> Result<ActionClaim, (StatusCode, Html<String>)> {
    let config = state.config.current();
    let secret = config.settings.signing_secret.expose_secret().as_bytes();
    action_link::verify(token, secret, state.clock.now()).map_err(|err| {
        (
            StatusCode::FORBIDDEN,
            page("Link not valid", &[err.to_string()], None),
        )
    })
}

/// The link's claim and the alert it names, if any; refused (410) when that alert is newer
/// than the link, its number reused since.
async fn checked(
    state: &AppState,
    token: &str,
) -> Result<(ActionClaim, Option<alerts::Alert>), (StatusCode, Html<String>)> {
    let claim = claim(state, token)?;
    let alert = alerts::get(&state.store, claim.target).await.ok();
    if alert
        .as_ref()
        .is_some_and(|a| !claim.predates(a.created_at))
    {
        let refused = page("Link not valid", &[REUSED.into()], None);
        return Err((StatusCode::GONE, refused));
    }
    Ok((claim, alert))
}

async fn confirm(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Html<String>, (StatusCode, Html<String>)> {
    let (claim, alert) = checked(&state, &token).await?;
    if claim.act == Action::View {
        return view(&state, claim.target).await;
    }
    if claim.act == Action::Runbook {
        return runbook(&state, claim.target).await;
    }
    let summary = match alert {
        Some(alert) => format!("#A-{} {} ({})", alert.id, alert.summary, alert.state),
        None => format!("#A-{}", claim.target),
    };
    let title = if claim.act == Action::AckAll {
        "Acknowledge all alerts of this bundle".to_string()
    } else {
        format!("{} alert", claim.act.verb())
    };
    Ok(page(&title, &[summary], Some((&token, claim.act))))
}

/// The runbook covering alert `id`, rendered.
async fn runbook(state: &AppState, id: i64) -> Result<Html<String>, (StatusCode, Html<String>)> {
    let missing = || {
        (
            StatusCode::NOT_FOUND,
            page(
                "Not found",
                &["No runbook covers this alert now.".into()],
                None,
            ),
        )
    };
    let alert = alerts::get(&state.store, id).await.map_err(|_| missing())?;
    super::runbooks::page_for(state, &alert)
        .map(Html)
        .ok_or_else(missing)
}

/// The alert with its timeline, read-only.
async fn view(state: &AppState, id: i64) -> Result<Html<String>, (StatusCode, Html<String>)> {
    let unavailable = |_| {
        (
            StatusCode::NOT_FOUND,
            page("Not found", &["No such alert.".into()], None),
        )
    };
    let alert = alerts::get(&state.store, id).await.map_err(unavailable)?;
    let timeline = alerts::timeline(&state.store, id)
        .await
        .map_err(unavailable)?;
    let mut lines = vec![
        format!("{} [{}] {}", alert.state, alert.severity, alert.summary),
        format!(
            "Service: {}   Source: {}   Opened: {}",
            alert.service_id, alert.source, alert.created_at
        ),
    ];
    if let Some(runbook) = &alert.runbook_url {
        lines.push(format!("Runbook: {runbook}"));
    }
    if !alert.details.is_empty() {
        lines.push(alert.details.clone());
    }
    lines.push("Timeline (UTC):".into());
    for entry in timeline {
        let actor = entry.actor.map(|a| format!(" by {a}")).unwrap_or_default();
        lines.push(format!("{}  {}{}", entry.at, entry.kind, actor));
    }
    Ok(page(&format!("Alert #A-{id}"), &lines, None))
}

async fn act(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Html<String>, (StatusCode, Html<String>)> {
    let (claim, _) = checked(&state, &token).await?;
    if claim.act == Action::View {
        return view(&state, claim.target).await;
    }
    if claim.act == Action::Runbook {
        return runbook(&state, claim.target).await;
    }
    let result = apply(&state, &claim, "link").await;
    let message = match result {
        Ok(_) if claim.act == Action::AckAll => format!(
            "Every open alert of the bundle up to #A-{} is now acknowledged.",
            claim.target
        ),
        Ok(_) => format!(
            "Alert #A-{} is now {}.",
            claim.target,
            past_tense(claim.act)
        ),
        Err(StoreError::Conflict(reason)) => format!("Nothing to do: {reason}."),
        Err(err) => {
            let status = match AppError::from(err) {
                AppError::NotFound => StatusCode::NOT_FOUND,
                _ => StatusCode::SERVICE_UNAVAILABLE,
            };
            return Err((
                status,
                page(
                    "Try again",
                    &["dutybell could not record that.".into()],
                    None,
                ),
            ));
        }
    };
    Ok(page("Done", &[message], None))
}

/// Carries out a verified `claim` as its person, recorded as coming `via` a surface
/// (`link`, `voice`), and wakes the engine. Every signed link acts through here. `View`
/// changes nothing.
/// Why a link acts on nothing when its alert number now names a newer alert.
const REUSED: &str = "the link was sent about an earlier alert with this number, before the \
                      database was restored";

pub(crate) async fn apply(
    state: &AppState,
    claim: &ActionClaim,
    via: &str,
) -> Result<alerts::Transition, StoreError> {
    let now = state.clock.now();
    let (id, person) = (claim.target, claim.person.as_str());
    if claim.act == Action::View || claim.act == Action::Runbook {
        return Ok(alerts::Transition::Unchanged);
    }
    if !claim.predates(alerts::get(&state.store, id).await?.created_at) {
        return Err(StoreError::Conflict(REUSED.into()));
    }
    let result = match claim.act {
        Action::View | Action::Runbook => return Ok(alerts::Transition::Unchanged),
        Action::Ack => alerts::acknowledge(&state.store, id, person, via, now).await,
        Action::Resolve => alerts::resolve(&state.store, id, person, via, now).await,
        Action::AckAll => alerts::acknowledge_all(&state.store, id, person, via, now)
            .await
            .map(|acked| {
                tracing::info!(alert.id = id, acked, "bundle acknowledged");
                alerts::Transition::Changed
            }),
    };
    if result.is_ok() {
        state.wake.notify_one();
    }
    result
}

fn past_tense(act: Action) -> &'static str {
    match act {
        Action::Ack | Action::AckAll => "acknowledged",
        Action::Resolve => "resolved",
        Action::View | Action::Runbook => "shown",
    }
}

// TODO(#7): render through the web UI's minijinja templates (`web::ui`); until then this
// one small page escapes every value it inserts.
fn page(title: &str, lines: &[String], form: Option<(&str, Action)>) -> Html<String> {
    let button = form.map_or_else(String::new, |(token, act)| {
        format!(
            "<form method=\"post\" action=\"/a/{}\"><button type=\"submit\">{}</button></form>",
            escape(token),
            escape(act.verb())
        )
    });
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{title} · dutybell</title>\
         </head><body><h1>{title}</h1>{text}{button}</body></html>",
        title = escape(title),
        text = lines
            .iter()
            .map(|line| format!("<p>{}</p>", escape(line)))
            .collect::<String>(),
    ))
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    crate::domain::escape::html(text)
}
