//! Step windows (D12): a step reached outside its window waits for the opening, in the
//! window's own zone, and the wait survives a restart (OC-02, OC-13).

use dutybell::clock::Clock;
use jiff::Timestamp;

use crate::helpers::{Setup, TOKEN, TestApp, am_body, spawn_app_with};

const OPS_KEY: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// A service `ops` whose one step pages schedule `s` (ana, always) inside `window`.
async fn app(at: &str, window: &str) -> TestApp {
    let oncall = format!(
        r#"
[[schedule]]
id = "s"
time_zone = "UTC"
rules = [{{ days = "all", from = "00:00", to = "00:00", target = "person:ana" }}]

[[escalation]]
id = "windowed"
steps = [{{ targets = ["schedule:s"], after = "15m", window = {window} }}]
"#
    );
    let services = "[[service]]\nid = \"ops\"\nescalation = \"windowed\"\n\
         integrations = [{ kind = \"alertmanager\", key_env = \"OPS_KEY\" }]\n"
        .to_string();
    // `OPS_KEY` is in the harness's test environment.
    let setup = Setup {
        clock: Clock::manual(ts(at)),
        oncall,
        services,
        ..Setup::default()
    };
    spawn_app_with(setup).await
}

async fn fire(app: &TestApp) -> i64 {
    let body = am_body("Nightly", &[("firing", &app.clock.now().to_string())]);
    let url = app.url(&format!("/api/v1/integrations/{OPS_KEY}/alertmanager"));
    let response = app
        .client
        .post(url)
        .bearer_auth(TOKEN)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    response.json::<serde_json::Value>().await.unwrap()["alert_id"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn a_window_wait_survives_a_restart_oc_13() {
    let window = r#"{ time_zone = "UTC", days = "all", from = "08:00", to = "17:00" }"#;
    let app = app("2023-01-24T05:00:00Z", window).await;
    let id = fire(&app).await;
    app.run_engine_once().await;

    let alert = app.alert(id).await;
    assert_eq!(alert["alert"]["next_escalation_at"], "2023-01-24T08:00:00Z");
    assert!(
        app.timeline_kinds(id)
            .await
            .contains(&"window_wait".to_string())
    );
    assert!(app.hooks.recipients().is_empty());

    // "Killed" at 07:00, back at 07:30: the wait is in the database, not in memory.
    let app = app
        .restart(Clock::manual(ts("2023-01-24T07:30:00Z")), |_| {})
        .await;
    app.run_engine_once().await;
    assert!(
        app.hooks.recipients().is_empty(),
        "not before the window opens"
    );
    app.clock.set(ts("2023-01-24T08:00:00Z"));
    app.run_engine_once().await;
    assert_eq!(app.hooks.recipients(), ["ana"]);
}

#[tokio::test]
async fn a_late_restart_pages_at_once_and_says_how_late_oc_13() {
    let window = r#"{ time_zone = "UTC", days = "all", from = "08:00", to = "17:00" }"#;
    let app = app("2023-01-24T05:00:00Z", window).await;
    let id = fire(&app).await;
    app.run_engine_once().await;

    let app = app
        .restart(Clock::manual(ts("2023-01-24T08:10:00Z")), |_| {})
        .await;
    app.run_engine_once().await;

    assert_eq!(app.hooks.recipients(), ["ana"]);
    let timeline = app.alert(id).await["timeline"].clone();
    let escalated = timeline
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "escalated")
        .unwrap();
    assert_eq!(escalated["at"], "2023-01-24T08:10:00Z");
    assert_eq!(escalated["detail"]["late_seconds"], 600, "10 min late");
}

#[tokio::test]
async fn the_window_is_read_in_its_own_zone_oc_13_and_oc_02() {
    // Berlin 08:00 is 07:00Z in January.
    let window = r#"{ time_zone = "Europe/Berlin", days = "all", from = "08:00", to = "17:00" }"#;
    let berlin = app("2023-01-24T05:00:00Z", window).await;
    let id = fire(&berlin).await;
    berlin.run_engine_once().await;
    assert_eq!(
        berlin.alert(id).await["alert"]["next_escalation_at"],
        "2023-01-24T07:00:00Z"
    );

    // London after the autumn change: 08:30 local is 08:30Z; an alert at 08:00Z waits.
    let window = r#"{ time_zone = "Europe/London", days = "all", from = "08:30", to = "17:30" }"#;
    let london = app("2023-10-30T08:00:00Z", window).await;
    let id = fire(&london).await;
    london.run_engine_once().await;
    assert_eq!(
        london.alert(id).await["alert"]["next_escalation_at"],
        "2023-10-30T08:30:00Z"
    );
    london.clock.set(ts("2023-10-30T08:30:00Z"));
    london.run_engine_once().await;
    assert_eq!(london.hooks.recipients(), ["ana"]);
}
