//! Generic JSON (intake spec §2.4): one object or an array of up to 1000, accepted or
//! refused as a whole. For scripts and tools with no format of their own.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::{Map, Value};

use super::{IntakeError, MAX_SUMMARY_CHARS, is_http, truncate_chars};
use crate::domain::alert::Severity;
use crate::domain::delivery::{AlertEvent, AlertFields, EventAction, Link};
use crate::domain::fingerprint::fingerprint;

/// Most events in one request.
pub const MAX_EVENTS: usize = 1000;

/// Parses a body received at `now`; `new_key` supplies keys for triggers with neither a
/// `dedup_key` nor labels.
pub fn parse(
    body: &[u8],
    now: Timestamp,
    new_key: impl FnMut() -> String,
) -> Result<Vec<AlertEvent>, IntakeError> {
    parse_with_warnings(body, now, new_key).map(|(events, _)| events)
}

/// [`parse`], and what the sender should hear about fields taken but not understood (an
/// unknown severity: the integration's default applies, and the alert is kept).
pub fn parse_with_warnings(
    body: &[u8],
    now: Timestamp,
    mut new_key: impl FnMut() -> String,
) -> Result<(Vec<AlertEvent>, Vec<String>), IntakeError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|err| IntakeError::invalid("", format!("body is not JSON: {err}")))?;
    let (items, array) = match value {
        Value::Array(items) => (items, true),
        object @ Value::Object(_) => (vec![object], false),
        _ => {
            return Err(IntakeError::invalid(
                "",
                "expected an object or an array of objects",
            ));
        }
    };
    if items.is_empty() || items.len() > MAX_EVENTS {
        return Err(IntakeError::invalid(
            "",
            format!("send 1 to {MAX_EVENTS} events"),
        ));
    }
    let mut warnings = Vec::new();
    let mut events = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let prefix = if array {
            format!("[{i}].")
        } else {
            String::new()
        };
        let Value::Object(item) = item else {
            return Err(IntakeError::invalid(format!("[{i}]"), "expected an object"));
        };
        events.push(event(item, &prefix, now, &mut new_key, &mut warnings)?);
    }
    Ok((events, warnings))
}

fn event(
    item: &Map<String, Value>,
    prefix: &str,
    now: Timestamp,
    new_key: &mut impl FnMut() -> String,
    warnings: &mut Vec<String>,
) -> Result<AlertEvent, IntakeError> {
    let field = |name: &str| format!("{prefix}{name}");
    let text = |name: &str| item.get(name).and_then(Value::as_str).map(str::trim);
    let action = match (text("action"), text("status")) {
        (Some("trigger") | None, None | Some("firing")) => EventAction::Trigger,
        (Some("acknowledge"), _) => EventAction::Acknowledge,
        (Some("resolve"), _) | (None, Some("resolved")) => EventAction::Resolve,
        _ => {
            return Err(IntakeError::invalid(
                field("action"),
                "expected trigger, acknowledge or resolve (or status firing/resolved)",
            ));
        }
    };
    let mut labels = BTreeMap::new();
    if let Some(Value::Object(map)) = item.get("labels") {
        for (k, v) in map {
            let Value::String(v) = v else {
                return Err(IntakeError::invalid(
                    field(&format!("labels.{k}")),
                    "expected a string",
                ));
            };
            labels.insert(k.clone(), v.clone());
        }
    }
    let dedup_key = match text("dedup_key").filter(|k| !k.is_empty()) {
        Some(key) if key.chars().count() > 255 => {
            return Err(IntakeError::invalid(
                field("dedup_key"),
                "longer than 255 characters",
            ));
        }
        Some(key) => key.to_string(),
        None if action != EventAction::Trigger => {
            return Err(IntakeError::invalid(
                field("dedup_key"),
                "required to acknowledge or resolve",
            ));
        }
        None if !labels.is_empty() => fingerprint(&labels),
        None => new_key(),
    };
    let fields = if action == EventAction::Trigger {
        let summary = text("summary").unwrap_or("");
        if summary.is_empty() {
            return Err(IntakeError::invalid(
                field("summary"),
                "required for a trigger",
            ));
        }
        let details = match item.get("details") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => serde_json::to_string_pretty(other).unwrap_or_default(),
        };
        let links = item
            .get("links")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|l| {
                let href = l
                    .get("href")
                    .and_then(Value::as_str)
                    .filter(|h| is_http(h))?;
                let text = l.get("text").and_then(Value::as_str).unwrap_or(href);
                Some(Link {
                    href: href.to_string(),
                    text: text.to_string(),
                })
            })
            .collect();
        AlertFields {
            summary: truncate_chars(summary, MAX_SUMMARY_CHARS),
            details,
            severity: text("severity").and_then(|given| {
                let severity = Severity::from_wire(given);
                if severity.is_none() {
                    warnings.push(format!(
                        "{}: unknown severity {given:?} (expected critical, error, warning or \
                         info); the integration's default applies",
                        field("severity")
                    ));
                }
                severity
            }),
            source: text("source").unwrap_or("").to_string(),
            runbook_url: text("runbook_url").filter(|u| is_http(u)).map(String::from),
            labels,
            links,
        }
    } else {
        AlertFields::default()
    };
    let timestamp = text("timestamp")
        .and_then(super::pagerduty::parse_time)
        .unwrap_or(now);
    Ok(AlertEvent {
        action,
        dedup_key,
        fields,
        timestamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2025-06-02T08:00:00Z".parse().unwrap()
    }

    fn parse_str(body: &str) -> Result<Vec<AlertEvent>, IntakeError> {
        let mut n = 0;
        parse(body.as_bytes(), now(), || {
            n += 1;
            format!("gen-{n}")
        })
    }

    #[test]
    fn maps_the_spec_example() {
        let events = parse_str(
            r#"{"dedup_key":"backup-nightly","summary":"Nightly backup of db-1 failed (exit 3)",
             "severity":"error","source":"backup-cron","labels":{"team":"data"}}"#,
        )
        .unwrap();
        assert_eq!(events.len(), 1);
        let e = &events[0];
        assert_eq!(
            (e.action, e.dedup_key.as_str()),
            (EventAction::Trigger, "backup-nightly")
        );
        assert_eq!(e.fields.severity, Some(Severity::Error));
        assert_eq!(e.fields.labels["team"], "data");
    }

    #[test]
    fn keys_come_from_labels_else_are_generated_never_from_content() {
        let events = parse_str(
            r#"[{"summary":"same","labels":{"a":"1"}},{"summary":"same"},{"summary":"same"}]"#,
        )
        .unwrap();
        let mut labels = BTreeMap::new();
        labels.insert("a".to_string(), "1".to_string());
        assert_eq!(events[0].dedup_key, fingerprint(&labels));
        assert_eq!(events[1].dedup_key, "gen-1");
        assert_eq!(
            events[2].dedup_key, "gen-2",
            "equal summaries stay two alerts (IN-06)"
        );
    }

    #[test]
    fn status_resolved_resolves_and_bad_items_refuse_the_whole_array() {
        let events = parse_str(r#"{"dedup_key":"k","status":"resolved"}"#).unwrap();
        assert_eq!(events[0].action, EventAction::Resolve);
        let err = parse_str(r#"[{"summary":"ok"},{"action":"resolve"}]"#).unwrap_err();
        assert_eq!(
            err,
            IntakeError::invalid("[1].dedup_key", "required to acknowledge or resolve")
        );
        let err = parse_str(r#"{"severity":"info"}"#).unwrap_err();
        assert_eq!(
            err,
            IntakeError::invalid("summary", "required for a trigger")
        );
        assert!(parse_str("[]").is_err());
        assert!(parse_str("7").is_err());
    }
}
