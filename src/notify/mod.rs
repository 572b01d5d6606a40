//! Sending one message through one channel. The engine decides what and when; this module
//! renders a [`Page`] for a channel and reports whether to retry.
//!
//! One submodule per channel: `email` (SMTP via lettre), `webhook` (signed JSON POST).

pub mod email;
pub mod webhook;

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use crate::config::{ChannelKind, Contact, Settings};
use crate::domain::alert::{AlertState, Severity};

/// Every send gives up after this long.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a send did not go through.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// Transient: network trouble, timeouts, 408/429/5xx, SMTP 4xx.
    #[error("temporary failure: {0}")]
    Retry(String),
    /// Permanent: the destination refused the message.
    #[error("rejected: {0}")]
    Reject(String),
}

/// The alert as a notification shows it.
#[derive(Clone, Debug, Serialize)]
pub struct AlertView {
    pub id: i64,
    pub service: String,
    pub name: String,
    pub summary: String,
    pub severity: Severity,
    pub status: AlertState,
    pub labels: BTreeMap<String, String>,
    pub runbook_url: Option<String>,
    pub url: String,
    pub created_at: Timestamp,
}

/// One page to one person through one contact method.
#[derive(Clone, Debug)]
pub struct Page {
    /// Stable across retries (the outbox row id).
    pub message_id: String,
    /// `alert.triggered` or `alert.escalated`.
    pub event: String,
    pub occurred_at: Timestamp,
    pub alert: AlertView,
    pub person_id: String,
    pub person_name: String,
    /// Signed one-click links.
    pub ack_url: String,
    pub resolve_url: String,
    /// This instance's public URL.
    pub instance: String,
}

/// The channels, built once from settings and shared by the engine.
#[derive(Clone)]
pub struct Notifiers {
    email: Option<email::EmailSender>,
    http: reqwest::Client,
}

impl Notifiers {
    pub fn new(settings: &Settings) -> anyhow::Result<Notifiers> {
        use anyhow::Context as _;
        let email = settings
            .smtp
            .as_ref()
            .map(email::EmailSender::new)
            .transpose()
            .context("setting up SMTP")?;
        let http = reqwest::Client::builder()
            .timeout(SEND_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("dutybell/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")?;
        Ok(Notifiers { email, http })
    }

    /// Sends `page` to `contact`, at `now` (webhook signatures carry the time).
    pub async fn send(
        &self,
        contact: &Contact,
        page: &Page,
        now: Timestamp,
    ) -> Result<(), NotifyError> {
        match contact.kind {
            ChannelKind::Email => match &self.email {
                Some(sender) => sender.send(&contact.address, page).await,
                None => Err(NotifyError::Reject("no [smtp] relay is configured".into())),
            },
            ChannelKind::Webhook => webhook::send(&self.http, contact, page, now).await,
        }
    }
}
