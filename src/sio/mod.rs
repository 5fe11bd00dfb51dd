//! Engine.IO v4 and socket.io v5: the packet codec under both roles (the server,
//! `echo-server --socketio`, and the clients' `--socketio`), the client's URL, and the
//! client's state machine (`client`).
//!
//! Written here rather than taken from a crate: the socket.io crates (`rust_socketio`,
//! `socketioxide`) each bring their own transport, connection and timers, while wsbeat needs
//! the packets alone, over its own WebSocket engine and HTTP handling, with its own timings
//! (heartbeats it can break on purpose, bounds it reports). The codec has no I/O.

pub mod client;
pub mod engineio;
pub mod packet;
pub mod url;
