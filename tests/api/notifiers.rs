//! Each notifier against a local fake of its service (issue #4): the exact body one page
//! produces, with a hostile summary escaped for the target; a 429 waits out its
//! `Retry-After`; a 400 fails at once and shows on the timeline.

use base64::Engine as _;
use dutybell::domain::action_link::{self, Action, ActionClaim};
use jiff::SignedDuration;
use serde_json::json;

use crate::helpers::{
    HttpFake, NTFY_TOKEN, SIGNING_SECRET, Setup, TWILIO_AUTH_TOKEN, TestApp, am_body,
    spawn_app_with, t0,
};

/// A summary that is markup in every target format.
const HOSTILE: &str = r#"<b>&"x"</b>"#;
const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";

/// Ben (primary at t0) with one extra contact method pointing at `fake`.
struct Paged {
    app: TestApp,
    fake: HttpFake,
    alert: i64,
}

impl Paged {
    fn base(&self) -> String {
        format!("http://{}", self.app.addr)
    }

    /// The alert link: a signed read-only view, opened without logging in.
    fn alert_url(&self) -> String {
        self.link(Action::View)
    }

    /// The signed link a page rendered at t0 carries, computed the way a verifier would.
    fn link(&self, act: Action) -> String {
        let claim = ActionClaim {
            act,
            target: self.alert,
            person: "ben".into(),
            exp: (t0() + SignedDuration::from_hours(24)).as_second(),
        };
        let token = action_link::sign(&claim, SIGNING_SECRET.as_bytes());
        format!("{}/a/{token}", self.base())
    }

    fn headline(&self) -> String {
        format!("FIRING critical Public API: DiskFull (#A-{})", self.alert)
    }

    /// Where Twilio is told to report how the `channel` page ended: its outbox message.
    async fn status_callback(&self, channel: &str) -> String {
        let sent = self
            .timeline()
            .await
            .into_iter()
            .find(|e| e["kind"] == "notification_sent" && e["detail"]["channel"] == channel);
        let id = sent.unwrap()["detail"]["message_id"]
            .as_str()
            .unwrap()
            .to_string();
        format!("{}/twilio/status/{id}", self.base())
    }

    async fn timeline(&self) -> Vec<serde_json::Value> {
        self.app.alert(self.alert).await["timeline"]
            .as_array()
            .unwrap()
            .clone()
    }
}

/// Starts the fake, adds `contact` (with `{fake}` replaced by its address) to ben and
/// `instance` to `dutybell.toml`, fires an alert with the hostile summary; nothing is sent.
async fn setup(contact: &str, instance: &str) -> Paged {
    let fake = HttpFake::start().await;
    let fill = |text: &str| text.replace("{fake}", &fake.addr.to_string());
    let app = spawn_app_with(Setup {
        contacts: vec![("ben", fill(contact))],
        instance: fill(instance),
        ..Setup::default()
    })
    .await;

    let mut body: serde_json::Value =
        serde_json::from_str(&am_body("DiskFull", &[("firing", &t0().to_string())])).unwrap();
    body["alerts"][0]["annotations"]["summary"] = json!(HOSTILE);
    let response = app.post_alertmanager(&body.to_string()).await;
    assert_eq!(response.status(), 202);
    let alert = response.json::<serde_json::Value>().await.unwrap()["alert_id"]
        .as_i64()
        .unwrap();
    Paged { app, fake, alert }
}

/// Sets up and runs the first engine pass, which pages ben on every channel.
async fn page(contact: &str, instance: &str) -> Paged {
    let paged = setup(contact, instance).await;
    paged.app.run_engine_once().await;
    paged
}

fn twilio_section() -> String {
    format!(
        "[twilio]\naccount_sid = \"{ACCOUNT_SID}\"\nauth_token_env = \"TWILIO_AUTH_TOKEN\"\n\
         from = \"+15550199\"\napi_base = \"http://{{fake}}\"\n"
    )
}

/// `application/x-www-form-urlencoded` as browsers and serde_urlencoded write it.
fn form(pairs: &[(&str, &str)]) -> String {
    let encode = |text: &str| {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[tokio::test]
async fn ntfy_publishes_json_to_the_server_root_with_priority_and_action_buttons() {
    let p = page(
        r#"{ kind = "ntfy", topic = "ben-pager" }"#,
        "[ntfy]\nserver = \"http://{fake}/push\"\ntoken_env = \"NTFY_TOKEN\"\n",
    )
    .await;

    let requests = p.fake.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.uri, "/push/");
    assert_eq!(request.header("content-type"), "application/json");
    assert_eq!(
        request.header("authorization"),
        format!("Bearer {NTFY_TOKEN}")
    );
    assert_eq!(
        request.json(),
        json!({
            "topic": "ben-pager",
            "title": p.headline(),
            "message": "<b>&\"x\"</b>\nPublic API · critical · since 2025-06-12T03:00:00Z",
            "priority": 5,
            "tags": ["rotating_light"],
            "click": p.alert_url(),
            "actions": [
                {"action": "http", "label": "Ack", "url": p.link(Action::Ack),
                 "method": "POST", "clear": true},
                {"action": "http", "label": "Resolve", "url": p.link(Action::Resolve),
                 "method": "POST", "clear": true},
                {"action": "view", "label": "Runbook",
                 "url": "https://runbooks.example.com/api"},
            ],
            "markdown": false,
        })
    );
}

#[tokio::test]
async fn slack_gets_block_kit_with_escaped_text_and_link_buttons() {
    let p = page(
        r#"{ kind = "slack", url = "http://{fake}/services/T000/B000/hookt0ken" }"#,
        "",
    )
    .await;

    let requests = p.fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].uri, "/services/T000/B000/hookt0ken");
    assert_eq!(requests[0].header("content-type"), "application/json");
    let summary = "&lt;b&gt;&amp;\"x\"&lt;/b&gt;";
    let button = |text: &str, id: &str, url: String| {
        json!({"type": "button", "text": {"type": "plain_text", "text": text},
               "action_id": id, "url": url})
    };
    let mut ack = button("Acknowledge", "alert.ack", p.link(Action::Ack));
    ack["style"] = json!("primary");
    let mut resolve = button("Resolve", "alert.resolve", p.link(Action::Resolve));
    resolve["style"] = json!("danger");
    assert_eq!(
        requests[0].json(),
        json!({
            "text": format!("{}: {summary}", p.headline()),
            "blocks": [
                {"type": "section",
                 "text": {"type": "mrkdwn", "text": format!("*{}*\n{summary}", p.headline())}},
                {"type": "section", "fields": [
                    {"type": "mrkdwn", "text": "*Service*\nPublic API"},
                    {"type": "mrkdwn", "text": "*Severity*\ncritical"},
                    {"type": "mrkdwn",
                     "text": format!("*Alert*\n<{}|#A-{}>", p.alert_url(), p.alert)},
                    {"type": "mrkdwn", "text": format!(
                        "*Started*\n<!date^{}^{{date_short}} {{time}}|2025-06-12 03:00 UTC>",
                        t0().as_second())},
                ]},
                {"type": "actions", "elements": [
                    ack,
                    resolve,
                    button("Open alert", "alert.open", p.alert_url()),
                    button("Runbook", "alert.runbook", "https://runbooks.example.com/api".into()),
                ]},
            ],
        })
    );
}

#[tokio::test]
async fn teams_gets_an_adaptive_card_in_a_message_envelope() {
    let p = page(
        r#"{ kind = "teams", url = "http://{fake}/workflows/run?api-version=1&sig=s3cret" }"#,
        "",
    )
    .await;

    let requests = p.fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].uri, "/workflows/run?api-version=1&sig=s3cret");
    let open =
        |title: &str, url: String| json!({"type": "Action.OpenUrl", "title": title, "url": url});
    assert_eq!(
        requests[0].json(),
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "type": "AdaptiveCard",
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "version": "1.4",
                    "body": [
                        {"type": "TextBlock", "text": p.headline(), "weight": "Bolder",
                         "size": "Medium", "wrap": true},
                        {"type": "TextBlock", "text": HOSTILE, "wrap": true},
                        {"type": "FactSet", "facts": [
                            {"title": "Service", "value": "Public API"},
                            {"title": "Severity", "value": "critical"},
                            {"title": "Alert", "value": format!("#A-{}", p.alert)},
                            {"title": "Started", "value": "2025-06-12T03:00:00Z"},
                        ]},
                    ],
                    "actions": [
                        open("Acknowledge", p.link(Action::Ack)),
                        open("Resolve", p.link(Action::Resolve)),
                        open("Open alert", p.alert_url()),
                        open("Runbook", "https://runbooks.example.com/api".into()),
                    ],
                },
            }],
        })
    );
}

#[tokio::test]
async fn discord_gets_an_embed_with_escaped_markdown_and_no_mentions() {
    let p = page(
        r#"{ kind = "discord", url = "http://{fake}/api/webhooks/123/tok3n" }"#,
        "",
    )
    .await;

    let requests = p.fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].uri, "/api/webhooks/123/tok3n?wait=true");
    assert_eq!(
        requests[0].json(),
        json!({
            "content": format!("FIRING critical Public API: DiskFull (#A-{})", p.alert),
            "embeds": [{
                "title": "DiskFull",
                "url": p.alert_url(),
                "description": format!(
                    "\\<b\\>&\"x\"\\</b\\>\n\n[Acknowledge]({}) · [Resolve]({}) · \
                     [Runbook](https://runbooks.example.com/api)",
                    p.link(Action::Ack),
                    p.link(Action::Resolve)
                ),
                "color": 0xD62828,
                "timestamp": "2025-06-12T03:00:00Z",
                "fields": [
                    {"name": "Service", "value": "Public API", "inline": true},
                    {"name": "Severity", "value": "critical", "inline": true},
                    {"name": "Alert", "value": format!("#A-{}", p.alert), "inline": true},
                ],
                "footer": {"text": "dutybell"},
            }],
            "allowed_mentions": {"parse": []},
        })
    );
}

#[tokio::test]
async fn sms_posts_a_form_to_twilio_messages_with_basic_auth() {
    let p = page(r#"{ kind = "sms", to = "+15550100" }"#, &twilio_section()).await;

    let requests = p.fake.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.uri,
        format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json")
    );
    assert_eq!(
        request.header("content-type"),
        "application/x-www-form-urlencoded"
    );
    let credentials = base64::engine::general_purpose::STANDARD
        .encode(format!("{ACCOUNT_SID}:{TWILIO_AUTH_TOKEN}"));
    assert_eq!(
        request.header("authorization"),
        format!("Basic {credentials}")
    );
    let text = format!(
        "dutybell critical Public API DiskFull #A-{} ack: {}",
        p.alert,
        p.link(Action::Ack)
    );
    let callback = p.status_callback("sms").await;
    assert_eq!(
        request.body,
        form(&[
            ("To", "+15550100"),
            ("From", "+15550199"),
            ("Body", &text),
            ("StatusCallback", &callback),
        ])
    );
}

#[tokio::test]
async fn voice_posts_a_call_with_xml_escaped_inline_twiml() {
    let p = page(r#"{ kind = "voice", to = "+15550100" }"#, &twilio_section()).await;

    let requests = p.fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].uri,
        format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json")
    );
    let gather = p.link(Action::Ack).replacen("/a/", "/twilio/voice/", 1);
    let twiml = format!(
        "<Response><Say>dutybell page. critical alert on Public API: \
         &lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt;. Alert number {}. \
         Acknowledge with the link in your other notifications.</Say>\
         <Gather numDigits=\"1\" action=\"{gather}\" method=\"POST\">\
         <Say>Press 1 to acknowledge.</Say></Gather></Response>",
        p.alert
    );
    assert_eq!(
        requests[0].body,
        form(&[
            ("To", "+15550100"),
            ("From", "+15550199"),
            ("Twiml", &twiml),
            ("Timeout", "30"),
            ("StatusCallback", &p.status_callback("voice").await),
        ])
    );
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after_not_before() {
    let p = setup(
        r#"{ kind = "slack", url = "http://{fake}/services/T/B/X" }"#,
        "",
    )
    .await;
    p.fake.reply(429, &[("retry-after", "120")], "rate_limited");

    p.app.run_engine_once().await;
    p.app.clock.advance(SignedDuration::from_secs(119));
    p.app.run_engine_once().await;
    assert_eq!(p.fake.requests().len(), 1, "not before Retry-After is up");

    p.app.clock.advance(SignedDuration::from_secs(1));
    p.app.run_engine_once().await;

    assert_eq!(p.fake.requests().len(), 2);
    let slack: Vec<(String, serde_json::Value)> = p
        .timeline()
        .await
        .into_iter()
        .filter(|e| e["detail"]["channel"] == "slack")
        .map(|e| (e["kind"].as_str().unwrap().to_string(), e["at"].clone()))
        .collect();
    assert_eq!(
        slack,
        [
            (
                "notification_retry".to_string(),
                json!("2025-06-12T03:00:00Z")
            ),
            (
                "notification_sent".to_string(),
                json!("2025-06-12T03:02:00Z")
            ),
        ]
    );
}

#[tokio::test]
async fn a_400_fails_at_once_and_lands_on_the_timeline() {
    let p = setup(
        r#"{ kind = "discord", url = "http://{fake}/api/webhooks/1/t" }"#,
        "",
    )
    .await;
    p.fake.reply(
        400,
        &[],
        r#"{"message": "Invalid Form Body", "code": 50035}"#,
    );

    p.app.run_engine_once().await;
    for _ in 0..4 {
        p.app.clock.advance(SignedDuration::from_secs(60));
        p.app.run_engine_once().await;
    }

    assert_eq!(p.fake.requests().len(), 1, "a 4xx is not retried");
    let discord: Vec<serde_json::Value> = p
        .timeline()
        .await
        .into_iter()
        .filter(|e| e["detail"]["channel"] == "discord")
        .collect();
    assert_eq!(discord.len(), 1, "{discord:?}");
    assert_eq!(discord[0]["kind"], "notification_failed");
    assert_eq!(discord[0]["at"], "2025-06-12T03:00:00Z");
    let error = discord[0]["detail"]["error"].as_str().unwrap();
    assert!(error.contains("400"), "{error}");
}

#[tokio::test]
async fn network_errors_retry_and_never_record_the_token_bearing_url() {
    let port = crate::helpers::free_port();
    let p = setup(
        &format!(
            r#"{{ kind = "discord", url = "http://127.0.0.1:{port}/api/webhooks/1/s3cr3t" }}"#
        ),
        "",
    )
    .await;

    p.app.run_engine_once().await;

    let retry = p
        .timeline()
        .await
        .into_iter()
        .find(|e| e["detail"]["channel"] == "discord")
        .unwrap();
    assert_eq!(retry["kind"], "notification_retry");
    let error = retry["detail"]["error"].as_str().unwrap();
    assert!(
        error.starts_with("temporary failure") || error.starts_with("sending"),
        "{error}"
    );
    assert!(!error.contains("s3cr3t"), "the token leaked into {error}");
}

/// Loads the test config with `contacts` added to ana and `instance` to `dutybell.toml`.
fn load(
    contacts: &str,
    instance: &str,
    env: &[(&str, &str)],
) -> Result<dutybell::config::Config, String> {
    use dutybell::config::{self, Overrides, secrets::Secrets};
    let dir = tempfile::tempdir().unwrap();
    let addr = "127.0.0.1:1".parse().unwrap();
    crate::helpers::write_config(dir.path(), addr, addr, None);
    let team = dir.path().join("team.toml");
    let text = std::fs::read_to_string(&team).unwrap();
    let anchor = "hook/ana\", secret_env = \"HOOK_SECRET\" }";
    assert!(text.contains(anchor));
    let text = text.replacen(anchor, &format!("{anchor}, {contacts}"), 1);
    std::fs::write(&team, text).unwrap();
    let file = dir.path().join("dutybell.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("{text}{instance}")).unwrap();
    let mut vars = crate::helpers::test_env();
    vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    config::load_with(
        dir.path(),
        &Overrides::default(),
        &vars,
        &mut Secrets::default(),
    )
    .map_err(|errors| errors.to_string())
}

#[test]
fn bad_contact_methods_are_reported_with_file_and_key() {
    let errors = load(
        r#"{ kind = "sms", to = "555-0100" },
           { kind = "teams", url = "https://acme.webhook.office.com/webhookb2/s3cret" },
           { kind = "ntfy", topic = "ana" }, { kind = "voice", to = "+15550100" },
           { kind = "slack", url = "ftp://example.com/x" }, { kind = "pager" },
           { kind = "discord", url_env = "NOT_SET" }, { kind = "ntfy", topic = "a/b" }"#,
        "",
        &[],
    )
    .unwrap_err();

    for expected in [
        "team.toml: `person[0].contact[1].to`: sms contacts need `to` as an E.164 number",
        "team.toml: `person[0].contact[2].url`: Office 365 connector URLs are retired",
        "team.toml: `person[0].contact[3].kind`: ntfy contacts need a [ntfy] section",
        "team.toml: `person[0].contact[4].kind`: voice contacts need a [twilio] section",
        "team.toml: `person[0].contact[5].url`: must be an http(s) URL",
        "team.toml: `person[0].contact[6].kind`: unknown contact kind \"pager\"",
        "team.toml: `person[0].contact[7].url_env`: environment variable NOT_SET is not set",
        "team.toml: `person[0].contact[8].topic`: ntfy contacts need a `topic`",
    ] {
        assert!(
            errors.contains(expected),
            "missing {expected:?} in\n{errors}"
        );
    }
    assert!(
        !errors.contains("s3cret"),
        "URLs may carry tokens: {errors}"
    );
}

#[test]
fn bad_twilio_and_ntfy_settings_are_reported_with_their_keys() {
    let errors = load(
        "",
        "[twilio]\naccount_sid = \"AC123\"\nauth_token_env = \"NOT_SET\"\nfrom = \"5550199\"\n\
         api_base = \"api.twilio.com\"\n[ntfy]\nserver = \"ntfy.example.com\"\n",
        &[],
    )
    .unwrap_err();

    for expected in [
        "dutybell.toml: `twilio.account_sid`: must be \"AC\" followed by 32 hex digits",
        "dutybell.toml: `twilio.from`: must be an E.164 number",
        "dutybell.toml: `twilio.api_base`: must be an http(s) URL",
        "dutybell.toml: `twilio.auth_token_env`: environment variable NOT_SET is not set",
        "dutybell.toml: `ntfy.server`: must be an http(s) URL",
    ] {
        assert!(
            errors.contains(expected),
            "missing {expected:?} in\n{errors}"
        );
    }
}

#[test]
fn a_webhook_url_from_the_environment_stays_out_of_the_address() {
    let url = "https://discord.com/api/webhooks/1/s3cret";
    let config = load(
        r#"{ kind = "discord", url_env = "ANA_DISCORD" }"#,
        "",
        &[("ANA_DISCORD", url)],
    )
    .unwrap();

    let contact = config.people["ana"]
        .contacts
        .iter()
        .find(|c| c.kind.as_str() == "discord")
        .unwrap();
    assert_eq!(
        contact.address, "env:ANA_DISCORD",
        "outbox rows store the address"
    );
    assert_eq!(contact.endpoint(), url);
    assert!(
        !format!("{contact:?}").contains("s3cret"),
        "Debug redacts the URL"
    );
}
