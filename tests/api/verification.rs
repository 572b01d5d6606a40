//! Contact-method verification (issue #4, on-call spec §1.1): a `verify = true` contact
//! carries no page until the code sent through it comes back, through the admin API or
//! `dutybell contact`; wrong codes lock, old codes expire, and a new address starts over.

use jiff::SignedDuration;
use serde_json::json;

use crate::helpers::{Setup, TestApp, spawn_app_with};
use crate::oncall::dutybell;

/// Vera is reachable only by an email address that needs a code.
const VERA: &str = r#"
[[person]]
id = "vera"
name = "Vera"
time_zone = "Europe/Madrid"
contact = [{ kind = "email", to = "vera@example.com", verify = true }]
"#;

const VERIFY: &str = "/api/v1/people/vera/contacts/email/verify";
const CONFIRM: &str = "/api/v1/people/vera/contacts/email/confirm";

async fn app() -> TestApp {
    spawn_app_with(Setup {
        team: VERA.to_string(),
        ..Setup::default()
    })
    .await
}

/// Pages vera directly and runs the engine; returns the alert id.
async fn page_vera(app: &TestApp) -> i64 {
    let response = app
        .api_post(
            "/api/v1/page",
            json!({ "people": ["vera"], "summary": "db down" }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let id = response.json::<serde_json::Value>().await.unwrap()["alert_id"]
        .as_i64()
        .unwrap();
    app.run_engine_once().await;
    id
}

/// The `no_notification_sent` entries of an alert's timeline.
async fn not_sent(app: &TestApp, id: i64) -> Vec<serde_json::Value> {
    app.alert(id).await["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "no_notification_sent")
        .map(|e| e["detail"].clone())
        .collect()
}

/// Mails the SMTP sink got for `to`.
fn mails_to(app: &TestApp, to: &str) -> Vec<String> {
    app.smtp
        .mails()
        .into_iter()
        .filter(|m| m.to.iter().any(|t| t == to))
        .map(|m| m.data)
        .collect()
}

/// The code in the newest verification mail to `to`.
fn last_code(app: &TestApp, to: &str) -> String {
    let mails = mails_to(app, to);
    let mail = mails.last().expect("a verification mail");
    let marker = "Your dutybell verification code is ";
    let at = mail.find(marker).expect("the code line") + marker.len();
    let code = &mail[at..at + 6];
    assert!(code.bytes().all(|b| b.is_ascii_digit()), "{mail}");
    code.to_string()
}

async fn confirm(app: &TestApp, code: &str) -> reqwest::Response {
    app.api_post(CONFIRM, json!({ "code": code })).await
}

async fn verify(app: &TestApp) -> String {
    let response = app.api_post(VERIFY, json!({})).await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "code_sent");
    let expires = app.clock.now() + SignedDuration::from_mins(15);
    assert_eq!(body["expires_at"], expires.to_string());
    last_code(app, "vera@example.com")
}

fn wrong(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

#[tokio::test]
async fn an_unverified_contact_gets_no_page_until_its_code_comes_back() {
    let app = app().await;

    let before = page_vera(&app).await;

    assert!(mails_to(&app, "vera@example.com").is_empty());
    assert_eq!(
        not_sent(&app, before).await,
        [json!({ "person": "vera", "reason": "unverified", "unverified": ["email"] })]
    );

    let code = verify(&app).await;
    let mail = &mails_to(&app, "vera@example.com")[0];
    assert!(
        mail.contains("Subject: [dutybell] Verification code"),
        "{mail}"
    );
    let confirmed = confirm(&app, &code).await;
    assert_eq!(confirmed.status(), 200);
    assert_eq!(
        confirmed.json::<serde_json::Value>().await.unwrap()["status"],
        "verified"
    );
    let after = page_vera(&app).await;

    let mails = mails_to(&app, "vera@example.com");
    assert_eq!(mails.len(), 2, "the code, then the page");
    assert!(mails[1].contains("db down"), "{}", mails[1]);
    assert!(not_sent(&app, after).await.is_empty());
    assert_eq!(
        confirm(&app, &code).await.status(),
        409,
        "a code is used once"
    );
}

#[tokio::test]
async fn five_wrong_codes_lock_the_code_until_a_new_one_is_sent() {
    let app = app().await;
    let code = verify(&app).await;

    for left in (0..5).rev() {
        let response = confirm(&app, &wrong(&code)).await;
        assert_eq!(response.status(), 400);
        let text = response.text().await.unwrap();
        if left > 0 {
            assert!(text.contains(&format!("{left} attempt(s) left")), "{text}");
        } else {
            assert!(text.contains("last attempt"), "{text}");
        }
    }
    let locked = confirm(&app, &code).await;

    assert_eq!(locked.status(), 409, "even the right code");
    assert!(
        locked
            .text()
            .await
            .unwrap()
            .contains("too many wrong codes")
    );
    let id = page_vera(&app).await;
    assert_eq!(not_sent(&app, id).await[0]["reason"], "unverified");

    let fresh = verify(&app).await;
    assert_eq!(confirm(&app, &fresh).await.status(), 200);
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let app = app().await;
    let code = verify(&app).await;

    app.clock.advance(SignedDuration::from_mins(15));
    let response = confirm(&app, &code).await;

    assert_eq!(response.status(), 409);
    let text = response.text().await.unwrap();
    assert!(text.contains("expired"), "{text}");
    let id = page_vera(&app).await;
    assert_eq!(not_sent(&app, id).await[0]["reason"], "unverified");
}

#[tokio::test]
async fn a_new_address_in_config_needs_a_new_code() {
    let app = app().await;
    let code = verify(&app).await;
    assert_eq!(confirm(&app, &code).await.status(), 200);
    let clock = app.clock.clone();

    let app = app
        .restart(clock, |dir| {
            let team = dir.join("team.toml");
            let text = std::fs::read_to_string(&team).unwrap();
            let moved = text.replace("vera@example.com", "vera@example.org");
            std::fs::write(team, moved).unwrap();
        })
        .await;
    let id = page_vera(&app).await;

    assert!(mails_to(&app, "vera@example.org").is_empty());
    assert_eq!(not_sent(&app, id).await[0]["reason"], "unverified");
}

#[tokio::test]
async fn bad_requests_are_refused_and_nothing_is_sent() {
    let app = app().await;

    let cases = [
        ("/api/v1/people/zed/contacts/email/verify", 404),
        ("/api/v1/people/vera/contacts/sms/verify", 404),
        // Ana's email needs no code.
        ("/api/v1/people/ana/contacts/email/verify", 400),
    ];
    for (path, status) in cases {
        assert_eq!(
            app.api_post(path, json!({})).await.status(),
            status,
            "{path}"
        );
    }
    assert_eq!(confirm(&app, "12345").await.status(), 400);
    assert_eq!(confirm(&app, "123456").await.status(), 409, "no code sent");
    let anonymous = app.client.post(app.url(VERIFY)).send().await.unwrap();

    assert_eq!(anonymous.status(), 401);
    assert!(app.smtp.mails().is_empty());
}

#[tokio::test]
async fn the_cli_sends_confirms_and_lists() {
    let app = app().await;
    let dir = app.config_dir().to_path_buf();
    let now = app.clock.now();

    let sent = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || {
            dutybell(&dir, now, &["contact", "verify", "vera", "email"])
        })
        .await
        .unwrap()
    };
    let code = last_code(&app, "vera@example.com");
    let (confirmed, listed) = tokio::task::spawn_blocking(move || {
        let confirmed = dutybell(&dir, now, &["contact", "confirm", "vera", "email", &code]);
        (confirmed, dutybell(&dir, now, &["contact", "list", "vera"]))
    })
    .await
    .unwrap();

    assert!(
        sent.contains("Sent a code to Vera (vera)'s email contact"),
        "{sent}"
    );
    assert!(!sent.contains("vera@example.com"), "{sent}");
    assert_eq!(confirmed.trim(), "Vera (vera)'s email contact is verified.");
    let row = listed.lines().nth(1).unwrap();
    assert!(
        row.starts_with("vera         email    verified "),
        "{listed}"
    );
    let id = page_vera(&app).await;
    assert!(not_sent(&app, id).await.is_empty());
}

#[test]
fn verify_is_refused_on_kinds_that_take_no_code() {
    let dir = tempfile::tempdir().unwrap();
    let unused: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
    crate::helpers::write_config(dir.path(), unused, unused, None);
    let team = dir.path().join("team.toml");
    let text = std::fs::read_to_string(&team).unwrap();
    let edited = text.replacen(
        "secret_env = \"HOOK_SECRET\" }",
        "secret_env = \"HOOK_SECRET\", verify = true }",
        1,
    );
    std::fs::write(&team, edited).unwrap();

    let result = dutybell::config::load_with(
        dir.path(),
        &dutybell::config::Overrides::default(),
        &crate::helpers::test_env(),
        &mut dutybell::config::secrets::Secrets::default(),
    );

    let message = result.expect_err("refused").to_string();
    assert!(
        message.contains(
            "team.toml: `person[0].contact[0].verify`: only sms, voice and email contacts \
             can be verified, not webhook"
        ),
        "{message}"
    );
}

#[tokio::test]
async fn sms_and_voice_codes_go_through_twilio() {
    let fake = crate::helpers::HttpFake::start().await;
    let instance = format!(
        "[twilio]\naccount_sid = \"AC0123456789abcdef0123456789abcdef\"\n\
         auth_token_env = \"TWILIO_AUTH_TOKEN\"\nfrom = \"+15550199\"\n\
         api_base = \"http://{}\"\n",
        fake.addr
    );
    let team = "[[person]]\nid = \"pia\"\ncontact = [\
                { kind = \"sms\", to = \"+15550142\", verify = true }, \
                { kind = \"voice\", to = \"+15550142\", verify = true }]\n";
    let app = spawn_app_with(Setup {
        team: team.to_string(),
        instance,
        ..Setup::default()
    })
    .await;

    for kind in ["sms", "voice"] {
        let path = format!("/api/v1/people/pia/contacts/{kind}/verify");
        assert_eq!(app.api_post(&path, json!({})).await.status(), 200);
    }

    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests[0].uri.ends_with("/Messages.json"));
    assert!(
        requests[0]
            .body
            .contains("Body=Your+dutybell+verification+code+is+"),
        "{}",
        requests[0].body
    );
    assert!(requests[1].uri.ends_with("/Calls.json"));
    assert!(requests[1].body.contains("Twiml="), "{}", requests[1].body);
}

/// A desk schedule handing over from ben to vera at 06:00Z and back at 00:00Z, with
/// shift-change notices; vera also has a webhook, which needs no code.
fn vera_on_desk() -> Setup {
    Setup {
        team: r#"
[[person]]
id = "vera"
name = "Vera"
time_zone = "Europe/Madrid"
contact = [
  { kind = "email", to = "vera@example.com", verify = true },
  { kind = "webhook", url = "http://{hooks}/hook/vera", secret_env = "HOOK_SECRET" },
]
"#
        .into(),
        oncall: r#"
[[schedule]]
id = "vdesk"
time_zone = "UTC"
shift_notices = true
rules = [
  { days = "all", from = "00:00", to = "06:00", target = "person:ben" },
  { days = "all", from = "06:00", to = "00:00", target = "person:vera" },
]
"#
        .into(),
        ..Setup::default()
    }
}

#[tokio::test]
async fn shift_notices_skip_an_unverified_contact_until_it_is_verified() {
    let app = spawn_app_with(vera_on_desk()).await;
    // t0 = 03:00Z, ben on call: recorded silently.
    assert_eq!(app.run_engine_once().await.notices_queued, 0);

    app.clock.set("2025-06-12T06:00:00Z".parse().unwrap());
    let pass = app.run_engine_once().await;
    assert_eq!(
        pass.notices_queued, 3,
        "ben's webhook and email, vera's webhook; not her unverified email"
    );
    assert!(mails_to(&app, "vera@example.com").is_empty());
    let started: Vec<String> = app
        .hooks
        .hooks()
        .iter()
        .filter(|h| h.body["event"] == "oncall.shift_started")
        .map(|h| h.person.clone())
        .collect();
    assert_eq!(started, ["vera"]);

    let code = verify(&app).await;
    assert_eq!(confirm(&app, &code).await.status(), 200);
    app.clock.set("2025-06-13T00:00:00Z".parse().unwrap());
    let pass = app.run_engine_once().await;
    assert_eq!(pass.notices_queued, 4, "both of vera's and both of ben's");
    let mails = mails_to(&app, "vera@example.com");
    assert_eq!(mails.len(), 2, "the code, then the shift-ended notice");
    assert!(mails[1].contains("vdesk"), "{}", mails[1]);
}
