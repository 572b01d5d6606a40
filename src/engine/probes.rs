//! Built-in probes (issue #9): a background task of its own that checks the targets in
//! `probes.toml` — HTTP(S), TCP connect, TLS certificate expiry, DNS — and turns what it
//! finds into alerts and status page states.
//!
//! [`ProbeRunner::run_once`] runs the probes due at `now`, at most [`MAX_CONCURRENT`] at a
//! time and each within its timeout, stores every run with the probe's new streaks
//! (`store::probes`), and returns when the next probe is due; [`run`] only waits around it.
//! `Engine::run_once` never waits on a probe: a hung target costs this task a timeout and
//! nothing else.
//!
//! A probe that goes down (`domain::probe` decides when) opens an alert through the same
//! intake write as the event formats (`store::deliveries::apply_events`) under the
//! integration id `probe`, keyed `probe:<id>`; recovery resolves it. A TLS certificate
//! inside its `warn_days` opens a warning alert of its own (`probe:<id>:certificate`),
//! which is no outage. A probe bound to a component holds it at `major_outage` while down
//! and `degraded_performance` while slow (folded into the status page rollup like a public
//! incident's state); its silences are no data for that component's uptime.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use jiff::{SignedDuration, Timestamp};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, pki_types};

use super::Engine;
use crate::config::probes::{Check, HttpCheck, Probe};
use crate::domain::alert::Severity;
use crate::domain::delivery::{AlertEvent, AlertFields, EventAction};
use crate::domain::probe::{self, Change, Health, ProbeState, Thresholds};
use crate::store::deliveries::{self, Target};
use crate::store::{self, probes::Stored};

/// Checks in flight at once, whatever the number of probes.
pub const MAX_CONCURRENT: usize = 8;
/// The integration id probe alerts are stored under (an integration kind of their own).
pub const INTEGRATION_ID: &str = "probe";
/// A probe that goes down this soon after it recovered reopens its alert.
const REOPEN_WINDOW: SignedDuration = SignedDuration::from_mins(15);
/// Most of an HTTP body searched for `body_contains`.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The dedup key of a probe's outage alert.
pub fn outage_key(probe_id: &str) -> String {
    format!("probe:{probe_id}")
}

/// The dedup key of a TLS probe's expiry warning.
pub fn certificate_key(probe_id: &str) -> String {
    format!("probe:{probe_id}:certificate")
}

/// What one check found.
#[derive(Clone, Debug)]
struct Finding {
    result: Health,
    latency: Option<Duration>,
    error: Option<String>,
    /// TLS: the certificate's `notAfter`.
    cert_not_after: Option<Timestamp>,
}

impl Finding {
    fn down(error: impl Into<String>) -> Finding {
        Finding {
            result: Health::Down,
            latency: None,
            error: Some(error.into()),
            cert_not_after: None,
        }
    }
}

/// Runs the configured probes; cheap to clone.
#[derive(Clone)]
pub struct ProbeRunner {
    engine: Engine,
    limit: Arc<Semaphore>,
    http: reqwest::Client,
    tls: TlsConnector,
    /// The config generation whose removed probes' states were dropped (`u64::MAX`: none
    /// yet); pruning runs again after a reload.
    pruned: Arc<AtomicU64>,
}

impl ProbeRunner {
    pub fn new(engine: Engine) -> anyhow::Result<ProbeRunner> {
        // No redirects and no proxy from the environment: a probe reaches exactly the
        // target its config names.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("dutybell-probe/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the probe HTTP client")?;
        Ok(ProbeRunner {
            engine,
            limit: Arc::new(Semaphore::new(MAX_CONCURRENT)),
            http,
            tls: TlsConnector::from(Arc::new(expiry_tls_config()?)),
            pruned: Arc::new(AtomicU64::new(u64::MAX)),
        })
    }

    /// Runs every probe due at `now`; returns when the next one is due (`None` without
    /// probes). A probe seen for the first time is first due at its start offset.
    pub async fn run_once(&self, now: Timestamp) -> anyhow::Result<Option<Timestamp>> {
        // One config for the whole pass, like the engine's (a reload may swap it meanwhile).
        let generation = self.engine.live.config.generation();
        let runner = ProbeRunner {
            engine: self.engine.snapshot(),
            ..self.clone()
        };
        runner.pass(generation, now).await
    }

    async fn pass(&self, generation: u64, now: Timestamp) -> anyhow::Result<Option<Timestamp>> {
        let config = &self.engine.config;
        let store = &self.engine.store;
        if config.probes.is_empty() {
            return Ok(None);
        }
        // Config only changes at a start or a reload: once per config is enough.
        if self.pruned.load(Ordering::SeqCst) != generation {
            let ids: Vec<&str> = config.probes.iter().map(|p| p.id.as_str()).collect();
            store::probes::forget_others(store, &config.statuspage, &ids, now)
                .await
                .context("dropping removed probes")?;
            self.pruned.store(generation, Ordering::SeqCst);
        }
        let mut stored = store::probes::states(store)
            .await
            .context("reading probe states")?;

        let mut due = Vec::new();
        let mut upcoming = Vec::new();
        for probe in &config.probes {
            let next = match stored.get(&probe.id) {
                Some(known) => known.next_due,
                None => {
                    let offset = probe::start_offset(&probe.id, probe.interval);
                    let first = now.saturating_add(offset).unwrap_or(now);
                    let component = probe.component.as_deref();
                    store::probes::schedule(store, &probe.id, component, probe.interval, first)
                        .await
                        .with_context(|| format!("scheduling probe {}", probe.id))?;
                    first
                }
            };
            if next <= now {
                due.push((probe, next));
            } else {
                upcoming.push(next);
            }
        }

        let findings = self.check_all(&due, now).await;
        let mut page_moved = false;
        for ((probe, was_due), finding) in due.iter().zip(findings) {
            let known = stored.remove(&probe.id);
            let (next, moved) = self
                .settle(probe, known, *was_due, finding, now)
                .await
                .with_context(|| format!("recording probe {}", probe.id))?;
            upcoming.push(next);
            page_moved |= moved;
        }
        if page_moved {
            self.engine.statuspage.changed(store, config, now).await;
        }
        Ok(upcoming.into_iter().min())
    }

    /// Checks `due` concurrently, bounded by the semaphore, each within its timeout;
    /// findings come back in the order of `due`.
    async fn check_all(&self, due: &[(&Probe, Timestamp)], now: Timestamp) -> Vec<Finding> {
        let mut set = JoinSet::new();
        for (i, (probe, _)) in due.iter().enumerate() {
            let (probe, runner) = ((*probe).clone(), self.clone());
            set.spawn(async move {
                let Ok(_permit) = runner.limit.clone().acquire_owned().await else {
                    return (i, Finding::down("probe runner is shutting down"));
                };
                let limit = probe.timeout.unsigned_abs();
                let finding = match tokio::time::timeout(limit, runner.check(&probe, now)).await {
                    Ok(finding) => finding,
                    Err(_) => Finding::down(format!("no answer within {:#}", probe.timeout)),
                };
                (i, finding)
            });
        }
        let mut findings: Vec<Option<Finding>> = vec![None; due.len()];
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((i, finding)) => findings[i] = Some(finding),
                Err(err) => tracing::error!(error = %err, "probe check task failed"),
            }
        }
        findings
            .into_iter()
            .map(|f| f.unwrap_or_else(|| Finding::down("the check task failed")))
            .collect()
    }

    async fn check(&self, probe: &Probe, now: Timestamp) -> Finding {
        match &probe.check {
            Check::Http(http) => check_http(&self.http, http).await,
            Check::Tcp { host, port } => check_tcp(host, *port).await,
            Check::Tls { host, port, .. } => check_tls(&self.tls, host, *port, now).await,
            Check::Dns { name, expect } => check_dns(name, *expect).await,
        }
    }

    /// Counts a finding, stores the run, and opens or resolves alerts on a change. Returns
    /// the next due time and whether a status page component moved.
    #[tracing::instrument(skip_all, fields(probe.id = %probe.id, probe.kind = probe.check.kind()))]
    async fn settle(
        &self,
        probe: &Probe,
        known: Option<Stored>,
        was_due: Timestamp,
        finding: Finding,
        now: Timestamp,
    ) -> anyhow::Result<(Timestamp, bool)> {
        let first_run = known.as_ref().is_none_or(|k| k.last_result.is_none());
        let was_warned = known.as_ref().is_some_and(|k| k.cert_warned);
        let mut state = known.map_or_else(ProbeState::default, |k| k.state);
        let limits = Thresholds {
            down_after: probe.down_after,
            up_after: probe.up_after,
        };
        let change = state.record(finding.result, limits);
        let next_due = probe::next_due(was_due, probe.interval, now);

        // A failed handshake says nothing new about the certificate: keep the warning.
        let warned = match (&probe.check, finding.cert_not_after) {
            (Check::Tls { warn_days, .. }, Some(not_after)) => {
                let window = SignedDuration::from_hours(24 * i64::from(*warn_days));
                not_after.duration_since(now) <= window
            }
            _ => was_warned,
        };
        let latency_ms = finding
            .latency
            .map(|l| i64::try_from(l.as_millis()).unwrap_or(i64::MAX));
        let run = store::probes::Run {
            probe_id: &probe.id,
            component: probe.component.as_deref(),
            interval: probe.interval,
            at: now,
            result: finding.result,
            latency_ms,
            error: finding.error.as_deref(),
            state,
            next_due,
            cert_not_after: finding.cert_not_after,
            cert_warned: warned,
        };
        // TODO(#9): a probe whose `component` changed in config moves the new component
        // only at its next health change; compare with the stored binding instead.
        let page = (probe.component.is_some() && (change.is_some() || first_run))
            .then_some(&self.engine.config.statuspage);
        let moved = store::probes::record_run(&self.engine.store, &run, page).await?;
        tracing::debug!(result = finding.result.as_str(), latency_ms, error = ?finding.error,
            failures = state.failures, successes = state.successes, "probe ran");

        if let Some(change) = change {
            tracing::info!(
                from = change.from.as_str(),
                to = change.to.as_str(),
                "probe health changed"
            );
            self.alert_on_change(probe, change, &finding, now).await;
        }
        if warned != was_warned {
            self.certificate_alert(probe, warned, &finding, now).await;
        }
        Ok((next_due, !moved.is_empty()))
    }

    /// Down opens the probe's alert; leaving down resolves it. Up ↔ slow only moves the
    /// status page.
    async fn alert_on_change(
        &self,
        probe: &Probe,
        change: Change,
        finding: &Finding,
        now: Timestamp,
    ) {
        let event = match (change.from, change.to) {
            (_, Health::Down) => {
                let error = finding.error.as_deref().unwrap_or("check failed");
                let summary = format!(
                    "Probe {} is down: {error} ({} failures in a row)",
                    probe.id, probe.down_after
                );
                trigger(
                    probe,
                    outage_key(&probe.id),
                    summary,
                    Severity::Critical,
                    now,
                )
            }
            (Health::Down, _) => resolve(outage_key(&probe.id), now),
            _ => return,
        };
        self.submit(probe, event, Severity::Critical, finding, now)
            .await;
    }

    /// A certificate inside its warning window opens a warning alert; a renewed one
    /// resolves it.
    async fn certificate_alert(
        &self,
        probe: &Probe,
        warned: bool,
        finding: &Finding,
        now: Timestamp,
    ) {
        let event = if warned {
            let expiry = finding
                .cert_not_after
                .map_or_else(|| "soon".to_string(), |at| format!("at {at}"));
            let summary = format!("Probe {}: the TLS certificate expires {expiry}", probe.id);
            trigger(
                probe,
                certificate_key(&probe.id),
                summary,
                Severity::Warning,
                now,
            )
        } else {
            resolve(certificate_key(&probe.id), now)
        };
        self.submit(probe, event, Severity::Warning, finding, now)
            .await;
    }

    /// Writes one event through the intake pipeline. Failures are logged: the run is
    /// already stored and the next change retries.
    async fn submit(
        &self,
        probe: &Probe,
        event: AlertEvent,
        severity: Severity,
        finding: &Finding,
        now: Timestamp,
    ) {
        // TODO(#9): an alert write that fails (cap reached, database busy) is not retried
        // until the probe changes health again; keep a pending flag in probe_state.
        let config = &self.engine.config;
        let Some(service) = config.services.get(&probe.service) else {
            tracing::error!(service.id = %probe.service, "probe service missing");
            return;
        };
        let target = Target {
            integration_id: INTEGRATION_ID,
            service_id: &service.id,
            policy_id: &service.escalation,
            max_open_unacked: service.max_open_unacked,
            reopen_window: REOPEN_WINDOW,
        };
        let body = serde_json::json!({
            "probe": probe.id,
            "kind": probe.check.kind(),
            "result": finding.result.as_str(),
            "error": finding.error,
            "latency_ms": finding.latency.map(|l| l.as_millis()),
        })
        .to_string();
        let events = [event];
        let store = &self.engine.store;
        match deliveries::apply_events(store, &target, &events, severity, body.as_bytes(), now)
            .await
        {
            Ok((_, outcomes)) => {
                for outcome in &outcomes {
                    tracing::info!(alert.id = outcome.alert_id, effect = outcome.effect,
                        dedup_key = %outcome.dedup_key, "probe alert written");
                }
                self.engine.wake.notify_one();
            }
            Err(err) => tracing::error!(error = %err, "probe alert not written"),
        }
    }
}

fn trigger(
    probe: &Probe,
    key: String,
    summary: String,
    severity: Severity,
    now: Timestamp,
) -> AlertEvent {
    let labels = BTreeMap::from([
        ("probe".to_string(), probe.id.clone()),
        ("probe_kind".to_string(), probe.check.kind().to_string()),
    ]);
    AlertEvent {
        action: EventAction::Trigger,
        dedup_key: key,
        fields: AlertFields {
            summary: crate::intake::truncate_chars(&summary, crate::intake::MAX_SUMMARY_CHARS),
            details: format!("target: {}", target_text(&probe.check)),
            severity: Some(severity),
            source: INTEGRATION_ID.to_string(),
            runbook_url: None,
            labels,
            links: Vec::new(),
        },
        timestamp: now,
    }
}

fn resolve(key: String, now: Timestamp) -> AlertEvent {
    AlertEvent {
        action: EventAction::Resolve,
        dedup_key: key,
        fields: AlertFields::default(),
        timestamp: now,
    }
}

/// What a probe points at, for alert details and the admin API.
pub fn target_text(check: &Check) -> String {
    match check {
        Check::Http(http) => format!("{} {}", http.method, http.url),
        Check::Tcp { host, port } | Check::Tls { host, port, .. } => format!("{host}:{port}"),
        Check::Dns { name, .. } => name.clone(),
    }
}

async fn check_http(client: &reqwest::Client, check: &HttpCheck) -> Finding {
    let method = match reqwest::Method::from_bytes(check.method.as_bytes()) {
        Ok(method) => method,
        Err(_) => return Finding::down(format!("bad method {:?}", check.method)),
    };
    let started = Instant::now();
    let mut response = match client.request(method, &check.url).send().await {
        Ok(response) => response,
        Err(err) => return Finding::down(format!("request failed: {}", error_chain(&err))),
    };
    let status = response.status().as_u16();
    let mut body = Vec::new();
    if check.body_contains.is_some() {
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) if body.len() < MAX_BODY_BYTES => body.extend_from_slice(&chunk),
                Ok(_) => break,
                Err(err) => return Finding::down(format!("reading the body: {err}")),
            }
        }
    }
    let latency = started.elapsed();

    let status_ok = check
        .expect_status
        .map_or((200..300).contains(&status), |expected| expected == status);
    let mut finding = Finding {
        result: Health::Up,
        latency: Some(latency),
        error: None,
        cert_not_after: None,
    };
    if !status_ok {
        let expected = check
            .expect_status
            .map_or_else(|| "2xx".to_string(), |s| s.to_string());
        finding.result = Health::Down;
        finding.error = Some(format!("status {status}, expected {expected}"));
    } else if let Some(needle) = &check.body_contains
        && !String::from_utf8_lossy(&body).contains(needle.as_str())
    {
        finding.result = Health::Down;
        finding.error = Some(format!("body does not contain {needle:?}"));
    } else if let Some(max) = check.max_latency
        && latency > max.unsigned_abs()
    {
        finding.result = Health::Slow;
        finding.error = Some(format!(
            "answered in {} ms, over {max:#}",
            latency.as_millis()
        ));
    }
    finding
}

async fn check_tcp(host: &str, port: u16) -> Finding {
    let started = Instant::now();
    match TcpStream::connect((host, port)).await {
        Ok(_) => Finding {
            result: Health::Up,
            latency: Some(started.elapsed()),
            error: None,
            cert_not_after: None,
        },
        Err(err) => Finding::down(format!("connect: {err}")),
    }
}

/// Handshakes and reads the leaf certificate's `notAfter`. An expired certificate is down:
/// clients refuse it.
async fn check_tls(tls: &TlsConnector, host: &str, port: u16, now: Timestamp) -> Finding {
    let started = Instant::now();
    let tcp = match TcpStream::connect((host, port)).await {
        Ok(tcp) => tcp,
        Err(err) => return Finding::down(format!("connect: {err}")),
    };
    let name = match pki_types::ServerName::try_from(host.to_string()) {
        Ok(name) => name,
        Err(err) => return Finding::down(format!("server name {host:?}: {err}")),
    };
    let stream = match tls.connect(name, tcp).await {
        Ok(stream) => stream,
        Err(err) => return Finding::down(format!("TLS handshake: {err}")),
    };
    let latency = started.elapsed();
    let leaf = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|certs| certs.first());
    let Some(leaf) = leaf else {
        return Finding::down("the server sent no certificate");
    };
    let not_after = match not_after(leaf.as_ref()) {
        Ok(at) => at,
        Err(err) => return Finding::down(format!("reading the certificate: {err:#}")),
    };
    let expired = not_after <= now;
    Finding {
        result: if expired { Health::Down } else { Health::Up },
        latency: Some(latency),
        error: expired.then(|| format!("the certificate expired at {not_after}")),
        cert_not_after: Some(not_after),
    }
}

/// A DER certificate's `notAfter`.
fn not_after(der: &[u8]) -> anyhow::Result<Timestamp> {
    use x509_cert::der::Decode as _;
    let cert = x509_cert::Certificate::from_der(der)
        .map_err(|err| anyhow::anyhow!("parsing the certificate: {err}"))?;
    let since_epoch = cert.tbs_certificate.validity.not_after.to_unix_duration();
    let seconds = i64::try_from(since_epoch.as_secs()).context("notAfter out of range")?;
    Timestamp::from_second(seconds).context("notAfter out of range")
}

async fn check_dns(name: &str, expect: Option<std::net::IpAddr>) -> Finding {
    let started = Instant::now();
    let addresses: Vec<std::net::IpAddr> = match tokio::net::lookup_host((name, 0)).await {
        Ok(found) => found.map(|a| a.ip()).collect(),
        Err(err) => return Finding::down(format!("resolving {name:?}: {err}")),
    };
    let latency = started.elapsed();
    let error = match expect {
        _ if addresses.is_empty() => Some(format!("{name:?} resolved to no address")),
        Some(expected) if !addresses.contains(&expected) => Some(format!(
            "{name:?} resolved to {addresses:?}, not {expected}"
        )),
        _ => None,
    };
    Finding {
        result: if error.is_some() {
            Health::Down
        } else {
            Health::Up
        },
        latency: Some(latency),
        error,
        cert_not_after: None,
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// The TLS client for expiry probes: it accepts any certificate, since the point is to
/// read `notAfter` even from a certificate a browser would refuse. Handshake signatures
/// are still checked against the presented key.
fn expiry_tls_config() -> anyhow::Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("choosing TLS versions")?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    Ok(config)
}

#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &pki_types::CertificateDer<'_>,
        _intermediates: &[pki_types::CertificateDer<'_>],
        _server_name: &pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Runs probe passes until `stop` turns true. Without probes it only idles, so probes a
/// config reload adds start at once.
pub async fn run(
    runner: ProbeRunner,
    mut stop: watch::Receiver<bool>,
    mut lead: super::leader::Lead,
) {
    let count = runner.engine.live.config.current().probes.len();
    tracing::info!(probes = count, "probes started");
    let clock = runner.engine.clock.clone();
    loop {
        // Only the leading instance probes, so each probe runs once per interval.
        if !*lead.borrow_and_update() {
            tokio::select! {
                () = super::leader::changed(&mut lead) => continue,
                _ = stop.changed() => break,
            }
        }
        let now = clock.now();
        let pass = tokio::select! {
            pass = runner.run_once(now) => pass,
            _ = stop.changed() => break,
        };
        let wait = match pass {
            Ok(next) => next
                .map(|due| Duration::try_from(due.duration_since(now)).unwrap_or_default())
                .unwrap_or(Duration::MAX)
                .min(clock.max_idle()),
            Err(err) => {
                tracing::error!(error = %crate::telemetry::chain(&err), "probe pass failed");
                Duration::from_secs(1)
            }
        };
        if *stop.borrow() {
            break;
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => break,
        }
    }
    tracing::info!("probes stopped");
}
