//! Generic outgoing webhook (comms spec §3.1): JSON body, `Dutybell-*` headers and an
//! HMAC-SHA256 signature over `v1:{timestamp}:{body}` that receivers check in constant time.

use hmac::{Hmac, Mac};
use jiff::Timestamp;
use secrecy::ExposeSecret as _;
use sha2::Sha256;

use super::{NotifyError, Page};
use crate::config::Contact;

/// The JSON body for a page. A bundle has event `alert.bundle`, `data.alert` null and
/// `data.bundle` = `{service_id, service, count, alerts, ack_all_url}`, its first alerts
/// listed in full, with `data.actions.acknowledge_all`.
pub fn body(page: &Page) -> serde_json::Value {
    if let Some(bundle) = &page.bundle {
        return serde_json::json!({
            "version": 1,
            "id": page.message_id,
            "event": page.event,
            "occurred_at": page.occurred_at,
            "instance": page.instance,
            "actor": null,
            "recipient": { "id": page.person_id, "name": page.person_name },
            "data": {
                "alert": null,
                "incident": null,
                "bundle": bundle,
                "actions": { "acknowledge_all": bundle.ack_all_url },
            },
        });
    }
    serde_json::json!({
        "version": 1,
        "id": page.message_id,
        "event": page.event,
        "occurred_at": page.occurred_at,
        "instance": page.instance,
        "actor": null,
        "recipient": { "id": page.person_id, "name": page.person_name },
        "data": {
            "alert": page.alert,
            "incident": null,
            "actions": { "acknowledge": page.ack_url, "resolve": page.resolve_url },
        },
    })
}

/// `v1=<hex>` for a body sent at unix second `timestamp`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(format!("v1:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

pub async fn send(
    client: &reqwest::Client,
    contact: &Contact,
    page: &Page,
    now: Timestamp,
) -> Result<(), NotifyError> {
    let body = serde_json::to_vec(&body(page)).map_err(|e| NotifyError::Reject(e.to_string()))?;
    let timestamp = now.as_second();
    let secret = contact
        .secret
        .as_ref()
        .map(|s| s.expose_secret().as_bytes().to_vec());
    let mut request = client
        .post(&contact.address)
        .header("content-type", "application/json")
        .header("dutybell-event", &page.event)
        .header("dutybell-delivery", &page.message_id)
        .header("dutybell-timestamp", timestamp.to_string());
    if let Some(secret) = secret {
        request = request.header("dutybell-signature", signature(&secret, timestamp, &body));
    }
    super::deliver(request.body(body), now, super::ErrorDetail::None).await?;
    Ok(())
}
