//! The whole incident story of issue #5 in one test, with real parts where they exist: a
//! Slack HTTP fake that checks the bot token and records bodies (signed requests go the
//! other way, from the test to dutybell), the real SMTP sink for subscriber mail, and the
//! public status page read over HTTP.
//!
//! `/incident p1` → the announcement in the incidents channel → a status change edits it
//! and replies in its thread → `/incident public` publishes → `summary.json` and the RSS
//! feed change → a public `resolved` update → the confirmed subscriber is mailed at each
//! step → the internal resolve broadcasts in the thread and the page is green again.

use jiff::SignedDuration;

use crate::helpers::{SLACK_BOT_TOKEN, Setup, TestApp, spawn_app_with};
use crate::slack_app::{PEOPLE, SlackFake, command, field_texts, header_of};
use crate::statuspage::{PAGE, get, mail_header, mails_to, public_json, subscribe_and_confirm};

async fn app_with_slack_and_page() -> (TestApp, SlackFake) {
    let fake = SlackFake::start().await;
    let instance = format!(
        "[slack]\nincidents_channel = \"C0INC\"\nbot_token_env = \"SLACK_BOT_TOKEN\"\n\
         signing_secret_env = \"SLACK_SIGNING_SECRET\"\napi_base = \"http://{}/api\"\n",
        fake.addr
    );
    let app = spawn_app_with(Setup {
        instance,
        team: PEOPLE.into(),
        statuspage: PAGE.into(),
        ..Setup::default()
    })
    .await;
    (app, fake)
}

/// Runs the engine a few seconds apart, so Slack's per-channel pacing lets it all out.
async fn settle(app: &TestApp) {
    for _ in 0..3 {
        app.clock.advance(SignedDuration::from_secs(5));
        app.run_engine_once().await;
    }
}

#[tokio::test]
async fn from_slash_command_to_status_page_to_subscriber_mail_and_back() {
    let (app, fake) = app_with_slack_and_page().await;
    subscribe_and_confirm(&app, "reader@example.com").await;
    let before = public_json(&app, "/api/v2/summary.json").await;
    assert_eq!(before["status"]["indicator"], "none");
    assert_eq!(before["incidents"], serde_json::json!([]));
    let (_, _, rss_before) = get(&app, "/history.rss", &[]).await;
    assert!(!rss_before.contains("<item>"));

    // 1. /incident p1 in Slack declares; the engine announces it in the incidents channel.
    let reply = command(&app, &fake, "U0SAM", "p1 Checkout is down").await;
    assert!(reply.contains("#1"), "{reply}");
    settle(&app).await;
    let posts = fake.calls_to("chat.postMessage");
    assert_eq!(posts.len(), 1);
    let announcement = &posts[0];
    assert_eq!(
        announcement.authorization,
        format!("Bearer {SLACK_BOT_TOKEN}")
    );
    assert_eq!(announcement.body["channel"], "C0INC");
    assert_eq!(
        header_of(announcement),
        ":rotating_light: P1 · #1 · Checkout is down"
    );
    assert!(
        field_texts(announcement)
            .iter()
            .any(|f| f.contains("<@U0SAM>"))
    );
    // The fake answers the first `chat.postMessage` with this `ts`.
    let ts = "1700000000.000100".to_string();

    // 2. A status change edits the announcement (same channel and ts) and replies in its
    //    thread.
    command(
        &app,
        &fake,
        "U0SAM",
        "status #1 identified bad deploy of checkout",
    )
    .await;
    settle(&app).await;
    let updates = fake.calls_to("chat.update");
    let last = updates.last().expect("the announcement is edited");
    assert_eq!(
        (last.body["channel"].as_str(), last.body["ts"].as_str()),
        (Some("C0INC"), Some(ts.as_str()))
    );
    assert!(
        field_texts(last).iter().any(|f| f.contains("Identified")),
        "{:?}",
        field_texts(last)
    );
    let thread: Vec<_> = fake
        .calls_to("chat.postMessage")
        .into_iter()
        .filter(|c| c.body["thread_ts"] == ts.as_str())
        .collect();
    let texts: Vec<&str> = thread
        .iter()
        .map(|c| c.body["text"].as_str().unwrap())
        .collect();
    assert!(texts.iter().any(|t| t.contains("Identified")), "{texts:?}");

    // 3. Publishing from Slack moves the public page, the JSON and the feed.
    let reply = command(
        &app,
        &fake,
        "U0SAM",
        "public #1 Checkout fails for some customers.",
    )
    .await;
    assert!(reply.starts_with("Status page: Identified"), "{reply}");
    let summary = public_json(&app, "/api/v2/summary.json").await;
    assert_eq!(
        summary["status"]["indicator"], "critical",
        "P1 → critical impact"
    );
    assert_eq!(summary["status"]["description"], "Major Service Outage");
    assert_eq!(summary["incidents"][0]["name"], "Checkout is down");
    assert_eq!(summary["incidents"][0]["status"], "identified");
    assert_eq!(
        summary["incidents"][0]["incident_updates"][0]["body"],
        "Checkout fails for some customers."
    );
    let (_, _, rss) = get(&app, "/history.rss", &[]).await;
    assert!(rss.contains("<title>Checkout is down</title>"), "{rss}");
    settle(&app).await;
    // The announcement now links the public incident.
    let last = fake.calls_to("chat.update").pop().unwrap();
    assert!(
        field_texts(&last).iter().any(|f| f.contains("/incidents/")),
        "{:?}",
        field_texts(&last)
    );

    // 4. The public resolution: the page is green again, the subscriber hears of both.
    app.clock.advance(SignedDuration::from_mins(30));
    command(
        &app,
        &fake,
        "U0SAM",
        "public #1 resolved A fix is deployed; all is well.",
    )
    .await;
    let summary = public_json(&app, "/api/v2/summary.json").await;
    assert_eq!(summary["status"]["indicator"], "none");
    assert_eq!(
        summary["incidents"],
        serde_json::json!([]),
        "no unresolved incidents"
    );
    let all = public_json(&app, "/api/v2/incidents.json").await;
    assert_eq!(all["incidents"][0]["status"], "resolved");
    settle(&app).await;
    let subjects: Vec<String> = mails_to(&app, "reader@example.com")
        .iter()
        .skip(1) // the confirmation
        .map(|m| mail_header(&m.data, "Subject"))
        .collect();
    assert_eq!(
        subjects,
        vec![
            "[Acme Status] Identified: Checkout is down",
            "[Acme Status] Resolved: Checkout is down"
        ]
    );

    // 5. The internal resolve broadcasts in the thread; the timeline has the whole story.
    command(&app, &fake, "U0SAM", "status #1 resolved").await;
    settle(&app).await;
    let broadcast = fake
        .calls_to("chat.postMessage")
        .into_iter()
        .find(|c| c.body["reply_broadcast"] == true)
        .expect("the resolution is broadcast");
    assert_eq!(broadcast.body["thread_ts"], ts.as_str());
    let shown = app.api_get("/api/v1/incidents/1").await;
    let kinds: Vec<&str> = shown["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "incident.declared",
        "status.changed",
        "statuspage.published",
        "statuspage.updated",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    assert_eq!(shown["incident"]["status"], "resolved");
    assert_eq!(shown["incident"]["source"], "slack");
}
