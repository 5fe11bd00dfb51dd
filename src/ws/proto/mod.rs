//! RFC 6455 for both roles, without I/O: framing (`frame`), close codes and the `CloseEvent`
//! (`close`), and the kinds of data message (`message`).

pub mod close;
pub mod endpoint;
pub mod frame;
pub mod message;

pub use message::{DataKind, Wire};
