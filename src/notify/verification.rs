//! Verification codes (issue #4): "Your dutybell verification code is NNNNNN" through the
//! contact being verified, by the same senders as on-call notices: email as a plain-text
//! message, SMS as one text, voice as a call that reads the digits out twice. Other kinds
//! are never verified (`ChannelKind::takes_code`).

use jiff::Timestamp;

use super::{Notifiers, NotifyError};
use crate::config::{ChannelKind, Contact};
use crate::domain::verification::Code;

/// Email subject of a verification message.
pub const SUBJECT: &str = "[dutybell] Verification code";

/// The one line every channel carries.
pub fn text(code: &Code) -> String {
    format!("Your dutybell verification code is {}", code.digits())
}

/// `<Response><Say>…</Say></Response>` with the digits spaced, so they are read one by one.
pub fn twiml(code: &Code) -> String {
    let spaced: Vec<String> = code.digits().chars().map(String::from).collect();
    let said = format!(
        "Your dutybell verification code is {}. Again: {}.",
        spaced.join(", "),
        spaced.join(", ")
    );
    format!(
        "<Response><Say>{}</Say></Response>",
        super::voice::xml_escape(&said)
    )
}

impl Notifiers {
    /// Sends `code` to `contact`, at `now`.
    pub async fn send_code(
        &self,
        contact: &Contact,
        code: &Code,
        now: Timestamp,
    ) -> Result<(), NotifyError> {
        let no_twilio = || NotifyError::Reject("no [twilio] account is configured".into());
        match contact.kind {
            ChannelKind::Email => match &self.email {
                Some(sender) => {
                    let body = format!("{}\n\nIt expires in 15 minutes.\n", text(code));
                    sender.send_text(&contact.address, SUBJECT, &body).await
                }
                None => Err(NotifyError::Reject("no [smtp] relay is configured".into())),
            },
            ChannelKind::Sms => {
                let twilio = self.twilio.as_ref().ok_or_else(no_twilio)?;
                let body = text(code);
                let mut form = twilio.addressing(&contact.address).to_vec();
                form.push(("Body", &body));
                twilio.post("Messages", &form, now).await
            }
            ChannelKind::Voice => {
                let twilio = self.twilio.as_ref().ok_or_else(no_twilio)?;
                let twiml = twiml(code);
                let mut form = twilio.addressing(&contact.address).to_vec();
                form.push(("Twiml", &twiml));
                twilio.post("Calls", &form, now).await
            }
            ChannelKind::Webhook
            | ChannelKind::Ntfy
            | ChannelKind::Slack
            | ChannelKind::Teams
            | ChannelKind::Discord => Err(NotifyError::Reject(format!(
                "{} contacts are not verified with a code",
                contact.kind.as_str()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_channel_says_the_same_code() {
        let code = Code::parse("047123").unwrap();

        assert_eq!(text(&code), "Your dutybell verification code is 047123");
        assert_eq!(
            twiml(&code),
            "<Response><Say>Your dutybell verification code is 0, 4, 7, 1, 2, 3. \
             Again: 0, 4, 7, 1, 2, 3.</Say></Response>"
        );
    }
}
