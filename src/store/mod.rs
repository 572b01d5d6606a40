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
//!
//! Every statement goes through sqlx's Any driver, so one code path serves SQLite and
//! Postgres (issue #8): placeholders are `$1, $2, …` in bind order, and values cross
//! as `i64`, `f64`, `String` or bytes only (flags are stored integers, read by `get_flag`).
//! SQL is written to run on both; where no spelling does (JSON, many-argument MAX/MIN),
//! `Dialect` returns the server's. `backup` alone opens SQLite connections of its own.

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

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor as _};

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
    /// The engine's writes are fenced to the leading instance, and this one no longer
    /// leads (issue #8): its pass must stop before it claims work the new leader owns.
    #[error("this instance no longer leads the engine")]
    NotLeading,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which database server a [`Store`] talks to, told by the scheme of its URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a database URL names: `sqlite:…` or `postgres://…`/`postgresql://…`.
    pub fn from_url(url: &str) -> anyhow::Result<Backend> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            let url = redacted(url);
            anyhow::bail!("unsupported database URL {url}: use sqlite://path or postgres://…")
        }
    }
}

/// `url` with its password (in the user info, or a `password=` parameter) shown as `***`:
/// what error messages and logs may say about a database URL.
pub fn redacted(url: &str) -> String {
    let (address, query) = match url.split_once('?') {
        Some((address, query)) => (address, Some(query)),
        None => (url, None),
    };
    let mut shown = match address.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            match rest[..authority_end]
                .rfind('@')
                .map(|at| (rest[..at].split_once(':'), at))
            {
                Some((Some((user, _)), at)) => format!("{scheme}://{user}:***{}", &rest[at..]),
                _ => address.to_owned(),
            }
        }
        None => address.to_owned(),
    };
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        shown = format!("{shown}?{}", pairs.join("&"));
    }
    shown
}

/// The transaction-level advisory lock every Postgres writer takes first (see `begin`);
/// another key than the engine leader's session lock (`engine::leader::LOCK_KEY`).
const WRITE_LOCK_KEY: i64 = 0x6475_7479_7772_6974;

/// Per-connection settings on Postgres. No dutybell transaction waits on anything but the
/// database, so ten idle seconds inside one mean its process froze or lost the network.
const POSTGRES_SETTINGS: &str = "SET idle_in_transaction_session_timeout = '10s'";

/// Per-connection settings the `sqlite` URL cannot carry. `busy_timeout` comes first: the
/// switch to WAL itself may have to wait for another process's lock.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
    PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;";

/// Names the in-memory databases this process opens, one per [`Store::connect`].
static MEMORY_DB_SEQ: AtomicUsize = AtomicUsize::new(0);

/// The URL the Any driver gets for a `sqlite` URL: created when missing (`mode=rwc`), and
/// `sqlite::memory:` turned into a named, shared-cache in-memory database. The Any driver
/// parses the URL again for every connection, and each parse of `:memory:` names a new
/// database, so the pool's connections would each see an empty one of their own.
fn sqlite_any_url(url: &str) -> String {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    if rest == ":memory:" {
        let seq = MEMORY_DB_SEQ.fetch_add(1, Ordering::Relaxed);
        return format!("sqlite:file:dutybell-memory-{seq}?mode=memory&cache=shared");
    }
    match url.split_once('?') {
        Some((_, query)) if query.split('&').any(|pair| pair.starts_with("mode=")) => {
            url.to_owned()
        }
        Some(_) => format!("{url}&mode=rwc"),
        None => format!("{url}?mode=rwc"),
    }
}

/// A handle to the database, cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    /// The database server behind `pool`; picks dialect-specific statements.
    backend: Backend,
    /// Test hook: when set, every write fails as if the disk were gone.
    fail_writes: Arc<AtomicBool>,
    /// The engine's fence on Postgres (`engine::leader`): [`UNFENCED`], [`NOT_LEADING`], or
    /// the server pid of the session holding the leader lock, which every write transaction
    /// checks still holds it.
    fence: Arc<AtomicI32>,
}

/// A store whose writes need no lead: handlers, the CLI, tests driving the engine.
pub const UNFENCED: i32 = -1;
/// A fenced store of an instance that does not lead: every write transaction is refused.
pub const NOT_LEADING: i32 = 0;

impl Store {
    /// Opens the database at `url`: `sqlite://path` (created if needed), `sqlite::memory:`,
    /// or `postgres://…` (the database must exist).
    pub async fn connect(url: &str) -> anyhow::Result<Store> {
        use anyhow::Context as _;
        let backend = Backend::from_url(url)?;
        if let Some(path) = url.strip_prefix("sqlite://")
            && let Some(parent) = std::path::Path::new(path).parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating database directory {}", parent.display()))?;
        }
        // TODO(#8): TLS to Postgres (`sslmode=require`): sqlx is built without a TLS feature,
        // so the database must sit on a private network or behind a tunnel for now.
        // Idempotent: sqlx guards the registration with its own `Once`.
        sqlx::any::install_default_drivers();
        let any_url = match backend {
            Backend::Sqlite => sqlite_any_url(url),
            Backend::Postgres => url.to_owned(),
        };
        // A busy machine (a storm, a backup) may take seconds to hand out a connection;
        // waiting beats failing a page or an intake request.
        // Connections are never reaped and one is always open: `dutybell restore` tells a
        // running server by the open connection it keeps (`backup::claim_exclusive`).
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    match backend {
                        Backend::Sqlite => conn.execute(SQLITE_PRAGMAS).await?,
                        // A frozen or cut-off instance must not hold the write lock (taken
                        // in every transaction, see `begin`) for the other instances: the
                        // server ends a session idle inside a transaction this long.
                        Backend::Postgres => conn.execute(POSTGRES_SETTINGS).await?,
                    };
                    Ok(())
                })
            })
            .connect(&any_url)
            .await
            .with_context(|| format!("opening database {}", redacted(url)))?;
        Ok(Store {
            pool,
            backend,
            fail_writes: Arc::new(AtomicBool::new(false)),
            fence: Arc::new(AtomicI32::new(UNFENCED)),
        })
    }

    /// This store's pool behind a fence of its own, [`UNFENCED`] until leadership sets it:
    /// what the engine writes through, so a pass that outlives its lead claims nothing.
    pub fn fenced(&self) -> Store {
        Store {
            fence: Arc::new(AtomicI32::new(UNFENCED)),
            ..self.clone()
        }
    }

    /// The fence [`fenced`](Self::fenced) made, for leadership to set.
    pub fn fence(&self) -> Arc<AtomicI32> {
        self.fence.clone()
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self.backend {
            Backend::Sqlite => {
                sqlx::migrate!("./migrations/sqlite")
                    .run(&self.pool)
                    .await?
            }
            Backend::Postgres => {
                sqlx::migrate!("./migrations/postgres")
                    .run(&self.pool)
                    .await?
            }
        }
        Ok(())
    }

    /// Wakes every instance listening on `channel` (Postgres `NOTIFY`; nothing on SQLite).
    pub(crate) async fn notify_instances(&self, channel: &str) -> Result<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(channel)
                .execute(&self.pool)
                .await?;
        }
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
    pub(crate) async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        if self.fail_writes.load(Ordering::SeqCst) {
            return Err(StoreError::Backend(sqlx::Error::PoolTimedOut));
        }
        match self.backend {
            // IMMEDIATE takes the write lock at BEGIN, where SQLite's busy timeout applies. A
            // deferred transaction that reads first and writes later fails at once with BUSY
            // when another connection wrote in between, so concurrent intake got 503s.
            Backend::Sqlite => Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?),
            // Writers on every instance take one transaction-level advisory lock first, so
            // each read-then-write sees the writes committed before it, as under IMMEDIATE:
            // two instances deduplicating one alert, or acking while the leader escalates,
            // never both act on the same stale read. The lock ends with the transaction.
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(WRITE_LOCK_KEY)
                    .execute(&mut *tx)
                    .await?;
                // Under the write lock no leader can change hands unseen: if the session
                // that holds the leader lock is not this instance's, nothing is written.
                match self.fence.load(Ordering::SeqCst) {
                    UNFENCED => {}
                    NOT_LEADING => return Err(StoreError::NotLeading),
                    pid => {
                        let (high, low) = crate::engine::leader::lock_key_halves();
                        let holds: bool = sqlx::query_scalar(
                            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' \
                             AND CAST(classid AS BIGINT) = $1 AND CAST(objid AS BIGINT) = $2 \
                             AND objsubid = 1 AND pid = $3 \
                             AND granted)",
                        )
                        .bind(high)
                        .bind(low)
                        .bind(pid)
                        .fetch_one(&mut *tx)
                        .await?;
                        if !holds {
                            return Err(StoreError::NotLeading);
                        }
                    }
                }
                Ok(tx)
            }
        }
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The database server this store talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The SQL spellings of this store's server.
    pub(crate) fn dialect(&self) -> Dialect {
        Dialect(self.backend)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// SQL spellings that differ between SQLite and Postgres (issue #8). Each method returns
/// SQL text; arguments are column expressions or placeholders, never user input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Dialect(Backend);

impl Dialect {
    /// The dialect of the server behind `conn`.
    pub(crate) fn of(conn: &sqlx::AnyConnection) -> Dialect {
        Dialect(Backend::from_driver(conn.backend_name()))
    }

    /// A FROM item: the scalars of the JSON array `param`, as a column `value` (text).
    pub(crate) fn json_values(self, param: &str) -> String {
        match self.0 {
            Backend::Sqlite => format!("json_each({param})"),
            Backend::Postgres => {
                format!("jsonb_array_elements_text(CAST({param} AS jsonb)) AS j(value)")
            }
        }
    }

    /// A subquery: the integers of the JSON array `param`, for `id IN (…)`.
    pub(crate) fn json_ints(self, param: &str) -> String {
        match self.0 {
            Backend::Sqlite => format!("SELECT value FROM json_each({param})"),
            Backend::Postgres => format!(
                "SELECT CAST(value AS BIGINT) FROM \
                 jsonb_array_elements_text(CAST({param} AS jsonb)) AS j(value)"
            ),
        }
    }

    /// A FROM item: the objects of the JSON array `param`, as a column `value` that
    /// `value ->> 'key'` reads (text on Postgres: cast numbers).
    pub(crate) fn json_objects(self, param: &str) -> String {
        match self.0 {
            Backend::Sqlite => format!("json_each({param})"),
            Backend::Postgres => {
                format!("jsonb_array_elements(CAST({param} AS jsonb)) AS j(value)")
            }
        }
    }

    /// A JSON object, as text, of `pairs` (`'key', expr, …`).
    pub(crate) fn json_object(self, pairs: &str) -> String {
        match self.0 {
            Backend::Sqlite => format!("json_object({pairs})"),
            Backend::Postgres => format!("CAST(json_build_object({pairs}) AS TEXT)"),
        }
    }

    /// An aggregate: one JSON array, as text, holding for each row the JSON array of
    /// `values` (`expr, …`), in the order of `order` (`expr, …`). NULL over no rows on
    /// Postgres, `[]` on SQLite. An ORDER BY inside an aggregate needs SQLite 3.44, which
    /// the bundled SQLite (sqlx's `sqlite` feature) is past.
    pub(crate) fn json_rows(self, values: &str, order: &str) -> String {
        let order = if order.is_empty() {
            String::new()
        } else {
            format!(" ORDER BY {order}")
        };
        match self.0 {
            Backend::Sqlite => format!("json_group_array(json_array({values}){order})"),
            Backend::Postgres => {
                format!("CAST(json_agg(json_build_array({values}){order}) AS TEXT)")
            }
        }
    }

    /// The text at top-level `key` of the JSON object in column `expr` (NULL when absent).
    pub(crate) fn json_text(self, expr: &str, key: &str) -> String {
        match self.0 {
            Backend::Sqlite => format!("json_extract({expr}, '$.{key}')"),
            Backend::Postgres => format!("(CAST({expr} AS jsonb) ->> '{key}')"),
        }
    }

    /// The integer at top-level `key` of the JSON object in column `expr`.
    pub(crate) fn json_int(self, expr: &str, key: &str) -> String {
        match self.0 {
            Backend::Sqlite => format!("json_extract({expr}, '$.{key}')"),
            Backend::Postgres => format!("CAST(CAST({expr} AS jsonb) ->> '{key}' AS BIGINT)"),
        }
    }

    /// The largest of `args` (SQLite's many-argument MAX; Postgres's GREATEST).
    pub(crate) fn greatest(self, args: &[&str]) -> String {
        match self.0 {
            Backend::Sqlite => format!("MAX({})", args.join(", ")),
            Backend::Postgres => format!("GREATEST({})", args.join(", ")),
        }
    }

    /// The smallest of `args` (SQLite's many-argument MIN; Postgres's LEAST).
    pub(crate) fn least(self, args: &[&str]) -> String {
        match self.0 {
            Backend::Sqlite => format!("MIN({})", args.join(", ")),
            Backend::Postgres => format!("LEAST({})", args.join(", ")),
        }
    }
}

impl Backend {
    /// The backend an Any connection's driver name tells.
    fn from_driver(name: &str) -> Backend {
        if name.eq_ignore_ascii_case("PostgreSQL") || name.eq_ignore_ascii_case("postgres") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// Whether a caller-given string can name a stored row. None holds a NUL, and Postgres
/// refuses NUL in a text parameter (a failed statement where SQLite finds nothing), so a
/// lookup by a caller-given string asks this first and finds nothing without asking the
/// database (issue #8).
pub(crate) fn can_match(key: &str) -> bool {
    !key.contains('\0')
}

/// A stored flag (an INTEGER, 0 or 1) → bool. Read as an integer: through the Any driver
/// SQLite hands back integers, which do not decode as `bool`.
pub(crate) fn get_flag(row: &sqlx::any::AnyRow, column: &str) -> Result<bool> {
    use sqlx::Row as _;
    Ok(row.try_get::<i64, _>(column)? != 0)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_url_loses_its_password_in_messages() {
        let cases = [
            (
                "postgres://dutybell:s3cr@t@db:5432/x",
                "postgres://dutybell:***@db:5432/x",
            ),
            (
                "postgres://dutybell@db/x?sslmode=off&password=no",
                "postgres://dutybell@db/x?sslmode=off&password=***",
            ),
            ("postgresql://u:p@h", "postgresql://u:***@h"),
            (
                "sqlite:///var/lib/dutybell/dutybell.db",
                "sqlite:///var/lib/dutybell/dutybell.db",
            ),
            ("not a url", "not a url"),
        ];
        for (url, shown) in cases {
            assert_eq!(redacted(url), shown, "{url}");
        }
    }

    #[tokio::test]
    async fn a_failed_connect_does_not_print_the_password() {
        let err = Store::connect("postgres://dutybell:hunter2@127.0.0.1:1/x")
            .await
            .err()
            .map(|err| format!("{err:#}"))
            .unwrap_or_default();
        assert!(err.contains("dutybell:***@127.0.0.1:1"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    /// The settings every pooled SQLite connection must carry (`synchronous` 1 is NORMAL).
    async fn settings(conn: &mut sqlx::AnyConnection) -> (String, i64, i64, i64) {
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        let mut ints = Vec::new();
        for pragma in ["synchronous", "foreign_keys", "busy_timeout"] {
            let value: i64 = sqlx::query_scalar(&format!("PRAGMA {pragma}"))
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            ints.push(value);
        }
        (mode, ints[0], ints[1], ints[2])
    }

    #[test]
    fn urls_pick_the_backend_and_sqlite_files_are_created() {
        let backends = [
            ("sqlite://a.db", Backend::Sqlite),
            ("sqlite::memory:", Backend::Sqlite),
            ("postgres://h/db", Backend::Postgres),
            ("postgresql://h/db", Backend::Postgres),
        ];
        let urls = [
            ("sqlite://d/a.db", "sqlite://d/a.db?mode=rwc"),
            (
                "sqlite://a.db?cache=private",
                "sqlite://a.db?cache=private&mode=rwc",
            ),
            ("sqlite://a.db?mode=ro", "sqlite://a.db?mode=ro"),
        ];

        for (url, backend) in backends {
            assert_eq!(Backend::from_url(url).unwrap(), backend, "{url}");
        }
        assert!(Backend::from_url("mysql://h/db").is_err());
        for (url, any_url) in urls {
            assert_eq!(sqlite_any_url(url), any_url);
        }
        assert!(sqlite_any_url("sqlite::memory:").ends_with("?mode=memory&cache=shared"));
    }

    #[test]
    fn each_dialect_spells_what_the_other_lacks() {
        let (lite, pg) = (Dialect(Backend::Sqlite), Dialect(Backend::Postgres));

        assert_eq!(lite.greatest(&["a", "$1"]), "MAX(a, $1)");
        assert_eq!(pg.greatest(&["a", "$1"]), "GREATEST(a, $1)");
        assert_eq!(pg.least(&["a", "b"]), "LEAST(a, b)");
        assert_eq!(lite.json_text("d", "via"), "json_extract(d, '$.via')");
        assert_eq!(pg.json_text("d", "via"), "(CAST(d AS jsonb) ->> 'via')");
        assert_eq!(lite.json_values("$1"), "json_each($1)");
        assert!(
            pg.json_ints("$1")
                .starts_with("SELECT CAST(value AS BIGINT)")
        );
        assert_eq!(Backend::from_driver("PostgreSQL"), Backend::Postgres);
        assert_eq!(Backend::from_driver("SQLite"), Backend::Sqlite);
    }

    #[tokio::test]
    async fn a_file_database_is_created_with_wal_and_the_pool_settings() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("sub/t.db").display());

        let store = Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        let mut conn = store.pool().acquire().await.unwrap();

        assert_eq!(store.backend(), Backend::Sqlite);
        assert!(dir.path().join("sub/t.db").exists());
        assert_eq!(settings(&mut conn).await, ("wal".to_owned(), 1, 1, 5000));
    }

    #[tokio::test]
    async fn every_connection_of_an_in_memory_store_sees_the_same_database() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        let other = Store::connect("sqlite::memory:").await.unwrap();

        // Hold one connection so the next comes from a second one.
        let mut first = store.pool().acquire().await.unwrap();
        let mut second = store.pool().acquire().await.unwrap();
        sqlx::query("CREATE TABLE probe (name TEXT NOT NULL)")
            .execute(&mut *first)
            .await
            .unwrap();
        sqlx::query("INSERT INTO probe (name) VALUES ($1)")
            .bind("checkout")
            .execute(&mut *first)
            .await
            .unwrap();
        let seen: Vec<String> = sqlx::query_scalar("SELECT name FROM probe")
            .fetch_all(&mut *second)
            .await
            .unwrap();
        let tables: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'probe'")
                .fetch_one(other.pool())
                .await
                .unwrap();

        assert_eq!(seen, ["checkout"]);
        assert_eq!(tables, 0, "each connect opens a database of its own");
        assert_eq!(settings(&mut second).await.1, 1);
    }
}
