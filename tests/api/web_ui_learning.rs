//! The web UI's postmortem editor, action items and runbooks (issues #7 and #6): a real
//! headless Chromium edits a postmortem, is refused publishing with the missing list, then
//! publishes; plain HTTP checks CSRF, session and role on every form post, escaping of
//! sections, items and runbook bodies, and that a runbook step tick is one `runbook.step`
//! event on the alert and on its incident.

use dutybell::domain::accounts::{self, Role};
use dutybell::store::accounts as store;
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::helpers::{TOKEN, TestApp, WEB_KEY, am_body, spawn_app, t0};

async fn add_user(app: &TestApp, login: &str, role: Role, person: Option<&str>) -> String {
    let password = format!("{login}-password-0123");
    let hash = accounts::hash_password(&password, [7; 16]).unwrap();
    store::add_user(&app.store, login, &hash, role, person, app.clock.now())
        .await
        .unwrap();
    password
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

fn csrf_of(page: &str) -> String {
    let marker = r#"name="csrf" value=""#;
    let start = page.find(marker).expect("the page has a form") + marker.len();
    page[start..].split('"').next().unwrap().to_string()
}

fn cookie_pair(response: &reqwest::Response, name: &str) -> String {
    let header = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with(&format!("{name}=")))
        .unwrap();
    header.split(';').next().unwrap().to_string()
}

/// A signed-in client: its cookie header and CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

async fn sign_in(app: &TestApp, login: &str, role: Role, person: Option<&str>) -> Session {
    let password = add_user(app, login, role, person).await;
    let client = no_redirects();
    let form = client.get(app.url("/login")).send().await.unwrap();
    let nonce = cookie_pair(&form, "dutybell_login");
    let csrf = csrf_of(&form.text().await.unwrap());
    let response = client
        .post(app.url("/login"))
        .header("cookie", nonce)
        .form(&[
            ("csrf", csrf.as_str()),
            ("login", login),
            ("password", &password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = cookie_pair(&response, "dutybell_session");
    let page = get(app, "/ui", &cookie).await;
    Session {
        csrf: csrf_of(&page),
        cookie,
    }
}

async fn get(app: &TestApp, path: &str, cookie: &str) -> String {
    let response = no_redirects()
        .get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    response.text().await.unwrap()
}

async fn post(
    app: &TestApp,
    path: &str,
    cookie: Option<&str>,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = no_redirects().post(app.url(path)).form(fields);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap()
}

/// Posts `fields` as `session`, expecting the redirect back to a page.
async fn post_ok(app: &TestApp, path: &str, session: &Session, fields: &[(&str, &str)]) {
    let mut all = fields.to_vec();
    all.push(("csrf", &session.csrf));
    let response = post(app, path, Some(&session.cookie), &all).await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, StatusCode::SEE_OTHER, "POST {path}: {body}");
}

async fn api_ok(app: &TestApp, path: &str, body: Value) -> Value {
    let response = app.api_post(path, body).await;
    let status = response.status();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "POST {path}: {answer}");
    answer
}

/// Declares a P1 and resolves it, which drafts its postmortem; returns its number.
async fn resolved_p1(app: &TestApp, title: &str) -> i64 {
    let declared = api_ok(
        app,
        "/api/v1/incidents",
        json!({ "title": title, "severity": "P1", "services": ["api"], "by": "ana",
                "page": false }),
    )
    .await;
    let number = declared["incident"]["number"].as_i64().unwrap();
    api_ok(
        app,
        &format!("/api/v1/incidents/{number}/status"),
        json!({ "status": "resolved", "by": "ana" }),
    )
    .await;
    let draft = app
        .api_get(&format!("/api/v1/incidents/{number}/postmortem"))
        .await;
    assert_eq!(draft["postmortem"]["status"], "draft", "{draft}");
    number
}

/// Replaces the text of a field: select all, then type over it.
async fn retype(browser: &Browser, css: &str, text: &str) {
    browser
        .find(css)
        .await
        .send_keys(&format!("\u{E009}a\u{E000}{text}"))
        .await;
}

#[tokio::test]
async fn browser_edits_a_postmortem_is_refused_then_publishes_it() {
    let app = spawn_app().await;
    let password = add_user(&app, "ana", Role::Responder, Some("ana")).await;
    let number = resolved_p1(&app, "API returns 500s").await;
    let browser = Browser::start().await;
    browser.goto(&app.url("/login")).await;
    browser.find("#login").await.send_keys("ana").await;
    browser.find("#password").await.send_keys(&password).await;
    browser.find("#submit").await.submit().await;
    browser.wait_for_url(&app.url("/ui")).await;

    let editor = app.url(&format!("/ui/incidents/{number}/postmortem"));
    browser.goto(&editor).await;
    assert_eq!(browser.find("#pm-status").await.text().await, "draft");
    retype(
        &browser,
        "#section-root_cause",
        "A config push skipped validation.",
    )
    .await;
    browser.find("#save").await.submit().await;
    browser.wait_for_url(&editor).await;

    browser
        .find("#item-title")
        .await
        .send_keys("Validate config in CI")
        .await;
    browser.find("#item-owner").await.send_keys("ana").await;
    browser
        .find("#item-due")
        .await
        .send_keys("2025-06-20")
        .await;
    browser.find("#add-item").await.submit().await;
    browser.wait_for_url(&editor).await;
    assert_eq!(
        browser.find("#item-1 .title").await.text().await,
        "Validate config in CI"
    );
    assert_eq!(
        browser.find("#item-1 .due").await.text().await,
        "2025-06-20"
    );

    // Summary and impact still say TBD: publishing is refused, listing them.
    browser.find("#publish").await.submit().await;
    browser.wait_for_url(&format!("{editor}/publish")).await;
    let refusals = browser.find("#refusals h2").await.text().await;
    assert_eq!(refusals, "Not published yet");
    let source = browser.source().await;
    let missing: Vec<&str> = source
        .split("<li class=\"missing\">")
        .skip(1)
        .map(|rest| rest.split("</li>").next().unwrap())
        .collect();
    assert_eq!(
        missing,
        ["Summary still says TBD", "Impact still says TBD"],
        "{source}"
    );
    let shown = app.api_get(&format!("/api/v1/incidents/{number}")).await;
    assert_eq!(shown["incident"]["status"], "resolved");

    browser.goto(&editor).await;
    retype(&browser, "#section-summary", "A config push broke the API.").await;
    retype(&browser, "#section-impact", "40% of API requests failed.").await;
    browser.find("#save").await.submit().await;
    browser.wait_for_url(&editor).await;
    browser.find("#publish").await.submit().await;
    browser.wait_for_url(&editor).await;
    assert_eq!(browser.find("#pm-status").await.text().await, "published");

    let shown = app.api_get(&format!("/api/v1/incidents/{number}")).await;
    assert_eq!(shown["incident"]["status"], "closed");
    let pm = app
        .api_get(&format!("/api/v1/incidents/{number}/postmortem"))
        .await;
    let doc = &pm["postmortem"]["document"];
    assert_eq!(doc["root_cause"], "A config push skipped validation.");
    assert_eq!(doc["summary"], "A config push broke the API.");
    assert_eq!(pm["action_items"][0]["owner"], "ana");
    assert_eq!(pm["action_items"][0]["due"], "2025-06-20");
    browser.quit().await;
}

#[tokio::test]
async fn every_learning_form_post_checks_session_csrf_and_role() {
    let app = spawn_app().await;
    let number = resolved_p1(&app, "Checkout down").await;
    let item = api_ok(
        &app,
        &format!("/api/v1/incidents/{number}/postmortem/action-items"),
        json!({"title": "Add a canary", "by": "ana"}),
    )
    .await;
    let item = item["action_item"]["id"]
        .as_str()
        .or(item["id"].as_str())
        .unwrap()
        .to_string();
    let alert = app.fire("DiskFull").await["alert_id"].as_i64().unwrap();
    let responder = sign_in(&app, "ana", Role::Responder, Some("ana")).await;
    let viewer = sign_in(&app, "vic", Role::Viewer, None).await;
    let before = app
        .api_get(&format!("/api/v1/incidents/{number}/postmortem"))
        .await;

    let base = format!("/ui/incidents/{number}/postmortem");
    let posts = [
        (base.clone(), vec![("root_cause", "x")]),
        (format!("{base}/items"), vec![("title", "y")]),
        (format!("{base}/items/{item}"), vec![("status", "done")]),
        (format!("{base}/publish"), vec![]),
        (format!("{base}/skip"), vec![("reason", "z")]),
        (
            format!("/ui/alerts/{alert}/runbook/step"),
            vec![("runbook", "disk-full"), ("step", "x")],
        ),
    ];
    for (path, fields) in &posts {
        let none = post(&app, path, None, fields).await;
        assert_eq!(none.status(), StatusCode::UNAUTHORIZED, "{path}");
        let mut bad = fields.clone();
        bad.push(("csrf", "forged"));
        let forged = post(&app, path, Some(&responder.cookie), &bad).await;
        assert_eq!(forged.status(), StatusCode::FORBIDDEN, "{path}");
        let mut good = fields.clone();
        good.push(("csrf", &viewer.csrf));
        let read_only = post(&app, path, Some(&viewer.cookie), &good).await;
        assert_eq!(read_only.status(), StatusCode::FORBIDDEN, "{path}");
        let text = read_only.text().await.unwrap();
        assert!(
            text.contains("This needs the responder role; you are a viewer."),
            "{text}"
        );
    }

    let after = app
        .api_get(&format!("/api/v1/incidents/{number}/postmortem"))
        .await;
    assert_eq!(before, after);
    let timeline = app.alert(alert).await["timeline"].clone();
    assert!(!timeline.to_string().contains("runbook.step"), "{timeline}");
    // A viewer reads the editor without any form.
    let page = get(&app, &base, &viewer.cookie).await;
    assert!(page.contains("Add a canary"), "{page}");
    assert!(!page.contains("id=\"publish\""), "{page}");
    assert!(!page.contains("<textarea"), "{page}");
}

#[tokio::test]
async fn sections_and_item_titles_render_inert() {
    let app = spawn_app().await;
    let number = resolved_p1(&app, "Escaping").await;
    let ana = sign_in(&app, "ana", Role::Responder, Some("ana")).await;
    let base = format!("/ui/incidents/{number}/postmortem");

    post_ok(
        &app,
        &base,
        &ana,
        &[("root_cause", "<script>alert(1)</script>")],
    )
    .await;
    post_ok(
        &app,
        &format!("{base}/items"),
        &ana,
        &[
            ("title", "<img src=x onerror=alert(2)>"),
            ("owner", "ana"),
            ("due", "2025-06-20"),
        ],
    )
    .await;

    let page = get(&app, &base, &ana.cookie).await;
    assert!(!page.contains("<script>alert(1)"), "{page}");
    assert!(!page.contains("<img src=x"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;</textarea>"),
        "{page}"
    );
    assert!(
        page.contains("<td class=\"title\">&lt;img src=x onerror=alert(2)&gt;</td>"),
        "{page}"
    );
    let actions = get(&app, "/ui/actions", &ana.cookie).await;
    assert!(!actions.contains("<img src=x"), "{actions}");
    assert!(
        actions.contains("<td class=\"title\">&lt;img src=x onerror=alert(2)&gt;</td>"),
        "{actions}"
    );
    let pm = app
        .api_get(&format!("/api/v1/incidents/{number}/postmortem"))
        .await;
    assert_eq!(
        pm["postmortem"]["document"]["root_cause"],
        "<script>alert(1)</script>"
    );
}

const DISK_FULL: &str = "+++
alerts = [\"DiskFull\"]
owner = \"team-platform\"
last_updated = 2025-06-01
+++

# Runbook: Disk full

<script>alert(1)</script>

## What this means

A volume is full.

## User impact

Uploads fail.

## Diagnosis steps

1. Check the volume: `df -h /data`.
2. Find what grew: `du -xh /data`.

## Remediation

### If logs fill the disk:

Run: `logrotate -f /etc/logrotate.conf`

Expected output: `df -h /data` under 80%.

## Escalate to

- `person:lead` if still full.

## Last updated

2025-06-01 by ana
";

fn runbook_steps(timeline: &Value) -> Vec<Value> {
    timeline
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "runbook.step")
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_runbook_step_tick_is_one_event_on_the_alert_and_its_incident() {
    let app = spawn_app().await;
    let app = app
        .restart(dutybell::clock::Clock::manual(t0()), |dir| {
            std::fs::create_dir_all(dir.join("runbooks")).unwrap();
            std::fs::write(dir.join("runbooks/disk-full.md"), DISK_FULL).unwrap();
        })
        .await;
    let body = am_body("DiskFull", &[("firing", &t0().to_string())]);
    let response = app
        .client
        .post(app.url(&format!("/api/v1/integrations/{WEB_KEY}/alertmanager")))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let alert = app.open_alerts().await.last().unwrap()["id"]
        .as_i64()
        .unwrap();
    let declared = api_ok(
        &app,
        "/api/v1/incidents",
        json!({ "title": "Disk", "severity": "P2", "services": ["web"], "by": "ana",
                "page": false }),
    )
    .await;
    let number = declared["incident"]["number"].as_i64().unwrap();
    api_ok(
        &app,
        &format!("/api/v1/incidents/{number}/alerts"),
        json!({ "alert": alert.to_string(), "by": "ana" }),
    )
    .await;
    let ana = sign_in(&app, "ana", Role::Responder, Some("ana")).await;

    // The alert page shows the runbook rendered, its raw HTML inert, steps unticked.
    let page = get(&app, &format!("/ui/alerts/{alert}"), &ana.cookie).await;
    assert!(!page.contains("<script>alert(1)"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(page.contains("<code>df -h /data</code>"), "{page}");
    assert_eq!(page.matches("class=\"unticked\"").count(), 3, "{page}");

    let step = "Find what grew: `du -xh /data`.";
    let path = format!("/ui/alerts/{alert}/runbook/step");
    let fields = [("runbook", "disk-full"), ("step", step)];
    post_ok(&app, &path, &ana, &fields).await;
    post_ok(&app, &path, &ana, &fields).await;

    let alert_steps = runbook_steps(&app.alert(alert).await["timeline"]);
    assert_eq!(alert_steps.len(), 1, "{alert_steps:?}");
    assert_eq!(
        alert_steps[0]["detail"],
        json!({"runbook": "disk-full", "step": step, "ticked_by": "ana", "via": "web"})
    );
    let incident = app.api_get(&format!("/api/v1/incidents/{number}")).await;
    let incident_steps = runbook_steps(&incident["timeline"]);
    assert_eq!(incident_steps.len(), 1, "{incident_steps:?}");
    assert_eq!(incident_steps[0]["data"]["step"], step);
    assert_eq!(incident_steps[0]["data"]["alert_id"], alert);

    let page = get(&app, &format!("/ui/alerts/{alert}"), &ana.cookie).await;
    assert_eq!(page.matches("class=\"unticked\"").count(), 2, "{page}");
    assert!(
        page.contains(
            "&#9745; Find what grew: `du -xh /data`.\n<span class=\"muted\">(ticked by ana)</span>"
        ),
        "{page}"
    );
    let incident_page = get(&app, &format!("/ui/incidents/{number}"), &ana.cookie).await;
    assert!(incident_page.contains("(ticked by ana)"), "{incident_page}");

    // Ticked from the incident page, the browser goes back there; a foreign `back` is
    // ignored.
    let first = "Check the volume: `df -h /data`.";
    let mut from_incident = vec![("runbook", "disk-full"), ("step", first)];
    let back = format!("/ui/incidents/{number}");
    from_incident.push(("back", &back));
    from_incident.push(("csrf", &ana.csrf));
    let response = post(&app, &path, Some(&ana.cookie), &from_incident).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], back.as_str());
    let offsite = [
        ("runbook", "disk-full"),
        ("step", first),
        ("back", "https://elsewhere.invalid/"),
        ("csrf", ana.csrf.as_str()),
    ];
    let response = post(&app, &path, Some(&ana.cookie), &offsite).await;
    let alert_page = format!("/ui/alerts/{alert}");
    assert_eq!(response.headers()["location"], alert_page.as_str());
    assert_eq!(runbook_steps(&app.alert(alert).await["timeline"]).len(), 2);

    // Text that is not a step of the covering runbook is refused and not recorded.
    let mut bad = vec![("runbook", "disk-full"), ("step", "rm -rf /")];
    bad.push(("csrf", &ana.csrf));
    let refused = post(&app, &path, Some(&ana.cookie), &bad).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(runbook_steps(&app.alert(alert).await["timeline"]).len(), 2);

    let list = get(&app, "/ui/runbooks", &ana.cookie).await;
    assert!(
        list.contains("<td>team-platform</td><td>2025-06-01</td><td>DiskFull</td>"),
        "{list}"
    );
}

#[tokio::test]
async fn items_are_marked_done_or_wont_do_and_open_ones_listed_by_owner() {
    let app = spawn_app().await;
    let number = resolved_p1(&app, "Queue stuck").await;
    let ana = sign_in(&app, "ana", Role::Responder, Some("ana")).await;
    let base = format!("/ui/incidents/{number}/postmortem");
    for (title, owner, due) in [
        ("Alert on queue age", "ana", "2020-01-06"),
        ("Write the drain script", "ben", "2099-01-06"),
        ("Replace the queue", "ana", "2099-02-01"),
        ("Page the vendor", "", ""),
    ] {
        let fields = [("title", title), ("owner", owner), ("due", due)];
        post_ok(&app, &format!("{base}/items"), &ana, &fields).await;
    }
    let pm = app
        .api_get(&format!("/api/v1/incidents/{number}/postmortem"))
        .await;
    let id = |n: usize| pm["action_items"][n]["id"].as_str().unwrap().to_string();

    post_ok(
        &app,
        &format!("{base}/items/{}", id(2)),
        &ana,
        &[("status", "done")],
    )
    .await;
    let no_reason = [("status", "wont_do"), ("csrf", ana.csrf.as_str())];
    let path = format!("{base}/items/{}", id(3));
    let refused = post(&app, &path, Some(&ana.cookie), &no_reason).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let fields = [("status", "wont_do"), ("reason", "vendor gone")];
    post_ok(&app, &path, &ana, &fields).await;

    let pm = app
        .api_get(&format!("/api/v1/incidents/{number}/postmortem"))
        .await;
    let statuses: Vec<&str> = pm["action_items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["open", "open", "done", "wont_do"]);
    assert_eq!(pm["action_items"][3]["reason"], "vendor gone");
    let page = get(&app, &base, &ana.cookie).await;
    assert!(
        page.contains("<td class=\"status\">wont_do: vendor gone</td>"),
        "{page}"
    );

    let actions = get(&app, "/ui/actions", &ana.cookie).await;
    let owners: Vec<&str> = actions
        .split("<h2>")
        .skip(1)
        .map(|rest| rest.split("</h2>").next().unwrap())
        .collect();
    assert_eq!(owners, ["ana name", "ben name"], "{actions}");
    assert_eq!(
        actions.matches("<tr class=\"overdue\">").count(),
        1,
        "{actions}"
    );
    assert_eq!(
        actions.matches("<tr class=\"open\">").count(),
        1,
        "{actions}"
    );
    assert!(!actions.contains("Replace the queue"), "{actions}");
    assert!(!actions.contains("Page the vendor"), "{actions}");
    let overdue = actions.split("<tr class=\"overdue\">").nth(1).unwrap();
    assert!(overdue.contains("Alert on queue age"), "{actions}");
}
