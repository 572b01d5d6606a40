//! Postmortems and action items (comms spec §6, issue #6): the draft a scripted P1 leaves
//! at resolve, the Markdown export/import round trip, publish checks that close the
//! incident, and reminders on a driven clock (postmortem: +24 h, due, daily, quiet hours;
//! action items: 09:00 owner-local on the due date, then weekdays), delivered to the
//! SMTP sink.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::helpers::{Setup, TestApp, am_body, spawn_app_with};
use dutybell::engine::postmortems;
use dutybell::store::incidents::IncidentRef;

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

async fn app_at(at: &str) -> TestApp {
    spawn_app_with(Setup {
        clock: dutybell::clock::Clock::manual(ts(at)),
        ..Setup::default()
    })
    .await
}

async fn post_ok(app: &TestApp, path: &str, body: Value) -> Value {
    let response = app.api_post(path, body).await;
    let status = response.status();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "POST {path}: {answer}");
    answer
}

async fn put(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.client
        .put(app.url(path))
        .bearer_auth(crate::helpers::API_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Sets the clock to `at` and runs one engine pass there.
async fn move_to(app: &TestApp, at: &str) {
    app.clock.set(ts(at));
    app.run_engine_once().await;
}

/// A scripted P1: HighErrorRate fires at 14:02, ben (primary) is paged and acks at 14:05,
/// chen promotes the alert to a P1 at 14:07, identified 14:30, monitoring 14:51, resolved
/// 15:19 (all UTC, 2025-06-12).
async fn scripted_p1(app: &TestApp) {
    move_to(app, "2025-06-12T14:02:00Z").await;
    let body = am_body("HighErrorRate", &[("firing", "2025-06-12T14:02:00Z")]);
    let alert = app.open_alert(&body).await;
    app.run_engine_once().await;

    move_to(app, "2025-06-12T14:05:00Z").await;
    post_ok(
        app,
        &format!("/api/v1/alerts/{alert}/ack"),
        json!({"by": "ben"}),
    )
    .await;

    move_to(app, "2025-06-12T14:07:00Z").await;
    post_ok(
        app,
        "/api/v1/incidents",
        json!({"title": "API returns 500s", "severity": "p1", "from_alert": alert.to_string(),
               "page": false, "by": "chen"}),
    )
    .await;
    for (at, status, text) in [
        ("2025-06-12T14:30:00Z", "identified", "bad config push"),
        ("2025-06-12T14:51:00Z", "monitoring", "rolled back"),
        ("2025-06-12T15:19:00Z", "resolved", ""),
    ] {
        move_to(app, at).await;
        post_ok(
            app,
            "/api/v1/incidents/1/status",
            json!({"status": status, "text": text, "by": "chen"}),
        )
        .await;
    }
}

const DRAFT: &str = "\
# Postmortem: API returns 500s

- **Date:** 2025-06-12
- **Duration:** 14:02 to 15:19 UTC (1 hour 17 minutes)
- **Severity:** P1
- **On-call:** ben name
- **Commander:** chen name
- **Status:** draft

## Summary

TBD

## Impact

TBD

## Detection

Detected at 14:02 UTC by an alert, 0 minutes after impact started.

How to catch it sooner: TBD

## Timeline

All times UTC.

- 14:02 — Alert fired: HighErrorRate on host-0
- 14:02 — Paged ben name (email)
- 14:05 — ben name acknowledged the page
- 14:07 — chen name declared the incident (P1)
- 14:30 — Status identified: bad config push
- 14:51 — Status monitoring: rolled back
- 15:19 — Status resolved

## Root cause

TBD

## Contributing factors

TBD

## What went well

TBD

## What went wrong

TBD

## Where we got lucky

TBD

## Action items

| Action | Owner | Due | Type | Status |
| --- | --- | --- | --- | --- |
";

#[tokio::test]
async fn resolving_a_p1_drafts_its_postmortem_from_the_timeline() {
    let app = app_at("2025-06-12T14:00:00Z").await;

    scripted_p1(&app).await;

    let answer = app.api_get("/api/v1/incidents/1/postmortem").await;
    assert_eq!(answer["markdown"], DRAFT, "{}", answer["markdown"]);
    assert_eq!(answer["postmortem"]["status"], "draft");
    assert_eq!(answer["postmortem"]["owner"], "chen");
    assert_eq!(answer["postmortem"]["due_at"], "2025-06-14T15:19:00Z");
    let timeline = app.api_get("/api/v1/incidents/1").await["timeline"].clone();
    let created: Vec<&Value> = timeline
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "postmortem.created")
        .collect();
    assert_eq!(created.len(), 1);
}

#[tokio::test]
async fn a_p3_gets_no_draft_unless_asked_and_may_be_skipped() {
    let app = app_at("2025-06-12T14:00:00Z").await;
    post_ok(
        &app,
        "/api/v1/incidents",
        json!({"title": "Docs typo", "severity": "p3", "by": "ana"}),
    )
    .await;
    post_ok(
        &app,
        "/api/v1/incidents/1/status",
        json!({"status": "resolved", "by": "ana"}),
    )
    .await;
    app.run_engine_once().await;

    let none = app
        .client
        .get(app.url("/api/v1/incidents/1/postmortem"))
        .bearer_auth(crate::helpers::API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 404);

    let skipped = post_ok(
        &app,
        "/api/v1/incidents/1/postmortem/skip",
        json!({"reason": "internal only, fixed in minutes", "by": "ana"}),
    )
    .await;
    assert_eq!(skipped["postmortem"]["status"], "skipped");
    assert_eq!(skipped["incident"]["status"], "closed");
}

#[tokio::test]
async fn export_and_import_round_trip_and_an_edited_file_changes_the_document() {
    let app = app_at("2025-06-12T14:00:00Z").await;
    scripted_p1(&app).await;
    post_ok(
        &app,
        "/api/v1/incidents/1/postmortem/action-items",
        json!({"title": "Validate config | before push", "owner": "ana", "due": "2025-06-20",
               "type": "prevent", "ticket_url": "https://tickets.example.com/OPS-7",
               "by": "chen"}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let by = IncidentRef::Number(1);
    let before = postmortems::get(&app.store, &by).await.unwrap();

    let path = postmortems::export(&app.store, &by, dir.path(), false)
        .await
        .unwrap();
    let exported = std::fs::read_to_string(&path).unwrap();
    postmortems::import(
        &app.store,
        &app.engine.config,
        &exported,
        "chen",
        dutybell::domain::incident::Source::Cli,
        app.clock.now(),
    )
    .await
    .unwrap();
    let after = postmortems::get(&app.store, &by).await.unwrap();
    let again = postmortems::export(&app.store, &by, dir.path(), false)
        .await
        .unwrap();

    assert_eq!(
        path.file_name().unwrap().to_str().unwrap(),
        "2025-06-12-inc-1-api-returns-500s.md"
    );
    assert!(
        exported.starts_with(
            "+++\nincident = 1\nseverity = \"P1\"\nstatus = \"draft\"\n\
             started_at = \"2025-06-12T14:02:00Z\"\nresolved_at = \"2025-06-12T15:19:00Z\"\n\
             +++\n\n# Postmortem: API returns 500s\n"
        ),
        "{exported}"
    );
    assert!(exported.ends_with(
        "| [Validate config \\| before push](https://tickets.example.com/OPS-7) | ana | \
         2025-06-20 | prevent | open |\n"
    ));
    assert_eq!(after.postmortem.document, before.postmortem.document);
    assert_eq!(after.items, before.items);
    assert_eq!(again, path);
    assert_eq!(std::fs::read_to_string(&again).unwrap(), exported);

    // Edited in the repo: a root cause, the item done, a new item; imported back.
    let edited = exported
        .replace(
            "## Root cause\n\nTBD\n",
            "## Root cause\n\nA config push skipped validation.\n",
        )
        .replace("| prevent | open |", "| prevent | done |")
        .replace(
            "| done |\n",
            "| done |\n| Page on config errors | ben | 2025-06-24 | mitigate | open |\n",
        );
    std::fs::write(&path, &edited).unwrap();
    let refused = postmortems::export(&app.store, &by, dir.path(), false).await;
    assert!(
        refused
            .unwrap_err()
            .to_string()
            .contains("was edited since the last export"),
        "an edited file is not overwritten"
    );
    let imported = postmortems::import(
        &app.store,
        &app.engine.config,
        &edited,
        "chen",
        dutybell::domain::incident::Source::Cli,
        app.clock.now(),
    )
    .await
    .unwrap();

    assert_eq!(
        imported.postmortem.document.root_cause,
        "A config push skipped validation."
    );
    let items: Vec<(&str, &str, &str)> = imported
        .items
        .iter()
        .map(|i| {
            (
                i.title.as_str(),
                i.owner.as_deref().unwrap(),
                i.status.as_str(),
            )
        })
        .collect();
    assert_eq!(
        items,
        [
            ("Validate config | before push", "ana", "done"),
            ("Page on config errors", "ben", "open"),
        ]
    );
    assert!(imported.items[0].completed_at.is_some());
    let shown = app.api_get("/api/v1/incidents/1/postmortem").await;
    assert_eq!(shown["markdown"], edited.split_once("+++\n\n").unwrap().1);
}

#[tokio::test]
async fn publish_is_refused_listing_what_is_missing_then_closes_the_incident() {
    let app = app_at("2025-06-12T14:00:00Z").await;
    scripted_p1(&app).await;
    post_ok(
        &app,
        "/api/v1/incidents/1/postmortem/action-items",
        json!({"title": "Validate config", "by": "chen"}),
    )
    .await;

    let refused = app
        .api_post(
            "/api/v1/incidents/1/postmortem/publish",
            json!({"by": "chen"}),
        )
        .await;
    let status = refused.status();
    let text = refused.text().await.unwrap();
    assert_eq!(status, 400, "{text}");
    assert!(
        text.contains(
            "cannot publish yet: Summary still says TBD; Impact still says TBD; \
             Root cause still says TBD; action item \\\"Validate config\\\" has no owner; \
             action item \\\"Validate config\\\" has no due date"
        ),
        "{text}"
    );

    let edit = put(
        &app,
        "/api/v1/incidents/1/postmortem",
        json!({"document": {"summary": "A config push broke the API for 77 minutes.",
               "impact": "40% of API requests failed for 77 minutes.",
               "root_cause": "The push skipped validation."},
               "status": "in_review", "by": "chen"}),
    )
    .await;
    assert_eq!(edit.status(), 200);
    let items = app
        .api_get("/api/v1/incidents/1/postmortem/action-items")
        .await;
    let item = items["action_items"][0]["id"].as_str().unwrap().to_string();
    let patched = app
        .client
        .patch(app.url(&format!(
            "/api/v1/incidents/1/postmortem/action-items/{item}"
        )))
        .bearer_auth(crate::helpers::API_TOKEN)
        .json(&json!({"owner": "ana", "due": "2025-06-20", "by": "chen"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let published = post_ok(
        &app,
        "/api/v1/incidents/1/postmortem/publish",
        json!({"by": "chen"}),
    )
    .await;

    assert_eq!(published["postmortem"]["status"], "published");
    let incident = app.api_get("/api/v1/incidents/1").await;
    assert_eq!(incident["incident"]["status"], "closed");
    assert_eq!(incident["incident"]["closed_at"], "2025-06-12T15:19:00Z");
    let kinds: Vec<&str> = incident["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds[kinds.len() - 2..],
        ["postmortem.published", "status.changed"]
    );
}

/// Drives the engine from pass to pass until `until`, returning when each postmortem
/// reminder mail arrived and its subject.
async fn reminders_until(app: &TestApp, until: &str, what: &str) -> Vec<(String, String)> {
    let until = ts(until);
    let mut seen = Vec::new();
    let mut mails = app.smtp.mails().len();
    loop {
        let pass = app.run_engine_once().await;
        let all = app.smtp.mails();
        for mail in &all[mails..] {
            let subject = mail
                .data
                .lines()
                .find_map(|l| l.strip_prefix("Subject: "))
                .unwrap_or_default()
                .to_string();
            if subject.contains(what) {
                seen.push((format!("{} {}", app.clock.now(), mail.to[0]), subject));
            }
        }
        mails = all.len();
        let next = pass
            .next_due
            .unwrap_or(until)
            .max(app.clock.now() + SignedDuration::from_secs(1));
        if next > until {
            return seen;
        }
        app.clock.set(next);
    }
}

#[tokio::test]
async fn postmortem_reminders_come_at_24_hours_at_due_and_daily_until_published() {
    let app = app_at("2025-06-12T14:00:00Z").await;
    scripted_p1(&app).await;

    let seen = reminders_until(&app, "2025-06-16T16:00:00Z", "Postmortem").await;

    assert_eq!(
        seen,
        [
            (
                "2025-06-13T15:19:00Z chen@example.com".to_string(),
                "[dutybell] Postmortem due in 24 h: #1 API returns 500s".to_string()
            ),
            (
                "2025-06-14T15:19:00Z chen@example.com".to_string(),
                "[dutybell] Postmortem due now: #1 API returns 500s".to_string()
            ),
            (
                "2025-06-15T15:19:00Z chen@example.com".to_string(),
                "[dutybell] Postmortem overdue: #1 API returns 500s".to_string()
            ),
            (
                "2025-06-16T15:19:00Z chen@example.com".to_string(),
                "[dutybell] Postmortem overdue: #1 API returns 500s".to_string()
            ),
        ]
    );

    // Published: nothing more.
    put(
        &app,
        "/api/v1/incidents/1/postmortem",
        json!({"document": {"summary": "s", "impact": "i", "root_cause": "r",
               "action_note": "No action items: a one-off."}, "by": "chen"}),
    )
    .await;
    post_ok(
        &app,
        "/api/v1/incidents/1/postmortem/publish",
        json!({"by": "chen"}),
    )
    .await;
    let after = reminders_until(&app, "2025-06-20T16:00:00Z", "Postmortem").await;
    assert_eq!(after, []);
}

#[tokio::test]
async fn reminders_in_quiet_hours_move_to_nine_local_and_a_reopen_stops_them() {
    // Resolved 21:30Z = 23:30 in Madrid, chen's zone: each reminder moves to 09:00 Madrid.
    let app = app_at("2025-06-12T21:00:00Z").await;
    post_ok(
        &app,
        "/api/v1/incidents",
        json!({"title": "Queue backlog", "severity": "p2", "page": false, "by": "chen"}),
    )
    .await;
    move_to(&app, "2025-06-12T21:30:00Z").await;
    post_ok(
        &app,
        "/api/v1/incidents/1/status",
        json!({"status": "resolved", "by": "chen"}),
    )
    .await;

    let seen = reminders_until(&app, "2025-06-14T12:00:00Z", "Postmortem").await;
    assert_eq!(
        seen,
        [(
            "2025-06-14T07:00:00Z chen@example.com".to_string(),
            "[dutybell] Postmortem due in 24 h: #1 Queue backlog".to_string()
        ),],
        "+24 h (23:30 Madrid) moved to 09:00 the next morning"
    );

    post_ok(
        &app,
        "/api/v1/incidents/1/status",
        json!({"status": "investigating", "by": "chen"}),
    )
    .await;
    let after = reminders_until(&app, "2025-06-18T12:00:00Z", "Postmortem").await;
    assert_eq!(after, [], "a reopen stops postmortem reminders");
    let shown = app.api_get("/api/v1/incidents/1/postmortem").await;
    assert_eq!(shown["postmortem"]["next_reminder_at"], Value::Null);
}

#[tokio::test]
async fn action_item_reminders_come_at_nine_owner_local_on_the_due_date_then_weekdays() {
    let app = app_at("2025-06-12T14:00:00Z").await;
    post_ok(
        &app,
        "/api/v1/incidents",
        json!({"title": "Disk full", "severity": "p3", "page": false, "by": "chen"}),
    )
    .await;
    // Due Friday 2025-06-13 in ana's zone (Madrid, UTC+2 in June).
    let added = post_ok(
        &app,
        "/api/v1/incidents/1/postmortem/action-items",
        json!({"title": "Alert at 80% disk", "owner": "ana", "due": "2025-06-13",
               "type": "prevent", "by": "chen"}),
    )
    .await;
    let id = added["action_item"]["id"].as_str().unwrap().to_string();

    let seen = reminders_until(&app, "2025-06-17T12:00:00Z", "Action item").await;

    assert_eq!(
        seen,
        [
            (
                "2025-06-13T07:00:00Z ana@example.com".to_string(),
                "[dutybell] Action item due today: Alert at 80% disk (#1)".to_string()
            ),
            (
                "2025-06-16T07:00:00Z ana@example.com".to_string(),
                "[dutybell] Action item overdue: Alert at 80% disk (#1)".to_string()
            ),
            (
                "2025-06-17T07:00:00Z ana@example.com".to_string(),
                "[dutybell] Action item overdue: Alert at 80% disk (#1)".to_string()
            ),
        ],
        "Saturday and Sunday are skipped"
    );
    let listed = app.api_get("/api/v1/action-items?overdue=true").await;
    assert_eq!(listed["action_items"][0]["action_item"]["id"], id.as_str());

    // Done: no more reminders, and not listed.
    let done = app
        .client
        .patch(app.url(&format!("/api/v1/incidents/1/postmortem/action-items/{id}")))
        .bearer_auth(crate::helpers::API_TOKEN)
        .json(&json!({"status": "done", "by": "ana"}))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    let after = reminders_until(&app, "2025-06-20T12:00:00Z", "Action item").await;
    assert_eq!(after, []);
    let listed = app.api_get("/api/v1/action-items").await;
    assert_eq!(listed["action_items"], json!([]));
}

#[tokio::test]
async fn the_cli_exports_imports_and_lists_open_action_items_by_owner() {
    let app = app_at("2025-06-12T14:00:00Z").await;
    scripted_p1(&app).await;
    let dir = app.config_dir();
    let cli = |args: &[&str]| crate::oncall::dutybell(dir, app.clock.now(), args);

    let out = cli(&["postmortem", "export", "1"]);
    let path = dir.join("postmortems/2025-06-12-inc-1-api-returns-500s.md");
    assert_eq!(out, format!("{}\n", path.display()));
    let text = std::fs::read_to_string(&path).unwrap();
    let rows = "| Validate config | ana | 2025-06-20 | prevent | open |\n\
                | Page on config errors | ben | 2025-06-11 | mitigate | open |\n";
    std::fs::write(&path, format!("{text}{rows}")).unwrap();
    let file = path.to_str().unwrap();
    let out = cli(&["postmortem", "import", file, "--as", "chen"]);
    assert_eq!(
        out,
        format!("#1 postmortem updated from {file} (2 action items)\n")
    );
    let out = cli(&[
        "actions",
        "add",
        "1",
        "Write the runbook",
        "--owner",
        "ana",
        "--due",
        "2025-06-30",
        "--type",
        "process",
        "--as",
        "chen",
    ]);
    let items = app
        .api_get("/api/v1/incidents/1/postmortem/action-items")
        .await;
    let id = |n: usize| items["action_items"][n]["id"].as_str().unwrap().to_string();
    assert_eq!(out, format!("{} added to #1\n", id(2)));

    let all = cli(&["actions", "list"]);
    let overdue = cli(&["actions", "list", "--overdue"]);
    let ana = cli(&["actions", "list", "--owner", "ana"]);

    assert_eq!(
        all,
        format!(
            "ana name (ana)\n  {}  #1 Validate config (prevent, due 2025-06-20)\n  \
             {}  #1 Write the runbook (process, due 2025-06-30)\n\nben name (ben)\n  \
             {}  #1 Page on config errors (mitigate, due 2025-06-11)  OVERDUE\n",
            id(0),
            id(2),
            id(1)
        )
    );
    assert_eq!(
        overdue,
        format!(
            "ben name (ben)\n  {}  #1 Page on config errors (mitigate, due 2025-06-11)  \
             OVERDUE\n",
            id(1)
        )
    );
    assert_eq!(ana.lines().count(), 3, "{ana}");
    let shown = cli(&["postmortem", "show", "1"]);
    assert!(
        shown.starts_with(
            "Postmortem of #1 (resolved): draft, owner chen, due 2025-06-14 15:19 UTC\n\n\
             # Postmortem: API returns 500s\n"
        ),
        "{shown}"
    );
    assert!(shown.ends_with(&format!(
        "{rows}| Write the runbook | ana | 2025-06-30 | process | open |\n"
    )));
}

#[tokio::test]
async fn a_p3_raised_to_p1_after_resolve_gets_a_draft_due_a_day_later() {
    let app = app_at("2025-06-12T10:00:00Z").await;
    post_ok(
        &app,
        "/api/v1/incidents",
        json!({"title": "Slow search", "severity": "p3", "by": "ana"}),
    )
    .await;
    post_ok(
        &app,
        "/api/v1/incidents/1/status",
        json!({"status": "resolved", "by": "ana"}),
    )
    .await;

    // 40 h later the impact turns out worse: resolve + 48 h is 8 h away, now + 24 h later.
    move_to(&app, "2025-06-14T02:00:00Z").await;
    post_ok(
        &app,
        "/api/v1/incidents/1/severity",
        json!({"severity": "p1", "by": "ana"}),
    )
    .await;

    let shown = app.api_get("/api/v1/incidents/1/postmortem").await;
    assert_eq!(shown["postmortem"]["due_at"], "2025-06-15T02:00:00Z");
    assert_eq!(shown["postmortem"]["owner"], "ana");
    // The next reminder is at due, moved out of quiet hours (04:00 Madrid → 09:00).
    assert_eq!(
        shown["postmortem"]["next_reminder_at"],
        "2025-06-15T07:00:00Z"
    );
}
