//! The only module that speaks SQL. [`Store`] wraps the pool; one submodule per aggregate:
//! `deliveries` (intake writes), `alerts` (reads, ack, resolve, escalation state),
//! `outbox` (pages waiting to be sent and what became of them), `overrides` (schedule
//! overrides, runtime state merged into config schedules), `history` (who was on call),
//! `notices` (shift-change and coverage-gap notices, and gaps already announced),
//! `rotations` (rotation settings last seen and their anchors), `ack_timeouts`,
//! `maintenance` (holds while a service is in maintenance), `direct` (direct pages) and
//! `verification` (contact-method codes and verified contacts). `reports` reads across
//! aggregates for reports and `/metrics`, and remembers weekly digests sent. `retention`
//! deletes old history in batches; `backup` copies and checks whole database files.
//!
//! SQLite runs in WAL mode with `synchronous = NORMAL`: a committed transaction survives a
//! process kill (the case intake promises), and writers wait up to `busy_timeout` for each
//! other, so the CLI can act on the database while the server runs.

pub mod accounts;
pub mod ack_timeouts;
pub mod action_items;
pub mod alerts;
pub mod backup;
pub mod deliveries;
pub mod direct;
pub mod history;
pub mod incidents;
pub mod maintenance;
pub mod notices;
pub mod outbox;
pub mod overrides;
pub mod page_messages;
pub mod postmortems;
pub mod probes;
pub mod reports;
pub mod retention;
pub mod rotations;
pub mod services;
pub mod slack;
pub mod statuspage;
pub mod temporary;
pub mod verification;

use std::str::FromStr as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

/// Errors callers branch on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database failed or is unavailable; the caller may retry.
    #[error("storage failure: {0}")]
    Backend(#[from] sqlx::Error),
    /// The service has too many open unacknowledged alerts to open another (D10).
    #[error("{limit} unacknowledged alerts are open; new ones are refused until some are acked")]
    CapReached { limit: u32 },
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A handle to the database, cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
    /// Test hook: when set, every write fails as if the disk were gone.
    fail_writes: Arc<AtomicBool>,
}

impl Store {
    /// Opens (creating if needed) the database at `url` (`sqlite://path` or `sqlite::memory:`).
    pub async fn connect(url: &str) -> anyhow::Result<Store> {
        use anyhow::Context as _;
        if url.starts_with("postgres") {
            // TODO(#8): the Postgres backend.
            anyhow::bail!("Postgres is not supported yet; use a sqlite:// database URL");
        }
        if let Some(path) = url.strip_prefix("sqlite://")
            && let Some(parent) = std::path::Path::new(path).parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating database directory {}", parent.display()))?;
        }
        let options = SqliteConnectOptions::from_str(url)
            .with_context(|| format!("parsing database URL {url}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        // A busy machine (a storm, a backup) may take seconds to hand out a connection;
        // waiting beats failing a page or an intake request.
        // Connections are never reaped and one is always open: `dutybell restore` tells a
        // running server by the open connection it keeps (`backup::claim_exclusive`).
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await
            .with_context(|| format!("opening database {url}"))?;
        Ok(Store {
            pool,
            fail_writes: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        sqlx::migrate!("./migrations/sqlite")
            .run(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Test hook: makes every following write fail (or work again).
    pub fn set_fail_writes(&self, fail: bool) {
        self.fail_writes.store(fail, Ordering::SeqCst);
    }

    /// Starts a write transaction, honouring the failure hook.
    pub(crate) async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        if self.fail_writes.load(Ordering::SeqCst) {
            return Err(StoreError::Backend(sqlx::Error::PoolTimedOut));
        }
        // IMMEDIATE takes the write lock at BEGIN, where SQLite's busy timeout applies. A
        // deferred transaction that reads first and writes later fails at once with BUSY
        // when another connection wrote in between, so concurrent intake got 503s.
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Instant → stored integer (unix milliseconds, UTC).
pub(crate) fn to_ms(at: Timestamp) -> i64 {
    at.as_millisecond()
}

/// Instant → stored integer, rounded up: the exclusive end of a window that must still
/// contain an instant with sub-millisecond digits (`[now, now + 1ns)` must meet `now`).
pub(crate) fn to_ms_ceil(at: Timestamp) -> i64 {
    let ms = at.as_millisecond();
    if at.as_nanosecond() > i128::from(ms) * 1_000_000 {
        ms + 1
    } else {
        ms
    }
}

/// Stored integer → instant.
pub(crate) fn from_ms(ms: i64) -> Result<Timestamp> {
    Timestamp::from_millisecond(ms).map_err(|err| StoreError::Corrupt(err.to_string()))
}

pub(crate) fn from_ms_opt(ms: Option<i64>) -> Result<Option<Timestamp>> {
    ms.map(from_ms).transpose()
}
