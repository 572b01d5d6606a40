//! Reports and metrics (comms spec §7, issue #6): history seeded through the real API on a
//! driven clock, then the hygiene, load and response reports and `/metrics` read back with
//! exact rows and sample lines.

use dutybell::cli::report::{Format, Kind, render};
use jiff::SignedDuration;
use serde_json::{Value, json};

use crate::helpers::{API_TOKEN, Setup, TestApp, am_body, spawn_app, spawn_app_with};

/// How a seeded firing ends.
#[derive(Clone, Copy)]
enum End {
    /// Alertmanager resolves it five minutes later; nobody touched it.
    SourceResolves,
    /// Ben acks after a minute, then Alertmanager resolves it: an ack alone is no action.
    AckedThenSourceResolves,
    /// Ben acks after a minute and resolves it by hand a minute later.
    HandledByBen,
}

/// Fires `name` now, lets the engine page, ends it as `end` says, and moves the clock to
/// an hour after the firing (past the reopen window, so the next firing is a new alert).
async fn fire_and_end(app: &TestApp, name: &str, end: End) -> i64 {
    let start = app.clock.now();
    let id = app.fire(name).await["alert_id"].as_i64().unwrap();
    app.run_engine_once().await;
    if matches!(end, End::AckedThenSourceResolves | End::HandledByBen) {
        app.clock.advance(SignedDuration::from_mins(1));
        let acked = app
            .api_post(&format!("/api/v1/alerts/{id}/ack"), json!({"by": "ben"}))
            .await;
        assert_eq!(acked.status(), 200);
    }
    app.clock.set(start + SignedDuration::from_mins(2));
    if matches!(end, End::HandledByBen) {
        let resolved = app
            .api_post(
                &format!("/api/v1/alerts/{id}/resolve"),
                json!({"by": "ben"}),
            )
            .await;
        assert_eq!(resolved.status(), 200);
    } else {
        app.clock.set(start + SignedDuration::from_mins(5));
        let body = am_body(name, &[("resolved", &start.to_string())]);
        assert_eq!(app.post_alertmanager(&body).await.status(), 202);
    }
    app.run_engine_once().await;
    assert_eq!(app.alert(id).await["alert"]["state"], "resolved");
    app.clock.set(start + SignedDuration::from_hours(1));
    id
}

async fn report(app: &TestApp, kind: Kind, format: Format) -> String {
    render(
        &app.store,
        &app.engine.config,
        kind,
        format,
        30,
        app.clock.now(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn hygiene_flags_six_unactioned_firings_but_not_five_nor_six_handled_ones() {
    let app = spawn_app().await;
    for _ in 0..6 {
        fire_and_end(&app, "Noisy", End::SourceResolves).await;
    }
    fire_and_end(&app, "Quiet", End::AckedThenSourceResolves).await;
    for _ in 0..4 {
        fire_and_end(&app, "Quiet", End::SourceResolves).await;
    }
    for _ in 0..6 {
        fire_and_end(&app, "Handled", End::HandledByBen).await;
    }

    // 17 firings an hour apart from t0 (03:00Z): Noisy at 03:00-08:00, Quiet at
    // 09:00-13:00, Handled at 14:00-19:00; the report runs at 20:00.
    let text = report(&app, Kind::Hygiene, Format::Text).await;
    let json: Value =
        serde_json::from_str(&report(&app, Kind::Hygiene, Format::Json).await).unwrap();

    let runbook = "https://runbooks.example.com/api";
    assert_eq!(
        text,
        format!(
            "Alert hygiene, last 30 days (2025-05-13 20:00 to 2025-06-12 20:00 UTC)\n\
             SERVICE  ALERT    FIRES  OPEN  NO ACTION  ACTION RATE  LAST FIRED (UTC)  \
             RUNBOOK                           FLAG\n\
             api      Noisy    6      0     6          0.0%         2025-06-12 08:00  \
             {runbook}  fix or delete it\n\
             api      Quiet    5      0     5          0.0%         2025-06-12 13:00  \
             {runbook}\n\
             api      Handled  6      0     0          100.0%       2025-06-12 19:00  \
             {runbook}\n"
        )
    );
    let row = |alert: &str, no_action: usize, rate: f64, last: &str, flagged: bool| {
        json!({
            "service": "api", "alert": alert, "fires": if alert == "Quiet" { 5 } else { 6 },
            "open": 0, "no_action": no_action, "action_rate": rate, "last_fired": last,
            "runbook": runbook, "flagged": flagged,
        })
    };
    assert_eq!(
        json,
        json!({
            "period": {"start": "2025-05-13T20:00:00.000Z", "end": "2025-06-12T20:00:00.000Z"},
            "rows": [
                row("Noisy", 6, 0.0, "2025-06-12T08:00:00.000Z", true),
                row("Quiet", 5, 0.0, "2025-06-12T13:00:00.000Z", false),
                row("Handled", 0, 100.0, "2025-06-12T19:00:00.000Z", false),
            ],
        })
    );
}

#[tokio::test]
async fn night_pages_are_counted_in_madrid_and_three_in_one_night_owe_rest() {
    // Everyone in the test team lives in Europe/Madrid (UTC+2 in June). Ben, the primary,
    // is paged at 05:00, 05:30 and 06:30 local (night of 11 June) and at 07:30 local (day;
    // in UTC, 05:30, it would have been a fourth night page).
    let app = spawn_app().await;
    for (minute, name) in [(0, "A"), (30, "B"), (90, "C"), (150, "D")] {
        app.clock
            .set(crate::helpers::t0() + SignedDuration::from_mins(minute));
        let id = app.fire(name).await["alert_id"].as_i64().unwrap();
        app.run_engine_once().await;
        app.clock.advance(SignedDuration::from_mins(5));
        let resolved = app
            .api_post(
                &format!("/api/v1/alerts/{id}/resolve"),
                json!({"by": "ben"}),
            )
            .await;
        assert_eq!(resolved.status(), 200);
    }
    app.clock
        .set(crate::helpers::t0() + SignedDuration::from_hours(4));

    let json: Value = serde_json::from_str(&report(&app, Kind::Load, Format::Json).await).unwrap();
    let text = report(&app, Kind::Load, Format::Text).await;

    // Each alert reached ben by email and webhook: 4 pages, 8 notifications.
    assert_eq!(
        json["people"],
        json!([{"person": "ben", "pages": 4, "notifications": 8, "night_pages": 3,
                "owed_rest": ["2025-06-11"]}])
    );
    assert!(
        text.contains("ben     4      8              3            night of 2025-06-11\n"),
        "{text}"
    );
    let ben_shifts: Vec<&Value> = json["shifts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["person"] == "ben" && s["pages"] != 0)
        .collect();
    assert!(!ben_shifts.is_empty(), "{json}");
    for shift in ben_shifts {
        assert_eq!(
            (&shift["pages"], &shift["notifications"]),
            (&json!(4), &json!(8))
        );
    }
}

async fn declare(app: &TestApp, body: Value) -> i64 {
    let response = app.api_post("/api/v1/incidents", body).await;
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["incident"]["number"]
        .as_i64()
        .unwrap()
}

async fn move_to(app: &TestApp, number: i64, status: &str) {
    let body = json!({"status": status, "by": "ana", "text": status});
    let response = app
        .api_post(&format!("/api/v1/incidents/{number}/status"), body)
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn mtta_and_mttr_are_exact_and_leave_out_never_acked_alerts_and_drills() {
    let app = spawn_app().await;
    let t0 = crate::helpers::t0();
    // Acked after 4 and 10 minutes; the third is never acked.
    for (hour, ack_after) in [(0, Some(4)), (1, Some(10)), (2, None)] {
        app.clock.set(t0 + SignedDuration::from_hours(hour));
        let id = app.fire("Slow").await["alert_id"].as_i64().unwrap();
        app.run_engine_once().await;
        if let Some(after) = ack_after {
            app.clock.advance(SignedDuration::from_mins(after));
            app.api_post(&format!("/api/v1/alerts/{id}/ack"), json!({"by": "ben"}))
                .await;
        }
        app.clock.advance(SignedDuration::from_mins(11));
        app.api_post(
            &format!("/api/v1/alerts/{id}/resolve"),
            json!({"by": "ben"}),
        )
        .await;
    }
    // Two P2 incidents on api: mitigated after 20 min and resolved after 50, and resolved
    // after 10; a P2 drill resolved after 1 min is left out.
    app.clock.set(t0 + SignedDuration::from_hours(4));
    let one = declare(
        &app,
        json!({"title": "Slow API", "severity": "p2", "services": ["api"], "by": "ana",
               "page": false}),
    )
    .await;
    app.clock.advance(SignedDuration::from_mins(20));
    move_to(&app, one, "monitoring").await;
    app.clock.advance(SignedDuration::from_mins(30));
    move_to(&app, one, "resolved").await;
    let two = declare(
        &app,
        json!({"title": "Errors", "severity": "p2", "services": ["api"], "by": "ana",
               "page": false}),
    )
    .await;
    app.clock.advance(SignedDuration::from_mins(10));
    move_to(&app, two, "resolved").await;
    let drill = declare(
        &app,
        json!({"title": "Drill", "severity": "p2", "services": ["api"], "by": "ana",
               "page": false, "test": true}),
    )
    .await;
    app.clock.advance(SignedDuration::from_mins(1));
    move_to(&app, drill, "resolved").await;

    let json: Value =
        serde_json::from_str(&report(&app, Kind::Response, Format::Json).await).unwrap();
    let text = report(&app, Kind::Response, Format::Text).await;

    assert_eq!(
        json["mtta"],
        json!([{"service": "api", "severity": "critical", "alerts": 3,
                "ack": {"count": 2, "mean_s": 420, "median_s": 420, "p90_s": 600},
                "never_acked": 1, "never_acked_share": 33.3}])
    );
    assert_eq!(
        json["mttr"],
        json!([{"service": "api", "severity": "P2", "incidents": 2,
                "resolve": {"count": 2, "mean_s": 1800, "median_s": 1800, "p90_s": 3000},
                "detect": {"count": 2, "mean_s": 0, "median_s": 0, "p90_s": 0},
                "mitigate": {"count": 1, "mean_s": 1200, "median_s": 1200, "p90_s": 1200}}])
    );
    assert!(
        text.contains("api      critical  3       2      7m 00s  7m 00s  10m 00s  1 (33.3%)\n"),
        "{text}"
    );
    assert!(
        text.contains("api      P2        2          30m 00s  30m 00s  50m 00s  0s"),
        "{text}"
    );
}

async fn metrics(app: &TestApp) -> String {
    let response = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    response.text().await.unwrap()
}

fn assert_lines(body: &str, lines: &[&str]) {
    for line in lines {
        assert!(
            body.lines().any(|l| l == *line),
            "no line {line:?} in:\n{body}"
        );
    }
}

#[tokio::test]
async fn metrics_need_the_api_token_and_count_pages_failures_acks_and_lag() {
    let app = spawn_app().await;
    let anonymous = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);

    // Ben's webhook answers 503 once: the email goes out, the webhook waits 10 s to retry.
    *app.hooks.fail_next.lock().unwrap() = 1;
    let id = app.fire("DiskFull").await["alert_id"].as_i64().unwrap();
    app.run_engine_once().await;
    app.clock.advance(SignedDuration::from_secs(70));

    let late = metrics(&app).await;

    assert_lines(
        &late,
        &[
            "# TYPE dutybell_engine_lag_seconds gauge",
            "dutybell_engine_lag_seconds 60",
            "dutybell_alerts{service=\"api\",state=\"triggered\"} 1",
            "dutybell_pages_sent_total{channel=\"email\"} 1",
            "dutybell_notification_failures_total{channel=\"webhook\"} 1",
        ],
    );

    app.run_engine_once().await;
    app.api_post(&format!("/api/v1/alerts/{id}/ack"), json!({"by": "ben"}))
        .await;
    let caught_up = metrics(&app).await;

    assert_lines(
        &caught_up,
        &[
            "# HELP dutybell_pages_sent_total Pages delivered, by channel.",
            "# TYPE dutybell_pages_sent_total counter",
            "dutybell_pages_sent_total{channel=\"email\"} 1",
            "dutybell_pages_sent_total{channel=\"webhook\"} 1",
            "dutybell_alerts{service=\"api\",state=\"triggered\"} 0",
            "dutybell_alerts{service=\"api\",state=\"acknowledged\"} 1",
            "dutybell_alerts{service=\"web\",state=\"acknowledged\"} 0",
            "dutybell_alerts_created_total{service=\"api\"} 1",
            "dutybell_acks_total{by=\"human\"} 1",
            "dutybell_acks_total{by=\"source\"} 0",
            "dutybell_notification_failures_total{channel=\"webhook\"} 1",
            "dutybell_engine_lag_seconds 0",
            "dutybell_incidents_open{severity=\"P1\"} 0",
        ],
    );
    assert!(
        !caught_up.contains("dutybell_pages_failed_total{"),
        "{caught_up}"
    );
}

/// Digest mails received so far, as (recipient, decoded body, raw message).
fn digests(app: &TestApp) -> Vec<(String, String, String)> {
    app.smtp
        .mails()
        .into_iter()
        .filter(|m| m.data.contains("Subject: [dutybell] Weekly alert hygiene"))
        .map(|m| {
            let text = crate::statuspage::mail_text(&m.data).replace("\r\n", "\n");
            (m.to.join(","), text, m.data)
        })
        .collect()
}

#[tokio::test]
async fn the_weekly_digest_goes_out_once_at_monday_nine_and_not_again_after_a_restart() {
    let app = spawn_app_with(Setup {
        instance: "[reports]\ndigest_to = [\"lead\"]\ntime_zone = \"Europe/Madrid\"\n".into(),
        ..Setup::default()
    })
    .await;
    for _ in 0..6 {
        fire_and_end(&app, "Noisy", End::SourceResolves).await;
    }
    // Monday 16 June, 09:00 in Madrid (CEST). The slot before t0 (Monday 9 June) was over a
    // day old when the server started, so nothing is sent for it.
    let monday: jiff::Timestamp = "2025-06-16T07:00:00Z".parse().unwrap();
    app.clock.set(monday - SignedDuration::from_secs(1));
    let before = app.run_engine_once().await;
    assert!(digests(&app).is_empty());
    assert_eq!(
        before.next_due,
        Some(monday),
        "the engine wakes for the digest"
    );

    app.clock.set(monday);
    app.run_engine_once().await;

    let sent = digests(&app);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, "lead@example.com");
    let subject = "Subject: [dutybell] Weekly alert hygiene: 1 rule to fix or delete";
    assert!(sent[0].2.contains(subject), "{}", sent[0].2);
    let table = "Alert hygiene, last 30 days (2025-05-17 07:00 to 2025-06-16 07:00 UTC)\n\
        SERVICE  ALERT  FIRES  OPEN  NO ACTION  ACTION RATE  LAST FIRED (UTC)  \
        RUNBOOK                           FLAG\n\
        api      Noisy  6      0     6          0.0%         2025-06-12 08:00  \
        https://runbooks.example.com/api  fix or delete it\n";
    assert!(sent[0].1.contains(table), "{}", sent[0].1);

    app.clock.advance(SignedDuration::from_mins(10));
    app.run_engine_once().await;
    let clock = app.clock.clone();
    let app = app.restart(clock, |_| {}).await;
    app.run_engine_once().await;

    assert_eq!(digests(&app).len(), 1, "a week's digest goes out once");
}

#[tokio::test]
async fn hygiene_names_the_runbook_covering_an_alert_before_the_services_own() {
    let app = spawn_app().await;
    let clock = app.clock.clone();
    let app = app
        .restart(clock, |dir| {
            std::fs::create_dir_all(dir.join("runbooks")).unwrap();
            let text = "+++\nalerts = [\"Noisy\"]\nlast_updated = 2025-01-20\n+++\n\
                        # Runbook: Noisy\n";
            std::fs::write(dir.join("runbooks/noisy.md"), text).unwrap();
        })
        .await;
    fire_and_end(&app, "Noisy", End::SourceResolves).await;
    fire_and_end(&app, "Other", End::SourceResolves).await;

    let json: Value =
        serde_json::from_str(&report(&app, Kind::Hygiene, Format::Json).await).unwrap();

    let base = app.engine.config.settings.public_url();
    let runbooks: Vec<(&str, &str)> = json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["alert"].as_str().unwrap(), r["runbook"].as_str().unwrap()))
        .collect();
    assert_eq!(
        runbooks,
        [
            ("Noisy", format!("{base}/runbooks/noisy").as_str()),
            ("Other", "https://runbooks.example.com/api"),
        ]
    );
}
