//! The running server's config as a swappable handle (issue #7), and where it was read from.
//!
//! [`Shared`] holds the current `Arc<Config>`; readers take one snapshot with
//! [`Shared::current`] at the start of a request or engine pass and use only that, so no
//! piece of work mixes two configs. A reload validates a whole new [`Config`] first and
//! only then [`Shared::replace`]s it; what has to agree with the running process (the bound
//! listener, the database) is checked by `engine::reload`, which owns the reload itself.
//! [`Source`] remembers the directory, flags and environment of the start, so a reload
//! reads the directory exactly as the start did; [`Source::load`] reports problems the way
//! `dutybell check` does, each with its file and line.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use anyhow::Context as _;

use super::check::{Finding, Level, Sources};
use super::raw::Env;
use super::secrets::Secrets;
use super::{Config, Overrides};

/// The current config, shared by the HTTP handlers and the engine; cheap to clone.
#[derive(Clone, Debug)]
pub struct Shared {
    current: Arc<RwLock<Arc<Config>>>,
    /// Bumped by every swap, so a task can tell that the config changed under it.
    generation: Arc<AtomicU64>,
}

impl Shared {
    pub fn new(config: Arc<Config>) -> Shared {
        Shared {
            current: Arc::new(RwLock::new(config)),
            generation: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The config now: take it once per request or pass and keep using that snapshot.
    pub fn current(&self) -> Arc<Config> {
        self.current
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }

    /// 0 at start, one more after each swap.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Makes `config` current; work already holding the old snapshot finishes with it.
    pub fn replace(&self, config: Arc<Config>) {
        let mut current = self
            .current
            .write()
            .unwrap_or_else(|poison| poison.into_inner());
        *current = config;
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

/// Where a server read its config at start: a reload reads it again the same way.
#[derive(Clone, Debug)]
pub struct Source {
    pub dir: PathBuf,
    /// Flags and `DUTYBELL_*` values given at start (listen, public URL, data dir, database).
    pub overrides: Overrides,
    /// The environment at start; secrets named by `*_env` keys are read from it.
    pub env: Env,
}

impl Source {
    /// Loads and validates the directory like [`Config::load`] (generated secrets are kept
    /// in the data dir). Problems come back as `dutybell check` lists them, with lines.
    pub fn load(&self) -> Result<Config, Vec<Finding>> {
        let data_dir = self
            .overrides
            .data_dir
            .clone()
            .unwrap_or_else(|| super::data_dir_of(&self.dir));
        let mut secrets = Secrets::load(&data_dir)
            .context("loading instance secrets")
            .map_err(|err| vec![environment(&err)])?;
        let config = match super::load_with(&self.dir, &self.overrides, &self.env, &mut secrets) {
            Ok(config) => config,
            Err(errors) => {
                let mut sources = Sources::default();
                return Err(errors
                    .0
                    .iter()
                    .map(|err| sources.locate(err, Level::Error))
                    .collect());
            }
        };
        secrets
            .save_if_changed(&config.settings.data_dir)
            .context("saving instance secrets")
            .map_err(|err| vec![environment(&err)])?;
        Ok(config)
    }
}

/// A failure outside the config files (the data dir), as a finding.
fn environment(err: &anyhow::Error) -> Finding {
    Finding {
        level: Level::Error,
        file: PathBuf::from("environment"),
        line: None,
        key: None,
        message: format!("{err:#}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_outlives_the_swap_and_the_generation_counts_swaps() {
        let dir = tempfile::tempdir().unwrap();
        let source = Source {
            dir: std::path::Path::new("examples/team").to_path_buf(),
            overrides: Overrides {
                data_dir: Some(dir.path().to_path_buf()),
                ..Overrides::default()
            },
            env: Env::new(),
        };
        let config = Arc::new(source.load().unwrap());
        let shared = Shared::new(config.clone());
        let before = shared.current();

        let mut next = (*config).clone();
        next.people.clear();
        shared.replace(Arc::new(next));

        assert!(!before.people.is_empty(), "the old snapshot is untouched");
        assert!(shared.current().people.is_empty());
        assert_eq!(shared.generation(), 1);
    }

    #[test]
    fn a_broken_directory_is_reported_with_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("team.toml"),
            "[[person]]\nid = \"ana\"\nname = 3\n",
        )
        .unwrap();
        let source = Source {
            dir: dir.path().to_path_buf(),
            overrides: Overrides {
                data_dir: Some(dir.path().join("data")),
                ..Overrides::default()
            },
            env: Env::new(),
        };

        let findings = source.load().unwrap_err();

        let team = findings
            .iter()
            .find(|f| f.file.ends_with("team.toml"))
            .expect("team.toml is named");
        assert_eq!(team.line, Some(3), "{team}");
    }
}
