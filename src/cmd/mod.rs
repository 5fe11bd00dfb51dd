pub mod completions;
pub mod connect;
pub mod echo_server;
pub mod interactive;
pub mod ping;
pub mod soak;
