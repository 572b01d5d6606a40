//! Escalation on a driven clock: primary now, secondary after 15 min, lead after 30, and an
//! ack stops everything.

use crate::helpers::{HttpFake, STORM_KEY, Setup, am_body, header, spawn_app, spawn_app_with, t0};

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
    // Only ben's webhook fails: the secondary and the lead are paged while ben's retries
    // are still waiting (at 15 and 30 minutes) and must not use up the failures.
    *app.hooks.fail_only.lock().unwrap() = Some("ben".into());
    *app.hooks.fail_next.lock().unwrap() = 10;
    let id = app.fire("DiskFull").await["alert_id"].as_i64().unwrap();

    app.run_engine_once().await;
    // Comms spec §3: retries after 10 s, 30 s, 2, 10 and 30 minutes.
    let mut waits = Vec::new();
    for wait in [10, 30, 120, 600, 1800] {
        app.clock.advance(jiff::SignedDuration::from_secs(wait - 1));
        app.run_engine_once().await;
        let early = *app.hooks.fail_next.lock().unwrap();
        app.clock.advance(jiff::SignedDuration::from_secs(1));
        app.run_engine_once().await;
        waits.push((early, *app.hooks.fail_next.lock().unwrap()));
    }

    let timeline = app.alert(id).await["timeline"].as_array().unwrap().clone();
    let ben = |kind: &str| {
        timeline
            .iter()
            .filter(|e| e["kind"] == kind && e["detail"]["person"] == "ben")
            .filter(|e| e["detail"]["channel"] == "webhook")
            .count()
    };
    assert_eq!(ben("notification_retry"), 5, "{timeline:#?}");
    assert_eq!(ben("notification_failed"), 1, "{timeline:#?}");
    assert_eq!(
        waits,
        [(9, 8), (8, 7), (7, 6), (6, 5), (5, 4)],
        "each retry comes exactly when the schedule says, not a second earlier"
    );
    assert_eq!(
        app.smtp.recipients()[0],
        "ben@example.com",
        "email still went out"
    );
    assert_eq!(
        *app.hooks.fail_next.lock().unwrap(),
        4,
        "exactly six attempts"
    );
}

#[tokio::test]
async fn a_retry_waits_for_the_receivers_retry_after() {
    let fake = HttpFake::start().await;
    fake.reply(429, &[("retry-after", "45")], "slow down");
    let app = spawn_app_with(Setup {
        contacts: vec![(
            "ben",
            format!(
                r#"{{ kind = "webhook", url = "http://{}/ben-2", secret_env = "HOOK_SECRET" }}"#,
                fake.addr
            ),
        )],
        ..Setup::default()
    })
    .await;
    app.fire("DiskFull").await;

    app.run_engine_once().await;
    app.clock.advance(jiff::SignedDuration::from_secs(44));
    app.run_engine_once().await;
    let before = fake.requests().len();
    app.clock.advance(jiff::SignedDuration::from_secs(1));
    app.run_engine_once().await;

    assert_eq!(before, 1, "not retried after the planned 10 s");
    assert_eq!(
        fake.requests().len(),
        2,
        "retried after the receiver's 45 s"
    );
}

/// A person whose webhook refuses pages (400) and whose second rule, email, waits 10 min.
fn refusing_person(fake: std::net::SocketAddr) -> Setup {
    Setup {
        team: format!(
            "[[person]]\nid = \"fay\"\nemail = \"fay@example.com\"\n\
             contact = [{{ kind = \"webhook\", url = \"http://{fake}/fay\", \
             secret_env = \"HOOK_SECRET\" }}]\n\
             notify = [{{ after = \"0m\", via = \"webhook\" }}, \
             {{ after = \"10m\", via = \"email\" }}]\n"
        ),
        oncall: "[[escalation]]\nid = \"fay\"\nsteps = [{ targets = [\"person:fay\"] }]\n".into(),
        services: "[[service]]\nid = \"fay\"\nescalation = \"fay\"\n\
                   integrations = [{ kind = \"alertmanager\", key_env = \"KEY_STORM\" }]\n"
            .into(),
        ..Setup::default()
    }
}

#[tokio::test]
async fn a_channel_that_fails_for_good_falls_through_to_the_next_rule_at_once() {
    let fake = HttpFake::start().await;
    fake.reply(400, &[], "bad request");
    let app = spawn_app_with(refusing_person(fake.addr)).await;
    let body = am_body("DiskFull", &[("firing", &app.clock.now().to_string())]);
    let url = app.url(&format!("/api/v1/integrations/{STORM_KEY}/alertmanager"));
    let response = app.client.post(url).body(body).send().await.unwrap();
    assert_eq!(response.status(), 202);
    let id = response.json::<serde_json::Value>().await.unwrap()["alert_id"]
        .as_i64()
        .unwrap();

    app.run_engine_once().await;
    app.run_engine_once().await;

    assert_eq!(fake.requests().len(), 1, "a 400 is not retried");
    assert_eq!(
        app.smtp.recipients(),
        ["fay@example.com"],
        "email went out at once, not after its 10 minutes"
    );
    let kinds = app.timeline_kinds(id).await;
    let at = |kind: &str| kinds.iter().position(|k| k == kind).unwrap_or(usize::MAX);
    assert!(
        at("notification_failed") < at("notification_fell_through")
            && at("notification_fell_through") < at("notification_sent"),
        "{kinds:?}"
    );
    let alert = app.alert(id).await;
    let fell = alert["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "notification_fell_through")
        .unwrap()
        .clone();
    assert_eq!(fell["detail"]["failed"], "webhook");
    assert_eq!(fell["detail"]["next"], serde_json::json!(["email"]));
}
