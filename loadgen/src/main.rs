//! `cargo run --release -p whatspe-loadgen -- [--max] [--rate N] [--via rest|socket] …`

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use whatspe_loadgen::setup::{Api, Error, User};
use whatspe_loadgen::{LIFTED_LIMITS, Report, Rig, Via, ramp};

const USAGE: &str = "\
whatspe-loadgen: end-to-end load on a WhatsPe gateway (send → receiver's socket)

USAGE: whatspe-loadgen [--url http://HOST:PORT] [--pid PID] [--tokens FILE]
                       [--pairs 20] [--rate 500] [--secs 10] [--via rest|socket] [--max]
                       [--server-threads N]

  --url     the gateway; without it the release whatspe-local next to this binary is
            started on a free port (built first if missing), with the send, sign-in and
            look-up rate limits lifted
  --ws-url  its WebSocket endpoint (default: --url with ws:// and /ws)
  --pid     the server's pid, for its CPU per message and peak memory (automatic when
            the gateway was started by the loadgen)
  --tokens  a file of access tokens, one per line (2 × pairs of them), instead of signing
            users up through the local SMS outbox; pair i is lines 2i and 2i+1
  --pairs   sender → receiver pairs (each user has one socket)
  --rate    messages per second in total, open loop
  --secs    how long to send (per step with --max)
  --via     rest: POST /api/messages; socket: {\"t\":\"MSG\"} on the sender's socket
  --server-threads  the started gateway's worker threads (its --threads; default: one
            per core)
  --max     ramp from --rate to the highest rate with p99 < 100 ms and nothing lost

Latency is from a message's due time to its MSG frame on the receiver's socket.";

struct Args {
    url: Option<String>,
    ws_url: Option<String>,
    pid: Option<u32>,
    tokens: Option<String>,
    pairs: usize,
    rate: f64,
    secs: f64,
    via: Via,
    max: bool,
    server_threads: Option<usize>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        url: None,
        ws_url: None,
        pid: None,
        tokens: None,
        pairs: 20,
        rate: 500.0,
        secs: 10.0,
        via: Via::Rest,
        max: false,
        server_threads: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let bad = |what: &str| format!("{flag}: {what}");
        match flag.as_str() {
            "--url" => a.url = Some(value()?),
            "--ws-url" => a.ws_url = Some(value()?),
            "--pid" => a.pid = Some(value()?.parse().map_err(|_| bad("a pid"))?),
            "--tokens" => a.tokens = Some(value()?),
            "--pairs" => a.pairs = value()?.parse().map_err(|_| bad("a count"))?,
            "--rate" => a.rate = value()?.parse().map_err(|_| bad("messages per second"))?,
            "--secs" => a.secs = value()?.parse().map_err(|_| bad("seconds"))?,
            "--via" => {
                a.via = match value()?.as_str() {
                    "rest" => Via::Rest,
                    "socket" => Via::Socket,
                    _ => return Err(bad("rest or socket")),
                }
            }
            "--max" => a.max = true,
            "--server-threads" => {
                a.server_threads = Some(value()?.parse().map_err(|_| bad("a count"))?)
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if a.pairs == 0 || a.rate <= 0.0 || a.secs <= 0.0 {
        return Err("--pairs, --rate and --secs must be positive".into());
    }
    Ok(a)
}

/// The gateway this process started; killed when dropped.
struct Spawned(Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the release `whatspe-local` (in-memory stores) on a free port: its base URL.
fn spawn_gateway(threads: Option<usize>) -> Result<(Spawned, String), Error> {
    let exe = std::env::current_exe()?.with_file_name("whatspe-local");
    if !exe.exists() {
        eprintln!("building {} first", exe.display());
        let ok = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--release", "-p", "whatspe-local"])
            .status()?
            .success();
        if !ok || !exe.exists() {
            return Err(format!("no gateway binary at {}", exe.display()).into());
        }
    }
    let mut command = Command::new(&exe);
    command.args(["--port", "0", "--store", "memory"]);
    if let Some(n) = threads {
        command.args(["--threads", &n.to_string()]);
    }
    for var in LIFTED_LIMITS {
        command.env(var, "1000000");
    }
    let mut child = command
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_DYNAMODB")
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let spawned = Spawned(child);
    let mut lines = std::io::BufReader::new(stdout).lines();
    let url = loop {
        let line = lines
            .next()
            .ok_or("the gateway exited before listening")??;
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest
                .split_whitespace()
                .next()
                .ok_or("no address")?
                .to_owned();
        }
    };
    // Keep reading so the gateway never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok((spawned, url))
}

async fn users_from(api: &Api, path: &str) -> Result<Vec<User>, Error> {
    let mut users = Vec::new();
    for token in std::fs::read_to_string(path)?.lines().map(str::trim) {
        if !token.is_empty() {
            users.push(api.whoami(token).await?);
        }
    }
    Ok(users)
}

async fn run(a: Args) -> Result<(), Error> {
    let (_spawned, url, pid) = match &a.url {
        Some(url) => (None, url.clone(), a.pid),
        None => {
            let (child, url) = spawn_gateway(a.server_threads)?;
            let pid = child.0.id();
            println!("started the release gateway (pid {pid}) at {url}");
            (Some(child), url, Some(pid))
        }
    };
    let ws_url = a
        .ws_url
        .clone()
        .unwrap_or_else(|| format!("{}/ws", url.replacen("http", "ws", 1).trim_end_matches('/')));
    let api = Api::new(&url);
    let users = match &a.tokens {
        Some(path) => Some(users_from(&api, path).await?),
        None => None,
    };
    let rig = Rig::new(api, &ws_url, a.pairs, users).await?;
    let duration = Duration::from_secs_f64(a.secs);
    println!(
        "{} pairs, via {:?}, {} s per step; latency = due time → MSG on the receiver's socket",
        a.pairs, a.via, a.secs
    );
    println!("{}", Report::HEADER);
    if a.max {
        match ramp(&rig, a.rate, duration, a.via, pid).await {
            Some(best) => println!(
                "max sustained (p99 < 100 ms, nothing lost):\n{}\n{}",
                Report::HEADER,
                best.line()
            ),
            None => println!("not even {} msg/s was sustained", a.rate),
        }
    } else {
        let r = rig
            .step(1, a.rate, duration, Duration::from_secs(5), a.via, pid)
            .await;
        println!("{}", r.line());
    }
    Ok(())
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("whatspe-loadgen: {e}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(args).await {
        eprintln!("whatspe-loadgen: {e}");
        std::process::exit(1);
    }
}
