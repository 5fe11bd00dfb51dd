//! The connection core shared by every subcommand. It never prints: it returns values and
//! `Event`s, and the commands hand those to a renderer.

pub mod close;
pub mod conn;
pub mod dial;
pub mod error;
pub mod event;
pub mod frame;
pub mod handshake;
pub mod heartbeat;
pub mod lean;
pub mod probe;
pub mod reconnect;
pub mod stream;
pub mod target;
pub mod tls;
pub mod upgrade;
pub mod wire;
