//! On-call schedules wired into the product (issue #3): escalation pages a schedule's person
//! at the firing instant, overrides stored through the API change who that is, the iCal feed
//! and the CLI read the same `shifts()`.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use dutybell::clock::Clock;
use dutybell::domain::{feed_link, oncall};
use jiff::Timestamp;
use serde_json::json;

use crate::helpers::{
    SIGNING_SECRET, Setup, TOKEN, TestApp, WEB_KEY, am_body, spawn_app, spawn_app_with, t0,
    test_env, write_config,
};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// Fires one alert on the `web` service, whose step 0 targets `schedule:business`.
async fn fire_web(app: &TestApp, alertname: &str) {
    let body = am_body(alertname, &[("firing", &app.clock.now().to_string())]);
    let response = app
        .client
        .post(app.url(&format!("/api/v1/integrations/{WEB_KEY}/alertmanager")))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
}

#[tokio::test]
async fn a_schedule_target_pages_whoever_the_schedule_has_when_the_step_fires() {
    let night = spawn_app().await;
    let day = spawn_app_with(Setup {
        clock: Clock::manual(ts("2025-06-12T08:00:00Z")),
        ..Setup::default()
    })
    .await;

    fire_web(&night, "NightAlert").await;
    night.run_engine_once().await;
    fire_web(&day, "DayAlert").await;
    day.run_engine_once().await;

    // t0 is Thu 05:00 Madrid: the overnight rule has the lead, not the primary rotation.
    assert_eq!(night.hooks.recipients(), ["lead"]);
    // Thu 10:00 Madrid: the weekday rule has the primary rotation, ben this week.
    assert_eq!(day.hooks.recipients(), ["ben"]);
}

#[tokio::test]
async fn an_override_changes_who_is_paged_issue_3() {
    let app = spawn_app().await;
    let created = app
        .api_post(
            "/api/v1/schedules/business/overrides",
            json!({ "remove": "lead", "add": "chen", "by": "lead",
                    "start": "2025-06-12T04:00", "end": "2025-06-12T06:00" }),
        )
        .await;
    assert_eq!(created.status(), 201);
    let created: serde_json::Value = created.json().await.unwrap();
    assert_eq!(created["kind"], "replace");
    assert_eq!(
        created["start"], "2025-06-12T02:00:00Z",
        "local Madrid time"
    );

    fire_web(&app, "NightAlert").await;
    app.run_engine_once().await;

    assert_eq!(app.hooks.recipients(), ["chen"]);
    let listed = app.api_get("/api/v1/schedules/business/overrides").await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_deleted_override_no_longer_applies() {
    let app = spawn_app().await;
    let created: serde_json::Value = app
        .api_post(
            "/api/v1/schedules/business/overrides",
            json!({ "add": "ana", "from": "2025-06-12T02:00:00Z", "until": "2025-06-12T06:00" }),
        )
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/api/v1/schedules/business/overrides/{}", created["id"]);

    let deleted = app
        .client
        .delete(app.url(&path))
        .bearer_auth(crate::helpers::API_TOKEN);
    assert_eq!(deleted.send().await.unwrap().status(), 200);
    let again = app
        .client
        .delete(app.url(&path))
        .bearer_auth(crate::helpers::API_TOKEN);
    assert_eq!(again.send().await.unwrap().status(), 404);
    fire_web(&app, "NightAlert").await;
    app.run_engine_once().await;

    assert_eq!(app.hooks.recipients(), ["lead"]);
}

#[tokio::test]
async fn bad_overrides_are_rejected_with_a_400_naming_the_field() {
    let app = spawn_app().await;
    let ok_times = json!({ "start": "2025-06-12T04:00", "end": "2025-06-12T06:00" });
    let with = |extra: serde_json::Value| {
        let mut body = ok_times.clone();
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let cases = [
        (with(json!({ "add": "zoe" })), "add"),
        (with(json!({ "remove": "lead", "add": "lead" })), "add"),
        (with(json!({ "kind": "swap", "add": "ana" })), "kind"),
        (with(json!({ "add": "ana", "start": "tomorrow" })), "start"),
        (
            with(json!({ "add": "ana", "end": "2025-06-12T03:00" })),
            "end",
        ),
        (
            with(json!({ "add": "ana", "end": "2025-06-12T04:00" })),
            "end",
        ),
        (json!({ "add": "ana", "start": "2025-06-12T04:00" }), "end"),
        (with(json!({ "add": "ana", "by": "zoe" })), "by"),
        (with(json!({ "add": "ana", "colour": "red" })), "body"),
    ];

    for (body, field) in cases {
        let response = app
            .api_post("/api/v1/schedules/business/overrides", body.clone())
            .await;
        assert_eq!(response.status(), 400, "{body}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error["field"], field, "{body}: {error}");
    }

    let unknown = app
        .api_post(
            "/api/v1/schedules/nope/overrides",
            with(json!({ "add": "ana" })),
        )
        .await;
    assert_eq!(unknown.status(), 404);
    let anonymous = app
        .client
        .post(app.url("/api/v1/schedules/business/overrides"))
        .json(&with(json!({ "add": "ana" })))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let listed = app.api_get("/api/v1/schedules/business/overrides").await;
    assert_eq!(listed, json!([]), "nothing stored");
}

/// Unfolds an RFC 5545 text and returns its lines, checking the line format on the way.
fn ical_lines(text: &str) -> Vec<String> {
    assert!(text.ends_with("\r\n"));
    for physical in text.split_terminator("\r\n") {
        assert!(physical.len() <= 75, "longer than 75 octets: {physical:?}");
        assert!(!physical.contains('\n'), "bare LF in {physical:?}");
    }
    text.replace("\r\n ", "")
        .split_terminator("\r\n")
        .map(String::from)
        .collect()
}

/// `(DTSTART, DTEND, SUMMARY)` of every event.
fn ical_events(lines: &[String]) -> Vec<(String, String, String)> {
    let field = |chunk: &[String], name: &str| {
        let prefix = format!("{name}:");
        let line = chunk.iter().find(|l| l.starts_with(&prefix)).unwrap();
        line[prefix.len()..].to_string()
    };
    lines
        .split(|l| l == "BEGIN:VEVENT")
        .skip(1)
        .map(|chunk| {
            (
                field(chunk, "DTSTART"),
                field(chunk, "DTEND"),
                field(chunk, "SUMMARY"),
            )
        })
        .collect()
}

async fn get_feed(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    let url = app.url(&format!("{path}?token={token}"));
    app.client.get(url).send().await.unwrap()
}

#[tokio::test]
async fn the_ical_feed_ends_a_shift_where_shifts_does_across_the_23_hour_day_oc03() {
    let app = spawn_app_with(Setup {
        clock: Clock::manual(ts("2025-03-09T12:00:00Z")),
        ..Setup::default()
    })
    .await;
    let path = feed_link::schedule_path("nyc");
    let token = feed_link::sign(&path, SIGNING_SECRET.as_bytes());

    let response = get_feed(&app, &path, &token).await;

    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/calendar"), "{content_type}");
    let events = ical_events(&ical_lines(&response.text().await.unwrap()));
    let config = &app.engine.config;
    let expected = oncall::shifts(
        &config.schedules["nyc"],
        &config.rotations,
        ts("2025-03-09T01:00:00Z"),
        ts("2025-03-11T00:00:00Z"),
    );
    assert_eq!(expected[0].end, ts("2025-03-10T00:00:00Z"), "23 hours");
    let a_shift = events
        .iter()
        .find(|(start, _, _)| start == "20250309T010000Z")
        .expect("A's shift from 2025-03-08 20:00 -05:00");
    assert_eq!(a_shift.1, "20250310T000000Z");
    assert_eq!(a_shift.2, "On call: ana name");
    let b_shift = events
        .iter()
        .find(|(start, _, _)| start == "20250310T000000Z")
        .unwrap();
    assert_eq!(b_shift.1, "20250311T000000Z");
    assert_eq!(b_shift.2, "On call: ben name");

    let person_path = feed_link::person_path("ana");
    let person_token = feed_link::sign(&person_path, SIGNING_SECRET.as_bytes());
    let person_feed = get_feed(&app, &person_path, &person_token).await;
    let person_events = ical_events(&ical_lines(&person_feed.text().await.unwrap()));
    assert!(person_events.contains(&(
        "20250309T010000Z".into(),
        "20250310T000000Z".into(),
        "On call: nyc".into()
    )));
}

#[tokio::test]
async fn an_ical_feed_with_a_wrong_token_is_not_found() {
    let app = spawn_app().await;
    let path = feed_link::schedule_path("nyc");
    let other = feed_link::sign(
        &feed_link::schedule_path("business"),
        SIGNING_SECRET.as_bytes(),
    );
    let foreign = feed_link::sign(&path, b"another instance's secret");

    for token in [other.as_str(), foreign.as_str(), "", "garbage"] {
        assert_eq!(get_feed(&app, &path, token).await.status(), 404, "{token}");
    }
    let bare = app.client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(bare.status(), 404);
}

/// Runs the real binary on `dir` with "now" at `now`; returns stdout, or panics with stderr.
pub fn dutybell(dir: &Path, now: Timestamp, args: &[&str]) -> String {
    let clock = dir.join("clock");
    std::fs::write(&clock, now.to_string()).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_dutybell"))
        .arg("--config")
        .arg(dir)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(args)
        .envs(test_env())
        .env("DUTYBELL_CLOCK_FILE", &clock)
        .env("DUTYBELL_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{args:?} failed:\n{stderr}\n{stdout}"
    );
    stdout
}

fn config_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let unused: SocketAddr = "127.0.0.1:9".parse().unwrap();
    write_config(dir.path(), unused, unused, None);
    dir
}

#[test]
fn oncall_at_prints_each_schedule_with_the_end_of_the_current_shift() {
    let dir = config_dir();

    let before = dutybell(
        dir.path(),
        t0(),
        &["oncall", "--at", "2025-06-12T03:00:00Z"],
    );
    dutybell(
        dir.path(),
        t0(),
        &[
            "override",
            "add",
            "--schedule",
            "business",
            "--replace",
            "lead",
            "--with",
            "chen",
            "--from",
            "2025-06-12T04:00",
            "--until",
            "2025-06-12T06:00",
        ],
    );
    let after = dutybell(
        dir.path(),
        t0(),
        &["oncall", "--at", "2025-06-12T03:00:00Z"],
    );

    let line = |text: &str, start: &str| {
        let found = text.lines().find(|l| l.trim_start().starts_with(start));
        found
            .unwrap_or_else(|| panic!("no {start:?} line in:\n{text}"))
            .to_string()
    };
    let business = line(&before, "business");
    assert!(business.contains("lead name (lead)"), "{business}");
    assert!(
        business.contains("until 2025-06-12T07:00:00Z (Thu 2025-06-12 09:00 CEST)"),
        "{business}"
    );
    let nyc = line(&before, "nyc ");
    assert!(nyc.contains("until 2025-06-13T00:00:00Z"), "{nyc}");
    let primary = line(&before, "primary");
    assert!(primary.contains("ben name (ben)"), "{primary}");
    assert!(primary.contains("until 2025-06-16T08:00:00Z"), "{primary}");

    let covered = line(&after, "business");
    assert!(covered.contains("chen name (chen)"), "{covered}");
    assert!(covered.contains("until 2025-06-12T04:00:00Z"), "{covered}");
    let listed = dutybell(
        dir.path(),
        t0(),
        &["override", "list", "--schedule", "business"],
    );
    assert!(
        listed.contains("replace lead name (lead) with chen name (chen)"),
        "{listed}"
    );
}

#[test]
fn schedule_preview_shows_local_shifts_and_only_gaps_still_ahead() {
    let dir = config_dir();

    let args = [
        "schedule",
        "preview",
        "business",
        "--weeks",
        "2",
        "--from",
        "2025-06-07T00:00",
    ];
    let out = dutybell(dir.path(), t0(), &args);

    let expected_lines = [
        "Week of Mon 2025-06-09",
        "  Mon 2025-06-09 09:00 CEST → Mon 2025-06-09 10:00 CEST  ana name (ana)",
        "  Mon 2025-06-09 10:00 CEST → Mon 2025-06-09 18:00 CEST  ben name (ben)",
        "  Sat 2025-06-14 18:00 CEST → Sun 2025-06-15 09:00 CEST  lead name (lead)",
    ];
    for expected in expected_lines {
        assert!(
            out.lines().any(|l| l == expected),
            "no {expected:?} in:\n{out}"
        );
    }
    let gaps: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("Gaps in the next 7 days"))
        .skip(1)
        .collect();
    assert_eq!(
        gaps,
        [
            "  Sat 2025-06-14 09:00 CEST → Sat 2025-06-14 18:00 CEST  nobody on call",
            "  Sun 2025-06-15 09:00 CEST → Sun 2025-06-15 18:00 CEST  nobody on call",
        ],
        "the 06-07 and 06-08 gaps are past (D16), the 06-21 one beyond 7 days:\n{out}"
    );
    assert!(out.contains("Warnings:\n  none\n"), "{out}");
}

#[test]
fn ical_url_prints_a_feed_url_with_its_token() {
    let dir = config_dir();

    let out = dutybell(dir.path(), t0(), &["ical-url", "--schedule", "nyc"]);

    let path = feed_link::schedule_path("nyc");
    let token = feed_link::sign(&path, SIGNING_SECRET.as_bytes());
    assert_eq!(
        out.trim(),
        format!("http://127.0.0.1:8080{path}?token={token}")
    );
}

#[test]
fn schedule_problems_are_each_reported_with_their_key() {
    let dir = config_dir();
    let path = dir.path().join("oncall.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(
        r#"
[[rotation]]
id = "weekdays"
kind = "daily"
start = "2025-06-02T09:00"
time_zone = "Europe/Madrid"
people = ["ana", "ben"]
advance = "on-active-shifts"

[[schedule]]
id = "broken"
time_zone = "Europe/Madird"
rules = [
  { days = ["mon", "funday"], from = "9:00", to = "25:00", target = "person:zoe" },
  { days = "all", from = "09:00", to = "17:00", target = "rotation:tertiary" },
]

[[escalation]]
id = "direct"
steps = [{ targets = ["rotation:weekdays", "schedule:missing", "schedule:broken"] }]
"#,
    );
    std::fs::write(&path, text).unwrap();

    let errors = dutybell::config::load_with(
        dir.path(),
        &dutybell::config::Overrides::default(),
        &test_env(),
        &mut dutybell::config::secrets::Secrets::default(),
    )
    .unwrap_err()
    .to_string();

    let expected = [
        "`schedule[2].time_zone`: \"Europe/Madird\" is not an IANA time zone",
        "`schedule[2].rules[0].days`: \"funday\" is not a day",
        "`schedule[2].rules[0].from`: \"9:00\" is not a clock like \"09:00\"",
        "`schedule[2].rules[0].to`: \"25:00\" is not a clock",
        "`schedule[2].rules[0].target`: no person \"zoe\"",
        "`schedule[2].rules[1].target`: no rotation \"tertiary\"",
        "`escalation[2].steps[0].targets[0]`: rotation \"weekdays\" advances on active shifts",
        "`escalation[2].steps[0].targets[1]`: no schedule \"missing\"",
    ];
    for line in expected {
        assert!(errors.contains(line), "missing {line:?} in:\n{errors}");
    }
    assert!(
        errors.contains("8 problem(s)"),
        "a broken schedule is still defined:\n{errors}"
    );
}
