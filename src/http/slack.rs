//! Slack app mode's inbound side (comms spec §2.2, §2.3, §2.5): `POST /slack/commands`
//! (`/incident`; with no severity it opens the declare modal), `POST /slack/interactivity`
//! (the announcement's buttons, page DMs' `alert.*` buttons, which go on to
//! `http::slack_pages`, and the declare modal's `view_submission`) and `POST /slack/events` (thread
//! replies marked `!note`/`!key` become notes, §1.4).
//!
//! All answer 404 unless app mode is configured, and 401 unless the signature over the
//! raw body checks out; nothing is parsed before that. Slack wants an answer within 3 s:
//! the work runs in a task the handler waits on for at most `DEADLINE` (2.5 s); whatever is not
//! done by then replies through the request's `response_url` when it is. Messages to
//! channels are the engine's job (`engine::slack`), never sent from a request; the one Web
//! API call made from a request is `views.open`, because its `trigger_id` expires in ~3 s.

use std::future::Future;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use jiff::Timestamp;
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};

use super::{AppError, AppState};
use crate::config::{Person, SlackSettings};
use crate::domain::escape::mrkdwn;
use crate::domain::incident::{Change, DeclareRequest, Source, Status};
use crate::domain::slack::blocks::{self, action, declare as modal};
use crate::domain::slack::command::{self, Command, HELP};
use crate::domain::slack::{events, form, verify};
use crate::domain::statuspage::PublicStatus;
use crate::engine::incidents::{self as workflow, IncidentError};
use crate::engine::publishing::{self, PublicPost};
use crate::notify::slack_api;
use crate::store::StoreError;
use crate::store::alerts::{self, Transition};
use crate::store::incidents::{self, Incident, IncidentRef};
use crate::store::slack as slack_store;

/// How long a handler waits for its work before answering anyway (Slack allows 3 s).
const DEADLINE: Duration = Duration::from_millis(2500);

/// How long `views.open` may take: the `trigger_id` expires ~3 s after Slack sent it, and
/// the command still needs its answer within those 3 s.
const OPEN_VIEW_TIMEOUT: Duration = Duration::from_millis(2000);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/slack/commands", post(commands))
        .route("/slack/interactivity", post(interactivity))
        .route("/slack/events", post(events))
}

/// `POST /slack/events` (Events API): answers `url_verification` with its `challenge`,
/// and captures thread replies marked `!note`/`!key` (`domain::slack::events`) in an
/// incident's announcement thread as notes by the linked person. Everything else is
/// taken with an empty 200: Slack retries anything slower than 3 s or not 2xx.
async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    verified(&state, &headers, &body).await?;
    let envelope: Value = serde_json::from_slice(&body).map_err(|err| AppError::Invalid {
        field: "body".into(),
        message: format!("not a Slack event: {err}"),
    })?;
    match envelope["type"].as_str() {
        Some("url_verification") => {
            let challenge = envelope["challenge"].as_str().unwrap_or_default();
            Ok(Json(json!({ "challenge": challenge })).into_response())
        }
        Some("event_callback") => {
            let retry = headers
                .get("x-slack-retry-num")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("0");
            let event_id = envelope["event_id"].as_str().unwrap_or_default();
            let span = tracing::info_span!("slack.event", slack.event_id = %event_id,
                slack.retry = %retry);
            tracing::Instrument::instrument(capture_note(&state, &envelope), span).await?;
            Ok(axum::http::StatusCode::OK.into_response())
        }
        other => {
            tracing::debug!(slack.type = ?other, "Slack event type ignored");
            Ok(axum::http::StatusCode::OK.into_response())
        }
    }
}

/// Adds the note an `event_callback` asks for, if it is a marked reply by a linked person
/// in an announcement thread; once per `event_id`.
async fn capture_note(state: &AppState, envelope: &Value) -> Result<(), AppError> {
    let config = state.config.current();
    let event = &envelope["event"];
    let field = |name: &str| event[name].as_str().unwrap_or_default();
    // Bots (ours included) and edits, joins, deletions… carry `bot_id` or a `subtype`.
    if field("type") != "message" || !event["bot_id"].is_null() || !event["subtype"].is_null() {
        return Ok(());
    }
    let (channel, thread_ts, ts, user) = (
        field("channel"),
        field("thread_ts"),
        field("ts"),
        field("user"),
    );
    // A thread's parent carries its own ts as `thread_ts`; only replies count.
    if thread_ts.is_empty() || thread_ts == ts {
        return Ok(());
    }
    let Some(marked) = events::marked_note(field("text")) else {
        return Ok(());
    };
    let event_id = envelope["event_id"].as_str().unwrap_or_default();
    if event_id.is_empty() {
        tracing::warn!("Slack event without event_id ignored");
        return Ok(());
    }
    let Some(incident_id) =
        slack_store::incident_by_announcement(&state.store, channel, thread_ts).await?
    else {
        tracing::debug!("marked message outside any announcement thread ignored");
        return Ok(());
    };
    let Some(person) = person_by_slack(state, user) else {
        // TODO(#5): tell the author how to link their account (an ephemeral message).
        tracing::info!(
            slack.user = %command_safe(user),
            "note from an unlinked Slack user ignored"
        );
        return Ok(());
    };
    let capture = slack_store::Capture {
        event_id: event_id.to_string(),
        incident_id: incident_id.clone(),
        channel: channel.to_string(),
        ts: ts.to_string(),
        actor: person.id.clone(),
        text: marked.text.clone(),
    };
    let now = state.clock.now();
    if !slack_store::claim_event(&state.store, &capture, now).await? {
        tracing::info!("Slack event already taken; retry ignored");
        return Ok(());
    }
    let change = Change::Note {
        text: marked.text,
        key: marked.key,
        at: None,
    };
    let by = IncidentRef::Id(incident_id);
    match workflow::change(
        &state.store,
        &config,
        &by,
        change,
        &person.id,
        Source::Slack,
        now,
    )
    .await
    {
        Ok(changed) => {
            if let Some(event) = changed.event {
                slack_store::captured_as(&state.store, event_id, event.seq).await?;
                tracing::info!(
                    incident.number = changed.incident.number,
                    person = %person.id,
                    key = marked.key,
                    "note captured from Slack"
                );
            }
            state.wake.notify_one();
            Ok(())
        }
        Err(IncidentError::Refused(refused)) => {
            // Too long, say: a retry would be refused the same way, so the claim stays.
            tracing::info!(reason = %refused.message, "note from Slack refused");
            Ok(())
        }
        Err(err) => {
            if let Err(release) = slack_store::release_event(&state.store, event_id).await {
                tracing::warn!(error = %release, "could not release the Slack event");
            }
            Err(err.into())
        }
    }
}

/// App mode's settings, or 404 when Slack app mode is off.
fn app_mode(state: &AppState) -> Result<SlackSettings, AppError> {
    let config = state.config.current();
    config
        .settings
        .slack
        .clone()
        .filter(|s| s.bot_token.is_some() && s.signing_secret.is_some())
        .ok_or(AppError::NotFound)
}

/// §2.2, before anything reads the body; a replay of a request already taken is refused.
async fn verified(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<(), AppError> {
    let slack = app_mode(state)?;
    let secret = slack.signing_secret.as_ref().ok_or(AppError::NotFound)?;
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    verify::verify(
        secret.expose_secret().as_bytes(),
        header(verify::TIMESTAMP_HEADER),
        header(verify::SIGNATURE_HEADER),
        body,
        state.clock.now(),
    )
    .map_err(|err| {
        tracing::warn!(reason = %err, "Slack request refused");
        AppError::Unauthorized
    })?;
    let signature = header(verify::SIGNATURE_HEADER).unwrap_or_default();
    // A request verifies for 300 s either side of its timestamp; remembering each taken
    // signature in the database for 600 s means a captured request cannot be replayed to
    // declare or act twice, on any instance, even across a restart.
    if !slack_store::first_request(&state.store, signature, state.clock.now()).await? {
        tracing::warn!("Slack request refused: a replay of one already taken");
        return Err(AppError::Unauthorized);
    }
    Ok(())
}

fn ephemeral(text: &str) -> Value {
    json!({"response_type": "ephemeral", "text": text})
}

/// The person linked to a Slack member id.
// TODO(#5): also link by `users.lookupByEmail` (§2.1) for people without `slack_id`.
fn person_by_slack(state: &AppState, slack_id: &str) -> Option<Person> {
    let config = state.config.current();
    config
        .people
        .values()
        .find(|p| p.slack_id.as_deref() == Some(slack_id))
        .cloned()
}

fn link_your_account(user_id: &str) -> String {
    format!(
        "Link your account first: add `slack_id = \"{}\"` to your `[[person]]` in team.toml \
         and restart dutybell.",
        command_safe(user_id)
    )
}

/// A Slack id we echo back: only the characters ids have.
fn command_safe(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(32)
        .collect()
}

/// Runs `work` in a task and waits up to [`DEADLINE`] for its reply. A reply that comes
/// later goes to `response_url` instead (ephemeral).
async fn within_deadline(
    state: &AppState,
    response_url: Option<String>,
    work: impl Future<Output = String> + Send + 'static,
) -> String {
    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    let api_base = app_mode(state)
        .map(|s| s.api_base.clone())
        .unwrap_or_default();
    let clock = state.clock.clone();
    tokio::spawn(async move {
        let reply = work.await;
        if let Err(reply) = tx.send(reply)
            && let Some(url) = response_url
        {
            reply_later(&api_base, &url, &ephemeral(&reply), clock.now()).await;
        }
    });
    match tokio::time::timeout(DEADLINE, rx).await {
        Ok(Ok(reply)) => reply,
        Ok(Err(_)) => "Something went wrong; the error is logged.".into(),
        Err(_) => "Working on it…".into(),
    }
}

/// Posts to a `response_url`, if it points at Slack (or the configured API host).
async fn reply_later(api_base: &str, url: &str, body: &Value, now: Timestamp) {
    if !slack_api::response_url_allowed(url, api_base) {
        tracing::warn!("response_url is not Slack's; reply dropped");
        return;
    }
    if let Err(err) = slack_api::respond(&slack_api::http_client(), url, body, now).await {
        tracing::warn!(error = %err, "reply through response_url failed");
    }
}

/// `/incident …`: answers an ephemeral message, or an empty 200 once the declare modal
/// is open.
async fn commands(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    verified(&state, &headers, &body).await?;
    let fields = form::parse(&body);
    let user_id = form::field(&fields, "user_id")
        .unwrap_or_default()
        .to_string();
    let text = form::field(&fields, "text").unwrap_or_default();
    let response_url = form::field(&fields, "response_url").map(str::to_string);

    let command = match command::parse(text) {
        Ok(command) => command,
        Err(err) => {
            let text = format!("{}\nSee `/incident help`.", mrkdwn(&err.0));
            return Ok(Json(ephemeral(&text)).into_response());
        }
    };
    let reply = match command {
        Command::Help => HELP.to_string(),
        Command::DeclareModal { .. } if person_by_slack(&state, &user_id).is_none() => {
            link_your_account(&user_id)
        }
        Command::DeclareModal { title } => {
            let origin = Origin {
                channel: form::field(&fields, "channel_id").map(str::to_string),
                response_url,
                incident: None,
            };
            let trigger_id = form::field(&fields, "trigger_id").unwrap_or_default();
            match open_declare_modal(&state, trigger_id, title.as_deref(), &origin).await {
                Ok(()) => return Ok(().into_response()),
                Err(err) => {
                    tracing::warn!(error = %err, "could not open the declare modal");
                    declare_usage(title.as_deref())
                }
            }
        }
        command => match person_by_slack(&state, &user_id) {
            None => link_your_account(&user_id),
            Some(person) => {
                let person = person.id.clone();
                let channel = form::field(&fields, "channel_id").map(str::to_string);
                let task = state.clone();
                within_deadline(&state, response_url, async move {
                    run_command(&task, command, &person, channel.as_deref()).await
                })
                .await
            }
        },
    };
    Ok(Json(ephemeral(&reply)).into_response())
}

/// Where a modal was opened from, kept in its `private_metadata` (§2.3) so that the
/// submission can answer there.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Origin {
    channel: Option<String>,
    response_url: Option<String>,
    /// The incident an update or publish modal is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    incident: Option<String>,
}

/// `views.open` of the declare modal, within [`OPEN_VIEW_TIMEOUT`].
async fn open_declare_modal(
    state: &AppState,
    trigger_id: &str,
    title: Option<&str>,
    origin: &Origin,
) -> Result<(), slack_api::SlackError> {
    let config = state.config.current();
    let api = web_api(state)?;
    let services: Vec<(String, String)> = config
        .services
        .values()
        .map(|s| (s.id.clone(), s.name.clone()))
        .collect();
    let metadata = serde_json::to_string(origin)
        .map_err(|err| slack_api::SlackError::Reject(format!("private_metadata: {err}")))?;
    let view = blocks::declare_modal(title, &services, &metadata);
    let view_id = api
        .open_view(trigger_id, &view, OPEN_VIEW_TIMEOUT, state.clock.now())
        .await?;
    tracing::info!(slack.view_id = %command_safe(&view_id), "declare modal opened");
    Ok(())
}

/// The Web API with the bot token. `verified` let the request in, so app mode is on and
/// the token is there.
fn web_api(state: &AppState) -> Result<slack_api::SlackApi, slack_api::SlackError> {
    let off = || slack_api::SlackError::Unhealthy("Slack app mode is off".into());
    let slack = app_mode(state).map_err(|_| off())?;
    let token = slack.bot_token.clone().ok_or_else(off)?;
    Ok(slack_api::SlackApi::new(
        slack_api::http_client(),
        &slack.api_base,
        token,
    ))
}

/// `views.open` of the update or publish modal (§2.5) for the clicked incident.
async fn open_incident_modal(
    state: &AppState,
    action_id: &str,
    trigger_id: &str,
    origin: &Origin,
) -> anyhow::Result<()> {
    let id = origin.incident.clone().unwrap_or_default();
    let incident = incidents::get(&state.store, &IncidentRef::Id(id)).await?;
    let metadata = serde_json::to_string(origin)?;
    let view = if action_id == action::UPDATE {
        blocks::update_modal(&incident, &metadata)
    } else {
        let published = incident.public_incident_id.is_some();
        blocks::publish_modal(&incident, published, &metadata)
    };
    let api = web_api(state)?;
    let view_id = api
        .open_view(trigger_id, &view, OPEN_VIEW_TIMEOUT, state.clock.now())
        .await?;
    tracing::info!(slack.view_id = %command_safe(&view_id), slack.action = action_id,
        "incident modal opened");
    Ok(())
}

fn declare_usage(title: Option<&str>) -> String {
    let title = title.map_or_else(|| "&lt;title&gt;".to_string(), mrkdwn);
    format!(
        "Say how bad it is to declare it now: `/incident p1 {title}` (outage), `p2` (major \
         degradation) or `p3` (minor). See `/incident help`."
    )
}

/// Runs `command` for `person`, typed in `channel`.
async fn run_command(
    state: &AppState,
    command: Command,
    person: &str,
    channel: Option<&str>,
) -> String {
    match execute(state, command, person, channel).await {
        Ok(reply) => reply,
        Err(Failure::Tell(message)) => message,
        Err(Failure::Internal(err)) => {
            tracing::error!(error = format!("{err:#}"), "Slack command failed");
            "Something went wrong; the error is logged.".into()
        }
    }
}

/// Why a command or click did not do what was asked.
enum Failure {
    /// The person can fix it; the message says how.
    Tell(String),
    Internal(anyhow::Error),
}

impl From<IncidentError> for Failure {
    fn from(err: IncidentError) -> Failure {
        match err {
            IncidentError::Refused(refused) => Failure::Tell(mrkdwn(&refused.message)),
            IncidentError::Store(err) => err.into(),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(err: StoreError) -> Failure {
        match err {
            StoreError::NotFound => Failure::Tell("No such incident.".into()),
            StoreError::Conflict(message) => Failure::Tell(mrkdwn(&message)),
            other => Failure::Internal(other.into()),
        }
    }
}

async fn execute(
    state: &AppState,
    command: Command,
    person: &str,
    channel: Option<&str>,
) -> Result<String, Failure> {
    let config = state.config.current();
    let (target, change, done) = match command {
        Command::Declare { severity, title } => {
            return declare(state, severity, title, person).await;
        }
        Command::List => return list(state).await,
        Command::Action { target, text } => {
            // An action item (§6.4) owned by whoever typed it; type `prevent` until edited.
            let by = target_incident(state, target.or(own_channel(state, channel).await?)).await?;
            let new = crate::engine::postmortems::NewItem {
                title: text,
                owner: Some(person.to_string()),
                due: None,
                kind: crate::domain::postmortem::ItemType::Prevent,
                ticket_url: None,
            };
            let now = state.clock.now();
            let item = crate::engine::postmortems::add_item(
                &state.store,
                &config,
                &by,
                new,
                person,
                Source::Slack,
                now,
            )
            .await?;
            state.wake.notify_one();
            return Ok(format!(
                "#{}: action item {} added, owner you.",
                item.incident_number, item.id
            ));
        }
        Command::Update { target, text } => (target, Change::Update { text }, "update posted"),
        Command::Status { target, to, text } => {
            (target, Change::Status { to, text }, "status changed")
        }
        Command::Severity { target, to } => (target, Change::Severity(to), "severity changed"),
        Command::Commander { target, user } => {
            let who = someone(state, user.as_deref(), person)?;
            (target, Change::Commander(who), "commander changed")
        }
        Command::Comms { target, user } => {
            let who = someone(state, user.as_deref(), person)?;
            (target, Change::CommsLead(Some(who)), "comms lead set")
        }
        Command::Note { target, key, text } => (
            target,
            Change::Note {
                text,
                key,
                at: None,
            },
            "note added",
        ),
        Command::Public {
            target,
            status,
            text,
        } => {
            return public(
                state,
                target.or(own_channel(state, channel).await?),
                status,
                text,
                person,
            )
            .await;
        }
        Command::Help | Command::DeclareModal { .. } => return Ok(HELP.into()),
    };
    let target = target.or(own_channel(state, channel).await?);
    let by = target_incident(state, target).await?;
    let now = state.clock.now();
    let changed = workflow::change(
        &state.store,
        &config,
        &by,
        change,
        person,
        Source::Slack,
        now,
    )
    .await?;
    state.wake.notify_one();
    let number = changed.incident.number;
    Ok(match changed.event {
        Some(_) => format!("#{number}: {done}."),
        None => format!("#{number}: nothing to change."),
    })
}

/// Publishes the incident to the status page, or posts a public update once it is.
async fn public(
    state: &AppState,
    target: Option<i64>,
    status: Option<PublicStatus>,
    text: String,
    person: &str,
) -> Result<String, Failure> {
    let by = target_incident(state, target).await?;
    publish(state, &by, None, status, text, person).await
}

/// Posts to the status page for `by`: the first time under `name` (default: the title).
async fn publish(
    state: &AppState,
    by: &IncidentRef,
    name: Option<String>,
    status: Option<PublicStatus>,
    text: String,
    person: &str,
) -> Result<String, Failure> {
    let config = state.config.current();
    let now = state.clock.now();
    let post = PublicPost {
        name,
        body: text,
        status,
        ..PublicPost::default()
    };
    let posted =
        publishing::post(&state.store, &config, by, post, person, Source::Slack, now).await?;
    state.statuspage.changed(&state.store, &config, now).await;
    state.wake.notify_one();
    let url = format!(
        "{}/incidents/{}",
        crate::http::statuspage::page_url(&config),
        posted.public_id
    );
    Ok(format!(
        "Status page: {} ({}). <{}|Open>",
        crate::web::statuspage::label(posted.status.as_str()),
        if posted.affected.is_empty() {
            "no component changes".to_string()
        } else {
            format!("{} component(s) changed", posted.affected.len())
        },
        mrkdwn(&url)
    ))
}

async fn declare(
    state: &AppState,
    severity: crate::domain::incident::Severity,
    title: String,
    person: &str,
) -> Result<String, Failure> {
    let config = state.config.current();
    let request = DeclareRequest {
        title,
        severity: Some(severity.as_str().to_string()),
        summary: None,
        impact: None,
        commander: None,
        comms_lead: None,
        services: Vec::new(),
        page: None,
        test: false,
    };
    let now = state.clock.now();
    let incident = workflow::declare(
        &state.store,
        &config,
        request,
        person,
        Source::Slack,
        None,
        now,
    )
    .await?;
    state.wake.notify_one();
    Ok(declared_reply(state, &incident))
}

fn declared_reply(state: &AppState, incident: &Incident) -> String {
    let commander = if incident.commander == incident.declared_by {
        "You are the commander".to_string()
    } else {
        format!(
            "{} is the commander",
            mrkdwn(&name(state, &incident.commander))
        )
    };
    format!(
        "Declared #{} ({}). {commander}; the announcement follows in the incidents channel.",
        incident.number, incident.severity
    )
}

async fn list(state: &AppState) -> Result<String, Failure> {
    let open = incidents::list(&state.store, true).await?;
    if open.is_empty() {
        return Ok("No incident is open.".into());
    }
    let lines: Vec<String> = open.iter().map(|i| line(state, i)).collect();
    Ok(format!("Open incidents:\n{}", lines.join("\n")))
}

fn line(state: &AppState, incident: &Incident) -> String {
    let config = state.config.current();
    let commander = config
        .person(&incident.commander)
        .map_or(incident.commander.as_str(), |p| p.name.as_str());
    format!(
        "• #{} {} {}: {} (commander: {})",
        incident.number,
        incident.severity,
        incident.status,
        mrkdwn(&incident.title),
        mrkdwn(commander)
    )
}

/// The number of the incident whose own channel (§2.7) `channel` is, if it is one: there
/// `#N` may be left out even while several incidents are open.
async fn own_channel(state: &AppState, channel: Option<&str>) -> Result<Option<i64>, Failure> {
    let Some(channel) = channel else {
        return Ok(None);
    };
    let Some(id) = crate::store::slack::incident_of_channel(&state.store, channel).await? else {
        return Ok(None);
    };
    let incident = incidents::get(&state.store, &IncidentRef::Id(id)).await?;
    Ok(Some(incident.number))
}

/// `#N`, or the one open incident when it was left out (§2.3).
async fn target_incident(state: &AppState, target: Option<i64>) -> Result<IncidentRef, Failure> {
    if let Some(number) = target {
        return Ok(IncidentRef::Number(number));
    }
    let open = incidents::list(&state.store, true).await?;
    match open.as_slice() {
        [only] => Ok(IncidentRef::Id(only.id.clone())),
        [] => Err(Failure::Tell(
            "No incident is open; name one with `#N`.".into(),
        )),
        several => {
            let lines: Vec<String> = several.iter().map(|i| line(state, i)).collect();
            Err(Failure::Tell(format!(
                "Several incidents are open; add the number, like `#{}`:\n{}",
                several[0].number,
                lines.join("\n")
            )))
        }
    }
}

/// The person a mention names, or the caller.
fn someone(state: &AppState, slack_id: Option<&str>, caller: &str) -> Result<String, Failure> {
    let Some(slack_id) = slack_id else {
        return Ok(caller.to_string());
    };
    person_by_slack(state, slack_id)
        .map(|p| p.id.clone())
        .ok_or_else(|| {
            Failure::Tell(format!(
                "<@{}> has no dutybell account: add `slack_id` to their `[[person]]` in \
                 team.toml.",
                command_safe(slack_id)
            ))
        })
}

/// A button click (§2.5). Acts, then answers 200 with an empty body; anything to tell the
/// clicker goes through `response_url`, ephemeral.
async fn interactivity(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    verified(&state, &headers, &body).await?;
    let fields = form::parse(&body);
    let payload: Value = form::field(&fields, "payload")
        .and_then(|p| serde_json::from_str(p).ok())
        .ok_or_else(|| AppError::Invalid {
            field: "payload".into(),
            message: "payload is not JSON".into(),
        })?;
    match payload["type"].as_str() {
        Some("block_actions") => {}
        Some("view_submission") => return view_submission(&state, &payload).await,
        // Nothing to undo: a closed modal declared nothing.
        _ => return Ok(().into_response()),
    }
    let click = &payload["actions"][0];
    let action_id = click["action_id"].as_str().unwrap_or_default().to_string();
    let incident_id = click["value"].as_str().unwrap_or_default().to_string();
    let user_id = payload["user"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let response_url = payload["response_url"].as_str().map(str::to_string);
    tracing::info!(slack.action = %action_id, slack.user = %command_safe(&user_id),
        "Slack button clicked");

    let person = person_by_slack(&state, &user_id).map(|p| p.id.clone());
    // The trigger lives about 3 s: the modal opens before anything else.
    if person.is_some() && (action_id == action::UPDATE || action_id == action::PUBLISH) {
        let origin = Origin {
            channel: None,
            response_url: response_url.clone(),
            incident: Some(incident_id.clone()),
        };
        let trigger_id = payload["trigger_id"].as_str().unwrap_or_default();
        match open_incident_modal(&state, &action_id, trigger_id, &origin).await {
            Ok(()) => return Ok(().into_response()),
            // The click then answers with the command to type instead.
            Err(err) => tracing::warn!(error = format!("{err:#}"), "incident modal not opened"),
        }
    }
    let task = state.clone();
    let api_base = app_mode(&state)?.api_base.clone();
    let work = tokio::spawn(async move {
        let reply = match person {
            None => Some(link_your_account(&user_id)),
            Some(person) => click_reply(&task, &action_id, &incident_id, &person).await,
        };
        if let (Some(reply), Some(url)) = (reply, response_url) {
            let body = json!({"response_type": "ephemeral", "replace_original": false,
                              "text": reply});
            reply_later(&api_base, &url, &body, task.clock.now()).await;
        }
    });
    // The click's effect is usually done well within the deadline; if not, it finishes
    // in the background and Slack still gets its 200 in time.
    let _ = tokio::time::timeout(DEADLINE, work).await;
    Ok(().into_response())
}

async fn click_reply(
    state: &AppState,
    action_id: &str,
    incident_id: &str,
    person: &str,
) -> Option<String> {
    match click(state, action_id, incident_id, person).await {
        Ok(reply) => reply,
        Err(Failure::Tell(message)) => Some(message),
        Err(Failure::Internal(err)) => {
            tracing::error!(error = format!("{err:#}"), "Slack button failed");
            Some("Something went wrong; the error is logged.".into())
        }
    }
}

/// Does what the button says, after re-checking the incident (the `value` is only a
/// pointer, §2.5); `Some` is a message for the clicker.
async fn click(
    state: &AppState,
    action_id: &str,
    incident_id: &str,
    person: &str,
) -> Result<Option<String>, Failure> {
    let config = state.config.current();
    // `alert.ack`, `alert.resolve`, `alert.declare`: page DMs (§3.4); the value is an alert.
    if action_id.starts_with("alert.") {
        return super::slack_pages::click(state, action_id, incident_id, person)
            .await
            .map_err(Failure::Internal);
    }
    let by = IncidentRef::Id(incident_id.to_string());
    let incident = incidents::get(&state.store, &by).await?;
    let number = incident.number;
    let closed_reply = || stale(state, &incident);
    let now = state.clock.now();
    let change = match action_id {
        action::RESOLVE | action::CLAIM_COMMANDER | action::ACK if !incident.status.is_open() => {
            return Ok(Some(closed_reply().await?));
        }
        action::RESOLVE => Change::Status {
            to: Status::Resolved,
            text: None,
        },
        action::CLAIM_COMMANDER if incident.commander == person => {
            return Ok(Some(format!("You are already the commander of #{number}.")));
        }
        action::CLAIM_COMMANDER => Change::Commander(person.to_string()),
        action::ACK => match ack_pages(state, &incident, person, now).await? {
            0 => Change::Note {
                text: format!("{} is responding.", name(state, person)),
                key: false,
                at: None,
            },
            acked => {
                state.wake.notify_one();
                return Ok(Some(format!("Acknowledged {acked} alert(s) of #{number}.")));
            }
        },
        // Reached only when the modal could not be opened.
        action::UPDATE => {
            return Ok(Some(format!(
                "Post an update with `/incident update #{number} <text>`."
            )));
        }
        action::PUBLISH => {
            return Ok(Some(format!(
                "Publish with `/incident public #{number} [status] <message>`."
            )));
        }
        other => {
            tracing::warn!(slack.action = %other, "unknown Slack action");
            return Ok(None);
        }
    };
    let changed = workflow::change(
        &state.store,
        &config,
        &by,
        change,
        person,
        Source::Slack,
        now,
    )
    .await?;
    state.wake.notify_one();
    Ok(changed
        .event
        .is_none()
        .then(|| format!("#{number}: nothing to change.")))
}

/// Acks the unacked alerts attached to the incident as `person`; how many.
async fn ack_pages(
    state: &AppState,
    incident: &Incident,
    person: &str,
    now: Timestamp,
) -> Result<usize, Failure> {
    let via = format!("slack incident #{}", incident.number);
    let mut acked = 0;
    for &alert in &incident.alerts {
        match alerts::acknowledge(&state.store, alert, person, &via, now).await {
            Ok(Transition::Changed) => acked += 1,
            Ok(Transition::Unchanged) | Err(StoreError::Conflict(_)) => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(acked)
}

/// "Already resolved by Ana at 14:31 UTC" for a click on an incident that moved on.
async fn stale(state: &AppState, incident: &Incident) -> Result<String, Failure> {
    let timeline = incidents::timeline(&state.store, &incident.id).await?;
    let status = incident.status.as_str();
    let last = timeline
        .iter()
        .rev()
        .find(|e| e.kind == "status.changed" && e.data["to"] == status);
    Ok(match last {
        Some(event) => format!(
            "#{} is already {status} by {} at {} UTC.",
            incident.number,
            name(state, &event.actor),
            event.occurred_at.strftime("%H:%M")
        ),
        None => format!("#{} is already {status}.", incident.number),
    })
}

fn name(state: &AppState, person: &str) -> String {
    let config = state.config.current();
    config
        .person(person)
        .map_or_else(|| person.to_string(), |p| p.name.clone())
}

/// What the declare modal's inputs hold (`view.state.values`).
struct Submitted {
    title: Result<String, String>,
    severity: Option<String>,
    summary: Option<String>,
    impact: Option<String>,
    services: Vec<String>,
    /// The Slack member picked as commander, if any.
    commander: Option<String>,
    page: bool,
}

impl Submitted {
    fn read(view: &Value) -> Submitted {
        let values = &view["state"]["values"];
        let input = |block: &str| &values[block][modal::VALUE];
        let text = |block: &str| {
            input(block)["value"]
                .as_str()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
        };
        let selected = |block: &str| -> Vec<String> {
            input(block)["selected_options"]
                .as_array()
                .map(|options| {
                    options
                        .iter()
                        .filter_map(|o| o["value"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let title = crate::domain::incident::check_title(
            input(modal::TITLE)["value"].as_str().unwrap_or_default(),
        );
        Submitted {
            title,
            severity: input(modal::SEVERITY)["selected_option"]["value"]
                .as_str()
                .map(str::to_string),
            summary: text(modal::SUMMARY),
            impact: text(modal::IMPACT),
            services: selected(modal::SERVICES),
            commander: input(modal::COMMANDER)["selected_user"]
                .as_str()
                .filter(|u| !u.is_empty())
                .map(str::to_string),
            page: selected(modal::PAGE).iter().any(|v| v == modal::PAGE_ON),
        }
    }
}

/// `{"response_action":"errors"}` (§2.3): Slack shows each message under its block and
/// keeps the modal open.
fn view_errors(errors: &[(&str, String)]) -> Response {
    let errors: serde_json::Map<String, Value> = errors
        .iter()
        .map(|(block, message)| ((*block).to_string(), json!(message)))
        .collect();
    Json(json!({"response_action": "errors", "errors": errors})).into_response()
}

/// The block of the declare modal a refused field belongs to.
fn block_of(field: &str) -> &'static str {
    match field {
        "severity" => modal::SEVERITY,
        "summary" => modal::SUMMARY,
        "impact" => modal::IMPACT,
        "services" => modal::SERVICES,
        "commander" => modal::COMMANDER,
        _ => modal::TITLE,
    }
}

/// A submitted modal (§2.3, §2.5), validated before answering: errors keep the modal open;
/// an empty 200 closes it, and the confirmation follows through the stored `response_url`.
async fn view_submission(state: &AppState, payload: &Value) -> Result<Response, AppError> {
    let config = state.config.current();
    let view = &payload["view"];
    match view["callback_id"].as_str() {
        Some(modal::CALLBACK_ID) => {}
        Some(blocks::update::CALLBACK_ID | blocks::publish::CALLBACK_ID) => {
            return incident_submission(state, payload).await;
        }
        _ => {
            tracing::warn!(slack.callback_id = ?view["callback_id"], "unknown Slack view");
            return Ok(().into_response());
        }
    }
    let submitted = Submitted::read(view);
    let mut errors = Vec::new();
    if let Err(message) = &submitted.title {
        errors.push((modal::TITLE, format!("{}.", capitalized(message))));
    }
    if submitted.severity.is_none() {
        errors.push((modal::SEVERITY, "Choose a severity.".to_string()));
    }
    if !errors.is_empty() {
        return Ok(view_errors(&errors));
    }
    let user_id = payload["user"]["id"].as_str().unwrap_or_default();
    let Some(person) = person_by_slack(state, user_id).map(|p| p.id.clone()) else {
        return Ok(view_errors(&[(modal::TITLE, link_your_account(user_id))]));
    };
    let Submitted {
        title,
        severity,
        summary,
        impact,
        services,
        commander,
        page,
    } = submitted;
    let commander = match commander {
        None => None,
        Some(member) => match person_by_slack(state, &member) {
            Some(chosen) => Some(chosen.id.clone()),
            None => {
                let message = format!(
                    "<@{}> has no dutybell account: add `slack_id` to their `[[person]]`.",
                    command_safe(&member)
                );
                return Ok(view_errors(&[(modal::COMMANDER, message)]));
            }
        },
    };
    let request = DeclareRequest {
        title: title.unwrap_or_default(),
        severity,
        summary,
        impact,
        commander,
        comms_lead: None,
        services,
        // Checked: page as the severity says (P1/P2); unchecked: never.
        page: if page { None } else { Some(false) },
        test: false,
    };
    let now = state.clock.now();
    let declared = workflow::declare(
        &state.store,
        &config,
        request,
        &person,
        Source::Slack,
        None,
        now,
    )
    .await;
    let incident = match declared {
        Ok(incident) => incident,
        Err(IncidentError::Refused(refused)) => {
            let message = refused.message.clone();
            return Ok(view_errors(&[(block_of(refused.field), message)]));
        }
        Err(IncidentError::Store(err)) => return Err(err.into()),
    };
    state.wake.notify_one();
    tracing::info!(incident.number = incident.number, person = %person,
        "incident declared from the Slack modal");
    let origin: Origin = view["private_metadata"]
        .as_str()
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_default();
    if let Some(url) = origin.response_url {
        let api_base = app_mode(state)?.api_base.clone();
        let clock = state.clock.clone();
        let text = declared_reply(state, &incident);
        // After the empty 200: Slack closes the modal on that answer, not on this one.
        tokio::spawn(async move {
            reply_later(&api_base, &url, &ephemeral(&text), clock.now()).await;
        });
    }
    Ok(().into_response())
}

/// A submitted update or publish modal (§2.5): checked before answering, so a refusal
/// keeps the modal open with the reason under the field; the confirmation follows through
/// the click's `response_url`.
async fn incident_submission(state: &AppState, payload: &Value) -> Result<Response, AppError> {
    let config = state.config.current();
    let view = &payload["view"];
    let values = &view["state"]["values"];
    let text = |block: &str| {
        values[block][modal::VALUE]["value"]
            .as_str()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
    };
    let update = view["callback_id"] == blocks::update::CALLBACK_ID;
    let body_block = if update {
        blocks::update::TEXT
    } else {
        blocks::publish::BODY
    };
    let Some(body) = text(body_block) else {
        return Ok(view_errors(&[(body_block, "Write the message.".into())]));
    };
    let user_id = payload["user"]["id"].as_str().unwrap_or_default();
    let Some(person) = person_by_slack(state, user_id).map(|p| p.id.clone()) else {
        return Ok(view_errors(&[(body_block, link_your_account(user_id))]));
    };
    let origin: Origin = view["private_metadata"]
        .as_str()
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_default();
    let by = IncidentRef::Id(origin.incident.unwrap_or_default());
    let done = if update {
        let change = Change::Update { text: body };
        let now = state.clock.now();
        workflow::change(
            &state.store,
            &config,
            &by,
            change,
            &person,
            Source::Slack,
            now,
        )
        .await
        .map(|changed| format!("#{}: update posted.", changed.incident.number))
        .map_err(Failure::from)
    } else {
        let status = values[blocks::publish::STATUS][modal::VALUE]["selected_option"]["value"]
            .as_str()
            .and_then(|v| serde_json::from_value::<PublicStatus>(json!(v)).ok());
        let name = text(blocks::publish::NAME);
        publish(state, &by, name, status, body, &person).await
    };
    let reply = match done {
        Ok(reply) => reply,
        Err(Failure::Tell(message)) => return Ok(view_errors(&[(body_block, message)])),
        Err(Failure::Internal(err)) => {
            tracing::error!(error = format!("{err:#}"), "Slack modal failed");
            let message = "Something went wrong; the error is logged.".to_string();
            return Ok(view_errors(&[(body_block, message)]));
        }
    };
    state.wake.notify_one();
    if let Some(url) = origin.response_url {
        let api_base = app_mode(state)?.api_base.clone();
        let clock = state.clock.clone();
        tokio::spawn(async move {
            reply_later(&api_base, &url, &ephemeral(&reply), clock.now()).await;
        });
    }
    Ok(().into_response())
}

/// "the title must…" → "The title must…".
fn capitalized(message: &str) -> String {
    let mut chars = message.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}
