//! Integration tests: one binary, one module per feature. `helpers` builds the real app on
//! port 0 with a temp SQLite database, a manual clock and real local receivers (an SMTP
//! sink and a webhook server).

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used)]

mod ack_timeout;
mod actions;
mod admin_users;
mod alert_mode;
mod alertmanager_real;
mod backup;
mod bad_input;
mod browser;
mod bundles;
mod chaos;
mod check;
mod cluster_races;
mod comms_probes;
mod config;
mod config_reload;
mod crash;
mod direct_page;
mod discord_edit;
mod email;
mod escalation;
mod formats;
mod helpers;
mod history;
mod incidents;
mod intake;
mod ladder;
mod maintenance;
mod notifiers;
mod oncall;
mod oncall_api;
mod pg_gaps;
mod pg_schema;
mod postmortem_gaps;
mod postmortems;
mod probes;
mod process;
mod reports;
mod restart;
mod retention;
mod runbooks;
mod slack_app;
mod slack_channels;
mod slack_modals;
mod slack_pages;
mod statuspage;
mod statuspage_gaps;
mod storm;
mod story;
mod temporary;
mod twilio_status;
mod verification;
mod voice_ack;
mod web_ui;
mod web_ui_actions;
mod web_ui_comms;
mod web_ui_learning;
mod web_ui_schedules;
mod windows;
