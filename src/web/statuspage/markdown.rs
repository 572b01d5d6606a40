//! Markdown for public update bodies (comms spec §0 "User text"): CommonMark with raw
//! HTML off and an allow-list over the parser's events.
//!
//! Raw HTML becomes escaped text; links keep only `http`, `https` and `mailto` targets
//! (others become their plain text); images become their alt text. Everything else the
//! parser emits is structure pulldown-cmark writes itself, escaping text and attributes.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// Link schemes a published body may use.
const ALLOWED_SCHEMES: [&str; 3] = ["http:", "https:", "mailto:"];

/// Markdown → safe HTML.
pub fn render(md: &str) -> String {
    let options = Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES;
    let events = Filter::default().apply(Parser::new_ext(md, options));
    let mut html = String::with_capacity(md.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events.into_iter());
    html
}

/// The target is absolute with an allowed scheme. Anything relative or odd (`javascript:`,
/// `data:`, `//host`, leading spaces or controls) is refused.
fn allowed_link(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    ALLOWED_SCHEMES
        .iter()
        .any(|scheme| lower.starts_with(scheme))
}

/// Rewrites the event stream. `links` remembers, per open link, whether it was kept, so
/// the matching end tag is kept or dropped with it.
#[derive(Default)]
struct Filter {
    links: Vec<bool>,
}

impl Filter {
    fn apply<'a>(mut self, events: impl Iterator<Item = Event<'a>>) -> Vec<Event<'a>> {
        events.filter_map(|event| self.event(event)).collect()
    }

    fn event<'a>(&mut self, event: Event<'a>) -> Option<Event<'a>> {
        match event {
            Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
            // A raw HTML block becomes a paragraph of its escaped text.
            Event::Start(Tag::HtmlBlock) => Some(Event::Start(Tag::Paragraph)),
            Event::End(TagEnd::HtmlBlock) => Some(Event::End(TagEnd::Paragraph)),
            Event::Start(Tag::Link {
                dest_url,
                title,
                link_type,
                id,
            }) => {
                let keep = allowed_link(&dest_url);
                self.links.push(keep);
                keep.then_some(Event::Start(Tag::Link {
                    dest_url,
                    title,
                    link_type,
                    id,
                }))
            }
            Event::End(TagEnd::Link) => {
                let keep = self.links.pop().unwrap_or(false);
                keep.then_some(Event::End(TagEnd::Link))
            }
            // Images: the alt text (the events between start and end) stays as text.
            Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
            other => Some(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every tag is an allow-listed formatting element, and every `href` is allowed.
    fn assert_inert(html: &str) {
        const TAGS: [&str; 25] = [
            "p",
            "a",
            "strong",
            "em",
            "del",
            "code",
            "pre",
            "ul",
            "ol",
            "li",
            "blockquote",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "hr",
            "br",
            "table",
            "thead",
            "tbody",
            "tr",
            "th",
            "td",
        ];
        for tag in html.split('<').skip(1) {
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            assert!(TAGS.contains(&name.as_str()), "<{name} in {html}");
            let inside = &tag[..tag.find('>').unwrap_or(tag.len())];
            let names: String = inside.split('"').step_by(2).collect();
            assert!(!names.contains(" on"), "handler attribute in {html}");
            if let Some(href) = inside.split("href=\"").nth(1) {
                assert!(allowed_link(href), "href {href:?} in {html}");
            }
        }
    }

    #[test]
    fn markdown_renders_the_usual_structure() {
        assert_eq!(
            render("**bold** and [docs](https://example.com/a?b=1&c=2)"),
            "<p><strong>bold</strong> and \
             <a href=\"https://example.com/a?b=1&amp;c=2\">docs</a></p>\n"
        );
        assert_eq!(
            render("- one\n- `two`"),
            "<ul>\n<li>one</li>\n<li><code>two</code></li>\n</ul>\n"
        );
        assert_eq!(
            render("[mail](mailto:ops@example.com)"),
            "<p><a href=\"mailto:ops@example.com\">mail</a></p>\n"
        );
    }

    #[test]
    fn script_tags_are_escaped_text() {
        let html = render("<script>alert(1)</script>");

        assert_eq!(html, "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n");
        assert_inert(&html);
    }

    #[test]
    fn javascript_links_become_plain_text() {
        assert_eq!(render("[x](javascript:alert(1))"), "<p>x</p>\n");
        assert_eq!(render("[x](JaVaScRiPt:alert(1))"), "<p>x</p>\n");
        assert_eq!(render("[x](data:text/html,hi)"), "<p>x</p>\n");
        assert_eq!(render("[x](/relative)"), "<p>x</p>\n");
        assert_inert(&render("<javascript:alert(1)>"));
        assert_inert(&render("[x]: javascript:alert(1)\n\n[y][x]"));
    }

    #[test]
    fn inline_html_and_attribute_breakouts_are_inert() {
        let img = render("<img src=x onerror=alert(1)>");
        let svg = render("\"><svg onload=alert(1)>");

        assert_eq!(img, "<p>&lt;img src=x onerror=alert(1)&gt;</p>\n");
        assert_eq!(svg, "<p>\"&gt;&lt;svg onload=alert(1)&gt;</p>\n");
        assert_inert(&img);
        assert_inert(&svg);
    }

    #[test]
    fn images_are_reduced_to_their_alt_text() {
        assert_eq!(
            render("![graph](https://example.com/x.png)"),
            "<p>graph</p>\n"
        );
        assert_eq!(render("![a](javascript:alert(1))"), "<p>a</p>\n");
        assert_inert(&render(
            "[![a](https://x.example/i.png)](javascript:alert(1))",
        ));
    }

    #[test]
    fn a_link_title_cannot_break_out_of_its_attribute() {
        let html = render("[x](https://example.com \"a\\\" onmouseover=\\\"alert(1)\")");

        assert!(
            html.contains("title=\"a&quot; onmouseover=&quot;alert(1)\""),
            "{html}"
        );
        assert_inert(&html);
    }
}
