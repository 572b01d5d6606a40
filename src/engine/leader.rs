//! Which instance does the background work (issue #8).
//!
//! On SQLite one process owns the database, so it always leads. On Postgres several
//! instances share one database: the one holding a session-level advisory lock
//! ([`LOCK_KEY`]) on a connection of its own runs engine passes and probes; the others
//! serve HTTP and intake and stand by. When the leader dies, even by `kill -9`, its
//! connection closes, Postgres drops the lock, and a standby takes it within
//! [`STANDBY_POLL`]. A leader that freezes or is cut off keeps its socket open; its session
//! ends after [`IDLE_SESSION_TIMEOUT`] without a check, and a leader whose check gets no
//! answer within three seconds stops leading by itself. Due work is all in the database,
//! so the new leader resumes where the old one stopped; a message the old leader sent but
//! had not yet recorded goes out once more with the same delivery id (`dutybell-delivery`),
//! which receivers can deduplicate.
//!
//! Intake and acks on any instance must wake the leader: [`relay`] turns this process's
//! local pokes into a Postgres `NOTIFY`, and every instance `LISTEN`s and wakes its engine.
//! Writers on every instance are serialised by a transaction-level advisory lock taken in
//! `Store::begin`, the Postgres counterpart of SQLite's `BEGIN IMMEDIATE`.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use sqlx::Connection as _;
use sqlx::postgres::{PgConnection, PgListener};
use tokio::sync::{Notify, watch};

use crate::store::{Backend, Store};

/// The session advisory lock the leader holds (an arbitrary constant: "dutybell" in ASCII,
/// truncated to fit a signed 64-bit key).
pub const LOCK_KEY: i64 = 0x6475_7479_6265_6c6c;
/// How often a standby tries to take the lead, and the leader checks it still holds it.
pub const STANDBY_POLL: Duration = Duration::from_secs(1);
/// How long the lock's session may sit idle before Postgres ends it, so a frozen or
/// cut-off leader loses the lead this long after its last check.
pub const IDLE_SESSION_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one check may take before this instance counts the lock as lost.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);
/// The Postgres notification channel for wake-ups.
pub const WAKE_CHANNEL: &str = "dutybell_wake";

/// [`LOCK_KEY`] as `pg_locks` shows a held bigint advisory lock: `classid` the high 32
/// bits, `objid` the low 32 bits.
pub fn lock_key_halves() -> (i64, i64) {
    (LOCK_KEY >> 32, LOCK_KEY & 0xffff_ffff)
}

/// Whether this instance leads now; engine and probes check it before each pass.
pub type Lead = watch::Receiver<bool>;

/// Leadership before it starts: leading on SQLite, standing by on Postgres.
pub fn channel(store: &Store) -> (watch::Sender<bool>, Lead) {
    watch::channel(store.backend() == Backend::Sqlite)
}

/// Starts contending for the lead on Postgres over `url`, publishing through `lead`, until
/// `stop` turns true. SQLite's lead is constant and needs nothing.
pub fn start(store: &Store, url: &str, lead: watch::Sender<bool>, stop: watch::Receiver<bool>) {
    if store.backend() == Backend::Postgres {
        // From here the engine's writes need the lead (`Store::begin`).
        let fence = store.fence();
        fence.store(crate::store::NOT_LEADING, Ordering::SeqCst);
        tokio::spawn(contend(url.to_owned(), lead, fence, stop));
    }
}

/// Completes when leadership changes; never when it cannot (SQLite's constant lead).
pub async fn changed(lead: &mut Lead) {
    if lead.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Holds or tries the lock every [`STANDBY_POLL`], publishing whether this instance leads.
async fn contend(
    url: String,
    lead: watch::Sender<bool>,
    fence: Arc<AtomicI32>,
    mut stop: watch::Receiver<bool>,
) {
    let mut conn: Option<PgConnection> = None;
    // Failures in a row: only the first of a run is logged as a warning.
    let mut failures = 0u32;
    loop {
        let was_leading = *lead.borrow();
        let checked = tokio::time::timeout(CHECK_TIMEOUT, check(&url, &mut conn, was_leading));
        let leading = match checked.await {
            Ok(Ok(leading)) => {
                failures = 0;
                leading
            }
            outcome => {
                let error = match outcome {
                    Ok(Err(err)) => err.to_string(),
                    _ => format!("no answer within {} s", CHECK_TIMEOUT.as_secs()),
                };
                if failures == 0 {
                    tracing::warn!(error = %error, "leader lock connection failed");
                } else {
                    tracing::debug!(error = %error, failures, "leader lock connection failed");
                }
                failures = failures.saturating_add(1);
                // Dropping the connection ends the session, and with it any lock it held.
                conn = None;
                false
            }
        };
        if leading != was_leading {
            tracing::info!(leading, "engine leadership changed");
            // The fence moves first: a pass still running writes nothing once it is down.
            let pid = match (leading, conn.as_mut()) {
                (true, Some(conn)) => sqlx::query_scalar("SELECT pg_backend_pid()")
                    .fetch_one(conn)
                    .await
                    .unwrap_or(crate::store::NOT_LEADING),
                _ => crate::store::NOT_LEADING,
            };
            fence.store(pid, Ordering::SeqCst);
            lead.send_replace(leading && pid != crate::store::NOT_LEADING);
        }
        tokio::select! {
            () = tokio::time::sleep(STANDBY_POLL) => {}
            _ = stop.changed() => break,
        }
    }
    // Closing the connection hands the lead to a standby at once.
    if let Some(conn) = conn {
        conn.close().await.ok();
    }
}

/// One check: a leader confirms its connection still answers (the lock lives as long as
/// the session); a standby tries the lock.
async fn check(url: &str, conn: &mut Option<PgConnection>, leading: bool) -> sqlx::Result<bool> {
    if conn.is_none() {
        let mut fresh = PgConnection::connect(url).await?;
        // A leader that stops answering (frozen, cut off) must lose the lock although its
        // socket stays open: the server ends a session idle this long, and a live leader
        // pings every second.
        sqlx::query(&format!(
            "SET idle_session_timeout = '{}s'",
            IDLE_SESSION_TIMEOUT.as_secs()
        ))
        .execute(&mut fresh)
        .await?;
        *conn = Some(fresh);
    }
    let Some(conn) = conn.as_mut() else {
        return Ok(false);
    };
    if leading {
        sqlx::query("SELECT 1").execute(&mut *conn).await?;
        return Ok(true);
    }
    sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(LOCK_KEY)
        .fetch_one(conn)
        .await
}

/// On Postgres, forwards this process's pokes (`poke`, what handlers notify) to every
/// instance through `NOTIFY`, and wakes `engine_wake` on each notification received.
/// On SQLite the two are one `Notify` and nothing runs.
pub fn relay(
    store: &Store,
    url: &str,
    poke: Arc<Notify>,
    engine_wake: Arc<Notify>,
    stop: watch::Receiver<bool>,
) {
    if store.backend() != Backend::Postgres {
        return;
    }
    tokio::spawn(send_pokes(
        store.clone(),
        poke,
        engine_wake.clone(),
        stop.clone(),
    ));
    tokio::spawn(listen(url.to_owned(), engine_wake, stop));
}

async fn send_pokes(
    store: Store,
    poke: Arc<Notify>,
    engine_wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = poke.notified() => {}
            _ = stop.changed() => break,
        }
        engine_wake.notify_one();
        if let Err(err) = store.notify_instances(WAKE_CHANNEL).await {
            // The leader still polls; a lost wake-up only delays work.
            tracing::warn!(error = %err, "could not wake the other instances");
        }
    }
}

async fn listen(url: String, engine_wake: Arc<Notify>, mut stop: watch::Receiver<bool>) {
    loop {
        match PgListener::connect(&url).await {
            Ok(mut listener) => match listener.listen(WAKE_CHANNEL).await {
                Ok(()) => loop {
                    tokio::select! {
                        received = listener.recv() => match received {
                            Ok(_) => engine_wake.notify_one(),
                            Err(err) => {
                                tracing::warn!(error = %err, "wake-up listener failed");
                                break;
                            }
                        },
                        _ = stop.changed() => return,
                    }
                },
                Err(err) => tracing::warn!(error = %err, "could not listen for wake-ups"),
            },
            Err(err) => tracing::warn!(error = %err, "could not connect the wake-up listener"),
        }
        tokio::select! {
            () = tokio::time::sleep(STANDBY_POLL) => {}
            _ = stop.changed() => return,
        }
    }
}
