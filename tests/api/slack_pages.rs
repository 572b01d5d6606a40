//! Slack pages in app mode (issue #4, comms spec §3.4, §2.5, §2.6): a `{ kind = "slack",
//! to = "dm" }` contact is paged by an app DM with `alert.*` buttons, whose `channel` and
//! `ts` are kept so an ack or resolve from any surface edits it. Slack's Web API is the
//! local fake from `slack_app`, which records every call.

use dutybell::store::alerts;
use dutybell::store::incidents::{self, IncidentRef};
use jiff::SignedDuration;
use serde_json::{Value, json};

use crate::helpers::{SIGNED_KEY, SLACK_BOT_TOKEN, Setup, TestApp, spawn_app_with, t0};
use crate::slack_app::{Call, SlackFake, enc, post_signed};

/// Sam and Kim page by Slack DM only; Sam is on call for `db` at t0.
const TEAM: &str = r#"
[[person]]
id = "sam"
name = "Sam Lee"
slack_id = "U0SAM"
contact = [{ kind = "slack", to = "dm" }]

[[person]]
id = "kim"
name = "Kim Park"
slack_id = "U0KIM"
contact = [{ kind = "slack", to = "dm" }]
"#;

const ONCALL: &str = r#"
[[rotation]]
id = "pager"
kind = "weekly"
start = "2025-06-09T10:00"
time_zone = "Europe/Madrid"
people = ["sam", "kim"]

[[escalation]]
id = "pager"
steps = [{ targets = ["rotation:pager"], after = "15m" }]
"#;

const SERVICES: &str = r#"
[[service]]
id = "db"
name = "Database"
escalation = "pager"
runbook_url = "https://runbooks.example.com/db"
integrations = [{ kind = "generic", key_env = "KEY_SIGNED" }]
"#;

/// What the fake answers the page's `chat.postMessage` with: Slack gives the DM's own
/// conversation id, which is what `chat.update` must name.
const DM: &str = "D0SAM";
const DM_TS: &str = "1700000000.000500";

async fn app_with_team(team: &str) -> (TestApp, SlackFake) {
    let fake = SlackFake::start().await;
    let instance = format!(
        "[slack]\nincidents_channel = \"C0INC\"\nbot_token_env = \"SLACK_BOT_TOKEN\"\n\
         signing_secret_env = \"SLACK_SIGNING_SECRET\"\napi_base = \"http://{}/api\"\n",
        fake.addr
    );
    let app = spawn_app_with(Setup {
        instance,
        team: team.into(),
        oncall: ONCALL.into(),
        services: SERVICES.into(),
        ..Setup::default()
    })
    .await;
    (app, fake)
}

async fn slack_pages() -> (TestApp, SlackFake) {
    app_with_team(TEAM).await
}

/// Sends a generic event to the `db` service.
async fn event(app: &TestApp, body: Value) {
    let response = app
        .client
        .post(app.url(&format!("/api/v1/integrations/{SIGNED_KEY}/generic")))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
}

/// Fires `db-1 disk 97% full` (critical) and returns its alert id.
async fn fire(app: &TestApp) -> i64 {
    event(
        app,
        json!({"dedup_key": "disk-db-1", "summary": "db-1 disk 97% full",
               "severity": "critical", "labels": {"alertname": "DiskFull"}}),
    )
    .await;
    app.open_alerts().await[0]["id"].as_i64().unwrap()
}

/// Fires the alert and lets the engine page Sam; the fake answers with [`DM`] and
/// [`DM_TS`]. Later steps start a minute on, clear of the DM's pacing.
async fn paged(app: &TestApp, fake: &SlackFake) -> i64 {
    let reply = json!({"ok": true, "channel": DM, "ts": DM_TS}).to_string();
    fake.script(200, &[], &reply);
    let alert = fire(app).await;
    app.run_engine_once().await;
    assert_eq!(fake.calls_to("chat.postMessage").len(), 1);
    app.clock.advance(SignedDuration::from_secs(60));
    alert
}

/// A click on a page DM's button, as Slack posts it.
async fn click(app: &TestApp, fake: &SlackFake, user: &str, action_id: &str, value: &str) {
    let payload = json!({
        "type": "block_actions",
        "user": {"id": user, "username": "x", "team_id": "T0"},
        "team": {"id": "T0"},
        "container": {"type": "message", "channel_id": DM, "message_ts": DM_TS},
        "channel": {"id": DM},
        "message": {"ts": DM_TS},
        "response_url": fake.response_url(),
        "trigger_id": "1.2.3",
        "actions": [{"action_id": action_id, "block_id": "alert.actions",
                     "value": value, "type": "button", "action_ts": "1700000001.1"}],
    });
    let body = format!("payload={}", enc(&payload.to_string()));
    let response = post_signed(app, "/slack/interactivity", body).await;
    assert_eq!(response.status(), 200);
}

/// Each button's `action_id` and `value` (link buttons have none).
fn buttons(call: &Call) -> Vec<(String, Option<String>)> {
    let blocks = call.body["blocks"].as_array().unwrap();
    let Some(actions) = blocks.iter().find(|b| b["type"] == "actions") else {
        return Vec::new();
    };
    actions["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let id = e["action_id"].as_str().unwrap().to_string();
            (id, e["value"].as_str().map(str::to_string))
        })
        .collect()
}

/// The context line an edited DM shows in place of its buttons.
fn context(call: &Call) -> Vec<String> {
    call.body["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "context")
        .map(|b| b["elements"][0]["text"].as_str().unwrap().to_string())
        .collect()
}

/// Ephemeral replies to clicks, by text.
fn replies(fake: &SlackFake) -> Vec<Value> {
    fake.calls_to("respond")
        .into_iter()
        .map(|c| c.body)
        .collect()
}

fn ephemeral(text: &str) -> Value {
    json!({"response_type": "ephemeral", "replace_original": false, "text": text})
}

#[tokio::test]
async fn a_firing_alert_pages_the_primary_by_app_dm_with_alert_buttons() {
    let (app, fake) = slack_pages().await;

    let alert = paged(&app, &fake).await;

    let posts = fake.calls_to("chat.postMessage");
    let dm = &posts[0];
    assert_eq!(dm.authorization, format!("Bearer {SLACK_BOT_TOKEN}"));
    assert_eq!(dm.body["channel"], "U0SAM");
    assert_eq!(
        dm.body["text"],
        format!("FIRING critical Database: DiskFull (#A-{alert}): db-1 disk 97% full")
    );
    assert_eq!(
        dm.body["blocks"][0]["text"]["text"],
        format!("*FIRING critical Database: DiskFull (#A-{alert})*\ndb-1 disk 97% full")
    );
    let id = Some(alert.to_string());
    assert_eq!(
        buttons(dm),
        [
            ("alert.ack".to_string(), id.clone()),
            ("alert.resolve".to_string(), id.clone()),
            ("alert.declare".to_string(), id),
            ("alert.open".to_string(), None),
            ("alert.runbook".to_string(), None),
        ]
    );
    let actions = &dm.body["blocks"][2]["elements"];
    assert_eq!(actions[4]["url"], "https://runbooks.example.com/db");
    assert!(
        actions[3]["url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("http://{}/a/", app.addr)),
        "a signed view link: {}",
        actions[3]["url"]
    );
    let timeline = app.alert(alert).await["timeline"].clone();
    let sent: Vec<&Value> = timeline
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "notification_sent")
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["detail"]["person"], "sam");
    assert_eq!(sent[0]["detail"]["channel"], "slack");
    assert_eq!(
        dutybell::store::page_messages::of_alert(&app.store, "slack", alert)
            .await
            .unwrap(),
        [(DM.to_string(), DM_TS.to_string())],
        "the reply's channel and ts are kept"
    );
    // Nothing changed, so a later pass edits nothing.
    app.run_engine_once().await;
    assert!(fake.calls_to("chat.update").is_empty());
}

#[tokio::test]
async fn an_api_ack_swaps_the_dm_buttons_for_who_acked_and_when() {
    let (app, fake) = slack_pages().await;
    let alert = paged(&app, &fake).await;

    let acked = app
        .api_post(&format!("/api/v1/alerts/{alert}/ack"), json!({"by": "kim"}))
        .await;
    app.run_engine_once().await;

    assert_eq!(acked.status(), 200);
    let updates = fake.calls_to("chat.update");
    assert_eq!(updates.len(), 1);
    let update = &updates[0];
    assert_eq!(update.body["channel"], DM);
    assert_eq!(update.body["ts"], DM_TS);
    assert_eq!(
        update.body["text"],
        format!("ACKED critical Database: DiskFull (#A-{alert}): db-1 disk 97% full")
    );
    assert_eq!(buttons(update), [], "no buttons left");
    assert_eq!(context(update), ["Acked by Kim Park at 03:01 UTC"]);
    // Edited once: the next pass finds it up to date.
    app.clock.advance(SignedDuration::from_secs(60));
    app.run_engine_once().await;
    assert_eq!(fake.calls_to("chat.update").len(), 1);
}

#[tokio::test]
async fn alert_ack_button_acks_as_the_clicker_and_a_second_click_is_told_by_whom() {
    let (app, fake) = slack_pages().await;
    let alert = paged(&app, &fake).await;
    let at = app.clock.now();

    click(&app, &fake, "U0KIM", "alert.ack", &alert.to_string()).await;
    app.run_engine_once().await;
    app.clock.advance(SignedDuration::from_secs(60));
    click(&app, &fake, "U0SAM", "alert.ack", &alert.to_string()).await;

    let acked = alerts::get(&app.store, alert).await.unwrap();
    assert_eq!(acked.acked_by.as_deref(), Some("kim"));
    assert_eq!(acked.acked_at, Some(at));
    let timeline = app.alert(alert).await["timeline"].clone();
    let acks: Vec<&Value> = timeline
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "acknowledged")
        .collect();
    assert_eq!(acks.len(), 1, "the second click changed nothing");
    assert_eq!(acks[0]["actor"], "kim");
    assert_eq!(acks[0]["detail"]["via"], "slack");
    let update = &fake.calls_to("chat.update")[0];
    assert_eq!(update.body["ts"], DM_TS);
    assert_eq!(context(update), ["Acked by Kim Park at 03:01 UTC"]);
    assert_eq!(
        replies(&fake),
        [ephemeral(&format!(
            "#A-{alert} is already acked by Kim Park at 03:01 UTC."
        ))],
        "only the stale click is answered"
    );
}

#[tokio::test]
async fn alert_resolve_button_resolves_and_the_dm_says_so() {
    let (app, fake) = slack_pages().await;
    let alert = paged(&app, &fake).await;

    click(&app, &fake, "U0SAM", "alert.resolve", &alert.to_string()).await;
    app.run_engine_once().await;
    click(&app, &fake, "U0KIM", "alert.ack", &alert.to_string()).await;

    let resolved = alerts::get(&app.store, alert).await.unwrap();
    assert_eq!(resolved.state.as_str(), "resolved");
    assert_eq!(resolved.resolved_by.as_deref(), Some("sam"));
    let update = &fake.calls_to("chat.update")[0];
    assert_eq!(
        update.body["text"],
        format!("RESOLVED critical Database: DiskFull (#A-{alert}): db-1 disk 97% full")
    );
    assert_eq!(buttons(update), []);
    assert_eq!(context(update), ["Resolved by Sam Lee at 03:01 UTC"]);
    assert_eq!(
        replies(&fake),
        [ephemeral(&format!(
            "#A-{alert} is already resolved by Sam Lee at 03:01 UTC."
        ))]
    );
}

#[tokio::test]
async fn alert_declare_button_opens_an_incident_from_the_alert() {
    let (app, fake) = slack_pages().await;
    let alert = paged(&app, &fake).await;

    click(&app, &fake, "U0SAM", "alert.declare", &alert.to_string()).await;
    app.run_engine_once().await;

    let incident = incidents::get(&app.store, &IncidentRef::Number(1))
        .await
        .unwrap();
    assert_eq!(incident.title, "db-1 disk 97% full");
    assert_eq!(incident.severity.as_str(), "P2", "critical maps to P2");
    assert_eq!(incident.commander, "sam");
    assert_eq!(incident.declared_by, "sam");
    assert_eq!(incident.services, ["db"]);
    assert_eq!(incident.alerts, [alert]);
    assert_eq!(
        replies(&fake),
        [ephemeral(&format!(
            "Declared #1 (P2) from #A-{alert}. You are the commander; the announcement \
             follows in the incidents channel."
        ))]
    );
    // Promoting acks the alert as the promoter, and the DM says so.
    let acked = alerts::get(&app.store, alert).await.unwrap();
    assert_eq!(acked.acked_by.as_deref(), Some("sam"));
    let update = &fake.calls_to("chat.update")[0];
    assert_eq!(update.body["channel"], DM);
    assert_eq!(context(update), ["Acked by Sam Lee at 03:01 UTC"]);
    let announcement = &fake.calls_to("chat.postMessage")[1];
    assert_eq!(announcement.body["channel"], "C0INC");
    // A second click finds the alert taken.
    click(&app, &fake, "U0KIM", "alert.declare", &alert.to_string()).await;
    assert_eq!(incidents::list(&app.store, false).await.unwrap().len(), 1);
    assert_eq!(
        replies(&fake)[1],
        ephemeral(&format!(
            "alert {alert} is already part of open incident #1"
        ))
    );
}

#[tokio::test]
async fn an_unlinked_clicker_acts_on_nothing() {
    let (app, fake) = slack_pages().await;
    let alert = paged(&app, &fake).await;

    click(&app, &fake, "U0STRANGER", "alert.ack", &alert.to_string()).await;
    click(
        &app,
        &fake,
        "U0STRANGER",
        "alert.declare",
        &alert.to_string(),
    )
    .await;
    app.run_engine_once().await;

    let untouched = alerts::get(&app.store, alert).await.unwrap();
    assert_eq!(untouched.state.as_str(), "triggered");
    assert!(incidents::list(&app.store, false).await.unwrap().is_empty());
    assert!(fake.calls_to("chat.update").is_empty());
    let link = "Link your account first: add `slack_id = \"U0STRANGER\"` to your `[[person]]` \
                in team.toml and restart dutybell.";
    assert_eq!(replies(&fake), [ephemeral(link), ephemeral(link)]);
}

#[tokio::test]
async fn a_rate_limited_dm_is_sent_again_after_retry_after() {
    let (app, fake) = slack_pages().await;
    fake.script(
        429,
        &[("retry-after", "30")],
        r#"{"ok":false,"error":"ratelimited"}"#,
    );

    let alert = fire(&app).await;
    let first = app.run_engine_once().await;
    app.clock.advance(SignedDuration::from_secs(29));
    app.run_engine_once().await;
    let while_paused = fake.calls_to("chat.postMessage").len();
    app.clock.advance(SignedDuration::from_secs(2));
    app.run_engine_once().await;

    assert_eq!(while_paused, 1, "nothing is sent before Retry-After passes");
    assert_eq!(first.next_due, Some(t0() + SignedDuration::from_secs(30)));
    let posts = fake.calls_to("chat.postMessage");
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[1].body["channel"], "U0SAM");
    assert_eq!(posts[0].body["text"], posts[1].body["text"]);
    assert_eq!(buttons(&posts[0]), buttons(&posts[1]));
    let kinds: Vec<String> = app
        .timeline_kinds(alert)
        .await
        .into_iter()
        .filter(|k| k.starts_with("notification_"))
        .collect();
    assert_eq!(kinds, ["notification_retry", "notification_sent"]);
    // The resent message is the one kept: an ack edits it.
    app.api_post(&format!("/api/v1/alerts/{alert}/ack"), json!({"by": "sam"}))
        .await;
    app.run_engine_once().await;
    assert_eq!(
        fake.calls_to("chat.update")[0].body["ts"],
        "1700000000.000100"
    );
}

#[tokio::test]
async fn a_long_rate_limit_never_uses_up_the_retries_of_a_dm_page() {
    let (app, fake) = slack_pages().await;
    // More 429s in a row than the outbox has retries (five) for a failing channel.
    for _ in 0..7 {
        fake.script(
            429,
            &[("retry-after", "60")],
            r#"{"ok":false,"error":"ratelimited"}"#,
        );
    }
    let alert = fire(&app).await;
    for _ in 0..8 {
        app.run_engine_once().await;
        app.clock.advance(SignedDuration::from_secs(61));
    }

    let posts = fake.calls_to("chat.postMessage");
    assert_eq!(
        posts.len(),
        8,
        "resent after every Retry-After until it went"
    );
    let kinds: Vec<String> = app
        .timeline_kinds(alert)
        .await
        .into_iter()
        .filter(|k| k.starts_with("notification_"))
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| *k == "notification_retry").count(),
        7
    );
    assert_eq!(kinds.last().map(String::as_str), Some("notification_sent"));
    assert!(
        !kinds.iter().any(|k| k == "notification_failed"),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn a_429_on_an_edit_holds_new_pages_to_that_dm_until_retry_after() {
    let (app, fake) = slack_pages().await;
    let first = paged(&app, &fake).await;
    app.api_post(&format!("/api/v1/alerts/{first}/ack"), json!({"by": "sam"}))
        .await;
    fake.script(
        429,
        &[("retry-after", "30")],
        r#"{"ok":false,"error":"ratelimited"}"#,
    );
    app.run_engine_once().await;

    event(
        &app,
        json!({"dedup_key": "disk-db-2", "summary": "db-2 disk 97% full"}),
    )
    .await;
    app.clock.advance(SignedDuration::from_secs(10));
    app.run_engine_once().await;
    let while_paused = fake.calls().len();
    app.clock.advance(SignedDuration::from_secs(21));
    app.run_engine_once().await;

    assert_eq!(while_paused, 2, "the first page and the refused edit");
    let second = app.open_alerts().await[1]["id"].as_i64().unwrap();
    let kinds: Vec<String> = app
        .timeline_kinds(second)
        .await
        .into_iter()
        .filter(|k| k.starts_with("notification_"))
        .collect();
    assert_eq!(kinds, ["notification_sent"], "held, not tried and failed");
    let posts = fake.calls_to("chat.postMessage");
    assert_eq!(posts.len(), 2);
    assert_eq!(
        posts[1].body["text"],
        format!("FIRING error Database: db-2 disk 97% full (#A-{second}): db-2 disk 97% full")
    );
    let updates = fake.calls_to("chat.update");
    assert_eq!(updates.len(), 2, "the edit is sent again");
    for field in ["channel", "ts", "text"] {
        assert_eq!(updates[0].body[field], updates[1].body[field]);
    }
    assert_eq!(context(&updates[1]), ["Acked by Sam Lee at 03:01 UTC"]);
}

#[tokio::test]
async fn a_signed_link_or_the_source_moving_the_alert_edits_the_dm_too() {
    let team = TEAM.replace(
        "contact = [{ kind = \"slack\", to = \"dm\" }]\n\n[[person]]\nid = \"kim\"",
        "contact = [{ kind = \"slack\", to = \"dm\" }, { kind = \"webhook\", \
         url = \"http://{hooks}/hook/sam\", secret_env = \"HOOK_SECRET\" }]\n\n\
         [[person]]\nid = \"kim\"",
    );
    assert_ne!(team, TEAM);
    let (app, fake) = app_with_team(&team).await;
    paged(&app, &fake).await;
    let link = app.hooks.hooks()[0].body["data"]["actions"]["acknowledge"]
        .as_str()
        .unwrap()
        .to_string();

    assert_eq!(app.client.post(&link).send().await.unwrap().status(), 200);
    app.run_engine_once().await;
    app.clock.advance(SignedDuration::from_secs(60));
    event(&app, json!({"dedup_key": "disk-db-1", "action": "resolve"})).await;
    app.run_engine_once().await;

    let updates = fake.calls_to("chat.update");
    assert_eq!(updates.len(), 2);
    assert_eq!(context(&updates[0]), ["Acked by Sam Lee at 03:01 UTC"]);
    assert_eq!(
        context(&updates[1]),
        ["Resolved by db/generic at 03:02 UTC"],
        "a source resolve names the integration"
    );
    assert!(updates.iter().all(|u| u.body["ts"] == DM_TS));
}

#[tokio::test]
async fn edits_to_one_dm_go_in_a_burst_then_one_a_second() {
    let (app, fake) = slack_pages().await;
    let mut ids = Vec::new();
    for n in 0..6 {
        let key = format!("disk-db-{n}");
        event(
            &app,
            json!({"dedup_key": key, "summary": format!("db-{n} disk full")}),
        )
        .await;
        app.run_engine_once().await;
        app.clock.advance(SignedDuration::from_secs(60));
    }
    for alert in app.open_alerts().await {
        let id = alert["id"].as_i64().unwrap();
        ids.push(id);
        app.api_post(&format!("/api/v1/alerts/{id}/ack"), json!({"by": "sam"}))
            .await;
    }

    let pass = app.run_engine_once().await;
    let in_burst = fake.calls_to("chat.update").len();
    app.clock.advance(SignedDuration::from_secs(1));
    app.run_engine_once().await;

    assert_eq!(
        fake.calls_to("chat.postMessage").len(),
        6,
        "one DM per alert"
    );
    assert_eq!(in_burst, 5, "a burst of five edits");
    assert_eq!(
        pass.next_due,
        Some(app.clock.now()),
        "the sixth is due a second later"
    );
    let edited: Vec<String> = fake
        .calls_to("chat.update")
        .iter()
        .map(|c| c.body["text"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = ids
        .iter()
        .enumerate()
        .map(|(n, id)| {
            format!("ACKED error Database: db-{n} disk full (#A-{id}): db-{n} disk full")
        })
        .collect();
    assert_eq!(edited, expected, "each DM once, oldest first");
}

/// Loads a config whose Sam has `contact` and whose `dutybell.toml` adds `instance`.
fn load(person: &str, instance: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let addr = "127.0.0.1:9".parse().unwrap();
    crate::helpers::write_config(dir.path(), addr, addr, None);
    let team = dir.path().join("team.toml");
    let text = std::fs::read_to_string(&team).unwrap();
    std::fs::write(&team, format!("{text}\n{person}\n")).unwrap();
    let file = dir.path().join("dutybell.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("{text}{instance}\n")).unwrap();
    dutybell::config::load_with(
        dir.path(),
        &dutybell::config::Overrides::default(),
        &crate::helpers::test_env(),
        &mut dutybell::config::secrets::Secrets::default(),
    )
    .map(|_| ())
    .map_err(|errors| errors.to_string())
}

#[test]
fn slack_dm_contacts_need_app_mode_and_a_slack_id() {
    let app_mode = "[slack]\nincidents_channel = \"C0INC\"\nbot_token_env = \"SLACK_BOT_TOKEN\"\n\
                    signing_secret_env = \"SLACK_SIGNING_SECRET\"\n";
    let person = |slack_id: &str, contact: &str| {
        format!("[[person]]\nid = \"sam\"\n{slack_id}contact = [{contact}]\n")
    };
    let dm = r#"{ kind = "slack", to = "dm" }"#;

    let fine = load(&person("slack_id = \"U0SAM\"\n", dm), app_mode);
    let no_app = load(&person("slack_id = \"U0SAM\"\n", dm), "").unwrap_err();
    let no_id = load(&person("", dm), app_mode).unwrap_err();
    let both = load(
        &person(
            "slack_id = \"U0SAM\"\n",
            r#"{ kind = "slack", to = "dm", url = "https://hooks.slack.com/x" }"#,
        ),
        app_mode,
    )
    .unwrap_err();
    let other = load(
        &person(
            "slack_id = \"U0SAM\"\n",
            r#"{ kind = "slack", to = "C0OPS" }"#,
        ),
        app_mode,
    )
    .unwrap_err();

    assert_eq!(fine, Ok(()));
    assert!(
        no_app.contains(
            "team.toml: `person[5].contact[0].to`: Slack DMs need [slack] app mode \
             (`bot_token_env`) in dutybell.toml"
        ),
        "{no_app}"
    );
    assert!(
        no_id.contains(
            "team.toml: `person[5].contact[0].to`: Slack DMs need the person's `slack_id`"
        ),
        "{no_id}"
    );
    for errors in [both, other] {
        assert!(
            errors.contains(
                "team.toml: `person[5].contact[0].to`: a slack contact is either `to = \"dm\"` \
                 (a DM from the Slack app) or `url`/`url_env` (an incoming webhook)"
            ),
            "{errors}"
        );
    }
}
