//! Postgres backups (issue #8): runs of the real `pg_dump` / `pg_restore` (Debian's
//! `postgresql-client`), the snapshot a dump is taken in, what a custom-format archive holds,
//! and the checks a restore makes on the live database first. `cli::backup` moves the files.
//!
//! The password never reaches a command line or a log: the tools get the URL without it
//! (`--dbname`) and the password in their own `PGPASSWORD`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use secrecy::{ExposeSecret as _, SecretString};
use sqlx::postgres::PgConnection;
use sqlx::{Connection as _, Row as _};

use super::{COUNTED, Inspection};
use crate::store::{Result, StoreError};

/// Where Debian and Ubuntu install each PostgreSQL version's programs, `<root>/<version>/bin`.
const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// Query parameters sqlx reads that libpq spells otherwise (`None`: sqlx's own, dropped).
const SQLX_ONLY_PARAMS: [(&str, Option<&str>); 5] = [
    ("statement-cache-capacity", None),
    ("ssl-root-cert", Some("sslrootcert")),
    ("ssl-ca", Some("sslrootcert")),
    ("ssl-cert", Some("sslcert")),
    ("ssl-key", Some("sslkey")),
];

/// A `postgres://` database URL taken apart for libpq's programs.
#[derive(Debug)]
pub struct PgTarget {
    /// The URL as configured, password included, for our own connections.
    url: SecretString,
    /// The URL without its password, with libpq's parameter names: `--dbname` and messages.
    pub shown: String,
    /// The password of the URL, percent-decoded, for the child's `PGPASSWORD`.
    password: Option<SecretString>,
}

impl PgTarget {
    pub fn parse(url: &str) -> anyhow::Result<PgTarget> {
        let (scheme, rest) = url
            .split_once("://")
            .filter(|(scheme, _)| matches!(*scheme, "postgres" | "postgresql"))
            .context("not a postgres:// database URL")?;
        let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
        let mut password = None;
        let authority = match authority.rsplit_once('@') {
            Some((userinfo, host)) => {
                let user = match userinfo.split_once(':') {
                    Some((user, secret)) => {
                        password = Some(percent_decoded(secret)?);
                        user
                    }
                    None => userinfo,
                };
                format!("{user}@{host}")
            }
            None => authority.to_owned(),
        };
        let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
        let mut params = Vec::new();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if key == "password" {
                password = Some(percent_decoded(value)?);
                continue;
            }
            let key = match SQLX_ONLY_PARAMS.iter().find(|(sqlx, _)| *sqlx == key) {
                Some((_, Some(libpq))) => libpq,
                Some((_, None)) => continue,
                None => key,
            };
            params.push(format!("{key}={value}"));
        }
        let mut shown = format!("{scheme}://{authority}{path}");
        if !params.is_empty() {
            shown = format!("{shown}?{}", params.join("&"));
        }
        Ok(PgTarget {
            url: SecretString::from(url.to_owned()),
            shown,
            password: password.map(SecretString::from),
        })
    }

    /// A connection of our own to the database.
    pub async fn connect(&self) -> anyhow::Result<PgConnection> {
        PgConnection::connect(self.url.expose_secret())
            .await
            .with_context(|| format!("connecting to {}", self.shown))
    }

    /// `program` set up to reach this database: the password in its environment, never
    /// asked for on a terminal (a backup from cron would hang).
    fn command(&self, program: &Path) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(program);
        command
            .arg("--no-password")
            .arg(format!("--dbname={}", self.shown))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if let Some(password) = &self.password {
            command.env("PGPASSWORD", password.expose_secret());
        }
        command
    }
}

fn percent_decoded(text: &str) -> anyhow::Result<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let byte = text
                .get(i + 1..i + 3)
                .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .context("a bad %-escape in the database URL's password")?;
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).context("the database URL's password is not UTF-8")
}

/// The program `name` (`pg_dump`, `pg_restore`): the first on `PATH`, else the newest
/// version's under `/usr/lib/postgresql/*/bin`.
pub fn find_tool(name: &str) -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("PATH");
    find_tool_in(name, path.as_deref(), Path::new(DEBIAN_ROOT))
}

fn find_tool_in(name: &str, path: Option<&OsStr>, root: &Path) -> anyhow::Result<PathBuf> {
    let on_path = path
        .into_iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name));
    let mut versions: Vec<(Vec<u64>, PathBuf)> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry
                .file_name()
                .to_str()?
                .split('.')
                .map(|part| part.parse().ok())
                .collect::<Option<Vec<u64>>>()?;
            Some((version, entry.path().join("bin").join(name)))
        })
        .collect();
    versions.sort();
    let newest_first = versions.into_iter().rev().map(|(_, path)| path);
    on_path
        .chain(newest_first)
        .find(|candidate| is_executable(candidate))
        .with_context(|| {
            format!(
                "no {name} on PATH or in {}/*/bin: install the PostgreSQL client programs \
                 (Debian and Ubuntu: apt-get install postgresql-client)",
                root.display()
            )
        })
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Runs `command` to its end; an error carries its exit status and what it printed on
/// stderr. Returns its stdout.
async fn run(mut command: tokio::process::Command, what: &str) -> anyhow::Result<String> {
    let output = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .with_context(|| format!("starting {what}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    anyhow::ensure!(
        output.status.success(),
        "{what} failed ({}): {}",
        output.status,
        stderr.trim()
    );
    if !stderr.trim().is_empty() {
        tracing::warn!(program = what, stderr = %stderr.trim(), "finished with warnings");
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// A read-only repeatable-read transaction whose snapshot `pg_dump` shares
/// (`--snapshot`): the counts read here are those of the dump, to the row.
pub struct Snapshot {
    conn: PgConnection,
    /// The id `pg_export_snapshot()` gave, valid while this transaction is open.
    pub id: String,
}

impl Snapshot {
    pub async fn take(target: &PgTarget) -> anyhow::Result<Snapshot> {
        let mut conn = target.connect().await?;
        sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut conn)
            .await?;
        let id = sqlx::query_scalar("SELECT pg_export_snapshot()")
            .fetch_one(&mut conn)
            .await
            .context("exporting a snapshot for pg_dump")?;
        Ok(Snapshot { conn, id })
    }

    /// What the database holds in this snapshot (`integrity` is always `["ok"]`).
    pub async fn inspect(&mut self) -> Result<Inspection> {
        inspect_live(&mut self.conn).await
    }

    /// Ends the transaction (after `pg_dump` is done with the snapshot).
    pub async fn finish(mut self) -> Result<()> {
        sqlx::query("COMMIT").execute(&mut self.conn).await?;
        self.conn.close().await?;
        Ok(())
    }
}

/// What the live database behind `conn` holds. Postgres checks its pages itself: there is no
/// `integrity_check` to run, so `integrity` is `["ok"]`.
pub async fn inspect_live(conn: &mut PgConnection) -> Result<Inspection> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
    )
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
        // The name comes from COUNTED, never from the database.
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&mut *conn)
            .await?;
        counts.push((table, n));
    }
    Ok(Inspection {
        integrity: vec!["ok".to_owned()],
        migrations,
        has_alerts: has("alerts"),
        counts,
    })
}

/// Writes a custom-format (`-Fc`) dump of the database, as of `snapshot`, to `file`.
pub async fn dump(target: &PgTarget, snapshot: &Snapshot, file: &Path) -> anyhow::Result<()> {
    let mut command = target.command(&find_tool("pg_dump")?);
    command
        .arg("--format=custom")
        .arg(format!("--snapshot={}", snapshot.id))
        .arg("--file")
        .arg(file);
    run(command, "pg_dump").await?;
    Ok(())
}

/// The table of contents of a custom-format archive, as far as a restore needs it.
#[derive(Debug, Default)]
pub struct Archive {
    /// `(schema, table)` of every table the archive creates.
    pub tables: Vec<(String, String)>,
    /// `(version, checksum)` of each successful migration in its `_sqlx_migrations` data.
    pub migrations: Vec<(i64, Vec<u8>)>,
}

impl Archive {
    /// As an [`Inspection`]: `integrity` is `["ok"]` (`pg_restore` read the whole table of
    /// contents); no counts, which only a restore could tell.
    pub fn inspection(&self) -> Inspection {
        Inspection {
            integrity: vec!["ok".to_owned()],
            migrations: self.migrations.clone(),
            has_alerts: self.tables.iter().any(|(_, table)| table == "alerts"),
            counts: Vec::new(),
        }
    }
}

/// Reads `file` with `pg_restore` (without a database): its table of contents, then the
/// rows of its migrations table. Fails on anything but a custom-format archive.
pub async fn read_archive(file: &Path) -> anyhow::Result<Archive> {
    let tool = find_tool("pg_restore")?;
    let mut list = tokio::process::Command::new(&tool);
    list.arg("--list")
        .arg(positional(file))
        .stdin(Stdio::null());
    let toc = run(list, "pg_restore --list").await?;
    let tables = parse_tables(&toc);

    let mut migrations = Vec::new();
    if tables.iter().any(|(_, table)| table == "_sqlx_migrations") {
        let mut data = tokio::process::Command::new(&tool);
        data.args(["--data-only", "--table=_sqlx_migrations", "--file=-"])
            .arg(positional(file))
            .stdin(Stdio::null());
        let script = run(data, "pg_restore --data-only").await?;
        migrations = parse_migrations(&script)?;
    }
    Ok(Archive { tables, migrations })
}

/// `file` as a command-line argument that cannot read as an option (`-x.dump`).
fn positional(file: &Path) -> PathBuf {
    if file.as_os_str().to_string_lossy().starts_with('-') {
        Path::new(".").join(file)
    } else {
        file.to_path_buf()
    }
}

/// `(schema, table)` of each `TABLE` entry of `pg_restore --list` output, whose lines read
/// `ID; CATALOG-OID OID TYPE SCHEMA NAME OWNER` (`TYPE` may be two words: `TABLE DATA`).
fn parse_tables(toc: &str) -> Vec<(String, String)> {
    toc.lines()
        .filter(|line| !line.starts_with(';'))
        .filter_map(|line| {
            let (_, entry) = line.split_once("; ")?;
            let mut words = entry.split_whitespace().skip(2);
            if words.next()? != "TABLE" {
                return None;
            }
            let schema = words.next()?;
            let name = words.next()?;
            // `TABLE DATA public alerts owner` reads as schema "DATA": not a table entry.
            (schema != "DATA").then(|| (schema.to_owned(), name.to_owned()))
        })
        .collect()
}

/// `(version, checksum)` of the successful rows in the `COPY … _sqlx_migrations (…) FROM
/// stdin;` block of a `pg_restore --data-only` script.
fn parse_migrations(script: &str) -> anyhow::Result<Vec<(i64, Vec<u8>)>> {
    let mut lines = script.lines();
    let header = lines
        .by_ref()
        .find(|line| line.starts_with("COPY ") && line.contains("_sqlx_migrations ("))
        .context("no migrations data in the archive")?;
    let columns: Vec<&str> = header
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(names, _)| names.split(',').map(str::trim).collect())
        .unwrap_or_default();
    let at = |name: &str| {
        columns
            .iter()
            .position(|c| *c == name)
            .with_context(|| format!("the archive's _sqlx_migrations has no {name} column"))
    };
    let (version_at, checksum_at, success_at) = (at("version")?, at("checksum")?, at("success")?);

    let mut migrations = Vec::new();
    for line in lines.take_while(|line| *line != "\\.") {
        let fields: Vec<&str> = line.split('\t').collect();
        let field = |i: usize| fields.get(i).copied().unwrap_or_default();
        if field(success_at) != "t" {
            continue;
        }
        let version = field(version_at)
            .parse()
            .with_context(|| format!("bad migration version {:?}", field(version_at)))?;
        // COPY text doubles the backslash of bytea's hex form: `\\x0a1b…`.
        let checksum = field(checksum_at)
            .trim_start_matches('\\')
            .strip_prefix('x')
            .and_then(|digits| hex::decode(digits).ok())
            .with_context(|| format!("bad checksum of migration {version}"))?;
        migrations.push((version, checksum));
    }
    // COPY writes rows in their physical order, which updates may have shuffled.
    migrations.sort();
    Ok(migrations)
}

/// How long sessions found on the database get to go away before a restore is refused: a
/// server stopped a moment ago may still have a backend exiting.
const SESSION_GRACE: Duration = Duration::from_secs(2);

/// Fails with [`StoreError::Conflict`] while another client session is connected to the
/// database behind `conn` (a running server always keeps one open).
pub async fn ensure_idle(conn: &mut PgConnection, shown: &str) -> Result<()> {
    let deadline = tokio::time::Instant::now() + SESSION_GRACE;
    loop {
        let sessions = other_sessions(conn).await?;
        if sessions.is_empty() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(StoreError::Conflict(format!(
                "{shown} is in use by {} other session(s) (a running server?): {}",
                sessions.len(),
                sessions.join(", ")
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The client sessions connected to the database behind `conn`, other than `conn`'s own.
async fn other_sessions(conn: &mut PgConnection) -> Result<Vec<String>> {
    let sessions = sqlx::query(
        "SELECT pid, COALESCE(application_name, '') AS app, \
                COALESCE(' from ' || host(client_addr), '') AS client \
         FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid() \
           AND backend_type = 'client backend' \
         ORDER BY pid",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut described = Vec::new();
    for row in &sessions {
        let pid: i32 = row.try_get("pid")?;
        let app: String = row.try_get("app")?;
        let client: String = row.try_get("client")?;
        let app = if app.is_empty() {
            String::new()
        } else {
            format!(" {app}")
        };
        // `client` is empty for a Unix socket, or another user's session to a non-superuser.
        described.push(format!("pid {pid}{app}{client}"));
    }
    Ok(described)
}

/// Tables of the live database, in the schemas `archive` restores, that the archive does not
/// have: a restore would leave them behind, and a migration would later trip over them.
pub async fn tables_left_behind(conn: &mut PgConnection, archive: &Archive) -> Result<Vec<String>> {
    let live = sqlx::query(
        "SELECT CAST(table_schema AS TEXT) AS s, CAST(table_name AS TEXT) AS t \
         FROM information_schema.tables WHERE table_type = 'BASE TABLE' \
         ORDER BY 1, 2",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut left = Vec::new();
    for row in live {
        let schema: String = row.try_get("s")?;
        let table: String = row.try_get("t")?;
        let covered = archive.tables.iter().any(|(s, _)| *s == schema);
        let restored = archive
            .tables
            .iter()
            .any(|(s, t)| *s == schema && *t == table);
        if covered && !restored {
            left.push(format!("{schema}.{table}"));
        }
    }
    Ok(left)
}

/// Restores `file` into the database in one transaction: everything the archive holds is
/// dropped and recreated, or, on any error, nothing changes.
pub async fn restore(target: &PgTarget, file: &Path) -> anyhow::Result<()> {
    let mut command = target.command(&find_tool("pg_restore")?);
    command
        .args([
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
        ])
        .arg("--exit-on-error")
        .arg(positional(file));
    run(command, "pg_restore").await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_leaves_the_url_for_the_environment() {
        let target = PgTarget::parse("postgres://ops:s%40cr%3At@db:5433/dutybell").unwrap();

        assert_eq!(target.shown, "postgres://ops@db:5433/dutybell");
        assert_eq!(
            target.password.as_ref().map(|p| p.expose_secret()),
            Some("s@cr:t")
        );
        assert!(!format!("{target:?}").contains("s%40cr"));
    }

    #[test]
    fn sqlx_parameters_become_libpq_ones() {
        let target = PgTarget::parse(
            "postgresql://db/d?sslmode=require&statement-cache-capacity=9&ssl-root-cert=/ca.pem\
             &password=p%20w",
        )
        .unwrap();

        assert_eq!(
            target.shown,
            "postgresql://db/d?sslmode=require&sslrootcert=/ca.pem"
        );
        assert_eq!(
            target.password.as_ref().map(|p| p.expose_secret()),
            Some("p w")
        );
        assert!(PgTarget::parse("sqlite://x.db").is_err());
        assert!(PgTarget::parse("postgres://u:%zz@db/d").is_err());
        assert!(PgTarget::parse("postgres://u:%+1@db/d").is_err());
        assert!(
            PgTarget::parse("postgres://u@db/d")
                .unwrap()
                .password
                .is_none()
        );
    }

    #[cfg(unix)]
    fn executable(path: &Path) {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn tools_come_from_path_first_then_the_newest_debian_version() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("lib");
        let bin = dir.path().join("bin");
        executable(&root.join("9.6/bin/pg_dump"));
        executable(&root.join("15/bin/pg_dump"));
        executable(&root.join("13/bin/pg_dump"));
        std::fs::create_dir_all(root.join("16/bin")).unwrap();
        std::fs::write(root.join("16/bin/pg_dump"), "not executable").unwrap();
        let empty = OsStr::new("/nonexistent");

        let from_lib = find_tool_in("pg_dump", Some(empty), &root).unwrap();
        executable(&bin.join("pg_dump"));
        let from_path = find_tool_in("pg_dump", Some(bin.as_os_str()), &root).unwrap();
        let missing = find_tool_in("pg_restore", Some(bin.as_os_str()), &root).unwrap_err();

        assert_eq!(from_lib, root.join("15/bin/pg_dump"));
        assert_eq!(from_path, bin.join("pg_dump"));
        assert!(
            missing
                .to_string()
                .contains("apt-get install postgresql-client"),
            "{missing}"
        );
    }

    #[test]
    fn the_table_of_contents_names_tables_not_their_data() {
        let toc = ";\n; Archive created at 2026-12-05 03:00:00 UTC\n;\n\
                   215; 1259 16390 TABLE public alerts postgres\n\
                   216; 1259 16391 SEQUENCE public alerts_id_seq postgres\n\
                   220; 1259 16400 TABLE public _sqlx_migrations postgres\n\
                   3370; 0 16390 TABLE DATA public alerts postgres\n\
                   3380; 2606 16420 FK CONSTRAINT public timeline timeline_fk postgres\n";

        let tables = parse_tables(toc);

        let names: Vec<String> = tables.iter().map(|(s, t)| format!("{s}.{t}")).collect();
        assert_eq!(names, ["public.alerts", "public._sqlx_migrations"]);
    }

    #[test]
    fn migration_rows_are_read_from_the_copy_block() {
        let script = "SET x = 0;\n\
            COPY public._sqlx_migrations (version, description, installed_on, success, \
            checksum, execution_time) FROM stdin;\n\
            1\talerts\t2026-12-05 03:00:00+00\tt\t\\\\x0a1b\t100\n\
            2\tfailed\t2026-12-05 03:00:00+00\tf\t\\\\x00\t100\n\
            3\tmore\t2026-12-05 03:00:00+00\tt\t\\\\xff\t100\n\
            0\tfirst\t2026-12-05 03:00:00+00\tt\t\\\\x01\t100\n\
            \\.\n";

        let migrations = parse_migrations(script).unwrap();

        assert_eq!(
            migrations,
            [(0, vec![0x01]), (1, vec![0x0a, 0x1b]), (3, vec![0xff])]
        );
        assert!(parse_migrations("COPY public.other (a) FROM stdin;\n\\.\n").is_err());
    }
}
