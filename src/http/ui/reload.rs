//! The web UI's config page (issue #7): `GET /ui/admin/config` shows the config directory,
//! when the serving config was loaded and the last reload's outcome; `POST
//! /ui/admin/config/reload` reloads through `engine::reload`, the path SIGHUP and the
//! admin API take. Admins only; the POST checks origin and CSRF token first.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{UiError, html, see_other};
use crate::domain::accounts::Role;
use crate::engine::reload::Trigger;
use crate::http::AppState;
use crate::http::session::CurrentUser;
use crate::web::ui::Me;

const PAGE: &str = "/ui/admin/config";

/// `GET /ui/admin/config`.
pub async fn page(State(state): State<AppState>, user: CurrentUser) -> Result<Response, UiError> {
    if !user.user.role.allows(Role::Admin) {
        return Err(UiError::Forbidden(format!(
            "This page needs the admin role; you are a {}.",
            user.user.role
        )));
    }
    let me = Me {
        login: &user.user.login,
        role: user.user.role,
        csrf: &user.csrf,
    };
    let page = crate::web::ui::reload::page(&me, &state.reloader.status());
    Ok(html(StatusCode::OK, page))
}

/// `POST /ui/admin/config/reload`: the outcome shows on the page it returns to.
pub async fn reload(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    user.check_post(&state, &headers, &form, Role::Admin)?;
    tracing::info!(user.login = %user.user.login, "config reload asked from the web UI");
    let _ = state.reloader.reload(Trigger::Ui).await;
    Ok(see_other(PAGE))
}
