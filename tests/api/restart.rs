//! Pages survive `kill -9`: a real `dutybell serve` process is killed between the first
//! page and the 15-minute escalation; the restarted process pages the secondary on time.
//! The process reads "now" from a file (`DUTYBELL_CLOCK_FILE`), so the test moves time
//! across the restart without waiting 15 minutes.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::helpers::{
    API_TOKEN, KEY, SmtpSink, TOKEN, WebhookSink, am_body, free_port, wait_until, write_config,
};
use crate::process::{Server, serve, wait_healthy};

fn start(dir: &Path, port: u16, clock: &Path) -> Server {
    let clock = clock.display().to_string();
    let env = [
        ("DUTYBELL_CLOCK_FILE", clock.as_str()),
        ("DUTYBELL_LOG", "info"),
    ];
    serve(dir, port, "dutybell.log", &env)
}

/// Receivers, a config directory, a clock file at t0 and a free port for one process.
struct Fixture {
    smtp: SmtpSink,
    hooks: WebhookSink,
    dir: tempfile::TempDir,
    clock: std::path::PathBuf,
    port: u16,
    client: reqwest::Client,
}

impl Fixture {
    async fn new() -> Fixture {
        let smtp = SmtpSink::start().await;
        let hooks = WebhookSink::start().await;
        let dir = tempfile::tempdir().unwrap();
        write_config(dir.path(), smtp.addr, hooks.addr, None);
        let clock = dir.path().join("now");
        std::fs::write(&clock, "2025-06-12T03:00:00Z").unwrap();
        let client = reqwest::Client::new();
        Fixture {
            smtp,
            hooks,
            dir,
            clock,
            port: free_port(),
            client,
        }
    }
}

/// Waits until alert 1's timeline records `sent` delivered pages.
async fn wait_recorded(client: &reqwest::Client, port: u16, sent: usize) {
    let url = format!("http://127.0.0.1:{port}/api/v1/alerts/1");
    for _ in 0..200 {
        let response = client
            .get(&url)
            .bearer_auth(API_TOKEN)
            .send()
            .await
            .unwrap();
        let alert: serde_json::Value = response.json().await.unwrap();
        let timeline = alert["timeline"].as_array().cloned().unwrap_or_default();
        if timeline
            .iter()
            .filter(|e| e["kind"] == "notification_sent")
            .count()
            >= sent
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the first pages were never recorded as sent");
}

#[tokio::test]
async fn a_killed_process_still_pages_the_secondary_on_time() {
    let Fixture {
        smtp,
        hooks,
        dir,
        clock,
        port,
        client,
    } = Fixture::new().await;

    let mut server = start(dir.path(), port, &clock);
    wait_healthy(&client, port).await;
    let url = format!("http://127.0.0.1:{port}/api/v1/integrations/{KEY}/alertmanager");
    let body = am_body("DiskFull", &[("firing", "2025-06-12T02:59:30Z")]);
    let response = client
        .post(&url)
        .bearer_auth(TOKEN)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    assert!(wait_until(Duration::from_secs(10), || hooks.recipients() == ["ben"]).await);
    // Delivery is at-least-once: a kill between a send and its record repeats that send.
    // Kill only once both first pages are recorded, so the count below is exact.
    wait_recorded(&client, port, 2).await;

    std::fs::write(&clock, "2025-06-12T03:10:00Z").unwrap();
    server.kill(); // SIGKILL: no shutdown path runs
    std::fs::write(&clock, "2025-06-12T03:14:00Z").unwrap();
    let _server = start(dir.path(), port, &clock);
    wait_healthy(&client, port).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(hooks.recipients(), ["ben"], "not before the due time");

    std::fs::write(&clock, "2025-06-12T03:15:00Z").unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || hooks.recipients()
            == ["ben", "dara"])
        .await,
        "secondary not paged after restart: {:?}",
        hooks.recipients()
    );
    assert_eq!(
        hooks.hooks()[1].body["occurred_at"],
        "2025-06-12T03:15:00Z",
        "on time"
    );
    wait_recorded(&client, port, 4).await;
    assert_eq!(smtp.recipients(), ["ben@example.com", "dara@example.com"]);
}

#[tokio::test]
async fn sigterm_drains_and_exits_cleanly() {
    let Fixture {
        dir,
        clock,
        port,
        client,
        ..
    } = Fixture::new().await;
    let mut server = start(dir.path(), port, &clock);
    wait_healthy(&client, port).await;

    let pid = server.0.id().to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(sent.success());
    let mut status = None;
    for _ in 0..100 {
        status = server.0.try_wait().unwrap();
        if status.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let status = status.expect("dutybell did not exit within 5 s of SIGTERM");
    assert!(status.success(), "exit status {status}");
    let log = std::fs::read_to_string(dir.path().join("dutybell.log")).unwrap();
    assert!(
        log.contains("shutting down") && log.contains("stopped"),
        "{log}"
    );
}
