//! Wiring: [`App::build`] opens the store, runs migrations, binds the listener (port 0 in
//! tests) and returns before serving, so callers can read the real address first. The
//! config is shared as a swappable handle (`config::Shared`) that the HTTP state and the
//! engine read from; `engine::reload` swaps it (issue #7).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use crate::clock::Clock;
use crate::config::{Config, Overrides, Source};
use crate::engine::reload::{self, Live, Reloader, SharedNotifiers};
use crate::engine::{Engine, leader};
use crate::http::{self, AppState};
use crate::notify::Notifiers;
use crate::store::Store;

/// How the app runs besides its config.
#[derive(Clone, Debug)]
pub struct Options {
    pub clock: Clock,
    /// Run the background engine loop. Tests drive `run_once` themselves instead.
    pub engine: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            clock: Clock::System,
            engine: true,
        }
    }
}

/// A built, bound, not yet serving application.
pub struct App {
    listener: TcpListener,
    addr: SocketAddr,
    /// The inbound SMTP listener, when `[intake.smtp]` is set.
    smtp: Option<TcpListener>,
    state: AppState,
    engine: Engine,
    run_engine: bool,
    /// Publishes whether this instance leads; `leader::start` drives it.
    lead: tokio::sync::watch::Sender<bool>,
}

impl App {
    /// Builds over `config`; a reload reads `config.dir` again with the process
    /// environment and the listen address, data dir, database and public URL of `config`.
    pub async fn build(config: Config, options: Options) -> anyhow::Result<App> {
        let source = Source {
            dir: config.dir.clone(),
            overrides: Overrides {
                listen: Some(config.settings.listen),
                public_url: config.settings.public_url.clone(),
                data_dir: Some(config.settings.data_dir.clone()),
                database_url: Some(config.settings.database_url.clone()),
            },
            env: std::env::vars().collect(),
        };
        App::build_from(config, source, options).await
    }

    /// Builds over `config`, loaded from `source`, which a reload reads again (issue #7).
    pub async fn build_from(
        config: Config,
        source: Source,
        options: Options,
    ) -> anyhow::Result<App> {
        let listen = config.settings.listen;
        let store = Store::connect(&config.settings.database_url).await?;
        store.migrate().await.context("migrating the database")?;

        let listener = TcpListener::bind(config.settings.listen)
            .await
            .with_context(|| format!("binding {}", config.settings.listen))?;
        let addr = listener.local_addr().context("reading the bound address")?;
        let smtp = match config.settings.smtp_listen {
            Some(at) => {
                let smtp = TcpListener::bind(at)
                    .await
                    .with_context(|| format!("binding the SMTP listener on {at}"))?;
                tracing::info!(smtp.listen = %smtp.local_addr()?, "smtp intake listening");
                Some(smtp)
            }
            None => None,
        };

        // With port 0 (tests) only the bound address makes links that work.
        let mut config = config;
        config.settings.listen = addr;
        // Rotations carry their stored anchors everywhere from here on; an edit since the
        // last start re-anchors now, so it does not move who is on call (D13).
        crate::engine::anchors::sync(&store, &mut config, options.clock.now())
            .await
            .context("syncing rotation anchors")?;
        // Accounts named by a person's `login` act as that person (issue #7).
        crate::engine::accounts::sync_people_accounts(&store, &config)
            .await
            .context("mapping accounts to people")?;
        let config = Arc::new(config);
        // Handlers poke `poke`; the engine waits on `wake`. They are one on SQLite; on
        // Postgres `engine::leader::relay` carries pokes to whichever instance leads.
        let wake = Arc::new(Notify::new());
        let poke = match store.backend() {
            crate::store::Backend::Sqlite => wake.clone(),
            crate::store::Backend::Postgres => Arc::new(Notify::new()),
        };
        let notifiers = Notifiers::new(&config.settings)?;
        let statuspage = Arc::new(
            http::statuspage::StatusCache::load(&store, &config, options.clock.now())
                .await
                .context("rendering the status page")?,
        );
        let live = Live {
            config: crate::config::Shared::new(config.clone()),
            notifiers: SharedNotifiers::new(notifiers.clone()),
        };
        let reloader = Arc::new(Reloader::new(reload::Parts {
            source,
            listen,
            live: live.clone(),
            store: store.clone(),
            statuspage: statuspage.clone(),
            clock: options.clock.clone(),
            wake: poke.clone(),
        }));
        let engine = Engine {
            // Fenced: once leadership starts, the engine writes only while it leads.
            store: store.fenced(),
            config: config.clone(),
            notifiers: notifiers.clone(),
            live: live.clone(),
            clock: options.clock.clone(),
            wake: wake.clone(),
            statuspage: statuspage.clone(),
        };
        let (lead_tx, lead) = leader::channel(&store);
        let state = AppState {
            store,
            config: live.config,
            clock: options.clock,
            wake: poke,
            draining: Arc::new(AtomicBool::new(false)),
            limiter: Arc::default(),
            notifiers: live.notifiers,
            statuspage,
            reloader,
            lead,
        };
        Ok(App {
            listener,
            addr,
            smtp,
            state,
            engine,
            run_engine: options.engine,
            lead: lead_tx,
        })
    }

    /// The address the server is bound to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where the SMTP listener is bound, if it runs.
    pub fn smtp_addr(&self) -> Option<SocketAddr> {
        self.smtp.as_ref().and_then(|smtp| smtp.local_addr().ok())
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Serves until `shutdown` completes, then drains: intake answers 503, in-flight
    /// requests finish, the engine finishes its pass, and the database closes.
    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        // Several instances on one Postgres: pokes reach the leader, one instance leads.
        let url = self.state.config.current().settings.database_url.clone();
        let store = &self.state.store;
        let (poke, wake) = (self.state.wake.clone(), self.engine.wake.clone());
        leader::relay(store, &url, poke, wake, stop_rx.clone());
        let lead = self.state.lead.clone();
        if self.run_engine {
            leader::start(&self.engine.store, &url, self.lead, stop_rx.clone());
        }
        let engine = self
            .run_engine
            .then(|| tokio::spawn(self.engine.clone().run(stop_rx.clone(), lead.clone())));
        // Probes run beside the engine, never inside its pass (issue #9).
        let probes = if self.run_engine {
            let runner = crate::engine::probes::ProbeRunner::new(self.engine.clone())?;
            Some(tokio::spawn(crate::engine::probes::run(
                runner,
                stop_rx.clone(),
                lead,
            )))
        } else {
            None
        };
        let smtp = self.smtp.map(|listener| {
            tokio::spawn(crate::smtpd::serve(listener, self.state.clone(), stop_rx))
        });
        let draining = self.state.draining.clone();
        let store = self.state.store.clone();
        let router = http::router(self.state);
        // The peer address feeds per-IP limits (status page subscriptions).
        let router = router.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, router)
            .with_graceful_shutdown(async move {
                shutdown.await;
                tracing::info!("shutting down");
                draining.store(true, Ordering::SeqCst);
                let _ = stop_tx.send(true);
            })
            .await
            .context("serving HTTP")?;
        if let Some(engine) = engine {
            engine.await.context("joining the engine")?;
        }
        if let Some(probes) = probes {
            probes.await.context("joining the probes")?;
        }
        if let Some(smtp) = smtp {
            smtp.await.context("joining the SMTP listener")?;
        }
        store.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
