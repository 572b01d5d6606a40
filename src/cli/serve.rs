//! `dutybell serve`: builds the app and serves until Ctrl-C or SIGTERM. SIGHUP reloads the
//! config directory (issue #7) through the same path as `POST /api/v1/admin/reload`: the
//! new config is checked first, and on any problem the running one keeps serving.

use std::sync::Arc;

use crate::app::{App, Options, shutdown_signal};
use crate::clock::Clock;
use crate::config::{Config, Source};
use crate::engine::reload::{Reloader, Trigger};

pub async fn run(config: Config, source: Source, clock: Clock) -> anyhow::Result<()> {
    let config_dir = config.dir.clone();
    // Never the password a postgres:// URL may carry.
    let database = crate::store::redacted(&config.settings.database_url);
    let app = App::build_from(
        config,
        source,
        Options {
            clock,
            engine: true,
        },
    )
    .await?;
    tracing::info!(
        listen = %app.addr(),
        config.dir = %config_dir.display(),
        database = %database,
        "dutybell serving"
    );
    reload_on_hangup(app.state().reloader.clone());
    app.run_until_stopped(shutdown_signal()).await
}

/// Reloads the config on each SIGHUP (which would otherwise end the process without
/// draining). The outcome is logged by the reloader: `config reloaded` with counts, or
/// the problems.
/// The handler is installed before this returns, so a SIGHUP sent once the server answers
/// is never the default (fatal) one.
fn reload_on_hangup(reloader: Arc<Reloader>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP; reload through the admin API instead");
            return;
        };
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                tracing::info!("SIGHUP: reloading the config");
                let _ = reloader.reload(Trigger::Signal).await;
            }
        });
    }
    #[cfg(not(unix))]
    let _ = reloader;
}
