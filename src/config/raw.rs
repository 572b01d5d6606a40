//! The config directory exactly as written: serde structs over the TOML files, before any
//! cross-reference is checked. `super::validate` turns these into `Config`.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `team.toml`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamFile {
    #[serde(default)]
    pub person: Vec<RawPerson>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPerson {
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub time_zone: Option<String>,
    /// Slack member id (`U…`), linking the person to Slack commands and buttons.
    pub slack_id: Option<String>,
    /// The web UI account this person signs in as (issue #7): mapped to them at startup.
    pub login: Option<String>,
    #[serde(default)]
    pub contact: Vec<RawContact>,
    #[serde(default)]
    pub notify: Vec<RawNotifyRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawContact {
    pub kind: String,
    /// Email address (email) or E.164 phone number (sms, voice).
    pub to: Option<String>,
    /// Endpoint (webhook, slack, teams, discord).
    pub url: Option<String>,
    /// Environment variable holding the endpoint instead of `url` (slack, teams, discord):
    /// their URLs carry the token, so this keeps it out of `team.toml`.
    pub url_env: Option<String>,
    /// Environment variable holding the webhook signing secret.
    pub secret_env: Option<String>,
    /// ntfy topic.
    pub topic: Option<String>,
    /// `true`: unusable for pages until confirmed with a code (sms, voice and email only).
    pub verify: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotifyRule {
    pub after: String,
    pub via: String,
}

/// `oncall.toml`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OncallFile {
    #[serde(default)]
    pub rotation: Vec<RawRotation>,
    #[serde(default)]
    pub schedule: Vec<RawSchedule>,
    #[serde(default)]
    pub escalation: Vec<RawPolicy>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRotation {
    pub id: String,
    pub kind: String,
    pub shift_length: Option<u32>,
    pub start: String,
    pub time_zone: String,
    pub people: Vec<String>,
    pub advance: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    pub id: String,
    pub time_zone: String,
    #[serde(default)]
    pub rules: Vec<RawRule>,
    /// `true`: at each handoff the incoming person is told, and the outgoing one gets a
    /// summary of their pages (shift-change notices). Off by default.
    pub shift_notices: Option<bool>,
    /// Who hears about coverage gaps entering the next 7 days: `person:<id>` targets.
    #[serde(default)]
    pub notify: Vec<String>,
}

/// `{ days = ["mon", "tue"] | "all" | "weekdays" | "weekends", from = "09:00", to = "17:00",
/// target = "rotation:primary" | "person:ana" }`; `days` defaults to every day.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub days: Option<RawDays>,
    pub from: String,
    pub to: String,
    pub target: String,
}

/// A rule's days: a named set or a list of day names.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawDays {
    Named(String),
    List(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    pub id: String,
    pub repeat: Option<u32>,
    pub steps: Vec<RawStep>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub targets: Vec<String>,
    pub after: Option<String>,
    /// When the step may fire: `{ time_zone, days, from, to }`.
    pub window: Option<RawStepWindow>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStepWindow {
    pub time_zone: String,
    pub days: Option<RawDays>,
    pub from: String,
    pub to: String,
}

/// `services.toml`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicesFile {
    #[serde(default)]
    pub service: Vec<RawService>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    pub id: String,
    pub name: Option<String>,
    pub escalation: String,
    /// Runbook for every alert of the service that does not name its own.
    pub runbook_url: Option<String>,
    /// Most unacknowledged open alerts before new keys are refused (default 200).
    pub max_open_unacked: Option<u32>,
    #[serde(default)]
    pub integrations: Vec<RawIntegration>,
    /// An acknowledged alert still open this long after its ack triggers again (`"30m"`);
    /// off when absent (D8).
    pub ack_timeout: Option<String>,
    /// Windows during which alerts are stored but nothing escalates or pages (D11).
    #[serde(default)]
    pub maintenance: Vec<RawMaintenance>,
}

/// `{ start = "2025-06-12T02:00", end = "2025-06-12T04:00", time_zone = "Europe/Madrid" }`,
/// or RFC 3339 instants (`"2025-06-12T00:00:00Z"`) without a zone.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMaintenance {
    pub start: String,
    pub end: String,
    pub time_zone: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIntegration {
    pub kind: String,
    pub id: Option<String>,
    /// The address mail is sent to (email integrations).
    pub address: Option<String>,
    pub key_env: Option<String>,
    pub token_env: Option<String>,
    pub mode: Option<String>,
    pub default_severity: Option<String>,
    /// Ingress limit, `"6000/1m"` by default, `"off"` for none.
    pub rate: Option<String>,
    /// A re-fire within this long after the source resolved reopens the alert (`"15m"`).
    pub reopen_window: Option<String>,
    /// How long a disputed re-fire waits for a resolve before it counts (`"10m"`).
    pub refire_grace: Option<String>,
    /// Grafana 12+ body signing: the variable holding the HMAC-SHA256 secret.
    pub hmac_secret_env: Option<String>,
    /// Header carrying the signature (`X-Grafana-Alerting-Signature`).
    pub hmac_header: Option<String>,
    /// Header carrying the unix timestamp signed as `<ts>:<body>`; unset signs the body.
    pub hmac_timestamp_header: Option<String>,
}

/// `dutybell.toml` (optional): instance settings that are not about the team.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceFile {
    #[serde(default)]
    pub server: RawServer,
    pub smtp: Option<RawSmtp>,
    pub ntfy: Option<RawNtfy>,
    pub twilio: Option<RawTwilio>,
    pub slack: Option<RawSlack>,
    #[serde(default)]
    pub intake: RawIntake,
    /// `[reports]`: the weekly hygiene digest.
    pub reports: Option<super::reports::RawReports>,
    /// `[postmortem]`: document zone and due time.
    pub postmortem: Option<super::postmortem::RawPostmortem>,
    /// `[runbooks]`: lint settings.
    pub runbooks: Option<RawRunbooks>,
    /// `[retention]`: how long history is kept.
    pub retention: Option<super::retention::RawRetention>,
}

/// `[runbooks]`: settings `dutybell runbook lint` reads.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRunbooks {
    /// A runbook untouched this many days is stale (RB lint); default 180.
    pub stale_after_days: Option<u32>,
}

/// `[slack]`: the Slack app (bot token + signing secret) or an incoming webhook for
/// incident announcements (comms spec §2.1, §2.8).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSlack {
    /// Channel id (`C…`) incident announcements go to (app mode).
    pub incidents_channel: Option<String>,
    /// Environment variable holding the bot token (`xoxb-…`).
    pub bot_token_env: Option<String>,
    /// Environment variable holding the app's signing secret.
    pub signing_secret_env: Option<String>,
    /// Environment variable holding an incoming-webhook URL (webhook-only mode).
    pub webhook_url_env: Option<String>,
    /// Web API root; `https://slack.com/api` when unset (tests point it at a fake).
    pub api_base: Option<String>,
    /// A channel of its own per incident (`inc-<number>-<slug>`), archived at close (§2.7).
    #[serde(default)]
    pub dedicated_channels: bool,
}

/// `statuspage.toml` (optional): the public status page and its components.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusPageFile {
    pub page: Option<RawPage>,
    #[serde(default)]
    pub group: Vec<RawComponentGroup>,
    #[serde(default)]
    pub component: Vec<RawComponent>,
    /// Recurring maintenance windows (comms spec §4.6).
    #[serde(default)]
    pub maintenance: Vec<RawRecurringMaintenance>,
}

/// `[[maintenance]]` in `statuspage.toml`: a window repeated on weekdays.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRecurringMaintenance {
    pub id: String,
    pub name: String,
    /// Component ids.
    #[serde(default)]
    pub components: Vec<String>,
    /// `"daily"` or weekday names (`["mon", "thu"]`).
    pub every: RawEvery,
    /// `HH:MM` wall time in `time_zone`.
    pub start: String,
    /// Elapsed, at most `"24h"`.
    pub duration: String,
    /// IANA zone of `start`; the page zone when unset.
    pub time_zone: Option<String>,
    pub body: Option<String>,
    /// Mail subscribers about each occurrence (default false).
    pub notify: Option<bool>,
}

/// `every = "daily"` or `every = ["mon", "wed"]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawEvery {
    One(String),
    List(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPage {
    pub name: String,
    /// Public base URL of the page; the instance's public URL when unset.
    pub url: Option<String>,
    /// Zone dates and times are shown in (IANA name); UTC when unset.
    pub time_zone: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawComponentGroup {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawComponent {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// A `[[group]]` id.
    pub group: Option<String>,
    /// Show 90-day uptime bars (default true).
    pub showcase: Option<bool>,
    pub only_show_if_degraded: Option<bool>,
    /// `YYYY-MM-DD`: uptime counts from this day (page zone); no data before it.
    pub start_date: Option<String>,
    /// Service ids whose alerts concern this component.
    #[serde(default)]
    pub services: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<String>,
    pub public_url: Option<String>,
    pub data_dir: Option<String>,
    pub database_url: Option<String>,
    /// Reverse proxies (`"127.0.0.1/32"`) whose `X-Forwarded-For` names the client.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSmtp {
    /// `smtp://host:port` (plain, for a local relay), `smtp://host:587?tls=required`
    /// (STARTTLS) or `smtps://host:465`.
    pub url: String,
    pub from: String,
    pub username: Option<String>,
    pub password_env: Option<String>,
}

/// `[ntfy]`: the push server every `ntfy` contact publishes to.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNtfy {
    /// Server root, e.g. `https://ntfy.example.com`; there is no default host.
    pub server: String,
    /// Environment variable holding an access token (`tk_…`), sent as a bearer token.
    pub token_env: Option<String>,
}

/// `[twilio]`: the account SMS and voice pages go out through.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTwilio {
    pub account_sid: String,
    pub auth_token_env: String,
    /// E.164 sender number, or a Messaging Service SID (`MG…`, SMS only).
    pub from: String,
    /// REST API root; `https://api.twilio.com` when unset.
    pub api_base: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIntake {
    pub max_body_bytes: Option<usize>,
    /// The SMTP listener for email integrations; off unless set.
    pub smtp: Option<RawSmtpIntake>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSmtpIntake {
    pub listen: String,
}

/// Raw environment values, passed in so tests never touch the process environment.
pub type Env = BTreeMap<String, String>;
