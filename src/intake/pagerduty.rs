//! PagerDuty Events API v2 (`POST /v2/enqueue`, `POST /v2/change/enqueue`), intake spec
//! §2.3: any PagerDuty sender (Alertmanager's `pagerduty_configs`, Grafana, SDKs) works by
//! changing only the URL. Errors quote the field the way PagerDuty does.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::{Map, Value};

use super::{IntakeError, MAX_SUMMARY_CHARS, is_http, truncate_chars};
use crate::domain::alert::Severity;
use crate::domain::delivery::{AlertEvent, AlertFields, EventAction, Link};

/// A parsed `/v2/enqueue` body: the routing key (which names the integration) and the
/// event. `generated_key` says the sender gave no `dedup_key` on a trigger.
#[derive(Debug)]
pub struct Enqueue {
    pub routing_key: String,
    pub event: AlertEvent,
    pub generated_key: bool,
}

/// A parsed `/v2/change/enqueue` body.
#[derive(Debug)]
pub struct Change {
    pub routing_key: String,
    pub summary: String,
    pub source: Option<String>,
    pub timestamp: Timestamp,
    pub details: Value,
    pub links: Vec<Link>,
}

fn object(body: &[u8]) -> Result<Map<String, Value>, IntakeError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(IntakeError::invalid("", "JSON parse error")),
    }
}

/// The routing key alone, so the integration can be found before the rest is checked.
pub fn routing_key(body: &[u8]) -> Result<String, IntakeError> {
    let top = object(body)?;
    match top
        .get("routing_key")
        .and_then(Value::as_str)
        .map(str::trim)
    {
        Some(key) if !key.is_empty() => Ok(key.to_string()),
        _ => Err(IntakeError::invalid(
            "routing_key",
            "'routing_key' is missing or blank",
        )),
    }
}

/// Parses an event received at `now`; `new_key` supplies a key for a trigger without one.
pub fn parse_enqueue(
    body: &[u8],
    now: Timestamp,
    new_key: impl FnOnce() -> String,
) -> Result<Enqueue, IntakeError> {
    let top = object(body)?;
    let routing_key = routing_key(body)?;
    let action = match top.get("event_action").and_then(Value::as_str) {
        Some("trigger") => EventAction::Trigger,
        Some("acknowledge") => EventAction::Acknowledge,
        Some("resolve") => EventAction::Resolve,
        _ => {
            return Err(IntakeError::invalid(
                "event_action",
                "'event_action' must be one of trigger, acknowledge, resolve",
            ));
        }
    };
    let sent_key = top.get("dedup_key").and_then(Value::as_str).map(str::trim);
    let sent_key = sent_key.filter(|k| !k.is_empty()).map(str::to_string);
    if sent_key.as_ref().is_some_and(|k| k.chars().count() > 255) {
        return Err(IntakeError::invalid(
            "dedup_key",
            "'dedup_key' is longer than 255",
        ));
    }
    if action != EventAction::Trigger && sent_key.is_none() {
        return Err(IntakeError::invalid(
            "dedup_key",
            "'dedup_key' is missing or blank",
        ));
    }
    let generated_key = sent_key.is_none();
    let dedup_key = sent_key.unwrap_or_else(new_key);
    let empty = Map::new();
    let payload = top
        .get("payload")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let timestamp = payload
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(parse_time);

    let fields = if action == EventAction::Trigger {
        trigger_fields(&top, payload)?
    } else {
        AlertFields::default()
    };
    let event = AlertEvent {
        action,
        dedup_key,
        fields,
        timestamp: timestamp.unwrap_or(now),
    };
    Ok(Enqueue {
        routing_key,
        event,
        generated_key,
    })
}

fn trigger_fields(
    top: &Map<String, Value>,
    payload: &Map<String, Value>,
) -> Result<AlertFields, IntakeError> {
    let summary = required_summary(payload)?;
    let custom = payload
        .get("custom_details")
        .cloned()
        .unwrap_or(Value::Null);
    let details = match &custom {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    };
    let mut labels = BTreeMap::new();
    for name in ["component", "group", "class"] {
        if let Some(value) = payload.get(name).and_then(Value::as_str) {
            labels.insert(name.to_string(), value.to_string());
        }
    }
    if let Some(client) = top.get("client").and_then(Value::as_str) {
        labels.insert("client".into(), client.to_string());
    }
    let raw_severity = payload.get("severity").and_then(Value::as_str);
    let severity = raw_severity.and_then(Severity::from_wire);
    if let (Some(raw), None) = (raw_severity, severity) {
        labels.insert("severity".into(), raw.to_string());
    }
    let links = links(top);
    let runbook_url = links
        .iter()
        .find(|l| l.text.to_ascii_lowercase().contains("runbook"))
        .map(|l| l.href.clone())
        .or_else(|| {
            custom
                .get("runbook_url")
                .and_then(Value::as_str)
                .filter(|u| is_http(u))
                .map(String::from)
        });
    Ok(AlertFields {
        summary: truncate_chars(summary, MAX_SUMMARY_CHARS),
        details,
        severity,
        source: payload
            .get("source")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        runbook_url,
        labels,
        links,
    })
}

/// `payload.summary`, trimmed; PagerDuty requires it on triggers and change events.
fn required_summary(payload: &Map<String, Value>) -> Result<&str, IntakeError> {
    match payload
        .get("summary")
        .and_then(Value::as_str)
        .map(str::trim)
    {
        Some(summary) if !summary.is_empty() => Ok(summary),
        _ => Err(IntakeError::invalid(
            "payload.summary",
            "'payload.summary' is missing or blank",
        )),
    }
}

/// `links[]`, `images[].href` and `client_url`, http(s) only.
fn links(top: &Map<String, Value>) -> Vec<Link> {
    let mut links = Vec::new();
    let mut push = |href: Option<&str>, text: Option<&str>| {
        if let Some(href) = href.filter(|h| is_http(h)) {
            let text = text.unwrap_or(href).to_string();
            links.push(Link {
                href: href.to_string(),
                text,
            });
        }
    };
    for link in top
        .get("links")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        push(
            link.get("href").and_then(Value::as_str),
            link.get("text").and_then(Value::as_str),
        );
    }
    for image in top
        .get("images")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        push(
            image.get("href").and_then(Value::as_str),
            image.get("alt").and_then(Value::as_str),
        );
    }
    push(
        top.get("client_url").and_then(Value::as_str),
        top.get("client").and_then(Value::as_str),
    );
    links
}

/// Parses a change event.
pub fn parse_change(body: &[u8], now: Timestamp) -> Result<Change, IntakeError> {
    let top = object(body)?;
    let routing_key = routing_key(body)?;
    let empty = Map::new();
    let payload = top
        .get("payload")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let summary = required_summary(payload)?;
    Ok(Change {
        routing_key,
        summary: truncate_chars(summary, MAX_SUMMARY_CHARS),
        source: payload
            .get("source")
            .and_then(Value::as_str)
            .map(String::from),
        timestamp: payload
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(parse_time)
            .unwrap_or(now),
        details: payload
            .get("custom_details")
            .cloned()
            .unwrap_or(Value::Null),
        links: links(&top),
    })
}

/// ISO 8601 as PagerDuty senders write it: RFC 3339, or an offset without a colon
/// (`2025-06-02T07:41:58.315+0000`).
pub fn parse_time(text: &str) -> Option<Timestamp> {
    if let Ok(at) = text.parse::<Timestamp>() {
        return Some(at);
    }
    let (head, offset) = text.split_at(text.len().checked_sub(5)?);
    let colon = format!("{head}{}:{}", &offset[..3], &offset[3..]);
    colon.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2025-06-02T08:00:00Z".parse().unwrap()
    }

    fn parse(body: &str) -> Result<Enqueue, IntakeError> {
        parse_enqueue(body.as_bytes(), now(), || "generated".to_string())
    }

    #[test]
    fn maps_the_spec_example_trigger() {
        let body = r#"{"routing_key":"5f0c1e7a9d2b4c6e8a1f3b5d7c9e0a2b","event_action":"trigger",
          "dedup_key":"lb-2/cert","payload":{"summary":"TLS cert on lb-2 expires in 6 days",
          "source":"lb-2","severity":"warning","custom_details":{"days_left":6}},
          "links":[{"href":"https://rb.example/cert-renewal","text":"Runbook"}]}"#;
        let e = parse(body).unwrap();
        assert_eq!(e.routing_key, "5f0c1e7a9d2b4c6e8a1f3b5d7c9e0a2b");
        assert!(!e.generated_key);
        assert_eq!(e.event.action, EventAction::Trigger);
        assert_eq!(e.event.dedup_key, "lb-2/cert");
        let f = &e.event.fields;
        assert_eq!(f.summary, "TLS cert on lb-2 expires in 6 days");
        assert_eq!(f.severity, Some(Severity::Warning));
        assert_eq!(f.source, "lb-2");
        assert_eq!(
            f.runbook_url.as_deref(),
            Some("https://rb.example/cert-renewal")
        );
        assert!(f.details.contains("\"days_left\": 6"));
        assert_eq!(e.event.timestamp, now());
    }

    #[test]
    fn a_trigger_without_key_gets_a_generated_one() {
        let e = parse(r#"{"routing_key":"k","event_action":"trigger","payload":{"summary":"x"}}"#)
            .unwrap();
        assert!(e.generated_key);
        assert_eq!(e.event.dedup_key, "generated");
    }

    #[test]
    fn required_fields_are_quoted_pagerduty_style() {
        let cases = [
            ("not json", ""),
            (r#"{"event_action":"trigger"}"#, "routing_key"),
            (
                r#"{"routing_key":"k","event_action":"poke"}"#,
                "event_action",
            ),
            (
                r#"{"routing_key":"k","event_action":"resolve"}"#,
                "dedup_key",
            ),
            (
                r#"{"routing_key":"k","event_action":"trigger","payload":{}}"#,
                "payload.summary",
            ),
        ];
        for (body, field) in cases {
            match parse(body) {
                Err(IntakeError::Invalid {
                    field: got,
                    message,
                }) => {
                    assert_eq!(got, field, "{body}");
                    if !field.is_empty() {
                        assert!(message.contains(&format!("'{field}'")), "{message}");
                    }
                }
                Ok(_) => panic!("{body} was accepted"),
            }
        }
    }

    #[test]
    fn timestamps_with_compact_offsets_parse() {
        let at = parse_time("2025-06-02T07:41:58.315+0000").unwrap();
        assert_eq!(at, "2025-06-02T07:41:58.315Z".parse::<Timestamp>().unwrap());
        assert_eq!(
            parse_time("2025-06-02T09:41:58+02:00"),
            Some("2025-06-02T07:41:58Z".parse().unwrap())
        );
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn unknown_severity_is_kept_as_a_label() {
        let e = parse(
            r#"{"routing_key":"k","event_action":"trigger",
            "payload":{"summary":"x","severity":"disaster","component":"db"}}"#,
        )
        .unwrap();
        assert_eq!(e.event.fields.severity, None);
        assert_eq!(e.event.fields.labels["severity"], "disaster");
        assert_eq!(e.event.fields.labels["component"], "db");
    }
}
