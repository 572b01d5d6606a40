//! Escalation on a driven clock: primary now, secondary after 15 min, lead after 30, and an
//! ack stops everything.

use crate::helpers::{header, spawn_app, t0};

#[tokio::test]
async fn a_new_alert_pages_the_primary_by_email_and_webhook_at_once() {
    let app = spawn_app().await;

    let accepted = app.fire("DiskFull").await;
    let pass = app.run_engine_once().await;

    assert_eq!(pass.escalations, 1);
    assert_eq!(app.hooks.recipients(), ["ben"]);
    assert_eq!(app.smtp.recipients(), ["ben@example.com"]);
    let hook = &app.hooks.hooks()[0];
    assert!(hook.signature_ok, "webhook signature must verify");
    assert_eq!(hook.body["event"], "alert.triggered");
    assert_eq!(header(&hook.headers, "dutybell-event"), "alert.triggered");
    assert_eq!(
        header(&hook.headers, "dutybell-delivery"),
        hook.body["id"].as_str().unwrap()
    );
    assert_eq!(
        header(&hook.headers, "dutybell-timestamp"),
        t0().as_second().to_string()
    );
    let alert = &hook.body["data"]["alert"];
    assert_eq!(alert["id"], accepted["alert_id"]);
    assert_eq!(alert["summary"], "DiskFull on host-0");
    assert_eq!(alert["service"], "Public API");
    assert_eq!(alert["runbook_url"], "https://runbooks.example.com/api");
    let actions = &hook.body["data"]["actions"];
    assert!(actions["acknowledge"].as_str().unwrap().contains("/a/"));
    assert!(actions["resolve"].as_str().unwrap().contains("/a/"));

    let mail = &app.smtp.mails()[0].data;
    assert!(mail.contains("Subject: [dutybell] FIRING critical Public API: DiskFull on host-0"));
    assert!(mail.contains("Runbook:     https://runbooks.example.com/api"));
    assert!(mail.contains("Acknowledge: http://"), "{mail}");
    assert!(mail.contains("Auto-Submitted: auto-generated"));
}

#[tokio::test]
async fn unacked_alert_pages_secondary_at_15_minutes_and_lead_at_30() {
    let app = spawn_app().await;
    let id = app.fire("DiskFull").await["alert_id"].as_i64().unwrap();
    app.run_engine_once().await;

    app.advance_and_run(14).await;
    assert_eq!(
        app.hooks.recipients(),
        ["ben"],
        "nothing before the 15 minutes are up"
    );

    app.advance_and_run(1).await;
    assert_eq!(app.hooks.recipients(), ["ben", "dara"]);

    app.advance_and_run(15).await;
    assert_eq!(app.hooks.recipients(), ["ben", "dara", "lead"]);
    assert_eq!(
        app.smtp.recipients(),
        ["ben@example.com", "dara@example.com", "lead@example.com"]
    );
    let hooks = app.hooks.hooks();
    assert_eq!(hooks[1].body["event"], "alert.escalated");
    assert_eq!(hooks[1].body["occurred_at"], "2025-06-12T03:15:00Z");
    assert_eq!(hooks[2].body["occurred_at"], "2025-06-12T03:30:00Z");

    app.advance_and_run(15).await;
    assert_eq!(
        app.hooks.recipients().len(),
        3,
        "repeat = 0: exhausted after the lead"
    );
    let kinds = app.timeline_kinds(id).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "escalated").count(),
        3,
        "one entry per step firing: {kinds:?}"
    );
    assert_eq!(kinds.last().unwrap(), "escalation_exhausted");
    assert_eq!(
        app.alert(id).await["alert"]["state"],
        "triggered",
        "stays triggered (D7)"
    );
}

#[tokio::test]
async fn ack_at_minute_10_prevents_secondary_and_lead() {
    let app = spawn_app().await;
    let id = app.fire("DiskFull").await["alert_id"].as_i64().unwrap();
    app.run_engine_once().await;

    app.clock.advance(jiff::SignedDuration::from_mins(10));
    let response = app
        .api_post(
            &format!("/api/v1/alerts/{id}/ack"),
            serde_json::json!({"by": "ben"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    for _ in 0..6 {
        app.advance_and_run(10).await;
    }

    assert_eq!(app.hooks.recipients(), ["ben"]);
    assert_eq!(app.smtp.recipients(), ["ben@example.com"]);
    let alert = app.alert(id).await;
    assert_eq!(alert["alert"]["state"], "acknowledged");
    assert_eq!(alert["alert"]["acked_by"], "ben");
    assert_eq!(alert["alert"]["acked_at"], "2025-06-12T03:10:00Z");
    assert!(alert["alert"]["next_escalation_at"].is_null());
}

#[tokio::test]
async fn the_timeline_records_every_step_with_utc_times() {
    let app = spawn_app().await;
    let id = app.fire("DiskFull").await["alert_id"].as_i64().unwrap();
    app.run_engine_once().await;
    app.advance_and_run(15).await;
    app.api_post(
        &format!("/api/v1/alerts/{id}/ack"),
        serde_json::json!({"by": "dara"}),
    )
    .await;
    app.api_post(
        &format!("/api/v1/alerts/{id}/resolve"),
        serde_json::json!({"by": "dara"}),
    )
    .await;

    let alert = app.alert(id).await;
    let timeline = alert["timeline"].as_array().unwrap();
    let rows: Vec<(String, String)> = timeline
        .iter()
        .map(|e| {
            (
                e["at"].as_str().unwrap().to_string(),
                e["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expect = |at: &str, kind: &str| (at.to_string(), kind.to_string());
    assert_eq!(
        rows,
        [
            expect("2025-06-12T03:00:00Z", "created"),
            expect("2025-06-12T03:00:00Z", "escalated"),
            expect("2025-06-12T03:00:00Z", "notification_sent"),
            expect("2025-06-12T03:00:00Z", "notification_sent"),
            expect("2025-06-12T03:15:00Z", "escalated"),
            expect("2025-06-12T03:15:00Z", "notification_sent"),
            expect("2025-06-12T03:15:00Z", "notification_sent"),
            expect("2025-06-12T03:15:00Z", "acknowledged"),
            expect("2025-06-12T03:15:00Z", "resolved"),
        ]
    );
    assert_eq!(timeline[1]["detail"]["people"], serde_json::json!(["ben"]));
    assert_eq!(timeline[4]["detail"]["step"], 1);
    assert_eq!(timeline[7]["actor"], "dara");
    assert_eq!(alert["alert"]["paged"], serde_json::json!(["ben", "dara"]));
    assert_eq!(t0().to_string(), "2025-06-12T03:00:00Z");
}

#[tokio::test]
async fn a_failing_webhook_is_retried_and_then_recorded_as_failed() {
    let app = spawn_app().await;
    *app.hooks.fail_next.lock().unwrap() = 10;
    let id = app.fire("DiskFull").await["alert_id"].as_i64().unwrap();

    app.run_engine_once().await;
    for _ in 0..3 {
        app.clock.advance(jiff::SignedDuration::from_secs(15));
        app.run_engine_once().await;
    }

    let kinds = app.timeline_kinds(id).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "notification_retry").count(),
        3,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| *k == "notification_failed").count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(
        app.smtp.recipients(),
        ["ben@example.com"],
        "email still went out"
    );
    assert_eq!(
        *app.hooks.fail_next.lock().unwrap(),
        6,
        "exactly four attempts"
    );
}
