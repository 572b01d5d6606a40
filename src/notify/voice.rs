//! Voice pages through Twilio (comms spec §3.7): a call that reads the alert out, with the
//! TwiML inline (`Twiml`), so Twilio needs nothing from us while the call runs. User text
//! is XML-escaped into `<Say>`. A `<Gather>` then offers "press 1 to acknowledge", posting
//! the digit to `/twilio/voice/<ack token>` (`http::twilio`).

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

/// `<Response><Say>…</Say><Gather …><Say>Press 1 …</Say></Gather></Response>`
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
    let gather = gather_url(page).map_or_else(String::new, |url| {
        format!(
            "<Gather numDigits=\"1\" action=\"{}\" method=\"POST\">\
             <Say>Press 1 to acknowledge.</Say></Gather>",
            xml_escape(&url)
        )
    });
    format!(
        "<Response><Say>{}</Say>{gather}</Response>",
        xml_escape(&said)
    )
}

/// The `<Gather>` action: the page's signed ack link (`<instance>/a/<token>`, for a bundle
/// the ack-all one) moved to the voice route. `None` if the link has another shape.
fn gather_url(page: &Page) -> Option<String> {
    let token = page
        .ack_url
        .strip_prefix(page.instance.as_str())?
        .strip_prefix("/a/")?;
    Some(format!("{}/twilio/voice/{token}", page.instance))
}

pub async fn send(
    twilio: &TwilioClient,
    to: &str,
    page: &Page,
    now: Timestamp,
) -> Result<(), NotifyError> {
    let twiml = twiml(page);
    let callback = super::twilio::status_callback(page);
    let mut form = twilio.addressing(to).to_vec();
    form.push(("Twiml", &twiml));
    form.push(("Timeout", RING_TIMEOUT));
    form.push(("StatusCallback", &callback));
    twilio.post("Calls", &form, now).await
}
