//! `dutybell check [DIR]`: validates a config directory offline for CI and exits non-zero
//! on errors. The checks live in `config::check`; this prints them as text
//! (`file:line: message`, one per line) or JSON.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::Global;
use crate::clock::Clock;
use crate::config::check::{self, Level};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The config directory to check; defaults to --config.
    pub dir: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// `file:line: message`, one per line, then a summary.
    Text,
    /// `{"dir", "errors", "warnings", "findings": [{level, file, line, key, message}]}`.
    Json,
}

/// Prints every finding; an error when any finding is an error (exit code 1).
pub fn run(global: &Global, clock: &Clock, args: &CheckArgs) -> anyhow::Result<()> {
    let dir = args.dir.clone().unwrap_or_else(|| global.config.clone());
    let env = std::env::vars().collect();
    let findings = check::check(&dir, &env, clock.now());
    let errors = findings.iter().filter(|f| f.level == Level::Error).count();
    let warnings = findings.len() - errors;
    tracing::debug!(config.dir = %dir.display(), errors, warnings, "checked config");

    match args.format {
        Format::Text => {
            for finding in &findings {
                println!("{finding}");
            }
        }
        Format::Json => {
            let report = serde_json::json!({
                "dir": dir,
                "errors": errors,
                "warnings": warnings,
                "findings": findings,
            });
            println!("{report:#}");
        }
    }
    if errors > 0 {
        anyhow::bail!(
            "{}: {errors} error(s), {warnings} warning(s)",
            dir.display()
        );
    }
    if args.format == Format::Text {
        println!(
            "{}: configuration is valid ({warnings} warning(s))",
            dir.display()
        );
    }
    Ok(())
}
