//! Postmortems and action items over the admin API (comms spec §6). Bearer token.
//!
//! `/api/v1/incidents/{ref}/postmortem`: `GET` shows it (document, items, Markdown),
//! `POST` drafts one on request (P3), `PUT` edits it (any document fields, `owner`,
//! `status` draft or in_review); `…/publish` and `…/skip` close the incident.
//! `…/postmortem/action-items` lists and adds items, `…/action-items/{item}` changes
//! (`PATCH`) or removes (`DELETE`) one; `/api/v1/action-items` lists open ones.
//! The workflows are `engine::postmortems`', which the web editor (`http::ui::postmortems`)
//! calls too.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use jiff::civil::Date;
use serde::Deserialize;

use super::input::{actor, invalid, json};
use super::{AppError, AppState, auth};
use crate::domain::incident::Source;
use crate::domain::postmortem::{self as pm, Document, ItemStatus, ItemType};
use crate::engine::postmortems::{self, Edit, Full, ItemEdit, NewItem};
use crate::store::action_items;
use crate::store::incidents::IncidentRef;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/incidents/{id}/postmortem",
            get(show).post(draft).put(edit),
        )
        .route("/api/v1/incidents/{id}/postmortem/publish", post(publish))
        .route("/api/v1/incidents/{id}/postmortem/skip", post(skip))
        .route(
            "/api/v1/incidents/{id}/postmortem/action-items",
            get(items).post(add_item),
        )
        .route(
            "/api/v1/incidents/{id}/postmortem/action-items/{item}",
            patch(edit_item).delete(delete_item),
        )
        .route("/api/v1/action-items", get(open_items))
}

type Answer = Result<Json<serde_json::Value>, AppError>;

fn reference(text: &str) -> Result<IncidentRef, AppError> {
    text.parse()
        .map_err(|message: String| invalid("id", message))
}

fn answer(full: &Full) -> Answer {
    Ok(Json(serde_json::json!({
        "incident": { "id": full.incident.id, "number": full.incident.number,
            "title": full.incident.title, "status": full.incident.status },
        "postmortem": full.postmortem,
        "action_items": full.items,
        "markdown": full.markdown(),
    })))
}

async fn show(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    auth::require_admin(&state, &headers)?;
    answer(&postmortems::get(&state.store, &reference(&id)?).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ByBody {
    by: Option<String>,
}

async fn draft(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let config = state.config.current();
    auth::require_admin(&state, &headers)?;
    let body: ByBody = if body.is_empty() {
        ByBody { by: None }
    } else {
        json(&body)?
    };
    actor(&state, body.by)?;
    let full =
        postmortems::request_draft(&state.store, &config, &reference(&id)?, state.clock.now())
            .await?;
    state.wake.notify_one();
    answer(&full)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EditBody {
    /// Some or all document fields (`summary`, `root_cause`, …); others stay.
    document: Option<serde_json::Map<String, serde_json::Value>>,
    owner: Option<String>,
    status: Option<String>,
    by: Option<String>,
}

/// The stored document with the fields `patch` names replaced; unknown fields are a 400.
fn patched(
    doc: &Document,
    patch: serde_json::Map<String, serde_json::Value>,
) -> Result<Document, AppError> {
    let mut value = serde_json::to_value(doc).map_err(|err| AppError::Internal(err.into()))?;
    let Some(fields) = value.as_object_mut() else {
        return Err(AppError::Internal(anyhow::anyhow!(
            "a document is an object"
        )));
    };
    for (key, text) in patch {
        if !fields.contains_key(&key) {
            return Err(invalid("document", format!("no document field {key:?}")));
        }
        if !text.is_string() {
            return Err(invalid("document", format!("{key} must be a string")));
        }
        fields.insert(key, text);
    }
    serde_json::from_value(value).map_err(|err| invalid("document", err.to_string()))
}

async fn edit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let config = state.config.current();
    auth::require_admin(&state, &headers)?;
    let body: EditBody = json(&body)?;
    actor(&state, body.by)?;
    let by = reference(&id)?;
    let document = match body.document {
        Some(patch) => {
            let current = postmortems::get(&state.store, &by).await?;
            Some(patched(&current.postmortem.document, patch)?)
        }
        None => None,
    };
    let status = body
        .status
        .map(|s| s.parse::<pm::Status>())
        .transpose()
        .map_err(|m| invalid("status", m))?;
    let edit = Edit {
        document,
        owner: body.owner,
        status,
    };
    let full = postmortems::edit(
        &state.store,
        &config,
        &by,
        edit,
        Source::Api,
        state.clock.now(),
    )
    .await?;
    answer(&full)
}

async fn publish(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    auth::require_admin(&state, &headers)?;
    let body: ByBody = json(&body)?;
    let by = actor(&state, body.by)?;
    let full = postmortems::publish(
        &state.store,
        &reference(&id)?,
        &by,
        Source::Api,
        state.clock.now(),
    )
    .await?;
    state.wake.notify_one();
    answer(&full)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SkipBody {
    reason: String,
    by: Option<String>,
}

async fn skip(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let config = state.config.current();
    auth::require_admin(&state, &headers)?;
    let body: SkipBody = json(&body)?;
    let by = actor(&state, body.by)?;
    let full = postmortems::skip(
        &state.store,
        &config,
        &reference(&id)?,
        &body.reason,
        &by,
        Source::Api,
        state.clock.now(),
    )
    .await?;
    state.wake.notify_one();
    answer(&full)
}

async fn items(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    auth::require_admin(&state, &headers)?;
    let incident = crate::store::incidents::get(&state.store, &reference(&id)?).await?;
    let items = action_items::for_incident(&state.store, &incident.id).await?;
    Ok(Json(serde_json::json!({ "action_items": items })))
}

fn date(field: &str, text: Option<String>) -> Result<Option<Date>, AppError> {
    text.filter(|t| !t.trim().is_empty())
        .map(|t| {
            t.trim()
                .parse::<Date>()
                .map_err(|_| invalid(field, format!("{t:?} is not a date like 2025-06-30")))
        })
        .transpose()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewItemBody {
    title: String,
    owner: Option<String>,
    due: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    ticket_url: Option<String>,
    by: Option<String>,
}

async fn add_item(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let config = state.config.current();
    auth::require_admin(&state, &headers)?;
    let body: NewItemBody = json(&body)?;
    let by = actor(&state, body.by)?;
    let kind = body
        .kind
        .map_or(Ok(ItemType::Prevent), |k| k.parse())
        .map_err(|m| invalid("type", m))?;
    let new = NewItem {
        title: body.title,
        owner: body.owner,
        due: date("due", body.due)?,
        kind,
        ticket_url: body.ticket_url,
    };
    let now = state.clock.now();
    let item = postmortems::add_item(
        &state.store,
        &config,
        &reference(&id)?,
        new,
        &by,
        Source::Api,
        now,
    )
    .await?;
    state.wake.notify_one();
    Ok(Json(serde_json::json!({ "action_item": item })))
}

/// A field that may be absent (leave it), `null` (clear it) or a value.
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemBody {
    title: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    owner: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    due: Option<Option<String>>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    ticket_url: Option<Option<String>>,
    status: Option<String>,
    reason: Option<String>,
    by: Option<String>,
}

/// The item, checked to belong to the incident named in the path.
async fn item_of(state: &AppState, id: &str, item: &str) -> Result<(), AppError> {
    let incident = crate::store::incidents::get(&state.store, &reference(id)?).await?;
    let found = action_items::get(&state.store, item).await?;
    if found.incident_id != incident.id {
        return Err(AppError::NotFound);
    }
    Ok(())
}

async fn edit_item(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, item)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    let config = state.config.current();
    auth::require_admin(&state, &headers)?;
    let body: ItemBody = json(&body)?;
    actor(&state, body.by)?;
    item_of(&state, &id, &item).await?;
    let edit = ItemEdit {
        title: body.title,
        owner: body.owner,
        due: body.due.map(|due| date("due", due)).transpose()?,
        kind: body
            .kind
            .map(|k| k.parse())
            .transpose()
            .map_err(|m| invalid("type", m))?,
        ticket_url: body.ticket_url,
        status: body
            .status
            .map(|s| s.parse::<ItemStatus>())
            .transpose()
            .map_err(|m| invalid("status", m))?,
        reason: body.reason,
    };
    let now = state.clock.now();
    let item = postmortems::edit_item(&state.store, &config, &item, edit, Source::Api, now).await?;
    state.wake.notify_one();
    Ok(Json(serde_json::json!({ "action_item": item })))
}

async fn delete_item(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, item)): Path<(String, String)>,
) -> Answer {
    auth::require_admin(&state, &headers)?;
    item_of(&state, &id, &item).await?;
    action_items::delete(&state.store, &item).await?;
    Ok(Json(serde_json::json!({ "deleted": item })))
}

async fn open_items(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Answer {
    let config = state.config.current();
    auth::require_admin(&state, &headers)?;
    let overdue_only = matches!(
        query.get("overdue").map(String::as_str),
        Some("true" | "1" | "yes" | "")
    );
    let owner = query.get("owner");
    let now = state.clock.now();
    let items: Vec<_> = postmortems::open_items(&state.store, &config, now)
        .await?
        .into_iter()
        .filter(|(item, overdue)| {
            (!overdue_only || *overdue) && owner.is_none_or(|o| item.owner.as_ref() == Some(o))
        })
        .map(|(item, overdue)| serde_json::json!({ "action_item": item, "overdue": overdue }))
        .collect();
    Ok(Json(serde_json::json!({ "action_items": items })))
}
