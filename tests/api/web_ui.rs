//! The web UI (issue #7): a real headless Chromium logs in, sees who is on call and acks
//! an alert by clicking; plain HTTP checks every UI form post for CSRF, session and role,
//! cookie flags, escaping of user text, the login rate limit, and per-user API tokens.

use std::process::Command;

use dutybell::domain::accounts::{self, Role};
use dutybell::store::accounts as store;
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use serde_json::json;

use crate::browser::Browser;
use crate::helpers::{GENERIC_KEY, Setup, TestApp, spawn_app, spawn_app_with, t0, test_env};

/// Adds a user with a password derived from the login; returns the password.
pub(crate) async fn add_user(
    app: &TestApp,
    login: &str,
    role: Role,
    person: Option<&str>,
) -> String {
    let password = format!("{login}-password-0123");
    let hash = accounts::hash_password(&password, [9; 16]).unwrap();
    store::add_user(&app.store, login, &hash, role, person, app.clock.now())
        .await
        .unwrap();
    password
}

pub(crate) fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// The value of cookie `name` a response sets.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with(&format!("{name}=")))
}

fn cookie_value(header: &str) -> String {
    let first = header.split(';').next().unwrap();
    first.split_once('=').unwrap().1.to_string()
}

/// The CSRF token of the first form on a page.
fn csrf_of(page: &str) -> String {
    let marker = r#"name="csrf" value=""#;
    let start = page.find(marker).expect("the page has a form") + marker.len();
    page[start..].split('"').next().unwrap().to_string()
}

/// A signed-in HTTP client's cookie header and CSRF token.
pub(crate) struct Session {
    pub(crate) cookie: String,
    pub(crate) csrf: String,
    /// The full `Set-Cookie` of the session, flags included.
    set_cookie: String,
}

/// Logs in through the form; the answer to the login POST, and the login cookie used.
async fn post_login(app: &TestApp, login: &str, password: &str) -> reqwest::Response {
    let client = no_redirects();
    let form = client.get(app.url("/login")).send().await.unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    let nonce = cookie_value(&set_cookie(&form, "dutybell_login").unwrap());
    let csrf = csrf_of(&form.text().await.unwrap());
    client
        .post(app.url("/login"))
        .header("cookie", format!("dutybell_login={nonce}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("login", login),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
}

pub(crate) async fn sign_in(app: &TestApp, login: &str, password: &str) -> Session {
    let response = post_login(app, login, password).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/ui");
    let set_cookie = set_cookie(&response, "dutybell_session").unwrap();
    let cookie = format!("dutybell_session={}", cookie_value(&set_cookie));
    let page = no_redirects()
        .get(app.url("/ui"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csrf = csrf_of(&page.text().await.unwrap());
    Session {
        cookie,
        csrf,
        set_cookie,
    }
}

/// Posts a UI form as `session` (or with no cookie) with these fields.
pub(crate) async fn post_form(
    app: &TestApp,
    path: &str,
    cookie: Option<&str>,
    fields: &[(&str, &str)],
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = no_redirects().post(app.url(path)).form(fields);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

/// `fields` plus the CSRF token.
pub(crate) fn with<'a>(fields: &[(&'a str, &'a str)], csrf: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut all = fields.to_vec();
    all.push(("csrf", csrf));
    all
}

pub(crate) async fn get_page(app: &TestApp, path: &str, session: &Session) -> String {
    let response = no_redirects()
        .get(app.url(path))
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    response.text().await.unwrap()
}

async fn declare(app: &TestApp, title: &str) -> i64 {
    let response = app
        .api_post(
            "/api/v1/incidents",
            json!({ "title": title, "severity": "P3", "services": ["api"], "by": "ana",
                    "page": false }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    body["incident"]["number"].as_i64().unwrap()
}

async fn open_generic_alert(app: &TestApp, summary: &str) -> i64 {
    let response = app
        .client
        .post(app.url(&format!("/api/v1/integrations/{GENERIC_KEY}/generic")))
        .json(&json!({ "summary": summary, "dedup_key": summary }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    app.open_alerts().await.last().unwrap()["id"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn browser_logs_in_sees_who_is_on_call_acks_an_alert_and_runs_an_incident() {
    let app = spawn_app().await;
    let password = add_user(&app, "ana", Role::Responder, Some("ana")).await;
    let alert = app.fire("DiskFull").await["alert_id"].as_i64().unwrap();
    let browser = Browser::start().await;

    // A page without a session lands on the login form; a wrong password is refused.
    browser.goto(&app.url("/ui")).await;
    browser.wait_for_url(&app.url("/login")).await;
    browser.find("#login").await.send_keys("ana").await;
    browser
        .find("#password")
        .await
        .send_keys("not-the-password")
        .await;
    browser.find("#submit").await.click().await;
    let error = browser.find("#login-error").await.text().await;
    assert_eq!(error, "Wrong login or password.");

    // The right one lands on the dashboard: at t0 (Thu 05:00 Madrid) the business
    // schedule's night shift is the lead's, until 09:00, when ben's primary week takes over.
    browser.find("#password").await.send_keys(&password).await;
    browser.find("#submit").await.submit().await;
    browser.wait_for_url(&app.url("/ui")).await;
    let now = browser.find("#oncall-business .now").await.text().await;
    assert_eq!(now, "lead name until Thu 12 Jun 09:00 CEST");
    let next = browser.find("#oncall-business .next").await.text().await;
    assert_eq!(next, "ben name from Thu 12 Jun 09:00 CEST");
    let me = browser.find("#me").await.text().await;
    assert_eq!(me, "ana (responder)");

    // Ack by clicking: the alert page shows it, and the API agrees.
    browser.find(&format!("#ack-{alert}")).await.submit().await;
    browser
        .wait_for_url(&app.url(&format!("/ui/alerts/{alert}")))
        .await;
    assert_eq!(browser.find("#state").await.text().await, "acknowledged");
    let api = app.alert(alert).await;
    assert_eq!(api["alert"]["state"], "acknowledged");
    assert_eq!(api["alert"]["acked_by"], "ana");
    let acked = api["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "acknowledged")
        .unwrap();
    assert_eq!(acked["detail"]["via"], "web");
    let source = browser.source().await;
    assert!(
        source.contains(r#"{"dropped_pages":0,"via":"web"}"#),
        "{source}"
    );

    // Declare an incident from the dashboard, then resolve it on its page (the link
    // Slack announcements carry).
    browser.goto(&app.url("/ui")).await;
    browser.find("#new-incident").await.click().await;
    browser
        .find("#title")
        .await
        .send_keys("API returns 500s")
        .await;
    browser
        .find("#service option[value=api]")
        .await
        .click()
        .await;
    browser.find("#declare").await.submit().await;
    let incident = 1;
    let page = app.url(&format!("/ui/incidents/{incident}"));
    browser.wait_for_url(&page).await;
    assert_eq!(
        browser.find("#title").await.text().await,
        "API returns 500s"
    );
    assert_eq!(browser.find("#status").await.text().await, "investigating");
    browser
        .find("#status-to option[value=resolved]")
        .await
        .click()
        .await;
    browser
        .find("#status-text")
        .await
        .send_keys("rolled back")
        .await;
    browser.find("#set-status").await.submit().await;
    browser.wait_for_url(&page).await;
    assert_eq!(browser.find("#status").await.text().await, "resolved");
    let shown = app.api_get(&format!("/api/v1/incidents/{incident}")).await;
    assert_eq!(shown["incident"]["status"], "resolved");
    let changed = shown["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "status.changed")
        .unwrap();
    assert_eq!(changed["actor"], "ana");
    assert_eq!(changed["source"], "web");
    assert_eq!(shown["incident"]["declared_by"], "ana");
    assert_eq!(shown["incident"]["severity"], "P3");
    assert_eq!(shown["incident"]["services"], json!(["api"]));
    browser.quit().await;
}

#[tokio::test]
async fn every_ui_post_refuses_no_session_a_wrong_one_no_csrf_and_viewers() {
    let app = spawn_app().await;
    let responder = add_user(&app, "ana", Role::Responder, Some("ana")).await;
    let viewer = add_user(&app, "vic", Role::Viewer, None).await;
    let alert = app.fire("DiskFull").await["alert_id"].as_i64().unwrap();
    let incident = declare(&app, "API errors").await;
    let ana = sign_in(&app, "ana", &responder).await;
    let vic = sign_in(&app, "vic", &viewer).await;
    let routes = [
        (format!("/ui/alerts/{alert}/ack"), vec![]),
        (format!("/ui/alerts/{alert}/resolve"), vec![]),
        (
            format!("/ui/incidents/{incident}/status"),
            vec![("status", "resolved")],
        ),
        (
            "/ui/incidents".to_string(),
            vec![("title", "Sneaky"), ("severity", "P1"), ("service", "api")],
        ),
        ("/logout".to_string(), vec![]),
    ];
    let fake = format!("dutybell_session={}", accounts::session_id([1; 32]));

    for (path, fields) in &routes {
        let no_session = StatusCode::UNAUTHORIZED;
        let refused = StatusCode::FORBIDDEN;
        let cases = [
            (
                "no session",
                None,
                with(fields, &ana.csrf),
                vec![],
                no_session,
            ),
            (
                "wrong session",
                Some(fake.as_str()),
                with(fields, &ana.csrf),
                vec![],
                no_session,
            ),
            (
                "no csrf",
                Some(ana.cookie.as_str()),
                fields.clone(),
                vec![],
                refused,
            ),
            (
                "other's csrf",
                Some(ana.cookie.as_str()),
                with(fields, &vic.csrf),
                vec![],
                refused,
            ),
            (
                "cross-site",
                Some(ana.cookie.as_str()),
                with(fields, &ana.csrf),
                vec![("sec-fetch-site", "cross-site")],
                refused,
            ),
            (
                "foreign origin",
                Some(ana.cookie.as_str()),
                with(fields, &ana.csrf),
                vec![("origin", "http://attacker.invalid")],
                refused,
            ),
        ];
        for (case, cookie, form, headers, expected) in cases {
            let response = post_form(&app, path, cookie, &form, &headers).await;
            assert_eq!(response.status(), expected, "{case}: POST {path}");
        }
        if path != "/logout" {
            let form = with(fields, &vic.csrf);
            let response = post_form(&app, path, Some(&vic.cookie), &form, &[]).await;
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "viewer: POST {path}"
            );
            let body = response.text().await.unwrap();
            assert!(body.contains("This needs the responder role; you are a viewer."));
        }
    }

    // Nothing changed, and both sessions still work.
    assert_eq!(app.alert(alert).await["alert"]["state"], "triggered");
    let shown = app.api_get(&format!("/api/v1/incidents/{incident}")).await;
    assert_eq!(shown["incident"]["status"], "investigating");
    let all = app.api_get("/api/v1/incidents").await;
    assert_eq!(all["incidents"].as_array().unwrap().len(), 1);
    get_page(&app, "/ui", &vic).await;

    // The same post with everything right acts.
    let ack = format!("/ui/alerts/{alert}/ack");
    let response = post_form(&app, &ack, Some(&ana.cookie), &[("csrf", &ana.csrf)], &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.alert(alert).await["alert"]["state"], "acknowledged");
    let status = format!("/ui/incidents/{incident}/status");
    let fields = [("csrf", ana.csrf.as_str()), ("status", "resolved")];
    let response = post_form(&app, &status, Some(&ana.cookie), &fields, &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let shown = app.api_get(&format!("/api/v1/incidents/{incident}")).await;
    assert_eq!(shown["incident"]["status"], "resolved");

    // Logging out ends the session for good.
    let response = post_form(
        &app,
        "/logout",
        Some(&vic.cookie),
        &[("csrf", &vic.csrf)],
        &[],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/login");
    let page = no_redirects()
        .get(app.url("/ui"))
        .header("cookie", &vic.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(page.headers()["location"], "/login");
}

#[tokio::test]
async fn login_needs_the_forms_token() {
    let app = spawn_app().await;
    let password = add_user(&app, "ana", Role::Admin, None).await;

    let response = no_redirects()
        .post(app.url("/login"))
        .form(&[
            ("login", "ana"),
            ("password", password.as_str()),
            ("csrf", "00"),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie(&response, "dutybell_session").is_none());
}

#[tokio::test]
async fn the_session_cookie_is_httponly_lax_and_secure_behind_https() {
    let app = spawn_app().await;
    let password = add_user(&app, "ana", Role::Viewer, None).await;

    let plain = sign_in(&app, "ana", &password).await;

    let flags: Vec<&str> = plain.set_cookie.split("; ").skip(1).collect();
    assert_eq!(
        flags,
        ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=43200"]
    );
    let id = cookie_value(&plain.set_cookie);
    assert_eq!(id.len(), 43);
    // Only the digest is stored.
    let stored: Vec<String> = sqlx_rows(&app, "SELECT id_hash FROM sessions").await;
    assert_eq!(stored, [accounts::digest(&id)]);

    let https = spawn_app_with(Setup {
        instance: "[server]\npublic_url = \"https://dutybell.example\"\n".into(),
        ..Setup::default()
    })
    .await;
    let password = add_user(&https, "ana", Role::Viewer, None).await;
    let secure = sign_in(&https, "ana", &password).await;
    assert!(
        secure.set_cookie.ends_with("; Secure"),
        "{}",
        secure.set_cookie
    );
}

/// One text column of every row a query returns, read from the app's database (a file on
/// SQLite, the test's own database on Postgres) over a connection of the test's own.
async fn sqlx_rows(app: &TestApp, sql: &str) -> Vec<String> {
    let url = app.engine.config.settings.database_url.clone();
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let rows: Vec<String> = sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap();
    pool.close().await;
    rows
}

#[tokio::test]
async fn user_text_renders_inert_on_the_dashboard_and_detail_pages() {
    let app = spawn_app().await;
    let password = add_user(&app, "ana", Role::Responder, None).await;
    let summary = "<script>alert(1)</script>";
    let title = "\"><img src=x onerror=alert(2)>";
    let alert = open_generic_alert(&app, summary).await;
    let incident = declare(&app, title).await;
    let session = sign_in(&app, "ana", &password).await;

    let dashboard = get_page(&app, "/ui", &session).await;
    let alert_page = get_page(&app, &format!("/ui/alerts/{alert}"), &session).await;
    let incident_page = get_page(&app, &format!("/ui/incidents/{incident}"), &session).await;

    for page in [&dashboard, &alert_page] {
        assert!(!page.contains(summary));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }
    for page in [&dashboard, &incident_page] {
        assert!(!page.contains("<img"));
        assert!(page.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"));
    }
    assert!(!dashboard.contains("<script"));
}

#[tokio::test]
async fn five_failed_logins_lock_the_login_for_fifteen_minutes() {
    let app = spawn_app().await;
    let password = add_user(&app, "ana", Role::Viewer, None).await;

    for _ in 0..5 {
        let response = post_login(&app, "ana", "wrong-password-here").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let locked = post_login(&app, "ana", &password).await;

    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(locked.headers()["retry-after"], "900");
    assert!(set_cookie(&locked, "dutybell_session").is_none());
    let body = locked.text().await.unwrap();
    assert!(body.contains("Too many failed logins; try again in 15 minutes."));

    app.clock.advance(jiff::SignedDuration::from_mins(15));
    sign_in(&app, "ana", &password).await;
}

#[tokio::test]
async fn a_session_ends_after_an_idle_hour() {
    let app = spawn_app().await;
    let password = add_user(&app, "ana", Role::Viewer, None).await;
    let session = sign_in(&app, "ana", &password).await;

    app.clock.advance(jiff::SignedDuration::from_mins(59));
    get_page(&app, "/ui", &session).await;
    app.clock.advance(jiff::SignedDuration::from_mins(59));
    get_page(&app, "/ui", &session).await;
    app.clock.advance(jiff::SignedDuration::from_mins(60));
    let idle = no_redirects()
        .get(app.url("/ui"))
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap();

    assert_eq!(idle.status(), StatusCode::SEE_OTHER);
    assert_eq!(idle.headers()["location"], "/login");
    assert!(
        sqlx_rows(&app, "SELECT id_hash FROM sessions")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn pages_without_a_session_redirect_to_login_and_json_gets_401() {
    let app = spawn_app().await;

    for path in ["/ui", "/ui/alerts/1", "/ui/incidents/1"] {
        let response = no_redirects().get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(response.headers()["location"], "/login");
    }
    let json = no_redirects()
        .get(app.url("/ui"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = json.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized");
}

/// Runs the `dutybell` binary on the app's config and database.
async fn cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    let dir = app.config_dir().to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let clock = dir.join("clock");
        std::fs::write(&clock, t0().to_string()).unwrap();
        Command::new(env!("CARGO_BIN_EXE_dutybell"))
            .arg("--config")
            .arg(&dir)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .args(&args)
            .envs(test_env())
            .env("DUTYBELL_CLOCK_FILE", &clock)
            .env("DUTYBELL_LOG", "trace")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn cli_bootstraps_an_admin_whose_hashed_token_opens_the_admin_api() {
    let app = spawn_app().await;

    let added = cli(
        &app,
        &["user", "add", "root", "--role", "admin", "--person", "ana"],
    )
    .await;
    assert!(added.status.success(), "{added:?}");
    let stdout = String::from_utf8(added.stdout).unwrap();
    let password = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Password (shown once): "))
        .unwrap()
        .to_string();
    assert_eq!(password.len(), 24);
    sign_in(&app, "root", &password).await;

    let viewer = cli(&app, &["user", "add", "vic", "--role", "viewer"]).await;
    assert!(viewer.status.success());
    let created = cli(&app, &["user", "token", "create", "root", "--name", "ci"]).await;
    assert!(created.status.success(), "{created:?}");
    let token = String::from_utf8(created.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_string();
    assert!(accounts::is_api_token(&token), "{token}");
    assert!(!String::from_utf8_lossy(&created.stderr).contains(&token));
    let too_much = cli(
        &app,
        &[
            "user", "token", "create", "vic", "--name", "x", "--role", "admin",
        ],
    )
    .await;
    assert!(!too_much.status.success());
    let read_only = cli(&app, &["user", "token", "create", "vic", "--name", "ro"]).await;
    let viewer_token = String::from_utf8(read_only.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_string();

    // Stored as its digest only.
    let stored = sqlx_rows(&app, "SELECT token_hash FROM api_tokens ORDER BY id").await;
    assert_eq!(
        stored,
        [accounts::digest(&token), accounts::digest(&viewer_token)]
    );
    assert_eq!(list_alerts(&app, &token).await, StatusCode::OK);
    assert_eq!(
        list_alerts(&app, &viewer_token).await,
        StatusCode::UNAUTHORIZED
    );
    let unknown = accounts::api_token([3; 32]);
    assert_eq!(list_alerts(&app, &unknown).await, StatusCode::UNAUTHORIZED);

    let revoked = cli(&app, &["user", "token", "revoke", "root", "--name", "ci"]).await;
    assert!(revoked.status.success(), "{revoked:?}");
    assert_eq!(list_alerts(&app, &token).await, StatusCode::UNAUTHORIZED);
}

async fn list_alerts(app: &TestApp, token: &str) -> StatusCode {
    app.client
        .get(app.url("/api/v1/alerts"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}
