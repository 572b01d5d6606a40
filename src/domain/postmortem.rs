//! Postmortems as data and rules (comms spec §6): the document and its action items, the
//! draft built from a resolved incident and its timeline, the Markdown it renders to and
//! reads back from (export/import, §6.5), the checks a publish must pass (§6.3), and when
//! the engine reminds people (postmortem and action-item reminders, quiet hours §0).
//!
//! Pure: the caller passes the incident's facts, its events, the names to show and the
//! zone; `store::postmortems` keeps the result and `engine::postmortems` sends reminders.

use std::fmt;
use std::str::FromStr;

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan as _};
use serde::{Deserialize, Serialize};

use super::incident::Severity;

/// What an unknown reads as until someone fills it in (§6.2).
pub const TBD: &str = "TBD";
/// How a postmortem says it has nothing to follow up (§6.3).
pub const NO_ITEMS_PREFIX: &str = "No action items:";
/// Draft due time after resolve for P1/P2 (`postmortem.due_after`, §6.3).
pub const DUE_AFTER: SignedDuration = SignedDuration::from_hours(48);
/// The first reminder, this long after resolve.
pub const FIRST_REMINDER_AFTER: SignedDuration = SignedDuration::from_hours(24);

/// Where a postmortem is in its life (§6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Draft,
    InReview,
    Published,
    Skipped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::InReview => "in_review",
            Status::Published => "published",
            Status::Skipped => "skipped",
        }
    }

    /// Still being written: reminders run, edits are allowed.
    pub fn is_open(self) -> bool {
        matches!(self, Status::Draft | Status::InReview)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;

    fn from_str(text: &str) -> Result<Status, String> {
        [
            Status::Draft,
            Status::InReview,
            Status::Published,
            Status::Skipped,
        ]
        .into_iter()
        .find(|s| s.as_str() == text.trim())
        .ok_or_else(|| format!("unknown postmortem status {text:?}"))
    }
}

/// The document's text, section by section (§6.1). Header values are kept as written so
/// an edited file reads back exactly; the Markdown round trip is lossless.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    pub title: String,
    pub date: String,
    pub duration: String,
    pub severity: String,
    pub on_call: String,
    pub commander: String,
    pub summary: String,
    pub impact: String,
    pub detection: String,
    pub timeline: String,
    pub root_cause: String,
    pub contributing_factors: String,
    pub went_well: String,
    pub went_wrong: String,
    pub lucky: String,
    /// Text under "Action items" outside the table, e.g. `No action items: <reason>`.
    pub action_note: String,
}

impl Document {
    /// Trims every field and turns CRLF into LF, the form it is stored and compared in.
    pub fn normalized(mut self) -> Document {
        for field in self.fields_mut() {
            *field = clean(field);
        }
        self
    }

    fn fields_mut(&mut self) -> [&mut String; 16] {
        [
            &mut self.title,
            &mut self.date,
            &mut self.duration,
            &mut self.severity,
            &mut self.on_call,
            &mut self.commander,
            &mut self.summary,
            &mut self.impact,
            &mut self.detection,
            &mut self.timeline,
            &mut self.root_cause,
            &mut self.contributing_factors,
            &mut self.went_well,
            &mut self.went_wrong,
            &mut self.lucky,
            &mut self.action_note,
        ]
    }

    /// The H2 sections in template order, with their text.
    fn sections(&self) -> [(&'static str, &String); 9] {
        [
            ("Summary", &self.summary),
            ("Impact", &self.impact),
            ("Detection", &self.detection),
            ("Timeline", &self.timeline),
            ("Root cause", &self.root_cause),
            ("Contributing factors", &self.contributing_factors),
            ("What went well", &self.went_well),
            ("What went wrong", &self.went_wrong),
            ("Where we got lucky", &self.lucky),
        ]
    }

    fn section_mut(&mut self, heading: &str) -> Option<&mut String> {
        Some(match heading.trim().to_ascii_lowercase().as_str() {
            "summary" => &mut self.summary,
            "impact" => &mut self.impact,
            "detection" => &mut self.detection,
            "timeline" => &mut self.timeline,
            "root cause" => &mut self.root_cause,
            "contributing factors" => &mut self.contributing_factors,
            "what went well" => &mut self.went_well,
            "what went wrong" => &mut self.went_wrong,
            "where we got lucky" => &mut self.lucky,
            "action items" => &mut self.action_note,
            _ => return None,
        })
    }
}

fn clean(text: &str) -> String {
    text.replace("\r\n", "\n").trim().to_string()
}

/// What an action item is for (§6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemType {
    Mitigate,
    Prevent,
    Process,
}

impl ItemType {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemType::Mitigate => "mitigate",
            ItemType::Prevent => "prevent",
            ItemType::Process => "process",
        }
    }
}

impl FromStr for ItemType {
    type Err = String;

    fn from_str(text: &str) -> Result<ItemType, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "mitigate" => Ok(ItemType::Mitigate),
            "prevent" => Ok(ItemType::Prevent),
            "process" => Ok(ItemType::Process),
            _ => Err(format!(
                "unknown action item type {text:?}; use mitigate, prevent or process"
            )),
        }
    }
}

/// Where an action item stands (§6.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    Open,
    Done,
    WontDo,
}

impl ItemStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Open => "open",
            ItemStatus::Done => "done",
            ItemStatus::WontDo => "wont_do",
        }
    }

    /// As the document's table shows it.
    pub fn label(self) -> &'static str {
        match self {
            ItemStatus::Open => "open",
            ItemStatus::Done => "done",
            ItemStatus::WontDo => "won't do",
        }
    }
}

impl FromStr for ItemStatus {
    type Err = String;

    fn from_str(text: &str) -> Result<ItemStatus, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "open" => Ok(ItemStatus::Open),
            "done" => Ok(ItemStatus::Done),
            "wont_do" | "won't do" | "wont do" | "won't-do" | "wont-do" => Ok(ItemStatus::WontDo),
            _ => Err(format!(
                "unknown action item status {text:?}; use open, done or won't do"
            )),
        }
    }
}

/// One row of the action-items table: what the document carries of an item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRow {
    pub title: String,
    pub ticket_url: Option<String>,
    /// A person id; `None` until someone takes it.
    pub owner: Option<String>,
    /// A date in the owner's zone.
    pub due: Option<Date>,
    pub kind: ItemType,
    pub status: ItemStatus,
}

/// One incident timeline entry, as the draft needs it.
#[derive(Clone, Debug)]
pub struct Entry {
    pub kind: String,
    pub occurred_at: Timestamp,
    pub actor: String,
    pub key: bool,
    pub data: serde_json::Value,
}

/// What the draft is built from: the incident's facts, names resolved by the caller.
pub struct Facts<'a> {
    pub title: &'a str,
    pub severity: Severity,
    pub summary: &'a str,
    pub impact: &'a str,
    /// Customer-visible minutes of the incident's status-page projection, if it had one.
    pub impact_minutes: Option<i64>,
    pub started_at: Timestamp,
    pub detected_at: Timestamp,
    pub resolved_at: Timestamp,
    /// Whether an alert detected it (else its declaration did).
    pub detected_by_alert: bool,
    /// Commander's display name.
    pub commander: &'a str,
    /// Who was on call (the first person paged, then the acker when different).
    pub on_call: &'a [String],
    /// Shows a person id as a name.
    pub name: &'a dyn Fn(&str) -> String,
    /// The zone times are written in (`postmortem.time_zone`, UTC by default).
    pub zone: &'a TimeZone,
}

/// The zone's label in the document: `UTC`, else its IANA name.
fn zone_label(zone: &TimeZone) -> String {
    match zone.iana_name() {
        Some("UTC") | Some("Etc/UTC") | None => "UTC".into(),
        Some(name) => name.to_string(),
    }
}

/// How the Timeline states its zone once (CM-11): `UTC`, else the IANA name with the
/// offset in force at `at`, as in `America/Los_Angeles (UTC−08:00)`.
pub fn zone_statement(zone: &TimeZone, at: Timestamp) -> String {
    let label = zone_label(zone);
    if label == "UTC" {
        return label;
    }
    let seconds = zone.to_offset(at).seconds();
    let sign = if seconds < 0 { '\u{2212}' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    format!("{label} (UTC{sign}{:02}:{:02})", minutes / 60, minutes % 60)
}

/// Customer-visible minutes (§6.2): the length of the union of `spans` within
/// `[from, to)`, in whole minutes.
pub fn visible_minutes(from: Timestamp, to: Timestamp, spans: &[(Timestamp, Timestamp)]) -> i64 {
    let mut clipped: Vec<(Timestamp, Timestamp)> = spans
        .iter()
        .map(|&(a, b)| (a.max(from), b.min(to)))
        .filter(|(a, b)| a < b)
        .collect();
    clipped.sort();
    let mut total = SignedDuration::ZERO;
    let mut current: Option<(Timestamp, Timestamp)> = None;
    for (a, b) in clipped {
        current = match current {
            Some((start, end)) if a <= end => Some((start, end.max(b))),
            Some((start, end)) => {
                total += end.duration_since(start);
                Some((a, b))
            }
            None => Some((a, b)),
        };
    }
    if let Some((start, end)) = current {
        total += end.duration_since(start);
    }
    total.as_secs() / 60
}

/// `1 hour 17 minutes`, `2 hours`, `45 minutes`.
pub fn span_words(span: SignedDuration) -> String {
    let minutes = span.as_secs().max(0) / 60;
    let (hours, minutes) = (minutes / 60, minutes % 60);
    let unit = |n: i64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    match (hours, minutes) {
        (0, m) => unit(m, "minute", "minutes"),
        (h, 0) => unit(h, "hour", "hours"),
        (h, m) => format!(
            "{} {}",
            unit(h, "hour", "hours"),
            unit(m, "minute", "minutes")
        ),
    }
}

/// `14:02 to 15:19 UTC (1 hour 17 minutes)`; dates added when the local days differ.
pub fn duration_text(start: Timestamp, end: Timestamp, zone: &TimeZone) -> String {
    let (a, b) = (start.to_zoned(zone.clone()), end.to_zoned(zone.clone()));
    let format = if a.date() == b.date() {
        "%H:%M"
    } else {
        "%Y-%m-%d %H:%M"
    };
    format!(
        "{} to {} {} ({})",
        a.strftime(format),
        b.strftime(format),
        zone_label(zone),
        span_words(end.duration_since(start))
    )
}

/// The highest severity reached: the current one or any a `severity.changed` left.
pub fn highest_severity(current: Severity, events: &[Entry]) -> Severity {
    events
        .iter()
        .filter(|e| e.kind == "severity.changed")
        .flat_map(|e| [&e.data["from"], &e.data["to"]])
        .filter_map(|value| value.as_str()?.parse::<Severity>().ok())
        .fold(current, Severity::min)
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The timeline line for an event (§6.2), or `None` for kinds the draft leaves out.
/// First `alert.fired` per alert and first `page.sent` per person are the caller's filter.
fn describe(entry: &Entry, name: &dyn Fn(&str) -> String) -> Option<String> {
    let text = |key: &str| entry.data[key].as_str().map(one_line);
    let person = |key: &str| entry.data[key].as_str().map(name);
    Some(match entry.kind.as_str() {
        "alert.fired" => match (text("summary"), entry.data["alert_id"].as_i64()) {
            (Some(summary), _) => format!("Alert fired: {summary}"),
            (None, Some(id)) => format!("Alert A-{id} fired"),
            (None, None) => "Alert fired".into(),
        },
        "page.sent" => match (person("person"), text("channel")) {
            (Some(who), Some(channel)) => format!("Paged {who} ({channel})"),
            (Some(who), None) => format!("Paged {who}"),
            _ => "Page sent".into(),
        },
        "page.acked" => format!("{} acknowledged the page", name(&entry.actor)),
        "incident.declared" => {
            let severity = text("severity").unwrap_or_default();
            format!("{} declared the incident ({severity})", name(&entry.actor))
        }
        "status.changed" => {
            let to = text("to").unwrap_or_default();
            match text("text").filter(|t| !t.is_empty()) {
                Some(said) => format!("Status {to}: {said}"),
                None => format!("Status {to}"),
            }
        }
        "severity.changed" => format!(
            "Severity changed from {} to {}",
            text("from").unwrap_or_default(),
            text("to").unwrap_or_default()
        ),
        "commander.changed" => format!("Commander changed to {}", person("to").unwrap_or_default()),
        "comms_lead.changed" => match person("to") {
            Some(who) => format!("Comms lead changed to {who}"),
            None => "Comms lead handed back to the commander".into(),
        },
        "statuspage.published" => "Published on the status page".into(),
        "statuspage.updated" => match text("body").or_else(|| text("text")) {
            Some(said) => format!("Status page updated: {said}"),
            None => "Status page updated".into(),
        },
        "update.posted" => format!("Update: {}", text("text").unwrap_or_default()),
        "note.added" if entry.key => format!("Note: {}", text("text").unwrap_or_default()),
        _ => return None,
    })
}

/// The Timeline section (§6.2): zone stated once, `- HH:MM — <event>`, dates when the
/// incident spans local days.
pub fn timeline_text(
    events: &[Entry],
    name: &dyn Fn(&str) -> String,
    zone: &TimeZone,
    start: Timestamp,
    end: Timestamp,
) -> String {
    let spans_days = start.to_zoned(zone.clone()).date() != end.to_zoned(zone.clone()).date();
    let format = if spans_days {
        "%Y-%m-%d %H:%M"
    } else {
        "%H:%M"
    };
    let mut alerts_seen = std::collections::BTreeSet::new();
    let mut paged = std::collections::BTreeSet::new();
    let mut lines = vec![
        format!("All times {}.", zone_statement(zone, start)),
        String::new(),
    ];
    for entry in events {
        let first = match entry.kind.as_str() {
            "alert.fired" => alerts_seen.insert(entry.data["alert_id"].to_string()),
            "page.sent" => paged.insert(entry.data["person"].to_string()),
            _ => true,
        };
        if let (true, Some(line)) = (first, describe(entry, name)) {
            let at = entry.occurred_at.to_zoned(zone.clone()).strftime(format);
            lines.push(format!("- {at} — {line}"));
        }
    }
    if lines.len() == 2 {
        lines.push(TBD.into());
    }
    lines.join("\n")
}

/// The draft document for a resolved incident (§6.2).
pub fn draft(facts: &Facts<'_>, events: &[Entry]) -> Document {
    let zone = facts.zone;
    let or_tbd = |text: &str| {
        let text = text.trim();
        if text.is_empty() {
            TBD.to_string()
        } else {
            text.to_string()
        }
    };
    let detected = facts.detected_at.to_zoned(zone.clone()).strftime("%H:%M");
    let how = if facts.detected_by_alert {
        "by an alert"
    } else {
        "when the incident was declared"
    };
    let detection = format!(
        "Detected at {detected} {} {how}, {} after impact started.\n\n\
         How to catch it sooner: {TBD}",
        zone_label(zone),
        span_words(facts.detected_at.duration_since(facts.started_at)),
    );
    // Impact: the status page's customer-visible minutes when the incident was published
    // there, then the incident's own impact text; TBD when neither is known.
    let impact = match (facts.impact_minutes, facts.impact.trim()) {
        (Some(minutes), "") => format!("{minutes} customer-visible minutes on the status page."),
        (Some(minutes), text) => {
            format!("{minutes} customer-visible minutes on the status page.\n\n{text}")
        }
        (None, text) => or_tbd(text),
    };
    Document {
        title: facts.title.to_string(),
        date: facts
            .started_at
            .to_zoned(zone.clone())
            .date()
            .strftime("%Y-%m-%d")
            .to_string(),
        duration: duration_text(facts.started_at, facts.resolved_at, zone),
        severity: highest_severity(facts.severity, events)
            .as_str()
            .to_string(),
        on_call: if facts.on_call.is_empty() {
            TBD.to_string()
        } else {
            facts.on_call.join(", ")
        },
        commander: facts.commander.to_string(),
        summary: or_tbd(facts.summary),
        impact,
        detection,
        timeline: timeline_text(
            events,
            facts.name,
            zone,
            facts.started_at,
            facts.resolved_at,
        ),
        root_cause: TBD.into(),
        contributing_factors: TBD.into(),
        went_well: TBD.into(),
        went_wrong: TBD.into(),
        lucky: TBD.into(),
        action_note: String::new(),
    }
}

fn cell(text: &str) -> String {
    one_line(text).replace('|', "\\|")
}

/// The document as Markdown (§6.1), items in the table with their current status.
pub fn render(doc: &Document, status: Status, items: &[ItemRow]) -> String {
    let mut out = format!("# Postmortem: {}\n\n", one_line(&doc.title));
    for (label, value) in [
        ("Date", &doc.date),
        ("Duration", &doc.duration),
        ("Severity", &doc.severity),
        ("On-call", &doc.on_call),
        ("Commander", &doc.commander),
    ] {
        out.push_str(&format!("- **{label}:** {}\n", one_line(value)));
    }
    out.push_str(&format!("- **Status:** {status}\n"));
    for (heading, text) in doc.sections() {
        out.push_str(&format!("\n## {heading}\n\n"));
        if !text.is_empty() {
            out.push_str(text);
            out.push('\n');
        }
    }
    out.push_str("\n## Action items\n\n");
    out.push_str("| Action | Owner | Due | Type | Status |\n");
    out.push_str("| --- | --- | --- | --- | --- |\n");
    for item in items {
        let action = match &item.ticket_url {
            Some(url) => format!("[{}]({})", cell(&item.title), cell(url)),
            None => cell(&item.title),
        };
        let due = item.due.map_or(TBD.to_string(), |d| d.to_string());
        out.push_str(&format!(
            "| {action} | {} | {due} | {} | {} |\n",
            item.owner.as_deref().map_or(TBD.to_string(), cell),
            item.kind.as_str(),
            item.status.label()
        ));
    }
    if !doc.action_note.is_empty() {
        out.push('\n');
        out.push_str(&doc.action_note);
        out.push('\n');
    }
    out
}

/// What [`parse`] read back from a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    pub doc: Document,
    pub status: Option<Status>,
    pub items: Vec<ItemRow>,
}

/// Why a document could not be read back; `line` is 1-based.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

fn split_cells(row: &str) -> Vec<String> {
    let inner = row.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                cell.push('|');
            }
            '|' => cells.push(std::mem::take(&mut cell)),
            c => cell.push(c),
        }
    }
    cells.push(cell);
    cells.into_iter().map(|c| c.trim().to_string()).collect()
}

fn parse_row(row: &str, line: usize) -> Result<ItemRow, ParseError> {
    let fail = |message: String| ParseError { line, message };
    let cells = split_cells(row);
    let [action, owner, due, kind, status] = cells.as_slice() else {
        return Err(fail(format!(
            "an action item row has 5 cells (Action | Owner | Due | Type | Status), not {}",
            cells.len()
        )));
    };
    let linked = action
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(')'))
        .and_then(|rest| rest.rsplit_once("]("));
    let (title, ticket_url) = match linked {
        Some((title, url)) => (title.to_string(), Some(url.to_string())),
        None => (action.clone(), None),
    };
    if title.is_empty() {
        return Err(fail("an action item needs an action".into()));
    }
    let known = |text: &str| (!text.is_empty() && text != TBD).then(|| text.to_string());
    let due = match known(due) {
        Some(text) => Some(
            text.parse::<Date>()
                .map_err(|_| fail(format!("due {text:?} is not a date like 2025-06-30")))?,
        ),
        None => None,
    };
    Ok(ItemRow {
        title,
        ticket_url,
        owner: known(owner),
        due,
        kind: kind.parse().map_err(fail)?,
        status: status.parse().map_err(fail)?,
    })
}

/// Reads a document back from Markdown (the inverse of [`render`]).
pub fn parse(text: &str) -> Result<Parsed, ParseError> {
    let text = text.replace("\r\n", "\n");
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l)).peekable();
    let mut doc = Document::default();
    let mut status = None;
    let mut items = Vec::new();

    // The title, then the header list up to the first section.
    let title = loop {
        match lines.next() {
            Some((_, line)) if line.trim().is_empty() => continue,
            Some((n, line)) => {
                break line.strip_prefix("# Postmortem:").ok_or(ParseError {
                    line: n,
                    message: "the document starts with `# Postmortem: <title>`".into(),
                })?;
            }
            None => {
                return Err(ParseError {
                    line: 1,
                    message: "the document is empty".into(),
                });
            }
        }
    };
    doc.title = title.trim().to_string();
    while let Some((n, line)) = lines.next_if(|(_, l)| !l.starts_with("## ")) {
        let Some(field) = line.trim().strip_prefix("- **") else {
            continue;
        };
        let Some((label, value)) = field.split_once(":**") else {
            continue;
        };
        let value = value.trim().to_string();
        match label.trim() {
            "Date" => doc.date = value,
            "Duration" => doc.duration = value,
            "Severity" => doc.severity = value,
            "On-call" => doc.on_call = value,
            "Commander" => doc.commander = value,
            "Status" => {
                status = Some(
                    value
                        .parse()
                        .map_err(|message| ParseError { line: n, message })?,
                );
            }
            other => {
                return Err(ParseError {
                    line: n,
                    message: format!("unknown header field {other:?}"),
                });
            }
        }
    }

    // Sections: the text up to the next H2; the table rows of "Action items" are items.
    while let Some((n, line)) = lines.next() {
        let Some(heading) = line.strip_prefix("## ") else {
            continue;
        };
        let is_items = heading.trim().eq_ignore_ascii_case("action items");
        let mut body = Vec::new();
        let mut table_rows = 0;
        while let Some((m, line)) = lines.next_if(|(_, l)| !l.starts_with("## ")) {
            if is_items && line.trim_start().starts_with('|') {
                table_rows += 1;
                // Row 1 is the header, row 2 the separator.
                if table_rows > 2 {
                    items.push(parse_row(line, m)?);
                }
            } else {
                body.push(line);
            }
        }
        let slot = doc.section_mut(heading).ok_or(ParseError {
            line: n,
            message: format!("unknown section {:?}", heading.trim()),
        })?;
        *slot = clean(&body.join("\n"));
    }
    Ok(Parsed {
        doc: doc.normalized(),
        status,
        items,
    })
}

/// What a publish still lacks (§6.3); empty when it may be published.
pub fn missing_for_publish(doc: &Document, items: &[ItemRow]) -> Vec<String> {
    let mut missing = Vec::new();
    for (name, text) in [
        ("Summary", &doc.summary),
        ("Impact", &doc.impact),
        ("Timeline", &doc.timeline),
        ("Root cause", &doc.root_cause),
    ] {
        if text.trim().is_empty() || text.contains(TBD) {
            missing.push(format!("{name} still says TBD"));
        }
    }
    for item in items {
        if item.owner.is_none() {
            missing.push(format!("action item {:?} has no owner", item.title));
        }
        if item.due.is_none() {
            missing.push(format!("action item {:?} has no due date", item.title));
        }
    }
    let reason = doc
        .action_note
        .lines()
        .find_map(|line| line.trim().strip_prefix(NO_ITEMS_PREFIX))
        .map(str::trim)
        .unwrap_or("");
    if items.is_empty() && reason.is_empty() {
        missing.push(format!(
            "add an action item, or write \"{NO_ITEMS_PREFIX} <reason>\" under Action items"
        ));
    }
    missing
}

/// The front matter an export starts with (§6.5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrontMatter {
    pub incident: i64,
    pub severity: String,
    pub status: String,
    pub started_at: String,
    pub resolved_at: String,
}

/// An exported file: TOML front matter between `+++` lines, then the document.
pub fn export_text(front: &FrontMatter, body: &str) -> Result<String, String> {
    let toml = toml::to_string(front).map_err(|err| err.to_string())?;
    Ok(format!("+++\n{toml}+++\n\n{body}"))
}

/// Splits an exported file into its front matter and the document.
pub fn split_export(text: &str) -> Result<(FrontMatter, &str), String> {
    let rest = text
        .strip_prefix("+++\n")
        .or_else(|| text.strip_prefix("+++\r\n"))
        .ok_or("the file starts with `+++` front matter")?;
    let end = rest
        .find("\n+++")
        .ok_or("the front matter has no closing `+++`")?;
    let front: FrontMatter =
        toml::from_str(&rest[..end + 1]).map_err(|err| format!("front matter: {err}"))?;
    let body = rest[end + 4..].trim_start_matches(['\r', '\n']);
    Ok((front, body))
}

/// The file name an export writes: `YYYY-MM-DD-inc-<number>-<slug>.md` (§6.5).
pub fn file_name(date: &str, number: i64, title: &str) -> String {
    let mut slug = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= 50 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        format!("{date}-inc-{number}.md")
    } else {
        format!("{date}-inc-{number}-{slug}.md")
    }
}

/// Quiet hours (§0): 22:00–07:00 in the person's zone. A nag due inside moves to the next
/// 09:00 local; outside it stays.
pub fn out_of_quiet_hours(at: Timestamp, zone: &TimeZone) -> Timestamp {
    let local = at.to_zoned(zone.clone());
    let hour = local.hour();
    let day = if hour >= 22 {
        local.date().tomorrow().unwrap_or(local.date())
    } else if hour < 7 {
        local.date()
    } else {
        return at;
    };
    at_local(day, Time::constant(9, 0, 0, 0), zone).unwrap_or(at)
}

fn at_local(day: Date, time: Time, zone: &TimeZone) -> Option<Timestamp> {
    day.to_datetime(time)
        .to_zoned(zone.clone())
        .ok()
        .map(|z| z.timestamp())
}

/// The nominal instant of postmortem reminder number `n` (0-based, §6.3): at
/// `resolved_at + 24 h` (skipped when that is not before due), at due, then daily.
fn nominal_reminder(resolved_at: Timestamp, due: Timestamp, n: i64) -> Timestamp {
    let first = resolved_at + FIRST_REMINDER_AFTER;
    let n = if first < due { n } else { n + 1 };
    match n {
        0 => first,
        n => due + SignedDuration::from_hours(24 * (n - 1)),
    }
}

/// When postmortem reminder `n` goes out, quiet hours applied in the recipient's zone.
pub fn postmortem_reminder(
    resolved_at: Timestamp,
    due: Timestamp,
    n: i64,
    zone: &TimeZone,
) -> Timestamp {
    out_of_quiet_hours(nominal_reminder(resolved_at, due, n), zone)
}

/// What reminder `n` says: before due, at due, or overdue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReminderKind {
    DueSoon,
    DueNow,
    Overdue,
}

pub fn postmortem_reminder_kind(resolved_at: Timestamp, due: Timestamp, n: i64) -> ReminderKind {
    let nominal = nominal_reminder(resolved_at, due, n);
    match nominal.cmp(&due) {
        std::cmp::Ordering::Less => ReminderKind::DueSoon,
        std::cmp::Ordering::Equal => ReminderKind::DueNow,
        std::cmp::Ordering::Greater => ReminderKind::Overdue,
    }
}

/// The due time of a postmortem: `resolved_at + 48 h`; raised to P1/P2 after resolve, the
/// later of that and `now + 24 h` (§6.3).
pub fn due_at(resolved_at: Timestamp, raised_after_resolve: Option<Timestamp>) -> Timestamp {
    due_at_after(resolved_at, raised_after_resolve, DUE_AFTER)
}

/// [`due_at`] with the configured `postmortem.due_after` in place of 48 h.
pub fn due_at_after(
    resolved_at: Timestamp,
    raised_after_resolve: Option<Timestamp>,
    due_after: SignedDuration,
) -> Timestamp {
    let due = resolved_at + due_after;
    match raised_after_resolve {
        Some(now) => due.max(now + FIRST_REMINDER_AFTER),
        None => due,
    }
}

/// When action-item reminder `n` goes out (§6.4): 09:00 owner-local on the due date,
/// then 09:00 on each following weekday.
pub fn item_reminder(due: Date, n: i64, zone: &TimeZone) -> Option<Timestamp> {
    let mut day = due;
    let mut left = n;
    while left > 0 {
        day = day.checked_add(1.day()).ok()?;
        if !matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) {
            left -= 1;
        }
    }
    at_local(day, Time::constant(9, 0, 0, 0), zone)
}

/// Overdue: still open and past its due date in the owner's zone (§6.4).
pub fn item_overdue(
    status: ItemStatus,
    due: Option<Date>,
    now: Timestamp,
    zone: &TimeZone,
) -> bool {
    let today = now.to_zoned(zone.clone()).date();
    status == ItemStatus::Open && due.is_some_and(|due| today > due)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn entry(kind: &str, at: &str, actor: &str, data: serde_json::Value) -> Entry {
        Entry {
            kind: kind.into(),
            occurred_at: ts(at),
            actor: actor.into(),
            key: false,
            data,
        }
    }

    fn name(id: &str) -> String {
        format!("{id} name")
    }

    #[test]
    fn duration_in_words() {
        let utc = TimeZone::UTC;
        assert_eq!(
            duration_text(ts("2025-06-12T14:02:00Z"), ts("2025-06-12T15:19:30Z"), &utc),
            "14:02 to 15:19 UTC (1 hour 17 minutes)"
        );
        assert_eq!(
            duration_text(ts("2025-06-12T23:30:00Z"), ts("2025-06-13T01:30:00Z"), &utc),
            "2025-06-12 23:30 to 2025-06-13 01:30 UTC (2 hours)"
        );
        assert_eq!(span_words(SignedDuration::from_mins(1)), "1 minute");
        assert_eq!(span_words(SignedDuration::from_mins(61)), "1 hour 1 minute");
    }

    #[test]
    fn timeline_keeps_first_page_per_person_and_key_notes_only() {
        let mut key = entry(
            "note.added",
            "2025-06-12T14:30:00Z",
            "ana",
            serde_json::json!({
                "text": "found it"
            }),
        );
        key.key = true;
        let events = [
            entry(
                "page.sent",
                "2025-06-12T14:03:00Z",
                "system",
                serde_json::json!({
                    "person": "ben", "channel": "email"
                }),
            ),
            entry(
                "page.sent",
                "2025-06-12T14:04:00Z",
                "system",
                serde_json::json!({
                    "person": "ben", "channel": "sms"
                }),
            ),
            entry(
                "note.added",
                "2025-06-12T14:20:00Z",
                "ana",
                serde_json::json!({
                    "text": "not key"
                }),
            ),
            key,
        ];
        let text = timeline_text(
            &events,
            &name,
            &TimeZone::UTC,
            ts("2025-06-12T14:00:00Z"),
            ts("2025-06-12T15:00:00Z"),
        );
        assert_eq!(
            text,
            "All times UTC.\n\n- 14:03 — Paged ben name (email)\n- 14:30 — Note: found it"
        );
    }

    #[test]
    fn highest_severity_counts_changes() {
        let events = [entry(
            "severity.changed",
            "2025-06-12T14:03:00Z",
            "ana",
            serde_json::json!({"from": "P2", "to": "P1"}),
        )];
        assert_eq!(highest_severity(Severity::P3, &events), Severity::P1);
        assert_eq!(highest_severity(Severity::P2, &[]), Severity::P2);
    }

    fn sample() -> (Document, Vec<ItemRow>) {
        let doc = Document {
            title: "API | 500s".into(),
            date: "2025-06-12".into(),
            duration: "14:02 to 15:19 UTC (1 hour 17 minutes)".into(),
            severity: "P1".into(),
            on_call: "ben name".into(),
            commander: "chen name".into(),
            summary: "Bad deploy.\n\nRolled back.".into(),
            impact: "TBD".into(),
            detection: "Alert.".into(),
            timeline: "All times UTC.\n\n- 14:02 — x".into(),
            root_cause: "A config typo.\n\n### Details\n\nmore".into(),
            contributing_factors: String::new(),
            went_well: "TBD".into(),
            went_wrong: "TBD".into(),
            lucky: "TBD".into(),
            action_note: String::new(),
        };
        let items = vec![
            ItemRow {
                title: "Add a | canary".into(),
                ticket_url: Some("https://tickets.example.com/OPS-1".into()),
                owner: Some("ana".into()),
                due: Some(Date::constant(2025, 6, 30)),
                kind: ItemType::Prevent,
                status: ItemStatus::Open,
            },
            ItemRow {
                title: "Alert on config".into(),
                ticket_url: None,
                owner: None,
                due: None,
                kind: ItemType::Process,
                status: ItemStatus::WontDo,
            },
        ];
        (doc, items)
    }

    #[test]
    fn markdown_round_trip_is_lossless() {
        let (doc, items) = sample();
        let text = render(&doc, Status::InReview, &items);
        let parsed = parse(&text).unwrap();
        assert_eq!(parsed.doc, doc);
        assert_eq!(parsed.items, items);
        assert_eq!(parsed.status, Some(Status::InReview));
        assert_eq!(render(&parsed.doc, Status::InReview, &parsed.items), text);
    }

    #[test]
    fn parse_refuses_bad_rows_with_line_numbers() {
        let (doc, items) = sample();
        let text = render(&doc, Status::Draft, &items).replace("| 2025-06-30 |", "| soon |");
        let err = parse(&text).unwrap_err();
        assert!(err.message.contains("\"soon\""), "{err}");
        assert!(text.lines().nth(err.line - 1).unwrap().contains("soon"));
    }

    #[test]
    fn publish_lists_everything_missing() {
        let (doc, items) = sample();
        assert_eq!(
            missing_for_publish(&doc, &items),
            [
                "Impact still says TBD",
                "action item \"Alert on config\" has no owner",
                "action item \"Alert on config\" has no due date",
            ]
        );
        let mut done = doc.clone();
        done.impact = "12 minutes of 500s".into();
        assert_eq!(
            missing_for_publish(&done, &[]),
            ["add an action item, or write \"No action items: <reason>\" under Action items"]
        );
        done.action_note = "No action items: a one-off hardware fault.".into();
        assert!(missing_for_publish(&done, &[]).is_empty());
    }

    #[test]
    fn export_front_matter_round_trips() {
        let front = FrontMatter {
            incident: 7,
            severity: "P1".into(),
            status: "draft".into(),
            started_at: "2025-06-12T14:02:00Z".into(),
            resolved_at: "2025-06-12T15:19:00Z".into(),
        };
        let text = export_text(&front, "# Postmortem: x\n").unwrap();
        assert!(
            text.starts_with("+++\nincident = 7\nseverity = \"P1\"\n"),
            "{text}"
        );
        let (back, body) = split_export(&text).unwrap();
        assert_eq!(back, front);
        assert_eq!(body, "# Postmortem: x\n");
        assert_eq!(
            file_name("2025-06-12", 7, "API returns 500s!"),
            "2025-06-12-inc-7-api-returns-500s.md"
        );
    }

    #[test]
    fn quiet_hours_move_to_nine_local() {
        let madrid = TimeZone::get("Europe/Madrid").unwrap();
        // 23:30 Madrid (CEST) → 09:00 the next day.
        assert_eq!(
            out_of_quiet_hours(ts("2025-06-12T21:30:00Z"), &madrid),
            ts("2025-06-13T07:00:00Z")
        );
        // 03:00 Madrid → 09:00 the same day.
        assert_eq!(
            out_of_quiet_hours(ts("2025-06-12T01:00:00Z"), &madrid),
            ts("2025-06-12T07:00:00Z")
        );
        // 07:00 Madrid stays.
        assert_eq!(
            out_of_quiet_hours(ts("2025-06-12T05:00:00Z"), &madrid),
            ts("2025-06-12T05:00:00Z")
        );
    }

    #[test]
    fn postmortem_reminders_at_24h_due_then_daily() {
        let utc = TimeZone::UTC;
        let resolved = ts("2025-06-12T15:00:00Z");
        let due = due_at(resolved, None);
        let at: Vec<Timestamp> = (0..4)
            .map(|n| postmortem_reminder(resolved, due, n, &utc))
            .collect();
        assert_eq!(
            at,
            [
                ts("2025-06-13T15:00:00Z"),
                ts("2025-06-14T15:00:00Z"),
                ts("2025-06-15T15:00:00Z"),
                ts("2025-06-16T15:00:00Z"),
            ]
        );
        assert_eq!(
            postmortem_reminder_kind(resolved, due, 0),
            ReminderKind::DueSoon
        );
        assert_eq!(
            postmortem_reminder_kind(resolved, due, 1),
            ReminderKind::DueNow
        );
        assert_eq!(
            postmortem_reminder_kind(resolved, due, 2),
            ReminderKind::Overdue
        );
        // Raised after resolve with less than a day left: due is now + 24 h, and the
        // +24 h reminder is already due (it goes out at once), then the one at due.
        let now = ts("2025-06-14T10:00:00Z");
        let raised = due_at(resolved, Some(now));
        assert_eq!(raised, ts("2025-06-15T10:00:00Z"));
        assert_eq!(
            postmortem_reminder(resolved, raised, 0, &utc),
            ts("2025-06-13T15:00:00Z")
        );
        assert_eq!(postmortem_reminder(resolved, raised, 1, &utc), raised);
        // Resolved with the +24 h reminder not before due: it is left out.
        let late = ts("2025-06-13T15:00:00Z");
        assert_eq!(postmortem_reminder(resolved, late, 0, &utc), late);
    }

    #[test]
    fn item_reminders_skip_weekends() {
        let zone = TimeZone::get("Europe/Madrid").unwrap();
        // Friday 2025-06-13.
        let due = Date::constant(2025, 6, 13);
        let at: Vec<Timestamp> = (0..3)
            .map(|n| item_reminder(due, n, &zone).unwrap())
            .collect();
        assert_eq!(
            at,
            [
                ts("2025-06-13T07:00:00Z"),
                ts("2025-06-16T07:00:00Z"),
                ts("2025-06-17T07:00:00Z"),
            ]
        );
        assert!(!item_overdue(
            ItemStatus::Open,
            Some(due),
            ts("2025-06-13T21:00:00Z"),
            &zone
        ));
        assert!(item_overdue(
            ItemStatus::Open,
            Some(due),
            ts("2025-06-13T22:30:00Z"),
            &zone
        ));
        assert!(!item_overdue(
            ItemStatus::Done,
            Some(due),
            ts("2025-06-20T00:00:00Z"),
            &zone
        ));
    }

    #[test]
    fn visible_minutes_count_overlapping_spans_once_within_the_window() {
        let spans = [
            (ts("2025-06-12T09:50:00Z"), ts("2025-06-12T10:20:00Z")),
            (ts("2025-06-12T10:10:00Z"), ts("2025-06-12T10:30:00Z")),
            (ts("2025-06-12T10:40:00Z"), ts("2025-06-12T11:30:00Z")),
        ];
        let (from, to) = (ts("2025-06-12T10:00:00Z"), ts("2025-06-12T11:00:00Z"));
        assert_eq!(visible_minutes(from, to, &spans), 50);
        assert_eq!(visible_minutes(from, to, &[]), 0);
    }

    #[test]
    fn the_zone_is_stated_with_its_offset_unless_utc() {
        let at = ts("2025-02-03T08:35:00Z");
        assert_eq!(zone_statement(&TimeZone::UTC, at), "UTC");
        let la = TimeZone::get("America/Los_Angeles").unwrap();
        assert_eq!(
            zone_statement(&la, at),
            "America/Los_Angeles (UTC\u{2212}08:00)"
        );
        let kolkata = TimeZone::get("Asia/Kolkata").unwrap();
        assert_eq!(zone_statement(&kolkata, at), "Asia/Kolkata (UTC+05:30)");
    }
}
