//! `GET /runbooks/{slug}`: a runbook from the config directory as an HTML page.
//!
//! Runbooks hold internal commands and hostnames, so the page sits behind the admin API
//! token like `/api/v1/…`; people who were paged open it through the signed link in their
//! notification (`Action::Runbook`, served by `http::actions` through `page_for`). The
//! body goes through the status page's Markdown renderer (raw HTML off, link allow-list,
//! comms spec §0); every other value is escaped by the template.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value, context};

use super::{AppError, AppState, auth};
use crate::domain::runbook::Runbook;
use crate::web::statuspage::{html, markdown};

pub fn router() -> Router<AppState> {
    Router::new().route("/runbooks/{slug}", get(show))
}

/// No script, no outside resource: the page needs none.
const CSP: &str = "default-src 'none'; base-uri 'none'; form-action 'none'";

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Runbook: {{ title }}</title>
</head>
<body>
<header>
<p>Runbook <code>{{ file }}</code>, owner {{ owner }}, last updated {{ last_updated }}.</p>
<p>Covers: {{ covers }}</p>
</header>
<main>
{{ body }}
</main>
</body>
</html>
"#;

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.set_formatter(html::escape_with_house_rules);
    env.add_template("runbook.html", PAGE)
        .expect("the runbook page template parses; the tests render it");
    env
});

async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let config = state.config.current();
    auth::require_admin(&state, &headers)?;
    let runbook = config.runbooks.get(&slug).ok_or(AppError::NotFound)?;
    let page = render(runbook)?;
    let mut response = Html(page).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

/// The page of the runbook covering `alert` (comms spec §5.1 lookup), if one does.
pub(super) fn page_for(state: &AppState, alert: &crate::store::alerts::Alert) -> Option<String> {
    let config = state.config.current();
    let runbook = crate::engine::outbox::covering(&config, alert)?;
    match render(runbook) {
        Ok(page) => Some(page),
        Err(err) => {
            tracing::error!(error = %err, "runbook page not rendered");
            None
        }
    }
}

/// The page for `runbook`: the only value marked safe is the sanitised Markdown body.
fn render(runbook: &Runbook) -> Result<String, AppError> {
    let mut covers: Vec<String> = runbook.alerts.clone();
    covers.extend(runbook.matchers.iter().map(|m| m.to_string()));
    let page = TEMPLATES.get_template("runbook.html").and_then(|t| {
        t.render(context! {
            title => &runbook.title,
            file => &runbook.file,
            owner => runbook.owner.as_deref().unwrap_or("unassigned"),
            last_updated => runbook.last_updated.to_string(),
            covers => covers.join(", "),
            body => Value::from_safe_string(markdown::render(&runbook.body)),
        })
    });
    page.map_err(|err| AppError::Internal(anyhow::Error::new(err).context("runbook page")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::runbook::parse;

    #[test]
    fn user_text_is_escaped_and_raw_html_is_inert() {
        let text = "+++\nalerts = [\"<b>A</b>\"]\nowner = \"<i>ops</i>\"\n\
                    last_updated = 2025-01-20\n+++\n# Runbook: <script>x</script>\n\n\
                    <script>alert(1)</script>\n\n[x](javascript:alert(1))\n";
        let runbook = parse("runbooks/a.md", text).runbook.unwrap();

        let page = render(&runbook).unwrap();

        assert!(!page.contains("<script>"), "{page}");
        assert!(!page.contains("javascript:alert"), "{page}");
        assert!(page.contains("<title>Runbook: &lt;script&gt;x&lt;/script&gt;</title>"));
        assert!(page.contains("owner &lt;i&gt;ops&lt;/i&gt;,"), "{page}");
        assert!(
            page.contains("<p>&lt;script&gt;alert(1)&lt;/script&gt;\n</p>"),
            "{page}"
        );
    }
}
