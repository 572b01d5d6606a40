//! dutybell: self-hosted incident response for small teams.
//!
//! # Layout
//!
//! Modules follow the way an alert flows through the system:
//!
//! - [`config`]: the team's config directory (TOML), parsed into `RawConfig` and checked into
//!   a typed [`config::Config`] that every other layer reads.
//! - [`domain`]: pure decisions with no I/O and no clock reads: fingerprints, member rules,
//!   severities, escalation steps, on-call resolution, override requests, signed action
//!   links and feed tokens, iCalendar text, maintenance windows, direct pages,
//!   contact-verification codes, incidents, Slack, the status page, runbooks,
//!   postmortems, reports, probes and accounts.
//! - [`store`]: the only module with SQL; one submodule per aggregate.
//! - [`intake`]: one parse function per wire format into normalised deliveries.
//! - [`notify`]: one module per channel; renders and sends a single message.
//! - [`engine`]: background work as `run_once(now)` over persisted due times; probes run
//!   in a task of their own, driven the same way.
//! - [`http`]: axum routers, thin handlers and the one place errors become responses.
//! - [`smtpd`]: the inbound SMTP listener for email integrations, feeding the same intake.
//! - [`cli`]: the `dutybell` command line.
//! - [`app`]: wires the above into a server bound to a port.

pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod engine;
pub mod http;
pub mod intake;
pub mod notify;
pub mod smtpd;
pub mod store;
pub mod telemetry;
pub mod web;

pub use app::App;
