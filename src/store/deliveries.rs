//! Intake writes: one delivery, its member changes and their consequences for the dutybell
//! alert, committed in one transaction before the sender gets its 2xx (intake spec D7).

use std::collections::{HashMap, HashSet};

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use sqlx::{AnyConnection, Row as _};

use super::alerts::{acknowledge_in, add_event, resolve_in};
use super::{Dialect, Result, Store, from_ms, from_ms_opt, to_ms};
use crate::domain::alert::Severity;
use crate::domain::delivery::{AlertEvent, AlertFields, EventAction, GroupDelivery, Member};
use crate::domain::members::{self, MemberChange, MemberStatus, Occurrence};

/// Where a delivery is applied.
#[derive(Clone, Debug)]
pub struct Target<'a> {
    pub integration_id: &'a str,
    pub service_id: &'a str,
    pub policy_id: &'a str,
    /// New alerts are refused while the service has this many unacknowledged open.
    pub max_open_unacked: u32,
    /// A re-fire this soon after the source resolved reopens the alert instead (F1).
    pub reopen_window: SignedDuration,
}

/// What applying a delivery did.
#[derive(Clone, Debug, Serialize)]
pub struct Applied {
    pub delivery_id: String,
    pub duplicate: bool,
    pub alert_id: Option<i64>,
    /// A new alert was opened (and its first escalation is due now).
    pub opened: bool,
    /// The alert resolved because every member did (G3).
    pub resolved: bool,
}

/// Duplicate deliveries are recognised for this long (D3).
const DUPLICATE_WINDOW: SignedDuration = SignedDuration::from_hours(24);

/// Applies a group delivery: duplicate check, member rules, open / join / resolve.
pub async fn apply_group(
    store: &Store,
    target: &Target<'_>,
    delivery: &GroupDelivery,
    body: &[u8],
) -> Result<Applied> {
    let mut tx = store.begin().await?;
    let applied = apply_in(&mut tx, target, delivery, body).await?;
    tx.commit().await?;
    Ok(applied)
}

/// Applies the single-member groups of one `alert`-mode request (intake spec §3.3), in
/// order, in one transaction: the sender gets one answer, so all land or none do (D7).
/// Each gets its own delivery record (its digest is its own, D3); the raw body is kept
/// once, with the first record written.
// TODO(#4): one transaction means a body with more new members than the service's
// `max_open_unacked` is refused whole (D10) on every resend, and thousands of members
// cost statements per member (IN-04's set-based path is group mode only).
pub async fn apply_groups(
    store: &Store,
    target: &Target<'_>,
    deliveries: &[GroupDelivery],
    body: &[u8],
) -> Result<Vec<Applied>> {
    let mut tx = store.begin().await?;
    let mut applied = Vec::with_capacity(deliveries.len());
    let mut body_kept = false;
    for delivery in deliveries {
        let this_body = if body_kept { &[][..] } else { body };
        let one = apply_in(&mut tx, target, delivery, this_body).await?;
        body_kept |= !one.duplicate;
        applied.push(one);
    }
    tx.commit().await?;
    Ok(applied)
}

/// One group delivery inside the caller's transaction: duplicate check, member rules,
/// open / join / resolve, then its delivery record.
async fn apply_in(
    tx: &mut AnyConnection,
    target: &Target<'_>,
    delivery: &GroupDelivery,
    body: &[u8],
) -> Result<Applied> {
    let now = delivery.received_at;
    let delivery_id = ulid::Ulid::new().to_string();

    let since = now.saturating_sub(DUPLICATE_WINDOW).unwrap_or(now);
    let seen: Option<Option<i64>> = sqlx::query_scalar(
        "SELECT alert_id FROM deliveries WHERE integration_id = $1 AND digest = $2 \
         AND received_at >= $3 LIMIT 1",
    )
    .bind(target.integration_id)
    .bind(&delivery.digest)
    .bind(to_ms(since))
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(alert_id) = seen {
        // A resend of a resolved snapshot still settles a dispute opened since (IN-02 a).
        for member in delivery
            .members
            .iter()
            .filter(|m| !m.occurrence.status.is_firing())
        {
            settle_dispute(tx, target.integration_id, member).await?;
        }
        return Ok(Applied {
            delivery_id,
            duplicate: true,
            alert_id,
            opened: false,
            resolved: false,
        });
    }

    // One read of every member's latest occurrence, not one per member: a group of
    // thousands of members (IN-04) stays a handful of statements plus one write each.
    let integration = target.integration_id;
    let latest = latest_occurrences(tx, integration, &delivery.members).await?;
    let own = open_alert(tx, integration, &delivery.dedup_key).await?;
    let mut newly_firing = Vec::new();
    // Alerts whose members this delivery resolved: a resolve through any group counts (G4).
    let mut touched = Vec::new();
    let mut applied = HashSet::new();
    let mut batch = Vec::new();
    let key = delivery.dedup_key.as_str();
    for member in &delivery.members {
        // A fingerprint listed twice in one body sees the first entry's effect.
        let known = if applied.insert(member.fingerprint.as_str()) {
            latest.get(&member.fingerprint).cloned()
        } else {
            write_new(tx, integration, key, &mut batch, now).await?;
            latest_occurrence(tx, integration, &member.fingerprint).await?
        };
        let occurrence = known.as_ref().map(|k| &k.occurrence);
        let change =
            apply_member(tx, integration, key, member, occurrence, &mut batch, now).await?;
        match change {
            Applies::NewFiring => newly_firing.push(member.fingerprint.as_str()),
            Applies::Resolved => {
                if let Some(id) = known.and_then(|k| k.alert_id)
                    && !touched.contains(&id)
                {
                    touched.push(id);
                }
            }
            Applies::Other => {}
        }
    }
    write_new(tx, integration, key, &mut batch, now).await?;

    // G4: a group without an open alert of its own that lists an occurrence of an open
    // alert of the integration (`continue: true` routes) joins that alert.
    let open = match own {
        Some(id) => Some((id, true)),
        None => shared_alert(tx, delivery, &latest)
            .await?
            .map(|id| (id, false)),
    };

    let mut opened = false;
    let alert_id = match open {
        Some((id, own)) => {
            if own {
                refresh_alert(tx, id, &delivery.fields(), delivery.severity, now).await?;
            } else {
                attach_group(tx, integration, delivery, id, now).await?;
            }
            attach_all(tx, integration, &newly_firing, id).await?;
            for fingerprint in &newly_firing {
                let detail = serde_json::json!({ "fingerprint": fingerprint });
                add_event(tx, id, now, "member_joined", None, detail).await?;
            }
            Some(id)
        }
        None if !newly_firing.is_empty() => {
            let detail = serde_json::json!({
                "delivery_id": delivery_id,
                "members": delivery.members.len(),
            });
            let fields = delivery.fields();
            let new = NewAlert {
                key: &delivery.dedup_key,
                fields: &fields,
                severity: delivery.severity,
                receiver: delivery.receiver.as_deref(),
            };
            let (id, opening) = open_or_reopen(tx, target, &new, now, detail).await?;
            attach_all(tx, integration, &newly_firing, id).await?;
            opened = opening == Opening::New;
            Some(id)
        }
        None => None,
    };

    let mut resolved = false;
    if let Some(id) = alert_id
        && !opened
        && !touched.contains(&id)
    {
        touched.push(id);
    }
    for id in touched {
        if Some(id) == alert_id && opened {
            continue;
        }
        if is_open(tx, id).await?
            && let Some(ended_at) = all_members_resolved(tx, id).await?
        {
            resolve_in(tx, id, integration, "source", ended_at, now).await?;
            resolved |= Some(id) == alert_id;
        }
    }

    sqlx::query(
        "INSERT INTO deliveries (id, integration_id, digest, received_at, alert_id, body) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&delivery_id)
    .bind(target.integration_id)
    .bind(&delivery.digest)
    .bind(to_ms(now))
    .bind(alert_id)
    .bind(body)
    .execute(&mut *tx)
    .await?;
    Ok(Applied {
        delivery_id,
        duplicate: false,
        alert_id,
        opened,
        resolved,
    })
}

async fn open_alert(conn: &mut AnyConnection, integration: &str, key: &str) -> Result<Option<i64>> {
    // A group attached to another group's alert (G4) acts on that alert while it is open.
    Ok(sqlx::query_scalar(
        "SELECT id FROM alerts WHERE integration_id = $1 AND dedup_key = $2 \
         AND state <> 'resolved' \
         UNION ALL SELECT g.alert_id FROM alert_groups g JOIN alerts a ON a.id = g.alert_id \
         WHERE g.integration_id = $3 AND g.group_key = $4 AND a.state <> 'resolved' LIMIT 1",
    )
    .bind(integration)
    .bind(key)
    .bind(integration)
    .bind(key)
    .fetch_optional(conn)
    .await?)
}

async fn is_open(conn: &mut AnyConnection, id: i64) -> Result<bool> {
    let state: Option<String> = sqlx::query_scalar("SELECT state FROM alerts WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(state.is_some_and(|state| state != "resolved"))
}

/// A member's latest stored occurrence and the alert it belongs to.
#[derive(Clone, Debug)]
struct Known {
    occurrence: Occurrence,
    alert_id: Option<i64>,
}

fn known_from_row(row: &sqlx::any::AnyRow) -> Result<Known> {
    let status: String = row.try_get("status")?;
    Ok(Known {
        occurrence: Occurrence {
            status: MemberStatus::parse(&status).unwrap_or(MemberStatus::Firing),
            starts_at: from_ms(row.try_get("starts_at")?)?,
            ends_at: from_ms_opt(row.try_get("ends_at")?)?,
        },
        alert_id: row.try_get("alert_id")?,
    })
}

/// The stored state of every member a delivery lists, by fingerprint, in one statement.
async fn latest_occurrences(
    conn: &mut AnyConnection,
    integration: &str,
    members: &[Member],
) -> Result<HashMap<String, Known>> {
    let fingerprints: Vec<&str> = members.iter().map(|m| m.fingerprint.as_str()).collect();
    let list = serde_json::to_string(&fingerprints).unwrap_or_else(|_| "[]".into());
    let sql = format!(
        "SELECT fingerprint, status, starts_at, ends_at, alert_id FROM alert_members \
         WHERE integration_id = $1 AND fingerprint IN (SELECT value FROM {})",
        Dialect::of(conn).json_values("$2")
    );
    let rows = sqlx::query(&sql)
        .bind(integration)
        .bind(list)
        .fetch_all(conn)
        .await?;
    let mut known = HashMap::with_capacity(rows.len());
    for row in &rows {
        known.insert(row.try_get("fingerprint")?, known_from_row(row)?);
    }
    Ok(known)
}

async fn latest_occurrence(
    conn: &mut AnyConnection,
    integration: &str,
    fingerprint: &str,
) -> Result<Option<Known>> {
    let row = sqlx::query(
        "SELECT status, starts_at, ends_at, alert_id FROM alert_members \
         WHERE integration_id = $1 AND fingerprint = $2",
    )
    .bind(integration)
    .bind(fingerprint)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(known_from_row).transpose()
}

/// The open alert of the integration that holds an occurrence this delivery lists as
/// firing, if any (G4): same fingerprint and same `startsAt`.
async fn shared_alert(
    conn: &mut AnyConnection,
    delivery: &GroupDelivery,
    latest: &HashMap<String, Known>,
) -> Result<Option<i64>> {
    let mut candidates = Vec::new();
    for member in delivery
        .members
        .iter()
        .filter(|m| m.occurrence.status.is_firing())
    {
        if let Some(Known {
            occurrence,
            alert_id: Some(id),
        }) = latest.get(&member.fingerprint)
            && occurrence.starts_at == member.occurrence.starts_at
            && !candidates.contains(id)
        {
            candidates.push(*id);
        }
    }
    for id in candidates {
        if is_open(conn, id).await? {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// Records that `delivery`'s group now acts on alert `id`, with a timeline entry.
async fn attach_group(
    conn: &mut AnyConnection,
    integration: &str,
    delivery: &GroupDelivery,
    id: i64,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO alert_groups (integration_id, group_key, alert_id, attached_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(integration)
    .bind(&delivery.dedup_key)
    .bind(id)
    .bind(to_ms(now))
    .execute(&mut *conn)
    .await?;
    let detail = serde_json::json!({
        "group": delivery.dedup_key,
        "receiver": delivery.receiver,
    });
    add_event(conn, id, now, "group_attached", None, detail).await
}

/// What one member entry did, as far as the group is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Applies {
    /// A new firing occurrence: it joins or opens the group's alert.
    NewFiring,
    /// A firing occurrence resolved.
    Resolved,
    Other,
}

/// Applies one member entry (M1–M3) over its `latest` stored occurrence. New occurrences
/// go to `batch`, for [`write_new`].
async fn apply_member(
    conn: &mut AnyConnection,
    integration: &str,
    group_key: &str,
    member: &Member,
    latest: Option<&Occurrence>,
    batch: &mut Vec<serde_json::Value>,
    now: Timestamp,
) -> Result<Applies> {
    let labels = serde_json::to_string(&member.labels).unwrap_or_default();
    let annotations = serde_json::to_string(&member.annotations).unwrap_or_default();
    match members::apply(latest, &member.occurrence, now) {
        MemberChange::DisputedRefire => {
            // A stale snapshot or a real re-fire: decided by `due_refires` after the grace.
            sqlx::query(
                "UPDATE alert_members SET disputed_since = COALESCE(disputed_since, $1), \
                 group_key = $2 WHERE integration_id = $3 AND fingerprint = $4",
            )
            .bind(to_ms(now))
            .bind(group_key)
            .bind(integration)
            .bind(&member.fingerprint)
            .execute(conn)
            .await?;
            Ok(Applies::Other)
        }
        MemberChange::Ignore => {
            if member.occurrence.status == MemberStatus::Resolved {
                settle_dispute(conn, integration, member).await?;
            }
            Ok(Applies::Other)
        }
        MemberChange::Refresh => {
            sqlx::query(
                "UPDATE alert_members SET labels = $1, annotations = $2, updated_at = $3 \
                 WHERE integration_id = $4 AND fingerprint = $5",
            )
            .bind(labels)
            .bind(annotations)
            .bind(to_ms(now))
            .bind(integration)
            .bind(&member.fingerprint)
            .execute(conn)
            .await?;
            Ok(Applies::Other)
        }
        MemberChange::Resolve { at } => {
            sqlx::query(
                "UPDATE alert_members SET status = 'resolved', ends_at = $1, updated_at = $2 \
                 WHERE integration_id = $3 AND fingerprint = $4",
            )
            .bind(to_ms(at))
            .bind(to_ms(now))
            .bind(integration)
            .bind(&member.fingerprint)
            .execute(conn)
            .await?;
            Ok(Applies::Resolved)
        }
        MemberChange::New(occurrence) => {
            batch.push(serde_json::json!({
                "f": member.fingerprint,
                "s": occurrence.status.as_str(),
                "a": to_ms(occurrence.starts_at),
                "e": occurrence.ends_at.map(to_ms),
                "l": labels,
                "n": annotations,
            }));
            Ok(if occurrence.status == MemberStatus::Firing {
                Applies::NewFiring
            } else {
                Applies::Other
            })
        }
    }
}

/// Writes the new occurrences [`apply_member`] collected, in one statement: a first
/// delivery of a group of thousands (IN-04) costs one write, not one per member. A firing
/// occurrence detaches from the alert its predecessor belonged to until it is attached.
async fn write_new(
    conn: &mut AnyConnection,
    integration: &str,
    group_key: &str,
    batch: &mut Vec<serde_json::Value>,
    now: Timestamp,
) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let rows = serde_json::Value::Array(std::mem::take(batch)).to_string();
    // `WHERE true` keeps SQLite from reading `ON CONFLICT` as a join constraint.
    // `->> 'f'` reads key `f` on both servers; Postgres yields text, so numbers are cast.
    let sql = format!(
        "INSERT INTO alert_members (integration_id, fingerprint, alert_id, status, \
         starts_at, ends_at, labels, annotations, updated_at, group_key) \
         SELECT $1, value ->> 'f', NULL, value ->> 's', CAST(value ->> 'a' AS BIGINT), \
         CAST(value ->> 'e' AS BIGINT), value ->> 'l', value ->> 'n', $2, $3 FROM {} WHERE true \
         ON CONFLICT (integration_id, fingerprint) DO UPDATE SET \
         alert_id = CASE WHEN excluded.status = 'firing' THEN NULL \
         ELSE alert_members.alert_id END, \
         status = excluded.status, starts_at = excluded.starts_at, \
         ends_at = excluded.ends_at, labels = excluded.labels, \
         annotations = excluded.annotations, updated_at = excluded.updated_at, \
         group_key = excluded.group_key, disputed_since = NULL",
        Dialect::of(conn).json_objects("$4")
    );
    sqlx::query(&sql)
        .bind(integration)
        .bind(to_ms(now))
        .bind(group_key)
        .bind(rows)
        .execute(conn)
        .await?;
    Ok(())
}

/// A resolved entry for the disputed occurrence: it was a stale snapshot (IN-02 a).
async fn settle_dispute(
    conn: &mut AnyConnection,
    integration: &str,
    member: &Member,
) -> Result<()> {
    sqlx::query(
        "UPDATE alert_members SET disputed_since = NULL \
         WHERE integration_id = $1 AND fingerprint = $2 AND starts_at = $3 \
         AND disputed_since IS NOT NULL",
    )
    .bind(integration)
    .bind(&member.fingerprint)
    .bind(to_ms(member.occurrence.starts_at))
    .execute(conn)
    .await?;
    Ok(())
}

/// Attaches members to `alert`, in one statement however many there are.
async fn attach_all(
    conn: &mut AnyConnection,
    integration: &str,
    fingerprints: &[&str],
    alert: i64,
) -> Result<()> {
    if fingerprints.is_empty() {
        return Ok(());
    }
    let list = serde_json::to_string(fingerprints).unwrap_or_else(|_| "[]".into());
    let sql = format!(
        "UPDATE alert_members SET alert_id = $1 WHERE integration_id = $2 \
         AND fingerprint IN (SELECT value FROM {})",
        Dialect::of(conn).json_values("$3")
    );
    sqlx::query(&sql)
        .bind(alert)
        .bind(integration)
        .bind(list)
        .execute(conn)
        .await?;
    Ok(())
}

async fn attach(
    conn: &mut AnyConnection,
    integration: &str,
    fingerprint: &str,
    alert: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE alert_members SET alert_id = $1 WHERE integration_id = $2 AND fingerprint = $3",
    )
    .bind(alert)
    .bind(integration)
    .bind(fingerprint)
    .execute(conn)
    .await?;
    Ok(())
}

/// When every member of the alert has resolved, the latest member end (G3).
async fn all_members_resolved(conn: &mut AnyConnection, alert: i64) -> Result<Option<Timestamp>> {
    let row = sqlx::query(
        "SELECT CAST(SUM(CASE WHEN status = 'firing' THEN 1 ELSE 0 END) AS BIGINT) AS firing, \
         MAX(ends_at) AS ended, COUNT(*) AS members \
         FROM alert_members WHERE alert_id = $1",
    )
    .bind(alert)
    .fetch_one(conn)
    .await?;
    let firing: Option<i64> = row.try_get("firing")?;
    let members: i64 = row.try_get("members")?;
    if members == 0 || firing.unwrap_or(0) > 0 {
        return Ok(None);
    }
    let ended: Option<i64> = row.try_get("ended")?;
    from_ms_opt(ended)
}

/// What a new alert shows.
struct NewAlert<'a> {
    key: &'a str,
    fields: &'a AlertFields,
    severity: Severity,
    /// The group's receiver, unescaped, for display (IN-08).
    receiver: Option<&'a str>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Opening {
    New,
    Reopened,
}

/// A firing occurrence for a key with no open alert (F1–F3): if the source resolved the
/// key's last alert less than `reopen_window` ago, that alert reopens in the state it had,
/// without paging; otherwise a new alert opens and pages, unless the service is at its cap
/// of unacknowledged alerts (D10), which refuses the whole delivery.
async fn open_or_reopen(
    conn: &mut AnyConnection,
    target: &Target<'_>,
    new: &NewAlert<'_>,
    now: Timestamp,
    detail: serde_json::Value,
) -> Result<(i64, Opening)> {
    let last = sqlx::query(
        "SELECT id, state, resolved_via, resolved_at, updated_at, prev_state, paused_next_at \
         FROM alerts WHERE integration_id = $1 AND dedup_key = $2 ORDER BY id DESC LIMIT 1",
    )
    .bind(target.integration_id)
    .bind(new.key)
    .fetch_optional(&mut *conn)
    .await?;
    let since = to_ms(now.saturating_sub(target.reopen_window).unwrap_or(now));
    if let Some(row) = last {
        let via: Option<String> = row.try_get("resolved_via")?;
        let resolved_at: Option<i64> = row.try_get("resolved_at")?;
        let updated_at: i64 = row.try_get("updated_at")?;
        let recent = resolved_at.unwrap_or(updated_at).max(updated_at) >= since;
        if via.as_deref() == Some("source") && recent {
            let id: i64 = row.try_get("id")?;
            let prev: Option<String> = row.try_get("prev_state")?;
            // Escalation was paused at the resolve; it resumes with the time it had left.
            let paused: Option<i64> = row.try_get("paused_next_at")?;
            let left = paused.map(|at| (at - updated_at).max(0));
            let prev = prev.as_deref().unwrap_or("triggered");
            reopen(conn, id, prev, left, target, now).await?;
            return Ok((id, Opening::Reopened));
        }
    }

    let unacked: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM alerts WHERE service_id = $1 AND state = 'triggered'",
    )
    .bind(target.service_id)
    .fetch_one(&mut *conn)
    .await?;
    if unacked >= i64::from(target.max_open_unacked) {
        return Err(super::StoreError::CapReached {
            limit: target.max_open_unacked,
        });
    }
    let id = insert_alert(conn, target, new, now, detail).await?;
    Ok((id, Opening::New))
}

/// Returns a source-resolved alert to its pre-resolve state (F2): escalation resumes where
/// it was, no one is paged by the reopen itself.
async fn reopen(
    conn: &mut AnyConnection,
    id: i64,
    prev_state: &str,
    left_ms: Option<i64>,
    target: &Target<'_>,
    now: Timestamp,
) -> Result<()> {
    let next = (prev_state == "triggered").then(|| left_ms.map(|left| to_ms(now) + left));
    sqlx::query(
        "UPDATE alerts SET state = $1, resolved_at = NULL, resolved_by = NULL, \
         resolved_via = NULL, reopen_count = reopen_count + 1, updated_at = $2, \
         next_escalation_at = $3 WHERE id = $4",
    )
    .bind(prev_state)
    .bind(to_ms(now))
    .bind(next.flatten())
    .bind(id)
    .execute(&mut *conn)
    .await?;
    let detail = serde_json::json!({ "state": prev_state });
    add_event(
        conn,
        id,
        now,
        "reopened",
        Some(target.integration_id),
        detail,
    )
    .await?;
    Ok(())
}

/// Opens a new alert, due to escalate at once, with its `created` entry.
async fn insert_alert(
    conn: &mut AnyConnection,
    target: &Target<'_>,
    new: &NewAlert<'_>,
    at: Timestamp,
    mut detail: serde_json::Value,
) -> Result<i64> {
    let (key, fields, severity) = (new.key, new.fields, new.severity);
    let now = to_ms(at);
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO alerts (service_id, integration_id, dedup_key, summary, details, severity, \
         source, runbook_url, labels, links, state, created_at, updated_at, policy_id, \
         esc_waiting, next_escalation_at, receiver) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'triggered', $11, $12, $13, 1, $14, \
         $15) RETURNING id",
    )
    .bind(target.service_id)
    .bind(target.integration_id)
    .bind(key)
    .bind(&fields.summary)
    .bind(&fields.details)
    .bind(severity.as_str())
    .bind(&fields.source)
    .bind(&fields.runbook_url)
    .bind(serde_json::to_string(&fields.labels).unwrap_or_default())
    .bind(serde_json::to_string(&fields.links).unwrap_or_default())
    .bind(now)
    .bind(now)
    .bind(target.policy_id)
    .bind(now)
    .bind(new.receiver)
    .fetch_one(&mut *conn)
    .await?;
    detail["summary"] = fields.summary.clone().into();
    detail["severity"] = severity.as_str().into();
    add_event(conn, id, at, "created", Some(target.integration_id), detail).await?;
    Ok(id)
}

/// A delivery for an open alert refreshes what it shows; severity never goes down while
/// open, and a changed summary pages no one.
async fn refresh_alert(
    conn: &mut AnyConnection,
    id: i64,
    fields: &AlertFields,
    severity: Severity,
    now: Timestamp,
) -> Result<()> {
    let current: String = sqlx::query_scalar("SELECT severity FROM alerts WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    let severity = current
        .parse()
        .map_or(severity, |s: Severity| severity.max(s));
    sqlx::query(
        "UPDATE alerts SET summary = $1, details = $2, severity = $3, source = $4, \
         runbook_url = COALESCE($5, runbook_url), labels = $6, links = $7, updated_at = $8 \
         WHERE id = $9",
    )
    .bind(&fields.summary)
    .bind(&fields.details)
    .bind(severity.as_str())
    .bind(&fields.source)
    .bind(&fields.runbook_url)
    .bind(serde_json::to_string(&fields.labels).unwrap_or_default())
    .bind(serde_json::to_string(&fields.links).unwrap_or_default())
    .bind(to_ms(now))
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// What applying one event did.
#[derive(Clone, Debug, Serialize)]
pub struct EventOutcome {
    pub dedup_key: String,
    pub alert_id: Option<i64>,
    /// `opened`, `updated`, `acknowledged`, `resolved` or `dropped` (nothing open to act on).
    pub effect: &'static str,
}

/// Applies event-format deliveries (PagerDuty Events v2, generic JSON) in one transaction:
/// a trigger opens an alert or updates the open one with its key (no new page), ack and
/// resolve act on the open alert or are dropped. `default_severity` fills in a missing one.
pub async fn apply_events(
    store: &Store,
    target: &Target<'_>,
    events: &[AlertEvent],
    default_severity: Severity,
    body: &[u8],
    now: Timestamp,
) -> Result<(String, Vec<EventOutcome>)> {
    let mut tx = store.begin().await?;
    let delivery_id = ulid::Ulid::new().to_string();
    let mut outcomes = Vec::with_capacity(events.len());
    for event in events {
        let open = open_alert(&mut tx, target.integration_id, &event.dedup_key).await?;
        let by = target.integration_id;
        let effect = match (event.action, open) {
            (EventAction::Trigger, None) => {
                let severity = event.fields.severity.unwrap_or(default_severity);
                let detail = serde_json::json!({ "delivery_id": delivery_id });
                let new = NewAlert {
                    key: &event.dedup_key,
                    fields: &event.fields,
                    severity,
                    receiver: None,
                };
                let (id, opening) = open_or_reopen(&mut tx, target, &new, now, detail).await?;
                let effect = if opening == Opening::New {
                    "opened"
                } else {
                    "reopened"
                };
                outcomes.push(outcome(event, Some(id), effect));
                continue;
            }
            (EventAction::Trigger, Some(id)) => {
                let severity = event.fields.severity.unwrap_or(default_severity);
                refresh_alert(&mut tx, id, &event.fields, severity, now).await?;
                record_duplicate(&mut tx, id, now).await?;
                (Some(id), "updated")
            }
            (EventAction::Acknowledge, Some(id)) => {
                acknowledge_in(&mut tx, id, by, "source", now).await?;
                (Some(id), "acknowledged")
            }
            (EventAction::Resolve, Some(id)) => {
                resolve_in(&mut tx, id, by, "source", event.timestamp.min(now), now).await?;
                (Some(id), "resolved")
            }
            (EventAction::Acknowledge | EventAction::Resolve, None) => (None, "dropped"),
        };
        outcomes.push(outcome(event, effect.0, effect.1));
    }
    let digest = format!(
        "events:{}",
        crate::domain::fingerprint::sha256_hex(&[&delivery_id])
    );
    sqlx::query(
        "INSERT INTO deliveries (id, integration_id, digest, received_at, alert_id, body) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&delivery_id)
    .bind(target.integration_id)
    .bind(digest)
    .bind(to_ms(now))
    .bind(outcomes.first().and_then(|o| o.alert_id))
    .bind(body)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((delivery_id, outcomes))
}

fn outcome(event: &AlertEvent, alert_id: Option<i64>, effect: &'static str) -> EventOutcome {
    EventOutcome {
        dedup_key: event.dedup_key.clone(),
        alert_id,
        effect,
    }
}

/// A repeated trigger bumps `trigger_count`; the timeline gets at most one `duplicate`
/// entry per alert per minute (D9), so a chatty sender cannot flood it.
async fn record_duplicate(conn: &mut AnyConnection, id: i64, now: Timestamp) -> Result<()> {
    sqlx::query("UPDATE alerts SET trigger_count = trigger_count + 1 WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let last: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(at) FROM timeline WHERE alert_id = $1 AND kind = 'duplicate'",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    let minute_ago = to_ms(now) - 60_000;
    if last.is_none_or(|at| at <= minute_ago) {
        add_event(conn, id, now, "duplicate", None, serde_json::json!({})).await?;
    }
    Ok(())
}

/// Settles disputed re-fires (M2, IN-02 b): a firing entry for an occurrence already
/// resolved, with no resolve for it within `grace`, is taken as a real re-fire and opens or
/// reopens its group's alert. Returns the ids of alerts opened (which page).
pub async fn settle_disputes(
    store: &Store,
    target: &Target<'_>,
    grace: SignedDuration,
    default_severity: Severity,
    now: Timestamp,
) -> Result<Vec<i64>> {
    let cutoff = to_ms(now.saturating_sub(grace).unwrap_or(now));
    let due = sqlx::query(
        "SELECT fingerprint, group_key, labels, annotations FROM alert_members \
         WHERE integration_id = $1 AND disputed_since IS NOT NULL AND disputed_since <= $2 \
         AND group_key IS NOT NULL",
    )
    .bind(target.integration_id)
    .bind(cutoff)
    .fetch_all(store.pool())
    .await?;
    let mut opened = Vec::new();
    for row in due {
        let fingerprint: String = row.try_get("fingerprint")?;
        let group_key: String = row.try_get("group_key")?;
        let labels: String = row.try_get("labels")?;
        let annotations: String = row.try_get("annotations")?;
        let labels: std::collections::BTreeMap<String, String> =
            serde_json::from_str(&labels).unwrap_or_default();
        let annotations: std::collections::BTreeMap<String, String> =
            serde_json::from_str(&annotations).unwrap_or_default();

        let mut tx = store.begin().await?;
        sqlx::query(
            "UPDATE alert_members SET status = 'firing', ends_at = NULL, disputed_since = NULL, \
             alert_id = NULL, updated_at = $1 WHERE integration_id = $2 AND fingerprint = $3",
        )
        .bind(to_ms(now))
        .bind(target.integration_id)
        .bind(&fingerprint)
        .execute(&mut *tx)
        .await?;
        let id = match open_alert(&mut tx, target.integration_id, &group_key).await? {
            Some(id) => id,
            None => {
                let summary = annotations
                    .get("summary")
                    .or_else(|| labels.get("alertname"))
                    .cloned()
                    .unwrap_or_else(|| format!("alert {fingerprint}"));
                let severity = labels
                    .get("severity")
                    .and_then(|s| Severity::from_wire(s))
                    .unwrap_or(default_severity);
                let fields = AlertFields {
                    summary,
                    labels,
                    ..AlertFields::default()
                };
                let new = NewAlert {
                    key: &group_key,
                    fields: &fields,
                    severity,
                    receiver: None,
                };
                let detail = serde_json::json!({ "refire_of": fingerprint });
                let (id, opening) = open_or_reopen(&mut tx, target, &new, now, detail).await?;
                if opening == Opening::New {
                    opened.push(id);
                }
                id
            }
        };
        attach(&mut tx, target.integration_id, &fingerprint, id).await?;
        let detail = serde_json::json!({ "fingerprint": fingerprint, "after_grace": true });
        add_event(&mut tx, id, now, "refired", None, detail).await?;
        tx.commit().await?;
    }
    Ok(opened)
}
