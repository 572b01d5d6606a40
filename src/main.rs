use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = dutybell::cli::Cli::parse();
    dutybell::telemetry::init(cli.log_filter());
    match dutybell::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // The whole cause chain on one line reads as a story: what failed, and why.
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
