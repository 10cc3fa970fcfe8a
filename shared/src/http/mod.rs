//! HTTP glue shared by every function's router: error bodies, JSON and auth extractors,
//! fallbacks and limits. Handlers parse, call a service, and map the result.

mod error;
mod extract;
pub mod openapi;
mod routes;

pub use routes::RouteTable;

pub use extract::{
    ApiBody, ApiJson, ApiPath, ApiQuery, Caller, ClientIp, bearer_token, nullable, page_limit,
};

/// Header carrying the next page's opaque cursor (pass it back as `?cursor=`).
pub const NEXT_CURSOR_HEADER: &str = "x-next-cursor";

/// A listing as the API returns it: a bare JSON array, with `X-Next-Cursor` when more
/// pages exist (the seed's clients read arrays).
pub fn paged<T: serde::Serialize>(page: crate::ports::Page<T>) -> axum::response::Response {
    let mut res = axum::response::IntoResponse::into_response(axum::Json(page.items));
    if let Some(next) = page.next.and_then(|n| http::HeaderValue::from_str(&n).ok()) {
        res.headers_mut().insert(NEXT_CURSOR_HEADER, next);
    }
    res
}

use crate::Error;
use axum::Router;
use axum::extract::DefaultBodyLimit;

/// Largest accepted request body. Above the biggest legitimate body (a 64 KiB message with
/// JSON escaping), far below API Gateway's 10 MB.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Turns a function's routes into the service it runs: the JSON 404/405 fallbacks, the body
/// limit, and the state. Lambda `main`s and the local gateway both go through here.
pub fn service<S: Clone + Send + Sync + 'static>(routes: Router<S>, state: S) -> Router {
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn not_found() -> Error {
    Error::not_found("route_not_found", "no such route")
}

async fn method_not_allowed() -> axum::response::Response {
    let mut res = axum::response::IntoResponse::into_response(Error::validation(
        "method_not_allowed",
        "this route does not accept that method",
    ));
    *res.status_mut() = http::StatusCode::METHOD_NOT_ALLOWED;
    res
}

/// Declares an HTTP function's `Deps`, the state its router runs on: the services its
/// handlers use (each as field `$field`, the same name as on [`crate::app::App`]) and the token
/// service the [`Caller`] extractor verifies with. A Lambda builds exactly these; the local
/// gateway converts its whole `App` (`From<App>`).
#[macro_export]
macro_rules! function_deps {
    ($($field:ident: $service:ty),+ $(,)?) => {
        /// What this function's handlers use: its Lambda builds only this (and the SDK
        /// clients behind it), not the whole `App`.
        #[derive(Clone)]
        pub struct Deps {
            $(pub $field: ::std::sync::Arc<$service>,)+
            /// Verifies the bearer token (`Caller`).
            pub tokens: ::std::sync::Arc<$crate::services::TokenService>,
        }

        impl From<$crate::app::App> for Deps {
            fn from(app: $crate::app::App) -> Self {
                Self {
                    $($field: app.$field,)+
                    tokens: app.tokens,
                }
            }
        }

        impl ::axum::extract::FromRef<Deps> for ::std::sync::Arc<$crate::services::TokenService> {
            fn from_ref(deps: &Deps) -> Self {
                deps.tokens.clone()
            }
        }
    };
}
