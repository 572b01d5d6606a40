//! Bad input gets a clear JSON error with the right status, and nothing stored changes.

use crate::helpers::{KEY, Setup, TOKEN, am_body, spawn_app, spawn_app_with};

async fn error_of(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn every_kind_of_bad_request_is_refused_and_stores_nothing() {
    let app = spawn_app_with(Setup {
        max_body_bytes: Some(64 * 1024),
        ..Setup::default()
    })
    .await;
    let id = app.fire("Existing").await["alert_id"].as_i64().unwrap();
    let before = app.alert(id).await;

    let (status, body) = error_of(app.post_alertmanager("{not json").await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_payload"))
    );
    assert!(body["message"].as_str().unwrap().contains("not JSON"));

    let (status, body) = error_of(app.post_alertmanager(r#"{"alerts":5}"#).await).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("alerts")));

    let unknown = app.url("/api/v1/integrations/00000000000000000000000000000000/alertmanager");
    let response = app
        .client
        .post(unknown)
        .bearer_auth(TOKEN)
        .body("{}")
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(response).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("unknown_integration"))
    );

    let response = app.client.get(app.intake_url()).send().await.unwrap();
    let (status, body) = error_of(response).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (405, Some("method_not_allowed"))
    );

    let huge = format!(r#"{{"pad":"{}"}}"#, "x".repeat(100 * 1024));
    let (status, body) = error_of(app.post_alertmanager(&huge).await).await;
    assert_eq!((status, body["error"].as_str()), (413, Some("too_large")));

    let body_ok = am_body("NoToken", &[("firing", "2025-06-12T02:59:00Z")]);
    let response = app
        .client
        .post(app.intake_url())
        .body(body_ok.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(response).await.0, 401);
    let response = app
        .client
        .post(app.intake_url())
        .bearer_auth("wrong")
        .body(body_ok)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(response).await.0, 401);

    assert_eq!(app.open_alerts().await.len(), 1, "nothing new stored");
    let after = app.alert(id).await;
    assert_eq!(before, after, "the existing alert is untouched");
}

#[tokio::test]
async fn basic_auth_with_the_token_as_password_is_accepted() {
    let app = spawn_app().await;
    let body = am_body("Basic", &[("firing", "2025-06-12T02:59:00Z")]);

    let response = app
        .client
        .post(app.intake_url())
        .basic_auth("alertmanager", Some(TOKEN))
        .body(body)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 202);
}

#[tokio::test]
async fn the_admin_api_needs_its_token() {
    let app = spawn_app().await;

    let response = app
        .client
        .get(app.url("/api/v1/alerts"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let response = app
        .client
        .get(app.url("/api/v1/alerts"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        401,
        "an integration key is not an API token"
    );
}

#[tokio::test]
async fn health_reports_ok() {
    let app = spawn_app().await;

    let response = app.client.get(app.url("/health")).send().await.unwrap();

    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn the_alert_api_takes_a_12_ids_and_answers_bad_input_as_json() {
    let app = spawn_app().await;
    let id = app.fire("DiskFull").await["alert_id"].as_i64().unwrap();

    let shown = app.api_get(&format!("/api/v1/alerts/A-{id}")).await;
    assert_eq!(shown["alert"]["id"], id);

    let broken = app
        .client
        .post(app.url(&format!("/api/v1/alerts/{id}/ack")))
        .bearer_auth(crate::helpers::API_TOKEN)
        .body("{\"by\":")
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(broken).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("by")));

    let response = app
        .api_post("/api/v1/alerts/A--1/ack", serde_json::json!({}))
        .await;
    let (status, body) = error_of(response).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("id")));
    let response = app
        .client
        .get(app.url("/api/v1/alerts?all=maybe"))
        .bearer_auth(crate::helpers::API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(response).await.0, 400);
}

#[tokio::test]
async fn an_unknown_key_is_refused_before_its_body_is_read() {
    let app = spawn_app_with(Setup {
        max_body_bytes: Some(64 * 1024),
        ..Setup::default()
    })
    .await;
    let unknown = app.url("/api/v1/integrations/00000000000000000000000000000000/generic");

    let huge = format!(r#"{{"pad":"{}"}}"#, "x".repeat(100 * 1024));
    let response = app.client.post(unknown).body(huge).send().await.unwrap();

    assert_eq!(
        error_of(response).await.0,
        404,
        "not 413: the key is checked first"
    );
}
