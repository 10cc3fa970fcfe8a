//! The web client (`web/` at the repository root), embedded in the binary and served at `/`,
//! so `cargo run --release -p whatspe-local` serves it from any directory.
//!
//! Every file is revalidated on each load (`Cache-Control: no-cache` with a strong `ETag`, so
//! an unchanged file costs a 304 and no body): the files have no content hash in their names,
//! and a stale module mixed with fresh ones would break the app. The page gets a strict
//! Content-Security-Policy: scripts and styles from this origin only, no inline code.

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::LazyLock;

/// One embedded file: its path under `web/` (and under `/`), and its bytes.
pub struct Asset {
    pub path: &'static str,
    pub bytes: &'static [u8],
}

macro_rules! assets {
    ($($path:literal),* $(,)?) => {
        &[$(Asset {
            path: $path,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../web/", $path)),
        }),*]
    };
}

/// Every file of `web/` (`local/tests/web.rs` fails when one is missing here).
pub static ASSETS: &[Asset] = assets!(
    "index.html",
    "app.css",
    "config.json",
    "favicon.svg",
    "js/actions.js",
    "js/api.js",
    "js/app.js",
    "js/auth.js",
    "js/extensions.js",
    "js/groups.js",
    "js/main.js",
    "js/media.js",
    "js/socket.js",
    "js/store.js",
    "js/util.js",
);

/// The page's Content-Security-Policy. Media URLs are this gateway's locally and S3's
/// (https) when deployed; the socket is `ws:` locally, `wss:` deployed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data: blob: https:; media-src 'self' blob: https:; \
    connect-src 'self' ws: wss: https:; object-src 'none'; base-uri 'none'; \
    frame-ancestors 'none'; form-action 'self'";

/// The `Content-Type` of a file, by its extension.
pub fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

static ETAGS: LazyLock<Vec<HeaderValue>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| {
            let digest = whatspe::crypto::sha256(a.bytes);
            let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
            HeaderValue::from_str(&format!("\"{hex}\"")).expect("a hex ETag is a header value")
        })
        .collect()
});

fn serve(index: usize, req: &HeaderMap) -> Response {
    let asset = &ASSETS[index];
    let etag = ETAGS[index].clone();
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, etag.clone());
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if asset.path.ends_with(".html") {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    let fresh = req
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == etag.to_str().unwrap_or_default()
        });
    if fresh {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(asset.path)),
    );
    (headers, asset.bytes).into_response()
}

/// `GET /` (the app) and `GET /{path}` for each embedded file; HEAD too.
pub fn routes() -> Router {
    let mut router = Router::new();
    for (i, asset) in ASSETS.iter().enumerate() {
        let handler = get(move |req: HeaderMap| async move { serve(i, &req) });
        if asset.path == "index.html" {
            router = router.route("/", handler.clone());
        }
        router = router.route(&format!("/{}", asset.path), handler);
    }
    router
}
