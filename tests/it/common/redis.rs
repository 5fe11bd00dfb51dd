//! A real Redis of the test's own (Debian's `redis-server`): a free port on 127.0.0.1, no
//! persistence, its data in a temporary directory, killed when dropped. `stop` and `restart`
//! keep the port, for the tests of a Redis outage.

use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use super::process::{Proc, free_port, poll_until};

pub const REDIS_SERVER: &str = "/usr/bin/redis-server";

/// How long a redis-server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(20);

pub struct RedisServer {
    dir: tempfile::TempDir,
    proc: Option<Proc>,
    port: u16,
    password: Option<String>,
}

impl RedisServer {
    /// Starts one on a free port. Call [`require_peer`](super::require_peer)`("redis")` first.
    #[track_caller]
    pub fn start() -> RedisServer {
        RedisServer::launch(None)
    }

    /// Starts one that demands `password` (`requirepass`).
    #[track_caller]
    pub fn start_with_password(password: &str) -> RedisServer {
        RedisServer::launch(Some(password.to_string()))
    }

    #[track_caller]
    fn launch(password: Option<String>) -> RedisServer {
        let mut server = RedisServer {
            dir: tempfile::tempdir().expect("tempdir for redis"),
            proc: None,
            port: free_port(),
            password,
        };
        server.restart();
        server
    }

    /// `redis://127.0.0.1:PORT` (with the password, when there is one).
    pub fn url(&self) -> String {
        match &self.password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{}", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills it (SIGKILL: an outage, not a shutdown) and waits until the port is closed.
    #[track_caller]
    pub fn stop(&mut self) {
        if let Some(mut proc) = self.proc.take() {
            proc.signal(libc::SIGKILL);
            proc.finish(START_TIMEOUT);
        }
        let port = self.port;
        poll_until(START_TIMEOUT, || {
            TcpStream::connect(("127.0.0.1", port))
                .is_err()
                .then_some(())
        })
        .unwrap_or_else(|| panic!("redis on port {port} still accepts after SIGKILL"));
    }

    /// Starts it again on the same port (after [`stop`](Self::stop)), empty.
    #[track_caller]
    pub fn restart(&mut self) {
        assert!(self.proc.is_none(), "redis-server is already running");
        let mut cmd = Command::new(REDIS_SERVER);
        cmd.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .args(["--loglevel", "warning", "--daemonize", "no"])
            .arg("--dir")
            .arg(self.dir.path());
        if let Some(p) = &self.password {
            cmd.args(["--requirepass", p]);
        }
        let proc = Proc::spawn("redis-server", &mut cmd);
        let port = self.port;
        poll_until(START_TIMEOUT, || {
            TcpStream::connect(("127.0.0.1", port)).ok()
        })
        .unwrap_or_else(|| panic!("redis-server never accepted on {port}\n{}", proc.dump()));
        self.proc = Some(proc);
    }

    /// Runs `redis-cli ARGS` against it and returns its stdout (trimmed).
    #[track_caller]
    pub fn cli(&self, args: &[&str]) -> String {
        let mut cmd = Command::new("redis-cli");
        cmd.args(["-h", "127.0.0.1", "-p", &self.port.to_string()]);
        if let Some(p) = &self.password {
            cmd.env("REDISCLI_AUTH", p);
        }
        let out = cmd.args(args).output().expect("run redis-cli");
        assert!(
            out.status.success(),
            "redis-cli {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

/// The harness itself: what the outage tests rely on (same port, empty after a restart, the
/// password demanded).
#[test]
fn a_test_redis_restarts_empty_on_its_port_and_keeps_its_password() {
    if !super::require_peer("redis") {
        return;
    }
    // Through the harness's re-export, as the tests reach it.
    use crate::common::RedisServer;
    assert_eq!(RedisServer::start().cli(&["PING"]), "PONG");
    let mut redis = RedisServer::start_with_password("s3cret");
    assert!(redis.url().starts_with("redis://:s3cret@127.0.0.1:"));
    assert_eq!(redis.cli(&["SET", "k", "v"]), "OK");
    assert_eq!(redis.cli(&["GET", "k"]), "v");
    let port = redis.port();
    redis.stop();
    redis.restart();
    assert_eq!(redis.port(), port);
    assert_eq!(redis.cli(&["EXISTS", "k"]), "0");
}
