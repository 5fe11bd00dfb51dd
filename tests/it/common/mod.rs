//! The harness the integration tests share, one concern per module:
//!
//! * `process`: running wsbeat and other programs, to their end ([`run`]) or in the background
//!   ([`Proc`]), awaiting their output lines.
//! * `peers`: the third-party servers in `tests/peers/` ([`Peer`]) and whether a peer is
//!   installed ([`require_peer`]); `skip` makes a test that cannot run show up as skipped.
//! * `pki`: a throwaway CA and server certificate.
//! * `ndjson`: the schemas of the subcommands' `--json` output (NDJSON events, the soak
//!   report).
//! * `frames`: RFC 6455 frames by hand.
//! * `pages`: a tiny HTTP server for the pages headless Chromium loads.
//! * `redis`: a real redis-server of the test's own ([`RedisServer`]).
//! * `tmux`: a real terminal for the terminal UIs.
//! * [`api`]: the library paths the tests reach into.

pub mod frames;
mod ndjson;
mod pages;
mod peers;
mod pki;
mod process;
mod redis;
mod skip;
pub mod tmux;

pub use ndjson::*;
pub use pages::*;
pub use peers::*;
pub use pki::*;
pub use process::*;
pub use redis::*;

/// The paths into the wsbeat library that tests use, in one place: when the engine's modules
/// move, only these lines change.
pub mod api {
    pub use wsbeat::server::{Faults, Server, ServerConfig, ServerEvent, ServerSummary};
    pub use wsbeat::stats::serial::SerialHistogram;
    pub use wsbeat::ws::proto::close::Initiator;
}
