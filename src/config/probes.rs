//! `probes.toml` (optional): the checks dutybell runs itself (issue #9) — HTTP(S), TCP
//! connect, TLS certificate expiry and DNS resolution — with their interval, timeout and
//! flap damping, the service whose alert they open and the status page component they
//! drive. Validated like the rest of the config: every problem named with file and key.
//!
//! Targets come only from this file; nothing here is derived from alert or request data.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;

use jiff::SignedDuration;
use serde::Deserialize;

use super::{Service, StatusPageConfig, Validator, is_http_url};

const FILE: &str = "probes.toml";
/// Shortest interval accepted: probes are for minutes-scale outages, not load tests.
pub const MIN_INTERVAL: SignedDuration = SignedDuration::from_secs(10);
pub const DEFAULT_INTERVAL: SignedDuration = SignedDuration::from_secs(60);
/// The timeout when none is set (cut to the interval when that is shorter).
pub const DEFAULT_TIMEOUT: SignedDuration = SignedDuration::from_secs(10);
pub const DEFAULT_DOWN_AFTER: u32 = 3;
pub const DEFAULT_UP_AFTER: u32 = 2;
/// TLS probes warn this many days before the certificate expires unless told otherwise.
pub const DEFAULT_WARN_DAYS: u32 = 14;
const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

/// `probes.toml` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbesFile {
    #[serde(default)]
    pub probe: Vec<RawProbe>,
}

/// One `[[probe]]` as written; which fields apply depends on `kind`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProbe {
    pub id: String,
    pub service: String,
    pub kind: String,
    /// A status page component id (`statuspage.toml`) this probe moves.
    pub component: Option<String>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub down_after: Option<u32>,
    pub up_after: Option<u32>,
    /// http: the URL.
    pub url: Option<String>,
    pub method: Option<String>,
    pub expect_status: Option<u16>,
    pub body_contains: Option<String>,
    pub max_latency: Option<String>,
    /// tcp, tls: where to connect.
    pub host: Option<String>,
    pub port: Option<u16>,
    /// tls: days before expiry that open a warning alert.
    pub warn_days: Option<u32>,
    /// dns: the name to resolve, and optionally an address it must resolve to.
    pub name: Option<String>,
    pub expect_address: Option<String>,
}

/// A validated probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    pub id: String,
    /// The service whose alert a failing probe opens.
    pub service: String,
    /// The status page component key this probe drives, if any.
    pub component: Option<String>,
    pub check: Check,
    pub interval: SignedDuration,
    pub timeout: SignedDuration,
    pub down_after: u32,
    pub up_after: u32,
}

/// What a probe checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    Http(HttpCheck),
    /// A TCP connect to `host:port`.
    Tcp {
        host: String,
        port: u16,
    },
    /// A TLS handshake with `host:port`, reading the certificate's expiry.
    Tls {
        host: String,
        port: u16,
        warn_days: u32,
    },
    /// Resolving `name`, optionally to an expected address.
    Dns {
        name: String,
        expect: Option<IpAddr>,
    },
}

impl Check {
    /// The `kind` as written in `probes.toml`.
    pub fn kind(&self) -> &'static str {
        match self {
            Check::Http(_) => "http",
            Check::Tcp { .. } => "tcp",
            Check::Tls { .. } => "tls",
            Check::Dns { .. } => "dns",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpCheck {
    pub url: String,
    pub method: String,
    /// `None`: any 2xx passes.
    pub expect_status: Option<u16>,
    pub body_contains: Option<String>,
    /// Slower answers count as slow (degraded), not down.
    pub max_latency: Option<SignedDuration>,
}

/// Parses `"500ms"` as well as everything `parse_duration` takes (`"30s"`, `"1m"`).
pub fn parse_probe_duration(text: &str) -> Result<SignedDuration, String> {
    match text.trim().strip_suffix("ms") {
        Some(number) => number
            .parse::<i64>()
            .map(SignedDuration::from_millis)
            .map_err(|_| format!("{text:?} is not a duration like \"500ms\" or \"30s\"")),
        None => super::parse_duration(text),
    }
}

impl Validator {
    /// Reads and checks `probes.toml`; absent means no probes.
    pub(super) fn probes(
        &mut self,
        dir: &Path,
        services: &BTreeMap<String, Service>,
        page: &StatusPageConfig,
    ) -> Vec<Probe> {
        let Some(file) = self.file::<ProbesFile>(dir, FILE, false) else {
            return Vec::new();
        };
        let mut seen = BTreeSet::new();
        let mut probes = Vec::new();
        for (i, raw) in file.probe.into_iter().enumerate() {
            let key = |field: &str| format!("probe[{i}].{field}");
            let id_ok = !raw.id.is_empty()
                && raw
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !id_ok {
                let problem = "must be letters, digits, `-` or `_`";
                self.invalid(dir, FILE, key("id"), problem);
            } else if !seen.insert(raw.id.clone()) {
                self.invalid(dir, FILE, key("id"), format!("duplicate id {:?}", raw.id));
            }
            if !services.contains_key(&raw.service) {
                let problem = format!("no service {:?} in services.toml", raw.service);
                self.invalid(dir, FILE, key("service"), problem);
            }
            if let Some(component) = &raw.component
                && !page.components.iter().any(|c| &c.key == component)
            {
                let problem = format!("no [[component]] {component:?} in statuspage.toml");
                self.invalid(dir, FILE, key("component"), problem);
            }
            if let Some(probe) = self.probe(dir, &key, raw) {
                probes.push(probe);
            }
        }
        probes
    }

    fn probe(&mut self, dir: &Path, key: &dyn Fn(&str) -> String, raw: RawProbe) -> Option<Probe> {
        let interval = self.probe_duration(dir, key, "interval", raw.interval.as_deref());
        let interval = interval.unwrap_or(DEFAULT_INTERVAL);
        if interval < MIN_INTERVAL {
            self.invalid(dir, FILE, key("interval"), "must be at least 10s");
        }
        let timeout = self.probe_duration(dir, key, "timeout", raw.timeout.as_deref());
        let timeout = timeout.unwrap_or(DEFAULT_TIMEOUT.min(interval));
        if timeout <= SignedDuration::ZERO || timeout > interval {
            self.invalid(
                dir,
                FILE,
                key("timeout"),
                "must be above 0 and at most `interval`",
            );
        }
        let down_after = raw.down_after.unwrap_or(DEFAULT_DOWN_AFTER);
        let up_after = raw.up_after.unwrap_or(DEFAULT_UP_AFTER);
        for (field, value) in [("down_after", down_after), ("up_after", up_after)] {
            if value == 0 {
                self.invalid(dir, FILE, key(field), "must be at least 1");
            }
        }
        self.foreign_fields(dir, key, &raw);
        let check = self.check(dir, key, &raw)?;
        Some(Probe {
            id: raw.id,
            service: raw.service,
            component: raw.component,
            check,
            interval,
            timeout,
            down_after,
            up_after,
        })
    }

    /// The kind-specific part; `None` after reporting what is missing or wrong.
    fn check(&mut self, dir: &Path, key: &dyn Fn(&str) -> String, raw: &RawProbe) -> Option<Check> {
        let missing = |this: &mut Validator, field: &str| {
            let problem = format!("required for kind = {:?}", raw.kind);
            this.invalid(dir, FILE, key(field), problem);
        };
        match raw.kind.as_str() {
            "http" => {
                let Some(url) = raw.url.clone() else {
                    missing(self, "url");
                    return None;
                };
                if !is_http_url(&url) {
                    self.invalid(dir, FILE, key("url"), "must be an absolute http(s) URL");
                }
                let method = raw.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
                if !METHODS.contains(&method.as_str()) {
                    let problem = format!("{method:?} is not one of {}", METHODS.join(", "));
                    self.invalid(dir, FILE, key("method"), problem);
                }
                if let Some(status) = raw.expect_status
                    && !(100..=599).contains(&status)
                {
                    self.invalid(dir, FILE, key("expect_status"), "must be 100-599");
                }
                let max_latency =
                    self.probe_duration(dir, key, "max_latency", raw.max_latency.as_deref());
                if max_latency.is_some_and(|d| d <= SignedDuration::ZERO) {
                    self.invalid(dir, FILE, key("max_latency"), "must be above 0");
                }
                Some(Check::Http(HttpCheck {
                    url,
                    method,
                    expect_status: raw.expect_status,
                    body_contains: raw.body_contains.clone(),
                    max_latency,
                }))
            }
            "tcp" | "tls" => {
                let host = raw.host.clone().filter(|h| !h.trim().is_empty());
                let port = raw.port.filter(|p| *p != 0);
                if host.is_none() {
                    missing(self, "host");
                }
                if port.is_none() {
                    missing(self, "port");
                }
                let (host, port) = (host?, port?);
                if raw.kind == "tcp" {
                    return Some(Check::Tcp { host, port });
                }
                let warn_days = raw.warn_days.unwrap_or(DEFAULT_WARN_DAYS);
                if warn_days == 0 {
                    self.invalid(dir, FILE, key("warn_days"), "must be at least 1");
                }
                Some(Check::Tls {
                    host,
                    port,
                    warn_days,
                })
            }
            "dns" => {
                let Some(name) = raw.name.clone().filter(|n| !n.trim().is_empty()) else {
                    missing(self, "name");
                    return None;
                };
                let expect = raw.expect_address.as_deref().and_then(|text| {
                    text.parse::<IpAddr>().ok().or_else(|| {
                        let problem = format!("{text:?} is not an IP address");
                        self.invalid(dir, FILE, key("expect_address"), problem);
                        None
                    })
                });
                Some(Check::Dns { name, expect })
            }
            other => {
                let problem = format!("{other:?} is not one of http, tcp, tls, dns");
                self.invalid(dir, FILE, key("kind"), problem);
                None
            }
        }
    }

    /// Fields set for a kind that ignores them are mistakes worth naming.
    fn foreign_fields(&mut self, dir: &Path, key: &dyn Fn(&str) -> String, raw: &RawProbe) {
        let set = [
            ("url", raw.url.is_some(), &["http"][..]),
            ("method", raw.method.is_some(), &["http"]),
            ("expect_status", raw.expect_status.is_some(), &["http"]),
            ("body_contains", raw.body_contains.is_some(), &["http"]),
            ("max_latency", raw.max_latency.is_some(), &["http"]),
            ("host", raw.host.is_some(), &["tcp", "tls"]),
            ("port", raw.port.is_some(), &["tcp", "tls"]),
            ("warn_days", raw.warn_days.is_some(), &["tls"]),
            ("name", raw.name.is_some(), &["dns"]),
            ("expect_address", raw.expect_address.is_some(), &["dns"]),
        ];
        for (field, present, kinds) in set {
            let known = ["http", "tcp", "tls", "dns"].contains(&raw.kind.as_str());
            if present && known && !kinds.contains(&raw.kind.as_str()) {
                let problem = format!("only for kind = {}", kinds.join(" or "));
                self.invalid(dir, FILE, key(field), problem);
            }
        }
    }

    fn probe_duration(
        &mut self,
        dir: &Path,
        key: &dyn Fn(&str) -> String,
        field: &str,
        text: Option<&str>,
    ) -> Option<SignedDuration> {
        let text = text?;
        match parse_probe_duration(text) {
            Ok(duration) => Some(duration),
            Err(problem) => {
                self.invalid(dir, FILE, key(field), problem);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigError;

    fn services() -> BTreeMap<String, Service> {
        let api = Service {
            id: "api".into(),
            name: "API".into(),
            escalation: "default".into(),
            runbook_url: None,
            max_open_unacked: 100,
            ack_timeout: None,
            maintenance: Vec::new(),
        };
        BTreeMap::from([("api".to_string(), api)])
    }

    fn load(text: &str) -> (Vec<Probe>, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), text).unwrap();
        let mut v = Validator::default();
        let probes = v.probes(dir.path(), &services(), &StatusPageConfig::default());
        let errors = v
            .errors
            .iter()
            .map(|e| match e {
                ConfigError::Invalid { key, problem, file } => {
                    assert!(file.ends_with(FILE), "{file:?}");
                    format!("{key}: {problem}")
                }
                other => other.to_string(),
            })
            .collect();
        (probes, errors)
    }

    #[test]
    fn absent_file_means_no_probes() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = Validator::default();

        let probes = v.probes(dir.path(), &services(), &StatusPageConfig::default());

        assert_eq!(probes, vec![]);
        assert!(v.errors.is_empty());
    }

    #[test]
    fn defaults_fill_in_interval_timeout_and_counts() {
        let (probes, errors) = load(
            "[[probe]]\nid = \"health\"\nservice = \"api\"\nkind = \"http\"\n\
             url = \"http://127.0.0.1:8080/healthz\"\nmax_latency = \"750ms\"\n",
        );

        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(
            probes,
            vec![Probe {
                id: "health".into(),
                service: "api".into(),
                component: None,
                check: Check::Http(HttpCheck {
                    url: "http://127.0.0.1:8080/healthz".into(),
                    method: "GET".into(),
                    expect_status: None,
                    body_contains: None,
                    max_latency: Some(SignedDuration::from_millis(750)),
                }),
                interval: SignedDuration::from_secs(60),
                timeout: SignedDuration::from_secs(10),
                down_after: 3,
                up_after: 2,
            }]
        );
    }

    #[test]
    fn every_problem_is_named_with_its_key() {
        let (probes, errors) = load(
            "[[probe]]\nid = \"a\"\nservice = \"nope\"\nkind = \"tcp\"\nport = 80\n\
             interval = \"5s\"\ncomponent = \"db\"\nurl = \"http://x\"\n\
             [[probe]]\nid = \"a\"\nservice = \"api\"\nkind = \"ping\"\n\
             [[probe]]\nid = \"b\"\nservice = \"api\"\nkind = \"tls\"\nhost = \"localhost\"\n\
             port = 443\nwarn_days = 0\ntimeout = \"2m\"\n",
        );

        assert_eq!(
            errors,
            vec![
                "probe[0].service: no service \"nope\" in services.toml",
                "probe[0].component: no [[component]] \"db\" in statuspage.toml",
                "probe[0].interval: must be at least 10s",
                "probe[0].url: only for kind = http",
                "probe[0].host: required for kind = \"tcp\"",
                "probe[1].id: duplicate id \"a\"",
                "probe[1].kind: \"ping\" is not one of http, tcp, tls, dns",
                "probe[2].timeout: must be above 0 and at most `interval`",
                "probe[2].warn_days: must be at least 1",
            ]
        );
        assert_eq!(probes.len(), 1);
    }

    #[test]
    fn dns_takes_an_optional_expected_address() {
        let (probes, errors) = load(
            "[[probe]]\nid = \"dns\"\nservice = \"api\"\nkind = \"dns\"\nname = \"localhost\"\n\
             expect_address = \"127.0.0.1\"\ninterval = \"30s\"\ndown_after = 1\n",
        );

        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(
            probes[0].check,
            Check::Dns {
                name: "localhost".into(),
                expect: Some(IpAddr::from([127, 0, 0, 1])),
            }
        );
        assert_eq!(probes[0].timeout, SignedDuration::from_secs(10));
        assert_eq!(probes[0].down_after, 1);
    }
}
