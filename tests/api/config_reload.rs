//! Config reload without a restart (issue #7): the admin API, the web UI's button and
//! SIGHUP to the real binary all read the directory again, refuse a broken one with
//! `file:line` while the old config keeps serving, and swap a good one in.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use dutybell::domain::accounts::{self, Role};
use dutybell::store::accounts as store;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    API_TOKEN, STORM_KEY, Setup, SmtpSink, TestApp, WebhookSink, free_port, spawn_app,
    spawn_app_with, test_env, wait_until, write_config,
};
use crate::web_ui::{add_user, get_page, no_redirects, post_form, sign_in, with};

async fn reload(app: &TestApp, token: Option<&str>) -> reqwest::Response {
    let mut request = app.client.post(app.url("/api/v1/admin/reload"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// Who `/api/v1/oncall` says holds rotation `id` now.
fn rotation_person(oncall: &Value, id: &str) -> Option<String> {
    oncall["rotations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .map(|r| r["person"].as_str().unwrap().to_string())
}

fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} has no {from:?}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

fn append(dir: &Path, file: &str, more: &str) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    std::fs::write(&path, format!("{text}\n{more}\n")).unwrap();
}

const TERTIARY: &str = r#"
[[rotation]]
id = "tertiary"
kind = "weekly"
start = "2025-06-02T10:00"
time_zone = "Europe/Madrid"
people = ["lead"]
"#;

#[tokio::test]
async fn an_edited_directory_reloads_through_the_api_and_changes_who_is_on_call() {
    let app = spawn_app().await;
    let before = app.api_get("/api/v1/oncall").await;
    assert_eq!(rotation_person(&before, "primary").as_deref(), Some("ben"));
    assert_eq!(rotation_person(&before, "tertiary"), None);

    // Ben leaves the primary rotation; a new rotation appears.
    edit(
        app.config_dir(),
        "oncall.toml",
        r#"people = ["ana", "ben", "chen", "dara"]"#,
        r#"people = ["ana", "chen", "dara"]"#,
    );
    append(app.config_dir(), "oncall.toml", TERTIARY);
    let response = reload(&app, Some(API_TOKEN)).await;

    assert_eq!(response.status(), StatusCode::OK);
    let summary: Value = response.json().await.unwrap();
    assert_eq!(summary["rotations"], 4, "{summary}");
    assert_eq!(summary["people"], 5);
    assert_eq!(summary["services"], 3);
    assert_eq!(summary["reanchored"], serde_json::json!(["primary"]));
    assert_eq!(summary["unmapped_accounts"], serde_json::json!([]));
    let after = app.api_get("/api/v1/oncall").await;
    assert_eq!(
        rotation_person(&after, "primary").as_deref(),
        Some("chen"),
        "the one after ben takes over his shift (D13): {after}"
    );
    assert_eq!(rotation_person(&after, "tertiary").as_deref(), Some("lead"));
    // The engine's next pass takes the new config too: an alert pages chen now.
    app.fire("DiskFull").await;
    app.run_engine_once().await;
    assert!(app.hooks.recipients().contains(&"chen".to_string()));
}

#[tokio::test]
async fn reordering_a_rotation_does_not_move_who_is_on_call() {
    let app = spawn_app().await;

    edit(
        app.config_dir(),
        "oncall.toml",
        r#"people = ["ana", "ben", "chen", "dara"]"#,
        r#"people = ["dara", "chen", "ben", "ana"]"#,
    );
    let response = reload(&app, Some(API_TOKEN)).await;

    assert_eq!(response.status(), StatusCode::OK);
    let after = app.api_get("/api/v1/oncall").await;
    assert_eq!(rotation_person(&after, "primary").as_deref(), Some("ben"));
}

#[tokio::test]
async fn a_broken_edit_is_refused_with_file_and_line_and_the_old_config_keeps_serving() {
    let app = spawn_app().await;

    let broken = TERTIARY.replace("Europe/Madrid", "Mars/Olympus");
    append(app.config_dir(), "oncall.toml", &broken);
    let response = reload(&app, Some(API_TOKEN)).await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.unwrap();
    let errors: Vec<String> = serde_json::from_value(body["errors"].clone()).unwrap();
    let text = std::fs::read_to_string(app.config_dir().join("oncall.toml")).unwrap();
    let line = text
        .lines()
        .position(|l| l.contains("Mars/Olympus"))
        .unwrap()
        + 1;
    assert!(
        errors
            .iter()
            .any(|e| e.contains(&format!("oncall.toml:{line}:")) && e.contains("Mars/Olympus")),
        "{errors:?}"
    );
    let after = app.api_get("/api/v1/oncall").await;
    assert_eq!(rotation_person(&after, "tertiary"), None);
    assert_eq!(rotation_person(&after, "primary").as_deref(), Some("ben"));
    app.fire("DiskFull").await;
    app.run_engine_once().await;
    assert_eq!(
        app.hooks.recipients(),
        ["ben"],
        "the old policy still pages"
    );
}

#[tokio::test]
async fn a_change_that_needs_a_restart_is_refused_with_a_clear_message() {
    if crate::helpers::skip_on_postgres("the harness names the database in [server] already") {
        return;
    }
    let app = spawn_app().await;

    append(
        app.config_dir(),
        "dutybell.toml",
        "[server]\ndatabase_url = \"sqlite://elsewhere.db\"",
    );
    let response = reload(&app, Some(API_TOKEN)).await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.unwrap();
    let errors = body["errors"].to_string();
    assert!(
        errors.contains("database URL changed") && errors.contains("needs a restart"),
        "{errors}"
    );
}

#[tokio::test]
async fn an_integration_added_by_a_reload_accepts_alerts() {
    let app = spawn_app().await;
    let url = app.url(&format!("/api/v1/integrations/{STORM_KEY}/generic"));
    let alert = serde_json::json!({"summary": "queue backlog", "dedup_key": "backlog"});
    let before = app.client.post(&url).json(&alert).send().await.unwrap();
    assert_eq!(before.status(), StatusCode::NOT_FOUND);

    append(
        app.config_dir(),
        "services.toml",
        r#"
[[service]]
id = "queue"
escalation = "default"
integrations = [{ kind = "generic", key_env = "KEY_STORM" }]
"#,
    );
    assert_eq!(reload(&app, Some(API_TOKEN)).await.status(), StatusCode::OK);
    let after = app.client.post(&url).json(&alert).send().await.unwrap();

    assert_eq!(after.status(), StatusCode::ACCEPTED);
    app.run_engine_once().await;
    let open = app.open_alerts().await;
    assert!(open.iter().any(|a| a["service_id"] == "queue"), "{open:?}");
}

/// A per-user API token of `login`, made from `seed`.
async fn token_of(app: &TestApp, login: &str, seed: u8) -> String {
    let token = accounts::api_token([seed; 32]);
    store::create_token(
        &app.store,
        login,
        "t",
        None,
        &accounts::digest(&token),
        app.clock.now(),
    )
    .await
    .unwrap();
    token
}

#[tokio::test]
async fn only_admins_reload_through_the_api() {
    let app = spawn_app().await;
    add_user(&app, "vic", Role::Viewer, None).await;
    add_user(&app, "rita", Role::Responder, None).await;
    add_user(&app, "root", Role::Admin, None).await;
    let (viewer, responder, admin) = (
        token_of(&app, "vic", 1).await,
        token_of(&app, "rita", 2).await,
        token_of(&app, "root", 3).await,
    );

    assert_eq!(reload(&app, None).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        reload(&app, Some("wrong")).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        reload(&app, Some(&viewer)).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        reload(&app, Some(&responder)).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(reload(&app, Some(&admin)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn accounts_of_removed_people_keep_working_and_are_reported() {
    let app = spawn_app_with(Setup {
        team: "[[person]]\nid = \"eve\"\nname = \"Eve\"\nemail = \"eve@example.com\"\n".into(),
        ..Setup::default()
    })
    .await;
    let password = add_user(&app, "eve", Role::Responder, Some("eve")).await;
    let session = sign_in(&app, "eve", &password).await;

    edit(
        app.config_dir(),
        "team.toml",
        "[[person]]\nid = \"eve\"\nname = \"Eve\"\nemail = \"eve@example.com\"\n",
        "",
    );
    let response = reload(&app, Some(API_TOKEN)).await;

    assert_eq!(response.status(), StatusCode::OK);
    let summary: Value = response.json().await.unwrap();
    assert_eq!(summary["people"], 5);
    assert_eq!(summary["unmapped_accounts"], serde_json::json!(["eve"]));
    get_page(&app, "/ui", &session).await;
}

#[tokio::test]
async fn the_admin_page_reloads_with_its_button_and_refuses_forms_without_csrf_or_role() {
    let app = spawn_app().await;
    let admin = add_user(&app, "root", Role::Admin, None).await;
    let responder = add_user(&app, "rita", Role::Responder, None).await;
    let admin = sign_in(&app, "root", &admin).await;
    let responder = sign_in(&app, "rita", &responder).await;
    let page = get_page(&app, "/ui/admin/config", &admin).await;
    assert!(
        page.contains(&app.config_dir().display().to_string()),
        "{page}"
    );
    assert!(page.contains("Reload config"));
    let looked = no_redirects()
        .get(app.url("/ui/admin/config"))
        .header("cookie", &responder.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(looked.status(), StatusCode::FORBIDDEN);
    append(app.config_dir(), "oncall.toml", TERTIARY);

    let path = "/ui/admin/config/reload";
    let no_csrf = post_form(&app, path, Some(&admin.cookie), &[], &[]).await;
    let wrong_csrf = post_form(
        &app,
        path,
        Some(&admin.cookie),
        &with(&[], &responder.csrf),
        &[],
    )
    .await;
    let no_role = post_form(
        &app,
        path,
        Some(&responder.cookie),
        &with(&[], &responder.csrf),
        &[],
    )
    .await;
    let no_session = post_form(&app, path, None, &with(&[], &admin.csrf), &[]).await;

    assert_eq!(no_csrf.status(), StatusCode::FORBIDDEN);
    assert_eq!(wrong_csrf.status(), StatusCode::FORBIDDEN);
    assert_eq!(no_role.status(), StatusCode::FORBIDDEN);
    assert_eq!(no_session.status(), StatusCode::UNAUTHORIZED);
    let oncall = app.api_get("/api/v1/oncall").await;
    assert_eq!(
        rotation_person(&oncall, "tertiary"),
        None,
        "nothing reloaded"
    );

    let done = post_form(
        &app,
        path,
        Some(&admin.cookie),
        &with(&[], &admin.csrf),
        &[],
    )
    .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(done.headers()["location"], "/ui/admin/config");
    let page = get_page(&app, "/ui/admin/config", &admin).await;
    assert!(page.contains("id=\"reload-ok\""), "{page}");
    let oncall = app.api_get("/api/v1/oncall").await;
    assert_eq!(
        rotation_person(&oncall, "tertiary").as_deref(),
        Some("lead")
    );

    // A broken directory: the page lists the problem with its line.
    append(app.config_dir(), "team.toml", "[[person]]\nid = 3\n");
    let refused = post_form(
        &app,
        path,
        Some(&admin.cookie),
        &with(&[], &admin.csrf),
        &[],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::SEE_OTHER);
    let page = get_page(&app, "/ui/admin/config", &admin).await;
    assert!(page.contains("id=\"reload-failed\""), "{page}");
    assert!(page.contains("team.toml:"), "{page}");
}

/// A `dutybell serve` process, killed when dropped.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn sighup_reloads_the_running_binary() {
    let smtp = SmtpSink::start().await;
    let hooks = WebhookSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), smtp.addr, hooks.addr, None);
    let clock = dir.path().join("now");
    std::fs::write(&clock, "2025-06-12T03:00:00Z").unwrap();
    let log = dir.path().join("dutybell.log");
    let port = free_port();
    let server = Server(
        Command::new(env!("CARGO_BIN_EXE_dutybell"))
            .arg("--config")
            .arg(dir.path())
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("serve")
            .envs(test_env())
            .env("DUTYBELL_CLOCK_FILE", &clock)
            .env("DUTYBELL_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("starting dutybell"),
    );
    let client = reqwest::Client::new();
    let oncall = || async {
        let response = client
            .get(format!("http://127.0.0.1:{port}/api/v1/oncall"))
            .bearer_auth(API_TOKEN)
            .send()
            .await
            .ok()?;
        response.json::<Value>().await.ok()
    };
    let mut before = None;
    for _ in 0..200 {
        before = oncall().await;
        if before.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = before.expect("dutybell answers");
    assert_eq!(rotation_person(&before, "tertiary"), None);

    append(dir.path(), "oncall.toml", TERTIARY);
    let hup = Command::new("kill")
        .arg("-HUP")
        .arg(server.0.id().to_string())
        .status()
        .unwrap();
    assert!(hup.success());

    let mut reloaded = false;
    for _ in 0..100 {
        let now = oncall().await.expect("still serving after SIGHUP");
        if rotation_person(&now, "tertiary").as_deref() == Some("lead") {
            reloaded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reloaded, "SIGHUP reloaded the config");
    let logged = wait_until(Duration::from_secs(5), || {
        std::fs::read_to_string(&log).is_ok_and(|text| text.contains("config reloaded"))
    })
    .await;
    assert!(logged, "{}", std::fs::read_to_string(&log).unwrap());
}

#[tokio::test]
async fn a_reload_keeps_a_policy_that_open_alerts_still_follow() {
    let app = spawn_app().await;
    let alert = app.fire("DiskFull").await["alert_id"].as_i64().unwrap();
    let oncall = std::fs::read_to_string(app.config_dir().join("oncall.toml")).unwrap();
    let services = std::fs::read_to_string(app.config_dir().join("services.toml")).unwrap();
    std::fs::write(
        app.config_dir().join("oncall.toml"),
        oncall.replace("id = \"default\"", "id = \"standard\""),
    )
    .unwrap();
    std::fs::write(
        app.config_dir().join("services.toml"),
        services.replace("escalation = \"default\"", "escalation = \"standard\""),
    )
    .unwrap();

    let refused = reload(&app, Some(API_TOKEN)).await;
    let body: Value = refused.json().await.unwrap();
    let resolved = app
        .api_post(
            &format!("/api/v1/alerts/{alert}/resolve"),
            serde_json::json!({"by": "ben"}),
        )
        .await;
    let accepted = reload(&app, Some(API_TOKEN)).await;

    assert!(
        body["errors"]
            .to_string()
            .contains("\\\"default\\\" is gone"),
        "{body}"
    );
    assert_eq!(resolved.status(), StatusCode::OK);
    assert_eq!(accepted.status(), StatusCode::OK);
}
