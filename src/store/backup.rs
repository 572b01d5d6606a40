//! Whole-database files (issue #8): an online copy of the live database, the checks that
//! tell a good dutybell backup from anything else, and the exclusive claim a restore needs.
//! This module does SQLite; `pg` does Postgres with `pg_dump` / `pg_restore`. `cli::backup`
//! does the file moves around these and prints the results.

pub mod pg;

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions as _, Connection as _, Row as _};

use super::{Backend, Result, Store, StoreError};

/// Tables whose row counts a backup and a restore print, in this order.
pub const COUNTED: [&str; 10] = [
    "alerts",
    "timeline",
    "outbox",
    "deliveries",
    "notices",
    "incidents",
    "incident_events",
    "postmortems",
    "action_items",
    "users",
];

/// What a database file holds, read without changing it.
#[derive(Clone, Debug)]
pub struct Inspection {
    /// `PRAGMA integrity_check`: `["ok"]` for a sound file, else the problems found
    /// (always `["ok"]` on Postgres, which has no such check).
    pub integrity: Vec<String>,
    /// `(version, checksum)` of each migration applied; empty when the file has no
    /// migrations table (then it is no dutybell database).
    pub migrations: Vec<(i64, Vec<u8>)>,
    /// Whether the file has an `alerts` table.
    pub has_alerts: bool,
    /// Row counts of the [`COUNTED`] tables present.
    pub counts: Vec<(&'static str, i64)>,
}

impl Inspection {
    pub fn is_sound(&self) -> bool {
        self.integrity == ["ok"]
    }

    /// Migrations this build does not know for `backend`, or whose contents differ from this
    /// build's: a file written by a newer dutybell, or by another program.
    pub fn unknown_migrations(&self, backend: Backend) -> Vec<i64> {
        let known = match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        self.migrations
            .iter()
            .filter(|(version, checksum)| {
                !known
                    .iter()
                    .any(|m| m.version == *version && *m.checksum == **checksum)
            })
            .map(|(version, _)| *version)
            .collect()
    }
}

/// Writes a consistent copy of the live database to `path` (which must not exist) with
/// `VACUUM INTO`: one read transaction, so writers carry on while it runs.
pub async fn vacuum_into(store: &Store, path: &Path) -> Result<()> {
    let path = path
        .to_str()
        .ok_or_else(|| StoreError::Conflict(format!("{} is not UTF-8", path.display())))?;
    sqlx::query("VACUUM INTO $1")
        .bind(path)
        .execute(store.pool())
        .await?;
    Ok(())
}

/// Opens `path` read-only and reports what it holds.
pub async fn inspect(path: &Path) -> Result<Inspection> {
    // integrity_check reads every page: seconds on a big file, which is no slow statement.
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .disable_statement_logging()
        .connect()
        .await?;
    let inspection = inspect_on(&mut conn).await;
    conn.close().await?;
    inspection
}

async fn inspect_on(conn: &mut SqliteConnection) -> Result<Inspection> {
    let integrity: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut *conn)
        .await?;
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(&mut *conn)
            .await?;
    let has = |name: &str| tables.iter().any(|t| t == name);

    let mut migrations = Vec::new();
    if has("_sqlx_migrations") {
        let rows = sqlx::query(
            "SELECT version, checksum FROM _sqlx_migrations WHERE success ORDER BY version",
        )
        .fetch_all(&mut *conn)
        .await?;
        for row in rows {
            migrations.push((row.try_get("version")?, row.try_get("checksum")?));
        }
    }
    let mut counts = Vec::new();
    for table in COUNTED.into_iter().filter(|table| has(table)) {
        // The name comes from COUNTED, never from the file.
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&mut *conn)
            .await?;
        counts.push((table, n));
    }
    Ok(Inspection {
        integrity,
        migrations,
        has_alerts: has("alerts"),
        counts,
    })
}

/// A connection holding the only lock on a database file, taken for a restore.
#[derive(Debug)]
pub struct Exclusive {
    conn: SqliteConnection,
}

/// Claims `path` for this process alone, or answers [`StoreError::Conflict`] when another
/// connection has it open.
///
/// Leaving WAL mode needs every other connection closed; a running server always keeps one
/// open (`Store::connect` sets `min_connections(1)`), and so does a CLI command mid-way.
/// The switch also folds the WAL into the file and removes it. The exclusive transaction
/// then keeps newcomers out until [`Exclusive::release`]: a server starting meanwhile waits
/// its busy timeout and fails to start, never writes to the file being replaced.
pub async fn claim_exclusive(path: &Path) -> Result<Exclusive> {
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .busy_timeout(Duration::ZERO)
        .connect()
        .await?;
    let in_use = |err: sqlx::Error| match &err {
        sqlx::Error::Database(db) if db.message().contains("locked") => {
            StoreError::Conflict(format!(
                "{} is in use by another process (a running server?)",
                path.display()
            ))
        }
        _ => StoreError::Backend(err),
    };
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode = DELETE")
        .fetch_one(&mut conn)
        .await
        .map_err(in_use)?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(StoreError::Conflict(format!(
            "{} stayed in {mode} mode: another process has it open (a running server?)",
            path.display()
        )));
    }
    sqlx::query("PRAGMA locking_mode = EXCLUSIVE")
        .execute(&mut conn)
        .await?;
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut conn)
        .await
        .map_err(in_use)?;
    Ok(Exclusive { conn })
}

impl Exclusive {
    /// Ends the claim. Call it after the file was replaced: the lock was on the old one.
    pub async fn release(mut self) -> Result<()> {
        sqlx::query("ROLLBACK").execute(&mut self.conn).await?;
        self.conn.close().await?;
        Ok(())
    }
}
