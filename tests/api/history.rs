//! On-call history, shift-change and coverage-gap notices, and rotation edits that keep who
//! is on call (issue #3; on-call spec §1.2, §1.3, D13, D16, OC-06, OC-09, OC-10). Each test
//! adds its own schedules, so the shared config's schedules send no notices.

use dutybell::clock::Clock;
use dutybell::domain::oncall;
use dutybell::store::history::{self, HistoryRow};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use crate::helpers::{Hook, Setup, TestApp, spawn_app_with};
use crate::oncall::dutybell;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

async fn rows(app: &TestApp, schedule: &str) -> Vec<(String, Timestamp, Option<Timestamp>)> {
    let rows: Vec<HistoryRow> = history::list(&app.store, schedule).await.unwrap();
    rows.into_iter()
        .map(|r| (r.person_id, r.started_at, r.ended_at))
        .collect()
}

/// Webhook notices received so far whose event starts with `oncall.`.
fn notices(app: &TestApp) -> Vec<Hook> {
    app.hooks
        .hooks()
        .into_iter()
        .filter(|h| {
            h.body["event"]
                .as_str()
                .unwrap_or("")
                .starts_with("oncall.")
        })
        .collect()
}

/// Runs a pass at every `step` from the clock's time up to and including `until`.
async fn run_until(app: &TestApp, until: Timestamp, step: SignedDuration) {
    while app.clock.now() <= until {
        app.run_engine_once().await;
        app.clock.advance(step);
    }
}

const OC09: &str = r#"
[[schedule]]
id = "oc09"
time_zone = "America/Chicago"
rules = [
  { days = ["tue"], from = "09:00", to = "12:00", target = "person:ana" },
  { days = ["tue"], from = "13:00", to = "17:00", target = "person:ana" },
]
"#;

#[tokio::test]
async fn covering_two_shifts_writes_exactly_two_history_rows_oc09() {
    let app = spawn_app_with(Setup {
        clock: Clock::manual(ts("2025-06-10T12:00:00Z")),
        oncall: OC09.into(),
        ..Setup::default()
    })
    .await;
    let created = app
        .api_post(
            "/api/v1/schedules/oc09/overrides",
            json!({ "remove": "ana", "add": "ben",
                    "start": "2025-06-10T13:00:00Z", "end": "2025-06-10T23:00:00Z" }),
        )
        .await;
    assert_eq!(created.status(), 201);

    run_until(
        &app,
        ts("2025-06-11T01:00:00Z"),
        SignedDuration::from_mins(30),
    )
    .await;

    // B (ben) covers both of A's (ana's) windows; A is never on call, so has no row.
    assert_eq!(
        rows(&app, "oc09").await,
        [
            (
                "ben".to_string(),
                ts("2025-06-10T14:00:00Z"),
                Some(ts("2025-06-10T17:00:00Z"))
            ),
            (
                "ben".to_string(),
                ts("2025-06-10T18:00:00Z"),
                Some(ts("2025-06-10T22:00:00Z"))
            ),
        ]
    );
    assert!(notices(&app).is_empty(), "oc09 does not opt in to notices");
}

const DESK: &str = r#"
[[schedule]]
id = "desk"
time_zone = "UTC"
shift_notices = true
rules = [
  { days = "all", from = "00:00", to = "06:00", target = "person:ben" },
  { days = "all", from = "06:00", to = "00:00", target = "person:ana" },
]
"#;

#[tokio::test]
async fn a_handoff_tells_the_incoming_person_and_sums_up_the_outgoing_ones_pages_issue_3() {
    let app = spawn_app_with(Setup {
        oncall: DESK.into(),
        ..Setup::default()
    })
    .await;

    // t0 = 03:00Z: ben is on call for desk. A fresh install records him silently.
    let first = app.run_engine_once().await;
    assert!(first.history_changes > 0);
    assert_eq!(first.notices_queued, 0);
    // The `api` policy pages the primary rotation, ben this week, during his desk shift.
    app.fire("DiskFull").await;
    app.run_engine_once().await;
    let pages_to_ben = app
        .hooks
        .recipients()
        .iter()
        .filter(|p| *p == "ben")
        .count();
    assert_eq!(pages_to_ben, 1);
    assert!(notices(&app).is_empty(), "no notice on the first pass");

    // 06:00Z: the handoff to ana.
    app.clock.set(ts("2025-06-12T06:00:00Z"));
    let pass = app.run_engine_once().await;

    assert_eq!(
        pass.notices_queued, 4,
        "webhook and email for each of ana and ben"
    );
    let got = notices(&app);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().all(|h| h.signature_ok));
    let started = got.iter().find(|h| h.person == "ana").unwrap();
    assert_eq!(started.body["event"], "oncall.shift_started");
    assert_eq!(started.body["data"]["schedule"]["id"], "desk");
    assert_eq!(
        started.body["data"]["shift"]["start"],
        "2025-06-12T06:00:00Z"
    );
    assert_eq!(started.body["data"]["shift"]["end"], "2025-06-13T00:00:00Z");
    let text = started.body["data"]["text"].as_str().unwrap();
    assert!(
        text.starts_with("You are now on call for desk until Fri 2025-06-13 02:00 CEST"),
        "{text}"
    );
    let ended = got.iter().find(|h| h.person == "ben").unwrap();
    assert_eq!(ended.body["event"], "oncall.shift_ended");
    assert_eq!(
        ended.body["data"]["pages"], 2,
        "one webhook and one email page"
    );
    let alerts = ended.body["data"]["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1);
    assert!(alerts[0]["summary"].as_str().unwrap().contains("DiskFull"));

    let mail = app
        .smtp
        .mails()
        .into_iter()
        .find(|m| m.to == ["ana@example.com"] && m.data.contains("On call: desk"))
        .expect("ana's email notice");
    assert!(
        mail.data
            .contains("Subject: [dutybell] On call: desk until Fri 2025-06-13 02:00 CEST"),
        "{}",
        mail.data
    );
    assert_eq!(
        rows(&app, "desk").await,
        [
            (
                "ben".to_string(),
                ts("2025-06-12T03:00:00Z"),
                Some(ts("2025-06-12T06:00:00Z"))
            ),
            ("ana".to_string(), ts("2025-06-12T06:00:00Z"), None),
        ]
    );

    let again = app.advance_and_run(1).await;
    assert_eq!(again.notices_queued, 0, "each handoff is told once");
}

#[tokio::test]
async fn a_failed_notice_is_retried() {
    let app = spawn_app_with(Setup {
        clock: Clock::manual(ts("2025-06-12T05:59:00Z")),
        oncall: DESK.into(),
        ..Setup::default()
    })
    .await;
    app.run_engine_once().await;
    *app.hooks.fail_next.lock().unwrap() = 2;

    app.clock.set(ts("2025-06-12T06:00:00Z"));
    app.run_engine_once().await;
    assert!(notices(&app).is_empty(), "both webhook notices failed once");
    app.clock.advance(SignedDuration::from_secs(15));
    let retry = app.run_engine_once().await;

    assert_eq!(retry.notices_attempted, 2);
    let people: Vec<String> = notices(&app).into_iter().map(|h| h.person).collect();
    assert_eq!(people.len(), 2);
    assert!(people.contains(&"ana".to_string()) && people.contains(&"ben".to_string()));
}

/// OC-06's rotation, with people A–D as ana, ben, chen and dara, behind an always-on schedule.
/// The people line is written without spaces so a test can find and edit it.
const OC06: &str = r#"
[[rotation]]
id = "oc06"
kind = "weekly"
start = "2025-05-19T09:00"
time_zone = "America/Chicago"
people = ["ana","ben","chen","dara"]

[[schedule]]
id = "oc06"
time_zone = "America/Chicago"
rules = [{ days = "all", from = "00:00", to = "00:00", target = "rotation:oc06" }]
"#;

/// Builds the OC-06 app at 2025-06-02T15:00Z (C on call since 14:00Z), runs a pass, then
/// restarts it at 2025-06-04T17:00Z with `people` as the rotation's new people line.
async fn edit_oc06(people: &str) -> TestApp {
    let app = spawn_app_with(Setup {
        clock: Clock::manual(ts("2025-06-02T15:00:00Z")),
        oncall: OC06.into(),
        ..Setup::default()
    })
    .await;
    app.run_engine_once().await;

    let clock = Clock::manual(ts("2025-06-04T17:00:00Z"));
    let app = app
        .restart(clock, |dir| {
            let path = dir.join("oncall.toml");
            let text = std::fs::read_to_string(&path).unwrap();
            let edited = text.replace(r#"people = ["ana","ben","chen","dara"]"#, people);
            assert_ne!(text, edited);
            std::fs::write(&path, edited).unwrap();
        })
        .await;
    app.run_engine_once().await;
    app
}

/// `(person, start)` of each oc06 shift from 2025-06-04T17:00Z for four weeks.
fn oc06_shifts(app: &TestApp) -> Vec<(String, Timestamp)> {
    let config = &app.engine.config;
    let shifts = oncall::shifts(
        &config.schedules["oc06"],
        &config.rotations,
        ts("2025-06-04T17:00:00Z"),
        ts("2025-06-30T14:00:00Z"),
    );
    shifts.into_iter().map(|s| (s.person, s.start)).collect()
}

#[tokio::test]
async fn removing_a_person_keeps_the_one_on_call_oc06() {
    let app = edit_oc06(r#"people = ["ben","chen","dara"]"#).await;

    assert_eq!(
        oc06_shifts(&app),
        [
            ("chen".to_string(), ts("2025-06-04T17:00:00Z")),
            ("dara".to_string(), ts("2025-06-09T14:00:00Z")),
            ("ben".to_string(), ts("2025-06-16T14:00:00Z")),
            ("chen".to_string(), ts("2025-06-23T14:00:00Z")),
        ]
    );
    assert_eq!(
        rows(&app, "oc06").await,
        [("chen".to_string(), ts("2025-06-02T15:00:00Z"), None)],
        "history does not change: C stays on call"
    );
    // The CLI reads the same stored anchor.
    let out = dutybell(
        app.config_dir(),
        ts("2025-06-04T17:00:00Z"),
        &["oncall", "--at", "2025-06-04T17:00:00Z"],
    );
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("oc06") && l.contains("until 2025-06-09T14"))
        .unwrap_or_else(|| panic!("no anchored oc06 line in:\n{out}"));
    assert!(line.contains("chen name (chen)"), "{line}");
}

#[tokio::test]
async fn removing_the_person_on_call_hands_over_to_the_next_and_history_shows_it_oc06() {
    let app = edit_oc06(r#"people = ["ana","ben","dara"]"#).await;

    assert_eq!(
        oc06_shifts(&app),
        [
            ("dara".to_string(), ts("2025-06-04T17:00:00Z")),
            ("ana".to_string(), ts("2025-06-09T14:00:00Z")),
            ("ben".to_string(), ts("2025-06-16T14:00:00Z")),
            ("dara".to_string(), ts("2025-06-23T14:00:00Z")),
        ]
    );
    assert_eq!(
        rows(&app, "oc06").await,
        [
            (
                "chen".to_string(),
                ts("2025-06-02T15:00:00Z"),
                Some(ts("2025-06-04T17:00:00Z"))
            ),
            ("dara".to_string(), ts("2025-06-04T17:00:00Z"), None),
        ]
    );
}

const OC10: &str = r#"
[[rotation]]
id = "oc10"
kind = "daily"
start = "2023-01-01T00:00"
time_zone = "America/Chicago"
people = ["ana", "ben"]

[[schedule]]
id = "oc10"
time_zone = "America/Chicago"
notify = ["person:lead"]
rules = [{ days = "all", from = "00:00", to = "00:00", target = "rotation:oc10" }]
"#;

/// `(start, end)` of each gap a coverage notice lists.
fn listed_gaps(hook: &Hook) -> Vec<(String, String)> {
    hook.body["data"]["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["start"].as_str().unwrap().to_string(),
                g["end"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn coverage_gaps_are_announced_once_as_they_enter_the_horizon_oc10() {
    let app = spawn_app_with(Setup {
        clock: Clock::manual(ts("2023-01-09T15:00:00Z")),
        oncall: OC10.into(),
        ..Setup::default()
    })
    .await;
    app.run_engine_once().await;
    assert!(notices(&app).is_empty(), "always covered: nothing to say");

    // Mon 2023-01-09 10:00 -06:00: the rule becomes 04:00–00:00.
    let app = app
        .restart(Clock::manual(ts("2023-01-09T16:00:00Z")), |dir| {
            let path = dir.join("oncall.toml");
            let text = std::fs::read_to_string(&path).unwrap();
            let old = r#"from = "00:00", to = "00:00", target = "rotation:oc10""#;
            assert!(text.contains(old));
            let new = r#"from = "04:00", to = "00:00", target = "rotation:oc10""#;
            std::fs::write(&path, text.replace(old, new)).unwrap();
        })
        .await;
    app.run_engine_once().await;

    let first = notices(&app);
    assert_eq!(first.len(), 1, "one webhook notice to the lead");
    assert_eq!(first[0].person, "lead");
    assert_eq!(first[0].body["event"], "oncall.coverage_gaps");
    let expected: Vec<(String, String)> = (10..=16)
        .map(|day| {
            (
                format!("2023-01-{day}T06:00:00Z"),
                format!("2023-01-{day}T10:00:00Z"),
            )
        })
        .collect();
    assert_eq!(listed_gaps(&first[0]), expected, "none for 2023-01-09");

    app.clock.advance(SignedDuration::from_hours(1));
    let mut sent_at = Vec::new();
    while app.clock.now() <= ts("2023-01-10T12:00:00Z") {
        let before = notices(&app).len();
        app.run_engine_once().await;
        if notices(&app).len() > before {
            sent_at.push(app.clock.now());
        }
        app.clock.advance(SignedDuration::from_hours(1));
    }

    assert_eq!(sent_at, [ts("2023-01-10T07:00:00Z")]);
    let all = notices(&app);
    assert_eq!(all.len(), 2);
    assert_eq!(
        listed_gaps(&all[1]),
        [(
            "2023-01-17T06:00:00Z".to_string(),
            "2023-01-17T10:00:00Z".to_string()
        )]
    );
    let mails = app.smtp.mails();
    let gap_mails: Vec<_> = mails
        .iter()
        .filter(|m| m.data.contains("Coverage gaps: oc10"))
        .collect();
    assert_eq!(gap_mails.len(), 2, "and one email each");
    assert!(gap_mails.iter().all(|m| m.to == ["lead@example.com"]));
}
