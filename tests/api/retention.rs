//! Data retention (issue #8): the engine's hourly cleanup deletes resolved alerts past
//! `[retention] alerts` with every row that names them, and keeps open alerts, alerts of an
//! incident and recent ones. Driven by a manual clock through `engine::retention::run_once`.

use dutybell::engine::retention;
use jiff::SignedDuration;
use serde_json::json;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions as _, Connection as _};

use crate::helpers::{Setup, TestApp, spawn_app_with, t0};

/// Tables whose rows name an alert and go with it.
const CHILDREN: [&str; 6] = [
    "timeline",
    "outbox",
    "page_messages",
    "alert_members",
    "alert_groups",
    "deliveries",
];

fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

/// Fires `name` now on the manual clock and returns its alert id.
async fn fire(app: &TestApp, name: &str) -> i64 {
    app.fire(name).await["alert_id"].as_i64().unwrap()
}

async fn resolve(app: &TestApp, id: i64) {
    let path = format!("/api/v1/alerts/{id}/resolve");
    let response = app.api_post(&path, json!({"by": "ana"})).await;
    assert_eq!(response.status(), 200, "resolving alert {id}");
}

async fn exists(app: &TestApp, id: i64) -> bool {
    let response = app
        .client
        .get(app.url(&format!("/api/v1/alerts/{id}")))
        .bearer_auth(crate::helpers::API_TOKEN)
        .send()
        .await
        .unwrap();
    match response.status().as_u16() {
        200 => true,
        404 => false,
        other => panic!("GET alert {id} answered {other}"),
    }
}

/// Rows naming alert `id` in each child table, read from the database file.
async fn child_rows(app: &TestApp, id: i64) -> Vec<(&'static str, i64)> {
    let file = app.config_dir().join("data").join("dutybell.db");
    let mut conn = SqliteConnectOptions::new()
        .filename(file)
        .read_only(true)
        .connect()
        .await
        .unwrap();
    let mut rows = Vec::new();
    for table in CHILDREN {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE alert_id = ?");
        let n: i64 = sqlx::query_scalar(&sql)
            .bind(id)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        rows.push((table, n));
    }
    conn.close().await.unwrap();
    rows
}

#[tokio::test]
async fn old_resolved_alerts_go_with_their_rows_and_kept_ones_stay() {
    if crate::helpers::skip_on_postgres("reads the SQLite file directly") {
        return;
    }
    let app = spawn_app_with(Setup {
        instance: "[retention]\nalerts = \"365d\"\nnotifications = \"90d\"\n".into(),
        ..Setup::default()
    })
    .await;
    let old = fire(&app, "OldDiskFull").await;
    let open = fire(&app, "StillFiring").await;
    let linked = fire(&app, "PartOfAnOutage").await;
    app.run_engine_once().await; // pages go out: outbox and timeline rows
    let declared = app
        .api_post(
            "/api/v1/incidents",
            json!({"from_alert": linked.to_string(), "by": "ben", "title": "Outage"}),
        )
        .await;
    assert_eq!(declared.status(), 200, "{}", declared.text().await.unwrap());
    resolve(&app, old).await;
    resolve(&app, linked).await;
    app.clock.advance(days(300));
    let recent = fire(&app, "RecentDiskFull").await;
    resolve(&app, recent).await;
    let before = child_rows(&app, old).await;

    let cleanup = retention::run_once(&app.engine, t0() + days(366))
        .await
        .unwrap();

    assert!(cleanup.ran);
    assert_eq!(cleanup.alerts, 1, "{cleanup:?}");
    assert!(!exists(&app, old).await, "the old resolved alert is gone");
    assert!(
        before.iter().any(|(_, n)| *n > 0),
        "the old alert had rows to delete: {before:?}"
    );
    assert!(
        child_rows(&app, old).await.iter().all(|(_, n)| *n == 0),
        "its rows went with it"
    );
    for (id, why) in [(open, "open"), (linked, "incident"), (recent, "recent")] {
        assert!(exists(&app, id).await, "the {why} alert {id} is kept");
    }
    assert!(
        child_rows(&app, linked).await.iter().any(|(_, n)| *n > 0),
        "a kept alert keeps its rows"
    );
}

#[tokio::test]
async fn the_cleanup_runs_at_most_hourly_and_remembers_across_restarts() {
    let app = spawn_app_with(Setup::default()).await;
    let old = fire(&app, "OldDiskFull").await;
    resolve(&app, old).await;
    let midway = t0() + days(200);
    let later = t0() + days(400);

    let first = retention::run_once(&app.engine, t0()).await.unwrap();
    let again = retention::run_once(&app.engine, midway).await.unwrap();
    let app = app
        .restart(dutybell::clock::Clock::manual(later), |_| {})
        .await;
    let soon = retention::run_once(&app.engine, midway + SignedDuration::from_mins(59))
        .await
        .unwrap();
    let due = retention::run_once(&app.engine, later).await.unwrap();

    assert!(first.ran && first.alerts == 0, "{first:?}");
    assert_eq!(first.next, Some(t0() + retention::EVERY));
    assert!(
        again.ran && again.alerts == 0,
        "the default keeps a year: {again:?}"
    );
    assert!(
        !soon.ran,
        "not due within the hour, even after a restart: {soon:?}"
    );
    assert!(due.ran && due.alerts == 1, "{due:?}");
    assert!(!exists(&app, old).await);
}
