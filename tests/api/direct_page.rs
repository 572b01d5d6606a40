//! Direct pages (on-call spec §1.4): `POST /api/v1/page` and `dutybell page` open an alert
//! on the built-in `direct` service that pages the chosen people at once through their
//! own notification rules, with one step and no repeat.

use std::process::Command;

use serde_json::json;

use crate::helpers::{API_TOKEN, spawn_app, t0, test_env};
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

#[tokio::test]
async fn bad_direct_pages_are_refused() {
    let app = spawn_app().await;

    let cases = [
        (json!({ "people": ["zed"], "summary": "x" }), "people"),
        (json!({ "people": [], "summary": "x" }), "people"),
        (json!({ "people": ["ana"], "summary": "  " }), "summary"),
        (
            json!({ "people": ["ana"], "summary": "x", "by": "zed" }),
            "by",
        ),
        (json!({ "summary": "x" }), "body"),
    ];
    for (body, field) in cases {
        let response = app.api_post("/api/v1/page", body.clone()).await;
        assert_eq!(response.status(), 400, "{body}");
        let text = response.text().await.unwrap();
        assert!(text.contains(field), "{body}: {text}");
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
