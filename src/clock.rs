//! Where "now" comes from.
//!
//! Production reads the system clock; tests drive a [`Clock::Manual`] clock, and process-level
//! tests (a real restart) point [`Clock::File`] at a file holding an RFC 3339 instant, so a
//! killed and restarted process sees the time the test chose. Nothing else in dutybell reads
//! the system time.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};

/// A source of the current instant.
#[derive(Clone, Debug)]
pub enum Clock {
    /// The operating system's clock.
    System,
    /// A clock that only moves when a test advances it.
    Manual(Arc<Mutex<Timestamp>>),
    /// Reads the instant from a file on every call (hidden test hook, `DUTYBELL_CLOCK_FILE`).
    File(PathBuf),
}

impl Clock {
    /// A manual clock starting at `at`.
    pub fn manual(at: Timestamp) -> Clock {
        Clock::Manual(Arc::new(Mutex::new(at)))
    }

    /// The current instant.
    pub fn now(&self) -> Timestamp {
        match self {
            #[allow(clippy::disallowed_methods)] // the one place that may read the OS clock
            Clock::System => Timestamp::now(),
            Clock::Manual(at) => *at.lock().unwrap_or_else(|poison| poison.into_inner()),
            Clock::File(path) => std::fs::read_to_string(path)
                .ok()
                .and_then(|text| text.trim().parse().ok())
                .unwrap_or(Timestamp::UNIX_EPOCH),
        }
    }

    /// Moves a manual clock forward; other clocks ignore it.
    pub fn advance(&self, by: SignedDuration) {
        if let Clock::Manual(at) = self {
            let mut at = at.lock().unwrap_or_else(|poison| poison.into_inner());
            *at = at.saturating_add(by).unwrap_or(*at);
        }
    }

    /// Sets a manual clock; other clocks ignore it.
    pub fn set(&self, to: Timestamp) {
        if let Clock::Manual(at) = self {
            *at.lock().unwrap_or_else(|poison| poison.into_inner()) = to;
        }
    }

    /// How long the engine may wait before it must look at this clock again. A system clock
    /// can sleep until the next due time; the other clocks move by themselves, so the loop
    /// re-reads them often.
    pub fn max_idle(&self) -> std::time::Duration {
        match self {
            Clock::System => std::time::Duration::from_secs(5),
            Clock::Manual(_) | Clock::File(_) => std::time::Duration::from_millis(100),
        }
    }
}
