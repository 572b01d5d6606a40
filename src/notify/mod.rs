//! Sending one message through one channel. The engine decides what and when; this module
//! renders a [`Page`] for a channel and reports whether to retry.
//!
//! One submodule per channel: `email` (SMTP via lettre), `webhook` (signed JSON POST),
//! `ntfy` (push), `slack` (incoming webhook, or an app DM through `slack_api`), `teams`
//! (Workflows webhook), `discord`
//! (channel webhook), and `sms` and `voice` over `twilio`. The HTTP channels share
//! [`deliver`], which sorts replies into retry and reject the same way for all of them.
//! `notice` sends on-call notices (shift changes, coverage gaps), which are not pages, and
//! `verification` the codes that confirm a contact method.

pub mod discord;
pub mod email;
pub mod notice;
pub mod ntfy;
pub mod slack;
pub mod slack_api;
pub mod sms;
pub mod teams;
pub mod twilio;
pub mod verification;
pub mod voice;
pub mod webhook;

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use crate::config::{ChannelKind, Contact, Settings};
use crate::domain::alert::{AlertState, Severity};

/// Every send gives up after this long.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest `Retry-After` we honour: a receiver cannot park a page for longer.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Why a send did not go through.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// Transient: network trouble, timeouts, 408/429/5xx, SMTP 4xx.
    #[error("temporary failure: {error}")]
    Retry {
        error: String,
        /// How long the receiver asked us to wait (`Retry-After`), if it said.
        after: Option<Duration>,
    },
    /// Permanent: the destination refused the message.
    #[error("rejected: {0}")]
    Reject(String),
    /// The receiver asked us to wait `after` and the message must still go: not a failed
    /// attempt. Slack app DMs only (comms spec §2.6: a 429 is resent until it goes).
    #[error("paused: {error}")]
    Paused { error: String, after: Duration },
}

impl NotifyError {
    /// A transient failure with no advice on when to try again.
    pub fn retry(error: impl Into<String>) -> NotifyError {
        NotifyError::Retry {
            error: error.into(),
            after: None,
        }
    }
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
    /// Set when the message carries several alerts of one service (on-call D9). `alert`
    /// then describes the bundle in plain text (name "3 unacked alerts", a summary listing
    /// them, `ack_url` acking all of them, `resolve_url` viewing the newest), which is how
    /// channels without a bundle layout of their own show it; `email` and `webhook` read
    /// this instead.
    pub bundle: Option<Bundle>,
}

/// Several unacked alerts of one service going to one destination as one message.
#[derive(Clone, Debug, Serialize)]
pub struct Bundle {
    pub service_id: String,
    /// The service's display name.
    pub service: String,
    /// How many alerts the message stands for.
    pub count: i64,
    /// The first few of them, oldest first (`count` may be larger).
    pub alerts: Vec<AlertView>,
    /// Signed link that acknowledges every alert of the bundle (`ack_all`).
    pub ack_all_url: String,
}

impl Bundle {
    /// `Public API: 3 unacked alerts`.
    pub fn headline(&self) -> String {
        format!("{}: {} unacked alerts", self.service, self.count)
    }

    /// How many alerts the message counts but does not list.
    pub fn unlisted(&self) -> i64 {
        self.count
            .saturating_sub(i64::try_from(self.alerts.len()).unwrap_or(i64::MAX))
    }
}

impl Page {
    /// `FIRING critical Public API: DiskFull (#A-12)`: the one-line headline every chat
    /// and push channel leads with. Plain text; each channel escapes it for its target.
    pub fn headline(&self) -> String {
        let a = &self.alert;
        format!(
            "{} {} {}: {} (#A-{})",
            state_word(a.status),
            a.severity,
            a.service,
            a.name,
            a.id
        )
    }
}

/// `FIRING`, `ACKED` or `RESOLVED`, as in email subjects.
pub fn state_word(state: AlertState) -> &'static str {
    match state {
        AlertState::Triggered => "FIRING",
        AlertState::Acknowledged => "ACKED",
        AlertState::Resolved => "RESOLVED",
    }
}

/// The channels, built once from settings and shared by the engine.
#[derive(Clone)]
pub struct Notifiers {
    email: Option<email::EmailSender>,
    ntfy: Option<crate::config::Ntfy>,
    twilio: Option<twilio::TwilioClient>,
    /// The Slack Web API with the bot token, when `[slack]` is in app mode.
    slack: Option<slack_api::SlackApi>,
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
        let twilio = settings
            .twilio
            .as_ref()
            .map(|t| twilio::TwilioClient::new(t, http.clone()));
        let slack = settings.slack.as_ref().and_then(|slack| {
            let token = slack.bot_token.clone()?;
            Some(slack_api::SlackApi::new(
                slack_api::http_client(),
                &slack.api_base,
                token,
            ))
        });
        Ok(Notifiers {
            email,
            ntfy: settings.ntfy.clone(),
            twilio,
            slack,
            http,
        })
    }

    /// The Slack Web API with the bot token, when `[slack]` is in app mode.
    pub fn slack_app(&self) -> Option<&slack_api::SlackApi> {
        self.slack.as_ref()
    }

    /// The HTTP client every webhook-style channel uses (timeouts, no redirects).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
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
            ChannelKind::Ntfy => match &self.ntfy {
                Some(server) => ntfy::send(&self.http, server, &contact.address, page, now).await,
                None => Err(NotifyError::Reject("no [ntfy] server is configured".into())),
            },
            // The outbox sends DM pages through `engine::slack_pages`, which keeps them to
            // edit; this posts one without keeping it.
            ChannelKind::Slack => match contact.slack_dm() {
                Some(member) => {
                    let message = slack::app_body(page);
                    slack::post_dm(self.slack.as_ref(), member, &message, now).await
                }
                None => slack::send(&self.http, contact.endpoint(), page, now).await,
            },
            ChannelKind::Teams => teams::send(&self.http, contact.endpoint(), page, now).await,
            ChannelKind::Discord => discord::send(&self.http, contact.endpoint(), page, now).await,
            ChannelKind::Sms | ChannelKind::Voice => {
                let Some(twilio) = &self.twilio else {
                    return Err(NotifyError::Reject(
                        "no [twilio] account is configured".into(),
                    ));
                };
                if contact.kind == ChannelKind::Sms {
                    sms::send(twilio, &contact.address, page, now).await
                } else {
                    voice::send(twilio, &contact.address, page, now).await
                }
            }
        }
    }
}

/// How a failed reply's body may appear in the error we store, log and show on the
/// timeline. Bodies can echo what we sent (phone numbers, tokens), so each channel picks.
#[derive(Clone, Copy, Debug)]
pub enum ErrorDetail {
    /// Nothing from the body.
    None,
    /// The first line of the body, shortened: services whose errors are short codes
    /// (`invalid_payload`, `channel_not_found`) that never echo the request.
    Snippet,
    /// Only the numeric `code` of a JSON error body (Twilio, whose messages quote numbers).
    JsonCode,
}

/// Sends `request` and sorts the outcome per comms spec §3: a 2xx reply is returned;
/// network trouble, 408, 429 and 5xx are worth retrying (with the reply's `Retry-After`,
/// if any); everything else, 3xx included (redirects are not followed), is final.
pub async fn deliver(
    request: reqwest::RequestBuilder,
    now: Timestamp,
    detail: ErrorDetail,
) -> Result<reqwest::Response, NotifyError> {
    // `without_url`: endpoint URLs can carry tokens, and the error text is stored and logged.
    let response = request
        .send()
        .await
        .map_err(|e| NotifyError::retry(format!("sending: {}", e.without_url())))?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let after = retry_after(response.headers(), now);
    let body = error_body(response).await;
    let mut error = format!("receiver answered {status}");
    if let Some(hint) = describe(&body, detail) {
        error.push_str(&format!(": {hint}"));
    }
    if status.as_u16() == 408 || status.as_u16() == 429 || status.is_server_error() {
        Err(NotifyError::Retry { error, after })
    } else {
        Err(NotifyError::Reject(error))
    }
}

/// The start of an error reply's body: enough for a code, without buffering whatever a
/// misbehaving receiver streams.
async fn error_body(mut response: reqwest::Response) -> String {
    const LIMIT: usize = 4096;
    let mut bytes = Vec::new();
    while bytes.len() < LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    bytes.truncate(LIMIT);
    String::from_utf8_lossy(&bytes).into_owned()
}

fn describe(body: &str, detail: ErrorDetail) -> Option<String> {
    let hint = match detail {
        ErrorDetail::None => return None,
        ErrorDetail::Snippet => {
            let line = body.lines().next().unwrap_or_default();
            let clean: String = line.chars().filter(|c| !c.is_control()).collect();
            crate::intake::truncate_chars(clean.trim(), 120)
        }
        ErrorDetail::JsonCode => serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("code").and_then(|c| c.as_i64()))
            .map(|code| format!("error code {code}"))
            .unwrap_or_default(),
    };
    (!hint.is_empty()).then_some(hint)
}

/// A reply's `Retry-After`, as delay seconds or an HTTP date, capped at
/// [`MAX_RETRY_AFTER`]; `None` when absent or unreadable.
pub fn retry_after(headers: &reqwest::header::HeaderMap, now: Timestamp) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    // Seconds are integers in HTTP, but Discord-style `1.5` is read rather than ignored.
    let delay = match value.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds >= 0.0 => {
            Duration::from_secs_f64(seconds.min(MAX_RETRY_AFTER.as_secs_f64()))
        }
        Ok(_) => return None,
        Err(_) => {
            let at = jiff::fmt::rfc2822::DateTimeParser::new()
                .parse_timestamp(value)
                .ok()?;
            Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO)
        }
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> reqwest::header::HeaderMap {
        let mut map = reqwest::header::HeaderMap::new();
        map.insert(
            reqwest::header::RETRY_AFTER,
            value.parse().expect("a valid header value"),
        );
        map
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now: Timestamp = "2015-10-21T07:27:00Z".parse().expect("a timestamp");

        assert_eq!(
            retry_after(&headers("120"), now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2015 07:28:00 GMT"), now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2015 07:00:00 GMT"), now),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(retry_after(&headers("86400"), now), Some(MAX_RETRY_AFTER));
        assert_eq!(
            retry_after(&headers("1.5"), now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(retry_after(&headers("-3"), now), None);
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&reqwest::header::HeaderMap::new(), now), None);
    }

    #[test]
    fn error_bodies_show_only_what_the_channel_allows() {
        let twilio = r#"{"code":21211,"message":"The 'To' number +15550100 is not valid"}"#;

        assert_eq!(
            describe(twilio, ErrorDetail::JsonCode).as_deref(),
            Some("error code 21211")
        );
        assert_eq!(
            describe("invalid_payload\nmore", ErrorDetail::Snippet).as_deref(),
            Some("invalid_payload")
        );
        assert_eq!(describe("anything", ErrorDetail::None), None);
    }
}
