//! What happened, as plain data. The core and the commands produce these; renderers (human,
//! NDJSON) and collectors consume them. Nothing else crosses that line.

use crate::core::close::CloseEvent;
use crate::core::conn::DataKind;
use crate::core::error::Error;
use crate::core::handshake::Handshake;
use bytes::Bytes;
use std::time::Duration;

#[derive(Debug, Clone)]
pub enum Event {
    Opened(Handshake),
    Sent {
        kind: DataKind,
        payload: Bytes,
        fragments: usize,
    },
    Received {
        kind: DataKind,
        payload: Bytes,
    },
    /// A Ping frame; `outbound` when we sent it. `seq` for our own numbered probes.
    Ping {
        outbound: bool,
        len: usize,
        seq: Option<u64>,
    },
    /// A Pong frame; `rtt` when it answered one of our probes.
    Pong {
        outbound: bool,
        len: usize,
        seq: Option<u64>,
        rtt: Option<Duration>,
    },
    ExpectMet {
        index: usize,
        pattern: String,
        matched: String,
    },
    Closed(CloseEvent),
    Error(Error),
    /// Something the user should know that is not an error (e.g. `--insecure`).
    Warning(String),
}
