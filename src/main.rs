use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = dutybell::cli::Cli::parse();
    dutybell::telemetry::init(&cli.log);
    dutybell::cli::run(cli).await
}
