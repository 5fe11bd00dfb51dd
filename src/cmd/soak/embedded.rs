//! `wsbeat soak` without a URL: the embedded echo server (the same code as `wsbeat
//! echo-server`) on 127.0.0.1:0, in this process and runtime, stopped after the run.

use crate::error::Error;
use crate::server::{Server, ServerConfig};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct Embedded {
    pub url: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// `connections`: the server must accept all of them (its default cap is lower).
/// `compress`: accept permessage-deflate (soak's `--compress` offers it).
pub async fn start(connections: usize, compress: bool) -> Result<Embedded, Error> {
    let cfg = ServerConfig {
        max_connections: connections.saturating_add(64),
        deflate: compress.then(Default::default),
        ..ServerConfig::default()
    };
    let server = Server::bind(cfg).await?;
    let url = server.url();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .run(async move {
                let _ = stopped.await;
            })
            .await;
    });
    Ok(Embedded { url, stop, task })
}

impl Embedded {
    /// Our clients have closed by now, so the server's shutdown grace is not waited for long.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}
