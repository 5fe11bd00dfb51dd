//! Skips that show. A test that cannot run here (a peer is not installed) says so on stderr as
//! it returns, and the run ends with a summary of every skip, so that "ok" never hides a test
//! that did nothing.
//!
//! libtest captures what tests print with `eprintln!` and shows it only for failures, so the
//! notice is written to the stderr handle itself. The summary has to come after libtest's
//! result line, when the tests are over: an `atexit` handler, registered by the first skip.

use std::io::Write;
use std::panic::Location;
use std::sync::{Mutex, Once, PoisonError};

struct Skip {
    test: String,
    what: String,
}

static SKIPS: Mutex<Vec<Skip>> = Mutex::new(Vec::new());
static SUMMARY_AT_EXIT: Once = Once::new();

/// Records that the running test returns early because `what` (a peer) is missing, and says
/// so on stderr with `why`.
#[track_caller]
pub fn record(what: &str, why: &str) {
    // libtest runs each test on a thread named after it.
    let test = match std::thread::current().name() {
        Some(name) if name != "main" => name.to_string(),
        _ => Location::caller().to_string(),
    };
    // One write, so that the line is not torn by libtest's own lines on a shared terminal.
    let line = format!("SKIPPED (missing peer {what}): {test}: {why}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    SKIPS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Skip {
            test,
            what: what.to_string(),
        });
    SUMMARY_AT_EXIT.call_once(|| {
        // SAFETY: registers a plain `extern "C" fn()`; it runs once, as the process exits.
        let rc = unsafe { libc::atexit(print_summary) };
        if rc != 0 {
            let _ = writeln!(
                std::io::stderr(),
                "cannot register the skip summary (atexit: {rc})"
            );
        }
    });
}

/// `skipped: 3 tests, missing peer chromium (2), nginx (1)`, then one line per test.
fn summary(skips: &[Skip]) -> String {
    let mut by_peer: Vec<(&str, usize)> = Vec::new();
    for s in skips {
        match by_peer.iter_mut().find(|(p, _)| *p == s.what) {
            Some((_, n)) => *n += 1,
            None => by_peer.push((&s.what, 1)),
        }
    }
    by_peer.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let peers: Vec<String> = by_peer.iter().map(|(p, n)| format!("{p} ({n})")).collect();
    let mut out = format!(
        "skipped: {} test{}, missing peer {}\n",
        skips.len(),
        if skips.len() == 1 { "" } else { "s" },
        peers.join(", ")
    );
    let mut lines: Vec<String> = skips
        .iter()
        .map(|s| format!("  {} (missing {})\n", s.test, s.what))
        .collect();
    lines.sort();
    out.extend(lines);
    out
}

extern "C" fn print_summary() {
    // At exit every test is over; try_lock only guards against a test thread still hanging
    // on to the lock when a failure ends the process early.
    let Ok(skips) = SKIPS.try_lock() else { return };
    if !skips.is_empty() {
        let _ = std::io::stderr().write_all(format!("\n{}", summary(&skips)).as_bytes());
    }
}

#[test]
fn summary_counts_tests_per_missing_peer() {
    let skip = |test: &str, what: &str| Skip {
        test: test.into(),
        what: what.into(),
    };
    let text = summary(&[
        skip("echo_server::b", "nginx"),
        skip("echo_server::a", "chromium"),
        skip("echo_server::c", "chromium"),
    ]);
    assert_eq!(
        text,
        "skipped: 3 tests, missing peer chromium (2), nginx (1)\n  \
         echo_server::a (missing chromium)\n  \
         echo_server::b (missing nginx)\n  \
         echo_server::c (missing chromium)\n"
    );
}
