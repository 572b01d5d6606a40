//! `/history.rss` (RSS 2.0) and `/history.atom` (RFC 4287) from a [`Snapshot`] (comms spec
//! §4.7): the 50 incidents and maintenances with the newest activity.
//!
//! Only standard elements. User text goes through `escape::xml`; update bodies are
//! rendered Markdown carried as HTML in CDATA. Dates are RFC 822 GMT (RSS) and RFC 3339 UTC
//! (Atom), never the host's zone or locale (CM-03). The channel description is the §4.2
//! banner text (CM-05).

use jiff::Timestamp;

use super::{LIST_LIMIT, incident_url, label, last_activity, markdown};
use crate::domain::escape;
use crate::domain::statuspage::rollup::snapshot_status;
use crate::domain::statuspage::{PublicIncident, Snapshot, time};

/// When the feeds last changed (`Last-Modified`, `lastBuildDate`, Atom `updated`): the
/// snapshot's own change time or the newest item activity, whichever is later.
pub fn last_modified(snapshot: &Snapshot) -> Timestamp {
    snapshot
        .incidents
        .iter()
        .chain(&snapshot.maintenances)
        .map(last_activity)
        .fold(snapshot.updated_at, Timestamp::max)
}

/// The RSS 2.0 feed.
pub fn rss(snapshot: &Snapshot) -> String {
    let url = &snapshot.url;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str("<rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\">\n<channel>\n");
    element(&mut out, "title", &escape::xml(&snapshot.name));
    element(&mut out, "link", &escape::xml(&format!("{url}/")));
    element(
        &mut out,
        "description",
        snapshot_status(snapshot).description(),
    );
    element(
        &mut out,
        "lastBuildDate",
        &time::rfc822_gmt(last_modified(snapshot)),
    );
    out.push_str(&format!(
        "<atom:link href=\"{}\" rel=\"self\" type=\"application/rss+xml\"/>\n",
        escape::xml(&format!("{url}/history.rss"))
    ));
    for item in feed_items(snapshot) {
        rss_item(&mut out, snapshot, item);
    }
    out.push_str("</channel>\n</rss>\n");
    out
}

fn rss_item(out: &mut String, snapshot: &Snapshot, item: &PublicIncident) {
    let newest = item.updates.first();
    let guid = match newest {
        Some(update) => format!("{}-{}", item.id, update.id),
        None => item.id.clone(),
    };
    let published = newest.map_or(item.created_at, |u| u.created_at);
    let category = if item.schedule.is_some() {
        "maintenance"
    } else {
        "incident"
    };

    out.push_str("<item>\n");
    element(out, "title", &escape::xml(&item.name));
    element(out, "link", &escape::xml(&incident_url(snapshot, &item.id)));
    element(out, "description", &cdata(&item_html(snapshot, item)));
    out.push_str(&format!(
        "<guid isPermaLink=\"false\">{}</guid>\n",
        escape::xml(&guid)
    ));
    element(out, "pubDate", &time::rfc822_gmt(published));
    element(out, "category", category);
    out.push_str("</item>\n");
}

/// The Atom feed.
pub fn atom(snapshot: &Snapshot) -> String {
    let url = &snapshot.url;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    element(&mut out, "id", &escape::xml(&format!("{url}/history.atom")));
    element(&mut out, "title", &escape::xml(&snapshot.name));
    element(
        &mut out,
        "subtitle",
        snapshot_status(snapshot).description(),
    );
    element(
        &mut out,
        "updated",
        &time::atom_time(last_modified(snapshot)),
    );
    link(
        &mut out,
        "self",
        "application/atom+xml",
        &format!("{url}/history.atom"),
    );
    link(
        &mut out,
        "alternate",
        "text/html",
        &format!("{url}/history"),
    );
    out.push_str(&format!(
        "<author><name>{}</name></author>\n",
        escape::xml(&snapshot.name)
    ));
    for item in feed_items(snapshot) {
        atom_entry(&mut out, snapshot, item);
    }
    out.push_str("</feed>\n");
    out
}

fn atom_entry(out: &mut String, snapshot: &Snapshot, item: &PublicIncident) {
    out.push_str("<entry>\n");
    element(out, "id", &escape::xml(&entry_id(snapshot, item)));
    element(out, "title", &escape::xml(&item.name));
    link(
        out,
        "alternate",
        "text/html",
        &incident_url(snapshot, &item.id),
    );
    element(out, "published", &time::atom_time(item.created_at));
    element(out, "updated", &time::atom_time(last_activity(item)));
    out.push_str(&format!(
        "<content type=\"html\">{}</content>\n",
        cdata(&item_html(snapshot, item))
    ));
    out.push_str("</entry>\n");
}

/// A permanent entry id: `tag:<host>,<UTC creation date>:incident/<id>` (RFC 4151).
fn entry_id(snapshot: &Snapshot, item: &PublicIncident) -> String {
    let date = jiff::tz::TimeZone::UTC.to_datetime(item.created_at).date();
    format!("tag:{},{date}:incident/{}", host(&snapshot.url), item.id)
}

/// The host of an absolute URL, without scheme, credentials, port or path.
fn host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => host.split(':').next().unwrap_or(host),
    }
}

/// Incidents and maintenances with the newest activity first, at most [`LIST_LIMIT`].
fn feed_items(snapshot: &Snapshot) -> Vec<&PublicIncident> {
    let mut items: Vec<&PublicIncident> = snapshot
        .incidents
        .iter()
        .chain(&snapshot.maintenances)
        .collect();
    items.sort_by_key(|item| std::cmp::Reverse(last_activity(item)));
    items.truncate(LIST_LIMIT);
    items
}

/// The item as HTML for a feed reader: the maintenance window, then each update newest
/// first with its status and page-zone time.
fn item_html(snapshot: &Snapshot, item: &PublicIncident) -> String {
    let tz = &snapshot.time_zone;
    let when = |ts: Timestamp| format!("{} {}", time::page_date(ts, tz), time::page_clock(ts, tz));
    let mut html = String::new();
    if let Some(window) = item.schedule {
        html.push_str(&format!(
            "<p>Scheduled: {} – {}</p>",
            when(window.scheduled_for),
            when(window.scheduled_until)
        ));
    }
    for update in &item.updates {
        html.push_str(&format!(
            "<p><strong>{}</strong> · {}</p>{}",
            escape::html(&label(&update.status)),
            when(update.display_at),
            markdown::render(&update.body)
        ));
    }
    html
}

/// `<name>text</name>` with `text` already escaped.
fn element(out: &mut String, name: &str, text: &str) {
    out.push_str(&format!("<{name}>{text}</{name}>\n"));
}

fn link(out: &mut String, rel: &str, kind: &str, href: &str) {
    out.push_str(&format!(
        "<link rel=\"{rel}\" type=\"{kind}\" href=\"{}\"/>\n",
        escape::xml(href)
    ));
}

/// Text as one CDATA section: `]]>` is split across two sections, and characters XML 1.0
/// cannot carry (controls other than tab and newlines, U+FFFE, U+FFFF) become spaces.
fn cdata(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            '\u{FFFE}' | '\u{FFFF}' => ' ',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    format!("<![CDATA[{}]]>", clean.replace("]]>", "]]]]><![CDATA[>"))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{self, ts};
    use super::*;
    use crate::domain::statuspage::ComponentStatus;

    /// An element as the checker saw it: its name and its children's names.
    #[derive(Debug)]
    struct Node {
        name: String,
        children: Vec<String>,
    }

    /// A small well-formedness check: balanced tags, one root, text without stray `<` and
    /// with only the five predefined entities or numeric references. Returns every
    /// element with its child element names, in document order.
    fn well_formed(xml: &str) -> Vec<Node> {
        let body = xml
            .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
            .expect("XML declaration");
        let mut open: Vec<usize> = Vec::new();
        let mut nodes: Vec<Node> = Vec::new();
        let mut roots = 0;
        let mut rest = body;
        while let Some(lt) = rest.find('<') {
            check_text(&rest[..lt]);
            rest = &rest[lt..];
            if let Some(after) = rest.strip_prefix("<![CDATA[") {
                let end = after.find("]]>").expect("CDATA closes");
                rest = &after[end + 3..];
                continue;
            }
            let gt = rest.find('>').expect("tag closes");
            let tag = &rest[1..gt];
            rest = &rest[gt + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                let index = open.pop().expect("closing tag has an opener");
                assert_eq!(nodes[index].name, name, "mismatched </{name}>");
                continue;
            }
            let self_closing = tag.ends_with('/');
            let name: String = tag
                .trim_end_matches('/')
                .split_whitespace()
                .next()
                .expect("tag name")
                .to_string();
            check_attributes(tag);
            match open.last() {
                Some(&parent) => nodes[parent].children.push(name.clone()),
                None => roots += 1,
            }
            nodes.push(Node {
                name,
                children: Vec::new(),
            });
            if !self_closing {
                open.push(nodes.len() - 1);
            }
        }
        check_text(rest);
        assert!(open.is_empty(), "unclosed elements");
        assert_eq!(roots, 1, "one root element");
        nodes
    }

    fn check_text(text: &str) {
        for (i, _) in text.match_indices('&') {
            let entity = &text[i..text[i..].find(';').map_or(text.len(), |e| i + e + 1)];
            let known = ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].contains(&entity)
                || entity.starts_with("&#");
            assert!(known, "bad entity {entity:?}");
        }
    }

    fn check_attributes(tag: &str) {
        let quotes = tag.matches('"').count();
        assert_eq!(quotes % 2, 0, "unbalanced quotes in <{tag}>");
        assert!(!tag.contains('<'), "`<` inside <{tag}>");
    }

    fn children<'a>(nodes: &'a [Node], name: &str) -> Vec<&'a Vec<String>> {
        nodes
            .iter()
            .filter(|n| n.name == name)
            .map(|n| &n.children)
            .collect()
    }

    #[test]
    fn rss_is_well_formed_with_standard_elements_only() {
        let xml = rss(&fixtures::snapshot());
        let nodes = well_formed(&xml);

        let channel = children(&nodes, "channel");
        assert_eq!(
            channel[0][..5],
            ["title", "link", "description", "lastBuildDate", "atom:link"]
        );
        let items = children(&nodes, "item");
        assert_eq!(items.len(), 5);
        for item in items {
            assert_eq!(
                *item,
                [
                    "title",
                    "link",
                    "description",
                    "guid",
                    "pubDate",
                    "category"
                ]
            );
        }
    }

    #[test]
    fn rss_items_follow_the_spec() {
        let xml = rss(&fixtures::snapshot());

        assert!(xml.contains("<title>Acme &lt;Status&gt;</title>"));
        assert!(xml.contains("<link>https://status.example.com/</link>"));
        assert!(xml.contains("<description>Partial System Outage</description>"));
        assert!(xml.contains("<lastBuildDate>Sun, 10 Mar 2024 21:15:00 GMT</lastBuildDate>"));
        assert!(xml.contains(
            "<atom:link href=\"https://status.example.com/history.rss\" rel=\"self\" \
             type=\"application/rss+xml\"/>"
        ));
        // Newest activity first: the open incident's second update is the newest.
        let first_item = &xml[xml.find("<item>").unwrap()..xml.find("</item>").unwrap()];
        assert!(first_item.contains("<title>API errors &lt;b&gt;oops&lt;/b&gt;</title>"));
        assert!(
            first_item.contains("<link>https://status.example.com/incidents/inc000000001</link>")
        );
        assert!(
            first_item.contains("<guid isPermaLink=\"false\">inc000000001-upd000000002</guid>")
        );
        assert!(first_item.contains("<pubDate>Sun, 10 Mar 2024 21:15:00 GMT</pubDate>"));
        let second = first_item.find("Identified").unwrap();
        let first = first_item.find("Investigating").unwrap();
        assert!(second < first, "updates newest first");
        assert!(first_item.contains("2024-03-11 08:15 AEDT"));
        assert!(first_item.contains("&lt;script&gt;") && !first_item.contains("<script"));
    }

    #[test]
    fn cm03_feed_dates_are_gmt_and_utc() {
        let mut snapshot = fixtures::bare();
        snapshot.updated_at = ts("2025-11-26T14:00:00Z");
        snapshot.incidents = vec![fixtures::incident(
            "inc1",
            "Slow",
            "investigating",
            "2025-11-26T15:00:00Z",
        )];

        let rss = rss(&snapshot);
        let atom = atom(&snapshot);

        assert!(rss.contains("<pubDate>Wed, 26 Nov 2025 15:00:00 GMT</pubDate>"));
        assert!(rss.contains("<lastBuildDate>Wed, 26 Nov 2025 15:00:00 GMT</lastBuildDate>"));
        assert!(atom.contains("<updated>2025-11-26T15:00:00Z</updated>"));
        assert!(atom.contains("<published>2025-11-26T15:00:00Z</published>"));
    }

    #[test]
    fn cm04_bodies_stay_inside_cdata_and_guid_changes_with_a_new_update() {
        let mut snapshot = fixtures::bare();
        let mut item = fixtures::incident("inc1", "Feed", "investigating", "2025-11-26T15:00:00Z");
        item.updates[0].body = "Seen ]]> and **bold**".into();
        snapshot.incidents = vec![item];

        let before = rss(&snapshot);
        let added = fixtures::update("u2", "identified", "Found it", "2025-11-26T16:00:00Z");
        snapshot.incidents[0].updates.insert(0, added);
        let after = rss(&snapshot);

        // Markdown escapes the `>`, so the body cannot end the section; `cdata` would
        // split a raw `]]>` all the same (next test).
        assert!(before.contains(
            "<description><![CDATA[<p><strong>Investigating</strong> · \
             2025-11-27 02:00 AEDT</p><p>Seen ]]&gt; and <strong>bold</strong></p>\n]]>"
        ));
        assert!(before.contains("<guid isPermaLink=\"false\">inc1-inc1-u1</guid>"));
        assert!(after.contains("<guid isPermaLink=\"false\">inc1-u2</guid>"));
        well_formed(&before);
        let nodes = well_formed(&after);
        for item in children(&nodes, "item") {
            assert_eq!(
                *item,
                [
                    "title",
                    "link",
                    "description",
                    "guid",
                    "pubDate",
                    "category"
                ]
            );
        }
    }

    #[test]
    fn cdata_keeps_newlines_and_drops_characters_xml_cannot_hold() {
        assert_eq!(cdata("a]]>b"), "<![CDATA[a]]]]><![CDATA[>b]]>");
        assert_eq!(cdata("x\n\ty\u{7}\u{FFFF}"), "<![CDATA[x\n\ty  ]]>");
    }

    #[test]
    fn atom_is_well_formed_with_permanent_entry_ids() {
        let mut snapshot = fixtures::snapshot();
        snapshot.url = "https://ops:pw@status.example.com:8443/acme".into();
        let xml = atom(&snapshot);
        let nodes = well_formed(&xml);

        let feed = children(&nodes, "feed");
        assert_eq!(
            feed[0][..7],
            [
                "id", "title", "subtitle", "updated", "link", "link", "author"
            ]
        );
        for entry in children(&nodes, "entry") {
            assert_eq!(
                *entry,
                ["id", "title", "link", "published", "updated", "content"]
            );
        }
        assert!(xml.contains("<id>tag:status.example.com,2024-03-10:incident/inc000000001</id>"));
        assert!(xml.contains("<updated>2024-03-10T21:15:00Z</updated>"));
        assert!(xml.contains(
            "<link rel=\"self\" type=\"application/atom+xml\" \
             href=\"https://ops:pw@status.example.com:8443/acme/history.atom\"/>"
        ));
        assert!(xml.contains("<content type=\"html\"><![CDATA[<p><strong>Identified"));
        assert!(xml.contains("<author><name>Acme &lt;Status&gt;</name></author>"));
    }

    #[test]
    fn hosts_come_out_of_urls() {
        assert_eq!(host("https://status.example.com"), "status.example.com");
        assert_eq!(host("http://u@h.example:81/x?y#z"), "h.example");
        assert_eq!(host("https://[::1]:8080/"), "::1");
    }

    #[test]
    fn feeds_keep_the_fifty_with_newest_activity() {
        let mut snapshot = fixtures::bare();
        snapshot.incidents = (0..60)
            .map(|i| {
                let mut item =
                    fixtures::incident(&format!("i{i}"), "x", "resolved", "2024-01-01T00:00:00Z");
                item.updates[0].created_at =
                    ts("2024-01-01T00:00:00Z") + jiff::SignedDuration::from_hours(i);
                item
            })
            .collect();

        let xml = rss(&snapshot);

        assert_eq!(xml.matches("<item>").count(), 50);
        assert!(
            xml.find("<guid isPermaLink=\"false\">i59-").unwrap()
                < xml.find("<guid isPermaLink=\"false\">i58-").unwrap()
        );
        assert!(!xml.contains(">i9-i9-u1<"));
    }

    #[test]
    fn cm05_feed_descriptions_follow_the_one_rollup() {
        let mut snapshot = fixtures::bare();
        let descriptions = |s: &Snapshot| {
            let rss = rss(s);
            let atom = atom(s);
            let pick = |xml: &str, tag: &str| {
                let open = format!("<{tag}>");
                let start = xml.find(&open).unwrap() + open.len();
                let end = start + xml[start..].find('<').unwrap();
                xml[start..end].to_string()
            };
            (pick(&rss, "description"), pick(&atom, "subtitle"))
        };
        let both = |text: &str| (text.to_string(), text.to_string());

        assert_eq!(descriptions(&snapshot), both("All Systems Operational"));
        snapshot.components = vec![fixtures::component(
            "c1",
            "A",
            ComponentStatus::Operational,
            0,
        )];
        assert_eq!(descriptions(&snapshot), both("All Systems Operational"));
        snapshot.components[0].status = ComponentStatus::DegradedPerformance;
        assert_eq!(descriptions(&snapshot), both("Minor Service Outage"));
    }
}
