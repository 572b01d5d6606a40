//! The communication parts of the config: `[slack]` in `dutybell.toml` and the status page
//! (`statuspage.toml`). Validated like the rest: every problem named with file and key.

use std::collections::BTreeSet;
use std::path::Path;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use secrecy::SecretString;

use super::raw::{self, Env};
use super::{Person, Service, Validator, is_http_url};
use crate::domain::statuspage::public_id;

/// Where Slack's Web API lives unless `[slack].api_base` says otherwise.
pub const DEFAULT_SLACK_API_BASE: &str = "https://slack.com/api";

/// `[slack]`: app mode when `bot_token` and `signing_secret` are set, webhook-only mode
/// when `webhook_url` is.
#[derive(Clone, Debug)]
pub struct SlackSettings {
    pub incidents_channel: Option<String>,
    pub bot_token: Option<SecretString>,
    pub signing_secret: Option<SecretString>,
    pub webhook_url: Option<SecretString>,
    pub api_base: String,
    /// App mode only: each incident also gets a channel of its own (comms spec §2.7).
    pub dedicated_channels: bool,
}

/// The public status page (`statuspage.toml`); defaults when the file is absent.
#[derive(Clone, Debug)]
pub struct StatusPageConfig {
    pub name: String,
    /// Public base URL; `None` means the instance's public URL.
    pub url: Option<String>,
    pub time_zone: TimeZone,
    /// In config order, which is their `position`.
    pub groups: Vec<ComponentGroupConfig>,
    /// In config order, which is their `position`.
    pub components: Vec<ComponentConfig>,
}

impl Default for StatusPageConfig {
    fn default() -> Self {
        StatusPageConfig {
            name: "Status".into(),
            url: None,
            time_zone: TimeZone::UTC,
            groups: Vec::new(),
            components: Vec::new(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct ComponentGroupConfig {
    /// The id in `statuspage.toml`.
    pub key: String,
    /// The 12-char base-36 id the public API shows.
    pub public_id: String,
    pub name: String,
    pub description: Option<String>,
}

#[derive(Clone, Debug)]
pub struct ComponentConfig {
    /// The id in `statuspage.toml`.
    pub key: String,
    /// The 12-char base-36 id the public API shows.
    pub public_id: String,
    pub name: String,
    pub description: Option<String>,
    /// The group's `key`.
    pub group: Option<String>,
    pub showcase: bool,
    pub only_show_if_degraded: bool,
    pub start_date: Option<Date>,
    /// Service ids whose alerts concern this component.
    pub services: Vec<String>,
}

impl Validator {
    pub(super) fn slack(&mut self, dir: &Path, raw: raw::RawSlack, env: &Env) -> SlackSettings {
        const FILE: &str = "dutybell.toml";
        let mut secret = |field: &str, var: Option<&String>| {
            var.and_then(|var| self.secret_from_env(dir, FILE, format!("slack.{field}"), var, env))
        };
        let bot_token = secret("bot_token_env", raw.bot_token_env.as_ref());
        let signing_secret = secret("signing_secret_env", raw.signing_secret_env.as_ref());
        let webhook_url = secret("webhook_url_env", raw.webhook_url_env.as_ref());
        if raw.bot_token_env.is_some() != raw.signing_secret_env.is_some() {
            let problem = "app mode needs both `bot_token_env` and `signing_secret_env`";
            self.invalid(dir, FILE, "slack", problem);
        }
        if raw.bot_token_env.is_none() && raw.webhook_url_env.is_none() {
            let problem = "set `bot_token_env` + `signing_secret_env` or `webhook_url_env`";
            self.invalid(dir, FILE, "slack", problem);
        }
        if raw.bot_token_env.is_some() && raw.incidents_channel.is_none() {
            let problem = "app mode needs the channel id announcements go to";
            self.invalid(dir, FILE, "slack.incidents_channel", problem);
        }
        let api_base = raw
            .api_base
            .unwrap_or_else(|| DEFAULT_SLACK_API_BASE.to_string());
        if !is_http_url(&api_base) {
            self.invalid(dir, FILE, "slack.api_base", "must be an http(s) URL");
        }
        if raw.dedicated_channels && raw.bot_token_env.is_none() {
            let problem = "dedicated channels need app mode (`bot_token_env`)";
            self.invalid(dir, FILE, "slack.dedicated_channels", problem);
        }
        SlackSettings {
            incidents_channel: raw.incidents_channel,
            bot_token,
            signing_secret,
            webhook_url,
            api_base: api_base.trim_end_matches('/').to_string(),
            dedicated_channels: raw.dedicated_channels,
        }
    }

    pub(super) fn statuspage(
        &mut self,
        dir: &Path,
        raw: raw::StatusPageFile,
        services: &std::collections::BTreeMap<String, Service>,
    ) -> StatusPageConfig {
        const FILE: &str = "statuspage.toml";
        let mut page = StatusPageConfig::default();
        if let Some(raw_page) = raw.page {
            if raw_page.name.trim().is_empty() {
                self.invalid(dir, FILE, "page.name", "must not be empty");
            }
            page.name = raw_page.name;
            if let Some(url) = raw_page.url {
                if !is_http_url(&url) {
                    self.invalid(dir, FILE, "page.url", "must be an absolute http(s) URL");
                }
                page.url = Some(url.trim_end_matches('/').to_string());
            }
            if let Some(zone) = raw_page.time_zone {
                let key = "page.time_zone".to_string();
                page.time_zone = self.zone(dir, FILE, key, &zone).unwrap_or(TimeZone::UTC);
            }
        }
        let mut seen = BTreeSet::new();
        for (i, group) in raw.group.into_iter().enumerate() {
            if !seen.insert(group.id.clone()) {
                let problem = format!("duplicate id {:?}", group.id);
                self.invalid(dir, FILE, format!("group[{i}].id"), problem);
                continue;
            }
            page.groups.push(ComponentGroupConfig {
                public_id: public_id("group", &group.id),
                key: group.id,
                name: group.name,
                description: group.description,
            });
        }
        for (i, c) in raw.component.into_iter().enumerate() {
            let key = |field: &str| format!("component[{i}].{field}");
            if !seen.insert(c.id.clone()) {
                self.invalid(dir, FILE, key("id"), format!("duplicate id {:?}", c.id));
                continue;
            }
            if c.name.trim().is_empty() {
                self.invalid(dir, FILE, key("name"), "must not be empty");
            }
            if let Some(group) = &c.group
                && !page.groups.iter().any(|g| &g.key == group)
            {
                let problem = format!("no [[group]] with id {group:?}");
                self.invalid(dir, FILE, key("group"), problem);
            }
            for service in &c.services {
                if !services.contains_key(service) {
                    let problem = format!("no service {service:?} in services.toml");
                    self.invalid(dir, FILE, key("services"), problem);
                }
            }
            let start_date = c.start_date.as_deref().and_then(|text| {
                text.parse::<Date>().ok().or_else(|| {
                    let problem = format!("{text:?} is not a YYYY-MM-DD date");
                    self.invalid(dir, FILE, key("start_date"), problem);
                    None
                })
            });
            page.components.push(ComponentConfig {
                public_id: public_id("component", &c.id),
                key: c.id,
                name: c.name,
                description: c.description,
                group: c.group,
                showcase: c.showcase.unwrap_or(true),
                only_show_if_degraded: c.only_show_if_degraded.unwrap_or(false),
                start_date,
                services: c.services,
            });
        }
        page
    }

    /// Slack member ids look like `U…` or `W…`; each belongs to one person.
    pub(super) fn slack_ids(
        &mut self,
        dir: &Path,
        people: &std::collections::BTreeMap<String, Person>,
    ) {
        let mut seen = BTreeSet::new();
        for person in people.values() {
            let Some(id) = &person.slack_id else { continue };
            let key = format!("person {:?}.slack_id", person.id);
            let well_formed = id.len() >= 3
                && (id.starts_with('U') || id.starts_with('W'))
                && id
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
            if !well_formed {
                self.invalid(
                    dir,
                    "team.toml",
                    key,
                    format!("{id:?} is not a Slack member id"),
                );
            } else if !seen.insert(id.clone()) {
                let problem = format!("{id:?} belongs to another person too");
                self.invalid(dir, "team.toml", key, problem);
            }
        }
    }
}
