//! Wire formats in, normalised deliveries out.
//!
//! Each format has one parse function (body → [`GroupDelivery`] + warnings) and nothing
//! else: authentication, dedup, storage and the response happen once, in
//! `http::intake`, for every format. Parsing is lenient where the spec allows (unknown
//! fields, wrongly typed optional fields become warnings) and strict only where an alert
//! could not be identified.

pub mod alertmanager;
pub mod email;
pub mod generic;
pub mod pagerduty;

use crate::domain::delivery::GroupDelivery;

/// Why a body was refused; never retried by the sender, so only for input that will never
/// be accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IntakeError {
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
}

impl IntakeError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> IntakeError {
        IntakeError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Longest summary kept; longer ones are cut with `…`.
pub const MAX_SUMMARY_CHARS: usize = 1024;

/// Cuts `text` to at most `max` characters at a grapheme boundary, marking the cut with `…`.
pub fn truncate_chars(text: &str, max: usize) -> String {
    crate::domain::text::truncate(text, max)
}

/// Whether `url` is an absolute http(s) URL: the only links dutybell keeps.
pub fn is_http(url: &str) -> bool {
    crate::config::is_http_url(url)
}

/// Parsed input shared by the group formats.
pub type Parsed = Result<GroupDelivery, IntakeError>;
