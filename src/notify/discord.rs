//! Discord pages through a channel webhook (comms spec §3.6): one message with an embed
//! (headline, summary, facts, severity colour) whose description ends in Markdown links to
//! the signed ack and resolve links. `allowed_mentions` is always empty, so no text can
//! ping `@everyone`; user text is Markdown-escaped so it cannot forge links either.
//!
//! Posting with `wait=true` makes Discord answer with the message; `engine::discord_pages`
//! keeps its id and PATCHes the message on ack or resolve ([`settled_body`]).

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{ErrorDetail, NotifyError, Page};
use crate::domain::alert::Severity;

/// Embed limits: title 256, description 4096 (the links need room too).
const MAX_TITLE: usize = 256;
const MAX_SUMMARY: usize = 3000;

/// Backslash-escapes the characters Discord Markdown acts on.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '*' | '_' | '~' | '`' | '|' | '[' | ']' | '(' | ')' | '<' | '>' | '#'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Embed side colour by severity.
pub fn color(severity: Severity) -> u32 {
    match severity {
        Severity::Critical => 0xD6_2828,
        Severity::Error => 0xF7_7F00,
        Severity::Warning => 0xFC_BF49,
        Severity::Info => 0x3A_86FF,
    }
}

/// The webhook body.
pub fn body(page: &Page) -> Value {
    render(page, None)
}

/// The body once the alert is settled: `settled` ("Acked by Ana Ruiz at 14:05 UTC")
/// stands where the ack and resolve links were.
pub fn settled_body(page: &Page, settled: &str) -> Value {
    render(page, Some(settled))
}

fn render(page: &Page, settled: Option<&str>) -> Value {
    let a = &page.alert;
    let mut links = match settled {
        Some(line) => escape(line),
        None => format!(
            "[Acknowledge]({}) · [Resolve]({})",
            page.ack_url, page.resolve_url
        ),
    };
    if let Some(runbook) = &a.runbook_url {
        links.push_str(&format!(" · [Runbook]({runbook})"));
    }
    let summary = escape(&crate::intake::truncate_chars(&a.summary, MAX_SUMMARY));
    // The headline with only its user-written parts escaped.
    let content = format!(
        "{} {} {}: {} (#A-{})",
        super::state_word(a.status),
        a.severity,
        escape(&a.service),
        escape(&a.name),
        a.id
    );
    json!({
        "content": content,
        "embeds": [{
            "title": escape(&crate::intake::truncate_chars(&a.name, MAX_TITLE / 2)),
            "url": a.url,
            "description": format!("{summary}\n\n{links}"),
            "color": color(a.severity),
            "timestamp": a.created_at.to_string(),
            "fields": [
                {"name": "Service", "value": escape(&a.service), "inline": true},
                {"name": "Severity", "value": a.severity.to_string(), "inline": true},
                {"name": "Alert", "value": format!("#A-{}", a.id), "inline": true},
            ],
            "footer": {"text": "dutybell"},
        }],
        "allowed_mentions": {"parse": []},
    })
}

/// The URL with `wait=true`, so Discord answers with the message (and a real error).
fn with_wait(url: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}wait=true")
}

/// `<webhook>/messages/<id>`, keeping the webhook's query (e.g. `thread_id`).
fn message_url(url: &str, id: &str) -> String {
    match url.split_once('?') {
        Some((base, query)) => format!("{base}/messages/{id}?{query}"),
        None => format!("{url}/messages/{id}"),
    }
}

pub async fn send(
    client: &reqwest::Client,
    url: &str,
    page: &Page,
    now: Timestamp,
) -> Result<(), NotifyError> {
    post(client, url, &body(page), now).await.map(|_| ())
}

/// Posts `body`; returns the id of the message Discord made, if its answer named one (a
/// message that went out is never sent again for want of an id).
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    body: &Value,
    now: Timestamp,
) -> Result<Option<String>, NotifyError> {
    let request = client.post(with_wait(url)).json(body);
    // Discord's error bodies are JSON codes and messages about the payload, not secrets.
    let response = super::deliver(request, now, ErrorDetail::Snippet).await?;
    let message: Option<Value> = response.json().await.ok();
    Ok(message
        .as_ref()
        .and_then(|m| m.get("id"))
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
        .map(String::from))
}

/// Replaces message `id`, posted through the webhook `url`, with `body`.
pub async fn edit(
    client: &reqwest::Client,
    url: &str,
    id: &str,
    body: &Value,
    now: Timestamp,
) -> Result<(), NotifyError> {
    let request = client.patch(message_url(url, id)).json(body);
    super::deliver(request, now, ErrorDetail::Snippet).await?;
    Ok(())
}
