//! The Redis side of broadcast: a publisher task (messages from every connection, batched
//! into one pipeline; with `--replay` each is stored and published by one script, atomically,
//! so the stored order is the sequence order), a subscriber task (messages from the other
//! instances; resubscribes after an outage, with backoff) and a health probe.
//!
//! With `--replay`, a subscription that was down while Redis still took commands missed what
//! the other instances stored meanwhile; when it is back, the room's log gives those messages
//! to the clients still here (`catch_up`), and what the log no longer holds is counted as cut.

use super::link::{RedisTarget, TIMEOUT};
use super::{Envelope, Keys, Mark, add, frame_for, kind_letter, weak_emit};
use crate::error::Error;
use crate::server::{ServerEvent, Shared};
use crate::ws::proto::DataKind;
use bytes::Bytes;
use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc};

/// Messages per pipeline.
const BATCH: usize = 64;
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// INCR, RPUSH, LTRIM, EXPIRE and PUBLISH as one step: KEYS seq, log, channel; ARGV the
/// envelope's head (`v1|ORIGIN`), its tail (`K|payload`), N, TTL in seconds.
const STORE_AND_PUBLISH: &str = "local seq = redis.call('INCR', KEYS[1])
local env = ARGV[1] .. '|' .. seq .. '|' .. ARGV[2]
redis.call('RPUSH', KEYS[2], env)
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[3]), -1)
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('PUBLISH', KEYS[3], env)
return seq";

/// A client's cursor at the room's latest sequence number: KEYS cursor, seq; ARGV TTL.
const CURSOR_AT_END: &str =
    "return redis.call('SET', KEYS[1], redis.call('GET', KEYS[2]) or 0, 'EX', ARGV[1])";

pub(super) enum Op {
    Publish {
        room: Arc<str>,
        kind: DataKind,
        payload: Bytes,
        fragment: Option<usize>,
        /// What it counts against the publisher's byte bound.
        cost: usize,
    },
    /// Where a client resumes: after `seq`, or (`None`) after what the room holds now.
    Cursor {
        room: Arc<str>,
        id: String,
        seq: Option<u64>,
    },
}

pub(super) struct Redis {
    target: RedisTarget,
    manager: ConnectionManager,
    /// As the last probe or command found it.
    up: AtomicBool,
    tx: mpsc::UnboundedSender<Op>,
    rx: Mutex<Option<mpsc::UnboundedReceiver<Op>>>,
    /// Operations sent to the publisher and not yet answered, and a wake-up when that falls.
    pending: AtomicUsize,
    answered: Notify,
    /// The subscription is lost: this instance's own stored messages are counted per room,
    /// so that a catch-up knows which of the numbers it can no longer read were its own.
    sub_down: AtomicBool,
    own_while_down: Mutex<HashMap<Arc<str>, u64>>,
    /// Clients that left meanwhile, with the last number they got: what the other instances
    /// sent before it, they missed and will not be replayed (their cursor is past it).
    left_while_down: Mutex<Vec<(Arc<str>, u64)>>,
}

/// Rooms whose last number the subscriber remembers; beyond it, only rooms with members here.
const MAX_SEEN_ROOMS: usize = 10_000;

impl Redis {
    pub async fn connect(target: &RedisTarget) -> Result<Redis, Error> {
        let manager = target.manager().await?;
        // The queue is bounded in bytes by the relay (`PUBLISH_QUEUE_BYTES`).
        let (tx, rx) = mpsc::unbounded_channel();
        Ok(Redis {
            target: target.clone(),
            manager,
            up: AtomicBool::new(true),
            tx,
            rx: Mutex::new(Some(rx)),
            pending: AtomicUsize::new(0),
            answered: Notify::new(),
            sub_down: AtomicBool::new(false),
            own_while_down: Mutex::new(HashMap::new()),
            left_while_down: Mutex::new(Vec::new()),
        })
    }

    pub fn manager(&self) -> ConnectionManager {
        self.manager.clone()
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// A client left at `last_seq`; while the subscription is down, remembered for the
    /// catch-up to count what it missed (at most `MAX_SEEN_ROOMS` clients).
    pub fn note_left(&self, room: &Arc<str>, last_seq: u64) {
        if last_seq > 0 && self.sub_down.load(Ordering::Acquire) {
            let mut left = lock(&self.left_while_down);
            if left.len() < MAX_SEEN_ROOMS {
                left.push((room.clone(), last_seq));
            }
        }
    }

    pub fn enqueue(&self, op: Op) {
        self.pending.fetch_add(1, Ordering::AcqRel);
        if self.tx.send(op).is_err() {
            self.pending.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// At shutdown: the last messages and the cursors of the clients just closed reach Redis
    /// (or fail) before the tasks end, within `within`.
    pub async fn flush(&self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let answered = self.answered.notified();
            tokio::pin!(answered);
            answered.as_mut().enable();
            if self.pending.load(Ordering::Acquire) == 0 {
                return;
            }
            if tokio::time::timeout_at(deadline, answered).await.is_err() {
                return;
            }
        }
    }

    pub fn start(&self, shared: Weak<Shared>) -> Vec<tokio::task::JoinHandle<()>> {
        let rx = self.rx.lock().unwrap_or_else(|p| p.into_inner()).take();
        let mut tasks = vec![
            tokio::spawn(subscriber(shared.clone(), self.target.clone())),
            tokio::spawn(health(shared.clone(), self.manager.clone())),
        ];
        if let Some(rx) = rx {
            tasks.push(tokio::spawn(publisher(shared, self.manager.clone(), rx)));
        }
        tasks
    }

    /// Up or down, said once per change.
    fn set_up(&self, shared: &Shared, up: bool, why: &str) {
        if self.up.swap(up, Ordering::AcqRel) == up {
            return;
        }
        if let Some(relay) = &shared.scale
            && !up
        {
            add(&relay.counters.outages, 1);
        }
        let detail = self.target.hide(why);
        let target = self.target.to_string();
        shared.emit(|| ServerEvent::Redis { up, target, detail });
    }
}

async fn publisher(
    shared: Weak<Shared>,
    mut conn: ConnectionManager,
    mut rx: mpsc::UnboundedReceiver<Op>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let Some(s) = shared.upgrade() else { return };
        let (Some(relay), Some(hub)) = (&s.scale, &s.hub) else {
            return;
        };
        let Some(redis) = &relay.redis else { return };
        let replay = relay.cfg.replay.as_ref();
        let head = format!("v1|{:016x}", relay.instance);
        let mut pipe = redis::pipe();
        for op in &batch {
            match op {
                Op::Publish {
                    room,
                    kind,
                    payload,
                    ..
                } => {
                    let mut tail = Vec::with_capacity(payload.len() + 2);
                    tail.extend_from_slice(kind_letter(*kind).as_bytes());
                    tail.push(b'|');
                    tail.extend_from_slice(payload);
                    match replay {
                        Some(r) => {
                            pipe.cmd("EVAL")
                                .arg(STORE_AND_PUBLISH)
                                .arg(3)
                                .arg(Keys::seq(room))
                                .arg(Keys::log(room))
                                .arg(Keys::channel(room))
                                .arg(&head)
                                .arg(tail)
                                .arg(r.keep.max(1))
                                .arg(r.ttl.as_secs().max(1));
                        }
                        None => {
                            let mut env = format!("{head}|0|").into_bytes();
                            env.extend_from_slice(&tail);
                            pipe.cmd("PUBLISH").arg(Keys::channel(room)).arg(env);
                        }
                    }
                }
                Op::Cursor { room, id, seq } => {
                    let ttl = replay.map_or(3600, |r| r.ttl.as_secs().max(1));
                    match seq {
                        Some(seq) => {
                            pipe.cmd("SET")
                                .arg(Keys::cursor(room, id))
                                .arg(*seq)
                                .arg("EX")
                                .arg(ttl);
                        }
                        None => {
                            pipe.cmd("EVAL")
                                .arg(CURSOR_AT_END)
                                .arg(2)
                                .arg(Keys::cursor(room, id))
                                .arg(Keys::seq(room))
                                .arg(ttl);
                        }
                    }
                }
            }
        }
        let answer: Result<Vec<redis::Value>, _> = pipe.query_async(&mut conn).await;
        let ok = match &answer {
            Ok(_) => {
                redis.set_up(&s, true, "commands answered again");
                true
            }
            Err(e) => {
                redis.set_up(&s, false, &e.to_string());
                false
            }
        };
        let answers = answer.unwrap_or_default();
        let done = batch.len();
        for (i, op) in batch.drain(..).enumerate() {
            let Op::Publish {
                room,
                kind,
                payload,
                fragment,
                cost,
            } = op
            else {
                continue;
            };
            relay.queued.fetch_sub(cost, Ordering::AcqRel);
            let c = &relay.counters;
            if ok {
                add(&c.published, 1);
            } else {
                add(&c.publish_failures, 1);
            }
            if replay.is_none() {
                continue;
            }
            // Stored or not, this instance's members get it now, marked as it is.
            let mark = match answers.get(i) {
                Some(redis::Value::Int(seq)) if ok => {
                    add(&c.stored, 1);
                    if redis.sub_down.load(Ordering::Acquire) {
                        let mut own = lock(&redis.own_while_down);
                        if own.len() < MAX_SEEN_ROOMS || own.contains_key(&room) {
                            *own.entry(room.clone()).or_default() += 1;
                        }
                    }
                    Mark::Live(*seq as u64)
                }
                _ => {
                    add(&c.store_failures, 1);
                    Mark::Unstored
                }
            };
            hub.broadcast(&room, &frame_for(kind, &payload, fragment, mark));
        }
        redis.pending.fetch_sub(done, Ordering::AcqRel);
        redis.answered.notify_waiters();
    }
}

/// Messages of the other instances, to this one's members; after an outage it subscribes
/// again, waiting longer each time (up to 2 s).
async fn subscriber(shared: Weak<Shared>, target: RedisTarget) {
    let mut backoff = Duration::from_millis(50);
    let mut was_down = false;
    let mut seen = Seen::default();
    loop {
        let stream = async {
            let mut ps = target
                .client()
                .map_err(|e| e.to_string())?
                .get_async_pubsub()
                .await
                .map_err(|e| e.to_string())?;
            ps.psubscribe(Keys::CHANNELS)
                .await
                .map_err(|e| e.to_string())?;
            // The crate takes an error answer to PSUBSCRIBE (NOPERM: the user may not read the
            // channels) for success. A PING tells: only a subscribed connection answers it
            // with an array.
            match ps.ping_message::<redis::Value>("wsbeat").await {
                Ok(redis::Value::Array(_)) => {}
                Ok(_) => return Err("PSUBSCRIBE was refused".to_string()),
                Err(e) => return Err(e.to_string()),
            }
            Ok::<_, String>(ps.into_on_message())
        };
        match tokio::time::timeout(TIMEOUT * 3, stream).await {
            Ok(Ok(mut messages)) => {
                backoff = Duration::from_millis(50);
                if was_down {
                    weak_emit(&shared, || {
                        ServerEvent::Warning(format!(
                            "subscribed again to broadcasts from other instances on {target}"
                        ))
                    });
                    let Some(s) = shared.upgrade() else { return };
                    catch_up(&s, &mut seen).await;
                }
                while let Some(msg) = messages.next().await {
                    let Some(s) = shared.upgrade() else { return };
                    deliver(
                        &s,
                        &mut seen,
                        msg.get_channel_name(),
                        msg.get_payload_bytes(),
                    );
                }
                if let Some(r) = shared.upgrade().as_ref().and_then(|s| redis_of(s)) {
                    r.sub_down.store(true, Ordering::Release);
                }
                was_down = true;
                weak_emit(&shared, || {
                    ServerEvent::Warning(format!(
                        "lost the subscription on {target}: broadcasts from other instances \
                         stop until it is back"
                    ))
                });
            }
            Ok(Err(_)) | Err(_) => was_down = true,
        }
        if shared.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

fn redis_of(s: &Shared) -> Option<&Redis> {
    s.scale.as_ref().and_then(|r| r.redis.as_ref())
}

/// What the subscriber delivered, per room: the last number (of any instance's message), and
/// for a little while after a catch-up, the number up to which it gave the messages already
/// (the same ones may still come live: they were published between the subscription and the
/// catch-up's read). Only for a while: a room's numbers start again when its keys expire.
#[derive(Default)]
struct Seen {
    last: HashMap<String, u64>,
    given: HashMap<String, (u64, Instant)>,
}

/// How long a catch-up's messages may still arrive live.
const GIVEN_FOR: Duration = Duration::from_secs(10);

fn deliver(s: &Shared, seen: &mut Seen, channel: &str, payload: &[u8]) {
    let (Some(relay), Some(hub)) = (&s.scale, &s.hub) else {
        return;
    };
    let Some(room) = channel.strip_prefix(&Keys::CHANNELS[..Keys::CHANNELS.len() - 1]) else {
        return;
    };
    let Some(env) = Envelope::parse(payload) else {
        return;
    };
    if env.seq > 0 {
        if let Some((upto, at)) = seen.given.get(room) {
            if env.seq <= *upto && at.elapsed() < GIVEN_FOR {
                return; // the catch-up gave it
            }
            seen.given.remove(room);
        }
        if let Some(last) = seen.last.get_mut(room) {
            *last = env.seq;
        } else {
            if seen.last.len() >= MAX_SEEN_ROOMS {
                seen.last.retain(|r, _| hub.members(r) > 0);
            }
            if seen.last.len() < MAX_SEEN_ROOMS {
                seen.last.insert(room.to_string(), env.seq);
            }
        }
    }
    if env.origin == relay.instance {
        return;
    }
    add(&relay.counters.received, 1);
    let mark = if relay.replaying() {
        if env.seq > 0 {
            Mark::Live(env.seq)
        } else {
            Mark::Unstored
        }
    } else {
        Mark::None
    };
    hub.broadcast(
        room,
        &frame_for(env.kind, env.payload, s.cfg.faults.fragment, mark),
    );
}

/// The subscription is back: for each room it had delivered to, what the other instances
/// stored meanwhile goes to the clients here, in order, marked as replayed (within half their
/// queue); what the log no longer holds is counted as cut and said first,
/// `[replay cut=K from=A to=B] ` (K of the numbers A..B: the rest were this instance's own,
/// which its clients got). Messages that come live after this are skipped by `deliver` when
/// the catch-up gave them.
async fn catch_up(s: &Shared, seen: &mut Seen) {
    let (Some(relay), Some(hub), Some(redis)) = (&s.scale, &s.hub, redis_of(s)) else {
        return;
    };
    redis.sub_down.store(false, Ordering::Release);
    let own = std::mem::take(&mut *lock(&redis.own_while_down));
    let left = std::mem::take(&mut *lock(&redis.left_while_down));
    let Some(replay) = relay.cfg.replay.as_ref() else {
        return; // unnumbered: nothing to read back, and no way to tell what was missed
    };
    let limits = hub.limits();
    let cap = super::replay::Cap {
        frames: (limits.frames / 2).max(1),
        bytes: (limits.bytes / 2).max(1),
    };
    let mut conn = redis.manager();
    let c = &relay.counters;
    seen.given.clear();
    // A room with nobody here and nobody who left is forgotten: nothing to give or count.
    seen.last
        .retain(|r, _| hub.members(r) > 0 || left.iter().any(|(l, _)| **l == **r));
    for (room, last) in seen.last.iter_mut() {
        let members = hub.members(room) as u64;
        let got: Result<(Option<u64>, Vec<Vec<u8>>), _> = tokio::time::timeout(
            TIMEOUT * 2,
            redis::pipe()
                .atomic()
                .cmd("GET")
                .arg(Keys::seq(room))
                .cmd("LRANGE")
                .arg(Keys::log(room))
                .arg(-(replay.keep.max(1) as i64))
                .arg(-1)
                .query_async(&mut conn),
        )
        .await
        .map_err(|_| ())
        .and_then(|r| r.map_err(|_| ()));
        let Ok((latest, raw)) = got else {
            // Unknown: forget the numbers rather than skip live messages on a stale one.
            add(&c.replay_failures, 1);
            seen.last.clear();
            return;
        };
        let latest = latest.unwrap_or(0);
        let after = std::mem::replace(last, latest);
        seen.given.insert(room.clone(), (latest, Instant::now()));
        if latest <= after {
            continue; // nothing missed, or Redis started again (new numbers)
        }
        let envs: Vec<Envelope> = raw
            .iter()
            .filter_map(|b| Envelope::parse(b))
            .filter(|e| e.seq > after && e.seq <= latest)
            .collect();
        let first_in_log = envs.iter().map(|e| e.seq).min().unwrap_or(latest + 1);
        let own_in_log = envs.iter().filter(|e| e.origin == relay.instance).count() as u64;
        let own_trimmed = own
            .get(room.as_str())
            .copied()
            .unwrap_or(0)
            .saturating_sub(own_in_log);
        let mut trimmed = (first_in_log - after - 1).saturating_sub(own_trimmed);
        // Those who left: the others' messages up to their last number (of the numbers the
        // log lost, as many as lie below it, at most).
        for (_, last_got) in left.iter().filter(|(r, _)| **r == **room) {
            let in_log = envs
                .iter()
                .filter(|e| e.origin != relay.instance && e.seq <= *last_got)
                .count() as u64;
            let below = last_got.saturating_sub(after).min(first_in_log - after - 1);
            add(&c.replay_cut, in_log + trimmed.min(below));
        }
        if members == 0 {
            continue;
        }
        let mut frames: Vec<_> = envs
            .iter()
            .filter(|e| e.origin != relay.instance)
            .map(|e| {
                frame_for(
                    e.kind,
                    e.payload,
                    s.cfg.faults.fragment,
                    Mark::Replayed(e.seq),
                )
            })
            .collect();
        frames.sort_by_key(|f| f.seq);
        let before = frames.len();
        super::replay::trim_to(&mut frames, cap);
        trimmed += (before - frames.len()) as u64;
        if trimmed > 0 {
            let to = frames.first().map_or(latest, |f| f.seq - 1);
            let cut = super::replay::Cut {
                from: after + 1,
                to,
                count: trimmed,
            };
            hub.broadcast(room, &cut.frame());
            add(&c.replay_cut, trimmed * members);
        }
        add(&c.replayed, frames.len() as u64 * members);
        for f in &frames {
            hub.broadcast(room, f);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A PING a second: the round trip for the summary, and an outage said when it starts and
/// when it ends.
async fn health(shared: Weak<Shared>, mut conn: ConnectionManager) {
    let mut tick = tokio::time::interval(PROBE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let start = Instant::now();
        let got =
            tokio::time::timeout(TIMEOUT, redis::cmd("PING").query_async::<String>(&mut conn))
                .await;
        let Some(s) = shared.upgrade() else { return };
        let (Some(relay), Some(redis)) =
            (&s.scale, s.scale.as_ref().and_then(|r| r.redis.as_ref()))
        else {
            return;
        };
        match got {
            Ok(Ok(_)) => {
                let us = start.elapsed().as_micros() as u64;
                let c = &relay.counters;
                add(&c.rtt_samples, 1);
                add(&c.rtt_sum_us, us);
                c.rtt_max_us.fetch_max(us, Ordering::Relaxed);
                redis.set_up(&s, true, "PING answered");
            }
            Ok(Err(e)) => redis.set_up(&s, false, &e.to_string()),
            Err(_) => redis.set_up(&s, false, "PING not answered within 1s"),
        }
    }
}
