//! Raw TCP echo server: the floor that `bench/run` measures WebSocket echo servers against.
//!
//! No framing at all: every byte read is written back. A connection reads through a small buffer
//! inside its task and allocates a large one only once it sees large reads, so an idle connection
//! costs its task and socket and nothing more: the floor for memory per idle connection as well as
//! for CPU per message.
//!
//! ```text
//! cargo run --release --example tcp_echo -- --listen 127.0.0.1:0
//! listening on tcp://127.0.0.1:PORT/
//! ```
//!
//! The runtime has as many workers as the CPUs this process may use, so under `taskset -c 0` it
//! runs on one core, like the servers it is compared with.

use std::io::Write;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const USAGE: &str = "usage: tcp_echo [--listen ADDR]   (default 127.0.0.1:0)";
const READ_BUFFER: usize = 64 * 1024;

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("tcp_echo: error: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut listen = String::from("127.0.0.1:0");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().ok_or("--listen needs ADDR")?,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    runtime.block_on(serve(&listen))
}

async fn serve(listen: &str) -> Result<(), String> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| format!("bind {listen}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on tcp://{local}/").map_err(|e| e.to_string())?;
    stdout.flush().map_err(|e| e.to_string())?;
    drop(stdout);
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(echo(stream));
            }
            // Out of file descriptors or similar: keep serving the connections we have.
            Err(err) => {
                eprintln!("tcp_echo: accept: {err}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

async fn echo(mut stream: TcpStream) {
    if stream.set_nodelay(true).is_err() {
        return;
    }
    // Small reads go through a buffer inside the task; the large one is allocated only once a
    // read fills the small one. Idle connections never touch either.
    let mut small = [0u8; 512];
    let mut large: Vec<u8> = Vec::new();
    loop {
        let buf: &mut [u8] = if large.is_empty() {
            &mut small
        } else {
            &mut large
        };
        match stream.read(buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let full = n == buf.len();
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
                if full && large.is_empty() {
                    large = vec![0u8; READ_BUFFER];
                }
            }
        }
    }
}
