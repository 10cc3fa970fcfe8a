//! `whatspe-loadgen`: pairs of users, each sender sending to its receiver at a set total
//! rate (open loop: message k is due at start + k / rate, whether earlier ones came back or
//! not), over REST or the sender's socket; latency is due time → the frame on the receiver's
//! socket. See `docs/performance.md`.

pub mod procfs;
pub mod setup;
pub mod stats;

use futures_util::{SinkExt, StreamExt};
use setup::{Api, Error, User, Ws};
use stats::{Tracker, percentile};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// How messages are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// `POST /api/messages`.
    Rest,
    /// `{"t":"MSG"}` on the sender's socket.
    Socket,
}

/// Pairs of users with open sockets, ready to send.
pub struct Rig {
    api: Api,
    pairs: Vec<(User, User)>,
    /// Per pair: frames to write on the sender's socket.
    writers: Vec<mpsc::UnboundedSender<String>>,
    /// The current step's tracker (replaced by each step).
    tracker: Arc<Mutex<(u64, Tracker)>>,
    epoch: Instant,
    /// Messages the server refused (REST non-201, socket ERR).
    refused: Arc<AtomicU64>,
}

/// One step's figures.
#[derive(Debug, Clone)]
pub struct Report {
    pub rate: f64,
    pub sent: u64,
    pub refused: u64,
    pub received: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Distinct messages received per second of the step (first due time → last arrival).
    pub throughput: f64,
    /// Server CPU per received message (ms), when its pid is known.
    pub server_cpu_ms: Option<f64>,
    /// Server peak RSS so far (bytes), when its pid is known.
    pub server_peak_rss: Option<u64>,
    /// This process's CPU per received message (ms).
    pub client_cpu_ms: Option<f64>,
}

impl Report {
    /// Under 100 ms at p99, every message accepted and received once.
    pub fn sustained(&self) -> bool {
        self.p99_ms < 100.0 && self.lost == 0 && self.refused == 0 && self.received > 0
    }

    pub const HEADER: &str = "    rate      sent  refused      lost  dup  ooo   p50 ms   p95 ms   p99 ms   max ms   recv/s  srv CPU ms/msg  srv peak MB  client CPU ms/msg";

    pub fn line(&self) -> String {
        let opt =
            |v: Option<f64>, digits: usize| v.map_or("-".to_owned(), |v| format!("{v:.digits$}"));
        format!(
            "{:>8.0}  {:>8}  {:>7}  {:>8}  {:>3}  {:>3}  {:>7.2}  {:>7.2}  {:>7.2}  {:>7.2}  {:>7.0}  {:>14}  {:>11}  {:>17}",
            self.rate,
            self.sent,
            self.refused,
            self.lost,
            self.duplicated,
            self.out_of_order,
            self.p50_ms,
            self.p95_ms,
            self.p99_ms,
            self.max_ms,
            self.throughput,
            opt(self.server_cpu_ms, 3),
            opt(self.server_peak_rss.map(|b| b as f64 / 1048576.0), 1),
            opt(self.client_cpu_ms, 3),
        )
    }
}

/// The marker a message's content carries: `lg <step> <pair> <seq> <due µs>`.
fn content(step: u64, pair: usize, seq: u64, due_us: u64) -> String {
    format!("lg {step} {pair} {seq} {due_us}")
}

/// Finds the marker in a `MSG` frame without parsing the whole frame.
fn parse_marker(frame: &str) -> Option<(u64, usize, u64, u64)> {
    if !frame.contains(r#""t":"MSG""#) {
        return None;
    }
    let start = frame.find(r#""c":"lg "#)? + 8;
    let end = start + frame[start..].find('"')?;
    let mut f = frame[start..end].split(' ').map(|w| w.parse::<u64>().ok());
    Some((f.next()??, f.next()?? as usize, f.next()??, f.next()??))
}

impl Rig {
    /// Signs up `2 × pairs` users through the local SMS outbox (or takes them from `users`),
    /// makes each pair contacts and opens every user's socket at `ws_base`.
    pub async fn new(
        api: Api,
        ws_base: &str,
        pairs: usize,
        users: Option<Vec<User>>,
    ) -> Result<Self, Error> {
        let users = match users {
            Some(u) if u.len() >= 2 * pairs => u,
            Some(u) => return Err(format!("{} users for {pairs} pairs", u.len()).into()),
            None => {
                let phones = setup::fresh_phones(2 * pairs);
                let mut users = Vec::new();
                for (i, phone) in phones.iter().enumerate() {
                    users.push(
                        api.sign_up(phone, &format!("lg{}_{i}", &phone[6..]))
                            .await?,
                    );
                }
                users
            }
        };
        let pairs: Vec<(User, User)> = users
            .chunks(2)
            .take(pairs)
            .map(|p| (p[0].clone(), p[1].clone()))
            .collect();
        for (a, b) in &pairs {
            api.befriend(a, b).await?;
        }
        let epoch = Instant::now();
        let tracker = Arc::new(Mutex::new((0, Tracker::new(pairs.len()))));
        let refused = Arc::new(AtomicU64::new(0));
        let mut writers = Vec::new();
        for (a, b) in &pairs {
            let sender = setup::open_socket(ws_base, a).await?;
            writers.push(drive_sender(sender, refused.clone()));
            let receiver = setup::open_socket(ws_base, b).await?;
            tokio::spawn(read_receiver(receiver, tracker.clone(), epoch));
        }
        Ok(Self {
            api,
            pairs,
            writers,
            tracker,
            epoch,
            refused,
        })
    }

    /// One step: `rate` messages a second for `duration`, then up to `drain` for the last
    /// ones to arrive. `step` must differ between steps (late frames of a step are ignored).
    pub async fn step(
        &self,
        step: u64,
        rate: f64,
        duration: Duration,
        drain: Duration,
        via: Via,
        server: Option<u32>,
    ) -> Report {
        *self.tracker.lock().unwrap() = (step, Tracker::new(self.pairs.len()));
        self.refused.store(0, Ordering::Relaxed);
        let me = std::process::id();
        let cpu_before = (
            server.and_then(procfs::cpu_seconds),
            procfs::cpu_seconds(me),
        );
        let total = (rate * duration.as_secs_f64()).round().max(1.0) as u64;
        let start = Instant::now();
        let mut seqs = vec![0u64; self.pairs.len()];
        for k in 0..total {
            let due = start + Duration::from_secs_f64(k as f64 / rate);
            if due > Instant::now() {
                tokio::time::sleep_until(due.into()).await;
            }
            let pair = (k as usize) % self.pairs.len();
            let seq = seqs[pair];
            seqs[pair] += 1;
            let due_us = (due - self.epoch).as_micros() as u64;
            let text = content(step, pair, seq, due_us);
            let (from, to) = &self.pairs[pair];
            match via {
                Via::Rest => {
                    let (api, from, to) = (self.api.clone(), from.clone(), to.id.clone());
                    let refused = self.refused.clone();
                    tokio::spawn(async move {
                        if !api.send(&from, &to, text).await {
                            refused.fetch_add(1, Ordering::Relaxed);
                        }
                    });
                }
                Via::Socket => {
                    let frame = serde_json::json!({ "t": "MSG", "d": { "r": to.id, "c": text } });
                    let _ = self.writers[pair].send(frame.to_string());
                }
            }
        }
        let sent_until = Instant::now();
        while sent_until.elapsed() < drain {
            let received = self.tracker.lock().unwrap().1.received();
            if received + self.refused.load(Ordering::Relaxed) >= total {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let elapsed = start.elapsed().as_secs_f64();
        let (_, mut t) = std::mem::replace(
            &mut *self.tracker.lock().unwrap(),
            (u64::MAX, Tracker::new(0)),
        );
        let refused = self.refused.load(Ordering::Relaxed);
        let received = t.received();
        let per_msg = |before: Option<f64>, pid: u32| {
            let spent = procfs::cpu_seconds(pid)? - before?;
            (received > 0).then(|| spent * 1e3 / received as f64)
        };
        t.latencies_us.sort_unstable();
        let ms = |p: f64| percentile(&t.latencies_us, p) as f64 / 1e3;
        let last_arrival = elapsed.min(duration.as_secs_f64() + drain.as_secs_f64());
        Report {
            rate,
            sent: total,
            refused,
            received,
            lost: total.saturating_sub(received + refused),
            duplicated: t.duplicated,
            out_of_order: t.out_of_order,
            p50_ms: ms(50.0),
            p95_ms: ms(95.0),
            p99_ms: ms(99.0),
            max_ms: ms(100.0),
            throughput: received as f64 / last_arrival,
            server_cpu_ms: server.and_then(|pid| per_msg(cpu_before.0, pid)),
            server_peak_rss: server.and_then(procfs::peak_rss),
            client_cpu_ms: per_msg(cpu_before.1, me),
        }
    }
}

/// Writes queued frames on a sender's socket and reads its answers (ACK; ERR counts as
/// refused).
fn drive_sender(ws: Ws, refused: Arc<AtomicU64>) -> mpsc::UnboundedSender<String> {
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let (mut sink, mut stream) = ws.split();
    tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            if sink.send(Message::text(frame)).await.is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        while let Some(Ok(m)) = stream.next().await {
            if let Message::Text(t) = m
                && t.as_str().contains(r#""t":"ERR""#)
            {
                refused.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    tx
}

/// Records every marked `MSG` frame a receiver gets.
async fn read_receiver(ws: Ws, tracker: Arc<Mutex<(u64, Tracker)>>, epoch: Instant) {
    let (_sink, mut stream) = ws.split();
    while let Some(Ok(m)) = stream.next().await {
        let Message::Text(t) = m else { continue };
        let Some((step, pair, seq, due_us)) = parse_marker(t.as_str()) else {
            continue;
        };
        let now_us = epoch.elapsed().as_micros() as u64;
        let mut guard = tracker.lock().unwrap();
        if guard.0 == step {
            guard.1.record(pair, seq, now_us.saturating_sub(due_us));
        }
    }
}

/// `--max`: from `start` msg/s, ×1.5 per step while the rate is sustained, then three
/// halvings of the gap between the last sustained rate and the first that was not. Prints
/// every step; returns the highest sustained step.
pub async fn ramp(
    rig: &Rig,
    start: f64,
    duration: Duration,
    via: Via,
    server: Option<u32>,
) -> Option<Report> {
    let drain = Duration::from_secs(3);
    let mut best: Option<Report> = None;
    let mut failed: Option<f64> = None;
    let mut rate = start;
    for step in 1.. {
        let r = rig.step(step, rate, duration, drain, via, server).await;
        println!("{}{}", r.line(), if r.sustained() { "" } else { "  ✗" });
        if r.sustained() {
            best = Some(r);
        } else {
            failed = Some(failed.map_or(rate, |f: f64| f.min(rate)));
        }
        let low = best.as_ref().map_or(0.0, |b| b.rate);
        rate = match failed {
            None => rate * 1.5,
            Some(high) if step < 40 && (high - low) / high > 0.06 => (low + high) / 2.0,
            Some(_) => break,
        };
        // Let the server settle (idle sockets, queue drained) between steps.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    best
}

/// The limits the started gateway lifts: every user of a run sends as fast as the run asks,
/// and signs up and looks the others up from 127.0.0.1 with a +91 number. (The names are
/// `whatspe::config`'s `ENV_*`; this binary talks HTTP only and does not link the domain
/// crate — `tests/smoke.rs` pins that the two lists agree.)
pub const LIFTED_LIMITS: [&str; 8] = [
    "WHATSPE_SEND_BURST",
    "WHATSPE_SEND_RATE_PER_SECOND",
    "WHATSPE_OTP_IP_SENDS_PER_HOUR",
    "WHATSPE_OTP_IP_VERIFIES_PER_HOUR",
    "WHATSPE_OTP_COUNTRY_SENDS_PER_HOUR",
    "WHATSPE_OTP_GLOBAL_SENDS_PER_HOUR",
    "WHATSPE_LOOKUPS_PER_MINUTE",
    "WHATSPE_LOOKUPS_PER_DAY",
];

#[cfg(test)]
mod tests {
    #[test]
    fn the_marker_round_trips_through_a_frame() {
        let c = super::content(3, 7, 42, 123456);
        let frame =
            format!(r#"{{"t":"MSG","d":{{"id":"x","s":"a","r":"b","c":"{c}","t":"text"}}}}"#);
        assert_eq!(super::parse_marker(&frame), Some((3, 7, 42, 123456)));
        assert_eq!(
            super::parse_marker(r#"{"t":"ACK","d":{"c":"lg 1 2 3 4"}}"#),
            None
        );
    }
}
