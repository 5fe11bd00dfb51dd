//! `soak --coordinator redis://…/RUN_ID`: the Redis address, the run's name, this process's
//! part in it. The password stays inside `redis_url`; only `shown` ever reaches output.

use crate::error::Error;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Coordinator {
    /// What the `redis` crate opens (with the password, without the run id).
    pub redis_url: String,
    /// `redis://host:port/RUN_ID`: no user, no password.
    pub shown: String,
    pub run_id: String,
    pub workers: usize,
    /// `--worker-index` or `$JOB_COMPLETION_INDEX`; `None`: the order of joining decides.
    pub index: Option<usize>,
    pub lead: bool,
    pub barrier_timeout: Duration,
}

/// Run ids become Redis key names and appear in output: keep them printable and short.
const MAX_RUN_ID: usize = 64;

pub fn lower(
    url: &str,
    workers: usize,
    index_flag: Option<usize>,
    index_env: Option<&str>,
    lead: bool,
    barrier_timeout: Duration,
) -> Result<Coordinator, Error> {
    let bad = |why: &str| Error::usage(format!("--coordinator: {why}"));
    let (scheme, rest) = url
        .split_once("://")
        .filter(|(s, _)| *s == "redis" || *s == "rediss")
        .ok_or_else(|| bad("write redis://HOST[:PORT]/RUN_ID (or rediss:// for TLS)"))?;
    let (authority, path) = rest
        .split_once('/')
        .ok_or_else(|| bad("the URL needs a run id after the host: redis://HOST[:PORT]/RUN_ID"))?;
    // redis://host/RUN or redis://host/DB/RUN: the last segment names the run.
    let (db, run_id) = match path.rsplit_once('/') {
        Some((db, run)) => (Some(db), run),
        None => (None, path),
    };
    if run_id.is_empty()
        || run_id.len() > MAX_RUN_ID
        || !run_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
    {
        return Err(bad(&format!(
            "the run id must be 1 to {MAX_RUN_ID} letters, digits or -_.: (the last path segment)"
        )));
    }
    if let Some(db) = db
        && db.parse::<u32>().is_err()
    {
        return Err(bad("the path is /RUN_ID or /DB/RUN_ID with DB a number"));
    }
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.is_empty() {
        return Err(bad("the URL has no host"));
    }
    let redis_url = match db {
        Some(db) => format!("{scheme}://{authority}/{db}"),
        None => format!("{scheme}://{authority}"),
    };
    // Checked now, so that a typo fails before the run, not at the barrier.
    redis::Client::open(redis_url.as_str())
        .map_err(|_| bad("the redis crate does not read this URL"))?;
    let index = match (index_flag, index_env) {
        (Some(i), _) => Some(i),
        (None, Some(v)) if !v.trim().is_empty() => Some(v.trim().parse().map_err(|_| {
            Error::usage(format!(
                "JOB_COMPLETION_INDEX='{}' is not a worker index",
                crate::error::escape_controls(v, false)
            ))
        })?),
        _ => None,
    };
    if let Some(i) = index
        && i >= workers
        && !lead
    {
        return Err(Error::usage(format!(
            "worker index {i} is not below --workers {workers}"
        )));
    }
    if barrier_timeout.is_zero() {
        return Err(Error::usage("--barrier-timeout must be longer than 0"));
    }
    Ok(Coordinator {
        redis_url,
        shown: format!("{scheme}://{host}/{run_id}"),
        run_id: run_id.to_string(),
        workers,
        index,
        lead,
        barrier_timeout,
    })
}

/// Worker `slot` of `workers` takes connections `first..first + count` of `total`: contiguous
/// slices that differ by at most one, so ids are unique across the run.
pub fn share(total: usize, workers: usize, slot: usize) -> (usize, usize) {
    let first = total * slot / workers;
    let next = total * (slot + 1) / workers;
    (first, next - first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(url: &str) -> Coordinator {
        lower(url, 3, None, None, false, Duration::from_secs(30)).unwrap()
    }

    #[test]
    fn the_password_is_kept_for_redis_and_never_shown() {
        let c = ok("redis://:s3cret@127.0.0.1:6390/run-7");
        assert_eq!(c.redis_url, "redis://:s3cret@127.0.0.1:6390");
        assert_eq!(c.shown, "redis://127.0.0.1:6390/run-7");
        assert_eq!(c.run_id, "run-7");
        let c = ok("rediss://u:p@h/2/r");
        assert_eq!(
            (c.redis_url.as_str(), c.shown.as_str()),
            ("rediss://u:p@h/2", "rediss://h/r")
        );
    }

    #[test]
    fn bad_urls_and_indexes_are_refused_in_one_line() {
        for url in [
            "http://h/r",
            "redis://h",
            "redis://h/",
            "redis://h/x/r",
            "redis:///r",
            "redis://h/a b",
        ] {
            let e = lower(url, 3, None, None, false, Duration::from_secs(1)).unwrap_err();
            assert!(
                e.message().starts_with("--coordinator: "),
                "{url}: {}",
                e.message()
            );
            assert!(!e.message().contains('\n'));
        }
        let e = lower(
            "redis://h/r",
            3,
            Some(3),
            None,
            false,
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(
            e.message().contains("not below --workers 3"),
            "{}",
            e.message()
        );
        let c = lower(
            "redis://h/r",
            3,
            None,
            Some("2"),
            false,
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(c.index, Some(2), "JOB_COMPLETION_INDEX names the slot");
        let c = lower(
            "redis://h/r",
            3,
            Some(0),
            Some("2"),
            false,
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(c.index, Some(0), "the flag wins over the environment");
        assert!(
            lower(
                "redis://h/r",
                3,
                None,
                Some("x"),
                false,
                Duration::from_secs(1)
            )
            .is_err()
        );
    }

    #[test]
    fn shares_cover_every_connection_once() {
        for (total, n) in [(21_000, 3), (10, 3), (2, 5), (7, 1)] {
            let mut next = 0;
            for slot in 0..n {
                let (first, count) = share(total, n, slot);
                assert_eq!(first, next);
                next = first + count;
            }
            assert_eq!(next, total);
        }
        assert_eq!(share(21_000, 3, 1), (7_000, 7_000));
    }
}
