//! One message per (destination, alert), bundles for several alerts of one service, and
//! throttles read back from the outbox (on-call D9, D10, OC-17).

use std::sync::Arc;

use dutybell::engine::Engine;
use dutybell::notify::Notifiers;
use jiff::SignedDuration;
use serde_json::json;

use crate::helpers::{STORM_KEY, Setup, TestApp, spawn_app, spawn_app_with};

/// uma's push ladder (webhook at 0m and 5m) and a policy naming her at two steps.
fn ladder_twice() -> Setup {
    Setup {
        team: r#"
[[person]]
id = "uma"
contact = [{ kind = "webhook", url = "http://{hooks}/hook/uma", secret_env = "HOOK_SECRET" }]
notify = [{ after = "0m", via = "webhook" }, { after = "5m", via = "webhook" }]
"#
        .into(),
        oncall: r#"
[[escalation]]
id = "twice"
repeat = 0
steps = [{ targets = ["person:uma"], after = "5m" }, { targets = ["person:uma"], after = "5m" }]
"#
        .into(),
        services: r#"
[[service]]
id = "solo"
escalation = "twice"
integrations = [{ kind = "generic", key_env = "KEY_STORM" }]
"#
        .into(),
        ..Setup::default()
    }
}

async fn trigger(app: &TestApp, key: &str) -> i64 {
    let response = app
        .client
        .post(app.url(&format!("/api/v1/integrations/{STORM_KEY}/generic")))
        .json(&json!({ "dedup_key": key, "summary": format!("{key} is down") }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let body: serde_json::Value = response.json().await.unwrap();
    body["results"][0]["alert_id"].as_i64().unwrap()
}

#[tokio::test]
async fn two_pages_for_one_alert_in_one_pass_send_once_oc_17() {
    let app = spawn_app_with(ladder_twice()).await;
    let id = trigger(&app, "x").await;
    app.run_engine_once().await;
    assert_eq!(app.hooks.recipients(), ["uma"]);

    // Run 1's 5m rule and run 2's 0m rule are both due now, for the same alert.
    app.advance_and_run(5).await;

    assert_eq!(app.hooks.recipients(), ["uma", "uma"]);
    let second = &app.hooks.hooks()[1].body;
    assert!(
        second["data"]["bundle"].is_null(),
        "one alert never bundles"
    );
    assert_eq!(second["data"]["alert"]["id"], id);
    let kinds = app.timeline_kinds(id).await;
    assert_eq!(
        kinds
            .iter()
            .filter(|k| *k == "notification_duplicate")
            .count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| *k == "notification_sent").count(),
        2
    );
}

#[tokio::test]
async fn two_unacked_alerts_of_one_service_go_as_one_bundle_with_ack_all_oc_17() {
    let app = spawn_app().await;
    let disk = app.fire("DiskFull").await["alert_id"].as_i64().unwrap();
    let cpu = app.fire("CpuHigh").await["alert_id"].as_i64().unwrap();

    app.run_engine_once().await;

    assert_eq!(app.hooks.recipients(), ["ben"]);
    assert_eq!(app.smtp.recipients(), ["ben@example.com"]);
    let hook = &app.hooks.hooks()[0];
    assert!(hook.signature_ok);
    assert_eq!(hook.body["event"], "alert.bundle");
    let bundle = &hook.body["data"]["bundle"];
    assert_eq!(bundle["count"], 2);
    assert_eq!(bundle["service"], "Public API");
    let ids: Vec<i64> = bundle["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [disk, cpu]);
    let mail = &app.smtp.mails()[0].data;
    assert!(
        mail.contains("Subject: [dutybell] FIRING Public API: 2 unacked alerts"),
        "{mail}"
    );
    assert!(mail.contains("Acknowledge all: http://"), "{mail}");
    for id in [disk, cpu] {
        assert_eq!(app.alert(id).await["alert"]["paged"], json!(["ben"]));
    }

    let ack_all = hook.body["data"]["actions"]["acknowledge_all"]
        .as_str()
        .unwrap();
    assert_eq!(app.client.get(ack_all).send().await.unwrap().status(), 200);
    assert_eq!(
        app.alert(disk).await["alert"]["state"],
        "triggered",
        "GET acts not"
    );
    assert_eq!(app.client.post(ack_all).send().await.unwrap().status(), 200);
    for id in [disk, cpu] {
        let alert = app.alert(id).await;
        assert_eq!(alert["alert"]["state"], "acknowledged");
        assert_eq!(alert["alert"]["acked_by"], "ben");
    }
}

#[tokio::test]
async fn a_held_email_waits_joins_the_bundle_and_survives_a_new_engine() {
    let app = spawn_app().await;
    app.fire("DiskFull").await;
    app.run_engine_once().await;

    // A fresh engine (as after a restart) over the same database: the throttle is read
    // from the sent rows, so the second email still waits for the minute to pass.
    let engine = Engine {
        notifiers: Notifiers::new(&app.engine.config.settings).unwrap(),
        wake: Arc::new(tokio::sync::Notify::new()),
        ..app.engine.clone()
    };
    for (after, name) in [(10, "CpuHigh"), (10, "MemHigh")] {
        app.clock.advance(SignedDuration::from_secs(after));
        app.fire(name).await;
        engine.run_once(app.clock.now()).await.unwrap();
    }
    assert_eq!(app.smtp.recipients().len(), 1, "email: 1 per minute");
    assert_eq!(
        app.hooks.recipients().len(),
        3,
        "webhook: no per-destination limit"
    );

    app.clock.advance(SignedDuration::from_secs(40));
    engine.run_once(app.clock.now()).await.unwrap();

    let mails = app.smtp.mails();
    assert_eq!(mails.len(), 2);
    assert!(
        mails[1].data.contains("Public API: 2 unacked alerts"),
        "the held pages went as one bundle: {}",
        mails[1].data
    );
}
