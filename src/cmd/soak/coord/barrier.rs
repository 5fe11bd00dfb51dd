//! Joining a run: a slot, then the barrier. The last worker to register publishes the start
//! (a moment shortly ahead, so every worker, polling, sees it in time), with SET NX so that two
//! "last" workers agree. Everyone then starts at that wall-clock instant: across machines that
//! is as good as their clocks (NTP), which is plenty for a soak.

use super::{Keys, cmd, touch, unix_ms};
use crate::config::coordinator::Coordinator;
use crate::error::{Error, ErrorKind};
use redis::aio::MultiplexedConnection;
use std::time::{Duration, Instant};

/// How far ahead of the last join the start is set: more than one poll, so nobody is late.
const START_AHEAD_MS: u64 = 500;
/// How often a waiting worker looks for the start key.
const POLL: Duration = Duration::from_millis(50);

pub struct Joined {
    pub slot: usize,
    /// The agreed start, as Unix milliseconds.
    pub start_ms: u64,
}

/// Takes a slot (the given index, or the next free by INCR), registers, and waits for the
/// start. Errors: slot taken or run full (exit 2), Redis failing (exit 3), barrier timeout
/// naming the missing slots (exit 6).
pub async fn join(
    c: &Coordinator,
    con: &mut MultiplexedConnection,
    name: &str,
) -> Result<Joined, Error> {
    let keys = Keys::new(&c.run_id);
    let redis_err =
        |e: String| Error::new(ErrorKind::Connect, format!("coordinator {}: {e}", c.shown));
    let slot = match c.index {
        Some(i) => i,
        None => {
            let n: u64 = cmd(con, redis::cmd("INCR").arg(&keys.next).clone())
                .await
                .map_err(redis_err)?;
            touch(con, &keys.next).await;
            (n - 1) as usize
        }
    };
    if slot >= c.workers {
        return Err(Error::usage(format!(
            "run {} already has its {} workers (use another run id, or --worker-index)",
            c.run_id, c.workers
        )));
    }
    let fresh: i64 = cmd(
        con,
        redis::cmd("HSETNX")
            .arg(&keys.workers)
            .arg(slot)
            .arg(name)
            .clone(),
    )
    .await
    .map_err(redis_err)?;
    touch(con, &keys.workers).await;
    if fresh == 0 {
        let holder: Option<String> =
            cmd(con, redis::cmd("HGET").arg(&keys.workers).arg(slot).clone())
                .await
                .map_err(redis_err)?;
        return Err(Error::usage(format!(
            "slot {slot} of run {} is taken by {}",
            c.run_id,
            holder.unwrap_or_default()
        )));
    }
    let joined: u64 = cmd(con, redis::cmd("HLEN").arg(&keys.workers).clone())
        .await
        .map_err(redis_err)?;
    if joined as usize >= c.workers {
        let _: Option<String> = cmd(
            con,
            redis::cmd("SET")
                .arg(&keys.start)
                .arg(unix_ms() + START_AHEAD_MS)
                .arg("NX")
                .clone(),
        )
        .await
        .map_err(redis_err)?;
        touch(con, &keys.start).await;
    }
    let start_ms = wait_start(c, con, Instant::now() + c.barrier_timeout).await?;
    Ok(Joined { slot, start_ms })
}

/// Polls for the start until `deadline`; the lead waits here too.
pub async fn wait_start(
    c: &Coordinator,
    con: &mut MultiplexedConnection,
    deadline: Instant,
) -> Result<u64, Error> {
    let keys = Keys::new(&c.run_id);
    loop {
        let start: Result<Option<u64>, String> =
            cmd(con, redis::cmd("GET").arg(&keys.start).clone()).await;
        match start {
            Ok(Some(ms)) => return Ok(ms),
            Ok(None) => {}
            Err(e) => {
                return Err(Error::new(
                    ErrorKind::Connect,
                    format!("coordinator {}: {e}", c.shown),
                ));
            }
        }
        if Instant::now() >= deadline {
            return Err(timeout(c, con).await);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The barrier's failure: which slots never came, and who did.
async fn timeout(c: &Coordinator, con: &mut MultiplexedConnection) -> Error {
    let keys = Keys::new(&c.run_id);
    let joined: Vec<(usize, String)> = cmd(con, redis::cmd("HGETALL").arg(&keys.workers).clone())
        .await
        .unwrap_or_default();
    Error::new(ErrorKind::Timeout, missing_line(c, &joined))
}

pub fn missing_line(c: &Coordinator, joined: &[(usize, String)]) -> String {
    let missing: Vec<String> = (0..c.workers)
        .filter(|s| !joined.iter().any(|(j, _)| j == s))
        .map(|s| s.to_string())
        .collect();
    let mut came: Vec<&(usize, String)> = joined.iter().collect();
    came.sort();
    let came: Vec<String> = came.iter().map(|(s, n)| format!("w{s} {n}")).collect();
    format!(
        "barrier timeout after {:?}: run {} has {} of {} workers; slot(s) {} never came (joined: {})",
        c.barrier_timeout,
        c.run_id,
        came.len(),
        c.workers,
        missing.join(", "),
        if came.is_empty() {
            "none".into()
        } else {
            came.join(", ")
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timeout_names_the_missing_slots_and_who_came() {
        let c = crate::config::coordinator::lower(
            "redis://:pw@h/r9",
            4,
            None,
            None,
            false,
            Duration::from_secs(2),
        )
        .unwrap();
        let line = missing_line(&c, &[(2, "b:2".into()), (0, "a:1".into())]);
        assert_eq!(
            line,
            "barrier timeout after 2s: run r9 has 2 of 4 workers; slot(s) 1, 3 never came (joined: w0 a:1, w2 b:2)"
        );
        assert!(missing_line(&c, &[]).ends_with("slot(s) 0, 1, 2, 3 never came (joined: none)"));
    }
}
