//! The local stand-in for S3's presigned URLs (memory backend): `PUT` and `GET`
//! `/_local/blobs/{key}?X-Method=…&X-Expires=…&X-Signature=…`, checked like S3 checks its own
//! (signature, expiry, method; for uploads the signed Content-Type and Content-Length, and a
//! body of exactly that length). Refusals are 403 with S3-like reasons; nothing is stored.
//! Also `POST /_local/media/sweep`: the hourly sweep of unreferenced uploads, on demand.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use std::collections::HashMap;
use std::sync::Arc;
use whatspe::memory::MemoryBlobs;
use whatspe::services::MediaService;

#[derive(Clone)]
struct BlobState {
    blobs: Option<Arc<MemoryBlobs>>,
    media: Arc<MediaService>,
}

pub fn routes(blobs: Option<Arc<MemoryBlobs>>, media: Arc<MediaService>) -> Router {
    Router::new()
        .route(
            "/_local/blobs/{*key}",
            // No body limit layer: an upload reads at most its URL's signed length (below),
            // and the media service signs only lengths within the configured caps
            // (`WHATSPE_MEDIA_MAX_*_BYTES`), so those caps are this server's limit.
            put(upload).get(download),
        )
        .route("/_local/media/sweep", post(sweep))
        .with_state(BlobState { blobs, media })
}

fn denied(reason: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        axum::Json(serde_json::json!({
            "error": {"code": "access_denied", "message": reason}
        })),
    )
        .into_response()
}

fn no_blobs() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(serde_json::json!({
            "error": {"code": "route_not_found", "message": "blob URLs are S3's on this backend"}
        })),
    )
        .into_response()
}

async fn upload(
    State(st): State<BlobState>,
    Path(key): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(blobs) = st.blobs else {
        return no_blobs();
    };
    let signed = match blobs.verify("PUT", &key, &q) {
        Ok(s) => s,
        Err(reason) => return denied(reason),
    };
    let Some((content_type, length)) = signed.upload else {
        return denied("the URL signs no upload");
    };
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if header(header::CONTENT_TYPE) != Some(content_type.as_str()) {
        return denied("Content-Type is not the signed one");
    }
    if header(header::CONTENT_LENGTH).and_then(|l| l.parse::<u64>().ok()) != Some(length) {
        return denied("Content-Length is not the signed one");
    }
    // Never more than the signed length, whatever the headers said (a body cut short is
    // refused too).
    let bytes: Bytes = match axum::body::to_bytes(body, length as usize).await {
        Ok(b) if b.len() as u64 == length => b,
        _ => return denied("the body is not the signed Content-Length"),
    };
    blobs.put(&key, bytes.to_vec(), &content_type);
    StatusCode::OK.into_response()
}

async fn download(
    State(st): State<BlobState>,
    Path(key): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(blobs) = st.blobs else {
        return no_blobs();
    };
    if let Err(reason) = blobs.verify("GET", &key, &q) {
        return denied(reason);
    }
    match blobs.get(&key) {
        Some((bytes, content_type)) => {
            ([(header::CONTENT_TYPE, content_type)], bytes).into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(serde_json::json!({
                "error": {"code": "no_such_key", "message": "nothing was uploaded to this URL"}
            })),
        )
            .into_response(),
    }
}

/// `POST /_local/media/sweep`: `{"deleted": n}`.
async fn sweep(
    State(st): State<BlobState>,
) -> Result<axum::Json<whatspe::services::Swept>, whatspe::Error> {
    Ok(axum::Json(st.media.sweep().await?))
}
