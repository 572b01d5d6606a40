//! Voice pages through Twilio (comms spec §3.7): a call that reads the alert out, with the
//! TwiML inline (`Twiml`), so Twilio needs nothing from us while the call runs. User text
//! is XML-escaped into `<Say>`.

use jiff::Timestamp;

use super::twilio::TwilioClient;
use super::{NotifyError, Page};

/// Seconds the phone rings before Twilio gives up.
const RING_TIMEOUT: &str = "30";
/// Keep the spoken summary short; the link in other channels has the rest.
const MAX_SUMMARY: usize = 300;

/// Escapes text for XML content and attributes.
pub fn xml_escape(text: &str) -> String {
    crate::domain::escape::xml(text)
}

/// `<Response><Say>…</Say></Response>`
pub fn twiml(page: &Page) -> String {
    let a = &page.alert;
    let said = format!(
        "dutybell page. {} alert on {}: {}. Alert number {}. \
         Acknowledge with the link in your other notifications.",
        a.severity,
        a.service,
        crate::intake::truncate_chars(&a.summary, MAX_SUMMARY),
        a.id
    );
    // TODO(#4): `<Gather numDigits="1" action=…>` (press 1 to ack) needs an endpoint that
    // checks the Twilio signature and `Digits` and answers TwiML.
    format!("<Response><Say>{}</Say></Response>", xml_escape(&said))
}

pub async fn send(
    twilio: &TwilioClient,
    to: &str,
    page: &Page,
    now: Timestamp,
) -> Result<(), NotifyError> {
    // TODO(#4): a `StatusCallback` so busy/no-answer/failed calls count as failed attempts.
    let twiml = twiml(page);
    let mut form = twilio.addressing(to).to_vec();
    form.push(("Twiml", &twiml));
    form.push(("Timeout", RING_TIMEOUT));
    twilio.post("Calls", &form, now).await
}
