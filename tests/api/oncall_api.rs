//! The on-call API answers from the same function as every other surface (D4): OC-03's
//! 23-hour day ends at the same instant in `/api/v1/oncall` and in the schedule's shifts.

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_api_agrees_with_shifts_on_a_23_hour_day_oc_03() {
    let app = spawn_app().await;

    let shifts = app
        .api_get("/api/v1/schedules/nyc/shifts?from=2025-03-09T00:00:00Z&to=2025-03-11T00:00:00Z")
        .await;
    let now = app.api_get("/api/v1/oncall?at=2025-03-09T23:59:00Z").await;

    let first = &shifts["shifts"][1];
    assert_eq!(first["start"], "2025-03-09T01:00:00Z");
    assert_eq!(first["end"], "2025-03-10T00:00:00Z", "23 h elapsed");
    let nyc = now["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "nyc")
        .unwrap();
    assert_eq!(nyc["on_call"][0]["person"], first["person"]);
    assert_eq!(nyc["on_call"][0]["until"], "2025-03-10T00:00:00Z");
    let after = app.api_get("/api/v1/oncall?at=2025-03-10T00:00:00Z").await;
    let nyc = after["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "nyc")
        .unwrap();
    assert_ne!(
        nyc["on_call"][0]["person"], first["person"],
        "handoff at the same instant"
    );
}

#[tokio::test]
async fn shifts_refuse_a_backwards_or_huge_window() {
    let app = spawn_app().await;
    for query in [
        "from=2025-06-12T00:00:00Z&to=2025-06-11T00:00:00Z",
        "from=2025-06-12T00:00:00Z&to=2027-06-12T00:00:00Z",
        "from=yesterday",
    ] {
        let url = app.url(&format!("/api/v1/schedules/business/shifts?{query}"));
        let response = app
            .client
            .get(url)
            .bearer_auth(crate::helpers::API_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query}");
    }
    let missing = app
        .client
        .get(app.url("/api/v1/schedules/nope/shifts"))
        .bearer_auth(crate::helpers::API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}
