//! Soak's live view with its last minute of history, in real pseudo-terminals (tmux): the
//! sparklines in 80×24, a clean fall-back to the figures in a smaller terminal, and in both
//! `q` stops the run and the terminal comes back as it was.

use crate::common::tmux::Tmux;
use crate::common::*;
use std::path::Path;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

/// Runs a soak in a `cols`×`rows` terminal; the file `done` gets its exit code and the
/// terminal mode once it ends.
fn soak_in_terminal(cols: u16, rows: u16, done: &Path) -> Tmux {
    let d = done.display();
    let script = format!(
        "NO_COLOR=1 '{}' soak -c 5 -d 30s --message-rate 20; echo \"exit=$?\" > '{d}.tmp'; \
         stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon >> '{d}.tmp'; mv '{d}.tmp' '{d}'; sleep 30",
        env!("CARGO_BIN_EXE_wsbeat"),
    );
    Tmux::start(cols, rows, WAIT, &script)
}

fn quit_and_check_restored(t: &Tmux, done: &Path, deadline: Instant) {
    t.keys(&["q"]);
    poll_until(deadline.saturating_duration_since(Instant::now()), || {
        done.exists().then_some(())
    })
    .unwrap_or_else(|| panic!("soak did not stop on q:\n{}", t.screen()));
    let status = std::fs::read_to_string(done).unwrap();
    assert!(status.contains("exit=0"), "{status}");
    assert!(
        status.lines().any(|l| l == "icanon"),
        "raw mode left on: {status}"
    );
    assert_eq!(
        t.display("#{alternate_on} #{cursor_flag}"),
        "0 1",
        "alternate screen off, cursor on"
    );
}

#[test]
fn the_live_view_draws_the_last_minute_in_80_by_24() {
    if !require_peer("tmux") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let done = dir.path().join("done");
    let deadline = Instant::now() + WAIT * 2;
    let t = soak_in_terminal(80, 24, &done);
    // Two finished seconds of 100 messages/s: the received row has bars.
    let screen = t.wait("sparklines with bars", |s| {
        s.lines()
            .any(|l| l.starts_with("received/s") && l.contains('█'))
    });
    for row in ["received/s", "p99", "open", "errors"] {
        assert!(
            screen
                .lines()
                .any(|l| l.starts_with(row) && l.contains('▁')
                    || l.starts_with(row) && l.contains('█')),
            "no {row} sparkline:\n{screen}"
        );
    }
    assert!(screen.contains("/ 5 open"), "{screen}");
    assert!(screen.contains("whole run p50"), "{screen}");
    assert!(screen.contains("one column per 1 s"), "{screen}");
    assert!(
        screen.lines().count() <= 24 && screen.lines().all(|l| l.chars().count() <= 80),
        "{screen}"
    );
    quit_and_check_restored(&t, &done, deadline);
}

#[test]
fn a_small_terminal_keeps_the_figures_and_drops_the_history() {
    if !require_peer("tmux") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let done = dir.path().join("done");
    let deadline = Instant::now() + WAIT * 2;
    let t = soak_in_terminal(50, 9, &done);
    let screen = t.wait("the live view", |s| s.contains("/ 5 open"));
    assert!(!screen.contains('█') && !screen.contains('▁'), "{screen}");
    assert!(
        screen.contains("wsbeat soak"),
        "the first lines stay: {screen}"
    );
    quit_and_check_restored(&t, &done, deadline);
}
