pub mod completions;
pub mod connect;
pub mod echo_server;
pub mod ping;
pub mod soak;
