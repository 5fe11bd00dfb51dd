//! Load generator for `bench/run`: raw TCP (the floor) or a minimal WebSocket client, with the same
//! message sizes and in-flight pattern either way.
//!
//! It shares no code with wsbeat, so it also serves as the independent generator that cross-checks
//! `wsbeat soak`. Each connection keeps `--in-flight` messages outstanding (1 = one message in
//! flight; more = pipelined) and sends one more for every echo it gets back, so the server, not a
//! timer, sets the pace. WebSocket frames are masked with a fixed per-connection key and built once,
//! so the generator spends its CPU on the socket, not on masking.
//!
//! ```text
//! tcp_load tcp://127.0.0.1:PORT -c 100 --in-flight 1 --size 64 -d 5s
//! tcp_load ws://127.0.0.1:PORT/ -c 1 --size 16384 --binary -d 5s
//! tcp_load ws://127.0.0.1:PORT/ --ping -d 5s            # Ping frames, waits for each Pong
//! tcp_load ws://127.0.0.1:PORT/ --idle -c 10000 -d 30s  # open, then hold idle connections
//! ```
//!
//! Output is NDJSON on stdout, flushed line by line so a caller can sample the server at the edges
//! of the measured window: `{"event":"ready",...}` once the connections are open,
//! `{"event":"start"}` and `{"event":"end"}` around the window, then `{"event":"result",...}`.
//! Every run is bounded by `--duration` (plus warm-up and a short grace) and by `--max-messages`.

use clap::Parser;
use hdrhistogram::Histogram;
use std::collections::VecDeque;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, watch};

#[derive(Debug, Parser)]
#[command(
    name = "tcp_load",
    about = "Echo load generator for bench/run (raw TCP or WebSocket)"
)]
struct Args {
    /// tcp://HOST:PORT (raw bytes) or ws://HOST:PORT/PATH (WebSocket frames)
    target: String,
    /// Number of connections
    #[arg(short = 'c', long, default_value_t = 1)]
    connections: usize,
    /// Messages outstanding per connection (1 = one in flight; more = pipelined)
    #[arg(short = 'k', long, default_value_t = 1)]
    in_flight: usize,
    /// Payload bytes per message
    #[arg(short = 's', long, default_value_t = 64)]
    size: usize,
    /// Send binary frames instead of text (ws only)
    #[arg(long)]
    binary: bool,
    /// Send Ping frames and wait for Pongs instead of echoed messages (ws only; size <= 125)
    #[arg(long, conflicts_with = "idle")]
    ping: bool,
    /// Open the connections, then hold them idle for --duration (memory measurements)
    #[arg(long)]
    idle: bool,
    /// Length of the measured window (or of the idle hold)
    #[arg(short = 'd', long, default_value = "5s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Load before the measured window starts
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    warmup: Duration,
    /// Stop early once this many round trips completed (a bound, not a target)
    #[arg(long, default_value_t = 200_000_000)]
    max_messages: u64,
    /// Connections being opened at once
    #[arg(long, default_value_t = 200)]
    connect_concurrency: usize,
    /// Give up on a connection that opens or answers no faster than this
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

#[derive(Debug, Clone)]
struct Target {
    addr: String,
    /// `Some(path)` for WebSocket, `None` for raw TCP.
    path: Option<String>,
}

impl Target {
    fn parse(s: &str) -> Result<Self, String> {
        if let Some(rest) = s.strip_prefix("tcp://") {
            let addr = rest.trim_end_matches('/').to_string();
            return Ok(Target { addr, path: None });
        }
        if let Some(rest) = s.strip_prefix("ws://") {
            let (addr, path) = match rest.find('/') {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, "/"),
            };
            return Ok(Target {
                addr: addr.to_string(),
                path: Some(path.to_string()),
            });
        }
        Err(format!(
            "target must be tcp://HOST:PORT or ws://HOST:PORT/PATH, got {s:?}"
        ))
    }
}

struct Shared {
    measuring: AtomicBool,
    messages: AtomicU64,
    completed_total: AtomicU64,
    max_messages: u64,
    max_reached: tokio::sync::Notify,
    dropped: AtomicU64,
    first_error: std::sync::Mutex<Option<String>>,
}

impl Shared {
    fn error(&self, err: String) {
        let mut first = self.first_error.lock().unwrap_or_else(|p| p.into_inner());
        first.get_or_insert(err);
    }
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("tcp_load: error: runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("tcp_load: error: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn emit(line: serde_json::Value) {
    let mut out = std::io::stdout().lock();
    // A closed stdout means the caller is gone; nothing useful to do about it.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

async fn run(args: Args) -> Result<(), String> {
    let target = Target::parse(&args.target)?;
    if target.path.is_none() && (args.binary || args.ping) {
        return Err("--binary and --ping need a ws:// target".into());
    }
    if args.ping && args.size > 125 {
        return Err("--ping payloads are at most 125 bytes".into());
    }
    if args.connections == 0 || args.in_flight == 0 || (args.size == 0 && target.path.is_none()) {
        return Err("--connections, --in-flight and (for tcp) --size must be positive".into());
    }
    let shared = Arc::new(Shared {
        measuring: AtomicBool::new(false),
        messages: AtomicU64::new(0),
        completed_total: AtomicU64::new(0),
        max_messages: args.max_messages,
        max_reached: tokio::sync::Notify::new(),
        dropped: AtomicU64::new(0),
        first_error: std::sync::Mutex::new(None),
    });

    // Open every connection before any load, a bounded number at a time.
    let opened_at = Instant::now();
    let gate = Arc::new(Semaphore::new(args.connect_concurrency.max(1)));
    let mut opening = Vec::with_capacity(args.connections);
    for i in 0..args.connections {
        let gate = gate.clone();
        let target = target.clone();
        let timeout = args.timeout;
        opening.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.map_err(|e| e.to_string())?;
            match tokio::time::timeout(timeout, open(&target, i as u32)).await {
                Ok(result) => result,
                Err(_) => Err(format!("opening took longer than {timeout:?}")),
            }
        }));
    }
    let mut streams = Vec::with_capacity(args.connections);
    let mut failed = 0usize;
    for handle in opening {
        match handle.await {
            Ok(Ok(stream)) => streams.push(stream),
            Ok(Err(err)) => {
                failed += 1;
                shared.error(err);
            }
            Err(err) => {
                failed += 1;
                shared.error(err.to_string());
            }
        }
    }
    let established = streams.len();
    emit(serde_json::json!({
        "event": "ready",
        "established": established,
        "failed": failed,
        "open_seconds": opened_at.elapsed().as_secs_f64(),
    }));

    let (stop_tx, stop_rx) = watch::channel(false);
    let frame = Arc::new(build_frame(&args, &target));
    let mut tasks = Vec::with_capacity(established);
    for (i, stream) in streams.into_iter().enumerate() {
        let shared = shared.clone();
        let stop = stop_rx.clone();
        let ws = target.path.is_some();
        if args.idle {
            tasks.push(tokio::spawn(async move {
                if let Err(err) = hold_idle(stream, ws, stop).await {
                    shared.dropped.fetch_add(1, Ordering::Relaxed);
                    shared.error(err);
                }
                None
            }));
        } else {
            let frame = frame.clone();
            let cfg = DriveConfig {
                ws,
                ping: args.ping,
                size: args.size,
                in_flight: args.in_flight,
                timeout: args.timeout,
                mask: mask_key(i as u32),
            };
            tasks.push(tokio::spawn(async move {
                match drive(stream, frame, cfg, &shared, stop).await {
                    Ok(hist) => Some(hist),
                    Err(err) => {
                        shared.dropped.fetch_add(1, Ordering::Relaxed);
                        shared.error(err);
                        None
                    }
                }
            }));
        }
    }

    let (seconds, stopped_early) = if args.idle {
        tokio::time::sleep(args.duration).await;
        (args.duration.as_secs_f64(), false)
    } else {
        tokio::time::sleep(args.warmup).await;
        shared.measuring.store(true, Ordering::SeqCst);
        let started = Instant::now();
        emit(serde_json::json!({"event": "start"}));
        let early = tokio::select! {
            _ = tokio::time::sleep(args.duration) => false,
            _ = shared.max_reached.notified() => true,
        };
        shared.measuring.store(false, Ordering::SeqCst);
        let seconds = started.elapsed().as_secs_f64();
        emit(serde_json::json!({"event": "end"}));
        (seconds, early)
    };
    let _ = stop_tx.send(true);

    let mut merged = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)
        .map_err(|e| format!("histogram: {e}"))?;
    let grace = tokio::time::sleep(Duration::from_secs(3));
    tokio::pin!(grace);
    for task in tasks.iter_mut() {
        tokio::select! {
            joined = &mut *task => {
                if let Ok(Some(hist)) = joined {
                    merged.add(&hist).map_err(|e| format!("histogram: {e:?}"))?;
                }
            }
            _ = &mut grace => break,
        }
    }
    for task in &tasks {
        task.abort();
    }

    let messages = shared.messages.load(Ordering::SeqCst);
    let quantile_us = |q: f64| {
        if merged.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::json!(merged.value_at_quantile(q) as f64 / 1000.0)
        }
    };
    let first_error = shared
        .first_error
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    emit(serde_json::json!({
        "event": "result",
        "target": args.target,
        "mode": if args.idle { "idle" } else if args.ping { "ping" } else if target.path.is_some() { "ws" } else { "tcp" },
        "connections": args.connections,
        "established": established,
        "failed": failed,
        "dropped": shared.dropped.load(Ordering::SeqCst),
        "in_flight": args.in_flight,
        "size": args.size,
        "seconds": seconds,
        "stopped_early": stopped_early,
        "messages": messages,
        "msgs_per_sec": if seconds > 0.0 { messages as f64 / seconds } else { 0.0 },
        "mb_per_sec": if seconds > 0.0 { (messages as f64 * args.size as f64) / seconds / 1e6 } else { 0.0 },
        "rtt_us": {
            "p50": quantile_us(0.50),
            "p90": quantile_us(0.90),
            "p99": quantile_us(0.99),
            "max": if merged.is_empty() { serde_json::Value::Null } else { serde_json::json!(merged.max() as f64 / 1000.0) },
            "count": merged.len(),
        },
        "first_error": first_error,
    }));
    Ok(())
}

/// A fixed, per-connection mask key: the servers must unmask whatever it is.
fn mask_key(i: u32) -> [u8; 4] {
    (i.wrapping_mul(0x9E37_79B9) | 0x0101_0101).to_be_bytes()
}

/// One outgoing message, ready to write: raw bytes for TCP, a masked frame for WebSocket.
/// Every connection's frame uses the same bytes but its own mask, so the frame is rebuilt per
/// connection from this template in `drive`.
fn build_frame(args: &Args, target: &Target) -> Vec<u8> {
    if target.path.is_none() {
        return vec![b'x'; args.size];
    }
    let opcode = if args.ping {
        0x9
    } else if args.binary {
        0x2
    } else {
        0x1
    };
    ws_frame(opcode, &vec![b'x'; args.size], [0, 0, 0, 0])
}

fn ws_frame(opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 14);
    frame.push(0x80 | opcode);
    let len = payload.len();
    if len < 126 {
        frame.push(0x80 | len as u8);
    } else if len <= u16::MAX as usize {
        frame.push(0x80 | 126);
        frame.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        frame.push(0x80 | 127);
        frame.extend_from_slice(&(len as u64).to_be_bytes());
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// Re-masks a template frame built with a zero mask key.
fn remask(template: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut frame = template.to_vec();
    let header = match frame[1] & 0x7f {
        126 => 4,
        127 => 10,
        _ => 2,
    };
    frame[header..header + 4].copy_from_slice(&mask);
    for (i, b) in frame[header + 4..].iter_mut().enumerate() {
        *b ^= mask[i % 4];
    }
    frame
}

const KEYS: [&str; 4] = [
    "dGhlIHNhbXBsZSBub25jZQ==",
    "d3NiZWF0LWJlbmNoLWtleQ==",
    "AAECAwQFBgcICQoLDA0ODw==",
    "x3JJHMbDL1EzLkh9GBhXDw==",
];

async fn open(target: &Target, i: u32) -> Result<(TcpStream, Vec<u8>), String> {
    let mut stream = TcpStream::connect(&target.addr)
        .await
        .map_err(|e| format!("connect {}: {e}", target.addr))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let Some(path) = &target.path else {
        return Ok((stream, Vec::new()));
    };
    // Any base64 of 16 bytes will do; we do not check the server's Sec-WebSocket-Accept.
    let key = KEYS[i as usize % KEYS.len()];
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n",
        target.addr
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("upgrade request: {e}"))?;
    let mut response = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("upgrade response: {e}"))?;
        if n == 0 {
            return Err("server closed during the upgrade".into());
        }
        response.extend_from_slice(&chunk[..n]);
        if let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") {
            if !response.starts_with(b"HTTP/1.1 101") {
                let line = String::from_utf8_lossy(&response[..end]);
                return Err(format!(
                    "upgrade refused: {}",
                    line.lines().next().unwrap_or("")
                ));
            }
            let rest = response.split_off(end + 4);
            return Ok((stream, rest));
        }
        if response.len() > 16 * 1024 {
            return Err("upgrade response headers too long".into());
        }
    }
}

struct DriveConfig {
    ws: bool,
    ping: bool,
    size: usize,
    in_flight: usize,
    timeout: Duration,
    mask: [u8; 4],
}

/// Counts whole messages in the byte stream coming back from the server.
enum Counter {
    /// Raw TCP: every `size` bytes is one message.
    Tcp { size: usize, partial: usize },
    /// WebSocket: counts final data frames (or pongs), skipping payloads without copying them.
    Ws {
        header: [u8; 14],
        header_len: usize,
        skip: u64,
        counting: bool,
        want_pong: bool,
    },
}

impl Counter {
    fn feed(&mut self, mut data: &[u8]) -> Result<usize, String> {
        match self {
            Counter::Tcp { size, partial } => {
                let total = *partial + data.len();
                *partial = total % *size;
                Ok(total / *size)
            }
            Counter::Ws {
                header,
                header_len,
                skip,
                counting,
                want_pong,
            } => {
                let mut done = 0;
                while !data.is_empty() {
                    if *skip > 0 {
                        let n = (*skip).min(data.len() as u64) as usize;
                        data = &data[n..];
                        *skip -= n as u64;
                        if *skip == 0 && *counting {
                            done += 1;
                        }
                        continue;
                    }
                    header[*header_len] = data[0];
                    *header_len += 1;
                    data = &data[1..];
                    let Some((fin, opcode, len)) = parse_header(&header[..*header_len])? else {
                        continue;
                    };
                    *header_len = 0;
                    if opcode == 0x8 {
                        return Err("server sent a Close frame".into());
                    }
                    *counting = if *want_pong {
                        opcode == 0xA
                    } else {
                        fin && opcode <= 0x2
                    };
                    if len == 0 {
                        if *counting {
                            done += 1;
                        }
                    } else {
                        *skip = len;
                    }
                }
                Ok(done)
            }
        }
    }
}

/// `Some((fin, opcode, payload length))` once the header is complete.
fn parse_header(h: &[u8]) -> Result<Option<(bool, u8, u64)>, String> {
    if h.len() < 2 {
        return Ok(None);
    }
    if h[1] & 0x80 != 0 {
        return Err("server sent a masked frame".into());
    }
    let (need, len) = match h[1] & 0x7f {
        126 if h.len() >= 4 => (4, u64::from(u16::from_be_bytes([h[2], h[3]]))),
        126 => return Ok(None),
        127 if h.len() >= 10 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&h[2..10]);
            (10, u64::from_be_bytes(b))
        }
        127 => return Ok(None),
        n => (2, u64::from(n)),
    };
    debug_assert_eq!(h.len(), need);
    Ok(Some((h[0] & 0x80 != 0, h[0] & 0x0f, len)))
}

async fn drive(
    stream: (TcpStream, Vec<u8>),
    template: Arc<Vec<u8>>,
    cfg: DriveConfig,
    shared: &Shared,
    mut stop: watch::Receiver<bool>,
) -> Result<Histogram<u64>, String> {
    let (mut stream, leftover) = stream;
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)
        .map_err(|e| format!("histogram: {e}"))?;
    let frame = if cfg.ws {
        remask(&template, cfg.mask)
    } else {
        template.to_vec()
    };
    let mut counter = if cfg.ws {
        Counter::Ws {
            header: [0; 14],
            header_len: 0,
            skip: 0,
            counting: false,
            want_pong: cfg.ping,
        }
    } else {
        Counter::Tcp {
            size: cfg.size,
            partial: 0,
        }
    };
    let mut sent_at: VecDeque<Instant> = VecDeque::with_capacity(cfg.in_flight);
    let mut out = Vec::with_capacity(frame.len() * cfg.in_flight);
    let now = Instant::now();
    for _ in 0..cfg.in_flight {
        out.extend_from_slice(&frame);
        sent_at.push_back(now);
    }
    stream
        .write_all(&out)
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut early = counter.feed(&leftover)?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if *stop.borrow() {
            break;
        }
        let n = if early > 0 {
            0
        } else {
            tokio::select! {
                read = tokio::time::timeout(cfg.timeout, stream.read(&mut buf)) => match read {
                    Err(_) => return Err(format!("no reply within {:?}", cfg.timeout)),
                    Ok(Err(e)) => return Err(format!("read: {e}")),
                    Ok(Ok(0)) => return Err("server closed the connection".into()),
                    Ok(Ok(n)) => n,
                },
                _ = stop.changed() => break,
            }
        };
        let done = std::mem::take(&mut early) + counter.feed(&buf[..n])?;
        if done == 0 {
            continue;
        }
        let now = Instant::now();
        let measuring = shared.measuring.load(Ordering::Relaxed);
        out.clear();
        for _ in 0..done {
            let sent = sent_at
                .pop_front()
                .ok_or("more replies than messages sent")?;
            if measuring {
                let _ = hist.record(now.duration_since(sent).as_nanos() as u64);
            }
            out.extend_from_slice(&frame);
            sent_at.push_back(now);
        }
        if measuring {
            shared.messages.fetch_add(done as u64, Ordering::Relaxed);
        }
        let total = shared
            .completed_total
            .fetch_add(done as u64, Ordering::Relaxed)
            + done as u64;
        if total >= shared.max_messages {
            shared.max_reached.notify_one();
            break;
        }
        stream
            .write_all(&out)
            .await
            .map_err(|e| format!("write: {e}"))?;
    }
    if cfg.ws {
        // A polite Close (1000); we do not wait for the answer.
        let _ = stream
            .write_all(&ws_frame(0x8, &1000u16.to_be_bytes(), cfg.mask))
            .await;
    }
    let _ = stream.shutdown().await;
    Ok(hist)
}

/// Holds an idle connection open, answering the server's Pings so heartbeats keep it alive.
async fn hold_idle(
    stream: (TcpStream, Vec<u8>),
    ws: bool,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let (mut stream, mut pending) = stream;
    let mut chunk = [0u8; 256];
    loop {
        // Answer every complete Ping in what we have so far.
        while ws && pending.len() >= 2 {
            let Some((_, opcode, len)) = parse_header(&pending[..header_len(&pending)])? else {
                break;
            };
            let start = header_len(&pending);
            let end = start + len as usize;
            if pending.len() < end {
                break;
            }
            match opcode {
                0x8 => return Err("server closed an idle connection".into()),
                0x9 => {
                    let pong = ws_frame(0xA, &pending[start..end], [1, 2, 3, 4]);
                    stream.write_all(&pong).await.map_err(|e| e.to_string())?;
                }
                _ => {}
            }
            pending.drain(..end);
        }
        tokio::select! {
            read = stream.read(&mut chunk) => match read {
                Ok(0) => return Err("server closed an idle connection".into()),
                Ok(n) => pending.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(format!("read: {e}")),
            },
            _ = stop.changed() => return Ok(()),
        }
    }
}

/// Bytes of frame header at the start of `buf`, as far as can be told from what is there.
fn header_len(buf: &[u8]) -> usize {
    let need = match buf.get(1).map(|b| b & 0x7f) {
        Some(126) => 4,
        Some(127) => 10,
        _ => 2,
    };
    need.min(buf.len())
}
