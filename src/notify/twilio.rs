//! The Twilio REST client `sms` and `voice` share (comms spec §3.7): form-encoded POSTs to
//! `<api_base>/2010-04-01/Accounts/{sid}/<resource>.json` with Basic auth.
//!
//! Twilio's error messages quote the phone numbers involved, so only the numeric error
//! code is kept in what we store and log.

use jiff::Timestamp;
use secrecy::{ExposeSecret as _, SecretString};

use super::{ErrorDetail, NotifyError};
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
