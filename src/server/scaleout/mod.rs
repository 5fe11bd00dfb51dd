//! Beyond one process: `--redis` (broadcast to every instance on the same Redis, over pub/sub)
//! and `--replay` (what a client missed while away, from Redis or, without it, from memory).
//! Redis does the distributed part; we hand-write only the glue: which key holds what, an
//! envelope that names the message's origin, and the seam between replay and live traffic
//! (`broadcast::Member::hold`).
//!
//! `link` holds the Redis connection and its health (round trip, up/down), `fanout` the
//! publisher and subscriber tasks, `replay` the stores. A Redis that goes away costs broadcast
//! to other instances and replay, never local echo: every failure is counted and reported.
//!
//! The wire format a client sees with `--replay` (README "Scaling out"): each broadcast
//! message, of the kind it was sent as, starts with `[seq=N] ` (live), `[replay seq=N] `
//! (missed, sent first on reconnect) or `[unstored] ` (Redis was down: it could not be kept);
//! a replay that cannot give everything missed starts with `[replay cut=K from=A to=B] `.
//! A message read is never dropped by a shutdown: the engine hands on data read during the
//! closing handshake (`Endpoint::set_read_after_close`), and broadcasts held by `--delay` go to
//! the room when the connection closes (`echo::start_close`).

mod fanout;
pub mod link;
mod replay;

use super::broadcast::{Frame, Hub};
use super::{ServerEvent, Shared};
use crate::error::Error;
use crate::ws::proto::{DataKind, frame};
use bytes::Bytes;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

pub use link::RedisTarget;

/// Bytes of messages waiting for the publisher, over all connections; beyond it a message is
/// delivered locally only, and counted as a publish (or store) failure.
const PUBLISH_QUEUE_BYTES: usize = 16 << 20;
/// A client id longer than this is refused for replay (it would become a Redis key).
const MAX_CLIENT_ID: usize = 256;

/// How a client is recognized when it comes back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientIdFrom {
    /// `query:NAME`: the request's `?NAME=...`.
    Query(String),
    /// `header:NAME`: a request header.
    Header(String),
    /// `first-message`: the connection's first text message (not broadcast).
    FirstMessage,
}

impl std::str::FromStr for ClientIdFrom {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("'{s}': write query:NAME, header:NAME or first-message (e.g. query:user)");
        match s.split_once(':') {
            Some(("query", n)) if !n.is_empty() => Ok(ClientIdFrom::Query(n.to_string())),
            Some(("header", n)) if !n.is_empty() && super::is_token(n) => {
                Ok(ClientIdFrom::Header(n.to_string()))
            }
            None if s == "first-message" => Ok(ClientIdFrom::FirstMessage),
            _ => Err(bad()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ReplayConfig {
    /// Messages kept per room (the last N).
    pub keep: usize,
    pub ttl: Duration,
    pub client_id: ClientIdFrom,
    /// In memory (without Redis): bytes kept over all rooms.
    pub memory_bytes: usize,
}

#[derive(Debug, Clone, Default)]
pub struct ScaleConfig {
    pub redis: Option<RedisTarget>,
    /// Every client in this room instead of the one its request path names.
    pub room: Option<String>,
    pub replay: Option<ReplayConfig>,
}

impl ScaleConfig {
    pub fn active(&self) -> bool {
        self.redis.is_some() || self.replay.is_some() || self.room.is_some()
    }
}

/// What Redis and replay did over the run (in the summary).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScaleSummary {
    pub redis: bool,
    /// PING round trips, in microseconds.
    pub rtt_samples: u64,
    pub rtt_avg_us: u64,
    pub rtt_max_us: u64,
    pub outages: u64,
    pub published: u64,
    pub publish_failures: u64,
    /// Messages from other instances delivered here.
    pub received: u64,
    pub stored: u64,
    pub store_failures: u64,
    /// Reconnects that were given what they missed, and the messages replayed.
    pub replays: u64,
    pub replayed: u64,
    pub replay_failures: u64,
    /// Messages clients missed and were not given: beyond `--replay N`, beyond what their
    /// queue takes, or sent by other instances while this one's subscription was down.
    pub replay_cut: u64,
}

#[derive(Default)]
pub(super) struct Counters {
    rtt_samples: AtomicU64,
    rtt_sum_us: AtomicU64,
    rtt_max_us: AtomicU64,
    outages: AtomicU64,
    published: AtomicU64,
    publish_failures: AtomicU64,
    received: AtomicU64,
    stored: AtomicU64,
    store_failures: AtomicU64,
    replays: AtomicU64,
    replayed: AtomicU64,
    replay_failures: AtomicU64,
    replay_cut: AtomicU64,
}

fn add(a: &AtomicU64, n: u64) {
    a.fetch_add(n, Ordering::Relaxed);
}

/// The connection's side of scale-out: its room, and who it is for replay.
pub(super) struct Seat {
    pub room: Arc<str>,
    pub client: Option<Box<Client>>,
    /// The connection's broadcast queue, for a replay started by its first message.
    pub member: Option<Arc<super::broadcast::Member>>,
}

pub(super) struct Client {
    /// `None` until the first message, with `first-message`.
    pub id: Option<String>,
    pub since: Option<u64>,
    /// The highest sequence number queued for this client: where it resumes next time.
    pub last_seq: u64,
}

pub(super) struct Relay {
    cfg: ScaleConfig,
    /// Names this process in the envelope, so that it skips its own messages.
    instance: u64,
    pub(super) counters: Counters,
    memory: Option<replay::Memory>,
    redis: Option<fanout::Redis>,
    /// Bytes waiting for the publisher.
    queued: AtomicUsize,
}

impl Relay {
    /// Connects to Redis (a Redis that cannot be reached at start is an error, exit 3).
    pub(super) async fn new(cfg: ScaleConfig) -> Result<Relay, Error> {
        let redis = match &cfg.redis {
            Some(target) => Some(fanout::Redis::connect(target).await?),
            None => None,
        };
        let memory = match (&cfg.replay, &redis) {
            (Some(r), None) => Some(replay::Memory::new(r)),
            _ => None,
        };
        Ok(Relay {
            instance: fastrand::u64(1..),
            cfg,
            counters: Counters::default(),
            memory,
            redis,
            queued: AtomicUsize::new(0),
        })
    }

    /// The publisher, subscriber and health tasks (with Redis); they end with the server.
    pub(super) fn start(&self, shared: &Arc<Shared>) -> Vec<tokio::task::JoinHandle<()>> {
        match &self.redis {
            Some(r) => r.start(Arc::downgrade(shared)),
            None => Vec::new(),
        }
    }

    /// At shutdown, before the tasks end: what waits for Redis gets there (bounded).
    pub(super) async fn flush(&self) {
        if let Some(r) = &self.redis {
            r.flush(Duration::from_secs(1)).await;
        }
    }

    pub(super) fn seat(&self, path: &str, header: Option<&str>) -> Seat {
        let (path_only, query) = path.split_once('?').unwrap_or((path, ""));
        let room: Arc<str> = Arc::from(self.cfg.room.as_deref().unwrap_or(path_only));
        let client = self.cfg.replay.as_ref().map(|r| {
            let id = match &r.client_id {
                ClientIdFrom::Query(name) => query_param(query, name),
                ClientIdFrom::Header(_) => header.map(str::to_string),
                ClientIdFrom::FirstMessage => None,
            };
            Box::new(Client {
                id: id.filter(|i| !i.is_empty() && i.len() <= MAX_CLIENT_ID),
                since: query_param(query, "since").and_then(|s| s.parse().ok()),
                last_seq: 0,
            })
        });
        Seat {
            room,
            client,
            member: None,
        }
    }

    pub(super) fn first_message_ids(&self) -> bool {
        self.cfg
            .replay
            .as_ref()
            .is_some_and(|r| r.client_id == ClientIdFrom::FirstMessage)
    }

    pub(super) fn replaying(&self) -> bool {
        self.cfg.replay.is_some()
    }

    /// A client that is known gets what it missed before live traffic: its member is held
    /// until the replay is read.
    pub(super) fn start_replay(
        self: &Arc<Self>,
        shared: &Arc<Shared>,
        member: &Arc<super::broadcast::Member>,
        room: &Arc<str>,
        client: &Client,
    ) {
        let Some(id) = client.id.clone() else {
            return;
        };
        // Half the client's broadcast queue at most, so that live messages still fit behind.
        let limits = shared.hub.as_ref().map(|h| h.limits());
        let limit = replay::Cap {
            frames: limits.map_or(usize::MAX, |l| (l.frames / 2).max(1)),
            bytes: limits.map_or(usize::MAX, |l| (l.bytes / 2).max(1)),
        };
        if let Some(mem) = &self.memory {
            if let Some(missed) = mem.missed(room, &id, client.since, limit) {
                member.deliver_replay(self.note_replay(missed));
            }
        } else if self.redis.is_some() {
            member.hold();
            let (relay, member, room) = (self.clone(), member.clone(), room.clone());
            let since = client.since;
            let weak = Arc::downgrade(shared);
            tokio::spawn(async move {
                let got = redis_replay(&relay, &room, &id, since, limit).await;
                if let Err(e) = &got {
                    relay
                        .counters
                        .replay_failures
                        .fetch_add(1, Ordering::Relaxed);
                    if let Some(s) = weak.upgrade() {
                        let msg = format!("replay for a client of room {room} failed: {e}");
                        s.emit(|| ServerEvent::Warning(msg));
                    }
                }
                let frames = match got {
                    Ok(Some(missed)) => relay.note_replay(missed),
                    _ => Vec::new(),
                };
                member.deliver_replay(frames);
            });
        }
    }

    /// Counts a replay, and what of it is cut; its frames, the cut's marker first.
    fn note_replay(&self, missed: replay::Missed) -> Vec<Frame> {
        add(&self.counters.replays, 1);
        add(&self.counters.replayed, missed.frames.len() as u64);
        if let Some(cut) = &missed.cut {
            add(&self.counters.replay_cut, cut.count);
        }
        missed.into_frames()
    }

    /// A client's message to its room: to this instance's members now, to the others through
    /// Redis; stored first with `--replay`.
    pub(super) fn broadcast(
        &self,
        hub: &Hub,
        room: &Arc<str>,
        kind: DataKind,
        payload: &[u8],
        fragment: Option<usize>,
    ) {
        let replay = self.cfg.replay.is_some();
        if let Some(mem) = &self.memory {
            match mem.push(room, kind, payload) {
                Some(seq) => {
                    add(&self.counters.stored, 1);
                    hub.broadcast(room, &frame_for(kind, payload, fragment, Mark::Live(seq)));
                }
                None => {
                    add(&self.counters.store_failures, 1);
                    hub.broadcast(room, &frame_for(kind, payload, fragment, Mark::Unstored));
                }
            }
            return;
        }
        let Some(redis) = &self.redis else {
            hub.broadcast(room, &frame_for(kind, payload, fragment, Mark::None));
            return;
        };
        let cost = payload.len() + room.len() + 64;
        let queued = self.queued.fetch_add(cost, Ordering::AcqRel);
        if queued + cost > PUBLISH_QUEUE_BYTES || !redis.is_up() {
            self.queued.fetch_sub(cost, Ordering::AcqRel);
            add(&self.counters.publish_failures, 1);
            let mark = if replay {
                add(&self.counters.store_failures, 1);
                Mark::Unstored
            } else {
                Mark::None
            };
            hub.broadcast(room, &frame_for(kind, payload, fragment, mark));
            return;
        }
        if !replay {
            // Stored nowhere: local members need not wait for Redis.
            hub.broadcast(room, &frame_for(kind, payload, fragment, Mark::None));
        }
        redis.enqueue(fanout::Op::Publish {
            room: room.clone(),
            kind,
            payload: Bytes::copy_from_slice(payload),
            fragment,
            cost,
        });
    }

    /// A connection ended: where its client resumes (with `--replay`).
    pub(super) fn leave(&self, room: &Arc<str>, client: &Client) {
        let Some(id) = &client.id else {
            return;
        };
        // Nothing numbered reached it: it resumes after whatever the room holds now (it was
        // in the room, so it missed none of it; what came before it joined is not its own).
        let seq = Some(client.last_seq.max(client.since.unwrap_or(0))).filter(|s| *s > 0);
        if let Some(mem) = &self.memory {
            mem.set_cursor(room, id, seq);
        } else if let Some(redis) = &self.redis {
            redis.note_left(room, client.last_seq);
            redis.enqueue(fanout::Op::Cursor {
                room: room.clone(),
                id: id.clone(),
                seq,
            });
        }
    }

    pub(super) fn summary(&self) -> ScaleSummary {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Acquire);
        let samples = get(&c.rtt_samples);
        ScaleSummary {
            redis: self.redis.is_some(),
            rtt_samples: samples,
            rtt_avg_us: get(&c.rtt_sum_us).checked_div(samples).unwrap_or(0),
            rtt_max_us: get(&c.rtt_max_us),
            outages: get(&c.outages),
            published: get(&c.published),
            publish_failures: get(&c.publish_failures),
            received: get(&c.received),
            stored: get(&c.stored),
            store_failures: get(&c.store_failures),
            replays: get(&c.replays),
            replayed: get(&c.replayed),
            replay_failures: get(&c.replay_failures),
            replay_cut: get(&c.replay_cut),
        }
    }
}

async fn redis_replay(
    relay: &Relay,
    room: &str,
    id: &str,
    since: Option<u64>,
    limit: replay::Cap,
) -> Result<Option<replay::Missed>, String> {
    let Some(redis) = &relay.redis else {
        return Ok(None);
    };
    let keep = relay.cfg.replay.as_ref().map_or(0, |r| r.keep);
    tokio::time::timeout(
        Duration::from_secs(2),
        replay::from_redis(redis.manager(), room, id, since, keep, limit),
    )
    .await
    .map_err(|_| "Redis did not answer within 2s".to_string())?
}

/// `NAME=value` from a query string, percent-decoded.
fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then(|| crate::net::target::percent_decode(v))
    })
}

/// How a broadcast message is marked for its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mark {
    /// Not replaying: the message as it was sent.
    None,
    Live(u64),
    Replayed(u64),
    Unstored,
}

pub(super) fn frame_for(
    kind: DataKind,
    payload: &[u8],
    fragment: Option<usize>,
    mark: Mark,
) -> Frame {
    let (prefix, seq) = match mark {
        Mark::None => (String::new(), 0),
        Mark::Live(s) => (format!("[seq={s}] "), s),
        Mark::Replayed(s) => (format!("[replay seq={s}] "), s),
        Mark::Unstored => ("[unstored] ".to_string(), 0),
    };
    let mut body = Vec::with_capacity(prefix.len() + payload.len());
    body.extend_from_slice(prefix.as_bytes());
    body.extend_from_slice(payload);
    let mut wire = Vec::new();
    frame::write_message(&mut wire, kind, &body, fragment);
    Frame {
        wire: Bytes::from(wire),
        payload_len: body.len(),
        seq,
    }
}

/// The pub/sub and stored form: `v1|ORIGIN|SEQ|K|payload`, ORIGIN 16 hex digits, K `t` or
/// `b`. Built by the store script in Redis when the message is stored (it knows the SEQ).
pub(super) struct Envelope<'a> {
    pub origin: u64,
    pub seq: u64,
    pub kind: DataKind,
    pub payload: &'a [u8],
}

impl<'a> Envelope<'a> {
    pub fn parse(b: &'a [u8]) -> Option<Envelope<'a>> {
        let mut parts = b.splitn(5, |c| *c == b'|');
        if parts.next()? != b"v1" {
            return None;
        }
        let origin = u64::from_str_radix(std::str::from_utf8(parts.next()?).ok()?, 16).ok()?;
        let seq = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
        let kind = match parts.next()? {
            b"t" => DataKind::Text,
            b"b" => DataKind::Binary,
            _ => return None,
        };
        Some(Envelope {
            origin,
            seq,
            kind,
            payload: parts.next()?,
        })
    }
}

pub(super) fn kind_letter(kind: DataKind) -> &'static str {
    match kind {
        DataKind::Text => "t",
        DataKind::Binary => "b",
    }
}

/// The Redis keys of a room (and of a client in it).
pub(super) struct Keys;

impl Keys {
    pub fn seq(room: &str) -> String {
        format!("wsbeat:room:{room}:seq")
    }
    pub fn log(room: &str) -> String {
        format!("wsbeat:room:{room}:log")
    }
    pub fn cursor(room: &str, id: &str) -> String {
        format!("wsbeat:room:{room}:last:{id}")
    }
    pub fn channel(room: &str) -> String {
        format!("wsbeat:chan:{room}")
    }
    pub const CHANNELS: &'static str = "wsbeat:chan:*";
}

pub(super) fn weak_emit(shared: &Weak<Shared>, event: impl FnOnce() -> ServerEvent) {
    if let Some(s) = shared.upgrade() {
        s.emit(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_id_sources_parse_and_bad_ones_say_what_to_write() {
        assert_eq!(
            "query:user".parse::<ClientIdFrom>(),
            Ok(ClientIdFrom::Query("user".into()))
        );
        assert_eq!(
            "header:X-User-Id".parse::<ClientIdFrom>(),
            Ok(ClientIdFrom::Header("X-User-Id".into()))
        );
        assert_eq!(
            "first-message".parse::<ClientIdFrom>(),
            Ok(ClientIdFrom::FirstMessage)
        );
        for bad in ["query:", "cookie:x", "header:a b", "user"] {
            assert!(
                bad.parse::<ClientIdFrom>()
                    .unwrap_err()
                    .contains("query:NAME")
            );
        }
    }

    #[test]
    fn envelopes_round_trip_binary_payloads_with_bars() {
        let b = b"v1|00000000000000ff|42|b|a|b\x00c";
        let e = Envelope::parse(b).unwrap();
        assert_eq!((e.origin, e.seq, e.kind), (255, 42, DataKind::Binary));
        assert_eq!(e.payload, b"a|b\x00c");
        assert!(Envelope::parse(b"v2|ff|1|t|x").is_none());
        assert!(Envelope::parse(b"v1|zz|1|t|x").is_none());
    }

    #[test]
    fn query_parameters_are_found_and_decoded() {
        assert_eq!(
            query_param("a=1&user=b%20c", "user").as_deref(),
            Some("b c")
        );
        assert_eq!(query_param("since=5", "since").as_deref(), Some("5"));
        assert_eq!(query_param("users=x", "user"), None);
    }

    #[test]
    fn marks_prefix_the_payload_and_carry_the_sequence() {
        let f = frame_for(DataKind::Text, b"hi", None, Mark::Replayed(7));
        assert_eq!(f.seq, 7);
        assert_eq!(&f.wire[2..], b"[replay seq=7] hi");
        let f = frame_for(DataKind::Text, b"hi", None, Mark::None);
        assert_eq!((&f.wire[2..], f.seq), (&b"hi"[..], 0));
    }
}
