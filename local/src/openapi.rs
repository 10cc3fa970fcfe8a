//! The REST API's OpenAPI 3.1 document, assembled from every HTTP function's `ApiDoc` (each
//! derived from its handlers, request and answer types). Served at `GET /api/openapi.json`,
//! printed by `whatspe-local --print-openapi`, committed as `docs/openapi.json`.

use utoipa::OpenApi;
use whatspe::http::openapi::SecuritySchemes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "WhatsPe REST API",
        description = "WhatsApp-like messaging: phone-number sign-in, contacts, 1:1 messages \
with receipts. Bodies are JSON (camelCase). Every error is \
`{\"error\":{\"code\":\"snake_case_code\",\"message\":\"…\"}}`. Lists are bare arrays; \
`X-Next-Cursor` carries the next page's cursor. Real-time delivery is the WebSocket API \
(docs/asyncapi.yaml, docs/realtime.md).",
    ),
    modifiers(&SecuritySchemes),
    components(schemas(whatspe::http::openapi::ErrorBody)),
    tags(
        (name = "auth", description = "Phone-number sign-in, sessions and your profile"),
        (name = "contacts", description = "Finding users, contact requests, the contact list"),
        (name = "messages", description = "Sending, history, the chat list, receipts"),
        (name = "devices", description = "Push-token registration"),
    )
)]
struct Root;

/// The whole document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = Root::openapi();
    for part in [
        auth_otp::ApiDoc::openapi(),
        contacts::ApiDoc::openapi(),
        send_message::ApiDoc::openapi(),
        get_messages::ApiDoc::openapi(),
        devices::ApiDoc::openapi(),
    ] {
        doc.merge(part);
    }
    doc
}

/// The document as committed in `docs/openapi.json`: pretty JSON and a final newline.
pub fn json() -> String {
    let mut out = document()
        .to_pretty_json()
        .expect("the OpenAPI document serialises");
    out.push('\n');
    out
}
