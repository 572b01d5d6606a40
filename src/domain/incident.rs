//! Incidents as rules (comms spec §1): the lifecycle and which moves it allows, severities
//! and what each implies (paging, reminders, the status-page prompt, public impact), the
//! changes a person can make, and the update-reminder clock (§1.6).
//!
//! Nothing here stores or sends; `store::incidents` applies a [`Change`] in one transaction
//! and `engine::nudges` sends the reminders these rules schedule.

use std::fmt;
use std::str::FromStr;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::alert;
use super::statuspage::{ComponentStatus, Impact};

/// Longest title, in Unicode scalar values.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest note, update, summary or impact text.
pub const MAX_TEXT_CHARS: usize = 10_000;

/// Where an incident is in its life (§1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Investigating,
    Identified,
    Monitoring,
    Resolved,
    Closed,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Investigating,
        Status::Identified,
        Status::Monitoring,
        Status::Resolved,
        Status::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Investigating => "investigating",
            Status::Identified => "identified",
            Status::Monitoring => "monitoring",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
        }
    }

    /// Still under way: not resolved, not closed.
    pub fn is_open(self) -> bool {
        self < Status::Resolved
    }

    /// Where a person may move it from here (the postmortem alone closes, §6.3).
    pub fn allowed_moves(self) -> Vec<Status> {
        use Status::*;
        match self {
            Investigating => vec![Identified, Monitoring, Resolved],
            Identified => vec![Investigating, Monitoring, Resolved],
            Monitoring => vec![Investigating, Identified, Resolved],
            Resolved => vec![Investigating],
            Closed => vec![],
        }
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
        let text = text.trim().to_ascii_lowercase();
        Status::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| {
                format!(
                    "unknown status {text:?}; use investigating, identified, monitoring or \
                     resolved"
                )
            })
    }
}

/// What a status move does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Move {
    /// Already there: nothing to write.
    Same,
    /// A forward or backward move within the open states, or resolving.
    To(Status),
    /// `resolved` → `investigating`: clears `resolved_at`.
    Reopen,
}

/// Checks a status move (§1.1): forward moves may skip states, `identified` and
/// `monitoring` may go back, `resolved` only reopens, `closed` is final.
pub fn check_move(from: Status, to: Status) -> Result<Move, String> {
    if from == to {
        return Ok(Move::Same);
    }
    if !from.allowed_moves().contains(&to) {
        let allowed: Vec<&str> = from.allowed_moves().iter().map(|s| s.as_str()).collect();
        return Err(if allowed.is_empty() {
            format!("a {from} incident cannot change status")
        } else {
            format!(
                "cannot move a {from} incident to {to}; allowed: {}",
                allowed.join(", ")
            )
        });
    }
    Ok(if from == Status::Resolved {
        Move::Reopen
    } else {
        Move::To(to)
    })
}

/// P1–P3; lower is worse (§1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    P1,
    P2,
    P3,
}

impl Severity {
    pub fn rank(self) -> i64 {
        match self {
            Severity::P1 => 1,
            Severity::P2 => 2,
            Severity::P3 => 3,
        }
    }

    pub fn from_rank(rank: i64) -> Option<Severity> {
        match rank {
            1 => Some(Severity::P1),
            2 => Some(Severity::P2),
            3 => Some(Severity::P3),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::P1 => "P1",
            Severity::P2 => "P2",
            Severity::P3 => "P3",
        }
    }

    /// P1 and P2 page the services' on-call at declaration; P3 is working hours.
    pub fn pages_on_call(self) -> bool {
        self <= Severity::P2
    }

    /// How often the comms lead is nudged for an update (§1.6); none for P3.
    pub fn update_interval(self) -> Option<SignedDuration> {
        match self {
            Severity::P1 => Some(SignedDuration::from_mins(30)),
            Severity::P2 => Some(SignedDuration::from_mins(60)),
            Severity::P3 => None,
        }
    }

    /// How long after declaration an unpublished incident prompts for the status page.
    pub fn publish_prompt_after(self) -> Option<SignedDuration> {
        match self {
            Severity::P1 => Some(SignedDuration::from_mins(15)),
            Severity::P2 => Some(SignedDuration::from_mins(30)),
            Severity::P3 => None,
        }
    }

    /// The public impact a publish starts from.
    pub fn default_impact(self) -> Impact {
        match self {
            Severity::P1 => Impact::Critical,
            Severity::P2 => Impact::Major,
            Severity::P3 => Impact::Minor,
        }
    }

    /// The state a first publish puts the incident's components in when none are named:
    /// P1 a major outage, P2 a partial one, P3 degraded performance.
    pub fn default_component_status(self) -> ComponentStatus {
        match self {
            Severity::P1 => ComponentStatus::MajorOutage,
            Severity::P2 => ComponentStatus::PartialOutage,
            Severity::P3 => ComponentStatus::DegradedPerformance,
        }
    }

    /// An alert promoted without a chosen severity (§1.5): `critical` → P2, else P3.
    pub fn from_alert(severity: alert::Severity) -> Severity {
        match severity {
            alert::Severity::Critical => Severity::P2,
            _ => Severity::P3,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(text: &str) -> Result<Severity, String> {
        match text.trim().to_ascii_uppercase().as_str() {
            "P1" | "1" => Ok(Severity::P1),
            "P2" | "2" => Ok(Severity::P2),
            "P3" | "3" => Ok(Severity::P3),
            _ => Err(format!("unknown severity {text:?}; use P1, P2 or P3")),
        }
    }
}

impl Serialize for Severity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Severity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Severity, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Where a declaration or change came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Slack,
    Web,
    Cli,
    Api,
    Alert,
    Engine,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Slack => "slack",
            Source::Web => "web",
            Source::Cli => "cli",
            Source::Api => "api",
            Source::Alert => "alert",
            Source::Engine => "engine",
        }
    }
}

impl FromStr for Source {
    type Err = String;

    fn from_str(text: &str) -> Result<Source, String> {
        [
            Source::Slack,
            Source::Web,
            Source::Cli,
            Source::Api,
            Source::Alert,
            Source::Engine,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
        .ok_or_else(|| format!("unknown source {text:?}"))
    }
}

/// One change a person makes to an incident; each writes one timeline event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Status {
        to: Status,
        text: Option<String>,
    },
    Severity(Severity),
    /// A person id.
    Commander(String),
    /// A person id, or `None` to hand comms back to the commander.
    CommsLead(Option<String>),
    /// `key` notes are copied into the postmortem; `at` backdates a manual entry (with
    /// the zone it was typed in, §1.4).
    Note {
        text: String,
        key: bool,
        at: Option<EntryTime>,
    },
    /// An internal status update (counts for the reminder clock; notes don't).
    Update {
        text: String,
    },
    Summary(String),
    Impact(String),
}

impl Change {
    /// The timeline event kind this change writes (§1.4).
    pub fn event_kind(&self) -> &'static str {
        match self {
            Change::Status { .. } => "status.changed",
            Change::Severity(_) => "severity.changed",
            Change::Commander(_) => "commander.changed",
            Change::CommsLead(_) => "comms_lead.changed",
            Change::Note { .. } => "note.added",
            Change::Update { .. } => "update.posted",
            Change::Summary(_) | Change::Impact(_) => "milestone.set",
        }
    }

    /// Whether it restarts the update-reminder clock (§1.6: notes don't).
    pub fn counts_as_update(&self) -> bool {
        matches!(self, Change::Status { .. } | Change::Update { .. })
    }
}

/// Where an incident's page lives on this instance (the status page owns `/incidents/…`
/// for public incidents, so internal ones sit under `/ui/`).
/// The web UI serves it (`http::ui::pages::incident`), behind a login.
pub fn web_path(number: i64) -> String {
    format!("/ui/incidents/{number}")
}

/// When a manual timeline entry happened, as typed: the instant and the zone it was
/// typed in (kept as `entry_tz` so the entry can be shown as the person wrote it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryTime {
    pub at: Timestamp,
    pub zone: String,
}

/// Reads a typed local time (`2025-02-03 14:05`, `2025-02-03T14:05`, or an RFC 3339
/// instant) in `zone` (an IANA name). A wall time the zone skips or repeats resolves as
/// jiff's "compatible" rule does (later for a gap, earlier for a fold).
pub fn entry_time(text: &str, zone: &str) -> Result<EntryTime, String> {
    let tz = jiff::tz::TimeZone::get(zone).map_err(|_| format!("{zone:?} is not an IANA zone"))?;
    let text = text.trim();
    let at = match text.parse::<Timestamp>() {
        Ok(at) => at,
        Err(_) => {
            let civil: jiff::civil::DateTime = text
                .replacen(' ', "T", 1)
                .parse()
                .map_err(|_| format!("{text:?} is not a time like 2025-02-03 14:05"))?;
            tz.to_ambiguous_zoned(civil)
                .compatible()
                .map_err(|err| err.to_string())?
                .timestamp()
        }
    };
    Ok(EntryTime {
        at,
        zone: zone.to_string(),
    })
}

/// Checks a title: 1–200 characters after trimming, one line, no control characters.
pub fn check_title(title: &str) -> Result<String, String> {
    let title = title.trim();
    if title.is_empty() {
        return Err("the title must not be empty".into());
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(format!(
            "the title must be at most {MAX_TITLE_CHARS} characters"
        ));
    }
    if title.chars().any(char::is_control) {
        return Err("the title must be one line without control characters".into());
    }
    Ok(title.to_string())
}

/// Checks free text (notes, updates, summary, impact): not empty, bounded.
pub fn check_text(field: &str, text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("the {field} must not be empty"));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(format!(
            "the {field} must be at most {MAX_TEXT_CHARS} characters"
        ));
    }
    Ok(text.to_string())
}

/// When the next update reminder is due (§1.6): one interval after the last update, for
/// open incidents of a severity that has reminders.
pub fn reminder_due(
    severity: Severity,
    status: Status,
    last_update: Timestamp,
) -> Option<Timestamp> {
    if !status.is_open() {
        return None;
    }
    severity.update_interval().map(|every| last_update + every)
}

/// Whom to page into an incident.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Responders {
    /// These people, at once (a direct page).
    People(Vec<String>),
    /// Whoever the service's escalation policy reaches: `(service id, policy id)`.
    Service { service: String, policy: String },
}

/// A checked declaration, ready to store.
#[derive(Clone, Debug)]
pub struct NewIncident {
    pub title: String,
    pub severity: Severity,
    pub summary: String,
    pub impact: String,
    /// A person id.
    pub commander: String,
    pub comms_lead: Option<String>,
    pub services: Vec<String>,
    pub source: Source,
    pub test: bool,
    /// A person id, or `system` for rule-opened incidents.
    pub declared_by: String,
    /// An alert to promote: it attaches, sets `started_at`/`detected_at`, and a human
    /// promotion acks it (§1.5).
    pub from_alert: Option<i64>,
    /// Pages to open with the declaration.
    pub page: Vec<Responders>,
}

/// A declaration as a person asks for it, before checking.
#[derive(Clone, Debug, Default)]
pub struct DeclareRequest {
    pub title: String,
    /// Required unless promoting an alert (then mapped from its severity).
    pub severity: Option<String>,
    pub summary: Option<String>,
    pub impact: Option<String>,
    /// Defaults to the declarer.
    pub commander: Option<String>,
    pub comms_lead: Option<String>,
    pub services: Vec<String>,
    /// Page the services' on-call; defaults to on for P1/P2 (never for tests).
    pub page: Option<bool>,
    pub test: bool,
}

/// What a declaration may refer to, looked up by the caller.
pub struct Directory<'a> {
    pub person_exists: &'a dyn Fn(&str) -> bool,
    /// A service's escalation policy id, if the service exists.
    pub service_policy: &'a dyn Fn(&str) -> Option<String>,
}

/// The alert an incident is promoted from.
#[derive(Clone, Debug)]
pub struct Promoted {
    pub id: i64,
    pub summary: String,
    pub severity: alert::Severity,
    pub service: String,
}

/// A refused declaration, naming the field at fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Refused {
    pub field: &'static str,
    pub message: String,
}

fn refused(field: &'static str, message: impl Into<String>) -> Refused {
    Refused {
        field,
        message: message.into(),
    }
}

/// Checks a declaration (§1.1–§1.5): title, severity, people and services exist; the
/// commander defaults to the declarer; P1/P2 page each service's on-call unless told not
/// to (test incidents never page).
pub fn declare(
    request: DeclareRequest,
    declared_by: &str,
    source: Source,
    from: Option<Promoted>,
    dir: &Directory<'_>,
) -> Result<NewIncident, Refused> {
    let title = match (&from, request.title.trim().is_empty()) {
        (Some(alert), true) => alert.summary.chars().take(MAX_TITLE_CHARS).collect(),
        _ => request.title.clone(),
    };
    let title = check_title(&title).map_err(|m| refused("title", m))?;
    let severity = match (&request.severity, &from) {
        (Some(text), _) => text.parse().map_err(|m: String| refused("severity", m))?,
        (None, Some(alert)) => Severity::from_alert(alert.severity),
        (None, None) => return Err(refused("severity", "choose P1, P2 or P3")),
    };
    let person = |field: &'static str, id: &str| {
        if (dir.person_exists)(id) {
            Ok(id.to_string())
        } else {
            Err(refused(field, format!("no person {id:?} in team.toml")))
        }
    };
    if declared_by != "system" {
        person("declared_by", declared_by)?;
    }
    let commander = match &request.commander {
        Some(id) => person("commander", id)?,
        None if declared_by != "system" => declared_by.to_string(),
        None => return Err(refused("commander", "name the commander")),
    };
    let comms_lead = request
        .comms_lead
        .as_deref()
        .map(|id| person("comms_lead", id))
        .transpose()?;
    let mut services: Vec<String> = Vec::new();
    for service in &request.services {
        if !services.contains(service) {
            services.push(service.clone());
        }
    }
    if let Some(alert) = &from
        && !services.contains(&alert.service)
    {
        services.insert(0, alert.service.clone());
    }
    let mut page = Vec::new();
    let wants_page = request.page.unwrap_or(severity.pages_on_call()) && !request.test;
    for service in &services {
        let policy = (dir.service_policy)(service)
            .ok_or_else(|| refused("services", format!("no service {service:?}")))?;
        // The promoted alert's own escalation already pages its service.
        let promoted_here = from.as_ref().is_some_and(|a| &a.service == service);
        if wants_page && !promoted_here {
            page.push(Responders::Service {
                service: service.clone(),
                policy,
            });
        }
    }
    let text = |field: &'static str, value: &Option<String>| match value {
        Some(v) if !v.trim().is_empty() => check_text(field, v).map_err(|m| refused(field, m)),
        _ => Ok(String::new()),
    };
    Ok(NewIncident {
        title,
        severity,
        summary: text("summary", &request.summary)?,
        impact: text("impact", &request.impact)?,
        commander,
        comms_lead,
        services,
        source: if from.is_some() && source == Source::Api {
            Source::Alert
        } else {
            source
        },
        test: request.test,
        declared_by: declared_by.to_string(),
        from_alert: from.map(|a| a.id),
        page,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn forward_moves_may_skip_and_middle_states_go_back() {
        use Status::*;
        assert_eq!(check_move(Investigating, Resolved), Ok(Move::To(Resolved)));
        assert_eq!(check_move(Monitoring, Identified), Ok(Move::To(Identified)));
        assert_eq!(
            check_move(Identified, Investigating),
            Ok(Move::To(Investigating))
        );
        assert_eq!(check_move(Resolved, Investigating), Ok(Move::Reopen));
        assert_eq!(check_move(Monitoring, Monitoring), Ok(Move::Same));
    }

    #[test]
    fn rejected_moves_list_the_allowed_ones() {
        use Status::*;
        let err = check_move(Resolved, Monitoring).unwrap_err();
        assert_eq!(
            err,
            "cannot move a resolved incident to monitoring; allowed: investigating"
        );
        assert!(check_move(Investigating, Closed).is_err());
        assert_eq!(
            check_move(Closed, Investigating).unwrap_err(),
            "a closed incident cannot change status"
        );
    }

    #[test]
    fn severities_parse_rank_and_imply_their_rules() {
        assert_eq!("p1".parse::<Severity>(), Ok(Severity::P1));
        assert_eq!(" P3 ".parse::<Severity>(), Ok(Severity::P3));
        assert!("p4".parse::<Severity>().is_err());
        assert!(Severity::P1 < Severity::P2);
        assert!(Severity::P2.pages_on_call() && !Severity::P3.pages_on_call());
        assert_eq!(Severity::P2.default_impact(), Impact::Major);
        assert_eq!(
            Severity::from_alert(alert::Severity::Critical),
            Severity::P2
        );
        assert_eq!(Severity::from_alert(alert::Severity::Warning), Severity::P3);
    }

    #[test]
    fn titles_are_trimmed_and_bounded_in_characters() {
        assert_eq!(check_title("  Checkout down "), Ok("Checkout down".into()));
        assert!(check_title("   ").is_err());
        assert!(check_title(&"é".repeat(200)).is_ok());
        assert!(check_title(&"é".repeat(201)).is_err());
        assert!(check_title("two\nlines").is_err());
        assert!(check_title("nul\u{0}byte").is_err());
    }

    #[test]
    fn reminders_run_from_the_last_update_while_open() {
        // CM-12's clock: P1 declared 10:00, update at 10:20 → due 10:50.
        let due = reminder_due(Severity::P1, Status::Identified, at("2025-01-01T10:20:00Z"));
        assert_eq!(due, Some(at("2025-01-01T10:50:00Z")));
        assert_eq!(
            reminder_due(
                Severity::P3,
                Status::Investigating,
                at("2025-01-01T10:00:00Z")
            ),
            None
        );
        assert_eq!(
            reminder_due(Severity::P1, Status::Resolved, at("2025-01-01T10:00:00Z")),
            None
        );
        assert!(
            !Change::Note {
                text: "x".into(),
                key: false,
                at: None
            }
            .counts_as_update()
        );
        assert!(Change::Update { text: "x".into() }.counts_as_update());
    }

    fn directory() -> (impl Fn(&str) -> bool, impl Fn(&str) -> Option<String>) {
        (
            |id: &str| ["ana", "ben"].contains(&id),
            |id: &str| (id == "api" || id == "web").then(|| format!("{id}-policy")),
        )
    }

    #[test]
    fn a_p1_pages_each_service_and_the_declarer_commands() {
        let (person_exists, service_policy) = directory();
        let dir = Directory {
            person_exists: &person_exists,
            service_policy: &service_policy,
        };
        let request = DeclareRequest {
            title: "Checkout down".into(),
            severity: Some("p1".into()),
            services: vec!["api".into(), "web".into()],
            ..DeclareRequest::default()
        };
        let new = declare(request, "ana", Source::Cli, None, &dir).unwrap();
        assert_eq!(new.commander, "ana");
        assert_eq!(new.severity, Severity::P1);
        assert_eq!(
            new.page,
            vec![
                Responders::Service {
                    service: "api".into(),
                    policy: "api-policy".into()
                },
                Responders::Service {
                    service: "web".into(),
                    policy: "web-policy".into()
                },
            ]
        );
    }

    #[test]
    fn declarations_name_the_field_at_fault() {
        let (person_exists, service_policy) = directory();
        let dir = Directory {
            person_exists: &person_exists,
            service_policy: &service_policy,
        };
        let base = DeclareRequest {
            title: "Checkout down".into(),
            severity: Some("P3".into()),
            ..DeclareRequest::default()
        };
        let p3 = declare(base.clone(), "ben", Source::Api, None, &dir).unwrap();
        assert!(p3.page.is_empty(), "P3 pages nobody");
        let cases = [
            (
                DeclareRequest {
                    severity: None,
                    ..base.clone()
                },
                "severity",
            ),
            (
                DeclareRequest {
                    title: " ".into(),
                    ..base.clone()
                },
                "title",
            ),
            (
                DeclareRequest {
                    commander: Some("zed".into()),
                    ..base.clone()
                },
                "commander",
            ),
            (
                DeclareRequest {
                    services: vec!["nope".into()],
                    ..base.clone()
                },
                "services",
            ),
        ];
        for (request, field) in cases {
            assert_eq!(
                declare(request, "ben", Source::Api, None, &dir)
                    .unwrap_err()
                    .field,
                field
            );
        }
        assert_eq!(
            declare(base, "zed", Source::Api, None, &dir)
                .unwrap_err()
                .field,
            "declared_by"
        );
    }

    #[test]
    fn a_promoted_alert_lends_title_severity_and_service() {
        let (person_exists, service_policy) = directory();
        let dir = Directory {
            person_exists: &person_exists,
            service_policy: &service_policy,
        };
        let alert = Promoted {
            id: 7,
            summary: "HighErrorRate on api".into(),
            severity: alert::Severity::Critical,
            service: "api".into(),
        };
        let new = declare(
            DeclareRequest::default(),
            "ana",
            Source::Api,
            Some(alert),
            &dir,
        )
        .unwrap();
        assert_eq!(new.title, "HighErrorRate on api");
        assert_eq!(new.severity, Severity::P2);
        assert_eq!(new.services, vec!["api".to_string()]);
        assert_eq!(new.source, Source::Alert);
        assert_eq!(new.from_alert, Some(7));
        assert!(
            new.page.is_empty(),
            "the alert's own escalation pages its service"
        );
    }

    /// CM-11: typed "2025-02-03 14:05" in Asia/Kolkata is 08:35Z.
    #[test]
    fn manual_entry_times_are_read_in_the_zone_they_were_typed_in() {
        let entry = entry_time("2025-02-03 14:05", "Asia/Kolkata").unwrap();
        assert_eq!(entry.at, at("2025-02-03T08:35:00Z"));
        assert_eq!(entry.zone, "Asia/Kolkata");
        let utc = entry_time("2025-02-03T08:35:00Z", "America/Los_Angeles").unwrap();
        assert_eq!(utc.at, at("2025-02-03T08:35:00Z"));
        // 02:30 does not exist in New York on 2025-03-09: the later reading.
        let gap = entry_time("2025-03-09 02:30", "America/New_York").unwrap();
        assert_eq!(gap.at, at("2025-03-09T07:30:00Z"));
        assert!(entry_time("yesterday", "UTC").is_err());
        assert!(entry_time("2025-02-03 14:05", "Mars/Base").is_err());
    }
}
