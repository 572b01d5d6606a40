//! Signed one-click links: GET shows a button, POST acts, tampering and expiry are refused.

use jiff::SignedDuration;

use crate::helpers::spawn_app;

/// The ack link from the first webhook page.
async fn ack_link(app: &crate::helpers::TestApp) -> String {
    app.fire("DiskFull").await;
    app.run_engine_once().await;
    app.hooks.hooks()[0].body["data"]["actions"]["acknowledge"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn get_only_shows_a_button_and_post_acknowledges() {
    let app = spawn_app().await;
    let link = ack_link(&app).await;

    let page = app.client.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<form method=\"post\""), "{html}");
    assert_eq!(
        app.open_alerts().await[0]["state"],
        "triggered",
        "GET must not act"
    );

    let done = app.client.post(&link).send().await.unwrap();
    assert_eq!(done.status(), 200);
    let alert = &app.open_alerts().await[0];
    assert_eq!(alert["state"], "acknowledged");
    assert_eq!(
        alert["acked_by"], "ben",
        "the link's recipient is the actor"
    );

    let repeat = app.client.post(&link).send().await.unwrap();
    assert_eq!(repeat.status(), 200, "repeats are no-ops");
}

#[tokio::test]
async fn a_tampered_or_expired_link_is_refused() {
    let app = spawn_app().await;
    let link = ack_link(&app).await;

    let tampered = link.replace("/a/e", "/a/f").replace("/a/ey", "/a/ez");
    let tampered = if tampered == link {
        format!("{link}x")
    } else {
        tampered
    };
    assert_eq!(
        app.client.post(&tampered).send().await.unwrap().status(),
        403
    );

    app.clock.advance(SignedDuration::from_hours(25));
    assert_eq!(app.client.post(&link).send().await.unwrap().status(), 403);
    assert_eq!(app.open_alerts().await[0]["state"], "triggered");
}

#[tokio::test]
async fn user_text_on_the_link_page_is_escaped() {
    let app = spawn_app().await;
    let body = crate::helpers::am_body("X", &[("firing", "2025-06-12T02:59:00Z")])
        .replace("X on host-0", "<script>alert(1)</script>");
    app.post_alertmanager(&body).await;
    app.run_engine_once().await;
    let link = app.hooks.hooks()[0].body["data"]["actions"]["acknowledge"]
        .as_str()
        .unwrap()
        .to_string();

    let html = app
        .client
        .get(&link)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&lt;script&gt;"));
}

#[tokio::test]
async fn the_alert_link_in_a_page_shows_the_alert_and_its_timeline_without_login() {
    let app = spawn_app().await;
    app.fire("DiskFull").await;
    app.run_engine_once().await;
    let url = app.hooks.hooks()[0].body["data"]["alert"]["url"]
        .as_str()
        .unwrap()
        .to_string();

    let response = app.client.get(&url).send().await.unwrap();

    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("DiskFull on host-0"), "{html}");
    assert!(html.contains("escalated"), "{html}");
    assert!(!html.contains("<form"), "read-only");
    let forged = format!("{url}x");
    assert_eq!(app.client.get(&forged).send().await.unwrap().status(), 403);
}

/// A link signed before its alert existed names a reused number (a restore rolled the ids
/// back): it shows nothing and acts on nothing, while the alert's own link still works.
#[tokio::test]
async fn a_link_older_than_its_alert_number_acts_on_nothing() {
    use dutybell::domain::action_link::{self, Action, ActionClaim};
    let app = spawn_app().await;
    let own = ack_link(&app).await;
    let alert = app.open_alerts().await[0]["id"].as_i64().unwrap();
    // Signed two hours before the alert was created, for the number it has now.
    let signed_at = app.clock.now() - SignedDuration::from_hours(2);
    let claim = ActionClaim {
        act: Action::Ack,
        target: alert,
        person: "ben".into(),
        exp: (signed_at + action_link::LIFETIME).as_second(),
    };
    let token = action_link::sign(&claim, crate::helpers::SIGNING_SECRET.as_bytes());
    let stale = format!("http://{}/a/{token}", app.addr);

    let page = app.client.get(&stale).send().await.unwrap();
    assert_eq!(page.status(), 410);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("earlier alert with this number")
    );
    let done = app.client.post(&stale).send().await.unwrap();
    assert!(
        done.text()
            .await
            .unwrap()
            .contains("earlier alert with this number")
    );
    assert_eq!(app.open_alerts().await[0]["state"], "triggered");

    assert_eq!(app.client.post(&own).send().await.unwrap().status(), 200);
    assert_eq!(app.open_alerts().await[0]["state"], "acknowledged");
}
