//! Child processes: the one harness every test uses to start wsbeat, peers, browsers and proxies.
//!
//! * [`wsbeat`] builds a `Command` for the binary under test with a scrubbed environment.
//! * [`run`] / [`run_with_stdin`] / [`run_timeout`] run a command to its end, bounded.
//! * [`Proc`] keeps a child running in the background: its stdout and stderr are read line by
//!   line as they come, so that a test awaits a line instead of sleeping; dropping it kills the
//!   child (and, for [`Proc::spawn_tree`], everything it started).

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a single wsbeat run may take before it is killed and the test fails.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(30);

// ------------------------------------------------------------------ wsbeat

/// `wsbeat` with a scrubbed environment: only PATH and HOME survive, NO_COLOR=1.
pub fn wsbeat() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wsbeat"));
    cmd.env_clear();
    for key in ["PATH", "HOME"] {
        if let Some(v) = std::env::var_os(key) {
            cmd.env(key, v);
        }
    }
    cmd.env("NO_COLOR", "1");
    cmd
}

/// Runs `cmd` with stdin = /dev/null and an overall timeout of [`RUN_TIMEOUT`].
pub fn run(cmd: &mut Command) -> Output {
    run_timeout(cmd, None, RUN_TIMEOUT)
}

/// Runs `cmd`, writes `input` to its stdin, then closes stdin.
pub fn run_with_stdin(cmd: &mut Command, input: &[u8]) -> Output {
    run_timeout(cmd, Some(input), RUN_TIMEOUT)
}

/// Runs `cmd` to its end, feeding it `input` (or /dev/null); kills it and fails the test when
/// it takes longer than `timeout`.
#[track_caller]
pub fn run_timeout(cmd: &mut Command, input: Option<&[u8]>, timeout: Duration) -> Output {
    let name = format!("{cmd:?}");
    let mut p = match input {
        Some(data) => {
            let mut p = Proc::spawn_with_stdin(&name, cmd);
            p.feed_stdin(data.to_vec());
            p
        }
        None => Proc::spawn(&name, cmd),
    };
    let status = p.finish(timeout);
    Output {
        status,
        stdout: p.out.bytes(),
        stderr: p.err.bytes(),
    }
}

pub fn stdout_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Human-readable dump of a run, for assertion messages.
pub fn describe(o: &Output) -> String {
    format!(
        "exit: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        o.status.code(),
        stdout_of(o),
        stderr_of(o)
    )
}

/// Asserts that `text` (what run `o` printed, or part of it) contains `want`, showing the
/// whole run when it does not.
#[track_caller]
pub fn assert_contains(text: &str, want: &str, o: &Output) {
    assert!(
        text.contains(want),
        "expected {want:?} in the output\n{}",
        describe(o)
    );
}

/// Asserts the exit code, showing stdout/stderr when it differs.
#[track_caller]
pub fn assert_exit(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "expected exit code {code}\n{}",
        describe(o)
    );
}

/// A port on 127.0.0.1 where nothing listens (bound to port 0, then released).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().unwrap().port()
}

/// Sends `sig` (e.g. `libc::SIGTERM`) to process `pid`; fails the test when it cannot.
#[track_caller]
pub fn signal(pid: u32, sig: libc::c_int) {
    let pid = libc::pid_t::try_from(pid).expect("pid fits pid_t");
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    let rc = unsafe { libc::kill(pid, sig) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, {sig}): {}",
        std::io::Error::last_os_error()
    );
}

/// Calls `check` until it returns something or `timeout` passes (then `None`). For state that
/// announces nothing (a port that starts accepting, a terminal screen, a file appearing): what
/// does announce itself is awaited on its pipe or channel instead.
pub fn poll_until<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(30));
    }
}

// ------------------------------------------------------------------ output lines

/// Why [`Lines::next`] returned no line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoLine {
    Timeout,
    /// The pipe was closed (the process ended) before that line came.
    Eof,
}

#[derive(Default)]
struct Pipe {
    /// Every byte read, for [`Output`].
    bytes: Vec<u8>,
    /// Complete lines, without their `\n` (or `\r\n`).
    lines: Vec<String>,
    /// Bytes after the last `\n`.
    partial: Vec<u8>,
    eof: bool,
}

/// What one pipe of a child printed, kept whole for awaiting and for failure messages.
#[derive(Default)]
pub struct Lines {
    pipe: Mutex<Pipe>,
    cv: Condvar,
}

impl Lines {
    fn collect<R: Read + Send + 'static>(mut r: R) -> Arc<Lines> {
        let lines = Arc::new(Lines::default());
        let sink = Arc::clone(&lines);
        thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            loop {
                let n = r.read(&mut chunk).unwrap_or(0);
                let mut p = sink.lock();
                if n == 0 {
                    if !p.partial.is_empty() {
                        let last = std::mem::take(&mut p.partial);
                        p.lines.push(String::from_utf8_lossy(&last).into_owned());
                    }
                    p.eof = true;
                    break;
                }
                p.bytes.extend_from_slice(&chunk[..n]);
                p.partial.extend_from_slice(&chunk[..n]);
                while let Some(i) = p.partial.iter().position(|&b| b == b'\n') {
                    let mut line: Vec<u8> = p.partial.drain(..=i).collect();
                    line.pop();
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    p.lines.push(String::from_utf8_lossy(&line).into_owned());
                }
                drop(p);
                sink.cv.notify_all();
            }
            sink.cv.notify_all();
        });
        lines
    }

    fn lock(&self) -> MutexGuard<'_, Pipe> {
        // A test that panicked while reading still leaves whole lines behind.
        self.pipe.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every complete line so far.
    pub fn snapshot(&self) -> Vec<String> {
        self.lock().lines.clone()
    }

    /// Every byte so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.lock().bytes.clone()
    }

    /// Line `i` (from 0), waiting until `deadline` for it.
    pub fn next(&self, i: usize, deadline: Instant) -> Result<String, NoLine> {
        let mut p = self.lock();
        loop {
            if let Some(line) = p.lines.get(i) {
                return Ok(line.clone());
            }
            if p.eof {
                return Err(NoLine::Eof);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(NoLine::Timeout);
            }
            p = self
                .cv
                .wait_timeout(p, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// The first line (from the start) matching `pred`, which sees each line once, in order;
    /// `None` after `timeout` or at EOF.
    pub fn wait(&self, timeout: Duration, mut pred: impl FnMut(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + timeout;
        (0..)
            .map_while(|i| self.next(i, deadline).ok())
            .find(|l| pred(l))
    }

    /// True when the pipe reached EOF within `timeout`.
    pub fn wait_eof(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut p = self.lock();
        while !p.eof {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            p = self
                .cv
                .wait_timeout(p, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }
}

// ------------------------------------------------------------------ background processes

/// A child process, its stdout and stderr read line by line. Dropping it kills it.
pub struct Proc {
    pub name: String,
    child: Child,
    /// In a process group of its own, killed whole on drop ([`Proc::spawn_tree`]).
    own_group: bool,
    stdin: Option<ChildStdin>,
    feeder: Option<thread::JoinHandle<()>>,
    pub out: Arc<Lines>,
    pub err: Arc<Lines>,
}

impl Proc {
    /// Starts `cmd` with stdin = /dev/null; `name` is how messages call it.
    #[track_caller]
    pub fn spawn(name: &str, cmd: &mut Command) -> Proc {
        cmd.stdin(Stdio::null());
        Proc::start(name, cmd, false)
    }

    /// Starts `cmd` with a stdin that the test writes ([`Proc::write_stdin`]) and closes.
    #[track_caller]
    pub fn spawn_with_stdin(name: &str, cmd: &mut Command) -> Proc {
        cmd.stdin(Stdio::piped());
        Proc::start(name, cmd, false)
    }

    /// Like [`Proc::spawn`], for a program that starts processes of its own (chromium's
    /// launcher script, nginx's workers): it gets a process group, and dropping it kills the
    /// whole group. Other children stay in the test's group, so that Ctrl-C on `cargo test`
    /// reaches them too.
    #[track_caller]
    pub fn spawn_tree(name: &str, cmd: &mut Command) -> Proc {
        cmd.stdin(Stdio::null()).process_group(0);
        Proc::start(name, cmd, true)
    }

    #[track_caller]
    fn start(name: &str, cmd: &mut Command, own_group: bool) -> Proc {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {name}: {cmd:?}: {e}"));
        let out = Lines::collect(child.stdout.take().unwrap());
        let err = Lines::collect(child.stderr.take().unwrap());
        Proc {
            name: name.to_string(),
            stdin: child.stdin.take(),
            child,
            own_group,
            feeder: None,
            out,
            err,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Writes `bytes` to the child's stdin now.
    #[track_caller]
    pub fn write_stdin(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin
            .write_all(bytes)
            .and_then(|_| stdin.flush())
            .unwrap_or_else(|e| panic!("write to {}'s stdin: {e}", self.name));
    }

    /// Writes `data` to stdin from a thread of its own, then closes stdin: the child may stop
    /// reading before the end (a broken pipe is fine) and must not block the test.
    pub fn feed_stdin(&mut self, data: Vec<u8>) {
        if let Some(mut stdin) = self.stdin.take() {
            self.feeder = Some(thread::spawn(move || {
                let _ = stdin.write_all(&data);
            }));
        }
    }

    /// EOF for the child.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    pub fn dump(&self) -> String {
        format!(
            "--- {} stdout ---\n{}\n--- {} stderr ---\n{}",
            self.name,
            self.out.snapshot().join("\n"),
            self.name,
            self.err.snapshot().join("\n")
        )
    }

    /// Awaits a stdout line matching `pred`; panics with everything seen otherwise.
    #[track_caller]
    pub fn wait_out(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl FnMut(&str) -> bool,
    ) -> String {
        self.out.wait(timeout, pred).unwrap_or_else(|| {
            panic!(
                "{}: no stdout line {what} within {timeout:?}\n{}",
                self.name,
                self.dump()
            )
        })
    }

    /// Awaits a stderr line matching `pred`; panics with everything seen otherwise.
    #[track_caller]
    pub fn wait_err(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl FnMut(&str) -> bool,
    ) -> String {
        self.err.wait(timeout, pred).unwrap_or_else(|| {
            panic!(
                "{}: no stderr line {what} within {timeout:?}\n{}",
                self.name,
                self.dump()
            )
        })
    }

    /// Awaits a JSON stdout line whose `"event"` (the peers' clients) or `"type"` (wsbeat) is
    /// `event`; returns it.
    #[track_caller]
    pub fn wait_event(&self, event: &str, timeout: Duration) -> Value {
        let line = self.wait_out(&format!("with event {event:?}"), timeout, |l| {
            serde_json::from_str::<Value>(l)
                .is_ok_and(|v| v["event"] == event || v["type"] == event)
        });
        serde_json::from_str(&line).unwrap()
    }

    /// Every stdout line so far that is JSON.
    pub fn events(&self) -> Vec<Value> {
        self.out
            .snapshot()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    #[track_caller]
    pub fn signal(&self, sig: libc::c_int) {
        signal(self.pid(), sig);
    }

    /// Waits for the exit (bounded) and for both pipes to reach EOF; on timeout kills the
    /// child and fails the test with what it printed.
    #[track_caller]
    pub fn finish(&mut self, timeout: Duration) -> ExitStatus {
        self.close_stdin();
        let Some(status) = wait_with_deadline(&mut self.child, timeout) else {
            let _ = self.child.kill();
            let _ = self.child.wait();
            self.out.wait_eof(Duration::from_secs(2));
            self.err.wait_eof(Duration::from_secs(2));
            panic!(
                "{} did not exit within {timeout:?}; killed it.\n{}",
                self.name,
                self.dump()
            );
        };
        if let Some(feeder) = self.feeder.take() {
            let _ = feeder.join();
        }
        // The pipes end with the child unless something it started still holds them.
        self.out.wait_eof(Duration::from_secs(2));
        self.err.wait_eof(Duration::from_secs(2));
        status
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // The group id is the child's pid (process_group(0)); its members die with it.
        if self.own_group
            && let Ok(pgid) = libc::pid_t::try_from(self.child.id())
        {
            // SAFETY: kill(2) takes plain integers and touches no memory of ours.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for the child to exit; `None` when the deadline passed first.
/// (std has no wait-with-timeout; the child is polled at a short interval.)
pub fn wait_with_deadline(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() >= deadline => return None,
            Ok(None) => thread::sleep(Duration::from_millis(10)),
            Err(e) => panic!("waiting for child: {e}"),
        }
    }
}
