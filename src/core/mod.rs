//! What is left of the tungstenite data path, until connect and ping move to `ws::connection`.

pub mod conn;
pub mod wire;
