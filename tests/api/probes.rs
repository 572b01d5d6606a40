//! Built-in probes (issue #9) against servers these tests start on 127.0.0.1: a flapping
//! HTTP server, a slow one, a TCP listener that closes, a TLS server whose self-signed
//! certificate expires in five days, and `localhost` for DNS. Probe passes are driven with
//! the manual clock through `ProbeRunner::run_once`; nothing sleeps.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use dutybell::domain::probe::start_offset;
use dutybell::engine::probes::ProbeRunner;
use jiff::{SignedDuration, Timestamp};
use tokio::net::TcpListener;

use crate::helpers::{HttpFake, Setup, TestApp, spawn_app_with, t0};

const MINUTE: SignedDuration = SignedDuration::from_secs(60);

const STATUSPAGE: &str = r#"
[page]
name = "Probe Status"
time_zone = "UTC"

[[component]]
id = "api"
name = "Public API"
"#;

/// An app whose config dir has `probes` as `probes.toml`, and a runner over it.
async fn spawn_with_probes(probes: &str) -> (TestApp, ProbeRunner) {
    let setup = Setup {
        statuspage: STATUSPAGE.to_string(),
        ..Setup::default()
    };
    let app = spawn_app_with(setup).await;
    let clock = app.clock.clone();
    let app = app
        .restart(clock, |dir| {
            std::fs::write(dir.join("probes.toml"), probes).unwrap();
        })
        .await;
    let runner = ProbeRunner::new(app.engine.clone()).unwrap();
    (app, runner)
}

/// Moves the clock to `at` and runs the probes due then; returns the next due time.
async fn pass_at(app: &TestApp, runner: &ProbeRunner, at: Timestamp) -> Timestamp {
    app.clock.set(at);
    runner.run_once(at).await.unwrap().unwrap()
}

async fn all_alerts(app: &TestApp) -> Vec<serde_json::Value> {
    let list = app.api_get("/api/v1/alerts?all=true").await;
    list.as_array().unwrap().clone()
}

/// The component's status as `/api/v2/components.json` shows it.
async fn component_status(app: &TestApp) -> String {
    let body: serde_json::Value = app
        .client
        .get(app.url("/api/v2/components.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let components = body["components"].as_array().unwrap();
    let api = components
        .iter()
        .find(|c| c["name"] == "Public API")
        .unwrap();
    api["status"].as_str().unwrap().to_string()
}

/// The tooltip of today's uptime bar on the HTML page.
async fn todays_bar(app: &TestApp) -> String {
    let engine = &app.engine;
    (engine.statuspage)
        .changed(&engine.store, &engine.config, app.clock.now())
        .await;
    let html = app
        .client
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = "title=\"2025-06-12: ";
    let start = html.find(marker).expect("no bar for 2025-06-12") + "title=\"".len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end]
        .replace("&#183;", "·")
        .replace("&middot;", "·")
}

#[tokio::test]
async fn flapping_http_target_opens_at_the_third_failure_and_resolves_at_the_second_success() {
    let fake = HttpFake::start().await;
    fake.reply(200, &[], "ok");
    for _ in 0..4 {
        fake.reply(500, &[], "boom");
    }
    let probes = format!(
        "[[probe]]\nid = \"flappy\"\nservice = \"api\"\nkind = \"http\"\n\
         url = \"http://{}/healthz\"\nexpect_status = 200\nbody_contains = \"ok\"\n\
         component = \"api\"\n",
        fake.addr
    );
    let (app, runner) = spawn_with_probes(&probes).await;
    assert_eq!(start_offset("flappy", MINUTE), SignedDuration::from_secs(1));

    // The first pass only schedules: the probe's slot is 1 s into its minute.
    let first = runner.run_once(t0()).await.unwrap().unwrap();
    assert_eq!(first, t0() + SignedDuration::from_secs(1));
    assert!(fake.requests().is_empty());

    let mut at = first;
    let mut open_after = Vec::new();
    let mut status_after = Vec::new();
    for _ in 0..8 {
        at = pass_at(&app, &runner, at).await;
        let alerts = all_alerts(&app).await;
        let states: Vec<String> = alerts
            .iter()
            .map(|a| a["state"].as_str().unwrap().to_string())
            .collect();
        open_after.push(states);
        status_after.push(component_status(&app).await);
    }

    // Runs: 200, 500, 500, 500, 500, 200, 200, 200.
    let triggered = vec!["triggered".to_string()];
    let resolved = vec!["resolved".to_string()];
    assert_eq!(
        open_after,
        vec![
            vec![],
            vec![],
            vec![],
            triggered.clone(),
            triggered.clone(),
            triggered,
            resolved.clone(),
            resolved,
        ]
    );
    assert_eq!(
        status_after,
        [
            "operational",
            "operational",
            "operational",
            "major_outage",
            "major_outage",
            "major_outage",
            "operational",
            "operational",
        ]
    );
    assert_eq!(fake.requests().len(), 8);
    assert!(fake.requests().iter().all(|r| r.uri == "/healthz"));

    let alert = &all_alerts(&app).await[0];
    assert_eq!(alert["integration_id"], "probe");
    assert_eq!(alert["dedup_key"], "probe:flappy");
    assert_eq!(alert["service_id"], "api");
    assert_eq!(alert["severity"], "critical");
    assert_eq!(
        alert["summary"],
        "Probe flappy is down: status 500, expected 200 (3 failures in a row)"
    );
    let opened = t0() + SignedDuration::from_secs(1 + 3 * 60);
    let recovered = t0() + SignedDuration::from_secs(1 + 6 * 60);
    assert_eq!(alert["created_at"], opened.to_string());
    assert_eq!(alert["resolved_at"], recovered.to_string());
    let kinds = app.timeline_kinds(alert["id"].as_i64().unwrap()).await;
    assert_eq!(kinds.first().map(String::as_str), Some("created"));
    assert!(kinds.iter().any(|k| k == "resolved"), "{kinds:?}");

    // Uptime from history: 4 of 8 runs passed. The page counts time: from t0 to the last
    // run (7 min 1 s) the component was down 3 min → 241 / 421 s = 57.24 % (rounded down);
    // the 3 hours before t0, when the component did not exist yet, are no data.
    let day = (
        Timestamp::from_second(t0().as_second() - 3 * 3600).unwrap(),
        at,
    );
    let uptime = dutybell::store::probes::uptime(&app.store, "flappy", day.0, day.1)
        .await
        .unwrap();
    assert_eq!((uptime.runs, uptime.up, uptime.down), (8, 4, 4));
    assert_eq!(uptime.percent, Some(50.0));
    assert_eq!(
        todays_bar(&app).await,
        "2025-06-12: 57.24 % uptime · down 3 min · no data 180 min"
    );
}

/// Answers `/` with 200 "ok", after 1.5 s while `slow` is set.
async fn slow_server(slow: Arc<AtomicBool>) -> SocketAddr {
    let router = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let slow = slow.clone();
            async move {
                if slow.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                }
                "ok"
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

#[tokio::test]
async fn slow_http_target_degrades_the_component_without_paging() {
    let slow = Arc::new(AtomicBool::new(true));
    let addr = slow_server(slow.clone()).await;
    let probes = format!(
        "[[probe]]\nid = \"sluggish\"\nservice = \"api\"\nkind = \"http\"\n\
         url = \"http://{addr}/\"\nmax_latency = \"500ms\"\ntimeout = \"5s\"\n\
         down_after = 2\nup_after = 2\ninterval = \"30s\"\ncomponent = \"api\"\n"
    );
    let (app, runner) = spawn_with_probes(&probes).await;
    let mut at = runner.run_once(t0()).await.unwrap().unwrap();

    at = pass_at(&app, &runner, at).await;
    let after_one = component_status(&app).await;
    at = pass_at(&app, &runner, at).await;
    let after_two = component_status(&app).await;
    slow.store(false, Ordering::SeqCst);
    at = pass_at(&app, &runner, at).await;
    let after_one_fast = component_status(&app).await;
    let end = pass_at(&app, &runner, at).await;
    let after_two_fast = component_status(&app).await;

    assert_eq!(after_one, "operational");
    assert_eq!(after_two, "degraded_performance");
    assert_eq!(after_one_fast, "degraded_performance");
    assert_eq!(after_two_fast, "operational");
    assert_eq!(all_alerts(&app).await, Vec::<serde_json::Value>::new());
    let uptime = dutybell::store::probes::uptime(&app.store, "sluggish", t0(), end)
        .await
        .unwrap();
    assert_eq!((uptime.runs, uptime.slow, uptime.up), (4, 2, 2));
    assert_eq!(uptime.percent, Some(100.0));
}

#[tokio::test]
async fn closed_tcp_port_goes_down_and_a_silence_is_no_data() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let probes = format!(
        "[[probe]]\nid = \"db\"\nservice = \"api\"\nkind = \"tcp\"\nhost = \"127.0.0.1\"\n\
         port = {port}\ncomponent = \"api\"\n"
    );
    let (app, runner) = spawn_with_probes(&probes).await;
    let offset = start_offset("db", MINUTE);
    let mut at = runner.run_once(t0()).await.unwrap().unwrap();
    assert_eq!(at, t0() + offset);

    at = pass_at(&app, &runner, at).await;
    drop(listener);
    for _ in 0..3 {
        at = pass_at(&app, &runner, at).await;
    }
    let down = all_alerts(&app).await;
    // The probe runner stops for ten minutes, then runs again.
    let late = at + SignedDuration::from_mins(10);
    let next = pass_at(&app, &runner, late).await;

    assert_eq!(down.len(), 1);
    assert_eq!(down[0]["state"], "triggered");
    assert!(
        down[0]["summary"]
            .as_str()
            .unwrap()
            .starts_with("Probe db is down: connect: "),
        "{}",
        down[0]["summary"]
    );
    assert_eq!(component_status(&app).await, "major_outage");
    assert_eq!(next, late + MINUTE);
    // Down since the third failure, but the only down time is the silence after it: the
    // next run came 11 min later (more than two intervals), so it is no data, as are the
    // 180 min before t0. Up time alone counts: 100 %.
    let bar = todays_bar(&app).await;
    assert_eq!(bar, "2025-06-12: 100.00 % uptime · no data 191 min");
}

/// A TLS server on 127.0.0.1 with a self-signed `localhost` certificate valid from
/// 2025-06-01 to 2025-06-17 (five days after `t0`).
async fn tls_server() -> SocketAddr {
    use tokio_rustls::rustls;
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2025, 6, 1);
    params.not_after = rcgen::date_time_ymd(2025, 6, 17);
    let cert = params.self_signed(&key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let private = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], private)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = acceptor.accept(stream).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn certificate_expiring_soon_warns_and_an_expired_one_is_down() {
    let addr = tls_server().await;
    let probes = format!(
        "[[probe]]\nid = \"cert\"\nservice = \"api\"\nkind = \"tls\"\nhost = \"localhost\"\n\
         port = {}\nwarn_days = 7\ndown_after = 1\nup_after = 1\ncomponent = \"api\"\n",
        addr.port()
    );
    let (app, runner) = spawn_with_probes(&probes).await;
    let at = runner.run_once(t0()).await.unwrap().unwrap();

    pass_at(&app, &runner, at).await;
    let warned = all_alerts(&app).await;
    let status_while_warned = component_status(&app).await;
    // Past notAfter the same certificate is an outage.
    let expired_at: Timestamp = "2025-06-17T12:00:00Z".parse().unwrap();
    pass_at(&app, &runner, expired_at).await;
    let expired = all_alerts(&app).await;

    assert_eq!(warned.len(), 1);
    assert_eq!(warned[0]["dedup_key"], "probe:cert:certificate");
    assert_eq!(warned[0]["severity"], "warning");
    assert_eq!(
        warned[0]["summary"],
        "Probe cert: the TLS certificate expires at 2025-06-17T00:00:00Z"
    );
    assert_eq!(status_while_warned, "operational");
    let outage: Vec<&serde_json::Value> = expired
        .iter()
        .filter(|a| a["dedup_key"] == "probe:cert")
        .collect();
    assert_eq!(outage.len(), 1);
    assert_eq!(outage[0]["severity"], "critical");
    assert_eq!(
        outage[0]["summary"],
        "Probe cert is down: the certificate expired at 2025-06-17T00:00:00Z \
         (1 failures in a row)"
    );
    assert_eq!(component_status(&app).await, "major_outage");
}

#[tokio::test]
async fn dns_probe_resolves_localhost_and_fails_on_an_unexpected_address() {
    let probes = "[[probe]]\nid = \"dns-ok\"\nservice = \"api\"\nkind = \"dns\"\n\
                  name = \"localhost\"\nexpect_address = \"127.0.0.1\"\ndown_after = 1\n\n\
                  [[probe]]\nid = \"dns-wrong\"\nservice = \"api\"\nkind = \"dns\"\n\
                  name = \"localhost\"\nexpect_address = \"127.0.0.9\"\ndown_after = 1\n";
    let (app, runner) = spawn_with_probes(probes).await;
    runner.run_once(t0()).await.unwrap();

    // Both run within their first minute.
    pass_at(&app, &runner, t0() + MINUTE).await;
    let states = dutybell::store::probes::states(&app.store).await.unwrap();
    let alerts = all_alerts(&app).await;

    assert_eq!(
        states["dns-ok"].last_result,
        Some(dutybell::domain::probe::Health::Up)
    );
    assert_eq!(
        states["dns-wrong"].last_result,
        Some(dutybell::domain::probe::Health::Down)
    );
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["dedup_key"], "probe:dns-wrong");
}

#[tokio::test]
async fn streaks_and_due_times_survive_a_restart() {
    let fake = HttpFake::start().await;
    for _ in 0..3 {
        fake.reply(503, &[], "down");
    }
    let probes = format!(
        "[[probe]]\nid = \"flappy\"\nservice = \"api\"\nkind = \"http\"\n\
         url = \"http://{}/\"\n",
        fake.addr
    );
    let (app, runner) = spawn_with_probes(&probes).await;
    let mut at = runner.run_once(t0()).await.unwrap().unwrap();
    for _ in 0..2 {
        at = pass_at(&app, &runner, at).await;
    }
    let before_restart = all_alerts(&app).await;

    let clock = app.clock.clone();
    let app = app.restart(clock, |_| {}).await;
    let runner = ProbeRunner::new(app.engine.clone()).unwrap();
    // The stored due time holds: nothing runs before it.
    let early = runner.run_once(at - SignedDuration::from_secs(1)).await;
    let requests_before_due = fake.requests().len();
    pass_at(&app, &runner, at).await;
    let after_third = all_alerts(&app).await;

    assert_eq!(before_restart, Vec::<serde_json::Value>::new());
    assert_eq!(early.unwrap(), Some(at));
    assert_eq!(requests_before_due, 2);
    assert_eq!(after_third.len(), 1);
    assert_eq!(after_third[0]["dedup_key"], "probe:flappy");
    assert_eq!(
        after_third[0]["summary"],
        "Probe flappy is down: status 503, expected 2xx (3 failures in a row)"
    );
}

#[tokio::test]
async fn probes_api_lists_health_streaks_and_run_uptime() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let probes = format!(
        "[[probe]]\nid = \"db\"\nservice = \"api\"\nkind = \"tcp\"\nhost = \"127.0.0.1\"\n\
         port = {port}\ndown_after = 2\n\n\
         [[probe]]\nid = \"later\"\nservice = \"api\"\nkind = \"dns\"\nname = \"localhost\"\n\
         interval = \"1h\"\n"
    );
    let (app, runner) = spawn_with_probes(&probes).await;
    runner.run_once(t0()).await.unwrap();
    // "db" runs at +11 s, +71 s and +131 s; "later" first at +153 s, after all of them.
    let mut at = t0() + SignedDuration::from_secs(11);
    at = pass_at(&app, &runner, at).await;
    drop(listener);
    at = pass_at(&app, &runner, at).await;
    let next = pass_at(&app, &runner, at).await;

    let list = app.api_get("/api/v1/probes").await;
    let unauthorized = app
        .client
        .get(app.url("/api/v1/probes"))
        .send()
        .await
        .unwrap()
        .status();

    assert_eq!(unauthorized, 401);
    assert_eq!(next, t0() + SignedDuration::from_secs(153));
    let db = &list[0];
    assert_eq!(db["id"], "db");
    assert_eq!(db["kind"], "tcp");
    assert_eq!(db["target"], format!("127.0.0.1:{port}"));
    assert_eq!(db["interval_s"], 60);
    assert_eq!(db["health"], "down");
    assert_eq!(db["failures"], 2);
    assert_eq!(db["last_result"], "down");
    assert_eq!(db["last_at"], at.to_string());
    assert_eq!(db["next_due"], (at + MINUTE).to_string());
    assert_eq!(
        db["uptime"]["24h"],
        serde_json::json!({"runs": 3, "up": 1, "slow": 0, "down": 2, "percent": 33.33})
    );
    let later = &list[1];
    assert_eq!(later["id"], "later");
    assert_eq!(later["health"], serde_json::Value::Null);
    assert_eq!(later["uptime"]["7d"]["runs"], 0);
    assert_eq!(later["uptime"]["7d"]["percent"], serde_json::Value::Null);
}
