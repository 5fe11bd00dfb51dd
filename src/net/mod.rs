//! Reaching a server: URL rules (`target`), DNS and TCP with timings (`dial`), TLS
//! configuration (`tls`) and the byte stream under a WebSocket (`stream`).

pub mod dial;
pub mod stream;
pub mod target;
pub mod tls;
