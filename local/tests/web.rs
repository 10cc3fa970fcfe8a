//! The web client through the local gateway: `/` serves the app, every file of `web/` is
//! embedded and served with its content type and caching headers, unchanged files cost a
//! 304, everything the app references is served, and the API's own routes are untouched.
//! (The app itself is tested in real browsers: `web/tests/`, run by `scripts/web-test.sh`.)

mod common;

use common::{TestApp, spawn_app};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use whatspe_local::web::{ASSETS, CONTENT_SECURITY_POLICY};

fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../web")
}

/// The files the app is made of: everything under `web/` but its browser tests.
fn shipped_files() -> BTreeSet<String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).expect("web/ is readable") {
            let path = entry.expect("a directory entry").path();
            let rel = path
                .strip_prefix(root)
                .expect("under web/")
                .to_string_lossy()
                .replace('\\', "/");
            if path.is_dir() {
                if rel != "tests" {
                    walk(&path, root, out);
                }
            } else {
                out.insert(rel);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(&web_dir(), &web_dir(), &mut out);
    out
}

/// The content type each extension must be served with.
fn expected_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, e)| e) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        other => panic!("web/{path}: no content type is decided for {other:?}; add one"),
    }
}

struct Got {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Got {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .expect("an ASCII header")
    }
}

async fn fetch(app: &TestApp, method: reqwest::Method, path: &str, etag: Option<&str>) -> Got {
    let mut req = app
        .client
        .request(method, format!("{}{path}", app.base_url));
    if let Some(tag) = etag {
        req = req.header("if-none-match", tag);
    }
    let res = req.send().await.expect("an answer");
    Got {
        status: res.status().as_u16(),
        headers: res.headers().clone(),
        body: res.bytes().await.expect("a body").to_vec(),
    }
}

#[tokio::test]
async fn the_root_serves_the_app_page_with_its_security_headers() {
    let app = spawn_app().await;
    let got = fetch(&app, reqwest::Method::GET, "/", None).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.header("content-type"), "text/html; charset=utf-8");
    let page = std::fs::read(web_dir().join("index.html")).expect("web/index.html");
    assert_eq!(got.body, page, "/ is web/index.html, byte for byte");
    assert_eq!(got.header("cache-control"), "no-cache");
    assert_eq!(got.header("x-content-type-options"), "nosniff");
    assert_eq!(got.header("x-frame-options"), "DENY");
    assert_eq!(got.header("referrer-policy"), "no-referrer");
    let csp = got.header("content-security-policy");
    assert_eq!(csp, CONTENT_SECURITY_POLICY);
    for rule in [
        "script-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(rule), "the CSP has {rule}: {csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "no inline or eval'd code is allowed: {csp}"
    );
    let text = String::from_utf8(got.body.clone()).expect("UTF-8 HTML");
    assert!(text.contains(r#"<script type="module" src="js/main.js"></script>"#));
    // `/index.html` is the same page.
    let again = fetch(&app, reqwest::Method::GET, "/index.html", None).await;
    assert_eq!(
        (again.status, again.header("etag")),
        (200, got.header("etag"))
    );
}

#[tokio::test]
async fn every_file_of_web_is_embedded_and_served_with_its_type_and_caching_headers() {
    let embedded: BTreeSet<String> = ASSETS.iter().map(|a| a.path.to_owned()).collect();
    assert_eq!(
        embedded,
        shipped_files(),
        "local/src/web.rs ASSETS must list exactly the files of web/ (but web/tests/)"
    );
    let app = spawn_app().await;
    let mut etags = BTreeSet::new();
    for path in shipped_files() {
        let got = fetch(&app, reqwest::Method::GET, &format!("/{path}"), None).await;
        assert_eq!(got.status, 200, "/{path}");
        assert_eq!(got.header("content-type"), expected_type(&path), "/{path}");
        assert_eq!(
            got.body,
            std::fs::read(web_dir().join(&path)).expect("the file"),
            "/{path} is the file's bytes"
        );
        assert_eq!(got.header("cache-control"), "no-cache", "/{path}");
        assert_eq!(got.header("x-content-type-options"), "nosniff", "/{path}");
        let etag = got.header("etag").to_owned();
        assert!(
            etag.len() == 26 && etag.starts_with('"') && etag.ends_with('"'),
            "/{path}: a strong ETag, got {etag}"
        );
        assert!(etags.insert(etag), "/{path}: each file has its own ETag");
    }
}

#[tokio::test]
async fn an_unchanged_file_is_a_304_without_a_body_and_a_changed_one_is_sent_again() {
    let app = spawn_app().await;
    for path in ["/", "/js/main.js", "/app.css"] {
        let first = fetch(&app, reqwest::Method::GET, path, None).await;
        let etag = first.header("etag").to_owned();
        let same = fetch(&app, reqwest::Method::GET, path, Some(&etag)).await;
        assert_eq!(same.status, 304, "{path} with its ETag");
        assert!(same.body.is_empty(), "{path}: a 304 has no body");
        assert_eq!(same.header("etag"), etag, "{path}: the 304 names the ETag");
        assert_eq!(same.header("cache-control"), "no-cache");
        let listed = fetch(
            &app,
            reqwest::Method::GET,
            path,
            Some(&format!("\"0000\", W/{etag}")),
        )
        .await;
        assert_eq!(
            listed.status, 304,
            "{path}: one of a list (weak comparison)"
        );
        let stale = fetch(
            &app,
            reqwest::Method::GET,
            path,
            Some("\"0123456789abcdef01234567\""),
        )
        .await;
        assert_eq!(stale.status, 200, "{path} with another ETag");
        assert_eq!(stale.body, first.body);
        let head = fetch(&app, reqwest::Method::HEAD, path, None).await;
        assert_eq!(head.status, 200, "HEAD {path}");
        assert!(head.body.is_empty(), "HEAD {path} has no body");
        assert_eq!(head.header("etag"), etag);
    }
}

/// `'./x.js'` in `from './x.js'` and `import('./x.js')`; `src="…"`/`href="…"` in the page.
fn references(path: &str, text: &str) -> Vec<String> {
    let base = path.rsplit_once('/').map_or("", |(dir, _)| dir);
    let mut out = Vec::new();
    let mut grab = |marker: &str, quote: char, relative_to: &str| {
        for (i, _) in text.match_indices(marker) {
            let rest = &text[i + marker.len()..];
            let Some(end) = rest.find(quote) else {
                continue;
            };
            let target = &rest[..end];
            if target.contains("://") || target.starts_with('#') || target.is_empty() {
                continue;
            }
            let target = target.trim_start_matches("./");
            out.push(if relative_to.is_empty() {
                target.to_owned()
            } else {
                format!("{relative_to}/{target}")
            });
        }
    };
    if path.ends_with(".html") {
        grab("src=\"", '"', base);
        grab("href=\"", '"', base);
    } else if path.ends_with(".js") {
        grab("from './", '\'', base);
        grab("import('./", '\'', base);
        // fetch('config.json') is relative to the page, not the module.
        grab("fetch('", '\'', "");
    }
    out
}

#[tokio::test]
async fn every_module_and_file_the_app_references_is_served() {
    let app = spawn_app().await;
    let served: BTreeSet<String> = ASSETS.iter().map(|a| a.path.to_owned()).collect();
    let mut checked = 0;
    for asset in ASSETS {
        let text = std::str::from_utf8(asset.bytes).expect("text files");
        for target in references(asset.path, text) {
            assert!(
                served.contains(&target),
                "web/{} references {target}, which is not served",
                asset.path
            );
            let got = fetch(&app, reqwest::Method::GET, &format!("/{target}"), None).await;
            assert_eq!(got.status, 200, "/{target} (from {})", asset.path);
            checked += 1;
        }
    }
    assert!(
        checked >= 15,
        "the scan found the app's imports ({checked})"
    );
}

#[tokio::test]
async fn the_api_and_unknown_paths_keep_their_json_answers() {
    let app = spawn_app().await;
    for path in [
        "/api/nope",
        "/index.htm",
        "/js/missing.js",
        "/tests/conftest.py",
    ] {
        let got = app.get_public(path).await;
        assert_eq!(got.status, 404, "{path}");
        assert_eq!(got.body["error"]["code"], "route_not_found", "{path}");
    }
    let sms = app.get_public("/_local/sms").await;
    assert_eq!(sms.status, 200);
    assert!(sms.body.is_array());
    let spec = app.get_public("/api/openapi.json").await;
    assert_eq!(spec.status, 200);
    assert_eq!(spec.body["openapi"], "3.1.0");
}
