//! Escaping user text for the places it is shown (comms spec §0 "User text"): HTML pages,
//! XML (TwiML), Slack `mrkdwn`. One loop, one table per target, so the targets cannot
//! drift apart on the characters they share.

/// Replaces each character the table maps; keeps the rest.
fn with(text: &str, table: impl Fn(char) -> Option<&'static str>) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match table(c) {
            Some(replacement) => out.push_str(replacement),
            None => out.push(c),
        }
    }
    out
}

fn markup(c: char) -> Option<&'static str> {
    match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        _ => None,
    }
}

/// For HTML element content and attribute values.
pub fn html(text: &str) -> String {
    with(text, |c| match c {
        '"' => Some("&quot;"),
        '\'' => Some("&#39;"),
        c => markup(c),
    })
}

/// For XML content and attributes; control characters and the noncharacters U+FFFE and
/// U+FFFF, which XML 1.0 cannot carry, become spaces.
pub fn xml(text: &str) -> String {
    with(text, |c| match c {
        '"' => Some("&quot;"),
        '\'' => Some("&apos;"),
        c if c.is_control() || matches!(c, '\u{FFFE}' | '\u{FFFF}') => Some(" "),
        c => markup(c),
    })
}

/// For Slack `mrkdwn` and message text: only `&`, `<` and `>` are special.
pub fn mrkdwn(text: &str) -> String {
    with(text, markup)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_target_escapes_its_own_characters() {
        let probe = "<b>&\"x\"'\u{7}</b>";
        assert_eq!(
            html(probe),
            "&lt;b&gt;&amp;&quot;x&quot;&#39;\u{7}&lt;/b&gt;"
        );
        assert_eq!(xml(probe), "&lt;b&gt;&amp;&quot;x&quot;&apos; &lt;/b&gt;");
        assert_eq!(mrkdwn(probe), "&lt;b&gt;&amp;\"x\"'\u{7}&lt;/b&gt;");
    }

    #[test]
    fn xml_drops_the_noncharacters_xml_cannot_carry() {
        assert_eq!(xml("a\u{FFFF}b\u{FFFE}c\u{FFFD}"), "a b c\u{FFFD}");
    }
}
