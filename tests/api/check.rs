//! Config workflow (issue #9) through the real binary: `dutybell check` on fixture
//! directories, `dutybell plan` against a running server, `dutybell --version`.

use std::path::Path;
use std::process::{Command, Output};

use crate::helpers::{API_TOKEN, KEY, spawn_app, t0, test_env};

/// Runs the binary from the crate root with an empty environment and "now" at `t0()`.
fn dutybell(args: &[&str]) -> Output {
    let clock = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(clock.path(), t0().to_string()).unwrap();
    Command::new(env!("CARGO_BIN_EXE_dutybell"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_clear()
        .env("DUTYBELL_CLOCK_FILE", clock.path())
        .env("DUTYBELL_LOG", "warn")
        .args(args)
        .output()
        .unwrap()
}

fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn check_reports_each_problem_at_its_file_and_line_and_exits_1() {
    let output = dutybell(&["check", "tests/fixtures/check/bad"]);

    let dir = "tests/fixtures/check/bad";
    assert_eq!(
        lines(&output.stdout),
        [
            format!("{dir}/oncall.toml:8: `rotation[0].people[1]`: no person \"zoe\" in team.toml"),
            format!(
                "{dir}/oncall.toml:12: `schedule \"office\"`: nobody is on call from Thu \
                 2025-06-12 05:00 CEST to Thu 2025-06-12 09:00 CEST (and 10 more gap(s) in \
                 the next 14 days)"
            ),
            format!(
                "{dir}/oncall.toml:21: `escalation[0].steps[1].targets[0]`: no schedule \"nope\""
            ),
            format!(
                "{dir}/runbooks/disk-full.md:2: RB06: front matter: invalid type: string \
                 \"DiskFull\", expected a sequence"
            ),
            format!(
                "{dir}/services.toml:5: warning: `service[0].integrations[0].token_env`: \
                 environment variable DUTYBELL_CHECK_FIXTURE_TOKEN is not set"
            ),
            format!(
                "{dir}/services.toml:10: `service[1].escalation`: no escalation policy \
                 \"missing\" in oncall.toml"
            ),
            format!(
                "{dir}/team.toml:10: `person[1].time_zone`: \"Mars/Olympus\" is not an IANA \
                 time zone"
            ),
            format!(
                "{dir}/team.toml:13: `person \"cara\"`: cara has no usable contact method: \
                 pages to them are never sent"
            ),
            format!(
                "{dir}/team.toml:18: warning: `person \"dev\"`: dev has only contacts with \
                 `verify = true`: pages skip them until one is confirmed (`dutybell contact \
                 verify dev <kind>`)"
            ),
        ]
    );
    assert_eq!(
        lines(&output.stderr),
        [format!("error: {dir}: 7 error(s), 2 warning(s)")]
    );
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn check_reports_a_file_that_does_not_parse_at_the_offending_line() {
    let output = dutybell(&["check", "tests/fixtures/check/unparsable"]);

    assert_eq!(
        lines(&output.stdout),
        [
            "tests/fixtures/check/unparsable/team.toml:4: cannot parse: unknown field \
             `time_zon`, expected one of `id`, `name`, `email`, `time_zone`, `slack_id`, \
             `login`, `contact`, `notify`"
        ]
    );
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn check_passes_the_example_team_and_writes_nothing() {
    let output = dutybell(&[
        "--data-dir",
        "/nonexistent/dutybell",
        "check",
        "examples/team",
    ]);

    assert_eq!(
        lines(&output.stdout),
        ["examples/team: configuration is valid (0 warning(s))"]
    );
    assert_eq!(output.status.code(), Some(0));
    assert!(!Path::new("/nonexistent/dutybell").exists());
}

#[test]
fn check_json_lists_the_same_findings() {
    let output = dutybell(&["check", "tests/fixtures/check/bad", "--format", "json"]);

    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["errors"], 7);
    assert_eq!(report["warnings"], 2);
    assert_eq!(
        report["findings"][6],
        serde_json::json!({
            "level": "error",
            "file": "tests/fixtures/check/bad/team.toml",
            "line": 10,
            "key": "person[1].time_zone",
            "message": "\"Mars/Olympus\" is not an IANA time zone",
        })
    );
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn version_prints_the_crate_version() {
    let output = dutybell(&["--version"]);

    assert_eq!(
        lines(&output.stdout),
        [format!("dutybell {}", env!("CARGO_PKG_VERSION"))]
    );
    assert_eq!(output.status.code(), Some(0));
}

#[tokio::test]
async fn plan_api_names_services_and_integrations_but_never_their_keys() {
    let app = spawn_app().await;

    let response = app
        .client
        .get(app.url("/api/v1/plan"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let view = app.api_get("/api/v1/plan").await;

    assert_eq!(view["at"], "2025-06-12T03:00:00Z");
    assert_eq!(
        view["services"],
        serde_json::json!(["api", "checkout", "web"])
    );
    assert_eq!(
        view["integrations"],
        serde_json::json!([
            "api/alertmanager",
            "checkout/email",
            "checkout/generic",
            "checkout/grafana",
            "checkout/pagerduty",
            "web/alertmanager",
        ])
    );
    assert_eq!(
        view["schedules"][0],
        serde_json::json!({ "id": "business", "now": ["lead"], "next_week": ["lead"] })
    );
    assert!(!view.to_string().contains(KEY));
}

/// Copies the app's config into a new directory and edits it like a pull request would:
/// ben leaves the nyc rotation for chen, a payments service is added and web removed.
fn edited_copy(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    for name in ["dutybell.toml", "team.toml", "oncall.toml", "services.toml"] {
        let text = std::fs::read_to_string(from.join(name)).unwrap();
        let text = match name {
            "oncall.toml" => {
                let nyc = "people = [\"ana\", \"ben\"]";
                assert!(text.contains(nyc));
                text.replace(nyc, "people = [\"ana\", \"chen\"]")
            }
            "services.toml" => {
                let web = text.find("[[service]]\nid = \"web\"").unwrap();
                let end = web + text[web..].find("]\n\n").unwrap() + 3;
                format!(
                    "{}{}\n[[service]]\nid = \"payments\"\nescalation = \"default\"\n\
                     integrations = [{{ kind = \"generic\", key_env = \"KEY_PAYMENTS\" }}]\n",
                    &text[..web],
                    &text[end..]
                )
            }
            _ => text,
        };
        std::fs::write(to.path().join(name), text).unwrap();
    }
    to
}

#[tokio::test]
async fn plan_shows_the_on_call_diff_of_a_rotation_change() {
    let app = spawn_app().await;
    let candidate = edited_copy(app.config_dir());
    let server = app.url("");
    let dir = candidate.path().to_path_buf();

    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_dutybell"))
            .env_clear()
            .envs(test_env())
            .env("DUTYBELL_LOG", "warn")
            // The added integration's key: on Postgres none is generated (issue #8).
            .env("KEY_PAYMENTS", "0f1e2d3c4b5a69788796a5b4c3d2e1f0")
            .arg("plan")
            .arg(&dir)
            .args(["--server", &server, "--token", API_TOKEN])
            .output()
            .unwrap()
    })
    .await
    .unwrap();

    // At t0 the daily nyc rotation is ben's; he leaves, so a reload hands the pager to the
    // next person after him (ana, D13), and chen has the slot a week later.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(
        lines(&output.stdout),
        [
            format!(
                "Plan for {} against {} at 2025-06-12T03:00:00Z (next week: \
                 2025-06-19T03:00:00Z)",
                candidate.path().display(),
                app.url("")
            ),
            "schedule nyc:".into(),
            "- now: ben".into(),
            "+ now: ana".into(),
            "- next week: ana".into(),
            "+ next week: chen".into(),
            "rotation nyc:".into(),
            "- now: ben".into(),
            "+ now: ana".into(),
            "- next week: ana".into(),
            "+ next week: chen".into(),
            "services:".into(),
            "- web".into(),
            "+ payments".into(),
            "integrations:".into(),
            "- web/alertmanager".into(),
            "+ payments/generic".into(),
            "12 changed line(s)".into(),
        ]
    );
}

#[tokio::test]
async fn plan_of_an_unchanged_directory_shows_no_changes() {
    let app = spawn_app().await;
    let server = app.url("");
    let dir = app.config_dir().to_path_buf();

    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_dutybell"))
            .env_clear()
            .envs(test_env())
            .env("DUTYBELL_LOG", "warn")
            .arg("plan")
            .arg(&dir)
            .args(["--server", &server])
            .output()
            .unwrap()
    })
    .await
    .unwrap();

    let stdout = lines(&output.stdout);
    assert_eq!(stdout.len(), 2, "{stdout:?}");
    assert_eq!(stdout[1], "no changes");
    assert_eq!(output.status.code(), Some(0));
}

#[tokio::test]
async fn healthcheck_exits_0_when_the_server_answers_and_1_when_it_does_not() {
    let app = spawn_app().await;
    let up = app.url("/health");
    let down = app.url("/no-such-path");

    let (up_output, down_output) = tokio::task::spawn_blocking(move || {
        let run = |url: &str| {
            Command::new(env!("CARGO_BIN_EXE_dutybell"))
                .env_clear()
                .env("DUTYBELL_LOG", "warn")
                .args(["healthcheck", "--url", url])
                .output()
                .unwrap()
        };
        (run(&up), run(&down))
    })
    .await
    .unwrap();

    assert_eq!(
        lines(&up_output.stdout),
        [format!("{}: 200 OK", app.url("/health"))]
    );
    assert_eq!(up_output.status.code(), Some(0));
    assert_eq!(down_output.status.code(), Some(1));
}

/// Commands other than `serve` log warnings only unless `--log` asks for more, so a backup's
/// stderr is empty when it works; `--log info` brings its INFO line back.
#[test]
fn commands_keep_info_logs_out_of_stderr_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_dutybell"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_clear()
            .args(["--data-dir", data])
            .args(args)
            .output()
            .unwrap()
    };
    // Creates the database.
    assert!(run(&["user", "list"]).status.success());
    let backup = |file: &str, log: &[&str]| {
        let file = format!("{data}/{file}");
        run(&[log, &["backup", &file]].concat())
    };
    let quiet = backup("quiet.db", &[]);
    assert!(quiet.status.success(), "{quiet:?}");
    assert_eq!(String::from_utf8_lossy(&quiet.stderr), "");
    let loud = backup("loud.db", &["--log", "info"]);
    assert!(loud.status.success(), "{loud:?}");
    assert!(
        String::from_utf8_lossy(&loud.stderr).contains("INFO"),
        "{loud:?}"
    );
}
