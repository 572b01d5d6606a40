//! The team's runbooks: `runbooks/*.md` in the config directory (comms spec §5.1).
//!
//! A missing directory means no runbooks. A file that cannot be read or whose front matter
//! is invalid is left out with a warning instead of stopping startup: it could match no
//! alert anyway, and `dutybell runbook lint` reports it with its line. Parsing and the
//! checks themselves live in `domain::runbook`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::domain::runbook::parse::Parsed;
use crate::domain::runbook::{self, Code, Finding, Runbook};

/// The runbook directory inside the config directory.
pub const DIR: &str = "runbooks";

/// The runbooks that loaded, in file name order.
#[derive(Clone, Debug, Default)]
pub struct Runbooks {
    list: Vec<Runbook>,
}

impl Runbooks {
    /// Loads `<config dir>/runbooks/*.md`, logging a warning per file left out.
    pub fn load(config_dir: &Path) -> Runbooks {
        let (list, findings) = read_dir(config_dir);
        for finding in findings.iter().filter(|f| f.code == Code::RB06) {
            tracing::warn!(
                runbook.file = finding.file.as_deref().unwrap_or(""),
                line = finding.line,
                problem = %finding.message,
                "runbook left out; `dutybell runbook lint` lists its problems"
            );
        }
        Runbooks { list }
    }

    pub fn all(&self) -> &[Runbook] {
        &self.list
    }

    /// The runbook served at `/runbooks/{slug}`.
    pub fn get(&self, slug: &str) -> Option<&Runbook> {
        self.list.iter().find(|rb| rb.slug == slug)
    }

    /// The runbook for an alert of `service` named `alert` with `labels` (§5.1 lookup after
    /// the alert's own runbook URL, which callers check first).
    pub fn lookup(
        &self,
        service: &str,
        alert: &str,
        labels: &BTreeMap<String, String>,
    ) -> Option<&Runbook> {
        runbook::lookup(&self.list, alert, &runbook::match_labels(service, labels))
    }
}

/// Parses one runbook file. `path` is how findings name the file (`runbooks/disk-full.md`)
/// and its stem is the slug; `text` is its content. The result holds the runbook when its
/// front matter is valid, and every finding the file shows on its own (RB03–RB07), each
/// with file and line. Checks needing the date or the alert history are
/// `domain::runbook::lint`'s.
pub fn parse_file(path: &Path, text: &str) -> Parsed {
    runbook::parse(&path.to_string_lossy(), text)
}

/// Every `runbooks/*.md` under `config_dir`, in file name order: the runbooks that parsed,
/// and the findings of all files (unreadable files become RB06 findings).
pub fn read_dir(config_dir: &Path) -> (Vec<Runbook>, Vec<Finding>) {
    let mut runbooks = Vec::new();
    let mut findings = Vec::new();
    let entries = match std::fs::read_dir(config_dir.join(DIR)) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return (runbooks, findings),
        Err(err) => {
            let message = format!("cannot list the runbook directory: {err}");
            findings.push(Finding::new(Code::RB06, Some(DIR), None, message));
            return (runbooks, findings);
        }
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".md") && !name.starts_with('.'))
        .collect();
    names.sort();

    for name in names {
        let shown = Path::new(DIR).join(&name);
        let text = match std::fs::read_to_string(config_dir.join(&shown)) {
            Ok(text) => text,
            Err(err) => {
                let file = shown.to_string_lossy();
                let message = format!("cannot read: {err}");
                findings.push(Finding::new(Code::RB06, Some(&file), None, message));
                continue;
            }
        };
        let parsed = parse_file(&shown, &text);
        findings.extend(parsed.findings);
        runbooks.extend(parsed.runbook);
    }
    (runbooks, findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_directory_is_no_runbooks() {
        let dir = tempfile::tempdir().unwrap();
        let (runbooks, findings) = read_dir(dir.path());
        assert!(runbooks.is_empty());
        assert!(findings.is_empty());
    }

    #[test]
    fn broken_files_are_left_out_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let rb = dir.path().join(DIR);
        std::fs::create_dir(&rb).unwrap();
        std::fs::write(
            rb.join("good.md"),
            "+++\nalerts = [\"A\"]\nlast_updated = 2025-01-01\n+++\n",
        )
        .unwrap();
        std::fs::write(rb.join("bad.md"), "no front matter\n").unwrap();
        std::fs::write(rb.join("notes.txt"), "ignored").unwrap();

        let loaded = Runbooks::load(dir.path());
        let slugs: Vec<&str> = loaded.all().iter().map(|r| r.slug.as_str()).collect();
        assert_eq!(slugs, ["good"]);
        assert_eq!(loaded.get("good").unwrap().file, "runbooks/good.md");
        assert!(loaded.get("bad").is_none());

        let (_, findings) = read_dir(dir.path());
        assert_eq!(
            findings[0].to_string(),
            "runbooks/bad.md:1: RB06 error: no front matter: the file must start with a `+++` \
             line"
        );
    }

    #[test]
    fn lookup_adds_the_service_label() {
        let dir = tempfile::tempdir().unwrap();
        let rb = dir.path().join(DIR);
        std::fs::create_dir(&rb).unwrap();
        let text = "+++\nmatchers = ['service=\"api\"']\nlast_updated = 2025-01-01\n+++\n";
        std::fs::write(rb.join("api.md"), text).unwrap();
        let loaded = Runbooks::load(dir.path());

        assert_eq!(
            loaded.lookup("api", "Any", &BTreeMap::new()).unwrap().slug,
            "api"
        );
        assert!(loaded.lookup("web", "Any", &BTreeMap::new()).is_none());
    }
}
