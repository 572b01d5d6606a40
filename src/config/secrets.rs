//! Instance secrets that dutybell generates when the environment does not supply them: the
//! action-link signing key, the admin API token and integration keys. They live in
//! `<data dir>/secrets.toml` (mode 0600), never in the team's committed config, and are
//! never logged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use rand::RngCore as _;
use serde::{Deserialize, Serialize};

/// The contents of `secrets.toml`.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Secrets {
    pub signing_secret: Option<String>,
    pub api_token: Option<String>,
    #[serde(default)]
    pub integration_keys: BTreeMap<String, String>,
    #[serde(skip)]
    changed: bool,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets { .. }")
    }
}

/// A fresh random value: 16 bytes as 32 lowercase hex characters, the PagerDuty-shaped key
/// format senders' SDKs accept.
pub fn random_key() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

impl Secrets {
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("secrets.toml")
    }

    /// Reads the file, or starts empty when there is none yet.
    pub fn load(data_dir: &Path) -> anyhow::Result<Secrets> {
        let path = Secrets::path(data_dir);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Secrets::default()),
            Err(err) => Err(err).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes the file if anything was generated since it was loaded.
    pub fn save_if_changed(&self, data_dir: &Path) -> anyhow::Result<()> {
        if !self.changed {
            return Ok(());
        }
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating data dir {}", data_dir.display()))?;
        let path = Secrets::path(data_dir);
        let text = toml::to_string(self).context("serializing secrets")?;
        write_private(&path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    /// The value stored under `slot`, generating one if missing.
    pub fn get_or_generate(&mut self, slot: SecretSlot<'_>) -> String {
        let entry = match slot {
            SecretSlot::SigningSecret => &mut self.signing_secret,
            SecretSlot::ApiToken => &mut self.api_token,
            SecretSlot::IntegrationKey(id) => {
                if let Some(key) = self.integration_keys.get(id) {
                    return key.clone();
                }
                let key = random_key();
                self.integration_keys.insert(id.to_string(), key.clone());
                self.changed = true;
                return key;
            }
        };
        if let Some(value) = entry {
            return value.clone();
        }
        let value = format!("{}{}", random_key(), random_key());
        *entry = Some(value.clone());
        self.changed = true;
        value
    }
}

/// Which generated secret to read.
pub enum SecretSlot<'a> {
    SigningSecret,
    ApiToken,
    IntegrationKey(&'a str),
}

/// Writes a file readable by its owner only, from the first byte on.
#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // An older file may predate the mode above.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}
