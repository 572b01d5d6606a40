//! `[postmortem]` in `dutybell.toml` (optional): the zone postmortem documents are written
//! in and how long after resolve a P1/P2 postmortem is due (comms spec §6.2, §6.3).
//!
//! ```toml
//! [postmortem]
//! time_zone = "America/Los_Angeles"   # default UTC
//! due_after = "48h"                   # default 48h
//! ```

use std::path::Path;

use jiff::SignedDuration;
use jiff::tz::TimeZone;
use serde::Deserialize;

use super::Validator;
use crate::domain::postmortem::DUE_AFTER;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPostmortem {
    pub time_zone: Option<String>,
    pub due_after: Option<String>,
}

/// The validated `[postmortem]` table.
#[derive(Clone, Debug)]
pub struct Postmortem {
    /// The zone every time in a postmortem document is written in.
    pub time_zone: TimeZone,
    /// Due time after resolve for P1/P2 postmortems.
    pub due_after: SignedDuration,
}

impl Default for Postmortem {
    fn default() -> Self {
        Postmortem {
            time_zone: TimeZone::UTC,
            due_after: DUE_AFTER,
        }
    }
}

impl Validator {
    pub(super) fn postmortem(&mut self, dir: &Path, raw: RawPostmortem) -> Postmortem {
        let name = raw.time_zone.as_deref().unwrap_or("UTC");
        let time_zone = self
            .zone(dir, "dutybell.toml", "postmortem.time_zone".into(), name)
            .unwrap_or(TimeZone::UTC);
        let due_after = match raw.due_after.as_deref() {
            None => DUE_AFTER,
            Some(text) => {
                let key = "postmortem.due_after".to_string();
                let due_after = self.duration(dir, "dutybell.toml", key.clone(), text);
                if due_after <= SignedDuration::ZERO {
                    self.invalid(dir, "dutybell.toml", key, "must be positive");
                }
                due_after
            }
        };
        Postmortem {
            time_zone,
            due_after,
        }
    }
}
