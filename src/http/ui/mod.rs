//! The web UI's routes (issue #7): thin handlers over the same store and engine functions
//! the API and CLI use; pages are rendered by `web::ui`.
//!
//! - `login`: `/login` (form, sign in, rate limit) and `/logout`.
//! - `pages`: `/ui` (dashboard), `/ui/alerts/{id}`, `/ui/incidents/{number}`.
//! - `actions`: the forms' POSTs: ack, resolve and promote alerts, declare an incident and
//!   move its status.
//! - `incident_actions`, `postmortems`: an incident's other forms and its postmortem.
//! - `admin_users`: `/ui/admin/users`, accounts and API tokens, for admins.
//! - `reload`: `/ui/admin/config`, the config directory and its reload button, for admins.
//!
//! Every page needs a session (`http::session::CurrentUser`); every POST checks origin,
//! CSRF token and role before it acts. Failures are [`UiError`], answered as HTML.

mod actions;
mod admin_users;
mod incident_actions;
mod login;
mod pages;
mod postmortems;
mod reload;
mod reports;
mod runbooks;
mod schedules;
mod services;
mod status;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::{AppError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/ui", get(pages::dashboard))
        .route("/ui/alerts/{id}", get(pages::alert))
        .route("/ui/alerts/{id}/ack", post(actions::ack))
        .route("/ui/alerts/{id}/resolve", post(actions::resolve))
        .route("/ui/alerts/{id}/promote", post(actions::promote))
        .route("/ui/incidents", post(actions::declare))
        .route("/ui/incidents/new", get(pages::declare_form))
        .route("/ui/incidents/{number}", get(pages::incident))
        .route("/ui/incidents/{number}/status", post(actions::status))
        .route("/ui/schedules", get(schedules::list))
        .route("/ui/schedules/{id}", get(schedules::month))
        .route("/ui/schedules/{id}/overrides", post(schedules::add))
        .route(
            "/ui/schedules/{id}/overrides/{oid}/delete",
            post(schedules::delete),
        )
        .route("/ui/services", get(services::list))
        .route("/ui/incidents/{number}/comms", get(incident_actions::page))
        .route(
            "/ui/incidents/{number}/severity",
            post(incident_actions::severity),
        )
        .route(
            "/ui/incidents/{number}/commander",
            post(incident_actions::commander),
        )
        .route(
            "/ui/incidents/{number}/comms-lead",
            post(incident_actions::comms_lead),
        )
        .route("/ui/incidents/{number}/note", post(incident_actions::note))
        .route(
            "/ui/incidents/{number}/update",
            post(incident_actions::update),
        )
        .route(
            "/ui/incidents/{number}/public",
            post(incident_actions::public),
        )
        .route(
            "/ui/incidents/{number}/postmortem",
            get(postmortems::show).post(postmortems::save),
        )
        .route(
            "/ui/incidents/{number}/postmortem/items",
            post(postmortems::add_item),
        )
        .route(
            "/ui/incidents/{number}/postmortem/items/{item}",
            post(postmortems::edit_item),
        )
        .route(
            "/ui/incidents/{number}/postmortem/items/{item}/details",
            post(postmortems::edit_item_details),
        )
        .route(
            "/ui/incidents/{number}/postmortem/draft",
            post(postmortems::request_draft),
        )
        .route(
            "/ui/incidents/{number}/postmortem/owner",
            post(postmortems::set_owner),
        )
        .route(
            "/ui/incidents/{number}/postmortem/publish",
            post(postmortems::publish),
        )
        .route(
            "/ui/incidents/{number}/postmortem/skip",
            post(postmortems::skip),
        )
        .route("/ui/actions", get(postmortems::actions))
        .route("/ui/runbooks", get(runbooks::list))
        .route("/ui/runbooks/{slug}", get(runbooks::show))
        .route("/ui/alerts/{id}/runbook/step", post(runbooks::tick))
        .route("/ui/reports", get(reports::page))
        .route("/ui/status", get(status::page))
        .route("/ui/status/components/{key}", post(status::set_component))
        .route("/ui/status/maintenances", post(status::schedule))
        .route(
            "/ui/status/maintenances/{id}/status",
            post(status::move_maintenance),
        )
        .route(
            "/ui/admin/users",
            get(admin_users::list).post(admin_users::add),
        )
        .route("/ui/admin/users/{login}/role", post(admin_users::set_role))
        .route(
            "/ui/admin/users/{login}/person",
            post(admin_users::set_person),
        )
        .route(
            "/ui/admin/users/{login}/disable",
            post(admin_users::disable),
        )
        .route("/ui/admin/users/{login}/enable", post(admin_users::enable))
        .route(
            "/ui/admin/users/{login}/password",
            post(admin_users::reset_password),
        )
        .route(
            "/ui/admin/users/{login}/tokens",
            post(admin_users::create_token),
        )
        .route(
            "/ui/admin/tokens/{id}/revoke",
            post(admin_users::revoke_token),
        )
        .route("/ui/admin/config", get(reload::page))
        .route("/ui/admin/config/reload", post(reload::reload))
    // TODO(#7): optional OIDC login beside local passwords.
}

/// Why a UI request was not served, answered as an HTML page.
#[derive(Debug)]
pub enum UiError {
    /// A page needs a session: go to the login form.
    Login,
    /// A form was posted without a live session.
    Unauthorized,
    /// Bad CSRF token or origin, or a role below what the action needs.
    Forbidden(String),
    /// The login form again, after a wrong login or password.
    WrongPassword(String),
    /// Too many failed logins; try again after `retry_after` seconds.
    Throttled {
        retry_after: u64,
        page: String,
    },
    App(AppError),
}

impl From<AppError> for UiError {
    fn from(err: AppError) -> Self {
        UiError::App(err)
    }
}

impl From<crate::store::StoreError> for UiError {
    fn from(err: crate::store::StoreError) -> Self {
        UiError::App(err.into())
    }
}

impl From<crate::engine::incidents::IncidentError> for UiError {
    fn from(err: crate::engine::incidents::IncidentError) -> Self {
        UiError::App(err.into())
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let error = |heading: &str, message: &str, login_link| {
            crate::web::ui::error(None, heading, message, login_link)
        };
        let (status, body) = match self {
            UiError::Login => return see_other("/login"),
            UiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                error(
                    "Not signed in",
                    "Your session has ended; log in again.",
                    true,
                ),
            ),
            UiError::Forbidden(message) => {
                (StatusCode::FORBIDDEN, error("Forbidden", &message, false))
            }
            UiError::WrongPassword(page) => (StatusCode::UNAUTHORIZED, page),
            UiError::Throttled { retry_after, page } => {
                let mut response = html(StatusCode::TOO_MANY_REQUESTS, page);
                if let Ok(value) = HeaderValue::from_str(&retry_after.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
                return response;
            }
            UiError::App(AppError::NotFound) => (
                StatusCode::NOT_FOUND,
                error("Not found", "There is no such page.", false),
            ),
            UiError::App(AppError::Invalid { message, .. }) => (
                StatusCode::BAD_REQUEST,
                error("Not accepted", &message, false),
            ),
            UiError::App(AppError::Conflict(message)) => {
                (StatusCode::CONFLICT, error("Not done", &message, false))
            }
            // JSON clients (401) and failures the error layer logs keep its answer.
            UiError::App(other) => return other.into_response(),
        };
        html(status, body)
    }
}

/// Form bodies as ordered pairs: a repeated field (checkboxes, pickers) keeps every value.
pub(super) type FormPairs = axum::Form<Vec<(String, String)>>;

/// The signed-in user as the page header shows them, with the token their forms carry.
pub(super) fn me(user: &crate::http::session::CurrentUser) -> crate::web::ui::Me<'_> {
    crate::web::ui::Me {
        login: &user.user.login,
        role: user.user.role,
        csrf: &user.csrf,
    }
}

/// A form field the page refuses, shown back on the error page.
pub(super) fn invalid(field: &str, message: impl Into<String>) -> UiError {
    UiError::App(AppError::Invalid {
        field: field.into(),
        message: message.into(),
    })
}

/// An HTML response with the UI's headers: never cached, never framed, no script, forms
/// only to this origin.
pub fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// `303 See Other` to `to`: where a form post or a missing session sends the browser.
pub fn see_other(to: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(to) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
