//! The update and publish modals (issue #5, comms spec §2.5): the announcement's "Post
//! update" and "Update status page" buttons open modals; their `view_submission` is
//! checked before the answer (a refusal keeps the modal open with the reason under the
//! field), then acts as the person who submitted it and confirms through `response_url`.

use serde_json::{Value, json};

use crate::slack_app::{SlackFake, click, declared, replies, slack_app, submit};
use crate::statuspage::public_json;

/// The view the last `views.open` asked for.
fn opened(fake: &SlackFake) -> Value {
    fake.calls_to("views.open").last().unwrap().body["view"].clone()
}

fn block_ids(view: &Value) -> Vec<String> {
    view["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["block_id"].as_str().unwrap().to_string())
        .collect()
}

/// A `view_submission` of `view` by `user` with `values` (block id → the element's state).
fn submission(user: &str, view: &Value, values: Value) -> Value {
    json!({
        "type": "view_submission",
        "team": {"id": "T0"},
        "user": {"id": user, "username": "x", "team_id": "T0"},
        "view": {
            "id": "V1",
            "type": "modal",
            "callback_id": view["callback_id"],
            "private_metadata": view["private_metadata"],
            "state": {"values": values},
        },
    })
}

fn text_input(value: Option<&str>) -> Value {
    json!({"value": {"type": "plain_text_input", "value": value}})
}

#[tokio::test]
async fn post_update_opens_a_modal_whose_submission_posts_the_update() {
    let (app, fake) = slack_app().await;
    let incident = declared(&app, &fake).await;

    click(&app, &fake, "U0KIM", "incident.update", &incident.id).await;
    let view = opened(&fake);
    assert_eq!(view["callback_id"], "incident.update");
    assert_eq!(view["title"]["text"], "Update #1");
    assert_eq!(block_ids(&view), ["update.text"]);
    let metadata: Value = serde_json::from_str(view["private_metadata"].as_str().unwrap()).unwrap();
    assert_eq!(metadata["incident"], incident.id.as_str());

    // Blank is refused under the field; nothing is posted.
    let blank = submission(
        "U0KIM",
        &view,
        json!({"update.text": text_input(Some("  "))}),
    );
    let (status, body) = submit(&app, &blank).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"response_action": "errors", "errors": {"update.text": "Write the message."}})
    );

    let values = json!({"update.text": text_input(Some("Rolled back <b>v42</b>"))});
    let (status, body) = submit(&app, &submission("U0KIM", &view, values)).await;
    assert_eq!((status, body.as_str()), (200, ""));
    let timeline = app.api_get("/api/v1/incidents/1").await["timeline"].clone();
    let updates: Vec<&Value> = timeline
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "update.posted")
        .collect();
    assert_eq!(updates.len(), 1, "{timeline}");
    assert_eq!(updates[0]["actor"], "kim");
    assert_eq!(updates[0]["data"]["text"], "Rolled back <b>v42</b>");
    let replies = replies(&fake, 1).await;
    assert_eq!(replies.last().unwrap()["text"], "#1: update posted.");

    // The engine threads it under the announcement, escaped.
    app.run_engine_once().await;
    let thread = fake
        .calls_to("chat.postMessage")
        .into_iter()
        .find(|c| c.body["thread_ts"] == "1700000000.000100")
        .expect("a thread reply");
    assert!(
        thread
            .body
            .to_string()
            .contains("Rolled back &lt;b&gt;v42&lt;/b&gt;"),
        "{}",
        thread.body
    );
}

#[tokio::test]
async fn update_status_page_publishes_under_the_chosen_name_then_posts_updates() {
    let (app, fake) = slack_app().await;
    let incident = declared(&app, &fake).await;

    click(&app, &fake, "U0SAM", "incident.publish", &incident.id).await;
    let view = opened(&fake);
    assert_eq!(view["callback_id"], "incident.publish");
    assert_eq!(view["title"]["text"], "Publish incident");
    assert_eq!(
        block_ids(&view),
        ["publish.name", "publish.status", "publish.body"]
    );
    assert_eq!(
        view["blocks"][0]["element"]["initial_value"],
        "Checkout down"
    );
    assert_eq!(
        view["blocks"][1]["element"]["initial_option"]["value"],
        "investigating"
    );

    let chosen = |status: &str| {
        json!({"value": {"type": "static_select",
            "selected_option": {"text": {"type": "plain_text", "text": status}, "value": status}}})
    };
    let values = json!({
        "publish.name": text_input(Some("Payments are failing")),
        "publish.status": chosen("identified"),
        "publish.body": text_input(Some("We found the cause and are fixing it.")),
    });
    let (status, body) = submit(&app, &submission("U0SAM", &view, values)).await;
    assert_eq!((status, body.as_str()), (200, ""));
    let summary = public_json(&app, "/api/v2/summary.json").await;
    assert_eq!(summary["incidents"][0]["name"], "Payments are failing");
    assert_eq!(summary["incidents"][0]["status"], "identified");
    assert_eq!(
        summary["incidents"][0]["incident_updates"][0]["body"],
        "We found the cause and are fixing it."
    );
    let reply = replies(&fake, 1).await.last().unwrap()["text"].clone();
    assert!(
        reply
            .as_str()
            .unwrap()
            .starts_with("Status page: Identified"),
        "{reply}"
    );

    // Published: the next modal posts an update and has no name to choose.
    click(&app, &fake, "U0SAM", "incident.publish", &incident.id).await;
    let view = opened(&fake);
    assert_eq!(view["title"]["text"], "Status page update");
    assert_eq!(block_ids(&view), ["publish.status", "publish.body"]);
    let values = json!({
        "publish.status": chosen("resolved"),
        "publish.body": text_input(Some("Fixed.")),
    });
    let (status, _) = submit(&app, &submission("U0SAM", &view, values)).await;
    assert_eq!(status, 200);
    let incidents = public_json(&app, "/api/v2/incidents.json").await;
    assert_eq!(incidents["incidents"][0]["status"], "resolved");
    assert_eq!(incidents["incidents"][0]["name"], "Payments are failing");
}
