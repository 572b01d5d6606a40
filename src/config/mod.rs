//! The team's config directory, loaded and checked before anything serves.
//!
//! Layers, later wins: built-in defaults, `dutybell.toml` in the config directory,
//! `DUTYBELL_*` environment variables and command-line flags (both through clap, applied as
//! [`Overrides`]). Raw TOML (`raw`) is validated into [`Config`], resolving every reference
//! (service → policy → rotation → person) and reporting every problem with its file and key,
//! not just the first. Secrets come from the environment or `secrets.toml` in the data dir.

pub mod check;
mod comms;
pub mod postmortem;
pub mod probes;
pub mod raw;
pub mod reports;
pub mod retention;
pub mod runbooks;
mod schedules;
pub mod secrets;
mod shared;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use jiff::SignedDuration;
use jiff::tz::TimeZone;
use secrecy::SecretString;
use serde::de::DeserializeOwned;

use crate::domain::alert::Severity;
use crate::domain::escalation::{Policy, Step, Target};
use crate::domain::fingerprint::sha256_hex;
use crate::domain::maintenance;
use crate::domain::oncall::{Advance, Rotation, RotationKind, Rotations, Schedule};
pub use comms::RecurringMaintenance;
pub use comms::{
    ComponentConfig, ComponentGroupConfig, DEFAULT_SLACK_API_BASE, SlackSettings, StatusPageConfig,
};
use raw::Env;
use secrets::{SecretSlot, Secrets};
pub use shared::{Shared, Source};

/// One problem in the config directory.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: cannot parse: {message}")]
    Parse { file: PathBuf, message: String },
    #[error("{file}: `{key}`: {problem}")]
    Invalid {
        file: PathBuf,
        key: String,
        problem: String,
    },
}

/// Every problem found, one per line.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid configuration ({} problem(s)):", self.0.len())?;
        for err in &self.0 {
            writeln!(f, "  {err}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// A notification channel kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChannelKind {
    Email,
    Webhook,
    /// Push through an ntfy server (`[ntfy]`).
    Ntfy,
    /// A Slack incoming webhook, or a DM from the Slack app (`to = "dm"`).
    Slack,
    /// A Microsoft Teams Workflows webhook.
    Teams,
    /// A Discord channel webhook.
    Discord,
    /// Text message through Twilio (`[twilio]`).
    Sms,
    /// Phone call through Twilio (`[twilio]`).
    Voice,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 8] = [
        ChannelKind::Email,
        ChannelKind::Webhook,
        ChannelKind::Ntfy,
        ChannelKind::Slack,
        ChannelKind::Teams,
        ChannelKind::Discord,
        ChannelKind::Sms,
        ChannelKind::Voice,
    ];

    pub fn parse(s: &str) -> Option<ChannelKind> {
        ChannelKind::ALL.into_iter().find(|kind| kind.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Email => "email",
            ChannelKind::Webhook => "webhook",
            ChannelKind::Ntfy => "ntfy",
            ChannelKind::Slack => "slack",
            ChannelKind::Teams => "teams",
            ChannelKind::Discord => "discord",
            ChannelKind::Sms => "sms",
            ChannelKind::Voice => "voice",
        }
    }

    /// Whether contacts of this kind can be verified with a code (`verify = true`): the
    /// ones whose address a typo could hand to a stranger.
    pub fn takes_code(self) -> bool {
        matches!(
            self,
            ChannelKind::Sms | ChannelKind::Voice | ChannelKind::Email
        )
    }
}

/// A way to reach a person.
#[derive(Clone, Debug)]
pub struct Contact {
    pub kind: ChannelKind,
    /// What identifies the destination (outbox rows and dedup match on it): the email
    /// address, webhook URL, ntfy topic or E.164 number; for slack, teams and discord the
    /// webhook URL, or `env:<VAR>` when the URL came from `url_env`; for a Slack app DM
    /// `dm:<slack_id>`.
    pub address: String,
    /// webhook: the signing secret. slack, teams, discord: the webhook URL when it came
    /// from `url_env` (it carries the token).
    pub secret: Option<SecretString>,
    /// `verify = true`: pages skip this contact until its (person, kind, address) has been
    /// confirmed with a code (`store::verification`).
    pub verify: bool,
}

impl Contact {
    /// Where an HTTP channel posts to: the secret URL if there is one, else `address`.
    pub fn endpoint(&self) -> &str {
        use secrecy::ExposeSecret as _;
        match (self.kind, &self.secret) {
            (ChannelKind::Slack | ChannelKind::Teams | ChannelKind::Discord, Some(url)) => {
                url.expose_secret()
            }
            _ => &self.address,
        }
    }

    /// The Slack member id an app-mode DM contact (`{ kind = "slack", to = "dm" }`) pages.
    pub fn slack_dm(&self) -> Option<&str> {
        if self.kind != ChannelKind::Slack {
            return None;
        }
        self.address.strip_prefix("dm:")
    }
}

/// "After N minutes of a ladder run, notify via this kind."
#[derive(Clone, Debug)]
pub struct NotifyRule {
    pub after: SignedDuration,
    pub via: ChannelKind,
}

#[derive(Clone, Debug)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub time_zone: TimeZone,
    /// Slack member id (`U…`), when the person linked one.
    pub slack_id: Option<String>,
    /// The web UI account this person signs in as; `engine::accounts` maps it to them.
    pub login: Option<String>,
    pub contacts: Vec<Contact>,
    pub notify: Vec<NotifyRule>,
}

#[derive(Clone, Debug)]
pub struct Service {
    pub id: String,
    pub name: String,
    pub escalation: String,
    pub runbook_url: Option<String>,
    /// New keys are refused (429) while this many alerts are open and unacknowledged.
    pub max_open_unacked: u32,
    /// How long an ack holds before the alert triggers again; `None` is off (D8).
    pub ack_timeout: Option<SignedDuration>,
    /// Maintenance windows, in config order (D11).
    pub maintenance: Vec<maintenance::Window>,
}

/// Wire formats an integration accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntegrationKind {
    Alertmanager,
    Grafana,
    /// PagerDuty Events API v2 senders (`/v2/enqueue`).
    Pagerduty,
    Generic,
    /// Mail to an address served by the SMTP listener; the address is the key.
    Email,
}

impl IntegrationKind {
    pub fn parse(s: &str) -> Option<IntegrationKind> {
        match s {
            "alertmanager" => Some(IntegrationKind::Alertmanager),
            "grafana" => Some(IntegrationKind::Grafana),
            "pagerduty" | "pagerduty_v2" => Some(IntegrationKind::Pagerduty),
            "generic" => Some(IntegrationKind::Generic),
            "email" => Some(IntegrationKind::Email),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationKind::Alertmanager => "alertmanager",
            IntegrationKind::Grafana => "grafana",
            IntegrationKind::Pagerduty => "pagerduty",
            IntegrationKind::Generic => "generic",
            IntegrationKind::Email => "email",
        }
    }

    /// Formats whose deliveries are groups of members (and so have a `mode`).
    pub fn groups(self) -> bool {
        matches!(
            self,
            IntegrationKind::Alertmanager | IntegrationKind::Grafana
        )
    }
}

/// A configured alert source.
#[derive(Clone, Debug)]
pub struct Integration {
    /// `<service>/<id or kind>`; shown in logs instead of the key.
    pub id: String,
    pub service: String,
    pub kind: IntegrationKind,
    pub key: SecretString,
    /// Lowercase hex SHA-256 of the key: what intake looks a presented key up by.
    pub key_hash: String,
    pub token: Option<SecretString>,
    pub default_severity: Severity,
    /// Ingress limit: at most `.0` requests per sliding `.1`; `None` is off.
    pub rate: Option<(u32, SignedDuration)>,
    pub reopen_window: SignedDuration,
    pub refire_grace: SignedDuration,
    /// Body signature required on every delivery (Grafana 12+, intake spec §1).
    pub hmac: Option<BodySignature>,
    /// One alert per group or per member (alertmanager and grafana; intake spec §3.3).
    pub mode: IntakeMode,
}

impl Integration {
    /// Where senders deliver to this integration under `base` (the public URL), with `key`
    /// in the path: the real key, or a mask for people who may not see it. PagerDuty
    /// senders post to one URL and carry the key as `routing_key` instead. Shared by
    /// `dutybell integrations` and the web UI's services page.
    pub fn intake_url(&self, base: &str, key: &str) -> String {
        match self.kind {
            IntegrationKind::Pagerduty => format!("{base}/v2/enqueue"),
            kind => format!("{base}/api/v1/integrations/{key}/{}", kind.as_str()),
        }
    }
}

/// How a group format maps members to dutybell alerts (intake spec §3.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IntakeMode {
    /// One alert per `(integration, receiver, groupKey)`.
    #[default]
    Group,
    /// One alert per `(integration, fingerprint)`.
    Alert,
}

/// An HMAC-SHA256 signature over each delivery's body, in a header (intake spec §1).
#[derive(Clone, Debug)]
pub struct BodySignature {
    pub secret: SecretString,
    /// Header with the lowercase hex signature.
    pub header: String,
    /// Header with the unix timestamp; when set, the signed text is `<ts>:<body>` and the
    /// timestamp must be within [`SIGNATURE_WINDOW`] of now.
    pub timestamp_header: Option<String>,
}

/// Grafana's default signature header.
pub const DEFAULT_HMAC_HEADER: &str = "X-Grafana-Alerting-Signature";
/// How far a signed timestamp may be from now, either way.
pub const SIGNATURE_WINDOW: SignedDuration = SignedDuration::from_secs(300);

/// Default ingress limit per integration key (on-call spec D10).
pub const DEFAULT_RATE: &str = "6000/1m";

/// Parses `"6000/1m"` (count per duration) or `"off"`.
pub fn parse_rate(text: &str) -> Result<Option<(u32, SignedDuration)>, String> {
    if text.trim() == "off" {
        return Ok(None);
    }
    let (count, per) = text
        .split_once('/')
        .ok_or_else(|| format!("{text:?} is not a rate like \"6000/1m\" or \"off\""))?;
    let count: u32 = count
        .trim()
        .parse()
        .map_err(|_| format!("{count:?} is not a count"))?;
    let per = parse_duration(per)?;
    if count == 0 || per <= SignedDuration::ZERO {
        return Err(format!("{text:?}: count and period must be positive"));
    }
    Ok(Some((count, per)))
}

/// SMTP relay settings for email notifications.
#[derive(Clone, Debug)]
pub struct Smtp {
    pub url: String,
    pub from: String,
    pub username: Option<String>,
    pub password: Option<SecretString>,
}

/// The ntfy server for `ntfy` contacts (`[ntfy]`).
#[derive(Clone, Debug)]
pub struct Ntfy {
    /// Server root without a trailing slash.
    pub server: String,
    pub token: Option<SecretString>,
}

/// The Twilio account for `sms` and `voice` contacts (`[twilio]`).
#[derive(Clone, Debug)]
pub struct Twilio {
    pub account_sid: String,
    pub auth_token: SecretString,
    /// E.164 number, or a Messaging Service SID (`MG…`).
    pub from: String,
    /// REST API root without a trailing slash.
    pub api_base: String,
}

pub const DEFAULT_TWILIO_API_BASE: &str = "https://api.twilio.com";

/// Instance settings.
#[derive(Clone, Debug)]
pub struct Settings {
    pub listen: SocketAddr,
    /// Base of every link dutybell sends out; `None` until set or bound (see
    /// [`Settings::public_url`]).
    pub public_url: Option<String>,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub smtp: Option<Smtp>,
    pub ntfy: Option<Ntfy>,
    pub twilio: Option<Twilio>,
    pub max_body_bytes: usize,
    /// Where the inbound SMTP listener for email integrations listens (off when `None`).
    pub smtp_listen: Option<SocketAddr>,
    pub signing_secret: SecretString,
    /// Bearer token for the admin API and remote CLI.
    pub api_token: SecretString,
    /// `[slack]`, when incidents are announced in Slack.
    pub slack: Option<SlackSettings>,
    /// `[reports]`, when a weekly hygiene digest goes out.
    pub reports: Option<reports::Reports>,
    /// `[postmortem]`: document zone and due time (defaults when the table is absent).
    pub postmortem: postmortem::Postmortem,
    /// `[retention]`: how long history is kept (defaults when the table is absent).
    pub retention: retention::Retention,
    /// `[server] trusted_proxies`: peers whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<crate::http::client_ip::Cidr>,
}

impl Settings {
    /// The base URL for links: as configured, else the listen address.
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub dir: PathBuf,
    pub settings: Settings,
    pub people: BTreeMap<String, Person>,
    pub rotations: Rotations,
    /// Schedules from `oncall.toml`, without runtime state: their `overrides` and
    /// `temporary` are empty; `store::overrides::with_overrides` adds the stored ones.
    pub schedules: BTreeMap<String, Schedule>,
    /// Who each schedule tells about handoffs and coverage gaps, by schedule id; a schedule
    /// missing here sends no notices.
    pub schedule_notices: BTreeMap<String, ScheduleNotices>,
    pub policies: BTreeMap<String, Policy>,
    pub services: BTreeMap<String, Service>,
    pub integrations: Vec<Integration>,
    /// The public status page (`statuspage.toml`, defaults when absent).
    pub statuspage: StatusPageConfig,
    /// `runbooks/*.md`; files with invalid front matter are left out with a warning.
    pub runbooks: runbooks::Runbooks,
    /// Built-in probes (`probes.toml`, none when absent).
    pub probes: Vec<probes::Probe>,
}

/// A schedule's notice settings (`shift_notices`, `notify` in `[[schedule]]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScheduleNotices {
    /// Tell the people handing over at each handoff.
    pub shift_changes: bool,
    /// Person ids told about coverage gaps entering the 7-day horizon (D16).
    pub gaps_to: Vec<String>,
}

/// Values from flags and environment, applied over `dutybell.toml`.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub public_url: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = "dutybell-data";
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Shortest API token or signing secret accepted from the environment.
pub const MIN_SECRET_CHARS: usize = 16;

impl Config {
    /// Loads and validates `dir`, generating missing instance secrets into the data dir.
    pub fn load(dir: &Path, overrides: &Overrides, env: &Env) -> anyhow::Result<Config> {
        use anyhow::Context as _;
        let data_dir = overrides
            .data_dir
            .clone()
            .unwrap_or_else(|| data_dir_of(dir));
        let mut secrets = Secrets::load(&data_dir).context("loading instance secrets")?;
        let config = load_with(dir, overrides, env, &mut secrets)?;
        secrets
            .save_if_changed(&config.settings.data_dir)
            .context("saving instance secrets")?;
        Ok(config)
    }

    pub fn person(&self, id: &str) -> Option<&Person> {
        self.people.get(id)
    }

    /// The escalation policy id of service `id`, if the service exists.
    pub fn service_policy(&self, id: &str) -> Option<String> {
        self.services.get(id).map(|s| s.escalation.clone())
    }

    pub fn integration_by_key_hash(&self, hash: &str) -> Option<&Integration> {
        self.integrations.iter().find(|i| i.key_hash == hash)
    }
}

/// The data dir `dutybell.toml` in `dir` names, else the default (before flags apply).
fn data_dir_of(dir: &Path) -> PathBuf {
    read_optional::<raw::InstanceFile>(&dir.join("dutybell.toml"))
        .ok()
        .flatten()
        .and_then(|f| f.server.data_dir.map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
}

/// Loads and validates with the given secrets (which may gain generated values).
pub fn load_with(
    dir: &Path,
    overrides: &Overrides,
    env: &Env,
    secrets: &mut Secrets,
) -> Result<Config, ConfigErrors> {
    let mut v = Validator::default();
    let instance = v.file::<raw::InstanceFile>(dir, "dutybell.toml", false);
    let team = v.file::<raw::TeamFile>(dir, "team.toml", true);
    let oncall = v.file::<raw::OncallFile>(dir, "oncall.toml", true);
    let services = v.file::<raw::ServicesFile>(dir, "services.toml", true);
    let statuspage = v.file::<raw::StatusPageFile>(dir, "statuspage.toml", false);
    // Cross-references into a file that did not parse would only add misleading errors.
    if !v.errors.is_empty() {
        return Err(ConfigErrors(v.errors));
    }

    let settings = v.settings(dir, instance.unwrap_or_default(), overrides, env, secrets);
    let people = v.people(dir, team.unwrap_or_default(), env, settings.as_ref());
    let oncall = oncall.unwrap_or_default();
    let rotations = v.rotations(dir, &oncall.rotation, &people);
    let schedules = v.schedules(dir, &oncall.schedule, &people, &rotations);
    let schedule_notices = v.schedule_notices(dir, &oncall.schedule, &people);
    let policies = v.policies(dir, &oncall.escalation, &people, &rotations, &schedules);
    let (services, integrations) =
        v.services(dir, services.unwrap_or_default(), &policies, env, secrets);
    v.slack_ids(dir, &people);
    let statuspage = v.statuspage(dir, statuspage.unwrap_or_default(), &services);
    let probes = v.probes(dir, &services, &statuspage);

    match (v.errors.is_empty(), settings) {
        (true, Some(settings)) => Ok(Config {
            dir: dir.to_path_buf(),
            settings,
            people,
            rotations,
            schedules,
            schedule_notices,
            policies,
            services,
            integrations,
            statuspage,
            runbooks: runbooks::Runbooks::load(dir),
            probes,
        }),
        _ => Err(ConfigErrors(v.errors)),
    }
}

pub use crate::domain::duration::parse_duration;

fn read_optional<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ConfigError::Read {
                file: path.to_path_buf(),
                source,
            });
        }
    };
    toml::from_str(&text)
        .map(Some)
        .map_err(|err| ConfigError::Parse {
            file: path.to_path_buf(),
            message: err.to_string(),
        })
}

#[derive(Default)]
struct Validator {
    errors: Vec<ConfigError>,
    /// On a Postgres database several instances may serve one team, so none may generate a
    /// secret of its own: keys, tokens and the signing secret must come from the
    /// environment, the same on every instance (issue #8).
    shared_secrets: bool,
}

impl Validator {
    fn invalid(
        &mut self,
        dir: &Path,
        file: &str,
        key: impl Into<String>,
        problem: impl Into<String>,
    ) {
        self.errors.push(ConfigError::Invalid {
            file: dir.join(file),
            key: key.into(),
            problem: problem.into(),
        });
    }

    /// An instance secret from the environment. Set but short (or empty) is refused: an
    /// empty API token or signing key would let anyone in.
    /// On Postgres, refuses to generate the secret `key` names (see `shared_secrets`):
    /// records why and returns a placeholder. `None` on SQLite, where generating is fine.
    fn unshared(&mut self, file: &str, key: &str) -> Option<String> {
        if !self.shared_secrets {
            return None;
        }
        self.errors.push(ConfigError::Invalid {
            file: PathBuf::from(file),
            key: key.to_string(),
            problem: "is not set: on a Postgres database every instance must use the same \
                      secrets, so none is generated; set it in each instance's environment \
                      (see README, Postgres and several instances)"
                .into(),
        });
        Some(String::new())
    }

    fn instance_secret(&mut self, env: &Env, var: &str) -> Option<String> {
        let value = env.get(var)?;
        if value.chars().count() < MIN_SECRET_CHARS {
            self.errors.push(ConfigError::Invalid {
                file: PathBuf::from("environment"),
                key: var.to_string(),
                problem: format!(
                    "must have at least {MIN_SECRET_CHARS} characters; unset it to have one \
                     generated into the data dir"
                ),
            });
            return Some(String::new());
        }
        Some(value.clone())
    }

    /// Checks what `serve` would otherwise only find out when it builds the SMTP client.
    fn check_smtp(&mut self, dir: &Path, smtp: &raw::RawSmtp) {
        const FILE: &str = "dutybell.toml";
        let url = smtp.url.to_ascii_lowercase();
        let (scheme_ok, query) = match url.split_once('?') {
            Some((base, query)) => (
                base.starts_with("smtp://") || base.starts_with("smtps://"),
                query,
            ),
            None => (
                url.starts_with("smtp://") || url.starts_with("smtps://"),
                "",
            ),
        };
        let tls_ok = query.split('&').filter(|p| !p.is_empty()).all(|param| {
            matches!(param, "tls=required" | "tls=opportunistic") || !param.starts_with("tls=")
        });
        if !scheme_ok || !tls_ok {
            let problem = format!(
                "{:?} is not smtp://host:port, smtp://host:port?tls=required or smtps://host:port",
                smtp.url
            );
            self.invalid(dir, FILE, "smtp.url", problem);
        }
        if smtp.from.parse::<lettre::message::Mailbox>().is_err() {
            let problem = format!(
                "{:?} is not an address like \"dutybell <d@example.com>\"",
                smtp.from
            );
            self.invalid(dir, FILE, "smtp.from", problem);
        }
    }

    fn file<T: DeserializeOwned>(&mut self, dir: &Path, name: &str, required: bool) -> Option<T> {
        match read_optional(&dir.join(name)) {
            Ok(Some(value)) => Some(value),
            Ok(None) if required => {
                self.errors.push(ConfigError::Read {
                    file: dir.join(name),
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "file not found (point --config or DUTYBELL_CONFIG at your config dir)",
                    ),
                });
                None
            }
            Ok(None) => None,
            Err(err) => {
                self.errors.push(err);
                None
            }
        }
    }

    fn zone(&mut self, dir: &Path, file: &str, key: String, name: &str) -> Option<TimeZone> {
        match TimeZone::get(name) {
            Ok(zone) => Some(zone),
            Err(_) => {
                self.invalid(dir, file, key, format!("{name:?} is not an IANA time zone"));
                None
            }
        }
    }

    fn duration(&mut self, dir: &Path, file: &str, key: String, text: &str) -> SignedDuration {
        parse_duration(text).unwrap_or_else(|problem| {
            self.invalid(dir, file, key, problem);
            SignedDuration::ZERO
        })
    }

    /// The integration's body signature, when `hmac_secret_env` is set; header names are
    /// letters, digits, `-` and `_`.
    fn body_signature(
        &mut self,
        dir: &Path,
        ikey: &dyn Fn(&str) -> String,
        raw: &raw::RawIntegration,
        env: &Env,
    ) -> Option<BodySignature> {
        const FILE: &str = "services.toml";
        let Some(var) = raw.hmac_secret_env.as_deref() else {
            if raw.hmac_header.is_some() || raw.hmac_timestamp_header.is_some() {
                let problem = "needs `hmac_secret_env`";
                self.invalid(dir, FILE, ikey("hmac_header"), problem);
            }
            return None;
        };
        let secret = self.secret_from_env(dir, FILE, ikey("hmac_secret_env"), var, env)?;
        let header = raw.hmac_header.as_deref().unwrap_or(DEFAULT_HMAC_HEADER);
        let mut valid = true;
        for (field, name) in [
            ("hmac_header", Some(header)),
            (
                "hmac_timestamp_header",
                raw.hmac_timestamp_header.as_deref(),
            ),
        ] {
            let token = |b: u8| b.is_ascii_alphanumeric() || b"-_".contains(&b);
            if let Some(name) = name
                && (name.is_empty() || !name.bytes().all(token))
            {
                self.invalid(dir, FILE, ikey(field), "not a valid HTTP header name");
                valid = false;
            }
        }
        valid.then(|| BodySignature {
            secret,
            header: header.to_string(),
            timestamp_header: raw.hmac_timestamp_header.clone(),
        })
    }

    fn secret_from_env(
        &mut self,
        dir: &Path,
        file: &str,
        key: String,
        var: &str,
        env: &Env,
    ) -> Option<SecretString> {
        match env.get(var) {
            Some(value) if !value.is_empty() => Some(SecretString::from(value.clone())),
            _ => {
                self.invalid(
                    dir,
                    file,
                    key,
                    format!("environment variable {var} is not set"),
                );
                None
            }
        }
    }

    fn settings(
        &mut self,
        dir: &Path,
        file: raw::InstanceFile,
        overrides: &Overrides,
        env: &Env,
        secrets: &mut Secrets,
    ) -> Option<Settings> {
        const FILE: &str = "dutybell.toml";
        let listen = match (overrides.listen, &file.server.listen) {
            (Some(addr), _) => addr,
            (None, Some(text)) => match text.parse() {
                Ok(addr) => addr,
                Err(_) => {
                    self.invalid(
                        dir,
                        FILE,
                        "server.listen",
                        format!("{text:?} is not ip:port"),
                    );
                    return None;
                }
            },
            (None, None) => DEFAULT_LISTEN
                .parse()
                .expect("the default listen address parses"),
        };
        let data_dir = overrides
            .data_dir
            .clone()
            .or_else(|| file.server.data_dir.as_ref().map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let database_url = overrides
            .database_url
            .clone()
            .or(file.server.database_url)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("dutybell.db").display()));
        let public_url = overrides
            .public_url
            .clone()
            .or(file.server.public_url)
            .map(|url| url.trim_end_matches('/').to_string());
        if let Some(url) = public_url.as_ref().filter(|url| !is_http_url(url)) {
            let problem = format!("{url:?} must be an absolute http(s) URL");
            self.invalid(dir, FILE, "server.public_url", problem);
        }
        if let Some(smtp) = &file.smtp {
            self.check_smtp(dir, smtp);
        }
        let smtp_listen = file
            .intake
            .smtp
            .as_ref()
            .and_then(|smtp| match smtp.listen.parse() {
                Ok(addr) => Some(addr),
                Err(_) => {
                    let problem = format!("{:?} is not ip:port", smtp.listen);
                    self.invalid(dir, FILE, "intake.smtp.listen", problem);
                    None
                }
            });
        let smtp = file.smtp.map(|smtp| {
            let password = smtp.password_env.as_deref().and_then(|var| {
                self.secret_from_env(dir, FILE, "smtp.password_env".into(), var, env)
            });
            Smtp {
                url: smtp.url,
                from: smtp.from,
                username: smtp.username,
                password,
            }
        });
        let ntfy = file.ntfy.map(|ntfy| self.ntfy(dir, ntfy, env));
        let twilio = file.twilio.map(|twilio| self.twilio(dir, twilio, env));
        let slack = file.slack.map(|slack| self.slack(dir, slack, env));
        let reports = file.reports.map(|raw| self.reports(dir, raw));
        let postmortem = file
            .postmortem
            .map(|raw| self.postmortem(dir, raw))
            .unwrap_or_default();
        let retention = file
            .retention
            .map(|raw| self.retention(dir, raw))
            .unwrap_or_default();
        self.shared_secrets = crate::store::Backend::from_url(&database_url)
            .is_ok_and(|backend| backend == crate::store::Backend::Postgres);
        let signing_secret = self
            .instance_secret(env, "DUTYBELL_SIGNING_SECRET")
            .or_else(|| self.unshared("environment", "DUTYBELL_SIGNING_SECRET"))
            .unwrap_or_else(|| secrets.get_or_generate(SecretSlot::SigningSecret));
        let api_token = self
            .instance_secret(env, "DUTYBELL_API_TOKEN")
            .or_else(|| self.unshared("environment", "DUTYBELL_API_TOKEN"))
            .unwrap_or_else(|| secrets.get_or_generate(SecretSlot::ApiToken));
        Some(Settings {
            listen,
            public_url,
            data_dir,
            database_url,
            smtp,
            ntfy,
            twilio,
            max_body_bytes: file.intake.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES),
            smtp_listen,
            signing_secret: SecretString::from(signing_secret),
            api_token: SecretString::from(api_token),
            slack,
            reports,
            postmortem,
            retention,
            trusted_proxies: self.trusted_proxies(dir, &file.server.trusted_proxies),
        })
    }

    fn ntfy(&mut self, dir: &Path, raw: raw::RawNtfy, env: &Env) -> Ntfy {
        const FILE: &str = "dutybell.toml";
        if !is_http_url(&raw.server) {
            self.invalid(dir, FILE, "ntfy.server", "must be an http(s) URL");
        }
        let token = raw
            .token_env
            .as_deref()
            .and_then(|var| self.secret_from_env(dir, FILE, "ntfy.token_env".into(), var, env));
        Ntfy {
            server: raw.server.trim_end_matches('/').to_string(),
            token,
        }
    }

    fn twilio(&mut self, dir: &Path, raw: raw::RawTwilio, env: &Env) -> Twilio {
        const FILE: &str = "dutybell.toml";
        if !is_sid(&raw.account_sid, "AC") {
            self.invalid(
                dir,
                FILE,
                "twilio.account_sid",
                "must be \"AC\" followed by 32 hex digits",
            );
        }
        if !is_e164(&raw.from) && !is_sid(&raw.from, "MG") {
            self.invalid(
                dir,
                FILE,
                "twilio.from",
                "must be an E.164 number like \"+15550100\" or a Messaging Service SID",
            );
        }
        let api_base = raw
            .api_base
            .unwrap_or_else(|| DEFAULT_TWILIO_API_BASE.to_string());
        if !is_http_url(&api_base) {
            self.invalid(dir, FILE, "twilio.api_base", "must be an http(s) URL");
        }
        let auth_token = self
            .secret_from_env(
                dir,
                FILE,
                "twilio.auth_token_env".into(),
                &raw.auth_token_env,
                env,
            )
            .unwrap_or_else(|| SecretString::from(String::new()));
        Twilio {
            account_sid: raw.account_sid,
            auth_token,
            from: raw.from,
            api_base: api_base.trim_end_matches('/').to_string(),
        }
    }

    /// Checks one `contact = [...]` entry; `None` (with the problem recorded) if unusable.
    fn contact(
        &mut self,
        dir: &Path,
        key: &dyn Fn(&str) -> String,
        contact: &raw::RawContact,
        env: &Env,
        settings: Option<&Settings>,
        slack_id: Option<&str>,
    ) -> Option<Contact> {
        const FILE: &str = "team.toml";
        let Some(kind) = ChannelKind::parse(&contact.kind) else {
            let known: Vec<&str> = ChannelKind::ALL.iter().map(|k| k.as_str()).collect();
            self.invalid(
                dir,
                FILE,
                key("kind"),
                format!(
                    "unknown contact kind {:?} (expected one of {})",
                    contact.kind,
                    known.join(", ")
                ),
            );
            return None;
        };
        // A missing instance section is reported once per contact that needs it; without
        // settings at all (a broken dutybell.toml) that file's own error says enough.
        let needs = |section: &str| {
            format!(
                "{} contacts need a [{section}] section in dutybell.toml",
                kind.as_str()
            )
        };
        let (address, secret) = match kind {
            ChannelKind::Email => match &contact.to {
                Some(to) if to.contains('@') => (to.clone(), None),
                _ => {
                    self.invalid(dir, FILE, key("to"), "an email contact needs `to`");
                    return None;
                }
            },
            ChannelKind::Webhook => {
                let Some(url) = contact.url.clone().filter(|u| is_http_url(u)) else {
                    self.invalid(dir, FILE, key("url"), "a webhook needs an http(s) `url`");
                    return None;
                };
                let Some(var) = &contact.secret_env else {
                    self.invalid(dir, FILE, key("secret_env"), "a webhook needs `secret_env`");
                    return None;
                };
                let secret = self.secret_from_env(dir, FILE, key("secret_env"), var, env);
                (url, secret)
            }
            ChannelKind::Ntfy => {
                let topic = contact.topic.clone().unwrap_or_default();
                if !is_ntfy_topic(&topic) {
                    self.invalid(
                        dir,
                        FILE,
                        key("topic"),
                        "ntfy contacts need a `topic` of 1-64 letters, digits, `-` or `_`",
                    );
                    return None;
                }
                if settings.is_some_and(|s| s.ntfy.is_none()) {
                    self.invalid(dir, FILE, key("kind"), needs("ntfy"));
                }
                (topic, None)
            }
            // App mode (comms spec §3.4): a DM from the bot to the person's `slack_id`.
            // TODO(#5): `to = "C…"` to page into a channel (§3.4); only DMs so far.
            ChannelKind::Slack if contact.to.is_some() => {
                let dm = contact.to.as_deref() == Some("dm");
                if !dm || contact.url.is_some() || contact.url_env.is_some() {
                    let problem = "a slack contact is either `to = \"dm\"` (a DM from the \
                                   Slack app) or `url`/`url_env` (an incoming webhook)";
                    self.invalid(dir, FILE, key("to"), problem);
                    return None;
                }
                let Some(member) = slack_id else {
                    let problem = "Slack DMs need the person's `slack_id`";
                    self.invalid(dir, FILE, key("to"), problem);
                    return None;
                };
                if settings.is_some_and(|s| s.slack.as_ref().is_none_or(|s| s.bot_token.is_none()))
                {
                    let problem = "Slack DMs need [slack] app mode (`bot_token_env`) in \
                                   dutybell.toml";
                    self.invalid(dir, FILE, key("to"), problem);
                }
                (format!("dm:{member}"), None)
            }
            ChannelKind::Slack | ChannelKind::Teams | ChannelKind::Discord => {
                let (address, secret, url) = match (&contact.url, &contact.url_env) {
                    (Some(url), None) => (url.clone(), None, url.clone()),
                    (None, Some(var)) => {
                        let url = self.secret_from_env(dir, FILE, key("url_env"), var, env)?;
                        let text = secrecy::ExposeSecret::expose_secret(&url).to_string();
                        (format!("env:{var}"), Some(url), text)
                    }
                    _ => {
                        self.invalid(
                            dir,
                            FILE,
                            key("url"),
                            format!("{} contacts need `url` or `url_env`", kind.as_str()),
                        );
                        return None;
                    }
                };
                // The problem never quotes the URL: it may carry the token.
                if !is_http_url(&url) {
                    self.invalid(dir, FILE, key("url"), "must be an http(s) URL");
                    return None;
                }
                if kind == ChannelKind::Teams
                    && let Err(problem) = check_teams_url(&url)
                {
                    self.invalid(dir, FILE, key("url"), problem);
                    return None;
                }
                (address, secret)
            }
            ChannelKind::Sms | ChannelKind::Voice => {
                let Some(to) = contact.to.clone().filter(|to| is_e164(to)) else {
                    self.invalid(
                        dir,
                        FILE,
                        key("to"),
                        format!(
                            "{} contacts need `to` as an E.164 number like \"+15550100\"",
                            kind.as_str()
                        ),
                    );
                    return None;
                };
                if settings.is_some_and(|s| s.twilio.is_none()) {
                    self.invalid(dir, FILE, key("kind"), needs("twilio"));
                }
                if kind == ChannelKind::Voice
                    && settings
                        .and_then(|s| s.twilio.as_ref())
                        .is_some_and(|t| !is_e164(&t.from))
                {
                    self.invalid(
                        dir,
                        FILE,
                        key("kind"),
                        "voice calls need `twilio.from` to be a phone number, not a SID",
                    );
                }
                (to, None)
            }
        };
        let verify = contact.verify.unwrap_or(false);
        if verify && !kind.takes_code() {
            self.invalid(
                dir,
                FILE,
                key("verify"),
                format!(
                    "only sms, voice and email contacts can be verified, not {}",
                    kind.as_str()
                ),
            );
        }
        Some(Contact {
            kind,
            address,
            secret,
            verify,
        })
    }

    fn people(
        &mut self,
        dir: &Path,
        team: raw::TeamFile,
        env: &Env,
        settings: Option<&Settings>,
    ) -> BTreeMap<String, Person> {
        const FILE: &str = "team.toml";
        let mut people = BTreeMap::new();
        for (i, raw) in team.person.into_iter().enumerate() {
            let key = |field: &str| format!("person[{i}].{field}");
            if people.contains_key(&raw.id) {
                self.invalid(
                    dir,
                    FILE,
                    key("id"),
                    format!("duplicate person id {:?}", raw.id),
                );
                continue;
            }
            if let Some(login) = &raw.login {
                let owner = people
                    .values()
                    .find(|p: &&Person| p.login.as_ref() == Some(login));
                if let Err(problem) = crate::domain::accounts::check_login(login) {
                    self.invalid(dir, FILE, key("login"), problem);
                } else if let Some(owner) = owner {
                    let problem = format!("login {login:?} is already {}'s", owner.id);
                    self.invalid(dir, FILE, key("login"), problem);
                }
            }
            let zone_name = raw.time_zone.as_deref().unwrap_or("UTC");
            let time_zone = self
                .zone(dir, FILE, key("time_zone"), zone_name)
                .unwrap_or(TimeZone::UTC);

            let mut contacts = Vec::new();
            if let Some(email) = &raw.email {
                contacts.push(Contact {
                    kind: ChannelKind::Email,
                    address: email.clone(),
                    secret: None,
                    verify: false,
                });
            }
            for (j, contact) in raw.contact.iter().enumerate() {
                let ckey = |field: &str| format!("person[{i}].contact[{j}].{field}");
                let slack_id = raw.slack_id.as_deref();
                let Some(contact) = self.contact(dir, &ckey, contact, env, settings, slack_id)
                else {
                    continue;
                };
                // A repeat adds nothing, except that `verify = true` on either holds.
                if let Some(same) = contacts
                    .iter_mut()
                    .find(|c: &&mut Contact| c.kind == contact.kind && c.address == contact.address)
                {
                    same.verify |= contact.verify;
                    continue;
                }
                contacts.push(contact);
            }

            let mut notify = Vec::new();
            for (j, rule) in raw.notify.iter().enumerate() {
                let rkey = |field: &str| format!("person[{i}].notify[{j}].{field}");
                let after = self.duration(dir, FILE, rkey("after"), &rule.after);
                match ChannelKind::parse(&rule.via) {
                    Some(via) if contacts.iter().any(|c| c.kind == via) => {
                        notify.push(NotifyRule { after, via });
                    }
                    Some(_) => self.invalid(
                        dir,
                        FILE,
                        rkey("via"),
                        format!("{} has no {} contact", raw.id, rule.via),
                    ),
                    None => self.invalid(
                        dir,
                        FILE,
                        rkey("via"),
                        format!("unknown channel {:?}", rule.via),
                    ),
                }
            }
            // Without rules, every contact method is used at once.
            if raw.notify.is_empty() {
                let kinds: BTreeSet<ChannelKind> = contacts.iter().map(|c| c.kind).collect();
                notify = kinds
                    .into_iter()
                    .map(|via| NotifyRule {
                        after: SignedDuration::ZERO,
                        via,
                    })
                    .collect();
            }

            let name = raw.name.unwrap_or_else(|| raw.id.clone());
            people.insert(
                raw.id.clone(),
                Person {
                    id: raw.id,
                    name,
                    time_zone,
                    slack_id: raw.slack_id,
                    login: raw.login,
                    contacts,
                    notify,
                },
            );
        }
        people
    }

    fn rotations(
        &mut self,
        dir: &Path,
        raws: &[raw::RawRotation],
        people: &BTreeMap<String, Person>,
    ) -> Rotations {
        const FILE: &str = "oncall.toml";
        let mut rotations = Rotations::new();
        for (i, raw) in raws.iter().enumerate() {
            let key = |field: &str| format!("rotation[{i}].{field}");
            let kind = match raw.kind.as_str() {
                "hourly" => RotationKind::Hourly,
                "daily" => RotationKind::Daily,
                "weekly" => RotationKind::Weekly,
                "monthly" => RotationKind::Monthly,
                other => {
                    self.invalid(
                        dir,
                        FILE,
                        key("kind"),
                        format!("{other:?} is not hourly, daily, weekly or monthly"),
                    );
                    // Keep checking the rest of the rotation; the config fails anyway.
                    RotationKind::Weekly
                }
            };
            let advance = match raw.advance.as_deref() {
                None | Some("calendar") => Advance::Calendar,
                Some("on-active-shifts") => Advance::OnActiveShifts,
                Some(other) => {
                    self.invalid(
                        dir,
                        FILE,
                        key("advance"),
                        format!("{other:?} is not calendar or on-active-shifts"),
                    );
                    Advance::Calendar
                }
            };
            let shift_length = raw.shift_length.unwrap_or(1);
            if !(1..=9000).contains(&shift_length) {
                self.invalid(dir, FILE, key("shift_length"), "must be between 1 and 9000");
            }
            let start = match raw.start.parse::<jiff::civil::DateTime>() {
                Ok(start) => start,
                Err(_) => {
                    self.invalid(
                        dir,
                        FILE,
                        key("start"),
                        format!(
                            "{:?} is not a local date and time like \"2025-06-02T10:00\"",
                            raw.start
                        ),
                    );
                    jiff::civil::DateTime::default()
                }
            };
            // A bad zone is reported; the rotation still counts as defined, so steps that
            // name it do not add a second, misleading error.
            let time_zone = self
                .zone(dir, FILE, key("time_zone"), &raw.time_zone)
                .unwrap_or(TimeZone::UTC);
            for (j, person) in raw.people.iter().enumerate() {
                if !people.contains_key(person) {
                    self.invalid(
                        dir,
                        FILE,
                        format!("rotation[{i}].people[{j}]"),
                        format!("no person {person:?} in team.toml"),
                    );
                }
            }
            if rotations.contains_key(&raw.id) {
                self.invalid(
                    dir,
                    FILE,
                    key("id"),
                    format!("duplicate rotation id {:?}", raw.id),
                );
            }
            rotations.insert(
                raw.id.clone(),
                Rotation {
                    id: raw.id.clone(),
                    kind,
                    shift_length,
                    start,
                    time_zone,
                    people: raw.people.clone(),
                    advance,
                    anchor: None,
                },
            );
        }
        rotations
    }

    fn policies(
        &mut self,
        dir: &Path,
        raws: &[raw::RawPolicy],
        people: &BTreeMap<String, Person>,
        rotations: &Rotations,
        schedules: &BTreeMap<String, Schedule>,
    ) -> BTreeMap<String, Policy> {
        const FILE: &str = "oncall.toml";
        let mut policies = BTreeMap::new();
        for (i, raw) in raws.iter().enumerate() {
            if raw.steps.is_empty() {
                self.invalid(
                    dir,
                    FILE,
                    format!("escalation[{i}].steps"),
                    "needs at least one step",
                );
            }
            let repeat = raw.repeat.unwrap_or(0);
            if repeat > 5 {
                self.invalid(dir, FILE, format!("escalation[{i}].repeat"), "must be 0..5");
            }
            let mut steps = Vec::new();
            for (j, step) in raw.steps.iter().enumerate() {
                let key = |field: &str| format!("escalation[{i}].steps[{j}].{field}");
                let after = step.after.as_deref().unwrap_or("15m");
                let after = self.duration(dir, FILE, key("after"), after);
                let mut targets = Vec::new();
                for (k, text) in step.targets.iter().enumerate() {
                    let tkey = format!("escalation[{i}].steps[{j}].targets[{k}]");
                    match Target::parse(text) {
                        Some(Target::Person(p)) if !people.contains_key(&p) => {
                            self.invalid(dir, FILE, tkey, format!("no person {p:?} in team.toml"));
                        }
                        Some(Target::Rotation(r)) => match rotations.get(&r) {
                            None => self.invalid(dir, FILE, tkey, format!("no rotation {r:?}")),
                            // Its turns depend on a schedule's rules, so on its own it has no
                            // single answer (D2): page it through that schedule.
                            Some(rotation) if rotation.advance == Advance::OnActiveShifts => {
                                self.invalid(
                                    dir,
                                    FILE,
                                    tkey,
                                    format!(
                                        "rotation {r:?} advances on active shifts; target a \
                                         schedule that uses it instead"
                                    ),
                                );
                            }
                            Some(_) => targets.push(Target::Rotation(r)),
                        },
                        Some(Target::Schedule(s)) if !schedules.contains_key(&s) => {
                            self.invalid(dir, FILE, tkey, format!("no schedule {s:?}"));
                        }
                        Some(target) => targets.push(target),
                        None => self.invalid(
                            dir,
                            FILE,
                            tkey,
                            format!("{text:?} is not person:<id>, rotation:<id> or schedule:<id>"),
                        ),
                    }
                }
                let window = step.window.as_ref().and_then(|raw| {
                    self.step_window(dir, FILE, format!("escalation[{i}].steps[{j}].window"), raw)
                });
                steps.push(Step {
                    targets,
                    after,
                    window,
                });
            }
            let policy = Policy {
                id: raw.id.clone(),
                repeat,
                steps,
            };
            if policies.insert(raw.id.clone(), policy).is_some() {
                let problem = format!("duplicate escalation id {:?}", raw.id);
                self.invalid(dir, FILE, format!("escalation[{i}].id"), problem);
            }
        }
        policies
    }

    fn services(
        &mut self,
        dir: &Path,
        file: raw::ServicesFile,
        policies: &BTreeMap<String, Policy>,
        env: &Env,
        secrets: &mut Secrets,
    ) -> (BTreeMap<String, Service>, Vec<Integration>) {
        const FILE: &str = "services.toml";
        let mut services = BTreeMap::new();
        let mut integrations: Vec<Integration> = Vec::new();
        for (i, raw) in file.service.into_iter().enumerate() {
            let key = |field: &str| format!("service[{i}].{field}");
            if !policies.contains_key(&raw.escalation) {
                self.invalid(
                    dir,
                    FILE,
                    key("escalation"),
                    format!("no escalation policy {:?} in oncall.toml", raw.escalation),
                );
            }
            if let Some(url) = &raw.runbook_url
                && !is_http_url(url)
            {
                self.invalid(dir, FILE, key("runbook_url"), "must be an http(s) URL");
            }
            for (j, integration) in raw.integrations.iter().enumerate() {
                let ikey = |field: &str| format!("service[{i}].integrations[{j}].{field}");
                let Some(kind) = IntegrationKind::parse(&integration.kind) else {
                    self.invalid(
                        dir,
                        FILE,
                        ikey("kind"),
                        format!(
                            "{:?} is not alertmanager, grafana, pagerduty, generic or email",
                            integration.kind
                        ),
                    );
                    continue;
                };
                let mode = match integration.mode.as_deref() {
                    None | Some("group") => IntakeMode::Group,
                    Some("alert") if kind.groups() => IntakeMode::Alert,
                    Some("alert") => {
                        let problem = "\"alert\" mode needs an alertmanager or grafana \
                                       integration";
                        self.invalid(dir, FILE, ikey("mode"), problem);
                        IntakeMode::Group
                    }
                    Some(other) => {
                        let problem = format!("{other:?} is not \"group\" or \"alert\"");
                        self.invalid(dir, FILE, ikey("mode"), problem);
                        IntakeMode::Group
                    }
                };
                let default_severity = match integration.default_severity.as_deref() {
                    None => Severity::Error,
                    Some(text) => Severity::from_wire(text).unwrap_or_else(|| {
                        self.invalid(
                            dir,
                            FILE,
                            ikey("default_severity"),
                            format!("{text:?} is not critical, error, warning or info"),
                        );
                        Severity::Error
                    }),
                };
                let id = format!(
                    "{}/{}",
                    raw.id,
                    integration.id.as_deref().unwrap_or(kind.as_str())
                );
                let key_value = match (kind, &integration.address) {
                    // Mail has no secret key: the address it is sent to names the integration.
                    (IntegrationKind::Email, Some(address)) if address.contains('@') => {
                        address.trim().to_ascii_lowercase()
                    }
                    (IntegrationKind::Email, _) => {
                        let problem = "an email integration needs an `address` like \
                                       alerts@dutybell.example.com";
                        self.invalid(dir, FILE, ikey("address"), problem);
                        continue;
                    }
                    _ => match integration.key_env.as_deref().and_then(|var| env.get(var)) {
                        Some(value) => value.clone(),
                        None => {
                            let var = integration.key_env.as_deref().unwrap_or("key_env");
                            let key = format!("integration {id}: {var}");
                            match self.unshared("services.toml", &key) {
                                Some(_) => continue,
                                None => secrets.get_or_generate(SecretSlot::IntegrationKey(&id)),
                            }
                        }
                    },
                };
                if kind != IntegrationKind::Email && key_value.len() < 16 {
                    self.invalid(
                        dir,
                        FILE,
                        ikey("key_env"),
                        "the key must have at least 16 characters",
                    );
                }
                let token = integration
                    .token_env
                    .as_deref()
                    .and_then(|var| self.secret_from_env(dir, FILE, ikey("token_env"), var, env));
                let hmac = self.body_signature(dir, &ikey, integration, env);
                let key_hash = sha256_hex(&[&key_value]);
                if integrations
                    .iter()
                    .any(|other| other.id == id || other.key_hash == key_hash)
                {
                    self.invalid(
                        dir,
                        FILE,
                        ikey("id"),
                        format!("integration {id:?} or its key is not unique"),
                    );
                    continue;
                }
                let rate = parse_rate(integration.rate.as_deref().unwrap_or(DEFAULT_RATE))
                    .unwrap_or_else(|problem| {
                        self.invalid(dir, FILE, ikey("rate"), problem);
                        None
                    });
                let reopen = integration.reopen_window.as_deref().unwrap_or("15m");
                let reopen_window = self.duration(dir, FILE, ikey("reopen_window"), reopen);
                let grace = integration.refire_grace.as_deref().unwrap_or("10m");
                let refire_grace = self.duration(dir, FILE, ikey("refire_grace"), grace);
                integrations.push(Integration {
                    id,
                    service: raw.id.clone(),
                    kind,
                    key: SecretString::from(key_value),
                    key_hash,
                    token,
                    default_severity,
                    rate,
                    reopen_window,
                    refire_grace,
                    hmac,
                    mode,
                });
            }
            let name = raw.name.unwrap_or_else(|| raw.id.clone());
            let service = Service {
                id: raw.id.clone(),
                name,
                escalation: raw.escalation,
                runbook_url: raw.runbook_url,
                max_open_unacked: raw.max_open_unacked.unwrap_or(200),
                ack_timeout: self.ack_timeout(dir, i, raw.ack_timeout.as_deref()),
                maintenance: self.maintenance(dir, i, &raw.maintenance),
            };
            if raw.id == crate::domain::direct::SERVICE {
                let problem = "the service id \"direct\" is reserved for direct pages";
                self.invalid(dir, FILE, key("id"), problem);
            }
            if services.insert(raw.id.clone(), service).is_some() {
                self.invalid(
                    dir,
                    FILE,
                    key("id"),
                    format!("duplicate service id {:?}", raw.id),
                );
            }
        }
        (services, integrations)
    }
}

impl Validator {
    /// A service's `ack_timeout`: a positive duration, or off when absent.
    fn ack_timeout(&mut self, dir: &Path, i: usize, text: Option<&str>) -> Option<SignedDuration> {
        const FILE: &str = "services.toml";
        let text = text?;
        let key = format!("service[{i}].ack_timeout");
        let timeout = self.duration(dir, FILE, key.clone(), text);
        if timeout <= SignedDuration::ZERO {
            self.invalid(
                dir,
                FILE,
                key,
                "must be longer than 0m; leave it out for none",
            );
            return None;
        }
        Some(timeout)
    }

    /// A service's `maintenance` windows: each boundary readable, `start < end`, at most a
    /// year long; a local time needs `time_zone`.
    fn maintenance(
        &mut self,
        dir: &Path,
        i: usize,
        raws: &[raw::RawMaintenance],
    ) -> Vec<maintenance::Window> {
        const FILE: &str = "services.toml";
        let mut windows = Vec::new();
        for (j, raw) in raws.iter().enumerate() {
            let key = |field: &str| format!("service[{i}].maintenance[{j}].{field}");
            let zone = match &raw.time_zone {
                Some(name) => match self.zone(dir, FILE, key("time_zone"), name) {
                    Some(zone) => Some(zone),
                    None => continue,
                },
                None => None,
            };
            let mut read = |field: &str, text: &str, side| {
                maintenance::boundary(text, zone.as_ref(), side)
                    .map_err(|problem| self.invalid(dir, FILE, key(field), problem))
                    .ok()
            };
            let start = read("start", &raw.start, maintenance::Boundary::Start);
            let end = read("end", &raw.end, maintenance::Boundary::End);
            let (Some(start), Some(end)) = (start, end) else {
                continue;
            };
            if start >= end {
                self.invalid(dir, FILE, key("end"), "must be after `start`");
                continue;
            }
            if end.duration_since(start) > maintenance::MAX_LENGTH {
                self.invalid(dir, FILE, key("end"), "a window may last at most 366 days");
                continue;
            }
            windows.push(maintenance::Window { start, end });
        }
        windows
    }
}

/// Whether `text` is an E.164 phone number: `+`, then 2 to 15 digits, the first not 0.
pub fn is_e164(text: &str) -> bool {
    let Some(digits) = text.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// Whether `text` is a Twilio SID: `prefix` and 32 hex digits.
fn is_sid(text: &str, prefix: &str) -> bool {
    text.strip_prefix(prefix)
        .is_some_and(|rest| rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// ntfy's own topic rule: 1-64 of `[A-Za-z0-9_-]`.
fn is_ntfy_topic(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Teams Workflows hosts (comms spec §3.5), and loopback for local relays and tests.
/// Retired Office 365 connector URLs stopped working, so they are refused up front.
fn check_teams_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|_| "is not a valid URL".to_string())?;
    let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
    let under = |domain: &str| host.ends_with(&format!(".{domain}"));
    if host == "webhook.office.com" || under("webhook.office.com") {
        return Err(
            "Office 365 connector URLs are retired; create a Workflows webhook \
             (Teams > Workflows > \"Post to a channel when a webhook request is \
             received\") and use its URL"
                .into(),
        );
    }
    let workflows = under("logic.azure.com")
        || host == "api.powerautomate.com"
        || host == "api.powerplatform.com"
        || under("environment.api.powerplatform.com");
    let loopback = matches!(host.as_str(), "localhost" | "127.0.0.1" | "[::1]");
    if workflows || loopback {
        Ok(())
    } else {
        Err(format!(
            "host {host:?} is not a Teams Workflows host (*.logic.azure.com, \
             api.powerautomate.com, api.powerplatform.com, \
             *.environment.api.powerplatform.com)"
        ))
    }
}

/// Whether `url` is an absolute http or https URL.
pub fn is_http_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://")) && url.len() > "https://".len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_a_unit() {
        assert_eq!(parse_duration("15m"), Ok(SignedDuration::from_mins(15)));
        assert_eq!(parse_duration("0m"), Ok(SignedDuration::ZERO));
        assert_eq!(parse_duration("7d"), Ok(SignedDuration::from_hours(168)));
        assert!(parse_duration("15").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("5w").is_err());
    }
}
