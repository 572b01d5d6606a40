//! Runbooks (comms spec §5): one Markdown file per alert family with TOML front matter
//! naming the alerts it covers, the required sections, and the linter's findings as data.
//!
//! - `matcher`: Alertmanager label matchers.
//! - `parse`: a file's text → [`Runbook`] plus the findings a file shows on its own
//!   (RB03–RB07).
//! - `lint`: findings that need the date or the alert history (RB01, RB02, RB06 future
//!   dates, RB08).
//!
//! Reads no files and no database: `config::runbooks` loads the directory, `cli::runbook`
//! feeds the history in.

pub mod lint;
pub mod matcher;
pub mod parse;

use std::collections::BTreeMap;
use std::fmt;

use jiff::civil::Date;
use serde::Serialize;

pub use matcher::{MatchOp, Matcher};
pub use parse::parse;

/// A parsed runbook.
#[derive(Clone, Debug)]
pub struct Runbook {
    /// The file stem: `/runbooks/{slug}` serves it.
    pub slug: String,
    /// The file as findings name it (`runbooks/disk-full.md`).
    pub file: String,
    /// From `# Runbook: <title>`; the slug when the heading is missing.
    pub title: String,
    /// Alert names it covers; empty covers any name its matchers accept.
    pub alerts: Vec<String>,
    pub matchers: Vec<Matcher>,
    pub owner: Option<String>,
    pub last_updated: Date,
    /// Where `last_updated` is written (front matter line), for findings.
    pub last_updated_line: usize,
    /// The Markdown after the front matter.
    pub body: String,
    /// References in `Escalate to` written as code spans (`person:lead`), with their line.
    pub escalate_refs: Vec<(String, usize)>,
}

impl Runbook {
    /// Whether this runbook covers an alert named `alert` with `labels` (§5.1): `alerts` is
    /// empty or names it, and every matcher matches.
    pub fn covers(&self, alert: &str, labels: &BTreeMap<String, String>) -> bool {
        (self.alerts.is_empty() || self.names(alert))
            && self.matchers.iter().all(|m| m.matches(labels))
    }

    /// Whether `alerts` names `alert`.
    pub fn names(&self, alert: &str) -> bool {
        self.alerts.iter().any(|a| a == alert)
    }
}

/// The labels runbook matchers see for an alert: its own labels, plus `service` (the
/// dutybell service id) when the alert has no `service` label of its own.
pub fn match_labels(service: &str, labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut labels = labels.clone();
    labels
        .entry("service".to_string())
        .or_insert_with(|| service.to_string());
    labels
}

/// The runbooks an alert would pick between, best first (§5.1 lookup, after the alert's own
/// runbook URL annotation, which the caller checks first): covering runbooks that name the
/// alert, else covering ones with the most matchers. More than one entry is a tie (RB08);
/// [`lookup`] takes the first by file name.
pub fn candidates<'a>(
    runbooks: &'a [Runbook],
    alert: &str,
    labels: &BTreeMap<String, String>,
) -> Vec<&'a Runbook> {
    let covering: Vec<&Runbook> = runbooks
        .iter()
        .filter(|r| r.covers(alert, labels))
        .collect();
    let naming: Vec<&Runbook> = covering
        .iter()
        .copied()
        .filter(|r| r.names(alert))
        .collect();
    let tier = if naming.is_empty() { covering } else { naming };
    let most = tier.iter().map(|r| r.matchers.len()).max().unwrap_or(0);
    let mut best: Vec<&Runbook> = tier
        .into_iter()
        .filter(|r| r.matchers.len() == most)
        .collect();
    best.sort_by(|a, b| a.slug.cmp(&b.slug));
    best
}

/// The runbook for an alert, if one covers it.
pub fn lookup<'a>(
    runbooks: &'a [Runbook],
    alert: &str,
    labels: &BTreeMap<String, String>,
) -> Option<&'a Runbook> {
    candidates(runbooks, alert, labels).into_iter().next()
}

/// A linter code (§5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Code {
    RB01,
    RB02,
    RB03,
    RB04,
    RB05,
    RB06,
    RB07,
    RB08,
}

impl Code {
    /// The level §5.3 gives the code.
    pub fn level(self) -> Level {
        match self {
            Code::RB02 | Code::RB04 | Code::RB07 | Code::RB08 => Level::Warning,
            Code::RB01 | Code::RB03 | Code::RB05 | Code::RB06 => Level::Error,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
        }
    }
}

/// One linter finding; serializes to the JSON fields §5.3 names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: Code,
    pub level: Level,
    /// The runbook file, `None` for findings about alerts (RB01).
    pub file: Option<String>,
    /// 1-based line in `file`, when the finding has one.
    pub line: Option<usize>,
    /// The alert name the finding is about, if any.
    pub alert: Option<String>,
    pub message: String,
}

impl Finding {
    pub fn new(code: Code, file: Option<&str>, line: Option<usize>, message: String) -> Finding {
        Finding {
            code,
            level: code.level(),
            file: file.map(str::to_string),
            line,
            alert: None,
            message,
        }
    }

    pub fn with_alert(mut self, alert: &str) -> Finding {
        self.alert = Some(alert.to_string());
        self
    }
}

impl fmt::Display for Finding {
    /// `file:line: RB03 error: message`, the form editors and CI logs link.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{file}:{line}: ")?,
            (Some(file), None) => write!(f, "{file}: ")?,
            (None, _) => {}
        }
        write!(f, "{} {}: {}", self.code, self.level.as_str(), self.message)
    }
}

/// A file name for an alert's runbook: lowercase ASCII words joined by `-`
/// (`HighErrorRate` → `high-error-rate`, `disk full!` → `disk-full`).
pub fn slug(alert: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in alert.chars() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && prev_lower && !out.ends_with('-') {
                out.push('-');
            }
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            out.push(c.to_ascii_lowercase());
        } else {
            prev_lower = false;
            if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        }
    }
    out.trim_end_matches('-').to_string()
}

/// A new runbook for `alert` with every required section to fill in (`runbook new`).
pub fn template(alert: &str, service: Option<&str>, owner: &str, today: Date) -> String {
    let matchers = service.map_or(String::new(), |s| {
        format!(
            "matchers = ['service=\"{}\"']\n",
            s.replace(['"', '\'', '\\'], "")
        )
    });
    let quoted = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    format!(
        "+++\n\
         alerts = [\"{alert_q}\"]\n\
         {matchers}\
         owner = \"{owner_q}\"\n\
         last_updated = {today}\n\
         +++\n\
         \n\
         # Runbook: {alert}\n\
         \n\
         ## What this means\n\
         \n\
         One or two sentences: what broke, and why `{alert}` fires.\n\
         \n\
         ## User impact\n\
         \n\
         What users experience while it fires.\n\
         \n\
         ## Diagnosis steps\n\
         \n\
         1. What to check first, and what to look for.\n\
         \n\
         ## Remediation\n\
         \n\
         ### If the cause is known:\n\
         \n\
         Run: `replace-with-the-fix`\n\
         \n\
         Expected output: what success looks like.\n\
         \n\
         ## Escalate to\n\
         \n\
         - `person:someone` if the remediation did not help within 30 minutes.\n\
         \n\
         ## Last updated\n\
         \n\
         {today} by {owner}\n",
        alert_q = quoted(alert),
        owner_q = quoted(owner),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runbook(slug: &str, front: &str) -> Runbook {
        let text = format!("+++\n{front}\nlast_updated = 2025-01-20\n+++\n# Runbook: x\n");
        parse(&format!("runbooks/{slug}.md"), &text)
            .runbook
            .expect("front matter parses")
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn covering_needs_the_name_and_every_matcher() {
        let rb = runbook(
            "a",
            "alerts = [\"HighErrorRate\"]\nmatchers = ['service=\"checkout\"', 'env=~\"prod|eu\"']",
        );
        let good = labels(&[("service", "checkout"), ("env", "eu")]);
        assert!(rb.covers("HighErrorRate", &good));
        assert!(!rb.covers("DiskFull", &good));
        assert!(!rb.covers("HighErrorRate", &labels(&[("service", "checkout")])));
    }

    #[test]
    fn lookup_prefers_a_runbook_naming_the_alert_then_most_matchers() {
        let generic = runbook("generic", "matchers = ['service=\"api\"', 'env=\"prod\"']");
        let broad = runbook("broad", "matchers = ['service=\"api\"']");
        let named = runbook("named", "alerts = [\"DiskFull\"]");
        let all = [generic, broad, named];
        let l = labels(&[("service", "api"), ("env", "prod")]);

        assert_eq!(lookup(&all, "DiskFull", &l).unwrap().slug, "named");
        assert_eq!(lookup(&all, "Other", &l).unwrap().slug, "generic");
        assert_eq!(
            lookup(&all, "Other", &labels(&[("service", "api")]))
                .unwrap()
                .slug,
            "broad"
        );
        assert!(lookup(&all, "Other", &labels(&[("service", "web")])).is_none());
    }

    #[test]
    fn equal_candidates_are_a_tie_broken_by_file_name() {
        let all = [
            runbook("zeta", "alerts = [\"DiskFull\"]"),
            runbook("alpha", "alerts = [\"DiskFull\"]"),
        ];
        let found: Vec<&str> = candidates(&all, "DiskFull", &BTreeMap::new())
            .iter()
            .map(|r| r.slug.as_str())
            .collect();
        assert_eq!(found, ["alpha", "zeta"]);
    }

    #[test]
    fn the_service_label_defaults_to_the_service_id() {
        assert_eq!(match_labels("api", &BTreeMap::new())["service"], "api");
        let own = labels(&[("service", "upstream")]);
        assert_eq!(match_labels("api", &own)["service"], "upstream");
    }

    #[test]
    fn slugs_are_lowercase_words() {
        assert_eq!(slug("HighErrorRate"), "high-error-rate");
        assert_eq!(slug("DiskFull"), "disk-full");
        assert_eq!(slug("disk full!"), "disk-full");
        assert_eq!(slug("KubePodCrashLooping"), "kube-pod-crash-looping");
        assert_eq!(slug("../etc/passwd"), "etc-passwd");
        assert_eq!(slug("HTTP5xx"), "http5xx");
    }

    #[test]
    fn the_template_passes_the_static_checks() {
        let today = Date::constant(2025, 3, 1);
        let text = template("DiskFull", Some("api"), "team-ops", today);
        let parsed = parse("runbooks/disk-full.md", &text);
        assert_eq!(parsed.findings, []);
        let rb = parsed.runbook.unwrap();
        assert_eq!(rb.title, "DiskFull");
        assert_eq!(rb.alerts, ["DiskFull"]);
        assert_eq!(rb.matchers[0].to_string(), "service=\"api\"");
        assert_eq!(rb.owner.as_deref(), Some("team-ops"));
        assert_eq!(rb.last_updated, today);
    }
}
