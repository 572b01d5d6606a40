//! `mode = "alert"` on an Alertmanager integration (intake spec §2.1, §3.3, IN-06): one
//! dutybell alert per member fingerprint, each showing that member alone; duplicates,
//! resolves and re-fires act per member.

use std::collections::BTreeMap;

use dutybell::domain::fingerprint::fingerprint;
use serde_json::json;

use crate::helpers::{SIGNED_KEY, STORM_KEY, Setup, TestApp, am_body, spawn_app_with};

const START: &str = "2025-06-12T02:59:00Z";

/// A `fleet` service whose Alertmanager integration (key `STORM_KEY`) is in alert mode.
fn alert_mode() -> Setup {
    Setup {
        services: r#"
[[service]]
id = "fleet"
escalation = "default"
integrations = [{ kind = "alertmanager", key_env = "KEY_STORM", mode = "alert" }]
"#
        .into(),
        ..Setup::default()
    }
}

async fn post(app: &TestApp, body: &str) -> serde_json::Value {
    let response = app
        .client
        .post(app.url(&format!("/api/v1/integrations/{STORM_KEY}/alertmanager")))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    response.json().await.unwrap()
}

/// The fingerprint `am_body` members get: labels alertname, instance host-i, severity.
fn member_key(alertname: &str, i: usize) -> String {
    let labels: BTreeMap<String, String> = [
        ("alertname", alertname.to_string()),
        ("instance", format!("host-{i}")),
        ("severity", "critical".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    fingerprint(&labels)
}

fn ids(answer: &serde_json::Value) -> Vec<i64> {
    answer["alert_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn a_group_of_three_opens_three_alerts_paged_as_one_bundle() {
    let app = spawn_app_with(alert_mode()).await;
    let three = [("firing", START); 3];
    let answer = post(&app, &am_body("DiskFull", &three)).await;

    assert_eq!(answer["status"], "accepted");
    assert_eq!(answer["alerts"], 3);
    assert_eq!(answer["duplicate"], false);
    assert_eq!(answer["warnings"], json!([]));
    let alert_ids = ids(&answer);
    assert_eq!(alert_ids.len(), 3);
    for (i, id) in alert_ids.iter().enumerate() {
        let alert = &app.alert(*id).await["alert"];
        assert_eq!(alert["service_id"], "fleet");
        assert_eq!(alert["dedup_key"], member_key("DiskFull", i));
        assert_eq!(alert["summary"], format!("DiskFull on host-{i}"));
        assert_eq!(alert["source"], format!("host-{i}"));
        assert_eq!(alert["severity"], "critical");
        assert_eq!(alert["members"], 1);
        assert_eq!(alert["receiver"], "dutybell");
        assert_eq!(
            alert["labels"],
            json!({ "alertname": "DiskFull", "instance": format!("host-{i}"),
                    "severity": "critical" })
        );
        assert_eq!(alert["state"], "triggered");
    }
    assert_eq!(app.open_alerts().await.len(), 3);

    // Three alerts of one service due in one pass: the existing bundling rule sends ben
    // one bundle per channel (webhook and email), naming all three.
    app.run_engine_once().await;
    assert_eq!(app.hooks.recipients(), ["ben"]);
    assert_eq!(app.smtp.recipients(), ["ben@example.com"]);
    let hook = &app.hooks.hooks()[0].body;
    assert_eq!(hook["event"], "alert.bundle");
    assert_eq!(hook["data"]["bundle"]["count"], 3);
    let bundled: Vec<i64> = hook["data"]["bundle"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect();
    assert_eq!(bundled, alert_ids);
    for id in &alert_ids {
        assert_eq!(app.alert(*id).await["alert"]["paged"], json!(["ben"]));
    }
}

#[tokio::test]
async fn a_resend_is_a_duplicate_and_a_member_resolve_resolves_only_its_alert() {
    let app = spawn_app_with(alert_mode()).await;
    let body = am_body("DiskFull", &[("firing", START); 3]);
    let first = post(&app, &body).await;
    let alert_ids = ids(&first);
    app.run_engine_once().await;

    let again = post(&app, &body).await;
    assert_eq!(again["duplicate"], true);
    assert_eq!(ids(&again), alert_ids);
    assert_eq!(app.open_alerts().await.len(), 3);

    let one_resolved = am_body(
        "DiskFull",
        &[("resolved", START), ("firing", START), ("firing", START)],
    );
    let answer = post(&app, &one_resolved).await;
    assert_eq!(answer["duplicate"], false, "one member changed");
    assert_eq!(ids(&answer), alert_ids);
    let resolved = &app.alert(alert_ids[0]).await["alert"];
    assert_eq!(resolved["state"], "resolved");
    assert_eq!(resolved["resolved_by"], "fleet/alertmanager");
    assert_eq!(resolved["resolved_at"], START, "at the member's endsAt");
    for id in &alert_ids[1..] {
        assert_eq!(app.alert(*id).await["alert"]["state"], "triggered");
    }
    assert_eq!(post(&app, &one_resolved).await["duplicate"], true);

    // Within reopen_window a new occurrence of that member reopens its own alert (F1),
    // and pages no one by itself (F2).
    app.clock.advance(jiff::SignedDuration::from_mins(2));
    let refired = app.clock.now().to_string();
    let refire = am_body(
        "DiskFull",
        &[("firing", &refired), ("firing", START), ("firing", START)],
    );
    let answer = post(&app, &refire).await;
    assert_eq!(ids(&answer), alert_ids, "the same three alerts");
    let reopened = &app.alert(alert_ids[0]).await["alert"];
    assert_eq!(reopened["state"], "triggered");
    assert_eq!(reopened["reopen_count"], 1);
    assert_eq!(app.open_alerts().await.len(), 3);
    let pages = app.hooks.recipients().len();
    app.run_engine_once().await;
    assert_eq!(app.hooks.recipients().len(), pages, "a reopen pages no one");
}

#[tokio::test]
async fn equal_summaries_stay_two_alerts_in_06() {
    let app = spawn_app_with(alert_mode()).await;
    let mut body: serde_json::Value =
        serde_json::from_str(&am_body("DiskAlmostFull", &[("firing", START); 2])).unwrap();
    for member in body["alerts"].as_array_mut().unwrap() {
        member["annotations"]["summary"] = "Disk almost full".into();
    }
    let answer = post(&app, &body.to_string()).await;

    let alert_ids = ids(&answer);
    assert_eq!(alert_ids.len(), 2);
    assert_ne!(alert_ids[0], alert_ids[1]);
    for (i, id) in alert_ids.iter().enumerate() {
        let alert = &app.alert(*id).await["alert"];
        assert_eq!(alert["summary"], "Disk almost full", "no (+N more firing)");
        assert_eq!(alert["dedup_key"], member_key("DiskAlmostFull", i));
    }
}

#[tokio::test]
async fn grafana_in_alert_mode_shows_each_member_alone() {
    let app = spawn_app_with(Setup {
        services: r#"
[[service]]
id = "edge"
escalation = "default"
integrations = [{ kind = "grafana", key_env = "KEY_SIGNED", mode = "alert" }]
"#
        .into(),
        ..Setup::default()
    })
    .await;
    let body = json!({
        "version": "1", "orgId": 1, "state": "alerting", "receiver": "dutybell",
        "status": "firing", "groupKey": "{}:{}", "truncatedAlerts": 0,
        "title": "[FIRING:2] CertExpiresSoon", "message": "",
        "externalURL": "https://grafana.example/",
        "commonLabels": { "alertname": "CertExpiresSoon" },
        "commonAnnotations": { "summary": "certs expire" },
        "alerts": [
            { "status": "firing", "fingerprint": "7d1e0c5a9b224f36",
              "labels": { "alertname": "CertExpiresSoon", "host": "lb-2", "severity": "warning",
                          "__alert_rule_uid__": "r1" },
              "annotations": { "summary": "lb-2 cert expires in 6 days",
                               "runbook_url": "https://rb.example/cert" },
              "startsAt": "2025-06-12T04:30:00+02:00", "endsAt": "0001-01-01T00:00:00Z",
              "dashboardURL": "https://grafana.example/d/1", "panelURL": "",
              "silenceURL": "", "valueString": "[ var='B' value=6 ]" },
            { "status": "firing", "fingerprint": "7d1e0c5a9b224f37",
              "labels": { "alertname": "CertExpiresSoon", "host": "lb-3" },
              "startsAt": "2025-06-12T04:30:00+02:00", "endsAt": "0001-01-01T00:00:00Z" },
        ],
    });
    let response = app
        .client
        .post(app.url(&format!("/api/v1/integrations/{SIGNED_KEY}/grafana")))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let answer: serde_json::Value = response.json().await.unwrap();
    let alert_ids = ids(&answer);
    assert_eq!(alert_ids.len(), 2);

    let first = &app.alert(alert_ids[0]).await["alert"];
    assert_eq!(first["dedup_key"], "7d1e0c5a9b224f36");
    assert_eq!(first["summary"], "lb-2 cert expires in 6 days");
    assert_eq!(first["severity"], "warning");
    assert_eq!(first["runbook_url"], "https://rb.example/cert");
    assert_eq!(
        first["details"],
        "Labels: alertname=CertExpiresSoon, host=lb-2, severity=warning\n\
         Value: [ var='B' value=6 ]"
    );
    assert_eq!(
        first["labels"],
        json!({ "alertname": "CertExpiresSoon", "host": "lb-2", "severity": "warning" })
    );
    assert_eq!(
        first["links"],
        json!([
            { "href": "https://grafana.example/d/1", "text": "Dashboard" },
            { "href": "https://grafana.example/", "text": "Alertmanager" },
        ])
    );
    let second = &app.alert(alert_ids[1]).await["alert"];
    assert_eq!(second["dedup_key"], "7d1e0c5a9b224f37");
    assert_eq!(
        second["summary"], "CertExpiresSoon",
        "its own alertname: neither the group's summary nor its title"
    );
    assert_eq!(second["severity"], "error", "the integration default");
    assert_eq!(
        second["details"],
        "Labels: alertname=CertExpiresSoon, host=lb-3"
    );
    assert_eq!(second["runbook_url"], serde_json::Value::Null);
}

#[test]
fn alert_mode_is_refused_where_there_are_no_members() {
    use dutybell::config::secrets::Secrets;
    use dutybell::config::{self, Overrides};

    let dir = tempfile::tempdir().unwrap();
    let addr: std::net::SocketAddr = "127.0.0.1:1".parse().unwrap();
    crate::helpers::write_config(dir.path(), addr, addr, None);
    let path = dir.path().join("services.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text
        .replacen(
            r#"{ kind = "pagerduty", key_env = "KEY_PD" }"#,
            r#"{ kind = "pagerduty", key_env = "KEY_PD", mode = "alert" }"#,
            1,
        )
        .replacen(
            r#"{ kind = "grafana", key_env = "KEY_GRAFANA" }"#,
            r#"{ kind = "grafana", key_env = "KEY_GRAFANA", mode = "alerts" }"#,
            1,
        );
    std::fs::write(&path, text).unwrap();
    let result = config::load_with(
        dir.path(),
        &Overrides::default(),
        &crate::helpers::test_env(),
        &mut Secrets::default(),
    );
    let Err(errors) = result else {
        panic!("the bad modes were accepted");
    };
    let message = errors.to_string();
    for line in [
        "services.toml: `service[2].integrations[0].mode`: \"alerts\" is not \"group\" or \
         \"alert\"",
        "services.toml: `service[2].integrations[1].mode`: \"alert\" mode needs an \
         alertmanager or grafana integration",
    ] {
        assert!(message.contains(line), "missing {line:?} in:\n{message}");
    }
    assert!(message.contains("2 problem(s)"), "{message}");
}
