//! Incidents over the admin API (comms spec §1): declaring pages the on-call, the
//! lifecycle, one timeline for pages, acks and notes, promotion of an alert, paging more
//! responders, commander hand-over notices, and update reminders on a driven clock
//! (CM-12).

use serde_json::{Value, json};

use crate::helpers::{Setup, spawn_app, spawn_app_with};

async fn declare(app: &crate::helpers::TestApp, body: Value) -> Value {
    let response = app.api_post("/api/v1/incidents", body).await;
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["incident"].clone()
}

async fn timeline(app: &crate::helpers::TestApp, number: i64) -> Vec<Value> {
    app.api_get(&format!("/api/v1/incidents/{number}")).await["timeline"]
        .as_array()
        .unwrap()
        .clone()
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["kind"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn a_p1_pages_the_services_on_call_and_the_timeline_shows_page_and_ack() {
    let app = spawn_app().await;
    let incident = declare(
        &app,
        json!({"title": "Checkout down", "severity": "p1", "services": ["api"], "by": "ana"}),
    )
    .await;
    assert_eq!(incident["number"], 1);
    assert_eq!(incident["severity"], "P1");
    assert_eq!(incident["status"], "investigating");
    assert_eq!(
        incident["commander"], "ana",
        "the declarer commands by default"
    );
    assert_eq!(incident["declared_at"], "2025-06-12T03:00:00Z");
    let page_alert = incident["alerts"][0]
        .as_i64()
        .expect("a page alert is attached");

    // The engine pages api's primary (ben at t0) like any alert.
    app.run_engine_once().await;
    let hooks = app.hooks.hooks();
    let ben: Vec<_> = hooks.iter().filter(|h| h.person == "ben").collect();
    assert_eq!(ben.len(), 1, "ben is paged once by webhook");
    assert_eq!(
        ben[0].body["data"]["alert"]["summary"],
        "Incident #1 (P1): Checkout down"
    );
    let mails: Vec<_> = app
        .smtp
        .mails()
        .into_iter()
        .filter(|m| m.to[0] == "ben@example.com")
        .collect();
    assert_eq!(mails.len(), 1, "and once by email");

    let ack = app
        .api_post(
            &format!("/api/v1/alerts/{page_alert}/ack"),
            json!({"by": "ben"}),
        )
        .await;
    assert_eq!(ack.status(), 200);
    let events = timeline(&app, 1).await;
    let kinds = kinds(&events);
    assert_eq!(kinds[0], "incident.declared");
    assert!(kinds.contains(&"alert.fired"), "{kinds:?}");
    assert_eq!(
        kinds.iter().filter(|k| **k == "page.sent").count(),
        2,
        "{kinds:?}"
    );
    assert_eq!(kinds.last(), Some(&"page.acked"), "{kinds:?}");
    let shown = app.api_get("/api/v1/incidents/1").await;
    assert_eq!(shown["incident"]["acknowledged_at"], "2025-06-12T03:00:00Z");
}

#[tokio::test]
async fn a_p3_pages_nobody_and_test_incidents_never_page() {
    let app = spawn_app().await;
    let p3 = declare(
        &app,
        json!({"title": "Slow admin page", "severity": "P3", "services": ["api"], "by": "ana"}),
    )
    .await;
    assert_eq!(p3["alerts"], json!([]));
    let drill = declare(
        &app,
        json!({"title": "Game day", "severity": "P1", "services": ["api"], "by": "ana",
               "test": true}),
    )
    .await;
    assert_eq!(drill["alerts"], json!([]));
    assert_eq!(drill["number"], 2);
    app.run_engine_once().await;
    assert!(app.hooks.hooks().is_empty());
}

#[tokio::test]
async fn the_lifecycle_allows_skips_and_backs_and_rejects_the_rest() {
    let app = spawn_app().await;
    declare(
        &app,
        json!({"title": "Errors", "severity": "p2", "by": "ana", "page": false}),
    )
    .await;
    let status = |to: &str| json!({"status": to, "by": "ben", "text": format!("now {to}")});

    let response = app
        .api_post("/api/v1/incidents/1/status", status("monitoring"))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["incident"]["status"], "monitoring");
    assert_eq!(body["incident"]["mitigated_at"], "2025-06-12T03:00:00Z");
    assert_eq!(body["event"]["kind"], "status.changed");
    assert_eq!(body["event"]["data"]["from"], "investigating");

    // A move to the current state is a no-op; no event.
    let same = app
        .api_post("/api/v1/incidents/1/status", status("monitoring"))
        .await;
    assert_eq!(same.json::<Value>().await.unwrap()["event"], Value::Null);

    app.clock.advance(jiff::SignedDuration::from_mins(5));
    let resolved = app
        .api_post("/api/v1/incidents/%231/status", status("resolved"))
        .await;
    assert_eq!(resolved.status(), 200);
    let body: Value = resolved.json().await.unwrap();
    assert_eq!(body["incident"]["resolved_at"], "2025-06-12T03:05:00Z");

    let back = app
        .api_post("/api/v1/incidents/1/status", status("identified"))
        .await;
    assert_eq!(back.status(), 409);
    let error: Value = back.json().await.unwrap();
    assert_eq!(
        error["message"],
        "cannot move a resolved incident to identified; allowed: investigating"
    );

    let reopened = app
        .api_post("/api/v1/incidents/1/status", status("investigating"))
        .await;
    let body: Value = reopened.json().await.unwrap();
    assert_eq!(
        body["incident"]["resolved_at"],
        Value::Null,
        "reopening clears resolved_at"
    );

    let bad = app
        .api_post("/api/v1/incidents/1/status", status("closed"))
        .await;
    assert_eq!(bad.status(), 409, "only the postmortem closes");
    let unknown = app
        .api_post("/api/v1/incidents/9/status", status("resolved"))
        .await;
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn declarations_name_what_is_wrong_and_store_nothing() {
    let app = spawn_app().await;
    for (body, field) in [
        (json!({"title": "x", "by": "ana"}), "severity"),
        (json!({"title": "", "severity": "p1", "by": "ana"}), "title"),
        (
            json!({"title": "x", "severity": "p9", "by": "ana"}),
            "severity",
        ),
        (
            json!({"title": "x", "severity": "p1", "by": "zed"}),
            "declared_by",
        ),
        (
            json!({"title": "x", "severity": "p1", "by": "ana", "services": ["nope"]}),
            "services",
        ),
        (
            json!({"title": "x", "severity": "p1", "by": "ana", "commander": "zed"}),
            "commander",
        ),
    ] {
        let response = app.api_post("/api/v1/incidents", body.clone()).await;
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["field"], field, "{body}");
    }
    let long = "é".repeat(201);
    let response = app
        .api_post(
            "/api/v1/incidents",
            json!({"title": long, "severity": "p1", "by": "ana"}),
        )
        .await;
    assert_eq!(response.status(), 400);
    let no_token = app
        .client
        .post(app.url("/api/v1/incidents"))
        .json(&json!({}))
        .send()
        .await;
    assert_eq!(no_token.unwrap().status(), 401);
    assert_eq!(
        app.api_get("/api/v1/incidents").await["incidents"],
        json!([])
    );
}

#[tokio::test]
async fn promoting_an_alert_acks_it_and_copies_its_history() {
    let app = spawn_app().await;
    let fired = app.fire("HighErrorRate").await;
    let alert_id = fired["alert_id"].as_i64().unwrap();
    app.run_engine_once().await; // ben is paged for the alert
    app.clock.advance(jiff::SignedDuration::from_mins(4));

    let incident = declare(
        &app,
        json!({"from_alert": format!("A-{alert_id}"), "by": "ben"}),
    )
    .await;
    assert_eq!(incident["severity"], "P2", "critical alerts promote to P2");
    assert_eq!(incident["services"], json!(["api"]));
    assert_eq!(incident["source"], "alert");
    assert_eq!(
        incident["started_at"], "2025-06-12T03:00:00Z",
        "the alert's source start"
    );
    assert_eq!(incident["detected_at"], "2025-06-12T03:00:00Z");
    assert_eq!(incident["declared_at"], "2025-06-12T03:04:00Z");
    assert_eq!(incident["alerts"], json!([alert_id]));
    assert_eq!(
        incident["alerts"].as_array().unwrap().len(),
        1,
        "its own escalation pages"
    );

    let alert = app.alert(alert_id).await;
    assert_eq!(alert["alert"]["state"], "acknowledged");
    assert_eq!(alert["alert"]["acked_by"], "ben");

    // Resolving the incident may resolve its alerts; the alert's own resolve never
    // resolves the incident (it stayed open until now).
    assert_eq!(
        app.api_get("/api/v1/incidents/1").await["incident"]["status"],
        "investigating"
    );
    let resolved = app
        .api_post(
            "/api/v1/incidents/1/status",
            json!({"status": "resolved", "resolve_alerts": true, "by": "ben"}),
        )
        .await;
    assert_eq!(resolved.status(), 200);
    assert_eq!(app.alert(alert_id).await["alert"]["state"], "resolved");

    let events = timeline(&app, 1).await;
    let first_page = events.iter().find(|e| e["kind"] == "page.sent").unwrap();
    assert_eq!(
        first_page["occurred_at"], "2025-06-12T03:00:00Z",
        "original time kept"
    );
    assert_eq!(first_page["recorded_at"], "2025-06-12T03:04:00Z");
    assert_eq!(events[0]["kind"], "alert.fired", "ordered by occurred_at");

    let second = app.fire("DiskFull").await["alert_id"].as_i64().unwrap();
    declare(&app, json!({"from_alert": second.to_string(), "by": "ana"})).await;
    let again = app
        .api_post(
            "/api/v1/incidents",
            json!({"from_alert": second.to_string(), "by": "ana"}),
        )
        .await;
    assert_eq!(
        again.status(),
        409,
        "an alert joins at most one open incident"
    );
}

#[tokio::test]
async fn paging_a_person_into_an_incident_and_handing_over_command() {
    let app = spawn_app().await;
    declare(
        &app,
        json!({"title": "DB failover", "severity": "p3", "by": "ana"}),
    )
    .await;
    let page = app
        .api_post(
            "/api/v1/incidents/1/page",
            json!({"people": ["dara"], "by": "ana"}),
        )
        .await;
    assert_eq!(page.status(), 200);
    app.run_engine_once().await;
    assert_eq!(app.hooks.recipients(), vec!["dara".to_string()]);

    let handed = app
        .api_post(
            "/api/v1/incidents/1/commander",
            json!({"person": "chen", "by": "ana"}),
        )
        .await;
    assert_eq!(handed.status(), 200);
    let body: Value = handed.json().await.unwrap();
    assert_eq!(body["incident"]["commander"], "chen");
    assert_eq!(body["event"]["data"], json!({"from": "ana", "to": "chen"}));
    app.run_engine_once().await;
    let subjects: Vec<(String, bool)> = app
        .smtp
        .mails()
        .iter()
        .map(|m| (m.to[0].clone(), m.data.contains("commander")))
        .collect();
    assert!(
        subjects.contains(&("chen@example.com".into(), true)),
        "{subjects:?}"
    );
    assert!(
        subjects.contains(&("ana@example.com".into(), true)),
        "{subjects:?}"
    );

    let claim = app
        .api_post("/api/v1/incidents/1/commander", json!({"by": "dara"}))
        .await;
    assert_eq!(
        claim.json::<Value>().await.unwrap()["incident"]["commander"],
        "dara"
    );
    for _ in 0..2 {
        let again = app
            .api_post(
                "/api/v1/incidents/1/page",
                json!({"service": "api", "by": "ana"}),
            )
            .await;
        assert_eq!(again.status(), 200, "paging a service twice is two pages");
    }
    let both = app
        .api_post(
            "/api/v1/incidents/1/page",
            json!({"people": ["ben"], "service": "api"}),
        )
        .await;
    assert_eq!(both.status(), 400);
    assert_eq!(both.json::<Value>().await.unwrap()["field"], "service");
    let none = app
        .api_post("/api/v1/incidents/1/page", json!({"by": "ana"}))
        .await;
    assert_eq!(none.json::<Value>().await.unwrap()["field"], "people");
}

/// CM-12: a P1 declared at 10:00Z, an update at 10:20, a note at 10:40, resolve at 11:30:
/// reminders at 10:50 and 11:20 only.
#[tokio::test]
async fn update_reminders_follow_the_last_update_not_notes() {
    let app = spawn_app_with(Setup {
        clock: dutybell::clock::Clock::manual("2025-06-12T10:00:00Z".parse().unwrap()),
        ..Setup::default()
    })
    .await;
    declare(
        &app,
        json!({"title": "Payments failing", "severity": "p1", "by": "ana",
                         "comms_lead": "chen", "page": false}),
    )
    .await;
    let mut reminded = Vec::new();
    for minute in 1..=120 {
        app.clock.advance(jiff::SignedDuration::from_mins(1));
        match minute {
            20 => {
                let r = app
                    .api_post(
                        "/api/v1/incidents/1/updates",
                        json!({"text": "Rolled back the deploy", "by": "ana"}),
                    )
                    .await;
                assert_eq!(r.status(), 200);
            }
            40 => {
                let r = app
                    .api_post(
                        "/api/v1/incidents/1/notes",
                        json!({"text": "error rate falling", "by": "ana"}),
                    )
                    .await;
                assert_eq!(r.status(), 200);
            }
            90 => {
                let r = app
                    .api_post(
                        "/api/v1/incidents/1/status",
                        json!({"status": "resolved", "by": "ana"}),
                    )
                    .await;
                assert_eq!(r.status(), 200);
            }
            _ => {}
        }
        let pass = app.run_engine_once().await;
        if pass.nudges > 0 {
            reminded.push(app.clock.now().strftime("%H:%M").to_string());
        }
    }
    // 10:15 is the one-time status-page prompt (P1, unpublished); the rest are reminders.
    assert_eq!(reminded, vec!["10:15", "10:50", "11:20"]);
    let events = timeline(&app, 1).await;
    let reminders: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == "update.reminder")
        .collect();
    assert_eq!(reminders.len(), 2);
    assert_eq!(
        reminders[0]["data"]["to"], "chen",
        "the comms lead is nudged"
    );
    let to_chen = app
        .smtp
        .mails()
        .iter()
        .filter(|m| m.to[0] == "chen@example.com")
        .count();
    assert_eq!(to_chen, 3, "prompt + two reminders, by email");
}

/// CM-11: a responder in Kolkata types "2025-02-03 14:05"; it is stored as 08:35Z with the
/// zone it was typed in, and the timeline orders it by when it happened.
#[tokio::test]
async fn a_manual_entry_typed_in_local_time_is_stored_in_utc() {
    let app = spawn_app_with(Setup {
        clock: dutybell::clock::Clock::manual("2025-02-03T09:00:00Z".parse().unwrap()),
        ..Setup::default()
    })
    .await;
    declare(
        &app,
        json!({"title": "Queue backlog", "severity": "p3", "by": "ana"}),
    )
    .await;
    let response = app
        .api_post(
            "/api/v1/incidents/1/notes",
            json!({"text": "first customer ticket", "at": "2025-02-03 14:05",
                   "time_zone": "Asia/Kolkata", "key": true, "by": "ben"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let event = response.json::<Value>().await.unwrap()["event"].clone();
    assert_eq!(event["occurred_at"], "2025-02-03T08:35:00Z");
    assert_eq!(event["recorded_at"], "2025-02-03T09:00:00Z");
    assert_eq!(event["entry_tz"], "Asia/Kolkata");
    assert_eq!(event["key"], true);
    let events = timeline(&app, 1).await;
    assert_eq!(kinds(&events), vec!["note.added", "incident.declared"]);

    let bad = app
        .api_post(
            "/api/v1/incidents/1/notes",
            json!({"text": "x", "at": "2025-02-03 14:05", "time_zone": "Mars/Base"}),
        )
        .await;
    assert_eq!(bad.status(), 400);
    assert_eq!(bad.json::<Value>().await.unwrap()["field"], "time_zone");
    let future = app
        .api_post(
            "/api/v1/incidents/1/notes",
            json!({"text": "x", "at": "2025-02-03 10:05", "time_zone": "UTC"}),
        )
        .await;
    assert_eq!(future.status(), 400, "09:00Z now: 10:05Z is to come");
    // Without a zone, the time is read in the author's zone (ana: Europe/Madrid, UTC+1).
    let local = app
        .api_post(
            "/api/v1/incidents/1/notes",
            json!({"text": "paged the vendor", "at": "2025-02-03 09:30", "by": "ana"}),
        )
        .await;
    let event = local.json::<Value>().await.unwrap()["event"].clone();
    assert_eq!(event["occurred_at"], "2025-02-03T08:30:00Z");
    assert_eq!(event["entry_tz"], "Europe/Madrid");
}

/// The CLI declares, changes and shows incidents on the database the server uses: the
/// running app sees the declaration and pages for it.
#[tokio::test]
async fn the_cli_declares_and_works_an_incident_the_server_sees() {
    let app = spawn_app().await;
    let dir = app.config_dir();
    let cli = |args: &[&str]| crate::oncall::dutybell(dir, app.clock.now(), args);
    let out = cli(&[
        "incident",
        "declare",
        "Checkout down",
        "--severity",
        "p1",
        "--service",
        "api",
        "--as",
        "ana",
    ]);
    assert_eq!(
        out,
        "Declared incident #1 (P1) Checkout down — commander ana name (ana)\n"
    );
    let out = cli(&[
        "incident",
        "status",
        "1",
        "identified",
        "bad deploy",
        "--as",
        "ana",
    ]);
    assert_eq!(out, "#1 status.changed: Checkout down (identified)\n");
    let out = cli(&["incident", "commander", "#1", "--as", "ben"]);
    assert_eq!(out, "#1 commander.changed: Checkout down (identified)\n");
    let out = cli(&["incident", "list"]);
    assert!(
        out.contains("#1     P1   identified     ben          Checkout down"),
        "{out}"
    );
    let show = cli(&["incident", "show", "1"]);
    assert!(show.contains("services: api  alerts: A-1\n"), "{show}");
    assert!(
        show.contains(
            "2025-06-12 03:00:00  status.changed       ana        investigating → identified  \
             bad deploy"
        ),
        "{show}"
    );

    let out = cli(&[
        "incident",
        "publish",
        "1",
        "Checkout errors for some",
        "--as",
        "ana",
    ]);
    assert!(out.starts_with("Status page: public incident "), "{out}");
    assert!(out.ends_with(" is identified\n"), "{out}");

    // The server's engine pages api's on-call for the P1 declared from the CLI, and its
    // status page picks up the CLI's publish.
    app.run_engine_once().await;
    let summary: serde_json::Value = app
        .client
        .get(app.url("/api/v2/summary.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(summary["incidents"][0]["name"], "Checkout down");
    assert_eq!(summary["status"]["indicator"], "critical");
    assert!(app.hooks.recipients().contains(&"ben".to_string()));
    let shown = app.api_get("/api/v1/incidents/1").await;
    assert_eq!(shown["incident"]["source"], "cli");
    assert_eq!(shown["incident"]["commander"], "ben");
}

/// Webhook-only Slack mode (comms spec §2.8): every change is a new message to the
/// incoming webhook, with `url` buttons (no clicks come back) and escaped text.
#[tokio::test]
async fn a_slack_incoming_webhook_gets_one_message_per_change_with_link_buttons() {
    let slack = crate::helpers::HttpFake::start().await;
    let app = spawn_app_with(Setup {
        instance: "[slack]\nwebhook_url_env = \"SLACK_WEBHOOK\"\n".into(),
        env: vec![(
            "SLACK_WEBHOOK",
            format!("http://{}/services/T0/B0/x", slack.addr),
        )],
        ..Setup::default()
    })
    .await;
    declare(
        &app,
        json!({"title": "Checkout <!channel> down", "severity": "p2", "by": "ana",
               "page": false}),
    )
    .await;
    app.run_engine_once().await;
    let status = json!({"status": "monitoring", "text": "fix deployed", "by": "ana"});
    let moved = app.api_post("/api/v1/incidents/1/status", status).await;
    assert_eq!(moved.status(), 200);
    for _ in 0..3 {
        app.clock.advance(jiff::SignedDuration::from_secs(5));
        app.run_engine_once().await;
    }

    let posts = slack.requests();
    assert!(
        posts.len() >= 2,
        "announcement and the status change: {posts:?}"
    );
    assert!(
        posts
            .iter()
            .all(|p| p.method == "POST" && p.uri == "/services/T0/B0/x")
    );
    let announcement = posts[0].json();
    // Slack reads `&lt;` back as `<`: the title shows as typed but cannot mention.
    assert_eq!(
        announcement["blocks"][0]["text"]["text"],
        ":rotating_light: P2 · #1 · Checkout &lt;!channel&gt; down"
    );
    let text = announcement["text"].as_str().unwrap();
    assert!(
        text.contains("&lt;!channel&gt;"),
        "mrkdwn text is escaped: {text}"
    );
    assert!(!text.contains("<!channel>"), "{text}");
    for message in posts.iter().map(|p| p.json()) {
        let blocks = message["blocks"].as_array().unwrap();
        for actions in blocks.iter().filter(|b| b["type"] == "actions") {
            for button in actions["elements"].as_array().unwrap() {
                assert!(
                    button["url"].is_string(),
                    "webhook buttons are links: {button}"
                );
            }
        }
    }
    let change = posts.iter().map(|p| p.json()).find(|m| {
        m["text"]
            .as_str()
            .is_some_and(|t| t.contains("Monitoring") || t.contains("monitoring"))
    });
    assert!(
        change.is_some(),
        "the status change is its own message: {posts:?}"
    );
}

/// Resolving an incident ends the pages it opened: nobody is escalated to afterwards.
#[tokio::test]
async fn resolving_an_incident_stops_its_pages_escalating() {
    let app = spawn_app().await;
    let incident = declare(
        &app,
        json!({"title": "Checkout down", "severity": "p1", "services": ["api", "api"],
               "by": "ana"}),
    )
    .await;
    assert_eq!(
        incident["services"],
        json!(["api"]),
        "a service named twice pages once"
    );
    let page = incident["alerts"][0].as_i64().unwrap();
    app.run_engine_once().await;
    assert_eq!(app.hooks.recipients(), vec!["ben".to_string()]);

    let resolved = app
        .api_post(
            "/api/v1/incidents/1/status",
            json!({"status": "resolved", "by": "ana"}),
        )
        .await;
    assert_eq!(resolved.status(), 200);
    assert_eq!(app.alert(page).await["alert"]["state"], "resolved");
    app.advance_and_run(16).await;
    app.advance_and_run(16).await;
    assert_eq!(
        app.hooks.recipients(),
        vec!["ben".to_string()],
        "no secondary, no lead"
    );
    let events = timeline(&app, 1).await;
    assert!(
        kinds(&events).contains(&"alert.resolved"),
        "{:?}",
        kinds(&events)
    );

    // Handing command to the commander changes nothing.
    let same = app
        .api_post(
            "/api/v1/incidents/1/commander",
            json!({"person": "ana", "by": "ana"}),
        )
        .await;
    assert_eq!(same.json::<Value>().await.unwrap()["event"], Value::Null);
}

/// A declared incident pages even while its service is in a maintenance window: declaring
/// is a person deciding to page now.
#[tokio::test]
async fn a_declared_incident_pages_through_a_maintenance_window() {
    let app = spawn_app_with(Setup {
        services: r#"
[[service]]
id = "db"
escalation = "default"
maintenance = [{ start = "2025-06-12T02:00", end = "2025-06-12T06:00", time_zone = "UTC" }]
"#
        .into(),
        ..Setup::default()
    })
    .await;
    declare(
        &app,
        json!({"title": "DB down", "severity": "p1", "services": ["db"], "by": "ana"}),
    )
    .await;
    app.run_engine_once().await;
    assert_eq!(app.hooks.recipients(), vec!["ben".to_string()]);
}
