//! `dutybell backup` and `dutybell restore` (issue #8), run as the real binary against the
//! database of a server running in this test: the backup is taken online and checked, a
//! restore over the held database is refused, and the backup restores elsewhere.

use std::path::Path;
use std::process::Output;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions as _, Connection as _};

use crate::helpers::{TestApp, spawn_app, test_env};

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
