//! Two or three `dutybell serve` instances on one Postgres, raced against each other
//! (issue #8): the cluster must answer as one instance would.
//!
//! Each test starts real processes on a fresh database of the server named by
//! `DUTYBELL_TEST_POSTGRES` (skipped, with a message, when it is unset), a webhook receiver
//! and an SMTP sink, with time from a clock file frozen at [`T0`] unless the test moves it.
//! Covered: one dedup key posted to several instances at once, incident numbers declared
//! on three instances at once, the open-alert cap and the per-integration rate across
//! instances, integration keys generated into each instance's own data directory, an ack
//! on a standby racing the leader's escalation, status page publishing, web sessions and
//! CSRF across instances, a leader whose lock session is cut while it sends, and every
//! session cut at once (a Postgres restart).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use sqlx::{Connection as _, PgConnection};
use tokio::sync::Notify;

use crate::helpers::{API_TOKEN, STORM_KEY, SmtpSink, free_port, write_config};
use crate::process::{Server, fresh_pg_database, serve, wait_healthy};

/// Where the clock file starts: Thursday 05:00 Madrid, ben is the primary.
const T0: &str = "2025-06-12T03:00:00Z";

/// How the webhook receiver answers (0, the default: 204 at once).
const ANSWER_503: u8 = 1;
/// Answers 204 after [`SLOW`].
const ANSWER_SLOW: u8 = 2;
const SLOW: Duration = Duration::from_secs(2);

/// The webhook receiver: every delivery id with the status it got, in arrival order.
#[derive(Default)]
struct Hooks {
    deliveries: std::sync::Mutex<Vec<(String, u16)>>,
    answer: AtomicU8,
    arrived: Notify,
}

impl Hooks {
    async fn start() -> (Arc<Hooks>, std::net::SocketAddr) {
        let hooks = Arc::new(Hooks::default());
        let router = axum::Router::new()
            .route("/hook/{person}", axum::routing::post(receive))
            .with_state(hooks.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (hooks, addr)
    }

    /// Delivery ids answered 2xx, and how often each arrived.
    fn accepted(&self) -> BTreeMap<String, usize> {
        let mut seen = BTreeMap::new();
        for (id, status) in self.deliveries.lock().unwrap().iter() {
            if *status < 300 {
                *seen.entry(id.clone()).or_default() += 1;
            }
        }
        seen
    }
}

async fn receive(State(hooks): State<Arc<Hooks>>, headers: HeaderMap) -> StatusCode {
    let id = headers["dutybell-delivery"].to_str().unwrap().to_owned();
    let answer = hooks.answer.load(Ordering::SeqCst);
    let status = match answer {
        ANSWER_503 => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::NO_CONTENT,
    };
    hooks.deliveries.lock().unwrap().push((id, status.as_u16()));
    hooks.arrived.notify_one();
    if answer == ANSWER_SLOW {
        tokio::time::sleep(SLOW).await;
    }
    status
}

/// Instances on one fresh database, each over its own config directory (several may share
/// one, and with it one data directory).
struct Cluster {
    db_url: String,
    ports: Vec<u16>,
    servers: Vec<Server>,
    client: reqwest::Client,
    clock: PathBuf,
    hooks: Arc<Hooks>,
    _smtp: SmtpSink,
    dirs: Vec<tempfile::TempDir>,
}

/// What a test adds to the shared test config.
struct Setup<'a> {
    instances: usize,
    /// Give each instance a config and data directory of its own.
    own_dirs: bool,
    /// Run on the system clock instead of the clock file (the engine then idles up to 5 s
    /// between passes, so a lost wake-up shows).
    system_clock: bool,
    /// Appended to `services.toml`.
    services: &'a str,
    env: Vec<(String, String)>,
}

impl Cluster {
    /// `instances` sharing one config directory on the clock file, `services` appended to
    /// `services.toml`; `None` without a test Postgres.
    async fn shared(instances: usize, services: &str) -> Option<Cluster> {
        let setup = Setup {
            instances,
            own_dirs: false,
            system_clock: false,
            services,
            env: Vec::new(),
        };
        Cluster::start(setup).await
    }

    /// Starts the cluster, or `None` (after saying why) without a test Postgres.
    async fn start(setup: Setup<'_>) -> Option<Cluster> {
        let Ok(server) = std::env::var("DUTYBELL_TEST_POSTGRES") else {
            println!(
                "skipped: DUTYBELL_TEST_POSTGRES names no Postgres server (./scripts/test does)"
            );
            return None;
        };
        let db_url = fresh_pg_database(&server, "dutybell_races").await;
        let smtp = SmtpSink::start().await;
        let (hooks, hooks_addr) = Hooks::start().await;
        let dirs: Vec<tempfile::TempDir> = (0..if setup.own_dirs { setup.instances } else { 1 })
            .map(|_| tempfile::tempdir().unwrap())
            .collect();
        for dir in &dirs {
            write_config(dir.path(), smtp.addr, hooks_addr, None);
            let services = dir.path().join("services.toml");
            let text = std::fs::read_to_string(&services).unwrap();
            std::fs::write(&services, format!("{text}\n{}", setup.services)).unwrap();
        }
        let clock = dirs[0].path().join("now");
        std::fs::write(&clock, T0).unwrap();

        let mut env = setup.env;
        env.push(("DUTYBELL_DATABASE_URL".into(), db_url.clone()));
        if !setup.system_clock {
            env.push(("DUTYBELL_CLOCK_FILE".into(), clock.display().to_string()));
        }
        env.push(("DUTYBELL_LOG".into(), "info".into()));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let ports: Vec<u16> = (0..setup.instances).map(|_| free_port()).collect();
        let servers = ports
            .iter()
            .enumerate()
            .map(|(i, port)| {
                let dir = dirs[i.min(dirs.len() - 1)].path();
                serve(dir, *port, &format!("dutybell-{i}.log"), &env)
            })
            .collect();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        for port in &ports {
            wait_healthy(&client, *port).await;
        }
        Some(Cluster {
            db_url,
            ports,
            servers,
            client,
            clock,
            hooks,
            _smtp: smtp,
            dirs,
        })
    }

    fn url(&self, instance: usize, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.ports[instance])
    }

    /// Posts one generic trigger through integration `key` on `instance`; the status.
    async fn trigger(&self, instance: usize, key: &str, dedup: &str) -> u16 {
        let url = self.url(instance, &format!("/api/v1/integrations/{key}/generic"));
        let body = serde_json::json!({"dedup_key": dedup, "summary": format!("race {dedup}")});
        let response = self.client.post(url).json(&body).send().await.unwrap();
        response.status().as_u16()
    }

    /// What `instance`'s `/health` says of the engine (`down` without an answer).
    async fn engine_of(&self, instance: usize) -> String {
        let health = match self.client.get(self.url(instance, "/health")).send().await {
            Ok(response) => response.json::<serde_json::Value>().await.ok(),
            Err(_) => None,
        };
        let engine = health.and_then(|h| h["engine"].as_str().map(str::to_owned));
        engine.unwrap_or_else(|| "down".into())
    }

    /// What each instance's `/health` says of the engine.
    async fn engines(&self) -> Vec<String> {
        let mut engines = Vec::new();
        for i in 0..self.ports.len() {
            engines.push(self.engine_of(i).await);
        }
        engines
    }

    /// The instance reporting `leading`, waiting up to 10 s for one.
    async fn leader(&self) -> usize {
        for _ in 0..200 {
            if let Some(i) = self.engines().await.iter().position(|e| e == "leading") {
                return i;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no instance took the lead");
    }

    fn set_clock(&self, at: jiff::Timestamp) -> i64 {
        std::fs::write(&self.clock, at.to_string()).unwrap();
        at.as_millisecond()
    }

    async fn db(&self) -> PgConnection {
        PgConnection::connect(&self.db_url).await.unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.servers.clear();
    }
}

async fn count(db: &mut PgConnection, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db).await.unwrap()
}

/// Waits up to 30 s until `sql` counts `want`.
async fn wait_count(db: &mut PgConnection, sql: &str, want: i64) {
    let mut last = 0;
    for _ in 0..300 {
        last = count(db, sql).await;
        if last == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("waited 30 s for {want} from {sql:?}; last {last}");
}

fn t0() -> jiff::Timestamp {
    T0.parse().unwrap()
}

fn storm_service(id: &str, extra: &str) -> String {
    format!(
        "[[service]]\nid = \"{id}\"\nescalation = \"default\"\n{extra}\n\
         integrations = [{{ kind = \"generic\", key_env = \"KEY_STORM\", rate = \"off\" }}]\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_dedup_key_posted_to_two_instances_at_once_is_one_alert_and_one_page() {
    let services = storm_service("race", "max_open_unacked = 100000");
    let Some(cluster) = Cluster::shared(2, &services).await else {
        return;
    };
    let cluster = Arc::new(cluster);
    const ROUNDS: usize = 5;
    const KEYS: usize = 8;
    const COPIES: usize = 4;

    let mut statuses = Vec::new();
    for round in 0..ROUNDS {
        let mut posts = Vec::new();
        for key in 0..KEYS {
            for copy in 0..COPIES {
                let cluster = cluster.clone();
                let dedup = format!("r{round}-k{key}");
                posts.push(tokio::spawn(async move {
                    cluster.trigger(copy % 2, STORM_KEY, &dedup).await
                }));
            }
        }
        for post in posts {
            statuses.push(post.await.unwrap());
        }
    }
    let mut db = cluster.db().await;
    let due = format!(
        "SELECT COUNT(*) FROM alerts WHERE service_id = 'race' AND \
         (next_escalation_at IS NULL OR next_escalation_at <= {})",
        t0().as_millisecond()
    );
    wait_count(&mut db, &due, 0).await;

    let refused: Vec<_> = statuses.iter().filter(|s| **s >= 300).collect();
    assert!(refused.is_empty(), "refused posts: {refused:?}");
    let alerts = count(
        &mut db,
        "SELECT COUNT(*) FROM alerts WHERE service_id = 'race'",
    )
    .await;
    assert_eq!(alerts, (ROUNDS * KEYS) as i64, "one alert per dedup key");
    let pages: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT a.id, (SELECT COUNT(*) FROM outbox o WHERE o.alert_id = a.id \
         AND o.channel = 'webhook' AND o.state <> 'duplicate') FROM alerts a \
         WHERE a.service_id = 'race' ORDER BY a.id",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    let wrong: Vec<_> = pages.iter().filter(|(_, n)| *n != 1).collect();
    assert!(
        wrong.is_empty(),
        "alerts without exactly one webhook page: {wrong:?}"
    );
    let triggers = count(
        &mut db,
        "SELECT COALESCE(SUM(trigger_count), 0)::BIGINT FROM alerts WHERE service_id = 'race'",
    )
    .await;
    println!("dedup race: {alerts} alerts, trigger_count sum {triggers}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn incidents_declared_on_three_instances_at_once_get_unique_numbers() {
    let Some(cluster) = Cluster::shared(3, "").await else {
        return;
    };
    let cluster = Arc::new(cluster);
    const DECLARED: usize = 30;

    let posts: Vec<_> = (0..DECLARED)
        .map(|n| {
            let cluster = cluster.clone();
            tokio::spawn(async move {
                let body = serde_json::json!({
                    "title": format!("race {n}"), "severity": "p3", "by": "chen",
                });
                let response = cluster
                    .client
                    .post(cluster.url(n % 3, "/api/v1/incidents"))
                    .bearer_auth(API_TOKEN)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                response.status().as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for post in posts {
        statuses.push(post.await.unwrap());
    }

    let refused: Vec<_> = statuses.iter().filter(|s| **s >= 300).collect();
    assert!(refused.is_empty(), "refused declarations: {refused:?}");
    let mut db = cluster.db().await;
    let numbers: Vec<i64> = sqlx::query_scalar("SELECT number FROM incidents ORDER BY number")
        .fetch_all(&mut db)
        .await
        .unwrap();
    assert_eq!(numbers, (1..=DECLARED as i64).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn open_alert_cap_holds_across_two_instances() {
    let services = storm_service("capped", "max_open_unacked = 3");
    let Some(cluster) = Cluster::shared(2, &services).await else {
        return;
    };
    let cluster = Arc::new(cluster);

    let posts: Vec<_> = (0..8)
        .map(|n| {
            let cluster = cluster.clone();
            tokio::spawn(
                async move { cluster.trigger(n % 2, STORM_KEY, &format!("cap-{n}")).await },
            )
        })
        .collect();
    let mut statuses = Vec::new();
    for post in posts {
        statuses.push(post.await.unwrap());
    }

    let accepted = statuses.iter().filter(|s| **s == 202).count();
    let capped = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((accepted, capped), (3, 5), "statuses {statuses:?}");
    let mut db = cluster.db().await;
    let open = count(
        &mut db,
        "SELECT COUNT(*) FROM alerts WHERE service_id = 'capped'",
    )
    .await;
    assert_eq!(open, 3);
}

/// README "Limits": the `rate` window is kept by each instance in memory, as a flood guard
/// for that process; the open-alert cap, kept in the database, is what holds across
/// instances (`open_alert_cap_holds_across_two_instances`). Each of two instances takes
/// its own 4 of a `4/1m` integration and refuses the 5th.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn integration_rate_is_a_window_per_instance() {
    let services = "[[service]]\nid = \"rated\"\nescalation = \"default\"\n\
                    integrations = [{ kind = \"generic\", key_env = \"KEY_STORM\", \
                    rate = \"4/1m\" }]\n";
    let Some(cluster) = Cluster::shared(2, services).await else {
        return;
    };

    for (instance, name) in [(0, "a"), (1, "b")] {
        let mut answers = Vec::new();
        for n in 0..5 {
            let key = format!("rate-{name}{n}");
            answers.push(cluster.trigger(instance, STORM_KEY, &key).await);
        }
        assert_eq!(answers, [202, 202, 202, 202, 429], "instance {name}");
    }
    let mut db = cluster.db().await;
    let alerts = count(
        &mut db,
        "SELECT COUNT(*) FROM alerts WHERE service_id = 'rated'",
    )
    .await;
    assert_eq!(alerts, 8);
}

/// README: "deploy the same [config] everywhere" and "give alert senders all their URLs".
/// An integration whose `key_env` is unset gets a key generated into each instance's own
/// data directory, so a URL printed on one instance is unknown to the other. Refusing such
/// a config on Postgres (`serve` naming the variable) fixes it too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn generated_integration_key_from_one_instance_works_on_the_other() {
    let services = "[[service]]\nid = \"keyed\"\nescalation = \"default\"\n\
                    integrations = [{ kind = \"generic\", key_env = \"E_UNSET_RACE_KEY\" }]\n";
    // Other findings (the test team's schedule gaps) do not count as the refusal.
    if let Some(refusal) = postgres_serve_refuses(services).await
        && refusal.contains("E_UNSET_RACE_KEY")
    {
        println!("the config is refused on Postgres: {refusal}");
        return;
    }
    let setup = Setup {
        instances: 2,
        own_dirs: true,
        system_clock: false,
        services,
        env: Vec::new(),
    };
    let Some(cluster) = Cluster::start(setup).await else {
        return;
    };

    let keys: Vec<String> = cluster
        .dirs
        .iter()
        .map(|dir| generated_key(&dir.path().join("data")))
        .collect();
    let on_a = cluster.trigger(0, &keys[0], "keyed-1").await;
    let on_b = cluster.trigger(1, &keys[0], "keyed-2").await;

    assert_eq!(on_a, 202);
    assert_eq!(
        on_b,
        202,
        "instance B refused instance A's intake URL; keys differ: {}",
        keys[0] != keys[1]
    );
}

/// What `dutybell serve` prints when it refuses to start over the test config plus
/// `services` on a fresh database of the test Postgres; `None` when it starts (or there is
/// no test Postgres).
async fn postgres_serve_refuses(services: &str) -> Option<String> {
    let server = std::env::var("DUTYBELL_TEST_POSTGRES").ok()?;
    let db_url = fresh_pg_database(&server, "dutybell_races").await;
    let dir = tempfile::tempdir().unwrap();
    let local = "127.0.0.1:9".parse().unwrap();
    write_config(dir.path(), local, local, None);
    let path = dir.path().join("services.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}\n{services}")).unwrap();
    let port = free_port();
    let mut server = serve(
        dir.path(),
        port,
        "serve.log",
        &[("DUTYBELL_DATABASE_URL", db_url.as_str())],
    );
    let client = reqwest::Client::new();
    for _ in 0..400 {
        if let Some(status) = server.0.try_wait().unwrap() {
            let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap();
            return Some(format!("{status}: {log}"));
        }
        let health = client
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await;
        if health.is_ok_and(|r| r.status().is_success()) {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("dutybell neither started nor refused to");
}

/// The one generated integration key in `data/secrets.toml`.
fn generated_key(data: &Path) -> String {
    let text = std::fs::read_to_string(data.join("secrets.toml")).unwrap();
    let secrets: toml::Table = toml::from_str(&text).unwrap();
    let keys = secrets["integration_keys"].as_table().unwrap();
    assert_eq!(keys.len(), 1, "one generated key: {keys:?}");
    keys.values().next().unwrap().as_str().unwrap().to_owned()
}

/// The backend pid holding the leader's session advisory lock.
async fn lock_holder(db: &mut PgConnection) -> i32 {
    let key = dutybell::engine::leader::LOCK_KEY;
    let (high, low) = (key >> 32, key & 0xffff_ffff);
    sqlx::query_scalar(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted \
         AND classid::BIGINT = $1 AND objid::BIGINT = $2 AND objsubid = 1",
    )
    .bind(high)
    .bind(low)
    .fetch_one(db)
    .await
    .unwrap()
}

/// Pages of the cut tests: one alert in each of these services, all due at one instant.
const CUT_SERVICES: usize = 4;

/// Two instances whose leader is sending [`CUT_SERVICES`] pages one by one to a slow
/// receiver, the first of them in flight; `None` without a test Postgres.
async fn sending_slowly() -> Option<(Cluster, PgConnection)> {
    let mut services = String::new();
    let mut env = Vec::new();
    for i in 0..CUT_SERVICES {
        services.push_str(&format!(
            "[[service]]\nid = \"cut{i}\"\nescalation = \"default\"\n\
             integrations = [{{ kind = \"generic\", key_env = \"KEY_CUT{i}\" }}]\n\n"
        ));
        env.push((format!("KEY_CUT{i}"), format!("{:032x}", 0xc0ffee00 + i)));
    }
    let keys: Vec<String> = env.iter().map(|(_, key)| key.clone()).collect();
    let setup = Setup {
        instances: 2,
        own_dirs: false,
        system_clock: false,
        services: &services,
        env,
    };
    let cluster = Cluster::start(setup).await?;
    let mut db = cluster.db().await;

    // Every first page fails once (503), so all of them wait for the same retry instant.
    cluster.hooks.answer.store(ANSWER_503, Ordering::SeqCst);
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(cluster.trigger(0, key, &format!("cut-{i}")).await, 202);
    }
    let waiting = "SELECT COUNT(*) FROM outbox WHERE channel = 'webhook' \
                   AND state = 'pending' AND attempts >= 1";
    wait_count(&mut db, waiting, CUT_SERVICES as i64).await;

    cluster.hooks.answer.store(ANSWER_SLOW, Ordering::SeqCst);
    cluster.hooks.deliveries.lock().unwrap().clear();
    let arrived = cluster.hooks.arrived.notified();
    cluster.set_clock(t0() + jiff::SignedDuration::from_secs(60));
    tokio::time::timeout(Duration::from_secs(30), arrived)
        .await
        .expect("no retry reached the receiver");
    Some((cluster, db))
}

/// Waits (up to 40 s after `since`) until no page is pending, then two sends longer for
/// stragglers; when it settled, and how often each delivery id arrived with a 2xx.
async fn settle(
    cluster: &Cluster,
    db: &mut PgConnection,
    since: Instant,
) -> (Option<Duration>, BTreeMap<String, usize>) {
    let mut settled = None;
    while since.elapsed() < Duration::from_secs(40) {
        let pending = count(
            db,
            "SELECT COUNT(*) FROM outbox WHERE channel = 'webhook' AND state = 'pending'",
        )
        .await;
        if pending == 0 && settled.is_none() {
            settled = Some(since.elapsed());
        }
        if settled.is_some_and(|at| since.elapsed() > at + SLOW * 2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (settled, cluster.hooks.accepted())
}

/// Deliveries beyond the first of each id.
fn repeats(accepted: &BTreeMap<String, usize>) -> usize {
    accepted.values().map(|n| n - 1).sum()
}

/// The leader loses its lock session (terminated, process alive) while it is sending four
/// pages one by one to a slow receiver (issue #8). A standby takes the lead; the old leader
/// must stop sending. At most the page in flight at the cut may go twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leader_cut_off_from_its_lock_stops_sending_pages() {
    let Some((cluster, mut db)) = sending_slowly().await else {
        return;
    };
    let old = cluster.leader().await;
    let pid = lock_holder(&mut db).await;
    let cut = Instant::now();
    let _: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(&mut db)
        .await
        .unwrap();

    let (settled, accepted) = settle(&cluster, &mut db, cut).await;

    println!(
        "cut: old leader {old}, engines after: {:?}, settled after {settled:?}, {} ids \
         received, {} repeats: {accepted:?}",
        cluster.engines().await,
        accepted.len(),
        repeats(&accepted),
    );
    assert!(settled.is_some(), "pages still pending 40 s after the cut");
    assert_eq!(accepted.len(), CUT_SERVICES, "every page arrived");
    assert!(
        repeats(&accepted) <= 1,
        "after the cut both instances sent: {accepted:?}"
    );
}

/// Sends `signal` (`STOP`, `CONT`) to a server this test started.
fn signal(server: &Server, signal: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(server.0.id().to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal}");
}

/// The leader freezes (SIGSTOP) with a page in flight; its lock must pass to the standby,
/// which sends the rest. The old leader then thaws (SIGCONT) while the new one is still
/// sending: it must not carry on with its stale pass, so at most the page in flight at the
/// freeze goes twice (issue #8).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
// Passed 4 runs of 4 once passes stop when the lead goes, writes are fenced to the leader
// and a frozen session's transaction ends after 10 s; it takes about 20 s, so it runs by
// hand: `cargo test --test api -- --ignored cluster_races::frozen`.
#[ignore = "slow (about 20 s); run with --ignored"]
async fn frozen_leader_that_thaws_during_the_takeover_sends_no_page_twice() {
    let Some((cluster, mut db)) = sending_slowly().await else {
        return;
    };
    let old = cluster.leader().await;
    let standby = 1 - old;
    signal(&cluster.servers[old], "STOP");
    let frozen = Instant::now();

    while cluster.engine_of(standby).await != "leading" {
        assert!(
            frozen.elapsed() < Duration::from_secs(20),
            "the frozen leader kept the lead for 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took_over = frozen.elapsed();
    // The new leader's first send is under way: the old one thaws with more left to send.
    while cluster.hooks.deliveries.lock().unwrap().len() < 2 {
        assert!(
            frozen.elapsed() < Duration::from_secs(30),
            "the new leader sent nothing"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    signal(&cluster.servers[old], "CONT");
    let thawed = frozen.elapsed();
    let (settled, accepted) = settle(&cluster, &mut db, frozen).await;

    println!(
        "freeze: standby led after {took_over:?}, old leader thawed after {thawed:?}, \
         settled after {settled:?}, {} ids received, {} repeats; arrivals {:?}",
        accepted.len(),
        repeats(&accepted),
        cluster.hooks.deliveries.lock().unwrap(),
    );
    assert!(
        settled.is_some(),
        "pages still pending 40 s after the freeze"
    );
    assert_eq!(accepted.len(), CUT_SERVICES, "every page arrived");
    assert!(
        repeats(&accepted) <= 1,
        "the thawed leader went on sending: {accepted:?}"
    );
}

/// An ack on the standby racing the leader's escalation past step 0: every alert ends
/// acknowledged, and no alert escalates after its ack (README: "an ack racing an
/// escalation").
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ack_on_a_standby_racing_the_leaders_escalation_never_escalates_after_it() {
    let services = storm_service("acked", "max_open_unacked = 1000");
    let Some(cluster) = Cluster::shared(2, &services).await else {
        return;
    };
    let cluster = Arc::new(cluster);
    const ALERTS: usize = 12;
    for n in 0..ALERTS {
        assert_eq!(
            cluster.trigger(0, STORM_KEY, &format!("ack-{n}")).await,
            202
        );
    }
    let mut db = cluster.db().await;
    let at_step0 = format!(
        "SELECT COUNT(*) FROM alerts WHERE service_id = 'acked' \
         AND next_escalation_at > {}",
        t0().as_millisecond()
    );
    wait_count(&mut db, &at_step0, ALERTS as i64).await;
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM alerts WHERE service_id = 'acked' ORDER BY id")
            .fetch_all(&mut db)
            .await
            .unwrap();
    let standby = 1 - cluster.leader().await;

    let acks: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(n, id)| {
            let (cluster, id) = (cluster.clone(), *id);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(15 * n as u64)).await;
                let url = cluster.url(standby, &format!("/api/v1/alerts/{id}/ack"));
                let body = serde_json::json!({"by": "ben"});
                let response = cluster.client.post(url).bearer_auth(API_TOKEN).json(&body);
                response.send().await.unwrap().status().as_u16()
            })
        })
        .collect();
    let now_ms = cluster.set_clock(t0() + jiff::SignedDuration::from_secs(15 * 60 + 1));
    let mut statuses = Vec::new();
    for ack in acks {
        statuses.push(ack.await.unwrap());
    }
    let due = format!(
        "SELECT (SELECT COUNT(*) FROM alerts WHERE service_id = 'acked' \
         AND next_escalation_at <= {now_ms}) + (SELECT COUNT(*) FROM outbox \
         WHERE state = 'pending' AND due_at <= {now_ms})"
    );
    wait_count(&mut db, &due, 0).await;

    let refused: Vec<_> = statuses.iter().filter(|s| **s >= 300).collect();
    assert!(refused.is_empty(), "refused acks: {refused:?}");
    let rows: Vec<(i64, String, i64)> = sqlx::query_as(
        "SELECT t.alert_id, t.kind, t.id FROM timeline t JOIN alerts a ON a.id = t.alert_id \
         WHERE a.service_id = 'acked' AND t.kind IN ('escalated', 'acknowledged') \
         ORDER BY t.id",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    let mut acked_at: BTreeMap<i64, i64> = BTreeMap::new();
    let mut after_ack = Vec::new();
    let mut escalated_first = 0;
    for (alert, kind, id) in &rows {
        match (kind.as_str(), acked_at.get(alert)) {
            ("acknowledged", _) => {
                acked_at.insert(*alert, *id);
            }
            ("escalated", Some(_)) => after_ack.push(*alert),
            _ => {}
        }
    }
    for alert in &ids {
        let escalations = rows
            .iter()
            .filter(|(a, k, _)| a == alert && k == "escalated")
            .count();
        if escalations > 1 {
            escalated_first += 1;
        }
    }
    let pending = count(
        &mut db,
        "SELECT COUNT(*) FROM outbox o JOIN alerts a ON a.id = o.alert_id \
         WHERE a.service_id = 'acked' AND o.state = 'pending'",
    )
    .await;
    println!("ack race: {escalated_first} of {ALERTS} escalated to step 1 before their ack");
    assert_eq!(acked_at.len(), ALERTS, "every alert acknowledged once");
    assert!(
        after_ack.is_empty(),
        "escalated after the ack: {after_ack:?}"
    );
    assert_eq!(pending, 0, "pages still queued for acked alerts");
}

/// Publishing on one instance reaches the other's status page (README: standbys "keep
/// their status page rendering fresh"); prints how long it took each way.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn publish_on_one_instance_shows_on_the_others_status_page() {
    let Some(cluster) = Cluster::shared(2, "").await else {
        return;
    };
    let leader = cluster.leader().await;

    for (from, to) in [(leader, 1 - leader), (1 - leader, leader)] {
        let name = format!("Race outage {:08x}", rand::random::<u32>());
        let declare = serde_json::json!({"title": name, "severity": "p3", "by": "chen"});
        let declared: serde_json::Value = cluster
            .client
            .post(cluster.url(from, "/api/v1/incidents"))
            .bearer_auth(API_TOKEN)
            .json(&declare)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let number = declared["incident"]["number"]
            .as_i64()
            .expect("declared incident number");
        let publish = serde_json::json!({"name": name, "body": "We are on it.", "by": "chen"});
        let published = cluster
            .client
            .post(cluster.url(from, &format!("/api/v1/incidents/{number}/publish")))
            .bearer_auth(API_TOKEN)
            .json(&publish)
            .send()
            .await
            .unwrap();
        assert!(
            published.status().is_success(),
            "publish: {}",
            published.status()
        );
        let start = Instant::now();

        let mut shown = [None, None];
        while start.elapsed() < Duration::from_secs(15) && shown.iter().any(Option::is_none) {
            for (i, seen) in shown.iter_mut().enumerate() {
                let body = cluster
                    .client
                    .get(cluster.url(i, "/api/v2/summary.json"))
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                if seen.is_none() && body.contains(&name) {
                    *seen = Some(start.elapsed());
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        println!(
            "published on {from} ({}): shown on {from} after {:?}, on {to} after {:?}",
            if from == leader { "leader" } else { "standby" },
            shown[from],
            shown[to]
        );
        assert!(
            shown[from].is_some(),
            "not on the publishing instance's own page"
        );
        assert!(
            shown[to].is_some(),
            "not on the other instance's page within 15 s"
        );
    }
}

/// A client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// The `name=value` part of the `Set-Cookie` for `name`.
fn cookie_of(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|v| v.starts_with(&format!("{name}=")))
}

/// The CSRF token of the first form on a page.
fn csrf_in(page: &str) -> String {
    let marker = r#"name="csrf" value=""#;
    let start = page.find(marker).expect("the page has a form") + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

/// Posts the login form of `instance`; the response.
async fn try_login(cluster: &Cluster, instance: usize, password: &str) -> reqwest::Response {
    let client = no_redirects();
    let form = client
        .get(cluster.url(instance, "/login"))
        .send()
        .await
        .unwrap();
    let nonce = cookie_of(&form, "dutybell_login").expect("a login cookie");
    let csrf = csrf_in(&form.text().await.unwrap());
    client
        .post(cluster.url(instance, "/login"))
        .header("cookie", nonce)
        .form(&[
            ("csrf", csrf.as_str()),
            ("login", "racer"),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
}

/// A web UI session made on one instance works on the other, its CSRF token too; a
/// logout on one ends it on both; failed logins count across instances.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn web_session_made_on_one_instance_works_and_ends_on_the_other() {
    let services = storm_service("ui_race", "max_open_unacked = 1000");
    let Some(cluster) = Cluster::shared(2, &services).await else {
        return;
    };
    const PASSWORD: &str = "racer-password-0123";
    let dir = cluster.dirs[0].path().to_path_buf();
    let (db_url, clock) = (cluster.db_url.clone(), cluster.clock.clone());
    let added = tokio::task::spawn_blocking(move || {
        use std::io::Write as _;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dutybell"))
            .arg("--config")
            .arg(&dir)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .args([
                "user", "add", "racer", "--role", "admin", "--person", "chen",
            ])
            .arg("--password-stdin")
            .envs(crate::helpers::test_env())
            .env("DUTYBELL_DATABASE_URL", db_url)
            .env("DUTYBELL_CLOCK_FILE", clock)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(added.status.success(), "user add: {added:?}");
    assert_eq!(cluster.trigger(0, STORM_KEY, "ui-1").await, 202);
    let mut db = cluster.db().await;
    let alert: i64 = sqlx::query_scalar("SELECT id FROM alerts WHERE service_id = 'ui_race'")
        .fetch_one(&mut db)
        .await
        .unwrap();

    let login = try_login(&cluster, 0, PASSWORD).await;
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    let session = cookie_of(&login, "dutybell_session").expect("a session cookie");
    let client = no_redirects();
    let on_a = client
        .get(cluster.url(0, "/ui"))
        .header("cookie", &session)
        .send()
        .await;
    let csrf_a = csrf_in(&on_a.unwrap().text().await.unwrap());
    let on_b = client
        .get(cluster.url(1, "/ui"))
        .header("cookie", &session)
        .send()
        .await;
    let on_b = on_b.unwrap();
    assert_eq!(on_b.status(), StatusCode::OK, "A's session on B");
    let ack = client
        .post(cluster.url(1, &format!("/ui/alerts/{alert}/ack")))
        .header("cookie", &session)
        .form(&[("csrf", csrf_a.as_str())])
        .send()
        .await
        .unwrap();
    assert!(
        ack.status().is_redirection(),
        "ack on B with A's CSRF: {}",
        ack.status()
    );
    let state: String = sqlx::query_scalar("SELECT state FROM alerts WHERE id = $1")
        .bind(alert)
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(state, "acknowledged");

    let logout = client
        .post(cluster.url(1, "/logout"))
        .header("cookie", &session)
        .form(&[("csrf", csrf_a.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    let after = client
        .get(cluster.url(0, "/ui"))
        .header("cookie", &session)
        .send()
        .await;
    let after = after.unwrap();
    assert_eq!(
        after.status(),
        StatusCode::SEE_OTHER,
        "A still serves the ended session"
    );

    let mut failures = Vec::new();
    for n in 0..5 {
        failures.push(
            try_login(&cluster, n % 2, "wrong-password-0123")
                .await
                .status(),
        );
    }
    let sixth = try_login(&cluster, 1, PASSWORD).await.status();
    assert_eq!(
        sixth,
        StatusCode::TOO_MANY_REQUESTS,
        "after failures {failures:?}"
    );
}

/// Pages sent to the webhook receiver for alerts of `service`.
async fn sent_for(db: &mut PgConnection, service: &str) -> i64 {
    let sql = format!(
        "SELECT COUNT(*) FROM outbox o JOIN alerts a ON a.id = o.alert_id \
         WHERE a.service_id = '{service}' AND o.channel = 'webhook' AND o.state = 'sent'"
    );
    count(db, &sql).await
}

/// Every session of both instances cut at once (what a Postgres restart or failover does):
/// one instance leads again, never two, and an alert posted to the standby afterwards is
/// paged as fast as before the cut (the leader is woken, not found by its 5 s idle poll).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn all_sessions_cut_at_once_one_leader_returns_and_standby_intake_still_wakes_it() {
    let services = storm_service("cut_all", "max_open_unacked = 1000");
    let setup = Setup {
        instances: 2,
        own_dirs: false,
        system_clock: true,
        services: &services,
        env: Vec::new(),
    };
    let Some(cluster) = Cluster::start(setup).await else {
        return;
    };
    let mut db = cluster.db().await;
    let standby = 1 - cluster.leader().await;
    // Let the standby's first tries pass, so the leader idles before the post.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let posted = Instant::now();
    assert_eq!(cluster.trigger(standby, STORM_KEY, "before").await, 202);
    while sent_for(&mut db, "cut_all").await < 1 {
        assert!(
            posted.elapsed() < Duration::from_secs(20),
            "first alert never paged"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = posted.elapsed();

    let name: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&mut db)
        .await
        .unwrap();
    let cut: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1 AND pid <> pg_backend_pid()) cut",
    )
    .bind(&name)
    .fetch_one(&mut db)
    .await
    .unwrap();
    // Both lose the lock session; each finds out at its next check (1 s), then tries again.
    let since_cut = Instant::now();
    let mut both = Vec::new();
    while since_cut.elapsed() < Duration::from_secs(4) {
        let engines = cluster.engines().await;
        if engines.iter().filter(|e| *e == "leading").count() > 1 {
            both.push(engines);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let leader = cluster.leader().await;
    let lead_after = since_cut.elapsed();
    // The pools' first requests may still meet a dead connection.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let standby = 1 - leader;
    let posted = Instant::now();
    let mut status = 0;
    for _ in 0..20 {
        status = cluster.trigger(standby, STORM_KEY, "after").await;
        if status == 202 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        status, 202,
        "the standby never took the alert after the cut"
    );
    while sent_for(&mut db, "cut_all").await < 2 {
        assert!(
            posted.elapsed() < Duration::from_secs(20),
            "second alert never paged"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let after = posted.elapsed();

    println!(
        "cut all: {cut} sessions cut, leader {leader} after {lead_after:?}, both leading \
         {both:?}; standby intake to page: {before:?} before the cut, {after:?} after"
    );
    assert!(both.is_empty(), "two leaders after the cut: {both:?}");
    assert!(
        after < Duration::from_secs(3),
        "the page after the cut took {after:?} (before: {before:?}): the wake-up was lost"
    );
}
