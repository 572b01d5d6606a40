//! Intake benchmark (issues #2, #4): durable intake throughput for every wire format, and
//! the latency from an alert's intake request to the first notification about it, through
//! the real HTTP endpoints and SMTP listener on embedded SQLite (a file in a temp dir, WAL
//! mode, as in production).
//!
//! Run with `cargo bench --bench intake`. Everything binds 127.0.0.1 and only talks to
//! servers this binary starts. Sizes come from the environment (default in brackets):
//!
//! - `DUTYBELL_BENCH_ALERTS` [10000]: deliveries that each open a new group; the phase that
//!   adds a member to those groups sends half as many, and the re-send phase repeats those.
//!   Each other format (generic JSON, PagerDuty Events v2, Grafana, email over SMTP) sends
//!   this many new alerts too, each format to a fresh server.
//! - `DUTYBELL_BENCH_CONCURRENCY` [32]: intake requests in flight (for email: SMTP
//!   connections, each handing over one message at a time, as a relay does).
//! - `DUTYBELL_BENCH_PHASE_SECS` [6]: time cap of each throughput phase.
//! - `DUTYBELL_BENCH_LATENCY_ALERTS` [1000]: alerts in the steady and the burst latency run.
//! - `DUTYBELL_BENCH_STEADY_RATE` [200]: alerts per second of the steady run.
//! - `DUTYBELL_BENCH_TRICKLE` [5]: alerts of the trickle run, 1.1 s apart: slower than the
//!   per-kind send throttle (5 per 5 s), so no page waits for it.
//! - `DUTYBELL_BENCH_WAIT_SECS` [10]: how long a latency run waits for its last notification.
//! - `DUTYBELL_BENCH_DIR` [system temp dir]: where the database lives.
//!
//! Server logs are off unless `RUST_LOG` is set (then they go to stderr).
//!
//! The bench service sets its ingress limit and open-alert cap (default `6000/1m` and 200)
//! far above what it sends, as numbers rather than `"off"`, so that every request still
//! pays for the limiter and the cap query while measuring capacity rather than policy.
//!
//! A notification is a page, or a bundle standing for several alerts once the send throttle
//! holds pages back. Each alert's first `notification_sent` timeline entry names the message
//! that covered it; the receiver notes when each message arrived.

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
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::oneshot;
use tokio::task::JoinSet;

const KEY: &str = "bench0intake0key0000000000000001";
const GENERIC_KEY: &str = "bench0generic0key000000000000001";
const GRAFANA_KEY: &str = "bench0grafana0key000000000000001";
const PD_KEY: &str = "bench0pagerduty0key0000000000001";
/// The email integration's address, served by dutybell's SMTP listener.
const MAILBOX: &str = "alerts@bench.invalid";
const TOKEN: &str = "bench-intake-token";
const STARTS_AT: &str = "2026-01-01T00:00:00Z";
const TRICKLE_EVERY: Duration = Duration::from_millis(1100);

/// Sizes, from `DUTYBELL_BENCH_*`.
#[derive(Clone, Copy, Debug)]
struct Knobs {
    alerts: usize,
    concurrency: usize,
    phase: Duration,
    latency_alerts: usize,
    rate: u32,
    trickle: usize,
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
            phase: secs("DUTYBELL_BENCH_PHASE_SECS", 6),
            latency_alerts: knob("DUTYBELL_BENCH_LATENCY_ALERTS", 1000),
            rate: knob("DUTYBELL_BENCH_STEADY_RATE", 200),
            trickle: knob("DUTYBELL_BENCH_TRICKLE", 5),
            wait: secs("DUTYBELL_BENCH_WAIT_SECS", 10),
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

/// The wire formats the bench sends new alerts in.
#[derive(Clone, Copy, Debug)]
enum Format {
    Alertmanager,
    Generic,
    PagerDuty,
    Grafana,
    Email,
}

impl Format {
    /// Every format but Alertmanager, whose phases run on their own.
    const OTHERS: [Format; 4] = [
        Format::Generic,
        Format::PagerDuty,
        Format::Grafana,
        Format::Email,
    ];

    fn label(self) -> &'static str {
        match self {
            Format::Alertmanager => "alertmanager (webhook v4)",
            Format::Generic => "generic JSON",
            Format::PagerDuty => "pagerduty events v2",
            Format::Grafana => "grafana (webhook)",
            Format::Email => "email (SMTP listener)",
        }
    }

    /// One delivery that opens alert `name` (a new key or group) with one member.
    fn body(self, name: &str) -> Bytes {
        let summary = format!("{name} is down on host-0");
        let body = match self {
            Format::Alertmanager => return am_body(name, &[0]),
            Format::Generic => serde_json::json!({
                "dedup_key": name, "summary": summary, "severity": "critical",
                "source": "host-0", "labels": { "alertname": name, "instance": "host-0" },
                "details": "exit code 3", "action": "trigger",
            }),
            Format::PagerDuty => serde_json::json!({
                "routing_key": PD_KEY, "event_action": "trigger", "dedup_key": name,
                "payload": { "summary": summary, "source": "host-0", "severity": "critical",
                             "custom_details": { "instance": "host-0" } },
            }),
            Format::Grafana => serde_json::json!({
                "version": "1", "orgId": 1, "state": "alerting", "status": "firing",
                "title": format!("[FIRING:1] {name}"), "message": "", "receiver": "dutybell",
                "groupKey": format!("{{}}:{{alertname=\"{name}\"}}"), "truncatedAlerts": 0,
                "commonLabels": { "alertname": name }, "commonAnnotations": {},
                "externalURL": "http://grafana.invalid/",
                "alerts": [{ "status": "firing", "labels": { "alertname": name,
                             "instance": "host-0" }, "annotations": { "summary": summary },
                             "startsAt": STARTS_AT, "endsAt": "0001-01-01T00:00:00Z" }],
            }),
            Format::Email => {
                let mail = format!(
                    "From: Bench cron <cron@host-0.invalid>\r\nTo: {MAILBOX}\r\n\
                     Subject: {summary}\r\nContent-Type: text/plain\r\n\r\nexit code 3\r\n"
                );
                return Bytes::from(mail);
            }
        };
        Bytes::from(body.to_string())
    }

    /// Where this format is delivered on `server`.
    fn sink(self, client: &reqwest::Client, server: &Server) -> Sink {
        let http = |path: String, token: Option<&'static str>| Sink::Http {
            client: client.clone(),
            url: format!("{}{path}", server.base),
            token,
        };
        match self {
            Format::Alertmanager => http(
                format!("/api/v1/integrations/{KEY}/alertmanager"),
                Some(TOKEN),
            ),
            Format::Generic => http(
                format!("/api/v1/integrations/{GENERIC_KEY}/generic"),
                Some(TOKEN),
            ),
            Format::PagerDuty => http("/v2/enqueue".into(), None),
            Format::Grafana => http(
                format!("/api/v1/integrations/{GRAFANA_KEY}/grafana"),
                Some(TOKEN),
            ),
            Format::Email => Sink::Smtp(server.smtp),
        }
    }

    /// `count` loads named `{prefix}-{i}`, each opening a new alert.
    fn loads(self, prefix: &str, count: usize) -> Vec<(String, Bytes)> {
        let load = |i| {
            let name = format!("{prefix}-{i}");
            let body = self.body(&name);
            (name, body)
        };
        (0..count).map(load).collect()
    }
}

/// A dutybell instance with its own temp dir: one service with an integration of every
/// kind, whose policy pages one person by webhook at `pager`, immediately.
struct Server {
    /// `http://127.0.0.1:port`.
    base: String,
    /// The SMTP listener for the email integration.
    smtp: SocketAddr,
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
                 max_open_unacked = 4000000000\nintegrations = [\n\
                 { kind = \"alertmanager\", key_env = \"KEY\", token_env = \"TOKEN\", \
                 rate = \"4000000000/1m\" },\n\
                 { kind = \"generic\", key_env = \"GENERIC_KEY\", token_env = \"TOKEN\", \
                 rate = \"4000000000/1m\" },\n\
                 { kind = \"grafana\", key_env = \"GRAFANA_KEY\", token_env = \"TOKEN\", \
                 rate = \"4000000000/1m\" },\n\
                 { kind = \"pagerduty\", key_env = \"PD_KEY\", rate = \"4000000000/1m\" },\n\
                 { kind = \"email\", address = \"alerts@bench.invalid\", \
                 rate = \"4000000000/1m\" },\n]\n"
                    .into(),
            ),
            (
                "dutybell.toml",
                "[intake.smtp]\nlisten = \"127.0.0.1:0\"\n".into(),
            ),
        ];
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text)
                .with_context(|| format!("writing {name}"))?;
        }
        let env: Env = [
            ("KEY", KEY),
            ("GENERIC_KEY", GENERIC_KEY),
            ("GRAFANA_KEY", GRAFANA_KEY),
            ("PD_KEY", PD_KEY),
            ("TOKEN", TOKEN),
            ("HOOK", "bench-hook-secret-0123456789abcdef"),
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
        let base = format!("http://{}", app.addr());
        let smtp = app
            .smtp_addr()
            .context("the SMTP listener is not running")?;
        let store = app.state().store.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        Ok(Server {
            base,
            smtp,
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

/// Instants by name: when each alert's intake request was sent, or each message arrived.
type Marks = Arc<Mutex<HashMap<String, Instant>>>;

/// Where deliveries go: an HTTP endpoint (with the integration token, if it has one), or
/// the SMTP listener.
#[derive(Clone)]
enum Sink {
    Http {
        client: reqwest::Client,
        url: String,
        token: Option<&'static str>,
    },
    Smtp(SocketAddr),
}

/// One intake request; records its send instant under the load's name in `marks` if given.
async fn post(sink: &Sink, load: &(String, Bytes), marks: &Option<Marks>) -> Tally {
    post_or_mail(sink, &mut None, load, marks).await
}

/// One delivery over HTTP, or over `mail`, a worker's SMTP connection (opened when needed,
/// dropped after a failure); records its send instant under the load's name in `marks`.
async fn post_or_mail(
    sink: &Sink,
    mail: &mut Option<SmtpClient>,
    load: &(String, Bytes),
    marks: &Option<Marks>,
) -> Tally {
    let sent = Instant::now();
    if let Some(marks) = marks {
        lock(marks).insert(load.0.clone(), sent);
    }
    let outcome = match sink {
        Sink::Http { client, url, token } => {
            let mut request = client.post(url);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let request = request.header("content-type", "application/json");
            match request.body(load.1.clone()).send().await {
                Ok(response) if response.status() == StatusCode::ACCEPTED => response
                    .bytes()
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("reading: {e}")),
                Ok(response) => Err(response.status().to_string()),
                Err(err) => Err(format!("sending: {err}")),
            }
        }
        Sink::Smtp(addr) => {
            let outcome = match mail.take() {
                Some(client) => Ok(client),
                None => SmtpClient::connect(*addr).await,
            };
            match outcome {
                Ok(mut client) => {
                    let sent = client.send(&load.1).await;
                    if sent.is_ok() {
                        *mail = Some(client);
                    }
                    sent
                }
                Err(err) => Err(err),
            }
        }
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

/// A minimal SMTP client for the bench: one connection handing over one message at a
/// time (`MAIL`, `RCPT`, `DATA`), as a relay without pipelining does.
struct SmtpClient {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl SmtpClient {
    async fn connect(addr: SocketAddr) -> Result<SmtpClient, String> {
        let socket = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("smtp connect: {e}"))?;
        socket.set_nodelay(true).map_err(|e| format!("smtp: {e}"))?;
        let (read, writer) = socket.into_split();
        let mut client = SmtpClient {
            reader: BufReader::new(read),
            writer,
        };
        client.expect(220).await?;
        client.command("EHLO bench.invalid\r\n", 250).await?;
        Ok(client)
    }

    /// Reads one reply (all its lines) and checks its code.
    async fn expect(&mut self, code: u16) -> Result<(), String> {
        let mut line = String::new();
        loop {
            line.clear();
            let read = self.reader.read_line(&mut line).await;
            match read {
                Ok(0) => return Err("smtp: connection closed".into()),
                Ok(_) => {}
                Err(err) => return Err(format!("smtp read: {err}")),
            }
            // `250-…` continues a reply, `250 …` ends it.
            if line.as_bytes().get(3) != Some(&b'-') {
                break;
            }
        }
        let got = line.get(..3).and_then(|c| c.parse::<u16>().ok());
        match got {
            Some(got) if got == code => Ok(()),
            _ => Err(format!("smtp {}", line.trim_end())),
        }
    }

    async fn command(&mut self, line: &str, code: u16) -> Result<(), String> {
        self.writer
            .write_all(line.as_bytes())
            .await
            .map_err(|e| format!("smtp write: {e}"))?;
        self.expect(code).await
    }

    /// Hands over one message (CRLF lines, none starting with a dot) to [`MAILBOX`].
    async fn send(&mut self, message: &[u8]) -> Result<(), String> {
        self.command("MAIL FROM:<cron@host-0.invalid>\r\n", 250)
            .await?;
        self.command(&format!("RCPT TO:<{MAILBOX}>\r\n"), 250)
            .await?;
        self.command("DATA\r\n", 354).await?;
        self.writer
            .write_all(message)
            .await
            .map_err(|e| format!("smtp write: {e}"))?;
        self.command(".\r\n", 250).await
    }
}

/// Sends `loads` to `sink` with `concurrency` deliveries in flight (each worker keeps its
/// own SMTP connection), stopping early after `cap`.
async fn drive(
    sink: &Sink,
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
        let (sink, marks) = (sink.clone(), marks.clone());
        let (loads, next) = (loads.clone(), next.clone());
        workers.spawn(async move {
            let mut tally = Tally::default();
            let mut mail = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= loads.len() || start.elapsed() >= cap {
                    return tally;
                }
                tally.merge(post_or_mail(&sink, &mut mail, &loads[i], &marks).await);
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

/// Sends `loads` one every `every`, each on its own task so a slow answer delays no other.
async fn pace(
    sink: &Sink,
    loads: Vec<(String, Bytes)>,
    every: Duration,
    marks: Marks,
) -> anyhow::Result<Tally> {
    let mut tick = tokio::time::interval(every);
    let (start, cpu) = (Instant::now(), cpu_time());
    let mut requests = JoinSet::new();
    for load in loads {
        tick.tick().await;
        let (sink, marks) = (sink.clone(), Some(marks.clone()));
        requests.spawn(async move { post(&sink, &load, &marks).await });
    }
    let mut total = Tally::default();
    while let Some(tally) = requests.join_next().await {
        total.merge(tally?);
    }
    total.elapsed = start.elapsed();
    total.cpu = cpu_time().saturating_sub(cpu);
    Ok(total)
}

/// The local webhook receiver every notification goes to.
#[derive(Clone, Default)]
struct Pager {
    /// Arrival of each message, by its id (`Dutybell-Delivery`, the outbox message id).
    arrivals: Marks,
    /// Alerts the messages stood for: 1 per page, `count` per bundle.
    covered: Arc<AtomicUsize>,
}

impl Pager {
    async fn start() -> anyhow::Result<(SocketAddr, Pager)> {
        async fn receive(State(pager): State<Pager>, body: Bytes) -> StatusCode {
            let at = Instant::now();
            let message: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let count = message["data"]["bundle"]["count"].as_u64().unwrap_or(1);
            if let Some(id) = message["id"].as_str() {
                lock(&pager.arrivals).entry(id.to_string()).or_insert(at);
            }
            let count = usize::try_from(count).unwrap_or(1);
            pager.covered.fetch_add(count, Ordering::Relaxed);
            StatusCode::NO_CONTENT
        }
        let pager = Pager::default();
        let router = axum::Router::new()
            .route("/page", axum::routing::post(receive))
            .with_state(pager.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, router).await });
        Ok((addr, pager))
    }

    /// (alerts covered, messages received) so far.
    fn counts(&self) -> (usize, usize) {
        let covered = self.covered.load(Ordering::Relaxed);
        (covered, lock(&self.arrivals).len())
    }
}

/// Waits (up to `wait`) until the pager has covered every alert in `sent` beyond
/// `covered_before`, then pairs each alert's send instant with the arrival of the first
/// message its timeline records as sent. Alerts never notified in time are left out.
async fn first_notices(
    server: &Server,
    pager: &Pager,
    sent: &Marks,
    covered_before: usize,
    wait: Duration,
) -> anyhow::Result<Vec<Duration>> {
    let deadline = Instant::now() + wait;
    let expected = covered_before + lock(sent).len();
    while pager.counts().0 < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut pending = Vec::new();
    for alert in store::alerts::list(&server.store, true).await? {
        let name = alert.labels.get("alertname");
        if let Some(at) = name.and_then(|name| lock(sent).get(name).copied()) {
            pending.push((alert.id, at));
        }
    }
    // The engine records a send right after the receiver answers; allow for that too.
    let mut latencies = Vec::new();
    loop {
        let mut left = Vec::new();
        for (id, sent_at) in pending {
            let timeline = store::alerts::timeline(&server.store, id).await?;
            let first = timeline.iter().find(|e| e.kind == "notification_sent");
            let message = first.and_then(|entry| entry.detail["message_id"].as_str());
            match message.and_then(|m| lock(&pager.arrivals).get(m).copied()) {
                Some(at) => latencies.push(at.saturating_duration_since(sent_at)),
                None => left.push((id, sent_at)),
            }
        }
        if left.is_empty() || Instant::now() >= deadline {
            return Ok(latencies);
        }
        pending = left;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How a latency run sends its alerts.
#[derive(Clone, Copy)]
enum Sending {
    /// One every so often.
    Paced(Duration),
    /// All at once, `concurrency` in flight.
    Burst,
}

/// One latency run's results.
struct LatencyRun {
    label: String,
    tally: Tally,
    /// Alerts the run opened.
    opened: usize,
    /// Pages and bundles received.
    messages: usize,
    latencies: Vec<Duration>,
}

/// Sends `count` new alerts to a fresh server with the engine running, so throttles and
/// open alerts from earlier runs do not carry over.
async fn latency_run(
    client: &reqwest::Client,
    (addr, pager): (SocketAddr, &Pager),
    knobs: &Knobs,
    (label, count, sending): (String, usize, Sending),
) -> anyhow::Result<LatencyRun> {
    let server = Server::start(true, addr).await?;
    let (covered, messages) = pager.counts();
    let sent = Marks::default();
    let loads = Format::Alertmanager.loads("latency", count);
    let sink = Format::Alertmanager.sink(client, &server);
    let tally = match sending {
        Sending::Paced(every) => pace(&sink, loads, every, sent.clone()).await?,
        Sending::Burst => {
            let (c, cap) = (knobs.concurrency, knobs.phase);
            drive(&sink, loads, c, cap, Some(sent.clone())).await?
        }
    };
    let opened = server.alerts().await?;
    let latencies = first_notices(&server, pager, &sent, covered, knobs.wait).await?;
    let messages = pager.counts().1 - messages;
    server.shut_down().await?;
    Ok(LatencyRun {
        label,
        tally,
        opened,
        messages,
        latencies,
    })
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return f64::NAN;
    };
    let index = ((last as f64) * p / 100.0).round() as usize;
    sorted[index.min(last)].as_secs_f64() * 1000.0
}

/// p50, p99 and max in milliseconds.
fn summary(mut samples: Vec<Duration>) -> (f64, f64, f64) {
    samples.sort_unstable();
    let pick = |p| percentile(&samples, p);
    (pick(50.0), pick(99.0), pick(100.0))
}

/// CPU time used by this process so far, from `/proc/self/stat` (Linux; zero elsewhere).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    // utime and stime, fields 14 and 15, counted in 1/100 s (USER_HZ).
    let ticks = fields.split_whitespace().skip(11).take(2);
    Duration::from_millis(ticks.filter_map(|t| t.parse::<u64>().ok()).sum::<u64>() * 10)
}

/// All CPUs' (total, idle) time so far in 1/100 s, from `/proc/stat` (Linux; zero elsewhere).
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = stat.lines().next().unwrap_or_default();
    let fields = line.split_whitespace().skip(1);
    let ticks: Vec<u64> = fields.filter_map(|t| t.parse().ok()).collect();
    (ticks.iter().sum(), ticks.get(3).copied().unwrap_or(0))
}

/// The share of the machine's CPU time since `since` (from [`machine_ticks`]) that was
/// busy, and the share other processes used, in percent.
fn machine_busy(since: (u64, u64), own_cpu: Duration) -> (f64, f64) {
    let now = machine_ticks();
    let total = now.0.saturating_sub(since.0).max(1) as f64;
    let busy = total - now.1.saturating_sub(since.1) as f64;
    let own = own_cpu.as_secs_f64() * 100.0;
    (100.0 * busy / total, 100.0 * (busy - own).max(0.0) / total)
}

/// A throughput table row.
fn intake_row(phase: &str, tally: &Tally, opened: usize) -> String {
    let secs = tally.elapsed.as_secs_f64();
    let (sent, ok, failed) = (tally.latencies.len(), tally.ok, tally.failures());
    let (p50, p99, _) = summary(tally.latencies.clone());
    let rate = |n: usize| n as f64 / secs;
    let cpu = tally.cpu.as_secs_f64() * 1e6 / sent.max(1) as f64;
    format!(
        "{phase:<30} {sent:>6} {ok:>6} {failed:>5} {secs:>6.2} {:>12.0} {:>9.0} {p50:>7.1} \
         {p99:>7.1} {cpu:>10.0}",
        rate(ok),
        rate(opened),
    )
}

fn note_failures(phase: &str, tally: &Tally, notes: &mut Vec<String>) {
    for (kind, n) in &tally.failed {
        notes.push(format!("{phase}: {n} × {kind}"));
    }
}

/// Phase 1, engine off: new groups, then a member joining each, then exact re-sends; also
/// returns the new-group row labelled for the per-format table.
async fn intake_phases(
    client: &reqwest::Client,
    pager: SocketAddr,
    knobs: &Knobs,
    notes: &mut Vec<String>,
) -> anyhow::Result<(Vec<String>, String)> {
    let server = Server::start(false, pager).await?;
    let sink = Format::Alertmanager.sink(client, &server);
    let (n, c, cap) = (knobs.alerts, knobs.concurrency, knobs.phase);
    let opening = drive(&sink, Format::Alertmanager.loads("open", n), c, cap, None).await?;
    let opened = server.alerts().await?;
    let groups = opening.ok.max(1);
    let joins: Vec<_> = (0..n / 2)
        .map(|i| {
            let name = format!("open-{}", i % groups);
            let body = am_body(&name, &[0, 1 + i / groups]);
            (name, body)
        })
        .collect();
    let mut joins_sent = joins.clone();
    let joining = drive(&sink, joins, c, cap, None).await?;
    // Loads go out in order, so the ones sent before the cap are a prefix.
    joins_sent.truncate(joining.latencies.len());
    let resending = drive(&sink, joins_sent, c, cap, None).await?;
    let later = server.alerts().await? - opened;
    if later > 0 {
        notes.push(format!("{later} alerts opened after the first phase"));
    }
    server.shut_down().await?;
    let format_row = intake_row(Format::Alertmanager.label(), &opening, opened);
    let phases = [
        ("new group (opens an alert)", opening, opened),
        ("existing group, member joins", joining, 0),
        ("existing group, exact re-send", resending, 0),
    ];
    let mut rows = Vec::new();
    for (phase, tally, opened) in phases {
        note_failures(phase, &tally, notes);
        rows.push(intake_row(phase, &tally, opened));
    }
    Ok((rows, format_row))
}

/// Phase 2, engine off: new alerts in every other format, each on a fresh server so that
/// no format pays for another's rows.
async fn format_phases(
    client: &reqwest::Client,
    pager: SocketAddr,
    knobs: &Knobs,
    notes: &mut Vec<String>,
) -> anyhow::Result<Vec<String>> {
    let mut rows = Vec::new();
    for format in Format::OTHERS {
        let server = Server::start(false, pager).await?;
        let sink = format.sink(client, &server);
        let loads = format.loads("new", knobs.alerts);
        let (c, cap) = (knobs.concurrency, knobs.phase);
        let tally = drive(&sink, loads, c, cap, None).await?;
        let opened = server.alerts().await?;
        server.shut_down().await?;
        if opened != tally.ok {
            let label = format.label();
            notes.push(format!(
                "{label}: {} accepted but {opened} alerts open",
                tally.ok
            ));
        }
        note_failures(format.label(), &tally, notes);
        rows.push(intake_row(format.label(), &tally, opened));
    }
    Ok(rows)
}

/// Prints a throughput table: `ok` counts 202 answers (250 for mail).
fn print_table(title: &str, rows: &[String]) {
    println!("\n{title}");
    println!(
        "{:<30} {:>6} {:>6} {:>5} {:>6} {:>12} {:>9} {:>7} {:>7} {:>10}",
        "phase",
        "sent",
        "ok",
        "fail",
        "secs",
        "deliveries/s",
        "alerts/s",
        "p50 ms",
        "p99 ms",
        "cpu µs/req"
    );
    rows.iter().for_each(|row| println!("{row}"));
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
    println!("dutybell intake bench: {cores} cores, load average {load:?}, {knobs:?}");
    let (start, own) = (machine_ticks(), cpu_time());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (_, others) = machine_busy(start, cpu_time().saturating_sub(own));
    println!("Other processes used {others:.0}% of the CPUs in the second before starting");
    let (start, own) = (machine_ticks(), cpu_time());
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(knobs.concurrency.max(64))
        .build()?;
    let (addr, pager) = Pager::start().await?;
    let mut notes = Vec::new();
    let (mut rows, am_row) = intake_phases(&client, addr, &knobs, &mut notes).await?;
    let mut formats = vec![am_row];
    formats.extend(format_phases(&client, addr, &knobs, &mut notes).await?);

    let (m, c, rate) = (knobs.latency_alerts, knobs.concurrency, knobs.rate);
    let runs = [
        (
            "trickle, 1 per 1.1 s".to_string(),
            knobs.trickle,
            Sending::Paced(TRICKLE_EVERY),
        ),
        (
            format!("steady, {rate}/s"),
            m,
            Sending::Paced(Duration::from_secs(1) / rate),
        ),
        (format!("burst, {c} in flight"), m, Sending::Burst),
    ];
    let mut latency = Vec::new();
    for run in runs {
        let run = latency_run(&client, (addr, &pager), &knobs, run).await?;
        note_failures(&run.label, &run.tally, &mut notes);
        latency.push(run);
    }
    if let Some(burst) = latency.last() {
        let row = intake_row("new group, engine paging", &burst.tally, burst.opened);
        rows.push(row);
    }

    let title =
        format!("Durable intake: POST /api/v1/integrations/{{key}}/alertmanager, {c} in flight");
    print_table(&title, &rows);
    let title = format!(
        "New alerts by format, engine off, a fresh server each, {c} in flight \
         (email: {c} SMTP connections)"
    );
    print_table(&title, &formats);

    println!("\nAlert → first notification (intake request sent → page or bundle received)");
    println!(
        "{:<22} {:>6} {:>6} {:>9} {:>9} {:>8} {:>8} {:>8}",
        "run", "alerts", "opened", "notified", "messages", "p50 ms", "p99 ms", "max ms"
    );
    for run in latency {
        let notified = run.latencies.len();
        let (p50, p99, max) = summary(run.latencies);
        println!(
            "{:<22} {:>6} {:>6} {notified:>9} {:>9} {p50:>8.1} {p99:>8.1} {max:>8.1}",
            run.label,
            run.tally.latencies.len(),
            run.opened,
            run.messages,
        );
    }
    let (busy, others) = machine_busy(start, cpu_time().saturating_sub(own));
    let warning = if others > 10.0 {
        " (the numbers understate dutybell)"
    } else {
        ""
    };
    notes.push(format!(
        "the CPUs were {busy:.0}% busy during the bench, {others:.0}% by other processes{warning}"
    ));
    println!("\nNotes:");
    notes.iter().for_each(|note| println!("  {note}"));
    Ok(())
}
