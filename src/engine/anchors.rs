//! Keeping rotation anchors across config edits (on-call spec §1.2, D13): an edit never
//! moves who is on call now.
//!
//! At startup (and before a CLI command reads rotations) each config rotation is compared
//! with the settings stored last time. Unchanged: it takes the stored anchor. New: it is
//! stored as is (slot at `start` is `people[0]`'s). Changed `people`, `kind`,
//! `shift_length`, `start`, `time_zone` or `advance`: it is re-anchored at `now` so the
//! person on call under the old settings stays on call (or, if removed, the next one
//! after them), and the new settings and anchor are stored. Whoever sees an edit first
//! (server or CLI) records it at their "now".

use anyhow::Context as _;
use jiff::Timestamp;

use crate::config::Config;
use crate::domain::oncall::{self, Advance, Rotation, Target};
use crate::store::{Store, rotations};

/// Gives every rotation of `config` its stored anchor, re-anchoring edited ones at `now`.
pub async fn sync(store: &Store, config: &mut Config, now: Timestamp) -> anyhow::Result<()> {
    let stored = rotations::all(store)
        .await
        .context("reading stored rotation state")?;
    let ids: Vec<String> = config.rotations.keys().cloned().collect();
    for id in ids {
        let Some(current) = config.rotations.get(&id).cloned() else {
            continue;
        };
        let anchored = match stored.get(&id) {
            None => {
                rotations::save(store, &current, now).await?;
                current
            }
            Some(old) if same_settings(old, &current) => Rotation {
                anchor: old.anchor.clone(),
                ..current
            },
            Some(old) => {
                let new = reanchor(config, old, current, now);
                tracing::info!(
                    rotation.id = %id,
                    anchor.position = new.anchor.as_ref().map(|a| a.position),
                    "rotation edited; re-anchored so whoever is on call stays on call"
                );
                rotations::save(store, &new, now).await?;
                new
            }
        };
        config.rotations.insert(id, anchored);
    }
    Ok(())
}

/// Whether the settings that decide the grid and its owners are unchanged.
fn same_settings(old: &Rotation, new: &Rotation) -> bool {
    old.people == new.people
        && old.kind == new.kind
        && old.shift_length == new.shift_length
        && old.start == new.start
        && rotations::zone_name(&old.time_zone) == rotations::zone_name(&new.time_zone)
        && old.advance == new.advance
}

/// `new` anchored at `now` after `old`; an `on-active-shifts` rotation's old owner is
/// counted with the rules of a schedule using it (D2).
fn reanchor(config: &Config, old: &Rotation, new: Rotation, now: Timestamp) -> Rotation {
    let target = Target::Rotation(old.id.clone());
    let using = config
        .schedules
        .values()
        .find(|schedule| schedule.rules.iter().any(|rule| rule.target == target));
    match (old.advance, using) {
        (Advance::OnActiveShifts, Some(schedule)) => {
            oncall::reanchor_in_schedule(schedule, old, new, now)
        }
        _ => oncall::reanchor(old, new, now),
    }
}
