//! ntfy push pages (comms spec §3.3): one JSON publish to the server root per page, with a
//! priority from the severity, a click-through to the alert and action buttons that POST
//! the signed ack and resolve links straight from the notification.
//!
//! JSON rather than headers: header values cannot carry non-ASCII summaries. The message is
//! plain text (`markdown: false`), so a summary needs no escaping beyond JSON's own.

use jiff::Timestamp;
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};

use super::{ErrorDetail, NotifyError, Page};
use crate::config::Ntfy;
use crate::domain::alert::{AlertState, Severity};

/// ntfy turns larger messages into attachments; keep the summary well inside 4 KB.
const MAX_MESSAGE: usize = 2000;

/// ntfy priority: 5 (`max`) for critical pages, 4 (`high`) for other pages, 3 (`default`)
/// for info, 2 (`low`) once resolved.
pub fn priority(page: &Page) -> u8 {
    match (page.alert.status, page.alert.severity) {
        (AlertState::Resolved, _) => 2,
        (_, Severity::Critical) => 5,
        (_, Severity::Error | Severity::Warning) => 4,
        (_, Severity::Info) => 3,
    }
}

/// The publish body for `topic`.
pub fn body(topic: &str, page: &Page) -> Value {
    let a = &page.alert;
    let tag = match a.status {
        AlertState::Resolved => "white_check_mark",
        _ => "rotating_light",
    };
    let message = format!(
        "{}\n{} · {} · since {}",
        crate::intake::truncate_chars(&a.summary, MAX_MESSAGE),
        a.service,
        a.severity,
        a.created_at
    );
    // At most three buttons: the two that act come first.
    let mut actions = vec![
        json!({"action": "http", "label": "Ack", "url": page.ack_url, "method": "POST",
               "clear": true}),
        json!({"action": "http", "label": "Resolve", "url": page.resolve_url,
               "method": "POST", "clear": true}),
    ];
    if let Some(runbook) = &a.runbook_url {
        actions.push(json!({"action": "view", "label": "Runbook", "url": runbook}));
    }
    json!({
        "topic": topic,
        "title": page.headline(),
        "message": message,
        "priority": priority(page),
        "tags": [tag],
        "click": a.url,
        "actions": actions,
        "markdown": false,
    })
}

pub async fn send(
    client: &reqwest::Client,
    server: &Ntfy,
    topic: &str,
    page: &Page,
    now: Timestamp,
) -> Result<(), NotifyError> {
    let mut request = client
        .post(format!("{}/", server.server))
        .json(&body(topic, page));
    if let Some(token) = &server.token {
        request = request.bearer_auth(token.expose_secret());
    }
    super::deliver(request, now, ErrorDetail::Snippet).await?;
    Ok(())
}
