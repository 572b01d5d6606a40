//! Pure decisions: given state and an instant, decide. No I/O, no clock reads, no SQL.
//!
//! The caller passes `now`; the result says what to store and what to send.

pub mod accounts;
pub mod action_link;
pub mod alert;
pub mod delivery;
pub mod direct;
pub mod duration;
pub mod escalation;
pub mod escape;
pub mod feed_link;
pub mod fingerprint;
pub mod ical;
pub mod incident;
pub mod maintenance;
pub mod members;
pub mod oncall;
pub mod override_request;
pub mod postmortem;
pub mod probe;
pub mod reports;
pub mod runbook;
pub mod slack;
pub mod statuspage;
pub mod temporary_request;
pub mod text;
pub mod throttle;
pub mod verification;
