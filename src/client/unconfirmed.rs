//! Which of the messages we wrote may never have arrived. A `send` that returned only means
//! the kernel took the bytes; when the connection is then lost, what the peer's TCP had not
//! acknowledged is gone. The kernel tells how many bytes that is (`net::stream::SendQueue`),
//! and this log of the last messages' end offsets in our outgoing stream turns it into
//! messages: those whose last byte lies beyond the acknowledged offset.
//!
//! The log is bounded in bytes and in entries. When it is full, entries already acknowledged
//! are dropped first (one question to the kernel); if it is still full the oldest goes, and a
//! later loss that reaches back past it says that more may be lost than it can name.

use crate::ws::connection::Unacked;
use std::collections::VecDeque;

/// Payload bytes kept: the kernel's send buffer is at most a few MiB (`tcp_wmem`), so a log
/// this size names every unacknowledged message of a usual connection.
pub const KEEP_BYTES: usize = 8 * 1024 * 1024;
/// Entries kept, for floods of tiny messages.
pub const KEEP_ENTRIES: usize = 16 * 1024;

/// One message written on the current connection.
#[derive(Debug)]
struct Entry<T> {
    /// Offset just past its last byte in our outgoing stream.
    end: u64,
    /// Its number among the `sent` events of the run (1-based).
    seq: u64,
    len: usize,
    item: T,
}

#[derive(Debug)]
pub struct SentLog<T> {
    entries: VecDeque<Entry<T>>,
    bytes: usize,
    /// The end of the newest entry dropped while perhaps still unacknowledged.
    forgotten: Option<u64>,
}

/// What a loss left unconfirmed.
#[derive(Debug)]
pub struct Unconfirmed<T> {
    /// Oldest first, with their numbers among the `sent` events.
    pub items: Vec<(u64, T)>,
    /// Bytes of our stream not acknowledged (over TLS, as the kernel counts them: records).
    pub bytes: u64,
    /// Older messages that the log no longer holds may be lost too.
    pub more: bool,
}

impl<T> Default for SentLog<T> {
    fn default() -> Self {
        SentLog {
            entries: VecDeque::new(),
            bytes: 0,
            forgotten: None,
        }
    }
}

impl<T> SentLog<T> {
    /// A message of `len` payload bytes whose last byte is at stream offset `end - 1`.
    /// `acked` asks the kernel, only when the log is full.
    pub fn record(
        &mut self,
        end: u64,
        seq: u64,
        len: usize,
        item: T,
        acked: impl FnOnce() -> Option<Unacked>,
    ) {
        self.entries.push_back(Entry {
            end,
            seq,
            len,
            item,
        });
        self.bytes += len;
        if !self.full() {
            return;
        }
        if let Some(u) = acked() {
            while self.entries.front().is_some_and(|e| e.end <= u.from) {
                self.pop();
            }
        }
        while self.full() && self.entries.len() > 1 {
            let end = self.pop();
            self.forgotten = Some(end);
        }
    }

    fn full(&self) -> bool {
        self.bytes > KEEP_BYTES || self.entries.len() > KEEP_ENTRIES
    }

    fn pop(&mut self) -> u64 {
        let e = self.entries.pop_front().expect("not empty");
        self.bytes -= e.len;
        e.end
    }

    /// A new connection: offsets start again at zero.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
        self.forgotten = None;
    }

    /// The connection is lost: the messages not wholly acknowledged, and the log emptied.
    /// `None` when the stream cannot tell or nothing is unconfirmed.
    pub fn take_unconfirmed(&mut self, unacked: Option<Unacked>) -> Option<Unconfirmed<T>> {
        let u = unacked?;
        let more = self.forgotten.is_some_and(|end| end > u.from);
        let entries = std::mem::take(&mut self.entries);
        self.clear();
        let items: Vec<(u64, T)> = entries
            .into_iter()
            .filter(|e| e.end > u.from)
            .map(|e| (e.seq, e.item))
            .collect();
        (!items.is_empty() || more).then_some(Unconfirmed {
            items,
            bytes: u.bytes,
            more,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unacked(from: u64, bytes: u64) -> Option<Unacked> {
        Some(Unacked { from, bytes })
    }

    fn log_of(sizes: &[usize]) -> SentLog<usize> {
        let mut log = SentLog::default();
        let mut end = 0;
        for (i, &len) in sizes.iter().enumerate() {
            // A 6-byte frame header before each payload, as a client's small frames have.
            end += 6 + len as u64;
            log.record(end, i as u64 + 1, len, i, || panic!("not full"));
        }
        log
    }

    #[test]
    fn a_message_with_any_byte_unacknowledged_is_unconfirmed() {
        // Ends at 16, 32, 48, 64.
        let mut log = log_of(&[10, 10, 10, 10]);
        let u = log.take_unconfirmed(unacked(40, 24)).unwrap();
        assert_eq!(u.items, vec![(3, 2), (4, 3)]);
        assert_eq!(u.bytes, 24);
        assert!(!u.more);
        assert!(log.take_unconfirmed(unacked(0, 64)).is_none(), "taken once");
    }

    #[test]
    fn everything_acknowledged_or_no_answer_is_nothing_to_report() {
        let mut log = log_of(&[10, 10]);
        assert!(log.take_unconfirmed(unacked(32, 0)).is_none());
        let mut log = log_of(&[10, 10]);
        assert!(log.take_unconfirmed(None).is_none());
    }

    #[test]
    fn a_full_log_drops_what_was_acknowledged_first_and_then_says_it_forgot() {
        let big = KEEP_BYTES / 2;
        let mut log = SentLog::default();
        log.record(100, 1, big, 1, || panic!("not full"));
        log.record(200, 2, big, 2, || panic!("not full"));
        // Full: the kernel says everything up to 100 arrived, so entry 1 goes quietly.
        log.record(300, 3, big, 3, || unacked(100, 200));
        assert_eq!(log.entries.len(), 2);
        assert!(log.forgotten.is_none());
        // Full again and nothing acknowledged: the oldest is forgotten.
        log.record(400, 4, big, 4, || unacked(100, 300));
        assert_eq!(log.forgotten, Some(200));
        let u = log.take_unconfirmed(unacked(150, 250)).unwrap();
        assert_eq!(u.items, vec![(3, 3), (4, 4)]);
        assert!(u.more, "entry 2 ended at 200 > 150 and is no longer named");
    }
}
