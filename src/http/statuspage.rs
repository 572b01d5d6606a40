//! The public status page over HTTP (comms spec §4.3, §4.4, §4.7, §4.8) and its admin API.
//!
//! Public, no auth, served from the in-memory [`StatusCache`] (never the database): `/`,
//! `/incidents/{id}`, `/history`, `/subscribe` (GET), `/statuspage.css`, `/history.rss`,
//! `/history.atom` and the Statuspage-v2 JSON under `/api/v2/`. Every cached answer carries
//! an ETag and honours `If-None-Match`; JSON adds CORS `*`, HTML a CSP without inline
//! script. `subscribe` handles the subscription flow (which writes), `admin` publishing,
//! updates, maintenances, manual component states and reclassification (bearer token).

mod admin;
pub mod cache;
mod subscribe;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode, Uri, header};
use axum::response::IntoResponse as _;
use axum::routing::get;

use super::{AppError, AppState};
pub use cache::{Entry, Kind, StatusCache, page_url};

/// No script at all, styles only from our own stylesheet, forms only to ourselves.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
                       form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The cached paths served as they are.
const CACHED: [&str; 14] = [
    "/",
    "/history",
    "/statuspage.css",
    "/history.rss",
    "/history.atom",
    "/api/v2/summary.json",
    "/api/v2/status.json",
    "/api/v2/components.json",
    "/api/v2/incidents.json",
    "/api/v2/incidents/unresolved.json",
    "/api/v2/scheduled-maintenances.json",
    "/api/v2/scheduled-maintenances/upcoming.json",
    "/api/v2/scheduled-maintenances/active.json",
    "/subscribe",
];

pub fn router() -> Router<AppState> {
    let mut router = Router::new();
    for path in CACHED {
        router = if path == "/subscribe" {
            router.route(path, get(cached).post(subscribe::subscribe))
        } else {
            router.route(path, get(cached))
        };
    }
    router
        .route("/incidents/{id}", get(incident))
        .route(
            "/subscribe/confirm",
            get(subscribe::confirm_page).post(subscribe::confirm),
        )
        .route(
            "/unsubscribe",
            get(subscribe::unsubscribe_page).post(subscribe::unsubscribe),
        )
        .merge(admin::router())
}

/// Any cached path (GET and HEAD; axum drops the body for HEAD).
async fn cached(State(state): State<AppState>, uri: Uri, headers: HeaderMap) -> Response<Body> {
    let rendered = state.statuspage.current();
    match rendered.get(uri.path()) {
        Some(entry) => respond(entry, &headers),
        None => AppError::NotFound.into_response(),
    }
}

async fn incident(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response<Body> {
    let rendered = state.statuspage.current();
    match rendered.get(&format!("/incidents/{id}")) {
        Some(entry) => respond(entry, &headers),
        None => AppError::NotFound.into_response(),
    }
}

/// A cached entry as a response: `304` when the client's validators match.
pub fn respond(entry: &Entry, request: &HeaderMap) -> Response<Body> {
    let fresh = not_modified(entry, request);
    let mut response = if fresh {
        Response::new(Body::empty())
    } else {
        Response::new(Body::from(entry.body.clone()))
    };
    if fresh {
        *response.status_mut() = StatusCode::NOT_MODIFIED;
    }
    let headers = response.headers_mut();
    headers.insert(header::ETAG, entry.etag.clone());
    if let Some(modified) = &entry.last_modified {
        headers.insert(header::LAST_MODIFIED, modified.clone());
    }
    if !fresh {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(entry.content_type),
        );
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let cache = match entry.kind {
        Kind::Json | Kind::Html => "public, max-age=30",
        Kind::Feed => "public, max-age=60",
        Kind::Css => "public, max-age=300",
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    match entry.kind {
        Kind::Json => {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
        }
        Kind::Html => {
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            );
        }
        Kind::Feed | Kind::Css => {}
    }
    response
}

/// `If-None-Match` (any listed tag, weak or strong, or `*`) decides when present;
/// otherwise `If-Modified-Since` for entries with a `Last-Modified`.
fn not_modified(entry: &Entry, request: &HeaderMap) -> bool {
    if let Some(tags) = request.get(header::IF_NONE_MATCH) {
        let Ok(tags) = tags.to_str() else {
            return false;
        };
        let ours = entry.etag.to_str().unwrap_or_default();
        return tags
            .split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == ours);
    }
    let (Some(since), Some(modified)) =
        (request.get(header::IF_MODIFIED_SINCE), &entry.last_modified)
    else {
        return false;
    };
    let parse = |value: &HeaderValue| {
        value.to_str().ok().and_then(|text| {
            jiff::fmt::rfc2822::DateTimeParser::new()
                .parse_timestamp(text)
                .ok()
        })
    };
    matches!((parse(since), parse(modified)), (Some(since), Some(modified)) if modified <= since)
}

/// An HTML answer with the page's security headers, for the pages rendered per request.
pub fn html(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
