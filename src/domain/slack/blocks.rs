//! Slack messages for incidents as Block Kit JSON (comms spec §2.3, §2.4, §2.6, §2.8): the
//! announcement, the thread replies that follow it, the declare modal, and [`validate`],
//! which checks Slack's limits (message or modal) before anything is sent.
//!
//! Every piece of user text (titles, names, notes, summaries) goes through
//! [`crate::domain::escape::mrkdwn`], so `<!channel>` or `<https://evil|bank>` typed by a
//! person arrives as text, never as a mention or a link. Text that does not fit is cut at a
//! grapheme boundary with `…` and, where Slack's limit forced it, a link to the full text.

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::domain::escape::mrkdwn;
use crate::domain::incident::Status;
use crate::store::incidents::{Event, Incident};

/// Block Kit limits (comms spec §2.6), in characters.
pub mod limits {
    pub const BLOCKS: usize = 50;
    pub const HEADER: usize = 150;
    pub const SECTION_TEXT: usize = 3000;
    pub const FIELDS: usize = 10;
    pub const FIELD_TEXT: usize = 2000;
    pub const ACTION_ELEMENTS: usize = 25;
    pub const CONTEXT_ELEMENTS: usize = 10;
    pub const BUTTON_TEXT: usize = 75;
    pub const BUTTON_VALUE: usize = 2000;
    pub const BUTTON_URL: usize = 3000;
    pub const ID: usize = 255;
    /// Slack truncates `text` past 40 000; we stay far below.
    pub const TEXT: usize = 4000;
    pub const MODAL_BLOCKS: usize = 100;
    /// A modal's `title`, `submit` and `close`.
    pub const MODAL_TITLE: usize = 24;
    pub const PRIVATE_METADATA: usize = 3000;
    /// An input block's `label`.
    pub const LABEL: usize = 2000;
    /// Options of a static select; an option's text.
    pub const OPTIONS: usize = 100;
    pub const OPTION_TEXT: usize = 75;
}

/// The action ids of the announcement's buttons; the value is always the incident's ULID.
pub mod action {
    pub const ACK: &str = "incident.ack";
    pub const RESOLVE: &str = "incident.resolve";
    pub const CLAIM_COMMANDER: &str = "incident.claim_commander";
    pub const UPDATE: &str = "incident.update";
    pub const PUBLISH: &str = "incident.publish";
}

/// The declare modal (§2.3): its `callback_id` and the `block_id`s of its inputs, which
/// `view_submission` reads and names in `response_action: errors`. Each input's element
/// has `action_id` `value`.
pub mod declare {
    pub const CALLBACK_ID: &str = "incident.declare";
    pub const TITLE: &str = "declare.title";
    pub const SEVERITY: &str = "declare.severity";
    pub const SUMMARY: &str = "declare.summary";
    pub const IMPACT: &str = "declare.impact";
    pub const SERVICES: &str = "declare.services";
    pub const COMMANDER: &str = "declare.commander";
    pub const PAGE: &str = "declare.page";
    /// The action id of every input's element.
    pub const VALUE: &str = "value";
    /// The value of the "page on-call" checkbox option.
    pub const PAGE_ON: &str = "page";
}

/// The update modal (§2.5): one internal status update.
pub mod update {
    pub const CALLBACK_ID: &str = "incident.update";
    pub const TEXT: &str = "update.text";
}

/// The publish modal (§2.5): the public name (first publish only), status and message.
pub mod publish {
    pub const CALLBACK_ID: &str = "incident.publish";
    pub const NAME: &str = "publish.name";
    pub const STATUS: &str = "publish.status";
    pub const BODY: &str = "publish.body";
}

fn plain(text: &str) -> Value {
    json!({"type": "plain_text", "text": text})
}

fn input(block_id: &str, label: &str, optional: bool, element: Value) -> Value {
    json!({
        "type": "input",
        "block_id": block_id,
        "label": plain(label),
        "optional": optional,
        "element": element,
    })
}

/// The `incident.declare` modal (§2.3): title (pre-filled with `title`), severity, what
/// happened, impact, services (`(id, name)`, the first [`limits::OPTIONS`]) and "page
/// on-call", checked. `private_metadata` is passed through as is.
/// A commander picker (`users_select`, mapped through `slack_id` at submission) comes after
/// the services; left empty, the declarer commands.
pub fn declare_modal(
    title: Option<&str>,
    services: &[(String, String)],
    private_metadata: &str,
) -> Value {
    let mut title_element = json!({
        "type": "plain_text_input",
        "action_id": declare::VALUE,
        "max_length": crate::domain::incident::MAX_TITLE_CHARS,
    });
    if let Some(title) = title.filter(|t| !t.is_empty()) {
        title_element["initial_value"] = json!(title);
    }
    let severity = |value: &str, text: &str| json!({"text": plain(text), "value": value});
    let long_text = || {
        json!({"type": "plain_text_input", "action_id": declare::VALUE, "multiline": true,
               "max_length": limits::SECTION_TEXT})
    };
    let mut blocks = vec![
        input(declare::TITLE, "Title", false, title_element),
        input(
            declare::SEVERITY,
            "Severity",
            false,
            json!({
                "type": "static_select",
                "action_id": declare::VALUE,
                "placeholder": plain("How bad is it?"),
                "options": [
                    severity("P1", "P1 · outage"),
                    severity("P2", "P2 · major degradation"),
                    severity("P3", "P3 · minor"),
                ],
            }),
        ),
        input(declare::SUMMARY, "What happened", true, long_text()),
        input(declare::IMPACT, "Impact", true, long_text()),
    ];
    // A select without options is invalid Block Kit: no services, no block.
    if !services.is_empty() {
        let options: Vec<Value> = services
            .iter()
            .take(limits::OPTIONS)
            .map(|(id, name)| {
                let (text, _) = fit_chars(name, limits::OPTION_TEXT);
                json!({"text": plain(&text), "value": id})
            })
            .collect();
        blocks.push(input(
            declare::SERVICES,
            "Services",
            true,
            json!({"type": "multi_static_select", "action_id": declare::VALUE,
                   "placeholder": plain("Affected services"), "options": options}),
        ));
    }
    blocks.push(input(
        declare::COMMANDER,
        "Commander",
        true,
        json!({"type": "users_select", "action_id": declare::VALUE,
               "placeholder": plain("You, unless you pick someone")}),
    ));
    // TODO(#5): follow the chosen severity (dispatch_action + `views.update`): on for
    // P1/P2, off for P3; today "checked" means the severity's default (P1/P2 page).
    let page = json!({"text": plain("Page on-call (P1/P2)"), "value": declare::PAGE_ON});
    blocks.push(input(
        declare::PAGE,
        "Paging",
        true,
        json!({"type": "checkboxes", "action_id": declare::VALUE,
               "options": [page], "initial_options": [page]}),
    ));
    json!({
        "type": "modal",
        "callback_id": declare::CALLBACK_ID,
        "title": plain("Declare an incident"),
        "submit": plain("Declare"),
        "close": plain("Cancel"),
        "private_metadata": private_metadata,
        "blocks": blocks,
    })
}

/// A modal's title: Slack allows 24 characters.
fn modal_title(text: &str) -> Value {
    plain(&fit_chars(text, limits::MODAL_TITLE).0)
}

/// The `incident.update` modal for `incident`.
pub fn update_modal(incident: &Incident, private_metadata: &str) -> Value {
    let text = json!({"type": "plain_text_input", "action_id": declare::VALUE,
        "multiline": true, "max_length": limits::SECTION_TEXT,
        "placeholder": plain("What changed, what is next")});
    json!({
        "type": "modal",
        "callback_id": update::CALLBACK_ID,
        "title": modal_title(&format!("Update #{}", incident.number)),
        "submit": plain("Post"),
        "close": plain("Cancel"),
        "private_metadata": private_metadata,
        "blocks": [input(update::TEXT, "Internal update", false, text)],
    })
}

/// The `incident.publish` modal: on first publish also the public name (pre-filled with
/// the title); the status starts at the internal one.
pub fn publish_modal(incident: &Incident, published: bool, private_metadata: &str) -> Value {
    let option = |value: &str, text: &str| json!({"text": plain(text), "value": value});
    let options = [
        option("investigating", "Investigating"),
        option("identified", "Identified"),
        option("monitoring", "Monitoring"),
        option("resolved", "Resolved"),
    ];
    let current = match incident.status {
        Status::Identified => 1,
        Status::Monitoring => 2,
        Status::Resolved | Status::Closed => 3,
        Status::Investigating => 0,
    };
    let mut blocks = Vec::new();
    if !published {
        let (name, _) = fit_chars(&incident.title, crate::domain::incident::MAX_TITLE_CHARS);
        blocks.push(input(
            publish::NAME,
            "Public name",
            false,
            json!({"type": "plain_text_input", "action_id": declare::VALUE,
                   "initial_value": name,
                   "max_length": crate::domain::incident::MAX_TITLE_CHARS}),
        ));
    }
    blocks.push(input(
        publish::STATUS,
        "Public status",
        false,
        json!({"type": "static_select", "action_id": declare::VALUE,
               "options": options, "initial_option": options[current].clone()}),
    ));
    blocks.push(input(
        publish::BODY,
        "Message to customers",
        false,
        json!({"type": "plain_text_input", "action_id": declare::VALUE, "multiline": true,
               "max_length": limits::SECTION_TEXT}),
    ));
    let title = if published {
        "Status page update"
    } else {
        "Publish incident"
    };
    json!({
        "type": "modal",
        "callback_id": publish::CALLBACK_ID,
        "title": modal_title(title),
        "submit": plain(if published { "Post" } else { "Publish" }),
        "close": plain("Cancel"),
        "private_metadata": private_metadata,
        "blocks": blocks,
    })
}

/// A person as a message names them: a mention when they linked Slack, else their name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Who {
    pub name: String,
    pub slack_id: Option<String>,
}

impl Who {
    /// `<@U…>`, or the escaped name.
    pub fn mention(&self) -> String {
        match &self.slack_id {
            Some(id) => format!("<@{id}>"),
            None => mrkdwn(&self.name),
        }
    }
}

/// A labelled link (an alert, a runbook, a signed action).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub label: String,
    pub url: String,
}

/// What the buttons do: interactive in app mode; `url` buttons in webhook-only mode, where
/// Slack sends no clicks back (§2.8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Buttons {
    Interactive,
    Links(Vec<Link>),
}

/// What the announcement shows besides the incident row itself.
#[derive(Clone, Debug)]
pub struct Extra {
    pub commander: Who,
    pub comms_lead: Option<Who>,
    /// The incident's page in dutybell.
    pub incident_url: String,
    /// The public status page incident, once published.
    pub status_page_url: Option<String>,
    /// Service display names.
    pub services: Vec<String>,
    /// Attached alerts, as `#A-7` (plain text: alert pages are per-recipient links).
    pub alerts: Vec<String>,
    pub runbooks: Vec<Link>,
    pub buttons: Buttons,
}

/// `P1 · #42`: severity and number, as every message names the incident.
fn tag(incident: &Incident) -> String {
    format!("{} · #{}", incident.severity, incident.number)
}

/// Slack's longest channel name.
const MAX_CHANNEL_NAME: usize = 80;

/// `inc-<number>-<slug of title>` (comms spec §2.7): lowercase ASCII letters and digits,
/// everything else one `-`, at most 80 characters with room kept for a `-10` suffix.
pub fn channel_name(number: i64, title: &str) -> String {
    let mut slug = String::new();
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
            slug.push(c);
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let prefix = format!("inc-{number}");
    let room = MAX_CHANNEL_NAME.saturating_sub(prefix.len() + 1 + 3);
    let slug: String = slug.trim_matches('-').chars().take(room).collect();
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        prefix
    } else {
        format!("{prefix}-{slug}")
    }
}

/// The `attempt`-th name to try: the name itself, then `-2`, `-3` … when taken.
pub fn numbered_channel_name(name: &str, attempt: usize) -> String {
    if attempt <= 1 {
        name.to_string()
    } else {
        format!("{name}-{attempt}")
    }
}

/// The header line, at most [`limits::HEADER`] characters.
pub fn header_text(incident: &Incident) -> String {
    let prefix = format!(":rotating_light: {} · ", tag(incident));
    let budget = limits::HEADER.saturating_sub(prefix.chars().count());
    format!("{prefix}{}", fit_escaped(&incident.title, budget).0)
}

/// The announcement (§2.4) as `{"text", "blocks"}`.
pub fn announcement(incident: &Incident, extra: &Extra) -> Value {
    let status_page = match &extra.status_page_url {
        Some(url) => link(url, "Published"),
        None => "not published".to_string(),
    };
    let comms = extra
        .comms_lead
        .as_ref()
        .map_or_else(|| "_the commander_".to_string(), Who::mention);
    let fields = [
        ("Status", status_word(incident.status).to_string()),
        ("Severity", incident.severity.to_string()),
        ("Commander", extra.commander.mention()),
        ("Comms lead", comms),
        ("Started", slack_date(incident.started_at)),
        ("Status page", status_page),
    ];
    let fields: Vec<Value> = fields
        .into_iter()
        .map(|(name, value)| json!({"type": "mrkdwn", "text": format!("*{name}*\n{value}")}))
        .collect();

    let mut blocks = vec![
        json!({"type": "header", "block_id": "incident.header",
               "text": {"type": "plain_text", "text": header_text(incident), "emoji": true}}),
        json!({"type": "section", "block_id": "incident.fields", "fields": fields}),
        long_section(
            "incident.summary",
            "What happened",
            &incident.summary,
            &extra.incident_url,
        ),
        long_section(
            "incident.impact",
            "Impact",
            &incident.impact,
            &extra.incident_url,
        ),
        json!({"type": "context", "block_id": "incident.context",
               "elements": context(incident, extra)}),
    ];
    let buttons = match &extra.buttons {
        Buttons::Interactive => interactive_buttons(incident),
        Buttons::Links(links) => links
            .iter()
            .enumerate()
            .map(|(i, l)| url_button(&l.label, &format!("incident.link.{i}"), &l.url))
            .collect(),
    };
    if !buttons.is_empty() {
        blocks
            .push(json!({"type": "actions", "block_id": "incident.actions", "elements": buttons}));
    }

    let text = format!(
        "{} incident #{}: {} (commander: {})",
        incident.severity,
        incident.number,
        mrkdwn(&incident.title),
        mrkdwn(&extra.commander.name)
    );
    json!({"text": text, "blocks": blocks})
}

fn context(incident: &Incident, extra: &Extra) -> Vec<Value> {
    let list = |links: &[Link]| {
        links
            .iter()
            .map(|l| link(&l.url, &l.label))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = Vec::new();
    if !extra.services.is_empty() {
        let names: Vec<String> = extra.services.iter().map(|s| mrkdwn(s)).collect();
        parts.push(format!("Services: {}", names.join(", ")));
    }
    if !extra.alerts.is_empty() {
        let labels: Vec<String> = extra.alerts.iter().map(|a| mrkdwn(a)).collect();
        parts.push(format!("Alerts: {}", labels.join(", ")));
    }
    if !extra.runbooks.is_empty() {
        parts.push(format!("Runbooks: {}", list(&extra.runbooks)));
    }
    parts.push(link(
        &extra.incident_url,
        &format!("Incident #{}", incident.number),
    ));
    parts
        .into_iter()
        .map(|text| {
            let (text, _) = fit_chars(&text, limits::FIELD_TEXT);
            json!({"type": "mrkdwn", "text": text})
        })
        .collect()
}

fn interactive_buttons(incident: &Incident) -> Vec<Value> {
    let id = incident.id.as_str();
    let mut buttons = Vec::new();
    if incident.status.is_open() {
        let mut ack = button("Ack", action::ACK, id);
        ack["style"] = json!("primary");
        let mut resolve = button("Resolve", action::RESOLVE, id);
        resolve["style"] = json!("danger");
        resolve["confirm"] = json!({
            "title": {"type": "plain_text", "text": format!("Resolve #{}?", incident.number)},
            "text": {"type": "plain_text",
                     "text": "User impact is over. The postmortem clock starts now."},
            "confirm": {"type": "plain_text", "text": "Resolve"},
            "deny": {"type": "plain_text", "text": "Cancel"},
            "style": "danger",
        });
        buttons.push(ack);
        buttons.push(resolve);
        buttons.push(button("Claim commander", action::CLAIM_COMMANDER, id));
    }
    buttons.push(button("Post update", action::UPDATE, id));
    let publish = if incident.public_incident_id.is_some() {
        "Update status page"
    } else {
        "Publish to status page"
    };
    buttons.push(button(publish, action::PUBLISH, id));
    buttons
}

fn button(text: &str, action_id: &str, value: &str) -> Value {
    json!({"type": "button", "text": {"type": "plain_text", "text": text},
           "action_id": action_id, "value": value})
}

fn url_button(text: &str, action_id: &str, url: &str) -> Value {
    let (text, _) = fit_chars(text, limits::BUTTON_TEXT);
    json!({"type": "button", "text": {"type": "plain_text", "text": text},
           "action_id": action_id, "url": url})
}

/// A section with a bold heading over user Markdown, cut to fit with a link to the rest.
fn long_section(block_id: &str, heading: &str, body: &str, more_url: &str) -> Value {
    let head = format!("*{heading}*\n");
    let body = body.trim();
    let text = if body.is_empty() {
        format!("{head}_not written yet_")
    } else {
        let more = format!(" {}", link(more_url, "full text"));
        let whole = limits::SECTION_TEXT.saturating_sub(head.chars().count());
        match fit_escaped(body, whole) {
            (fitted, false) => format!("{head}{fitted}"),
            (_, true) => {
                let budget = whole.saturating_sub(more.chars().count());
                format!("{head}{}{more}", fit_escaped(body, budget).0)
            }
        }
    };
    json!({"type": "section", "block_id": block_id, "text": {"type": "mrkdwn", "text": text}})
}

/// `<url|label>` with both escaped for `mrkdwn`.
pub fn link(url: &str, label: &str) -> String {
    // `|` would end the URL early; it is not valid unencoded in a URL anyway.
    format!("<{}|{}>", mrkdwn(&url.replace('|', "%7C")), mrkdwn(label))
}

/// A date Slack shows in each reader's zone; the fallback after `|` is UTC.
pub fn slack_date(at: Timestamp) -> String {
    format!(
        "<!date^{}^{{date_short}} {{time}}|{} UTC>",
        at.as_second(),
        at.strftime("%Y-%m-%d %H:%M")
    )
}

/// `Investigating`, `Identified`, …
pub fn status_word(status: Status) -> &'static str {
    match status {
        Status::Investigating => "Investigating",
        Status::Identified => "Identified",
        Status::Monitoring => "Monitoring",
        Status::Resolved => "Resolved",
        Status::Closed => "Closed",
    }
}

/// A thread reply for one timeline event, or `None` for kinds that get no reply. `who`
/// names a person id. Resolutions are broadcast to the channel too (second value).
pub fn thread_reply(
    incident: &Incident,
    event: &Event,
    who: &dyn Fn(&str) -> Who,
) -> Option<(Value, bool)> {
    let data = &event.data;
    let text_of = |key: &str| data.get(key).and_then(Value::as_str).unwrap_or_default();
    let actor = who(&event.actor).mention();
    let body = |text: &str, budget: usize| fit_escaped(text.trim(), budget).0;
    let mut broadcast = false;
    let line = match event.kind.as_str() {
        "update.posted" => format!("*Update* from {actor}:\n{}", body(text_of("text"), 2800)),
        "note.added" => {
            let icon = if event.key { ":key:" } else { ":memo:" };
            format!(
                "{icon} *Note* from {actor}:\n{}",
                body(text_of("text"), 2800)
            )
        }
        "status.changed" => {
            let to: Status = text_of("to").parse().ok()?;
            let from = text_of("from").parse().map_or("?", status_word);
            broadcast = to == Status::Resolved;
            let mut line = format!("*Status:* {from} → *{}* ({actor})", status_word(to));
            if to == Status::Resolved {
                line = format!(":white_check_mark: #{} resolved. {line}", incident.number);
            }
            let text = text_of("text");
            if !text.trim().is_empty() {
                line = format!("{line}\n{}", body(text, 2500));
            }
            line
        }
        "severity.changed" => format!(
            "*Severity:* {} → *{}* ({actor})",
            mrkdwn(text_of("from")),
            mrkdwn(text_of("to"))
        ),
        "commander.changed" => format!(
            "*Commander:* {} → {} ({actor})",
            who(text_of("from")).mention(),
            who(text_of("to")).mention()
        ),
        "comms_lead.changed" => {
            let name = |key: &str| match data.get(key).and_then(Value::as_str) {
                Some(id) => who(id).mention(),
                None => "_the commander_".to_string(),
            };
            format!("*Comms lead:* {} → {} ({actor})", name("from"), name("to"))
        }
        "statuspage.published" => format!("*Published* to the status page ({actor})"),
        _ => return None,
    };
    let fallback = format!(
        "#{} {}",
        incident.number,
        fit_chars(&line, limits::TEXT - 20).0
    );
    let message = json!({
        "text": fallback,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": line}}],
    });
    Some((message, broadcast))
}

/// Whether `event` changes what the announcement shows (§2.4: status, severity, roles,
/// summary, impact, status page link).
pub fn rerenders(kind: &str) -> bool {
    matches!(
        kind,
        "status.changed"
            | "severity.changed"
            | "commander.changed"
            | "comms_lead.changed"
            | "milestone.set"
            | "statuspage.published"
            | "statuspage.updated"
    )
}

/// One message for webhook-only mode (§2.8), where nothing can be edited: the event's line
/// under the incident's tag, with `url` buttons.
pub fn webhook_event(incident: &Incident, line: &Value, links: &[Link]) -> Value {
    let mut message = line.clone();
    let buttons: Vec<Value> = links
        .iter()
        .enumerate()
        .map(|(i, l)| url_button(&l.label, &format!("incident.link.{i}"), &l.url))
        .collect();
    if let Some(blocks) = message["blocks"].as_array_mut() {
        let context = format!(
            "{} · {}",
            tag(incident),
            fit_escaped(&incident.title, 150).0
        );
        blocks.insert(
            0,
            json!({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]}),
        );
        if !buttons.is_empty() {
            blocks.push(json!({"type": "actions", "elements": buttons}));
        }
    }
    message
}

/// Checks a message (`{"text", "blocks"}`) against Slack's Block Kit limits (§2.6); the
/// first violation is the error, and a message with one is never sent.
pub fn validate(message: &Value) -> Result<(), String> {
    let chars = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    let too_long = |what: &str, v: &Value, max: usize| {
        let n = chars(v);
        if n > max {
            Err(format!("{what} is {n} characters; at most {max}"))
        } else {
            Ok(())
        }
    };
    too_long("text", &message["text"], limits::TEXT)?;
    let modal = message["type"] == "modal";
    if modal {
        for part in ["title", "submit", "close"] {
            too_long(part, &message[part]["text"], limits::MODAL_TITLE)?;
        }
        too_long(
            "private_metadata",
            &message["private_metadata"],
            limits::PRIVATE_METADATA,
        )?;
    }
    let max_blocks = if modal {
        limits::MODAL_BLOCKS
    } else {
        limits::BLOCKS
    };
    let empty = Vec::new();
    let blocks = match &message["blocks"] {
        Value::Null => &empty,
        Value::Array(blocks) => blocks,
        _ => return Err("blocks is not a list".into()),
    };
    if blocks.len() > max_blocks {
        return Err(format!("{} blocks; at most {max_blocks}", blocks.len()));
    }
    let mut block_ids = BTreeSet::new();
    let mut action_ids = BTreeSet::new();
    for (i, block) in blocks.iter().enumerate() {
        let at = format!("blocks[{i}]");
        if let Some(id) = block["block_id"].as_str() {
            too_long(&format!("{at}.block_id"), &block["block_id"], limits::ID)?;
            if !block_ids.insert(id.to_string()) {
                return Err(format!("{at}.block_id {id:?} is used twice"));
            }
        }
        match block["type"].as_str() {
            Some("header") => {
                too_long(
                    &format!("{at} header"),
                    &block["text"]["text"],
                    limits::HEADER,
                )?;
            }
            Some("section") => {
                too_long(
                    &format!("{at}.text"),
                    &block["text"]["text"],
                    limits::SECTION_TEXT,
                )?;
                let fields = block["fields"].as_array().map_or(&empty, |f| f);
                if fields.len() > limits::FIELDS {
                    return Err(format!("{at} has {} fields; at most 10", fields.len()));
                }
                for (j, field) in fields.iter().enumerate() {
                    too_long(
                        &format!("{at}.fields[{j}]"),
                        &field["text"],
                        limits::FIELD_TEXT,
                    )?;
                }
            }
            Some("context") => {
                let elements = block["elements"].as_array().map_or(&empty, |e| e);
                if elements.len() > limits::CONTEXT_ELEMENTS {
                    return Err(format!("{at} has {} elements; at most 10", elements.len()));
                }
                for (j, element) in elements.iter().enumerate() {
                    too_long(&format!("{at}.elements[{j}]"), &element["text"], 2000)?;
                }
            }
            Some("actions") => {
                let elements = block["elements"].as_array().map_or(&empty, |e| e);
                if elements.len() > limits::ACTION_ELEMENTS {
                    return Err(format!("{at} has {} elements; at most 25", elements.len()));
                }
                for (j, element) in elements.iter().enumerate() {
                    let at = format!("{at}.elements[{j}]");
                    too_long(
                        &format!("{at}.text"),
                        &element["text"]["text"],
                        limits::BUTTON_TEXT,
                    )?;
                    too_long(
                        &format!("{at}.value"),
                        &element["value"],
                        limits::BUTTON_VALUE,
                    )?;
                    too_long(&format!("{at}.url"), &element["url"], limits::BUTTON_URL)?;
                    too_long(
                        &format!("{at}.action_id"),
                        &element["action_id"],
                        limits::ID,
                    )?;
                    if let Some(id) = element["action_id"].as_str()
                        && !action_ids.insert(id.to_string())
                    {
                        return Err(format!("{at}.action_id {id:?} is used twice"));
                    }
                }
            }
            Some("input") if modal => {
                too_long(
                    &format!("{at}.label"),
                    &block["label"]["text"],
                    limits::LABEL,
                )?;
                let element = &block["element"];
                too_long(
                    &format!("{at}.element.action_id"),
                    &element["action_id"],
                    limits::ID,
                )?;
                let options = element["options"].as_array().map_or(&empty, |o| o);
                if options.len() > limits::OPTIONS {
                    return Err(format!("{at} has {} options; at most 100", options.len()));
                }
                for (j, option) in options.iter().enumerate() {
                    too_long(
                        &format!("{at}.options[{j}]"),
                        &option["text"]["text"],
                        limits::OPTION_TEXT,
                    )?;
                }
            }
            Some("divider" | "image" | "rich_text") => {}
            other => return Err(format!("{at} has an unknown type {other:?}")),
        }
    }
    Ok(())
}

/// Cuts `text` so that, escaped for `mrkdwn`, it is at most `max` characters, `…`
/// included; returns the escaped text and whether it was cut.
pub fn fit_escaped(text: &str, max: usize) -> (String, bool) {
    let cost = |c: char| match c {
        '&' => 5,
        '<' | '>' => 4,
        _ => 1,
    };
    let whole: usize = text.chars().map(cost).sum();
    if whole <= max {
        return (mrkdwn(text), false);
    }
    let cut = crate::domain::text::cut_point(text, max.saturating_sub(1), cost);
    (format!("{}…", mrkdwn(&text[..cut])), true)
}

/// Cuts plain `text` to at most `max` characters, `…` included.
pub fn fit_chars(text: &str, max: usize) -> (String, bool) {
    let cut = crate::domain::text::truncate(text, max);
    let was_cut = cut.len() != text.len();
    (cut, was_cut)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::incident::{Severity, Source};

    fn incident(title: &str) -> Incident {
        let at: Timestamp = "2025-06-12T03:00:00Z".parse().unwrap();
        Incident {
            id: "01JXAMPLE0000000000000000".into(),
            number: 42,
            title: title.into(),
            severity: Severity::P1,
            status: Status::Investigating,
            summary: String::new(),
            impact: "Checkout fails for *all* users".into(),
            commander: "ana".into(),
            comms_lead: None,
            services: vec!["api".into()],
            source: Source::Slack,
            test: false,
            declared_by: "ana".into(),
            public_incident_id: None,
            started_at: at,
            detected_at: at,
            declared_at: at,
            acknowledged_at: Some(at),
            identified_at: None,
            mitigated_at: None,
            resolved_at: None,
            closed_at: None,
            last_update_at: at,
            alerts: vec![],
        }
    }

    fn extra() -> Extra {
        Extra {
            commander: Who {
                name: "Ana <Ruiz>".into(),
                slack_id: Some("U0ANA".into()),
            },
            comms_lead: None,
            incident_url: "http://dutybell.test/incidents/42".into(),
            status_page_url: None,
            services: vec!["Public API".into()],
            alerts: vec!["#A-7".into()],
            runbooks: vec![Link {
                label: "api".into(),
                url: "http://runbooks.test/api?a=1&b=2".into(),
            }],
            buttons: Buttons::Interactive,
        }
    }

    #[test]
    fn the_announcement_has_the_spec_layout() {
        let message = announcement(&incident("Checkout down"), &extra());

        assert_eq!(
            message["text"],
            "P1 incident #42: Checkout down (commander: Ana &lt;Ruiz&gt;)"
        );
        let blocks = message["blocks"].as_array().unwrap();
        let types: Vec<&str> = blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            [
                "header", "section", "section", "section", "context", "actions"
            ]
        );
        assert_eq!(
            blocks[0]["text"]["text"],
            ":rotating_light: P1 · #42 · Checkout down"
        );
        let fields: Vec<&str> = blocks[1]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["text"].as_str().unwrap())
            .collect();
        assert_eq!(
            fields,
            [
                "*Status*\nInvestigating",
                "*Severity*\nP1",
                "*Commander*\n<@U0ANA>",
                "*Comms lead*\n_the commander_",
                "*Started*\n<!date^1749697200^{date_short} {time}|2025-06-12 03:00 UTC>",
                "*Status page*\nnot published",
            ]
        );
        assert_eq!(
            blocks[2]["text"]["text"],
            "*What happened*\n_not written yet_"
        );
        assert_eq!(
            blocks[3]["text"]["text"],
            "*Impact*\nCheckout fails for *all* users"
        );
        let context: Vec<&str> = blocks[4]["elements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["text"].as_str().unwrap())
            .collect();
        assert_eq!(
            context,
            [
                "Services: Public API",
                "Alerts: #A-7",
                "Runbooks: <http://runbooks.test/api?a=1&amp;b=2|api>",
                "<http://dutybell.test/incidents/42|Incident #42>",
            ]
        );
        let actions: Vec<(&str, &str)> = blocks[5]["elements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["action_id"].as_str().unwrap(),
                    e["value"].as_str().unwrap(),
                )
            })
            .collect();
        let id = "01JXAMPLE0000000000000000";
        assert_eq!(
            actions,
            [
                ("incident.ack", id),
                ("incident.resolve", id),
                ("incident.claim_commander", id),
                ("incident.update", id),
                ("incident.publish", id),
            ]
        );
        assert_eq!(
            blocks[5]["elements"][1]["confirm"]["confirm"]["text"],
            "Resolve"
        );
        assert_eq!(validate(&message), Ok(()));
    }

    #[test]
    fn user_text_cannot_mention_or_link() {
        let mut probe = incident("<!channel> <script>&");
        probe.summary = "<https://evil.example|click> <@U0BOSS>".into();

        let message = announcement(&probe, &extra());

        assert_eq!(
            message["blocks"][0]["text"]["text"],
            ":rotating_light: P1 · #42 · &lt;!channel&gt; &lt;script&gt;&amp;"
        );
        assert_eq!(
            message["blocks"][2]["text"]["text"],
            "*What happened*\n&lt;https://evil.example|click&gt; &lt;@U0BOSS&gt;"
        );
        assert!(
            message["text"]
                .as_str()
                .unwrap()
                .contains("&lt;!channel&gt;")
        );
    }

    #[test]
    fn a_long_title_is_cut_at_a_grapheme_boundary_within_150() {
        // CM-13: a family emoji (one ZWJ sequence) or a combining accent where the cut falls.
        // The prefix takes 28 characters, so 121 of the title fit before the `…`.
        let prefix = ":rotating_light: P1 · #42 · ";
        let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}";
        let x = |n: usize| "x".repeat(n);
        let zwj = format!("{}{family}{}", x(117), "y".repeat(80));
        let accent = format!("{}e\u{301}{}", x(120), "y".repeat(80));

        for (title, kept) in [(zwj, x(117)), (accent, x(120))] {
            let header = header_text(&incident(&title));

            assert!(header.chars().count() <= 150, "{}", header.chars().count());
            assert_eq!(header, format!("{prefix}{kept}…"));
        }
        let (cut, _) = fit_escaped(&format!("ab{family}c"), 4);
        assert_eq!(cut, "ab…");
        let (cut, _) = fit_escaped("abe\u{301}\u{301}c", 4);
        assert_eq!(cut, "ab…");
        let (cut, _) = fit_escaped("\u{1F1EA}\u{1F1F8}\u{1F1EB}\u{1F1F7}", 3);
        assert_eq!(cut, "\u{1F1EA}\u{1F1F8}…", "flags stay pairs");
        assert_eq!(fit_escaped("abc", 3), ("abc".to_string(), false));
    }

    #[test]
    fn escaping_counts_toward_the_limit() {
        let (cut, was_cut) = fit_escaped("a<b", 5);
        assert_eq!((cut.as_str(), was_cut), ("a…", true));
        assert_eq!(fit_escaped("a<b", 6), ("a&lt;b".to_string(), false));
        let header = header_text(&incident(&"<".repeat(200)));
        assert!(header.chars().count() <= 150);
        assert!(header.ends_with("&lt;…"));
    }

    #[test]
    fn a_long_summary_is_cut_with_a_link_to_the_rest() {
        let mut long = incident("Checkout down");
        long.summary = "word ".repeat(1000);

        let message = announcement(&long, &extra());

        let text = message["blocks"][2]["text"]["text"].as_str().unwrap();
        assert_eq!(text.chars().count(), 3000);
        assert!(text.ends_with("… <http://dutybell.test/incidents/42|full text>"));
        assert_eq!(validate(&message), Ok(()));
    }

    #[test]
    fn validation_rejects_each_limit() {
        let ok = announcement(&incident("Checkout down"), &extra());
        let broken = |edit: &dyn Fn(&mut Value)| {
            let mut message = ok.clone();
            edit(&mut message);
            validate(&message).unwrap_err()
        };

        assert_eq!(
            broken(&|m| m["blocks"][0]["text"]["text"] = json!("h".repeat(151))),
            "blocks[0] header is 151 characters; at most 150"
        );
        assert_eq!(
            broken(&|m| m["blocks"][3]["text"]["text"] = json!("s".repeat(3001))),
            "blocks[3].text is 3001 characters; at most 3000"
        );
        assert_eq!(
            broken(&|m| m["blocks"][1]["fields"][0]["text"] = json!("f".repeat(2001))),
            "blocks[1].fields[0] is 2001 characters; at most 2000"
        );
        assert_eq!(
            broken(&|m| m["blocks"][5]["elements"][0]["text"]["text"] = json!("b".repeat(76))),
            "blocks[5].elements[0].text is 76 characters; at most 75"
        );
        assert_eq!(
            broken(&|m| m["blocks"][5]["elements"][1]["action_id"] = json!("incident.ack")),
            "blocks[5].elements[1].action_id \"incident.ack\" is used twice"
        );
        assert_eq!(
            broken(&|m| m["blocks"] = json!(vec![json!({"type": "divider"}); 51])),
            "51 blocks; at most 50"
        );
        assert_eq!(
            broken(&|m| m["blocks"][1]["fields"] = json!(vec![json!({"text": "x"}); 11])),
            "blocks[1] has 11 fields; at most 10"
        );
        assert_eq!(
            broken(&|m| m["blocks"][5]["elements"] = json!(vec![json!({}); 26])),
            "blocks[5] has 26 elements; at most 25"
        );
        assert_eq!(
            broken(&|m| m["blocks"][5]["elements"][0]["value"] = json!("v".repeat(2001))),
            "blocks[5].elements[0].value is 2001 characters; at most 2000"
        );
    }

    #[test]
    fn webhook_mode_uses_url_buttons() {
        let mut links = extra();
        links.buttons = Buttons::Links(vec![Link {
            label: "Open incident".into(),
            url: "http://dutybell.test/incidents/42".into(),
        }]);

        let message = announcement(&incident("Checkout down"), &links);

        let button = &message["blocks"][5]["elements"][0];
        assert_eq!(button["url"], "http://dutybell.test/incidents/42");
        assert_eq!(button["action_id"], "incident.link.0");
        assert!(button.get("value").is_none());
    }

    #[test]
    fn the_declare_modal_keeps_to_modal_limits() {
        let many: Vec<(String, String)> = (0..150)
            .map(|i| {
                (
                    format!("svc{i:03}"),
                    format!("Service {i} {}", "n".repeat(90)),
                )
            })
            .collect();
        let ok = declare_modal(Some("Checkout down"), &many, r#"{"channel":"C1"}"#);
        assert_eq!(validate(&ok), Ok(()));
        let services = &ok["blocks"][4]["element"]["options"];
        assert_eq!(services.as_array().map(Vec::len), Some(100));
        assert_eq!(services[99]["value"], "svc099");
        let text = services[0]["text"]["text"].as_str().unwrap_or_default();
        assert_eq!(text.chars().count(), 75);
        assert!(text.ends_with('…'));
        let none = declare_modal(None, &[], "{}");
        let ids: Vec<&str> = none["blocks"]
            .as_array()
            .map(|b| b.iter().filter_map(|b| b["block_id"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(
            ids,
            [
                declare::TITLE,
                declare::SEVERITY,
                declare::SUMMARY,
                declare::IMPACT,
                declare::COMMANDER,
                declare::PAGE
            ]
        );

        let broken = |edit: &dyn Fn(&mut Value)| {
            let mut view = ok.clone();
            edit(&mut view);
            validate(&view).unwrap_err()
        };
        assert_eq!(
            broken(&|v| v["title"]["text"] = json!("t".repeat(25))),
            "title is 25 characters; at most 24"
        );
        assert_eq!(
            broken(&|v| v["close"]["text"] = json!("c".repeat(25))),
            "close is 25 characters; at most 24"
        );
        assert_eq!(
            broken(&|v| v["private_metadata"] = json!("m".repeat(3001))),
            "private_metadata is 3001 characters; at most 3000"
        );
        assert_eq!(
            broken(&|v| v["blocks"] = json!(vec![json!({"type": "divider"}); 101])),
            "101 blocks; at most 100"
        );
        assert_eq!(
            broken(
                &|v| v["blocks"][1]["element"]["options"][0]["text"]["text"] =
                    json!("o".repeat(76))
            ),
            "blocks[1].options[0] is 76 characters; at most 75"
        );
        let mut sixty = ok.clone();
        sixty["blocks"] = json!(vec![json!({"type": "divider"}); 60]);
        assert_eq!(
            validate(&sixty),
            Ok(()),
            "a modal may hold more than 50 blocks"
        );
        // Input blocks belong to modals only.
        let message = json!({"text": "x", "blocks": [ok["blocks"][0].clone()]});
        assert_eq!(
            validate(&message),
            Err("blocks[0] has an unknown type Some(\"input\")".into())
        );
    }

    #[test]
    fn channel_names_are_slugs_within_slacks_limit() {
        assert_eq!(
            channel_name(42, "Checkout: 500s on EU/US!"),
            "inc-42-checkout-500s-on-eu-us"
        );
        assert_eq!(channel_name(7, "¡¡¡"), "inc-7");
        assert_eq!(channel_name(7, "Ünïcode  DB_down"), "inc-7-n-code-db_down");
        let long = channel_name(12345, &"a very long title ".repeat(10));
        assert!(long.len() <= 77, "{long}");
        assert!(!long.ends_with('-'));
        assert!(numbered_channel_name(&long, 10).len() <= 80);
        assert_eq!(numbered_channel_name("inc-1-x", 1), "inc-1-x");
        assert_eq!(numbered_channel_name("inc-1-x", 3), "inc-1-x-3");
    }
}
