//! The dutybell alert's vocabulary: states, severities and the severity table of intake
//! spec §2.0.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where an alert is in its life. `Resolved` is terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Triggered,
    Acknowledged,
    Resolved,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Triggered => "triggered",
            AlertState::Acknowledged => "acknowledged",
            AlertState::Resolved => "resolved",
        }
    }
}

impl FromStr for AlertState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "triggered" => Ok(AlertState::Triggered),
            "acknowledged" => Ok(AlertState::Acknowledged),
            "resolved" => Ok(AlertState::Resolved),
            other => Err(format!("unknown alert state {other:?}")),
        }
    }
}

impl fmt::Display for AlertState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses an alert id as people write it: `12`, `A-12`, `a-12` or `#12`.
pub fn parse_alert_id(text: &str) -> Option<i64> {
    let text = text.trim();
    let digits = text
        .strip_prefix("A-")
        .or_else(|| text.strip_prefix("a-"))
        .or_else(|| text.strip_prefix('#'))
        .unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Severity, ordered from least to most urgent so `max` picks the worst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Error,
    Critical,
}

impl Severity {
    /// Maps a sender's free-form severity through the spec's table; `None` when the value
    /// is not in it (the caller then uses the integration default and keeps the raw label).
    pub fn from_wire(raw: &str) -> Option<Severity> {
        let value = raw.trim().to_ascii_lowercase();
        let severity = match value.as_str() {
            "critical" | "crit" | "page" | "p1" | "sev1" | "emergency" | "fatal" => {
                Severity::Critical
            }
            "error" | "err" | "high" | "major" | "p2" | "sev2" => Severity::Error,
            "warning" | "warn" | "medium" | "minor" | "p3" | "sev3" => Severity::Warning,
            "info" | "informational" | "low" | "none" | "p4" | "p5" | "sev4" => Severity::Info,
            _ => return None,
        };
        Some(severity)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::from_wire(s).ok_or_else(|| format!("unknown severity {s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_table_maps_every_spelling() {
        let cases = [
            (" CRIT ", Some(Severity::Critical)),
            ("Sev1", Some(Severity::Critical)),
            ("major", Some(Severity::Error)),
            ("p3", Some(Severity::Warning)),
            ("none", Some(Severity::Info)),
            ("p5", Some(Severity::Info)),
            ("disaster", None),
            ("", None),
        ];
        for (raw, expected) in cases {
            assert_eq!(Severity::from_wire(raw), expected, "{raw:?}");
        }
    }

    #[test]
    fn alert_ids_parse_as_people_write_them() {
        for (text, id) in [
            ("12", Some(12)),
            ("A-12", Some(12)),
            ("#7", Some(7)),
            (" a-3 ", Some(3)),
        ] {
            assert_eq!(parse_alert_id(text), id, "{text}");
        }
        for text in ["A--1", "A-", "-1", "12a", "", "A12"] {
            assert_eq!(parse_alert_id(text), None, "{text}");
        }
    }

    #[test]
    fn severities_order_by_urgency() {
        assert!(Severity::Critical > Severity::Error);
        assert!(Severity::Warning > Severity::Info);
    }
}
