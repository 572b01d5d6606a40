//! A small client for Slack's Web API and incoming webhooks (comms spec §2.6, §2.8):
//! `chat.postMessage`, `chat.update`, `views.open`, replies through a command's `response_url`, and
//! webhook-only posts.
//!
//! Slack answers most failures with HTTP 200 and `{"ok":false,"error":"…"}`, so we branch on
//! `ok`, not on the status, except 429, whose `Retry-After` pauses the channel. Each
//! `error` code is sorted into a [`SlackError`]: retry later, post the message anew (it was
//! deleted or can no longer be edited), the channel or token is unusable, or rejected.
//! The bot token and webhook URLs are secrets: never logged, and stripped from errors.

use std::sync::OnceLock;
use std::time::Duration;

use jiff::Timestamp;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};

use super::{SEND_TIMEOUT, retry_after};
use crate::domain::slack::blocks;

/// How long a 429 without `Retry-After` pauses the channel.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Why a call did not go through.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SlackError {
    /// 429: wait `after`, then send again; never drop.
    #[error("rate limited; retry in {} s", after.as_secs())]
    RateLimited { after: Duration },
    /// Network trouble, 5xx, or a transient error code (`internal_error`, `fatal_error`…).
    #[error("temporary failure: {0}")]
    Retry(String),
    /// The message is gone or frozen (`message_not_found`, `cant_update_message`,
    /// `edit_window_closed`): post a new one and keep its `ts`.
    #[error("{0}: the message can no longer be edited")]
    PostAnew(String),
    /// The token or channel is unusable (`invalid_auth`, `not_in_channel`…): a person must
    /// fix it; the channel is marked unhealthy.
    #[error("{0}")]
    Unhealthy(String),
    /// Refused for this message alone (`invalid_blocks`, `msg_too_long`…), or it failed
    /// our own Block Kit checks before sending.
    #[error("rejected: {0}")]
    Reject(String),
}

/// Sorts a Slack `error` code.
pub fn classify(code: &str) -> SlackError {
    let code = code.to_string();
    match code.as_str() {
        "message_not_found" | "cant_update_message" | "edit_window_closed" => {
            SlackError::PostAnew(code)
        }
        "invalid_auth"
        | "not_authed"
        | "token_revoked"
        | "token_expired"
        | "account_inactive"
        | "missing_scope"
        | "no_permission"
        | "channel_not_found"
        | "is_archived"
        | "is_inactive"
        | "not_in_channel"
        | "team_access_not_granted"
        | "ekm_access_denied"
        | "org_login_required" => SlackError::Unhealthy(code),
        "ratelimited"
        | "internal_error"
        | "fatal_error"
        | "service_unavailable"
        | "request_timeout"
        | "team_added_to_org" => SlackError::Retry(code),
        _ => SlackError::Reject(code),
    }
}

/// The HTTP client every Slack call shares: bounded time, no redirects (a redirect could
/// carry the bearer token elsewhere).
pub fn http_client() -> reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .timeout(SEND_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("dutybell/", env!("CARGO_PKG_VERSION")))
                .build()
                // Only a broken TLS backend fails here; the default client then still works.
                .unwrap_or_default()
        })
        .clone()
}

/// Where a posted message lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Posted {
    pub channel: String,
    pub ts: String,
}

/// The Web API with a bot token.
#[derive(Clone)]
pub struct SlackApi {
    http: reqwest::Client,
    /// `https://slack.com/api`, or a test fake.
    base: String,
    token: SecretString,
}

impl SlackApi {
    pub fn new(http: reqwest::Client, base: &str, token: SecretString) -> SlackApi {
        SlackApi {
            http,
            base: base.trim_end_matches('/').to_string(),
            token,
        }
    }

    /// `chat.postMessage`; a thread reply when `thread_ts` is set, also shown in the
    /// channel when `reply_broadcast`.
    pub async fn post_message(
        &self,
        channel: &str,
        message: &Value,
        thread_ts: Option<&str>,
        reply_broadcast: bool,
        now: Timestamp,
    ) -> Result<Posted, SlackError> {
        blocks::validate(message).map_err(SlackError::Reject)?;
        let mut body = json!({
            "channel": channel,
            "text": message["text"],
            "blocks": message["blocks"],
            "unfurl_links": false,
            "unfurl_media": false,
        });
        if let Some(ts) = thread_ts {
            body["thread_ts"] = json!(ts);
            if reply_broadcast {
                body["reply_broadcast"] = json!(true);
            }
        }
        let reply = self.call("chat.postMessage", &body, now).await?;
        posted(&reply, channel)
    }

    /// `views.open` of `view` (a modal) for the `trigger_id` of a command or click; the
    /// opened view's id. A trigger expires about 3 s after Slack sent it, so the caller
    /// waits at most `timeout` (the client's usual bound is far longer).
    pub async fn open_view(
        &self,
        trigger_id: &str,
        view: &Value,
        timeout: Duration,
        now: Timestamp,
    ) -> Result<String, SlackError> {
        blocks::validate(view).map_err(SlackError::Reject)?;
        let body = json!({"trigger_id": trigger_id, "view": view});
        let reply = self
            .call_within("views.open", &body, Some(timeout), now)
            .await?;
        let id = reply["view"]["id"]
            .as_str()
            .ok_or_else(|| SlackError::Reject("Slack's reply carries no view id".into()))?;
        Ok(id.to_string())
    }

    /// `chat.update` of the message at `channel` + `ts`.
    pub async fn update(
        &self,
        channel: &str,
        ts: &str,
        message: &Value,
        now: Timestamp,
    ) -> Result<Posted, SlackError> {
        blocks::validate(message).map_err(SlackError::Reject)?;
        let body = json!({
            "channel": channel,
            "ts": ts,
            "text": message["text"],
            "blocks": message["blocks"],
        });
        let reply = self.call("chat.update", &body, now).await?;
        posted(&reply, channel)
    }

    /// `conversations.create` of a public channel `name`; its id. `name_taken` comes back
    /// as `Reject("name_taken")` for the caller to try another name.
    pub async fn create_channel(&self, name: &str, now: Timestamp) -> Result<String, SlackError> {
        let body = json!({"name": name, "is_private": false});
        let reply = self.call("conversations.create", &body, now).await?;
        let id = reply["channel"]["id"]
            .as_str()
            .ok_or_else(|| SlackError::Reject("Slack's reply carries no channel id".into()))?;
        Ok(id.to_string())
    }

    /// `conversations.setTopic`.
    pub async fn set_topic(
        &self,
        channel: &str,
        topic: &str,
        now: Timestamp,
    ) -> Result<(), SlackError> {
        let body = json!({"channel": channel, "topic": topic});
        self.call("conversations.setTopic", &body, now).await?;
        Ok(())
    }

    /// `conversations.invite` of `users` (member ids); people already there are fine.
    pub async fn invite(
        &self,
        channel: &str,
        users: &[&str],
        now: Timestamp,
    ) -> Result<(), SlackError> {
        let body = json!({"channel": channel, "users": users.join(","), "force": true});
        match self.call("conversations.invite", &body, now).await {
            Err(SlackError::Reject(code)) if code == "already_in_channel" => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// `conversations.archive`; a channel archived already is fine.
    pub async fn archive(&self, channel: &str, now: Timestamp) -> Result<(), SlackError> {
        let body = json!({"channel": channel});
        match self.call("conversations.archive", &body, now).await {
            Err(SlackError::Unhealthy(code)) if code == "is_archived" => Ok(()),
            Err(SlackError::Reject(code)) if code == "already_archived" => Ok(()),
            other => other.map(|_| ()),
        }
    }

    async fn call(&self, method: &str, body: &Value, now: Timestamp) -> Result<Value, SlackError> {
        self.call_within(method, body, None, now).await
    }

    /// [`Self::call`], bounded by `timeout` rather than the client's own when set.
    async fn call_within(
        &self,
        method: &str,
        body: &Value,
        timeout: Option<Duration>,
        now: Timestamp,
    ) -> Result<Value, SlackError> {
        let mut request = self
            .http
            .post(format!("{}/{method}", self.base))
            .bearer_auth(self.token.expose_secret())
            .json(body);
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        let response = request
            .send()
            .await
            .map_err(|e| SlackError::Retry(format!("sending: {}", e.without_url())))?;
        let status = response.status();
        if status.as_u16() == 429 {
            let after = retry_after(response.headers(), now).unwrap_or(DEFAULT_RETRY_AFTER);
            return Err(SlackError::RateLimited { after });
        }
        let text = response
            .text()
            .await
            .map_err(|e| SlackError::Retry(format!("reading the reply: {}", e.without_url())))?;
        match serde_json::from_str::<Value>(&text) {
            Ok(reply) if reply["ok"] == json!(true) => Ok(reply),
            Ok(reply) if reply["ok"] == json!(false) => {
                let code = reply["error"].as_str().unwrap_or("unknown_error");
                Err(classify(code))
            }
            _ if status.is_server_error() => {
                Err(SlackError::Retry(format!("Slack answered {status}")))
            }
            _ => Err(SlackError::Reject(format!(
                "Slack answered {status} without an ok field"
            ))),
        }
    }
}

fn posted(reply: &Value, channel: &str) -> Result<Posted, SlackError> {
    let ts = reply["ts"]
        .as_str()
        .ok_or_else(|| SlackError::Reject("Slack's reply carries no ts".into()))?;
    Ok(Posted {
        channel: reply["channel"].as_str().unwrap_or(channel).to_string(),
        ts: ts.to_string(),
    })
}

/// Whether `url` may receive a `response_url` reply: Slack's hooks host, or the host of
/// the configured API base (a local fake in tests). Anything else is not Slack's.
pub fn response_url_allowed(url: &str, api_base: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else {
        return false;
    };
    let slack_hooks = url.scheme() == "https" && url.host_str() == Some("hooks.slack.com");
    let same_as_api = reqwest::Url::parse(api_base).is_ok_and(|base| {
        base.scheme() == url.scheme()
            && base.host_str() == url.host_str()
            && base.port_or_known_default() == url.port_or_known_default()
    });
    slack_hooks || same_as_api
}

/// Replies through a command's or click's `response_url` (`{"response_type":
/// "ephemeral","text":…}` or `{"replace_original":…}`). The URL carries a token: it is
/// never logged.
pub async fn respond(
    http: &reqwest::Client,
    response_url: &str,
    body: &Value,
    now: Timestamp,
) -> Result<(), SlackError> {
    plain_post(http, response_url, body, now).await
}

/// Webhook-only mode (§2.8): one message to the incoming webhook, whose URL fixes the
/// channel. Errors arrive as plain-text codes.
pub async fn webhook_post(
    http: &reqwest::Client,
    url: &SecretString,
    message: &Value,
    now: Timestamp,
) -> Result<(), SlackError> {
    blocks::validate(message).map_err(SlackError::Reject)?;
    let body = json!({"text": message["text"], "blocks": message["blocks"]});
    plain_post(http, url.expose_secret(), &body, now).await
}

async fn plain_post(
    http: &reqwest::Client,
    url: &str,
    body: &Value,
    now: Timestamp,
) -> Result<(), SlackError> {
    let response = http
        .post(url)
        .json(body)
        .send()
        .await
        .map_err(|e| SlackError::Retry(format!("sending: {}", e.without_url())))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    if status.as_u16() == 429 {
        let after = retry_after(response.headers(), now).unwrap_or(DEFAULT_RETRY_AFTER);
        return Err(SlackError::RateLimited { after });
    }
    let text = response.text().await.unwrap_or_default();
    let code: String = text
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(60)
        .collect();
    let error = format!("{} {code}", status.as_u16()).trim().to_string();
    Err(match (status.as_u16(), code.as_str()) {
        (_, "no_service" | "invalid_token" | "channel_is_archived" | "channel_not_found") => {
            SlackError::Unhealthy(error)
        }
        (403 | 404 | 410, _) => SlackError::Unhealthy(error),
        (408, _) | (500..=599, _) => SlackError::Retry(error),
        _ => SlackError::Reject(error),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_sort_into_what_to_do_next() {
        assert_eq!(
            classify("message_not_found"),
            SlackError::PostAnew("message_not_found".into())
        );
        assert_eq!(
            classify("edit_window_closed"),
            SlackError::PostAnew("edit_window_closed".into())
        );
        assert_eq!(
            classify("not_in_channel"),
            SlackError::Unhealthy("not_in_channel".into())
        );
        assert_eq!(
            classify("invalid_auth"),
            SlackError::Unhealthy("invalid_auth".into())
        );
        assert_eq!(
            classify("internal_error"),
            SlackError::Retry("internal_error".into())
        );
        assert_eq!(
            classify("invalid_blocks"),
            SlackError::Reject("invalid_blocks".into())
        );
    }

    /// A local stand-in on 127.0.0.1: the path picks the answer, bodies are recorded.
    async fn fake() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
        use axum::response::IntoResponse as _;
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = seen.clone();
        let router =
            axum::Router::new().fallback(move |uri: axum::http::Uri, body: axum::body::Bytes| {
                let record = record.clone();
                async move {
                    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    record.lock().unwrap().push(json);
                    let (status, retry, text) = match uri.path() {
                        "/api/chat.postMessage" => (200, None, r#"{"ok":true,"ts":"1.2"}"#),
                        "/api/chat.update" => (200, None, r#"{"ok":false,"error":"invalid_auth"}"#),
                        "/limited/api/chat.postMessage" | "/limited" => (429, Some("7"), ""),
                        "/down/api/chat.postMessage" => (502, None, "<html>bad gateway</html>"),
                        "/hook/ok" => (200, None, "ok"),
                        "/hook/archived" => (410, None, "channel_is_archived"),
                        "/hook/bad" => (400, None, "invalid_payload"),
                        "/hook/broken" => (500, None, "rollup_error"),
                        _ => (404, None, "no_service"),
                    };
                    let mut response = (
                        axum::http::StatusCode::from_u16(status).unwrap(),
                        text.to_string(),
                    )
                        .into_response();
                    if let Some(after) = retry {
                        response
                            .headers_mut()
                            .insert("retry-after", after.parse().unwrap());
                    }
                    response
                }
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (format!("http://{addr}"), seen)
    }

    fn now() -> Timestamp {
        "2025-06-12T03:00:00Z".parse().unwrap()
    }

    fn message() -> Value {
        json!({"text": "hello", "blocks": [{"type": "section",
               "text": {"type": "mrkdwn", "text": "hello"}}]})
    }

    #[tokio::test]
    async fn web_api_replies_branch_on_ok_except_429() {
        let (base, seen) = fake().await;
        let token = SecretString::from("xoxb-unit");
        let api = SlackApi::new(http_client(), &format!("{base}/api"), token.clone());
        let limited = SlackApi::new(http_client(), &format!("{base}/limited/api"), token.clone());
        let down = SlackApi::new(http_client(), &format!("{base}/down/api"), token);

        let posted = api
            .post_message("C1", &message(), Some("1.1"), true, now())
            .await;
        let updated = api.update("C1", "1.2", &message(), now()).await;
        let throttled = limited
            .post_message("C1", &message(), None, false, now())
            .await;
        let gateway = down
            .post_message("C1", &message(), None, false, now())
            .await;
        let too_big = api
            .post_message("C1", &json!({"text": "x".repeat(4001)}), None, false, now())
            .await;

        assert_eq!(
            posted,
            Ok(Posted {
                channel: "C1".into(),
                ts: "1.2".into()
            })
        );
        assert_eq!(updated, Err(SlackError::Unhealthy("invalid_auth".into())));
        assert_eq!(
            throttled,
            Err(SlackError::RateLimited {
                after: Duration::from_secs(7)
            })
        );
        assert_eq!(
            gateway,
            Err(SlackError::Retry("Slack answered 502 Bad Gateway".into()))
        );
        assert_eq!(
            too_big,
            Err(SlackError::Reject(
                "text is 4001 characters; at most 4000".into()
            ))
        );
        let bodies = seen.lock().unwrap().clone();
        assert_eq!(bodies.len(), 4, "the oversized message never left");
        assert_eq!(bodies[0]["thread_ts"], "1.1");
        assert_eq!(bodies[0]["reply_broadcast"], true);
        assert_eq!(bodies[1]["ts"], "1.2");
    }

    #[tokio::test]
    async fn webhook_posts_read_plain_text_codes() {
        let (base, seen) = fake().await;
        let hook = |path: &str| SecretString::from(format!("{base}/hook/{path}"));
        let post = |url: SecretString| async move {
            webhook_post(&http_client(), &url, &message(), now()).await
        };

        assert_eq!(post(hook("ok")).await, Ok(()));
        assert_eq!(
            post(hook("archived")).await,
            Err(SlackError::Unhealthy("410 channel_is_archived".into()))
        );
        assert_eq!(
            post(hook("gone")).await,
            Err(SlackError::Unhealthy("404 no_service".into()))
        );
        assert_eq!(
            post(hook("bad")).await,
            Err(SlackError::Reject("400 invalid_payload".into()))
        );
        assert_eq!(
            post(hook("broken")).await,
            Err(SlackError::Retry("500 rollup_error".into()))
        );
        assert_eq!(
            post(SecretString::from(format!("{base}/limited"))).await,
            Err(SlackError::RateLimited {
                after: Duration::from_secs(7)
            })
        );
        assert_eq!(seen.lock().unwrap()[0], message());
    }

    #[test]
    fn response_urls_go_only_to_slack_or_the_configured_api_host() {
        let base = "http://127.0.0.1:4000/api";

        assert!(response_url_allowed(
            "https://hooks.slack.com/commands/T1/2/x",
            base
        ));
        assert!(response_url_allowed(
            "http://127.0.0.1:4000/respond/1",
            base
        ));
        assert!(!response_url_allowed(
            "http://127.0.0.1:4001/respond/1",
            base
        ));
        assert!(!response_url_allowed(
            "http://hooks.slack.com/commands/T1",
            base
        ));
        assert!(!response_url_allowed(
            "https://hooks.slack.com.evil.example/x",
            base
        ));
        assert!(!response_url_allowed("not a url", base));
    }
}
