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

/// A body for group `Flap` whose one member has the given state and times.
fn flap(status: &str, starts: &str, ends: Option<&str>) -> String {
    let body = am_body("Flap", &[(status, starts)]);
    match ends {
        Some(ends) => body.replace(
            &format!("\"endsAt\":\"{starts}\""),
            &format!("\"endsAt\":\"{ends}\""),
        ),
        None => body,
    }
}

async fn post_at(app: &crate::helpers::TestApp, at: &str, body: &str) -> serde_json::Value {
    app.clock.set(at.parse().unwrap());
    let response = app.post_alertmanager(body).await;
    assert_eq!(response.status(), 202);
    let answer = response.json().await.unwrap();
    app.run_engine_once().await;
    answer
}

#[tokio::test]
async fn flapping_reopens_without_paging_and_a_late_refire_pages_in_07() {
    let app = spawn_app().await;
    let first = post_at(
        &app,
        "2025-06-12T03:00:00Z",
        &flap("firing", "2025-06-12T03:00:00Z", None),
    )
    .await["alert_id"]
        .as_i64()
        .unwrap();

    let steps = [
        ("03:02", "resolved", "03:00", Some("03:02")),
        ("03:04", "firing", "03:04", None),
        ("03:06", "resolved", "03:04", Some("03:06")),
        ("03:06", "resolved", "03:04", Some("03:06")),
        ("03:07", "resolved", "03:04", Some("03:06")),
        ("03:08", "firing", "03:08", None),
        ("03:10", "resolved", "03:08", Some("03:10")),
    ];
    let t = |hm: &str| format!("2025-06-12T{hm}:00Z");
    for (at, status, starts, ends) in steps {
        let ends = ends.map(t);
        post_at(&app, &t(at), &flap(status, &t(starts), ends.as_deref())).await;
    }

    let alert = app.alert(first).await["alert"].clone();
    assert_eq!(alert["state"], "resolved");
    assert_eq!(alert["reopen_count"], 2);
    assert_eq!(
        app.hooks.recipients(),
        ["ben"],
        "no second page while flapping"
    );

    let late = post_at(&app, &t("03:40"), &flap("firing", &t("03:40"), None)).await;
    assert_ne!(
        late["alert_id"].as_i64().unwrap(),
        first,
        "past the window: a new alert"
    );
    assert_eq!(app.hooks.recipients(), ["ben", "ben"]);
}

#[tokio::test]
async fn resolution_time_comes_from_the_payload_and_a_quick_refire_reopens_in_10() {
    let app = spawn_app().await;
    let t = |hms: &str| format!("2025-06-12T{hms}Z");
    let id = post_at(&app, &t("02:00:00"), &flap("firing", &t("02:00:00"), None)).await["alert_id"]
        .as_i64()
        .unwrap();

    post_at(
        &app,
        &t("02:08:00"),
        &flap("resolved", &t("02:00:00"), Some(&t("02:05:30"))),
    )
    .await;
    let resolved = app.alert(id).await;
    assert_eq!(
        resolved["alert"]["resolved_at"],
        t("02:05:30"),
        "MTTR uses the payload end"
    );
    post_at(&app, &t("02:09:00"), &flap("firing", &t("02:09:00"), None)).await;

    let alert = app.alert(id).await;
    assert_eq!(alert["alert"]["state"], "triggered", "reopened (F1)");
    assert_eq!(alert["alert"]["reopen_count"], 1);
    assert_eq!(
        app.hooks.recipients(),
        ["ben"],
        "a reopen pages no one (F2)"
    );
    let kinds = app.timeline_kinds(id).await;
    assert!(kinds.contains(&"reopened".to_string()), "{kinds:?}");

    // Paused at 02:08 with 7 of its 15 minutes left, step 1 fires at 02:16, not 02:15.
    app.clock.set(t("02:15:30").parse().unwrap());
    app.run_engine_once().await;
    assert_eq!(app.hooks.recipients(), ["ben"]);
    app.clock.set(t("02:16:00").parse().unwrap());
    app.run_engine_once().await;
    assert_eq!(
        app.hooks.recipients(),
        ["ben", "dara"],
        "escalation resumes where it was"
    );
}

#[tokio::test]
async fn a_resolve_before_firing_then_a_stale_firing_waits_for_the_grace_in_02() {
    let t = |hm: &str| format!("2025-06-12T{hm}:00Z");
    let resolved = flap("resolved", &t("03:00"), Some(&t("03:07")));
    let stale_firing = flap("firing", &t("03:00"), None);

    // (a) a resolve for the occurrence arrives within the grace: nothing ever.
    let app = spawn_app().await;
    post_at(&app, &t("03:08"), &resolved).await;
    post_at(&app, &t("03:09"), &stale_firing).await;
    post_at(&app, &t("03:11"), &resolved).await; // the same snapshot again, as HA resends

    app.clock.set(t("03:30").parse().unwrap());
    app.run_engine_once().await;
    assert!(app.open_alerts().await.is_empty());
    assert!(app.hooks.recipients().is_empty());

    // (b) none arrives: after the 10-minute grace the engine opens an alert and pages.
    let app = spawn_app().await;
    post_at(&app, &t("03:08"), &resolved).await;
    post_at(&app, &t("03:09"), &stale_firing).await;
    assert!(app.open_alerts().await.is_empty(), "nothing yet");
    app.clock.set(t("03:19").parse().unwrap());
    app.run_engine_once().await;
    assert_eq!(app.open_alerts().await.len(), 1);
    assert_eq!(app.hooks.recipients(), ["ben"]);

    // (c) a firing entry with a newer startsAt opens an alert at once.
    let app = spawn_app().await;
    post_at(&app, &t("03:08"), &resolved).await;
    post_at(&app, &t("03:09"), &flap("firing", &t("03:09"), None)).await;
    assert_eq!(app.open_alerts().await.len(), 1);
    assert_eq!(app.hooks.recipients(), ["ben"]);
}

#[tokio::test]
async fn concurrent_deliveries_are_all_stored() {
    let app = spawn_app().await;

    let mut posts = tokio::task::JoinSet::new();
    for i in 0..40 {
        let request = app
            .client
            .post(app.intake_url())
            .bearer_auth(crate::helpers::TOKEN)
            .body(am_body(
                &format!("Burst{i}"),
                &[("firing", "2025-06-12T02:59:00Z")],
            ));
        posts.spawn(async move { request.send().await.unwrap().status().as_u16() });
    }
    let statuses = posts.join_all().await;

    assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");
    assert_eq!(app.open_alerts().await.len(), 40);
}

#[tokio::test]
async fn a_source_still_firing_after_a_person_resolves_pages_again_after_the_grace_oc_16() {
    let app = spawn_app().await;
    let body = am_body("StillBroken", &[("firing", "2025-06-12T02:59:00Z")]);
    let first = app
        .post_alertmanager(&body)
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap()["alert_id"]
        .as_i64()
        .unwrap();
    app.run_engine_once().await;
    app.api_post(
        &format!("/api/v1/alerts/{first}/resolve"),
        serde_json::json!({"by": "ben"}),
    )
    .await;

    // Alertmanager keeps sending the same firing snapshot: it must not be skipped as a
    // duplicate; after the re-fire grace it opens a new alert, which pages.
    app.clock.advance(jiff::SignedDuration::from_mins(1));
    let again = app
        .post_alertmanager(&body)
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(again["duplicate"], false);
    app.run_engine_once().await;
    assert!(app.open_alerts().await.is_empty(), "not before the grace");
    app.clock.advance(jiff::SignedDuration::from_mins(10));
    app.run_engine_once().await;

    let open = app.open_alerts().await;
    assert_eq!(open.len(), 1);
    assert_ne!(
        open[0]["id"].as_i64().unwrap(),
        first,
        "the resolved alert stays resolved"
    );
    assert_eq!(app.alert(first).await["alert"]["state"], "resolved");
    assert_eq!(app.hooks.recipients(), ["ben", "ben"]);
}
