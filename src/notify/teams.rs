//! Microsoft Teams pages through a Workflows webhook (comms spec §3.5): an Adaptive Card
//! 1.4 in a `message` envelope, with the headline, summary, a fact set and `OpenUrl`
//! buttons to the signed ack and resolve links. Config (`config::check_teams_url`) refuses
//! the retired Office 365 connector URLs.
//!
//! A 2xx (usually 202) only means the flow accepted the card, not that anyone saw it.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{ErrorDetail, NotifyError, Page};

const MAX_SUMMARY: usize = 2000;

fn open(title: &str, url: &str) -> Value {
    json!({"type": "Action.OpenUrl", "title": title, "url": url})
}

/// The webhook body.
pub fn body(page: &Page) -> Value {
    let a = &page.alert;
    // TODO(#4): TextBlock renders a Markdown subset, so a summary like `[x](https://…)`
    // shows as a link; JSON keeps it from changing the card's structure. Escape Markdown
    // once we have a Teams tenant to check how its renderer treats backslashes.
    let mut actions = vec![
        open("Acknowledge", &page.ack_url),
        open("Resolve", &page.resolve_url),
        open("Open alert", &a.url),
    ];
    if let Some(runbook) = &a.runbook_url {
        actions.push(open("Runbook", runbook));
    }
    let card = json!({
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": page.headline(), "weight": "Bolder", "size": "Medium",
             "wrap": true},
            {"type": "TextBlock", "text": crate::intake::truncate_chars(&a.summary, MAX_SUMMARY),
             "wrap": true},
            {"type": "FactSet", "facts": [
                {"title": "Service", "value": a.service},
                {"title": "Severity", "value": a.severity.to_string()},
                {"title": "Alert", "value": format!("#A-{}", a.id)},
                {"title": "Started", "value": a.created_at.to_string()},
            ]},
        ],
        "actions": actions,
    });
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }],
    })
}

pub async fn send(
    client: &reqwest::Client,
    url: &str,
    page: &Page,
    now: Timestamp,
) -> Result<(), NotifyError> {
    super::deliver(
        client.post(url).json(&body(page)),
        now,
        ErrorDetail::Snippet,
    )
    .await?;
    Ok(())
}
