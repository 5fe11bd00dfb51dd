//! Shared helpers for wsbeat's integration tests.
//!
//! * [`wsbeat`] builds a `Command` for the binary under test with a scrubbed env.
//! * [`run`] / [`run_with_stdin`] run it with an overall timeout.
//! * [`Peer`] spawns one of the third-party WebSocket servers in `tests/peers/`
//!   and reads what it observed (one JSON object per stdout line).
//! * [`require_peer`] decides whether a peer can run here (skip locally, fail in CI).
//! * [`test_pki`] makes a throwaway CA and a server certificate for 127.0.0.1.
//! * [`check_event`] / [`parse_ndjson`] validate `--json` output.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, Once};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a single wsbeat run may take before it is killed and the test fails.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a peer may take to print its `listening` line.
pub const PEER_START_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time to wait for a peer observation.
pub const OBS_TIMEOUT: Duration = Duration::from_secs(10);

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn peers_dir() -> PathBuf {
    manifest_dir().join("tests").join("peers")
}

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
    run_inner(cmd, None, RUN_TIMEOUT)
}

/// Runs `cmd`, writes `input` to its stdin, then closes stdin.
pub fn run_with_stdin(cmd: &mut Command, input: &[u8]) -> Output {
    run_inner(cmd, Some(input.to_vec()), RUN_TIMEOUT)
}

/// Like [`run`] with an explicit timeout.
pub fn run_timeout(cmd: &mut Command, input: Option<&[u8]>, timeout: Duration) -> Output {
    run_inner(cmd, input.map(<[u8]>::to_vec), timeout)
}

fn spawn_collector<R: Read + Send + 'static>(mut r: R) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

fn run_inner(cmd: &mut Command, input: Option<Vec<u8>>, timeout: Duration) -> Output {
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"));
    let writer = match (input, child.stdin.take()) {
        (Some(data), Some(mut stdin)) => Some(thread::spawn(move || {
            // The child may exit before reading everything; a broken pipe is fine.
            let _ = stdin.write_all(&data);
            // stdin is dropped here: EOF for the child.
        })),
        _ => None,
    };
    let out = spawn_collector(child.stdout.take().unwrap());
    let err = spawn_collector(child.stderr.take().unwrap());

    let status = wait_with_deadline(&mut child, timeout);
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        let stdout = out.join().unwrap_or_default();
        let stderr = err.join().unwrap_or_default();
        panic!(
            "{cmd:?} did not finish within {timeout:?}; killed it.\n--- stdout ---\n{}\n--- stderr ---\n{}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        );
    };
    if let Some(w) = writer {
        let _ = w.join();
    }
    Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
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

// ------------------------------------------------------------------ peers

static NPM_CI: Once = Once::new();

/// Runs `cmd` quietly: true when it exits 0.
pub fn command_ok(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn node_ws_installed() -> bool {
    peers_dir().join("node_modules/ws/package.json").is_file()
}

/// Why a peer cannot run here, or `None` when it can.
fn peer_missing(name: &str) -> Option<String> {
    match name {
        "python" => {
            if !command_ok(Command::new("python3").arg("--version")) {
                return Some("python3 is not on PATH".into());
            }
            if !command_ok(Command::new("python3").args(["-c", "import websockets.asyncio.server"]))
            {
                return Some(
                    "python3 module `websockets` (>= 13, asyncio API) is missing; \
                     run `pip install websockets`"
                        .into(),
                );
            }
            None
        }
        "node" => {
            if !command_ok(Command::new("node").arg("--version")) {
                return Some("node is not on PATH".into());
            }
            if !node_ws_installed() {
                NPM_CI.call_once(|| {
                    eprintln!(
                        "tests/peers/node_modules/ws missing: running `npm ci --prefix tests/peers`"
                    );
                    // npm gets confused by symlinked prefixes: hand it the real path.
                    let dir = peers_dir().canonicalize().unwrap_or_else(|_| peers_dir());
                    let ok = command_ok(
                        Command::new("npm")
                            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
                            .arg(&dir),
                    );
                    if !ok {
                        eprintln!("`npm ci --prefix tests/peers` failed");
                    }
                });
            }
            if !node_ws_installed() {
                return Some(
                    "node package `ws` is missing in tests/peers/node_modules; \
                     run `npm ci --prefix tests/peers`"
                        .into(),
                );
            }
            None
        }
        other => panic!("unknown peer {other:?} (want \"python\" or \"node\")"),
    }
}

/// True when the peer `name` ("python" or "node") can run. When it cannot, the
/// test fails if `CI=true`, else a loud skip notice is printed and false returned.
#[track_caller]
pub fn require_peer(name: &str) -> bool {
    match peer_missing(name) {
        None => true,
        Some(why) => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("peer {name:?} unavailable in CI: {why}");
            }
            eprintln!(
                "\n\
                 ************************************************************\n\
                 *** SKIPPING TEST: peer {name:?} unavailable\n\
                 *** {why}\n\
                 *** (set CI=true to make this a failure)\n\
                 ************************************************************\n"
            );
            false
        }
    }
}

/// A running third-party WebSocket server from `tests/peers/`.
pub struct Peer {
    name: String,
    child: Child,
    url: String,
    lines: Receiver<String>,
    seen: Vec<Value>,
    stderr: Arc<Mutex<String>>,
}

impl Peer {
    /// `python3 tests/peers/py_server.py ARGS...`
    pub fn python(args: &[&str]) -> Peer {
        Peer::python_script("python", "py_server.py", args)
    }

    /// `python3 -u tests/peers/SCRIPT ARGS...`, called `name` in messages.
    pub fn python_script(name: &str, script: &str, args: &[&str]) -> Peer {
        let mut cmd = Command::new("python3");
        cmd.arg("-u").arg(peers_dir().join(script)).args(args);
        Peer::spawn(name, cmd)
    }

    /// `tests/peers/resilience/server.py ARGS...`: can be restarted on the same port.
    pub fn resilience(args: &[&str]) -> Peer {
        Peer::python_script("resilience", "resilience/server.py", args)
    }

    /// `node tests/peers/node_server.js ARGS...`
    pub fn node(args: &[&str]) -> Peer {
        let mut cmd = Command::new("node");
        cmd.arg(peers_dir().join("node_server.js")).args(args);
        Peer::spawn("node", cmd)
    }

    /// Spawns `cmd` and waits (bounded) for its `listening URL` line.
    pub fn spawn(name: &str, mut cmd: Command) -> Peer {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn peer {name}: {cmd:?}: {e}"));

        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let child_err = child.stderr.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(child_err).lines() {
                let Ok(line) = line else { break };
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });

        let mut peer = Peer {
            name: name.to_string(),
            child,
            url: String::new(),
            lines: rx,
            seen: Vec::new(),
            stderr,
        };
        let first = match peer.lines.recv_timeout(PEER_START_TIMEOUT) {
            Ok(line) => line,
            Err(e) => panic!(
                "peer {name} did not print its listening line ({e:?}) within {PEER_START_TIMEOUT:?}\n{}",
                peer.diagnostics()
            ),
        };
        let Some(url) = first.strip_prefix("listening ") else {
            panic!(
                "peer {name}: unexpected first line {first:?}\n{}",
                peer.diagnostics()
            );
        };
        assert!(
            url.starts_with("ws://127.0.0.1:") || url.starts_with("wss://127.0.0.1:"),
            "peer {name}: odd url {url:?}"
        );
        peer.url = url.to_string();
        peer
    }

    /// `ws://127.0.0.1:PORT/` (or `wss://`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL with `suffix` appended after the final `/`, e.g. `"x?y=1"`.
    pub fn url_with(&self, suffix: &str) -> String {
        format!("{}{}", self.url, suffix.trim_start_matches('/'))
    }

    pub fn port(&self) -> u16 {
        let rest = self.url.rsplit(':').next().unwrap();
        rest.trim_end_matches('/').parse().unwrap()
    }

    /// Everything observed so far (without waiting).
    pub fn observed(&self) -> &[Value] {
        &self.seen
    }

    /// Keeps reading observations until one of them (including ones read by
    /// earlier calls) satisfies `pred`; returns all observations seen so far.
    /// Panics with what it saw when `timeout` passes or the peer exits first.
    #[track_caller]
    pub fn observations_until(
        &mut self,
        mut pred: impl FnMut(&Value) -> bool,
        timeout: Duration,
    ) -> Vec<Value> {
        if self.seen.iter().any(&mut pred) {
            return self.seen.clone();
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let v: Value =
                        serde_json::from_str(&line).unwrap_or_else(|_| Value::String(line));
                    let hit = pred(&v);
                    self.seen.push(v);
                    if hit {
                        return self.seen.clone();
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "peer {}: no matching observation within {timeout:?}\n{}",
                    self.name,
                    self.diagnostics()
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "peer {}: exited before a matching observation\n{}",
                    self.name,
                    self.diagnostics()
                ),
            }
        }
    }

    /// Waits for the first observation with `"event": event`; returns it.
    #[track_caller]
    pub fn wait_event(&mut self, event: &str, timeout: Duration) -> Value {
        let seen = self.observations_until(|v| v["event"] == event, timeout);
        seen.into_iter().find(|v| v["event"] == event).unwrap()
    }

    /// All observations so far with `"event": event`.
    pub fn events(&self, event: &str) -> Vec<Value> {
        self.seen
            .iter()
            .filter(|v| v["event"] == event)
            .cloned()
            .collect()
    }

    /// Observations so far plus the peer's stderr, for panic messages.
    pub fn diagnostics(&self) -> String {
        let seen: Vec<String> = self.seen.iter().map(|v| v.to_string()).collect();
        format!(
            "--- peer {} url={:?} observations ---\n{}\n--- peer stderr ---\n{}",
            self.name,
            self.url,
            seen.join("\n"),
            self.stderr.lock().unwrap()
        )
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------------------ TLS

/// A throwaway CA and a server certificate for 127.0.0.1 / localhost.
/// The files live as long as this value.
pub struct TestPki {
    pub dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Generates `ca.pem`, `cert.pem` (server, signed by the CA) and `key.pem`.
pub fn test_pki() -> TestPki {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };

    let dir = tempfile::tempdir().expect("tempdir");

    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "wsbeat test CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let mut params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();

    let write = |name: &str, text: String| -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let ca = write("ca.pem", ca_cert.pem());
    let cert = write("cert.pem", cert.pem());
    let key = write("key.pem", key.serialize_pem());
    TestPki { dir, ca, cert, key }
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

// ------------------------------------------------------------------ --json output

/// Parses NDJSON stdout; panics on a line that is not a JSON object or that
/// fails [`check_event`].
#[track_caller]
pub fn parse_ndjson(o: &Output) -> Vec<Value> {
    let text = stdout_of(o);
    let mut events = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| {
            panic!(
                "stdout line {} is not JSON ({e}): {line:?}\n{}",
                i + 1,
                describe(o)
            )
        });
        if let Err(why) = check_event(&v) {
            panic!(
                "stdout line {} violates the schema: {why}\n{line}\n{}",
                i + 1,
                describe(o)
            );
        }
        events.push(v);
    }
    events
}

/// Events of one `type`.
pub fn of_type<'a>(events: &'a [Value], ty: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == ty).collect()
}

#[derive(Clone, Copy)]
enum J {
    Str,
    Int,
    Num,
    Bool,
    Obj,
    StrArr,
    StrOrNull,
    IntOrNull,
    NumOrNull,
}

fn json_is(v: Option<&Value>, j: J) -> bool {
    let Some(v) = v else { return false };
    match j {
        J::Str => v.is_string(),
        J::Int => v.is_i64() || v.is_u64(),
        J::Num => v.is_number(),
        J::Bool => v.is_boolean(),
        J::Obj => v.is_object(),
        J::StrArr => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
        J::StrOrNull => v.is_null() || v.is_string(),
        J::IntOrNull => v.is_null() || v.is_i64() || v.is_u64(),
        J::NumOrNull => v.is_null() || v.is_number(),
    }
}

fn need(v: &Value, fields: &[(&str, J)]) -> Result<(), String> {
    for (name, j) in fields {
        let got = v.get(*name);
        if !json_is(got, *j) {
            return Err(format!(
                "field {name:?} should be {} but is {}",
                match j {
                    J::Str => "a string",
                    J::Int => "an integer",
                    J::Num => "a number",
                    J::Bool => "a bool",
                    J::Obj => "an object",
                    J::StrArr => "an array of strings",
                    J::StrOrNull => "a string or null",
                    J::IntOrNull => "an integer or null",
                    J::NumOrNull => "a number or null",
                },
                got.map_or("missing".to_string(), |g| g.to_string())
            ));
        }
    }
    Ok(())
}

fn one_of(v: &Value, field: &str, allowed: &[&str]) -> Result<(), String> {
    match v[field].as_str() {
        Some(s) if allowed.contains(&s) => Ok(()),
        _ => Err(format!(
            "field {field:?} should be one of {allowed:?}, got {}",
            v[field]
        )),
    }
}

/// Checks one `--json` event against the documented schema. Unknown types only
/// need `type` and `ts`.
pub fn check_event(v: &Value) -> Result<(), String> {
    if !v.is_object() {
        return Err("not an object".into());
    }
    need(v, &[("type", J::Str), ("ts", J::Num)])?;
    if v["ts"].as_f64().unwrap() < 0.0 {
        return Err("ts is negative".into());
    }
    let payload = |v: &Value| -> Result<(), String> {
        need(v, &[("kind", J::Str), ("len", J::Int)])?;
        one_of(v, "kind", &["text", "binary"])?;
        if v["kind"] == "text" {
            need(v, &[("text", J::Str)])
        } else {
            need(v, &[("base64", J::Str)])
        }
    };
    match v["type"].as_str().unwrap() {
        "opened" => {
            need(
                v,
                &[
                    ("url", J::Str),
                    ("status", J::Int),
                    ("headers", J::Obj),
                    ("subprotocol", J::StrOrNull),
                    ("extensions", J::StrArr),
                    ("timings", J::Obj),
                ],
            )?;
            if v["status"] != 101 {
                return Err(format!("opened.status should be 101, got {}", v["status"]));
            }
            need(
                &v["timings"],
                &[
                    ("dns", J::Num),
                    ("tcp", J::Num),
                    ("tls", J::NumOrNull),
                    ("upgrade", J::Num),
                    ("total", J::Num),
                ],
            )
            .map_err(|e| format!("timings: {e}"))?;
            if v["url"].as_str().unwrap().starts_with("ws://") && !v["timings"]["tls"].is_null() {
                return Err("timings.tls should be null for ws://".into());
            }
            Ok(())
        }
        "sent" => {
            payload(v)?;
            need(v, &[("fragments", J::Int)])?;
            if v["fragments"].as_u64().unwrap_or(0) < 1 {
                return Err("sent.fragments should be >= 1".into());
            }
            Ok(())
        }
        "received" => payload(v),
        "ping" => {
            need(
                v,
                &[
                    ("direction", J::Str),
                    ("len", J::Int),
                    ("seq", J::IntOrNull),
                ],
            )?;
            one_of(v, "direction", &["out", "in"])
        }
        "pong" => {
            need(
                v,
                &[
                    ("direction", J::Str),
                    ("len", J::Int),
                    ("seq", J::IntOrNull),
                    ("rtt", J::NumOrNull),
                ],
            )?;
            one_of(v, "direction", &["out", "in"])
        }
        "expect" => need(
            v,
            &[("index", J::Int), ("pattern", J::Str), ("matched", J::Str)],
        ),
        "closed" => {
            need(
                v,
                &[
                    ("code", J::Int),
                    ("name", J::Str),
                    ("reason", J::Str),
                    ("wasClean", J::Bool),
                    ("initiator", J::Str),
                    ("code_valid", J::Bool),
                ],
            )?;
            one_of(v, "initiator", &["client", "server", "none"])
        }
        "error" => need(v, &[("kind", J::Str), ("message", J::Str)]),
        _ => Ok(()),
    }
}
