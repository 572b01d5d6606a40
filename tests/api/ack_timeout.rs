//! Ack timeouts (on-call spec D8, OC-15) on a driven clock: an ack older than the service's
//! `ack_timeout` triggers the alert again, restarts escalation at step 0 of loop 0 and pages
//! the acker and step 0's people once each.

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::helpers::{STORM_KEY, Setup, TOKEN, TestApp, am_body, spawn_app_with};

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// OC-15's setup: service `oc15` with `extra` service settings (such as `ack_timeout`),
/// step 0 → schedule `oc15` in UTC, ana until `handoff` and chen from then until 06:00.
async fn oc15(handoff: &str, extra: &str) -> TestApp {
    spawn_app_with(Setup {
        clock: dutybell::clock::Clock::manual(at("2025-06-12T01:50:00Z")),
        oncall: format!(
            "[[schedule]]\nid = \"oc15\"\ntime_zone = \"UTC\"\nrules = [\n\
             {{ from = \"00:00\", to = \"{handoff}\", target = \"person:ana\" }},\n\
             {{ from = \"{handoff}\", to = \"06:00\", target = \"person:chen\" }},\n]\n\n\
             [[escalation]]\nid = \"oc15\"\n\
             steps = [{{ targets = [\"schedule:oc15\"], after = \"15m\" }}]\n"
        ),
        services: format!(
            "[[service]]\nid = \"oc15\"\nescalation = \"oc15\"\n{extra}\nintegrations = [\n\
             {{ kind = \"alertmanager\", key_env = \"KEY_STORM\", \
             token_env = \"DUTYBELL_TOKEN_API\" }},\n]\n"
        ),
        ..Setup::default()
    })
    .await
}

/// Fires `alertname` on the `oc15` service now; returns the alert id.
pub async fn fire_on_storm_key(app: &TestApp, alertname: &str) -> i64 {
    let body = am_body(alertname, &[("firing", &app.clock.now().to_string())]);
    let response = app
        .client
        .post(app.url(&format!("/api/v1/integrations/{STORM_KEY}/alertmanager")))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().await.unwrap();
    accepted["alert_id"].as_i64().unwrap()
}

/// Moves the manual clock to `when` and runs one pass.
async fn run_at(app: &TestApp, when: &str) -> dutybell::engine::Pass {
    app.clock.set(at(when));
    app.run_engine_once().await
}

async fn act(app: &TestApp, id: i64, verb: &str, by: &str) {
    let response = app
        .api_post(&format!("/api/v1/alerts/{id}/{verb}"), json!({ "by": by }))
        .await;
    assert_eq!(response.status(), 200, "{verb} by {by}");
}

/// Webhook pages per person, sorted: each ladder run here is one webhook call.
fn paged(app: &TestApp) -> Vec<String> {
    let mut people = app.hooks.recipients();
    people.sort();
    people
}

async fn entries(app: &TestApp, id: i64, kind: &str) -> Vec<Value> {
    let alert = app.alert(id).await;
    alert["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .cloned()
        .collect()
}

#[tokio::test]
async fn an_ack_older_than_the_timeout_triggers_again_and_pages_acker_and_on_call_oc_15() {
    let app = oc15("02:15", "ack_timeout = \"30m\"").await;
    let id = fire_on_storm_key(&app, "Oc15").await;
    app.run_engine_once().await;
    assert_eq!(paged(&app), ["ana"]);

    app.clock.set(at("2025-06-12T02:00:00Z"));
    act(&app, id, "ack", "ana").await;
    let pass = app.run_engine_once().await;
    assert_eq!(
        pass.next_due,
        Some(at("2025-06-12T02:30:00Z")),
        "the ack timeout is a persisted due time"
    );
    let pass = run_at(&app, "2025-06-12T02:29:59Z").await;
    assert_eq!(pass.ack_timeouts, 0);
    assert_eq!(app.alert(id).await["alert"]["state"], "acknowledged");

    let pass = run_at(&app, "2025-06-12T02:30:00Z").await;

    assert_eq!(pass.ack_timeouts, 1);
    let alert = app.alert(id).await["alert"].clone();
    assert_eq!(alert["state"], "triggered");
    assert!(alert["acked_by"].is_null());
    assert_eq!(alert["escalation"]["step"], 0);
    assert_eq!(alert["escalation"]["loop_index"], 0);
    assert_eq!(alert["next_escalation_at"], "2025-06-12T02:45:00Z");
    let timeout = entries(&app, id, "ack_timeout").await;
    assert_eq!(timeout.len(), 1);
    assert_eq!(timeout[0]["at"], "2025-06-12T02:30:00Z");
    assert_eq!(timeout[0]["detail"]["acked_by"], "ana");
    let escalated = entries(&app, id, "escalated").await;
    assert_eq!(escalated.len(), 2);
    assert_eq!(
        escalated[1]["detail"],
        json!({ "step": 0, "loop": 0, "people": ["ana", "chen"] })
    );
    assert_eq!(paged(&app), ["ana", "ana", "chen"], "one new run each");
    let hooks = app.hooks.hooks();
    assert!(
        hooks[1..]
            .iter()
            .all(|h| h.body["event"] == "alert.triggered")
    );
}

#[tokio::test]
async fn an_acker_still_on_call_gets_one_run_oc_15() {
    let app = oc15("03:00", "ack_timeout = \"30m\"").await;
    let id = fire_on_storm_key(&app, "Oc15").await;
    app.run_engine_once().await;
    app.clock.set(at("2025-06-12T02:00:00Z"));
    act(&app, id, "ack", "ana").await;

    run_at(&app, "2025-06-12T02:30:00Z").await;

    assert_eq!(paged(&app), ["ana", "ana"]);
    let escalated = entries(&app, id, "escalated").await;
    assert_eq!(escalated[1]["detail"]["people"], json!(["ana"]));
}

#[tokio::test]
async fn a_resolve_before_the_timeout_leaves_the_alert_resolved_oc_15() {
    let app = oc15("02:15", "ack_timeout = \"30m\"").await;
    let id = fire_on_storm_key(&app, "Oc15").await;
    app.run_engine_once().await;
    app.clock.set(at("2025-06-12T02:00:00Z"));
    act(&app, id, "ack", "ana").await;
    run_at(&app, "2025-06-12T02:10:00Z").await;
    app.clock.set(at("2025-06-12T02:20:00Z"));
    act(&app, id, "resolve", "ana").await;

    let pass = run_at(&app, "2025-06-12T02:30:00Z").await;
    run_at(&app, "2025-06-12T04:00:00Z").await;

    assert_eq!(pass.ack_timeouts, 0);
    assert_eq!(pass.next_due, None, "nothing left to wake up for");
    assert_eq!(app.alert(id).await["alert"]["state"], "resolved");
    assert!(entries(&app, id, "ack_timeout").await.is_empty());
    assert_eq!(paged(&app), ["ana"]);
}

#[tokio::test]
async fn without_an_ack_timeout_an_ack_holds_forever_oc_15() {
    let app = oc15("02:15", "").await;
    let id = fire_on_storm_key(&app, "Oc15").await;
    app.run_engine_once().await;
    app.clock.set(at("2025-06-12T02:00:00Z"));
    act(&app, id, "ack", "ana").await;

    for when in [
        "2025-06-12T02:30:00Z",
        "2025-06-12T05:00:00Z",
        "2025-06-13T02:00:00Z",
    ] {
        let pass = run_at(&app, when).await;
        assert_eq!(pass.ack_timeouts, 0);
    }

    assert_eq!(app.alert(id).await["alert"]["state"], "acknowledged");
    assert_eq!(paged(&app), ["ana"]);
}

#[tokio::test]
async fn acking_again_restarts_the_timeout_from_the_new_ack_oc_15() {
    let app = oc15("02:15", "ack_timeout = \"30m\"").await;
    let id = fire_on_storm_key(&app, "Oc15").await;
    app.run_engine_once().await;
    app.clock.set(at("2025-06-12T02:00:00Z"));
    act(&app, id, "ack", "ana").await;
    run_at(&app, "2025-06-12T02:30:00Z").await;
    assert_eq!(app.alert(id).await["alert"]["state"], "triggered");

    app.clock.set(at("2025-06-12T02:31:00Z"));
    act(&app, id, "ack", "chen").await;
    let pass = run_at(&app, "2025-06-12T02:31:00Z").await;
    assert_eq!(pass.next_due, Some(at("2025-06-12T03:01:00Z")));
    let early = run_at(&app, "2025-06-12T03:00:59Z").await;
    let pass = run_at(&app, "2025-06-12T03:01:00Z").await;

    assert_eq!(early.ack_timeouts, 0);
    assert_eq!(pass.ack_timeouts, 1);
    assert_eq!(app.alert(id).await["alert"]["state"], "triggered");
    let timeouts = entries(&app, id, "ack_timeout").await;
    assert_eq!(timeouts.len(), 2);
    assert_eq!(timeouts[1]["at"], "2025-06-12T03:01:00Z");
    assert_eq!(timeouts[1]["detail"]["acked_by"], "chen");
    // chen acked and is on call: one run; nobody else is on step 0 at 03:01.
    assert_eq!(paged(&app), ["ana", "ana", "chen", "chen"]);
}

#[tokio::test]
async fn an_armed_ack_timeout_survives_a_restart() {
    let app = oc15("02:15", "ack_timeout = \"30m\"").await;
    let id = fire_on_storm_key(&app, "Oc15").await;
    app.run_engine_once().await;
    app.clock.set(at("2025-06-12T02:00:00Z"));
    act(&app, id, "ack", "ana").await;
    app.run_engine_once().await;

    let clock = dutybell::clock::Clock::manual(at("2025-06-12T02:40:00Z"));
    let app = app.restart(clock, |_| {}).await;
    let pass = app.run_engine_once().await;

    assert_eq!(pass.ack_timeouts, 1);
    let timeout = entries(&app, id, "ack_timeout").await;
    assert_eq!(timeout[0]["detail"]["due_at"], "2025-06-12T02:30:00Z");
    let escalated = entries(&app, id, "escalated").await;
    assert_eq!(escalated[1]["detail"]["late_seconds"], 600, "noted as late");
}

#[tokio::test]
async fn an_ack_timeout_due_in_maintenance_waits_for_the_window_to_end() {
    let extra = "ack_timeout = \"30m\"\nmaintenance = [\n\
                 { start = \"2025-06-12T02:10:00Z\", end = \"2025-06-12T02:40:00Z\" },\n]";
    let app = oc15("02:15", extra).await;
    let id = fire_on_storm_key(&app, "Oc15").await;
    app.run_engine_once().await;
    app.clock.set(at("2025-06-12T02:00:00Z"));
    act(&app, id, "ack", "ana").await;

    let during = run_at(&app, "2025-06-12T02:30:00Z").await;
    assert_eq!(during.ack_timeouts, 0);
    assert_eq!(during.next_due, Some(at("2025-06-12T02:40:00Z")));
    assert_eq!(app.alert(id).await["alert"]["state"], "acknowledged");
    let after = run_at(&app, "2025-06-12T02:40:00Z").await;

    assert_eq!(after.ack_timeouts, 1);
    let held = entries(&app, id, "maintenance_hold").await;
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["detail"]["ack_timeout_at"], "2025-06-12T02:30:00Z");
    assert_eq!(paged(&app), ["ana", "ana", "chen"]);
}
