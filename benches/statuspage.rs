//! Status page benchmark (issue #5): requests per second for the public HTML page and
//! `/api/v2/summary.json`, alone and while Alertmanager alerts are being ingested, on
//! one process with embedded SQLite (the status page answers from its in-memory cache).
//!
//! Run with `cargo bench --bench statuspage`. Everything binds 127.0.0.1 and talks only to
//! the server this binary starts. Sizes come from the environment (default in brackets):
//!
//! - `DUTYBELL_BENCH_CONNECTIONS` [64]: keep-alive connections reading the page.
//! - `DUTYBELL_BENCH_PHASE_SECS` [5]: length of each phase.
//! - `DUTYBELL_BENCH_INGEST_RATE` [1000]: alerts per second offered during the mixed phases
//!   (each a new Alertmanager group); the achieved rate is reported beside it.
//!
//! The load generator is a minimal HTTP/1.1 keep-alive client on raw sockets, so that the
//! client costs as little CPU as possible: server and client share the same two cores.

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use dutybell::app::{App, Options};
use dutybell::clock::Clock;
use dutybell::config::{self, Overrides, raw::Env, secrets::Secrets};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const KEY: &str = "bench0status0key0000000000000001";
const TOKEN: &str = "bench-status-token";
const API_TOKEN: &str = "bench-status-api-token-0123456789";

fn knob<T: FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// Starts dutybell on a temp dir with three components and one published incident;
/// returns its address and the temp dir guard.
async fn start() -> anyhow::Result<(SocketAddr, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let files = [
        ("team.toml", "[[person]]\nid = \"ana\"\nname = \"Ana\"\n"),
        (
            "oncall.toml",
            "[[escalation]]\nid = \"now\"\nsteps = [{ targets = [\"person:ana\"] }]\n",
        ),
        (
            "services.toml",
            "[[service]]\nid = \"api\"\nname = \"API\"\nescalation = \"now\"\n\
             max_open_unacked = 4000000000\nintegrations = [{ kind = \"alertmanager\", \
             key_env = \"KEY\", token_env = \"TOKEN\", rate = \"4000000000/1m\" }]\n",
        ),
        (
            "statuspage.toml",
            "[page]\nname = \"Bench Status\"\ntime_zone = \"Europe/Berlin\"\n\
             [[component]]\nid = \"api\"\nname = \"Public API\"\nservices = [\"api\"]\n\
             [[component]]\nid = \"web\"\nname = \"Website\"\n\
             [[component]]\nid = \"db\"\nname = \"Database\"\n",
        ),
    ];
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).with_context(|| format!("writing {name}"))?;
    }
    let env: Env = [
        ("KEY", KEY),
        ("TOKEN", TOKEN),
        ("DUTYBELL_API_TOKEN", API_TOKEN),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .into();
    let overrides = Overrides {
        listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        data_dir: Some(dir.path().join("data")),
        ..Overrides::default()
    };
    let config = config::load_with(dir.path(), &overrides, &env, &mut Secrets::default())?;
    let options = Options {
        clock: Clock::System,
        engine: true,
    };
    let app = App::build(config, options).await?;
    let addr = app.addr();
    tokio::spawn(app.run_until_stopped(std::future::pending()));

    // One published incident, so the page and summary carry real content.
    let client = reqwest::Client::new();
    let base = format!("http://{addr}");
    let declared = client
        .post(format!("{base}/api/v1/incidents"))
        .bearer_auth(API_TOKEN)
        .json(
            &serde_json::json!({"title": "Elevated API errors", "severity": "p2",
                                  "by": "ana", "page": false}),
        )
        .send()
        .await?;
    anyhow::ensure!(
        declared.status().is_success(),
        "declare: {}",
        declared.status()
    );
    let published = client
        .post(format!("{base}/api/v1/incidents/1/publish"))
        .bearer_auth(API_TOKEN)
        .json(
            &serde_json::json!({"body": "We are investigating **elevated** errors.",
                                  "components": {"api": "partial_outage"}}),
        )
        .send()
        .await?;
    anyhow::ensure!(
        published.status().is_success(),
        "publish: {}",
        published.status()
    );
    Ok((addr, dir))
}

/// One keep-alive connection issuing `GET path` back to back until `stop`; counts 200s.
async fn reader(addr: SocketAddr, path: String, stop: Arc<AtomicBool>, ok: Arc<AtomicUsize>) {
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return;
    };
    let _ = stream.set_nodelay(true);
    let request = format!("GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n");
    let mut buf = vec![0u8; 256 * 1024];
    while !stop.load(Ordering::Relaxed) {
        if stream.write_all(request.as_bytes()).await.is_err() {
            return;
        }
        // Read the head, then exactly Content-Length bytes of body.
        let mut filled = 0;
        let (head_end, length, status_ok) = loop {
            match stream.read(&mut buf[filled..]).await {
                Ok(0) | Err(_) => return,
                Ok(n) => filled += n,
            }
            if let Some(end) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                break (end + 4, length, head.starts_with("http/1.1 200"));
            }
        };
        while filled < head_end + length {
            if filled == buf.len() {
                buf.resize(buf.len() * 2, 0);
            }
            match stream.read(&mut buf[filled..]).await {
                Ok(0) | Err(_) => return,
                Ok(n) => filled += n,
            }
        }
        if status_ok {
            ok.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// An Alertmanager body opening a new group `name`.
fn am_body(name: &str) -> String {
    serde_json::json!({
        "version": "4", "receiver": "dutybell", "status": "firing", "truncatedAlerts": 0,
        "groupKey": format!("{{}}:{{alertname=\"{name}\"}}"),
        "groupLabels": {"alertname": name}, "commonLabels": {"alertname": name},
        "commonAnnotations": {}, "externalURL": "http://alertmanager.invalid",
        "alerts": [{
            "status": "firing", "startsAt": "2026-01-01T00:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "labels": {"alertname": name, "severity": "warning"},
            "annotations": {"summary": format!("{name} fired")},
            "generatorURL": "http://prometheus.invalid/graph",
        }],
    })
    .to_string()
}

/// Offers `rate` new alerts per second until `stop`, at most 32 in flight; counts 202s.
async fn ingest(addr: SocketAddr, rate: u32, stop: Arc<AtomicBool>, stored: Arc<AtomicUsize>) {
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/api/v1/integrations/{KEY}/alertmanager");
    let permits = Arc::new(tokio::sync::Semaphore::new(32));
    let mut tick = tokio::time::interval(Duration::from_secs(1) / rate.max(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            continue; // the server is behind: the offered rate is not reached
        };
        n += 1;
        let request = client
            .post(&url)
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(am_body(&format!("bench-{n}")));
        let stored = stored.clone();
        tokio::spawn(async move {
            if let Ok(response) = request.send().await
                && response.status().as_u16() == 202
            {
                stored.fetch_add(1, Ordering::Relaxed);
            }
            drop(permit);
        });
    }
}

/// Runs one phase: `connections` readers on `path`, with ingestion at `rate` if given.
async fn phase(
    addr: SocketAddr,
    path: &str,
    connections: usize,
    secs: u64,
    rate: Option<u32>,
) -> (f64, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let stored = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let reader = reader(addr, path.to_string(), stop.clone(), ok.clone());
        tasks.push(tokio::spawn(reader));
    }
    if let Some(rate) = rate {
        tasks.push(tokio::spawn(ingest(
            addr,
            rate,
            stop.clone(),
            stored.clone(),
        )));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    let requests = ok.load(Ordering::Relaxed) as f64 / elapsed;
    let alerts = stored.load(Ordering::Relaxed) as f64 / elapsed;
    (requests, alerts)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .init();
    }
    let connections = knob("DUTYBELL_BENCH_CONNECTIONS", 64usize);
    let secs = knob("DUTYBELL_BENCH_PHASE_SECS", 5u64);
    let rate = knob("DUTYBELL_BENCH_INGEST_RATE", 1000u32);
    let (addr, _dir) = start().await?;
    println!(
        "status page bench: {connections} keep-alive connections, {secs} s per phase, \
         {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    for path in ["/api/v2/summary.json", "/"] {
        let (alone, _) = phase(addr, path, connections, secs, None).await;
        println!("{path:<22} alone:            {alone:>9.0} req/s");
        let (mixed, alerts) = phase(addr, path, connections, secs, Some(rate)).await;
        println!(
            "{path:<22} while ingesting:  {mixed:>9.0} req/s  ({alerts:.0} alerts/s stored of \
             {rate} offered)"
        );
    }
    Ok(())
}
