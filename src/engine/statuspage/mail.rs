//! Mail to status page subscribers (comms spec §3.2, §4.8): rendering one queued mail and
//! sending it over the `[smtp]` relay as `multipart/alternative` (text, and escaped HTML),
//! with RFC 8058 one-click unsubscribe headers on every notice.
//!
//! Kept apart from `notify::email` because subscriber mail carries list headers pages
//! never do; it shares the relay settings and sorts failures the same way (4xx and
//! connection trouble retry, 5xx is final).

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, header::Header};
use lettre::{AsyncSmtpTransport, Message, Tokio1Executor};

use crate::config::Smtp;
use crate::notify::{NotifyError, email};

/// Longest subject line (§3.2).
const MAX_SUBJECT: usize = 150;

/// One mail, rendered.
#[derive(Clone, Debug, PartialEq)]
pub struct Outgoing {
    pub to: String,
    /// The outbox row id: the same on every retry.
    pub message_id: String,
    pub subject: String,
    pub text: String,
    /// Already-safe HTML for the body (escaped text, or sanitised Markdown).
    pub html: String,
    /// The personal one-click unsubscribe URL; `None` on confirmation mail.
    pub unsubscribe: Option<String>,
    /// The `Date` header: the engine's clock, not the host's.
    pub date: jiff::Timestamp,
}

/// The SMTP relay, for subscriber mail.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    pub fn new(smtp: &Smtp) -> anyhow::Result<Mailer> {
        let (transport, from) = email::relay(smtp)?;
        Ok(Mailer { transport, from })
    }

    pub async fn send(&self, mail: &Outgoing) -> Result<(), NotifyError> {
        email::submit(&self.transport, build(&self.from, mail)?).await
    }
}

fn build(from: &Mailbox, mail: &Outgoing) -> Result<Message, NotifyError> {
    let to: Mailbox = mail
        .to
        .parse()
        .map_err(|e| NotifyError::Reject(format!("bad address: {e}")))?;
    let host = from.email.domain().to_string();
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject_line(&mail.subject))
        .date(std::time::SystemTime::from(mail.date))
        .message_id(Some(format!("<{}@{host}>", mail.message_id)))
        .header(AutoSubmitted("auto-generated".into()));
    if let Some(url) = &mail.unsubscribe {
        let url: String = url.chars().filter(|c| !c.is_control()).collect();
        builder = builder
            .header(ListUnsubscribe(format!("<{url}>")))
            .header(ListUnsubscribePost("List-Unsubscribe=One-Click".into()));
    }
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"></head><body>{}</body></html>",
        mail.html
    );
    builder
        .multipart(MultiPart::alternative_plain_html(mail.text.clone(), html))
        .map_err(|e| NotifyError::Reject(format!("building the message: {e}")))
}

/// A subject without line breaks, at most [`MAX_SUBJECT`] characters.
pub fn subject_line(subject: &str) -> String {
    email::header_text(subject, MAX_SUBJECT)
}

/// lettre identifies a header by its type, so each name we send gets its own wrapper.
macro_rules! named_header {
    ($ty:ident, $name:literal) => {
        #[derive(Clone)]
        struct $ty(String);

        impl Header for $ty {
            fn name() -> HeaderName {
                HeaderName::new_from_ascii_str($name)
            }

            fn parse(text: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
                Ok($ty(text.to_string()))
            }

            fn display(&self) -> HeaderValue {
                HeaderValue::new(Self::name(), self.0.clone())
            }
        }
    };
}

named_header!(AutoSubmitted, "Auto-Submitted");
named_header!(ListUnsubscribe, "List-Unsubscribe");
named_header!(ListUnsubscribePost, "List-Unsubscribe-Post");

#[cfg(test)]
mod tests {
    use super::*;

    /// CM-13: a 200-char title with a ZWJ emoji and a combining accent where the cut falls
    /// makes a subject of at most 150 characters that ends in `…` and splits no cluster.
    #[test]
    fn long_subjects_are_cut_at_a_grapheme_boundary_within_150() {
        let family = "👩\u{200D}💻";
        let title = format!(
            "{}{family}e\u{301}{}",
            "x".repeat(118),
            "y".repeat(200 - 118 - 5)
        );
        assert_eq!(title.chars().count(), 200);
        let subject = subject_line(&format!("[Acme Status] Investigating: {title}"));
        assert!(
            subject.chars().count() <= MAX_SUBJECT,
            "{}",
            subject.chars().count()
        );
        assert!(subject.ends_with('…'));
        let kept = subject.trim_end_matches('…');
        // The prefix and 118 x fill 147 characters; the 3-character emoji would cross the
        // limit, so the cut falls before it rather than inside it.
        assert_eq!(
            kept,
            format!("[Acme Status] Investigating: {}", "x".repeat(118))
        );
        assert_eq!(
            subject_line("line\r\nbreak"),
            "line  break",
            "no header injection"
        );
    }
}
