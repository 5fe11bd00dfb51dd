//! Timekeeping shared by every connection of a process, for servers and for soak's client
//! connections alike: one timer wheel for their coarse deadlines (`wheel`), one table of their
//! wakers (`wakers`), and 8-byte instants (`stamp`). A tokio `Sleep` and a `Notified` in every
//! connection's task cost ~180 bytes each connection holds for its whole life; these cost ~24.
//! Below `server` and `cmd`, above nothing but tokio.

pub mod stamp;
pub mod wakers;
pub mod wheel;
