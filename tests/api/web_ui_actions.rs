//! The web UI's remaining actions (issue #7): promoting an alert from its page, the
//! incident's action forms on the incident page itself, "request a draft" and "skip" for a
//! resolved incident without a postmortem, and editing action items and the postmortem's
//! owner. A real headless Chromium promotes an alert and resolves the incident; plain HTTP
//! checks session, CSRF and role on every new form post, and that typed text renders inert.

use dutybell::domain::accounts::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::helpers::{TestApp, spawn_app};
use crate::web_ui::{Session, add_user, get_page, post_form, sign_in, with};

async fn api_ok(app: &TestApp, path: &str, body: Value) -> Value {
    let response = app.api_post(path, body).await;
    let status = response.status();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "POST {path}: {answer}");
    answer
}

/// Declares an incident (no pages) as ana; with `resolved`, resolves it too.
async fn incident(app: &TestApp, title: &str, severity: &str, resolved: bool) -> i64 {
    let declared = api_ok(
        app,
        "/api/v1/incidents",
        json!({ "title": title, "severity": severity, "services": ["api"], "by": "ana",
                "page": false }),
    )
    .await;
    let number = declared["incident"]["number"].as_i64().unwrap();
    if resolved {
        api_ok(
            app,
            &format!("/api/v1/incidents/{number}/status"),
            json!({ "status": "resolved", "by": "ana" }),
        )
        .await;
    }
    number
}

/// Adds an action item through the API; returns its id.
async fn item(app: &TestApp, number: i64, title: &str) -> String {
    let added = api_ok(
        app,
        &format!("/api/v1/incidents/{number}/postmortem/action-items"),
        json!({ "title": title, "owner": "ana", "due": "2025-07-01", "by": "ana" }),
    )
    .await;
    added["action_item"]["id"].as_str().unwrap().to_string()
}

/// Posts `fields` plus the CSRF token as `session`; answers the status and `Location`.
async fn post_as(
    app: &TestApp,
    path: &str,
    session: &Session,
    fields: &[(&str, &str)],
) -> (StatusCode, String) {
    let response = post_form(
        app,
        path,
        Some(&session.cookie),
        &with(fields, &session.csrf),
        &[],
    )
    .await;
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, location)
}

#[tokio::test]
async fn every_new_post_refuses_no_session_no_csrf_and_viewers_then_works_for_responders() {
    let app = spawn_app().await;
    let responder = add_user(&app, "ana", Role::Responder, Some("ana")).await;
    let viewer = add_user(&app, "vic", Role::Viewer, None).await;
    let alert = app.fire("DiskFull").await["alert_id"].as_i64().unwrap();
    let p3 = incident(&app, "Slow search", "P3", true).await;
    let p1 = incident(&app, "API returns 500s", "P1", true).await;
    let item = item(&app, p1, "Add a canary").await;
    let ana = sign_in(&app, "ana", &responder).await;
    let vic = sign_in(&app, "vic", &viewer).await;
    let routes: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            format!("/ui/alerts/{alert}/promote"),
            vec![("severity", "P2"), ("title", "")],
        ),
        (format!("/ui/incidents/{p3}/postmortem/draft"), vec![]),
        (
            format!("/ui/incidents/{p1}/postmortem/owner"),
            vec![("owner", "ben")],
        ),
        (
            format!("/ui/incidents/{p1}/postmortem/items/{item}/details"),
            vec![
                ("title", "Sneaky"),
                ("owner", ""),
                ("due", ""),
                ("ticket_url", ""),
            ],
        ),
    ];

    for (path, fields) in &routes {
        let response = post_form(&app, path, None, &with(fields, &ana.csrf), &[]).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "no session: {path}"
        );
        let response = post_form(&app, path, Some(&ana.cookie), fields, &[]).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "no csrf: {path}");
        let response =
            post_form(&app, path, Some(&ana.cookie), &with(fields, &vic.csrf), &[]).await;
        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "other's csrf: {path}"
        );
        let response =
            post_form(&app, path, Some(&vic.cookie), &with(fields, &vic.csrf), &[]).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "viewer: {path}");
        let body = response.text().await.unwrap();
        assert!(body.contains("This needs the responder role; you are a viewer."));
    }

    // Nothing changed.
    assert_eq!(app.alert(alert).await["alert"]["state"], "triggered");
    let all = app.api_get("/api/v1/incidents").await;
    assert_eq!(all["incidents"].as_array().unwrap().len(), 2);
    let missing = app
        .client
        .get(app.url(&format!("/api/v1/incidents/{p3}/postmortem")))
        .bearer_auth(crate::helpers::API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let pm = app
        .api_get(&format!("/api/v1/incidents/{p1}/postmortem"))
        .await;
    assert_eq!(pm["postmortem"]["owner"], "ana");
    assert_eq!(pm["action_items"][0]["title"], "Add a canary");

    // With everything right, each acts.
    for (path, fields) in &routes {
        let (status, _) = post_as(&app, path, &ana, fields).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "responder: {path}");
    }
    assert_eq!(app.alert(alert).await["alert"]["state"], "acknowledged");
    let all = app.api_get("/api/v1/incidents").await;
    assert_eq!(all["incidents"].as_array().unwrap().len(), 3);
    let drafted = app
        .api_get(&format!("/api/v1/incidents/{p3}/postmortem"))
        .await;
    assert_eq!(drafted["postmortem"]["status"], "draft");
    let pm = app
        .api_get(&format!("/api/v1/incidents/{p1}/postmortem"))
        .await;
    assert_eq!(pm["postmortem"]["owner"], "ben");
    assert_eq!(pm["action_items"][0]["title"], "Sneaky");
}

#[tokio::test]
async fn promoting_from_the_alert_page_opens_the_incident_and_the_page_then_links_it() {
    let app = spawn_app().await;
    let password = add_user(&app, "ana", Role::Responder, Some("ana")).await;
    let alert = app.fire("DiskFull").await["alert_id"].as_i64().unwrap();
    let ana = sign_in(&app, "ana", &password).await;
    let page = get_page(&app, &format!("/ui/alerts/{alert}"), &ana).await;
    assert!(page.contains(r#"id="promote-submit""#), "{page}");

    let fields = [("severity", "P2"), ("title", "Disk full on db-1")];
    let (status, location) =
        post_as(&app, &format!("/ui/alerts/{alert}/promote"), &ana, &fields).await;

    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/ui/incidents/1");
    let shown = app.api_get("/api/v1/incidents/1").await;
    assert_eq!(shown["incident"]["title"], "Disk full on db-1");
    assert_eq!(shown["incident"]["severity"], "P2");
    assert_eq!(shown["incident"]["commander"], "ana");
    assert_eq!(shown["incident"]["source"], "web");
    assert_eq!(shown["incident"]["alerts"], json!([alert]));
    assert_eq!(app.alert(alert).await["alert"]["acked_by"], "ana");
    let page = get_page(&app, &format!("/ui/alerts/{alert}"), &ana).await;
    assert!(
        page.contains(r#"href="/ui/incidents/1" id="incident-1""#),
        "{page}"
    );
    assert!(!page.contains("promote-submit"));

    // Promoting it again while the incident is open is refused, not a second incident.
    let (status, _) = post_as(&app, &format!("/ui/alerts/{alert}/promote"), &ana, &[]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let all = app.api_get("/api/v1/incidents").await;
    assert_eq!(all["incidents"].as_array().unwrap().len(), 1);

    // Without a title or severity, the alert lends both.
    let other = app.fire("CpuHot").await["alert_id"].as_i64().unwrap();
    let (status, location) = post_as(&app, &format!("/ui/alerts/{other}/promote"), &ana, &[]).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/ui/incidents/2")
    );
    let shown = app.api_get("/api/v1/incidents/2").await;
    let summary = app.alert(other).await["alert"]["summary"].clone();
    assert_eq!(shown["incident"]["title"], summary);
}

#[tokio::test]
async fn the_incident_page_carries_the_action_forms_and_they_come_back_to_it() {
    let app = spawn_app().await;
    let password = add_user(&app, "ana", Role::Responder, Some("ana")).await;
    let viewer = add_user(&app, "vic", Role::Viewer, None).await;
    let number = incident(&app, "API returns 500s", "P3", false).await;
    let ana = sign_in(&app, "ana", &password).await;
    let vic = sign_in(&app, "vic", &viewer).await;

    let page = get_page(&app, &format!("/ui/incidents/{number}"), &ana).await;
    for id in [
        "set-status",
        "set-severity",
        "set-commander",
        "set-comms-lead",
        "add-note",
        "post-update",
        "post-public",
        "comms-link",
    ] {
        assert!(page.contains(&format!(r#"id="{id}""#)), "{id}: {page}");
    }
    assert!(page.contains(r#"name="back" value="incident""#));
    let read_only = get_page(&app, &format!("/ui/incidents/{number}"), &vic).await;
    assert!(!read_only.contains("set-severity"));

    // From the incident page, back to it; from the actions page (or a made-up `back`), back
    // there.
    let here = format!("/ui/incidents/{number}");
    let severity = format!("/ui/incidents/{number}/severity");
    let from_page = [("severity", "P2"), ("back", "incident")];
    assert_eq!(
        post_as(&app, &severity, &ana, &from_page).await,
        (StatusCode::SEE_OTHER, here.clone())
    );
    let note = format!("/ui/incidents/{number}/note");
    let from_comms = [
        ("text", "rolled back"),
        ("back", "https://elsewhere.invalid/"),
    ];
    assert_eq!(
        post_as(&app, &note, &ana, &from_comms).await,
        (StatusCode::SEE_OTHER, format!("{here}/comms"))
    );
    let public = format!("/ui/incidents/{number}/public");
    let publish = [
        ("name", "Errors on the API"),
        ("status", "investigating"),
        ("body", "Some calls fail."),
        ("back", "incident"),
    ];
    assert_eq!(
        post_as(&app, &public, &ana, &publish).await,
        (StatusCode::SEE_OTHER, here.clone())
    );
    let shown = app.api_get(&format!("/api/v1/incidents/{number}")).await;
    assert_eq!(shown["incident"]["severity"], "P2");
    assert!(
        shown["incident"]["public_incident_id"].is_string(),
        "{shown}"
    );
    let page = get_page(&app, &here, &ana).await;
    assert!(page.contains("Post a public update"), "{page}");
}

#[tokio::test]
async fn a_resolved_p3_without_a_draft_offers_request_and_skip_on_its_page() {
    let app = spawn_app().await;
    let password = add_user(&app, "ana", Role::Responder, Some("ana")).await;
    let open = incident(&app, "Still open", "P3", false).await;
    let drafted = incident(&app, "Slow search", "P3", true).await;
    let skipped = incident(&app, "Flaky cron", "P3", true).await;
    let ana = sign_in(&app, "ana", &password).await;

    let page = get_page(&app, &format!("/ui/incidents/{open}"), &ana).await;
    assert!(!page.contains("request-draft"));
    let page = get_page(&app, &format!("/ui/incidents/{drafted}"), &ana).await;
    assert!(page.contains(r#"id="request-draft""#), "{page}");
    assert!(page.contains(r#"id="skip""#));

    let path = format!("/ui/incidents/{drafted}/postmortem/draft");
    let (status, location) = post_as(&app, &path, &ana, &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, format!("/ui/incidents/{drafted}/postmortem"));
    get_page(&app, &location, &ana).await;
    let page = get_page(&app, &format!("/ui/incidents/{drafted}"), &ana).await;
    assert!(page.contains(r#"id="postmortem-link""#), "{page}");
    assert!(!page.contains("request-draft"));
    // Asking again keeps the draft there is.
    let (status, _) = post_as(&app, &path, &ana, &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "a second request");

    let skip = format!("/ui/incidents/{skipped}/postmortem/skip");
    let (status, _) = post_as(&app, &skip, &ana, &[("reason", "")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a skip needs a reason");
    let (status, _) = post_as(&app, &skip, &ana, &[("reason", "cron retried")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let shown = app.api_get(&format!("/api/v1/incidents/{skipped}")).await;
    assert_eq!(shown["incident"]["status"], "closed");

    // An open incident has nothing to draft yet.
    let path = format!("/ui/incidents/{open}/postmortem/draft");
    let (status, _) = post_as(&app, &path, &ana, &[]).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn items_and_the_owner_are_edited_in_the_editor_and_typed_text_renders_inert() {
    let app = spawn_app().await;
    let password = add_user(&app, "ana", Role::Responder, Some("ana")).await;
    let number = incident(&app, "API returns 500s", "P1", true).await;
    let id = item(&app, number, "Add a canary").await;
    let ana = sign_in(&app, "ana", &password).await;
    let details = format!("/ui/incidents/{number}/postmortem/items/{id}/details");
    let editor = format!("/ui/incidents/{number}/postmortem");
    let page = get_page(&app, &editor, &ana).await;
    assert!(page.contains(r#"id="save-item-1""#), "{page}");
    assert!(page.contains(r#"id="set-owner""#));

    let probe = "<script>alert(1)</script>";
    let ticket = "https://tickets.example/1?a=\"><img src=x>";
    let fields = [
        ("title", probe),
        ("owner", "ben"),
        ("due", "2025-08-01"),
        ("ticket_url", ticket),
    ];
    let (status, location) = post_as(&app, &details, &ana, &fields).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, editor.as_str())
    );
    let pm = app.api_get(&editor.replace("/ui/", "/api/v1/")).await;
    let saved = &pm["action_items"][0];
    assert_eq!(saved["title"], probe);
    assert_eq!(saved["owner"], "ben");
    assert_eq!(saved["due"], "2025-08-01");
    assert_eq!(saved["ticket_url"], ticket);
    let page = get_page(&app, &editor, &ana).await;
    assert!(!page.contains("<script>alert(1)"), "{page}");
    assert!(!page.contains("<img"));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));

    // Empty owner, due date and ticket clear them; a bad date, owner or URL is refused.
    let clear = [
        ("title", "Add a canary"),
        ("owner", ""),
        ("due", ""),
        ("ticket_url", ""),
    ];
    assert_eq!(
        post_as(&app, &details, &ana, &clear).await.0,
        StatusCode::SEE_OTHER
    );
    let pm = app.api_get(&editor.replace("/ui/", "/api/v1/")).await;
    let saved = &pm["action_items"][0];
    assert_eq!(saved["owner"], Value::Null, "{pm}");
    assert_eq!(saved["due"], Value::Null);
    assert_eq!(saved["ticket_url"], Value::Null);
    for (field, value) in [
        ("due", "01/08/2025"),
        ("owner", "nobody"),
        ("ticket_url", "ftp://x"),
    ] {
        let mut bad = vec![("title", "Add a canary")];
        bad.push((field, value));
        let (status, _) = post_as(&app, &details, &ana, &bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}={value}");
    }
    let (status, _) = post_as(&app, &details, &ana, &[("title", "")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "empty title");

    // An item of another incident is not found under this one.
    let other = incident(&app, "Other", "P1", true).await;
    let foreign = format!("/ui/incidents/{other}/postmortem/items/{id}/details");
    let (status, _) = post_as(&app, &foreign, &ana, &clear).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let owner = format!("{editor}/owner");
    assert_eq!(
        post_as(&app, &owner, &ana, &[("owner", "ben")]).await.0,
        StatusCode::SEE_OTHER
    );
    let pm = app.api_get(&editor.replace("/ui/", "/api/v1/")).await;
    assert_eq!(pm["postmortem"]["owner"], "ben");
    let (status, _) = post_as(&app, &owner, &ana, &[("owner", "<b>x</b>")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_promote_title_renders_inert_on_the_incident_page() {
    let app = spawn_app().await;
    let password = add_user(&app, "ana", Role::Responder, Some("ana")).await;
    let alert = app.fire("DiskFull").await["alert_id"].as_i64().unwrap();
    let ana = sign_in(&app, "ana", &password).await;
    let title = "\"><img src=x onerror=alert(2)>";

    let path = format!("/ui/alerts/{alert}/promote");
    let (status, location) = post_as(&app, &path, &ana, &[("title", title)]).await;

    assert_eq!(status, StatusCode::SEE_OTHER);
    let page = get_page(&app, &location, &ana).await;
    assert!(!page.contains("<img"), "{page}");
    assert!(page.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"));
}

#[tokio::test]
async fn browser_promotes_an_alert_from_its_page_and_resolves_the_incident_on_its_page() {
    let app = spawn_app().await;
    let password = add_user(&app, "ana", Role::Responder, Some("ana")).await;
    let alert = app.fire("DiskFull").await["alert_id"].as_i64().unwrap();
    let browser = Browser::start().await;
    browser.goto(&app.url("/login")).await;
    browser.find("#login").await.send_keys("ana").await;
    browser.find("#password").await.send_keys(&password).await;
    browser.find("#submit").await.submit().await;
    browser.wait_for_url(&app.url("/ui")).await;

    // Promote from the alert page.
    browser.goto(&app.url(&format!("/ui/alerts/{alert}"))).await;
    browser
        .find("#promote-severity option[value=P2]")
        .await
        .click()
        .await;
    browser
        .find("#promote-title")
        .await
        .send_keys("Disk full on db-1")
        .await;
    browser.find("#promote-submit").await.submit().await;
    let page = app.url("/ui/incidents/1");
    browser.wait_for_url(&page).await;
    assert_eq!(
        browser.find("#title").await.text().await,
        "Disk full on db-1"
    );
    assert_eq!(browser.find("#status").await.text().await, "investigating");

    // A note from the incident page comes back to it.
    browser
        .find("#note-text")
        .await
        .send_keys("db-1 volume grown")
        .await;
    browser.find("#add-note").await.submit().await;
    browser.wait_for_url(&page).await;
    assert!(browser.source().await.contains("db-1 volume grown"));

    // Resolve it there.
    browser
        .find("#status-to option[value=resolved]")
        .await
        .click()
        .await;
    browser
        .find("#status-text")
        .await
        .send_keys("space freed")
        .await;
    browser.find("#set-status").await.submit().await;
    browser.wait_for_url(&page).await;
    assert_eq!(browser.find("#status").await.text().await, "resolved");

    let shown = app.api_get("/api/v1/incidents/1").await;
    assert_eq!(shown["incident"]["status"], "resolved");
    assert_eq!(shown["incident"]["severity"], "P2");
    assert_eq!(shown["incident"]["alerts"], json!([alert]));
    let kinds: Vec<&str> = shown["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["source"] == "web")
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["incident.declared", "note.added", "status.changed"],
        "{shown}"
    );
    browser.quit().await;
}
