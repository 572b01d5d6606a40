//! Config reload without a restart (issue #7): SIGHUP, `POST /api/v1/admin/reload` and the
//! web UI's button all call [`Reloader::reload`].
//!
//! A reload reads the config directory again with the flags and environment of the start
//! (`config::Source`), validates it like the start does (problems located like `dutybell
//! check`, `file:line`), refuses changes to what only a restart can apply (listen address,
//! database, data dir, SMTP intake listener, body limit), builds the notifiers for the new
//! settings, re-anchors edited rotations so nobody's shift moves (D13), brings status page
//! components in line, and only then swaps the config in. On any failure the old config
//! keeps serving and the reason is returned and logged. Work in flight finishes with the
//! snapshot it took (`config::Shared`).

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use jiff::Timestamp;
use serde::Serialize;
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::config::{self, Config};
use crate::http::statuspage::StatusCache;
use crate::notify::Notifiers;
use crate::store::{self, Store};

/// The notifiers built from the current settings; a reload replaces them with the config.
#[derive(Clone)]
pub struct SharedNotifiers(Arc<RwLock<Notifiers>>);

impl SharedNotifiers {
    pub fn new(notifiers: Notifiers) -> SharedNotifiers {
        SharedNotifiers(Arc::new(RwLock::new(notifiers)))
    }

    /// The notifiers now; like a config snapshot, take them once per piece of work.
    pub fn current(&self) -> Notifiers {
        self.0
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }

    fn replace(&self, notifiers: Notifiers) {
        *self.0.write().unwrap_or_else(|poison| poison.into_inner()) = notifiers;
    }
}

/// The swappable parts a reload replaces together.
#[derive(Clone)]
pub struct Live {
    pub config: config::Shared,
    pub notifiers: SharedNotifiers,
}

/// What asked for a reload; shown on the admin page and in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Signal,
    Api,
    Ui,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Signal => "signal",
            Trigger::Api => "api",
            Trigger::Ui => "ui",
        }
    }
}

/// What a successful reload put in place.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub people: usize,
    pub services: usize,
    pub integrations: usize,
    pub rotations: usize,
    pub schedules: usize,
    pub escalations: usize,
    pub runbooks: usize,
    pub probes: usize,
    /// Rotations whose settings changed and were re-anchored at the reload.
    pub reanchored: Vec<String>,
    /// Accounts whose `person_id` names nobody in the new team.toml: they keep working,
    /// acting under that id, until someone maps them again.
    pub unmapped_accounts: Vec<String>,
}

/// The last reload attempt.
#[derive(Clone, Debug, Serialize)]
pub struct Attempt {
    pub at: Timestamp,
    pub trigger: Trigger,
    /// `Ok` with what loaded, or every problem, one line each.
    pub outcome: Result<Summary, Vec<String>>,
}

/// When the serving config was loaded and how the last reload went, for the admin page.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    pub dir: std::path::PathBuf,
    pub loaded_at: Timestamp,
    pub generation: u64,
    pub last: Option<Attempt>,
}

/// Reloads the running server's config; one per process, shared by every trigger.
pub struct Reloader {
    source: config::Source,
    /// `settings.listen` as loaded at start (before port 0 became a real port).
    listen: SocketAddr,
    live: Live,
    store: Store,
    statuspage: Arc<StatusCache>,
    clock: Clock,
    wake: Arc<Notify>,
    /// One reload at a time: two must not interleave their anchor writes and swaps.
    running: tokio::sync::Mutex<()>,
    status: RwLock<(Timestamp, Option<Attempt>)>,
}

/// The handles a [`Reloader`] works with, as `App::build` has them.
pub struct Parts {
    pub source: config::Source,
    pub listen: SocketAddr,
    pub live: Live,
    pub store: Store,
    pub statuspage: Arc<StatusCache>,
    pub clock: Clock,
    pub wake: Arc<Notify>,
}

impl Reloader {
    pub fn new(parts: Parts) -> Reloader {
        let loaded_at = parts.clock.now();
        Reloader {
            source: parts.source,
            listen: parts.listen,
            live: parts.live,
            store: parts.store,
            statuspage: parts.statuspage,
            clock: parts.clock,
            wake: parts.wake,
            running: tokio::sync::Mutex::new(()),
            status: RwLock::new((loaded_at, None)),
        }
    }

    /// Reads, checks and swaps in the config directory; on `Err` (one line per problem)
    /// nothing changed and the old config keeps serving.
    #[tracing::instrument(skip_all, fields(trigger = trigger.as_str()))]
    pub async fn reload(&self, trigger: Trigger) -> Result<Summary, Vec<String>> {
        let _running = self.running.lock().await;
        let now = self.clock.now();
        let outcome = self.try_reload(now).await;
        match &outcome {
            Ok(summary) => tracing::info!(
                config.dir = %self.source.dir.display(),
                people = summary.people,
                services = summary.services,
                integrations = summary.integrations,
                rotations = summary.rotations,
                reanchored = summary.reanchored.len(),
                unmapped_accounts = summary.unmapped_accounts.len(),
                "config reloaded"
            ),
            Err(problems) => tracing::warn!(
                config.dir = %self.source.dir.display(),
                problems = %problems.join("; "),
                "config reload refused; the previous config keeps serving"
            ),
        }
        let mut status = self
            .status
            .write()
            .unwrap_or_else(|poison| poison.into_inner());
        if outcome.is_ok() {
            status.0 = now;
        }
        status.1 = Some(Attempt {
            at: now,
            trigger,
            outcome: outcome.clone(),
        });
        outcome
    }

    /// The config dir, when the serving config was loaded and the last attempt.
    pub fn status(&self) -> Status {
        let status = self
            .status
            .read()
            .unwrap_or_else(|poison| poison.into_inner());
        Status {
            dir: self.source.dir.clone(),
            loaded_at: status.0,
            generation: self.live.config.generation(),
            last: status.1.clone(),
        }
    }

    async fn try_reload(&self, now: Timestamp) -> Result<Summary, Vec<String>> {
        // Reading and validating touch only files: off the async workers.
        let source = self.source.clone();
        let loaded = tokio::task::spawn_blocking(move || source.load())
            .await
            .map_err(|err| vec![format!("reading the config directory: {err}")])?;
        let mut config = loaded
            .map_err(|findings| findings.iter().map(ToString::to_string).collect::<Vec<_>>())?;

        let old = self.live.config.current();
        let mut refused = restart_only(&old, &config, self.listen);
        refused.extend(self.policies_in_use(&config).await?);
        if !refused.is_empty() {
            return Err(refused);
        }
        config.settings.listen = old.settings.listen;
        let notifiers = Notifiers::new(&config.settings)
            .map_err(|err| vec![format!("setting up notification channels: {err:#}")])?;

        // From here on the database changes; each step is one the next start would
        // repeat, so a failure halfway leaves nothing a retry cannot finish.
        crate::engine::anchors::sync(&self.store, &mut config, now)
            .await
            .map_err(|err| vec![format!("syncing rotation anchors: {err:#}")])?;
        store::statuspage::sync(&self.store, &config.statuspage, now)
            .await
            .map_err(|err| vec![format!("syncing status page components: {err}")])?;
        let reanchored = config
            .rotations
            .iter()
            .filter(|(id, new)| {
                old.rotations
                    .get(*id)
                    .is_some_and(|old| old.anchor != new.anchor)
            })
            .map(|(id, _)| id.clone())
            .collect();

        let config = Arc::new(config);
        self.live.notifiers.replace(notifiers);
        self.live.config.replace(config.clone());
        self.after_swap(&config, now).await;
        let unmapped_accounts = self.unmapped_accounts(&config).await;
        Ok(Summary {
            people: config.people.len(),
            services: config.services.len(),
            integrations: config.integrations.len(),
            rotations: config.rotations.len(),
            schedules: config.schedules.len(),
            escalations: config.policies.len(),
            runbooks: config.runbooks.all().len(),
            probes: config.probes.len(),
            reanchored,
            unmapped_accounts,
        })
    }

    /// Policies `config` drops while alerts not yet resolved still follow them: their
    /// alerts would stop paging, so such a reload is refused.
    async fn policies_in_use(&self, config: &Config) -> Result<Vec<String>, Vec<String>> {
        let open = store::alerts::open_policies(&self.store)
            .await
            .map_err(|err| vec![format!("reading the policies open alerts follow: {err}")])?;
        Ok(open
            .into_iter()
            .filter(|(policy, _)| !config.policies.contains_key(policy))
            .map(|(policy, alerts)| {
                format!(
                    "escalation policy {policy:?} is gone from oncall.toml but {alerts} open \
                     alert(s) follow it: keep it until they are resolved"
                )
            })
            .collect())
    }

    /// What follows the swap: it cannot undo it, so failures are logged, not returned.
    async fn after_swap(&self, config: &Config, now: Timestamp) {
        self.statuspage.changed(&self.store, config, now).await;
        if let Err(err) = crate::engine::accounts::sync_people_accounts(&self.store, config).await {
            tracing::warn!(error = %crate::telemetry::chain(&err),
                "mapping accounts to people after the reload failed");
        }
        // New policies, rotations or contacts may make work due now.
        self.wake.notify_one();
    }

    /// Logins whose `person_id` names nobody in `config`.
    async fn unmapped_accounts(&self, config: &Config) -> Vec<String> {
        match store::accounts::list_users(&self.store).await {
            Ok(users) => users
                .into_iter()
                .filter(|user| {
                    user.person_id
                        .as_ref()
                        .is_some_and(|id| !config.people.contains_key(id))
                })
                .map(|user| user.login)
                .collect(),
            Err(err) => {
                tracing::warn!(error = %err, "listing accounts after the reload failed");
                Vec::new()
            }
        }
    }
}

/// Changes only a restart can apply, one message each; empty when there are none.
/// `listen` is the address as configured at start (the serving one may be a bound port 0).
pub fn restart_only(old: &Config, new: &Config, listen: SocketAddr) -> Vec<String> {
    let (old, new) = (&old.settings, &new.settings);
    let mut refused = Vec::new();
    let mut differs = |what: &str, was: String, now: String| {
        if was != now {
            refused.push(format!(
                "{what} changed from {was} to {now}: this needs a restart; \
                 change it back to reload, or restart dutybell"
            ));
        }
    };
    differs("listen address", listen.to_string(), new.listen.to_string());
    differs(
        "database URL",
        old.database_url.clone(),
        new.database_url.clone(),
    );
    differs(
        "data dir",
        old.data_dir.display().to_string(),
        new.data_dir.display().to_string(),
    );
    let smtp_listen = |at: Option<SocketAddr>| at.map_or("off".to_string(), |at| at.to_string());
    differs(
        "SMTP intake listener",
        smtp_listen(old.smtp_listen),
        smtp_listen(new.smtp_listen),
    );
    differs(
        "max_body_bytes",
        old.max_body_bytes.to_string(),
        new.max_body_bytes.to_string(),
    );
    refused
}
