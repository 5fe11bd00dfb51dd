//! WebSocket extensions. permessage-deflate (RFC 7692) is the one every browser offers:
//! `negotiation` holds its parameter grammar and both sides of the offer/answer, `deflate` the
//! per-connection codec the decoder and the endpoint call.

pub mod deflate;
pub mod negotiation;

pub use deflate::Deflate;
pub use negotiation::{Agreed, Offer, ServerPolicy};
