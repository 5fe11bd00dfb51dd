//! The third-party programs the tests run wsbeat against, and whether they can run here.
//!
//! * [`require_peer`] decides whether a peer is installed: a test without it fails under
//!   `CI=true`, and elsewhere returns early as a visible skip (see `skip.rs`).
//!   `WSBEAT_TEST_HIDE_PEERS=nginx,chromium` makes the listed peers count as missing, to check
//!   how a run without them looks.
//! * [`Peer`] runs one of the WebSocket servers in `tests/peers/` and reads what it observed
//!   (one JSON object per stdout line).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::process::{NoLine, Proc};
use super::skip;

/// How long a peer may take to print its `listening` line.
pub const PEER_START_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time to wait for a peer observation.
pub const OBS_TIMEOUT: Duration = Duration::from_secs(10);

pub const NGINX: &str = "/usr/sbin/nginx";
pub const CHROMIUM: &str = "/usr/bin/chromium";

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn peers_dir() -> PathBuf {
    manifest_dir().join("tests").join("peers")
}

// ------------------------------------------------------------------ availability

static NPM_CI: Once = Once::new();

/// Runs `cmd` quietly: true when it exits 0.
fn command_ok(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn node_ws_installed() -> bool {
    peers_dir().join("node_modules/ws/package.json").is_file()
}

fn python_module(module: &str, package: &str) -> Option<String> {
    if !command_ok(Command::new("python3").arg("--version")) {
        return Some("python3 is not on PATH".into());
    }
    (!command_ok(Command::new("python3").args(["-c", &format!("import {module}")]))).then(|| {
        format!(
            "python3 module `{module}` is missing; \
             install tests/peers/requirements.txt ({package}) into a virtual environment put \
             first on PATH, as .ci/run does: `python3 -m venv .ci/venv && .ci/venv/bin/pip \
             install -r tests/peers/requirements.txt && export PATH=$PWD/.ci/venv/bin:$PATH`"
        )
    })
}

fn file(path: &str, package: &str) -> Option<String> {
    (!Path::new(path).is_file())
        .then(|| format!("{path} is missing; run `apt-get install -y {package}`"))
}

fn hidden(name: &str) -> bool {
    std::env::var("WSBEAT_TEST_HIDE_PEERS").is_ok_and(|v| v.split(',').any(|p| p.trim() == name))
}

/// Why peer `name` cannot run here, or `None` when it can.
fn peer_missing(name: &str) -> Option<String> {
    if hidden(name) {
        return Some("hidden by WSBEAT_TEST_HIDE_PEERS".into());
    }
    match name {
        "python" => python_module("websockets.asyncio.server", "websockets >= 13"),
        "websocket-client" => python_module("websocket", "websocket-client"),
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
            (!node_ws_installed()).then(|| {
                "node package `ws` is missing in tests/peers/node_modules; \
                 run `npm ci --prefix tests/peers`"
                    .into()
            })
        }
        "socket.io-client" => peer_missing("node").or_else(|| {
            (!peers_dir()
                .join("node_modules/socket.io-client/package.json")
                .exists())
            .then(|| {
                "node package `socket.io-client` is missing in tests/peers/node_modules; \
                 run `npm ci --prefix tests/peers`"
                    .into()
            })
        }),
        "nginx" => file(NGINX, "nginx"),
        "chromium" => file(CHROMIUM, "chromium"),
        "tinyproxy" => file("/usr/bin/tinyproxy", "tinyproxy"),
        "microsocks" => file("/usr/bin/microsocks", "microsocks"),
        "redis" => file(super::redis::REDIS_SERVER, "redis-server")
            .or_else(|| file("/usr/bin/redis-cli", "redis-tools")),
        "tmux" => (!command_ok(Command::new("tmux").arg("-V")))
            .then(|| "tmux is not installed; run `apt-get install -y tmux`".into()),
        other => panic!(
            "unknown peer {other:?} (want python, websocket-client, node, socket.io-client, nginx, chromium, tinyproxy, microsocks, redis or tmux)"
        ),
    }
}

/// True when the peer `name` can run: `python` (with `websockets`), `websocket-client` (the
/// Python package), `node` (with `ws`), `nginx`, `chromium` or `tmux`. When it cannot, the
/// test fails under `CI=true`; otherwise the skip is recorded and shown, and the test should
/// return.
#[track_caller]
pub fn require_peer(name: &str) -> bool {
    let Some(why) = peer_missing(name) else {
        return true;
    };
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("peer {name:?} unavailable in CI: {why}");
    }
    skip::record(name, &why);
    false
}

/// Records that the running test returns early for want of something of this machine rather
/// than a peer one can install (an IPv6 loopback): shown like a missing peer, but not a
/// failure under `CI=true`.
#[track_caller]
pub fn skip_without(what: &str, why: &str) {
    skip::record(what, why);
}

// ------------------------------------------------------------------ servers

/// A running third-party WebSocket server from `tests/peers/`: it prints `listening URL`, then
/// one JSON object per thing it observed.
pub struct Peer {
    proc: Proc,
    url: String,
    seen: Vec<Value>,
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

    /// `tests/peers/misbehaving.py ARGS...` (see the modes there).
    pub fn misbehaving(args: &[&str]) -> Peer {
        Peer::python_script("misbehaving", "misbehaving.py", args)
    }

    /// `tests/peers/soak/fault_server.py ARGS...`: dies, stops answering pings, closes with a
    /// code.
    pub fn fault_server(args: &[&str]) -> Peer {
        Peer::python_script("fault_server", "soak/fault_server.py", args)
    }

    /// `node tests/peers/node_server.js ARGS...`
    pub fn node(args: &[&str]) -> Peer {
        let mut cmd = Command::new("node");
        cmd.arg(peers_dir().join("node_server.js")).args(args);
        Peer::spawn("node", cmd)
    }

    /// Spawns `cmd` and waits (bounded) for its `listening URL` line.
    #[track_caller]
    pub fn spawn(name: &str, mut cmd: Command) -> Peer {
        let proc = Proc::spawn(&format!("peer {name}"), &mut cmd);
        let first = proc
            .out
            .next(0, Instant::now() + PEER_START_TIMEOUT)
            .unwrap_or_else(|e| {
                panic!(
                    "peer {name} did not print its listening line ({e:?}) within {PEER_START_TIMEOUT:?}\n{}",
                    proc.dump()
                )
            });
        let Some(url) = first.strip_prefix("listening ") else {
            panic!(
                "peer {name}: unexpected first line {first:?}\n{}",
                proc.dump()
            );
        };
        assert!(
            url.starts_with("ws://127.0.0.1:") || url.starts_with("wss://127.0.0.1:"),
            "peer {name}: odd url {url:?}"
        );
        Peer {
            url: url.to_string(),
            proc,
            seen: Vec::new(),
        }
    }

    /// Sends `sig` to the peer (the peers that take orders take them this way).
    pub fn signal(&self, sig: libc::c_int) {
        self.proc.signal(sig);
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
            // Line 0 is the listening line.
            match self.proc.out.next(1 + self.seen.len(), deadline) {
                Ok(line) => {
                    let v: Value =
                        serde_json::from_str(&line).unwrap_or_else(|_| Value::String(line));
                    let hit = pred(&v);
                    self.seen.push(v);
                    if hit {
                        return self.seen.clone();
                    }
                }
                Err(NoLine::Timeout) => panic!(
                    "{}: no matching observation within {timeout:?}\n{}",
                    self.proc.name,
                    self.diagnostics()
                ),
                Err(NoLine::Eof) => panic!(
                    "{}: exited before a matching observation\n{}",
                    self.proc.name,
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

    /// The observations read so far, the url and the peer's output, for panic messages.
    pub fn diagnostics(&self) -> String {
        let seen: Vec<String> = self.seen.iter().map(|v| v.to_string()).collect();
        format!(
            "--- {} url={:?} observations read ---\n{}\n{}",
            self.proc.name,
            self.url,
            seen.join("\n"),
            self.proc.dump()
        )
    }
}

/// nginx in the foreground from `tests/nginx/TEMPLATE` with `@PREFIX@`, `@LISTEN_PORT@` and
/// `vars` filled in, once it accepts: the process (killed whole on drop), `ws://127.0.0.1:PORT`
/// and its directory. Call [`require_peer`]`("nginx")` first.
#[track_caller]
pub fn start_nginx_from(
    template: &str,
    vars: &[(&str, &str)],
) -> (Proc, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().to_str().unwrap().to_string();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    let port = super::free_port();
    let path = manifest_dir().join("tests/nginx").join(template);
    let mut conf = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .replace("@PREFIX@", &prefix)
        .replace("@LISTEN_PORT@", &port.to_string());
    for (name, value) in vars {
        conf = conf.replace(name, value);
    }
    let conf_path = dir.path().join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let mut cmd = Command::new(NGINX);
    cmd.arg("-p")
        .arg(&prefix)
        .arg("-c")
        .arg(&conf_path)
        .arg("-g")
        .arg(format!(
            "daemon off; pid {prefix}/nginx.pid; error_log stderr;"
        ));
    let nginx = Proc::spawn_tree("nginx", &mut cmd);
    // nginx prints nothing when it starts; await the port instead (bounded).
    let addr = format!("127.0.0.1:{port}");
    super::poll_until(PEER_START_TIMEOUT, || {
        std::net::TcpStream::connect(&addr).ok()
    })
    .unwrap_or_else(|| panic!("nginx did not listen on {addr}\n{}", nginx.dump()));
    (nginx, format!("ws://{addr}"), dir)
}
