//! Discord page messages follow their alert (issue #4, comms spec §3.6): the message id
//! Discord answers with (`wait=true`) is kept, and an ack or resolve from any surface
//! PATCHes `/webhooks/{id}/{token}/messages/{message id}` so the links give way to who
//! settled it. A message Discord no longer has is a failure on the timeline, not a loop.

use serde_json::json;

use crate::helpers::{HttpFake, Setup, TestApp, am_body, spawn_app_with, t0};

struct Posted {
    app: TestApp,
    fake: HttpFake,
    alert: i64,
}

/// Ben (primary at t0) gets the page on Discord too; the fake answers as Discord does.
async fn post_page() -> Posted {
    let fake = HttpFake::start().await;
    fake.reply(
        200,
        &[],
        r#"{"id": "1180000000000000042", "channel_id": "99"}"#,
    );
    let app = spawn_app_with(Setup {
        contacts: vec![(
            "ben",
            format!(
                r#"{{ kind = "discord", url = "http://{}/api/webhooks/123/tok3n" }}"#,
                fake.addr
            ),
        )],
        ..Setup::default()
    })
    .await;
    let alert = app
        .open_alert(&am_body("DiskFull", &[("firing", &t0().to_string())]))
        .await;
    app.run_engine_once().await;
    assert_eq!(fake.requests().len(), 1);
    Posted { app, fake, alert }
}

impl Posted {
    async fn act(&self, verb: &str) {
        let response = self
            .app
            .api_post(
                &format!("/api/v1/alerts/{}/{verb}", self.alert),
                json!({ "by": "ben" }),
            )
            .await;
        assert_eq!(response.status(), 200);
    }
}

#[tokio::test]
async fn an_ack_patches_the_message_with_who_acked_instead_of_the_links() {
    let p = post_page().await;
    // Nothing to edit while the alert is as the message shows it.
    p.app.run_engine_once().await;
    assert_eq!(p.fake.requests().len(), 1);

    p.act("ack").await;
    p.app.run_engine_once().await;

    let requests = p.fake.requests();
    assert_eq!(requests.len(), 2, "one edit");
    let edit = &requests[1];
    assert_eq!(edit.method, "PATCH");
    assert_eq!(
        edit.uri,
        "/api/webhooks/123/tok3n/messages/1180000000000000042"
    );
    let body = edit.json();
    assert_eq!(
        body["content"],
        format!("ACKED critical Public API: DiskFull (#A-{})", p.alert)
    );
    let description = body["embeds"][0]["description"].as_str().unwrap();
    assert!(
        description.ends_with(
            "\n\nAcked by ben name at 03:00 UTC · \
             [Runbook](https://runbooks.example.com/api)"
        ),
        "{description}"
    );
    assert!(
        !description.contains("/a/"),
        "no action links left: {description}"
    );
    assert_eq!(body["allowed_mentions"], json!({"parse": []}));

    // Once edited, nothing more until the alert moves again; then resolve edits again.
    p.app.run_engine_once().await;
    assert_eq!(p.fake.requests().len(), 2);
    p.act("resolve").await;
    p.app.run_engine_once().await;
    let requests = p.fake.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(
        requests[2].json()["content"],
        format!("RESOLVED critical Public API: DiskFull (#A-{})", p.alert)
    );
}

#[tokio::test]
async fn a_message_discord_lost_is_one_failure_on_the_timeline() {
    let p = post_page().await;
    p.fake
        .reply(404, &[], r#"{"message": "Unknown Message", "code": 10008}"#);
    p.act("ack").await;
    p.app.run_engine_once().await;
    p.app.run_engine_once().await;

    assert_eq!(p.fake.requests().len(), 2, "a 404 is not retried");
    let alert = p.app.alert(p.alert).await;
    let failures: Vec<&serde_json::Value> = alert["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "notification_failed")
        .collect();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0]["detail"]["channel"], "discord");
    assert_eq!(failures[0]["detail"]["op"], "update");
    let error = failures[0]["detail"]["error"].as_str().unwrap();
    assert!(error.contains("404") && !error.contains("tok3n"), "{error}");
}

#[tokio::test]
async fn a_429_on_an_edit_waits_for_retry_after_then_edits() {
    let p = post_page().await;
    p.fake.reply(
        429,
        &[("retry-after", "30")],
        r#"{"message": "You are being rate limited.", "retry_after": 30.0, "global": false}"#,
    );
    p.act("ack").await;
    p.app.run_engine_once().await;
    assert_eq!(p.fake.requests().len(), 2);

    p.app.clock.advance(jiff::SignedDuration::from_secs(29));
    p.app.run_engine_once().await;
    assert_eq!(p.fake.requests().len(), 2, "not before Retry-After");
    p.app.clock.advance(jiff::SignedDuration::from_secs(1));
    p.app.run_engine_once().await;
    let requests = p.fake.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[2].method, "PATCH");
}
