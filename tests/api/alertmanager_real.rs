//! End to end with the real Prometheus Alertmanager (Debian `prometheus-alertmanager`):
//! an alert pushed into Alertmanager's API reaches dutybell as a webhook, pages the person
//! on call by email and signed webhook, stops on ack, and closes when Alertmanager sends
//! the resolve.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use dutybell::clock::Clock;

use crate::helpers::{KEY, PD_KEY, Setup, TOKEN, TestApp, free_port, spawn_app_with, wait_until};

const BINARY: &str = "/usr/bin/prometheus-alertmanager";

/// Kills Alertmanager when the test ends, pass or fail.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The receiver config sending to dutybell's Alertmanager webhook endpoint.
fn webhook_receiver(app: &TestApp) -> String {
    format!(
        r#"    webhook_configs:
      - url: http://{addr}/api/v1/integrations/{KEY}/alertmanager
        send_resolved: true
        http_config:
          authorization: {{type: Bearer, credentials: {TOKEN}}}
"#,
        addr = app.addr
    )
}

/// The receiver config using Alertmanager's PagerDuty notifier against `/v2/enqueue`.
fn pagerduty_receiver(app: &TestApp) -> String {
    format!(
        r#"    pagerduty_configs:
      - url: http://{addr}/v2/enqueue
        routing_key: {PD_KEY}
        send_resolved: true
"#,
        addr = app.addr
    )
}

/// Starts Alertmanager and waits until it is ready; returns its guard and base URL.
async fn alertmanager(dir: &Path, receiver: &str) -> (Guard, String) {
    let (guard, am) = start_alertmanager(dir, receiver);
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if let Ok(r) = client.get(format!("{am}/-/ready")).send().await
            && r.status().is_success()
        {
            return (guard, am);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("Alertmanager did not become ready");
}

fn start_alertmanager(dir: &Path, receiver: &str) -> (Guard, String) {
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
{receiver}"#
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

/// Ends the occurrence that started at `starts` a second ago, as Prometheus would.
async fn resolve_in_alertmanager(
    client: &reqwest::Client,
    am: &str,
    labels: &serde_json::Value,
    starts: jiff::Timestamp,
) {
    let ended = Clock::System.now() - jiff::SignedDuration::from_secs(1);
    let alert = serde_json::json!([{ "labels": labels, "startsAt": starts, "endsAt": ended }]);
    push(client, am, alert).await;
}

/// Polls the alert for up to 20 s until it is resolved.
async fn wait_for_resolved(app: &TestApp, id: i64) -> bool {
    for _ in 0..200 {
        if app.alert(id).await["alert"]["state"] == "resolved" {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
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
    let (_guard, am) = alertmanager(am_dir.path(), &webhook_receiver(&app)).await;
    let client = reqwest::Client::new();
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

    resolve_in_alertmanager(&client, &am, &labels, starts).await;
    assert!(
        wait_for_resolved(&app, id).await,
        "Alertmanager's resolve did not close the alert"
    );
    let alert = app.alert(id).await;
    assert_eq!(alert["alert"]["resolved_by"], "api/alertmanager");
    assert_eq!(app.hooks.hooks().len(), 1);
}

#[tokio::test]
async fn alertmanagers_pagerduty_notifier_works_by_changing_only_the_url() {
    let app = spawn_app_with(Setup {
        clock: Clock::System,
        engine_loop: true,
        ..Setup::default()
    })
    .await;
    let am_dir = tempfile::tempdir().unwrap();
    let (_guard, am) = alertmanager(am_dir.path(), &pagerduty_receiver(&app)).await;
    let client = reqwest::Client::new();
    let labels = serde_json::json!({ "alertname": "QueueBacklog", "queue": "billing" });
    let starts = Clock::System.now() - jiff::SignedDuration::from_mins(1);

    push(
        &client,
        &am,
        serde_json::json!([{ "labels": labels, "startsAt": starts,
        "annotations": { "summary": "billing queue backlog" } }]),
    )
    .await;
    let paged = wait_until(Duration::from_secs(20), || !app.hooks.hooks().is_empty()).await;
    assert!(
        paged,
        "no page within 20 s; see {}",
        am_dir.path().join("alertmanager.log").display()
    );

    let alert = app.open_alerts().await.remove(0);
    assert_eq!(alert["service_id"], "checkout");
    assert_eq!(
        alert["dedup_key"], "bbbd37304c1946a7f5cca9b4f1eb9618dc8747459ba0488e94de0dc9be40b8a8",
        "Alertmanager's PagerDuty dedup_key for the group (intake spec §6)"
    );
    let id = alert["id"].as_i64().unwrap();

    resolve_in_alertmanager(&client, &am, &labels, starts).await;
    assert!(
        wait_for_resolved(&app, id).await,
        "the notifier's resolve event did not close the alert"
    );
    assert_eq!(app.hooks.hooks().len(), 1, "one page for the whole episode");
}
