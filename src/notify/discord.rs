//! Discord pages through a channel webhook (comms spec §3.6): one message with an embed
//! (headline, summary, facts, severity colour) whose description ends in Markdown links to
//! the signed ack and resolve links. `allowed_mentions` is always empty, so no text can
//! ping `@everyone`; user text is Markdown-escaped so it cannot forge links either.

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
    let a = &page.alert;
    let mut links = format!(
        "[Acknowledge]({}) · [Resolve]({})",
        page.ack_url, page.resolve_url
    );
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

pub async fn send(
    client: &reqwest::Client,
    url: &str,
    page: &Page,
    now: Timestamp,
) -> Result<(), NotifyError> {
    // TODO(#4): keep the returned message `id` and PATCH the message on ack/resolve.
    let request = client.post(with_wait(url)).json(&body(page));
    // Discord's error bodies are JSON codes and messages about the payload, not secrets.
    super::deliver(request, now, ErrorDetail::Snippet).await?;
    Ok(())
}
