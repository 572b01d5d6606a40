//! Twilio callbacks (comms spec §3.7), each checked against `X-Twilio-Signature` first.
//!
//! `POST /twilio/voice/{token}` is the `<Gather>` action of a voice page: it acts on the
//! signed ack link in the path when the callee pressed 1, through the same code path as
//! `/a/{token}`. Twilio reads the answer out, so every outcome past the signature check is
//! TwiML with 200, an expired link included.
//!
//! `POST /twilio/status/{message id}` is the `StatusCallback` of SMS and voice pages: an
//! SMS `undelivered`/`failed` or a call `busy`/`no-answer`/`failed`/`canceled` turns the
//! page into a failed attempt, which falls through to the person's next rule.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret as _;
use sha1::Sha1;

use super::AppState;
use crate::domain::action_link;
use crate::domain::slack::form;
use crate::store::StoreError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/twilio/voice/{token}", post(voice))
        .route("/twilio/status/{message_id}", post(status))
}

/// The callback's parameters, once its signature checks out; else the 403 to answer.
fn verified(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<(String, String)>, (StatusCode, &'static str)> {
    let config = state.config.current();
    let params = form::parse(body);
    let Some(twilio) = &config.settings.twilio else {
        return Err((StatusCode::FORBIDDEN, "Twilio is not configured"));
    };
    // Twilio signs the URL it was given, which we built from the public URL.
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let url = format!("{}{path}", config.settings.public_url());
    let signature = headers
        .get("x-twilio-signature")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let token_secret = twilio.auth_token.expose_secret().as_bytes();
    if !signature_matches(token_secret, &url, &params, signature) {
        tracing::warn!("Twilio callback with a bad signature refused");
        return Err((StatusCode::FORBIDDEN, "bad signature"));
    }
    Ok(params)
}

async fn status(
    State(state): State<AppState>,
    Path(message_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = match verified(&state, &uri, &headers, &body) {
        Ok(params) => params,
        Err(refused) => return refused.into_response(),
    };
    let reported = form::field(&params, "MessageStatus")
        .or_else(|| form::field(&params, "CallStatus"))
        .unwrap_or_default();
    let Some(reason) = crate::notify::twilio::failed_status(reported) else {
        return StatusCode::NO_CONTENT.into_response();
    };
    // Only the numeric code: Twilio's texts quote phone numbers.
    let error = match form::field(&params, "ErrorCode").filter(|c| !c.is_empty()) {
        Some(code) => format!("Twilio reported {reason} (error {code})"),
        None => format!("Twilio reported {reason}"),
    };
    let now = state.clock.now();
    match crate::store::outbox::failed_after_send(&state.store, &message_id, &error, now).await {
        Ok(0) => StatusCode::NO_CONTENT.into_response(),
        Ok(rows) => {
            tracing::warn!(message.id = %message_id, status = reported, rows, "page not delivered");
            state.wake.notify_one();
            StatusCode::NO_CONTENT.into_response()
        }
        Err(err) => {
            // Not taken: say so, so it shows in Twilio's request log.
            tracing::error!(message.id = %message_id, error = %err, "status callback not recorded");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

async fn voice(
    State(state): State<AppState>,
    Path(token): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let config = state.config.current();
    let params = match verified(&state, &uri, &headers, &body) {
        Ok(params) => params,
        Err(refused) => return refused.into_response(),
    };
    let secret = config.settings.signing_secret.expose_secret();
    let claim = match action_link::verify(&token, secret.as_bytes(), state.clock.now()) {
        Ok(claim) => claim,
        Err(err) => {
            tracing::info!(error = %err, "voice ack with an unusable link");
            return say("This link has expired.");
        }
    };
    if form::field(&params, "Digits") != Some("1") {
        return say("Not acknowledged.");
    }
    match super::actions::apply(&state, &claim, "voice").await {
        Ok(_) => {
            tracing::info!(alert.id = claim.target, user.id = %claim.person, "voice ack");
            say("Acknowledged.")
        }
        Err(StoreError::Conflict(reason)) => say(&format!("Nothing to do: {reason}.")),
        Err(err) => {
            tracing::error!(alert.id = claim.target, error = %err, "voice ack not recorded");
            say("dutybell could not record that. Please try again.")
        }
    }
}

/// `<Response><Say>text</Say></Response>` as `text/xml`.
fn say(text: &str) -> Response {
    let twiml = format!(
        "<Response><Say>{}</Say></Response>",
        crate::domain::escape::xml(text)
    );
    ([("content-type", "text/xml")], twiml).into_response()
}

/// Whether `signature` is base64 HMAC-SHA1, keyed with the auth token, of `url` followed
/// by every POST parameter sorted by name, each as name then value. Constant-time.
pub fn signature_matches(
    auth_token: &[u8],
    url: &str,
    params: &[(String, String)],
    signature: &str,
) -> bool {
    let Ok(expected) = STANDARD.decode(signature) else {
        return false;
    };
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac =
        <Hmac<Sha1> as Mac>::new_from_slice(auth_token).expect("HMAC takes any key length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac.verify_slice(&expected).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Twilio's worked example from its webhook security documentation (the signature
    /// also checked with Python's `hmac`).
    #[test]
    fn twilios_documented_example_verifies() {
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let good = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";
        assert!(signature_matches(b"12345", url, &params, good));
        assert!(!signature_matches(b"12346", url, &params, good));
        assert!(!signature_matches(b"12345", url, &params[1..], good));
        assert!(!signature_matches(b"12345", url, &params, "not base64!"));
    }
}
