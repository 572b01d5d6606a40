//! The status page, pre-rendered (comms spec §4.3: "cached snapshot rebuilt on change").
//!
//! Public routes read an `Arc<Rendered>` behind a `RwLock` held only to clone the `Arc`,
//! so page views never touch the database. Writers (publish, updates, component and
//! maintenance changes) call [`StatusCache::bump`] and then [`StatusCache::refresh`],
//! which reads one [`Snapshot`] and renders every page, JSON body and feed with its ETag.
//! The engine refreshes too, so uptime bars and "today" move at least once a minute.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use anyhow::Context as _;
use axum::body::Bytes;
use axum::http::HeaderValue;
use jiff::{SignedDuration, Timestamp};

use crate::config::Config;
use crate::domain::statuspage::{Snapshot, time};
use crate::store::{self, Store};
use crate::web::statuspage::{feeds, html, json};

/// A rendering older than this is rebuilt even if nothing changed.
pub const MAX_AGE: SignedDuration = SignedDuration::from_mins(1);

/// What a cached body is, which decides its headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Statuspage-v2 JSON: CORS `*`, 30 s cache.
    Json,
    /// HTML pages: the CSP header.
    Html,
    /// RSS and Atom: `Last-Modified`, 60 s cache.
    Feed,
    Css,
}

/// One pre-rendered response body with its validators.
#[derive(Clone, Debug)]
pub struct Entry {
    pub body: Bytes,
    pub content_type: &'static str,
    /// A strong ETag over the body, quoted.
    pub etag: HeaderValue,
    pub last_modified: Option<HeaderValue>,
    pub kind: Kind,
}

impl Entry {
    fn new(kind: Kind, content_type: &'static str, body: String) -> Entry {
        let digest = crate::domain::fingerprint::sha256_hex(&[&body]);
        let etag = HeaderValue::from_str(&format!("\"{}\"", &digest[..32]))
            .unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
        Entry {
            body: Bytes::from(body),
            content_type,
            etag,
            last_modified: None,
            kind,
        }
    }

    fn json(value: &serde_json::Value) -> Entry {
        Entry::new(
            Kind::Json,
            "application/json; charset=utf-8",
            value.to_string(),
        )
    }
}

/// Every public response, rendered from one snapshot.
#[derive(Debug)]
pub struct Rendered {
    /// The cache version this was built for.
    pub version: u64,
    pub built_at: Timestamp,
    pub snapshot: Arc<Snapshot>,
    /// By path (`/api/v2/summary.json`, `/incidents/<id>`, …).
    entries: HashMap<String, Entry>,
}

impl Rendered {
    /// The response for `path`, if the page has one.
    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries.get(path)
    }

    /// Renders everything the public routes serve.
    pub fn render(snapshot: Snapshot, version: u64, now: Timestamp) -> Rendered {
        let mut entries = HashMap::new();
        let mut put = |path: &str, entry: Entry| {
            entries.insert(path.to_string(), entry);
        };
        let s = &snapshot;

        put("/api/v2/summary.json", Entry::json(&json::summary(s)));
        put("/api/v2/status.json", Entry::json(&json::status(s)));
        put("/api/v2/components.json", Entry::json(&json::components(s)));
        put("/api/v2/incidents.json", Entry::json(&json::incidents(s)));
        put(
            "/api/v2/incidents/unresolved.json",
            Entry::json(&json::unresolved(s)),
        );
        put(
            "/api/v2/scheduled-maintenances.json",
            Entry::json(&json::scheduled_maintenances(s)),
        );
        put(
            "/api/v2/scheduled-maintenances/upcoming.json",
            Entry::json(&json::upcoming(s)),
        );
        put(
            "/api/v2/scheduled-maintenances/active.json",
            Entry::json(&json::active(s)),
        );

        let page = |body: String| Entry::new(Kind::Html, "text/html; charset=utf-8", body);
        put("/", page(html::index(s, now)));
        put("/history", page(html::history(s)));
        put("/subscribe", page(html::subscribe_form(s, None)));
        for item in s.incidents.iter().chain(&s.maintenances) {
            if let Some(body) = html::incident(s, &item.id) {
                put(&format!("/incidents/{}", item.id), page(body));
            }
        }
        put(
            "/statuspage.css",
            Entry::new(
                Kind::Css,
                "text/css; charset=utf-8",
                html::STYLESHEET.to_string(),
            ),
        );

        let modified = HeaderValue::from_str(&time::rfc822_gmt(feeds::last_modified(s))).ok();
        let feed = |content_type: &'static str, body: String| Entry {
            last_modified: modified.clone(),
            ..Entry::new(Kind::Feed, content_type, body)
        };
        put(
            "/history.rss",
            feed("application/rss+xml; charset=utf-8", feeds::rss(s)),
        );
        put(
            "/history.atom",
            feed("application/atom+xml; charset=utf-8", feeds::atom(s)),
        );

        Rendered {
            version,
            built_at: now,
            snapshot: Arc::new(snapshot),
            entries,
        }
    }
}

/// The absolute base URL of the public page: `[page].url`, else the instance's public URL.
pub fn page_url(config: &Config) -> String {
    config
        .statuspage
        .url
        .clone()
        .unwrap_or_else(|| config.settings.public_url())
        .trim_end_matches('/')
        .to_string()
}

/// The rendered page and the version counter writers bump.
#[derive(Debug)]
pub struct StatusCache {
    rendered: RwLock<Arc<Rendered>>,
    /// Bumped after every change the page shows; a rendering of an older version is stale.
    version: AtomicU64,
    /// One rebuild at a time; a second caller waits, then finds the work done.
    building: tokio::sync::Mutex<()>,
    /// The newest publish or public update seen in the database: writes from another
    /// process (the CLI) show up as a newer one at the engine's next pass.
    seen_publish: AtomicI64,
}

impl StatusCache {
    /// Brings component rows in line with the config and renders the page once, before
    /// the server answers anything.
    pub async fn load(store: &Store, config: &Config, now: Timestamp) -> anyhow::Result<Self> {
        store::statuspage::sync(store, &config.statuspage, now)
            .await
            .context("syncing status page components")?;
        let snapshot = build_snapshot(store, config, now).await?;
        Ok(StatusCache {
            rendered: RwLock::new(Arc::new(Rendered::render(snapshot, 0, now))),
            version: AtomicU64::new(0),
            building: tokio::sync::Mutex::new(()),
            seen_publish: AtomicI64::new(store::statuspage::last_publish(store).await?),
        })
    }

    /// The current rendering: a clone of an `Arc`, never a database read.
    pub fn current(&self) -> Arc<Rendered> {
        self.rendered
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }

    /// Marks the rendering stale when the database holds a publish or public update this
    /// process has not rendered (one made by the CLI).
    pub async fn notice_outside_writes(&self, store: &Store) -> anyhow::Result<()> {
        let newest = store::statuspage::last_publish(store).await?;
        if self.seen_publish.swap(newest, Ordering::SeqCst) != newest {
            self.bump();
        }
        Ok(())
    }

    /// Marks the rendering stale; the next [`refresh`](Self::refresh) rebuilds it.
    pub fn bump(&self) {
        self.version.fetch_add(1, Ordering::SeqCst);
    }

    /// Rebuilds when stale (a bump since the last build, or [`MAX_AGE`] passed). On
    /// failure the previous rendering stays and the next refresh tries again. Returns
    /// whether it rebuilt.
    pub async fn refresh(
        &self,
        store: &Store,
        config: &Config,
        now: Timestamp,
    ) -> anyhow::Result<bool> {
        let _building = self.building.lock().await;
        let version = self.version.load(Ordering::SeqCst);
        let current = self.current();
        let fresh = now.duration_since(current.built_at) < MAX_AGE && now >= current.built_at;
        if current.version == version && fresh {
            return Ok(false);
        }
        let snapshot = build_snapshot(store, config, now).await?;
        let rendered = Arc::new(Rendered::render(snapshot, version, now));
        *self
            .rendered
            .write()
            .unwrap_or_else(|poison| poison.into_inner()) = rendered;
        tracing::debug!(version, "status page rendered");
        Ok(true)
    }

    /// Bumps and rebuilds at once: what a writer calls after a change, so its own next
    /// read sees it. A failed rebuild is logged; the engine's next pass tries again.
    pub async fn changed(&self, store: &Store, config: &Config, now: Timestamp) {
        self.bump();
        if let Err(err) = self.refresh(store, config, now).await {
            tracing::warn!(error = %crate::telemetry::chain(&err),
                "status page rebuild failed; serving the previous one");
        }
    }
}

async fn build_snapshot(
    store: &Store,
    config: &Config,
    now: Timestamp,
) -> anyhow::Result<Snapshot> {
    store::statuspage::snapshot(store, &config.statuspage, &page_url(config), now)
        .await
        .context("reading the status page")
}
