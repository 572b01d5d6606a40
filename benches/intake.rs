//! Intake benchmark (issue #2): durable Alertmanager intake throughput, and the latency from
//! an alert's intake request to its first page, through the real HTTP endpoint on embedded
//! SQLite (a file in a temp dir, WAL mode, as in production).
//!
//! Run with `cargo bench --bench intake`. Everything binds 127.0.0.1 and only talks to
//! servers this binary starts. Sizes come from the environment (default in brackets):
//!
//! - `DUTYBELL_BENCH_ALERTS` [10000]: deliveries that each open a new group; the update and
//!   re-send phases send half as many.
//! - `DUTYBELL_BENCH_CONCURRENCY` [32]: intake requests in flight.
//! - `DUTYBELL_BENCH_PHASE_SECS` [10]: time cap of each throughput phase.
//! - `DUTYBELL_BENCH_LATENCY_ALERTS` [1000]: alerts in each latency run (steady, burst).
//! - `DUTYBELL_BENCH_STEADY_RATE` [200]: alerts per second of the steady latency run.
//! - `DUTYBELL_BENCH_WAIT_SECS` [15]: how long a latency run waits for its last page.
//! - `DUTYBELL_BENCH_DIR` [system temp dir]: where the database lives.
//!
//! Server logs are off unless `RUST_LOG` is set (then they go to stderr).
//!
//! The bench service sets its ingress limit and open-alert cap (default `6000/1m` and 200)
//! far above what it sends, as numbers rather than `"off"`, so that every request still
//! pays for the limiter and the cap query while measuring capacity rather than policy.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use dutybell::app::{App, Options};
use dutybell::clock::Clock;
use dutybell::config::{self, Overrides, raw::Env, secrets::Secrets};
use dutybell::store::{self, Store};
use tokio::sync::oneshot;
use tokio::task::JoinSet;

const KEY: &str = "bench0intake0key0000000000000001";
const TOKEN: &str = "bench-intake-token";
const STARTS_AT: &str = "2026-01-01T00:00:00Z";

/// Sizes, from `DUTYBELL_BENCH_*`.
#[derive(Clone, Copy, Debug)]
struct Knobs {
    alerts: usize,
    concurrency: usize,
    phase: Duration,
    latency_alerts: usize,
    rate: u32,
    wait: Duration,
}

fn knob<T: FromStr + PartialOrd + Default>(name: &str, default: T) -> T {
    let value = std::env::var(name).ok().and_then(|v| v.trim().parse().ok());
    value.filter(|v| *v > T::default()).unwrap_or(default)
}

impl Knobs {
    fn from_env() -> Knobs {
        let secs = |name, default| Duration::from_secs(knob(name, default));
        Knobs {
            alerts: knob("DUTYBELL_BENCH_ALERTS", 10_000),
            concurrency: knob("DUTYBELL_BENCH_CONCURRENCY", 32),
            phase: secs("DUTYBELL_BENCH_PHASE_SECS", 10),
            latency_alerts: knob("DUTYBELL_BENCH_LATENCY_ALERTS", 1000),
            rate: knob("DUTYBELL_BENCH_STEADY_RATE", 200),
            wait: secs("DUTYBELL_BENCH_WAIT_SECS", 15),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// An Alertmanager v4 body for group `name` whose members are `host-{i}` for each `i`.
fn am_body(name: &str, hosts: &[usize]) -> Bytes {
    let member = |host: &usize| {
        serde_json::json!({
            "status": "firing", "startsAt": STARTS_AT, "endsAt": "0001-01-01T00:00:00Z",
            "labels": { "alertname": name, "instance": format!("host-{host}"),
                        "severity": "critical" },
            "annotations": { "summary": format!("{name} is down on host-{host}") },
            "generatorURL": "http://prometheus.invalid/graph",
        })
    };
    let body = serde_json::json!({
        "version": "4", "receiver": "dutybell", "status": "firing", "truncatedAlerts": 0,
        "groupKey": format!("{{}}:{{alertname=\"{name}\"}}"),
        "groupLabels": { "alertname": name }, "commonLabels": { "alertname": name },
        "commonAnnotations": {}, "externalURL": "http://alertmanager.invalid",
        "alerts": hosts.iter().map(member).collect::<Vec<_>>(),
    });
    Bytes::from(body.to_string())
}

/// A dutybell instance with its own temp dir: one service whose policy pages one person by
/// webhook at `pager`, immediately.
struct Server {
    intake: String,
    store: Store,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start(engine: bool, pager: SocketAddr) -> anyhow::Result<Server> {
        let dir = match std::env::var_os("DUTYBELL_BENCH_DIR") {
            Some(parent) => tempfile::tempdir_in(parent)?,
            None => tempfile::tempdir()?,
        };
        let files = [
            (
                "team.toml",
                format!(
                    "[[person]]\nid = \"oncall\"\ncontact = [{{ kind = \"webhook\", \
                     url = \"http://{pager}/page\", secret_env = \"HOOK\" }}]\n"
                ),
            ),
            (
                "oncall.toml",
                "[[escalation]]\nid = \"now\"\n\
                 steps = [{ targets = [\"person:oncall\"], after = \"30m\" }]\n"
                    .into(),
            ),
            (
                "services.toml",
                "[[service]]\nid = \"bench\"\nescalation = \"now\"\n\
                 max_open_unacked = 4000000000\nintegrations = [{ kind = \"alertmanager\", \
                 key_env = \"KEY\", token_env = \"TOKEN\", rate = \"4000000000/1m\" }]\n"
                    .into(),
            ),
        ];
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text)
                .with_context(|| format!("writing {name}"))?;
        }
        let env: Env = [
            ("KEY", KEY),
            ("TOKEN", TOKEN),
            ("HOOK", "bench-hook-secret"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into();
        let overrides = Overrides {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            data_dir: Some(dir.path().join("data")),
            ..Overrides::default()
        };
        let config = config::load_with(dir.path(), &overrides, &env, &mut Secrets::default())?;
        let clock = Clock::System;
        let app = App::build(config, Options { clock, engine }).await?;
        let intake = format!(
            "http://{}/api/v1/integrations/{KEY}/alertmanager",
            app.addr()
        );
        let store = app.state().store.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        Ok(Server {
            intake,
            store,
            stop,
            task,
            _dir: dir,
        })
    }

    async fn alerts(&self) -> anyhow::Result<usize> {
        Ok(store::alerts::list(&self.store, true).await?.len())
    }

    async fn shut_down(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .context("the server did not stop")???;
        Ok(())
    }
}

/// What a set of intake requests did.
#[derive(Clone, Debug, Default)]
struct Tally {
    ok: usize,
    /// Failures by status code or client error.
    failed: BTreeMap<String, usize>,
    latencies: Vec<Duration>,
    elapsed: Duration,
    /// CPU time the whole process used meanwhile (server, client and pager).
    cpu: Duration,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.ok += other.ok;
        for (kind, n) in other.failed {
            *self.failed.entry(kind).or_default() += n;
        }
        self.latencies.extend(other.latencies);
    }

    fn failures(&self) -> usize {
        self.failed.values().sum()
    }
}

/// Send instants (bench side) or page arrivals (receiver side), by alert name.
type Marks = Arc<Mutex<HashMap<String, Instant>>>;

/// One intake request; records its send instant under `name` in `marks` when given.
async fn post(
    client: &reqwest::Client,
    url: &str,
    load: &(String, Bytes),
    marks: &Option<Marks>,
) -> Tally {
    let sent = Instant::now();
    if let Some(marks) = marks {
        lock(marks).insert(load.0.clone(), sent);
    }
    let request = client.post(url).bearer_auth(TOKEN);
    let request = request.header("content-type", "application/json");
    let outcome = match request.body(load.1.clone()).send().await {
        Ok(response) if response.status() == StatusCode::ACCEPTED => response
            .bytes()
            .await
            .map(|_| ())
            .map_err(|e| format!("reading: {e}")),
        Ok(response) => Err(response.status().to_string()),
        Err(err) => Err(format!("sending: {err}")),
    };
    let mut tally = Tally {
        latencies: vec![sent.elapsed()],
        ..Tally::default()
    };
    match outcome {
        Ok(()) => tally.ok = 1,
        Err(kind) => {
            tally.failed.insert(kind, 1);
        }
    }
    tally
}

/// Sends `loads` with `concurrency` requests in flight, stopping early after `cap`.
async fn drive(
    client: &reqwest::Client,
    url: &str,
    loads: Vec<(String, Bytes)>,
    concurrency: usize,
    cap: Duration,
    marks: Option<Marks>,
) -> anyhow::Result<Tally> {
    let loads = Arc::new(loads);
    let next = Arc::new(AtomicUsize::new(0));
    let (start, cpu) = (Instant::now(), cpu_time());
    let mut workers = JoinSet::new();
    for _ in 0..concurrency {
        let (client, url, marks) = (client.clone(), url.to_string(), marks.clone());
        let (loads, next) = (loads.clone(), next.clone());
        workers.spawn(async move {
            let mut tally = Tally::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= loads.len() || start.elapsed() >= cap {
                    return tally;
                }
                tally.merge(post(&client, &url, &loads[i], &marks).await);
            }
        });
    }
    let mut total = Tally::default();
    while let Some(tally) = workers.join_next().await {
        total.merge(tally?);
    }
    total.elapsed = start.elapsed();
    total.cpu = cpu_time().saturating_sub(cpu);
    Ok(total)
}

/// Sends `loads` one by one at `rate` per second, each on its own task.
async fn steady(
    client: &reqwest::Client,
    url: &str,
    loads: Vec<(String, Bytes)>,
    rate: u32,
    marks: Marks,
) -> anyhow::Result<Tally> {
    let mut tick = tokio::time::interval(Duration::from_secs(1) / rate);
    let (start, cpu) = (Instant::now(), cpu_time());
    let mut requests = JoinSet::new();
    for load in loads {
        tick.tick().await;
        let (client, url, marks) = (client.clone(), url.to_string(), Some(marks.clone()));
        requests.spawn(async move { post(&client, &url, &load, &marks).await });
    }
    let mut total = Tally::default();
    while let Some(tally) = requests.join_next().await {
        total.merge(tally?);
    }
    total.elapsed = start.elapsed();
    total.cpu = cpu_time().saturating_sub(cpu);
    Ok(total)
}

/// The local webhook receiver every page goes to; notes when each alert's first page came.
async fn start_pager() -> anyhow::Result<(SocketAddr, Marks)> {
    async fn receive(State(pages): State<Marks>, body: Bytes) -> StatusCode {
        let at = Instant::now();
        let page: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        if let Some(name) = page["data"]["alert"]["name"].as_str() {
            lock(&pages).entry(name.to_string()).or_insert(at);
        }
        StatusCode::NO_CONTENT
    }
    let pages = Marks::default();
    let router = axum::Router::new()
        .route("/page", axum::routing::post(receive))
        .with_state(pages.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok((addr, pages))
}

/// Waits up to `limit` for a page for every sent alert; returns send → page latencies.
async fn page_latencies(sent: &Marks, pages: &Marks, limit: Duration) -> Vec<Duration> {
    let names: Vec<String> = lock(sent).keys().cloned().collect();
    let start = Instant::now();
    let all_paged = || {
        let pages = lock(pages);
        names.iter().all(|name| pages.contains_key(name))
    };
    while !all_paged() && start.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (sent, pages) = (lock(sent), lock(pages));
    let at = |name: &String| Some(pages.get(name)?.duration_since(*sent.get(name)?));
    names.iter().filter_map(at).collect()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return f64::NAN;
    };
    let index = ((last as f64) * p / 100.0).round() as usize;
    sorted[index.min(last)].as_secs_f64() * 1000.0
}

fn p50_p99(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort_unstable();
    (percentile(&samples, 50.0), percentile(&samples, 99.0))
}

/// CPU time used by this process so far, from `/proc/self/stat` (Linux; zero elsewhere).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    // utime and stime, fields 14 and 15, counted in 1/100 s (USER_HZ).
    let ticks = fields.split_whitespace().skip(11).take(2);
    Duration::from_millis(ticks.filter_map(|t| t.parse::<u64>().ok()).sum::<u64>() * 10)
}

/// How idle all CPUs were over the next second, from `/proc/stat` (Linux; 100 elsewhere).
async fn idle_percent() -> f64 {
    let sample = || {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let line = stat.lines().next().unwrap_or_default();
        let fields = line.split_whitespace().skip(1);
        let ticks: Vec<u64> = fields.filter_map(|t| t.parse().ok()).collect();
        (
            ticks.iter().sum::<u64>(),
            ticks.get(3).copied().unwrap_or(0),
        )
    };
    let (total, idle) = sample();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (total2, idle2) = sample();
    match total2.saturating_sub(total) {
        0 => 100.0,
        spent => 100.0 * idle2.saturating_sub(idle) as f64 / spent as f64,
    }
}

/// A throughput table row.
fn intake_row(phase: &str, tally: Tally, opened: usize) -> String {
    let secs = tally.elapsed.as_secs_f64();
    let (sent, ok, failed) = (tally.latencies.len(), tally.ok, tally.failures());
    let (p50, p99) = p50_p99(tally.latencies);
    let rate = |n: usize| n as f64 / secs;
    let cpu = tally.cpu.as_secs_f64() * 1e6 / sent.max(1) as f64;
    format!(
        "{phase:<30} {sent:>7} {ok:>5} {failed:>5} {secs:>6.2} {:>12.0} {:>9.0} {p50:>7.2} \
         {p99:>7.2} {cpu:>8.0}",
        rate(ok),
        rate(opened),
    )
}

fn failures_note(phase: &str, tally: &Tally, notes: &mut Vec<String>) {
    for (kind, n) in &tally.failed {
        notes.push(format!("{phase}: {n} × {kind}"));
    }
}

/// `count` loads named `{prefix}-{i}`, each a new group with one member.
fn new_groups(prefix: &str, count: usize) -> Vec<(String, Bytes)> {
    let load = |i| {
        let name = format!("{prefix}-{i}");
        let body = am_body(&name, &[0]);
        (name, body)
    };
    (0..count).map(load).collect()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let knobs = Knobs::from_env();
    if std::env::var_os("RUST_LOG").is_some() {
        dutybell::telemetry::init("warn");
    }
    let proxied = ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"];
    if let Some(var) = proxied.iter().find(|v| std::env::var_os(v).is_some()) {
        anyhow::bail!("{var} is set: dutybell's webhook client would send pages through it");
    }
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    let idle = idle_percent().await;
    println!("dutybell intake bench: {cores} cores, load average {load:?}, {knobs:?}");
    println!("CPU idle in the second before starting: {idle:.0}%");
    if idle < 80.0 {
        println!("WARNING: the machine is busy; the numbers below understate dutybell");
    }
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(knobs.concurrency.max(64))
        .build()?;
    let (pager, pages) = start_pager().await?;
    let mut notes = Vec::new();
    let mut rows = Vec::new();

    // 1. Intake only (engine off): new groups, then changes to them, then exact re-sends.
    let server = Server::start(false, pager).await?;
    let (n, c, cap) = (knobs.alerts, knobs.concurrency, knobs.phase);
    let opening = drive(&client, &server.intake, new_groups("open", n), c, cap, None).await?;
    let groups = opening.ok.max(1);
    let opened = server.alerts().await?;
    failures_note("open", &opening, &mut notes);
    rows.push(intake_row("new group (opens an alert)", opening, opened));
    let updates: Vec<_> = (0..n / 2)
        .map(|i| {
            let name = format!("open-{}", i % groups);
            let body = am_body(&name, &[0, 1 + i / groups]);
            (name, body)
        })
        .collect();
    let resends = updates.clone();
    let updating = drive(&client, &server.intake, updates, c, cap, None).await?;
    failures_note("update", &updating, &mut notes);
    rows.push(intake_row("existing group, member joins", updating, 0));
    let resending = drive(&client, &server.intake, resends, c, cap, None).await?;
    failures_note("re-send", &resending, &mut notes);
    rows.push(intake_row("existing group, exact re-send", resending, 0));
    let total_alerts = server.alerts().await?;
    if total_alerts != opened {
        notes.push(format!(
            "later phases opened {} alerts",
            total_alerts - opened
        ));
    }
    server.shut_down().await?;

    // 2. Engine on: alert → first page, at a steady rate and in a burst.
    let server = Server::start(true, pager).await?;
    let m = knobs.latency_alerts;
    let mut paging = Vec::new();
    let sent = Marks::default();
    let loads = new_groups("steady", m);
    let tally = steady(&client, &server.intake, loads, knobs.rate, sent.clone()).await?;
    failures_note("steady", &tally, &mut notes);
    let latencies = page_latencies(&sent, &pages, knobs.wait).await;
    paging.push((format!("steady, {}/s", knobs.rate), m, tally, latencies));

    let sent = Marks::default();
    let before = server.alerts().await?;
    let loads = new_groups("burst", m);
    let tally = drive(&client, &server.intake, loads, c, cap, Some(sent.clone())).await?;
    let opened = server.alerts().await? - before;
    failures_note("burst", &tally, &mut notes);
    let latencies = page_latencies(&sent, &pages, knobs.wait).await;
    rows.push(intake_row(
        "new group, engine paging",
        tally.clone(),
        opened,
    ));
    paging.push((format!("burst, {c} in flight"), m, tally, latencies));
    server.shut_down().await?;

    println!("\nDurable intake, POST /api/v1/integrations/{{key}}/alertmanager, {c} in flight");
    println!(
        "{:<30} {:>7} {:>5} {:>5} {:>6} {:>12} {:>9} {:>7} {:>7} {:>8}",
        "phase",
        "sent",
        "202",
        "fail",
        "secs",
        "deliveries/s",
        "alerts/s",
        "p50 ms",
        "p99 ms",
        "cpu µs/req"
    );
    rows.iter().for_each(|row| println!("{row}"));

    println!("\nAlert → first page (intake request sent → webhook received), engine running");
    println!(
        "{:<22} {:>7} {:>7} {:>7} {:>9} {:>9} {:>9}",
        "run", "alerts", "202", "paged", "p50 ms", "p99 ms", "max ms"
    );
    for (run, alerts, tally, latencies) in paging {
        let paged = latencies.len();
        let max = latencies
            .iter()
            .max()
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0);
        let (p50, p99) = p50_p99(latencies);
        println!(
            "{run:<22} {alerts:>7} {:>7} {paged:>7} {p50:>9.1} {p99:>9.1} {max:>9.1}",
            tally.ok
        );
    }
    if !notes.is_empty() {
        println!("\nFailures and notes:");
        notes.iter().for_each(|note| println!("  {note}"));
    }
    Ok(())
}
