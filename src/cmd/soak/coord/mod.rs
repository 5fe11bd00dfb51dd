//! `soak --coordinator`: several soak processes, on one machine or many, make one run through a
//! Redis they all reach. Redis does the distributed part (an atomic counter for slots, a hash of
//! who joined, a key for the agreed start, a bounded stream of figures), so there is no protocol
//! of ours between processes and no process that must be reachable from the others.
//!
//! Keys, all under `wsbeat:soak:RUN_ID:` and expiring a day after the last write:
//! `next` (INCR: the slot of a worker without an index), `workers` (hash slot → `host:pid`),
//! `start` (Unix milliseconds, set once with NX by the last to join), `stream` (XADD, MAXLEN
//! bounded: a `tick` per worker per second with its cumulative totals, a `final` with its
//! report). Totals are cumulative, not deltas, so a trimmed or unread entry loses nothing: the
//! lead keeps each worker's latest, and a worker's final report replaces them.

pub mod barrier;
pub mod lead;
pub mod publish;

use crate::config::coordinator::Coordinator;
use crate::error::{Error, ErrorKind, escape_controls};
use redis::aio::MultiplexedConnection;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long reaching Redis may take at the start before the worker gives up (exit 3).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// One command's bound: a Redis that hangs must not stall the publisher or the lead.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// Keys outlive the run by this much, so a forgotten run cleans itself up.
const KEY_TTL_SECS: u64 = 86_400;
/// Entries kept in the stream (approximately): far more than the lead ever lags behind.
pub const STREAM_MAXLEN: u64 = 10_000;

pub struct Keys {
    pub next: String,
    pub workers: String,
    pub start: String,
    pub stream: String,
}

impl Keys {
    pub fn new(run_id: &str) -> Keys {
        let k = |s: &str| format!("wsbeat:soak:{run_id}:{s}");
        Keys {
            next: k("next"),
            workers: k("workers"),
            start: k("start"),
            stream: k("stream"),
        }
    }
}

/// Opens the connection, bounded; failing here is exit 3 with the reason (never the password).
pub async fn connect(c: &Coordinator) -> Result<MultiplexedConnection, Error> {
    let fail = |why: String| {
        Error::new(
            ErrorKind::Connect,
            format!(
                "cannot reach the coordinator {}: {}",
                c.shown,
                escape_controls(&why, false)
            ),
        )
    };
    let client = redis::Client::open(c.redis_url.as_str()).map_err(|e| fail(e.to_string()))?;
    // Our own bound on every command (`cmd`), not the crate's default, which is shorter than
    // the lead's blocking XREAD.
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(COMMAND_TIMEOUT + Duration::from_secs(1)));
    let mut con = tokio::time::timeout(
        CONNECT_TIMEOUT,
        client.get_multiplexed_async_connection_with_config(&config),
    )
    .await
    .map_err(|_| fail(format!("no answer within {CONNECT_TIMEOUT:?}")))?
    .map_err(|e| fail(e.to_string()))?;
    let pong: Result<String, _> = cmd(&mut con, redis::cmd("PING")).await;
    pong.map_err(fail)?;
    Ok(con)
}

/// One command, bounded by `COMMAND_TIMEOUT`; the error is a line for people.
pub async fn cmd<T: redis::FromRedisValue>(
    con: &mut MultiplexedConnection,
    c: redis::Cmd,
) -> Result<T, String> {
    match tokio::time::timeout(COMMAND_TIMEOUT, c.query_async::<T>(con)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {COMMAND_TIMEOUT:?}")),
    }
}

/// Refreshes a key's expiry; failures are the next command's to report.
pub async fn touch(con: &mut MultiplexedConnection, key: &str) {
    let _: Result<i64, _> = cmd(con, redis::cmd("EXPIRE").arg(key).arg(KEY_TTL_SECS).clone()).await;
}

/// `host:pid`: what names a worker in the live view and the report.
pub fn worker_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{}:{}", escape_controls(&host, false), std::process::id())
}

pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A worker's place in the run, once the barrier is passed.
pub struct Part {
    pub c: Coordinator,
    pub con: MultiplexedConnection,
    pub slot: usize,
    pub name: String,
    pub first_id: u32,
    /// The run's `-c`, before this worker took its share.
    pub total: usize,
}

/// Joins the run, waits at the barrier, then until the agreed start; narrows `run` to this
/// worker's share of the connections (and of `--connect-rate`).
pub async fn join_as_worker(
    c: &Coordinator,
    run: &mut crate::config::soak::RunShape,
) -> Result<Part, Error> {
    let mut con = connect(c).await?;
    let name = worker_name();
    eprintln!(
        "wsbeat: joining run {} on {} as {name}; waiting for {} worker(s)",
        c.run_id, c.shown, c.workers
    );
    let joined = barrier::join(c, &mut con, &name).await?;
    let total = run.connections;
    let (first, count) = crate::config::coordinator::share(total, c.workers, joined.slot);
    run.connections = count;
    run.connect_rate = run.connect_rate.map(|r| r * count as f64 / total as f64);
    let wait = joined.start_ms.saturating_sub(unix_ms());
    tokio::time::sleep(Duration::from_millis(wait)).await;
    eprintln!(
        "wsbeat: worker w{} of run {}: connections {first}..{} of {total}",
        joined.slot,
        c.run_id,
        first + count
    );
    Ok(Part {
        c: c.clone(),
        con,
        slot: joined.slot,
        name,
        first_id: first as u32,
        total,
    })
}

impl Part {
    /// What this worker adds to its report's configuration.
    pub fn config(&self) -> serde_json::Value {
        serde_json::json!({
            "coordinator": self.c.shown,
            "run": self.c.run_id,
            "slot": self.slot,
            "workers": self.c.workers,
            "name": self.name,
            "first_connection": self.first_id,
            "run_connections": self.total,
        })
    }
}
