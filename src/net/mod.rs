//! Reaching a server: URL rules (`target`), curl's address overrides (`resolve`), proxies
//! (`proxy`), DNS and TCP with timings (`dial`), the first hop put together (`route`), TLS
//! configuration (`tls`) and the byte stream under a WebSocket (`stream`).

pub mod dial;
pub mod proxy;
pub mod resolve;
pub mod route;
pub mod stream;
pub mod target;
pub mod tls;
