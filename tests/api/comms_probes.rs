//! Hostile input against the issue #5 surfaces (comms spec §0, §1, §2.2, §2.6, §4.3–§4.8):
//! markup, mentions and header breaks in every user-text field reach every output escaped;
//! Slack requests are verified before anything acts; every admin route wants the token;
//! subscription links work once and only for what they were made for; bad input answers a
//! 4xx naming the field and stores nothing; no secret reaches the logs.

use std::sync::{Arc, Mutex};

use dutybell::store::statuspage::subscribers;
use jiff::SignedDuration;
use serde_json::{Value, json};

use crate::helpers::{
    API_TOKEN, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, Setup, TOKEN, TestApp, spawn_app_with,
};
use crate::slack_app::{PEOPLE, SlackFake};
use crate::statuspage::{PAGE, get, link, mail_text, mails_to, post_form, public_json};

/// Markup for HTML, XML feeds and Markdown; Slack mentions and links; a mail header break.
const PROBE: &str = "<script>alert(1)</script> \"><img src=x onerror=alert(1)> ]]> \
                     [x](javascript:alert(1)) <!channel> <@U0BOSS> <http://evil.example|bank> \
                     \r\nBcc: evil@example.com";

/// What must never appear raw in a page, feed or message built from [`PROBE`].
const RAW_MARKUP: [&str; 3] = ["<script", "<img", "<a href=\"javascript"];
const RAW_SLACK: [&str; 3] = ["<!channel>", "<@U0BOSS>", "<http://evil.example"];

async fn app_with(statuspage: &str, slack: Option<&SlackFake>) -> TestApp {
    let instance = slack.map_or_else(String::new, |fake| {
        format!(
            "[slack]\nincidents_channel = \"C0INC\"\nbot_token_env = \"SLACK_BOT_TOKEN\"\n\
             signing_secret_env = \"SLACK_SIGNING_SECRET\"\napi_base = \"http://{}/api\"\n",
            fake.addr
        )
    });
    spawn_app_with(Setup {
        instance,
        team: PEOPLE.into(),
        statuspage: statuspage.into(),
        ..Setup::default()
    })
    .await
}

async fn post_json(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    let response = app.api_post(path, body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Declares a P3 as `sam` (linked to Slack); returns its number.
async fn declare(app: &TestApp, title: &str) -> i64 {
    let body = json!({ "title": title, "severity": "P3", "by": "sam", "page": false });
    let (status, answer) = post_json(app, "/api/v1/incidents", body).await;
    assert_eq!(status, 200, "{answer}");
    answer["incident"]["number"].as_i64().unwrap()
}

async fn timeline_len(app: &TestApp, number: i64) -> usize {
    app.api_get(&format!("/api/v1/incidents/{number}")).await["timeline"]
        .as_array()
        .unwrap()
        .len()
}

/// Lower-cased `text` holds none of `needles` (lower-cased too).
fn assert_none_of(what: &str, text: &str, needles: &[&str]) {
    let lower = text.to_lowercase();
    for needle in needles {
        assert!(
            !lower.contains(&needle.to_lowercase()),
            "{what} holds {needle:?}: {text}"
        );
    }
}

/// XML the way the feeds must be: outside CDATA no `]]>`, and no character XML 1.0
/// cannot carry anywhere.
fn assert_xml_text_ok(what: &str, xml: &str) {
    let bad = |c: char| {
        matches!(c, '\u{FFFE}' | '\u{FFFF}') || (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    };
    assert!(!xml.chars().any(bad), "{what} holds a non-XML character");
    let mut rest = xml;
    while let Some(start) = rest.find("<![CDATA[") {
        assert!(!rest[..start].contains("]]>"), "{what}: stray ]]>");
        let after = &rest[start + 9..];
        let end = after.find("]]>").expect("CDATA closes");
        rest = &after[end + 3..];
    }
    assert!(!rest.contains("]]>"), "{what}: stray ]]>");
}

/// The decoded `text/html` part of a mail.
fn html_part(data: &str) -> String {
    let start = data.find("Content-Type: text/html").expect("an HTML part");
    let part = &data[start..];
    let end = part.find("\r\n--").unwrap_or(part.len());
    mail_text(&part[..end])
}

/// The mail's header block, lines unfolded.
fn mail_head(data: &str) -> Vec<String> {
    let head = data.split("\r\n\r\n").next().unwrap();
    head.replace("\r\n ", " ")
        .replace("\r\n\t", " ")
        .split("\r\n")
        .map(str::to_string)
        .collect()
}

// ---- User text in every output -----------------------------------------------------

#[tokio::test]
async fn user_text_reaches_slack_as_text_never_as_mentions_links_or_markup() {
    let fake = SlackFake::start().await;
    let app = app_with("", Some(&fake)).await;
    // Titles are one line: a line break is refused, the rest of the probe is kept.
    let body = json!({ "title": PROBE, "severity": "P3", "by": "sam", "page": false });
    let (status, _) = post_json(&app, "/api/v1/incidents", body).await;
    assert_eq!(status, 400);
    let title = PROBE.replace("\r\n", " ");
    let body = json!({ "title": title, "severity": "P3", "by": "sam", "page": false,
                       "summary": PROBE, "impact": PROBE });
    let (status, _) = post_json(&app, "/api/v1/incidents", body).await;
    assert_eq!(status, 200);
    let changes = [
        ("notes", json!({ "text": PROBE, "by": "sam" })),
        ("updates", json!({ "text": PROBE, "by": "sam" })),
        (
            "status",
            json!({ "status": "identified", "text": PROBE, "by": "sam" }),
        ),
        (
            "summary",
            json!({ "text": format!("{PROBE} (2)"), "by": "sam" }),
        ),
        ("commander", json!({ "person": "ana", "by": "sam" })),
    ];
    for (path, body) in changes {
        let (status, answer) = post_json(&app, &format!("/api/v1/incidents/1/{path}"), body).await;
        assert_eq!(status, 200, "{path}: {answer}");
    }

    for _ in 0..12 {
        app.clock.advance(SignedDuration::from_secs(5));
        app.run_engine_once().await;
    }

    let posts = fake.calls_to("chat.postMessage");
    let updates = fake.calls_to("chat.update");
    assert_eq!(
        posts.len(),
        5,
        "announcement, note, update, status, commander"
    );
    assert!(!updates.is_empty());
    for call in posts.iter().chain(&updates) {
        let text = serde_json::to_string(&call.body).unwrap();
        assert_none_of(&call.method, &text, &RAW_SLACK);
        assert_none_of(&call.method, &text, &["<script", "<img"]);
    }
    let announcement = serde_json::to_string(&posts[0].body).unwrap();
    assert!(
        announcement.contains("&lt;!channel&gt; &lt;@U0BOSS&gt; &lt;http://evil.example|bank&gt;"),
        "the text itself stays readable: {announcement}"
    );
}

#[tokio::test]
async fn public_names_and_bodies_render_inert_everywhere_and_stay_verbatim_in_json() {
    let app = app_with(PAGE, None).await;
    crate::statuspage::subscribe_and_confirm(&app, "reader@example.com").await;
    let number = declare(&app, "Probe").await;
    let name = format!("{PROBE} \u{FFFF}\u{1}");
    let body = format!("{PROBE}\n\n<a href=\"javascript:alert(1)\">a</a> **bold** ]]> end");
    let (status, published) = post_json(
        &app,
        &format!("/api/v1/incidents/{number}/publish"),
        json!({ "name": name, "body": body, "components": { "db": "major_outage" } }),
    )
    .await;
    assert_eq!(status, 201, "{published}");
    let id = published["public_id"].as_str().unwrap();

    for path in [
        "/".to_string(),
        "/history".into(),
        format!("/incidents/{id}"),
        "/history.rss".into(),
        "/history.atom".into(),
    ] {
        let (status, _, page) = get(&app, &path, &[]).await;
        assert_eq!(status, 200, "{path}");
        assert_none_of(&path, &page, &RAW_MARKUP);
        assert!(page.contains("alert(1)"), "{path}: the text itself stays");
        if path.starts_with("/history.") {
            assert_xml_text_ok(&path, &page);
        }
    }
    let incidents = public_json(&app, "/api/v2/incidents.json").await;
    assert_eq!(incidents["incidents"][0]["name"], name);
    assert_eq!(
        incidents["incidents"][0]["incident_updates"][0]["body"],
        body
    );

    app.run_engine_once().await;
    let mails = mails_to(&app, "reader@example.com");
    assert_eq!(mails.len(), 2, "confirmation, then the notice");
    let notice = &mails[1].data;
    let head = mail_head(notice);
    assert!(
        !head
            .iter()
            .any(|line| line.to_ascii_lowercase().starts_with("bcc:")),
        "{head:?}"
    );
    assert_eq!(mails[1].to, ["reader@example.com"]);
    assert_none_of("notice", &html_part(notice), &RAW_MARKUP);
}

#[tokio::test]
async fn page_and_component_names_from_config_render_inert_and_cannot_break_mail_headers() {
    let quoted = toml::Value::String(PROBE.to_string()).to_string();
    let page = format!(
        "[page]\nname = {quoted}\ntime_zone = \"UTC\"\n\n[[group]]\nid = \"core\"\n\
         name = {quoted}\n\n[[component]]\nid = \"db\"\nname = {quoted}\ngroup = \"core\"\n\
         description = {quoted}\n"
    );
    let app = app_with(&page, None).await;
    crate::statuspage::subscribe_and_confirm(&app, "reader@example.com").await;
    let number = declare(&app, "Database down").await;
    let (status, published) = post_json(
        &app,
        &format!("/api/v1/incidents/{number}/publish"),
        json!({ "body": "Looking.", "components": { "db": "major_outage" } }),
    )
    .await;
    assert_eq!(status, 201, "{published}");
    let id = published["public_id"].as_str().unwrap();

    for path in [
        "/".to_string(),
        "/history".into(),
        "/subscribe".into(),
        format!("/incidents/{id}"),
        "/history.rss".into(),
        "/history.atom".into(),
    ] {
        let (status, _, body) = get(&app, &path, &[]).await;
        assert_eq!(status, 200, "{path}");
        assert_none_of(&path, &body, &RAW_MARKUP);
        if path.starts_with("/history.") {
            assert_xml_text_ok(&path, &body);
        }
    }
    let components = public_json(&app, "/api/v2/components.json").await;
    assert_eq!(components["components"][1]["name"], PROBE);
    assert_eq!(components["components"][1]["description"], PROBE);
    assert_eq!(components["page"]["name"], PROBE);

    app.run_engine_once().await;
    for mail in mails_to(&app, "reader@example.com") {
        let head = mail_head(&mail.data);
        assert!(
            !head
                .iter()
                .any(|line| line.to_ascii_lowercase().starts_with("bcc:")),
            "{head:?}"
        );
        assert_eq!(mail.to, ["reader@example.com"]);
        assert_none_of("mail", &html_part(&mail.data), &RAW_MARKUP);
    }
}

// ---- Slack request verification and clicks -------------------------------------------

fn enc(text: &str) -> String {
    dutybell::domain::slack::form::encode(text)
}

/// `v0=` + hex HMAC-SHA256 of `v0:{ts}:{body}`, computed here with the test's secret.
fn signature(ts: &str, body: &[u8]) -> String {
    use hmac::Mac as _;
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(SLACK_SIGNING_SECRET.as_bytes()).unwrap();
    mac.update(format!("v0:{ts}:").as_bytes());
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

async fn post_slack(app: &TestApp, path: &str, ts: i64, body: Vec<u8>) -> reqwest::Response {
    let ts = ts.to_string();
    app.client
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", &ts)
        .header("x-slack-signature", signature(&ts, &body))
        .body(body)
        .send()
        .await
        .unwrap()
}

fn click_payload(user: &str, action_id: &str, value: &str, response_url: &str) -> Vec<u8> {
    let payload = json!({
        "type": "block_actions",
        "user": {"id": user}, "team": {"id": "T0"},
        "container": {"type": "message", "channel_id": "C0INC",
                      "message_ts": "1700000000.000100"},
        "message": {"ts": "1700000000.000100"},
        "response_url": response_url, "trigger_id": "1.2.3",
        "actions": [{"action_id": action_id, "block_id": "incident.actions", "value": value,
                     "type": "button", "action_ts": "1700000001.1"}],
    });
    format!("payload={}", enc(&payload.to_string())).into_bytes()
}

async fn status_of(app: &TestApp, number: i64) -> String {
    let shown = app.api_get(&format!("/api/v1/incidents/{number}")).await;
    shown["incident"]["status"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn slack_requests_out_of_window_oversized_or_malformed_change_nothing() {
    let fake = SlackFake::start().await;
    let app = app_with("", Some(&fake)).await;
    let now = app.clock.now().as_second();
    let body =
        |text: &str| format!("user_id=U0SAM&command=%2Fincident&text={}", enc(text)).into_bytes();

    let future = post_slack(
        &app,
        "/slack/commands",
        now + 301,
        body("p1 From the future"),
    )
    .await;
    let past = post_slack(&app, "/slack/commands", now - 301, body("p1 From the past")).await;
    let mut huge = body("p1 Huge ");
    huge.extend(std::iter::repeat_n(b'a', 3 * 1024 * 1024));
    let oversized = post_slack(&app, "/slack/commands", now, huge).await;
    let not_json = post_slack(
        &app,
        "/slack/interactivity",
        now,
        b"payload=%7Bnope".to_vec(),
    )
    .await;
    let no_payload = post_slack(&app, "/slack/interactivity", now, b"x=1".to_vec()).await;
    let edge = post_slack(&app, "/slack/commands", now - 300, body("p3 At the edge")).await;

    assert_eq!(future.status(), 401);
    assert_eq!(past.status(), 401);
    assert_eq!(oversized.status(), 413);
    assert_eq!(not_json.status(), 400);
    assert_eq!(no_payload.status(), 400);
    assert_eq!(edge.status(), 200, "300 s off is still inside the window");
    let list = app.api_get("/api/v1/incidents").await;
    let titles: Vec<&str> = list["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["At the edge"]);
}

#[tokio::test]
async fn clicks_act_only_for_linked_people_on_real_incidents_with_known_actions() {
    let fake = SlackFake::start().await;
    let app = app_with("", Some(&fake)).await;
    let elsewhere = crate::helpers::HttpFake::start().await;
    let respond = format!("http://{}/respond/T0/1/abc", fake.addr);
    let number = declare(&app, "Checkout down").await;
    let id = app.api_get("/api/v1/incidents/1").await["incident"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let now = app.clock.now().as_second();
    let click = |user: &str, action: &str, value: &str, url: &str| {
        post_slack(
            &app,
            "/slack/interactivity",
            now,
            click_payload(user, action, value, url),
        )
    };
    let replies = || -> Vec<String> {
        fake.calls_to("respond")
            .iter()
            .map(|c| c.body["text"].as_str().unwrap_or_default().to_string())
            .collect()
    };

    assert_eq!(
        click("U0NOBODY", "incident.resolve", &id, &respond)
            .await
            .status(),
        200
    );
    assert_eq!(
        click("U0SAM", "incident.delete", &id, &respond)
            .await
            .status(),
        200
    );
    let missing = "01JZZZZZZZZZZZZZZZZZZZZZZZ";
    assert_eq!(
        click("U0SAM", "incident.resolve", missing, &respond)
            .await
            .status(),
        200
    );
    assert_eq!(
        click("U0SAM", "incident.resolve", "1", &respond)
            .await
            .status(),
        200
    );
    let foreign = format!("http://{}/respond/T0/1/abc", elsewhere.addr);
    assert_eq!(
        click("U0NOBODY", "incident.resolve", &id, &foreign)
            .await
            .status(),
        200
    );

    assert_eq!(status_of(&app, number).await, "investigating");
    assert_eq!(timeline_len(&app, number).await, 1, "only the declaration");
    let replies = replies();
    assert_eq!(replies.len(), 3, "{replies:?}");
    assert!(
        replies[0].starts_with("Link your account first"),
        "{replies:?}"
    );
    assert_eq!(replies[1..], ["No such incident.", "No such incident."]);
    assert!(elsewhere.requests().is_empty(), "replies only go to Slack");
}

// ---- Admin routes want the token -----------------------------------------------------

#[tokio::test]
async fn every_incident_and_statuspage_admin_route_refuses_missing_or_wrong_tokens() {
    let app = app_with(PAGE, None).await;
    let number = declare(&app, "Checkout down").await;
    let (status, _) = post_json(
        &app,
        "/api/v1/incidents/1/publish",
        json!({ "body": "Looking.", "components": { "db": "major_outage" } }),
    )
    .await;
    assert_eq!(status, 201);
    let (status, maintenance) = post_json(
        &app,
        "/api/v1/statuspage/maintenances",
        json!({ "name": "Upgrade", "components": ["db"], "body": "Upgrading.",
                "scheduled_for": "2025-07-01T02:00:00Z",
                "scheduled_until": "2025-07-01T03:00:00Z" }),
    )
    .await;
    assert_eq!(status, 201);
    let maintenance = maintenance["id"].as_str().unwrap().to_string();
    let before = (
        app.api_get("/api/v1/incidents/1").await,
        public_json(&app, "/api/v2/summary.json").await,
        public_json(&app, "/api/v2/scheduled-maintenances.json").await,
    );
    let alert = app.fire("DiskFull").await["alert_id"].as_i64().unwrap();

    let routes: Vec<(&str, String, Value)> = vec![
        ("GET", "/api/v1/incidents".into(), Value::Null),
        ("GET", "/api/v1/incidents?open=true".into(), Value::Null),
        (
            "POST",
            "/api/v1/incidents".into(),
            json!({ "title": "x", "severity": "P1", "by": "sam" }),
        ),
        ("GET", format!("/api/v1/incidents/{number}"), Value::Null),
        (
            "POST",
            "/api/v1/incidents/1/status".into(),
            json!({ "status": "resolved" }),
        ),
        (
            "POST",
            "/api/v1/incidents/1/severity".into(),
            json!({ "severity": "P1" }),
        ),
        (
            "POST",
            "/api/v1/incidents/1/commander".into(),
            json!({ "person": "ana" }),
        ),
        (
            "POST",
            "/api/v1/incidents/1/comms".into(),
            json!({ "person": "ana" }),
        ),
        (
            "POST",
            "/api/v1/incidents/1/notes".into(),
            json!({ "text": "x" }),
        ),
        (
            "POST",
            "/api/v1/incidents/1/updates".into(),
            json!({ "text": "x" }),
        ),
        (
            "POST",
            "/api/v1/incidents/1/summary".into(),
            json!({ "text": "x" }),
        ),
        (
            "POST",
            "/api/v1/incidents/1/impact".into(),
            json!({ "text": "x" }),
        ),
        (
            "POST",
            "/api/v1/incidents/1/page".into(),
            json!({ "people": ["ana"] }),
        ),
        (
            "POST",
            "/api/v1/incidents/1/alerts".into(),
            json!({ "alert": alert.to_string() }),
        ),
        (
            "POST",
            "/api/v1/incidents/1/publish".into(),
            json!({ "body": "x" }),
        ),
        (
            "POST",
            "/api/v1/incidents/1/public-updates".into(),
            json!({ "body": "x", "status": "resolved" }),
        ),
        (
            "POST",
            "/api/v1/statuspage/maintenances".into(),
            json!({ "name": "x", "components": [], "body": "x",
                    "scheduled_for": "2025-07-02T02:00:00Z",
                    "scheduled_until": "2025-07-02T03:00:00Z" }),
        ),
        (
            "POST",
            format!("/api/v1/statuspage/maintenances/{maintenance}/status"),
            json!({ "status": "in_progress" }),
        ),
        (
            "POST",
            "/api/v1/statuspage/components/db".into(),
            json!({ "status": "major_outage" }),
        ),
        (
            "POST",
            "/api/v1/statuspage/reclassify".into(),
            json!({ "start": "2025-06-01T00:00:00Z", "end": "2025-06-01T01:00:00Z",
                    "as": "maintenance", "reason": "x" }),
        ),
        (
            "GET",
            "/api/v1/statuspage/reclassifications".into(),
            Value::Null,
        ),
    ];
    let basic = |password: &str| {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("u:{password}"));
        format!("Basic {encoded}")
    };
    let credentials: Vec<Option<String>> = vec![
        None,
        Some("Bearer".into()),
        Some("Bearer ".into()),
        Some("Bearer wrong".into()),
        Some(format!("Bearer {API_TOKEN}x")),
        Some(format!("Bearer {}", &API_TOKEN[..API_TOKEN.len() - 1])),
        Some(format!("Bearer {}", API_TOKEN.to_uppercase())),
        Some(format!("Bearer {TOKEN}")),
        Some(format!("Bearer {SLACK_BOT_TOKEN}")),
        Some(format!("Token {API_TOKEN}")),
        Some(basic("wrong")),
    ];

    for (method, path, body) in &routes {
        for credential in &credentials {
            let mut request = match *method {
                "GET" => app.client.get(app.url(path)),
                _ => app.client.post(app.url(path)).json(body),
            };
            if let Some(value) = credential {
                request = request.header("authorization", value);
            }
            let response = request.send().await.unwrap();
            assert_eq!(
                response.status(),
                401,
                "{method} {path} with {credential:?}"
            );
            let answer: Value = response.json().await.unwrap();
            assert_eq!(answer["error"], "unauthorized", "{method} {path}");
        }
    }

    app.run_engine_once().await;
    let after = (
        app.api_get("/api/v1/incidents/1").await,
        public_json(&app, "/api/v2/summary.json").await,
        public_json(&app, "/api/v2/scheduled-maintenances.json").await,
    );
    assert_eq!(before.0, after.0, "the incident did not change");
    assert_eq!(before.1["components"], after.1["components"]);
    assert_eq!(before.1["incidents"], after.1["incidents"]);
    assert_eq!(before.2, after.2);
    let list = app.api_get("/api/v1/incidents").await;
    assert_eq!(list["incidents"].as_array().unwrap().len(), 1);
}

// ---- Subscriptions -------------------------------------------------------------------

async fn confirmed(app: &TestApp) -> i64 {
    subscribers::confirmed_count(&app.store).await.unwrap()
}

#[tokio::test]
async fn subscribe_refuses_header_breaks_several_ats_and_oversized_addresses() {
    let app = app_with(PAGE, None).await;
    let long_local = format!("{}%40example.com", "a".repeat(300));
    let huge = format!("{}%40example.com", "a".repeat(64 * 1024));
    let bad = [
        "email=a%40example.com%0D%0ABcc%3A%20evil%40example.com",
        "email=a%40example.com%0ABcc%3A+evil%40example.com",
        "email=a%40example.com%0D%0A%0D%0Abody",
        "email=a%40b%40example.com",
        "email=%22a%40b%22%40example.com",
        "email=a%40example.com%2Cb%40example.com",
        "email=A+B+%3Ca%40example.com%3E",
        "email=a%40example.com%00",
        "email=",
        "email=%40example.com",
        &long_local,
        &huge,
    ];

    for body in bad {
        // Clear of the per-IP limit (10 an hour), which counts refused requests too.
        app.clock.advance(SignedDuration::from_mins(7));
        let (status, page) = post_form(&app, "/subscribe", body).await;
        assert_eq!(status, 400, "{body}");
        assert!(page.contains("That is not an email address."), "{body}");
    }

    app.run_engine_once().await;
    assert!(
        app.smtp.mails().is_empty(),
        "no confirmation was queued for anything"
    );
}

#[tokio::test]
async fn subscription_tokens_work_once_only_for_their_purpose_and_answers_do_not_tell() {
    let app = app_with(PAGE, None).await;
    let (status, wrong) = post_form(&app, "/subscribe/confirm?token=not-a-token", "").await;
    assert_eq!(status, 404, "{wrong}");
    crate::statuspage::subscribe_and_confirm(&app, "reader@example.com").await;
    let confirm_mail = mails_to(&app, "reader@example.com").pop().unwrap();
    let confirm = link(&mail_text(&confirm_mail.data), "/subscribe/confirm?token=");
    let confirm_path = confirm.trim_start_matches(&app.url("")).to_string();
    let confirm_token = confirm_path.split("token=").nth(1).unwrap().to_string();
    let number = declare(&app, "Checkout errors").await;
    let (status, _) = post_json(
        &app,
        &format!("/api/v1/incidents/{number}/publish"),
        json!({ "body": "Looking." }),
    )
    .await;
    assert_eq!(status, 201);
    app.run_engine_once().await;
    let notice = mails_to(&app, "reader@example.com").pop().unwrap();
    let unsubscribe = link(&mail_text(&notice.data), "/unsubscribe?token=");
    let unsubscribe_path = unsubscribe.trim_start_matches(&app.url("")).to_string();
    let unsubscribe_token = unsubscribe_path.split("token=").nth(1).unwrap().to_string();

    // A token opens only what it was made for.
    let as_unsubscribe = format!("/unsubscribe?token={confirm_token}");
    let (_, page) = post_form(&app, &as_unsubscribe, "").await;
    assert!(page.contains("Not subscribed"), "{page}");
    let as_confirm = format!("/subscribe/confirm?token={unsubscribe_token}");
    assert_eq!(post_form(&app, &as_confirm, "").await.0, 404);
    assert_eq!(confirmed(&app).await, 1);

    let (status, page) = post_form(&app, &unsubscribe_path, "").await;
    assert_eq!(status, 200);
    assert!(page.contains("Unsubscribed"), "{page}");
    assert_eq!(confirmed(&app).await, 0);

    // Spent tokens stay spent, also after the address subscribes again.
    let known = post_form(&app, "/subscribe", "email=reader%40example.com").await;
    let unknown = post_form(&app, "/subscribe", "email=stranger%40example.com").await;
    assert_eq!(known, unknown, "known and unknown addresses read alike");
    let (_, again) = post_form(&app, &unsubscribe_path, "").await;
    assert!(again.contains("Not subscribed"), "{again}");
    let (status, _, shown) = get(&app, &unsubscribe_path, &[]).await;
    assert_eq!(status, 200);
    assert!(
        !shown.contains("<form"),
        "a spent link offers no button: {shown}"
    );
    assert_eq!(post_form(&app, &confirm_path, "").await.0, 404);
    assert_eq!(confirmed(&app).await, 0, "an old link confirms nobody");
}

// ---- Bad input -------------------------------------------------------------------------

async fn send_raw(app: &TestApp, method: &str, path: &str, body: &str) -> (u16, Value) {
    let request = match method {
        "GET" => app.client.get(app.url(path)),
        _ => app
            .client
            .post(app.url(path))
            .header("content-type", "application/json")
            .body(body.to_string()),
    };
    let response = request.bearer_auth(API_TOKEN).send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn bad_input_answers_a_4xx_naming_the_field_and_stores_nothing() {
    let app = app_with(PAGE, None).await;
    let number = declare(&app, "Checkout down").await;
    assert_eq!(number, 1);
    let long = |n: usize| "é".repeat(n);
    let text = |n: usize| json!({ "text": long(n), "by": "sam" }).to_string();
    let cases: Vec<(&str, &str, String, u16, &str)> = vec![
        (
            "POST",
            "/api/v1/incidents",
            "{\"title\":".into(),
            400,
            "body",
        ),
        ("POST", "/api/v1/incidents", "[]".into(), 400, "body"),
        (
            "POST",
            "/api/v1/incidents",
            json!({ "title": "x", "severity": "P1", "by": "sam", "colour": "red" }).to_string(),
            400,
            "body",
        ),
        (
            "POST",
            "/api/v1/incidents",
            json!({ "title": long(201), "severity": "P1", "by": "sam" }).to_string(),
            400,
            "title",
        ),
        (
            "POST",
            "/api/v1/incidents",
            json!({ "title": "x", "severity": "P1", "by": "sam", "summary": long(10_001) })
                .to_string(),
            400,
            "summary",
        ),
        (
            "POST",
            "/api/v1/incidents/1/notes",
            text(10_001),
            400,
            "note",
        ),
        (
            "POST",
            "/api/v1/incidents/1/updates",
            text(10_001),
            400,
            "update",
        ),
        (
            "POST",
            "/api/v1/incidents/1/summary",
            text(10_001),
            400,
            "summary",
        ),
        (
            "POST",
            "/api/v1/incidents/1/impact",
            text(10_001),
            400,
            "impact",
        ),
        (
            "POST",
            "/api/v1/incidents/1/status",
            json!({ "status": "identified", "text": long(10_001), "by": "sam" }).to_string(),
            400,
            "text",
        ),
        (
            "POST",
            "/api/v1/incidents/1/notes",
            json!({ "text": 5, "by": "sam" }).to_string(),
            400,
            "body",
        ),
        (
            "POST",
            "/api/v1/incidents/1/updates",
            json!({ "text": "x", "at": "2025-06-12 01:00", "by": "sam" }).to_string(),
            400,
            "at",
        ),
        (
            "POST",
            "/api/v1/incidents/1/summary",
            json!({ "text": "x", "key": true, "by": "sam" }).to_string(),
            400,
            "key",
        ),
        (
            "POST",
            "/api/v1/incidents/1/impact",
            json!({ "text": "x", "time_zone": "UTC", "by": "sam" }).to_string(),
            400,
            "time_zone",
        ),
        ("GET", "/api/v1/incidents/-1", String::new(), 404, ""),
        ("GET", "/api/v1/incidents/0", String::new(), 404, ""),
        ("GET", "/api/v1/incidents/%230", String::new(), 404, ""),
        (
            "GET",
            "/api/v1/incidents/99999999999999999999",
            String::new(),
            400,
            "id",
        ),
        ("GET", "/api/v1/incidents/%00", String::new(), 400, "id"),
        ("POST", "/api/v1/incidents/1%00/notes", text(1), 400, "id"),
        ("POST", "/api/v1/incidents/-5/notes", text(1), 404, ""),
        (
            "POST",
            "/api/v1/incidents/1/publish",
            json!({ "name": long(201), "body": "x" }).to_string(),
            400,
            "name",
        ),
        (
            "POST",
            "/api/v1/incidents/1/publish",
            json!({ "body": long(4097) }).to_string(),
            400,
            "body",
        ),
        (
            "POST",
            "/api/v1/incidents/1/publish",
            json!({ "body": "x", "components": { "nope": "major_outage" } }).to_string(),
            400,
            "components",
        ),
        (
            "POST",
            "/api/v1/statuspage/components/%00",
            json!({ "status": "major_outage" }).to_string(),
            404,
            "",
        ),
        (
            "POST",
            "/api/v1/statuspage/maintenances/%00/status",
            json!({ "status": "in_progress" }).to_string(),
            404,
            "",
        ),
    ];

    for (method, path, body, status, field) in &cases {
        let (got, answer) = send_raw(&app, method, path, body).await;
        assert_eq!(got, *status, "{method} {path}: {answer}");
        if !field.is_empty() {
            assert_eq!(answer["error"], "invalid_payload", "{method} {path}");
            assert_eq!(answer["field"], *field, "{method} {path}: {answer}");
        }
    }
    let mut huge = String::from("{\"text\":\"");
    huge.push_str(&"a".repeat(3 * 1024 * 1024));
    huge.push_str("\",\"by\":\"sam\"}");
    let (oversized, _) = send_raw(&app, "POST", "/api/v1/incidents/1/notes", &huge).await;
    assert_eq!(oversized, 413);
    let (status, _, _) = get(&app, "/incidents/%00", &[]).await;
    assert_eq!(status, 404);
    let (status, _, _) = get(&app, "/incidents/%FF", &[]).await;
    assert_eq!(status, 400, "not valid UTF-8");

    assert_eq!(timeline_len(&app, 1).await, 1, "only the declaration");
    let list = app.api_get("/api/v1/incidents").await;
    assert_eq!(list["incidents"].as_array().unwrap().len(), 1);
    assert_eq!(list["incidents"][0]["public_incident_id"], Value::Null);
    let (ok, _) = send_raw(&app, "POST", "/api/v1/incidents/1/notes", &text(10_000)).await;
    assert_eq!(ok, 200, "10 000 characters is the limit, not past it");
}

// ---- Secrets stay out of the logs ----------------------------------------------------

/// Everything the app logs while the guard lives, at every level.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// A current-thread runtime runs the server, the engine and the test on this thread, so a
/// thread-local subscriber sees every event they log.
#[tokio::test(flavor = "current_thread")]
async fn no_secret_or_token_reaches_the_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let fake = SlackFake::start().await;
    let app = app_with(PAGE, Some(&fake)).await;
    let now = app.clock.now().as_second();

    // A refused Slack request and a refused admin call.
    let body = b"user_id=U0SAM&command=%2Fincident&text=p1+x".to_vec();
    let forged = app
        .client
        .post(app.url("/slack/commands"))
        .header("x-slack-request-timestamp", now.to_string())
        .header("x-slack-signature", format!("v0={}", "ab".repeat(32)))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let wrong = app
        .client
        .get(app.url("/api/v1/incidents"))
        .bearer_auth(format!("{API_TOKEN}-guess"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let number = declare(&app, "Checkout down").await;
    for _ in 0..3 {
        app.clock.advance(SignedDuration::from_secs(5));
        app.run_engine_once().await;
    }
    // Subscriber tokens: confirmed, mailed with a notice, used to unsubscribe.
    crate::statuspage::subscribe_and_confirm(&app, "reader@example.com").await;
    let confirm_mail = mails_to(&app, "reader@example.com").pop().unwrap();
    let confirm = link(&mail_text(&confirm_mail.data), "/subscribe/confirm?token=");
    let (status, _) = post_json(
        &app,
        &format!("/api/v1/incidents/{number}/publish"),
        json!({ "body": "Looking." }),
    )
    .await;
    assert_eq!(status, 201);
    app.run_engine_once().await;
    let notice = mails_to(&app, "reader@example.com").pop().unwrap();
    let unsubscribe = link(&mail_text(&notice.data), "/unsubscribe?token=");
    let path = unsubscribe.trim_start_matches(&app.url("")).to_string();
    assert_eq!(post_form(&app, &path, "").await.0, 200);

    let logs = captured.text();
    assert!(
        logs.contains("Slack request refused"),
        "the capture works: {logs}"
    );
    let token_of = |url: &str| url.split("token=").nth(1).unwrap().to_string();
    for secret in [
        API_TOKEN.to_string(),
        SLACK_BOT_TOKEN.to_string(),
        SLACK_SIGNING_SECRET.to_string(),
        TOKEN.to_string(),
        token_of(&confirm),
        token_of(&unsubscribe),
        "reader@example.com".to_string(),
    ] {
        assert!(!logs.contains(&secret), "{secret:?} is in the logs");
    }
}
