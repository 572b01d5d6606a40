//! Discord pages that follow their alert (comms spec §3.6).
//!
//! `engine::outbox` hands pages to Discord contacts to [`send`]: the webhook is called with
//! `wait=true`, and the message id Discord answers with is kept in `page_messages` (kind
//! `discord`) with the alert state it shows. [`run_once`] then PATCHes every kept message
//! whose alert moved on, whichever surface moved it: the ack and resolve links give way to
//! "Acked by Ana Ruiz at 14:05 UTC", or come back if the alert triggers again. Transient
//! failures (429 with its `retry_after`, 5xx, network) retry on the outbox's schedule; a
//! permanent one (the message or webhook is gone) lands on the alert's timeline as
//! `notification_failed`, and the message keeps its old look.

use jiff::Timestamp;
use tracing::Instrument as _;

use super::Engine;
use crate::config::{ChannelKind, Contact};
use crate::notify::{NotifyError, Page, discord};
use crate::store::alerts;
use crate::store::outbox::PendingPage;
use crate::store::page_messages::{self, Edited, NewMessage, Shown, Stale};

/// `page_messages.kind` for this channel.
const KIND: &str = "discord";
/// Stale messages looked at per pass.
const EDIT_LIMIT: i64 = 100;

/// Posts `message` through `contact`'s webhook. A single page (`shown`: the alert as
/// rendered) is kept for later edits; a bundle is not (it follows no one alert). The inner
/// result is the send's, for the outbox; the outer one a storage failure.
pub async fn send(
    engine: &Engine,
    row: &PendingPage,
    contact: &Contact,
    message: &Page,
    shown: Option<&Shown>,
    now: Timestamp,
) -> anyhow::Result<Result<(), NotifyError>> {
    use anyhow::Context as _;
    let http = engine.notifiers.http();
    let id = match discord::post(http, contact.endpoint(), &discord::body(message), now).await {
        Ok(id) => id,
        Err(err) => return Ok(Err(err)),
    };
    match (id, shown) {
        (Some(id), Some(shown)) => {
            let new = NewMessage {
                kind: KIND,
                channel: &contact.address,
                ts: &id,
                alert_id: row.alert_id,
                person_id: &row.person_id,
                member: "",
                outbox_id: &row.id,
                shown,
            };
            page_messages::insert(&engine.store, &new, now)
                .await
                .context("storing the Discord message")?;
        }
        (None, Some(_)) => {
            tracing::warn!("Discord named no message id; this page cannot be edited later");
        }
        (_, None) => {}
    }
    Ok(Ok(()))
}

/// One pass at `now`: edits the kept messages whose alert moved on. Returns how many
/// edits were attempted.
pub async fn run_once(engine: &Engine, now: Timestamp) -> anyhow::Result<usize> {
    let stale = page_messages::stale(&engine.store, KIND, now, EDIT_LIMIT).await?;
    for message in &stale {
        let span = tracing::info_span!("discord_page_edit", alert.id = message.alert_id,
            user.id = %message.person_id);
        edit(engine, message, now).instrument(span).await?;
    }
    Ok(stale.len())
}

/// The person's Discord contact a message went through, if it is still configured.
fn contact<'a>(engine: &'a Engine, message: &Stale) -> Option<&'a Contact> {
    engine.config.person(&message.person_id).and_then(|person| {
        person
            .contacts
            .iter()
            .find(|c| c.kind == ChannelKind::Discord && c.address == message.channel)
    })
}

/// Brings one message in step with its alert.
async fn edit(engine: &Engine, message: &Stale, now: Timestamp) -> anyhow::Result<()> {
    let store = &engine.store;
    let alert = alerts::get(store, message.alert_id).await?;
    let shown = Shown::of(&alert);
    let Some(contact) = contact(engine, message) else {
        let outcome = Edited::Failed {
            error: "contact method no longer configured",
        };
        page_messages::edited(store, message, &shown, &outcome, now).await?;
        return Ok(());
    };
    let page = super::outbox::render_kept(engine, message, &alert, contact.address.clone(), now);
    let body = match super::slack_pages::settled(&engine.config, &alert) {
        Some(settled) => discord::settled_body(&page, &settled.line()),
        None => discord::body(&page),
    };
    let http = engine.notifiers.http();
    let edited = discord::edit(http, contact.endpoint(), &message.ts, &body, now).await;
    let attempts = usize::try_from(message.attempts).unwrap_or(usize::MAX);
    match (edited, super::outbox::RETRY_SCHEDULE.get(attempts)) {
        (Ok(()), _) => {
            tracing::info!(
                alert.state = alert.state.as_str(),
                "Discord message updated"
            );
            page_messages::edited(store, message, &shown, &Edited::Done, now).await?;
        }
        (Err(NotifyError::Retry { error, after }), Some(planned)) => {
            let wait = after
                .and_then(|after| jiff::SignedDuration::try_from(after).ok())
                .unwrap_or(*planned);
            tracing::warn!(error = %error, attempt = attempts + 1, retry_in_s = wait.as_secs(),
                "Discord edit failed; will retry");
            let at = now.saturating_add(wait).unwrap_or(now);
            page_messages::retry_at(store, message, at, &error).await?;
        }
        (Err(err), _) => {
            let text = err.to_string();
            tracing::error!(error = %text, "Discord edit failed for good");
            let outcome = Edited::Failed { error: &text };
            page_messages::edited(store, message, &shown, &outcome, now).await?;
        }
    }
    Ok(())
}

/// When the next pass has messages to edit (for the engine's next due time).
pub async fn next_due(engine: &Engine) -> anyhow::Result<Option<Timestamp>> {
    let none = jiff::SignedDuration::ZERO;
    Ok(page_messages::next_due_at(&engine.store, KIND, none).await?)
}
