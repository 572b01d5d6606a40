//! Statuspage-v2 response bodies (comms spec §4.4) from a [`Snapshot`].
//!
//! Every field is always present (`null` when empty), timestamps are in the page zone
//! via [`time::api_time`], and every body carries `page`. Headers (CORS, caching, ETag)
//! are the HTTP layer's.

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::{LIST_LIMIT, impact_name, incident_url, status_name};
use crate::domain::statuspage::rollup::{
    is_active_maintenance, is_unresolved_incident, is_upcoming_maintenance, snapshot_status,
};
use crate::domain::statuspage::{Component, Impact, PublicIncident, Snapshot, Update, time};

/// `summary.json`: page, status, components, unresolved incidents, upcoming and active
/// maintenances (soonest first).
pub fn summary(snapshot: &Snapshot) -> Value {
    let mut maintenances: Vec<&PublicIncident> = snapshot
        .maintenances
        .iter()
        .filter(|m| is_upcoming_maintenance(m) || is_active_maintenance(m))
        .collect();
    sort_soonest_first(&mut maintenances);
    json!({
        "page": page(snapshot),
        "status": status_object(snapshot),
        "components": component_list(snapshot),
        "incidents": items(snapshot, unresolved_incidents(snapshot)),
        "scheduled_maintenances": items(snapshot, maintenances),
    })
}

/// `status.json`: page and the §4.2 indicator.
pub fn status(snapshot: &Snapshot) -> Value {
    json!({ "page": page(snapshot), "status": status_object(snapshot) })
}

/// `components.json`: flat by position, each group before its members.
pub fn components(snapshot: &Snapshot) -> Value {
    json!({ "page": page(snapshot), "components": component_list(snapshot) })
}

/// `incidents.json`: the 50 newest incidents by `created_at`, any status.
pub fn incidents(snapshot: &Snapshot) -> Value {
    let list = newest_first(snapshot.incidents.iter());
    json!({ "page": page(snapshot), "incidents": items(snapshot, list) })
}

/// `incidents/unresolved.json`: investigating, identified, monitoring; newest first.
pub fn unresolved(snapshot: &Snapshot) -> Value {
    let list = unresolved_incidents(snapshot);
    json!({ "page": page(snapshot), "incidents": items(snapshot, list) })
}

/// `scheduled-maintenances.json`: the 50 newest by `created_at`, any status.
pub fn scheduled_maintenances(snapshot: &Snapshot) -> Value {
    let list = newest_first(snapshot.maintenances.iter());
    maintenance_body(snapshot, list)
}

/// `scheduled-maintenances/upcoming.json`: status `scheduled`, soonest first.
pub fn upcoming(snapshot: &Snapshot) -> Value {
    let mut list: Vec<_> = snapshot
        .maintenances
        .iter()
        .filter(|m| is_upcoming_maintenance(m))
        .collect();
    sort_soonest_first(&mut list);
    maintenance_body(snapshot, list)
}

/// `scheduled-maintenances/active.json`: `in_progress` or `verifying`, soonest first.
pub fn active(snapshot: &Snapshot) -> Value {
    let mut list: Vec<_> = snapshot
        .maintenances
        .iter()
        .filter(|m| is_active_maintenance(m))
        .collect();
    sort_soonest_first(&mut list);
    maintenance_body(snapshot, list)
}

fn maintenance_body(snapshot: &Snapshot, list: Vec<&PublicIncident>) -> Value {
    json!({ "page": page(snapshot), "scheduled_maintenances": items(snapshot, list) })
}

fn unresolved_incidents(snapshot: &Snapshot) -> Vec<&PublicIncident> {
    newest_first(
        snapshot
            .incidents
            .iter()
            .filter(|i| is_unresolved_incident(i)),
    )
}

/// Newest `created_at` first, at most [`LIST_LIMIT`].
fn newest_first<'a>(list: impl Iterator<Item = &'a PublicIncident>) -> Vec<&'a PublicIncident> {
    let mut list: Vec<_> = list.collect();
    list.sort_by_key(|i| std::cmp::Reverse(i.created_at));
    list.truncate(LIST_LIMIT);
    list
}

/// Earliest `scheduled_for` first.
fn sort_soonest_first(list: &mut [&PublicIncident]) {
    list.sort_by_key(|m| m.schedule.map(|w| w.scheduled_for));
}

fn items(snapshot: &Snapshot, list: Vec<&PublicIncident>) -> Value {
    list.into_iter().map(|i| incident(snapshot, i)).collect()
}

fn time(snapshot: &Snapshot, ts: Timestamp) -> Value {
    Value::String(time::api_time(ts, &snapshot.time_zone))
}

fn optional_time(snapshot: &Snapshot, ts: Option<Timestamp>) -> Value {
    ts.map_or(Value::Null, |ts| time(snapshot, ts))
}

fn page(snapshot: &Snapshot) -> Value {
    json!({
        "id": snapshot.page_id,
        "name": snapshot.name,
        "url": snapshot.url,
        "time_zone": snapshot.time_zone.iana_name(),
        "updated_at": time(snapshot, snapshot.updated_at),
    })
}

fn status_object(snapshot: &Snapshot) -> Value {
    let indicator = snapshot_status(snapshot);
    json!({ "indicator": indicator.as_str(), "description": indicator.description() })
}

fn component_list(snapshot: &Snapshot) -> Value {
    let mut list: Vec<&Component> = snapshot.components.iter().collect();
    // Stable, so a group keeps its place before members that share its position.
    list.sort_by_key(|c| c.position);
    list.into_iter().map(|c| component(snapshot, c)).collect()
}

fn component(snapshot: &Snapshot, c: &Component) -> Value {
    let mut object = json!({
        "id": c.id,
        "name": c.name,
        "status": status_name(c.status),
        "created_at": time(snapshot, c.created_at),
        "updated_at": time(snapshot, c.updated_at),
        "position": c.position,
        "description": c.description,
        "showcase": c.showcase,
        "start_date": c.start_date.map(|d| d.to_string()),
        "group_id": c.group_id,
        "page_id": snapshot.page_id,
        "group": c.children.is_some(),
        "only_show_if_degraded": c.only_show_if_degraded,
    });
    if let (Some(children), Value::Object(map)) = (&c.children, &mut object) {
        map.insert("components".into(), json!(children));
    }
    object
}

/// An incident, or a scheduled maintenance (incident fields + its window, impact
/// `maintenance`).
fn incident(snapshot: &Snapshot, item: &PublicIncident) -> Value {
    let impact = match item.schedule {
        Some(_) => Impact::Maintenance,
        None => item.impact,
    };
    let affected: Vec<Value> = item
        .components
        .iter()
        .filter_map(|id| snapshot.components.iter().find(|c| &c.id == id))
        .map(|c| component(snapshot, c))
        .collect();
    let mut object = Map::new();
    object.insert("id".into(), json!(item.id));
    object.insert("name".into(), json!(item.name));
    object.insert("status".into(), json!(item.status));
    object.insert("impact".into(), json!(impact_name(impact)));
    object.insert("created_at".into(), time(snapshot, item.created_at));
    object.insert("updated_at".into(), time(snapshot, item.updated_at));
    object.insert(
        "monitoring_at".into(),
        optional_time(snapshot, item.monitoring_at),
    );
    object.insert(
        "resolved_at".into(),
        optional_time(snapshot, item.resolved_at),
    );
    object.insert("started_at".into(), time(snapshot, item.started_at));
    object.insert("shortlink".into(), json!(incident_url(snapshot, &item.id)));
    object.insert("page_id".into(), json!(snapshot.page_id));
    let updates = item.updates.iter().map(|u| update(snapshot, &item.id, u));
    object.insert("incident_updates".into(), updates.collect());
    object.insert("components".into(), Value::Array(affected));
    if let Some(window) = item.schedule {
        object.insert("scheduled_for".into(), time(snapshot, window.scheduled_for));
        object.insert(
            "scheduled_until".into(),
            time(snapshot, window.scheduled_until),
        );
    }
    Value::Object(object)
}

fn update(snapshot: &Snapshot, incident_id: &str, u: &Update) -> Value {
    let affected = u.affected_components.as_ref().map(|list| {
        list.iter()
            .map(|a| {
                json!({
                    "code": a.code,
                    "name": a.name,
                    "old_status": status_name(a.old_status),
                    "new_status": status_name(a.new_status),
                })
            })
            .collect::<Vec<_>>()
    });
    json!({
        "id": u.id,
        "incident_id": incident_id,
        "status": u.status,
        "body": u.body,
        "created_at": time(snapshot, u.created_at),
        "updated_at": time(snapshot, u.updated_at),
        "display_at": time(snapshot, u.display_at),
        "affected_components": affected,
        "deliver_notifications": u.deliver_notifications,
        "custom_tweet": Value::Null,
        "tweet_id": Value::Null,
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixtures;
    use super::*;
    use crate::domain::statuspage::ComponentStatus;

    fn keys(value: &Value) -> Vec<&str> {
        let mut keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        keys
    }

    fn sorted<'a>(list: &[&'a str]) -> Vec<&'a str> {
        let mut list = list.to_vec();
        list.sort_unstable();
        list
    }

    const COMPONENT: [&str; 13] = [
        "id",
        "name",
        "status",
        "created_at",
        "updated_at",
        "position",
        "description",
        "showcase",
        "start_date",
        "group_id",
        "page_id",
        "group",
        "only_show_if_degraded",
    ];
    const INCIDENT: [&str; 13] = [
        "id",
        "name",
        "status",
        "impact",
        "created_at",
        "updated_at",
        "monitoring_at",
        "resolved_at",
        "started_at",
        "shortlink",
        "page_id",
        "incident_updates",
        "components",
    ];
    const UPDATE: [&str; 11] = [
        "id",
        "incident_id",
        "status",
        "body",
        "created_at",
        "updated_at",
        "display_at",
        "affected_components",
        "deliver_notifications",
        "custom_tweet",
        "tweet_id",
    ];

    #[test]
    fn every_body_carries_the_page() {
        let snapshot = fixtures::snapshot();
        let bodies = [
            summary(&snapshot),
            status(&snapshot),
            components(&snapshot),
            incidents(&snapshot),
            unresolved(&snapshot),
            scheduled_maintenances(&snapshot),
            upcoming(&snapshot),
            active(&snapshot),
        ];

        for body in &bodies {
            assert_eq!(
                body["page"],
                json!({
                    "id": "page00000001",
                    "name": "Acme <Status>",
                    "url": "https://status.example.com",
                    "time_zone": "Australia/Sydney",
                    "updated_at": "2024-03-11T08:15:00.000+11:00",
                })
            );
        }
        assert_eq!(
            keys(&bodies[0]),
            [
                "components",
                "incidents",
                "page",
                "scheduled_maintenances",
                "status"
            ]
        );
        assert_eq!(keys(&bodies[1]), ["page", "status"]);
    }

    #[test]
    fn components_have_every_field_and_groups_list_children() {
        let body = components(&fixtures::snapshot());
        let list = body["components"].as_array().unwrap();

        assert_eq!(list.len(), 5);
        let mut group_fields = COMPONENT.to_vec();
        group_fields.push("components");
        assert_eq!(keys(&list[0]), sorted(&group_fields));
        assert_eq!(list[0]["group"], json!(true));
        assert_eq!(
            list[0]["components"],
            json!(["cmp000000001", "cmp000000002"])
        );
        assert_eq!(
            list[1],
            json!({
                "id": "cmp000000001",
                "name": "API",
                "status": "partial_outage",
                "created_at": "2024-01-01T11:00:00.000+11:00",
                "updated_at": "2024-03-11T07:30:00.000+11:00",
                "position": 1,
                "description": null,
                "showcase": true,
                "start_date": "2024-01-01",
                "group_id": "grp000000001",
                "page_id": "page00000001",
                "group": false,
                "only_show_if_degraded": false,
            })
        );
        for plain in &list[1..] {
            assert_eq!(keys(plain), sorted(&COMPONENT));
        }
    }

    #[test]
    fn incidents_have_every_field_with_local_offsets() {
        let body = incidents(&fixtures::snapshot());
        let list = body["incidents"].as_array().unwrap();
        let open = &list[0];

        assert_eq!(list.len(), 2);
        assert_eq!(keys(open), sorted(&INCIDENT));
        assert_eq!(open["id"], "inc000000001");
        assert_eq!(open["status"], "identified");
        assert_eq!(open["impact"], "major");
        assert_eq!(open["created_at"], "2024-03-11T07:30:00.000+11:00");
        assert_eq!(open["monitoring_at"], Value::Null);
        assert_eq!(open["resolved_at"], Value::Null);
        assert_eq!(
            open["shortlink"],
            "https://status.example.com/incidents/inc000000001"
        );
        assert_eq!(open["components"][0]["id"], "cmp000000001");
        assert_eq!(list[1]["resolved_at"], "2024-03-01T22:00:00.000+11:00");
    }

    #[test]
    fn updates_have_every_field_newest_first() {
        let body = incidents(&fixtures::snapshot());
        let updates = body["incidents"][0]["incident_updates"].as_array().unwrap();

        assert_eq!(updates.len(), 2);
        assert_eq!(keys(&updates[0]), sorted(&UPDATE));
        assert_eq!(
            updates[0],
            json!({
                "id": "upd000000002",
                "incident_id": "inc000000001",
                "status": "identified",
                "body": "Fix **deploying** <script>alert(1)</script>",
                "created_at": "2024-03-11T08:15:00.000+11:00",
                "updated_at": "2024-03-11T08:15:00.000+11:00",
                "display_at": "2024-03-11T08:15:00.000+11:00",
                "affected_components": [{
                    "code": "cmp000000001",
                    "name": "API",
                    "old_status": "degraded_performance",
                    "new_status": "partial_outage",
                }],
                "deliver_notifications": true,
                "custom_tweet": null,
                "tweet_id": null,
            })
        );
        assert_eq!(updates[1]["affected_components"], Value::Null);
    }

    #[test]
    fn cm01_incident_times_use_the_page_offset_at_that_instant() {
        let mut snapshot = fixtures::bare();
        snapshot.incidents = vec![
            fixtures::incident("b", "April", "resolved", "2024-04-10T20:30:00Z"),
            fixtures::incident("a", "March", "resolved", "2024-03-10T20:30:00Z"),
        ];

        let body = incidents(&snapshot);

        assert_eq!(
            body["incidents"][0]["created_at"],
            "2024-04-11T06:30:00.000+10:00"
        );
        assert_eq!(
            body["incidents"][1]["created_at"],
            "2024-03-11T07:30:00.000+11:00"
        );
    }

    #[test]
    fn maintenances_add_their_window_and_maintenance_impact() {
        let snapshot = fixtures::snapshot();
        let all = scheduled_maintenances(&snapshot);
        let list = all["scheduled_maintenances"].as_array().unwrap();

        assert_eq!(list.len(), 3);
        let mut fields = INCIDENT.to_vec();
        fields.extend(["scheduled_for", "scheduled_until"]);
        for item in list {
            assert_eq!(keys(item), sorted(&fields));
            assert_eq!(item["impact"], "maintenance");
        }
        let upcoming = upcoming(&snapshot);
        assert_eq!(upcoming["scheduled_maintenances"][0]["id"], "mnt000000001");
        assert_eq!(
            upcoming["scheduled_maintenances"][0]["scheduled_for"],
            "2024-03-13T01:00:00.000+11:00"
        );
        assert_eq!(
            upcoming["scheduled_maintenances"].as_array().unwrap().len(),
            1
        );
        let active = active(&snapshot);
        let ids: Vec<&Value> = active["scheduled_maintenances"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| &m["id"])
            .collect();
        assert_eq!(ids, [&json!("mnt000000002")]);
    }

    #[test]
    fn summary_lists_unresolved_incidents_and_open_maintenances() {
        let body = summary(&fixtures::snapshot());

        let incident_ids: Vec<&Value> = body["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| &i["id"])
            .collect();
        assert_eq!(incident_ids, [&json!("inc000000001")]);
        let maintenance_ids: Vec<&Value> = body["scheduled_maintenances"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| &m["id"])
            .collect();
        assert_eq!(
            maintenance_ids,
            [&json!("mnt000000002"), &json!("mnt000000001")]
        );
        assert_eq!(
            body["status"],
            json!({"indicator": "major", "description": "Partial System Outage"})
        );
        assert_eq!(
            unresolved(&fixtures::snapshot())["incidents"],
            body["incidents"]
        );
    }

    #[test]
    fn incidents_json_keeps_the_fifty_newest() {
        let mut snapshot = fixtures::bare();
        let start: Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        snapshot.incidents = (0..60)
            .map(|i| {
                let created = start + jiff::SignedDuration::from_hours(i);
                let mut item =
                    fixtures::incident(&format!("i{i}"), "x", "resolved", "2024-01-01T00:00:00Z");
                item.created_at = created;
                item
            })
            .collect();

        let body = incidents(&snapshot);
        let list = body["incidents"].as_array().unwrap();

        assert_eq!(list.len(), 50);
        assert_eq!(list[0]["id"], "i59");
        assert_eq!(list[49]["id"], "i10");
    }

    #[test]
    fn cm05_status_description_follows_the_one_rollup() {
        let mut snapshot = fixtures::bare();
        let description = |s: &Snapshot| status(s)["status"]["description"].clone();

        assert_eq!(description(&snapshot), "All Systems Operational");
        snapshot.components = vec![fixtures::component(
            "c1",
            "A",
            ComponentStatus::Operational,
            0,
        )];
        assert_eq!(description(&snapshot), "All Systems Operational");
        snapshot.components[0].status = ComponentStatus::DegradedPerformance;
        assert_eq!(description(&snapshot), "Minor Service Outage");
        assert_eq!(status(&snapshot)["status"]["indicator"], "minor");
    }
}
