//! A phone's WebSocket to the local gateway, for the end-to-end tests: open, the readiness
//! check (PING → CONN, PONG), frames parsed as they arrive.

use super::{Person, TestApp, keys, set_of, str_field};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};

/// How long the readiness check (PING → CONN, PONG) may take (a bound; on moto `$connect`
/// waits its turn behind the parallel tests' DynamoDB requests).
pub const READY: Duration = Duration::from_secs(30);

/// Time left of `budget` since `since`.
pub fn left(since: Instant, budget: Duration) -> Duration {
    budget.saturating_sub(since.elapsed())
}

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub enum Read {
    Frame(Value),
    Closed(Option<u16>),
    Ended(String),
    TimedOut,
}

/// A phone's WebSocket: frames are parsed as they arrive; a binary frame fails the test.
pub struct WsClient {
    pub who: String,
    pub ws: Ws,
    /// Frames read but not yet looked at.
    pub pending: VecDeque<Value>,
    /// The connection id from CONN.
    pub cid: String,
}

impl WsClient {
    pub async fn send_text(&mut self, text: String) {
        self.ws
            .send(Message::text(text))
            .await
            .unwrap_or_else(|e| panic!("{}: sending a frame failed: {e}", self.who));
    }

    pub async fn send_json(&mut self, frame: Value) {
        self.send_text(frame.to_string()).await;
    }

    pub async fn read_raw(&mut self, within: Duration) -> Read {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(next) = tokio::time::timeout(left, self.ws.next()).await else {
                return Read::TimedOut;
            };
            match next {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap_or_else(|e| {
                        panic!("{}: a text frame that is not JSON: {t:?}: {e}", self.who)
                    });
                    assert!(
                        v["t"].is_string() && v["d"].is_object(),
                        "{}: frames are {{\"t\":TYPE,\"d\":{{...}}}}, got {v}",
                        self.who
                    );
                    return Read::Frame(v);
                }
                Some(Ok(Message::Binary(b))) => panic!(
                    "{}: the server sent a binary frame ({} bytes); frames are always text",
                    self.who,
                    b.len()
                ),
                Some(Ok(Message::Close(f))) => return Read::Closed(f.map(|f| u16::from(f.code))),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Read::Ended(e.to_string()),
                None => return Read::Ended("the stream ended".into()),
            }
        }
    }

    /// The next frame off the socket within `within` (None if none came); the socket must
    /// stay open.
    pub async fn read_frame(&mut self, within: Duration) -> Option<Value> {
        match self.read_raw(within).await {
            Read::Frame(v) => Some(v),
            Read::TimedOut => None,
            Read::Closed(code) => panic!("{}: the socket was closed ({code:?})", self.who),
            Read::Ended(e) => panic!("{}: the socket broke: {e}", self.who),
        }
    }

    pub async fn next_frame(&mut self, within: Duration) -> Option<Value> {
        match self.pending.pop_front() {
            Some(v) => Some(v),
            None => self.read_frame(within).await,
        }
    }
}

impl TestApp {
    /// `GET /ws` with `token` (and, if given, a `Host` header), as a raw client.
    pub async fn open(
        &self,
        token: Option<&str>,
        host: Option<&str>,
    ) -> Result<Ws, tungstenite::Error> {
        let url = match token {
            Some(t) => format!("ws://{}/ws?token={t}", self.addr),
            None => format!("ws://{}/ws", self.addr),
        };
        let mut req = url.into_client_request()?;
        if let Some(h) = host {
            req.headers_mut()
                .insert("host", HeaderValue::from_str(h).expect("a host header"));
        }
        let (ws, res) = tokio_tungstenite::connect_async(req).await?;
        assert_eq!(res.status().as_u16(), 101, "the upgrade switches protocols");
        Ok(ws)
    }

    /// A socket of `who`, ready: PING answered by CONN {u, cid, hb} then PONG.
    pub async fn connect(&self, who: &Person) -> WsClient {
        self.connect_via(who, None).await
    }

    pub async fn connect_via(&self, who: &Person, host: Option<&str>) -> WsClient {
        let ws = self
            .open(Some(&who.token), host)
            .await
            .unwrap_or_else(|e| panic!("{} cannot open a socket: {e}", who.username));
        let mut c = WsClient {
            who: who.username.clone(),
            ws,
            pending: VecDeque::new(),
            cid: String::new(),
        };
        c.send_json(json!({ "t": "PING" })).await;
        let started = Instant::now();
        // Queued frames (presence, messages) may reach a new socket before its first answer.
        let mut early = Vec::new();
        let conn = loop {
            let f = c
                .read_frame(left(started, READY))
                .await
                .unwrap_or_else(|| panic!("{}: no CONN within {READY:?}", who.username));
            match f["t"].as_str() {
                Some("CONN") => break f,
                Some("PONG") => panic!("{}: PONG came before CONN", who.username),
                _ => early.push(f),
            }
        };
        let d = &conn["d"];
        assert_eq!(keys(d), set_of(&["u", "cid", "hb"]), "CONN keys of {conn}");
        assert_eq!(d["u"], who.id.as_str(), "CONN names the socket's user");
        assert_eq!(d["hb"], 300, "CONN asks for a ping every 5 minutes");
        c.cid = str_field(d, "cid");
        assert!(!c.cid.is_empty(), "CONN carries the connection id");
        loop {
            let f = c
                .read_frame(left(started, READY))
                .await
                .unwrap_or_else(|| panic!("{}: no PONG within {READY:?}", who.username));
            match f["t"].as_str() {
                Some("PONG") => {
                    assert_eq!(f["d"], json!({}), "PONG has an empty payload");
                    break;
                }
                Some("CONN") => panic!("{}: a second CONN on one socket", who.username),
                _ => early.push(f),
            }
        }
        c.pending.extend(early);
        c
    }
}
