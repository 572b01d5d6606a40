//! Maintenance windows (on-call spec D11) on a driven clock: alerts are stored and
//! deduplicated during a window but nothing escalates or pages; when it ends, every alert
//! still triggered starts its policy at step 0.

use std::path::Path;

use jiff::Timestamp;
use serde_json::json;

use crate::ack_timeout::fire_on_storm_key;
use crate::helpers::{Setup, TestApp, spawn_app_with, test_env, write_config};

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// Service `quiet` on the default policy (ben, then dara, then lead) with `windows` as its
/// `maintenance` list.
async fn quiet(windows: &str) -> TestApp {
    spawn_app_with(Setup {
        services: format!(
            "[[service]]\nid = \"quiet\"\nescalation = \"default\"\nmaintenance = [{windows}]\n\
             integrations = [\n{{ kind = \"alertmanager\", key_env = \"KEY_STORM\", \
             token_env = \"DUTYBELL_TOKEN_API\" }},\n]\n"
        ),
        ..Setup::default()
    })
    .await
}

/// 05:00 to 07:00 Madrid on t0's day: 03:00Z to 05:00Z.
const MADRID_WINDOW: &str = "{ start = \"2025-06-12T05:00\", end = \"2025-06-12T07:00\", \
                             time_zone = \"Europe/Madrid\" }";

async fn run_at(app: &TestApp, when: &str) -> dutybell::engine::Pass {
    app.clock.set(at(when));
    app.run_engine_once().await
}

#[tokio::test]
async fn an_alert_in_a_window_is_held_then_escalates_from_step_0_when_it_ends() {
    let app = quiet(MADRID_WINDOW).await;
    let id = fire_on_storm_key(&app, "Reboot").await;
    let pass = app.run_engine_once().await;

    assert_eq!(pass.maintenance_held, 1);
    assert_eq!(pass.escalations, 0);
    assert_eq!(pass.next_due, Some(at("2025-06-12T05:00:00Z")));
    app.clock.set(at("2025-06-12T03:20:00Z"));
    assert_eq!(fire_on_storm_key(&app, "Reboot").await, id, "deduplicated");
    run_at(&app, "2025-06-12T03:20:00Z").await;
    run_at(&app, "2025-06-12T04:59:59Z").await;
    assert!(
        app.hooks.recipients().is_empty(),
        "nothing pages in the window"
    );
    assert!(app.smtp.recipients().is_empty());
    assert_eq!(app.open_alerts().await.len(), 1);

    let pass = run_at(&app, "2025-06-12T05:00:00Z").await;

    assert_eq!(pass.maintenance_released, 1);
    assert_eq!(pass.escalations, 1);
    assert_eq!(app.hooks.recipients(), ["ben"]);
    let kinds = app.timeline_kinds(id).await;
    assert_eq!(
        kinds,
        [
            "created",
            "maintenance_hold",
            "member_joined",
            "maintenance_release",
            "escalated",
            "notification_sent",
            "notification_sent",
        ]
    );
    let alert = app.alert(id).await;
    let release = alert["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "maintenance_release")
        .unwrap()
        .clone();
    assert_eq!(release["at"], "2025-06-12T05:00:00Z");

    run_at(&app, "2025-06-12T05:15:00Z").await;
    assert_eq!(
        app.hooks.recipients(),
        ["ben", "dara"],
        "then the policy goes on"
    );
}

#[tokio::test]
async fn an_alert_resolved_during_the_window_never_pages() {
    let app = quiet(MADRID_WINDOW).await;
    let id = fire_on_storm_key(&app, "Reboot").await;
    app.run_engine_once().await;
    app.clock.set(at("2025-06-12T04:00:00Z"));
    let response = app
        .api_post(
            &format!("/api/v1/alerts/{id}/resolve"),
            json!({ "by": "ben" }),
        )
        .await;
    assert_eq!(response.status(), 200);

    let end = run_at(&app, "2025-06-12T05:00:00Z").await;
    run_at(&app, "2025-06-12T06:00:00Z").await;

    assert_eq!(end.maintenance_released, 0);
    assert_eq!(end.next_due, None);
    assert!(app.hooks.recipients().is_empty());
    assert!(app.smtp.recipients().is_empty());
    let kinds = app.timeline_kinds(id).await;
    assert_eq!(kinds, ["created", "maintenance_hold", "resolved"]);
}

#[tokio::test]
async fn a_window_opening_holds_an_escalating_alert_and_its_end_restarts_it() {
    let window = "{ start = \"2025-06-12T03:10:00Z\", end = \"2025-06-12T03:40:00Z\" }";
    let app = quiet(window).await;
    let id = fire_on_storm_key(&app, "Disk").await;
    let first = app.run_engine_once().await;
    assert_eq!(app.hooks.recipients(), ["ben"]);
    assert_eq!(
        first.next_due,
        Some(at("2025-06-12T03:10:00Z")),
        "the engine wakes when the window opens"
    );

    let opened = run_at(&app, "2025-06-12T03:10:00Z").await;
    run_at(&app, "2025-06-12T03:15:00Z").await;
    run_at(&app, "2025-06-12T03:30:00Z").await;
    assert_eq!(opened.maintenance_held, 1);
    assert_eq!(
        app.hooks.recipients(),
        ["ben"],
        "no secondary during the window"
    );
    let ended = run_at(&app, "2025-06-12T03:40:00Z").await;

    assert_eq!(ended.maintenance_released, 1);
    assert_eq!(app.hooks.recipients(), ["ben", "ben"], "step 0 again");
    let alert = app.alert(id).await;
    assert_eq!(alert["alert"]["escalation"]["step"], 0);
    assert_eq!(alert["alert"]["next_escalation_at"], "2025-06-12T03:55:00Z");
}

#[tokio::test]
async fn other_services_page_as_usual_during_a_window() {
    let app = quiet(MADRID_WINDOW).await;
    fire_on_storm_key(&app, "Reboot").await;
    app.fire("DiskFull").await;

    let pass = app.run_engine_once().await;

    assert_eq!(pass.maintenance_held, 1);
    assert_eq!(app.hooks.recipients(), ["ben"], "the api service's alert");
}

fn load_errors(services: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let addr = "127.0.0.1:1".parse().unwrap();
    write_config(dir.path(), addr, addr, None);
    append(dir.path(), "services.toml", services);
    let result = dutybell::config::load_with(
        dir.path(),
        &dutybell::config::Overrides::default(),
        &test_env(),
        &mut dutybell::config::secrets::Secrets::default(),
    );
    match result {
        Ok(_) => panic!("the broken config was accepted"),
        Err(errors) => errors.to_string(),
    }
}

fn append(dir: &Path, file: &str, text: &str) {
    let path = dir.join(file);
    let old = std::fs::read_to_string(&path).unwrap();
    std::fs::write(path, format!("{old}\n{text}\n")).unwrap();
}

#[test]
fn bad_windows_and_timeouts_are_reported_with_file_and_key() {
    let message = load_errors(
        r#"
[[service]]
id = "quiet"
escalation = "default"
ack_timeout = "30"
maintenance = [
  { start = "2025-06-12T02:00", end = "2025-06-12T04:00" },
  { start = "2025-06-12T04:00", end = "2025-06-12T02:00", time_zone = "Europe/Madrid" },
  { start = "2025-06-12T02:00", end = "2025-06-12T04:00", time_zone = "Mars/Olympus" },
  { start = "soon", end = "2025-06-12T04:00:00Z" },
]

[[service]]
id = "direct"
escalation = "default"
ack_timeout = "0m"
"#,
    );

    let expected = [
        "services.toml: `service[3].ack_timeout`: \"30\" needs a unit",
        "`service[3].maintenance[0].start`: \"2025-06-12T02:00\" is a local time: set \
         `time_zone`",
        "`service[3].maintenance[1].end`: must be after `start`",
        "`service[3].maintenance[2].time_zone`: \"Mars/Olympus\" is not an IANA time zone",
        "`service[3].maintenance[3].start`: \"soon\" is neither a local time",
        "`service[4].ack_timeout`: must be longer than 0m",
        "`service[4].id`: the service id \"direct\" is reserved for direct pages",
    ];
    for line in expected {
        assert!(message.contains(line), "missing {line:?} in:\n{message}");
    }
}
