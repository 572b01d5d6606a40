//! Real `dutybell serve` processes for tests that kill and restart them (crash, restart,
//! chaos, cluster races): spawn with the test environment and a log file, wait for
//! `/health`, SIGKILL; and the fresh Postgres database several of them share.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::helpers::test_env;

/// A running server; dropping it kills it.
pub struct Server(pub Child);

impl Server {
    /// SIGKILL: no shutdown path runs.
    pub fn kill(&mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `dutybell serve` over the config in `dir` on `port`, data in `dir/data`, with the
/// test environment plus `env`; stderr is appended to `dir/<log>`.
pub fn serve(dir: &Path, port: u16, log: &str, env: &[(&str, &str)]) -> Server {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(log))
        .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_dutybell"))
        .arg("--config")
        .arg(dir)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("serve")
        .envs(test_env())
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("starting dutybell");
    Server(child)
}

/// Waits until the server on `port` answers `/health` with a 2xx; returns its body.
pub async fn wait_healthy(client: &reqwest::Client, port: u16) -> serde_json::Value {
    for _ in 0..400 {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await
            && r.status().is_success()
        {
            return r.json().await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("dutybell on port {port} did not become healthy");
}

/// A fresh, empty database named `<prefix>_<random>` on the Postgres server at `server`
/// (a `postgres://…/db` URL); its URL. The throwaway test server goes with its data.
pub async fn fresh_pg_database(server: &str, prefix: &str) -> String {
    use sqlx::Connection as _;
    let name = format!("{prefix}_{:016x}", rand::random::<u64>());
    let mut conn = sqlx::PgConnection::connect(server).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let (base, _) = server.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}
