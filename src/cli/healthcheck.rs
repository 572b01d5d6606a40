//! `dutybell healthcheck`: asks a running server's `GET /health` and exits non-zero unless
//! it answers 200, so a container image needs no curl for its health check.

use std::time::Duration;

use anyhow::Context as _;
use clap::Args;

#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// The server's health endpoint; a bare server URL (`http://host:8080`) means its
    /// `/health`.
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
    let url = health_url(&args.url);
    let response = client
        .get(&url)
        .send()
        .await
        .with_context(|| format!("asking {url}"))?;
    let status = response.status();
    anyhow::ensure!(status.is_success(), "{url} answered {status}");
    println!("{url}: {status}");
    Ok(())
}

/// `url`, with `/health` added when it names a server but no path: the root is the public
/// status page, which answers 200 even while the database is down.
fn health_url(url: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    let path_start = trimmed
        .split_once("://")
        .map_or(Some(0), |(_, rest)| rest.find('/'));
    match path_start {
        None => format!("{trimmed}/health"),
        Some(_) => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::health_url;

    #[test]
    fn a_bare_server_url_means_its_health_endpoint() {
        assert_eq!(
            health_url("http://10.0.0.5:8080"),
            "http://10.0.0.5:8080/health"
        );
        assert_eq!(
            health_url("http://10.0.0.5:8080/"),
            "http://10.0.0.5:8080/health"
        );
        let given = "https://bell.example.com/health";
        assert_eq!(health_url(given), given);
        let behind = "https://example.com/dutybell/health";
        assert_eq!(health_url(behind), behind);
    }
}
