//! What happened, as plain data. The core and the commands produce these; renderers (human,
//! NDJSON) and collectors consume them. Nothing else crosses that line.

use crate::error::Error;
use crate::ws::open::Handshake;
use crate::ws::proto::close::CloseEvent;
use crate::ws::proto::{DataKind, Wire};
use crate::ws::redirect::Redirect;
use bytes::Bytes;
use std::time::Duration;

#[derive(Debug, Clone)]
pub enum Event {
    /// `-L` followed a redirect of the upgrade; the `Opened` of the last hop follows.
    Redirected(Redirect),
    /// Boxed: the handshake is by far the largest event, and the rest are many.
    Opened(Box<Handshake>),
    Sent {
        kind: DataKind,
        payload: Bytes,
        fragments: usize,
        /// Sent again after a reconnect (`--resend-unconfirmed`): the peer may have it twice.
        resent: bool,
        /// Compressed (permessage-deflate) or not, and its bytes on the wire.
        wire: Wire,
    },
    /// `--send-file`: a binary message streamed from disk, its payload never in memory whole.
    SentFile {
        path: String,
        len: u64,
        fragments: usize,
        /// Never compressed (a streamed message is sent as it is, which RFC 7692 allows).
        wire: Wire,
    },
    Received {
        kind: DataKind,
        payload: Bytes,
        wire: Wire,
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
    /// A `--send`/`--expect` step finished, or failed (NDJSON `step`). Boxed: rare and large.
    Step(Box<StepRecord>),
    Closed(CloseEvent),
    Error(Error),
    /// Something the user should know that is not an error (e.g. `--insecure`).
    Warning(String),
    /// The connection was lost; reconnect attempt `attempt` of `max` starts after `delay`.
    Reconnecting {
        attempt: u32,
        max: u32,
        delay: Duration,
    },
    /// A reconnect attempt failed; another follows unless the attempts are used up.
    ReconnectFailed {
        attempt: u32,
        error: Error,
    },
    /// Attempt `attempt` opened a new connection (an `Opened` event precedes it); the
    /// preamble is sent again and `buffered` queued messages follow.
    Reconnected {
        attempt: u32,
        buffered: usize,
    },
    /// No answer to a heartbeat within the timeout: the peer is considered dead.
    HeartbeatTimeout {
        waited: Duration,
    },
    /// A heartbeat probe (`rtt: None`) or its answer.
    Heartbeat {
        seq: Option<u64>,
        rtt: Option<Duration>,
    },
    /// A message kept while the connection is down; `queued` are waiting now.
    Buffered {
        kind: DataKind,
        len: usize,
        queued: usize,
    },
    /// At a connection loss: messages written that the peer's TCP had not acknowledged, so
    /// may not have arrived. `first`..=`last` number them among the run's `Sent` events;
    /// `more` when older ones may be lost too but are no longer remembered; `resend` when
    /// they will be sent again after the reconnect.
    Unconfirmed {
        count: usize,
        bytes: u64,
        first: Option<u64>,
        last: Option<u64>,
        more: bool,
        resend: bool,
    },
    /// A message that will not be sent: the buffer was full, or the session ended first.
    BufferDrop {
        kind: DataKind,
        payload: Bytes,
        why: String,
    },
    /// socket.io: the Engine.IO open packet (milliseconds as the server sent them).
    SioOpen {
        sid: String,
        ping_interval: u64,
        ping_timeout: u64,
        max_payload: u64,
    },
    /// socket.io: a server ping, answered; `since_last`: since the previous one (or the open).
    SioPing {
        count: u64,
        since_last: Duration,
    },
    /// socket.io: the namespace accepted us.
    SioConnected {
        namespace: String,
        sid: Option<String>,
    },
    /// socket.io: an event from the server (binary attachments as `{"_binary": base64}`).
    SioEvent {
        namespace: String,
        event: String,
        args: Vec<serde_json::Value>,
        ack_id: Option<u64>,
    },
    /// socket.io: an emit went out (`ack_id` when it asked for an ack).
    SioEmit {
        namespace: String,
        event: String,
        args: Vec<serde_json::Value>,
        ack_id: Option<u64>,
    },
    /// socket.io: the ack of an emit; `rtt` when we asked for it.
    SioAck {
        namespace: String,
        id: u64,
        args: Vec<serde_json::Value>,
        rtt: Option<Duration>,
    },
    /// socket.io: the session lost its namespace, and why: `io server disconnect` (the
    /// server's `41`), `transport close`, `ping timeout`.
    SioDisconnect {
        namespace: String,
        reason: String,
    },
}

/// Where a session reports what happens: connect's renderer, or a test's list.
pub trait EventSink {
    fn emit(&mut self, event: Event);
}

/// How one step of a conversation went (`client::steps::log`).
#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    /// Among all the steps, from 0.
    pub index: usize,
    /// `send`, `send_uncompressed`, `send_file`, `expect` or `expect_json`.
    pub kind: &'static str,
    /// The message, expression or file as the user wrote it.
    pub source: String,
    /// `sent`, `matched`, `timed_out` or `failed` (the connection ended first).
    pub outcome: &'static str,
    /// When the step began, counted from the start of the steps on this connection.
    pub start: Duration,
    pub elapsed: Duration,
    /// The message an expect matched.
    pub matched: Option<String>,
    /// The values this step captured, by name: a capture is the user's own pattern's match
    /// and is shown as it is (a secret is for the user to leave out of a capture).
    pub captures: Vec<(String, String)>,
}
