//! The public status page (comms spec §4, issue #5): publishing moves every public body,
//! updates and resolutions move components, caching headers, subscribers over the real
//! SMTP sink, CM-08 and CM-09, escaping, and serving with the database gone.

use dutybell::clock::Clock;
use dutybell::domain::statuspage::public_id;
use jiff::{SignedDuration, Timestamp};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::helpers::{Setup, TOKEN, TestApp, am_body, spawn_app_with};

/// One group (`core` with `api`) and a plain `db` component; `api` is bound to service
/// `api`.
pub(crate) const PAGE: &str = r#"
[page]
name = "Acme Status"
time_zone = "UTC"

[[group]]
id = "core"
name = "Core"

[[component]]
id = "api"
name = "Public API"
group = "core"
services = ["api"]

[[component]]
id = "db"
name = "Database"
"#;

const JSON_PATHS: [&str; 8] = [
    "/api/v2/summary.json",
    "/api/v2/status.json",
    "/api/v2/components.json",
    "/api/v2/incidents.json",
    "/api/v2/incidents/unresolved.json",
    "/api/v2/scheduled-maintenances.json",
    "/api/v2/scheduled-maintenances/upcoming.json",
    "/api/v2/scheduled-maintenances/active.json",
];

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

async fn app() -> TestApp {
    spawn_app_with(Setup {
        statuspage: PAGE.into(),
        ..Setup::default()
    })
    .await
}

fn component_id(key: &str) -> String {
    public_id("component", key)
}

/// Declares an incident as `lead`; returns its number.
async fn declare(app: &TestApp, title: &str, severity: &str) -> i64 {
    let body = json!({ "title": title, "severity": severity, "by": "lead", "page": false });
    let response = app.api_post("/api/v1/incidents", body).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    answer["incident"]["number"].as_i64().unwrap()
}

async fn publish(app: &TestApp, number: i64, body: Value) -> Value {
    let response = app
        .api_post(&format!("/api/v1/incidents/{number}/publish"), body)
        .await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

async fn public_update(app: &TestApp, number: i64, body: Value) -> reqwest::Response {
    app.api_post(&format!("/api/v1/incidents/{number}/public-updates"), body)
        .await
}

/// A public GET with no credentials: status, headers, body.
pub(crate) async fn get(
    app: &TestApp,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, HeaderMap, String) {
    let mut request = app.client.get(app.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

pub(crate) async fn public_json(app: &TestApp, path: &str) -> Value {
    let (status, _, body) = get(app, path, &[]).await;
    assert_eq!(status, 200, "GET {path}");
    serde_json::from_str(&body).unwrap()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .map_or("", |value| value.to_str().unwrap())
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// `(name, status)` of every component, in API order.
async fn component_states(app: &TestApp) -> Vec<(String, String)> {
    let body = public_json(app, "/api/v2/components.json").await;
    body["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let name = c["name"].as_str().unwrap().to_string();
            (name, c["status"].as_str().unwrap().to_string())
        })
        .collect()
}

fn states(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, s)| (n.to_string(), s.to_string()))
        .collect()
}

#[tokio::test]
async fn publishing_an_incident_changes_summary_status_components_and_incidents() {
    let app = app().await;
    let before = public_json(&app, "/api/v2/status.json").await;
    assert_eq!(
        before["status"],
        json!({ "indicator": "none", "description": "All Systems Operational" })
    );
    let number = declare(&app, "Checkout errors", "P2").await;

    let published = publish(
        &app,
        number,
        json!({ "body": "We are looking into failed checkouts.",
                "components": { "api": "major_outage" } }),
    )
    .await;

    let id = published["public_id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 12);
    assert_eq!(
        published["shortlink"],
        json!(app.url(&format!("/incidents/{id}")))
    );
    let status = public_json(&app, "/api/v2/status.json").await;
    assert_eq!(keys(&status), ["page", "status"]);
    assert_eq!(
        keys(&status["page"]),
        ["id", "name", "time_zone", "updated_at", "url"]
    );
    assert_eq!(status["page"]["name"], "Acme Status");
    assert_eq!(status["page"]["url"], json!(app.url("")));
    assert_eq!(
        status["status"],
        json!({ "indicator": "critical", "description": "Major Service Outage" })
    );

    let components = public_json(&app, "/api/v2/components.json").await;
    let list = components["components"].as_array().unwrap();
    assert_eq!(
        component_states(&app).await,
        states(&[
            ("Core", "major_outage"),
            ("Public API", "major_outage"),
            ("Database", "operational"),
        ])
    );
    let component_keys = [
        "created_at",
        "description",
        "group",
        "group_id",
        "id",
        "name",
        "only_show_if_degraded",
        "page_id",
        "position",
        "showcase",
        "start_date",
        "status",
        "updated_at",
    ];
    assert_eq!(keys(&list[1]), component_keys);
    assert_eq!(list[0]["group"], true);
    assert_eq!(list[0]["components"], json!([component_id("api")]));
    assert_eq!(list[1]["id"], json!(component_id("api")));
    assert_eq!(list[1]["group_id"], list[0]["id"]);
    assert_eq!(
        list.iter()
            .map(|c| c["position"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2, 3]
    );

    let incidents = public_json(&app, "/api/v2/incidents.json").await;
    let incident = &incidents["incidents"][0];
    assert_eq!(incidents["incidents"].as_array().unwrap().len(), 1);
    assert_eq!(
        keys(incident),
        [
            "components",
            "created_at",
            "id",
            "impact",
            "incident_updates",
            "monitoring_at",
            "name",
            "page_id",
            "resolved_at",
            "shortlink",
            "started_at",
            "status",
            "updated_at",
        ]
    );
    assert_eq!(incident["id"], json!(id));
    assert_eq!(incident["name"], "Checkout errors");
    assert_eq!(incident["status"], "investigating");
    assert_eq!(incident["impact"], "major", "a P2 defaults to major");
    assert_eq!(incident["resolved_at"], Value::Null);
    assert_eq!(incident["created_at"], "2025-06-12T03:00:00.000+00:00");
    assert_eq!(incident["components"][0]["id"], json!(component_id("api")));
    let update = &incident["incident_updates"][0];
    assert_eq!(
        keys(update),
        [
            "affected_components",
            "body",
            "created_at",
            "custom_tweet",
            "deliver_notifications",
            "display_at",
            "id",
            "incident_id",
            "status",
            "tweet_id",
            "updated_at",
        ]
    );
    assert_eq!(update["body"], "We are looking into failed checkouts.");
    assert_eq!(update["status"], "investigating");
    assert_eq!(update["deliver_notifications"], true);
    assert_eq!(
        update["affected_components"],
        json!([{ "code": component_id("api"), "name": "Public API",
                 "old_status": "operational", "new_status": "major_outage" }])
    );

    let summary = public_json(&app, "/api/v2/summary.json").await;
    assert_eq!(
        keys(&summary),
        [
            "components",
            "incidents",
            "page",
            "scheduled_maintenances",
            "status"
        ]
    );
    assert_eq!(summary["incidents"][0]["id"], json!(id));
    assert_eq!(summary["status"]["indicator"], "critical");
    assert_eq!(summary["components"][1]["status"], "major_outage");
    let unresolved = public_json(&app, "/api/v2/incidents/unresolved.json").await;
    assert_eq!(unresolved["incidents"][0]["id"], json!(id));

    let internal = app.api_get(&format!("/api/v1/incidents/{number}")).await;
    assert_eq!(internal["incident"]["public_incident_id"], json!(id));
    let kinds: Vec<&str> = internal["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"statuspage.published"), "{kinds:?}");
    let again = app
        .api_post(
            &format!("/api/v1/incidents/{number}/publish"),
            json!({ "body": "again" }),
        )
        .await;
    assert_eq!(again.status(), 409);
}

#[tokio::test]
async fn updates_move_components_and_resolving_frees_only_what_no_other_incident_holds() {
    let app = app().await;
    let first = declare(&app, "API errors", "P2").await;
    let second = declare(&app, "Slow database", "P3").await;
    publish(
        &app,
        first,
        json!({ "body": "Investigating.", "components": { "api": "major_outage" } }),
    )
    .await;
    publish(
        &app,
        second,
        json!({ "body": "Queries are slow.",
                "components": { "api": "degraded_performance", "db": "partial_outage" } }),
    )
    .await;

    let identified = public_update(
        &app,
        first,
        json!({ "status": "identified", "body": "A bad deploy.",
                "components": { "api": "partial_outage" } }),
    )
    .await;
    assert_eq!(identified.status(), 201);
    let identified: Value = identified.json().await.unwrap();
    assert_eq!(
        identified["affected_components"],
        json!([{ "code": component_id("api"), "name": "Public API",
                 "old_status": "major_outage", "new_status": "partial_outage" }])
    );
    assert_eq!(
        component_states(&app).await,
        states(&[
            ("Core", "partial_outage"),
            ("Public API", "partial_outage"),
            ("Database", "partial_outage"),
        ])
    );

    let resolved = public_update(
        &app,
        first,
        json!({ "status": "resolved", "body": "Rolled back." }),
    )
    .await;
    assert_eq!(resolved.status(), 201);
    let resolved: Value = resolved.json().await.unwrap();
    assert_eq!(
        resolved["affected_components"][0]["new_status"],
        "operational"
    );
    assert_eq!(
        component_states(&app).await,
        states(&[
            ("Core", "degraded_performance"),
            ("Public API", "degraded_performance"),
            ("Database", "partial_outage"),
        ]),
        "the second incident still holds both"
    );
    let incidents = public_json(&app, "/api/v2/incidents.json").await;
    let first_public = incidents["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "API errors")
        .unwrap()
        .clone();
    assert_eq!(first_public["status"], "resolved");
    assert_eq!(first_public["resolved_at"], "2025-06-12T03:00:00.000+00:00");
    let statuses: Vec<&str> = first_public["incident_updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["resolved", "identified", "investigating"]);
    let unresolved = public_json(&app, "/api/v2/incidents/unresolved.json").await;
    assert_eq!(unresolved["incidents"].as_array().unwrap().len(), 1);

    let done = public_update(
        &app,
        second,
        json!({ "status": "resolved", "body": "Index rebuilt." }),
    )
    .await;
    assert_eq!(done.status(), 201);
    assert_eq!(
        component_states(&app).await,
        states(&[
            ("Core", "operational"),
            ("Public API", "operational"),
            ("Database", "operational"),
        ])
    );
    let status = public_json(&app, "/api/v2/status.json").await;
    assert_eq!(status["status"]["indicator"], "none");
}

#[tokio::test]
async fn public_updates_are_never_dated_in_the_future_or_before_the_start() {
    let app = app().await;
    let number = declare(&app, "API errors", "P2").await;
    publish(&app, number, json!({ "body": "Investigating." })).await;
    app.clock.advance(SignedDuration::from_mins(30));

    let future = public_update(
        &app,
        number,
        json!({ "body": "x", "display_at": "2025-06-12T04:00:00Z" }),
    )
    .await;
    let early = public_update(
        &app,
        number,
        json!({ "body": "x", "display_at": "2025-06-12T02:00:00Z" }),
    )
    .await;
    let backdated = public_update(
        &app,
        number,
        json!({ "body": "Earlier note.", "display_at": "2025-06-12T03:10:00Z" }),
    )
    .await;

    assert_eq!(future.status(), 400);
    assert_eq!(early.status(), 400);
    assert_eq!(backdated.status(), 201);
    let incidents = public_json(&app, "/api/v2/incidents.json").await;
    let update = &incidents["incidents"][0]["incident_updates"][0];
    assert_eq!(update["display_at"], "2025-06-12T03:10:00.000+00:00");
    assert_eq!(update["created_at"], "2025-06-12T03:30:00.000+00:00");
}

#[tokio::test]
async fn public_json_answers_with_cors_caching_etags_304_and_head() {
    let app = app().await;
    for path in JSON_PATHS {
        let (status, headers, _) = get(&app, path, &[]).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(
            header(&headers, "content-type"),
            "application/json; charset=utf-8"
        );
        assert_eq!(header(&headers, "access-control-allow-origin"), "*");
        assert_eq!(header(&headers, "cache-control"), "public, max-age=30");
        assert!(header(&headers, "etag").starts_with('"'), "{path}");
    }
    let (_, first, body) = get(&app, "/api/v2/summary.json", &[]).await;
    let etag = header(&first, "etag").to_string();

    let (status, headers, empty) =
        get(&app, "/api/v2/summary.json", &[("if-none-match", &etag)]).await;
    assert_eq!(status, 304);
    assert_eq!(empty, "");
    assert_eq!(header(&headers, "etag"), etag);
    assert_eq!(header(&headers, "access-control-allow-origin"), "*");
    let head = app
        .client
        .head(app.url("/api/v2/summary.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(header(head.headers(), "etag"), etag);
    assert_eq!(
        header(head.headers(), "content-type"),
        "application/json; charset=utf-8"
    );
    assert_eq!(head.text().await.unwrap(), "");

    let manual = app
        .api_post(
            "/api/v1/statuspage/components/db",
            json!({ "status": "degraded_performance" }),
        )
        .await;
    assert_eq!(manual.status(), 200);
    let (status, headers, changed) =
        get(&app, "/api/v2/summary.json", &[("if-none-match", &etag)]).await;
    assert_eq!(status, 200);
    assert_ne!(header(&headers, "etag"), etag);
    assert_ne!(changed, body);
    let status = public_json(&app, "/api/v2/status.json").await;
    assert_eq!(
        status["status"],
        json!({ "indicator": "minor", "description": "Minor Service Outage" })
    );
}

#[tokio::test]
async fn html_has_a_script_free_csp_and_feeds_carry_their_validators() {
    let app = app().await;

    for path in ["/", "/history", "/subscribe"] {
        let (status, headers, body) = get(&app, path, &[]).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(header(&headers, "content-type"), "text/html; charset=utf-8");
        assert_eq!(
            header(&headers, "content-security-policy"),
            dutybell::http::statuspage::CSP
        );
        assert!(!body.to_ascii_lowercase().contains("<script"));
        assert!(body.contains("Acme Status"));
    }
    let (_, headers, _) = get(&app, "/statuspage.css", &[]).await;
    assert_eq!(header(&headers, "content-type"), "text/css; charset=utf-8");
    for (path, kind) in [
        ("/history.rss", "application/rss+xml; charset=utf-8"),
        ("/history.atom", "application/atom+xml; charset=utf-8"),
    ] {
        let (status, headers, _) = get(&app, path, &[]).await;
        assert_eq!(status, 200);
        assert_eq!(header(&headers, "content-type"), kind);
        assert_eq!(header(&headers, "cache-control"), "public, max-age=60");
        let modified = header(&headers, "last-modified").to_string();
        assert!(modified.ends_with(" GMT"), "{modified}");
        let etag = header(&headers, "etag").to_string();
        let (again, _, _) = get(&app, path, &[("if-none-match", &etag)]).await;
        assert_eq!(again, 304);
    }
    let (missing, _, _) = get(&app, "/incidents/nosuchthing0", &[]).await;
    assert_eq!(missing, 404);
}

// ---- Subscribers -------------------------------------------------------------------

pub(crate) async fn post_form(app: &TestApp, path: &str, body: &str) -> (u16, String) {
    let response = app
        .client
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

pub(crate) fn mails_to(app: &TestApp, address: &str) -> Vec<crate::helpers::Mail> {
    app.smtp
        .mails()
        .into_iter()
        .filter(|m| m.to.iter().any(|to| to == address))
        .collect()
}

/// A header of a received mail, unfolded.
pub(crate) fn mail_header(data: &str, name: &str) -> String {
    let head = data.split("\r\n\r\n").next().unwrap();
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    let prefix = format!("{}:", name.to_ascii_lowercase());
    unfolded
        .lines()
        .find(|line| line.to_ascii_lowercase().starts_with(&prefix))
        .map(|line| line[prefix.len()..].trim().to_string())
        .unwrap_or_default()
}

/// The message body with quoted-printable soft breaks and escapes undone.
pub(crate) fn mail_text(data: &str) -> String {
    let body = data.split_once("\r\n\r\n").unwrap().1.replace("=\r\n", "");
    let bytes = body.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The first link in `text` that contains `marker`, up to the end of its token.
pub(crate) fn link(text: &str, marker: &str) -> String {
    let start = text.find(marker).unwrap();
    let begin = text[..start].rfind("http://").unwrap();
    let token_at = start + marker.len();
    let end = text[token_at..]
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .map_or(text.len(), |i| token_at + i);
    text[begin..end].to_string()
}

pub(crate) async fn subscribe_and_confirm(app: &TestApp, address: &str) {
    let body = format!("email={}", address.replace('@', "%40"));
    assert_eq!(post_form(app, "/subscribe", &body).await.0, 200);
    app.run_engine_once().await;
    let mail = mails_to(app, address).pop().unwrap();
    let confirm = link(&mail_text(&mail.data), "/subscribe/confirm?token=");
    let path = confirm.trim_start_matches(&app.url(""));
    assert_eq!(post_form(app, path, "").await.0, 200);
}

#[tokio::test]
async fn a_confirmed_subscriber_gets_notices_with_one_click_unsubscribe_that_stops_them() {
    let app = app().await;
    let (status, page) = post_form(&app, "/subscribe", "email=reader%40example.com").await;
    assert_eq!(status, 200);
    assert!(page.contains("a confirmation link is on its way"), "{page}");

    app.run_engine_once().await;

    let confirmation = mails_to(&app, "reader@example.com");
    assert_eq!(confirmation.len(), 1);
    assert_eq!(
        mail_header(&confirmation[0].data, "Subject"),
        "[Acme Status] Confirm your subscription"
    );
    let confirm = link(
        &mail_text(&confirmation[0].data),
        "/subscribe/confirm?token=",
    );
    assert!(confirm.starts_with(&app.url("/subscribe/confirm?token=")));
    let path = confirm.trim_start_matches(&app.url("")).to_string();
    let (status, _, shown) = get(&app, &path, &[]).await;
    assert_eq!(status, 200);
    assert!(
        shown.contains("<form method=\"post\""),
        "GET only shows a button"
    );
    let unconfirmed = declare(&app, "Before confirming", "P3").await;
    publish(&app, unconfirmed, json!({ "body": "Nobody hears this." })).await;
    app.run_engine_once().await;
    assert_eq!(mails_to(&app, "reader@example.com").len(), 1);

    let (status, done) = post_form(&app, &path, "").await;
    assert_eq!(status, 200);
    assert!(done.contains("Subscription confirmed"));
    let number = declare(&app, "Checkout errors", "P2").await;
    publish(
        &app,
        number,
        json!({ "name": "Checkout is failing", "body": "We are on it.",
                "components": { "api": "partial_outage" } }),
    )
    .await;
    app.run_engine_once().await;

    let mails = mails_to(&app, "reader@example.com");
    assert_eq!(mails.len(), 2);
    let notice = &mails[1].data;
    assert_eq!(
        mail_header(notice, "Subject"),
        "[Acme Status] Investigating: Checkout is failing"
    );
    assert_eq!(
        mail_header(notice, "List-Unsubscribe-Post"),
        "List-Unsubscribe=One-Click"
    );
    let unsubscribe = mail_header(notice, "List-Unsubscribe");
    assert!(
        unsubscribe.starts_with(&format!("<{}", app.url("/unsubscribe?token="))),
        "{unsubscribe}"
    );
    assert!(mail_text(notice).contains("We are on it."));
    let url = unsubscribe.trim_matches(['<', '>']);
    let one_click = app
        .client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(one_click.status(), 200);
    let update = public_update(
        &app,
        number,
        json!({ "status": "resolved", "body": "Fixed." }),
    )
    .await;
    assert_eq!(update.status(), 201);
    app.run_engine_once().await;
    assert_eq!(
        mails_to(&app, "reader@example.com").len(),
        2,
        "no mail after unsubscribing"
    );
}

#[tokio::test]
async fn subscribing_answers_alike_for_known_and_unknown_addresses_and_caps_confirmations() {
    let app = app().await;
    subscribe_and_confirm(&app, "known@example.com").await;

    let known = post_form(&app, "/subscribe", "email=known%40example.com").await;
    let unknown = post_form(&app, "/subscribe", "email=new%40example.com").await;

    assert_eq!(known, unknown);
    assert_eq!(known.0, 200);
    for _ in 0..4 {
        assert_eq!(
            post_form(&app, "/subscribe", "email=new%40example.com")
                .await
                .0,
            200
        );
    }
    app.run_engine_once().await;
    assert_eq!(
        mails_to(&app, "known@example.com").len(),
        1,
        "a confirmed address gets nothing new"
    );
    assert_eq!(
        mails_to(&app, "new@example.com").len(),
        3,
        "three confirmation mails a day"
    );
    app.clock.advance(SignedDuration::from_hours(25));
    post_form(&app, "/subscribe", "email=new%40example.com").await;
    app.run_engine_once().await;
    assert_eq!(mails_to(&app, "new@example.com").len(), 4);
    let bad = post_form(&app, "/subscribe", "email=not-an-address").await;
    assert_eq!(bad.0, 400);
}

#[tokio::test]
async fn subscriptions_are_rate_limited_per_client_ip() {
    let app = app().await;

    let mut answers = Vec::new();
    for i in 0..11 {
        let body = format!("email=reader{i}%40example.com");
        answers.push(post_form(&app, "/subscribe", &body).await.0);
    }

    assert_eq!(answers[..10], [200; 10]);
    assert_eq!(answers[10], 429);
}

#[tokio::test]
async fn subscribers_hear_of_a_maintenance_at_creation_reminder_start_and_completion() {
    let app = app().await;
    subscribe_and_confirm(&app, "reader@example.com").await;
    let created = app
        .api_post(
            "/api/v1/statuspage/maintenances",
            json!({ "name": "Database upgrade", "components": ["db"],
                    "scheduled_for": "2025-06-12T06:00:00Z",
                    "scheduled_until": "2025-06-12T07:00:00Z",
                    "body": "Upgrading the primary.", "remind_before": "60m" }),
        )
        .await;
    assert_eq!(created.status(), 201);
    app.run_engine_once().await;

    app.clock.set(at("2025-06-12T05:00:00Z"));
    app.run_engine_once().await;
    app.clock.set(at("2025-06-12T06:00:00Z"));
    app.run_engine_once().await;
    app.clock.set(at("2025-06-12T07:00:00Z"));
    app.run_engine_once().await;

    let subjects: Vec<String> = mails_to(&app, "reader@example.com")
        .iter()
        .skip(1)
        .map(|m| mail_header(&m.data, "Subject"))
        .collect();
    assert_eq!(
        subjects,
        [
            "[Acme Status] Scheduled maintenance: Database upgrade",
            "[Acme Status] Scheduled maintenance: Database upgrade",
            "[Acme Status] Maintenance in progress: Database upgrade",
            "[Acme Status] Maintenance completed: Database upgrade",
        ]
    );
    let all = public_json(&app, "/api/v2/scheduled-maintenances.json").await;
    let updates: Vec<&str> = all["scheduled_maintenances"][0]["incident_updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["status"].as_str().unwrap())
        .collect();
    assert_eq!(updates, ["completed", "in_progress", "scheduled"]);
    assert_eq!(
        all["scheduled_maintenances"][0]["scheduled_for"],
        "2025-06-12T06:00:00.000+00:00"
    );
}

#[tokio::test]
async fn a_public_incident_holds_at_most_a_hundred_updates() {
    let app = app().await;
    let number = declare(&app, "Long haul", "P3").await;
    publish(
        &app,
        number,
        json!({ "body": "Update 1.", "notify": false }),
    )
    .await;

    for i in 2..=100 {
        let body = json!({ "body": format!("Update {i}."), "notify": false });
        assert_eq!(public_update(&app, number, body).await.status(), 201);
    }
    let refused = public_update(&app, number, json!({ "body": "Update 101." })).await;

    assert_eq!(refused.status(), 409);
    let incidents = public_json(&app, "/api/v2/incidents.json").await;
    let updates = incidents["incidents"][0]["incident_updates"]
        .as_array()
        .unwrap();
    assert_eq!(updates.len(), 100);
    assert_eq!(updates[0]["body"], "Update 100.");
    assert_eq!(updates[0]["deliver_notifications"], false);
}

// ---- CM-09, CM-08 ------------------------------------------------------------------

/// Spec CM-09: `db` bound to service `db`, which pages `lead` directly.
async fn cm09_app() -> TestApp {
    spawn_app_with(Setup {
        clock: Clock::manual(at("2025-04-30T10:00:00Z")),
        services: "[[service]]\nid = \"db\"\nescalation = \"db\"\nintegrations = [\n\
                   { kind = \"alertmanager\", key_env = \"KEY_STORM\", \
                   token_env = \"DUTYBELL_TOKEN_API\" },\n]\n"
            .into(),
        oncall: "[[escalation]]\nid = \"db\"\nrepeat = 0\n\
                 steps = [{ targets = [\"person:lead\"] }]\n"
            .into(),
        statuspage: "[page]\nname = \"Acme Status\"\n\n[[component]]\nid = \"db\"\n\
                     name = \"Database\"\nservices = [\"db\"]\n"
            .into(),
        ..Setup::default()
    })
    .await
}

async fn fire_db(app: &TestApp, alertname: &str) -> i64 {
    let body = am_body(alertname, &[("firing", &app.clock.now().to_string())]);
    let response = app
        .client
        .post(app.url(&format!(
            "/api/v1/integrations/{}/alertmanager",
            crate::helpers::STORM_KEY
        )))
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

/// Alert ids paged by webhook so far, in order (a bundle counts each of its alerts).
fn paged(app: &TestApp) -> Vec<i64> {
    let mut ids = Vec::new();
    for hook in app.hooks.hooks() {
        let data = &hook.body["data"];
        match data["alert"]["id"].as_i64() {
            Some(id) => ids.push(id),
            None => ids.extend(
                data["bundle"]["alerts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a["id"].as_i64().unwrap()),
            ),
        }
    }
    ids
}

async fn db_state(app: &TestApp) -> String {
    let body = public_json(app, "/api/v2/components.json").await;
    body["components"][0]["status"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn maintenance_status(app: &TestApp) -> String {
    let body = public_json(app, "/api/v2/scheduled-maintenances.json").await;
    body["scheduled_maintenances"][0]["status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn cm09_future_maintenance_suppresses_nothing() {
    let app = cm09_app().await;
    let created = app
        .api_post(
            "/api/v1/statuspage/maintenances",
            json!({ "name": "Database upgrade", "components": ["db"],
                    "scheduled_for": "2025-05-01T02:00:00Z",
                    "scheduled_until": "2025-05-01T04:00:00Z",
                    "body": "Upgrading the primary." }),
        )
        .await;
    assert_eq!(created.status(), 201);

    app.clock.set(at("2025-04-30T12:00:00Z"));
    let early = fire_db(&app, "DbSlow").await;
    app.run_engine_once().await;

    assert_eq!(paged(&app), [early], "a future maintenance holds nothing");
    assert_eq!(db_state(&app).await, "operational");
    assert_eq!(maintenance_status(&app).await, "scheduled");
    let upcoming = public_json(&app, "/api/v2/scheduled-maintenances/upcoming.json").await;
    assert_eq!(
        upcoming["scheduled_maintenances"][0]["name"],
        "Database upgrade"
    );
    let acked = app
        .api_post(
            &format!("/api/v1/alerts/{early}/ack"),
            json!({ "by": "lead" }),
        )
        .await;
    assert_eq!(acked.status(), 200);

    app.clock.set(at("2025-05-01T02:30:00Z"));
    let during = fire_db(&app, "DbDiskFull").await;
    app.run_engine_once().await;

    assert_eq!(paged(&app), [early], "recorded, not sent");
    assert!(
        app.timeline_kinds(during)
            .await
            .contains(&"maintenance_hold".to_string())
    );
    assert_eq!(db_state(&app).await, "under_maintenance");
    assert_eq!(maintenance_status(&app).await, "in_progress");
    let active = public_json(&app, "/api/v2/scheduled-maintenances/active.json").await;
    assert_eq!(active["scheduled_maintenances"][0]["status"], "in_progress");
    let status = public_json(&app, "/api/v2/status.json").await;
    assert_eq!(status["status"]["indicator"], "maintenance");

    app.clock.set(at("2025-05-01T04:00:00Z"));
    let after = fire_db(&app, "DbReplicaLag").await;
    app.run_engine_once().await;

    let mut pages = paged(&app);
    pages.sort_unstable();
    assert_eq!(
        pages,
        [early, during, after],
        "the end pages what still fires, and new alerts page"
    );
    assert_eq!(db_state(&app).await, "operational");
    assert_eq!(maintenance_status(&app).await, "completed");
}

#[tokio::test]
async fn cm08_reclassifying_a_past_outage_as_maintenance_recomputes_uptime_and_is_audited() {
    let app = spawn_app_with(Setup {
        clock: Clock::manual(at("2025-05-01T00:00:00Z")),
        statuspage: PAGE.into(),
        ..Setup::default()
    })
    .await;
    app.run_engine_once().await;
    let mut number = 0;
    // Heartbeats every 2 minutes all day: every minute of it has data.
    while app.clock.now() < at("2025-05-02T00:00:00Z") {
        app.clock.advance(SignedDuration::from_mins(2));
        let now = app.clock.now();
        if now == at("2025-05-01T10:00:00Z") {
            number = declare(&app, "API down", "P1").await;
            publish(
                &app,
                number,
                json!({ "body": "Down.", "components": { "api": "major_outage" } }),
            )
            .await;
        }
        if now == at("2025-05-01T11:30:00Z") {
            let resolved =
                public_update(&app, number, json!({ "status": "resolved", "body": "Up." })).await;
            assert_eq!(resolved.status(), 201);
        }
        app.run_engine_once().await;
    }
    let (_, _, before) = get(&app, "/", &[]).await;
    assert!(
        before.contains("2025-05-01: 93.75 % uptime · down 90 min"),
        "{before}"
    );

    let reclassified = app
        .api_post(
            "/api/v1/statuspage/reclassify",
            json!({ "component": "api", "start": "2025-05-01T10:30:00Z",
                    "end": "2025-05-01T11:30:00Z", "as": "maintenance",
                    "reason": "Planned failover, announced late", "by": "lead" }),
        )
        .await;

    assert_eq!(reclassified.status(), 201);
    let (_, _, after) = get(&app, "/", &[]).await;
    assert!(
        after.contains("2025-05-01: 97.82 % uptime · down 30 min · maintenance 60 min"),
        "{after}"
    );
    assert!(
        after.contains("97.82 % uptime</span>"),
        "the 90-day figure follows"
    );
    let audit = app.api_get("/api/v1/statuspage/reclassifications").await;
    let entry = &audit["reclassifications"][0];
    assert_eq!(entry["admin"], "lead");
    assert_eq!(entry["reason"], "Planned failover, announced late");
    assert_eq!(entry["as"], "maintenance");
    assert_eq!(entry["component"], "api");
    let future = app
        .api_post(
            "/api/v1/statuspage/reclassify",
            json!({ "start": "2025-05-01T23:00:00Z", "end": "2025-05-02T01:00:00Z",
                    "as": "no_data", "reason": "x" }),
        )
        .await;
    assert_eq!(future.status(), 400, "only past ranges");
}

// ---- Escaping and the cache --------------------------------------------------------

const PROBE: &str = "<script>alert(1)</script> \"><img src=x onerror=alert(1)>";

#[tokio::test]
async fn script_in_names_and_bodies_renders_inert_in_html_feeds_and_json() {
    let app = app().await;
    let number = declare(&app, "Probe", "P3").await;
    let published = publish(&app, number, json!({ "name": PROBE, "body": PROBE })).await;
    let id = published["public_id"].as_str().unwrap();

    for path in [
        "/".to_string(),
        "/history".into(),
        format!("/incidents/{id}"),
        "/history.rss".into(),
        "/history.atom".into(),
    ] {
        let (status, _, body) = get(&app, &path, &[]).await;
        assert_eq!(status, 200, "{path}");
        let lower = body.to_ascii_lowercase();
        assert!(!lower.contains("<script"), "{path}: {body}");
        assert!(!lower.contains("<img"), "{path}: {body}");
        assert!(body.contains("alert(1)"), "{path}: the text itself stays");
    }
    let (_, _, page) = get(&app, &format!("/incidents/{id}"), &[]).await;
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    let incidents = public_json(&app, "/api/v2/incidents.json").await;
    assert_eq!(incidents["incidents"][0]["name"], PROBE);
    assert_eq!(
        incidents["incidents"][0]["incident_updates"][0]["body"],
        PROBE
    );
}

#[tokio::test]
async fn public_routes_answer_from_memory_when_the_database_is_gone() {
    let app = app().await;
    let number = declare(&app, "Checkout errors", "P2").await;
    publish(
        &app,
        number,
        json!({ "body": "Investigating.", "components": { "api": "major_outage" } }),
    )
    .await;

    app.store.close().await;

    let summary = public_json(&app, "/api/v2/summary.json").await;
    assert_eq!(summary["incidents"][0]["name"], "Checkout errors");
    assert_eq!(summary["status"]["indicator"], "critical");
    let (status, _, _) = get(&app, "/", &[]).await;
    assert_eq!(status, 200);
    let write = app
        .api_post(
            "/api/v1/statuspage/components/db",
            json!({ "status": "major_outage" }),
        )
        .await;
    assert_eq!(write.status(), 503, "the database really is gone");
}
