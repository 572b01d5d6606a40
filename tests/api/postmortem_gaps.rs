//! Postmortem gaps closed for issue #6: Impact minutes from the status page, the
//! `[postmortem]` zone and due time, and On-call from the schedule.

use jiff::Timestamp;
use serde_json::{Value, json};

use dutybell::domain::incident::Source;
use dutybell::engine::postmortems;
use dutybell::store::incidents::IncidentRef;

use crate::helpers::{Setup, TestApp, spawn_app_with};
use crate::statuspage::PAGE;

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

async fn post_status(app: &TestApp, path: &str, body: Value, want: u16) -> Value {
    let response = app.api_post(path, body).await;
    let status = response.status();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(status, want, "POST {path}: {answer}");
    answer
}

async fn move_to(app: &TestApp, at: &str) {
    app.clock.set(ts(at));
    app.run_engine_once().await;
}

/// The text of section `heading` in the Markdown document.
fn section<'a>(markdown: &'a str, heading: &str) -> &'a str {
    let start = markdown.find(&format!("## {heading}\n\n")).unwrap() + heading.len() + 5;
    let rest = &markdown[start..];
    rest[..rest.find("\n## ").unwrap_or(rest.len())].trim_end()
}

/// A P1 on service `web` declared 20:00 UTC Thursday (22:00 Madrid: the `business`
/// schedule has the lead on call, nobody is paged), published on the status page 20:05
/// with `api` down, publicly resolved 20:35, resolved 20:40.
async fn published_p1(instance: &str) -> TestApp {
    let app = spawn_app_with(Setup {
        clock: dutybell::clock::Clock::manual(ts("2025-06-12T20:00:00Z")),
        instance: instance.into(),
        statuspage: PAGE.into(),
        ..Setup::default()
    })
    .await;
    move_to(&app, "2025-06-12T20:00:00Z").await;
    post_status(
        &app,
        "/api/v1/incidents",
        json!({"title": "Checkout errors", "severity": "p1", "services": ["web"],
               "page": false, "by": "lead"}),
        200,
    )
    .await;
    move_to(&app, "2025-06-12T20:05:00Z").await;
    post_status(
        &app,
        "/api/v1/incidents/1/publish",
        json!({"body": "Checkouts fail.", "components": {"api": "major_outage"}}),
        201,
    )
    .await;
    move_to(&app, "2025-06-12T20:35:00Z").await;
    post_status(
        &app,
        "/api/v1/incidents/1/public-updates",
        json!({"status": "resolved", "body": "Fixed."}),
        201,
    )
    .await;
    move_to(&app, "2025-06-12T20:40:00Z").await;
    post_status(
        &app,
        "/api/v1/incidents/1/status",
        json!({"status": "resolved", "text": "", "by": "lead"}),
        200,
    )
    .await;
    app.run_engine_once().await;
    app
}

#[tokio::test]
async fn the_draft_takes_impact_minutes_from_the_status_page_and_on_call_from_the_schedule() {
    let app = published_p1("").await;

    let answer = app.api_get("/api/v1/incidents/1/postmortem").await;
    let markdown = answer["markdown"].as_str().unwrap();
    assert_eq!(
        section(markdown, "Impact"),
        "30 customer-visible minutes on the status page."
    );
    assert!(
        markdown.contains("\n- **On-call:** lead name\n"),
        "{markdown}"
    );
    assert!(
        markdown.contains("\n- **Duration:** 20:00 to 20:40 UTC (40 minutes)\n"),
        "{markdown}"
    );
    assert!(
        section(markdown, "Timeline").starts_with("All times UTC.\n"),
        "{markdown}"
    );
    assert_eq!(answer["postmortem"]["due_at"], "2025-06-14T20:40:00Z");
}

#[tokio::test]
async fn the_postmortem_zone_and_due_time_come_from_dutybell_toml() {
    let app =
        published_p1("[postmortem]\ntime_zone = \"America/Los_Angeles\"\ndue_after = \"72h\"\n")
            .await;

    let answer = app.api_get("/api/v1/incidents/1/postmortem").await;
    let markdown = answer["markdown"].as_str().unwrap();
    assert!(
        markdown.contains("\n- **Duration:** 13:00 to 13:40 America/Los_Angeles (40 minutes)\n"),
        "{markdown}"
    );
    assert!(
        section(markdown, "Timeline")
            .starts_with("All times America/Los_Angeles (UTC\u{2212}07:00).\n\n- 13:00 — "),
        "{markdown}"
    );
    assert_eq!(answer["postmortem"]["due_at"], "2025-06-15T20:40:00Z");
}

#[tokio::test]
async fn slack_action_adds_an_action_item_owned_by_the_caller_and_replies_with_its_id() {
    let (app, fake) = crate::slack_app::slack_app().await;
    crate::slack_app::command(&app, &fake, "U0SAM", "p1 Checkout down").await;

    let reply = crate::slack_app::command(
        &app,
        &fake,
        "U0KIM",
        "action #1 Add an alert on queue depth",
    )
    .await;

    let listed = app
        .api_get("/api/v1/incidents/1/postmortem/action-items")
        .await;
    let items = listed["action_items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{listed}");
    let item = &items[0];
    assert_eq!(item["title"], "Add an alert on queue depth");
    assert_eq!(item["owner"], "kim");
    assert_eq!(item["created_by"], "kim");
    assert_eq!(item["status"], "open");
    let id = item["id"].as_str().unwrap();
    assert_eq!(reply, format!("#1: action item {id} added, owner you."));
}

#[tokio::test]
async fn importing_a_file_without_an_item_row_marks_that_item_wont_do() {
    let app = published_p1("").await;
    for title in ["Alert on checkout errors", "Canary the payment config"] {
        post_status(
            &app,
            "/api/v1/incidents/1/postmortem/action-items",
            json!({"title": title, "owner": "ana", "due": "2025-06-20", "type": "prevent",
                   "by": "lead"}),
            200,
        )
        .await;
    }
    let dir = tempfile::tempdir().unwrap();
    let by = IncidentRef::Number(1);
    let path = postmortems::export(&app.store, &by, dir.path(), false)
        .await
        .unwrap();
    let exported = std::fs::read_to_string(&path).unwrap();
    let row = "| Canary the payment config | ana | 2025-06-20 | prevent | open |\n";
    assert!(exported.contains(row), "{exported}");

    let imported = postmortems::import(
        &app.store,
        &app.engine.config,
        &exported.replace(row, ""),
        "lead",
        Source::Cli,
        app.clock.now(),
    )
    .await
    .unwrap();

    let items: Vec<(&str, &str, Option<&str>)> = imported
        .items
        .iter()
        .map(|i| (i.title.as_str(), i.status.as_str(), i.reason.as_deref()))
        .collect();
    assert_eq!(
        items,
        [
            ("Alert on checkout errors", "open", None),
            (
                "Canary the payment config",
                "wont_do",
                Some("removed from the postmortem file")
            ),
        ]
    );
    assert!(imported.items[1].completed_at.is_some());
    assert_eq!(imported.items[1].next_reminder_at, None);
}
