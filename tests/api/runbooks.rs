//! Runbooks (comms spec §5, issue #6): `runbook lint` on a fixture directory with one file
//! per kind of finding, the history checks against a real app's database, the runbook link
//! in pages and the rendered page.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::helpers::{API_TOKEN, TOKEN, TestApp, WEB_KEY, am_body, spawn_app, t0, test_env};

/// `tests/fixtures/runbooks/lint`: one clean runbook and one per static finding.
fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/runbooks/lint")
}

/// Copies the named fixture files (all of them for `&[]`) into `<config>/runbooks/`.
fn install(config: &Path, names: &[&str]) {
    let dir = config.join("runbooks");
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if names.is_empty() || names.contains(&name.as_str()) {
            std::fs::copy(&path, dir.join(&name)).unwrap();
        }
    }
}

/// Runs the real binary over the app's config directory and database at t0.
async fn dutybell(config: &Path, args: &[&str]) -> Output {
    let dir = config.to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let clock = dir.join("clock");
        std::fs::write(&clock, t0().to_string()).unwrap();
        Command::new(env!("CARGO_BIN_EXE_dutybell"))
            .arg("--config")
            .arg(&dir)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .args(&args)
            .envs(test_env())
            .env("DUTYBELL_CLOCK_FILE", &clock)
            .env("DUTYBELL_LOG", "error")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

const FIXTURE_FINDINGS: &str = "\
runbooks/bad-front-matter.md:2: RB06 error: front matter: invalid type: string \
\"PodCrashLooping\", expected a sequence
runbooks/date-mismatch.md:44: RB07 warning: `Last updated` says 2025-04-01 but the front \
matter says 2025-05-01
runbooks/missing-section.md: RB03 error: required section `User impact` is missing
runbooks/no-check.md:30: RB05 error: branch `If the data set grew:` has no `Expected output:` \
or `Verify:` line
runbooks/out-of-order.md:26: RB04 warning: section `Remediation` should come before \
`Escalate to`
runbooks/stale.md:4: RB02 warning: last updated 2024-11-01 (223 days ago, more than 180 \
days): review it
runbooks/unknown-escalation.md:42: RB08 warning: `Escalate to` names `person:nobody`, which \
the config does not have
7 runbook(s): 3 error(s), 4 warning(s)
";

#[tokio::test]
async fn lint_reports_each_kind_of_finding_with_file_and_line() {
    let app = spawn_app().await;
    install(app.config_dir(), &[]);

    let output = dutybell(app.config_dir(), &["runbook", "lint", "--offline"]).await;

    assert_eq!(stdout(&output), FIXTURE_FINDINGS);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: runbook lint failed: 3 error(s), 4 warning(s)\n"
    );
}

#[tokio::test]
async fn lint_json_carries_code_level_file_line_alert_and_message() {
    let app = spawn_app().await;
    install(app.config_dir(), &[]);

    let output = dutybell(
        app.config_dir(),
        &["runbook", "lint", "--offline", "--format", "json"],
    )
    .await;

    assert_eq!(output.status.code(), Some(1));
    let findings: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let rows: Vec<(String, String, String, Option<i64>)> = findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["level"].as_str().unwrap().to_string(),
                f["file"].as_str().unwrap().to_string(),
                f["line"].as_i64(),
            )
        })
        .collect();
    let expected = [
        ("RB06", "error", "runbooks/bad-front-matter.md", Some(2)),
        ("RB07", "warning", "runbooks/date-mismatch.md", Some(44)),
        ("RB03", "error", "runbooks/missing-section.md", None),
        ("RB05", "error", "runbooks/no-check.md", Some(30)),
        ("RB04", "warning", "runbooks/out-of-order.md", Some(26)),
        ("RB02", "warning", "runbooks/stale.md", Some(4)),
        (
            "RB08",
            "warning",
            "runbooks/unknown-escalation.md",
            Some(42),
        ),
    ]
    .map(|(c, l, f, n)| (c.to_string(), l.to_string(), f.to_string(), n));
    assert_eq!(rows, expected);
    assert_eq!(
        findings[2],
        serde_json::json!({
            "code": "RB03",
            "level": "error",
            "file": "runbooks/missing-section.md",
            "line": null,
            "alert": null,
            "message": "required section `User impact` is missing",
        })
    );
}

#[tokio::test]
async fn lint_exits_0_on_warnings_1_when_denied_and_2_on_usage_errors() {
    let app = spawn_app().await;
    install(app.config_dir(), &["disk-full.md", "stale.md"]);
    let dir = app.config_dir();

    let warned = dutybell(dir, &["runbook", "lint", "--offline"]).await;
    let denied = dutybell(dir, &["runbook", "lint", "--offline", "--deny-warnings"]).await;
    let usage = dutybell(dir, &["runbook", "lint", "--format", "yaml"]).await;

    assert_eq!(warned.status.code(), Some(0));
    assert_eq!(
        stdout(&warned),
        "runbooks/stale.md:4: RB02 warning: last updated 2024-11-01 (223 days ago, more than \
         180 days): review it\n2 runbook(s): 0 error(s), 1 warning(s)\n"
    );
    assert_eq!(denied.status.code(), Some(1));
    assert_eq!(stdout(&denied), stdout(&warned));
    assert_eq!(usage.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("invalid value 'yaml'"));

    std::fs::remove_file(dir.join("runbooks/stale.md")).unwrap();
    let clean = dutybell(dir, &["runbook", "lint", "--offline", "--format", "json"]).await;
    assert_eq!(clean.status.code(), Some(0));
    assert_eq!(stdout(&clean), "[]\n");
}

/// Opens an alert on `api` as its own Alertmanager group, so each call is a new firing.
async fn fire_group(app: &TestApp, alertname: &str, group: &str) -> i64 {
    let mut body: serde_json::Value =
        serde_json::from_str(&am_body(alertname, &[("firing", &t0().to_string())])).unwrap();
    // A distinct member too, so nothing ties the new group to an open alert.
    body["groupKey"] = serde_json::json!(group);
    body["alerts"][0]["labels"]["instance"] = serde_json::json!(group);
    app.open_alert(&body.to_string()).await
}

#[tokio::test]
async fn lint_reports_alerts_fired_twice_without_a_runbook_and_unused_runbooks() {
    let app = spawn_app().await;
    install(app.config_dir(), &["disk-full.md", "stale.md"]);
    let first = fire_group(&app, "HighLatency", "g1").await;
    let second = fire_group(&app, "HighLatency", "g2").await;
    assert_ne!(first, second, "two firings, not a dedup repeat");
    fire_group(&app, "DiskFull", "g3").await;
    fire_group(&app, "OnlyOnce", "g4").await;

    let output = dutybell(app.config_dir(), &["runbook", "lint", "--format", "json"]).await;

    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let findings: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        findings,
        serde_json::json!([
            {
                "code": "RB08", "level": "warning", "file": "runbooks/stale.md", "line": 1,
                "alert": null,
                "message": "covers no alert that fired in the last 90 days",
            },
            {
                "code": "RB02", "level": "warning", "file": "runbooks/stale.md", "line": 4,
                "alert": null,
                "message": "last updated 2024-11-01 (223 days ago, more than 180 days): \
                            review it",
            },
            {
                "code": "RB01", "level": "error", "file": null, "line": null,
                "alert": "HighLatency",
                "message": "`HighLatency` (service api) fired 2 times in the last 30 days \
                            and no runbook covers it",
            },
        ])
    );

    let offline = dutybell(app.config_dir(), &["runbook", "lint", "--offline"]).await;
    assert_eq!(offline.status.code(), Some(0));
}

/// The walkthrough's runbook, covering `DiskFull` on any service.
pub(crate) const DISK_FULL: &str = "+++
alerts = [\"DiskFull\"]
last_updated = 2025-05-01
+++
# Runbook: Disk full

<script>alert(1)</script>

Run: `df -h /data`
";

#[tokio::test]
async fn a_page_links_the_covering_runbook_when_the_alert_has_none() {
    let app = spawn_app().await;
    let app = app
        .restart(dutybell::clock::Clock::manual(t0()), |dir| {
            std::fs::create_dir_all(dir.join("runbooks")).unwrap();
            std::fs::write(dir.join("runbooks/disk-full.md"), DISK_FULL).unwrap();
        })
        .await;
    // `web` has no runbook_url of its own, and the alert carries no annotation.
    let body = am_body("DiskFull", &[("firing", &t0().to_string())]);
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

    app.run_engine_once().await;

    let hooks = app.hooks.hooks();
    assert_eq!(app.hooks.recipients(), ["lead"]);
    // A signed link for the person paged: the page itself needs the admin token.
    let alert = hooks[0].body["data"]["alert"]["id"].as_i64().unwrap();
    let claim = dutybell::domain::action_link::ActionClaim {
        act: dutybell::domain::action_link::Action::Runbook,
        target: alert,
        person: "lead".into(),
        exp: (t0() + jiff::SignedDuration::from_hours(24)).as_second(),
    };
    let token =
        dutybell::domain::action_link::sign(&claim, crate::helpers::SIGNING_SECRET.as_bytes());
    let link = app.url(&format!("/a/{token}"));
    assert_eq!(hooks[0].body["data"]["alert"]["runbook_url"], link.as_str());
    let page = app.client.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("<title>Runbook: Disk full</title>"), "{page}");
    // Its signature is what opens it: a forged one does not.
    let forged = app.client.get(format!("{link}x")).send().await.unwrap();
    assert_eq!(forged.status(), 403);
}

#[tokio::test]
async fn the_runbook_page_needs_the_api_token_and_escapes_raw_html() {
    let app = spawn_app().await;
    let app = app
        .restart(dutybell::clock::Clock::manual(t0()), |dir| {
            std::fs::create_dir_all(dir.join("runbooks")).unwrap();
            std::fs::write(dir.join("runbooks/disk-full.md"), DISK_FULL).unwrap();
        })
        .await;
    let url = app.url("/runbooks/disk-full");

    let anonymous = app.client.get(&url).send().await.unwrap();
    let missing = app
        .client
        .get(app.url("/runbooks/nope"))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    let page = app
        .client
        .get(&url)
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();

    assert_eq!(anonymous.status(), 401);
    assert_eq!(missing.status(), 404);
    assert_eq!(page.status(), 200);
    assert_eq!(
        page.headers()["content-security-policy"],
        "default-src 'none'; base-uri 'none'; form-action 'none'"
    );
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("<h1>Runbook: Disk full</h1>"), "{html}");
    assert!(
        html.contains("<p>&lt;script&gt;alert(1)&lt;/script&gt;\n</p>"),
        "{html}"
    );
    assert!(
        html.contains("<p>Run: <code>df -h /data</code></p>"),
        "{html}"
    );
}

#[tokio::test]
async fn runbook_new_writes_the_template_once_and_it_lints_clean() {
    let app = spawn_app().await;
    let dir = app.config_dir();

    let first = dutybell(
        dir,
        &[
            "runbook",
            "new",
            "DiskFull",
            "--service",
            "api",
            "--owner",
            "ops",
        ],
    )
    .await;
    let again = dutybell(dir, &["runbook", "new", "DiskFull"]).await;
    let unknown = dutybell(dir, &["runbook", "new", "X", "--service", "nope"]).await;
    let lint = dutybell(dir, &["runbook", "lint", "--offline"]).await;

    assert_eq!(first.status.code(), Some(0));
    let path = dir.join("runbooks/disk-full.md");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with(
        "+++\nalerts = [\"DiskFull\"]\nmatchers = ['service=\"api\"']\nowner = \"ops\"\n\
         last_updated = 2025-06-12\n+++\n\n# Runbook: DiskFull\n"
    ));
    assert!(text.ends_with("## Last updated\n\n2025-06-12 by ops\n"));
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("never overwritten"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(!dir.join("runbooks/x.md").exists());
    // The template's placeholder escalation target is not in the config.
    assert_eq!(
        stdout(&lint),
        "runbooks/disk-full.md:32: RB08 warning: `Escalate to` names `person:someone`, which \
         the config does not have\n1 runbook(s): 0 error(s), 1 warning(s)\n"
    );
    assert_eq!(lint.status.code(), Some(0));
}

#[tokio::test]
async fn lint_reads_stale_after_days_from_dutybell_toml() {
    let app = crate::helpers::spawn_app_with(crate::helpers::Setup {
        instance: "[runbooks]\nstale_after_days = 200\n".into(),
        ..crate::helpers::Setup::default()
    })
    .await;
    install(app.config_dir(), &["disk-full.md", "stale.md"]);

    let output = dutybell(app.config_dir(), &["runbook", "lint", "--offline"]).await;

    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        stdout(&output),
        "runbooks/stale.md:4: RB02 warning: last updated 2024-11-01 (223 days ago, more than \
         200 days): review it\n2 runbook(s): 0 error(s), 1 warning(s)\n"
    );
}
