//! Email subscription over HTTP (comms spec §4.8): `POST /subscribe` answers alike for
//! known and unknown addresses and is rate limited per client IP; confirmation and
//! unsubscribe links show a page with one button on `GET` (mail scanners prefetch) and act
//! on `POST`. `POST /unsubscribe?token=…` is also the RFC 8058 one-click target, whatever
//! the body (`List-Unsubscribe=One-Click`).

use std::collections::HashMap;
use std::str::FromStr as _;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{Extensions, HeaderMap, Response, StatusCode};
use jiff::SignedDuration;

use super::html;
use crate::domain::escape;
use crate::http::AppState;
use crate::http::client_ip::client_ip;
use crate::store::statuspage::subscribers::{self, TokenPurpose};
use crate::web::statuspage::html as pages;

/// Subscription requests per client IP per hour.
const PER_IP: (u32, SignedDuration) = (10, SignedDuration::from_hours(1));

/// The one answer to every accepted subscription request, known address or not.
pub const ACCEPTED: &str = "Thanks. If that address can receive mail, a confirmation link is \
                            on its way; nothing is sent until it is confirmed.";

/// `POST /subscribe` (`email`, `components` repeated: component ids or keys).
pub async fn subscribe(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let config = state.config.current();
    let snapshot = state.statuspage.current().snapshot.clone();
    let now = state.clock.now();
    let peer = client_ip(&extensions, &headers, &config.settings.trusted_proxies);
    // TODO(#5): the limiter keeps a window per address it has seen until restart; prune
    // idle ones if that ever shows in memory.
    if state
        .limiter
        .admit(&format!("statuspage.subscribe:{peer}"), PER_IP, now)
        .is_err()
    {
        let message = "Too many subscription requests from your network; try again later.";
        let page = pages::subscribe_form(&snapshot, Some(message));
        return html(StatusCode::TOO_MANY_REQUESTS, page);
    }

    let form = parse_form(&body);
    let email = form
        .iter()
        .find(|(k, _)| k == "email")
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    if !is_address(&email) {
        let page = pages::subscribe_form(&snapshot, Some("That is not an email address."));
        return html(StatusCode::BAD_REQUEST, page);
    }
    let components = config.statuspage.components.iter();
    let chosen: Vec<String> = components
        .filter(|c| {
            form.iter()
                .any(|(k, v)| k == "components" && (*v == c.public_id || *v == c.key))
        })
        .map(|c| c.key.clone())
        .collect();

    match subscribers::subscribe(&state.store, &email, &chosen, now).await {
        Ok(_) => {
            state.wake.notify_one();
            html(
                StatusCode::OK,
                pages::subscribe_form(&snapshot, Some(ACCEPTED)),
            )
        }
        Err(err) => {
            tracing::error!(error = %err, "subscription not stored");
            let message = "Your request could not be recorded; try again in a minute.";
            let page = pages::subscribe_form(&snapshot, Some(message));
            html(StatusCode::SERVICE_UNAVAILABLE, page)
        }
    }
}

/// An address lettre can send to, of sane length, in the plain `local@domain` form: one
/// `@` and no quoted local part, so the relay and every reader of it see one address.
fn is_address(text: &str) -> bool {
    (3..=254).contains(&text.len())
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
        && text.matches('@').count() == 1
        && !text.contains('"')
        && lettre::Address::from_str(text).is_ok()
}

type TokenQuery = Query<HashMap<String, String>>;

fn token(query: &HashMap<String, String>) -> &str {
    query.get("token").map_or("", |t| t.as_str())
}

/// `GET /subscribe/confirm?token=…`: a button, if the link is live.
pub async fn confirm_page(
    State(state): State<AppState>,
    Query(query): TokenQuery,
) -> Response<Body> {
    let config = state.config.current();
    let token = token(&query);
    let live = subscribers::token_valid(
        &state.store,
        token,
        TokenPurpose::Confirm,
        state.clock.now(),
    );
    let name = config.statuspage.name.clone();
    match live.await {
        Ok(true) => {
            let action = format!("/subscribe/confirm?token={token}");
            let text = "Press the button to start receiving status notices by email.";
            html(
                StatusCode::OK,
                message_page(
                    &name,
                    "Confirm your subscription",
                    text,
                    Some((&action, "Confirm")),
                ),
            )
        }
        Ok(false) => html(StatusCode::NOT_FOUND, expired(&name)),
        Err(err) => unavailable(&name, &err),
    }
}

/// `POST /subscribe/confirm?token=…`.
pub async fn confirm(State(state): State<AppState>, Query(query): TokenQuery) -> Response<Body> {
    let config = state.config.current();
    let name = config.statuspage.name.clone();
    match subscribers::confirm(&state.store, token(&query), state.clock.now()).await {
        Ok(true) => {
            let text = "You will receive an email when the status changes. Every notice has an \
                        unsubscribe link.";
            html(
                StatusCode::OK,
                message_page(&name, "Subscription confirmed", text, None),
            )
        }
        Ok(false) => html(StatusCode::NOT_FOUND, expired(&name)),
        Err(err) => unavailable(&name, &err),
    }
}

/// `GET /unsubscribe?token=…`: a button, if the link is live.
pub async fn unsubscribe_page(
    State(state): State<AppState>,
    Query(query): TokenQuery,
) -> Response<Body> {
    let config = state.config.current();
    let token = token(&query);
    let now = state.clock.now();
    let live = subscribers::token_valid(&state.store, token, TokenPurpose::Unsubscribe, now);
    let name = config.statuspage.name.clone();
    match live.await {
        Ok(true) => {
            let action = format!("/unsubscribe?token={token}");
            let text = "Press the button to stop all status notices to this address.";
            html(
                StatusCode::OK,
                message_page(&name, "Unsubscribe", text, Some((&action, "Unsubscribe"))),
            )
        }
        Ok(false) => html(StatusCode::OK, gone(&name)),
        Err(err) => unavailable(&name, &err),
    }
}

/// `POST /unsubscribe?token=…`, from the page's button or a mail client's one-click
/// request. Unsubscribing twice answers like the first time: the address gets nothing.
pub async fn unsubscribe(
    State(state): State<AppState>,
    Query(query): TokenQuery,
) -> Response<Body> {
    let config = state.config.current();
    let name = config.statuspage.name.clone();
    match subscribers::unsubscribe(&state.store, token(&query), state.clock.now()).await {
        Ok(true) => {
            let text = "This address will receive no more status notices.";
            html(
                StatusCode::OK,
                message_page(&name, "Unsubscribed", text, None),
            )
        }
        Ok(false) => html(StatusCode::OK, gone(&name)),
        Err(err) => unavailable(&name, &err),
    }
}

fn expired(name: &str) -> String {
    let text = "This confirmation link is not valid or has expired (links work for 48 hours). \
                Subscribe again to get a new one.";
    message_page(name, "Link not valid", text, None)
}

fn gone(name: &str) -> String {
    let text = "This link is not valid any more; the address is not subscribed.";
    message_page(name, "Not subscribed", text, None)
}

fn unavailable(name: &str, err: &crate::store::StoreError) -> Response<Body> {
    tracing::error!(error = %err, "subscription change not stored");
    let text = "That could not be recorded; try again in a minute.";
    html(
        StatusCode::SERVICE_UNAVAILABLE,
        message_page(name, "Try again", text, None),
    )
}

// TODO(#5): move these one-message pages into the status page templates
// (`web::statuspage::html`); until then every value is escaped here.
fn message_page(page_name: &str, title: &str, text: &str, form: Option<(&str, &str)>) -> String {
    let button = form.map_or_else(String::new, |(action, label)| {
        format!(
            "<form method=\"post\" action=\"{}\"><button type=\"submit\">{}</button></form>",
            escape::html(action),
            escape::html(label)
        )
    });
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · {name}</title><link rel=\"stylesheet\" href=\"/statuspage.css\">\
         </head><body><header class=\"top\"><a class=\"brand name\" href=\"/\">{name}</a>\
         </header><main><h1>{title}</h1><p>{text}</p>{button}</main></body></html>",
        title = escape::html(title),
        name = escape::html(page_name),
        text = escape::html(text),
    )
}

/// `application/x-www-form-urlencoded` pairs, percent- and `+`-decoded.
pub fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    body.split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let mut parts = pair.splitn(2, |b| *b == b'=');
            let key = decode(parts.next().unwrap_or_default());
            let value = decode(parts.next().unwrap_or_default());
            (key, value)
        })
        .collect()
}

fn decode(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_plus_percent_and_repeats() {
        let pairs = parse_form(b"email=a%2Bb%40example.com&components=x&components=y+z&bad=%zz%4");

        assert_eq!(
            pairs,
            vec![
                ("email".into(), "a+b@example.com".into()),
                ("components".into(), "x".into()),
                ("components".into(), "y z".into()),
                ("bad".into(), "%zz%4".into()),
            ]
        );
    }

    #[test]
    fn addresses_are_checked() {
        assert!(is_address("ana@example.com"));
        assert!(!is_address("ana"));
        assert!(!is_address("ana @example.com"));
        assert!(!is_address("ana@example.com\r\nBcc: x@y.z"));
        assert!(!is_address("\"ana@evil.example\"@example.com"));
        assert!(!is_address("ana@evil.example@example.com"));
    }
}
