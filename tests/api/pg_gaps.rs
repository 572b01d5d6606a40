//! Behaviour that once differed between SQLite and Postgres (issue #8), checked on whichever
//! backend the suite runs on (`DUTYBELL_TEST_BACKEND`): ids and logins holding NUL, an
//! incident moved back to investigating, and the order of status page updates made in one
//! millisecond, before and after migration 28 gave them a `seq` column.

use dutybell::domain::accounts::Role;
use serde_json::{Value, json};
use sqlx::migrate::Migrator;
use sqlx::{Connection as _, Executor as _};

use crate::helpers::{API_TOKEN, Setup, TestApp, on_postgres, spawn_app_with};
use crate::statuspage::PAGE;
use crate::web_ui::{Session, add_user, no_redirects, sign_in};

async fn app() -> TestApp {
    spawn_app_with(Setup {
        statuspage: PAGE.into(),
        ..Setup::default()
    })
    .await
}

/// Declares a P3 incident that pages nobody; returns its number.
async fn declare(app: &TestApp, title: &str) -> i64 {
    let body = json!({ "title": title, "severity": "p3", "by": "ana", "page": false });
    let response = app.api_post("/api/v1/incidents", body).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    answer["incident"]["number"].as_i64().unwrap()
}

/// The status of `method path` with `body` (JSON for the API, a form with the session's
/// CSRF token for `/ui`), as the admin token or the signed-in admin.
async fn status_of(
    app: &TestApp,
    session: &Session,
    method: &str,
    path: &str,
    body: &Value,
) -> u16 {
    let client = no_redirects();
    let mut request = match method {
        "GET" => client.get(app.url(path)),
        _ => client.post(app.url(path)),
    };
    if path.starts_with("/ui/") {
        request = request.header("cookie", &session.cookie);
        if method == "POST" {
            let mut fields: Vec<(String, String)> = body
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect();
            fields.push(("csrf".into(), session.csrf.clone()));
            request = request.form(&fields);
        }
    } else {
        request = request.bearer_auth(API_TOKEN);
        if method == "POST" {
            request = request.json(body);
        }
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn an_id_holding_nul_is_answered_like_any_unknown_id_on_both_backends() {
    let app = app().await;
    declare(&app, "Checkout errors").await;
    add_user(&app, "root", Role::Admin, Some("ana")).await;
    let session = sign_in(&app, "root", "root-password-0123").await;
    let created = app
        .api_post(
            "/api/v1/statuspage/maintenances",
            json!({ "name": "Database upgrade", "components": ["db"],
                    "scheduled_for": "2025-06-12T06:00:00Z",
                    "scheduled_until": "2025-06-12T07:00:00Z", "body": "Upgrading." }),
        )
        .await;
    assert_eq!(created.status(), 201);
    let text = json!({ "by": "ana", "text": "x", "body": "x" });
    // `{}` is the id under test; every body is one the route accepts for an id it knows.
    let routes: [(&str, &str, Value); 27] = [
        ("GET", "/api/v1/alerts/{}", json!({})),
        ("POST", "/api/v1/alerts/{}/ack", json!({ "by": "ana" })),
        ("GET", "/api/v1/incidents/{}", json!({})),
        ("POST", "/api/v1/incidents/{}/notes", text.clone()),
        (
            "POST",
            "/api/v1/incidents/{}/status",
            json!({ "status": "identified", "by": "ana" }),
        ),
        (
            "POST",
            "/api/v1/incidents/{}/publish",
            json!({ "body": "x" }),
        ),
        ("GET", "/api/v1/incidents/{}/postmortem", json!({})),
        ("GET", "/api/v1/services/{}/timeline", json!({})),
        ("GET", "/api/v1/schedules/{}/overrides", json!({})),
        (
            "POST",
            "/api/v1/statuspage/components/{}",
            json!({ "status": "major_outage" }),
        ),
        (
            "POST",
            "/api/v1/statuspage/maintenances/{}/status",
            json!({ "status": "in_progress" }),
        ),
        ("POST", "/api/v1/people/{}/contacts/sms/verify", json!({})),
        ("GET", "/incidents/{}", json!({})),
        ("GET", "/runbooks/{}", json!({})),
        ("GET", "/a/{}", json!({})),
        ("GET", "/ui/alerts/{}", json!({})),
        ("GET", "/ui/incidents/{}", json!({})),
        ("POST", "/ui/incidents/{}/note", json!({ "text": "x" })),
        ("GET", "/ui/schedules/{}", json!({})),
        (
            "POST",
            "/ui/status/maintenances/{}/status",
            json!({ "status": "in_progress" }),
        ),
        ("POST", "/ui/admin/users/{}/disable", json!({})),
        ("POST", "/ui/admin/users/{}/enable", json!({})),
        (
            "POST",
            "/ui/admin/users/{}/role",
            json!({ "role": "viewer" }),
        ),
        (
            "POST",
            "/ui/admin/users/{}/person",
            json!({ "person": "ben" }),
        ),
        ("POST", "/ui/admin/users/{}/password", json!({})),
        ("POST", "/ui/admin/users/{}/tokens", json!({ "name": "ci" })),
        ("POST", "/ui/admin/tokens/{}/revoke", json!({})),
    ];

    let mut differ = Vec::new();
    for (method, path, body) in &routes {
        let (plain, with_nul) = (path.replace("{}", "nope"), path.replace("{}", "no%00pe"));
        let unknown = status_of(&app, &session, method, &plain, body).await;
        let nul = status_of(&app, &session, method, &with_nul, body).await;

        assert!((400..500).contains(&unknown), "{method} {plain}: {unknown}");
        if nul != unknown {
            differ.push(format!("{method} {with_nul}: {nul}, not {unknown}"));
        }
    }
    assert!(
        differ.is_empty(),
        "NUL is not unknown:\n{}",
        differ.join("\n")
    );
}

#[tokio::test]
async fn an_incident_moves_back_to_investigating_and_keeps_its_milestone() {
    let app = app().await;
    let number = declare(&app, "Slow checkout").await;
    let status = |to: &str| json!({ "status": to, "by": "ben", "text": format!("now {to}") });
    let path = format!("/api/v1/incidents/{number}/status");
    let identified = app.api_post(&path, status("identified")).await;
    assert_eq!(identified.status(), 200);

    app.clock.advance(jiff::SignedDuration::from_mins(3));
    let back = app.api_post(&path, status("investigating")).await;

    assert_eq!(back.status(), 200);
    let body: Value = back.json().await.unwrap();
    assert_eq!(body["incident"]["status"], "investigating");
    assert_eq!(body["incident"]["identified_at"], "2025-06-12T03:00:00Z");
    assert_eq!(body["event"]["data"]["from"], "identified");
    let shown = app.api_get(&format!("/api/v1/incidents/{number}")).await;
    assert_eq!(shown["incident"]["status"], "investigating");
}

#[tokio::test]
async fn updates_made_in_one_millisecond_are_listed_newest_inserted_first() {
    let app = app().await;
    let number = declare(&app, "API errors").await;
    let published = app
        .api_post(
            &format!("/api/v1/incidents/{number}/publish"),
            json!({ "body": "update 0" }),
        )
        .await;
    assert_eq!(published.status(), 201);

    // The clock stands still: display and creation times tie, only insertion order is left.
    for n in 1..=6 {
        let body = json!({ "status": "investigating", "body": format!("update {n}") });
        let path = format!("/api/v1/incidents/{number}/public-updates");
        assert_eq!(app.api_post(&path, body).await.status(), 201);
    }
    let page = app.client.get(app.url("/api/v2/incidents.json"));
    let incidents: Value = page.send().await.unwrap().json().await.unwrap();

    let bodies: Vec<&str> = incidents["incidents"][0]["incident_updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["body"].as_str().unwrap())
        .collect();
    let newest_first: Vec<String> = (0..=6).rev().map(|n| format!("update {n}")).collect();
    assert_eq!(bodies, newest_first);
}

/// Posts the login form with `login` and a wrong password; the status and the page.
async fn failed_login(app: &TestApp, login: &str) -> (u16, String) {
    let client = no_redirects();
    let form = client.get(app.url("/login")).send().await.unwrap();
    let nonce = form
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().unwrap().strip_prefix("dutybell_login="))
        .map(|v| v.split(';').next().unwrap().to_owned())
        .next()
        .unwrap();
    let page = form.text().await.unwrap();
    let marker = r#"name="csrf" value=""#;
    let csrf = page[page.find(marker).unwrap() + marker.len()..]
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let fields = [
        ("csrf", csrf.as_str()),
        ("login", login),
        ("password", "wrong"),
    ];
    let answer = client
        .post(app.url("/login"))
        .header("cookie", format!("dutybell_login={nonce}"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

#[tokio::test]
async fn a_login_holding_nul_fails_like_a_wrong_password_and_counts_toward_the_limit() {
    let app = app().await;
    add_user(&app, "root", Role::Admin, Some("ana")).await;

    let (wrong, _) = failed_login(&app, "root").await;
    let mut nul = Vec::new();
    for _ in 0..5 {
        nul.push(failed_login(&app, "ro\0ot").await);
    }

    assert_eq!(nul[0].0, wrong, "{}", nul[0].1);
    assert!(
        nul[0].1.contains("Wrong login or password."),
        "{}",
        nul[0].1
    );
    // Five failures from one address: the sixth try is refused before the password.
    assert!(nul[4].1.contains("Too many failed logins"), "{}", nul[4].1);
}

/// A database of the suite's backend, empty, and what drops it (Postgres) or holds it.
async fn empty_database() -> (String, Option<String>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    if !on_postgres() {
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
        return (url, None, dir);
    }
    let server = std::env::var("DUTYBELL_TEST_POSTGRES").unwrap();
    let name = format!("dutybell_seq_{:016x}", rand::random::<u64>());
    let mut admin = sqlx::PgConnection::connect(&server).await.unwrap();
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    admin.close().await.ok();
    let url = format!("{}/{name}", server.rsplit_once('/').unwrap().0);
    (url, Some(name), dir)
}

#[tokio::test]
async fn updates_stored_before_the_seq_column_keep_their_order_and_new_ones_follow() {
    let (url, pg_name, dir) = empty_database().await;
    let backend = if pg_name.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    // The schema as it was before migration 28.
    let old = dir.path().join("migrations");
    std::fs::create_dir(&old).unwrap();
    let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    for file in std::fs::read_dir(&all).unwrap() {
        let path = file.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.as_str() < "0028" {
            std::fs::copy(&path, old.join(&name)).unwrap();
        }
    }
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    Migrator::new(old.as_path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    pool.execute(
        "INSERT INTO statuspage_incidents (id, kind, name, status, impact, started_at, \
         created_at, updated_at) VALUES ('p', 'incident', 'n', 'investigating', 'minor', \
         0, 0, 0)",
    )
    .await
    .unwrap();
    // Ids sort against insertion order; two share a transaction.
    let insert = "INSERT INTO statuspage_updates (id, public_id, status, body, display_at, \
                  created_at, updated_at, deliver_notifications) \
                  VALUES ($1, 'p', 'investigating', 'b', 0, 0, 0, 1)";
    let mut tx = pool.begin().await.unwrap();
    for id in ["c", "b"] {
        sqlx::query(insert)
            .bind(id)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    sqlx::query(insert).bind("a").execute(&pool).await.unwrap();

    let store = dutybell::store::Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    store.close().await;
    sqlx::query(insert).bind("0").execute(&pool).await.unwrap();
    let order: Vec<String> = sqlx::query_scalar("SELECT id FROM statuspage_updates ORDER BY seq")
        .fetch_all(&pool)
        .await
        .unwrap();
    let unset: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM statuspage_updates WHERE seq IS NULL")
            .fetch_one(&pool)
            .await
            .unwrap();
    pool.close().await;
    if let Some(name) = pg_name {
        let server = std::env::var("DUTYBELL_TEST_POSTGRES").unwrap();
        let mut admin = sqlx::PgConnection::connect(&server).await.unwrap();
        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        admin.execute(sql.as_str()).await.ok();
    }

    assert_eq!(order, ["c", "b", "a", "0"]);
    assert_eq!(unset, 0);
}
