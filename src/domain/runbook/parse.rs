//! One runbook file's text → [`Runbook`] and the findings the file shows on its own: front
//! matter (RB06), required sections (RB03), their order (RB04), remediation branches (RB05)
//! and the `Last updated` line (RB07). Line numbers are 1-based lines of the whole file.

use jiff::civil::Date;
use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};
use serde::Deserialize;

use super::{Code, Finding, Matcher, Runbook};

/// The required H2 sections, in the order §5.2 wants them (compared case-insensitively).
pub const REQUIRED: [&str; 6] = [
    "What this means",
    "User impact",
    "Diagnosis steps",
    "Remediation",
    "Escalate to",
    "Last updated",
];

/// What parsing one file gives: the runbook when its front matter is valid (else it can
/// match no alert and is left out), and every finding either way.
#[derive(Debug)]
pub struct Parsed {
    pub runbook: Option<Runbook>,
    pub findings: Vec<Finding>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Front {
    #[serde(default)]
    alerts: Vec<String>,
    #[serde(default)]
    matchers: Vec<String>,
    owner: Option<String>,
    last_updated: Option<toml::Value>,
}

/// Parses `text`, the content of the runbook file `file` (a path as findings should show
/// it, e.g. `runbooks/disk-full.md`; its stem becomes the slug).
pub fn parse(file: &str, text: &str) -> Parsed {
    let mut findings = Vec::new();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (front, body, body_line) = split_front_matter(file, text, &mut findings);
    let front =
        front.and_then(|(fm, first_line)| front_matter(file, fm, first_line, &mut findings));
    let outline = Outline::read(body, body_line);
    outline.check(file, front.as_ref().map(|f| f.last_updated), &mut findings);

    let runbook = front.map(|front| Runbook {
        slug: slug_of(file),
        file: file.to_string(),
        title: outline.title.clone().unwrap_or_else(|| slug_of(file)),
        alerts: front.alerts,
        matchers: front.matchers,
        owner: front.owner,
        last_updated: front.last_updated,
        last_updated_line: front.last_updated_line,
        body: body.to_string(),
        escalate_refs: outline.escalate_refs.clone(),
    });
    Parsed { runbook, findings }
}

fn slug_of(file: &str) -> String {
    std::path::Path::new(file)
        .file_stem()
        .map_or_else(|| file.to_string(), |s| s.to_string_lossy().into_owned())
}

/// Splits `+++`-fenced front matter from the body. Returns the front matter with the line
/// of its first line, the body, and the line the body starts on.
fn split_front_matter<'t>(
    file: &str,
    text: &'t str,
    findings: &mut Vec<Finding>,
) -> (Option<(&'t str, usize)>, &'t str, usize) {
    let first_end = text.find('\n').map_or(text.len(), |i| i + 1);
    if text[..first_end].trim() != "+++" {
        let message = "no front matter: the file must start with a `+++` line".to_string();
        findings.push(Finding::new(Code::RB06, Some(file), Some(1), message));
        return (None, text, 1);
    }
    let mut offset = first_end;
    let mut line = 2;
    while offset < text.len() {
        let end = text[offset..]
            .find('\n')
            .map_or(text.len(), |i| offset + i + 1);
        if text[offset..end].trim() == "+++" {
            return (Some((&text[first_end..offset], 2)), &text[end..], line + 1);
        }
        offset = end;
        line += 1;
    }
    let message = "front matter is not closed by a `+++` line".to_string();
    findings.push(Finding::new(Code::RB06, Some(file), Some(1), message));
    (None, "", line)
}

struct FrontMatter {
    alerts: Vec<String>,
    matchers: Vec<Matcher>,
    owner: Option<String>,
    last_updated: Date,
    last_updated_line: usize,
}

fn front_matter(
    file: &str,
    fm: &str,
    first_line: usize,
    findings: &mut Vec<Finding>,
) -> Option<FrontMatter> {
    let mut bad = |line: usize, message: String| {
        findings.push(Finding::new(Code::RB06, Some(file), Some(line), message));
    };
    let line_of = |needle: &str| {
        fm.lines()
            .position(|l| l.contains(needle))
            .map_or(first_line - 1, |i| first_line + i)
    };
    let raw: Front = match toml::from_str(fm) {
        Ok(raw) => raw,
        Err(err) => {
            let line = err.span().map_or(first_line - 1, |span| {
                first_line + fm[..span.start].matches('\n').count()
            });
            bad(line, format!("front matter: {}", err.message()));
            return None;
        }
    };
    let before = findings.len();

    if raw.alerts.is_empty() && raw.matchers.is_empty() {
        let message = "front matter names no `alerts` and no `matchers`".to_string();
        findings.push(Finding::new(
            Code::RB06,
            Some(file),
            Some(first_line - 1),
            message,
        ));
    }
    let mut matchers = Vec::new();
    for text in &raw.matchers {
        match Matcher::parse(text) {
            Ok(m) => matchers.push(m),
            Err(problem) => {
                let line = line_of(text);
                findings.push(Finding::new(
                    Code::RB06,
                    Some(file),
                    Some(line),
                    format!("`matchers`: {problem}"),
                ));
            }
        }
    }
    let date_line = line_of("last_updated");
    let last_updated = match &raw.last_updated {
        None => None,
        Some(toml::Value::Datetime(dt)) if dt.time.is_none() && dt.offset.is_none() => dt
            .date
            .and_then(|d| Date::new(d.year as i16, d.month as i8, d.day as i8).ok()),
        Some(toml::Value::String(s)) => s.parse::<Date>().ok(),
        Some(_) => None,
    };
    match (&raw.last_updated, last_updated) {
        (None, _) => findings.push(Finding::new(
            Code::RB06,
            Some(file),
            Some(first_line - 1),
            "front matter has no `last_updated` date".to_string(),
        )),
        (Some(_), None) => findings.push(Finding::new(
            Code::RB06,
            Some(file),
            Some(date_line),
            "`last_updated` is not a date like 2025-01-20".to_string(),
        )),
        (Some(_), Some(_)) => {}
    }

    if findings.len() > before {
        return None;
    }
    Some(FrontMatter {
        alerts: raw.alerts,
        matchers,
        owner: raw.owner,
        last_updated: last_updated?,
        last_updated_line: date_line,
    })
}

/// An H2 section as the checks need it.
#[derive(Debug, Default)]
struct Section {
    name: String,
    line: usize,
    /// Events other than its own heading: anything written under it.
    content: usize,
    numbered_items: usize,
    items: usize,
    text: String,
    branches: Vec<Branch>,
}

/// A `### If …:` (or any H3) under `Remediation`.
#[derive(Debug, Default)]
struct Branch {
    title: String,
    line: usize,
    commands: usize,
    text: String,
}

/// The headings and what is under them.
#[derive(Debug, Default)]
struct Outline {
    title: Option<String>,
    title_line: Option<usize>,
    first_line: usize,
    sections: Vec<Section>,
    escalate_refs: Vec<(String, usize)>,
}

impl Outline {
    fn read(body: &str, body_line: usize) -> Outline {
        let mut outline = Outline {
            first_line: body_line,
            ..Outline::default()
        };
        let line_at = |offset: usize| body_line + body[..offset].matches('\n').count();
        // (level, line, text) while inside a heading.
        let mut heading: Option<(HeadingLevel, usize, String)> = None;
        // One entry per open list: whether it is numbered.
        let mut lists: Vec<bool> = Vec::new();

        for (event, range) in Parser::new(body).into_offset_iter() {
            if let Some((level, line, text)) = &mut heading {
                match event {
                    Event::Text(t) | Event::Code(t) | Event::InlineHtml(t) => text.push_str(&t),
                    Event::End(TagEnd::Heading(_)) => {
                        let (level, line, text) = (*level, *line, text.trim().to_string());
                        outline.heading(level, line, text);
                        heading = None;
                    }
                    _ => {}
                }
                continue;
            }
            if let Event::Start(Tag::Heading { level, .. }) = event {
                if level > HeadingLevel::H2
                    && let Some(section) = outline.sections.last_mut()
                {
                    section.content += 1;
                }
                heading = Some((level, line_at(range.start), String::new()));
                continue;
            }
            let in_escalate = outline
                .sections
                .last()
                .is_some_and(|s| s.name.eq_ignore_ascii_case("escalate to"));
            let Some(section) = outline.sections.last_mut() else {
                continue;
            };
            section.content += 1;
            match event {
                Event::Start(Tag::List(start)) => lists.push(start.is_some()),
                Event::End(TagEnd::List(_)) => {
                    lists.pop();
                }
                Event::Start(Tag::Item) => {
                    section.items += 1;
                    if lists.last() == Some(&true) {
                        section.numbered_items += 1;
                    }
                }
                Event::Code(code) => {
                    if in_escalate {
                        outline
                            .escalate_refs
                            .push((code.trim().to_string(), line_at(range.start)));
                    }
                    if let Some(branch) = section.branches.last_mut() {
                        branch.commands += 1;
                    }
                }
                Event::Start(Tag::CodeBlock(_)) => {
                    if let Some(branch) = section.branches.last_mut() {
                        branch.commands += 1;
                    }
                }
                Event::Text(t) => {
                    section.text.push_str(&t);
                    if let Some(branch) = section.branches.last_mut() {
                        branch.text.push_str(&t);
                    }
                }
                Event::SoftBreak | Event::HardBreak | Event::End(TagEnd::Paragraph) => {
                    section.text.push('\n');
                    if let Some(branch) = section.branches.last_mut() {
                        branch.text.push('\n');
                    }
                }
                _ => {}
            }
        }
        outline
    }

    fn heading(&mut self, level: HeadingLevel, line: usize, text: String) {
        match level {
            HeadingLevel::H1 => {
                if self.title.is_none()
                    && let Some(title) = text.strip_prefix("Runbook:")
                {
                    self.title = Some(title.trim().to_string());
                    self.title_line = Some(line);
                }
            }
            HeadingLevel::H2 => self.sections.push(Section {
                name: text.trim_end_matches(':').trim().to_string(),
                line,
                ..Section::default()
            }),
            _ => {
                if let Some(section) = self.sections.last_mut()
                    && section.name.eq_ignore_ascii_case("remediation")
                {
                    section.branches.push(Branch {
                        title: text,
                        line,
                        ..Branch::default()
                    });
                }
            }
        }
    }

    fn section(&self, name: &str) -> Option<&Section> {
        self.sections
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
    }

    fn check(&self, file: &str, front_date: Option<Date>, findings: &mut Vec<Finding>) {
        let mut push = |code: Code, line: Option<usize>, message: String| {
            findings.push(Finding::new(code, Some(file), line, message));
        };
        if self.title.is_none() {
            let message = "no `# Runbook: <title>` heading".to_string();
            push(Code::RB03, Some(self.first_line), message);
        }

        // Presence and content (RB03).
        for name in REQUIRED {
            let Some(section) = self.section(name) else {
                push(
                    Code::RB03,
                    None,
                    format!("required section `{name}` is missing"),
                );
                continue;
            };
            let line = Some(section.line);
            if section.content == 0 || section.text.trim().is_empty() && section.items == 0 {
                push(Code::RB03, line, format!("section `{name}` is empty"));
            } else if name == "Diagnosis steps" && section.numbered_items == 0 {
                let message = "section `Diagnosis steps` has no numbered step".to_string();
                push(Code::RB03, line, message);
            } else if name == "Escalate to" && section.items == 0 {
                let message = "section `Escalate to` lists no one to escalate to".to_string();
                push(Code::RB03, line, message);
            }
        }

        // Order (RB04): each present required section after the ones before it in §5.2.
        let mut latest: Option<(usize, &str)> = None;
        for section in &self.sections {
            let Some(rank) = REQUIRED
                .iter()
                .position(|r| r.eq_ignore_ascii_case(&section.name))
            else {
                continue;
            };
            match latest {
                Some((seen, seen_name)) if rank < seen => push(
                    Code::RB04,
                    Some(section.line),
                    format!(
                        "section `{}` should come before `{seen_name}`",
                        REQUIRED[rank]
                    ),
                ),
                _ => latest = Some((rank, REQUIRED[rank])),
            }
        }

        // Remediation branches (RB05).
        if let Some(section) = self.section("Remediation")
            && section.content > 0
        {
            let branches: Vec<&Branch> = section
                .branches
                .iter()
                .filter(|b| b.title.to_ascii_lowercase().starts_with("if "))
                .collect();
            if branches.is_empty() {
                let message = "`Remediation` has no `### If <condition>:` branch".to_string();
                push(Code::RB05, Some(section.line), message);
            }
            for branch in branches {
                let title = &branch.title;
                if branch.commands == 0 {
                    let message = format!("branch `{title}` has no command (code span or block)");
                    push(Code::RB05, Some(branch.line), message);
                }
                let lower = branch.text.to_ascii_lowercase();
                if !lower.contains("expected output:") && !lower.contains("verify:") {
                    let message =
                        format!("branch `{title}` has no `Expected output:` or `Verify:` line");
                    push(Code::RB05, Some(branch.line), message);
                }
            }
        }

        // `Last updated` agrees with the front matter (RB07).
        if let Some(section) = self.section("Last updated")
            && !section.text.trim().is_empty()
        {
            let text = section.text.trim();
            let date = text
                .split_once(" by ")
                .filter(|(_, name)| !name.trim().is_empty())
                .and_then(|(date, _)| date.trim().parse::<Date>().ok());
            match (date, front_date) {
                (None, _) => push(
                    Code::RB07,
                    Some(section.line),
                    format!("`Last updated` reads {text:?}, not `YYYY-MM-DD by <name>`"),
                ),
                (Some(date), Some(front)) if date != front => push(
                    Code::RB07,
                    Some(section.line),
                    format!("`Last updated` says {date} but the front matter says {front}"),
                ),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "+++
alerts = [\"DiskFull\"]
matchers = ['service=\"api\"']
owner = \"team-ops\"
last_updated = 2025-01-20
+++

# Runbook: Disk full

## What this means

The data volume is over 90%.

## User impact

Writes fail.

## Diagnosis steps

1. Check `df -h /data`.

## Remediation

### If old logs fill the disk:

Run: `journalctl --vacuum-size=1G`

Expected output: `Vacuuming done`.

## Escalate to

- `person:lead` if the disk is still over 90% after 30 minutes.

## Last updated

2025-01-20 by ana
";

    fn findings(text: &str) -> Vec<String> {
        parse("runbooks/x.md", text)
            .findings
            .iter()
            .map(|f| f.to_string())
            .collect()
    }

    #[test]
    fn a_complete_runbook_has_no_findings() {
        let parsed = parse("runbooks/disk-full.md", GOOD);
        assert_eq!(parsed.findings, []);
        let rb = parsed.runbook.unwrap();
        assert_eq!(rb.slug, "disk-full");
        assert_eq!(rb.title, "Disk full");
        assert_eq!(rb.last_updated, Date::constant(2025, 1, 20));
        assert_eq!(rb.last_updated_line, 5);
        assert_eq!(rb.escalate_refs, [("person:lead".to_string(), 32)]);
    }

    #[test]
    fn front_matter_problems_are_rb06_with_lines() {
        assert_eq!(
            findings("# Runbook: x\n"),
            [
                "runbooks/x.md:1: RB06 error: no front matter: the file must start with a \
                 `+++` line",
                "runbooks/x.md: RB03 error: required section `What this means` is missing",
                "runbooks/x.md: RB03 error: required section `User impact` is missing",
                "runbooks/x.md: RB03 error: required section `Diagnosis steps` is missing",
                "runbooks/x.md: RB03 error: required section `Remediation` is missing",
                "runbooks/x.md: RB03 error: required section `Escalate to` is missing",
                "runbooks/x.md: RB03 error: required section `Last updated` is missing",
            ]
        );
        let bad_matcher = GOOD.replace("service=\\\"api\\\"", "service");
        let bad_matcher = bad_matcher.replace(r#"'service="api"'"#, "'service'");
        assert_eq!(
            findings(&bad_matcher),
            [
                "runbooks/x.md:3: RB06 error: `matchers`: \"service\" has no operator \
              (=, !=, =~, !~)"
            ]
        );
        let bad_date = GOOD.replace("last_updated = 2025-01-20", "last_updated = \"soon\"");
        assert_eq!(
            findings(&bad_date),
            ["runbooks/x.md:5: RB06 error: `last_updated` is not a date like 2025-01-20"]
        );
        let unknown = GOOD.replace("owner =", "ownr =");
        let found = findings(&unknown);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("runbooks/x.md:4: RB06 error: front matter: unknown field"));
        assert!(parse("runbooks/x.md", &unknown).runbook.is_none());
    }

    #[test]
    fn section_problems_carry_their_heading_line() {
        let empty = GOOD.replace("Writes fail.\n", "");
        assert_eq!(
            findings(&empty),
            ["runbooks/x.md:14: RB03 error: section `User impact` is empty"]
        );
        let unnumbered = GOOD.replace("1. Check", "- Check");
        assert_eq!(
            findings(&unnumbered),
            ["runbooks/x.md:18: RB03 error: section `Diagnosis steps` has no numbered step"]
        );
        let no_check = GOOD.replace("Expected output: `Vacuuming done`.\n", "");
        assert_eq!(
            findings(&no_check),
            [
                "runbooks/x.md:24: RB05 error: branch `If old logs fill the disk:` has no \
              `Expected output:` or `Verify:` line"
            ]
        );
        let no_branch = GOOD.replace("### If old logs fill the disk:", "Do this:");
        assert_eq!(
            findings(&no_branch),
            ["runbooks/x.md:22: RB05 error: `Remediation` has no `### If <condition>:` branch"]
        );
        let late = GOOD.replace("2025-01-20 by ana", "2025-01-19 by ana");
        assert_eq!(
            findings(&late),
            [
                "runbooks/x.md:34: RB07 warning: `Last updated` says 2025-01-19 but the front \
              matter says 2025-01-20"
            ]
        );
    }

    #[test]
    fn sections_out_of_order_are_rb04() {
        let swapped = GOOD
            .replace("## What this means", "## TMP")
            .replace("## User impact", "## What this means")
            .replace("## TMP", "## User impact")
            .replace("The data volume is over 90%.", "X")
            .replace("Writes fail.", "The data volume is over 90%.")
            .replace("X\n", "Writes fail.\n");
        assert_eq!(
            findings(&swapped),
            [
                "runbooks/x.md:14: RB04 warning: section `What this means` should come before \
              `User impact`"
            ]
        );
    }

    #[test]
    fn headings_compare_case_insensitively() {
        let lower = GOOD.replace("## Diagnosis steps", "## diagnosis STEPS");
        assert_eq!(findings(&lower), Vec::<String>::new());
    }
}
