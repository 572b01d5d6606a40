//! Every intake format through the one pipeline: PagerDuty Events v2 (IN-12), generic JSON,
//! Grafana, each mapping to the same alert model and paging the same way.

use serde_json::{Value, json};

use crate::helpers::{
    GENERIC_KEY, GRAFANA_HMAC, GRAFANA_KEY, PD_KEY, SIGNED_KEY, STORM_KEY, Setup, TestApp,
    spawn_app, spawn_app_with,
};

async fn post(app: &TestApp, path: &str, body: &Value) -> (u16, Value) {
    let response = app
        .client
        .post(app.url(path))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn pd(action: &str, key: Option<&str>, summary: &str) -> Value {
    let mut body = json!({
        "routing_key": PD_KEY,
        "event_action": action,
        "payload": { "summary": summary, "source": "lb-2", "severity": "warning",
                     "custom_details": { "days_left": 6 } },
        "links": [{ "href": "https://rb.example/cert-renewal", "text": "Runbook" }],
    });
    if let Some(key) = key {
        body["dedup_key"] = key.into();
    }
    body
}

#[tokio::test]
async fn pagerduty_lifecycle_in_12() {
    let app = spawn_app().await;

    let (status, body) = post(
        &app,
        "/v2/enqueue",
        &pd("trigger", Some("lb-2/cert"), "cert"),
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(
        body,
        json!({"status":"success","message":"Event processed","dedup_key":"lb-2/cert"})
    );
    app.run_engine_once().await;
    let update = pd("trigger", Some("lb-2/cert"), "cert, now 5 days");
    assert_eq!(post(&app, "/v2/enqueue", &update).await.0, 202);
    app.run_engine_once().await;
    assert_eq!(app.hooks.recipients(), ["ben"], "the update pages no one");
    let alert = app.open_alerts().await.remove(0);
    let id = alert["id"].as_i64().unwrap();
    assert_eq!(alert["summary"], "cert, now 5 days");
    assert_eq!(alert["trigger_count"], 2);
    assert_eq!(alert["runbook_url"], "https://rb.example/cert-renewal");
    assert_eq!(alert["service_id"], "checkout");

    assert_eq!(
        post(
            &app,
            "/v2/enqueue",
            &pd("acknowledge", Some("lb-2/cert"), "")
        )
        .await
        .0,
        202
    );
    assert_eq!(app.alert(id).await["alert"]["state"], "acknowledged");
    assert_eq!(
        post(&app, "/v2/enqueue", &pd("resolve", Some("lb-2/cert"), ""))
            .await
            .0,
        202
    );
    assert_eq!(
        post(&app, "/v2/enqueue", &pd("resolve", Some("lb-2/cert"), ""))
            .await
            .0,
        202
    );
    assert_eq!(app.alert(id).await["alert"]["state"], "resolved");

    app.clock.advance(jiff::SignedDuration::from_mins(20));
    let (_, again) = post(
        &app,
        "/v2/enqueue",
        &pd("trigger", Some("lb-2/cert"), "cert"),
    )
    .await;
    app.run_engine_once().await;
    let open = app.open_alerts().await;
    assert_eq!(open.len(), 1);
    assert_ne!(
        open[0]["id"].as_i64().unwrap(),
        id,
        "a new alert after resolve"
    );
    assert_eq!(again["dedup_key"], "lb-2/cert");
    assert_eq!(app.hooks.recipients(), ["ben", "ben"]);

    let (_, generated) = post(&app, "/v2/enqueue", &pd("trigger", None, "no key")).await;
    assert!(
        generated["dedup_key"]
            .as_str()
            .unwrap()
            .starts_with("auto:")
    );
}

#[tokio::test]
async fn pagerduty_errors_have_pagerdutys_shape() {
    let app = spawn_app().await;

    let mut no_summary = pd("trigger", Some("k"), "");
    no_summary["payload"]["summary"] = Value::Null;
    let (status, body) = post(&app, "/v2/enqueue", &no_summary).await;
    assert_eq!(status, 400);
    assert_eq!(body["status"], "invalid event");
    assert_eq!(body["message"], "Event object is invalid");
    assert_eq!(
        body["errors"],
        json!(["'payload.summary' is missing or blank"])
    );

    let mut unknown = pd("trigger", Some("k"), "x");
    unknown["routing_key"] = "00000000000000000000000000000000".into();
    let (status, body) = post(&app, "/v2/enqueue", &unknown).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (400, Some("invalid event"))
    );

    let response = app
        .client
        .post(app.url("/v2/enqueue"))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    app.store.set_fail_writes(true);
    let response = app
        .client
        .post(app.url("/v2/enqueue"))
        .json(&pd("trigger", Some("k"), "x"));
    let response = response.send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    app.store.set_fail_writes(false);
    assert!(
        app.open_alerts().await.is_empty(),
        "nothing stored by any of these"
    );
}

#[tokio::test]
async fn a_pagerduty_key_is_unknown_on_another_kinds_endpoint() {
    let app = spawn_app().await;
    let url = app.url(&format!("/api/v1/integrations/{PD_KEY}/alertmanager"));

    let response = app.client.post(url).body("{}").send().await.unwrap();

    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn change_events_land_on_the_service_timeline_and_page_no_one() {
    let app = spawn_app().await;
    let body = json!({ "routing_key": PD_KEY,
        "payload": { "summary": "Deployed checkout v42", "timestamp": "2025-06-12T02:58:00Z" } });

    let (status, answer) = post(&app, "/v2/change/enqueue", &body).await;
    app.run_engine_once().await;

    assert_eq!(status, 202);
    assert_eq!(
        answer,
        json!({"status":"success","message":"Change event processed"})
    );
    assert!(app.open_alerts().await.is_empty());
    let entries = app.api_get("/api/v1/services/checkout/timeline").await;
    assert_eq!(entries[0]["kind"], "change");
    assert_eq!(entries[0]["summary"], "Deployed checkout v42");
    assert_eq!(entries[0]["at"], "2025-06-12T02:58:00Z");
}

/// An unknown severity keeps the alert, at the integration's default severity, and the
/// answer says so rather than staying silent.
#[tokio::test]
async fn generic_json_with_an_unknown_severity_is_kept_and_warned_about() {
    let app = spawn_app().await;
    let path = format!("/api/v1/integrations/{GENERIC_KEY}/generic");
    let batch = json!([
        { "summary": "Queue backlog", "severity": "blocker" },
        { "summary": "Cert expires", "severity": "critical" },
    ]);
    let (status, body) = post(&app, &path, &batch).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        body["warnings"],
        json!([
            "[0].severity: unknown severity \"blocker\" (expected critical, error, warning or \
             info); the integration's default applies"
        ])
    );
    let alerts = app.open_alerts().await;
    let severity = |summary: &str| {
        let alert = alerts.iter().find(|a| a["summary"] == summary).unwrap();
        alert["severity"].as_str().unwrap().to_owned()
    };
    assert_eq!(
        severity("Queue backlog"),
        "warning",
        "the integration's default"
    );
    assert_eq!(severity("Cert expires"), "critical");
}

#[tokio::test]
async fn generic_json_array_opens_alerts_and_resolves_by_key() {
    let app = spawn_app().await;
    let path = format!("/api/v1/integrations/{GENERIC_KEY}/generic");
    let batch = json!([
        { "dedup_key": "backup-nightly", "summary": "Nightly backup of db-1 failed (exit 3)",
          "severity": "error", "source": "backup-cron", "labels": { "team": "data" } },
        { "summary": "Disk almost full" },
        { "summary": "Disk almost full" },
    ]);

    let (status, body) = post(&app, &path, &batch).await;
    app.run_engine_once().await;

    assert_eq!(status, 202);
    assert_eq!(body["dedup_keys"][0], "backup-nightly");
    assert_eq!(
        app.open_alerts().await.len(),
        3,
        "equal summaries stay two alerts (IN-06)"
    );
    let disk = app.open_alerts().await.remove(1);
    assert_eq!(
        disk["severity"], "warning",
        "the integration's default_severity"
    );
    assert_eq!(
        app.hooks.recipients(),
        ["ben"],
        "three alerts of one service pending to ben go as one bundle (D9)"
    );
    let bundle = &app.hooks.hooks()[0].body["data"]["bundle"];
    assert_eq!(bundle["count"], 3);
    assert_eq!(bundle["alerts"].as_array().unwrap().len(), 3);

    let resolve = json!({ "dedup_key": "backup-nightly", "action": "resolve" });
    assert_eq!(post(&app, &path, &resolve).await.0, 202);
    assert_eq!(app.open_alerts().await.len(), 2);

    let bad = json!([{ "summary": "fine" }, { "action": "resolve" }]);
    let (status, body) = post(&app, &path, &bad).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("[1].dedup_key"))
    );
    assert_eq!(app.open_alerts().await.len(), 2, "all or nothing");
}

#[tokio::test]
async fn grafana_webhook_opens_one_alert_per_group() {
    let app = spawn_app().await;
    let body = json!({"version":"1","orgId":1,"state":"alerting",
        "title":"[FIRING:1] CertExpiresSoon (Edge lb-2)","message":"","receiver":"dutybell",
        "status":"firing","groupKey":"{}:{alertname=\"CertExpiresSoon\"}","truncatedAlerts":0,
        "commonLabels":{"alertname":"CertExpiresSoon"},"commonAnnotations":{},
        "externalURL":"https://grafana.example/",
        "alerts":[{"status":"firing","fingerprint":"7d1e0c5a9b224f36",
          "labels":{"alertname":"CertExpiresSoon","grafana_folder":"Edge","host":"lb-2"},
          "annotations":{},
          "startsAt":"2025-06-12T04:30:00+02:00","endsAt":"0001-01-01T00:00:00Z",
          "values":{"B":6},"valueString":"[ var='B' value=6 ]","silenceURL":"",
          "dashboardURL":"https://grafana.example/d/1","panelURL":""}]});
    let url = app.url(&format!("/api/v1/integrations/{GRAFANA_KEY}/grafana"));

    let response = app.client.put(&url).json(&body).send().await.unwrap();
    app.run_engine_once().await;

    assert_eq!(response.status(), 202);
    let alert = app.open_alerts().await.remove(0);
    assert_eq!(alert["summary"], "[FIRING:1] CertExpiresSoon (Edge lb-2)");
    assert_eq!(alert["service_id"], "checkout");
    assert!(
        alert["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["text"] == "Dashboard")
    );
    assert_eq!(app.hooks.recipients(), ["ben"]);
}

#[tokio::test]
async fn the_open_alert_cap_refuses_new_keys_only() {
    let app = spawn_app().await;
    let path = format!("/api/v1/integrations/{GENERIC_KEY}/generic");
    let three = json!([{ "dedup_key": "a", "summary": "a" }, { "dedup_key": "b", "summary": "b" },
                      { "dedup_key": "c", "summary": "c" }]);
    assert_eq!(post(&app, &path, &three).await.0, 202);

    let response = app
        .client
        .post(app.url(&path))
        .json(&json!({ "dedup_key": "d",
        "summary": "d" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (body["error"].as_str(), body["limit"].as_u64()),
        (Some("open_alert_cap"), Some(3))
    );

    let duplicate = json!({ "dedup_key": "a", "summary": "a again" });
    assert_eq!(
        post(&app, &path, &duplicate).await.0,
        202,
        "an open key still passes"
    );
    let id = app.open_alerts().await[0]["id"].as_i64().unwrap();
    app.api_post(&format!("/api/v1/alerts/{id}/ack"), json!({}))
        .await;
    assert_eq!(
        post(&app, &path, &json!({ "dedup_key": "d", "summary": "d" }))
            .await
            .0,
        202
    );
    assert_eq!(app.open_alerts().await.len(), 4);
}

#[tokio::test]
async fn the_ingress_rate_limit_throttles_triggers_but_not_resolves() {
    let app = spawn_app().await;
    let path = format!("/api/v1/integrations/{GENERIC_KEY}/generic");
    let trigger = json!({ "dedup_key": "k", "summary": "x" });
    for _ in 0..5 {
        assert_eq!(post(&app, &path, &trigger).await.0, 202);
    }

    let response = app
        .client
        .post(app.url(&path))
        .json(&trigger)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "60");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited");
    let resolve = json!({ "dedup_key": "k", "action": "resolve" });
    assert_eq!(
        post(&app, &path, &resolve).await.0,
        202,
        "resolves are exempt"
    );

    app.clock.advance(jiff::SignedDuration::from_secs(61));
    assert_eq!(post(&app, &path, &trigger).await.0, 202);
}

/// Two Grafana integrations that sign their bodies: `signed` with the default header and
/// the body alone, `stamped` with its own headers and a timestamp.
fn signed_grafana() -> Setup {
    Setup {
        services: "[[service]]\nid = \"signed\"\nescalation = \"default\"\nintegrations = [\n\
             { kind = \"grafana\", id = \"plain\", key_env = \"KEY_STORM\", \
             hmac_secret_env = \"GRAFANA_HMAC\" },\n\
             { kind = \"grafana\", id = \"stamped\", key_env = \"KEY_SIGNED\", \
             hmac_secret_env = \"GRAFANA_HMAC\", hmac_header = \"X-Signature\", \
             hmac_timestamp_header = \"X-Signature-Timestamp\" },\n]\n"
            .into(),
        ..Setup::default()
    }
}

fn hmac_hex(text: &[u8]) -> String {
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(GRAFANA_HMAC.as_bytes()).unwrap();
    mac.update(text);
    hex::encode(mac.finalize().into_bytes())
}

fn grafana_body(name: &str) -> String {
    json!({"version":"1","orgId":1,"state":"alerting","title":name,"receiver":"dutybell",
        "status":"firing","groupKey":format!("{{}}:{{alertname=\"{name}\"}}"),
        "alerts":[{"status":"firing","labels":{"alertname":name},
          "startsAt":"2025-06-12T02:30:00Z","endsAt":"0001-01-01T00:00:00Z"}]})
    .to_string()
}

async fn post_signed(app: &TestApp, key: &str, body: &str, headers: &[(&str, String)]) -> u16 {
    let url = app.url(&format!("/api/v1/integrations/{key}/grafana"));
    let mut request = app.client.post(url).body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn a_grafana_body_signature_is_checked_and_a_mismatch_is_401() {
    let app = spawn_app_with(signed_grafana()).await;
    let body = grafana_body("Signed");
    let header = "X-Grafana-Alerting-Signature";

    let signature = [(header, hmac_hex(body.as_bytes()))];
    let good = post_signed(&app, STORM_KEY, &body, &signature).await;
    let other = hmac_hex(b"another body");
    let wrong = post_signed(&app, STORM_KEY, &grafana_body("Forged"), &[(header, other)]).await;
    let missing = post_signed(&app, STORM_KEY, &grafana_body("Unsigned"), &[]).await;
    let not_hex = post_signed(&app, STORM_KEY, &body, &[(header, "zz".into())]).await;

    assert_eq!((good, wrong, missing, not_hex), (202, 401, 401, 401));
    let open = app.open_alerts().await;
    assert_eq!(open.len(), 1, "only the signed body was stored");
    assert_eq!(open[0]["summary"], "Signed");
}

#[tokio::test]
async fn a_timestamped_signature_covers_the_time_and_expires_after_300_s() {
    let app = spawn_app_with(signed_grafana()).await;
    let now = app.clock.now().as_second();
    let signed = |name: &str, ts: i64| {
        let body = grafana_body(name);
        let signature = hmac_hex(format!("{ts}:{body}").as_bytes());
        let headers = vec![
            ("X-Signature", signature),
            ("X-Signature-Timestamp", ts.to_string()),
        ];
        (body, headers)
    };

    let (body, headers) = signed("Fresh", now - 300);
    let fresh = post_signed(&app, SIGNED_KEY, &body, &headers).await;
    let (body, headers) = signed("Stale", now - 301);
    let stale = post_signed(&app, SIGNED_KEY, &body, &headers).await;
    let (body, headers) = signed("Future", now + 301);
    let future = post_signed(&app, SIGNED_KEY, &body, &headers).await;
    let body = grafana_body("BodyOnly");
    let headers = [
        ("X-Signature", hmac_hex(body.as_bytes())),
        ("X-Signature-Timestamp", now.to_string()),
    ];
    let body_only = post_signed(&app, SIGNED_KEY, &body, &headers).await;
    let (body, mut headers) = signed("Moved", now);
    headers[1].1 = (now - 1).to_string();
    let moved = post_signed(&app, SIGNED_KEY, &body, &headers).await;

    assert_eq!(
        (fresh, stale, future, body_only, moved),
        (202, 401, 401, 401, 401)
    );
    assert_eq!(app.open_alerts().await.len(), 1);
}
