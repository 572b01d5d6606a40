//! The `/incident` slash command's text (comms spec §2.3), parsed into a [`Command`].
//!
//! Pure: which incident `#N` means, who an `@mention` is and whether the caller may act
//! are the handler's business (`http::slack`). A title that starts with a subcommand word
//! (`update`, `list`, …) is read as that subcommand; declaring such a title needs a
//! severity prefix (`/incident p2 update failed`), which the errors say.

use crate::domain::incident::{self, Severity, Status};
use crate::domain::statuspage::PublicStatus;

/// Words that start a subcommand rather than a title.
pub const SUBCOMMANDS: [&str; 10] = [
    "update",
    "status",
    "sev",
    "commander",
    "comms",
    "note",
    "action",
    "list",
    "help",
    "public",
];

/// What `/incident help` answers (Slack `mrkdwn`, so `<` and `>` are written escaped).
pub const HELP: &str = "\
*/incident* declares and runs incidents:
• `/incident p1|p2|p3 &lt;title&gt;`: declare now, you are the commander
• `/incident update [#N] &lt;text&gt;`: post an internal status update
• `/incident status [#N] identified|monitoring|resolved [text]`
• `/incident sev [#N] p1|p2|p3`
• `/incident commander [#N] [@user]`: hand over, or claim it yourself
• `/incident comms [#N] [@user]`: set the comms lead
• `/incident note [#N] [--key] &lt;text&gt;`: add a note (`--key` copies it into the postmortem)
• `/incident action [#N] &lt;text&gt;`: record a follow-up item
• `/incident public [#N] [status] &lt;text&gt;`: publish to the status page, then post \
public updates (`resolved` closes the public incident)
• `/incident list`: open incidents
`#N` may be left out while one incident is open. A title that starts with one of these \
words needs the severity prefix: `/incident p2 update of the billing job failed`.";

/// One parsed `/incident` invocation. `target` is the `#N` given, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// No text, or a title without a severity: the declare modal, title pre-filled.
    DeclareModal {
        title: Option<String>,
    },
    Declare {
        severity: Severity,
        title: String,
    },
    Update {
        target: Option<i64>,
        text: String,
    },
    Status {
        target: Option<i64>,
        to: Status,
        text: Option<String>,
    },
    Severity {
        target: Option<i64>,
        to: Severity,
    },
    /// `user` is a Slack member id; `None` means the caller.
    Commander {
        target: Option<i64>,
        user: Option<String>,
    },
    Comms {
        target: Option<i64>,
        user: Option<String>,
    },
    Note {
        target: Option<i64>,
        key: bool,
        text: String,
    },
    Action {
        target: Option<i64>,
        text: String,
    },
    /// Publish to the status page (first time) or post a public update.
    Public {
        target: Option<i64>,
        status: Option<PublicStatus>,
        text: String,
    },
    List,
    Help,
}

/// Text the user typed that does not parse; the message says what to type instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

fn error<T>(message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError(message.into()))
}

/// Parses the `text` field of a `/incident` request.
pub fn parse(text: &str) -> Result<Command, ParseError> {
    let (word, rest) = split_word(text);
    if word.is_empty() {
        return Ok(Command::DeclareModal { title: None });
    }
    let lower = word.to_ascii_lowercase();
    if let Some(severity) = severity_word(&lower) {
        if rest.is_empty() {
            return error(format!(
                "Give the incident a title: `/incident {lower} <title>`"
            ));
        }
        let title = incident::check_title(&unescape(rest)).map_err(ParseError)?;
        return Ok(Command::Declare { severity, title });
    }
    if !SUBCOMMANDS.contains(&lower.as_str()) {
        let title = incident::check_title(&unescape(text)).map_err(ParseError)?;
        return Ok(Command::DeclareModal { title: Some(title) });
    }
    subcommand(&lower, rest)
}

fn subcommand(word: &str, rest: &str) -> Result<Command, ParseError> {
    let title_hint = || {
        format!(
            "To declare an incident titled \"{word} {rest}\", add a severity: \
             `/incident p2 {word} {rest}`"
        )
    };
    match word {
        "list" | "help" if !rest.is_empty() => {
            error(format!("`{word}` takes no arguments. {}", title_hint()))
        }
        "list" => Ok(Command::List),
        "help" => Ok(Command::Help),
        "update" => {
            let (target, rest) = target(rest)?;
            let text = required_text("update", rest, "update [#N] <text>")?;
            Ok(Command::Update { target, text })
        }
        "status" => {
            let (target, rest) = target(rest)?;
            let (state, rest) = split_word(rest);
            let to = match state.to_ascii_lowercase().as_str() {
                "identified" => Status::Identified,
                "monitoring" => Status::Monitoring,
                "resolved" => Status::Resolved,
                _ => {
                    return error(format!(
                        "Say which status: `/incident status [#N] identified|monitoring|\
                         resolved [text]`. {}",
                        title_hint()
                    ));
                }
            };
            let text = if rest.is_empty() {
                None
            } else {
                Some(incident::check_text("text", &unescape(rest)).map_err(ParseError)?)
            };
            Ok(Command::Status { target, to, text })
        }
        "sev" => {
            let (target, rest) = target(rest)?;
            let (level, extra) = split_word(rest);
            match severity_word(&level.to_ascii_lowercase()) {
                Some(to) if extra.is_empty() => Ok(Command::Severity { target, to }),
                _ => error(format!(
                    "Say which severity: `/incident sev [#N] p1|p2|p3`. {}",
                    title_hint()
                )),
            }
        }
        "commander" | "comms" => {
            let (target, rest) = target(rest)?;
            let (who, extra) = split_word(rest);
            let user = if who.is_empty() {
                None
            } else {
                match mention(who) {
                    Some(id) if extra.is_empty() => Some(id),
                    _ => {
                        return error(format!(
                            "Name one person with an @-mention: `/incident {word} [#N] \
                             [@user]`. {}",
                            title_hint()
                        ));
                    }
                }
            };
            Ok(if word == "commander" {
                Command::Commander { target, user }
            } else {
                Command::Comms { target, user }
            })
        }
        "note" => {
            let (mut key, mut rest) = key_flag(rest);
            let (target, after) = target(rest)?;
            rest = after;
            if !key {
                (key, rest) = key_flag(rest);
            }
            let text = required_text("note", rest, "note [#N] [--key] <text>")?;
            Ok(Command::Note { target, key, text })
        }
        "action" => {
            let (target, rest) = target(rest)?;
            let text = required_text("action item", rest, "action [#N] <text>")?;
            Ok(Command::Action { target, text })
        }
        "public" => {
            let (target, rest) = target(rest)?;
            let (first, after) = split_word(rest);
            let (status, rest) = match first.to_ascii_lowercase().as_str() {
                "investigating" => (Some(PublicStatus::Investigating), after),
                "identified" => (Some(PublicStatus::Identified), after),
                "monitoring" => (Some(PublicStatus::Monitoring), after),
                "resolved" => (Some(PublicStatus::Resolved), after),
                _ => (None, rest),
            };
            let usage = "public [#N] [investigating|identified|monitoring|resolved] <text>";
            let text = required_text("customer-facing text", rest, usage)?;
            Ok(Command::Public {
                target,
                status,
                text,
            })
        }
        _ => error(HELP),
    }
}

fn required_text(field: &str, text: &str, usage: &str) -> Result<String, ParseError> {
    if text.is_empty() {
        return error(format!("Write the {field}: `/incident {usage}`"));
    }
    incident::check_text(field, &unescape(text)).map_err(ParseError)
}

/// Slack sends typed `&`, `<` and `>` as `&amp;`, `&lt;` and `&gt;`; free text is stored as
/// the person typed it (and escaped again wherever it is shown). Shared with `events`.
pub fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// `p1`, `p2` or `p3` (lowercased already); the bare digits are titles.
fn severity_word(word: &str) -> Option<Severity> {
    match word {
        "p1" => Some(Severity::P1),
        "p2" => Some(Severity::P2),
        "p3" => Some(Severity::P3),
        _ => None,
    }
}

/// An optional leading `#N`.
fn target(text: &str) -> Result<(Option<i64>, &str), ParseError> {
    let (word, rest) = split_word(text);
    let Some(digits) = word.strip_prefix('#') else {
        return Ok((None, text));
    };
    match digits.parse::<i64>() {
        Ok(number) if number > 0 && digits.bytes().all(|b| b.is_ascii_digit()) => {
            Ok((Some(number), rest))
        }
        _ => error(format!(
            "`{word}` is not an incident number; write it like `#42`"
        )),
    }
}

/// An optional leading `--key`.
fn key_flag(text: &str) -> (bool, &str) {
    let (word, rest) = split_word(text);
    if word == "--key" {
        (true, rest)
    } else {
        (false, text)
    }
}

/// A Slack user mention as Slack sends it with escaping on: `<@U123>` or `<@U123|ana>`.
pub fn mention(word: &str) -> Option<String> {
    let inner = word.strip_prefix("<@")?.strip_suffix('>')?;
    let id = inner.split('|').next()?;
    let well_formed = id.len() >= 3
        && (id.starts_with('U') || id.starts_with('W'))
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    well_formed.then(|| id.to_string())
}

/// The first whitespace-separated word and the rest, both trimmed; inner line breaks of
/// the rest are kept.
fn split_word(text: &str) -> (&str, &str) {
    let text = text.trim();
    match text.find(char::is_whitespace) {
        Some(at) => (&text[..at], text[at..].trim_start()),
        None => (text, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Command {
        parse(text).unwrap()
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().0
    }

    #[test]
    fn a_severity_prefix_declares_at_once() {
        assert_eq!(
            ok("p1 Checkout down"),
            Command::Declare {
                severity: Severity::P1,
                title: "Checkout down".into()
            }
        );
        assert_eq!(
            ok("  P3   Slow   search  "),
            Command::Declare {
                severity: Severity::P3,
                title: "Slow   search".into()
            }
        );
        assert_eq!(
            err("p2"),
            "Give the incident a title: `/incident p2 <title>`"
        );
        assert!(err(&format!("p1 {}", "x".repeat(201))).contains("at most 200"));
    }

    #[test]
    fn no_text_or_a_bare_title_asks_for_the_modal() {
        assert_eq!(ok(""), Command::DeclareModal { title: None });
        assert_eq!(ok("   "), Command::DeclareModal { title: None });
        assert_eq!(
            ok("Checkout down"),
            Command::DeclareModal {
                title: Some("Checkout down".into())
            }
        );
        assert_eq!(
            ok("1 region down"),
            Command::DeclareModal {
                title: Some("1 region down".into())
            },
            "bare digits are no severity"
        );
    }

    #[test]
    fn a_title_starting_with_a_subcommand_word_needs_a_severity_prefix() {
        assert_eq!(
            err("list of failing jobs"),
            "`list` takes no arguments. To declare an incident titled \"list of failing \
             jobs\", add a severity: `/incident p2 list of failing jobs`"
        );
        assert!(err("status page is down").contains("`/incident p2 status page is down`"));
        assert!(err("sev storage").contains("`/incident p2 sev storage`"));
        assert_eq!(
            ok("p2 update of billing failed"),
            Command::Declare {
                severity: Severity::P2,
                title: "update of billing failed".into()
            }
        );
    }

    #[test]
    fn public_takes_an_optional_status_before_the_customer_text() {
        assert_eq!(
            ok("public #3 resolved All good now"),
            Command::Public {
                target: Some(3),
                status: Some(PublicStatus::Resolved),
                text: "All good now".into(),
            }
        );
        assert_eq!(
            ok("public Checkout is slow for some"),
            Command::Public {
                target: None,
                status: None,
                text: "Checkout is slow for some".into(),
            }
        );
        assert!(err("public #3 resolved").contains("customer-facing text"));
    }

    #[test]
    fn free_text_is_stored_as_typed_not_as_slack_escaped_it() {
        assert_eq!(
            ok("update Calls via AT&amp;T fail &lt;b&gt; &amp;lt;"),
            Command::Update {
                target: None,
                text: "Calls via AT&T fail <b> &lt;".into(),
            }
        );
        assert_eq!(
            ok("p2 R&amp;D wiki down"),
            Command::Declare {
                severity: Severity::P2,
                title: "R&D wiki down".into(),
            }
        );
    }

    #[test]
    fn subcommands_take_an_optional_incident_number() {
        assert_eq!(
            ok("status #1 identified bad deploy\nrolling back"),
            Command::Status {
                target: Some(1),
                to: Status::Identified,
                text: Some("bad deploy\nrolling back".into())
            }
        );
        assert_eq!(
            ok("STATUS resolved"),
            Command::Status {
                target: None,
                to: Status::Resolved,
                text: None
            }
        );
        assert_eq!(
            ok("update #42 Rolled back to v1.2"),
            Command::Update {
                target: Some(42),
                text: "Rolled back to v1.2".into()
            }
        );
        assert_eq!(
            ok("sev #7 p1"),
            Command::Severity {
                target: Some(7),
                to: Severity::P1
            }
        );
        assert_eq!(
            err("update #x fixed"),
            "`#x` is not an incident number; write it like `#42`"
        );
        assert_eq!(
            err("update #3"),
            "Write the update: `/incident update [#N] <text>`"
        );
        assert!(err("status #3 closed").starts_with("Say which status"));
    }

    #[test]
    fn roles_take_a_mention_or_default_to_the_caller() {
        assert_eq!(
            ok("commander"),
            Command::Commander {
                target: None,
                user: None
            }
        );
        assert_eq!(
            ok("commander #2 <@U024BE7LH|ana>"),
            Command::Commander {
                target: Some(2),
                user: Some("U024BE7LH".into())
            }
        );
        assert_eq!(
            ok("comms <@W1ABC>"),
            Command::Comms {
                target: None,
                user: Some("W1ABC".into())
            }
        );
        assert!(err("commander @ana").starts_with("Name one person with an @-mention"));
        assert!(err("comms <@U1AB> <@U2CD>").starts_with("Name one person"));
    }

    #[test]
    fn notes_take_a_key_flag_on_either_side_of_the_number() {
        let key_note = Command::Note {
            target: Some(3),
            key: true,
            text: "DB failover took 4 min".into(),
        };
        assert_eq!(ok("note #3 --key DB failover took 4 min"), key_note);
        assert_eq!(ok("note --key #3 DB failover took 4 min"), key_note);
        assert_eq!(
            ok("note checked the dashboards"),
            Command::Note {
                target: None,
                key: false,
                text: "checked the dashboards".into()
            }
        );
        assert_eq!(
            ok("action #3 Add an alert on queue depth"),
            Command::Action {
                target: Some(3),
                text: "Add an alert on queue depth".into()
            }
        );
    }

    #[test]
    fn list_and_help_stand_alone() {
        assert_eq!(ok("list"), Command::List);
        assert_eq!(ok("Help"), Command::Help);
    }

    #[test]
    fn mentions_read_only_slack_member_ids() {
        assert_eq!(mention("<@U123ABC>").as_deref(), Some("U123ABC"));
        assert_eq!(mention("<@U123ABC|ana>").as_deref(), Some("U123ABC"));
        assert_eq!(mention("<#C123|general>"), None);
        assert_eq!(mention("<@u123>"), None);
        assert_eq!(mention("@ana"), None);
    }
}
