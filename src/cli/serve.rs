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
    app.run_until_stopped(shutdown_signal()).await
}
