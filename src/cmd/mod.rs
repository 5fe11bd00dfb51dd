pub mod completions;
pub mod connect;
pub mod echo_server;
pub mod man;
pub mod ping;
pub mod soak;
