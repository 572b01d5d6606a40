//! Test harness: `spawn_app()` and the local receivers pages are delivered to.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use dutybell::app::{App, Options};
use dutybell::clock::Clock;
use dutybell::config::raw::Env;
use dutybell::config::secrets::Secrets;
use dutybell::config::{self, Overrides};
use dutybell::engine::{Engine, Pass};
use dutybell::store::Store;
use jiff::{SignedDuration, Timestamp};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpListener;

pub const KEY: &str = "5f0c1e7a9d2b4c6e8a1f3b5d7c9e0a2b";
pub const TOKEN: &str = "am-token-for-tests";
pub const API_TOKEN: &str = "api-token-for-tests";
pub const WEBHOOK_SECRET: &str = "webhook-secret-0123456789abcdef0123";
pub const SIGNING_SECRET: &str = "signing-secret-0123456789abcdef0123";
/// Read from `TWILIO_AUTH_TOKEN` by tests that set up `[twilio]`.
pub const TWILIO_AUTH_TOKEN: &str = "twilio-token-for-tests";
/// Read from `NTFY_TOKEN` by tests that set up `[ntfy]` with a token.
pub const NTFY_TOKEN: &str = "tk_ntfytokenfortests";
/// Key of the `web` service, whose policy pages the `business` schedule first.
pub const WEB_KEY: &str = "9d4e5f60718293a4b5c6d7e8f90a1b2c";
/// Keys of the `checkout` service's integrations, one per wire format.
pub const GRAFANA_KEY: &str = "6a1b2c3d4e5f60718293a4b5c6d7e8f9";
pub const PD_KEY: &str = "7b2c3d4e5f60718293a4b5c6d7e8f90a";
pub const GENERIC_KEY: &str = "8c3d4e5f60718293a4b5c6d7e8f90a1b";
/// Read from `KEY_STORM` by tests that add a service of their own (`Setup::services`).
pub const STORM_KEY: &str = "0d4e5f60718293a4b5c6d7e8f90a1b2c";
/// Read from `KEY_SIGNED`: a second key for tests that add services of their own.
pub const SIGNED_KEY: &str = "1e5f60718293a4b5c6d7e8f90a1b2c3d";
/// Read from `GRAFANA_HMAC` by integrations with `hmac_secret_env = "GRAFANA_HMAC"`.
pub const GRAFANA_HMAC: &str = "grafana-hmac-secret-for-tests-0123456789";
/// Read from `SLACK_BOT_TOKEN` / `SLACK_SIGNING_SECRET` by tests that set up `[slack]`.
pub const SLACK_BOT_TOKEN: &str = "xoxb-test-token-0123456789";
pub const SLACK_SIGNING_SECRET: &str = "slack-signing-secret-for-tests-0123";

/// 2025-06-12 05:00 Madrid, a Thursday: primary is ben, secondary dara (see `write_config`).
pub fn t0() -> Timestamp {
    "2025-06-12T03:00:00Z".parse().unwrap()
}

/// A running app with its receivers.
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub clock: Clock,
    pub engine: Engine,
    pub store: Store,
    pub smtp: SmtpSink,
    pub hooks: WebhookSink,
    /// dutybell's own SMTP listener for email intake, when the setup turned it on.
    pub smtp_intake: Option<SocketAddr>,
    /// The environment the config was loaded with (kept for restarts).
    env: Env,
    /// Holds the config and database until the test ends.
    _dir: tempfile::TempDir,
    /// The Postgres database of this app, when the tests run on Postgres; dropped with it.
    pg: Option<PgDatabase>,
    /// Stops the server task, and the task, until `stop` is called.
    server: Option<(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<anyhow::Result<()>>,
    )>,
}

pub struct Setup {
    pub clock: Clock,
    pub engine_loop: bool,
    pub max_body_bytes: Option<usize>,
    /// More contact methods, `(person, inline TOML table)`, appended after the person's
    /// webhook: `("ben", r#"{ kind = "sms", to = "+15550100" }"#.into())`.
    pub contacts: Vec<(&'static str, String)>,
    /// More `dutybell.toml`, such as `[ntfy]` or `[twilio]` tables.
    pub instance: String,
    /// More `oncall.toml`: rotations and schedules a test needs for itself.
    pub oncall: String,
    /// More `team.toml` (whole `[[person]]` tables); `{hooks}` becomes the webhook sink.
    pub team: String,
    /// More `services.toml` (whole `[[service]]` tables), such as the storm service.
    pub services: String,
    /// The whole `statuspage.toml`, written when not empty.
    pub statuspage: String,
    /// More environment variables for the config, over `test_env()` (URLs of receivers
    /// whose ports are only known at run time).
    pub env: Vec<(&'static str, String)>,
    /// Run on a fresh, empty Postgres database of the `DUTYBELL_TEST_POSTGRES` server even
    /// when the suite runs on SQLite (Postgres backup tests, #8).
    pub postgres: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            clock: Clock::manual(t0()),
            engine_loop: false,
            max_body_bytes: None,
            contacts: Vec::new(),
            instance: String::new(),
            oncall: String::new(),
            team: String::new(),
            services: String::new(),
            statuspage: String::new(),
            env: Vec::new(),
            postgres: false,
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Setup::default()).await
}

pub async fn spawn_app_with(setup: Setup) -> TestApp {
    let smtp = SmtpSink::start().await;
    let hooks = WebhookSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), smtp.addr, hooks.addr, setup.max_body_bytes);
    add_to_config(dir.path(), hooks.addr, &setup.contacts, &setup.instance);
    let oncall = dir.path().join("oncall.toml");
    let text = std::fs::read_to_string(&oncall).unwrap();
    std::fs::write(&oncall, format!("{text}{}\n", setup.oncall)).unwrap();
    let hooks_addr = hooks.addr.to_string();
    for (file, more) in [
        ("team.toml", &setup.team),
        ("services.toml", &setup.services),
    ] {
        let path = dir.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let more = more.replace("{hooks}", &hooks_addr);
        std::fs::write(&path, format!("{text}\n{more}\n")).unwrap();
    }
    if !setup.statuspage.is_empty() {
        std::fs::write(dir.path().join("statuspage.toml"), &setup.statuspage).unwrap();
    }
    let mut env = test_env();
    env.extend(setup.env.into_iter().map(|(k, v)| (k.to_string(), v)));
    let pg = match PgDatabase::create().await {
        None if setup.postgres => Some(PgDatabase::create_empty().await),
        pg => pg,
    };
    if let Some(db) = &pg {
        db.write_into(dir.path());
    }
    build_in(dir, smtp, hooks, setup.clock, setup.engine_loop, env, pg).await
}

/// Whether the tests run on Postgres (`DUTYBELL_TEST_BACKEND=postgres`, issue #8).
pub fn on_postgres() -> bool {
    std::env::var("DUTYBELL_TEST_BACKEND").is_ok_and(|backend| backend == "postgres")
}

/// Prints why a test does not run on Postgres and returns true when it should skip.
pub fn skip_on_postgres(reason: &str) -> bool {
    if on_postgres() {
        println!("skipped on Postgres: {reason}");
    }
    on_postgres()
}

/// A fresh database with a random name on the server `DUTYBELL_TEST_POSTGRES` names,
/// cloned from this process's migrated template ([`PgTemplate`]) and dropped (best effort,
/// `WITH (FORCE)`) when the value is.
pub struct PgDatabase {
    server: String,
    name: String,
    /// The URL of this database, for `Overrides::database_url`.
    pub url: String,
}

impl PgDatabase {
    /// One when the tests run on Postgres, `None` on SQLite.
    async fn create() -> Option<PgDatabase> {
        if !on_postgres() {
            return None;
        }
        let server = std::env::var("DUTYBELL_TEST_POSTGRES")
            .expect("DUTYBELL_TEST_BACKEND=postgres needs DUTYBELL_TEST_POSTGRES (a server URL)");
        let template = PG_TEMPLATE
            .get_or_init(|| PgTemplate::create(&server))
            .await;
        let name = format!("dutybell_test_{:016x}", rand::random::<u64>());

        // Cloning copies files instead of running every migration again (issue #8). Two
        // clones of one template at once fail ("being accessed by other users").
        let one_at_a_time = template.clones.lock().await;
        let mut conn = pg_connect(&server).await;
        let sql = format!("CREATE DATABASE {name} TEMPLATE {}", template.name);
        sqlx::Executor::execute(&mut conn, sql.as_str())
            .await
            .unwrap();
        sqlx::Connection::close(conn).await.ok();
        drop(one_at_a_time);

        let url = pg_database_url(&server, &name);
        Some(PgDatabase { server, name, url })
    }
}

/// The process's migrated template every [`PgDatabase`] is cloned from, made on first use.
static PG_TEMPLATE: tokio::sync::OnceCell<PgTemplate> = tokio::sync::OnceCell::const_new();

/// A database migrated with dutybell's own migrations, never connected to once made (Postgres
/// refuses to clone a database with sessions). A session of the process on the server's
/// own database, named after the template, lives until the process exits: templates
/// without such a session belong to finished processes and the next process drops them.
struct PgTemplate {
    name: String,
    /// Held while cloning.
    clones: tokio::sync::Mutex<()>,
}

impl PgTemplate {
    async fn create(server: &str) -> PgTemplate {
        let name = format!("dutybell_template_{:016x}", rand::random::<u64>());
        // The owner session first, so no other process ever sees the template unowned.
        keep_owner_session(server, &name);
        drop_orphaned_templates(server).await;

        let mut conn = pg_connect(server).await;
        sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap();
        sqlx::Connection::close(conn).await.ok();
        let store = Store::connect(&pg_database_url(server, &name))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        // Waits until every pooled connection is closed.
        store.close().await;
        PgTemplate {
            name,
            clones: tokio::sync::Mutex::const_new(()),
        }
    }
}

/// Opens a session named `name` on `server` and keeps it open until the process exits, on
/// a thread of its own: each test has a runtime of its own that ends with the test.
fn keep_owner_session(server: &str, name: &str) {
    use std::str::FromStr as _;
    let options = sqlx::postgres::PgConnectOptions::from_str(server)
        .unwrap()
        .application_name(name);
    let (opened, is_open) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let conn = <sqlx::PgConnection as sqlx::Connection>::connect_with(&options).await;
            opened.send(conn.is_ok()).unwrap();
            std::future::pending::<()>().await;
        });
    });
    assert!(
        is_open.recv().unwrap(),
        "cannot connect to DUTYBELL_TEST_POSTGRES"
    );
}

/// Drops the templates of test processes that have exited (best effort).
async fn drop_orphaned_templates(server: &str) {
    let mut conn = pg_connect(server).await;
    let orphans: Vec<String> = sqlx::query_scalar(
        "SELECT datname::text FROM pg_database d \
         WHERE datname LIKE 'dutybell\\_template\\_%' AND NOT EXISTS \
         (SELECT 1 FROM pg_stat_activity a WHERE a.application_name = d.datname)",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for name in orphans {
        let sql = format!("DROP DATABASE IF EXISTS {name}");
        sqlx::Executor::execute(&mut conn, sql.as_str()).await.ok();
    }
    sqlx::Connection::close(conn).await.ok();
}

/// The URL of database `name` on the server at `server` (a `postgres://…/db` URL).
fn pg_database_url(server: &str, name: &str) -> String {
    match server.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("DUTYBELL_TEST_POSTGRES is not a postgres:// URL: {server}"),
    }
}

impl PgDatabase {
    /// An empty database on the `DUTYBELL_TEST_POSTGRES` server whichever backend the suite
    /// runs on (`Setup::postgres`); the app migrates it.
    async fn create_empty() -> PgDatabase {
        let server = std::env::var("DUTYBELL_TEST_POSTGRES")
            .expect("Setup::postgres needs DUTYBELL_TEST_POSTGRES (a server URL)");
        let name = format!("dutybell_test_{:016x}", rand::random::<u64>());
        let mut conn = pg_connect(&server).await;
        let sql = format!("CREATE DATABASE {name}");
        sqlx::Executor::execute(&mut conn, sql.as_str())
            .await
            .unwrap();
        sqlx::Connection::close(conn).await.ok();
        let url = pg_database_url(&server, &name);
        PgDatabase { server, name, url }
    }

    /// Ends every session connected to this database, as the exit of its server would.
    async fn end_sessions(&self) {
        let mut conn = pg_connect(&self.server).await;
        let sql = format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
            self.name
        );
        sqlx::Executor::execute(&mut conn, sql.as_str())
            .await
            .unwrap();
        sqlx::Connection::close(conn).await.ok();
    }

    /// Names the database in `dutybell.toml`'s `[server]` table too, so the CLI run on the
    /// config directory (`oncall::dutybell`) reaches it.
    fn write_into(&self, dir: &Path) {
        let file = dir.join("dutybell.toml");
        let text = std::fs::read_to_string(&file).unwrap();
        let line = format!("database_url = \"{}\"\n", self.url);
        let text = if text.contains("[server]\n") {
            text.replacen("[server]\n", &format!("[server]\n{line}"), 1)
        } else {
            format!("{text}\n[server]\n{line}")
        };
        std::fs::write(&file, text).unwrap();
    }
}

async fn pg_connect(server: &str) -> sqlx::PgConnection {
    <sqlx::PgConnection as sqlx::Connection>::connect(server)
        .await
        .unwrap()
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let server = self.server.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Drop cannot await; a thread with a runtime of its own works inside or outside one.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let mut conn = pg_connect(&server).await;
                sqlx::Executor::execute(&mut conn, sql.as_str()).await.ok();
            });
        })
        .join();
        if dropped.is_err() {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}

/// Builds and starts the app over the config and database in `dir`.
async fn build_in(
    dir: tempfile::TempDir,
    smtp: SmtpSink,
    hooks: WebhookSink,
    clock: Clock,
    engine_loop: bool,
    env: Env,
    pg: Option<PgDatabase>,
) -> TestApp {
    let overrides = Overrides {
        listen: Some("127.0.0.1:0".parse().unwrap()),
        data_dir: Some(dir.path().join("data")),
        database_url: pg.as_ref().map(|db| db.url.clone()),
        ..Overrides::default()
    };
    let config = config::load_with(dir.path(), &overrides, &env, &mut Secrets::default()).unwrap();
    let options = Options {
        clock: clock.clone(),
        engine: engine_loop,
    };
    // A config reload reads the directory again with the same overrides and environment.
    let source = config::Source {
        dir: dir.path().to_path_buf(),
        overrides,
        env: env.clone(),
    };
    let app = App::build_from(config, source, options).await.unwrap();
    let addr = app.addr();
    let smtp_intake = app.smtp_addr();
    let engine = app.engine().clone();
    let store = app.state().store.clone();
    // Runs until `TestApp::stop`; a TestApp dropped (or restarted) leaves it running.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        if stopped.await.is_err() {
            std::future::pending::<()>().await;
        }
    }));
    TestApp {
        addr,
        client: reqwest::Client::new(),
        clock,
        engine,
        store,
        smtp,
        hooks,
        smtp_intake,
        env,
        _dir: dir,
        pg,
        server: Some((stop, server)),
    }
}

impl TestApp {
    /// Builds the app again over the same config directory and database, as after a
    /// restart, with `clock`; `edit` changes the config directory first. The old app stops
    /// being driven but keeps its port until the test ends.
    pub async fn restart(self, clock: Clock, edit: impl FnOnce(&Path)) -> TestApp {
        edit(self._dir.path());
        let env = self.env.clone();
        build_in(self._dir, self.smtp, self.hooks, clock, false, env, self.pg).await
    }

    /// The config directory (team.toml, oncall.toml, …).
    pub fn config_dir(&self) -> &Path {
        self._dir.path()
    }

    /// Stops the server as SIGTERM does and waits until it has closed its database
    /// connections (restore tests, #8). The app can be restarted afterwards.
    pub async fn stop(&mut self) {
        if let Some((stop, server)) = self.server.take() {
            let _ = stop.send(());
            server.await.unwrap().unwrap();
        }
        // A stopped process's connections die with it; here a task may still hold one
        // (sqlx's `Pool::close` does not wait for connections checked out), so end them.
        if let Some(db) = &self.pg {
            db.end_sessions().await;
        }
    }

    /// The URL of the app's Postgres database, when it runs on one.
    pub fn postgres_url(&self) -> Option<&str> {
        self.pg.as_ref().map(|db| db.url.as_str())
    }
}

/// Appends contact methods to people in `team.toml` and text to `dutybell.toml`.
fn add_to_config(dir: &Path, hooks: SocketAddr, contacts: &[(&str, String)], instance: &str) {
    let team = dir.join("team.toml");
    let mut text = std::fs::read_to_string(&team).unwrap();
    for (person, table) in contacts {
        let webhook =
            format!("url = \"http://{hooks}/hook/{person}\", secret_env = \"HOOK_SECRET\" }}");
        assert!(text.contains(&webhook), "no person {person:?} in team.toml");
        text = text.replacen(&webhook, &format!("{webhook}, {table}"), 1);
    }
    std::fs::write(&team, text).unwrap();
    let file = dir.join("dutybell.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("{text}{instance}\n")).unwrap();
}

/// The environment the test config reads its secrets from.
pub fn test_env() -> Env {
    [
        ("DUTYBELL_KEY_API", KEY),
        ("DUTYBELL_TOKEN_API", TOKEN),
        ("DUTYBELL_API_TOKEN", API_TOKEN),
        ("DUTYBELL_SIGNING_SECRET", SIGNING_SECRET),
        ("HOOK_SECRET", WEBHOOK_SECRET),
        ("DUTYBELL_KEY_WEB", WEB_KEY),
        ("KEY_GRAFANA", GRAFANA_KEY),
        ("OPS_KEY", "0a1b2c3d4e5f60718293a4b5c6d7e8f9"),
        ("KEY_PD", PD_KEY),
        ("KEY_GENERIC", GENERIC_KEY),
        ("TWILIO_AUTH_TOKEN", TWILIO_AUTH_TOKEN),
        ("NTFY_TOKEN", NTFY_TOKEN),
        ("KEY_STORM", STORM_KEY),
        ("KEY_SIGNED", SIGNED_KEY),
        ("GRAFANA_HMAC", GRAFANA_HMAC),
        ("SLACK_BOT_TOKEN", SLACK_BOT_TOKEN),
        ("SLACK_SIGNING_SECRET", SLACK_SIGNING_SECRET),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect::<BTreeMap<_, _>>()
}

/// A team of four on a weekly Madrid rotation (handoff Mondays 10:00) plus a lead, every
/// person reachable by email (the SMTP sink) and webhook (the webhook sink).
pub fn write_config(dir: &Path, smtp: SocketAddr, hooks: SocketAddr, max_body: Option<usize>) {
    let mut team = String::new();
    for id in ["ana", "ben", "chen", "dara", "lead"] {
        team.push_str(&format!(
            "[[person]]\nid = \"{id}\"\nname = \"{id} name\"\nemail = \"{id}@example.com\"\n\
             time_zone = \"Europe/Madrid\"\ncontact = [{{ kind = \"webhook\", \
             url = \"http://{hooks}/hook/{id}\", secret_env = \"HOOK_SECRET\" }}]\n\n"
        ));
    }
    std::fs::write(dir.join("team.toml"), team).unwrap();
    std::fs::write(
        dir.join("oncall.toml"),
        r#"
[[rotation]]
id = "primary"
kind = "weekly"
start = "2025-06-02T10:00"
time_zone = "Europe/Madrid"
people = ["ana", "ben", "chen", "dara"]

[[rotation]]
id = "secondary"
kind = "weekly"
start = "2025-06-02T10:00"
time_zone = "Europe/Madrid"
people = ["chen", "dara", "ana", "ben"]

[[escalation]]
id = "default"
repeat = 0
steps = [
  { targets = ["rotation:primary"], after = "15m" },
  { targets = ["rotation:secondary"], after = "15m" },
  { targets = ["person:lead"], after = "15m" },
]

# Weekdays 09:00-18:00 Madrid the primary rotation, nights the lead, weekend days nobody:
# at t0 (Thu 05:00 Madrid) the lead is on call here.
[[schedule]]
id = "business"
time_zone = "Europe/Madrid"
rules = [
  { days = "weekdays", from = "09:00", to = "18:00", target = "rotation:primary" },
  { days = "all", from = "18:00", to = "09:00", target = "person:lead" },
]

# Spec OC-03: a daily New York rotation handing off at 20:00 across the 23-hour day.
[[rotation]]
id = "nyc"
kind = "daily"
start = "2025-03-08T20:00"
time_zone = "America/New_York"
people = ["ana", "ben"]

[[schedule]]
id = "nyc"
time_zone = "America/New_York"
rules = [{ days = "all", from = "00:00", to = "00:00", target = "rotation:nyc" }]

[[escalation]]
id = "scheduled"
steps = [
  { targets = ["schedule:business"], after = "15m" },
  { targets = ["person:dara"], after = "15m" },
]
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("services.toml"),
        r#"
[[service]]
id = "api"
name = "Public API"
escalation = "default"
runbook_url = "https://runbooks.example.com/api"
integrations = [
  { kind = "alertmanager", key_env = "DUTYBELL_KEY_API", token_env = "DUTYBELL_TOKEN_API" },
]

[[service]]
id = "web"
escalation = "scheduled"
integrations = [
  { kind = "alertmanager", key_env = "DUTYBELL_KEY_WEB", token_env = "DUTYBELL_TOKEN_API" },
]

[[service]]
id = "checkout"
escalation = "default"
max_open_unacked = 3
integrations = [
  { kind = "grafana", key_env = "KEY_GRAFANA" },
  { kind = "pagerduty", key_env = "KEY_PD" },
  { kind = "generic", key_env = "KEY_GENERIC", default_severity = "warning", rate = "5/1m" },
  { kind = "email", address = "Alerts@dutybell.test" },
]
"#,
    )
    .unwrap();
    let mut instance =
        format!("[smtp]\nurl = \"smtp://{smtp}\"\nfrom = \"dutybell <dutybell@example.com>\"\n");
    if let Some(limit) = max_body {
        instance.push_str(&format!("[intake]\nmax_body_bytes = {limit}\n"));
    }
    std::fs::write(dir.join("dutybell.toml"), instance).unwrap();
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn intake_url(&self) -> String {
        self.url(&format!("/api/v1/integrations/{KEY}/alertmanager"))
    }

    /// Posts an Alertmanager webhook body with the integration's token.
    pub async fn post_alertmanager(&self, body: &str) -> reqwest::Response {
        self.client
            .post(self.intake_url())
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    /// Posts an Alertmanager body that must be accepted; returns the alert it names.
    pub async fn open_alert(&self, body: &str) -> i64 {
        let response = self.post_alertmanager(body).await;
        assert_eq!(response.status(), 202);
        let answer: serde_json::Value = response.json().await.unwrap();
        answer["alert_id"]
            .as_i64()
            .expect("the delivery names an alert")
    }

    /// Fires one alert (a group with one member) starting now on the manual clock.
    pub async fn fire(&self, alertname: &str) -> serde_json::Value {
        let body = am_body(alertname, &[("firing", &self.clock.now().to_string())]);
        let response = self.post_alertmanager(&body).await;
        assert_eq!(response.status(), 202);
        response.json().await.unwrap()
    }

    pub async fn run_engine_once(&self) -> Pass {
        self.engine.run_once(self.clock.now()).await.unwrap()
    }

    /// Advances the manual clock and runs one engine pass.
    pub async fn advance_and_run(&self, minutes: i64) -> Pass {
        self.clock.advance(SignedDuration::from_mins(minutes));
        self.run_engine_once().await
    }

    pub async fn api_get(&self, path: &str) -> serde_json::Value {
        let response = self
            .client
            .get(self.url(path))
            .bearer_auth(API_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    pub async fn api_post(&self, path: &str, body: serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(API_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn alert(&self, id: i64) -> serde_json::Value {
        self.api_get(&format!("/api/v1/alerts/{id}")).await
    }

    pub async fn open_alerts(&self) -> Vec<serde_json::Value> {
        self.api_get("/api/v1/alerts")
            .await
            .as_array()
            .unwrap()
            .clone()
    }

    pub async fn timeline_kinds(&self, id: i64) -> Vec<String> {
        let alert = self.alert(id).await;
        alert["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_string())
            .collect()
    }
}

/// An Alertmanager v4 webhook body for group `alertname` with one member per
/// (status, startsAt) given; members are told apart by an `instance` label.
pub fn am_body(alertname: &str, members: &[(&str, &str)]) -> String {
    let alerts: Vec<serde_json::Value> = members
        .iter()
        .enumerate()
        .map(|(i, (status, starts))| {
            let ends = if *status == "resolved" {
                *starts
            } else {
                "0001-01-01T00:00:00Z"
            };
            serde_json::json!({
                "status": status,
                "labels": { "alertname": alertname, "instance": format!("host-{i}"),
                            "severity": "critical" },
                "annotations": { "summary": format!("{alertname} on host-{i}") },
                "startsAt": starts,
                "endsAt": ends,
                "generatorURL": "http://prometheus.example:9090/graph",
            })
        })
        .collect();
    serde_json::json!({
        "version": "4",
        "receiver": "dutybell",
        "status": "firing",
        "groupKey": format!("{{}}:{{alertname=\"{alertname}\"}}"),
        "groupLabels": { "alertname": alertname },
        "commonLabels": { "alertname": alertname },
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "truncatedAlerts": 0,
        "alerts": alerts,
    })
    .to_string()
}

/// A received email.
#[derive(Clone, Debug)]
pub struct Mail {
    pub to: Vec<String>,
    pub data: String,
}

/// A real SMTP server on 127.0.0.1 that accepts every message and keeps it.
#[derive(Clone)]
pub struct SmtpSink {
    pub addr: SocketAddr,
    pub mails: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let sink = SmtpSink {
            addr,
            mails: mails.clone(),
        };
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve_smtp(socket, mails.clone()));
            }
        });
        sink
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    /// Recipients of every mail received, in order.
    pub fn recipients(&self) -> Vec<String> {
        self.mails().into_iter().flat_map(|m| m.to).collect()
    }
}

async fn serve_smtp(socket: tokio::net::TcpStream, mails: Arc<Mutex<Vec<Mail>>>) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    let mut to = Vec::new();
    let _ = write.write_all(b"220 sink ESMTP ready\r\n").await;
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            b"250-sink\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("MAIL FROM") {
            to.clear();
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO") {
            let address = line.trim()[8..].trim().trim_matches(['<', '>']).to_string();
            to.push(address);
            b"250 OK\r\n"
        } else if upper.starts_with("DATA") {
            let _ = write.write_all(b"354 go ahead\r\n").await;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                if line == ".\r\n" {
                    break;
                }
                data.push_str(&line);
            }
            mails.lock().unwrap().push(Mail {
                to: to.clone(),
                data,
            });
            b"250 queued\r\n"
        } else if upper.starts_with("QUIT") {
            let _ = write.write_all(b"221 bye\r\n").await;
            return;
        } else {
            b"250 OK\r\n"
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}

/// A received webhook call.
#[derive(Clone, Debug)]
pub struct Hook {
    pub person: String,
    pub headers: HeaderMap,
    pub body: serde_json::Value,
    /// Whether `Dutybell-Signature` matched the shared secret and the timestamp.
    pub signature_ok: bool,
}

/// A local HTTP server that records webhook calls to `/hook/{person}` and checks their
/// signatures; `fail_next` makes the next calls answer 503 (only calls for `fail_only`'s
/// person, when set).
#[derive(Clone)]
pub struct WebhookSink {
    pub addr: SocketAddr,
    pub hooks: Arc<Mutex<Vec<Hook>>>,
    pub fail_next: Arc<Mutex<usize>>,
    pub fail_only: Arc<Mutex<Option<String>>>,
}

type SinkState = (
    Arc<Mutex<Vec<Hook>>>,
    Arc<Mutex<usize>>,
    Arc<Mutex<Option<String>>>,
);

impl WebhookSink {
    pub async fn start() -> WebhookSink {
        Self::start_on("127.0.0.1:0").await
    }

    pub async fn start_on(addr: &str) -> WebhookSink {
        let hooks = Arc::new(Mutex::new(Vec::new()));
        let fail_next = Arc::new(Mutex::new(0));
        let fail_only = Arc::new(Mutex::new(None));
        let router = axum::Router::new()
            .route("/hook/{person}", axum::routing::post(receive))
            .with_state((hooks.clone(), fail_next.clone(), fail_only.clone()));
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        WebhookSink {
            addr,
            hooks,
            fail_next,
            fail_only,
        }
    }

    pub fn hooks(&self) -> Vec<Hook> {
        self.hooks.lock().unwrap().clone()
    }

    /// People paged by webhook, in order.
    pub fn recipients(&self) -> Vec<String> {
        self.hooks().into_iter().map(|h| h.person).collect()
    }
}

async fn receive(
    State((hooks, fail_next, fail_only)): State<SinkState>,
    axum::extract::Path(person): axum::extract::Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let chosen = fail_only
        .lock()
        .unwrap()
        .as_ref()
        .is_none_or(|only| *only == person);
    if chosen {
        let mut fail = fail_next.lock().unwrap();
        if *fail > 0 {
            *fail -= 1;
            return StatusCode::SERVICE_UNAVAILABLE;
        }
    }
    let timestamp: i64 = header(&headers, "dutybell-timestamp").parse().unwrap_or(0);
    let signature_ok = header(&headers, "dutybell-signature") == sign(timestamp, &body);
    let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    hooks.lock().unwrap().push(Hook {
        person,
        headers,
        body,
        signature_ok,
    });
    StatusCode::NO_CONTENT
}

/// What a receiver computes to check a delivery: `v1=` + hex HMAC-SHA256 of
/// `v1:{timestamp}:{body}` under the shared secret (comms spec §3.1).
fn sign(timestamp: i64, body: &[u8]) -> String {
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(format!("v1:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

pub fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// Polls `check` every 50 ms until it returns true or `limit` passes.
pub async fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check()
}

/// A free port on 127.0.0.1 (bound, read, released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A request an [`HttpFake`] received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Path and query, as sent.
    pub uri: String,
    pub headers: HeaderMap,
    pub body: String,
}

impl Recorded {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }

    pub fn header(&self, name: &str) -> String {
        header(&self.headers, name)
    }
}

/// A canned reply: status, headers, body.
pub type Reply = (u16, Vec<(&'static str, String)>, String);

/// A local stand-in for a third-party HTTP API (Slack, Twilio, ntfy…): records every
/// request on any path and answers from `replies` in order, then `200 ok`.
#[derive(Clone)]
pub struct HttpFake {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    pub replies: Arc<Mutex<std::collections::VecDeque<Reply>>>,
}

type FakeState = (
    Arc<Mutex<Vec<Recorded>>>,
    Arc<Mutex<std::collections::VecDeque<Reply>>>,
);

impl HttpFake {
    pub async fn start() -> HttpFake {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let replies = Arc::new(Mutex::new(std::collections::VecDeque::new()));
        let router = axum::Router::new()
            .fallback(record)
            .with_state((requests.clone(), replies.clone()));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        HttpFake {
            addr,
            requests,
            replies,
        }
    }

    /// Queues a reply for the next request.
    pub fn reply(&self, status: u16, headers: &[(&'static str, &str)], body: &str) {
        let headers = headers.iter().map(|(k, v)| (*k, v.to_string())).collect();
        self.replies
            .lock()
            .unwrap()
            .push_back((status, headers, body.to_string()));
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

async fn record(
    State((requests, replies)): State<FakeState>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    requests.lock().unwrap().push(Recorded {
        method: method.to_string(),
        uri: uri.to_string(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let reply = replies.lock().unwrap().pop_front();
    let (status, headers, body) = reply.unwrap_or((200, Vec::new(), "ok".to_string()));
    let mut response = (StatusCode::from_u16(status).unwrap(), body).into_response();
    for (name, value) in headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}
