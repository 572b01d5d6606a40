//! `/ui/admin/config` rendered (issue #7): the config directory, when the serving config
//! was loaded, the reload button and how the last reload went.

use serde::Serialize;

use super::{Me, render, utc};
use crate::engine::reload::{Status, Summary};

/// The admin's config page.
pub fn page(me: &Me<'_>, status: &Status) -> String {
    #[derive(Serialize)]
    struct Last<'a> {
        at: String,
        trigger: &'a str,
        ok: Option<&'a Summary>,
        problems: &'a [String],
    }
    #[derive(Serialize)]
    struct Page<'a> {
        me: &'a Me<'a>,
        dir: String,
        loaded_at: String,
        generation: u64,
        last: Option<Last<'a>>,
    }
    let last = status.last.as_ref().map(|last| Last {
        at: utc(last.at),
        trigger: last.trigger.as_str(),
        ok: last.outcome.as_ref().ok(),
        problems: last.outcome.as_ref().err().map_or(&[], Vec::as_slice),
    });
    render(
        "config_reload.html",
        Page {
            me,
            dir: status.dir.display().to_string(),
            loaded_at: utc(status.loaded_at),
            generation: status.generation,
            last,
        },
    )
}
