//! `dutybell backup` / `restore` on a `postgres://` database (issue #8), with the real
//! `pg_dump` and `pg_restore` (`store::backup::pg` runs them).
//!
//! A backup is a custom-format dump (`pg_dump -Fc`) into a temporary file next to `FILE`,
//! taken in a snapshot this command exports, so the row counts it prints are the dump's;
//! the copy is read back with `pg_restore --list`, synced and renamed into place. A restore
//! checks the archive is a dutybell database this build can migrate, refuses while any other
//! session is connected to the database (a running server always keeps one), then runs
//! `pg_restore --clean --if-exists --no-owner --single-transaction`, so a failed restore
//! changes nothing, and migrates.

use anyhow::Context as _;

use super::{BackupArgs, RestoreArgs, print_summary, remove_if_exists, sibling, vetted};
use crate::store::backup::pg::{self, PgTarget};
use crate::store::{Backend, Store, StoreError};

/// What `print_summary` names as the check a Postgres archive passed.
const CHECK: &str = "pg_restore --list";

pub async fn backup(url: &str, args: &BackupArgs) -> anyhow::Result<()> {
    let target = PgTarget::parse(url)?;
    if args.file.exists() && !args.force {
        anyhow::bail!(
            "{} already exists; pass --force to replace it",
            args.file.display()
        );
    }
    let tmp = sibling(&args.file, "backup")?;
    remove_if_exists(&tmp)?;

    let mut snapshot = pg::Snapshot::take(&target).await?;
    let inspection = snapshot
        .inspect()
        .await
        .with_context(|| format!("reading {}", target.shown))?;
    vetted(&target.shown, &inspection, Backend::Postgres)?;
    let dumped = pg::dump(&target, &snapshot, &tmp).await;
    let finished = snapshot.finish().await;
    if let Err(err) = dumped {
        remove_if_exists(&tmp)?;
        return Err(err.context(format!("dumping {} into {}", target.shown, tmp.display())));
    }
    finished.context("ending the snapshot")?;

    // The copy must read back, with the migrations the snapshot had.
    if let Err(err) = read_back(&tmp, &inspection.migrations).await {
        remove_if_exists(&tmp)?;
        return Err(err.context("checking the copy"));
    }
    let size = super::put_in_place(&tmp, &args.file)?;
    tracing::info!(
        backup.file = %args.file.display(),
        backup.bytes = size,
        database = %target.shown,
        "backup written"
    );
    println!(
        "Backed up {} to {} ({size} bytes).",
        target.shown,
        args.file.display()
    );
    print_summary(CHECK, &inspection);
    Ok(())
}

async fn read_back(file: &std::path::Path, migrations: &[(i64, Vec<u8>)]) -> anyhow::Result<()> {
    let archive = pg::read_archive(file).await?;
    anyhow::ensure!(
        archive.migrations == migrations,
        "the dump's migrations table differs from the database's"
    );
    anyhow::ensure!(
        archive.inspection().has_alerts,
        "the dump has no alerts table"
    );
    Ok(())
}

pub async fn restore(url: &str, args: &RestoreArgs) -> anyhow::Result<()> {
    let target = PgTarget::parse(url)?;
    let file = &args.file;
    anyhow::ensure!(file.is_file(), "{} is not a file", file.display());
    let archive = pg::read_archive(file).await.with_context(|| {
        format!(
            "{} is not a readable pg_dump archive (custom format, as `dutybell backup` \
             writes on Postgres)",
            file.display()
        )
    })?;
    let inspection = archive.inspection();
    vetted(&file.display(), &inspection, Backend::Postgres)?;

    let mut conn = target.connect().await?;
    let idle = pg::ensure_idle(&mut conn, &target.shown).await;
    let left = pg::tables_left_behind(&mut conn, &archive).await;
    sqlx::Connection::close(conn).await.ok();
    match idle {
        Err(StoreError::Conflict(problem)) => {
            anyhow::bail!("{problem}; stop it before restoring")
        }
        other => other.context("listing the database's sessions")?,
    }
    let left = left.context("listing the database's tables")?;
    anyhow::ensure!(
        left.is_empty(),
        "{} has tables {} does not restore ({}): migrated by a newer dutybell since? \
         Restore into an empty database, or drop them first",
        target.shown,
        file.display(),
        left.join(", ")
    );

    pg::restore(&target, file).await.with_context(|| {
        format!(
            "restoring {} into {}; nothing was changed (pg_restore runs in one transaction)",
            file.display(),
            target.shown
        )
    })?;

    // The root cause only: `Store::connect`'s context repeats the URL, password and all.
    let store = Store::connect(url)
        .await
        .map_err(|err| anyhow::anyhow!("opening {}: {}", target.shown, err.root_cause()))?;
    let migrated = store.migrate().await;
    store.close().await;
    migrated.context("migrating the restored database")?;
    let mut conn = target.connect().await?;
    let restored = pg::inspect_live(&mut conn).await;
    sqlx::Connection::close(conn).await.ok();
    let restored = restored.context("counting the restored rows")?;
    tracing::info!(
        restore.file = %file.display(),
        database = %target.shown,
        "database restored"
    );
    println!("Restored {} from {}.", target.shown, file.display());
    print_summary(CHECK, &restored);
    Ok(())
}
