//! Slack app mode (issue #5, comms spec §2): `/incident` and button clicks come in signed,
//! the engine announces incidents in the incidents channel and keeps the announcement and
//! its thread in step. Slack's Web API is a local fake on 127.0.0.1 that records every
//! call and answers in Slack's shapes.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse as _, Response};
use dutybell::domain::incident::Status;
use dutybell::store::incidents::{self, Incident, IncidentRef};
use jiff::SignedDuration;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::helpers::{SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, Setup, TestApp, spawn_app_with};

/// One request the fake received.
#[derive(Clone, Debug)]
pub(crate) struct Call {
    /// `chat.postMessage`, `chat.update`, `views.open`, or `respond` for `response_url`
    /// replies.
    pub(crate) method: String,
    pub(crate) authorization: String,
    pub(crate) body: Value,
}

type Scripted = (u16, Vec<(&'static str, String)>, String);

#[derive(Clone, Default)]
struct FakeState {
    calls: Arc<Mutex<Vec<Call>>>,
    /// Replies for the next Web API calls, in order; then Slack's normal answers.
    scripted: Arc<Mutex<VecDeque<Scripted>>>,
    posted: Arc<Mutex<u64>>,
}

/// A Slack Web API stand-in: `chat.postMessage` answers a fresh `ts` per message
/// (`1700000000.000100`, `…000101`, …), `chat.update` echoes the `ts`, `views.open`
/// answers view `V1`.
pub(crate) struct SlackFake {
    pub(crate) addr: SocketAddr,
    state: FakeState,
}

impl SlackFake {
    pub(crate) async fn start() -> SlackFake {
        let state = FakeState::default();
        let router = axum::Router::new()
            .fallback(fake_slack)
            .with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        SlackFake { addr, state }
    }

    pub(crate) fn calls(&self) -> Vec<Call> {
        self.state.calls.lock().unwrap().clone()
    }

    pub(crate) fn calls_to(&self, method: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method)
            .collect()
    }

    pub(crate) fn script(&self, status: u16, headers: &[(&'static str, &str)], body: &str) {
        let headers = headers.iter().map(|(k, v)| (*k, v.to_string())).collect();
        self.state
            .scripted
            .lock()
            .unwrap()
            .push_back((status, headers, body.to_string()));
    }

    pub(crate) fn response_url(&self) -> String {
        format!("http://{}/respond/T0/1/abc", self.addr)
    }
}

async fn fake_slack(
    State(state): State<FakeState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    let method = match path.strip_prefix("/api/") {
        Some(method) => method.to_string(),
        None if path.starts_with("/respond/") => "respond".to_string(),
        None => path.to_string(),
    };
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let authorization = crate::helpers::header(&headers, "authorization");
    state.calls.lock().unwrap().push(Call {
        method: method.clone(),
        authorization,
        body: body.clone(),
    });
    if method == "respond" {
        return (StatusCode::OK, "ok").into_response();
    }
    if let Some((status, headers, text)) = state.scripted.lock().unwrap().pop_front() {
        let mut response = (StatusCode::from_u16(status).unwrap(), text).into_response();
        for (name, value) in headers {
            response.headers_mut().insert(name, value.parse().unwrap());
        }
        return response;
    }
    let reply = match method.as_str() {
        "chat.postMessage" => {
            let mut n = state.posted.lock().unwrap();
            let ts = format!("1700000000.{:06}", 100 + *n);
            *n += 1;
            json!({"ok": true, "channel": body["channel"], "ts": ts})
        }
        "chat.update" => json!({"ok": true, "channel": body["channel"], "ts": body["ts"]}),
        "views.open" => json!({"ok": true, "view": {"id": "V1"}}),
        "conversations.create" => {
            let n = state.calls.lock().unwrap().len();
            json!({"ok": true, "channel": {"id": format!("C0OWN{n}"), "name": body["name"]}})
        }
        "conversations.setTopic" | "conversations.invite" | "conversations.archive" => {
            json!({"ok": true})
        }
        _ => json!({"ok": false, "error": "unknown_method"}),
    };
    axum::Json(reply).into_response()
}

/// Two people linked to Slack; the rest of the test team is not.
pub(crate) const PEOPLE: &str = r#"
[[person]]
id = "sam"
name = "Sam Lee"
email = "sam@example.com"
slack_id = "U0SAM"

[[person]]
id = "kim"
name = "Kim Park"
email = "kim@example.com"
slack_id = "U0KIM"
"#;

pub(crate) async fn slack_app() -> (TestApp, SlackFake) {
    let fake = SlackFake::start().await;
    let instance = format!(
        "[slack]\nincidents_channel = \"C0INC\"\nbot_token_env = \"SLACK_BOT_TOKEN\"\n\
         signing_secret_env = \"SLACK_SIGNING_SECRET\"\napi_base = \"http://{}/api\"\n",
        fake.addr
    );
    let app = spawn_app_with(Setup {
        instance,
        team: PEOPLE.into(),
        ..Setup::default()
    })
    .await;
    (app, fake)
}

/// Form encoding as Slack sends it.
pub(crate) fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                char::from(b).to_string()
            }
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `v0=` + hex HMAC-SHA256 of `v0:{ts}:{body}` under the signing secret (§2.2), computed
/// here independently of dutybell's own code.
fn signature(ts: i64, body: &str) -> String {
    use hmac::Mac as _;
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(SLACK_SIGNING_SECRET.as_bytes()).unwrap();
    mac.update(format!("v0:{ts}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

pub(crate) async fn post_signed(app: &TestApp, path: &str, body: String) -> reqwest::Response {
    let ts = app.clock.now().as_second();
    app.client
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts.to_string())
        .header("x-slack-signature", signature(ts, &body))
        .body(body)
        .send()
        .await
        .unwrap()
}

fn command_body(fake: &SlackFake, user: &str, text: &str) -> String {
    command_body_in(fake, user, "C0OPS", text)
}

fn command_body_in(fake: &SlackFake, user: &str, channel: &str, text: &str) -> String {
    format!(
        "token=legacy&team_id=T0&team_domain=acme&channel_id={channel}&channel_name=ops&\
         user_id={user}&user_name=x&command=%2Fincident&text={}&api_app_id=A0&\
         is_enterprise_install=false&response_url={}&trigger_id=1.2.3",
        enc(text),
        enc(&fake.response_url())
    )
}

/// `/incident <text>` from `user`; returns the ephemeral reply's text.
pub(crate) async fn command(app: &TestApp, fake: &SlackFake, user: &str, text: &str) -> String {
    command_in(app, fake, user, "C0OPS", text).await
}

/// `/incident <text>` from `user`, typed in `channel`.
pub(crate) async fn command_in(
    app: &TestApp,
    fake: &SlackFake,
    user: &str,
    channel: &str,
    text: &str,
) -> String {
    let body = command_body_in(fake, user, channel, text);
    let response = post_signed(app, "/slack/commands", body).await;
    assert_eq!(response.status(), 200);
    let reply: Value = response.json().await.unwrap();
    assert_eq!(reply["response_type"], "ephemeral");
    reply["text"].as_str().unwrap().to_string()
}

/// Every click Slack sends carries its own `action_ts`, so no two are the same request.
fn action_ts() -> String {
    static CLICKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = CLICKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("1700000001.{n:06}")
}

/// A click on an announcement button, as Slack posts it.
pub(crate) async fn click(
    app: &TestApp,
    fake: &SlackFake,
    user: &str,
    action_id: &str,
    value: &str,
) {
    let payload = json!({
        "type": "block_actions",
        "user": {"id": user, "username": "x", "team_id": "T0"},
        "team": {"id": "T0"},
        "container": {"type": "message", "channel_id": "C0INC",
                      "message_ts": "1700000000.000100"},
        "channel": {"id": "C0INC"},
        "message": {"ts": "1700000000.000100"},
        "response_url": fake.response_url(),
        "trigger_id": "1.2.3",
        "actions": [{"action_id": action_id, "block_id": "incident.actions",
                     "value": value, "type": "button", "action_ts": action_ts()}],
    });
    let body = format!("payload={}", enc(&payload.to_string()));
    let response = post_signed(app, "/slack/interactivity", body).await;
    assert_eq!(response.status(), 200);
}

pub(crate) async fn incident(app: &TestApp, number: i64) -> Incident {
    incidents::get(&app.store, &IncidentRef::Number(number))
        .await
        .unwrap()
}

pub(crate) fn header_of(call: &Call) -> String {
    call.body["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap()
        .to_string()
}

pub(crate) fn field_texts(call: &Call) -> Vec<String> {
    call.body["blocks"][1]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["text"].as_str().unwrap().to_string())
        .collect()
}

pub(crate) fn button_ids(call: &Call) -> Vec<(String, String)> {
    let blocks = call.body["blocks"].as_array().unwrap();
    let actions = blocks.iter().find(|b| b["type"] == "actions").unwrap();
    actions["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action_id"].as_str().unwrap().to_string(),
                e["value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Declares `/incident p1 Checkout down` as Sam and lets the engine announce it.
pub(crate) async fn declared(app: &TestApp, fake: &SlackFake) -> Incident {
    command(app, fake, "U0SAM", "p1 Checkout down").await;
    app.run_engine_once().await;
    assert_eq!(fake.calls_to("chat.postMessage").len(), 1);
    // Later steps start a few seconds on, clear of the channel's pacing.
    app.clock.advance(SignedDuration::from_secs(10));
    incident(app, 1).await
}

#[tokio::test]
async fn unsigned_stale_or_forged_slack_requests_are_refused() {
    let (app, fake) = slack_app().await;
    let body = command_body(&fake, "U0SAM", "p1 Checkout down");
    let now = app.clock.now().as_second();
    let send = |ts: Option<i64>, signature: Option<String>| {
        let mut request = app
            .client
            .post(app.url("/slack/commands"))
            .body(body.clone());
        if let Some(ts) = ts {
            request = request.header("x-slack-request-timestamp", ts.to_string());
        }
        if let Some(signature) = signature {
            request = request.header("x-slack-signature", signature);
        }
        request.send()
    };

    let missing = send(None, None).await.unwrap();
    let no_signature = send(Some(now), None).await.unwrap();
    let forged = send(Some(now), Some(signature(now, "text=p3+other")))
        .await
        .unwrap();
    let stale = send(Some(now - 301), Some(signature(now - 301, &body)))
        .await
        .unwrap();
    let wrong_secret = send(Some(now), Some(format!("v0={}", "ab".repeat(32))))
        .await
        .unwrap();
    app.run_engine_once().await;

    for response in [missing, no_signature, forged, stale, wrong_secret] {
        assert_eq!(response.status(), 401);
    }
    assert!(incidents::list(&app.store, false).await.unwrap().is_empty());
    assert!(fake.calls().is_empty());
    // The same body, signed now, goes through: the refusals were about the signature.
    let reply = command(&app, &fake, "U0SAM", "p1 Checkout down").await;
    assert!(reply.starts_with("Declared #1 (P1)"), "{reply}");
}

#[tokio::test]
async fn slack_routes_are_absent_without_app_mode() {
    let app = crate::helpers::spawn_app().await;

    let response = post_signed(&app, "/slack/commands", "text=p1+x".into()).await;
    let verification = json!({"type": "url_verification", "challenge": "c"});
    let events = post_event(&app, &verification, None).await;

    assert_eq!(response.status(), 404);
    assert_eq!(events.status(), 404);
}

#[tokio::test]
async fn incident_p1_declares_and_the_engine_announces_it() {
    let (app, fake) = slack_app().await;

    let reply = command(&app, &fake, "U0SAM", "p1 Checkout down").await;
    app.run_engine_once().await;

    assert_eq!(
        reply,
        "Declared #1 (P1). You are the commander; the announcement follows in the incidents \
         channel."
    );
    let declared = incident(&app, 1).await;
    assert_eq!(declared.title, "Checkout down");
    assert_eq!(declared.commander, "sam");
    assert_eq!(declared.declared_by, "sam");
    assert_eq!(declared.status, Status::Investigating);
    let posts = fake.calls_to("chat.postMessage");
    assert_eq!(posts.len(), 1);
    let post = &posts[0];
    assert_eq!(post.authorization, format!("Bearer {SLACK_BOT_TOKEN}"));
    assert_eq!(post.body["channel"], "C0INC");
    assert_eq!(header_of(post), ":rotating_light: P1 · #1 · Checkout down");
    assert_eq!(
        post.body["text"],
        "P1 incident #1: Checkout down (commander: Sam Lee)"
    );
    assert_eq!(
        field_texts(post)[..3],
        [
            "*Status*\nInvestigating",
            "*Severity*\nP1",
            "*Commander*\n<@U0SAM>"
        ]
    );
    let ids: Vec<(String, String)> = [
        "incident.ack",
        "incident.resolve",
        "incident.claim_commander",
        "incident.update",
        "incident.publish",
    ]
    .iter()
    .map(|id| (id.to_string(), declared.id.clone()))
    .collect();
    assert_eq!(button_ids(post), ids);
    // A second pass sends nothing more.
    app.clock.advance(SignedDuration::from_secs(10));
    app.run_engine_once().await;
    assert_eq!(fake.calls().len(), 1);
}

#[tokio::test]
async fn status_command_edits_the_announcement_and_replies_in_its_thread() {
    let (app, fake) = slack_app().await;
    declared(&app, &fake).await;

    let reply = command(
        &app,
        &fake,
        "U0SAM",
        "status #1 identified Bad deploy of v42",
    )
    .await;
    app.run_engine_once().await;

    assert_eq!(reply, "#1: status changed.");
    assert_eq!(incident(&app, 1).await.status, Status::Identified);
    let updates = fake.calls_to("chat.update");
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].body["channel"], "C0INC");
    assert_eq!(updates[0].body["ts"], "1700000000.000100");
    assert_eq!(field_texts(&updates[0])[0], "*Status*\nIdentified");
    let posts = fake.calls_to("chat.postMessage");
    assert_eq!(posts.len(), 2);
    let thread = &posts[1];
    assert_eq!(thread.body["thread_ts"], "1700000000.000100");
    assert!(thread.body.get("reply_broadcast").is_none());
    assert_eq!(
        thread.body["blocks"][0]["text"]["text"],
        "*Status:* Investigating → *Identified* (<@U0SAM>)\nBad deploy of v42"
    );
}

#[tokio::test]
async fn claim_commander_button_hands_the_incident_to_the_clicker() {
    let (app, fake) = slack_app().await;
    let declared = declared(&app, &fake).await;

    click(
        &app,
        &fake,
        "U0KIM",
        "incident.claim_commander",
        &declared.id,
    )
    .await;
    app.run_engine_once().await;

    assert_eq!(incident(&app, 1).await.commander, "kim");
    let updates = fake.calls_to("chat.update");
    assert_eq!(updates.len(), 1);
    assert_eq!(field_texts(&updates[0])[2], "*Commander*\n<@U0KIM>");
    assert_eq!(
        updates[0].body["text"],
        "P1 incident #1: Checkout down (commander: Kim Park)"
    );
    let thread = &fake.calls_to("chat.postMessage")[1];
    assert_eq!(
        thread.body["blocks"][0]["text"]["text"],
        "*Commander:* <@U0SAM> → <@U0KIM> (<@U0KIM>)"
    );
}

#[tokio::test]
async fn resolve_button_resolves_broadcasts_and_a_second_click_is_told_why_not() {
    let (app, fake) = slack_app().await;
    let declared = declared(&app, &fake).await;

    click(&app, &fake, "U0SAM", "incident.resolve", &declared.id).await;
    app.run_engine_once().await;
    click(&app, &fake, "U0KIM", "incident.resolve", &declared.id).await;

    let resolved = incident(&app, 1).await;
    assert_eq!(resolved.status, Status::Resolved);
    let update = &fake.calls_to("chat.update")[0];
    assert_eq!(field_texts(update)[0], "*Status*\nResolved");
    let buttons: Vec<String> = button_ids(update).into_iter().map(|(id, _)| id).collect();
    assert_eq!(buttons, ["incident.update", "incident.publish"]);
    let thread = &fake.calls_to("chat.postMessage")[1];
    assert_eq!(thread.body["thread_ts"], "1700000000.000100");
    assert_eq!(thread.body["reply_broadcast"], true);
    assert_eq!(
        thread.body["blocks"][0]["text"]["text"],
        ":white_check_mark: #1 resolved. *Status:* Investigating → *Resolved* (<@U0SAM>)"
    );
    let replies = fake.calls_to("respond");
    assert_eq!(replies.len(), 1, "only the stale click is answered");
    assert_eq!(
        replies[0].body,
        json!({"response_type": "ephemeral", "replace_original": false,
               "text": "#1 is already resolved by Sam Lee at 03:00 UTC."})
    );
    assert_eq!(
        incidents::timeline(&app.store, &declared.id)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.kind == "status.changed")
            .count(),
        1
    );
}

#[tokio::test]
async fn mentions_and_markup_in_a_title_arrive_escaped() {
    let (app, fake) = slack_app().await;

    command(
        &app,
        &fake,
        "U0SAM",
        "p2 <!channel> <script>alert(1)</script> & co",
    )
    .await;
    app.run_engine_once().await;

    let post = &fake.calls_to("chat.postMessage")[0];
    assert_eq!(
        header_of(post),
        ":rotating_light: P2 · #1 · &lt;!channel&gt; &lt;script&gt;alert(1)&lt;/script&gt; \
         &amp; co"
    );
    assert_eq!(
        post.body["text"],
        "P2 incident #1: &lt;!channel&gt; &lt;script&gt;alert(1)&lt;/script&gt; &amp; co \
         (commander: Sam Lee)"
    );
    assert!(!post.body.to_string().contains("<!channel>"));
}

#[tokio::test]
async fn a_rate_limited_channel_waits_for_retry_after_and_then_sends() {
    let (app, fake) = slack_app().await;
    fake.script(429, &[("retry-after", "30")], "");

    command(&app, &fake, "U0SAM", "p1 Checkout down").await;
    app.run_engine_once().await;
    let next = dutybell::engine::slack::next_due(&app.engine)
        .await
        .unwrap();
    app.clock.advance(SignedDuration::from_secs(29));
    app.run_engine_once().await;
    let while_paused = fake.calls_to("chat.postMessage").len();
    app.clock.advance(SignedDuration::from_secs(2));
    app.run_engine_once().await;

    assert_eq!(while_paused, 1, "nothing is sent before Retry-After passes");
    assert_eq!(
        next,
        Some(crate::helpers::t0() + SignedDuration::from_secs(30))
    );
    let posts = fake.calls_to("chat.postMessage");
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[0].body, posts[1].body, "the same message, resent");
    // Its ts is stored: the next change edits that message.
    command(&app, &fake, "U0SAM", "sev #1 p2").await;
    app.run_engine_once().await;
    assert_eq!(
        fake.calls_to("chat.update")[0].body["ts"],
        "1700000000.000100"
    );
}

#[tokio::test]
async fn a_deleted_announcement_is_posted_anew_and_its_new_ts_kept() {
    let (app, fake) = slack_app().await;
    declared(&app, &fake).await;
    fake.script(200, &[], r#"{"ok":false,"error":"message_not_found"}"#);

    command(&app, &fake, "U0SAM", "sev #1 p2").await;
    app.run_engine_once().await;
    app.clock.advance(SignedDuration::from_secs(10));
    command(&app, &fake, "U0SAM", "update #1 Failover done").await;
    app.run_engine_once().await;

    let methods: Vec<String> = fake.calls().into_iter().map(|c| c.method).collect();
    assert_eq!(
        methods,
        [
            "chat.postMessage", // the announcement, ts …100
            "chat.update",      // message_not_found
            "chat.postMessage", // the announcement anew, ts …101
            "chat.postMessage", // the severity line, in the new thread
            "chat.postMessage", // the update, in the new thread
        ]
    );
    let posts = fake.calls_to("chat.postMessage");
    assert_eq!(
        header_of(&posts[1]),
        ":rotating_light: P2 · #1 · Checkout down"
    );
    assert!(posts[1].body.get("thread_ts").is_none());
    assert_eq!(posts[2].body["thread_ts"], "1700000000.000101");
    assert_eq!(posts[3].body["thread_ts"], "1700000000.000101");
    assert_eq!(
        posts[3].body["blocks"][0]["text"]["text"],
        "*Update* from <@U0SAM>:\nFailover done"
    );
}

#[tokio::test]
async fn a_revoked_token_is_recorded_on_the_incident_timeline() {
    let (app, fake) = slack_app().await;
    fake.script(200, &[], r#"{"ok":false,"error":"invalid_auth"}"#);

    command(&app, &fake, "U0SAM", "p1 Checkout down").await;
    app.run_engine_once().await;

    let declared = incident(&app, 1).await;
    let timeline = incidents::timeline(&app.store, &declared.id).await.unwrap();
    let failed: Vec<&Value> = timeline
        .iter()
        .filter(|e| e.kind == "notification.failed")
        .map(|e| &e.data)
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["channel"], "slack");
    assert_eq!(failed[0]["slack_channel"], "C0INC");
    assert_eq!(failed[0]["error"], "invalid_auth");
    // The commander was told by DM (which this fake lets through), and nothing is retried.
    let posts = fake.calls_to("chat.postMessage");
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[1].body["channel"], "U0SAM");
    app.clock.advance(SignedDuration::from_secs(3600));
    app.run_engine_once().await;
    assert_eq!(fake.calls().len(), 2);
}

#[tokio::test]
async fn unlinked_slack_users_are_asked_to_link_their_account() {
    let (app, fake) = slack_app().await;

    let reply = command(&app, &fake, "U0STRANGER", "p1 Checkout down").await;

    assert_eq!(
        reply,
        "Link your account first: add `slack_id = \"U0STRANGER\"` to your `[[person]]` in \
         team.toml and restart dutybell."
    );
    assert!(incidents::list(&app.store, false).await.unwrap().is_empty());
}

#[tokio::test]
async fn help_and_usage_mistakes_answer_without_acting() {
    let (app, fake) = slack_app().await;

    let help = command(&app, &fake, "U0SAM", "help").await;
    let subcommand_title = command(&app, &fake, "U0SAM", "list of failing jobs").await;
    let no_incident = command(&app, &fake, "U0SAM", "update Rolled back").await;
    let echoed = command(&app, &fake, "U0SAM", "list <!here> now").await;

    assert!(help.starts_with("*/incident* declares and runs incidents:"));
    assert!(subcommand_title.contains("`/incident p2 list of failing jobs`"));
    assert_eq!(no_incident, "No incident is open; name one with `#N`.");
    assert!(
        echoed.contains("`/incident p2 list &lt;!here&gt; now`"),
        "{echoed}"
    );
    assert!(!echoed.contains("<!here>"));
    assert!(incidents::list(&app.store, false).await.unwrap().is_empty());
}

#[tokio::test]
async fn ack_button_acks_attached_alerts_then_records_the_responder() {
    let (app, fake) = slack_app().await;
    let alert = app.fire("DiskFull").await["alert_id"].as_i64().unwrap();
    let declared = declared(&app, &fake).await;
    let now = app.clock.now();
    incidents::attach(
        &app.store,
        &IncidentRef::Number(1),
        alert,
        "attached",
        "sam",
        now,
    )
    .await
    .unwrap();

    click(&app, &fake, "U0KIM", "incident.ack", &declared.id).await;
    click(&app, &fake, "U0KIM", "incident.ack", &declared.id).await;
    app.run_engine_once().await;

    let acked = dutybell::store::alerts::get(&app.store, alert)
        .await
        .unwrap();
    assert_eq!(acked.acked_by.as_deref(), Some("kim"));
    let replies: Vec<Value> = fake
        .calls_to("respond")
        .into_iter()
        .map(|c| c.body["text"].clone())
        .collect();
    assert_eq!(replies, [json!("Acknowledged 1 alert(s) of #1.")]);
    let posts = fake.calls_to("chat.postMessage");
    let note = posts.last().unwrap();
    assert_eq!(note.body["thread_ts"], "1700000000.000100");
    assert_eq!(
        note.body["blocks"][0]["text"]["text"],
        ":memo: *Note* from <@U0KIM>:\nKim Park is responding."
    );
}

#[tokio::test]
async fn a_burst_is_paced_to_one_message_a_second_per_channel() {
    let (app, fake) = slack_app().await;
    declared(&app, &fake).await;
    for n in 1..=8 {
        command(&app, &fake, "U0SAM", &format!("note #1 step {n}")).await;
    }

    let mut sent = Vec::new();
    for _ in 0..4 {
        app.run_engine_once().await;
        sent.push(fake.calls_to("chat.postMessage").len() - 1);
        app.clock.advance(SignedDuration::from_secs(1));
    }

    assert_eq!(sent, [5, 6, 7, 8], "a burst of five, then one a second");
    let notes: Vec<String> = fake.calls_to("chat.postMessage")[1..]
        .iter()
        .map(|c| {
            c.body["blocks"][0]["text"]["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let expected: Vec<String> = (1..=8)
        .map(|n| format!(":memo: *Note* from <@U0SAM>:\nstep {n}"))
        .collect();
    assert_eq!(notes, expected, "in order");
}

/// A `ts` Slack (here: a sloppy fake) hands out twice must not make dutybell post the
/// same reply again and again: the post happened, so it is recorded and the queue moves.
#[tokio::test]
async fn a_repeated_ts_is_recorded_once_and_nothing_is_posted_twice() {
    let (app, fake) = slack_app().await;
    let same = r#"{"ok":true,"channel":"C0INC","ts":"1.1"}"#;
    for _ in 0..4 {
        fake.script(200, &[], same);
    }
    command(&app, &fake, "U0SAM", "p1 Checkout down").await;
    app.run_engine_once().await;
    app.clock.advance(SignedDuration::from_secs(10));
    command(&app, &fake, "U0SAM", "note #1 first").await;
    command(&app, &fake, "U0SAM", "note #1 second").await;
    for _ in 0..5 {
        app.clock.advance(SignedDuration::from_secs(2));
        app.run_engine_once().await;
    }
    let posts = fake.calls_to("chat.postMessage");
    let texts: Vec<String> = posts
        .iter()
        .map(|p| p.body["text"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        posts.len(),
        3,
        "announcement and two notes, once each: {texts:?}"
    );
}

/// Sends `body` to `/slack/commands` again with the signature it had at `ts`; the status.
async fn replay(app: &TestApp, ts: i64, body: &str) -> u16 {
    let response = app
        .client
        .post(app.url("/slack/commands"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts.to_string())
        .header("x-slack-signature", signature(ts, body))
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}

/// A captured signed request replayed within its 300 s window is refused: the incident is
/// declared once.
#[tokio::test]
async fn a_replayed_slash_command_is_refused() {
    let (app, fake) = slack_app().await;
    let body = command_body(&fake, "U0SAM", "p1 Checkout down");
    let first = post_signed(&app, "/slack/commands", body.clone()).await;
    assert_eq!(first.status(), 200);
    app.clock.advance(SignedDuration::from_secs(30));
    let ts = (app.clock.now() - SignedDuration::from_secs(30)).as_second();
    assert_eq!(replay(&app, ts, &body).await, 401);
    let all = incidents::list(&app.store, false).await.unwrap();
    assert_eq!(all.len(), 1);

    // Taken signatures live in the database: another instance on it, or this one after a
    // restart, refuses the replay too (issue #8).
    let clock = app.clock.clone();
    let app = app.restart(clock, |_| {}).await;
    assert_eq!(replay(&app, ts, &body).await, 401);
    assert_eq!(incidents::list(&app.store, false).await.unwrap().len(), 1);
}

/// An Events API delivery as Slack posts it (JSON), signed at the clock's now; `retry`
/// sets `X-Slack-Retry-Num`.
async fn post_event(app: &TestApp, body: &Value, retry: Option<u32>) -> reqwest::Response {
    let body = body.to_string();
    let ts = app.clock.now().as_second();
    let mut request = app
        .client
        .post(app.url("/slack/events"))
        .header("content-type", "application/json")
        .header("x-slack-request-timestamp", ts.to_string())
        .header("x-slack-signature", signature(ts, &body));
    if let Some(n) = retry {
        request = request
            .header("x-slack-retry-num", n.to_string())
            .header("x-slack-retry-reason", "http_timeout");
    }
    request.body(body).send().await.unwrap()
}

/// A `message` event in `C0INC` from `user`, replying in the thread of `thread_ts`.
fn thread_reply(event_id: &str, user: &str, thread_ts: &str, text: &str) -> Value {
    json!({
        "token": "legacy",
        "team_id": "T0",
        "api_app_id": "A0",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1_700_000_100,
        "event": {
            "type": "message",
            "channel": "C0INC",
            "channel_type": "channel",
            "user": user,
            "text": text,
            "ts": format!("1700000100.{:06}", event_id.len()),
            "thread_ts": thread_ts,
            "event_ts": "1700000100.000001",
        },
    })
}

/// The announcement's `ts` in the fake (its first post).
const ANNOUNCEMENT_TS: &str = "1700000000.000100";

/// The incident's `note.added` events as (actor, source, key, text).
async fn notes(app: &TestApp, incident: &Incident) -> Vec<(String, String, bool, String)> {
    incidents::timeline(&app.store, &incident.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "note.added")
        .map(|e| {
            let text = e.data["text"].as_str().unwrap().to_string();
            (e.actor, e.source, e.key, text)
        })
        .collect()
}

#[tokio::test]
async fn events_url_verification_answers_its_challenge() {
    let (app, _fake) = slack_app().await;
    let challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P";
    let body = json!({"token": "legacy", "challenge": challenge, "type": "url_verification"});
    let response = post_event(&app, &body, None).await;
    assert_eq!(response.status(), 200);
    let reply: Value = response.json().await.unwrap();
    assert_eq!(reply, json!({ "challenge": challenge }));
}

#[tokio::test]
async fn a_marked_thread_reply_becomes_a_note_and_is_not_echoed() {
    let (app, fake) = slack_app().await;
    let incident = declared(&app, &fake).await;

    let note = thread_reply(
        "Ev01",
        "U0KIM",
        ANNOUNCEMENT_TS,
        "!note Failover to db-2 &amp; cache flush &lt;done&gt;",
    );
    let response = post_event(&app, &note, None).await;
    assert_eq!(response.status(), 200);
    let key = thread_reply("Ev02", "U0SAM", ANNOUNCEMENT_TS, "!key Root cause: v42");
    assert_eq!(post_event(&app, &key, None).await.status(), 200);
    for _ in 0..3 {
        app.clock.advance(SignedDuration::from_secs(2));
        app.run_engine_once().await;
    }

    assert_eq!(
        notes(&app, &incident).await,
        vec![
            (
                "kim".to_string(),
                "slack".to_string(),
                false,
                "Failover to db-2 & cache flush <done>".to_string()
            ),
            (
                "sam".to_string(),
                "slack".to_string(),
                true,
                "Root cause: v42".to_string()
            ),
        ]
    );
    // Only the announcement was ever posted: the notes are in the thread already.
    assert_eq!(fake.calls_to("chat.postMessage").len(), 1);

    // A note from `/incident note` still gets its line in the thread.
    command(
        &app,
        &fake,
        "U0SAM",
        "note #1 Failover to db-2 & cache flush <done>",
    )
    .await;
    app.clock.advance(SignedDuration::from_secs(2));
    app.run_engine_once().await;
    let posts = fake.calls_to("chat.postMessage");
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[1].body["thread_ts"], ANNOUNCEMENT_TS);
}

#[tokio::test]
async fn unmarked_other_thread_bot_and_unlinked_messages_add_nothing() {
    let (app, fake) = slack_app().await;
    let incident = declared(&app, &fake).await;

    let unmarked = thread_reply("Ev11", "U0SAM", ANNOUNCEMENT_TS, "looking at db-2 now");
    let notes_word = thread_reply("Ev12", "U0SAM", ANNOUNCEMENT_TS, "!notes to self");
    let other_thread = thread_reply("Ev13", "U0SAM", "1700000099.000001", "!note elsewhere");
    let mut other_channel = thread_reply("Ev14", "U0SAM", ANNOUNCEMENT_TS, "!note elsewhere");
    other_channel["event"]["channel"] = json!("C0OPS");
    let mut bot = thread_reply("Ev15", "U0SAM", ANNOUNCEMENT_TS, "!note from a bot");
    bot["event"]["bot_id"] = json!("B0BOT");
    let mut edited = thread_reply("Ev16", "U0SAM", ANNOUNCEMENT_TS, "!note edited");
    edited["event"]["subtype"] = json!("message_changed");
    let unlinked = thread_reply("Ev17", "U0NOBODY", ANNOUNCEMENT_TS, "!note who am I");
    let mut parent = thread_reply("Ev18", "U0SAM", ANNOUNCEMENT_TS, "!note not a reply");
    parent["event"]["ts"] = json!(ANNOUNCEMENT_TS);
    let mut not_message = thread_reply("Ev19", "U0SAM", ANNOUNCEMENT_TS, "!note reaction");
    not_message["event"]["type"] = json!("reaction_added");
    for body in [
        unmarked,
        notes_word,
        other_thread,
        other_channel,
        bot,
        edited,
        unlinked,
        parent,
        not_message,
    ] {
        let response = post_event(&app, &body, None).await;
        assert_eq!(response.status(), 200, "{body}");
        assert_eq!(response.text().await.unwrap(), "", "{body}");
    }
    app.clock.advance(SignedDuration::from_secs(2));
    app.run_engine_once().await;

    assert_eq!(notes(&app, &incident).await, vec![]);
    assert_eq!(fake.calls_to("chat.postMessage").len(), 1);
}

#[tokio::test]
async fn a_retried_event_adds_no_second_note() {
    let (app, fake) = slack_app().await;
    let incident = declared(&app, &fake).await;
    let note = thread_reply("Ev21", "U0KIM", ANNOUNCEMENT_TS, "!note once only");

    assert_eq!(post_event(&app, &note, None).await.status(), 200);
    // Slack retries with a fresh timestamp and signature: the request is new, the event not.
    for n in 1..=3 {
        app.clock.advance(SignedDuration::from_secs(1));
        assert_eq!(post_event(&app, &note, Some(n)).await.status(), 200);
    }
    app.clock.advance(SignedDuration::from_secs(2));
    app.run_engine_once().await;

    let want = vec![(
        "kim".to_string(),
        "slack".to_string(),
        false,
        "once only".to_string(),
    )];
    assert_eq!(notes(&app, &incident).await, want);
    assert_eq!(fake.calls_to("chat.postMessage").len(), 1);
}

#[tokio::test]
async fn a_badly_signed_event_is_refused() {
    let (app, fake) = slack_app().await;
    let incident = declared(&app, &fake).await;
    let body = thread_reply("Ev31", "U0SAM", ANNOUNCEMENT_TS, "!note forged").to_string();
    let ts = app.clock.now().as_second();
    let forged = app
        .client
        .post(app.url("/slack/events"))
        .header("content-type", "application/json")
        .header("x-slack-request-timestamp", ts.to_string())
        .header("x-slack-signature", signature(ts, "{\"other\":\"body\"}"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let unsigned = app
        .client
        .post(app.url("/slack/events"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    assert_eq!(notes(&app, &incident).await, vec![]);
}

// The declare modal (§2.3): `/incident [title]` opens it, `view_submission` declares.

/// The block ids of the declare modal, in order.
const MODAL_BLOCKS: [&str; 7] = [
    "declare.title",
    "declare.severity",
    "declare.summary",
    "declare.impact",
    "declare.services",
    "declare.commander",
    "declare.page",
];

/// `/incident <text>` that opens a modal: an empty 200, and the view Slack was asked for.
async fn open_modal(app: &TestApp, fake: &SlackFake, text: &str) -> Value {
    let before = fake.calls_to("views.open").len();
    let response = post_signed(app, "/slack/commands", command_body(fake, "U0SAM", text)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "");
    let opened = fake.calls_to("views.open");
    assert_eq!(opened.len(), before + 1);
    let call = opened.last().unwrap().clone();
    assert_eq!(call.authorization, format!("Bearer {SLACK_BOT_TOKEN}"));
    assert_eq!(call.body["trigger_id"], "1.2.3");
    call.body["view"].clone()
}

fn block<'a>(view: &'a Value, block_id: &str) -> &'a Value {
    view["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["block_id"] == block_id)
        .unwrap()
}

/// What Slack sends when `user` submits the declare modal; `None` leaves an input empty.
fn submission(
    fake: &SlackFake,
    user: &str,
    title: Option<&str>,
    severity: Option<&str>,
    services: &[&str],
    page: bool,
) -> Value {
    let option = |v: &str| json!({"text": {"type": "plain_text", "text": v}, "value": v});
    let metadata = json!({"channel": "C0OPS", "response_url": fake.response_url()});
    json!({
        "type": "view_submission",
        "team": {"id": "T0"},
        "user": {"id": user, "username": "x", "team_id": "T0"},
        "trigger_id": "4.5.6",
        "view": {
            "id": "V1",
            "type": "modal",
            "callback_id": "incident.declare",
            "private_metadata": metadata.to_string(),
            "state": {"values": {
                "declare.title": {"value": {"type": "plain_text_input", "value": title}},
                "declare.severity": {"value": {"type": "static_select",
                    "selected_option": severity.map(option)}},
                "declare.summary": {"value": {"type": "plain_text_input",
                    "value": "Payments time out"}},
                "declare.impact": {"value": {"type": "plain_text_input", "value": null}},
                "declare.services": {"value": {"type": "multi_static_select",
                    "selected_options": services.iter().map(|s| option(s)).collect::<Vec<_>>()}},
                "declare.page": {"value": {"type": "checkboxes",
                    "selected_options": if page { vec![option("page")] } else { vec![] }}},
            }},
        },
    })
}

pub(crate) async fn submit(app: &TestApp, payload: &Value) -> (u16, String) {
    let body = format!("payload={}", enc(&payload.to_string()));
    let response = post_signed(app, "/slack/interactivity", body).await;
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// The `response_url` replies so far, waiting briefly for one sent after the answer.
pub(crate) async fn replies(fake: &SlackFake, want: usize) -> Vec<Value> {
    for _ in 0..100 {
        if fake.calls_to("respond").len() >= want {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    fake.calls_to("respond")
        .into_iter()
        .map(|c| c.body)
        .collect()
}

#[tokio::test]
async fn incident_without_a_severity_opens_the_declare_modal() {
    let (app, fake) = slack_app().await;

    let view = open_modal(&app, &fake, "Checkout down").await;
    let empty = open_modal(&app, &fake, "").await;

    assert_eq!(view["type"], "modal");
    assert_eq!(view["callback_id"], "incident.declare");
    assert_eq!(view["submit"]["text"], "Declare");
    let ids: Vec<&str> = view["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["block_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, MODAL_BLOCKS);
    assert_eq!(
        block(&view, "declare.title")["element"]["initial_value"],
        "Checkout down"
    );
    assert!(block(&empty, "declare.title")["element"]["initial_value"].is_null());
    let values = |id: &str, key: &str| -> Vec<String> {
        block(&view, id)["element"][key]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["value"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(values("declare.severity", "options"), ["P1", "P2", "P3"]);
    assert_eq!(
        values("declare.services", "options"),
        ["api", "checkout", "web"]
    );
    assert_eq!(values("declare.page", "initial_options"), ["page"]);
    assert_eq!(block(&view, "declare.summary")["optional"], true);
    assert_eq!(block(&view, "declare.title")["optional"], false);
    let metadata: Value = serde_json::from_str(view["private_metadata"].as_str().unwrap()).unwrap();
    assert_eq!(
        metadata,
        json!({"channel": "C0OPS", "response_url": fake.response_url()})
    );
    assert!(incidents::list(&app.store, false).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_failed_views_open_falls_back_to_the_usage_answer() {
    let (app, fake) = slack_app().await;
    fake.script(200, &[], r#"{"ok":false,"error":"expired_trigger_id"}"#);

    let reply = command(&app, &fake, "U0SAM", "Checkout down").await;

    assert!(
        reply.starts_with("Say how bad it is to declare it now: `/incident p1 Checkout down`"),
        "{reply}"
    );
    assert_eq!(fake.calls_to("views.open").len(), 1);
}

#[tokio::test]
async fn a_declare_modal_submission_declares_the_incident() {
    let (app, fake) = slack_app().await;

    let payload = submission(
        &fake,
        "U0SAM",
        Some("  Checkout down "),
        Some("P2"),
        &["api", "checkout"],
        false,
    );
    let (status, body) = submit(&app, &payload).await;

    assert_eq!((status, body.as_str()), (200, ""));
    let declared = incident(&app, 1).await;
    assert_eq!(declared.title, "Checkout down");
    assert_eq!(declared.severity.as_str(), "P2");
    assert_eq!(declared.services, ["api", "checkout"]);
    assert_eq!(declared.commander, "sam");
    assert_eq!(declared.declared_by, "sam");
    assert_eq!(declared.summary, "Payments time out");
    assert_eq!(declared.impact, "");
    assert!(declared.alerts.is_empty(), "page on-call was unchecked");
    let replies = replies(&fake, 1).await;
    assert_eq!(
        replies,
        [json!({"response_type": "ephemeral",
                "text": "Declared #1 (P2). You are the commander; the announcement follows \
                         in the incidents channel."})]
    );
    app.run_engine_once().await;
    let posts = fake.calls_to("chat.postMessage");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].body["channel"], "C0INC");
}

#[tokio::test]
async fn a_checked_page_box_pages_the_services_on_call_for_p1() {
    let (app, fake) = slack_app().await;

    let payload = submission(&fake, "U0KIM", Some("API down"), Some("P1"), &["api"], true);
    let (status, body) = submit(&app, &payload).await;

    assert_eq!((status, body.as_str()), (200, ""));
    let declared = incident(&app, 1).await;
    assert_eq!(declared.commander, "kim");
    assert_eq!(declared.alerts.len(), 1);
}

#[tokio::test]
async fn a_bad_declare_submission_names_the_block_and_declares_nothing() {
    let (app, fake) = slack_app().await;

    let empty = submission(&fake, "U0SAM", Some("   "), None, &[], true);
    let long_title = "x".repeat(201);
    let too_long = submission(&fake, "U0SAM", Some(&long_title), Some("P1"), &[], true);
    let unknown = submission(&fake, "U0SAM", Some("Down"), Some("P1"), &["nope"], true);

    let answers = [
        submit(&app, &empty).await,
        submit(&app, &too_long).await,
        submit(&app, &unknown).await,
    ];

    let json = |(status, body): &(u16, String)| {
        assert_eq!(*status, 200);
        serde_json::from_str::<Value>(body).unwrap()
    };
    assert_eq!(
        json(&answers[0]),
        json!({"response_action": "errors", "errors": {
            "declare.title": "The title must not be empty.",
            "declare.severity": "Choose a severity.",
        }})
    );
    assert_eq!(
        json(&answers[1]),
        json!({"response_action": "errors", "errors": {
            "declare.title": "The title must be at most 200 characters.",
        }})
    );
    let unknown = json(&answers[2]);
    assert_eq!(unknown["response_action"], "errors");
    let errors = unknown["errors"].as_object().unwrap();
    assert_eq!(errors.keys().collect::<Vec<_>>(), ["declare.services"]);
    assert!(incidents::list(&app.store, false).await.unwrap().is_empty());
    assert!(fake.calls_to("respond").is_empty());
}

#[tokio::test]
async fn an_unlinked_submitter_is_told_how_to_link_and_nothing_is_declared() {
    let (app, fake) = slack_app().await;

    let payload = submission(&fake, "U0STRANGER", Some("Down"), Some("P1"), &[], true);
    let (status, body) = submit(&app, &payload).await;

    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"response_action": "errors", "errors": {
            "declare.title": "Link your account first: add `slack_id = \"U0STRANGER\"` to your \
                              `[[person]]` in team.toml and restart dutybell.",
        }})
    );
    assert!(incidents::list(&app.store, false).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_closed_declare_modal_does_nothing() {
    let (app, fake) = slack_app().await;

    let mut payload = submission(&fake, "U0SAM", Some("Down"), Some("P1"), &[], true);
    payload["type"] = json!("view_closed");
    let (status, body) = submit(&app, &payload).await;

    assert_eq!((status, body.as_str()), (200, ""));
    assert!(incidents::list(&app.store, false).await.unwrap().is_empty());
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn the_declare_modal_hands_command_to_the_picked_linked_person() {
    let (app, fake) = slack_app().await;
    let view = open_modal(&app, &fake, "").await;
    assert_eq!(
        block(&view, "declare.commander")["element"]["type"],
        "users_select"
    );
    assert_eq!(block(&view, "declare.commander")["optional"], true);

    let picked = |member: &str| {
        let mut payload = submission(
            &fake,
            "U0SAM",
            Some("Checkout down"),
            Some("P3"),
            &[],
            false,
        );
        payload["view"]["state"]["values"]["declare.commander"] =
            json!({"value": {"type": "users_select", "selected_user": member}});
        payload
    };
    // Someone without a dutybell account cannot command: the modal says so.
    let (status, body) = submit(&app, &picked("U0NOBODY")).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"response_action": "errors", "errors": {"declare.commander":
            "<@U0NOBODY> has no dutybell account: add `slack_id` to their `[[person]]`."}})
    );

    let (status, body) = submit(&app, &picked("U0KIM")).await;
    assert_eq!((status, body.as_str()), (200, ""));
    let declared = incident(&app, 1).await;
    assert_eq!(declared.commander, "kim");
    assert_eq!(declared.declared_by, "sam");
    let replies = replies(&fake, 1).await;
    assert_eq!(
        replies.last().unwrap()["text"],
        "Declared #1 (P3). Kim Park is the commander; the announcement follows in the \
         incidents channel."
    );
}
