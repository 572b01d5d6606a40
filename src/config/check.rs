//! `dutybell check`: every problem in a config directory, each with its file and line, for CI.
//!
//! Owns the offline run of the loader (secrets kept in memory, nothing written, nothing
//! contacted), turning each loader finding's file and key path into a line of the TOML
//! source, and the checks only CI needs: people nobody can reach, schedules with nobody
//! on call in the next 14 days, and runbook front matter (`super::runbooks`). The rules
//! themselves stay in the loader (`super`), `domain::oncall` and `domain::runbook`; this
//! module only reports.
//!
//! Environment variables the config names (`key_env`, `token_env`, …) are usually unset in
//! CI: each unset one is a warning, and the config is then checked as if it held a
//! placeholder, so the rest of the directory is still checked.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use toml_edit::{ImDocument, Item, Table, Value};

use super::raw::{self, Env};
use super::runbooks;
use super::secrets::Secrets;
use super::{Config, ConfigError, Overrides, Person, Validator};
use crate::domain::oncall::{self, Rotations, Schedule};

/// How far ahead `check` looks for schedule gaps.
pub const GAP_HORIZON: SignedDuration = SignedDuration::from_hours(14 * 24);

/// Whether a finding fails the check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
}

/// One problem, located in the config directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub level: Level,
    /// The file as the loader names it (`<dir>/team.toml`), or `environment`.
    pub file: PathBuf,
    /// 1-based line in `file`; `None` for the environment.
    pub line: Option<usize>,
    /// Key path in the file, e.g. `person[1].time_zone`, when there is one.
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for Finding {
    /// ``dir/team.toml:12: `person[1].time_zone`: "Mars/Olympus" is not an IANA time zone``,
    /// with `warning: ` before the key for warnings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": ")?;
        if self.level == Level::Warning {
            write!(f, "warning: ")?;
        }
        if let Some(key) = &self.key {
            write!(f, "`{key}`: ")?;
        }
        write!(f, "{}", self.message)
    }
}

/// Every finding for `dir`, ordered by file and line; `now` starts the gap horizon.
pub fn check(dir: &Path, env: &Env, now: Timestamp) -> Vec<Finding> {
    let mut sources = Sources::default();
    let offline = load_offline(dir, env, &mut sources);
    let mut findings = offline.findings;

    // People and schedules are checked even when another part of the directory is wrong,
    // so one run of CI lists everything.
    if let Some((people, rotations, schedules)) = on_call_parts(dir, &offline.env) {
        findings.extend(contacts(dir, &people, &mut sources));
        findings.extend(gaps(dir, &rotations, &schedules, now, &mut sources));
    }
    // Runbook front matter, through the same parser the server loads them with.
    let (_, runbook_findings) = runbooks::read_dir(dir);
    findings.extend(runbook_findings.into_iter().map(|f| runbook(dir, f)));
    findings.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    findings
}

/// A runbook finding (its file is relative to the config directory) as a check finding.
fn runbook(dir: &Path, finding: crate::domain::runbook::Finding) -> Finding {
    use crate::domain::runbook::Level as RunbookLevel;
    let level = match finding.level {
        RunbookLevel::Error => Level::Error,
        RunbookLevel::Warning => Level::Warning,
    };
    let file = finding
        .file
        .map_or_else(|| dir.join(runbooks::DIR), |file| dir.join(file));
    Finding {
        level,
        file,
        line: Some(finding.line.unwrap_or(1)),
        key: None,
        message: format!("{}: {}", finding.code, finding.message),
    }
}

/// A config directory loaded without touching the data dir or the network.
pub struct Offline {
    /// The config, when it has no errors.
    pub config: Option<Config>,
    /// Errors, and warnings for unset environment variables.
    pub findings: Vec<Finding>,
    /// `env` plus a placeholder for each unset variable the config names.
    pub env: Env,
}

/// Loads `dir` the way `serve` would, without touching the data dir: secrets are generated
/// in memory and unset environment variables are reported as warnings and replaced by
/// placeholders.
pub fn load_offline(dir: &Path, env: &Env, sources: &mut Sources) -> Offline {
    let first = super::load_with(dir, &Overrides::default(), env, &mut Secrets::default());
    let errors = match first {
        Ok(config) => {
            return Offline {
                config: Some(config),
                findings: Vec::new(),
                env: env.clone(),
            };
        }
        Err(errors) => errors.0,
    };

    // An unset variable is the deployment's business, not the directory's: warn, then
    // check the rest as if it were set. The placeholder is a loopback URL long enough for
    // every kind of secret, and unique per variable so keys stay unique.
    let unset: Vec<String> = errors.iter().filter_map(unset_var).collect();
    if unset.is_empty() {
        return Offline {
            config: None,
            findings: errors
                .iter()
                .map(|e| sources.locate(e, Level::Error))
                .collect(),
            env: env.clone(),
        };
    }
    let mut findings: Vec<Finding> = errors
        .iter()
        .filter(|e| unset_var(e).is_some())
        .map(|e| sources.locate(e, Level::Warning))
        .collect();
    let mut env = env.clone();
    for var in unset {
        let placeholder = format!("http://127.0.0.1/dutybell-check-placeholder/{var}");
        env.insert(var, placeholder);
    }
    let config = match super::load_with(dir, &Overrides::default(), &env, &mut Secrets::default()) {
        Ok(config) => Some(config),
        Err(errors) => {
            findings.extend(errors.0.iter().map(|e| sources.locate(e, Level::Error)));
            None
        }
    };
    Offline {
        config,
        findings,
        env,
    }
}

/// The variable named by a loader finding "environment variable X is not set".
fn unset_var(err: &ConfigError) -> Option<String> {
    let ConfigError::Invalid { problem, .. } = err else {
        return None;
    };
    problem
        .strip_prefix("environment variable ")?
        .strip_suffix(" is not set")
        .map(str::to_string)
}

type People = BTreeMap<String, Person>;
type Schedules = BTreeMap<String, Schedule>;

/// People, rotations and schedules as far as they validate, through the loader's own
/// steps; `None` when `team.toml` or `oncall.toml` does not parse. What these steps
/// report is already among the load's findings, so it is dropped here.
fn on_call_parts(dir: &Path, env: &Env) -> Option<(People, Rotations, Schedules)> {
    let mut v = Validator::default();
    let team = v.file::<raw::TeamFile>(dir, "team.toml", true)?;
    let oncall = v.file::<raw::OncallFile>(dir, "oncall.toml", true)?;
    let people = v.people(dir, team, env, None);
    let rotations = v.rotations(dir, &oncall.rotation, &people);
    let schedules = v.schedules(dir, &oncall.schedule, &people, &rotations);
    Some((people, rotations, schedules))
}

/// People no page can reach: no contact method at all (an error), or only ones that wait
/// for a verification code (`verify = true`, a warning: the store knows whether they were
/// confirmed, `check` does not).
fn contacts(dir: &Path, people: &People, sources: &mut Sources) -> Vec<Finding> {
    let file = dir.join("team.toml");
    let mut findings = Vec::new();
    for person in people.values() {
        let key = format!("person {:?}", person.id);
        if person.contacts.is_empty() {
            let message = format!(
                "{} has no usable contact method: pages to them are never sent",
                person.id
            );
            findings.push(sources.finding(Level::Error, &file, key, message));
        } else if person.contacts.iter().all(|c| c.verify) {
            let message = format!(
                "{} has only contacts with `verify = true`: pages skip them until one is \
                 confirmed (`dutybell contact verify {} <kind>`)",
                person.id, person.id
            );
            findings.push(sources.finding(Level::Warning, &file, key, message));
        }
    }
    findings
}

/// Schedules with nobody on call at some point of the next 14 days, from the rules and
/// rotations as configured (stored overrides are the server's, not the directory's).
fn gaps(
    dir: &Path,
    rotations: &Rotations,
    schedules: &Schedules,
    now: Timestamp,
    sources: &mut Sources,
) -> Vec<Finding> {
    let file = dir.join("oncall.toml");
    let to = now.checked_add(GAP_HORIZON).unwrap_or(Timestamp::MAX);
    let mut findings = Vec::new();
    for (id, schedule) in schedules {
        let gaps = oncall::gaps(schedule, rotations, now, to);
        let Some(first) = gaps.first() else {
            continue;
        };
        let zone = &schedule.time_zone;
        let local = |at: Timestamp| {
            at.to_zoned(zone.clone())
                .strftime("%a %Y-%m-%d %H:%M %Z")
                .to_string()
        };
        let mut message = format!(
            "nobody is on call from {} to {}",
            local(first.start),
            local(first.end)
        );
        if gaps.len() > 1 {
            message.push_str(&format!(
                " (and {} more gap(s) in the next 14 days)",
                gaps.len() - 1
            ));
        }
        let key = format!("schedule {id:?}");
        findings.push(sources.finding(Level::Error, &file, key, message));
    }
    findings
}

/// Parsed TOML sources by path, read once each, for turning key paths into lines.
#[derive(Default)]
pub struct Sources {
    docs: BTreeMap<PathBuf, Option<ImDocument<String>>>,
}

impl Sources {
    /// A finding at `key` of `file`.
    fn finding(&mut self, level: Level, file: &Path, key: String, message: String) -> Finding {
        Finding {
            level,
            file: file.to_path_buf(),
            line: Some(self.line(file, &key)),
            key: Some(key),
            message,
        }
    }

    /// A loader finding with its line.
    pub fn locate(&mut self, err: &ConfigError, level: Level) -> Finding {
        match err {
            ConfigError::Read { file, source } => Finding {
                level,
                file: file.clone(),
                line: Some(1),
                key: None,
                message: format!("cannot read: {source}"),
            },
            ConfigError::Parse { file, message } => {
                let (line, message) = parse_error(file).unwrap_or_else(|| {
                    let first = message.lines().next().unwrap_or_default();
                    (1, first.to_string())
                });
                Finding {
                    level,
                    file: file.clone(),
                    line: Some(line),
                    key: None,
                    message: format!("cannot parse: {message}"),
                }
            }
            ConfigError::Invalid { file, key, problem } => {
                let line =
                    (file.as_path() != Path::new("environment")).then(|| self.line(file, key));
                Finding {
                    level,
                    file: file.clone(),
                    line,
                    key: Some(key.clone()),
                    message: problem.clone(),
                }
            }
        }
    }

    /// The line of `key` in `file`: of the deepest part of the path that exists, else 1.
    fn line(&mut self, file: &Path, key: &str) -> usize {
        let doc = self.docs.entry(file.to_path_buf()).or_insert_with(|| {
            let text = std::fs::read_to_string(file).ok()?;
            ImDocument::parse(text).ok()
        });
        let Some(doc) = doc else {
            return 1;
        };
        let offset = span_of(doc.as_table(), key).unwrap_or(0);
        line_at(doc.raw(), offset)
    }
}

/// A node of the parsed document while walking a key path.
#[derive(Clone, Copy)]
enum Node<'a> {
    Table(&'a Table),
    Item(&'a Item),
    Value(&'a Value),
}

impl<'a> Node<'a> {
    fn span_start(self) -> Option<usize> {
        let span = match self {
            Node::Table(table) => table.span(),
            Node::Item(item) => item.span(),
            Node::Value(value) => value.span(),
        };
        span.map(|range| range.start)
    }

    fn field(self, name: &str) -> Option<Node<'a>> {
        match self {
            Node::Table(table) => table.get(name).map(Node::Item),
            Node::Item(Item::Table(table)) => table.get(name).map(Node::Item),
            Node::Item(Item::Value(Value::InlineTable(table)))
            | Node::Value(Value::InlineTable(table)) => table.get(name).map(Node::Value),
            _ => None,
        }
    }

    fn index(self, i: usize) -> Option<Node<'a>> {
        match self {
            Node::Item(Item::ArrayOfTables(tables)) => tables.get(i).map(Node::Table),
            Node::Item(Item::Value(Value::Array(array))) | Node::Value(Value::Array(array)) => {
                array.get(i).map(Node::Value)
            }
            _ => None,
        }
    }

    /// The element of an array (of tables) whose `id` is `id`.
    fn with_id(self, id: &str) -> Option<Node<'a>> {
        (0..).map_while(|i| self.index(i)).find(|entry| {
            entry.field("id").is_some_and(|node| match node {
                Node::Item(item) => item.as_str() == Some(id),
                Node::Value(value) => value.as_str() == Some(id),
                Node::Table(_) => false,
            })
        })
    }
}

/// One step of a loader key path: `name`, then `[i]` indexes or a `"id"` selector.
enum Step<'k> {
    Field(&'k str),
    Index(usize),
    Id(String),
}

/// Splits `service[0].integrations[1].kind` or `person "ana".slack_id` into steps; `None`
/// when the path does not read that way.
fn steps(key: &str) -> Option<Vec<Step<'_>>> {
    let mut out = Vec::new();
    let mut rest = key;
    while !rest.is_empty() {
        let end = rest.find(['.', '[', ' ']).unwrap_or(rest.len());
        if end > 0 {
            out.push(Step::Field(&rest[..end]));
        }
        rest = &rest[end..];
        if let Some(after) = rest.strip_prefix('[') {
            let close = after.find(']')?;
            out.push(Step::Index(after[..close].parse().ok()?));
            rest = &after[close + 1..];
        } else if let Some(after) = rest.strip_prefix(' ') {
            let quoted = after.strip_prefix('"')?;
            let close = quoted.find('"')?;
            out.push(Step::Id(quoted[..close].to_string()));
            rest = &quoted[close + 1..];
        } else if let Some(after) = rest.strip_prefix('.') {
            rest = after;
        }
    }
    Some(out)
}

/// Byte offset of the deepest node of `key` found in `root`.
fn span_of(root: &Table, key: &str) -> Option<usize> {
    let mut node = Node::Table(root);
    let mut best = None;
    for step in steps(key)? {
        let next = match &step {
            Step::Field(name) => node.field(name),
            Step::Index(i) => node.index(*i),
            Step::Id(id) => node.with_id(id),
        };
        let Some(next) = next else {
            break;
        };
        node = next;
        best = node.span_start().or(best);
    }
    best
}

/// The 1-based line holding byte `offset` of `text`.
fn line_at(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Line and one-line message of a file that does not parse, found by parsing it again
/// into the same raw type the loader used.
fn parse_error(file: &Path) -> Option<(usize, String)> {
    let text = std::fs::read_to_string(file).ok()?;
    let name = file.file_name()?.to_str()?;
    let err = match name {
        "dutybell.toml" => toml::from_str::<raw::InstanceFile>(&text).err(),
        "team.toml" => toml::from_str::<raw::TeamFile>(&text).err(),
        "oncall.toml" => toml::from_str::<raw::OncallFile>(&text).err(),
        "services.toml" => toml::from_str::<raw::ServicesFile>(&text).err(),
        "statuspage.toml" => toml::from_str::<raw::StatusPageFile>(&text).err(),
        _ => None,
    }?;
    let line = err.span().map_or(1, |span| line_at(&text, span.start));
    Some((line, err.message().trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEAM: &str = "\
[[person]]
id = \"ana\"
email = \"ana@example.com\"

[[person]]
id = \"ben\"
contact = [
  { kind = \"email\", to = \"ben@example.com\" },
  { kind = \"sms\", to = \"+1\" },
]

[smtp]
url = \"smtp://127.0.0.1:25\"
";

    fn line(key: &str) -> usize {
        let doc = ImDocument::parse(TEAM.to_string()).unwrap();
        line_at(doc.raw(), span_of(doc.as_table(), key).unwrap_or(0))
    }

    #[test]
    fn key_paths_map_to_the_line_that_holds_them() {
        assert_eq!(line("person[0].email"), 3);
        assert_eq!(line("person[1]"), 5);
        assert_eq!(line("person[1].contact[1].to"), 9);
        assert_eq!(line("person \"ben\".slack_id"), 5);
        assert_eq!(line("smtp.url"), 13);
    }

    #[test]
    fn missing_parts_fall_back_to_the_deepest_found_or_line_one() {
        assert_eq!(line("person[1].contact[7].to"), 7);
        assert_eq!(line("person[9].time_zone"), 1);
        assert_eq!(line("no such key"), 1);
    }
}
