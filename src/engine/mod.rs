//! Background work as a step function over persisted due times.
//!
//! [`Engine::run_once`] does one pass at a given instant: record on-call history and queue
//! shift-change and coverage notices (`shifts`), fire due escalation steps (`escalation`),
//! then deliver due pages (`outbox`) and notices (`notices`). Before escalations, it ends
//! and starts maintenance holds (`maintenance`) and re-triggers due ack timeouts
//! (`ack_timeout`). It returns the next instant anything is due, read back from the
//! database, so a restart at any moment — even `kill -9` — resumes exactly.
//! [`Engine::run`] only waits: for that instant, a wake-up from intake or an ack, or
//! shutdown. Tests call `run_once` with a manual clock and never sleep.
//!
//! Incident nudges (`incidents`: update reminders, status-page prompts) go out before
//! notices are delivered, so they leave in the same pass. The status page (`statuspage`)
//! runs right after maintenance holds: its active maintenances hold alerts too. Last, Slack
//! gets the incident announcements (`slack`) and the edits of page DMs whose alert moved on
//! (`slack_pages`); Discord page messages are edited the same way (`discord_pages`).
//!
//! The weekly alert-hygiene digest (`digest`) queues its notices just before they are
//! delivered, once per week and recipient.
//!
//! Last of all, at most once an hour, `retention` deletes resolved alerts and finished
//! notices older than `[retention]` keeps; its failures are logged and never stop a pass.
//!
//! `verification` is no background work: it is the contact-verification flow (code out,
//! code back) that the CLI and the admin API share; so is the declare/change half of
//! `incidents`, which the API, the CLI and Slack share. Nor is `accounts`: it maps the
//! accounts named by people's `login` in team.toml, at startup and on config reload.
//! `leader` decides which instance runs passes when several share one Postgres database
//! (issue #8): the holder of an advisory lock leads, the others stand by.
//! `reload` is the config reload itself (SIGHUP, admin API, web UI): validate, re-anchor
//! rotations, then swap the config each pass takes its snapshot from.

pub mod accounts;
pub mod ack_timeout;
pub mod anchors;
pub mod digest;
pub mod discord_pages;
pub mod escalation;
pub mod incidents;
pub mod intake;
pub mod leader;
pub mod maintenance;
pub mod notices;
pub mod outbox;
pub mod postmortems;
pub mod probes;
pub mod publishing;
pub mod reload;
pub mod retention;
pub mod shifts;
pub mod slack;
pub mod slack_pages;
pub mod statuspage;
pub mod verification;

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::{Notify, watch};

use crate::clock::Clock;
use crate::config::Config;
use crate::notify::Notifiers;
use crate::store::{self, Store};

/// Shared handles the engine works with.
#[derive(Clone)]
pub struct Engine {
    pub store: Store,
    /// The config of this pass: [`Engine::run_once`] takes it from `live` as it starts.
    pub config: Arc<Config>,
    /// The notifiers of this pass, taken from `live` with the config.
    pub notifiers: Notifiers,
    /// The current config and notifiers, which a reload swaps (issue #7).
    pub live: reload::Live,
    pub clock: Clock,
    /// Poked by intake and acks so new work does not wait for the next tick.
    pub wake: Arc<Notify>,
    /// The public status page cache, rebuilt after maintenance moves and every minute.
    pub statuspage: Arc<crate::http::statuspage::StatusCache>,
}

/// What one pass did, for tests and logs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    pub escalations: usize,
    pub pages_attempted: usize,
    /// On-call history rows opened or closed.
    pub history_changes: usize,
    pub notices_queued: usize,
    pub notices_attempted: usize,
    /// Alerts re-triggered by an ack timeout.
    pub ack_timeouts: usize,
    /// Alerts held for, and released after, maintenance.
    pub maintenance_held: usize,
    pub maintenance_released: usize,
    /// Incident update reminders and status-page prompts sent.
    pub nudges: usize,
    /// The earliest due time left after this pass.
    pub next_due: Option<Timestamp>,
}

impl Engine {
    /// This engine with the current config and notifiers: a pass uses one snapshot
    /// throughout, even when a reload swaps the config meanwhile.
    pub fn snapshot(&self) -> Engine {
        Engine {
            config: self.live.config.current(),
            notifiers: self.live.notifiers.current(),
            ..self.clone()
        }
    }

    /// One pass at `now`, over the config current as it starts.
    pub async fn run_once(&self, now: Timestamp) -> anyhow::Result<Pass> {
        self.snapshot().pass(now).await
    }

    async fn pass(&self, now: Timestamp) -> anyhow::Result<Pass> {
        use anyhow::Context as _;
        intake::settle_disputes(self, now)
            .await
            .context("settling disputed re-fires")?;
        let recorded = shifts::run(self, now)
            .await
            .context("recording on-call history")?;
        let maintenance = maintenance::run(self, now)
            .await
            .context("holding and releasing maintenance")?;
        statuspage::run(self, now)
            .await
            .context("running the status page")?;
        let ack_timeouts = ack_timeout::run(self, now)
            .await
            .context("firing due ack timeouts")?;
        let escalations = escalation::run_due(self, now)
            .await
            .context("firing due escalations")?;
        let pages_attempted = outbox::deliver_due(self, now)
            .await
            .context("delivering pages")?;
        let nudges = incidents::nudge_due(self, now)
            .await
            .context("sending incident nudges")?;
        // Postmortem and action-item reminders queue notices delivered just below.
        postmortems::run(self, now)
            .await
            .context("drafting postmortems and sending their reminders")?;
        // The weekly hygiene digest queues notices delivered just below.
        digest::run(self, now)
            .await
            .context("queueing the weekly hygiene digest")?;
        let notices_attempted = notices::deliver_due(self, now)
            .await
            .context("delivering notices")?;
        // Slack trouble is logged and retried by its own schedule; it never stops a pass.
        if let Err(err) = slack::run_once(self, now).await {
            let err = err.context("posting incidents to Slack");
            tracing::error!(error = %crate::telemetry::chain(&err), "Slack step failed");
        }
        if let Err(err) = slack_pages::run_once(self, now).await {
            let err = err.context("editing Slack page messages");
            tracing::error!(error = %crate::telemetry::chain(&err), "Slack step failed");
        }
        if let Err(err) = discord_pages::run_once(self, now).await {
            let err = err.context("editing Discord page messages");
            tracing::error!(error = %crate::telemetry::chain(&err), "Discord step failed");
        }
        // Old history waits for the next pass when the cleanup fails (a busy disk).
        if let Err(err) = retention::run_once(self, now).await {
            let err = err.context("deleting history past retention");
            tracing::error!(error = %crate::telemetry::chain(&err), "retention step failed");
        }
        let next_due = [
            store::alerts::next_escalation_at(&self.store).await?,
            store::outbox::next_due_at(&self.store).await?,
            store::notices::next_due_at(&self.store).await?,
            store::ack_timeouts::next_due_at(&self.store).await?,
            store::incidents::next_nudge_at(&self.store).await?,
            postmortems::next_due(self).await?,
            digest::next_due(self, now).await?,
            slack::next_due(self).await?,
            slack_pages::next_due(self).await?,
            discord_pages::next_due(self).await?,
            maintenance::next_due(self, now).await?,
            statuspage::next_due(self).await?,
        ]
        .into_iter()
        .flatten()
        .min();
        Ok(Pass {
            escalations,
            pages_attempted,
            history_changes: recorded.changes,
            notices_queued: recorded.notices,
            notices_attempted,
            ack_timeouts,
            maintenance_held: maintenance.held,
            maintenance_released: maintenance.released,
            nudges,
            next_due,
        })
    }

    /// Runs passes while this instance leads (`lead`, always on SQLite), until `stop`
    /// turns true. A standby only keeps its status page rendering fresh.
    pub async fn run(self, mut stop: watch::Receiver<bool>, mut lead: leader::Lead) {
        tracing::info!("engine started");
        loop {
            if !*lead.borrow_and_update() {
                self.stand_by().await;
                tokio::select! {
                    () = leader::changed(&mut lead) => {}
                    () = tokio::time::sleep(leader::STANDBY_POLL) => {}
                    _ = stop.changed() => break,
                }
                continue;
            }
            let now = self.clock.now();
            // Losing the lead mid-pass ends the pass at once: the new leader redoes what this
            // one had not recorded, as after a crash, instead of both sending what is left.
            let pass = tokio::select! {
                pass = self.run_once(now) => pass,
                () = leader::changed(&mut lead) => {
                    tracing::warn!("engine lead lost mid-pass; pass abandoned");
                    continue;
                }
            };
            let wait = match pass {
                Ok(pass) => pass
                    .next_due
                    .map(|due| Duration::try_from(due.duration_since(now)).unwrap_or_default())
                    .unwrap_or(Duration::MAX)
                    .min(self.clock.max_idle()),
                Err(err) => {
                    tracing::error!(error = %crate::telemetry::chain(&err), "engine pass failed");
                    Duration::from_secs(1)
                }
            };
            if *stop.borrow() {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.wake.notified() => {}
                () = leader::changed(&mut lead) => {}
                _ = stop.changed() => break,
            }
        }
        tracing::info!("engine stopped");
    }

    /// What a standby instance does instead of a pass: render the status page again when
    /// the leader or another process published, or the rendering is a minute old.
    async fn stand_by(&self) {
        let (store, now) = (&self.store, self.clock.now());
        let config = self.live.config.current();
        if let Err(err) = self.statuspage.notice_outside_writes(store).await {
            tracing::warn!(error = %crate::telemetry::chain(&err), "status page check failed");
        }
        if let Err(err) = self.statuspage.refresh(store, &config, now).await {
            tracing::warn!(error = %crate::telemetry::chain(&err),
                "status page rebuild failed; serving the previous one");
        }
    }
}
