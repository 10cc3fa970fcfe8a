//! Getting users ready: signed up through the local SMS outbox (or read from a tokens file),
//! made contacts pair by pair, and their sockets opened and checked (PING → CONN, PONG).

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::hash::BuildHasher;
use tokio_tungstenite::tungstenite::Message;

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub token: String,
}

/// The REST API at `base` (`http://host:port`).
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

impl Api {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// `method path` with an optional JSON body and bearer token: (status, JSON body).
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> Result<(u16, Value), Error> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await?;
        let status = res.status().as_u16();
        let text = res.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    async fn expect(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
        want: u16,
    ) -> Result<Value, Error> {
        let (status, body) = self.call(method, path, body, token).await?;
        if status != want {
            return Err(format!("{path}: {status} (wanted {want}): {body}").into());
        }
        Ok(body)
    }

    /// request-otp → the code from `GET /_local/sms` → verify-otp → register.
    pub async fn sign_up(&self, phone: &str, username: &str) -> Result<User, Error> {
        use reqwest::Method;
        let phone_json = json!({ "phoneNumber": phone });
        self.expect(
            Method::POST,
            "/api/auth/request-otp",
            Some(phone_json),
            None,
            200,
        )
        .await?;
        let path = format!("/_local/sms?phoneNumber={}", phone.replace('+', "%2B"));
        let texts = self.expect(Method::GET, &path, None, None, 200).await?;
        let body = texts
            .as_array()
            .and_then(|t| t.last())
            .and_then(|t| t["body"].as_str())
            .ok_or_else(|| {
                format!("no SMS for {phone} in the outbox (is this a local gateway?)")
            })?;
        let code = six_digits(body).ok_or_else(|| format!("no code in {body:?}"))?;
        let verify = json!({ "phoneNumber": phone, "otp": code });
        let r = self
            .expect(
                Method::POST,
                "/api/auth/verify-otp",
                Some(verify),
                None,
                200,
            )
            .await?;
        let reg = r["registrationToken"]
            .as_str()
            .ok_or("verify-otp: no registrationToken")?;
        let body = json!({ "username": username });
        let r = self
            .expect(
                Method::POST,
                "/api/auth/register",
                Some(body),
                Some(reg),
                201,
            )
            .await?;
        Ok(User {
            id: r["id"].as_str().ok_or("register: no id")?.to_owned(),
            token: r["accessToken"]
                .as_str()
                .ok_or("register: no accessToken")?
                .to_owned(),
        })
    }

    /// The user an access token belongs to (`GET /api/user`).
    pub async fn whoami(&self, token: &str) -> Result<User, Error> {
        let r = self
            .expect(reqwest::Method::GET, "/api/user", None, Some(token), 200)
            .await?;
        Ok(User {
            id: r["id"].as_str().ok_or("GET /api/user: no id")?.to_owned(),
            token: token.to_owned(),
        })
    }

    /// `a` asks `b`, `b` accepts; users who already are contacts are left as they are.
    pub async fn befriend(&self, a: &User, b: &User) -> Result<(), Error> {
        use reqwest::Method;
        let ask = json!({ "receiverId": b.id });
        let (status, r) = self
            .call(
                Method::POST,
                "/api/contacts/request",
                Some(ask),
                Some(&a.token),
            )
            .await?;
        match status {
            201 => {
                let id = r["id"].as_str().ok_or("contact request: no id")?;
                let path = format!("/api/contacts/accept/{id}");
                self.expect(Method::POST, &path, Some(json!({})), Some(&b.token), 200)
                    .await?;
                Ok(())
            }
            409 => Ok(()),
            _ => Err(format!("contact request: {status}: {r}").into()),
        }
    }

    /// Sends a text over REST; whether it was created (201).
    pub async fn send(&self, from: &User, to: &str, content: String) -> bool {
        let body = json!({ "receiverId": to, "content": content });
        matches!(
            self.call(
                reqwest::Method::POST,
                "/api/messages",
                Some(body),
                Some(&from.token)
            )
            .await,
            Ok((201, _))
        )
    }
}

/// The first run of exactly six digits in `text`.
fn six_digits(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .map(str::to_owned)
}

/// `n` phone numbers no earlier run is likely to have used (+91 mobile numbers).
pub fn fresh_phones(n: usize) -> Vec<String> {
    let seed =
        std::collections::hash_map::RandomState::new().hash_one(std::time::SystemTime::now());
    let base = seed % 90_000_000;
    (0..n as u64)
        .map(|i| format!("+919{:09}", (base + i) % 1_000_000_000))
        .collect()
}

/// Opens `user`'s socket at `ws_base` (`ws://host:port/ws`) and waits for CONN then PONG.
pub async fn open_socket(ws_base: &str, user: &User) -> Result<Ws, Error> {
    // A small read chunk: tungstenite zero-fills a whole chunk before every read attempt.
    let config =
        tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(4096);
    let url = format!("{ws_base}?token={}", user.token);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true).await?;
    ws.send(Message::text(r#"{"t":"PING"}"#)).await?;
    let ready = async {
        while let Some(m) = ws.next().await {
            if let Message::Text(t) = m?
                && t.as_str().contains(r#""t":"PONG""#)
            {
                return Ok::<_, Error>(());
            }
        }
        Err("the socket closed before PONG".into())
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), ready)
        .await
        .map_err(|_| "no PONG within 30 s")??;
    Ok(ws)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_code_is_the_six_digit_word() {
        assert_eq!(
            super::six_digits("Your WhatsPe code: 123456. Valid 5 min").as_deref(),
            Some("123456")
        );
        assert_eq!(super::six_digits("code 12345"), None);
    }
}
