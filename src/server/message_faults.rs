//! Message faults for testing a client's accounting (`--drop-every`, `--duplicate-every`,
//! `--reorder-every`, `--corrupt-every`, `--fault-seed`): which of a connection's messages
//! each fault hits, the one message a swap holds back, and what was injected, counted only
//! when it reached the wire, so a client's counts can be compared with these exactly.

use crate::ws::proto::DataKind;

/// Every how many messages each fault hits (`None`: never).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageFaults {
    pub drop_every: Option<u64>,
    pub duplicate_every: Option<u64>,
    pub reorder_every: Option<u64>,
    pub corrupt_every: Option<u64>,
    /// Hit random messages, each with probability 1/N, instead of every Nth.
    pub seed: Option<u64>,
}

impl MessageFaults {
    pub fn any(&self) -> bool {
        self.drop_every.is_some()
            || self.duplicate_every.is_some()
            || self.reorder_every.is_some()
            || self.corrupt_every.is_some()
    }
}

/// What was injected: echoes not sent, extra copies sent, swaps made, echoes altered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Injected {
    pub dropped: u64,
    pub duplicated: u64,
    pub reordered: u64,
    pub corrupted: u64,
}

impl Injected {
    pub fn add(&mut self, o: &Injected) {
        self.dropped += o.dropped;
        self.duplicated += o.duplicated;
        self.reordered += o.reordered;
        self.corrupted += o.corrupted;
    }
}

/// An echo to send: `copies` times the same payload.
#[derive(Debug, PartialEq, Eq)]
pub struct Out {
    pub kind: DataKind,
    pub payload: Vec<u8>,
    pub copies: u8,
    pub corrupted: bool,
}

/// One connection's fault state; boxed by its owner, so connections without message faults
/// pay one pointer.
#[derive(Debug)]
pub struct State {
    cfg: MessageFaults,
    /// Messages seen on this connection: the Nth is the one `every N` hits.
    n: u64,
    rng: Option<fastrand::Rng>,
    /// The message a swap holds back until the next one is echoed.
    held: Option<Out>,
    pub injected: Injected,
}

impl State {
    /// `conn` mixes into the seed so that connections do not all fail the same messages.
    pub fn new(cfg: MessageFaults, conn: u64) -> Self {
        State {
            cfg,
            n: 0,
            rng: cfg
                .seed
                .map(|s| fastrand::Rng::with_seed(s ^ conn.wrapping_mul(0x9E37_79B9_7F4A_7C15))),
            held: None,
            injected: Injected::default(),
        }
    }

    fn hits(&mut self, every: Option<u64>) -> bool {
        let Some(every) = every else { return false };
        match &mut self.rng {
            Some(rng) => rng.u64(0..every) == 0,
            None => self.n % every == 0,
        }
    }

    /// A message to echo: the echoes to send now, in order (none, it, or it then the one held
    /// back). A drop releases a held message without a swap: nothing overtook it.
    pub fn on_message(&mut self, kind: DataKind, payload: &[u8]) -> Vec<Out> {
        self.n += 1;
        let c = self.cfg;
        // Each fault draws every time, so one fault's schedule does not shift another's.
        let (drop, dup, hold, corrupt) = (
            self.hits(c.drop_every),
            self.hits(c.duplicate_every),
            self.hits(c.reorder_every),
            self.hits(c.corrupt_every),
        );
        let mut out = Vec::new();
        if drop {
            self.injected.dropped += 1;
            self.release(&mut out, false);
        } else {
            let mut payload = payload.to_vec();
            let corrupted = corrupt && corrupt_in_place(kind, &mut payload);
            let echo = Out {
                kind,
                payload,
                copies: if dup { 2 } else { 1 },
                corrupted,
            };
            if hold && self.held.is_none() {
                self.held = Some(echo);
            } else {
                self.emit(&mut out, echo);
                self.release(&mut out, true);
            }
        }
        out
    }

    /// Counted here, when it goes out: a held message that never does injects nothing but
    /// its loss.
    fn emit(&mut self, out: &mut Vec<Out>, echo: Out) {
        self.injected.duplicated += u64::from(echo.copies - 1);
        self.injected.corrupted += u64::from(echo.corrupted);
        out.push(echo);
    }

    fn release(&mut self, out: &mut Vec<Out>, swapped: bool) {
        if let Some(h) = self.held.take() {
            self.injected.reordered += u64::from(swapped);
            self.emit(out, h);
        }
    }

    /// The connection ended: a message still held back was never echoed.
    pub fn finish(&mut self) {
        if self.held.take().is_some() {
            self.injected.dropped += 1;
        }
    }
}

/// Change the last ASCII byte to another letter, so text stays valid UTF-8 and a client's
/// message header (at the front) stays readable. A binary message without one gets its last
/// bit flipped; `false` when there is nothing to change.
fn corrupt_in_place(kind: DataKind, payload: &mut [u8]) -> bool {
    if let Some(b) = payload.iter_mut().rev().find(|b| b.is_ascii()) {
        *b = if *b == b'a' { b'b' } else { b'a' };
        return true;
    }
    match (kind, payload.last_mut()) {
        (DataKind::Binary, Some(b)) => {
            *b ^= 1;
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sequence numbers (first payload byte) that go out, `!` marking corrupted copies.
    fn run(cfg: MessageFaults, n: u8) -> (String, Injected) {
        let mut st = State::new(cfg, 1);
        let mut wire = String::new();
        for i in 0..n {
            for o in st.on_message(DataKind::Text, &[b'0' + i, b'x']) {
                assert!(std::str::from_utf8(&o.payload).is_ok(), "text stays UTF-8");
                for _ in 0..o.copies {
                    wire.push(char::from(o.payload[0]));
                    if o.payload[1] != b'x' {
                        wire.push('!');
                    }
                }
            }
        }
        st.finish();
        (wire, st.injected)
    }

    #[test]
    fn every_nth_message_is_hit_by_each_fault() {
        let every = |n| Some(n);
        let (w, i) = run(
            MessageFaults {
                drop_every: every(3),
                ..Default::default()
            },
            7,
        );
        assert_eq!((w.as_str(), i.dropped), ("01346", 2));
        let (w, i) = run(
            MessageFaults {
                duplicate_every: every(2),
                ..Default::default()
            },
            4,
        );
        assert_eq!((w.as_str(), i.duplicated), ("011233", 2));
        let (w, i) = run(
            MessageFaults {
                reorder_every: every(2),
                ..Default::default()
            },
            5,
        );
        assert_eq!((w.as_str(), i.reordered), ("02143", 2));
        let (w, i) = run(
            MessageFaults {
                corrupt_every: every(2),
                ..Default::default()
            },
            4,
        );
        assert_eq!((w.as_str(), i.corrupted), ("01!23!", 2));
    }

    #[test]
    fn a_swap_counts_only_when_something_overtook_the_held_message() {
        // 2nd held, 3rd dropped: the 2nd goes out in its place, no swap; the 4th is held
        // when the connection ends: never echoed, so dropped.
        let (w, i) = run(
            MessageFaults {
                reorder_every: Some(2),
                drop_every: Some(3),
                ..Default::default()
            },
            4,
        );
        assert_eq!(w, "01");
        assert_eq!(
            i,
            Injected {
                dropped: 2,
                ..Default::default()
            }
        );
    }

    #[test]
    fn a_seed_hits_random_messages_at_the_rate_and_repeats() {
        let cfg = MessageFaults {
            drop_every: Some(4),
            seed: Some(42),
            ..Default::default()
        };
        let mut a = State::new(cfg, 1);
        let mut b = State::new(cfg, 1);
        let (mut ea, mut eb) = (0, 0);
        for i in 0..4000u32 {
            ea += a.on_message(DataKind::Binary, &i.to_be_bytes()).len();
            eb += b.on_message(DataKind::Binary, &i.to_be_bytes()).len();
        }
        assert_eq!((ea, a.injected), (eb, b.injected), "same seed, same faults");
        assert_eq!(ea as u64 + a.injected.dropped, 4000);
        assert!(
            (800..1200).contains(&a.injected.dropped),
            "{:?}",
            a.injected
        );
    }

    #[test]
    fn corruption_keeps_text_valid_and_binary_changed() {
        let mut t = "héllo".as_bytes().to_vec();
        assert!(corrupt_in_place(DataKind::Text, &mut t));
        assert_eq!(std::str::from_utf8(&t), Ok("hélla"));
        let mut b = vec![0xff, 0xfe];
        assert!(corrupt_in_place(DataKind::Binary, &mut b));
        assert_eq!(b, [0xff, 0xff]);
        assert!(!corrupt_in_place(DataKind::Text, &mut []));
    }
}
