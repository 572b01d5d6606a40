//! The Twilio REST client `sms` and `voice` share (comms spec §3.7): form-encoded POSTs to
//! `<api_base>/2010-04-01/Accounts/{sid}/<resource>.json` with Basic auth.
//!
//! Twilio's error messages quote the phone numbers involved, so only the numeric error
//! code is kept in what we store and log.
//!
//! Twilio accepting a message or call only means it was queued: every page names a
//! `StatusCallback` on this server (`http::twilio`), so an SMS that ends `undelivered` or a
//! call that ends `busy` still counts as a failed attempt and falls through.

use jiff::Timestamp;
use secrecy::{ExposeSecret as _, SecretString};

use super::{ErrorDetail, NotifyError, Page};
use crate::config::Twilio;

#[derive(Clone)]
pub struct TwilioClient {
    http: reqwest::Client,
    api_base: String,
    account_sid: String,
    auth_token: SecretString,
    /// E.164 number or Messaging Service SID.
    pub from: String,
}

impl TwilioClient {
    pub fn new(settings: &Twilio, http: reqwest::Client) -> TwilioClient {
        TwilioClient {
            http,
            api_base: settings.api_base.clone(),
            account_sid: settings.account_sid.clone(),
            auth_token: settings.auth_token.clone(),
            from: settings.from.clone(),
        }
    }

    /// `To`, then `From` (or `MessagingServiceSid` when `from` is one), for every request.
    pub fn addressing<'a>(&'a self, to: &'a str) -> [(&'static str, &'a str); 2] {
        let from_key = if self.from.starts_with("MG") {
            "MessagingServiceSid"
        } else {
            "From"
        };
        [("To", to), (from_key, self.from.as_str())]
    }

    /// POSTs `form` to `resource` (`Messages` or `Calls`).
    pub async fn post(
        &self,
        resource: &str,
        form: &[(&str, &str)],
        now: Timestamp,
    ) -> Result<(), NotifyError> {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/{resource}.json",
            self.api_base, self.account_sid
        );
        let request = self
            .http
            .post(url)
            .basic_auth(&self.account_sid, Some(self.auth_token.expose_secret()))
            .form(form);
        super::deliver(request, now, ErrorDetail::JsonCode).await?;
        Ok(())
    }
}

/// Where Twilio reports how the page ended: `<instance>/twilio/status/<message id>`. The
/// message id is the outbox row (a bundle's leader) the page was sent for; Twilio's own
/// signature on the callback is what makes it trustworthy.
pub fn status_callback(page: &Page) -> String {
    format!("{}/twilio/status/{}", page.instance, page.message_id)
}

/// How a `MessageStatus` (SMS) or `CallStatus` (voice) callback ends a page: `Some` with
/// the reason when the person was not reached, `None` for progress and success.
pub fn failed_status(status: &str) -> Option<&'static str> {
    match status {
        "undelivered" => Some("undelivered"),
        "failed" => Some("failed"),
        "busy" => Some("busy"),
        "no-answer" => Some("no answer"),
        "canceled" => Some("canceled"),
        _ => None,
    }
}
