//! wsbeat's integration tests: one binary, so the harness is compiled once and every test shares
//! it. One module per subcommand; a feature of a subcommand is a module under it:
//!
//! * `connect`: `wsbeat connect` against third-party servers; `connect::interactive` (the
//!   terminal session, through tmux) and `connect::resilience` (heartbeat, reconnect, replay).
//! * `echo_server`: `wsbeat echo-server` against third-party clients, browsers and proxies;
//!   `echo_server::server_api` drives the embeddable server (`wsbeat::server`) directly.
//! * `ping`, `soak`: those subcommands.
//! * `completions`: the committed shell completions match the CLI.
//! * `deflate`: permessage-deflate with Node `ws` and Python `websockets` both ways, and the
//!   limits on inflated size (a bomb against the server and each client subcommand).
//! * `tungstenite_interop`: the engine against tungstenite, an implementation nobody here wrote:
//!   its client against our server, our client against its server.
//! * `common`: the harness (child processes, third-party peers and skips, throwaway PKI, the
//!   NDJSON schema, raw frames).
//!
//! Run one area with a filter, e.g. `cargo test --test it ping::` or
//! `cargo test --test it connect::resilience::`.

mod common;
mod completions;
mod connect;
mod deflate;
mod echo_server;
mod ping;
mod soak;
mod tungstenite_interop;
