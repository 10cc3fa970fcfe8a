//! Routes in one comparable form, shared by the tests that hold the code's routers against
//! template.yaml and docs/openapi.json. Each test file declares `mod routes;`.

#![allow(dead_code)]

use std::collections::BTreeSet;

/// `{user_id}` → `{}`: axum, API Gateway and OpenAPI name path parameters differently.
pub fn shape(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

/// A function's `(METHOD, shape)` routes.
pub fn served<S: Clone + Send + Sync + 'static>(
    table: whatspe::http::RouteTable<S>,
) -> BTreeSet<(String, String)> {
    table
        .routes()
        .iter()
        .map(|(m, p)| (m.to_string(), shape(p)))
        .collect()
}

/// Every HTTP function's routes together (what the local gateway serves as the REST API).
pub fn all_served() -> BTreeSet<(String, String)> {
    [
        served(auth_otp::route_table()),
        served(contacts::route_table()),
        served(send_message::route_table()),
        served(get_messages::route_table()),
        served(devices::route_table()),
        served(groups::route_table()),
        served(media::route_table()),
    ]
    .into_iter()
    .flatten()
    .collect()
}
