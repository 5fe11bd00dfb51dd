//! The HTTP upgrade (RFC 6455 section 4): the client's request and the check of the 101, the
//! server's parsing of a request and its refusals.

pub mod client;
pub mod server;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Accept` for a key (RFC 6455 4.2.2), for both sides. SHA-1 here proves the
/// server read the key, nothing more, so `sha1_smol` (portable code, nothing probed): ring's
/// and the `sha1` crate's first use each probe the CPU with CPUID, a trap to the hypervisor on
/// a virtual machine (4-11 us each on the bench machine), which a one-shot run pays whole.
pub fn accept_key(key: &str) -> String {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key.as_bytes());
    sha.update(GUID);
    B64.encode(sha.digest().bytes())
}
