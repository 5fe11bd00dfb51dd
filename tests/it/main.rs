//! wsbeat's integration tests: one binary, so the harness is compiled once and every test shares
//! it. One module per subcommand; a feature of a subcommand is a module under it:
//!
//! * `connect`: `wsbeat connect` against third-party servers; `connect::interactive` (the
//!   terminal session, through tmux), `connect::resilience` (heartbeat, reconnect, replay) and
//!   `connect::conversation` (ordered send/expect steps, captures, step timeouts).
//! * `echo_server`: `wsbeat echo-server` against third-party clients, browsers and proxies;
//!   `echo_server::server_api` drives the embeddable server (`wsbeat::server`) directly.
//! * `ping`, `soak`: those subcommands; `soak::preamble` (per-connection steps, scenarios).
//! * `redis_server`: `echo-server --redis` and `--replay` against a real Redis: broadcast across
//!   instances exactly once, replay across instances and through nginx, outages, passwords.
//! * `socketio_server`: `echo-server --socketio` against the real `socket.io-client`, from Node
//!   and from a Chromium page.
//! * `socketio_client`: `connect --socketio` against the real npm `socket.io` server and our own.
//! * `soak_coord`: `soak --coordinator` over a real Redis: 21,000 connections from three
//!   workers as one run, the merge equal to the sum, a killed worker (its timeline kept), the
//!   barrier timeout, `deploy/workers.sh`, the lead's full-screen view in tmux.
//! * `completions`: the committed shell completions match the CLI.
//! * `allocator`: the binary is linked with jemalloc when its feature is on, and only then.
//! * `hostile`: peers that misbehave on purpose (ping floods, clients and servers that never
//!   read, endless headers, a 2 GiB frame header, a Close never answered): exit codes, one
//!   line, bounded memory.
//! * `html_report`: `soak --report` pages rendered in headless Chromium.
//! * `man`: the committed man pages match the CLI.
//! * `live_view`: soak's live view with its last minute, in tmux terminals of two sizes.
//! * `deflate`: permessage-deflate with Node `ws` and Python `websockets` both ways, and the
//!   limits on inflated size (a bomb against the server and each client subcommand).
//! * `tungstenite_interop`: the engine against tungstenite, an implementation nobody here wrote:
//!   its client against our server, our client against its server.
//! * `common`: the harness (child processes, third-party peers and skips, throwaway PKI, the
//!   NDJSON schema, raw frames).
//!
//! Run one area with a filter, e.g. `cargo test --test it ping::` or
//! `cargo test --test it connect::resilience::`.

mod allocator;
mod common;
mod completions;
mod connect;
mod deflate;
mod echo_server;
mod hostile;
mod html_report;
mod live_view;
mod man;
mod ping;
mod reach;
mod redis_server;
mod soak;
mod soak_coord;
mod socketio_client;
mod socketio_server;
mod tungstenite_interop;
