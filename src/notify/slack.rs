//! Slack pages through an incoming webhook (comms spec §2.8, §3.4): a Block Kit message
//! with the headline, summary, facts, and `url` buttons to the signed ack and resolve links
//! (webhook mode gets no clicks back, so the buttons open dutybell instead).
//!
//! User text goes into `mrkdwn`, where Slack reads `&`, `<` and `>` as markup: they are
//! escaped, so a summary cannot forge a link or a mention.

// TODO(#4): bot-token mode (`chat.postMessage` to a DM, `chat.update` on ack, §2.6 `ok`
// handling and per-channel pacing); webhook mode is what ships now.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{ErrorDetail, NotifyError, Page};

/// Section text may hold 3000 characters; leave room for the headline.
const MAX_SUMMARY: usize = 2500;

/// Escapes user text for Slack `mrkdwn` and the top-level `text` (comms spec §0).
pub fn escape(text: &str) -> String {
    crate::domain::escape::mrkdwn(text)
}

fn button(text: &str, action_id: &str, url: &str) -> Value {
    json!({
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "url": url,
    })
}

/// The webhook body: `text` (notifications and fallback) plus `blocks`.
pub fn body(page: &Page) -> Value {
    let a = &page.alert;
    let headline = escape(&page.headline());
    let summary = escape(&crate::intake::truncate_chars(&a.summary, MAX_SUMMARY));
    // Shown in each reader's own zone; the fallback after `|` is UTC.
    let started = format!(
        "<!date^{}^{{date_short}} {{time}}|{} UTC>",
        a.created_at.as_second(),
        a.created_at.strftime("%Y-%m-%d %H:%M")
    );
    let lead = format!("*{headline}*\n{summary}");
    let field =
        |name: &str, value: String| json!({"type": "mrkdwn", "text": format!("*{name}*\n{value}")});

    let mut ack = button("Acknowledge", "alert.ack", &page.ack_url);
    ack["style"] = json!("primary");
    let mut resolve = button("Resolve", "alert.resolve", &page.resolve_url);
    resolve["style"] = json!("danger");
    let mut buttons = vec![ack, resolve, button("Open alert", "alert.open", &a.url)];
    if let Some(runbook) = &a.runbook_url {
        buttons.push(button("Runbook", "alert.runbook", runbook));
    }

    json!({
        "text": format!("{headline}: {summary}"),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": lead}},
            {"type": "section", "fields": [
                field("Service", escape(&a.service)),
                field("Severity", a.severity.to_string()),
                field("Alert", format!("<{}|#A-{}>", escape(&a.url), a.id)),
                field("Started", started),
            ]},
            {"type": "actions", "elements": buttons},
        ],
    })
}

pub async fn send(
    client: &reqwest::Client,
    url: &str,
    page: &Page,
    now: Timestamp,
) -> Result<(), NotifyError> {
    // Slack answers plain-text codes (`invalid_payload`, `channel_not_found`): safe to keep.
    super::deliver(
        client.post(url).json(&body(page)),
        now,
        ErrorDetail::Snippet,
    )
    .await?;
    Ok(())
}
