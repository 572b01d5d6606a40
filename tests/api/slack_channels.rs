//! Dedicated incident channels (issue #5, comms spec §2.7, CM-10): with
//! `dedicated_channels = true`, each incident gets `inc-<number>-<slug>` with its title and
//! link as topic and its commander and declarer invited; a new commander is invited too; the
//! channel is archived at close, and after that nothing is ever written to it.

use jiff::SignedDuration;
use serde_json::json;

use dutybell::domain::accounts::Role;

use crate::helpers::{Setup, TestApp, spawn_app_with};
use crate::slack_app::{SlackFake, command, command_in, incident};
use crate::web_ui::{add_user, post_form, sign_in, with};

/// Sam and Kim are linked to Slack; Kim also takes notices by app DM.
const PEOPLE: &str = r#"
[[person]]
id = "sam"
name = "Sam Lee"
email = "sam@example.com"
slack_id = "U0SAM"

[[person]]
id = "kim"
name = "Kim Park"
email = "kim@example.com"
slack_id = "U0KIM"
contact = [{ kind = "slack", to = "dm" }]
"#;

async fn app_with_channels() -> (TestApp, SlackFake) {
    let fake = SlackFake::start().await;
    let instance = format!(
        "[slack]\nincidents_channel = \"C0INC\"\nbot_token_env = \"SLACK_BOT_TOKEN\"\n\
         signing_secret_env = \"SLACK_SIGNING_SECRET\"\napi_base = \"http://{}/api\"\n\
         dedicated_channels = true\n",
        fake.addr
    );
    let app = spawn_app_with(Setup {
        instance,
        team: PEOPLE.into(),
        ..Setup::default()
    })
    .await;
    (app, fake)
}

/// One engine pass, then a step clear of the channels' pacing.
async fn pass(app: &TestApp) {
    app.run_engine_once().await;
    app.clock.advance(SignedDuration::from_secs(10));
}

#[tokio::test]
async fn an_incident_gets_its_own_channel_joined_by_new_commanders_and_archived_at_close() {
    let (app, fake) = app_with_channels().await;
    command(&app, &fake, "U0SAM", "p3 Checkout: 500s on EU").await;
    pass(&app).await;

    let created = fake.calls_to("conversations.create");
    assert_eq!(created.len(), 1);
    assert_eq!(
        created[0].body,
        json!({"name": "inc-1-checkout-500s-on-eu", "is_private": false})
    );
    let own = fake.calls_to("conversations.setTopic")[0].body["channel"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        fake.calls_to("conversations.setTopic")[0].body["topic"],
        format!("Checkout: 500s on EU · http://{}/ui/incidents/1", app.addr)
    );
    // Sam declared and commands: invited once.
    let invites = fake.calls_to("conversations.invite");
    assert_eq!(invites.len(), 1);
    assert_eq!(invites[0].body["channel"], own.as_str());
    assert_eq!(invites[0].body["users"], "U0SAM");
    // The announcement stays in the incidents channel.
    assert_eq!(
        fake.calls_to("chat.postMessage")[0].body["channel"],
        "C0INC"
    );

    // With a second incident open, `#N` may still be left out in an incident's own channel.
    command(&app, &fake, "U0KIM", "p3 Unrelated blip").await;
    pass(&app).await;
    let reply = command_in(&app, &fake, "U0SAM", &own, "note cache keys rotated").await;
    assert_eq!(reply, "#1: note added.");
    let reply = command(&app, &fake, "U0SAM", "note elsewhere").await;
    assert!(reply.starts_with("Several incidents are open"), "{reply}");

    command(&app, &fake, "U0SAM", "commander #1 <@U0KIM|kim>").await;
    pass(&app).await;
    let invites: Vec<_> = fake
        .calls_to("conversations.invite")
        .into_iter()
        .filter(|c| c.body["channel"] == own.as_str())
        .collect();
    assert_eq!(invites.len(), 2);
    assert_eq!(invites[1].body["users"], "U0KIM");

    command(&app, &fake, "U0KIM", "status #1 resolved").await;
    pass(&app).await;
    let skipped = app
        .api_post(
            "/api/v1/incidents/1/postmortem/skip",
            json!({"reason": "a cache warm-up; nothing to learn", "by": "kim"}),
        )
        .await;
    assert_eq!(skipped.status(), 200, "{}", skipped.text().await.unwrap());
    assert_eq!(incident(&app, 1).await.status.as_str(), "closed");
    pass(&app).await;
    let archived = fake.calls_to("conversations.archive");
    assert_eq!(archived.len(), 1);
    assert_eq!(archived[0].body["channel"], own.as_str());

    // CM-10: the closed incident's commander is changed in the web UI, by Kim signed in;
    // Slack would answer `is_archived` for the old channel.
    let calls_before = fake.calls().len();
    let password = add_user(&app, "kim", Role::Responder, Some("kim")).await;
    let session = sign_in(&app, "kim", &password).await;
    let changed = post_form(
        &app,
        "/ui/incidents/1/commander",
        Some(&session.cookie),
        &with(&[("person", "sam")], &session.csrf),
        &[],
    )
    .await;
    assert_eq!(changed.status(), 303, "{}", changed.text().await.unwrap());
    pass(&app).await;
    pass(&app).await;

    let timeline = app.api_get("/api/v1/incidents/1").await["timeline"].clone();
    let handovers: Vec<&serde_json::Value> = timeline
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "commander.changed")
        .collect();
    assert_eq!(handovers.len(), 2, "{timeline}");
    assert_eq!(handovers[1]["data"], json!({"from": "kim", "to": "sam"}));
    assert_eq!(handovers[1]["actor"], "kim");
    assert_eq!(handovers[1]["source"], "web");
    let after = &fake.calls()[calls_before..];
    assert!(
        after.iter().all(|c| c.body["channel"] != own.as_str()),
        "nothing targets the archived channel: {after:?}"
    );
    let updates: Vec<_> = after.iter().filter(|c| c.method == "chat.update").collect();
    assert_eq!(updates.len(), 1, "{after:?}");
    assert_eq!(updates[0].body["channel"], "C0INC");
    assert_eq!(updates[0].body["ts"], "1700000000.000100");
    assert!(
        after
            .iter()
            .any(|c| c.method == "chat.postMessage" && c.body["channel"] == "U0KIM"),
        "the commander handing over hears by DM: {after:?}"
    );
}

#[tokio::test]
async fn a_taken_name_gets_a_number_and_a_failed_creation_leaves_the_incident_declared() {
    let (app, fake) = app_with_channels().await;
    fake.script(200, &[], r#"{"ok": false, "error": "name_taken"}"#);
    command(&app, &fake, "U0SAM", "p3 DB slow").await;
    pass(&app).await;
    let names: Vec<String> = fake
        .calls_to("conversations.create")
        .iter()
        .map(|c| c.body["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["inc-1-db-slow", "inc-1-db-slow-2"]);

    // The next one fails outright: the incident stands, its timeline says why, and the
    // declarer hears it by DM.
    fake.script(200, &[], r#"{"ok": false, "error": "restricted_action"}"#);
    command(&app, &fake, "U0KIM", "p3 Queue backlog").await;
    pass(&app).await;
    assert_eq!(incident(&app, 2).await.status.as_str(), "investigating");
    let timeline = app.api_get("/api/v1/incidents/2").await["timeline"].clone();
    let failed: Vec<_> = timeline
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "notification.failed")
        .collect();
    assert_eq!(failed.len(), 1, "{timeline}");
    assert_eq!(failed[0]["data"]["op"], "create_channel");
    let dm = fake
        .calls_to("chat.postMessage")
        .into_iter()
        .find(|c| c.body["channel"] == "U0KIM")
        .expect("the declarer is told");
    assert!(
        dm.body["text"]
            .as_str()
            .unwrap()
            .starts_with("I could not make a channel for incident #2: rejected: restricted_action"),
        "{}",
        dm.body
    );
}

#[tokio::test]
async fn the_announcement_links_the_runbook_covering_an_attached_alert() {
    let (app, fake) = app_with_channels().await;
    let clock = app.clock.clone();
    let app = app
        .restart(clock, |dir| {
            std::fs::create_dir_all(dir.join("runbooks")).unwrap();
            std::fs::write(
                dir.join("runbooks/disk-full.md"),
                crate::runbooks::DISK_FULL,
            )
            .unwrap();
        })
        .await;
    let alert = app
        .open_alert(&crate::helpers::am_body(
            "DiskFull",
            &[("firing", &app.clock.now().to_string())],
        ))
        .await;
    let declared = app
        .api_post(
            "/api/v1/incidents",
            json!({"title": "Disk full on db-1", "severity": "P2", "by": "sam",
                   "from_alert": format!("A-{alert}"), "page": false}),
        )
        .await;
    assert_eq!(declared.status(), 200, "{}", declared.text().await.unwrap());
    pass(&app).await;

    let announcement = fake
        .calls_to("chat.postMessage")
        .into_iter()
        .find(|c| c.body["channel"] == "C0INC")
        .expect("announced");
    let blocks = announcement.body["blocks"].to_string();
    let link = format!("<http://{}/ui/runbooks/disk-full|Disk full>", app.addr);
    assert!(blocks.contains(&link), "{blocks}");
}
