//! Cluster benchmark (issue #8): intake and escalation throughput of one instance on
//! SQLite against one, two and three instances sharing one Postgres, in one run.
//!
//! Run with `cargo bench --bench cluster`. It starts a throwaway Postgres through
//! `scripts/pg` (or uses the server `DUTYBELL_BENCH_POSTGRES` names) and binds only
//! 127.0.0.1. The instances run in this process, each a whole `App` with its own engine,
//! leadership and HTTP listener, sharing one manual clock. Sizes (default in brackets):
//!
//! - `DUTYBELL_BENCH_ALERTS` [3000]: generic alerts sent per setup, round-robin over the
//!   instances.
//! - `DUTYBELL_BENCH_CONCURRENCY` [32]: intake requests in flight.
//!
//! Intake: new alerts per second answered 2xx, with request latency, and how long from the
//! intake start until every alert's first escalation step had fired. Escalation: the clock
//! moves past every alert's second step at once; escalation steps fired per second until
//! all are done (one leader does them, whatever the number of instances). Page delivery is
//! not measured here: the send throttle (5 per 5 s per channel kind) turns a burst into a
//! few bundles, and the clock only moves when the bench moves it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::http::StatusCode;
use dutybell::app::{App, Options};
use dutybell::clock::Clock;
use dutybell::config::{self, Overrides, raw::Env, secrets::Secrets};
use sqlx::AnyPool;
use tokio::sync::watch;
use tokio::task::JoinSet;

const KEY: &str = "bench0cluster0key000000000000001";
const T0: &str = "2026-01-05T10:00:00Z";

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One measured setup.
struct Setup {
    name: &'static str,
    instances: usize,
    postgres: bool,
}

/// What a setup measured.
struct Measured {
    intake_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// From the intake start until every alert's first step had fired.
    first_step_s: f64,
    escalations_per_s: f64,
}

/// A webhook receiver that only answers 204.
async fn receiver() -> anyhow::Result<SocketAddr> {
    let router = axum::Router::new().route(
        "/page",
        axum::routing::post(|| async { StatusCode::NO_CONTENT }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(addr)
}

fn write_config(dir: &std::path::Path, pager: SocketAddr) -> anyhow::Result<()> {
    let files = [
        (
            "team.toml",
            format!(
                "[[person]]\nid = \"first\"\ncontact = [{{ kind = \"webhook\", \
                 url = \"http://{pager}/page\", secret_env = \"HOOK\" }}]\n\
                 [[person]]\nid = \"second\"\ncontact = [{{ kind = \"webhook\", \
                 url = \"http://{pager}/page\", secret_env = \"HOOK\" }}]\n"
            ),
        ),
        (
            "oncall.toml",
            "[[escalation]]\nid = \"two\"\nsteps = [\n\
             { targets = [\"person:first\"], after = \"30m\" },\n\
             { targets = [\"person:second\"], after = \"30m\" },\n]\n"
                .into(),
        ),
        (
            "services.toml",
            "[[service]]\nid = \"bench\"\nescalation = \"two\"\n\
             max_open_unacked = 4000000000\nintegrations = [\n\
             { kind = \"generic\", key_env = \"KEY\", rate = \"4000000000/1m\" },\n]\n"
                .into(),
        ),
    ];
    for (name, text) in files {
        std::fs::write(dir.join(name), text).with_context(|| format!("writing {name}"))?;
    }
    Ok(())
}

/// A fresh database for `setup`: a SQLite file in `dir`, or a new Postgres database.
async fn database(setup: &Setup, dir: &std::path::Path, server: &str) -> anyhow::Result<String> {
    if !setup.postgres {
        return Ok(format!("sqlite://{}/bench.db", dir.display()));
    }
    let name = format!("dutybell_bench_{}", setup.instances);
    let admin = AnyPool::connect(server).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await?;
    admin.close().await;
    let (base, _) = server
        .rsplit_once('/')
        .context("server URL has no database")?;
    Ok(format!("{base}/{name}"))
}

/// Starts `n` apps over `dir` and `url`; their addresses and the stop switch.
async fn start(
    n: usize,
    dir: &std::path::Path,
    url: &str,
    clock: &Clock,
) -> anyhow::Result<(Vec<SocketAddr>, watch::Sender<bool>, JoinSet<()>)> {
    let env: Env = [("KEY", KEY), ("HOOK", "bench-hook-secret-0123456789abcdef")]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into();
    let (stop, stopped) = watch::channel(false);
    let mut addrs = Vec::new();
    let mut tasks = JoinSet::new();
    for _ in 0..n {
        let overrides = Overrides {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            data_dir: Some(dir.join("data")),
            database_url: Some(url.to_owned()),
            ..Overrides::default()
        };
        let config = config::load_with(dir, &overrides, &env, &mut Secrets::default())?;
        let options = Options {
            clock: clock.clone(),
            engine: true,
        };
        let app = App::build(config, options).await?;
        addrs.push(app.addr());
        let mut stopped = stopped.clone();
        tasks.spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            if let Err(err) = app.run_until_stopped(shutdown).await {
                eprintln!("instance failed: {err:#}");
            }
        });
    }
    Ok((addrs, stop, tasks))
}

async fn count(pool: &AnyPool, sql: &str) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(sql).fetch_one(pool).await?)
}

/// Polls `sql` until it reaches `target`; the instant it did.
async fn wait_for(pool: &AnyPool, sql: &str, target: i64) -> anyhow::Result<Instant> {
    let deadline = Instant::now() + Duration::from_secs(600);
    while Instant::now() < deadline {
        if count(pool, sql).await? >= target {
            return Ok(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    anyhow::bail!("timed out waiting for {sql} to reach {target}")
}

/// Sends `alerts` new alerts with `concurrency` in flight over `addrs`; request latencies.
async fn intake(addrs: &[SocketAddr], alerts: usize, concurrency: usize) -> Vec<Duration> {
    let client = reqwest::Client::new();
    let next = Arc::new(AtomicUsize::new(0));
    let mut senders = JoinSet::new();
    for _ in 0..concurrency {
        let (client, next, addrs) = (client.clone(), next.clone(), addrs.to_vec());
        senders.spawn(async move {
            let mut took = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                if n >= alerts {
                    return took;
                }
                let addr = addrs[n % addrs.len()];
                let url = format!("http://{addr}/api/v1/integrations/{KEY}/generic");
                let body = serde_json::json!({"dedup_key": format!("b{n}"), "summary": "bench"});
                let started = Instant::now();
                match client.post(&url).json(&body).send().await {
                    Ok(r) if r.status().is_success() => took.push(started.elapsed()),
                    Ok(r) => eprintln!("alert {n}: {}", r.status()),
                    Err(err) => eprintln!("alert {n}: {err}"),
                }
            }
        });
    }
    let mut took = Vec::new();
    while let Some(part) = senders.join_next().await {
        took.extend(part.unwrap_or_default());
    }
    took.sort();
    took
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

async fn run(setup: &Setup, server: &str, pager: SocketAddr) -> anyhow::Result<Measured> {
    let (alerts, concurrency) = (
        knob("DUTYBELL_BENCH_ALERTS", 3000),
        knob("DUTYBELL_BENCH_CONCURRENCY", 32),
    );
    let dir = tempfile::tempdir()?;
    write_config(dir.path(), pager)?;
    let url = database(setup, dir.path(), server).await?;
    let t0: jiff::Timestamp = T0.parse()?;
    let clock = Clock::manual(t0);
    let (addrs, stop, mut tasks) = start(setup.instances, dir.path(), &url, &clock).await?;
    let pool = AnyPool::connect(&url).await?;

    let started = Instant::now();
    let took = intake(&addrs, alerts, concurrency).await;
    let intake_secs = started.elapsed().as_secs_f64();
    let all = i64::try_from(took.len())?;
    let escalated = "SELECT COUNT(*) FROM timeline WHERE kind = 'escalated'";
    let first = wait_for(&pool, escalated, all).await?;
    let first_secs = first.duration_since(started).as_secs_f64();

    clock.advance(jiff::SignedDuration::from_mins(31));
    let moved = Instant::now();
    let done = wait_for(&pool, escalated, 2 * all).await?;
    let escalation_secs = done.duration_since(moved).as_secs_f64();

    let _ = stop.send(true);
    while tasks.join_next().await.is_some() {}
    pool.close().await;
    Ok(Measured {
        intake_per_s: took.len() as f64 / intake_secs,
        p50_ms: percentile(&took, 0.5),
        p99_ms: percentile(&took, 0.99),
        first_step_s: first_secs,
        escalations_per_s: took.len() as f64 / escalation_secs,
    })
}

/// The Postgres server to use: `DUTYBELL_BENCH_POSTGRES`, else a throwaway one.
fn postgres(dir: &std::path::Path) -> anyhow::Result<(String, bool)> {
    if let Ok(url) = std::env::var("DUTYBELL_BENCH_POSTGRES") {
        return Ok((url, false));
    }
    let out = std::process::Command::new("scripts/pg")
        .arg("start")
        .arg(dir)
        .output()
        .context("running scripts/pg start")?;
    anyhow::ensure!(out.status.success(), "scripts/pg start failed");
    Ok((String::from_utf8(out.stdout)?.trim().to_owned(), true))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sqlx::any::install_default_drivers();
    let pg_dir = tempfile::tempdir()?;
    let (server, ours) = postgres(pg_dir.path())?;
    let pager = receiver().await?;
    let setups = [
        Setup {
            name: "SQLite",
            instances: 1,
            postgres: false,
        },
        Setup {
            name: "Postgres",
            instances: 1,
            postgres: true,
        },
        Setup {
            name: "Postgres",
            instances: 2,
            postgres: true,
        },
        Setup {
            name: "Postgres",
            instances: 3,
            postgres: true,
        },
    ];
    println!(
        "{:<10} {:>9} {:>10} {:>8} {:>8} {:>12} {:>13}",
        "backend", "instances", "intake/s", "p50 ms", "p99 ms", "first step s", "escalations/s"
    );
    let mut result = Ok(());
    for setup in &setups {
        match run(setup, &server, pager).await {
            Ok(m) => println!(
                "{:<10} {:>9} {:>10.0} {:>8.1} {:>8.1} {:>12.1} {:>13.0}",
                setup.name,
                setup.instances,
                m.intake_per_s,
                m.p50_ms,
                m.p99_ms,
                m.first_step_s,
                m.escalations_per_s
            ),
            Err(err) => {
                eprintln!("{} x{}: {err:#}", setup.name, setup.instances);
                result = Err(err);
                break;
            }
        }
    }
    if ours {
        let _ = std::process::Command::new("scripts/pg")
            .arg("stop")
            .arg(pg_dir.path())
            .status();
    }
    result
}
