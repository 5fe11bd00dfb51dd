//! wsbeat: a WebSocket testing tool.
//!
//! A run moves through these types, one way:
//! `Cli` (clap, `cli`) → a validated config (`config`) → `ConnectOptions` → `ws::open::open`
//! → `Connection` (the one engine, `ws`; driven by `client::Session`, ping, soak's workers or
//! the echo server) → `Event`s → a renderer (`render`: human or NDJSON) → an exit code from
//! the table in the README (`error::ErrorKind::exit_code`). The engine never prints; commands
//! are thin and pick what to show. `docs/ARCHITECTURE.md` has the module map. Ctrl-C, SIGTERM and SIGHUP
//! reach every command through one state machine (`signals`).

pub mod cli;
pub mod client;
pub mod cmd;
pub mod config;
pub mod error;
pub mod event;
pub mod net;
pub mod render;
pub mod server;
pub mod signals;
pub mod sio;
pub mod stats;
pub mod stdin;
pub mod timer;
pub mod ws;

use cli::{Cli, Command};
use std::process::ExitCode;

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Every lowering happens here, before any I/O; commands see configs, never clap types.
    match cli.command {
        Command::Connect(args) => {
            let cfg = config::connect::lower(&args)?;
            Ok(one_connection_runtime()?.block_on(cmd::connect::run(cfg)))
        }
        Command::Ping(args) => {
            let cfg = config::ping::lower(&args)?;
            Ok(one_connection_runtime()?.block_on(cmd::ping::run(cfg)))
        }
        Command::EchoServer(args) => {
            let cfg = config::echo_server::lower(&args)?;
            runtime()?.block_on(cmd::echo_server::run(cfg))
        }
        Command::Soak(args) => {
            let cfg = config::soak::lower(&args)?;
            cmd::soak::run(cfg)
        }
        Command::Man(args) => {
            let written = cmd::man::install(&args.dir).map_err(|e| {
                error::Error::new(
                    error::ErrorKind::Io,
                    format!("cannot write man pages to {}: {e}", args.dir.display()),
                )
            })?;
            let list: String = written
                .iter()
                .map(|p| format!("{}\n", p.display()))
                .collect();
            match render::write_stdout(list.as_bytes()) {
                Err(e) if !render::is_broken_pipe(&e) => Err(e.into()),
                _ => Ok(ExitCode::SUCCESS),
            }
        }
        Command::Completions(args) => {
            let script = cmd::completions::generate(args.shell);
            match render::write_stdout(&script) {
                Err(e) if !render::is_broken_pipe(&e) => Err(e.into()),
                _ => Ok(ExitCode::SUCCESS),
            }
        }
    }
}

/// For the commands that drive one connection (`connect`, `ping`): a single-threaded runtime
/// spares every round trip a cross-thread wake-up, and a one-shot run the start of worker
/// threads (their stacks are a quarter of its page faults). Blocking readers (stdin, the line
/// editor) run on threads of their own.
fn one_connection_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
