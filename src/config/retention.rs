//! `[retention]` in `dutybell.toml` (optional): how long history is kept before the engine's
//! cleanup step (`engine::retention`) deletes it (issue #8).
//!
//! ```toml
//! [retention]
//! alerts = "365d"          # resolved alerts and their rows; default 365d
//! notifications = "90d"    # finished schedule and incident notices; default 90d
//! ```
//!
//! Each value is a duration of at least one day. Open alerts, alerts attached to an incident
//! and alerts an incident's timeline names are kept whatever the setting.

use std::path::Path;

use jiff::SignedDuration;
use serde::Deserialize;

use super::Validator;

/// Resolved alerts are kept this long by default (a year covers yearly reviews).
pub const DEFAULT_ALERTS: SignedDuration = SignedDuration::from_hours(365 * 24);
/// Finished notices are kept this long by default.
pub const DEFAULT_NOTIFICATIONS: SignedDuration = SignedDuration::from_hours(90 * 24);
/// The shortest retention accepted: less would delete what responders still look at.
pub const MINIMUM: SignedDuration = SignedDuration::from_hours(24);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetention {
    pub alerts: Option<String>,
    pub notifications: Option<String>,
}

/// The validated `[retention]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Resolved alerts older than this (by `resolved_at`) go, with their rows.
    pub alerts: SignedDuration,
    /// Notices no longer pending older than this (by `created_at`) go.
    pub notifications: SignedDuration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            alerts: DEFAULT_ALERTS,
            notifications: DEFAULT_NOTIFICATIONS,
        }
    }
}

impl Validator {
    pub(super) fn retention(&mut self, dir: &Path, raw: RawRetention) -> Retention {
        let mut keep = |key: &str, text: Option<&str>, default: SignedDuration| {
            let Some(text) = text else {
                return default;
            };
            let key = format!("retention.{key}");
            match super::parse_duration(text) {
                Ok(value) if value >= MINIMUM => value,
                Ok(_) => {
                    let problem = format!("{text:?} is shorter than the minimum of 1 day (\"1d\")");
                    self.invalid(dir, "dutybell.toml", key, problem);
                    default
                }
                Err(problem) => {
                    self.invalid(dir, "dutybell.toml", key, problem);
                    default
                }
            }
        };
        Retention {
            alerts: keep("alerts", raw.alerts.as_deref(), DEFAULT_ALERTS),
            notifications: keep(
                "notifications",
                raw.notifications.as_deref(),
                DEFAULT_NOTIFICATIONS,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(alerts: Option<&str>, notifications: Option<&str>) -> (Retention, Vec<String>) {
        let mut validator = Validator::default();
        let raw = RawRetention {
            alerts: alerts.map(str::to_string),
            notifications: notifications.map(str::to_string),
        };
        let retention = validator.retention(Path::new("cfg"), raw);
        let errors = validator.errors.iter().map(ToString::to_string).collect();
        (retention, errors)
    }

    #[test]
    fn absent_keys_keep_the_defaults() {
        let (retention, errors) = check(None, None);

        assert_eq!(retention, Retention::default());
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn durations_of_a_day_or_more_are_accepted() {
        let (retention, errors) = check(Some("30d"), Some("24h"));

        assert_eq!(retention.alerts, SignedDuration::from_hours(30 * 24));
        assert_eq!(retention.notifications, MINIMUM);
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn short_or_malformed_durations_name_their_key() {
        let (_, errors) = check(Some("12h"), Some("a year"));

        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("`retention.alerts`"), "{errors:?}");
        assert!(errors[0].contains("minimum of 1 day"), "{errors:?}");
        assert!(
            errors[1].contains("`retention.notifications`"),
            "{errors:?}"
        );
    }
}
