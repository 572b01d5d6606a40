//! `dutybell backup` and `dutybell restore` (issue #8), run as the real binary against the
//! database of a server running in this test: the backup is taken online and checked, a
//! restore over the held database is refused, and the backup restores elsewhere. On
//! Postgres (whenever `DUTYBELL_TEST_POSTGRES` names a server) the real `pg_dump` and
//! `pg_restore` bring a changed database back to the backup's moment, row for row.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use serde_json::json;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions as _, Connection as _};

use crate::helpers::{Setup, TestApp, spawn_app, spawn_app_with, test_env};

/// Runs `dutybell <args>` on the app's config with the database under `data`.
async fn cli(app: &TestApp, data: &Path, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_dutybell"))
        .arg("--config")
        .arg(app.config_dir())
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .envs(test_env())
        .env("DUTYBELL_LOG", "warn")
        .output()
        .await
        .unwrap()
}

/// A backup holds password hashes and subscribers' addresses: its owner alone reads it.
fn assert_private(file: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{file} has mode {mode:o}");
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The row count a backup or restore printed for `table`.
fn count(output: &Output, table: &str) -> Option<i64> {
    text(&output.stdout).lines().find_map(|line| {
        let mut words = line.split_whitespace();
        (words.next() == Some(table))
            .then(|| words.next()?.parse().ok())
            .flatten()
    })
}

#[tokio::test]
async fn an_online_backup_restores_elsewhere_and_never_over_a_served_database() {
    if crate::helpers::skip_on_postgres("backup copies SQLite files") {
        return;
    }
    let app = spawn_app().await;
    app.fire("DiskFull").await;
    app.fire("CpuHot").await;
    let live = app.config_dir().join("data");
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("dutybell-backup.db");
    let file = file.to_str().unwrap();

    let backup = cli(&app, &live, &["backup", file]).await;
    let again = cli(&app, &live, &["backup", file]).await;
    let forced = cli(&app, &live, &["backup", file, "--force"]).await;
    let held = cli(&app, &live, &["restore", file]).await;
    let elsewhere = out.path().join("elsewhere");
    let restored = cli(&app, &elsewhere, &["restore", file]).await;
    let over = cli(&app, &elsewhere, &["restore", file]).await;
    let listed = cli(&app, &elsewhere, &["alerts"]).await;

    assert!(backup.status.success(), "{}", text(&backup.stderr));
    assert!(text(&backup.stdout).contains("integrity_check: ok"));
    assert_private(file);
    assert_eq!(
        count(&backup, "alerts"),
        Some(2),
        "{}",
        text(&backup.stdout)
    );
    assert!(!again.status.success(), "an existing file is kept");
    assert!(
        text(&again.stderr).contains("--force"),
        "{}",
        text(&again.stderr)
    );
    assert!(forced.status.success(), "{}", text(&forced.stderr));
    assert!(
        !held.status.success(),
        "the running server holds the database"
    );
    assert!(
        text(&held.stderr).contains("in use"),
        "{}",
        text(&held.stderr)
    );
    assert_eq!(
        app.open_alerts().await.len(),
        2,
        "the served database is untouched"
    );
    assert!(restored.status.success(), "{}", text(&restored.stderr));
    assert_eq!(count(&restored, "alerts"), Some(2));
    assert!(
        over.status.success(),
        "an idle database is replaced: {}",
        text(&over.stderr)
    );
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    assert!(
        text(&listed.stdout).contains("DiskFull"),
        "{}",
        text(&listed.stdout)
    );
}

#[tokio::test]
async fn restore_refuses_files_that_are_no_dutybell_database() {
    if crate::helpers::skip_on_postgres("restore swaps SQLite files") {
        return;
    }
    let app = spawn_app().await;
    let out = tempfile::tempdir().unwrap();
    let garbage = out.path().join("notes.txt");
    std::fs::write(
        &garbage,
        "not a database at all, just some text\n".repeat(200),
    )
    .unwrap();
    let other = out.path().join("other.db");
    let mut conn = SqliteConnectOptions::new()
        .filename(&other)
        .create_if_missing(true)
        .connect()
        .await
        .unwrap();
    sqlx::query("CREATE TABLE things (id INTEGER PRIMARY KEY)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let target = out.path().join("target");

    let from_text = cli(&app, &target, &["restore", garbage.to_str().unwrap()]).await;
    let from_other = cli(&app, &target, &["restore", other.to_str().unwrap()]).await;

    assert!(!from_text.status.success());
    assert!(
        text(&from_text.stderr).contains("not a readable SQLite database"),
        "{}",
        text(&from_text.stderr)
    );
    assert!(!from_other.status.success());
    assert!(
        text(&from_other.stderr).contains("not a dutybell database"),
        "{}",
        text(&from_other.stderr)
    );
    assert!(
        !target.join("dutybell.db").exists(),
        "nothing was put in place"
    );
}

/// A test app on a fresh Postgres database, or `None` (saying why) when no server is set.
async fn spawn_on_postgres() -> Option<TestApp> {
    if std::env::var_os("DUTYBELL_TEST_POSTGRES").is_none() {
        println!("skipped: DUTYBELL_TEST_POSTGRES is unset (start a server with scripts/pg)");
        return None;
    }
    let setup = Setup {
        postgres: true,
        ..Setup::default()
    };
    Some(spawn_app_with(setup).await)
}

/// Tables whose every row [`rows`] reads.
const COMPARED: [&str; 8] = [
    "alerts",
    "timeline",
    "outbox",
    "incidents",
    "incident_events",
    "incident_alerts",
    "deliveries",
    "_sqlx_migrations",
];

/// Every row of the [`COMPARED`] tables, each as Postgres prints the whole row, sorted.
async fn rows(url: &str) -> BTreeMap<&'static str, Vec<String>> {
    let mut conn = PgConnection::connect(url).await.unwrap();
    let mut tables = BTreeMap::new();
    for table in COMPARED {
        let sql = format!("SELECT CAST(t AS TEXT) FROM {table} AS t ORDER BY 1");
        let rows: Vec<String> = sqlx::query_scalar(&sql).fetch_all(&mut conn).await.unwrap();
        tables.insert(table, rows);
    }
    conn.close().await.unwrap();
    tables
}

/// Runs `sql` on the database at `url`.
async fn execute(url: &str, sql: &str) {
    let mut conn = PgConnection::connect(url).await.unwrap();
    sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
}

async fn ack(app: &TestApp, alert: &serde_json::Value, verb: &str) {
    let id = alert["alert_id"].as_i64().expect("an alert id");
    let response = app
        .api_post(
            &format!("/api/v1/alerts/{id}/{verb}"),
            json!({ "by": "ben" }),
        )
        .await;
    assert_eq!(response.status(), 200, "{verb} alert {id}");
}

#[tokio::test]
async fn a_postgres_backup_restores_its_moment_and_never_over_a_served_database() {
    let Some(mut app) = spawn_on_postgres().await else {
        return;
    };
    let url = app.postgres_url().unwrap().to_owned();
    let disk = app.fire("DiskFull").await;
    app.fire("MemLow").await;
    ack(&app, &disk, "ack").await;
    let declared = app
        .api_post(
            "/api/v1/incidents",
            json!({"title": "Checkout down", "severity": "p1", "services": ["api"], "by": "ana"}),
        )
        .await;
    assert_eq!(declared.status(), 200);
    app.run_engine_once().await;
    let at_backup = rows(&url).await;
    let live = app.config_dir().join("data");
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("dutybell.dump");
    let file = file.to_str().unwrap();

    let backup = cli(&app, &live, &["backup", file]).await;
    app.fire("CpuHot").await;
    ack(&app, &disk, "resolve").await;
    let changed = rows(&url).await;
    let held = cli(&app, &live, &["restore", file]).await;
    let after_refusal = rows(&url).await;
    app.stop().await;
    let restored = cli(&app, &live, &["restore", file]).await;
    let after_restore = rows(&url).await;

    assert!(backup.status.success(), "{}", text(&backup.stderr));
    assert_private(file);
    assert!(
        text(&backup.stdout).contains("pg_restore --list: ok"),
        "{}",
        text(&backup.stdout)
    );
    assert_eq!(
        count(&backup, "alerts"),
        Some(3),
        "{}",
        text(&backup.stdout)
    );
    assert!(count(&backup, "timeline").is_some_and(|n| n > 3));
    assert_ne!(
        changed, at_backup,
        "the changes after the backup reached the database"
    );
    assert!(
        !held.status.success(),
        "the running server holds the database"
    );
    assert!(
        text(&held.stderr).contains("in use"),
        "{}",
        text(&held.stderr)
    );
    assert_eq!(after_refusal, changed, "the served database is untouched");
    assert!(restored.status.success(), "{}", text(&restored.stderr));
    assert_eq!(
        count(&restored, "alerts"),
        Some(3),
        "{}",
        text(&restored.stdout)
    );
    for table in COMPARED {
        assert_eq!(
            after_restore[table], at_backup[table],
            "{table} as at the backup"
        );
    }
    assert!(!at_backup["_sqlx_migrations"].is_empty());

    // The server starts on the restored database, and new rows get new ids.
    let clock = app.clock.clone();
    let app = app.restart(clock, |_| {}).await;
    let open: Vec<String> = app
        .open_alerts()
        .await
        .iter()
        .map(|alert| alert["summary"].as_str().unwrap_or_default().to_owned())
        .collect();
    let incident = app.api_get("/api/v1/incidents/1").await;
    let again = app.fire("CpuHot").await;

    assert!(open.iter().any(|s| s.contains("DiskFull")), "{open:?}");
    assert!(!open.iter().any(|s| s.contains("CpuHot")), "{open:?}");
    assert_eq!(incident["incident"]["title"], "Checkout down", "{incident}");
    assert!(
        again["alert_id"].as_i64() > disk["alert_id"].as_i64(),
        "a new alert after the restore: {again}"
    );
}

#[tokio::test]
async fn postgres_backup_and_restore_refuse_bad_input_and_lose_nothing() {
    let Some(mut app) = spawn_on_postgres().await else {
        return;
    };
    let url = app.postgres_url().unwrap().to_owned();
    app.fire("DiskFull").await;
    let live = app.config_dir().join("data");
    let out = tempfile::tempdir().unwrap();
    let good = out.path().join("good.dump");
    let kept = out.path().join("kept.dump");
    std::fs::write(&kept, "an older backup").unwrap();
    let nowhere = out.path().join("no/such/dir/b.dump");
    let garbage = out.path().join("notes.txt");
    std::fs::write(&garbage, "not an archive\n".repeat(100)).unwrap();
    let arg = |path: &Path| path.to_str().unwrap().to_owned();

    let backup = cli(&app, &live, &["backup", &arg(&good)]).await;
    let unwritable = cli(&app, &live, &["backup", &arg(&nowhere)]).await;
    let over = cli(&app, &live, &["backup", &arg(&kept)]).await;
    app.fire("CpuHot").await;
    app.stop().await;
    let before = rows(&url).await;
    let missing = cli(
        &app,
        &live,
        &["restore", &arg(&out.path().join("gone.dump"))],
    )
    .await;
    let from_text = cli(&app, &live, &["restore", &arg(&garbage)]).await;
    execute(&url, "CREATE TABLE public.added_later (id BIGINT)").await;
    let left_behind = cli(&app, &live, &["restore", &arg(&good)]).await;
    execute(
        &url,
        "DROP TABLE public.added_later; CREATE SCHEMA reporting; \
         CREATE VIEW reporting.alert_ids AS SELECT id FROM public.alerts",
    )
    .await;
    let failing = cli(&app, &live, &["restore", &arg(&good)]).await;
    let after = rows(&url).await;

    assert!(backup.status.success(), "{}", text(&backup.stderr));
    assert!(!unwritable.status.success());
    assert!(
        text(&unwritable.stderr).contains("No such file or directory"),
        "{}",
        text(&unwritable.stderr)
    );
    assert!(!over.status.success());
    assert!(
        text(&over.stderr).contains("--force"),
        "{}",
        text(&over.stderr)
    );
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), "an older backup");
    let mut left: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["good.dump", "kept.dump", "notes.txt"],
        "no temporary file left"
    );
    assert!(!missing.status.success());
    assert!(
        text(&missing.stderr).contains("is not a file"),
        "{}",
        text(&missing.stderr)
    );
    assert!(!from_text.status.success());
    assert!(
        text(&from_text.stderr).contains("not a readable pg_dump archive"),
        "{}",
        text(&from_text.stderr)
    );
    assert!(!left_behind.status.success());
    assert!(
        text(&left_behind.stderr).contains("public.added_later"),
        "{}",
        text(&left_behind.stderr)
    );
    assert!(
        !failing.status.success(),
        "the view keeps alerts from being dropped"
    );
    assert!(
        text(&failing.stderr).contains("nothing was changed"),
        "{}",
        text(&failing.stderr)
    );
    assert_eq!(
        after, before,
        "every failed restore left the database as it was"
    );
    assert_eq!(before["alerts"].len(), 2);
}
