//! `[reports]` in `dutybell.toml` (optional): who gets the weekly alert-hygiene digest
//! (comms spec §7) and the instance zone whose Monday 09:00 it goes out at.
//!
//! ```toml
//! [reports]
//! digest_to = ["lead"]          # person ids; by their e-mail and Slack contacts
//! time_zone = "Europe/Madrid"   # default UTC
//! ```

use std::path::Path;

use jiff::tz::TimeZone;
use serde::Deserialize;

use super::Validator;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReports {
    #[serde(default)]
    pub digest_to: Vec<String>,
    pub time_zone: Option<String>,
}

/// The validated `[reports]` table.
#[derive(Clone, Debug)]
pub struct Reports {
    /// Person ids the weekly digest goes to; unknown ids are skipped with a warning.
    pub digest_to: Vec<String>,
    /// The instance zone: the digest is due Monday 09:00 here.
    pub time_zone: TimeZone,
}

impl Validator {
    pub(super) fn reports(&mut self, dir: &Path, raw: RawReports) -> Reports {
        let name = raw.time_zone.as_deref().unwrap_or("UTC");
        let time_zone = self
            .zone(dir, "dutybell.toml", "reports.time_zone".into(), name)
            .unwrap_or(TimeZone::UTC);
        // TODO(#6): check `digest_to` against team.toml at load; the engine skips unknown ids.
        Reports {
            digest_to: raw.digest_to,
            time_zone,
        }
    }
}
