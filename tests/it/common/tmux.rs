//! A real pseudo-terminal for the tests of terminal UIs: a tmux server of our own (its own
//! socket) runs a command in a detached session; `send-keys` types, `capture-pane` shows
//! what a person would see. A screen announces nothing, so waits poll it, bounded.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::process::poll_until;

pub struct Tmux {
    socket: String,
    /// How long [`Tmux::wait`] waits for the screen.
    timeout: Duration,
}

impl Tmux {
    /// Runs the shell command `command` in a `cols` x `rows` pane; waits for its screen take
    /// up to `timeout`.
    pub fn start(cols: u16, rows: u16, timeout: Duration, command: &str) -> Tmux {
        static N: AtomicUsize = AtomicUsize::new(0);
        let socket = format!(
            "wsbeat-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let t = Tmux { socket, timeout };
        t.tmux(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-x",
            &cols.to_string(),
            "-y",
            &rows.to_string(),
            command,
        ]);
        t
    }

    /// `tmux ARGS` against our server; fails the test when tmux does. Its stdout.
    #[track_caller]
    pub fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run tmux");
        assert!(
            out.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Named keys (`Enter`, `C-d`, `Left`, `q`) as tmux spells them.
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// Text typed as it is, key by key.
    pub fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "0", "-l", text]);
    }

    pub fn line(&self, text: &str) {
        self.type_text(text);
        self.keys(&["Enter"]);
    }

    /// A paste in bracketed-paste markers, as a terminal sends it when the app asked for them.
    pub fn paste(&self, text: &str) {
        self.tmux(&["set-buffer", "--", text]);
        self.tmux(&["paste-buffer", "-p", "-t", "0"]);
    }

    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "0"])
    }

    /// A tmux format about the pane, e.g. `#{alternate_on}`.
    pub fn display(&self, format: &str) -> String {
        self.tmux(&["display-message", "-p", "-t", "0", format])
            .trim()
            .to_string()
    }

    /// The pid of the process the pane runs (the shell running `command`).
    pub fn pane_pid(&self) -> u32 {
        let pid = self.display("#{pane_pid}");
        pid.parse()
            .unwrap_or_else(|e| panic!("pane pid {pid:?}: {e}"))
    }

    /// Polls the pane until `pred` holds; returns the screen then.
    #[track_caller]
    pub fn wait(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        poll_until(self.timeout, || Some(self.screen()).filter(|s| pred(s))).unwrap_or_else(|| {
            panic!(
                "no {what} on screen within {:?}; screen:\n{}",
                self.timeout,
                self.screen()
            )
        })
    }

    #[track_caller]
    pub fn wait_text(&self, text: &str) -> String {
        self.wait(&format!("{text:?}"), |s| s.contains(text))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
