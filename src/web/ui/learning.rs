//! The web UI's learning pages rendered (issues #7 and #6): the postmortem editor, open
//! action items by owner, the runbook list and page, and the runbook block with tickable
//! steps shown on alert and incident pages.
//!
//! Same rules as the rest of `web::ui`: minijinja with HTML auto-escaping through the status
//! page's formatter; the only value marked safe is a runbook body, which went through the
//! status page's Markdown renderer (raw HTML off, link allow-list). Functions take plain
//! values and return text; `http::ui` fetches the data and checks who may do what.

use minijinja::Value;
use serde::Serialize;

use super::{Me, render, utc};
use crate::config::Config;
use crate::domain::accounts::Role;
use crate::domain::incident::Severity;
use crate::domain::postmortem::{Document, ItemStatus, ItemType};
use crate::domain::runbook::Runbook;
use crate::engine::postmortems::Full;
use crate::store::action_items::ActionItem;
use crate::store::alerts::TimelineEntry;
use crate::web::statuspage::markdown;

/// The timeline kind a runbook step tick is recorded as (comms spec §5.2).
pub const STEP_EVENT: &str = "runbook.step";

fn name(config: &Config, id: &str) -> String {
    config
        .person(id)
        .map_or_else(|| id.to_string(), |person| person.name.clone())
}

#[derive(Serialize)]
struct Field<'a> {
    key: &'static str,
    label: &'static str,
    text: &'a str,
}

/// The document's header fields, shown read-only.
fn header(doc: &Document) -> Vec<Field<'_>> {
    vec![
        field("title", "Title", &doc.title),
        field("date", "Date", &doc.date),
        field("duration", "Duration", &doc.duration),
        field("severity", "Severity", &doc.severity),
        field("on_call", "On call", &doc.on_call),
        field("commander", "Commander", &doc.commander),
    ]
}

fn field<'a>(key: &'static str, label: &'static str, text: &'a str) -> Field<'a> {
    Field { key, label, text }
}

/// The editable sections: form field name, label, and the document field it fills.
pub const SECTIONS: [(&str, &str); 10] = [
    ("summary", "Summary"),
    ("impact", "Impact"),
    ("detection", "Detection"),
    ("timeline", "Timeline"),
    ("root_cause", "Root cause"),
    ("contributing_factors", "Contributing factors"),
    ("went_well", "What went well"),
    ("went_wrong", "What went wrong"),
    ("lucky", "Where we got lucky"),
    (
        "action_note",
        "Action items note (e.g. \"No action items: <reason>\")",
    ),
];

/// The document field behind editable section `key`.
pub fn section_mut<'a>(doc: &'a mut Document, key: &str) -> Option<&'a mut String> {
    Some(match key {
        "summary" => &mut doc.summary,
        "impact" => &mut doc.impact,
        "detection" => &mut doc.detection,
        "timeline" => &mut doc.timeline,
        "root_cause" => &mut doc.root_cause,
        "contributing_factors" => &mut doc.contributing_factors,
        "went_well" => &mut doc.went_well,
        "went_wrong" => &mut doc.went_wrong,
        "lucky" => &mut doc.lucky,
        "action_note" => &mut doc.action_note,
        _ => return None,
    })
}

#[derive(Serialize)]
struct ItemView<'a> {
    id: &'a str,
    position: i64,
    number: i64,
    title: &'a str,
    kind: &'static str,
    owner: String,
    /// The owner's person id, empty for nobody (the edit form's value).
    owner_id: &'a str,
    due: String,
    ticket_url: &'a str,
    status: &'static str,
    reason: Option<&'a str>,
    overdue: bool,
}

fn item_view<'a>(config: &Config, item: &'a ActionItem, overdue: bool) -> ItemView<'a> {
    ItemView {
        id: &item.id,
        position: item.position,
        number: item.incident_number,
        title: &item.title,
        kind: item.kind.as_str(),
        owner: item
            .owner
            .as_deref()
            .map_or_else(String::new, |o| name(config, o)),
        owner_id: item.owner.as_deref().unwrap_or(""),
        due: item.due.map(|d| d.to_string()).unwrap_or_default(),
        ticket_url: item.ticket_url.as_deref().unwrap_or(""),
        status: item.status.as_str(),
        reason: item.reason.as_deref(),
        overdue,
    }
}

/// `/ui/incidents/{number}/postmortem`: header read-only, sections as textareas and the
/// action items with their forms for responders while the postmortem is open, and what
/// publishing still misses when it was just refused.
pub fn postmortem(config: &Config, me: &Me<'_>, full: &Full, refusals: &[String]) -> String {
    #[derive(Serialize)]
    struct PmView<'a> {
        number: i64,
        title: &'a str,
        status: &'static str,
        owner: String,
        owner_id: &'a str,
        due: String,
        header: Vec<Field<'a>>,
        sections: Vec<Field<'a>>,
        skip_reason: Option<&'a str>,
        may_skip: bool,
    }
    #[derive(Serialize)]
    struct Person<'a> {
        id: &'a str,
        name: &'a str,
    }
    #[derive(Serialize)]
    struct Page<'a> {
        me: &'a Me<'a>,
        can_edit: bool,
        pm: PmView<'a>,
        items: Vec<ItemView<'a>>,
        kinds: Vec<&'static str>,
        people: Vec<Person<'a>>,
        refusals: &'a [String],
    }
    let pm = &full.postmortem;
    let doc = &pm.document;
    let sections = SECTIONS
        .iter()
        .map(|(key, label)| {
            let text = match *key {
                "summary" => &doc.summary,
                "impact" => &doc.impact,
                "detection" => &doc.detection,
                "timeline" => &doc.timeline,
                "root_cause" => &doc.root_cause,
                "contributing_factors" => &doc.contributing_factors,
                "went_well" => &doc.went_well,
                "went_wrong" => &doc.went_wrong,
                "lucky" => &doc.lucky,
                _ => &doc.action_note,
            };
            field(key, label, text)
        })
        .collect();
    let kinds = [ItemType::Prevent, ItemType::Mitigate, ItemType::Process];
    render(
        "postmortem.html",
        Page {
            me,
            can_edit: me.role.allows(Role::Responder) && pm.status.is_open(),
            pm: PmView {
                number: full.incident.number,
                title: &full.incident.title,
                status: pm.status.as_str(),
                owner: name(config, &pm.owner),
                owner_id: &pm.owner,
                due: utc(pm.due_at),
                header: header(doc),
                sections,
                skip_reason: pm.skip_reason.as_deref(),
                may_skip: full.incident.severity == Severity::P3,
            },
            items: full
                .items
                .iter()
                .map(|item| item_view(config, item, false))
                .collect(),
            kinds: kinds.iter().map(|k| k.as_str()).collect(),
            people: config
                .people
                .values()
                .map(|p| Person {
                    id: &p.id,
                    name: &p.name,
                })
                .collect(),
            refusals,
        },
    )
}

/// `/ui/actions`: open action items grouped by owner (by name, unassigned last), each
/// with whether it is overdue.
pub fn actions(config: &Config, me: &Me<'_>, items: &[(ActionItem, bool)]) -> String {
    #[derive(Serialize)]
    struct Group<'a> {
        owner: String,
        items: Vec<ItemView<'a>>,
    }
    #[derive(Serialize)]
    struct Page<'a> {
        me: &'a Me<'a>,
        owners: Vec<Group<'a>>,
    }
    let mut sorted: Vec<&(ActionItem, bool)> = items
        .iter()
        .filter(|(item, _)| item.status == ItemStatus::Open)
        .collect();
    let owner_of = |item: &ActionItem| {
        item.owner
            .as_deref()
            .map(|o| name(config, o))
            .unwrap_or_default()
    };
    sorted.sort_by_key(|(item, _)| {
        let owner = owner_of(item);
        (
            owner.is_empty(),
            owner,
            item.due,
            item.incident_number,
            item.position,
        )
    });
    let mut owners: Vec<Group<'_>> = Vec::new();
    for (item, overdue) in sorted {
        let owner = Some(owner_of(item))
            .filter(|o| !o.is_empty())
            .unwrap_or_else(|| "Unassigned".to_string());
        let view = item_view(config, item, *overdue);
        match owners.last_mut() {
            Some(group) if group.owner == owner => group.items.push(view),
            _ => owners.push(Group {
                owner,
                items: vec![view],
            }),
        }
    }
    render("actions.html", Page { me, owners })
}

#[derive(Serialize)]
struct RunbookView<'a> {
    slug: &'a str,
    title: &'a str,
    file: &'a str,
    owner: &'a str,
    last_updated: String,
    covers: String,
    body: Value,
}

fn runbook_view(runbook: &Runbook) -> RunbookView<'_> {
    let mut covers: Vec<String> = runbook.alerts.clone();
    covers.extend(runbook.matchers.iter().map(|m| m.to_string()));
    RunbookView {
        slug: &runbook.slug,
        title: &runbook.title,
        file: &runbook.file,
        owner: runbook.owner.as_deref().unwrap_or("unassigned"),
        last_updated: runbook.last_updated.to_string(),
        covers: covers.join(", "),
        // The one value marked safe: the sanitising Markdown renderer's output.
        body: Value::from_safe_string(markdown::render(&runbook.body)),
    }
}

/// `/ui/runbooks`: every runbook with its owner, last update and what it covers.
pub fn runbooks(me: &Me<'_>, all: &[Runbook]) -> String {
    #[derive(Serialize)]
    struct Page<'a> {
        me: &'a Me<'a>,
        runbooks: Vec<RunbookView<'a>>,
    }
    let mut runbooks: Vec<RunbookView<'_>> = all.iter().map(runbook_view).collect();
    runbooks.sort_by(|a, b| a.slug.cmp(b.slug));
    render("runbooks.html", Page { me, runbooks })
}

/// `/ui/runbooks/{slug}`: the runbook rendered.
pub fn runbook(me: &Me<'_>, runbook: &Runbook) -> String {
    #[derive(Serialize)]
    struct Page<'a> {
        me: &'a Me<'a>,
        runbook: RunbookView<'a>,
    }
    let runbook = runbook_view(runbook);
    render("runbook.html", Page { me, runbook })
}

/// The tickable steps of a runbook: each numbered item under `Diagnosis steps` and each
/// `### If …` heading under `Remediation` (comms spec §5.2), as written. Code blocks are
/// skipped so a numbered line inside one is not a step.
pub fn steps(body: &str) -> Vec<String> {
    let mut steps = Vec::new();
    let mut section = String::new();
    let mut in_code = false;
    for line in body.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        if let Some(heading) = trimmed.strip_prefix("## ") {
            section = heading.trim().to_lowercase();
            continue;
        }
        if section == "diagnosis steps" {
            let digits = trimmed.chars().take_while(char::is_ascii_digit).count();
            if digits > 0
                && let Some(rest) = trimmed[digits..].strip_prefix(". ")
                && !rest.trim().is_empty()
            {
                steps.push(rest.trim().to_string());
            }
        } else if section == "remediation"
            && let Some(branch) = trimmed.strip_prefix("### ")
            && !branch.trim().is_empty()
        {
            steps.push(branch.trim().to_string());
        }
    }
    steps
}

/// Who ticked `step` of runbook `slug` on this alert timeline, if anyone did.
pub fn ticked_by<'a>(timeline: &'a [TimelineEntry], slug: &str, step: &str) -> Option<&'a str> {
    timeline
        .iter()
        .find(|entry| {
            entry.kind == STEP_EVENT
                && entry.detail.get("runbook").and_then(|v| v.as_str()) == Some(slug)
                && entry.detail.get("step").and_then(|v| v.as_str()) == Some(step)
        })
        .map(|entry| {
            entry
                .detail
                .get("ticked_by")
                .and_then(|v| v.as_str())
                .or(entry.actor.as_deref())
                .unwrap_or("?")
        })
}

/// The covering runbook of alert `alert_id` as a page section: the rendered body, then
/// its steps, ticked ones with who ticked them, the others with a tick form for
/// responders; after a tick the browser goes back to `back` (the page showing it).
pub fn runbook_block(
    me: &Me<'_>,
    back: &str,
    alert_id: i64,
    runbook: &Runbook,
    timeline: &[TimelineEntry],
) -> String {
    #[derive(Serialize)]
    struct Step<'a> {
        text: String,
        ticked_by: Option<&'a str>,
    }
    #[derive(Serialize)]
    struct Block<'a> {
        me: &'a Me<'a>,
        can_act: bool,
        back: &'a str,
        alert_id: i64,
        runbook: RunbookView<'a>,
        steps: Vec<Step<'a>>,
    }
    let steps = steps(&runbook.body)
        .into_iter()
        .map(|text| {
            let ticked_by = ticked_by(timeline, &runbook.slug, &text);
            Step { text, ticked_by }
        })
        .collect();
    render(
        "runbook_block.html",
        Block {
            me,
            can_act: me.role.allows(Role::Responder),
            back,
            alert_id,
            runbook: runbook_view(runbook),
            steps,
        },
    )
}

/// `page` with `blocks` placed before its timeline section (after the alert or incident
/// facts and forms), or before the end of `<main>` if it has none. Blocks are rendered
/// templates, and user text in `page` is escaped, so the marker is always the template's.
pub fn with_blocks(page: String, blocks: &[String]) -> String {
    if blocks.is_empty() {
        return page;
    }
    let joined = blocks.concat();
    for marker in ["<section id=\"timeline\">", "</main>"] {
        if let Some(at) = page.find(marker) {
            let mut out = String::with_capacity(page.len() + joined.len());
            out.push_str(&page[..at]);
            out.push_str(&joined);
            out.push_str(&page[at..]);
            return out;
        }
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "# Runbook: Disk full\n\n## Diagnosis steps\n\n\
        1. Check the volume: `df -h`.\n2. Find what grew.\n\n```\n3. not a step\n```\n\n\
        ## Remediation\n\n### If logs fill the disk:\n\nRun: `x`\n\n\
        ### If uploads fill the disk:\n\n## Escalate to\n\n1. not a step either\n";

    #[test]
    fn steps_are_diagnosis_items_and_remediation_branches() {
        assert_eq!(
            steps(BODY),
            [
                "Check the volume: `df -h`.",
                "Find what grew.",
                "If logs fill the disk:",
                "If uploads fill the disk:",
            ]
        );
    }

    #[test]
    fn blocks_go_before_the_timeline() {
        let page = "<main><p>a</p><section id=\"timeline\">t</section></main>".to_string();
        let out = with_blocks(page, &["<b>x</b>".to_string()]);
        assert_eq!(
            out,
            "<main><p>a</p><b>x</b><section id=\"timeline\">t</section></main>"
        );
    }
}
