//! The communication parts of the config: `[slack]` in `dutybell.toml` and the status page
//! (`statuspage.toml`). Validated like the rest: every problem named with file and key.

use std::collections::BTreeSet;
use std::path::Path;

use jiff::SignedDuration;
use jiff::civil::{Date, Time, Weekday};
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
    /// `[[maintenance]]`: recurring windows, materialised by the engine (§4.6).
    pub recurring: Vec<RecurringMaintenance>,
}

impl Default for StatusPageConfig {
    fn default() -> Self {
        StatusPageConfig {
            name: "Status".into(),
            url: None,
            time_zone: TimeZone::UTC,
            groups: Vec::new(),
            components: Vec::new(),
            recurring: Vec::new(),
        }
    }
}

/// A recurring maintenance window (`[[maintenance]]`, comms spec §4.6).
#[derive(Clone, Debug)]
pub struct RecurringMaintenance {
    /// The id in `statuspage.toml`; with the local date it keys each occurrence.
    pub key: String,
    pub name: String,
    /// Markdown for the `scheduled` update.
    pub body: String,
    /// Component keys.
    pub components: Vec<String>,
    /// Days it starts on, in `time_zone`.
    pub every: Vec<Weekday>,
    /// Wall time it starts at, in `time_zone`.
    pub start: Time,
    /// Elapsed length, above zero and at most 24 h.
    pub duration: SignedDuration,
    pub time_zone: TimeZone,
    pub notify: bool,
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
        let mut ids = BTreeSet::new();
        for (i, m) in raw.maintenance.into_iter().enumerate() {
            if let Some(recurring) = self.recurring(dir, i, m, &page, &mut ids) {
                page.recurring.push(recurring);
            }
        }
        page
    }

    /// One `[[maintenance]]`; `None` when it has a problem (each one recorded).
    fn recurring(
        &mut self,
        dir: &Path,
        i: usize,
        m: raw::RawRecurringMaintenance,
        page: &StatusPageConfig,
        ids: &mut BTreeSet<String>,
    ) -> Option<RecurringMaintenance> {
        const FILE: &str = "statuspage.toml";
        let key = |field: &str| format!("maintenance[{i}].{field}");
        let before = self.errors.len();
        let id_ok = !m.id.is_empty()
            && m.id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !id_ok {
            let problem = "letters, digits, `-` and `_` only";
            self.invalid(dir, FILE, key("id"), problem);
        } else if !ids.insert(m.id.clone()) {
            self.invalid(dir, FILE, key("id"), format!("duplicate id {:?}", m.id));
        }
        if m.name.trim().is_empty() {
            self.invalid(dir, FILE, key("name"), "must not be empty");
        }
        for component in &m.components {
            if !page.components.iter().any(|c| &c.key == component) {
                let problem = format!("no [[component]] with id {component:?}");
                self.invalid(dir, FILE, key("components"), problem);
            }
        }
        let every = match &m.every {
            raw::RawEvery::One(text) if text == "daily" => weekdays_all(),
            raw::RawEvery::One(text) => {
                let problem = format!("{text:?} is not \"daily\" or a list of weekdays");
                self.invalid(dir, FILE, key("every"), problem);
                Vec::new()
            }
            raw::RawEvery::List(names) => {
                let mut days = Vec::new();
                for name in names {
                    match weekday(name) {
                        Some(day) if !days.contains(&day) => days.push(day),
                        Some(_) => {
                            let problem = format!("{name:?} is listed twice");
                            self.invalid(dir, FILE, key("every"), problem);
                        }
                        None => {
                            let problem = format!("{name:?} is not a weekday (mon … sun)");
                            self.invalid(dir, FILE, key("every"), problem);
                        }
                    }
                }
                if names.is_empty() {
                    self.invalid(dir, FILE, key("every"), "must name at least one weekday");
                }
                days
            }
        };
        let start = wall_time(&m.start);
        if start.is_none() {
            let problem = format!("{:?} is not an HH:MM time", m.start);
            self.invalid(dir, FILE, key("start"), problem);
        }
        let duration = match crate::domain::duration::parse_duration(&m.duration) {
            Ok(d) if d > SignedDuration::ZERO && d <= SignedDuration::from_hours(24) => d,
            Ok(_) => {
                self.invalid(
                    dir,
                    FILE,
                    key("duration"),
                    "must be above 0 and at most 24h",
                );
                SignedDuration::ZERO
            }
            Err(problem) => {
                self.invalid(dir, FILE, key("duration"), problem);
                SignedDuration::ZERO
            }
        };
        let time_zone = match &m.time_zone {
            Some(name) => self.zone(dir, FILE, key("time_zone"), name),
            None => Some(page.time_zone.clone()),
        };
        if self.errors.len() != before {
            return None;
        }
        Some(RecurringMaintenance {
            key: m.id,
            body: m
                .body
                .unwrap_or_else(|| format!("{} (recurring maintenance).", m.name)),
            name: m.name,
            components: m.components,
            every,
            start: start?,
            duration,
            time_zone: time_zone?,
            notify: m.notify.unwrap_or(false),
        })
    }

    /// `[server] trusted_proxies` in `dutybell.toml`: addresses or blocks.
    pub(super) fn trusted_proxies(
        &mut self,
        dir: &Path,
        raw: &[String],
    ) -> Vec<crate::http::client_ip::Cidr> {
        let mut proxies = Vec::new();
        for (i, text) in raw.iter().enumerate() {
            match text.parse() {
                Ok(cidr) => proxies.push(cidr),
                Err(problem) => {
                    let key = format!("server.trusted_proxies[{i}]");
                    self.invalid(dir, "dutybell.toml", key, problem);
                }
            }
        }
        proxies
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

fn weekdays_all() -> Vec<Weekday> {
    use Weekday::*;
    vec![
        Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday,
    ]
}

/// `mon`, `monday`, … (any case).
fn weekday(name: &str) -> Option<Weekday> {
    let name = name.to_ascii_lowercase();
    let short = name.get(..3)?;
    let day = weekdays_all()
        .into_iter()
        .find(|day| format!("{day:?}").to_ascii_lowercase().starts_with(short))?;
    let full = format!("{day:?}").to_ascii_lowercase();
    (name == short || name == full).then_some(day)
}

/// `HH:MM`, 24-hour clock.
fn wall_time(text: &str) -> Option<Time> {
    let (hour, minute) = text.split_once(':')?;
    let digits = |part: &str| part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(hour) || !digits(minute) {
        return None;
    }
    let hour: i8 = hour.parse().ok()?;
    let minute: i8 = minute.parse().ok()?;
    Time::new(hour, minute, 0, 0).ok()
}

#[cfg(test)]
mod tests {
    use jiff::civil::{Time, Weekday};

    use super::*;
    use crate::config::ConfigError;

    fn load(text: &str) -> (StatusPageConfig, Vec<String>) {
        let raw: raw::StatusPageFile = toml::from_str(text).unwrap();
        let mut v = Validator::default();
        let page = v.statuspage(Path::new("/cfg"), raw, &Default::default());
        let errors = v
            .errors
            .iter()
            .map(|e| match e {
                ConfigError::Invalid { key, problem, file } => {
                    assert!(file.ends_with("statuspage.toml"), "{file:?}");
                    format!("{key}: {problem}")
                }
                other => other.to_string(),
            })
            .collect();
        (page, errors)
    }

    const COMPONENT: &str = "[page]\nname = \"S\"\ntime_zone = \"Europe/Berlin\"\n\
                             [[component]]\nid = \"db\"\nname = \"Database\"\n";

    #[test]
    fn a_recurring_window_reads_weekdays_wall_time_duration_and_zone() {
        let (page, errors) = load(&format!(
            "{COMPONENT}[[maintenance]]\nid = \"backup\"\nname = \"Backup\"\n\
             components = [\"db\"]\nevery = [\"mon\", \"Thursday\"]\nstart = \"02:30\"\n\
             duration = \"90m\"\n\
             [[maintenance]]\nid = \"vacuum\"\nname = \"Vacuum\"\nevery = \"daily\"\n\
             start = \"23:00\"\nduration = \"24h\"\ntime_zone = \"America/New_York\"\n"
        ));

        assert_eq!(errors, Vec::<String>::new());
        let backup = &page.recurring[0];
        assert_eq!(backup.key, "backup");
        assert_eq!(backup.every, [Weekday::Monday, Weekday::Thursday]);
        assert_eq!(backup.start, Time::constant(2, 30, 0, 0));
        assert_eq!(backup.duration, SignedDuration::from_mins(90));
        assert_eq!(backup.time_zone.iana_name(), Some("Europe/Berlin"));
        assert_eq!(backup.components, ["db"]);
        assert!(!backup.notify);
        let vacuum = &page.recurring[1];
        assert_eq!(vacuum.every.len(), 7);
        assert_eq!(vacuum.time_zone.iana_name(), Some("America/New_York"));
    }

    #[test]
    fn recurring_window_problems_are_named_with_their_keys() {
        let (page, errors) = load(&format!(
            "{COMPONENT}[[maintenance]]\nid = \"a\"\nname = \"\"\ncomponents = [\"web\"]\n\
             every = \"weekly\"\nstart = \"2:30\"\nduration = \"25h\"\ntime_zone = \"Mars\"\n\
             [[maintenance]]\nid = \"a\"\nname = \"Again\"\nevery = [\"mon\", \"funday\", \
             \"mon\"]\nstart = \"24:00\"\nduration = \"0m\"\n\
             [[maintenance]]\nid = \"b c\"\nname = \"B\"\nevery = []\nstart = \"01:00\"\n\
             duration = \"soon\"\n"
        ));

        assert_eq!(
            errors,
            vec![
                "maintenance[0].name: must not be empty",
                "maintenance[0].components: no [[component]] with id \"web\"",
                "maintenance[0].every: \"weekly\" is not \"daily\" or a list of weekdays",
                "maintenance[0].start: \"2:30\" is not an HH:MM time",
                "maintenance[0].duration: must be above 0 and at most 24h",
                "maintenance[0].time_zone: \"Mars\" is not an IANA time zone",
                "maintenance[1].id: duplicate id \"a\"",
                "maintenance[1].every: \"funday\" is not a weekday (mon … sun)",
                "maintenance[1].every: \"mon\" is listed twice",
                "maintenance[1].start: \"24:00\" is not an HH:MM time",
                "maintenance[1].duration: must be above 0 and at most 24h",
                "maintenance[2].id: letters, digits, `-` and `_` only",
                "maintenance[2].every: must name at least one weekday",
                "maintenance[2].duration: \"soon\" is not a duration like \"15m\", \"24h\" or \
                 \"7d\"",
            ]
        );
        assert!(page.recurring.is_empty());
    }

    #[test]
    fn trusted_proxies_must_be_addresses_or_blocks() {
        let mut v = Validator::default();
        let raw = [
            "127.0.0.1/32".to_string(),
            "::1".into(),
            "proxy.local".into(),
        ];

        let proxies = v.trusted_proxies(Path::new("/cfg"), &raw);

        assert_eq!(proxies.len(), 2);
        let errors: Vec<String> = v.errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].contains("server.trusted_proxies[2]")
                && errors[0].contains("\"proxy.local\" is not an address or address/prefix"),
            "{errors:?}"
        );
    }
}
