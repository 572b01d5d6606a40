//! `kill -9` mid-storm loses nothing that was acknowledged (issue #8): a real `dutybell
//! serve` takes generic intake from 8 concurrent senders with unique dedup keys and is
//! SIGKILLed at a random point after some hundreds of 2xx answers, three times over. After
//! each restart on the same SQLite file every alert whose intake got a 2xx is there and
//! `PRAGMA integrity_check` answers ok. Requests in flight at the kill may or may not have
//! landed; their senders never heard back, so they would retry.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions as _, Connection as _};

use crate::helpers::{STORM_KEY, SmtpSink, WebhookSink, free_port, write_config};
use crate::process::{Server, serve, wait_healthy};

/// Concurrent senders.
const SENDERS: usize = 8;
/// Kills in one test run.
const KILLS: usize = 3;

fn start(dir: &Path, port: u16) -> Server {
    serve(dir, port, "dutybell.log", &[("DUTYBELL_LOG", "warn")])
}

/// Sends alerts with keys `r<round>-s<sender>-<n>` until the server stops answering;
/// returns the keys answered with a 2xx.
async fn sender(
    client: reqwest::Client,
    url: String,
    round: usize,
    id: usize,
    accepted: Arc<AtomicUsize>,
    keys: Arc<Mutex<Vec<String>>>,
) {
    for n in 0.. {
        let key = format!("r{round}-s{id}-{n}");
        let body = serde_json::json!({"dedup_key": key, "summary": format!("crash test {key}")});
        let Ok(response) = client.post(&url).json(&body).send().await else {
            return; // killed: this request may or may not have landed
        };
        if response.status().is_success() {
            keys.lock().unwrap().push(key);
            accepted.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// The dedup keys stored, and what `PRAGMA integrity_check` says, read without writing.
async fn stored(db: &Path) -> (BTreeSet<String>, Vec<String>) {
    let mut conn = SqliteConnectOptions::new()
        .filename(db)
        .read_only(true)
        .connect()
        .await
        .unwrap();
    let keys: Vec<String> = sqlx::query_scalar("SELECT dedup_key FROM alerts")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let integrity: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    (keys.into_iter().collect(), integrity)
}

#[tokio::test]
async fn acknowledged_intake_survives_kill_9_mid_storm() {
    let smtp = SmtpSink::start().await;
    let hooks = WebhookSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), smtp.addr, hooks.addr, None);
    let services = dir.path().join("services.toml");
    let text = std::fs::read_to_string(&services).unwrap();
    let storm = "[[service]]\nid = \"storm\"\nescalation = \"default\"\n\
                 max_open_unacked = 1000000\n\
                 integrations = [{ kind = \"generic\", key_env = \"KEY_STORM\" }]\n";
    std::fs::write(&services, format!("{text}\n{storm}")).unwrap();
    let db = dir.path().join("data").join("dutybell.db");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/api/v1/integrations/{STORM_KEY}/generic");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let keys = Arc::new(Mutex::new(Vec::new()));

    let mut server = start(dir.path(), port);
    for round in 0..KILLS {
        wait_healthy(&client, port).await;
        let kill_after = rand::random_range(200..600);
        let accepted = Arc::new(AtomicUsize::new(0));
        let senders: Vec<_> = (0..SENDERS)
            .map(|id| {
                let (client, url) = (client.clone(), url.clone());
                let (accepted, keys) = (accepted.clone(), keys.clone());
                tokio::spawn(sender(client, url, round, id, accepted, keys))
            })
            .collect();
        let storm = async {
            while accepted.load(Ordering::SeqCst) < kill_after {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(30), storm)
            .await
            .expect("the storm never reached the kill point");
        server.kill(); // SIGKILL: no shutdown path runs
        for task in senders {
            task.await.unwrap();
        }

        server = start(dir.path(), port);
        wait_healthy(&client, port).await;
        let (stored, integrity) = stored(&db).await;
        let acknowledged = keys.lock().unwrap().clone();
        let this_round = format!("r{round}-");
        println!(
            "kill {}: {} intake requests accepted before SIGKILL (aimed at {kill_after}); \
             {} of this round's alerts stored after restart",
            round + 1,
            accepted.load(Ordering::SeqCst),
            stored
                .iter()
                .filter(|key| key.starts_with(&this_round))
                .count()
        );
        let lost: Vec<_> = acknowledged
            .iter()
            .filter(|key| !stored.contains(*key))
            .collect();

        assert_eq!(integrity, ["ok"], "after kill {}", round + 1);
        assert!(
            lost.is_empty(),
            "after kill {}: {} of {} acknowledged alerts lost, e.g. {:?}",
            round + 1,
            lost.len(),
            acknowledged.len(),
            &lost[..lost.len().min(5)]
        );
    }
    drop(server);
}
