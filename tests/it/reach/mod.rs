//! Reaching servers the way curl does: through real proxies from Debian (tinyproxy for HTTP
//! CONNECT, microsocks for SOCKS5), redirects (`-L`), Unix sockets, `--resolve`,
//! `--connect-to`, `--tls-server-name` and `SSLKEYLOGFILE`. Every proxy is started here, on a
//! free port, with its own configuration in a temporary directory (never a system service).

mod overrides;
mod proxy;
mod redirect;
mod socks;
mod unix;

use crate::common::*;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const T: Duration = OBS_TIMEOUT;

/// `wsbeat echo-server` on a free port; `extra` flags appended. Returns it and its URL.
fn echo_server(extra: &[&str]) -> (Proc, String) {
    let mut cmd = wsbeat();
    cmd.args(["echo-server", "--listen", "127.0.0.1:0"])
        .args(extra);
    let server = Proc::spawn("echo-server", &mut cmd);
    let line = server.wait_out("`listening on URL`", T, |l| l.starts_with("listening on "));
    let url = line.trim_start_matches("listening on ").to_string();
    (server, url)
}

fn port_of(url: &str) -> u16 {
    url.trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Waits until something accepts on 127.0.0.1:`port` (the proxies print no ready line).
#[track_caller]
fn wait_accepting(port: u16, proc: &Proc) {
    poll_until(T, || TcpStream::connect(("127.0.0.1", port)).ok())
        .unwrap_or_else(|| panic!("nothing accepts on port {port}\n{}", proc.dump()));
}

/// A tinyproxy of our own: `extra` lines are added to its configuration.
struct Tinyproxy {
    _dir: tempfile::TempDir,
    proc: Proc,
    port: u16,
}

impl Tinyproxy {
    fn start(extra: &str) -> Tinyproxy {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let conf = dir.path().join("tinyproxy.conf");
        std::fs::write(
            &conf,
            format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 50\nLogLevel Info\n\
                 PidFile \"{}\"\n{extra}\n",
                dir.path().join("pid").display()
            ),
        )
        .unwrap();
        let mut cmd = Command::new("tinyproxy");
        cmd.arg("-d").arg("-c").arg(&conf);
        let proc = Proc::spawn("tinyproxy", &mut cmd);
        wait_accepting(port, &proc);
        Tinyproxy {
            _dir: dir,
            proc,
            port,
        }
    }

    /// How many CONNECT requests it has logged so far.
    fn connects(&self) -> usize {
        self.proc
            .out
            .snapshot()
            .iter()
            .chain(self.proc.err.snapshot().iter())
            .filter(|l| l.contains("): CONNECT "))
            .count()
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// microsocks on a free port, with `args` (e.g. `-u USER -P PASS`).
struct Microsocks {
    _proc: Proc,
    port: u16,
}

impl Microsocks {
    fn start(args: &[&str]) -> Microsocks {
        let port = free_port();
        let mut cmd = Command::new("microsocks");
        cmd.args(["-i", "127.0.0.1", "-p", &port.to_string()])
            .args(args);
        let proc = Proc::spawn("microsocks", &mut cmd);
        wait_accepting(port, &proc);
        Microsocks { _proc: proc, port }
    }
}

/// `wsbeat connect URL ARGS`, done at once, or once every `--expect` has matched.
fn connect(url: &str, args: &[&str]) -> Command {
    let mut c = wsbeat();
    c.args(["connect", url, "--no-interactive"]).args(args);
    if !args.contains(&"--expect") {
        c.args(["--wait", "0s"]);
    }
    c
}

/// The one `opened` event of a `--json` run.
#[track_caller]
fn opened(o: &std::process::Output) -> serde_json::Value {
    let events = parse_ndjson(Schema::Connect, o);
    let opened = of_type(&events, "opened");
    assert_eq!(opened.len(), 1, "{}", describe(o));
    opened[0].clone()
}

fn path(p: &Path) -> &str {
    path_str(p)
}

/// `connect` run to its end.
fn go(url: &str, args: &[&str]) -> std::process::Output {
    run(&mut connect(url, args))
}
