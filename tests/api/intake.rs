//! Intake rules over HTTP: duplicates, members, resolve, storage trouble.

use crate::helpers::{am_body, spawn_app};

#[tokio::test]
async fn a_duplicate_delivery_is_a_no_op_in_01() {
    let app = spawn_app().await;
    let body = am_body("QueueBacklog", &[("firing", "2025-06-12T02:59:00Z")]);
    let first: serde_json::Value = app.post_alertmanager(&body).await.json().await.unwrap();
    app.run_engine_once().await;

    let again = app.post_alertmanager(&body).await;
    assert_eq!(again.status(), 202);
    let again: serde_json::Value = again.json().await.unwrap();
    let other_url = body.replace("alertmanager.example", "alertmanager-2.example");
    let third: serde_json::Value = app
        .post_alertmanager(&other_url)
        .await
        .json()
        .await
        .unwrap();
    app.run_engine_once().await;

    assert_eq!(first["duplicate"], false);
    assert_eq!(again["duplicate"], true);
    assert_eq!(third["duplicate"], true);
    assert_eq!(again["alert_id"], first["alert_id"]);
    assert_eq!(app.open_alerts().await.len(), 1);
    assert_eq!(app.hooks.recipients(), ["ben"], "one page");
}

#[tokio::test]
async fn a_group_alert_stays_open_until_every_member_resolves_g1() {
    let app = spawn_app().await;
    let start = "2025-06-12T02:59:00Z";
    let both = am_body("DiskAlmostFull", &[("firing", start), ("firing", start)]);
    let id = app
        .post_alertmanager(&both)
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap()["alert_id"]
        .as_i64()
        .unwrap();

    let one_resolved = am_body("DiskAlmostFull", &[("resolved", start), ("firing", start)]);
    assert_eq!(app.post_alertmanager(&one_resolved).await.status(), 202);
    assert_eq!(app.alert(id).await["alert"]["state"], "triggered");

    // endsAt of a resolved member is its startsAt in `am_body`; both ended at `start`.
    let all_resolved = am_body(
        "DiskAlmostFull",
        &[("resolved", start), ("resolved", start)],
    );
    assert_eq!(app.post_alertmanager(&all_resolved).await.status(), 202);
    let alert = app.alert(id).await;
    assert_eq!(alert["alert"]["state"], "resolved");
    assert_eq!(alert["alert"]["resolved_by"], "api/alertmanager");
    assert_eq!(
        alert["alert"]["resolved_at"], start,
        "resolution time from the payload"
    );
}

#[tokio::test]
async fn a_stale_resolve_does_not_close_a_newer_occurrence_m1() {
    let app = spawn_app().await;
    let newer = am_body("Flappy", &[("firing", "2025-06-12T02:59:00Z")]);
    let id = app
        .post_alertmanager(&newer)
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap()["alert_id"]
        .as_i64()
        .unwrap();

    let stale = am_body("Flappy", &[("resolved", "2025-06-12T02:00:00Z")]);
    assert_eq!(app.post_alertmanager(&stale).await.status(), 202);

    assert_eq!(app.alert(id).await["alert"]["state"], "triggered");
}

#[tokio::test]
async fn a_storage_failure_answers_503_and_the_retry_is_stored_once_in_11() {
    let app = spawn_app().await;
    let body = am_body("DiskFull", &[("firing", "2025-06-12T02:59:00Z")]);

    app.store.set_fail_writes(true);
    let failed = app.post_alertmanager(&body).await;
    assert_eq!(failed.status(), 503);
    assert_eq!(failed.headers()["retry-after"], "5");
    let error: serde_json::Value = failed.json().await.unwrap();
    assert_eq!(error["error"], "unavailable");

    app.store.set_fail_writes(false);
    assert_eq!(app.post_alertmanager(&body).await.status(), 202);
    assert_eq!(app.post_alertmanager(&body).await.status(), 202);

    assert_eq!(app.open_alerts().await.len(), 1);
}

#[tokio::test]
async fn a_new_alert_after_resolve_opens_a_fresh_alert_and_pages_again() {
    let app = spawn_app().await;
    let first = app.fire("DiskFull").await["alert_id"].as_i64().unwrap();
    app.run_engine_once().await;
    app.api_post(
        &format!("/api/v1/alerts/{first}/resolve"),
        serde_json::json!({}),
    )
    .await;

    app.clock.advance(jiff::SignedDuration::from_mins(30));
    let second = app.fire("DiskFull").await["alert_id"].as_i64().unwrap();
    app.run_engine_once().await;

    assert_ne!(first, second);
    assert_eq!(app.hooks.recipients(), ["ben", "ben"]);
    let again = app
        .api_post(
            &format!("/api/v1/alerts/{first}/ack"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(
        again.status(),
        409,
        "a resolved alert never changes (OC-16)"
    );
}
