pub mod completions;
pub mod connect;
