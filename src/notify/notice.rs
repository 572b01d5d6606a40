//! On-call notices (on-call spec §1.3, D16): shift-change and coverage-gap messages about a
//! schedule, sent through the same channels as pages but with no alert and no action links.
//!
//! The engine composes the subject and plain text; this module only lays them out per
//! channel: email gets the subject and the text, webhooks a signed JSON event
//! (`oncall.shift_started`, `oncall.shift_ended`, `oncall.coverage_gaps`) with structured
//! `data`, chat and push channels the plain text, SMS its first line. Voice carries none.

use jiff::Timestamp;
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};

use super::{ErrorDetail, Notifiers, NotifyError};
use crate::config::{ChannelKind, Contact};

/// Chat and push channels cut longer texts.
const MAX_TEXT: usize = 2000;

/// One notice to one person through one contact method.
#[derive(Clone, Debug)]
pub struct Notice {
    /// Stable across retries (the notice row id).
    pub message_id: String,
    /// `oncall.shift_started`, `oncall.shift_ended` or `oncall.coverage_gaps`.
    pub event: String,
    pub occurred_at: Timestamp,
    pub schedule: String,
    pub person_id: String,
    pub person_name: String,
    /// `[dutybell] On call: <schedule> until …`: email subject, push title.
    pub subject: String,
    /// Plain text; its first line stands on its own (SMS sends only that).
    pub text: String,
    /// Structured detail for webhooks.
    pub data: Value,
    /// This instance's public URL.
    pub instance: String,
}

impl Notice {
    /// The first line of the text.
    pub fn first_line(&self) -> &str {
        self.text.lines().next().unwrap_or_default()
    }
}

/// The JSON body a webhook receives.
pub fn webhook_body(notice: &Notice) -> Value {
    let mut data = notice.data.clone();
    if let Some(map) = data.as_object_mut() {
        map.insert("schedule".into(), json!({ "id": notice.schedule }));
        map.insert("text".into(), json!(notice.text));
    }
    json!({
        "version": 1,
        "id": notice.message_id,
        "event": notice.event,
        "occurred_at": notice.occurred_at,
        "instance": notice.instance,
        "actor": null,
        "recipient": { "id": notice.person_id, "name": notice.person_name },
        "data": data,
    })
}

/// The body for a chat or push channel, or `None` for those that carry no notices.
pub fn chat_body(kind: ChannelKind, topic: &str, notice: &Notice) -> Option<Value> {
    let text = crate::intake::truncate_chars(&notice.text, MAX_TEXT);
    match kind {
        ChannelKind::Ntfy => Some(json!({
            "topic": topic,
            "title": notice.subject,
            "message": text,
            "priority": 3,
            "tags": ["calendar"],
            "markdown": false,
        })),
        ChannelKind::Slack => Some(json!({ "text": super::slack::escape(&text) })),
        ChannelKind::Discord => Some(json!({
            "content": super::discord::escape(&text),
            "allowed_mentions": { "parse": [] },
        })),
        ChannelKind::Teams => Some(json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "type": "AdaptiveCard",
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "version": "1.4",
                    "body": [{ "type": "TextBlock", "text": text, "wrap": true }],
                },
            }],
        })),
        ChannelKind::Email | ChannelKind::Webhook | ChannelKind::Sms | ChannelKind::Voice => None,
    }
}

/// Whether notices go to this kind of contact. A phone call for an FYI would wake people.
pub fn carries_notices(kind: ChannelKind) -> bool {
    kind != ChannelKind::Voice
}

impl Notifiers {
    /// Sends `notice` to `contact`, at `now`, sorting failures into retry and reject as
    /// pages do.
    pub async fn send_notice(
        &self,
        contact: &Contact,
        notice: &Notice,
        now: Timestamp,
    ) -> Result<(), NotifyError> {
        match contact.kind {
            ChannelKind::Email => match &self.email {
                Some(sender) => {
                    sender
                        .send_text(&contact.address, &notice.subject, &notice.text)
                        .await
                }
                None => Err(NotifyError::Reject("no [smtp] relay is configured".into())),
            },
            ChannelKind::Webhook => self.notice_webhook(contact, notice, now).await,
            ChannelKind::Ntfy => {
                let Some(server) = &self.ntfy else {
                    return Err(NotifyError::Reject("no [ntfy] server is configured".into()));
                };
                let body = chat_body(ChannelKind::Ntfy, &contact.address, notice);
                let mut request = self.http.post(format!("{}/", server.server)).json(&body);
                if let Some(token) = &server.token {
                    request = request.bearer_auth(token.expose_secret());
                }
                super::deliver(request, now, ErrorDetail::Snippet).await?;
                Ok(())
            }
            ChannelKind::Slack | ChannelKind::Teams | ChannelKind::Discord => {
                let body = chat_body(contact.kind, "", notice);
                if let (Some(member), Some(body)) = (contact.slack_dm(), &body) {
                    return super::slack::post_dm(self.slack.as_ref(), member, body, now).await;
                }
                let request = self.http.post(contact.endpoint()).json(&body);
                super::deliver(request, now, ErrorDetail::Snippet).await?;
                Ok(())
            }
            ChannelKind::Sms => {
                let Some(twilio) = &self.twilio else {
                    return Err(NotifyError::Reject(
                        "no [twilio] account is configured".into(),
                    ));
                };
                let text = format!("dutybell: {}", notice.first_line());
                let mut form = twilio.addressing(&contact.address).to_vec();
                form.push(("Body", &text));
                twilio.post("Messages", &form, now).await
            }
            ChannelKind::Voice => Err(NotifyError::Reject("voice carries no notices".into())),
        }
    }

    async fn notice_webhook(
        &self,
        contact: &Contact,
        notice: &Notice,
        now: Timestamp,
    ) -> Result<(), NotifyError> {
        let body = serde_json::to_vec(&webhook_body(notice))
            .map_err(|e| NotifyError::Reject(e.to_string()))?;
        let timestamp = now.as_second();
        let mut request = self
            .http
            .post(&contact.address)
            .header("content-type", "application/json")
            .header("dutybell-event", &notice.event)
            .header("dutybell-delivery", &notice.message_id)
            .header("dutybell-timestamp", timestamp.to_string());
        if let Some(secret) = &contact.secret {
            let signature =
                super::webhook::signature(secret.expose_secret().as_bytes(), timestamp, &body);
            request = request.header("dutybell-signature", signature);
        }
        super::deliver(request.body(body), now, ErrorDetail::None).await?;
        Ok(())
    }
}
