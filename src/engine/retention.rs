//! The data-retention step (issue #8): deletes resolved alerts and finished notices older
//! than `[retention]` allows, at most once an hour.
//!
//! When the next run is due is stored (`retention_state`), so restarts never hammer the
//! database with cleanups. Each run deletes in batches of [`BATCH`] rows, one short write
//! transaction per batch, so intake never waits long behind it; a backlog bigger than
//! [`MAX_BATCHES`] batches (a first run on a years-old database) continues a minute later
//! instead of holding up the engine pass. What is kept whatever the age is decided in
//! `store::retention`.

use anyhow::Context as _;
use jiff::{SignedDuration, Timestamp};

use super::Engine;
use crate::store::{self, Store};

/// Rows one statement deletes at most.
pub const BATCH: u32 = 500;
/// Batches per run and kind of row. A run holds up the rest of its engine pass, so a big
/// backlog goes 5,000 alerts a minute: a 500-alert batch with its timeline, pages and
/// deliveries took about 0.12 s in a debug build, so a run about a second.
pub const MAX_BATCHES: u32 = 10;
/// Time between runs.
pub const EVERY: SignedDuration = SignedDuration::from_hours(1);
/// Time until a run that stopped at [`MAX_BATCHES`] continues.
pub const BACKLOG_AGAIN: SignedDuration = SignedDuration::from_mins(1);

/// What one run deleted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cleanup {
    /// Whether a run was due at all.
    pub ran: bool,
    pub alerts: u64,
    pub notices: u64,
    /// When the next run is due.
    pub next: Option<Timestamp>,
}

/// Runs the cleanup if it is due at `now`.
pub async fn run_once(engine: &Engine, now: Timestamp) -> anyhow::Result<Cleanup> {
    let due = store::retention::next_run_at(&engine.store)
        .await
        .context("reading when the retention cleanup is due")?;
    if due.is_some_and(|due| due > now) {
        return Ok(Cleanup {
            next: due,
            ..Cleanup::default()
        });
    }
    let retention = engine.config.settings.retention.clone();

    let alert_cutoff = now - retention.alerts;
    let (alerts, alerts_left) = in_batches(&engine.store, |store| {
        store::retention::delete_alerts_batch(store, alert_cutoff, BATCH)
    })
    .await
    .context("deleting old resolved alerts")?;
    let notice_cutoff = now - retention.notifications;
    let (notices, notices_left) = in_batches(&engine.store, |store| {
        store::retention::delete_notices_batch(store, notice_cutoff, BATCH)
    })
    .await
    .context("deleting old notices")?;

    let next = now
        + if alerts_left || notices_left {
            BACKLOG_AGAIN
        } else {
            EVERY
        };
    store::retention::finish_run(&engine.store, next, alerts, notices)
        .await
        .context("recording the retention run")?;
    if alerts > 0 || notices > 0 {
        tracing::info!(
            alerts.deleted = alerts,
            notices.deleted = notices,
            alerts.cutoff = %alert_cutoff,
            next_run = %next,
            "retention cleanup deleted old history"
        );
    } else {
        tracing::debug!(next_run = %next, "retention cleanup found nothing to delete");
    }
    Ok(Cleanup {
        ran: true,
        alerts,
        notices,
        next: Some(next),
    })
}

/// Runs `batch` until it deletes less than a full batch or [`MAX_BATCHES`] ran. Returns
/// the rows deleted and whether more may be left.
async fn in_batches<'s, F, Fut>(store: &'s Store, batch: F) -> anyhow::Result<(u64, bool)>
where
    F: Fn(&'s Store) -> Fut,
    Fut: Future<Output = store::Result<u64>>,
{
    let mut total = 0;
    for _ in 0..MAX_BATCHES {
        let deleted = batch(store).await?;
        total += deleted;
        if deleted < u64::from(BATCH) {
            return Ok((total, false));
        }
    }
    Ok((total, true))
}
