//! The web UI's schedule and service pages (issue #7): a real headless Chromium reads a
//! schedule's month calendar, adds an override through the form and sees the day change,
//! then deletes it; plain HTTP checks the override forms' CSRF, session and role refusals,
//! escaping of a person's name, local times across a DST change, and that the services page
//! shows keys to admins only.

use dutybell::domain::accounts::Role;
use dutybell::domain::escape;
use reqwest::StatusCode;
use serde_json::json;

use crate::browser::Browser;
use crate::helpers::{GRAFANA_KEY, KEY, PD_KEY, Setup, TOKEN, TestApp, spawn_app, spawn_app_with};
use crate::web_ui::{Session, add_user, get_page, post_form, sign_in, with};

/// The entries of the calendar cell of `date` (`YYYY-MM-DD`), as the page's HTML has them.
fn day(page: &str, date: &str) -> Vec<String> {
    let marker = format!("<ul id=\"day-{date}\">");
    let start = page.find(&marker).expect("the month has the day") + marker.len();
    let end = start + page[start..].find("</ul>").unwrap();
    page[start..end]
        .split("<li>")
        .filter_map(|item| item.split_once("</li>"))
        .map(|(text, _)| text.to_string())
        .collect()
}

async fn overrides(app: &TestApp, schedule: &str) -> Vec<serde_json::Value> {
    let listed = app
        .api_get(&format!("/api/v1/schedules/{schedule}/overrides"))
        .await;
    listed.as_array().unwrap().clone()
}

async fn add_override(app: &TestApp, body: serde_json::Value) -> i64 {
    let response = app
        .api_post("/api/v1/schedules/business/overrides", body)
        .await;
    assert_eq!(response.status(), 201);
    let stored: serde_json::Value = response.json().await.unwrap();
    stored["id"].as_i64().unwrap()
}

#[tokio::test]
async fn browser_adds_an_override_sees_the_calendar_change_and_deletes_it() {
    let app = spawn_app().await;
    let password = add_user(&app, "ana", Role::Responder, Some("ana")).await;
    let browser = Browser::start().await;
    browser.goto(&app.url("/login")).await;
    browser.find("#login").await.send_keys("ana").await;
    browser.find("#password").await.send_keys(&password).await;
    browser.find("#submit").await.submit().await;
    browser.wait_for_url(&app.url("/ui")).await;

    // From the nav to the business schedule: this month (June 2025 in Madrid at t0).
    // Friday the 13th: the lead's nights around ben's primary week.
    browser.find("#nav-schedules").await.submit().await;
    browser.wait_for_url(&app.url("/ui/schedules")).await;
    let now = browser.find("#schedule-business .now").await.text().await;
    assert_eq!(now, "lead name");
    browser.find("#schedule-business a").await.submit().await;
    browser
        .wait_for_url(&app.url("/ui/schedules/business"))
        .await;
    assert_eq!(browser.find("#month").await.text().await, "June 2025");
    let friday = "#day-2025-06-13";
    let before = "lead name 00:00–09:00\nben name 09:00–18:00\nlead name 18:00–24:00";
    assert_eq!(browser.find(friday).await.text().await, before);

    // chen covers ben's Friday day shift.
    browser
        .find("#kind option[value=replace]")
        .await
        .click()
        .await;
    browser
        .find("#remove option[value=ben]")
        .await
        .click()
        .await;
    browser.find("#add option[value=chen]").await.click().await;
    browser
        .find("#start")
        .await
        .send_keys("2025-06-13T09:00")
        .await;
    browser
        .find("#end")
        .await
        .send_keys("2025-06-13T18:00")
        .await;
    browser.find("#add-override-submit").await.submit().await;
    let month = app.url("/ui/schedules/business?month=2025-06");
    browser.wait_for_url(&month).await;
    assert_eq!(
        browser.find(friday).await.text().await,
        "lead name 00:00–09:00\nchen name 09:00–18:00\nlead name 18:00–24:00"
    );
    // The days around it are untouched.
    assert_eq!(browser.find("#day-2025-06-12").await.text().await, before);
    let stored = overrides(&app, "business").await;
    assert_eq!(stored.len(), 1);
    let id = stored[0]["id"].as_i64().unwrap();
    assert_eq!(stored[0]["kind"], "replace");
    assert_eq!(stored[0]["add"], "chen");
    assert_eq!(stored[0]["remove"], "ben");
    assert_eq!(stored[0]["start"], "2025-06-13T07:00:00Z");
    assert_eq!(stored[0]["end"], "2025-06-13T16:00:00Z");
    assert_eq!(stored[0]["created_by"], "ana");
    let row = format!("#override-{id} .what");
    assert_eq!(
        browser.find(&row).await.text().await,
        "replace ben name with chen name"
    );

    // Deleting it brings ben back.
    browser
        .find(&format!("#delete-override-{id}"))
        .await
        .submit()
        .await;
    browser.wait_for_url(&month).await;
    assert_eq!(browser.find(friday).await.text().await, before);
    assert!(overrides(&app, "business").await.is_empty());
    assert_eq!(
        browser.find("#overrides p").await.text().await,
        "No overrides."
    );
    browser.quit().await;
}

#[tokio::test]
async fn override_posts_refuse_no_session_a_wrong_one_no_csrf_and_viewers() {
    let app = spawn_app().await;
    let responder = add_user(&app, "ana", Role::Responder, Some("ana")).await;
    let viewer = add_user(&app, "vic", Role::Viewer, None).await;
    let ana = sign_in(&app, "ana", &responder).await;
    let vic = sign_in(&app, "vic", &viewer).await;
    let kept = add_override(
        &app,
        json!({ "add": "dara", "start": "2025-06-14T10:00", "end": "2025-06-14T12:00" }),
    )
    .await;
    let fields = [
        ("kind", "add"),
        ("add", "chen"),
        ("start", "2025-06-15T10:00"),
        ("end", "2025-06-15T12:00"),
    ];
    let routes = [
        ("/ui/schedules/business/overrides".to_string(), &fields[..]),
        (
            format!("/ui/schedules/business/overrides/{kept}/delete"),
            &[][..],
        ),
    ];
    let fake = "dutybell_session=not-a-session";
    for (path, fields) in &routes {
        let cases = [
            (
                "no session",
                None,
                with(fields, &ana.csrf),
                StatusCode::UNAUTHORIZED,
            ),
            (
                "wrong session",
                Some(fake),
                with(fields, &ana.csrf),
                StatusCode::UNAUTHORIZED,
            ),
            (
                "no csrf",
                Some(ana.cookie.as_str()),
                fields.to_vec(),
                StatusCode::FORBIDDEN,
            ),
            (
                "other's csrf",
                Some(ana.cookie.as_str()),
                with(fields, &vic.csrf),
                StatusCode::FORBIDDEN,
            ),
        ];
        for (case, cookie, form, expected) in cases {
            let response = post_form(&app, path, cookie, &form, &[]).await;
            assert_eq!(response.status(), expected, "{case}: POST {path}");
        }
        let response =
            post_form(&app, path, Some(&vic.cookie), &with(fields, &vic.csrf), &[]).await;
        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "viewer: POST {path}"
        );
        let body = response.text().await.unwrap();
        assert!(body.contains("This needs the responder role; you are a viewer."));
    }
    let stored = overrides(&app, "business").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["id"], kept);

    // A viewer reads the month but gets no forms.
    let page = get_page(&app, "/ui/schedules/business?month=2025-06", &vic).await;
    let nights = ["lead name 00:00–09:00", "lead name 18:00–24:00"];
    assert_eq!(
        day(&page, "2025-06-14"),
        [nights[0], "dara name 10:00–12:00", nights[1]]
    );
    assert!(!page.contains("/overrides\">"));
    assert!(!page.contains(&format!("delete-override-{kept}")));

    // A bad person is refused with the field named; the right post acts.
    let path = "/ui/schedules/business/overrides";
    let bad = [
        ("kind", "add"),
        ("add", "nobody"),
        ("start", "2025-06-15T10:00"),
    ];
    let response = post_form(&app, path, Some(&ana.cookie), &with(&bad, &ana.csrf), &[]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = response.text().await.unwrap();
    assert!(body.contains("no person &quot;nobody&quot;"), "{body}");
    let response = post_form(
        &app,
        path,
        Some(&ana.cookie),
        &with(&fields, &ana.csrf),
        &[],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()["location"],
        "/ui/schedules/business?month=2025-06"
    );
    let delete = format!("/ui/schedules/business/overrides/{kept}/delete");
    let response = post_form(&app, &delete, Some(&ana.cookie), &with(&[], &ana.csrf), &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let stored = overrides(&app, "business").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["add"], "chen");
    assert_eq!(stored[0]["created_by"], "ana");
    let page = get_page(&app, "/ui/schedules/business?month=2025-06", &ana).await;
    assert_eq!(day(&page, "2025-06-14"), nights);
    assert_eq!(
        day(&page, "2025-06-15"),
        [nights[0], "chen name 10:00–12:00", nights[1]]
    );
}

#[tokio::test]
async fn a_person_name_with_markup_renders_inert_in_the_calendar_and_overrides() {
    let app = spawn_app_with(Setup {
        team: "[[person]]\nid = \"eve\"\nname = \"<img src=x onerror=alert(3)>\"\n\
               email = \"eve@example.com\"\ntime_zone = \"Europe/Madrid\"\n\
               contact = [{ kind = \"webhook\", url = \"http://{hooks}/hook/eve\", \
               secret_env = \"HOOK_SECRET\" }]\n"
            .into(),
        ..Setup::default()
    })
    .await;
    let password = add_user(&app, "vic", Role::Viewer, None).await;
    let vic = sign_in(&app, "vic", &password).await;
    let id = add_override(
        &app,
        json!({ "add": "eve", "start": "2025-06-14T10:00", "end": "2025-06-14T12:00" }),
    )
    .await;

    let page = get_page(&app, "/ui/schedules/business?month=2025-06", &vic).await;
    let inert = "&lt;img src=x onerror=alert(3)&gt;";
    assert_eq!(
        day(&page, "2025-06-14"),
        [
            "lead name 00:00–09:00".to_string(),
            format!("{inert} 10:00–12:00"),
            "lead name 18:00–24:00".to_string(),
        ]
    );
    assert!(page.contains(&format!("<td class=\"what\">add {inert}</td>")));
    assert!(page.contains(&format!("<tr id=\"override-{id}\">")));
    assert!(!page.contains("<img"));
}

#[tokio::test]
async fn a_month_across_a_dst_change_shows_local_handoff_times() {
    // nyc: a daily rotation of ana and ben handing off at 20:00 New York; the clocks go
    // forward at 02:00 on Sunday 9 March 2025, so that day has 23 hours.
    let app = spawn_app().await;
    let password = add_user(&app, "vic", Role::Viewer, None).await;
    let vic = sign_in(&app, "vic", &password).await;

    let page = get_page(&app, "/ui/schedules/nyc?month=2025-03", &vic).await;
    assert!(page.contains("<span id=\"month\">March 2025</span>"));
    assert!(page.contains("times in America/New_York"));
    assert_eq!(
        day(&page, "2025-03-08"),
        ["ben name 00:00–20:00", "ana name 20:00–24:00"]
    );
    assert_eq!(
        day(&page, "2025-03-09"),
        ["ana name 00:00–20:00", "ben name 20:00–24:00"]
    );
    assert_eq!(
        day(&page, "2025-03-10"),
        ["ben name 00:00–20:00", "ana name 20:00–24:00"]
    );
    assert_eq!(
        day(&page, "2025-03-31"),
        ["ana name 00:00–20:00", "ben name 20:00–24:00"]
    );
    // The calendar starts on Monday: 1 March 2025 is a Saturday, after five blanks.
    assert!(page.contains("<tr>\n<td></td>\n<td></td>\n<td></td>\n<td></td>\n<td></td>\n"));

    // The clocks go back on 2 November: still 20:00 local.
    let page = get_page(&app, "/ui/schedules/nyc?month=2025-11", &vic).await;
    assert_eq!(
        day(&page, "2025-11-02"),
        ["ana name 00:00–20:00", "ben name 20:00–24:00"]
    );
    let bad = crate::web_ui::no_redirects()
        .get(app.url("/ui/schedules/nyc?month=2025-13"))
        .header("cookie", &vic.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

/// The services page as `session` sees it.
async fn services_page(app: &TestApp, session: &Session) -> String {
    get_page(app, "/ui/services", session).await
}

#[tokio::test]
async fn services_show_intake_urls_and_snippets_with_keys_for_admins_only() {
    let app = spawn_app_with(Setup {
        instance: "[server]\npublic_url = \"https://dutybell.test\"\n".into(),
        ..Setup::default()
    })
    .await;
    let admin = add_user(&app, "root", Role::Admin, None).await;
    let viewer = add_user(&app, "vic", Role::Viewer, None).await;
    let responder = add_user(&app, "ana", Role::Responder, Some("ana")).await;
    let root = sign_in(&app, "root", &admin).await;
    let vic = sign_in(&app, "vic", &viewer).await;
    let ana = sign_in(&app, "ana", &responder).await;

    let base = "https://dutybell.test";
    let page = services_page(&app, &root).await;
    let am_url = format!("{base}/api/v1/integrations/{KEY}/alertmanager");
    assert!(page.contains(&format!("class=\"url\" value=\"{am_url}\"")));
    let am = format!(
        "receivers:\n  - name: dutybell-api\n    webhook_configs:\n      - url: {am_url}\n        \
         send_resolved: true\n        http_config:\n          authorization:\n            \
         credentials: {TOKEN}\n"
    );
    assert!(page.contains(&format!(
        "<pre class=\"snippet\">{}</pre>",
        escape::html(&am)
    )));
    let pd = format!(
        "receivers:\n  - name: dutybell-checkout\n    pagerduty_configs:\n      - url: \
         {base}/v2/enqueue\n        routing_key: {PD_KEY}\n        send_resolved: true\n"
    );
    assert!(page.contains(&format!(
        "<pre class=\"snippet\">{}</pre>",
        escape::html(&pd)
    )));
    let grafana_url = format!("{base}/api/v1/integrations/{GRAFANA_KEY}/grafana");
    let grafana = format!(
        "apiVersion: 1\ncontactPoints:\n  - orgId: 1\n    name: dutybell-checkout\n    \
         receivers:\n      - uid: dutybell-checkout\n        type: webhook\n        \
         settings:\n          url: {grafana_url}\n          httpMethod: POST\n"
    );
    assert!(page.contains(&format!(
        "<pre class=\"snippet\">{}</pre>",
        escape::html(&grafana)
    )));
    assert!(!page.contains("masked-note"));
    assert!(page.contains("class=\"url\" value=\"mailto:alerts@dutybell.test\""));
    // Who the first step reaches now: ben's primary week (api), the lead's night (web).
    assert!(page.contains("<span class=\"oncall\">ben name</span>"));
    assert!(page.contains("<span class=\"oncall\">lead name</span>"));
    assert!(page.contains("Escalation policy: <span class=\"policy\">scheduled</span>"));

    for session in [&vic, &ana] {
        let page = services_page(&app, session).await;
        for secret in [KEY, TOKEN, PD_KEY, GRAFANA_KEY] {
            assert!(!page.contains(secret), "{secret} shown to a non-admin");
        }
        let masked = format!("{base}/api/v1/integrations/********/alertmanager");
        assert!(page.contains(&format!("class=\"url\" value=\"{masked}\"")));
        assert!(page.contains("credentials: ********\n"));
        assert!(page.contains("routing_key: ********\n"));
        assert!(page.contains("class=\"routing-key\" value=\"********\""));
        assert!(page.contains("id=\"masked-note\""));
        assert!(!page.contains("alerts@dutybell.test"));
    }
}
