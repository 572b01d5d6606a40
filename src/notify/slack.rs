//! Slack pages (comms spec §2.8, §3.4), in two modes.
//!
//! Incoming webhook (`{ kind = "slack", url_env = … }`): a Block Kit message with the
//! headline, summary, facts, and `url` buttons to the signed ack and resolve links (webhook
//! mode gets no clicks back, so the buttons open dutybell instead).
//!
//! App mode (`{ kind = "slack", to = "dm" }` with `[slack]` app mode and the person's
//! `slack_id`): the same message as an app DM with interactive `alert.ack`,
//! `alert.resolve` and `alert.declare` buttons whose `value` is the alert id, and once the
//! alert is acked or resolved, the same message with the buttons swapped for "Acked by Ana
//! Ruiz at 14:05 UTC". This module renders those and sorts Web API errors for the outbox;
//! `engine::slack_pages` posts, stores, paces and edits them, `http::slack_pages` takes the
//! clicks.
//!
//! User text goes into `mrkdwn`, where Slack reads `&`, `<` and `>` as markup: they are
//! escaped, so a summary cannot forge a link or a mention.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::slack_api::{SlackApi, SlackError};
use super::{ErrorDetail, NotifyError, Page};

/// `action_id`s of app-mode page buttons (comms spec §2.5); `value` is the alert id.
pub mod action {
    pub const ACK: &str = "alert.ack";
    pub const RESOLVE: &str = "alert.resolve";
    pub const DECLARE: &str = "alert.declare";
    /// Link buttons: Slack reports their clicks too, and they need no action.
    pub const OPEN: &str = "alert.open";
    pub const RUNBOOK: &str = "alert.runbook";
    pub const ACK_ALL: &str = "alert.ack_all";
}

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

/// The headline and summary section, then the facts: how every Slack page starts. Returns
/// the top-level `text` too.
fn lead(page: &Page) -> (String, Vec<Value>) {
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
    let blocks = vec![
        json!({"type": "section", "text": {"type": "mrkdwn", "text": lead}}),
        json!({"type": "section", "fields": [
            field("Service", escape(&a.service)),
            field("Severity", a.severity.to_string()),
            field("Alert", format!("<{}|#A-{}>", escape(&a.url), a.id)),
            field("Started", started),
        ]}),
    ];
    (format!("{headline}: {summary}"), blocks)
}

/// The link buttons after the action buttons: the alert, and its runbook if it has one.
fn link_buttons(page: &Page) -> Vec<Value> {
    let a = &page.alert;
    let mut buttons = vec![button("Open alert", action::OPEN, &a.url)];
    if let Some(runbook) = &a.runbook_url {
        buttons.push(button("Runbook", action::RUNBOOK, runbook));
    }
    buttons
}

/// The webhook body: `text` (notifications and fallback) plus `blocks`.
pub fn body(page: &Page) -> Value {
    let (text, mut blocks) = lead(page);
    let mut ack = button("Acknowledge", action::ACK, &page.ack_url);
    ack["style"] = json!("primary");
    let mut resolve = button("Resolve", action::RESOLVE, &page.resolve_url);
    resolve["style"] = json!("danger");
    let mut buttons = vec![ack, resolve];
    buttons.extend(link_buttons(page));
    blocks.push(json!({"type": "actions", "elements": buttons}));
    json!({"text": text, "blocks": blocks})
}

/// An interactive button: the click comes back to `/slack/interactivity` with `value`.
fn interactive(text: &str, action_id: &str, value: &str, style: Option<&str>) -> Value {
    let mut button = json!({
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    });
    if let Some(style) = style {
        button["style"] = json!(style);
    }
    button
}

/// The app-mode page (a DM): Acknowledge, Resolve and Declare incident come back as clicks.
/// A bundle has no one alert to act on: it keeps link buttons (ack all, open the newest).
pub fn app_body(page: &Page) -> Value {
    let (text, mut blocks) = lead(page);
    let buttons = match &page.bundle {
        // TODO(#5): per-alert buttons in bundle DMs, kept and edited like single pages;
        // until then a bundle DM links to ack-all and stays as sent.
        Some(_) => {
            let mut ack_all = button("Acknowledge all", action::ACK_ALL, &page.ack_url);
            ack_all["style"] = json!("primary");
            let mut buttons = vec![ack_all];
            buttons.extend(link_buttons(page));
            buttons
        }
        None => {
            let id = page.alert.id.to_string();
            let mut buttons = vec![
                interactive("Acknowledge", action::ACK, &id, Some("primary")),
                interactive("Resolve", action::RESOLVE, &id, Some("danger")),
                interactive("Declare incident", action::DECLARE, &id, None),
            ];
            buttons.extend(link_buttons(page));
            buttons
        }
    };
    blocks.push(json!({"type": "actions", "block_id": "alert.actions", "elements": buttons}));
    json!({"text": text, "blocks": blocks})
}

/// The app-mode page once its alert is acked or resolved: the buttons give way to `line`
/// ("Acked by Ana Ruiz at 14:05 UTC"), plain text.
pub fn settled_body(page: &Page, line: &str) -> Value {
    let (text, mut blocks) = lead(page);
    blocks.push(json!({"type": "context", "elements": [
        {"type": "mrkdwn", "text": escape(line)},
    ]}));
    json!({"text": text, "blocks": blocks})
}

/// A Web API failure as the outbox sorts it: 429 and transient errors retry (after
/// `Retry-After` when Slack gave one), everything else is final for this message.
pub fn notify_error(err: SlackError) -> NotifyError {
    match err {
        SlackError::RateLimited { after } => NotifyError::Retry {
            error: "Slack answered 429 (rate limited)".into(),
            after: Some(after),
        },
        SlackError::Retry(error) => NotifyError::retry(error),
        SlackError::PostAnew(code) | SlackError::Unhealthy(code) | SlackError::Reject(code) => {
            NotifyError::Reject(code)
        }
    }
}

// TODO(#5): notices to a DM skip the per-channel pacing pages get (`engine::slack_pages`);
// they are rare, but a 429 on one does not pause the DM for the pages behind it.
/// Posts `message` to `member` (Slack opens the app DM) without storing it: what
/// [`super::Notifiers`] does for callers outside the outbox, and notices.
pub async fn post_dm(
    api: Option<&SlackApi>,
    member: &str,
    message: &Value,
    now: Timestamp,
) -> Result<(), NotifyError> {
    let Some(api) = api else {
        return Err(NotifyError::Reject(NO_APP.into()));
    };
    api.post_message(member, message, None, false, now)
        .await
        .map_err(notify_error)?;
    Ok(())
}

/// Why a DM contact cannot be served.
pub const NO_APP: &str = "Slack DMs need [slack] app mode (bot_token_env) in dutybell.toml";

/// Webhook mode: posts [`body`] to the incoming webhook.
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
