//! Inbound email (intake spec §1 "Email"): a raw RFC 5322 message becomes one event.
//!
//! Summary = the Subject, RFC 2047-decoded, whitespace collapsed, `Re:`/`Fw:`/`Fwd:`
//! prefixes dropped. Mail has no key of its own, so the dedup key is that normalised
//! subject, and a subject starting with `RESOLVED:` resolves the alert keyed by the rest.
//! Details = the first `text/plain` part (else the HTML part as text), at most 64 KiB.
//! Only what alert mails need of MIME is read: multipart nesting, base64 and
//! quoted-printable bodies, UTF-8 and Latin-1 text.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;

use super::{MAX_SUMMARY_CHARS, truncate_chars};
use crate::domain::delivery::{AlertEvent, AlertFields, EventAction};
use crate::domain::fingerprint::sha256_hex;

/// Longest details kept from a body.
const MAX_DETAILS_BYTES: usize = 64 * 1024;
/// Subject prefix that resolves instead of triggering.
pub const RESOLVE_PREFIX: &str = "RESOLVED:";

/// Parses a message received at `now` from envelope sender `sender`.
pub fn parse(raw: &[u8], sender: &str, now: Timestamp) -> AlertEvent {
    let text = String::from_utf8_lossy(raw);
    let (headers, body) = split_message(&text);
    let subject = header(&headers, "subject")
        .map(decode_words)
        .unwrap_or_default();
    let subject = normalise_subject(&subject);
    let (action, subject) = match strip_prefix_ci(&subject, RESOLVE_PREFIX) {
        Some(rest) => (EventAction::Resolve, normalise_subject(rest)),
        None => (EventAction::Trigger, subject),
    };
    let summary = if subject.is_empty() {
        "(no subject)".to_string()
    } else {
        subject
    };
    let key = if summary.len() > 255 {
        sha256_hex(&[&summary])
    } else {
        summary.clone()
    };
    let from = header(&headers, "from")
        .map(decode_words)
        .unwrap_or_else(|| sender.to_string());
    let fields = if action == EventAction::Trigger {
        let mut details = body_text(&headers, body);
        truncate_bytes(&mut details, MAX_DETAILS_BYTES);
        AlertFields {
            summary: truncate_chars(&summary, MAX_SUMMARY_CHARS),
            details,
            source: from,
            ..AlertFields::default()
        }
    } else {
        AlertFields::default()
    };
    AlertEvent {
        action,
        dedup_key: key,
        fields,
        timestamp: now,
    }
}

/// Collapses whitespace and drops any number of reply and forward prefixes.
pub fn normalise_subject(subject: &str) -> String {
    let mut text = subject.split_whitespace().collect::<Vec<_>>().join(" ");
    loop {
        let stripped = ["re:", "fw:", "fwd:"]
            .iter()
            .find_map(|prefix| strip_prefix_ci(&text, prefix).map(|rest| rest.trim().to_string()));
        match stripped {
            Some(rest) => text = rest,
            None => return text,
        }
    }
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// Header lines (unfolded, names lowercased) and the body.
fn split_message(text: &str) -> (Vec<(String, String)>, &str) {
    let (head, body) = match (text.find("\r\n\r\n"), text.find("\n\n")) {
        (Some(crlf), Some(lf)) if lf < crlf => (&text[..lf], &text[lf + 2..]),
        (Some(crlf), _) => (&text[..crlf], &text[crlf + 4..]),
        (None, Some(lf)) => (&text[..lf], &text[lf + 2..]),
        (None, None) => (text, ""),
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    (headers, body)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A parameter of a structured header value, e.g. `boundary` of a Content-Type.
fn param(value: &str, name: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|part| {
        let (key, val) = part.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| val.trim().trim_matches('"').to_string())
    })
}

/// The readable text of a (possibly multipart) body: first text/plain, else HTML as text.
fn body_text(headers: &[(String, String)], body: &str) -> String {
    let mut html = None;
    let text = find_text(headers, body, &mut html, 0);
    text.or(html).unwrap_or_default().trim().to_string()
}

fn find_text(
    headers: &[(String, String)],
    body: &str,
    html: &mut Option<String>,
    depth: usize,
) -> Option<String> {
    let content_type = header(headers, "content-type")
        .unwrap_or("text/plain")
        .to_string();
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime.starts_with("multipart/") && depth < 5 {
        let boundary = param(&content_type, "boundary")?;
        let delimiter = format!("--{boundary}");
        for part in body.split(delimiter.as_str()).skip(1) {
            if part.starts_with("--") {
                break;
            }
            let (part_headers, part_body) = split_message(part.trim_start_matches(['\r', '\n']));
            if let Some(text) = find_text(&part_headers, part_body, html, depth + 1) {
                return Some(text);
            }
        }
        return None;
    }
    let decoded = decode_transfer(header(headers, "content-transfer-encoding"), body);
    let text = decode_charset(&decoded, param(&content_type, "charset").as_deref());
    if mime == "text/html" {
        html.get_or_insert_with(|| strip_tags(&text));
        return None;
    }
    (mime == "text/plain" || mime.is_empty()).then_some(text)
}

fn decode_transfer(encoding: Option<&str>, body: &str) -> Vec<u8> {
    match encoding.map(|e| e.trim().to_ascii_lowercase()).as_deref() {
        Some("base64") => {
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            STANDARD
                .decode(compact)
                .unwrap_or_else(|_| body.as_bytes().to_vec())
        }
        Some("quoted-printable") => quoted_printable(body, false),
        _ => body.as_bytes().to_vec(),
    }
}

/// Quoted-printable; `underscore_space` for the RFC 2047 `Q` flavour.
fn quoted_printable(text: &str, underscore_space: bool) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'=' if bytes.get(i + 1) == Some(&b'\r') && bytes.get(i + 2) == Some(&b'\n') => i += 3,
            b'=' if bytes.get(i + 1) == Some(&b'\n') => i += 2,
            b'=' => {
                let hex = text
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        i += 3;
                    }
                    None => {
                        out.push(b'=');
                        i += 1;
                    }
                }
            }
            b'_' if underscore_space => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

fn decode_charset(bytes: &[u8], charset: Option<&str>) -> String {
    match charset.map(str::to_ascii_lowercase).as_deref() {
        Some("iso-8859-1" | "latin1" | "windows-1252") => {
            bytes.iter().map(|&b| b as char).collect()
        }
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Decodes RFC 2047 encoded words; whitespace between two encoded words is dropped.
pub fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut pending_space = String::new();
    let mut last_was_word = false;
    for token in value.split_inclusive(char::is_whitespace) {
        let word = token.trim_end();
        let space = &token[word.len()..];
        match decode_word(word) {
            Some(decoded) => {
                if !last_was_word {
                    out.push_str(&pending_space);
                }
                out.push_str(&decoded);
                last_was_word = true;
            }
            None => {
                out.push_str(&pending_space);
                out.push_str(word);
                last_was_word = false;
            }
        }
        pending_space = space.to_string();
    }
    out.push_str(&pending_space);
    out
}

fn decode_word(word: &str) -> Option<String> {
    let inner = word.strip_prefix("=?")?.strip_suffix("?=")?;
    let mut parts = inner.splitn(3, '?');
    let (charset, encoding, text) = (parts.next()?, parts.next()?, parts.next()?);
    let bytes = match encoding {
        "B" | "b" => STANDARD.decode(text).ok()?,
        "Q" | "q" => quoted_printable(text, true),
        _ => return None,
    };
    Some(decode_charset(&bytes, Some(charset)))
}

fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn truncate_bytes(text: &mut String, max: usize) {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2025-06-12T03:00:00Z".parse().unwrap()
    }

    #[test]
    fn subjects_are_decoded_and_normalised() {
        assert_eq!(
            decode_words("=?UTF-8?B?w4FsZXJ0?= on db-1"),
            "Álert on db-1"
        );
        assert_eq!(
            decode_words("=?utf-8?q?disk_full?= =?utf-8?q?_on_db?="),
            "disk full on db"
        );
        assert_eq!(
            normalise_subject("  Re: FWD:  re:  Disk   full "),
            "Disk full"
        );
    }

    #[test]
    fn a_multipart_mail_uses_its_plain_text_part() {
        let raw = "From: Cron <cron@db-1>\r\nSubject: Fwd: Backup  failed\r\n\
            Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n\
            --b1\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n\
            --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\
            Content-Transfer-Encoding: quoted-printable\r\n\r\nexit =3D 3, caf=C3=A9\r\n--b1--\r\n";
        let event = parse(raw.as_bytes(), "bounce@db-1", now());
        assert_eq!(event.action, EventAction::Trigger);
        assert_eq!(event.dedup_key, "Backup failed");
        assert_eq!(event.fields.summary, "Backup failed");
        assert_eq!(event.fields.details, "exit = 3, café");
        assert_eq!(event.fields.source, "Cron <cron@db-1>");
    }

    #[test]
    fn resolved_prefix_resolves_the_same_key_and_html_only_mail_reads_as_text() {
        let resolve = parse(
            b"Subject: RESOLVED: Re: Backup failed\r\n\r\nok",
            "x",
            now(),
        );
        assert_eq!(
            (resolve.action, resolve.dedup_key.as_str()),
            (EventAction::Resolve, "Backup failed")
        );
        let raw = "Subject: x\r\nContent-Type: text/html\r\n\
                   Content-Transfer-Encoding: base64\r\n\r\nPGI+ZGlzayAmbHQ7IDUlPC9iPg==\r\n";
        assert_eq!(
            parse(raw.as_bytes(), "x", now()).fields.details,
            "disk < 5%"
        );
        assert_eq!(
            parse(b"\r\n\r\nbody", "x", now()).fields.summary,
            "(no subject)"
        );
    }
}
