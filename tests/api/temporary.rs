//! Temporary schedules through the API take over a schedule for their span (D3), on every
//! surface that evaluates it: escalation here, and the resolved shift ends of OC-03 (b).

use dutybell::clock::Clock;
use serde_json::json;

use crate::helpers::{Setup, spawn_app, spawn_app_with};

#[tokio::test]
async fn a_temporary_schedule_takes_over_and_its_people_are_paged() {
    let app = spawn_app().await;
    let created = app
        .api_post(
            "/api/v1/schedules/business/temporary",
            json!({ "start": "2025-06-12T04:00", "end": "2025-06-12T07:00",
                    "shifts": [{ "person": "chen", "start": "2025-06-12T04:00",
                                 "end": "2025-06-12T06:00" }] }),
        )
        .await;
    assert_eq!(created.status(), 201);

    let body = crate::helpers::am_body("Temp", &[("firing", "2025-06-12T02:59:00Z")]);
    let url = app.url(&format!(
        "/api/v1/integrations/{}/alertmanager",
        crate::helpers::WEB_KEY
    ));
    let request = app
        .client
        .post(url)
        .bearer_auth(crate::helpers::TOKEN)
        .body(body);
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 202);
    app.run_engine_once().await;

    // Thu 05:00 Madrid: the rules say lead, the temporary schedule says chen (D3).
    assert_eq!(app.hooks.recipients(), ["chen"]);
    let listed: serde_json::Value = app.api_get("/api/v1/schedules/business/temporary").await;
    assert_eq!(listed[0]["shifts"][0]["end"], "2025-06-12T04:00:00Z");
}

#[tokio::test]
async fn wall_clock_lengths_end_on_the_clock_across_a_23_hour_day_oc_03() {
    let app = spawn_app_with(Setup {
        clock: Clock::manual("2025-03-08T12:00:00Z".parse().unwrap()),
        ..Setup::default()
    })
    .await;

    let created = app
        .api_post(
            "/api/v1/schedules/nyc/temporary",
            json!({ "start": "2025-03-08T20:00", "end": "2025-03-10T20:00",
                    "shifts": [
                        { "person": "ana", "start": "2025-03-08T20:00", "length": "24h" },
                        { "person": "ben", "start": "2025-03-09T20:00", "length": "24h" },
                    ] }),
        )
        .await;

    assert_eq!(created.status(), 201);
    let body: serde_json::Value = created.json().await.unwrap();
    assert_eq!(body["shifts"][0]["start"], "2025-03-09T01:00:00Z");
    assert_eq!(
        body["shifts"][0]["end"], "2025-03-10T00:00:00Z",
        "23 h elapsed"
    );
    assert_eq!(body["shifts"][1]["end"], "2025-03-11T00:00:00Z");
}

#[tokio::test]
async fn bad_temporary_schedules_name_their_field_and_store_nothing() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({ "start": "2025-06-12T04:00", "end": "2025-06-12T03:00", "shifts": [] }),
            "end",
        ),
        (json!({ "end": "2025-06-12T05:00", "shifts": [] }), "start"),
        (
            json!({ "start": "2025-06-12T04:00", "end": "2025-06-12T07:00",
                 "shifts": [{ "person": "zed", "start": "2025-06-12T04:00", "length": "1h" }] }),
            "shifts[0].person",
        ),
        (
            json!({ "start": "2025-06-12T04:00", "end": "2025-06-12T07:00",
                 "shifts": [{ "person": "ana", "start": "2025-06-12T04:00" }] }),
            "shifts[0].end",
        ),
        (
            json!({ "start": "2025-06-11T04:00", "end": "2025-06-11T07:00", "shifts": [] }),
            "end",
        ),
    ];
    for (body, field) in cases {
        let response = app
            .api_post("/api/v1/schedules/business/temporary", body.clone())
            .await;
        assert_eq!(response.status(), 400, "{body}");
        let answer: serde_json::Value = response.json().await.unwrap();
        assert_eq!(answer["field"], field, "{body}");
    }
    let listed = app.api_get("/api/v1/schedules/business/temporary").await;
    assert_eq!(listed, json!([]));
}
