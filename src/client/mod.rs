//! The resilient client every command drives: heartbeats (`heartbeat`), reconnect backoff and
//! the replay buffer (`reconnect`), ping payloads and pong matching (`pings`).

pub mod heartbeat;
pub mod pings;
pub mod reconnect;
pub mod session;
pub mod steps;
pub mod unconfirmed;
