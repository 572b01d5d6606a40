//! Direct pages (on-call spec §1.4): `POST /api/v1/page` and `dutybell page` open an alert
//! on the built-in `direct` service that pages the chosen people at once through their
//! own notification rules, with one step and no repeat; or page a team: a service's
//! on-call (an alert on that service, escalating with its policy) or whoever a schedule
//! names when the page fires.

use std::process::Command;

use dutybell::clock::Clock;
use jiff::Timestamp;
use serde_json::json;

use crate::helpers::{API_TOKEN, Setup, spawn_app, spawn_app_with, t0, test_env};
use crate::oncall::dutybell;

#[tokio::test]
async fn the_api_pages_the_chosen_people_at_once() {
    let app = spawn_app().await;

    let response = app
        .api_post(
            "/api/v1/page",
            json!({ "people": ["ana", "chen"], "summary": "db primary down", "by": "ben" }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let opened: serde_json::Value = response.json().await.unwrap();
    let id = opened["alert_id"].as_i64().unwrap();
    let pass = app.run_engine_once().await;

    assert_eq!(pass.escalations, 1);
    let mut paged = app.hooks.recipients();
    paged.sort();
    assert_eq!(paged, ["ana", "chen"]);
    let mut mailed = app.smtp.recipients();
    mailed.sort();
    assert_eq!(mailed, ["ana@example.com", "chen@example.com"]);
    let hook = &app.hooks.hooks()[0];
    assert!(hook.signature_ok);
    assert_eq!(hook.body["event"], "alert.triggered");
    assert_eq!(hook.body["data"]["alert"]["id"], id);
    assert_eq!(hook.body["data"]["alert"]["summary"], "db primary down");
    assert_eq!(hook.body["data"]["alert"]["service"], "direct");

    let alert = app.alert(id).await;
    assert_eq!(alert["alert"]["service_id"], "direct");
    assert_eq!(alert["alert"]["state"], "triggered");
    let created = &alert["timeline"][0];
    assert_eq!(created["kind"], "created");
    assert_eq!(created["actor"], "ben");
    assert_eq!(created["at"], t0().to_string());
    assert_eq!(
        alert["timeline"][1]["detail"],
        json!({ "step": 0, "loop": 0, "people": ["ana", "chen"] })
    );
}

#[tokio::test]
async fn a_direct_page_has_one_step_and_no_repeat_and_an_ack_ends_it() {
    let app = spawn_app().await;
    let response = app
        .api_post(
            "/api/v1/page",
            json!({ "people": ["dara"], "summary": "help" }),
        )
        .await;
    let id = response.json::<serde_json::Value>().await.unwrap()["alert_id"]
        .as_i64()
        .unwrap();
    app.run_engine_once().await;

    app.advance_and_run(15).await;
    app.advance_and_run(15).await;

    assert_eq!(app.hooks.recipients(), ["dara"], "nobody else, never again");
    let kinds = app.timeline_kinds(id).await;
    assert_eq!(kinds.last().unwrap(), "escalation_exhausted");
    assert_eq!(app.alert(id).await["timeline"][0]["actor"], "api");
    let ack = app
        .api_post(&format!("/api/v1/alerts/{id}/ack"), json!({ "by": "dara" }))
        .await;
    assert_eq!(ack.status(), 200);
}

/// The `people` of each `escalated` entry on an alert's timeline, in order.
async fn escalations(app: &crate::helpers::TestApp, id: i64) -> Vec<serde_json::Value> {
    let alert = app.alert(id).await;
    let timeline = alert["timeline"].as_array().unwrap().clone();
    let escalated = timeline.into_iter().filter(|e| e["kind"] == "escalated");
    escalated.map(|e| e["detail"].clone()).collect()
}

#[tokio::test]
async fn a_service_page_reaches_the_primary_and_escalates_to_the_secondary_after_15_min() {
    let app = spawn_app().await;

    let response = app
        .api_post(
            "/api/v1/page",
            json!({ "service": "api", "summary": "checkout errors", "by": "chen" }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let opened: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        opened,
        json!({ "alert_id": 1, "service": "api", "policy": "default" })
    );
    app.run_engine_once().await;
    let first = app.hooks.recipients();
    let early = app.advance_and_run(14).await;
    let before_step = app.hooks.recipients();
    app.advance_and_run(1).await;

    assert_eq!(first, ["ben"], "the api policy's first step: the primary");
    assert_eq!(early.escalations, 0);
    assert_eq!(before_step, ["ben"]);
    assert_eq!(
        app.hooks.recipients(),
        ["ben", "dara"],
        "then the secondary"
    );
    let hook = &app.hooks.hooks()[1];
    assert_eq!(hook.body["event"], "alert.escalated");
    assert_eq!(hook.body["data"]["alert"]["service"], "Public API");
    assert_eq!(hook.body["data"]["alert"]["summary"], "checkout errors");
    let alert = app.alert(1).await;
    assert_eq!(alert["alert"]["service_id"], "api");
    assert_eq!(alert["alert"]["state"], "triggered");
    assert_eq!(alert["timeline"][0]["kind"], "created");
    assert_eq!(alert["timeline"][0]["actor"], "chen");
    assert_eq!(
        alert["timeline"][0]["detail"]["direct"],
        json!({ "service": "api", "via": "api" })
    );
    assert_eq!(
        escalations(&app, 1).await,
        [
            json!({ "step": 0, "loop": 0, "people": ["ben"] }),
            json!({ "step": 1, "loop": 0, "people": ["dara"] }),
        ]
    );
}

#[tokio::test]
async fn an_acked_service_page_stops_escalating() {
    let app = spawn_app().await;
    app.api_post(
        "/api/v1/page",
        json!({ "service": "api", "summary": "checkout errors" }),
    )
    .await;
    app.run_engine_once().await;

    let ack = app
        .api_post("/api/v1/alerts/1/ack", json!({ "by": "ben" }))
        .await;
    app.advance_and_run(30).await;

    assert_eq!(ack.status(), 200);
    assert_eq!(app.hooks.recipients(), ["ben"]);
}

#[tokio::test]
async fn a_schedule_page_reaches_whoever_the_schedule_names_then_nobody_else() {
    let app = spawn_app().await;

    let response = app
        .api_post(
            "/api/v1/page",
            json!({ "schedule": "business", "summary": "need a second pair of eyes" }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let opened: serde_json::Value = response.json().await.unwrap();
    app.run_engine_once().await;
    app.advance_and_run(15).await;
    app.advance_and_run(15).await;

    assert_eq!(
        opened,
        json!({ "alert_id": 1, "service": "direct", "schedule": "business" })
    );
    assert_eq!(
        app.hooks.recipients(),
        ["lead"],
        "Thu 05:00 Madrid: the night rule names the lead; nobody after"
    );
    let alert = app.alert(1).await;
    assert_eq!(alert["alert"]["service_id"], "direct");
    assert_eq!(
        alert["timeline"][0]["detail"]["direct"],
        json!({ "schedule": "business", "via": "api" })
    );
    assert_eq!(
        escalations(&app, 1).await,
        [json!({ "step": 0, "loop": 0, "people": ["lead"] })]
    );
    let kinds = app.timeline_kinds(1).await;
    assert_eq!(kinds.last().unwrap(), "escalation_exhausted");
}

#[tokio::test]
async fn a_schedule_page_resolves_the_schedule_when_it_fires_with_overrides() {
    // 08:59 Madrid: the lead is on call; from 09:00 the primary rotation (ben), whom an
    // override replaces with chen for that hour.
    let opened_at: Timestamp = "2025-06-12T06:59:00Z".parse().unwrap();
    let app = spawn_app_with(Setup {
        clock: Clock::manual(opened_at),
        ..Setup::default()
    })
    .await;
    let cover = json!({ "remove": "ben", "add": "chen", "start": "2025-06-12T09:00",
                        "end": "2025-06-12T10:00", "by": "ben" });
    let covered = app
        .api_post("/api/v1/schedules/business/overrides", cover)
        .await;
    assert!(covered.status().is_success(), "{}", covered.status());

    let response = app
        .api_post(
            "/api/v1/page",
            json!({ "schedule": "business", "summary": "deploy stuck" }),
        )
        .await;
    assert_eq!(response.status(), 200);
    app.advance_and_run(2).await;

    assert_eq!(app.hooks.recipients(), ["chen"]);
    assert_eq!(
        escalations(&app, 1).await,
        [json!({ "step": 0, "loop": 0, "people": ["chen"], "late_seconds": 120 })],
        "resolved at 09:01, when it fired, not at 08:59 when it was opened"
    );
}

#[tokio::test]
async fn bad_direct_pages_are_refused() {
    let app = spawn_app().await;

    let only_one = "page people, a service or a schedule: only one of them";
    let cases = [
        (
            json!({ "people": ["zed"], "summary": "x" }),
            "people",
            "no person \"zed\" in team.toml",
        ),
        (
            json!({ "people": [], "summary": "x" }),
            "people",
            "name people, a service or a schedule to page",
        ),
        (
            json!({ "summary": "x" }),
            "people",
            "name people, a service or a schedule to page",
        ),
        (
            json!({ "people": ["ana"], "summary": "  " }),
            "summary",
            "the summary must not be empty",
        ),
        (
            json!({ "people": ["ana"], "summary": "x", "by": "zed" }),
            "by",
            "no person \"zed\"",
        ),
        (
            json!({ "people": ["ana"], "service": "api", "summary": "x" }),
            "service",
            only_one,
        ),
        (
            json!({ "service": "api", "schedule": "business", "summary": "x" }),
            "schedule",
            only_one,
        ),
        (
            json!({ "people": ["ana"], "schedule": "business", "summary": "x" }),
            "schedule",
            only_one,
        ),
        (
            json!({ "service": "billing", "summary": "x" }),
            "service",
            "no service \"billing\" in services.toml",
        ),
        (
            json!({ "service": "direct", "summary": "x" }),
            "service",
            "no service \"direct\" in services.toml",
        ),
        (
            json!({ "schedule": "nights", "summary": "x" }),
            "schedule",
            "no schedule \"nights\" in oncall.toml",
        ),
        (
            json!({ "schedule": "business", "summary": "" }),
            "summary",
            "the summary must not be empty",
        ),
    ];
    for (body, field, message) in cases {
        let response = app.api_post("/api/v1/page", body.clone()).await;
        assert_eq!(response.status(), 400, "{body}");
        let error: serde_json::Value = response.json().await.unwrap();
        let expected = json!({ "error": "invalid_payload", "field": field, "message": message });
        assert_eq!(error, expected, "{body}");
    }
    let malformed = [
        json!({ "service": "api" }),
        json!({ "team": "api", "summary": "x" }),
        json!({ "service": ["api"], "summary": "x" }),
    ];
    for body in malformed {
        let response = app.api_post("/api/v1/page", body.clone()).await;
        assert_eq!(response.status(), 400, "{body}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error["field"], "body", "{body}: {error}");
    }
    let anonymous = app
        .client
        .post(app.url("/api/v1/page"))
        .json(&json!({ "people": ["ana"], "summary": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let wrong = app
        .client
        .post(app.url("/api/v1/page"))
        .bearer_auth(format!("{API_TOKEN}x"))
        .json(&json!({ "people": ["ana"], "summary": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    app.run_engine_once().await;
    assert!(app.hooks.recipients().is_empty());
    assert!(app.open_alerts().await.is_empty());
}

#[tokio::test]
async fn the_cli_opens_a_direct_page_that_the_server_delivers() {
    let app = spawn_app().await;
    let dir = app.config_dir().to_path_buf();

    let out = tokio::task::spawn_blocking(move || {
        dutybell(
            &dir,
            t0(),
            &[
                "page",
                "ana",
                "lead",
                "--summary",
                "cert expires today",
                "--as",
                "ben",
            ],
        )
    })
    .await
    .unwrap();
    let pass = app.run_engine_once().await;

    assert_eq!(
        out.trim(),
        "A-1 paging ana name (ana), lead name (lead) (direct page by ben)"
    );
    assert_eq!(pass.escalations, 1);
    let mut paged = app.hooks.recipients();
    paged.sort();
    assert_eq!(paged, ["ana", "lead"]);
    let alert = app.alert(1).await;
    assert_eq!(alert["alert"]["summary"], "cert expires today");
    assert_eq!(alert["alert"]["service_id"], "direct");
    assert_eq!(alert["timeline"][0]["actor"], "ben");
}

#[tokio::test]
async fn the_cli_refuses_unknown_people_and_opens_nothing() {
    let app = spawn_app().await;
    let dir = app.config_dir().to_path_buf();

    let output = tokio::task::spawn_blocking(move || {
        let clock = dir.join("clock");
        std::fs::write(&clock, t0().to_string()).unwrap();
        Command::new(env!("CARGO_BIN_EXE_dutybell"))
            .arg("--config")
            .arg(&dir)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .args(["page", "ana", "zed", "--summary", "x"])
            .envs(test_env())
            .env("DUTYBELL_CLOCK_FILE", &clock)
            .env("DUTYBELL_LOG", "warn")
            .output()
            .unwrap()
    })
    .await
    .unwrap();

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no person \"zed\""), "{stderr}");
    assert!(app.open_alerts().await.is_empty());
}

#[tokio::test]
async fn the_cli_pages_a_service_or_a_schedule() {
    let app = spawn_app().await;
    let dir = app.config_dir().to_path_buf();

    let outs = tokio::task::spawn_blocking(move || {
        let service = [
            "page",
            "--service",
            "api",
            "--summary",
            "api down",
            "--as",
            "ana",
        ];
        let schedule = ["page", "--schedule", "business", "--summary", "help"];
        [
            dutybell(&dir, t0(), &service),
            dutybell(&dir, t0(), &schedule),
        ]
    })
    .await
    .unwrap();
    let pass = app.run_engine_once().await;

    assert_eq!(
        outs[0].trim(),
        "A-1 paging the on-call of service api (policy default) (direct page by ana)"
    );
    assert_eq!(
        outs[1].trim(),
        "A-2 paging whoever is on call for schedule business (direct page by cli)"
    );
    assert_eq!(pass.escalations, 2);
    let mut paged = app.hooks.recipients();
    paged.sort();
    assert_eq!(paged, ["ben", "lead"]);
    assert_eq!(app.alert(1).await["alert"]["service_id"], "api");
    assert_eq!(app.alert(2).await["alert"]["service_id"], "direct");
}

#[tokio::test]
async fn the_cli_refuses_people_together_with_a_team() {
    let app = spawn_app().await;
    let dir = app.config_dir().to_path_buf();

    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_dutybell"))
            .arg("--config")
            .arg(&dir)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .args(["page", "ana", "--service", "api", "--summary", "x"])
            .envs(test_env())
            .env("DUTYBELL_LOG", "warn")
            .output()
            .unwrap()
    })
    .await
    .unwrap();

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot be used with"), "{stderr}");
    assert!(app.open_alerts().await.is_empty());
}
