//! Cutting user text to a length (comms spec §0): lengths count Unicode scalar values,
//! cuts fall on extended grapheme cluster boundaries (UAX #29, via `unicode-segmentation`),
//! and a cut text ends in `…` within the limit. Every surface with a length limit (mail
//! subjects, Slack blocks, push and chat bodies, summaries) cuts through here.

use unicode_segmentation::UnicodeSegmentation as _;

/// The largest byte offset that is a grapheme boundary and keeps the summed `cost` of the
/// characters before it within `budget`.
pub fn cut_point(text: &str, budget: usize, cost: impl Fn(char) -> usize) -> usize {
    let mut spent = 0;
    for (offset, grapheme) in text.grapheme_indices(true) {
        spent += grapheme.chars().map(&cost).sum::<usize>();
        if spent > budget {
            return offset;
        }
    }
    text.len()
}

/// `text` itself when it has at most `max` characters; else its longest prefix of whole
/// grapheme clusters that fits with `…` appended.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut = cut_point(text, max.saturating_sub(1), |_| 1);
    format!("{}…", &text[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_and_long_text_ends_in_an_ellipsis_within_the_limit() {
        assert_eq!(truncate("checkout", 8), "checkout");
        assert_eq!(truncate("checkout down", 8), "checkou…");
        assert_eq!(truncate("ééééé", 3), "éé…");
        assert_eq!(truncate("", 0), "");
    }

    #[test]
    fn cuts_never_split_a_grapheme_cluster() {
        // e + combining acute, a family emoji (ZWJ sequence), a flag (two indicators).
        let family = "👨\u{200D}👩\u{200D}👧";
        for (text, max) in [
            ("abe\u{301}e\u{301}", 4),
            (&*format!("ab{family}cd"), 4),
            ("ab🇪🇸🇫🇷", 4),
        ] {
            let cut = truncate(text, max);
            assert!(cut.chars().count() <= max, "{cut:?}");
            let kept = cut.trim_end_matches('…');
            assert!(text.starts_with(kept));
            let graphemes: Vec<&str> = text.graphemes(true).collect();
            let mut rebuilt = String::new();
            for g in graphemes {
                if rebuilt.len() == kept.len() {
                    break;
                }
                rebuilt.push_str(g);
            }
            assert_eq!(rebuilt, kept, "{text:?} cut inside a cluster: {cut:?}");
        }
        assert_eq!(truncate("abe\u{301}e\u{301}", 4), "ab…");
        assert_eq!(truncate("abe\u{301}e\u{301}", 5), "abe\u{301}…");
        assert_eq!(
            truncate(&format!("ab{family}cd"), 8),
            format!("ab{family}…")
        );
        assert_eq!(truncate(&format!("ab{family}cd"), 7), "ab…");
    }

    #[test]
    fn costs_let_escaped_text_fit() {
        let cost = |c: char| if c == '&' { 5 } else { 1 };
        assert_eq!(cut_point("a&b", 5, cost), 1);
        assert_eq!(cut_point("a&b", 6, cost), 2);
    }
}
