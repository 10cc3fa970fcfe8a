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
        (name = "groups", description = "Groups: info, settings, members, admins, invite links"),
        (name = "media", description = "Uploads: upload and download URLs for media messages"),
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
        groups::ApiDoc::openapi(),
        media::ApiDoc::openapi(),
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

/// HTML-escapes `s`.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The document as a page to read in a browser (`GET /api/docs`, local only): every
/// operation by tag with its summary, request body and answers. Self-contained: no script,
/// no CDN; the schemas themselves are in `/api/openapi.json`.
pub fn html() -> String {
    let doc: serde_json::Value =
        serde_json::from_str(&json()).expect("the OpenAPI document is JSON");
    let schema_name = |v: &serde_json::Value| -> String {
        let r = v["content"]["application/json"]["schema"]
            .get("$ref")
            .or_else(|| v["content"]["application/json"]["schema"]["items"].get("$ref"))
            .and_then(|r| r.as_str())
            .unwrap_or("");
        r.rsplit('/').next().unwrap_or("").to_owned()
    };
    let mut out = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title>\
         <style>body{{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#111}}\
         code{{background:#f2f2f2;padding:0 .25rem}}h3{{margin-bottom:.2rem}}.m{{font-weight:700;display:inline-block;min-width:4.5rem}}\
         li{{margin:.1rem 0}}</style></head><body><h1>{title}</h1><p>{desc}</p>\
         <p>The machine-readable document: <a href=\"/api/openapi.json\">/api/openapi.json</a>.</p>",
        title = escape(doc["info"]["title"].as_str().unwrap_or("API")),
        desc = escape(doc["info"]["description"].as_str().unwrap_or("")),
    );
    for tag in doc["tags"].as_array().into_iter().flatten() {
        let name = tag["name"].as_str().unwrap_or_default();
        out += &format!(
            "<h2 id=\"{n}\">{n}</h2><p>{d}</p>",
            n = escape(name),
            d = escape(tag["description"].as_str().unwrap_or(""))
        );
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                let tagged = op["tags"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t == name));
                if !tagged {
                    continue;
                }
                out += &format!(
                    "<h3><span class=\"m\">{}</span><code>{}</code></h3><p>{}</p><ul>",
                    method.to_uppercase(),
                    escape(path),
                    escape(op["summary"].as_str().unwrap_or("")),
                );
                if op.get("requestBody").is_some() {
                    out += &format!(
                        "<li>Body: <code>{}</code></li>",
                        escape(&schema_name(&op["requestBody"]))
                    );
                }
                for (code, res) in op["responses"].as_object().into_iter().flatten() {
                    let schema = schema_name(res);
                    out += &format!(
                        "<li>{} — {}{}</li>",
                        escape(code),
                        escape(res["description"].as_str().unwrap_or("")),
                        if schema.is_empty() {
                            String::new()
                        } else {
                            format!(" <code>{}</code>", escape(&schema))
                        }
                    );
                }
                out += "</ul>";
            }
        }
    }
    out + "</body></html>\n"
}
