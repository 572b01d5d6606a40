//! Thread replies marked for the timeline (comms spec §1.4 via Slack, issue #5): which
//! messages in an incident's announcement thread become notes, and their text.
//!
//! The marker is the message's very first word: `!note` adds a note, `!key` a key note
//! (copied into the postmortem). It must be followed by whitespace and some text;
//! anything else (`!notes`, `! note`, a marker later in the message) is conversation and
//! stays out of the timeline.

use super::command::unescape;

/// A thread reply that asks to be a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarkedNote {
    /// `!key`: a key note.
    pub key: bool,
    /// The text without its marker, as the person typed it (Slack's escapes undone).
    pub text: String,
}

/// The note `text` (a message's `text` as Slack sends it) asks for, if it is marked.
pub fn marked_note(text: &str) -> Option<MarkedNote> {
    let (key, rest) = if let Some(rest) = text.strip_prefix("!note") {
        (false, rest)
    } else if let Some(rest) = text.strip_prefix("!key") {
        (true, rest)
    } else {
        return None;
    };
    // The marker is a whole word: `!notes …` is not one.
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let text = unescape(rest.trim());
    if text.trim().is_empty() {
        return None;
    }
    Some(MarkedNote {
        key,
        text: text.trim().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_leading_marker_word_with_text_marks_a_note() {
        let cases: [(&str, Option<(bool, &str)>); 11] = [
            (
                "!note DB failover started",
                Some((false, "DB failover started")),
            ),
            (
                "!key Root cause: bad deploy",
                Some((true, "Root cause: bad deploy")),
            ),
            ("!note\nmulti\nline ", Some((false, "multi\nline"))),
            (
                "!note a &lt;b&gt; &amp;amp; c",
                Some((false, "a <b> &amp; c")),
            ),
            ("!note   ", None),
            ("!note", None),
            ("!notes to self", None),
            ("!keynote talk", None),
            (" !note leading space", None),
            ("see !note later", None),
            ("!NOTE shouted", None),
        ];
        for (text, want) in cases {
            let want = want.map(|(key, text)| MarkedNote {
                key,
                text: text.to_string(),
            });
            assert_eq!(marked_note(text), want, "{text:?}");
        }
    }
}
