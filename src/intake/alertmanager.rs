//! Prometheus Alertmanager webhook (`version: "4"`), intake spec §2.1. `group` mode: one
//! dutybell alert per (receiver, groupKey), members tracked one by one by fingerprint;
//! `alert` mode ([`parse_alerts`]): one single-member group per fingerprint.
//!
//! Grafana's webhook contact point (`version: "1"`, §2.2) embeds the same format with a few
//! additions (`title`, dashboard/panel/silence URLs, `valueString`), so it is parsed here
//! too, as a [`Flavor`].

use std::collections::{BTreeMap, HashSet};

use jiff::Timestamp;
use serde_json::{Map, Value};

use super::{IntakeError, MAX_SUMMARY_CHARS, Parsed, is_http, truncate_chars};
use crate::domain::alert::Severity;
use crate::domain::delivery::{GroupDelivery, Link, Member};
use crate::domain::fingerprint::{fingerprint, sha256_hex};
use crate::domain::members::{MemberStatus, Occurrence};

/// Lines of per-member detail before the rest is summarised as "… N more".
const MAX_DETAIL_LINES: usize = 50;
/// Alertmanager's "no end yet".
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Which sender's dialect of the format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Alertmanager,
    Grafana,
}

/// Parses an Alertmanager webhook body received at `now` for `integration_id`.
pub fn parse(
    body: &[u8],
    integration_id: &str,
    default_severity: Severity,
    now: Timestamp,
) -> Parsed {
    parse_flavor(
        body,
        Flavor::Alertmanager,
        integration_id,
        default_severity,
        now,
    )
}

/// Parses a Grafana webhook contact point body.
pub fn parse_grafana(
    body: &[u8],
    integration_id: &str,
    default_severity: Severity,
    now: Timestamp,
) -> Parsed {
    parse_flavor(body, Flavor::Grafana, integration_id, default_severity, now)
}

/// Parses an Alertmanager or Grafana body for an integration in `alert` mode (intake spec
/// §2.1, §3.3): one single-member [`GroupDelivery`] per entry, in body order, keyed by its
/// fingerprint, each showing that member alone. The first carries the parse warnings.
pub fn parse_alerts(
    body: &[u8],
    flavor: Flavor,
    integration_id: &str,
    default_severity: Severity,
    now: Timestamp,
) -> Result<Vec<GroupDelivery>, IntakeError> {
    let wire = read_body(body, flavor, now)?;
    let mut warnings = Some(wire.warnings);
    let receiver = (!wire.receiver.is_empty()).then(|| unescape_receiver(&wire.receiver));
    let external = is_http(&wire.external_url).then(|| Link {
        href: wire.external_url.clone(),
        text: "Alertmanager".into(),
    });
    let none = BTreeMap::new();
    let deliveries = wire
        .members
        .into_iter()
        .zip(wire.member_links)
        .map(|(member, mut links)| {
            let summary = summary(&none, &member, None, 1);
            let details = member_details(&member);
            let severity = member
                .labels
                .get("severity")
                .and_then(|s| Severity::from_wire(s))
                .unwrap_or(default_severity);
            let source = member
                .labels
                .get("instance")
                .or_else(|| member.labels.get("job"))
                .cloned()
                .or_else(|| host_of(&wire.external_url))
                .unwrap_or_else(|| integration_id.to_string());
            let runbook_url = member
                .annotations
                .get("runbook_url")
                .filter(|url| is_http(url))
                .cloned();
            links.extend(external.clone());
            // Identity is (integration, fingerprint) whatever group listed it, so the
            // digest leaves receiver and groupKey out: a resend via any group is a duplicate.
            let digest = digest(integration_id, "", "alert", std::slice::from_ref(&member));
            GroupDelivery {
                dedup_key: member.fingerprint.clone(),
                receiver: receiver.clone(),
                digest,
                summary,
                details,
                severity,
                source,
                runbook_url,
                labels: member.labels.clone(),
                links,
                members: vec![member],
                warnings: warnings.take().unwrap_or_default(),
                received_at: now,
            }
        })
        .collect();
    Ok(deliveries)
}

/// A body's group-level fields and members, before mapping to alerts.
struct WireGroup {
    title: String,
    receiver: String,
    group_key: String,
    external_url: String,
    common_labels: BTreeMap<String, String>,
    common_annotations: BTreeMap<String, String>,
    members: Vec<Member>,
    /// Each member's own links, by index.
    member_links: Vec<Vec<Link>>,
    warnings: Vec<String>,
}

fn read_body(body: &[u8], flavor: Flavor, now: Timestamp) -> Result<WireGroup, IntakeError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|err| IntakeError::invalid("", format!("body is not JSON: {err}")))?;
    let Value::Object(top) = value else {
        return Err(IntakeError::invalid("", "expected a JSON object"));
    };
    let mut warnings = Vec::new();

    let version = if flavor == Flavor::Grafana { "1" } else { "4" };
    if top.get("version").and_then(Value::as_str) != Some(version) {
        warnings.push(format!("version: expected \"{version}\""));
    }
    let title = string_field(&top, "title", &mut warnings);
    let receiver = string_field(&top, "receiver", &mut warnings);
    let group_key = string_field(&top, "groupKey", &mut warnings);
    let external_url = string_field(&top, "externalURL", &mut warnings);
    let common_labels = string_map(&top, "commonLabels", &mut warnings);
    let common_annotations = string_map(&top, "commonAnnotations", &mut warnings);
    let _ = string_map(&top, "groupLabels", &mut warnings);

    let entries = match top.get("alerts") {
        Some(Value::Array(entries)) if !entries.is_empty() => entries,
        Some(Value::Array(_)) => return Err(IntakeError::invalid("alerts", "must not be empty")),
        Some(_) => return Err(IntakeError::invalid("alerts", "expected an array")),
        None => return Err(IntakeError::invalid("alerts", "is missing")),
    };
    let mut members = Vec::with_capacity(entries.len());
    let mut member_links = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let (member, links) = parse_member(i, entry, now, &mut warnings)?;
        members.push(member);
        member_links.push(links);
    }
    Ok(WireGroup {
        title,
        receiver,
        group_key,
        external_url,
        common_labels,
        common_annotations,
        members,
        member_links,
        warnings,
    })
}

fn parse_flavor(
    body: &[u8],
    flavor: Flavor,
    integration_id: &str,
    default_severity: Severity,
    now: Timestamp,
) -> Parsed {
    let WireGroup {
        title,
        receiver,
        group_key,
        external_url,
        common_labels,
        common_annotations,
        members,
        member_links,
        warnings,
    } = read_body(body, flavor, now)?;
    let mut links = Vec::new();
    // A set, not a scan of `links`: a group of thousands of members with distinct
    // generator URLs would otherwise make parsing quadratic (IN-04).
    let mut seen_links = HashSet::new();
    for link in member_links.into_iter().flatten() {
        if seen_links.insert(link.href.clone()) {
            links.push(link);
        }
    }
    if is_http(&external_url) {
        links.push(Link {
            href: external_url.clone(),
            text: "Alertmanager".into(),
        });
    }

    let firing: Vec<&Member> = members
        .iter()
        .filter(|m| m.occurrence.status == MemberStatus::Firing)
        .collect();
    let lead = firing.first().copied().unwrap_or(&members[0]);
    let summary = summary(
        &common_annotations,
        lead,
        Some(title.as_str()),
        firing.len(),
    );
    let details = details(&common_annotations, &common_labels, &firing);
    let severity = firing
        .iter()
        .filter_map(|m| {
            m.labels
                .get("severity")
                .and_then(|s| Severity::from_wire(s))
        })
        .max()
        .unwrap_or(default_severity);
    let source = common_labels
        .get("instance")
        .or_else(|| common_labels.get("job"))
        .cloned()
        .or_else(|| host_of(&external_url))
        .unwrap_or_else(|| integration_id.to_string());
    let runbook_url = common_annotations
        .get("runbook_url")
        .or_else(|| lead.annotations.get("runbook_url"))
        .filter(|url| is_http(url))
        .cloned();

    Ok(GroupDelivery {
        dedup_key: sha256_hex(&[&receiver, &group_key]),
        receiver: (!receiver.is_empty()).then(|| unescape_receiver(&receiver)),
        digest: digest(integration_id, &receiver, &group_key, &members),
        summary,
        details,
        severity,
        source,
        runbook_url,
        labels: common_labels,
        links,
        members,
        warnings,
        received_at: now,
    })
}

fn parse_member(
    i: usize,
    entry: &Value,
    now: Timestamp,
    warnings: &mut Vec<String>,
) -> Result<(Member, Vec<Link>), IntakeError> {
    let field = |name: &str| format!("alerts[{i}].{name}");
    let Value::Object(entry) = entry else {
        return Err(IntakeError::invalid(
            format!("alerts[{i}]"),
            "expected an object",
        ));
    };
    let has_labels = matches!(entry.get("labels"), Some(Value::Object(_)));
    let sent_fingerprint = entry
        .get("fingerprint")
        .and_then(Value::as_str)
        .filter(|f| !f.is_empty());
    if !has_labels && sent_fingerprint.is_none() {
        return Err(IntakeError::invalid(
            field("labels"),
            "an alert needs labels or a fingerprint",
        ));
    }
    let mut labels = BTreeMap::new();
    let mut annotations = BTreeMap::new();
    let mut scoped = Vec::new();
    collect_strings(
        entry.get("labels"),
        &mut labels,
        &field("labels"),
        &mut scoped,
    );
    collect_strings(
        entry.get("annotations"),
        &mut annotations,
        &field("annotations"),
        &mut scoped,
    );
    warnings.extend(scoped);
    // Grafana hashes `__name__`-style labels into the fingerprint but they are internal.
    let internal = |key: &str| key.len() > 4 && key.starts_with("__") && key.ends_with("__");
    labels.retain(|key, value| !value.is_empty() && !internal(key));
    annotations.retain(|key, _| !internal(key));
    if let Some(value) = entry.get("valueString").and_then(Value::as_str)
        && !value.is_empty()
    {
        annotations.insert("valueString".into(), value.to_string());
    }

    let starts_at = match entry
        .get("startsAt")
        .and_then(Value::as_str)
        .map(parse_time)
    {
        Some(Some(at)) => at,
        _ => {
            warnings.push(format!(
                "{}: missing or not RFC 3339; using receive time",
                field("startsAt")
            ));
            now
        }
    };
    let ends_at = match entry.get("endsAt").and_then(Value::as_str) {
        None | Some("") | Some(ZERO_TIME) => None,
        Some(text) => parse_time(text),
    };
    let status = match entry
        .get("status")
        .and_then(Value::as_str)
        .and_then(MemberStatus::parse)
    {
        Some(status) => status,
        None => {
            warnings.push(format!(
                "{}: expected firing or resolved; inferred from endsAt",
                field("status")
            ));
            if ends_at.is_some_and(|end| end <= now) {
                MemberStatus::Resolved
            } else {
                MemberStatus::Firing
            }
        }
    };
    let links = [
        ("generatorURL", "Source"),
        ("dashboardURL", "Dashboard"),
        ("panelURL", "Panel"),
        ("silenceURL", "Silence"),
    ]
    .into_iter()
    .filter_map(|(field, text)| {
        let href = entry
            .get(field)
            .and_then(Value::as_str)
            .filter(|u| is_http(u))?;
        Some(Link {
            href: href.to_string(),
            text: text.to_string(),
        })
    })
    .collect();
    let member = Member {
        fingerprint: sent_fingerprint.map_or_else(|| fingerprint(&labels), str::to_string),
        occurrence: Occurrence {
            starts_at,
            status,
            ends_at,
        },
        labels,
        annotations,
    };
    Ok((member, links))
}

fn summary(
    common: &BTreeMap<String, String>,
    lead: &Member,
    title: Option<&str>,
    firing: usize,
) -> String {
    let title = title.filter(|t| !t.trim().is_empty()).map(str::to_string);
    let base = common
        .get("summary")
        .or_else(|| lead.annotations.get("summary"))
        .or(title.as_ref())
        .or_else(|| lead.labels.get("alertname"))
        .cloned()
        .unwrap_or_else(|| format!("alert {}", lead.fingerprint));
    let text = if firing > 1 {
        format!("{base} (+{} more firing)", firing - 1)
    } else {
        base
    };
    truncate_chars(&text, MAX_SUMMARY_CHARS)
}

fn details(
    common: &BTreeMap<String, String>,
    common_labels: &BTreeMap<String, String>,
    firing: &[&Member],
) -> String {
    if let Some(description) = common.get("description") {
        return description.clone();
    }
    let mut lines: Vec<String> = firing
        .iter()
        .take(MAX_DETAIL_LINES)
        .map(|m| {
            let text = m
                .annotations
                .get("summary")
                .or_else(|| m.annotations.get("description"))
                .map_or("", String::as_str);
            let own: Vec<String> = m
                .labels
                .iter()
                .filter(|(k, _)| !common_labels.contains_key(*k))
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let value = m
                .annotations
                .get("valueString")
                .map_or(String::new(), |v| format!(" {v}"));
            format!("- {text} [{}]{value}", own.join(", "))
        })
        .collect();
    if firing.len() > MAX_DETAIL_LINES {
        lines.push(format!("… {} more", firing.len() - MAX_DETAIL_LINES));
    }
    lines.join("\n")
}

/// An `alert`-mode alert's details: the member's description, its labels, its value.
fn member_details(member: &Member) -> String {
    let mut lines = Vec::new();
    if let Some(description) = member.annotations.get("description") {
        lines.push(description.clone());
    }
    let labels: Vec<String> = member
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    lines.push(format!("Labels: {}", labels.join(", ")));
    if let Some(value) = member.annotations.get("valueString") {
        lines.push(format!("Value: {value}"));
    }
    lines.join("\n")
}

/// Digest of a delivery's member states (D3): equal snapshots are duplicates.
fn digest(integration: &str, receiver: &str, group_key: &str, members: &[Member]) -> String {
    let mut tuples: Vec<String> = members
        .iter()
        .map(|m| {
            let o = &m.occurrence;
            let end = o.ends_at.map(|t| t.to_string()).unwrap_or_default();
            format!(
                "{}|{}|{}|{end}",
                m.fingerprint,
                o.starts_at,
                o.status.as_str()
            )
        })
        .collect();
    tuples.sort();
    let mut parts = vec![integration, receiver, group_key];
    parts.extend(tuples.iter().map(String::as_str));
    sha256_hex(&parts)
}

fn string_field(top: &Map<String, Value>, name: &str, warnings: &mut Vec<String>) -> String {
    match top.get(name) {
        Some(Value::String(s)) => s.clone(),
        None => String::new(),
        Some(_) => {
            warnings.push(format!("{name}: expected a string; ignored"));
            String::new()
        }
    }
}

fn string_map(
    top: &Map<String, Value>,
    name: &str,
    warnings: &mut Vec<String>,
) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    collect_strings(top.get(name), &mut map, name, warnings);
    map
}

/// Copies string values of a JSON object into `into`; anything else becomes a warning.
fn collect_strings(
    value: Option<&Value>,
    into: &mut BTreeMap<String, String>,
    field: &str,
    warnings: &mut Vec<String>,
) {
    match value {
        None => {}
        Some(Value::Object(map)) => {
            for (key, value) in map {
                match value {
                    Value::String(s) => {
                        into.insert(key.clone(), s.clone());
                    }
                    _ => warnings.push(format!("{field}.{key}: expected a string; ignored")),
                }
            }
        }
        Some(_) => warnings.push(format!("{field}: expected an object; ignored")),
    }
}

/// RFC 3339 with any fraction and `Z` or an offset, to a UTC instant.
fn parse_time(text: &str) -> Option<Timestamp> {
    text.parse::<Timestamp>().ok()
}

/// The receiver's name as configured: Alertmanager sends it regex-escaped
/// (`team-a\.pager\(eu\)` for `team-a.pager(eu)`, PR #2011), so one backslash before each
/// regex metacharacter is dropped. For display only: identity keeps the received string, and
/// no regex is ever built from it (IN-08).
pub fn unescape_receiver(received: &str) -> String {
    const META: &str = "\\.+*?()|[]{}^$";
    let mut name = String::with_capacity(received.len());
    let mut chars = received.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(&next) = chars.peek()
            && META.contains(next)
        {
            name.push(next);
            chars.next();
        } else {
            name.push(c);
        }
    }
    name
}

fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty()).then(|| host.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC_EXAMPLE: &str = r#"{"receiver":"dutybell\\.prod","status":"firing","alerts":[
      {"status":"firing","startsAt":"2025-06-02T07:41:10.91173976Z",
       "labels":{"alertname":"QueueBacklog","job":"worker","queue":"billing","severity":"critical"},
       "annotations":{"summary":"billing: 48k waiting","runbook_url":"https://rb.example/queue"},
       "endsAt":"0001-01-01T00:00:00Z","fingerprint":"bc3c2641a15bcac7",
       "generatorURL":"http://prom.example:9090/graph?g0.expr=queue_depth\u0026g0.tab=1"},
      {"status":"resolved","startsAt":"2025-06-02T07:41:10.91173976Z",
       "labels":{"alertname":"QueueBacklog","job":"worker","queue":"emails","severity":"warning"},
       "annotations":{"summary":"emails: 12k waiting"},"endsAt":"2025-06-02T07:52:00Z",
       "generatorURL":"","fingerprint":"22cb2d17615155ae"}],
     "groupLabels":{"alertname":"QueueBacklog"},"commonAnnotations":{},
     "commonLabels":{"alertname":"QueueBacklog","job":"worker"},
     "externalURL":"http://am.example:9093","version":"4",
     "groupKey":"{}:{alertname=\"QueueBacklog\"}","truncatedAlerts":0}"#;

    fn now() -> Timestamp {
        "2025-06-02T08:00:00Z".parse().unwrap()
    }

    #[test]
    fn maps_the_spec_example_group() {
        let d = parse(
            SPEC_EXAMPLE.as_bytes(),
            "api/alertmanager",
            Severity::Error,
            now(),
        )
        .unwrap();
        assert_eq!(
            d.dedup_key,
            sha256_hex(&["dutybell\\.prod", "{}:{alertname=\"QueueBacklog\"}"])
        );
        assert_eq!(d.summary, "billing: 48k waiting");
        assert_eq!(d.severity, Severity::Critical);
        assert_eq!(d.source, "worker");
        assert_eq!(d.runbook_url.as_deref(), Some("https://rb.example/queue"));
        assert_eq!(d.members.len(), 2);
        assert_eq!(
            d.members[0].occurrence.ends_at, None,
            "zero endsAt means none (IN-03)"
        );
        assert_eq!(d.members[1].occurrence.status, MemberStatus::Resolved);
        assert_eq!(
            d.links[0].href,
            "http://prom.example:9090/graph?g0.expr=queue_depth&g0.tab=1"
        );
        assert_eq!(d.links.last().unwrap().href, "http://am.example:9093");
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
        assert_eq!(
            d.details,
            "- billing: 48k waiting [queue=billing, severity=critical]"
        );
    }

    #[test]
    fn alert_mode_gives_one_delivery_per_member_from_that_member_alone() {
        let d = parse_alerts(
            SPEC_EXAMPLE.as_bytes(),
            Flavor::Alertmanager,
            "api/alertmanager",
            Severity::Info,
            now(),
        )
        .unwrap();
        assert_eq!(d.len(), 2);
        let (billing, emails) = (&d[0], &d[1]);
        assert_eq!(billing.dedup_key, "bc3c2641a15bcac7");
        assert_eq!(emails.dedup_key, "22cb2d17615155ae");
        assert_eq!(billing.receiver.as_deref(), Some("dutybell.prod"));
        assert_eq!(
            billing.summary, "billing: 48k waiting",
            "no (+N more firing)"
        );
        assert_eq!(emails.summary, "emails: 12k waiting");
        assert_eq!(billing.severity, Severity::Critical);
        assert_eq!(
            emails.severity,
            Severity::Warning,
            "its own, not the group's max"
        );
        assert_eq!(billing.source, "worker");
        assert_eq!(
            billing.runbook_url.as_deref(),
            Some("https://rb.example/queue")
        );
        assert_eq!(
            emails.runbook_url, None,
            "the other member's runbook is not its"
        );
        assert_eq!(billing.labels, billing.members[0].labels);
        assert_eq!(billing.labels["queue"], "billing");
        assert_eq!(
            billing.details,
            "Labels: alertname=QueueBacklog, job=worker, queue=billing, severity=critical"
        );
        let hrefs =
            |d: &GroupDelivery| -> Vec<String> { d.links.iter().map(|l| l.href.clone()).collect() };
        assert_eq!(
            hrefs(billing),
            [
                "http://prom.example:9090/graph?g0.expr=queue_depth&g0.tab=1",
                "http://am.example:9093"
            ]
        );
        assert_eq!(hrefs(emails), ["http://am.example:9093"]);
        assert_eq!(billing.members.len(), 1);
        assert_eq!(emails.members[0].fingerprint, "22cb2d17615155ae");
        assert_eq!(emails.members[0].occurrence.status, MemberStatus::Resolved);
        assert_ne!(billing.digest, emails.digest);
        let group = parse(
            SPEC_EXAMPLE.as_bytes(),
            "api/alertmanager",
            Severity::Info,
            now(),
        );
        assert_ne!(billing.digest, group.unwrap().digest);
    }

    #[test]
    fn alert_mode_never_merges_equal_summaries_in_06() {
        let body = r#"{"receiver":"r","groupKey":"g","alerts":[
          {"status":"firing","annotations":{"summary":"Disk almost full"},
           "labels":{"alertname":"DiskAlmostFull","instance":"db-1:9100","job":"node"}},
          {"status":"firing","annotations":{"summary":"Disk almost full"},
           "labels":{"alertname":"DiskAlmostFull","instance":"db-2:9100","job":"node"}}]}"#;
        let d = parse_alerts(
            body.as_bytes(),
            Flavor::Grafana,
            "i",
            Severity::Error,
            now(),
        );
        let keys: Vec<String> = d.unwrap().into_iter().map(|d| d.dedup_key).collect();
        assert_eq!(keys, ["e4ae6dae78232e20", "05c255830697584f"]);
    }

    #[test]
    fn lenient_fields_become_warnings_in_09() {
        let body = r#"{"version":4,"groupLabels":null,"surprise":true,"receiver":"r","groupKey":"g",
          "alerts":[{"status":"firing","labels":{"alertname":"A"},
                     "startsAt":"2025-06-02T07:00:00Z"}]}"#;
        let d = parse(body.as_bytes(), "i", Severity::Error, now()).unwrap();
        assert!(
            d.warnings.iter().any(|w| w.starts_with("version")),
            "{:?}",
            d.warnings
        );
        assert!(
            d.warnings.iter().any(|w| w.starts_with("groupLabels")),
            "{:?}",
            d.warnings
        );
        assert_eq!(d.members[0].fingerprint, fingerprint(&d.members[0].labels));
        assert_eq!(
            d.severity,
            Severity::Error,
            "no severity label: the integration default"
        );
    }

    #[test]
    fn unidentifiable_input_is_refused_with_its_field() {
        let cases = [
            ("not json", ""),
            ("[1,2]", ""),
            (r#"{"alerts":5}"#, "alerts"),
            (r#"{"alerts":[]}"#, "alerts"),
            (r#"{"alerts":[{"status":"firing"}]}"#, "alerts[0].labels"),
            (r#"{"alerts":[{"labels":{}}, 7]}"#, "alerts[1]"),
        ];
        for (body, field) in cases {
            match parse(body.as_bytes(), "i", Severity::Error, now()) {
                Err(IntakeError::Invalid { field: got, .. }) => assert_eq!(got, field, "{body}"),
                Ok(_) => panic!("{body} was accepted"),
            }
        }
    }

    #[test]
    fn equal_snapshots_have_equal_digests_whatever_the_order() {
        let a = parse(SPEC_EXAMPLE.as_bytes(), "i", Severity::Error, now()).unwrap();
        let changed_url = SPEC_EXAMPLE.replace("http://am.example:9093", "http://am2:9093");
        let b = parse(changed_url.as_bytes(), "i", Severity::Error, now()).unwrap();
        assert_eq!(a.digest, b.digest, "IN-01: only externalURL changed");
        let other_integration =
            parse(SPEC_EXAMPLE.as_bytes(), "j", Severity::Error, now()).unwrap();
        assert_ne!(a.digest, other_integration.digest);
    }

    #[test]
    fn grafana_members_keep_their_sent_fingerprints_and_links() {
        let body = r#"{"version":"1","orgId":1,"state":"alerting",
          "title":"[FIRING:2] CertExpiresSoon (Edge lb-2)","message":"","receiver":"dutybell",
          "status":"firing","groupKey":"g","truncatedAlerts":0,"commonAnnotations":{},
          "commonLabels":{"alertname":"CertExpiresSoon","grafana_folder":"Edge"},
          "alerts":[{"status":"firing","fingerprint":"7d1e0c5a9b224f36",
            "labels":{"alertname":"CertExpiresSoon","grafana_folder":"Edge","host":"lb-2",
                      "__alert_rule_uid__":"abc"},
            "startsAt":"2025-05-12T08:30:00+02:00","endsAt":"0001-01-01T00:00:00Z",
            "values":{"B":6},"valueString":"[ var='B' value=6 ]","silenceURL":"",
            "dashboardURL":"https://grafana.example/d/1","panelURL":""},
           {"status":"firing","fingerprint":"7d1e0c5a9b224f37",
            "labels":{"alertname":"CertExpiresSoon","grafana_folder":"Edge","host":"lb-2"},
            "startsAt":"2025-05-12T08:30:00+02:00"}]}"#;
        let d = parse_grafana(body.as_bytes(), "i", Severity::Error, now()).unwrap();
        assert_eq!(
            d.members.len(),
            2,
            "same visible labels, different fingerprints: two"
        );
        assert_eq!(d.members[0].fingerprint, "7d1e0c5a9b224f36");
        assert!(!d.members[0].labels.contains_key("__alert_rule_uid__"));
        assert_eq!(
            d.members[0].occurrence.starts_at,
            "2025-05-12T06:30:00Z".parse::<Timestamp>().unwrap()
        );
        assert_eq!(
            d.summary,
            "[FIRING:2] CertExpiresSoon (Edge lb-2) (+1 more firing)"
        );
        assert!(
            d.links
                .iter()
                .any(|l| l.href == "https://grafana.example/d/1")
        );
        assert!(d.details.contains("value=6"), "{}", d.details);
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    }

    #[test]
    fn an_escaped_receiver_is_shown_unescaped_in_08() {
        let cases = [
            (r"team-a\.pager\(eu\)", "team-a.pager(eu)"),
            (r"dutybell\.prod", "dutybell.prod"),
            (r"a\\b", r"a\b"),
            (r"x\+\*\?\|\[\]\{\}\^\$", "x+*?|[]{}^$"),
            (r"plain\n", r"plain\n"),
            ("trailing\\", "trailing\\"),
        ];
        for (received, shown) in cases {
            assert_eq!(unescape_receiver(received), shown, "{received}");
        }
    }

    #[test]
    fn summary_counts_more_firing_members_and_is_capped() {
        let long = "x".repeat(2000);
        let body = format!(
            r#"{{"alerts":[{{"status":"firing","labels":{{"alertname":"A","i":"1"}},
               "annotations":{{"summary":"{long}"}}}},
              {{"status":"firing","labels":{{"alertname":"A","i":"2"}}}}]}}"#
        );
        let d = parse(body.as_bytes(), "i", Severity::Error, now()).unwrap();
        assert_eq!(d.summary.chars().count(), MAX_SUMMARY_CHARS);
        assert!(d.summary.ends_with('…'));
        let two = r#"{"alerts":[{"status":"firing","labels":{"alertname":"A","i":"1"}},
            {"status":"firing","labels":{"alertname":"A","i":"2"}}]}"#;
        let d = parse(two.as_bytes(), "i", Severity::Error, now()).unwrap();
        assert_eq!(d.summary, "A (+1 more firing)");
    }
}
