//! `dutybell backup <FILE>` and `dutybell restore <FILE>` (issue #8). This module does
//! SQLite and the file handling both backends share; `postgres` does a `postgres://`
//! database with `pg_dump` / `pg_restore`.
//!
//! A backup is `VACUUM INTO` a temporary file next to `FILE`, checked with `PRAGMA
//! integrity_check`, synced and renamed into place: the server keeps serving meanwhile, and
//! `FILE` is never a half-written copy. A restore checks the file is a sound dutybell
//! database this build can migrate, claims the live database (refused while a server or
//! another command has it open, see `store::backup::claim_exclusive`), swaps the copy in by
//! rename, drops the old `-wal`/`-shm` files and migrates. The SQL is in `store::backup`.

mod postgres;

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;

use crate::config::Config;
use crate::store::backup::{self, Inspection};
use crate::store::{Backend, Store};

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the copy (a new file).
    pub file: PathBuf,
    /// Replace `FILE` if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A file written by `dutybell backup`.
    pub file: PathBuf,
    /// Restore even when the live database cannot be opened to check that no server holds
    /// it (a corrupt file; SQLite only). Never overrides a database found in use.
    #[arg(long)]
    pub force: bool,
}

pub async fn backup(config: &Config, args: &BackupArgs) -> anyhow::Result<()> {
    let url = &config.settings.database_url;
    if Backend::from_url(url).ok() == Some(Backend::Postgres) {
        return postgres::backup(url, args).await;
    }
    let live = sqlite_path(url)?;
    anyhow::ensure!(
        live.exists(),
        "no database at {} to back up",
        live.display()
    );
    if args.file.exists() && !args.force {
        anyhow::bail!(
            "{} already exists; pass --force to replace it",
            args.file.display()
        );
    }

    // VACUUM INTO needs a file that does not exist yet; the rename makes `FILE` appear whole.
    let tmp = sibling(&args.file, "backup")?;
    remove_if_exists(&tmp)?;
    // No migrate: a backup copies the database as it is and never changes it.
    let store = Store::connect(url).await?;
    let copied = backup::vacuum_into(&store, &tmp).await;
    store.close().await;
    copied.with_context(|| format!("copying {} into {}", live.display(), tmp.display()))?;

    let inspection = match checked(&tmp).await {
        Ok(inspection) => inspection,
        Err(err) => {
            remove_if_exists(&tmp)?;
            return Err(err.context("checking the copy"));
        }
    };
    let size = put_in_place(&tmp, &args.file)?;
    tracing::info!(backup.file = %args.file.display(), backup.bytes = size, "backup written");
    println!(
        "Backed up {} to {} ({size} bytes).",
        live.display(),
        args.file.display()
    );
    print_summary("integrity_check", &inspection);
    Ok(())
}

pub async fn restore(config: &Config, args: &RestoreArgs) -> anyhow::Result<()> {
    let url = &config.settings.database_url;
    if Backend::from_url(url).ok() == Some(Backend::Postgres) {
        return postgres::restore(url, args).await;
    }
    let live = sqlite_path(url)?;
    let wal = with_suffix(&args.file, "-wal");
    if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        anyhow::bail!(
            "{} has a write-ahead log ({}): it is a live database, not a backup; \
             make one with `dutybell backup`",
            args.file.display(),
            wal.display()
        );
    }
    let inspection = checked(&args.file).await?;
    if let Some(parent) = live.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating database directory {}", parent.display()))?;
    }

    // Copy first, next to the database, so the swap below is one rename on one filesystem.
    let tmp = sibling(&live, "restore")?;
    std::fs::copy(&args.file, &tmp)
        .with_context(|| format!("copying {} to {}", args.file.display(), tmp.display()))?;
    sync_file(&tmp)?;

    let claim = match claim(&live, args.force).await {
        Ok(claim) => claim,
        Err(err) => {
            remove_if_exists(&tmp)?;
            return Err(err);
        }
    };
    // The old log and index belong to the old file: left behind, SQLite would replay that
    // log into the restored one.
    for suffix in ["-wal", "-shm", "-journal"] {
        remove_if_exists(&with_suffix(&live, suffix))?;
    }
    std::fs::rename(&tmp, &live)
        .with_context(|| format!("moving the restored copy to {}", live.display()))?;
    sync_parent(&live)?;
    if let Some(claim) = claim {
        claim
            .release()
            .await
            .context("releasing the old database")?;
    }

    let store = Store::connect(url).await?;
    let migrated = store.migrate().await;
    store.close().await;
    migrated.context("migrating the restored database")?;
    tracing::info!(
        restore.file = %args.file.display(),
        database = %live.display(),
        "database restored"
    );
    println!("Restored {} from {}.", live.display(), args.file.display());
    print_summary("integrity_check", &inspection);
    Ok(())
}

/// Claims the live database if there is one. `force` passes over a file SQLite cannot
/// open, never over one in use.
async fn claim(live: &Path, force: bool) -> anyhow::Result<Option<backup::Exclusive>> {
    if !live.exists() {
        return Ok(None);
    }
    match backup::claim_exclusive(live).await {
        Ok(claim) => Ok(Some(claim)),
        Err(crate::store::StoreError::Conflict(problem)) => {
            anyhow::bail!("{problem}; stop it before restoring")
        }
        Err(err) if force => {
            tracing::warn!(error = %err, database = %live.display(), "restoring over it anyway");
            Ok(None)
        }
        Err(err) => Err(anyhow::Error::new(err).context(format!(
            "cannot check that no server holds {}; stop every server and pass --force \
             to restore over it",
            live.display()
        ))),
    }
}

/// Inspects `file` and fails unless it is a sound dutybell database this build knows.
async fn checked(file: &Path) -> anyhow::Result<Inspection> {
    anyhow::ensure!(file.is_file(), "{} is not a file", file.display());
    let inspection = backup::inspect(file)
        .await
        .with_context(|| format!("{} is not a readable SQLite database", file.display()))?;
    anyhow::ensure!(
        inspection.is_sound(),
        "{} fails PRAGMA integrity_check: {}",
        file.display(),
        inspection.integrity.join("; ")
    );
    vetted(&file.display(), &inspection, Backend::Sqlite)?;
    Ok(inspection)
}

/// Fails unless `inspection` (of `what`) shows a dutybell database this build can migrate.
fn vetted(
    what: &dyn std::fmt::Display,
    inspection: &Inspection,
    backend: Backend,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        !inspection.migrations.is_empty() && inspection.has_alerts,
        "{what} is not a dutybell database (no migrations table or no alerts)"
    );
    let unknown = inspection.unknown_migrations(backend);
    anyhow::ensure!(
        unknown.is_empty(),
        "{what} has migrations this dutybell does not know ({unknown:?}); use a newer dutybell"
    );
    Ok(())
}

/// The check that passed (`integrity_check`), the schema version and the row counts.
fn print_summary(check: &str, inspection: &Inspection) {
    let latest = inspection
        .migrations
        .last()
        .map_or(0, |(version, _)| *version);
    println!("{check}: ok; schema version {latest}");
    for (table, rows) in &inspection.counts {
        println!("  {table:<16} {rows:>9}");
    }
}

/// The file of a `sqlite://` database URL.
fn sqlite_path(url: &str) -> anyhow::Result<PathBuf> {
    // Not the URL in the message: another scheme's may carry a password.
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .context("backup and restore need a sqlite:// or postgres:// database URL")?;
    let path = rest.split('?').next().unwrap_or_default();
    anyhow::ensure!(
        !path.is_empty() && !path.starts_with(":memory:"),
        "an in-memory database ({url}) has nothing to back up or restore"
    );
    Ok(PathBuf::from(path))
}

/// `<dir>/.<name>.<what>-<pid>`: a temporary file beside `path`, on the same filesystem.
fn sibling(path: &Path, what: &str) -> anyhow::Result<PathBuf> {
    let name = path
        .file_name()
        .with_context(|| format!("{} names no file", path.display()))?;
    let name = format!(".{}.{what}-{}", name.to_string_lossy(), std::process::id());
    Ok(path.with_file_name(name))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn remove_if_exists(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
            Err(err).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Moves the checked copy `tmp` to `file` durably, readable by its owner only (it holds
/// password hashes and subscribers' addresses); returns its size.
fn put_in_place(tmp: &Path, file: &Path) -> anyhow::Result<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(tmp, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("making {} private", tmp.display()))?;
    }
    sync_file(tmp)?;
    std::fs::rename(tmp, file).with_context(|| format!("moving the copy to {}", file.display()))?;
    sync_parent(file)?;
    let size = std::fs::metadata(file)
        .with_context(|| format!("reading the size of {}", file.display()))?
        .len();
    Ok(size)
}

fn sync_file(path: &Path) -> anyhow::Result<()> {
    File::open(path)
        .and_then(|file| file.sync_all())
        .with_context(|| format!("syncing {} to disk", path.display()))
}

/// Makes a rename in `path`'s directory durable.
fn sync_parent(path: &Path) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    sync_file(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_name_their_file() {
        let path = |url: &str| sqlite_path(url).map_err(|err| err.to_string());

        assert_eq!(path("sqlite://data/d.db"), Ok(PathBuf::from("data/d.db")));
        assert_eq!(
            path("sqlite:///srv/d.db?mode=rwc"),
            Ok(PathBuf::from("/srv/d.db"))
        );
        assert!(path("sqlite::memory:").is_err());
        assert!(path("postgres://db/dutybell").is_err());
    }

    #[test]
    fn temporary_files_sit_beside_their_target() {
        let tmp = sibling(Path::new("/b/x.db"), "backup").unwrap();

        assert_eq!(tmp.parent(), Some(Path::new("/b")));
        assert!(tmp.to_string_lossy().starts_with("/b/.x.db.backup-"));
        assert_eq!(
            with_suffix(Path::new("d/x.db"), "-wal"),
            Path::new("d/x.db-wal")
        );
    }
}
