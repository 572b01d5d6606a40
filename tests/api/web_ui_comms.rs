//! The web UI's comms pages (issues #7, #5): a real headless Chromium publishes an
//! incident to the status page and posts an update, and checks long names on a phone-sized
//! public page (CM-13); plain HTTP checks every new form post for session, CSRF and role,
//! and that user text renders inert.

use dutybell::domain::accounts::{self, Role};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::helpers::{Setup, TestApp, spawn_app_with};
use crate::statuspage::{PAGE, get, public_json};
use crate::web_ui::{add_user, get_page, post_form, sign_in, with};

async fn app_with_page(page: &str) -> TestApp {
    spawn_app_with(Setup {
        statuspage: page.into(),
        ..Setup::default()
    })
    .await
}

/// Declares a P2 on `api` as ana; returns its number.
async fn declare(app: &TestApp, title: &str) -> i64 {
    let response = app
        .api_post(
            "/api/v1/incidents",
            json!({ "title": title, "severity": "P2", "services": ["api"], "by": "ana",
                    "page": false }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["incident"]["number"].as_i64().unwrap()
}

async fn browser_login(browser: &Browser, app: &TestApp, login: &str, password: &str) {
    browser.goto(&app.url("/login")).await;
    browser.find("#login").await.send_keys(login).await;
    browser.find("#password").await.send_keys(password).await;
    browser.find("#submit").await.submit().await;
    browser.wait_for_url(&app.url("/ui")).await;
}

async fn pick(browser: &Browser, select: &str, value: &str) {
    let css = format!("#{select} option[value={value}]");
    browser.find(&css).await.click().await;
}

fn component<'a>(summary: &'a Value, name: &str) -> &'a Value {
    summary["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no component {name}: {summary}"))
}

#[tokio::test]
async fn browser_publishes_a_status_update_and_posts_another() {
    let app = app_with_page(PAGE).await;
    let password = add_user(&app, "ana", Role::Responder, Some("ana")).await;
    let number = declare(&app, "Internal: api 5xx after deploy 4411").await;
    let browser = Browser::start().await;
    browser_login(&browser, &app, "ana", &password).await;

    // Open the incident, then its actions page.
    browser
        .goto(&app.url(&format!("/ui/incidents/{number}")))
        .await;
    browser.find("#comms-link").await.click().await;
    let actions = app.url(&format!("/ui/incidents/{number}/comms"));
    browser.wait_for_url(&actions).await;
    assert_eq!(browser.find("#public").await.text().await, "not published");

    // Publish under a public name.
    browser
        .execute(
            "document.getElementById('public-name').value = '';",
            json!([]),
        )
        .await;
    browser
        .find("#public-name")
        .await
        .send_keys("Errors on the public API")
        .await;
    pick(&browser, "public-status", "identified").await;
    browser
        .find("#public-body")
        .await
        .send_keys("Some API calls fail; we found the cause.")
        .await;
    pick(&browser, "component-api", "partial_outage").await;
    browser.find("#post-public").await.submit().await;
    browser.wait_for_url(&actions).await;
    let shown = browser.find("#public").await.text().await;
    assert!(shown.starts_with("published as "), "{shown}");

    let summary = public_json(&app, "/api/v2/summary.json").await;
    let incidents = summary["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 1, "{summary}");
    assert_eq!(incidents[0]["name"], "Errors on the public API");
    assert_eq!(incidents[0]["status"], "identified");
    let updates = incidents[0]["incident_updates"].as_array().unwrap();
    assert_eq!(updates.len(), 1);
    assert_eq!(
        updates[0]["body"],
        "Some API calls fail; we found the cause."
    );
    assert_eq!(
        component(&summary, "Public API")["status"],
        "partial_outage"
    );
    let (status, _, page) = get(&app, "/", &[]).await;
    assert_eq!(status, 200);
    assert!(page.contains("Errors on the public API"), "{page}");
    assert!(page.contains("Some API calls fail; we found the cause."));

    // Post an update: monitoring, the component back to operational.
    pick(&browser, "public-status", "monitoring").await;
    browser
        .find("#public-body")
        .await
        .send_keys("A fix is out; we are watching.")
        .await;
    pick(&browser, "component-api", "operational").await;
    browser.find("#post-public").await.submit().await;
    browser.wait_for_url(&actions).await;

    let summary = public_json(&app, "/api/v2/summary.json").await;
    let incident = &summary["incidents"][0];
    assert_eq!(incident["status"], "monitoring", "{summary}");
    let updates = incident["incident_updates"].as_array().unwrap();
    assert_eq!(updates.len(), 2);
    assert_eq!(updates[0]["body"], "A fix is out; we are watching.");
    assert_eq!(updates[0]["status"], "monitoring");
    assert_eq!(component(&summary, "Public API")["status"], "operational");
    let (_, _, page) = get(&app, "/", &[]).await;
    assert!(page.contains("A fix is out; we are watching."), "{page}");

    // The internal timeline says who, from where.
    let shown = app.api_get(&format!("/api/v1/incidents/{number}")).await;
    let kinds: Vec<&str> = shown["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"statuspage.published"), "{kinds:?}");
    browser.quit().await;
}

/// CM-13: a 120-char component name and a 200-char title with a ZWJ emoji and a
/// combining accent near position 140, on a 360 px wide phone.
#[tokio::test]
async fn long_names_stay_visible_and_the_page_fits_a_phone() {
    let long_component = format!("{}s", "Checkout and payments gateway ".repeat(4).trim_end());
    assert_eq!(long_component.chars().count(), 120);
    let page = format!(
        "[page]\nname = \"Acme Status\"\ntime_zone = \"UTC\"\n\n[[component]]\nid = \"api\"\n\
         name = \"{long_component}\"\nservices = [\"api\"]\n"
    );
    let app = app_with_page(&page).await;
    let mut title: String = "Slow responses ".repeat(10).chars().take(138).collect();
    title.push_str("\u{1F469}\u{200D}\u{1F4BB}");
    title.push_str("e\u{301}");
    while title.chars().count() < 200 {
        title.push('x');
    }
    assert_eq!(title.chars().count(), 200);
    let number = declare(&app, &title).await;
    let response = app
        .api_post(
            &format!("/api/v1/incidents/{number}/publish"),
            json!({ "body": "Looking into it.", "by": "ana",
                    "components": { "api": "degraded_performance" } }),
        )
        .await;
    assert_eq!(response.status(), 201);

    let browser = Browser::start().await;
    browser.set_window_size(360, 640).await;
    browser.goto(&app.url("/")).await;
    let width = browser
        .execute("return document.documentElement.clientWidth;", json!([]))
        .await;
    assert!(width.as_f64().unwrap() <= 360.0, "viewport {width}");
    for (css, full) in [
        (".components .name", long_component.as_str()),
        ("h3.name", title.as_str()),
    ] {
        let element = browser.find(css).await;
        let (_, height) = element.size().await;
        assert!(height > 0.0, "{css} has no height");
        let text = element.text().await;
        let titled = element.attribute("title").await;
        assert!(!text.trim().is_empty(), "{css} is blank");
        let whole = text == full;
        let elided = text.ends_with('…') && titled.as_deref() == Some(full);
        assert!(whole || elided, "{css}: {text:?} / {titled:?}");
        assert_eq!(titled.as_deref(), Some(full), "{css}");
    }
    let scroll = browser
        .execute("return document.documentElement.scrollWidth;", json!([]))
        .await;
    assert!(
        scroll.as_f64().unwrap() <= 360.0,
        "the page overflows sideways: {scroll}"
    );
    browser.quit().await;
}

/// A form's path, its fields, and the role it needs.
type Route = (String, Vec<(&'static str, &'static str)>, Role);

#[tokio::test]
async fn every_comms_post_refuses_no_session_bad_csrf_and_low_roles() {
    let app = app_with_page(PAGE).await;
    let admin = add_user(&app, "ada", Role::Admin, Some("lead")).await;
    let responder = add_user(&app, "ana", Role::Responder, Some("ana")).await;
    let viewer = add_user(&app, "vic", Role::Viewer, None).await;
    let number = declare(&app, "API errors").await;
    let ada = sign_in(&app, "ada", &admin).await;
    let ana = sign_in(&app, "ana", &responder).await;
    let vic = sign_in(&app, "vic", &viewer).await;
    let n = number;
    let routes: Vec<Route> = vec![
        (
            format!("/ui/incidents/{n}/severity"),
            vec![("severity", "P1")],
            Role::Responder,
        ),
        (
            format!("/ui/incidents/{n}/commander"),
            vec![("person", "ben")],
            Role::Responder,
        ),
        (
            format!("/ui/incidents/{n}/comms-lead"),
            vec![("person", "ben")],
            Role::Responder,
        ),
        (
            format!("/ui/incidents/{n}/note"),
            vec![("text", "hi")],
            Role::Responder,
        ),
        (
            format!("/ui/incidents/{n}/update"),
            vec![("text", "hi")],
            Role::Responder,
        ),
        (
            format!("/ui/incidents/{n}/public"),
            vec![("name", "Errors"), ("body", "Looking.")],
            Role::Responder,
        ),
        (
            "/ui/status/components/db".to_string(),
            vec![("status", "major_outage")],
            Role::Admin,
        ),
        (
            "/ui/status/maintenances".to_string(),
            vec![
                ("name", "DB upgrade"),
                ("body", "Upgrading."),
                ("scheduled_for", "2025-06-20 10:00"),
                ("scheduled_until", "2025-06-20 11:00"),
                ("component", "db"),
            ],
            Role::Admin,
        ),
    ];
    let fake = format!("dutybell_session={}", accounts::session_id([1; 32]));
    for (path, fields, needed) in &routes {
        let cases = [
            (
                "no session",
                None,
                with(fields, &ana.csrf),
                StatusCode::UNAUTHORIZED,
            ),
            (
                "wrong session",
                Some(fake.as_str()),
                with(fields, &ana.csrf),
                StatusCode::UNAUTHORIZED,
            ),
            (
                "no csrf",
                Some(ada.cookie.as_str()),
                fields.clone(),
                StatusCode::FORBIDDEN,
            ),
            (
                "other's csrf",
                Some(ada.cookie.as_str()),
                with(fields, &vic.csrf),
                StatusCode::FORBIDDEN,
            ),
        ];
        for (case, cookie, form, expected) in cases {
            let response = post_form(&app, path, cookie, &form, &[]).await;
            assert_eq!(response.status(), expected, "{case}: POST {path}");
        }
        let (low, who, role) = match needed {
            Role::Admin => (&ana, "responder", "admin"),
            _ => (&vic, "viewer", "responder"),
        };
        let response =
            post_form(&app, path, Some(&low.cookie), &with(fields, &low.csrf), &[]).await;
        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "{who}: POST {path}"
        );
        let body = response.text().await.unwrap();
        let message = format!("This needs the {role} role; you are a {who}.");
        assert!(body.contains(&message), "{body}");
    }

    // Nothing changed.
    let shown = app.api_get(&format!("/api/v1/incidents/{number}")).await;
    assert_eq!(shown["incident"]["severity"], "P2");
    assert_eq!(shown["incident"]["commander"], "ana");
    assert_eq!(shown["incident"]["public_incident_id"], Value::Null);
    let summary = public_json(&app, "/api/v2/summary.json").await;
    assert_eq!(component(&summary, "Database")["status"], "operational");
    assert_eq!(summary["scheduled_maintenances"], json!([]));

    // With everything right each acts, and the page shows it.
    for (path, fields, needed) in &routes {
        let who = if *needed == Role::Admin { &ada } else { &ana };
        let response =
            post_form(&app, path, Some(&who.cookie), &with(fields, &who.csrf), &[]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "POST {path}");
    }
    let shown = app.api_get(&format!("/api/v1/incidents/{number}")).await;
    assert_eq!(shown["incident"]["severity"], "P1");
    assert_eq!(shown["incident"]["commander"], "ben");
    assert_eq!(shown["incident"]["comms_lead"], "ben");
    let summary = public_json(&app, "/api/v2/summary.json").await;
    assert_eq!(component(&summary, "Database")["status"], "major_outage");
    assert_eq!(summary["incidents"][0]["name"], "Errors");
    let page = get_page(&app, "/ui/status", &vic).await;
    assert!(
        page.contains("<td id=\"state-db\">major_outage</td>"),
        "{page}"
    );
    assert!(page.contains("<td>DB upgrade</td>"), "{page}");
    assert!(
        !page.contains("action=\"/ui/status/components/db\""),
        "viewers get no forms"
    );
    let page = get_page(&app, "/ui/status", &ada).await;
    assert!(page.contains("action=\"/ui/status/components/db\""));
}

#[tokio::test]
async fn notes_public_bodies_and_component_names_render_inert() {
    let page =
        format!("{PAGE}\n[[component]]\nid = \"evil\"\nname = \"<img src=x onerror=alert(3)>\"\n");
    let app = app_with_page(&page).await;
    let password = add_user(&app, "ana", Role::Responder, Some("ana")).await;
    let number = declare(&app, "API errors").await;
    let ana = sign_in(&app, "ana", &password).await;
    let severity = format!("/ui/incidents/{number}/severity");
    let fields = [("severity", "P1"), ("note", "<script>alert(1)</script>")];
    let response = post_form(
        &app,
        &severity,
        Some(&ana.cookie),
        &with(&fields, &ana.csrf),
        &[],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let public = format!("/ui/incidents/{number}/public");
    let fields = [
        ("name", "Errors"),
        ("body", "<img src=y onerror=alert(2)> **down**"),
        ("component.evil", "major_outage"),
    ];
    let response = post_form(
        &app,
        &public,
        Some(&ana.cookie),
        &with(&fields, &ana.csrf),
        &[],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let actions = get_page(&app, &format!("/ui/incidents/{number}/comms"), &ana).await;
    assert!(
        actions.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{actions}"
    );
    assert!(!actions.contains("<script>"));
    assert!(
        actions.contains("&lt;img src=x onerror=alert(3)&gt;"),
        "{actions}"
    );
    assert!(!actions.contains("<img"));
    let status = get_page(&app, "/ui/status", &ana).await;
    assert!(
        status.contains("&lt;img src=x onerror=alert(3)&gt;"),
        "{status}"
    );
    assert!(!status.contains("<img"));
    let (_, _, front) = get(&app, "/", &[]).await;
    assert!(!front.contains("<img"), "{front}");
    assert!(!front.contains("<script"), "{front}");
    let summary = public_json(&app, "/api/v2/summary.json").await;
    assert_eq!(
        summary["incidents"][0]["incident_updates"][0]["body"],
        "<img src=y onerror=alert(2)> **down**"
    );
}

#[tokio::test]
async fn reports_page_shows_exact_numbers_for_seeded_history() {
    let app = crate::helpers::spawn_app().await;
    let password = add_user(&app, "vic", Role::Viewer, None).await;
    let t0 = crate::helpers::t0();
    // Ben is paged at 05:00, 05:30, 06:30 and 07:30 Madrid (three at night, 11 June); he
    // acks the first after 4 minutes and resolves each by hand after 5.
    for (minute, name) in [(0, "A"), (30, "B"), (90, "C"), (150, "D")] {
        app.clock.set(t0 + jiff::SignedDuration::from_mins(minute));
        let id = app.fire(name).await["alert_id"].as_i64().unwrap();
        app.run_engine_once().await;
        if name == "A" {
            app.clock.advance(jiff::SignedDuration::from_mins(4));
            let path = format!("/api/v1/alerts/{id}/ack");
            let acked = app.api_post(&path, json!({"by": "ben"})).await;
            assert_eq!(acked.status(), 200);
        }
        app.clock
            .set(t0 + jiff::SignedDuration::from_mins(minute + 5));
        let path = format!("/api/v1/alerts/{id}/resolve");
        let resolved = app.api_post(&path, json!({"by": "ben"})).await;
        assert_eq!(resolved.status(), 200);
    }
    // A P2 on api resolved after 10 minutes.
    app.clock.set(t0 + jiff::SignedDuration::from_hours(4));
    let number = declare(&app, "Slow API").await;
    app.clock.advance(jiff::SignedDuration::from_mins(10));
    let moved = app
        .api_post(
            &format!("/api/v1/incidents/{number}/status"),
            json!({"status": "resolved", "by": "ana"}),
        )
        .await;
    assert_eq!(moved.status(), 200);
    app.clock.set(t0 + jiff::SignedDuration::from_hours(5));

    let vic = sign_in(&app, "vic", &password).await;
    let page = get_page(&app, "/ui/reports?days=30", &vic).await;
    assert!(
        page.contains("Last 30 days: 2025-05-13 08:00 to 2025-06-12 08:00 UTC"),
        "{page}"
    );
    // Only the acked one counts as actioned (an ack is the action, §7).
    for (alert, no_action, rate) in [("A", 0, "100.0%"), ("B", 1, "0.0%"), ("C", 1, "0.0%")] {
        let row = format!(
            "<tr><td>api</td><td>{alert}</td>\n<td>1</td><td>0</td><td>{no_action}</td>\
             <td>{rate}</td>"
        );
        assert!(page.contains(&row), "{row}\n{page}");
    }
    assert!(
        page.contains(
            "<tr><td>api</td><td>critical</td><td>4</td><td>1</td>\n<td>4m 00s</td>\
             <td>4m 00s</td><td>4m 00s</td><td>3 (75.0%)</td></tr>"
        ),
        "{page}"
    );
    assert!(!page.contains("class=\"flagged\""), "{page}");
    assert!(
        page.contains(
            "<tr id=\"load-ben\"><td>ben name</td><td>4</td><td>8</td>\n\
             <td>3</td><td>2025-06-11</td></tr>"
        ),
        "{page}"
    );
    assert!(
        page.contains("<rect x=\"120\" y=\"0\" width=\"240\" height=\"18\""),
        "{page}"
    );
    assert!(
        page.contains("<tr><td>api</td><td>P2</td><td>1</td>\n<td>10m 00s</td>"),
        "{page}"
    );

    // Out-of-range days are refused.
    let response = reqwest::Client::new()
        .get(app.url("/ui/reports?days=0"))
        .header("cookie", &vic.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}
