//! The HTTP upgrade (RFC 6455 section 4): the client's request and the check of the 101, the
//! server's parsing of a request and its refusals.

pub mod client;
pub mod server;
