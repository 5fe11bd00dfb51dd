//! The one WebSocket engine: RFC 6455 without I/O (`proto`), the HTTP upgrade for both sides
//! (`handshake`), opening a client connection (`open`) and the async connection type every
//! subcommand drives in both roles (`connection`).

pub mod connection;
pub mod ext;
pub mod handshake;
pub mod open;
pub mod proto;
pub mod redirect;
