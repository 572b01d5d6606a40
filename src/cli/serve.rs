//! `dutybell serve`.

use crate::app::{App, Options, shutdown_signal};
use crate::clock::Clock;
use crate::config::Config;

pub async fn run(config: Config, clock: Clock) -> anyhow::Result<()> {
    let config_dir = config.dir.clone();
    let database = config.settings.database_url.clone();
    let app = App::build(
        config,
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
    ignore_hangup();
    app.run_until_stopped(shutdown_signal()).await
}

/// SIGHUP would otherwise end the process without draining. Config is read at start only.
fn ignore_hangup() {
    #[cfg(unix)]
    tokio::spawn(async {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            return;
        };
        while hangups.recv().await.is_some() {
            // TODO(#7): reload and validate the config on SIGHUP instead of ignoring it.
            tracing::warn!("SIGHUP ignored: config is read at start; restart to apply changes");
        }
    });
}
