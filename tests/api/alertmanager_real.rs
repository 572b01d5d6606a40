//! End to end with the real Prometheus Alertmanager (Debian `prometheus-alertmanager`):
//! an alert pushed into Alertmanager's API reaches dutybell as a webhook, pages the person
//! on call by email and signed webhook, stops on ack, and closes when Alertmanager sends
//! the resolve.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use dutybell::clock::Clock;

use crate::helpers::{KEY, Setup, TOKEN, TestApp, free_port, spawn_app_with, wait_until};

const BINARY: &str = "/usr/bin/prometheus-alertmanager";

/// Kills Alertmanager when the test ends, pass or fail.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_alertmanager(dir: &Path, app: &TestApp) -> (Guard, String) {
    assert!(
        Path::new(BINARY).exists(),
        "{BINARY} is missing: apt-get install -y prometheus-alertmanager"
    );
    let port = free_port();
    let config = format!(
        r#"route:
  receiver: dutybell
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: dutybell
    webhook_configs:
      - url: http://{addr}/api/v1/integrations/{KEY}/alertmanager
        send_resolved: true
        http_config:
          authorization: {{type: Bearer, credentials: {TOKEN}}}
"#,
        addr = app.addr
    );
    std::fs::write(dir.join("alertmanager.yml"), config).unwrap();
    let log = std::fs::File::create(dir.join("alertmanager.log")).unwrap();
    let child = Command::new(BINARY)
        .arg(format!(
            "--config.file={}",
            dir.join("alertmanager.yml").display()
        ))
        .arg(format!("--storage.path={}", dir.join("am-data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .arg("--log.level=debug")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("starting prometheus-alertmanager");
    (Guard(child), format!("http://127.0.0.1:{port}"))
}

async fn push(client: &reqwest::Client, am: &str, alerts: serde_json::Value) {
    let response = client
        .post(format!("{am}/api/v2/alerts"))
        .json(&alerts)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

#[tokio::test]
async fn a_real_alertmanager_alert_pages_stops_on_ack_and_closes_on_resolve() {
    let app = spawn_app_with(Setup {
        clock: Clock::System,
        engine_loop: true,
        ..Setup::default()
    })
    .await;
    let am_dir = tempfile::tempdir().unwrap();
    let (_guard, am) = start_alertmanager(am_dir.path(), &app);
    let client = reqwest::Client::new();
    let ready = async {
        for _ in 0..200 {
            if let Ok(r) = client.get(format!("{am}/-/ready")).send().await
                && r.status().is_success()
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    };
    assert!(ready.await, "Alertmanager did not become ready");
    let primary = app.engine.config.rotations["primary"]
        .slot_at(Clock::System.now())
        .person;
    let primary = primary.expect("the primary rotation has someone on call");

    let labels = serde_json::json!({ "alertname": "QueueBacklog", "queue": "billing",
                                     "severity": "critical" });
    // Prometheus always sends startsAt; a resolve must carry the same one, or Alertmanager
    // merges it into an older occurrence that dutybell rightly ignores as stale (M1).
    let starts = Clock::System.now() - jiff::SignedDuration::from_mins(1);
    push(
        &client,
        &am,
        serde_json::json!([{ "labels": labels, "startsAt": starts,
        "annotations": { "summary": "billing queue backlog",
                         "runbook_url": "https://runbooks.example.com/queue" } }]),
    )
    .await;

    let paged = wait_until(Duration::from_secs(20), || {
        !app.hooks.hooks().is_empty() && !app.smtp.mails().is_empty()
    })
    .await;
    assert!(
        paged,
        "no page within 20 s; see {}",
        am_dir.path().join("alertmanager.log").display()
    );
    assert_eq!(app.hooks.recipients(), std::slice::from_ref(&primary));
    assert_eq!(app.smtp.recipients(), [format!("{primary}@example.com")]);
    let hook = &app.hooks.hooks()[0];
    assert!(hook.signature_ok);
    assert_eq!(
        hook.body["data"]["alert"]["summary"],
        "billing queue backlog"
    );
    assert_eq!(
        hook.body["data"]["alert"]["runbook_url"],
        "https://runbooks.example.com/queue"
    );
    let mail = &app.smtp.mails()[0].data;
    assert!(mail.contains("billing queue backlog"));
    assert!(mail.contains("https://runbooks.example.com/queue"));
    let alert = app.open_alerts().await.remove(0);
    let id = alert["id"].as_i64().unwrap();
    assert_eq!(alert["severity"], "critical");

    let response = app
        .api_post(
            &format!("/api/v1/alerts/{id}/ack"),
            serde_json::json!({ "by": primary }),
        )
        .await;
    assert_eq!(response.status(), 200);
    // Alertmanager keeps re-sending the group every second; none of it may page again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(app.hooks.hooks().len(), 1, "no further page after the ack");
    assert_eq!(app.smtp.mails().len(), 1);
    assert!(app.alert(id).await["alert"]["next_escalation_at"].is_null());

    let ended = Clock::System.now() - jiff::SignedDuration::from_secs(1);
    push(
        &client,
        &am,
        serde_json::json!([{ "labels": labels, "startsAt": starts,
                                            "endsAt": ended }]),
    )
    .await;
    let mut state = String::new();
    for _ in 0..200 {
        state = app.alert(id).await["alert"]["state"]
            .as_str()
            .unwrap()
            .to_string();
        if state == "resolved" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        state, "resolved",
        "Alertmanager's resolve did not close the alert"
    );
    let alert = app.alert(id).await;
    assert_eq!(alert["alert"]["resolved_by"], "api/alertmanager");
    assert_eq!(app.hooks.hooks().len(), 1);
}
