//! `dutybell healthcheck`: asks a running server's `GET /health` and exits non-zero unless
//! it answers 200, so a container image needs no curl for its health check.

use std::time::Duration;

use anyhow::Context as _;
use clap::Args;

#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// The server's health endpoint.
    #[arg(
        long,
        env = "DUTYBELL_HEALTH_URL",
        default_value = "http://127.0.0.1:8080/health"
    )]
    pub url: String,
}

pub async fn run(args: &HealthcheckArgs) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .context("building the HTTP client")?;
    let response = client
        .get(&args.url)
        .send()
        .await
        .with_context(|| format!("asking {}", args.url))?;
    let status = response.status();
    anyhow::ensure!(status.is_success(), "{} answered {status}", args.url);
    println!("{}: {status}", args.url);
    Ok(())
}
