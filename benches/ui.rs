//! Web UI render benchmark (issue #7): how long the server takes to answer each page of
//! the web UI when the database holds a year of history. The aim is under 50 ms a page.
//!
//! Run with `cargo bench --bench ui`. Everything binds 127.0.0.1 and talks only to the
//! server this binary starts (and a local webhook sink that takes its pages). The history
//! is made through the real API on a driven clock, one simulated day at a time: alerts
//! that fire, page, get acked and resolved, and incidents that are declared, move through
//! their states, collect notes and resolve. Sizes come from the environment:
//!
//! - `DUTYBELL_BENCH_DAYS` [365]: days of history.
//! - `DUTYBELL_BENCH_ALERTS_PER_DAY` [8]: alerts a day, spread over three services.
//! - `DUTYBELL_BENCH_INCIDENTS_PER_WEEK` [2]: incidents a week.
//! - `DUTYBELL_BENCH_REQUESTS` [50]: timed requests per page, after 5 warm-up ones.
//!
//! Timing is the wall time of each request on a keep-alive connection over loopback, so
//! it includes the HTTP round trip; it is what a person's browser would wait for, minus
//! the network.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use dutybell::app::{App, Options};
use dutybell::clock::Clock;
use dutybell::config::{self, Overrides, raw::Env, secrets::Secrets};
use dutybell::domain::accounts::{self, Role};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;

/// Integration keys, one per service.
const KEYS: [(&str, &str); 3] = [
    ("api", "bench0ui0key00000000000000000001"),
    ("web", "bench0ui0key00000000000000000002"),
    ("db", "bench0ui0key00000000000000000003"),
];
const API_TOKEN: &str = "bench-ui-api-token-0123456789abcd";
const PASSWORD: &str = "bench-password-0123";

fn knob<T: FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// A local receiver that takes every page with 200, so pages are recorded as sent.
async fn webhook_sink() -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let router = axum::Router::new().fallback(|| async { "ok" });
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(addr)
}

fn write_config(dir: &std::path::Path, sink: SocketAddr) -> anyhow::Result<()> {
    let mut team = String::new();
    for id in ["ana", "ben", "chen", "dara"] {
        team.push_str(&format!(
            "[[person]]\nid = \"{id}\"\nname = \"{id} name\"\ntime_zone = \"Europe/Madrid\"\n\
             contact = [{{ kind = \"webhook\", url = \"http://{sink}/{id}\", \
             secret_env = \"HOOK_SECRET\" }}]\n\n"
        ));
    }
    let oncall = "[[rotation]]\nid = \"primary\"\nkind = \"weekly\"\nshift_length = 1\n\
                  start = \"2025-06-02T10:00\"\ntime_zone = \"Europe/Madrid\"\n\
                  people = [\"ana\", \"ben\", \"chen\", \"dara\"]\n\n\
                  [[schedule]]\nid = \"primary\"\ntime_zone = \"Europe/Madrid\"\n\
                  rules = [{ days = \"all\", from = \"00:00\", to = \"00:00\", \
                  target = \"rotation:primary\" }]\n\n[[escalation]]\nid = \"default\"\n\
                  steps = [{ targets = [\"schedule:primary\"], after = \"15m\" }]\n";
    let mut services = String::new();
    for id in ["api", "web", "db"] {
        services.push_str(&format!(
            "[[service]]\nid = \"{id}\"\nname = \"{id} service\"\nescalation = \"default\"\n\
             integrations = [{{ kind = \"generic\", key_env = \"KEY_{}\" }}]\n\n",
            id.to_uppercase()
        ));
    }
    let files = [
        ("team.toml", team.as_str()),
        ("oncall.toml", oncall),
        ("services.toml", services.as_str()),
    ];
    for (name, text) in files {
        std::fs::write(dir.join(name), text).with_context(|| format!("writing {name}"))?;
    }
    Ok(())
}

struct Bench {
    app_addr: SocketAddr,
    clock: Clock,
    client: reqwest::Client,
    state: dutybell::http::AppState,
    engine: dutybell::engine::Engine,
}

impl Bench {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.app_addr)
    }

    async fn post(&self, path: &str, body: serde_json::Value) -> anyhow::Result<serde_json::Value> {
        let response = self
            .client
            .post(self.url(path))
            .bearer_auth(API_TOKEN)
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        anyhow::ensure!(status.is_success(), "POST {path}: {status} {body}");
        Ok(body)
    }

    async fn pass(&self) -> anyhow::Result<()> {
        self.engine.run_once(self.clock.now()).await?;
        Ok(())
    }
}

/// Fires, pages, acks and resolves one alert on `service` at the clock's instant; leaves
/// it open when `open`.
async fn one_alert(bench: &Bench, service: &str, n: usize, open: bool) -> anyhow::Result<i64> {
    let key = KEYS
        .iter()
        .find(|(id, _)| *id == service)
        .map_or(KEYS[0].1, |(_, key)| key);
    let path = format!("/api/v1/integrations/{key}/generic");
    let body = json!({"summary": format!("{service}: error rate high on shard {}", n % 17),
                      "dedup_key": format!("{service}-{n}"), "severity": "critical",
                      "labels": {"alertname": format!("HighErrorRate{}", n % 5)}});
    let answer = bench.post(&path, body).await?;
    // Generic JSON is an event format: one result per event, each naming its alert.
    let id = answer["results"][0]["alert_id"]
        .as_i64()
        .with_context(|| format!("no alert id in {answer}"))?;
    bench.pass().await?;
    if open {
        return Ok(id);
    }
    bench.clock.advance(SignedDuration::from_mins(4));
    bench
        .post(&format!("/api/v1/alerts/{id}/ack"), json!({"by": "ana"}))
        .await?;
    bench.clock.advance(SignedDuration::from_mins(20));
    bench
        .post(
            &format!("/api/v1/alerts/{id}/resolve"),
            json!({"by": "ana"}),
        )
        .await?;
    Ok(id)
}

/// Declares an incident, moves it through its states with notes and updates, resolves it.
async fn one_incident(bench: &Bench, n: usize) -> anyhow::Result<i64> {
    let declared = bench
        .post(
            "/api/v1/incidents",
            json!({"title": format!("Checkout errors #{n}"), "severity": "P2",
                   "services": ["api"], "by": "ben", "page": false}),
        )
        .await?;
    let number = declared["incident"]["number"]
        .as_i64()
        .or_else(|| declared["number"].as_i64())
        .context("incident number")?;
    for (minutes, status) in [(10, "identified"), (25, "monitoring")] {
        bench.clock.advance(SignedDuration::from_mins(minutes));
        bench
            .post(
                &format!("/api/v1/incidents/{number}/status"),
                json!({"status": status, "by": "ben"}),
            )
            .await?;
        bench
            .post(
                &format!("/api/v1/incidents/{number}/notes"),
                json!({"text": format!("Looked at shard {n}; {status}."), "by": "ana"}),
            )
            .await?;
        bench
            .post(
                &format!("/api/v1/incidents/{number}/updates"),
                json!({"text": "Still on it; next update in 30 minutes.", "by": "ben"}),
            )
            .await?;
    }
    bench.clock.advance(SignedDuration::from_mins(30));
    bench
        .post(
            &format!("/api/v1/incidents/{number}/status"),
            json!({"status": "resolved", "by": "ben"}),
        )
        .await?;
    Ok(number)
}

/// Logs in through the form as an admin; the session cookie.
async fn sign_in(bench: &Bench) -> anyhow::Result<String> {
    let hash = accounts::hash_password(PASSWORD, [7; 16]).context("hashing")?;
    dutybell::store::accounts::add_user(
        &bench.state.store,
        "admin",
        &hash,
        Role::Admin,
        Some("ana"),
        bench.clock.now(),
    )
    .await?;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let form = client.get(bench.url("/login")).send().await?;
    let nonce = cookie(&form, "dutybell_login").context("login cookie")?;
    let page = form.text().await?;
    let marker = r#"name="csrf" value=""#;
    let start = page.find(marker).context("csrf field")? + marker.len();
    let csrf = page[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_string();
    let answer = client
        .post(bench.url("/login"))
        .header("cookie", format!("dutybell_login={nonce}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("login", "admin"),
            ("password", PASSWORD),
        ])
        .send()
        .await?;
    let session = cookie(&answer, "dutybell_session").context("session cookie")?;
    Ok(format!("dutybell_session={session}"))
}

fn cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .map(String::from)
}

/// Median, p95 and worst of `samples`, in milliseconds.
fn summary(mut samples: Vec<Duration>) -> (f64, f64, f64) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        ms(samples[i.min(samples.len() - 1)])
    };
    (
        at(0.5),
        at(0.95),
        ms(*samples.last().unwrap_or(&Duration::ZERO)),
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let days: i64 = knob("DUTYBELL_BENCH_DAYS", 365);
    let per_day: usize = knob("DUTYBELL_BENCH_ALERTS_PER_DAY", 8);
    let per_week: usize = knob("DUTYBELL_BENCH_INCIDENTS_PER_WEEK", 2);
    let requests: usize = knob("DUTYBELL_BENCH_REQUESTS", 50);

    let sink = webhook_sink().await?;
    let dir = tempfile::tempdir()?;
    write_config(dir.path(), sink)?;
    let env: Env = [
        ("KEY_API", KEYS[0].1),
        ("KEY_WEB", KEYS[1].1),
        ("KEY_DB", KEYS[2].1),
        ("DUTYBELL_API_TOKEN", API_TOKEN),
        (
            "HOOK_SECRET",
            "bench-hook-secret-0123456789abcdef0123456789",
        ),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .into();
    let overrides = Overrides {
        listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        data_dir: Some(dir.path().join("data")),
        ..Overrides::default()
    };
    let config = config::load_with(dir.path(), &overrides, &env, &mut Secrets::default())?;
    let end: Timestamp = "2026-11-30T08:00:00Z".parse()?;
    let clock = Clock::manual(end - SignedDuration::from_hours(24 * days));
    let options = Options {
        clock: clock.clone(),
        engine: false,
    };
    let app = App::build(config, options).await?;
    let bench = Bench {
        app_addr: app.addr(),
        clock: clock.clone(),
        client: reqwest::Client::new(),
        state: app.state().clone(),
        engine: app.engine().clone(),
    };
    tokio::spawn(app.run_until_stopped(std::future::pending()));

    let seeding = Instant::now();
    let services = ["api", "web", "db"];
    let (mut alerts, mut incidents, mut n) = (Vec::new(), Vec::new(), 0usize);
    for day in 0..days {
        let day_start = end - SignedDuration::from_hours(24 * (days - day));
        for i in 0..per_day {
            let at = day_start + SignedDuration::from_mins((i as i64) * 24 * 60 / per_day as i64);
            bench.clock.set(at);
            let open = day == days - 1 && i + 3 >= per_day;
            alerts.push(one_alert(&bench, services[n % 3], n, open).await?);
            n += 1;
        }
        if per_week > 0 && day % (7 / per_week.min(7) as i64).max(1) == 0 {
            bench.clock.set(day_start + SignedDuration::from_hours(14));
            incidents.push(one_incident(&bench, incidents.len()).await?);
        }
    }
    bench.clock.set(end);
    bench.pass().await?;
    println!(
        "history: {} days, {} alerts, {} incidents, made in {:.1} s",
        days,
        alerts.len(),
        incidents.len(),
        seeding.elapsed().as_secs_f64()
    );

    let session = sign_in(&bench).await?;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(1)
        .build()?;
    let newest_alert = alerts.last().copied().unwrap_or(1);
    let oldest_alert = alerts.first().copied().unwrap_or(1);
    let newest_incident = incidents.last().copied().unwrap_or(1);
    let month = bench.clock.now().strftime("%Y-%m").to_string();
    let pages = [
        "/ui".to_string(),
        format!("/ui/alerts/{newest_alert}"),
        format!("/ui/alerts/{oldest_alert}"),
        format!("/ui/incidents/{newest_incident}"),
        format!("/ui/incidents/{newest_incident}/postmortem"),
        format!("/ui/schedules/primary?month={month}"),
        "/ui/services".to_string(),
        "/ui/reports?days=30".to_string(),
        "/ui/reports?days=365".to_string(),
        "/ui/actions".to_string(),
        "/ui/status".to_string(),
    ];
    println!(
        "{:<45} {:>9} {:>9} {:>9}",
        "page", "p50 ms", "p95 ms", "max ms"
    );
    for path in pages {
        let get = || {
            client
                .get(bench.url(&path))
                .header("cookie", &session)
                .send()
        };
        let first = get().await?;
        if !first.status().is_success() {
            println!("{path:<45} skipped: {}", first.status());
            continue;
        }
        first.bytes().await?;
        for _ in 0..4 {
            get().await?.bytes().await?;
        }
        let mut samples = Vec::with_capacity(requests);
        for _ in 0..requests {
            let started = Instant::now();
            let response = get().await?;
            let body = response.bytes().await?;
            samples.push(started.elapsed());
            anyhow::ensure!(!body.is_empty(), "{path}: empty page");
        }
        let (p50, p95, max) = summary(samples);
        println!("{path:<45} {p50:>9.2} {p95:>9.2} {max:>9.2}");
    }
    drop(dir);
    Ok(())
}
