//! `wsbeat echo-server`: bind, print the URL once bound, run the server until a signal, and
//! render its events on a thread of their own (`render::server`). A slow terminal or pipe
//! costs log lines (counted), never echo speed.

use crate::config::echo_server::EchoServerConfig;
use crate::error::ErrorKind;
use crate::render::server::ServerLog;
use crate::server::{Server, ServerConfig};
use crate::signals;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Events waiting for the renderer; beyond this they are dropped and counted.
const EVENT_QUEUE: usize = 16 * 1024;
/// How long a stop waits for the log to be written out after the server has finished.
const RENDER_WAIT: Duration = Duration::from_millis(500);

pub async fn run(cfg: EchoServerConfig) -> anyhow::Result<ExitCode> {
    let start = Instant::now();
    let (tx, rx) = mpsc::channel(EVENT_QUEUE);
    let listen = cfg.server.listen;
    let unix = cfg.server.unix.is_some();
    let server = Server::bind(ServerConfig {
        events: Some(tx),
        ..cfg.server.clone()
    })
    .await?;
    let mut out = ServerLog::new(cfg.output, start);
    // Before the URL is printed: whoever read it may signal at once, and a signal before the
    // handlers exist would kill the process without its goodbye (or its socket file's removal).
    let mut graceful = signals::subscribe();
    let mut immediate = signals::subscribe();

    if !unix && !listen.ip().is_loopback() {
        out.warning(&format!(
            "listening on {listen}: other machines can reach this server"
        ));
    }
    if let Some((path, sha256)) = &cfg.self_signed {
        // On stderr before the URL on stdout, so whoever waits for the URL can read this too.
        out.self_signed(path, sha256, server.local_addr().port());
    }
    if let (Some(path), Some(mode)) = (&cfg.server.unix, server.unix_mode()) {
        out.unix_socket(path, mode);
    }
    out.listening(&server.url(), cfg.self_signed.as_ref());

    let (rendered, renderer_done) = tokio::sync::oneshot::channel::<()>();
    // Never joined: a reader that stopped reading leaves this thread blocked in `write`, and
    // the process must still exit when asked to.
    std::thread::Builder::new()
        .name("echo-server-log".into())
        .spawn(move || {
            out.consume(rx);
            let _ = rendered.send(());
        })?;
    tokio::select! {
        // A hangup is both at once: do not start a goodbye nobody waits for.
        biased;
        () = immediate.immediate() => {
            return Ok(ExitCode::from(ErrorKind::Interrupted.exit_code()));
        }
        _ = server.run(async move {
            graceful.recv().await;
        }) => {}
    }
    // The renderer stops after the summary, the server's last event. If it is stuck on a
    // full pipe, the lines it has not written are lost (the queue already counted what it
    // refused); waiting longer would only turn a stop request into a hang.
    let _ = tokio::time::timeout(RENDER_WAIT, renderer_done).await;
    Ok(ExitCode::SUCCESS)
}
