//! Personal notification ladders and repeated triggers: an ack stops the ladder (OC-14),
//! and repeats are counted, never paged (OC-19).

use jiff::SignedDuration;
use serde_json::json;

use crate::helpers::{PD_KEY, Setup, spawn_app, spawn_app_with, t0};

#[tokio::test]
async fn an_ack_stops_the_ladder_oc_14() {
    // uma: webhook at 0m, email at 5m, email again at 10m (the spec's push, voice, SMS).
    let team = r#"
[[person]]
id = "uma"
email = "uma@example.com"
contact = [{ kind = "webhook", url = "http://{hooks}/hook/uma", secret_env = "HOOK_SECRET" }]
notify = [{ after = "0m", via = "webhook" }, { after = "5m", via = "email" },
          { after = "10m", via = "email" }]
"#;
    let app = spawn_app_with(Setup {
        team: team.into(),
        ..Setup::default()
    })
    .await;

    let paged = app.api_post(
        "/api/v1/page",
        json!({ "people": ["uma"], "summary": "db down" }),
    );
    let id = paged.await.json::<serde_json::Value>().await.unwrap()["alert_id"]
        .as_i64()
        .unwrap();
    app.run_engine_once().await;
    assert_eq!(app.hooks.recipients(), ["uma"], "the 0m rung at once");

    app.clock.advance(SignedDuration::from_mins(1));
    let ack = app
        .api_post(&format!("/api/v1/alerts/{id}/ack"), json!({ "by": "uma" }))
        .await;
    assert_eq!(ack.status(), 200);
    for _ in 0..4 {
        app.advance_and_run(4).await;
    }

    assert!(
        app.smtp.recipients().is_empty(),
        "no 5m or 10m rung after the ack"
    );
    let alert = app.alert(id).await;
    let acked = alert["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "acknowledged");
    assert_eq!(
        acked.unwrap()["detail"]["dropped_pages"],
        2,
        "both later rungs dropped"
    );
}

#[tokio::test]
async fn repeated_triggers_are_counted_not_paged_oc_19() {
    let app = spawn_app().await;
    let trigger = json!({ "routing_key": PD_KEY, "event_action": "trigger", "dedup_key": "k",
                          "payload": { "summary": "disk full", "source": "db-1" } });

    for seconds in [0, 10, 20, 30, 50] {
        app.clock.set(t0() + SignedDuration::from_secs(seconds));
        let response = app
            .client
            .post(app.url("/v2/enqueue"))
            .json(&trigger)
            .send()
            .await;
        assert_eq!(response.unwrap().status(), 202);
        app.run_engine_once().await;
    }

    let open = app.open_alerts().await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["trigger_count"], 5);
    assert_eq!(app.hooks.recipients(), ["ben"], "one page, at 0 s");
    let kinds = app.timeline_kinds(open[0]["id"].as_i64().unwrap()).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "duplicate").count(),
        1,
        "at most one a minute"
    );
}
