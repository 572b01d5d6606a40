//! SMS pages through Twilio (comms spec §3.7): one short text, aiming for a single segment,
//! with the signed ack link. Plain text, so nothing to escape.

use jiff::Timestamp;

use super::twilio::TwilioClient;
use super::{NotifyError, Page};

/// Alert names are cut to this many characters to keep the text near one segment.
const MAX_NAME: usize = 40;

/// `dutybell critical Public API DiskFull #A-12 ack: <link>`
pub fn text(page: &Page) -> String {
    let a = &page.alert;
    let name: String = a
        .name
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!(
        "dutybell {} {} {} #A-{} ack: {}",
        a.severity,
        a.service,
        crate::intake::truncate_chars(&name, MAX_NAME),
        a.id,
        page.ack_url
    )
}

pub async fn send(
    twilio: &TwilioClient,
    to: &str,
    page: &Page,
    now: Timestamp,
) -> Result<(), NotifyError> {
    let body = text(page);
    let callback = super::twilio::status_callback(page);
    let mut form = twilio.addressing(to).to_vec();
    form.push(("Body", &body));
    form.push(("StatusCallback", &callback));
    twilio.post("Messages", &form, now).await
}
