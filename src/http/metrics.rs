//! `GET /metrics`: counters and gauges in the Prometheus text exposition format (0.0.4).
//!
//! Read-only, but it shows service names and volumes, so it takes the admin API token like
//! the other read endpoints (`Authorization: Bearer <token>`; Prometheus sends it with
//! `authorization: {credentials: …}` in its scrape config). Counters are computed from the
//! database on each scrape, so they survive restarts and never reset.
//!
//! - `dutybell_alerts{service,state}`: alerts now triggered, acknowledged, resolved.
//! - `dutybell_alerts_created_total{service}`: alerts ever opened.
//! - `dutybell_pages_sent_total{channel}`, `dutybell_pages_failed_total{channel}`: pages
//!   delivered, and given up on after their retries.
//! - `dutybell_acks_total{by}`: acks by a person (`human`) or by the alert's source.
//! - `dutybell_notification_failures_total{channel}`: failed delivery attempts, retried or
//!   not, of pages and notices.
//! - `dutybell_engine_lag_seconds`: now minus the earliest due time still waiting
//!   (escalation, page, notice, ack timeout, nudge); 0 when nothing is overdue.
//! - `dutybell_incidents_open{severity}`: open incidents, drills left out.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::Timestamp;

use super::{AppError, AppState, auth};
use crate::config::Config;
use crate::store::reports::{self, Counts};

const CONTENT: &str = "text/plain; version=0.0.4; charset=utf-8";
const STATES: [&str; 3] = ["triggered", "acknowledged", "resolved"];

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let config = state.config.current();
    auth::require_admin(&state, &headers)?;
    let now = state.clock.now();
    let counts = reports::counts(&state.store).await?;
    let earliest = reports::earliest_due(&state.store).await?;
    let body = render(&config, &counts, earliest, now);
    Ok(([(CONTENT_TYPE, CONTENT)], body).into_response())
}

/// A label value escaped as the format requires (`\`, `"`, newline).
fn label(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn by_one(out: &mut String, name: &str, key: &str, rows: &[(String, i64)]) {
    for (value, count) in rows {
        let _ = writeln!(out, "{name}{{{key}=\"{}\"}} {count}", label(value));
    }
}

/// The exposition body. Every configured service gets all three alert states, zero or not,
/// so a series never vanishes when its last alert resolves; so does every severity.
pub fn render(
    config: &Config,
    counts: &Counts,
    earliest_due: Option<Timestamp>,
    now: Timestamp,
) -> String {
    let mut out = String::new();

    family(
        &mut out,
        "dutybell_alerts",
        "gauge",
        "Alerts by service and state.",
    );
    let services: BTreeSet<&str> = config
        .services
        .keys()
        .map(String::as_str)
        .chain(counts.alerts.iter().map(|(service, _, _)| service.as_str()))
        .collect();
    for service in &services {
        for state in STATES {
            let count = counts
                .alerts
                .iter()
                .find(|(s, st, _)| s == service && st == state)
                .map_or(0, |(_, _, count)| *count);
            let _ = writeln!(
                out,
                "dutybell_alerts{{service=\"{}\",state=\"{state}\"}} {count}",
                label(service)
            );
        }
    }

    family(
        &mut out,
        "dutybell_alerts_created_total",
        "counter",
        "Alerts opened, by service.",
    );
    by_one(
        &mut out,
        "dutybell_alerts_created_total",
        "service",
        &counts.alerts_created,
    );
    family(
        &mut out,
        "dutybell_pages_sent_total",
        "counter",
        "Pages delivered, by channel.",
    );
    by_one(
        &mut out,
        "dutybell_pages_sent_total",
        "channel",
        &counts.pages_sent,
    );
    family(
        &mut out,
        "dutybell_pages_failed_total",
        "counter",
        "Pages given up on after their retries, by channel.",
    );
    by_one(
        &mut out,
        "dutybell_pages_failed_total",
        "channel",
        &counts.pages_failed,
    );
    family(
        &mut out,
        "dutybell_acks_total",
        "counter",
        "Alert acknowledgements, by a person (human) or the alert's source.",
    );
    for by in ["human", "source"] {
        let count = counts
            .acks
            .iter()
            .find(|(b, _)| b == by)
            .map_or(0, |(_, count)| *count);
        let _ = writeln!(out, "dutybell_acks_total{{by=\"{by}\"}} {count}");
    }
    family(
        &mut out,
        "dutybell_notification_failures_total",
        "counter",
        "Failed delivery attempts of pages and notices, by channel.",
    );
    by_one(
        &mut out,
        "dutybell_notification_failures_total",
        "channel",
        &counts.notification_failures,
    );

    family(
        &mut out,
        "dutybell_engine_lag_seconds",
        "gauge",
        "Seconds since the earliest engine work still waiting fell due; 0 when none is late.",
    );
    let lag = earliest_due
        .filter(|&due| due < now)
        .map_or(0.0, |due| now.duration_since(due).as_secs_f64());
    let _ = writeln!(out, "dutybell_engine_lag_seconds {lag}");

    family(
        &mut out,
        "dutybell_incidents_open",
        "gauge",
        "Open incidents by severity, drills left out.",
    );
    for rank in 1..=3 {
        let count = counts
            .open_incidents
            .iter()
            .find(|(r, _)| *r == rank)
            .map_or(0, |(_, count)| *count);
        let _ = writeln!(
            out,
            "dutybell_incidents_open{{severity=\"P{rank}\"}} {count}"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), r#"a\"b\\c\nd"#);
    }
}
