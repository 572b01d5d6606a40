//! Email pages over SMTP (comms spec §3.2): a plain-text body with the alert, its links and
//! signed ack/resolve links; 4xx replies and connection trouble are retried, 5xx are final.

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, header::Header};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret as _;

use super::{NotifyError, Page, SEND_TIMEOUT};
use crate::config::Smtp;

/// Longest subject line we send.
const MAX_SUBJECT: usize = 150;

#[derive(Clone)]
pub struct EmailSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// The `[smtp]` relay: a transport with the send timeout and any credentials, and the
/// sender address. Pages, notices and subscriber mail all go out through one of these.
pub(crate) fn relay(smtp: &Smtp) -> anyhow::Result<(AsyncSmtpTransport<Tokio1Executor>, Mailbox)> {
    use anyhow::Context as _;
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(&smtp.url)
        .context("parsing [smtp] url")?
        .timeout(Some(SEND_TIMEOUT));
    if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
        builder = builder.credentials(Credentials::new(
            user.clone(),
            password.expose_secret().to_string(),
        ));
    }
    let from = smtp.from.parse().context("parsing [smtp] from")?;
    Ok((builder.build(), from))
}

/// Hands one message to the relay: a 5xx reply is final, anything else is retried.
pub(crate) async fn submit(
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    message: Message,
) -> Result<(), NotifyError> {
    match transport.send(message).await {
        Ok(_) => Ok(()),
        Err(err) if err.is_permanent() => Err(NotifyError::Reject(err.to_string())),
        Err(err) => Err(NotifyError::retry(err.to_string())),
    }
}

/// A header value from user text: control characters (line breaks) become spaces, and it
/// is cut to `max` characters at a grapheme boundary.
pub(crate) fn header_text(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    crate::intake::truncate_chars(&flat, max)
}

impl EmailSender {
    pub fn new(smtp: &Smtp) -> anyhow::Result<EmailSender> {
        let (transport, from) = relay(smtp)?;
        Ok(EmailSender { transport, from })
    }

    pub async fn send(&self, to: &str, page: &Page) -> Result<(), NotifyError> {
        let to: Mailbox = to
            .parse()
            .map_err(|e| NotifyError::Reject(format!("bad address: {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject(page))
            .header(AutoSubmitted)
            .header(ContentType::TEXT_PLAIN)
            .body(body(page))
            .map_err(|e| NotifyError::Reject(format!("building the message: {e}")))?;
        submit(&self.transport, message).await
    }
}

impl EmailSender {
    /// Sends a plain-text message that is no page: on-call notices (`notify::notice`).
    pub async fn send_text(&self, to: &str, subject: &str, body: &str) -> Result<(), NotifyError> {
        let to: Mailbox = to
            .parse()
            .map_err(|e| NotifyError::Reject(format!("bad address: {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(header_text(subject, MAX_SUBJECT))
            .header(AutoSubmitted)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_string())
            .map_err(|e| NotifyError::Reject(format!("building the message: {e}")))?;
        submit(&self.transport, message).await
    }
}

/// `[dutybell] FIRING critical api: HighErrorRate (#A-12)`, at most 150 characters; a
/// bundle reads `[dutybell] FIRING Public API: 3 unacked alerts`.
pub fn subject(page: &Page) -> String {
    if let Some(bundle) = &page.bundle {
        let head = "[dutybell] FIRING ";
        let room = MAX_SUBJECT.saturating_sub(head.chars().count());
        return format!("{head}{}", header_text(&bundle.headline(), room));
    }
    let a = &page.alert;
    let state = match a.status {
        crate::domain::alert::AlertState::Triggered => "FIRING",
        crate::domain::alert::AlertState::Acknowledged => "ACKED",
        crate::domain::alert::AlertState::Resolved => "RESOLVED",
    };
    let tail = format!(" (#A-{})", a.id);
    let head = format!("[dutybell] {state} {} {}: ", a.severity, a.service);
    let room = MAX_SUBJECT.saturating_sub(head.chars().count() + tail.chars().count());
    format!("{head}{}{tail}", header_text(&a.summary, room))
}

/// The plain-text body.
pub fn body(page: &Page) -> String {
    if let Some(bundle) = &page.bundle {
        return bundle_body(page, bundle);
    }
    let a = &page.alert;
    let mut text = format!(
        "{summary}\n\nService:  {service}\nSeverity: {severity}\nAlert:    #A-{id} ({event})\n\
         Started:  {created}\n\nView:        {url}\nAcknowledge: {ack}\nResolve:     {resolve}\n",
        summary = a.summary,
        service = a.service,
        severity = a.severity,
        id = a.id,
        event = page.event,
        created = a.created_at,
        url = a.url,
        ack = page.ack_url,
        resolve = page.resolve_url,
    );
    if let Some(runbook) = &a.runbook_url {
        text.push_str(&format!("Runbook:     {runbook}\n"));
    }
    if !a.labels.is_empty() {
        text.push_str("\nLabels:\n");
        for (k, v) in &a.labels {
            text.push_str(&format!("  {k}={v}\n"));
        }
    }
    text.push_str(&format!(
        "\nSent by dutybell to {} ({}).\n",
        page.person_name, page.person_id
    ));
    text
}

/// A bundle's body: the count, one line per listed alert with its view link, and the
/// ack-all link.
fn bundle_body(page: &Page, bundle: &super::Bundle) -> String {
    let mut text = format!("{}\n\n", bundle.headline());
    for a in &bundle.alerts {
        text.push_str(&format!(
            "#A-{id} {severity} {summary}\n    {url}\n",
            id = a.id,
            severity = a.severity,
            summary = crate::intake::truncate_chars(&a.summary, 200),
            url = a.url,
        ));
    }
    if bundle.unlisted() > 0 {
        text.push_str(&format!("... and {} more\n", bundle.unlisted()));
    }
    text.push_str(&format!(
        "\nAcknowledge all: {}\n\nSent by dutybell to {} ({}).\n",
        bundle.ack_all_url, page.person_name, page.person_id
    ));
    text
}

/// `Auto-Submitted: auto-generated`, so vacation responders stay quiet (RFC 3834).
#[derive(Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_string())
    }
}
