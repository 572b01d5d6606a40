//! The inbound SMTP listener for email integrations (intake spec §1 "Email"), meant to sit
//! behind the team's MX. It speaks just enough ESMTP for a relay to hand over mail: each
//! accepted message goes through the same intake pipeline as HTTP deliveries
//! (`http::intake::apply_events`), and the reply says whether it was committed:
//! `250` stored, `451 4.3.0` storage trouble (the relay retries), `550 5.1.1` unknown
//! address, `552 5.3.4` over 10 MiB.

use std::sync::atomic::Ordering;

use tokio::io::{
    AsyncBufReadExt as _, AsyncRead, AsyncReadExt as _, AsyncWriteExt as _, BufReader,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::config::{Integration, IntegrationKind};
use crate::domain::fingerprint::sha256_hex;
use crate::http::{AppError, AppState};
use crate::intake::email;

/// Largest message accepted.
pub const MAX_MESSAGE_BYTES: usize = 10 * 1024 * 1024;
/// Longest command line read; longer ones end the session.
const MAX_LINE: usize = 4096;
/// Most recipients per message.
const MAX_RECIPIENTS: usize = 50;

/// Accepts connections until `stop` turns true.
pub async fn serve(listener: TcpListener, state: AppState, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => {
                    tokio::spawn(session(socket, state.clone()));
                }
                Err(err) => tracing::warn!(error = %err, "smtp accept failed"),
            },
            _ = stop.changed() => break,
        }
    }
    tracing::info!("smtp listener stopped");
}

#[tracing::instrument(skip_all, fields(smtp.session = %ulid::Ulid::new()))]
async fn session(socket: TcpStream, state: AppState) {
    let (read, mut write) = socket.into_split();
    let mut reader = BufReader::new(read);
    let mut sender = String::new();
    let mut recipients: Vec<Integration> = Vec::new();
    if write
        .write_all(b"220 dutybell ESMTP ready\r\n")
        .await
        .is_err()
    {
        return;
    }
    loop {
        let Some(line) = read_line(&mut reader).await else {
            return;
        };
        let upper = line.to_ascii_uppercase();
        let reply = if upper.starts_with("EHLO") {
            format!("250-dutybell\r\n250-SIZE {MAX_MESSAGE_BYTES}\r\n250 8BITMIME\r\n")
        } else if upper.starts_with("HELO") {
            "250 dutybell\r\n".to_string()
        } else if upper.starts_with("MAIL FROM:") {
            sender = address(&line["MAIL FROM:".len()..]);
            recipients.clear();
            "250 2.1.0 OK\r\n".to_string()
        } else if upper.starts_with("RCPT TO:") {
            rcpt(&state, &line["RCPT TO:".len()..], &mut recipients)
        } else if upper == "DATA" {
            if recipients.is_empty() {
                "503 5.5.1 RCPT first\r\n".to_string()
            } else {
                if write
                    .write_all(b"354 end with <CRLF>.<CRLF>\r\n")
                    .await
                    .is_err()
                {
                    return;
                }
                let Some(message) = read_data(&mut reader).await else {
                    return;
                };
                let reply = deliver(&state, &sender, &recipients, message).await;
                recipients.clear();
                reply
            }
        } else if upper == "RSET" {
            recipients.clear();
            "250 2.0.0 OK\r\n".to_string()
        } else if upper == "NOOP" {
            "250 2.0.0 OK\r\n".to_string()
        } else if upper == "QUIT" {
            let _ = write.write_all(b"221 2.0.0 bye\r\n").await;
            return;
        } else {
            "502 5.5.2 command not implemented\r\n".to_string()
        };
        if write.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn rcpt(state: &AppState, arg: &str, recipients: &mut Vec<Integration>) -> String {
    let config = state.config.current();
    if recipients.len() >= MAX_RECIPIENTS {
        return "452 4.5.3 too many recipients\r\n".to_string();
    }
    let address = address(arg).to_ascii_lowercase();
    let found = config
        .integration_by_key_hash(&sha256_hex(&[&address]))
        .filter(|integration| integration.kind == IntegrationKind::Email);
    match found {
        Some(integration) => {
            recipients.push(integration.clone());
            "250 2.1.5 OK\r\n".to_string()
        }
        None => "550 5.1.1 no such mailbox\r\n".to_string(),
    }
}

/// Stores the message once per recipient integration; the reply covers all of them.
async fn deliver(
    state: &AppState,
    sender: &str,
    recipients: &[Integration],
    message: Option<Vec<u8>>,
) -> String {
    let Some(raw) = message else {
        tracing::error!("smtp message over the size limit; rejected");
        return "552 5.3.4 message too big\r\n".to_string();
    };
    if state.draining.load(Ordering::SeqCst) {
        return "421 4.3.2 shutting down, try again later\r\n".to_string();
    }
    let event = email::parse(&raw, sender, state.clock.now());
    for integration in recipients {
        let trigger = event.action == crate::domain::delivery::EventAction::Trigger;
        let stored = match crate::http::intake::admit(state, integration, trigger) {
            Ok(()) => {
                let events = std::slice::from_ref(&event);
                crate::http::intake::apply_events(state, integration, events, &raw).await
            }
            Err(err) => Err(err),
        };
        match stored {
            Ok(_) => tracing::info!(integration.id = %integration.id, "mail stored"),
            Err(AppError::Throttled { .. }) => {
                return "451 4.7.1 too many alerts, try later\r\n".into();
            }
            Err(err) => {
                tracing::error!(integration.id = %integration.id, error = %err, "mail not stored");
                return "451 4.3.0 not stored, try again later\r\n".into();
            }
        }
    }
    "250 2.0.0 stored\r\n".to_string()
}

/// The address inside `<…>` (or the bare argument), without parameters.
fn address(arg: &str) -> String {
    let arg = arg.trim();
    match (arg.find('<'), arg.find('>')) {
        (Some(open), Some(close)) if open < close => arg[open + 1..close].trim().to_string(),
        _ => arg.split_whitespace().next().unwrap_or("").to_string(),
    }
}

async fn read_line<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> Option<String> {
    let mut line = Vec::new();
    let read = (&mut *reader)
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut line)
        .await
        .ok()?;
    if read == 0 || !line.ends_with(b"\n") {
        return None;
    }
    Some(String::from_utf8_lossy(&line).trim_end().to_string())
}

/// Reads the DATA section up to the lone dot, undoing dot-stuffing. `Some(None)` when it was
/// larger than the limit (read to the end, then refused); `None` when the peer hung up.
async fn read_data<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> Option<Option<Vec<u8>>> {
    let mut message = Vec::new();
    let mut too_big = false;
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await.ok()? == 0 {
            return None;
        }
        if line == b".\r\n" || line == b".\n" {
            return Some((!too_big).then_some(message));
        }
        let content = line.strip_prefix(b".").unwrap_or(&line);
        if message.len() + content.len() > MAX_MESSAGE_BYTES {
            too_big = true;
            message.clear();
        } else if !too_big {
            message.extend_from_slice(content);
        }
    }
}
