//! Tracing setup: one subscriber for the process, filtered by `--log` / `RUST_LOG`.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. A second call (tests) is a no-op.
pub fn init(filter: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

/// Renders an error with its whole cause chain on one line, for a structured log field.
pub fn chain(err: &anyhow::Error) -> String {
    format!("{err:#}")
}
