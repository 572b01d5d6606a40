//! Status page gaps of issue #5: recurring maintenance windows from `statuspage.toml`
//! (materialised ahead, idempotent, holding pages of bound services while they run) and
//! the subscription rate limit behind a trusted reverse proxy, and subscriber component
//! filters chosen on the form, checked over the real SMTP sink.

use dutybell::clock::Clock;
use dutybell::domain::statuspage::public_id;
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::helpers::{STORM_KEY, Setup, TOKEN, TestApp, am_body, spawn_app_with};
use crate::statuspage::{link, mail_header, mail_text, mails_to, post_form, public_json};

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// `db` bound to service `db` (pages `lead` directly); a nightly window at 04:30 Berlin.
async fn recurring_app() -> TestApp {
    spawn_app_with(Setup {
        clock: Clock::manual(at("2025-04-30T10:00:00Z")),
        services: "[[service]]\nid = \"db\"\nescalation = \"db\"\nintegrations = [\n\
                   { kind = \"alertmanager\", key_env = \"KEY_STORM\", \
                   token_env = \"DUTYBELL_TOKEN_API\" },\n]\n"
            .into(),
        oncall: "[[escalation]]\nid = \"db\"\nrepeat = 0\n\
                 steps = [{ targets = [\"person:lead\"] }]\n"
            .into(),
        statuspage: "[page]\nname = \"Acme Status\"\ntime_zone = \"UTC\"\n\n\
                     [[component]]\nid = \"db\"\nname = \"Database\"\nservices = [\"db\"]\n\n\
                     [[maintenance]]\nid = \"backup\"\nname = \"Nightly backup\"\n\
                     components = [\"db\"]\nevery = \"daily\"\nstart = \"04:30\"\n\
                     duration = \"1h\"\ntime_zone = \"Europe/Berlin\"\n"
            .into(),
        ..Setup::default()
    })
    .await
}

async fn fire_db(app: &TestApp, alertname: &str) -> i64 {
    let body = am_body(alertname, &[("firing", &app.clock.now().to_string())]);
    let response = app
        .client
        .post(app.url(&format!("/api/v1/integrations/{STORM_KEY}/alertmanager")))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let answer: Value = response.json().await.unwrap();
    answer["alert_id"].as_i64().unwrap()
}

/// Alert ids paged by webhook so far.
fn paged(app: &TestApp) -> Vec<i64> {
    let hooks = app.hooks.hooks();
    hooks
        .iter()
        .filter_map(|hook| hook.body["data"]["alert"]["id"].as_i64())
        .collect()
}

async fn windows(app: &TestApp, path: &str) -> Vec<(String, String, String)> {
    let body = public_json(app, path).await;
    body["scheduled_maintenances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let text = |key: &str| m[key].as_str().unwrap().to_string();
            (text("name"), text("scheduled_for"), text("scheduled_until"))
        })
        .collect()
}

fn window(day: u8) -> (String, String, String) {
    (
        "Nightly backup".into(),
        format!("2025-05-{day:02}T02:30:00.000+00:00"),
        format!("2025-05-{day:02}T03:30:00.000+00:00"),
    )
}

#[tokio::test]
async fn recurring_windows_are_scheduled_a_week_ahead_once_and_hold_pages_while_active() {
    let app = recurring_app().await;

    app.run_engine_once().await;
    app.run_engine_once().await;

    // 04:30 CEST is 02:30 UTC; today's window is over, so May 1st to 7th.
    let expected: Vec<_> = (1..=7).map(window).collect();
    let upcoming = windows(&app, "/api/v2/scheduled-maintenances/upcoming.json").await;
    assert_eq!(upcoming, expected, "a second pass schedules nothing twice");

    app.clock.set(at("2025-05-01T02:45:00Z"));
    let during = fire_db(&app, "DbBackupSlow").await;
    app.run_engine_once().await;

    assert_eq!(paged(&app), Vec::<i64>::new(), "recorded, not sent");
    assert!(
        app.timeline_kinds(during)
            .await
            .contains(&"maintenance_hold".to_string())
    );
    let components = public_json(&app, "/api/v2/components.json").await;
    assert_eq!(components["components"][0]["status"], "under_maintenance");
    assert_eq!(
        windows(&app, "/api/v2/scheduled-maintenances/active.json").await,
        [window(1)]
    );
    let upcoming = windows(&app, "/api/v2/scheduled-maintenances/upcoming.json").await;
    assert_eq!(
        upcoming,
        (2..=8).map(window).collect::<Vec<_>>(),
        "May 8th joined"
    );

    app.clock.set(at("2025-05-01T03:30:00Z"));
    app.run_engine_once().await;

    assert_eq!(paged(&app), [during], "the end pages what still fires");
    let components = public_json(&app, "/api/v2/components.json").await;
    assert_eq!(components["components"][0]["status"], "operational");
}

async fn subscribe_via(app: &TestApp, i: usize, forwarded_for: &str) -> u16 {
    app.client
        .post(app.url("/subscribe"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-for", forwarded_for)
        .body(format!("email=reader{i}%40example.com"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn page_setup(instance: &str) -> Setup {
    Setup {
        statuspage: crate::statuspage::PAGE.into(),
        instance: instance.into(),
        ..Setup::default()
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_subscribe_limit_counts_forwarded_clients() {
    let app = spawn_app_with(page_setup(
        "[server]\ntrusted_proxies = [\"127.0.0.1/32\"]\n",
    ))
    .await;

    let mut answers = Vec::new();
    for i in 0..11 {
        answers.push(subscribe_via(&app, i, "198.51.100.4").await);
    }
    let other = subscribe_via(&app, 11, "203.0.113.9, 127.0.0.1").await;

    assert_eq!(answers[..10], [200; 10]);
    assert_eq!(answers[10], 429);
    assert_eq!(
        other, 200,
        "another client behind the proxy has its own limit"
    );
}

#[tokio::test]
async fn without_trusted_proxies_a_forwarded_header_changes_nothing() {
    let app = spawn_app_with(page_setup("")).await;

    let mut answers = Vec::new();
    for i in 0..11 {
        answers.push(subscribe_via(&app, i, &format!("198.51.100.{i}")).await);
    }

    assert_eq!(answers[..10], [200; 10]);
    assert_eq!(answers[10], 429, "the peer address counts, not the header");
}

/// Subscribes `address` with the form's component checkboxes, then confirms.
async fn subscribe_to(app: &TestApp, address: &str, components: &[&str]) {
    let mut body = format!("email={}", address.replace('@', "%40"));
    for key in components {
        body.push_str(&format!("&components={}", public_id("component", key)));
    }
    assert_eq!(post_form(app, "/subscribe", &body).await.0, 200);
    app.run_engine_once().await;
    let mail = mails_to(app, address).pop().unwrap();
    let confirm = link(&mail_text(&mail.data), "/subscribe/confirm?token=");
    let path = confirm.trim_start_matches(&app.url(""));
    assert_eq!(post_form(app, path, "").await.0, 200);
}

/// Declares and publishes an incident holding `components` (key → state).
async fn publish(app: &TestApp, title: &str, components: Value) {
    let body = json!({ "title": title, "severity": "P2", "by": "lead", "page": false });
    let response = app.api_post("/api/v1/incidents", body).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    let number = answer["incident"]["number"].as_i64().unwrap();
    let body = json!({ "body": "Looking into it.", "components": components });
    let response = app
        .api_post(&format!("/api/v1/incidents/{number}/publish"), body)
        .await;
    assert_eq!(response.status(), 201);
}

fn subjects(app: &TestApp, address: &str) -> Vec<String> {
    mails_to(app, address)
        .iter()
        .skip(1)
        .map(|m| mail_header(&m.data, "Subject"))
        .collect()
}

#[tokio::test]
async fn the_subscribe_form_offers_components_and_filters_hold_over_real_mail() {
    let app = spawn_app_with(page_setup("")).await;

    let (status, form) = get_page(&app, "/subscribe").await;
    assert_eq!(status, 200);
    for (key, name) in [("api", "Public API"), ("db", "Database")] {
        let checkbox = format!(
            "<input type=\"checkbox\" name=\"components\" value=\"{}\"> {name}</label>",
            public_id("component", key)
        );
        assert!(form.contains(&checkbox), "{key}: {form}");
    }
    assert!(
        !form.contains(&public_id("group", "core")),
        "groups are not offered"
    );

    subscribe_to(&app, "db-only@example.com", &["db"]).await;
    subscribe_to(&app, "everything@example.com", &[]).await;
    publish(&app, "Checkout errors", json!({ "api": "major_outage" })).await;
    publish(
        &app,
        "Slow queries",
        json!({ "db": "degraded_performance" }),
    )
    .await;
    publish(&app, "Something odd", json!({})).await;
    app.run_engine_once().await;

    assert_eq!(
        subjects(&app, "db-only@example.com"),
        [
            "[Acme Status] Investigating: Slow queries",
            "[Acme Status] Investigating: Something odd",
        ]
    );
    assert_eq!(
        subjects(&app, "everything@example.com"),
        [
            "[Acme Status] Investigating: Checkout errors",
            "[Acme Status] Investigating: Slow queries",
            "[Acme Status] Investigating: Something odd",
        ]
    );
}

async fn get_page(app: &TestApp, path: &str) -> (u16, String) {
    let response = app.client.get(app.url(path)).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}
