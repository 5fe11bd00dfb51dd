//! The marks `echo-server --replay` puts in front of each broadcast message (README "Scaling
//! out"): `[seq=N] ` live, `[replay seq=N] ` replayed after a reconnect, `[unstored] ` when it
//! could not be kept, and `[replay cut=K from=A to=B] ` (a message of its own, before a replay)
//! when K missed messages, numbers A to B, are gone. `soak --server-replay` strips them before
//! it matches the message, keeps the highest N to resume from (`?since=N`), and counts the
//! replayed, unstored and cut ones.
//!
//! Hand-written: a fixed prefix and a decimal number, read from bytes (a binary message need
//! not be UTF-8). Anything that does not parse exactly (no closing `] `, no digits, a number
//! beyond u64) is no mark at all: the message is matched whole, and so counts as foreign.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Live(u64),
    Replayed(u64),
    Unstored,
    /// `cut` missed messages the server no longer has; the numbers they had.
    Cut {
        cut: u64,
        from: u64,
        to: u64,
    },
}

impl Mark {
    /// The room's sequence number it carries.
    pub fn seq(self) -> Option<u64> {
        match self {
            Mark::Live(s) | Mark::Replayed(s) => Some(s),
            Mark::Unstored | Mark::Cut { .. } => None,
        }
    }
}

const LIVE: &[u8] = b"[seq=";
const REPLAYED: &[u8] = b"[replay seq=";
const UNSTORED: &[u8] = b"[unstored] ";
const CUT: &[u8] = b"[replay cut=";
/// u64::MAX has 20 digits: a longer run is no number of ours, and parsing stops there.
const MAX_DIGITS: usize = 20;

/// The mark and the message after it; `None` when it has none.
pub fn strip(msg: &[u8]) -> Option<(Mark, &[u8])> {
    if let Some(rest) = msg.strip_prefix(UNSTORED) {
        return Some((Mark::Unstored, rest));
    }
    if let Some(rest) = msg.strip_prefix(LIVE) {
        return number(rest).map(|(n, body)| (Mark::Live(n), body));
    }
    if let Some(rest) = msg.strip_prefix(CUT) {
        return cut(rest);
    }
    if let Some(rest) = msg.strip_prefix(REPLAYED) {
        return number(rest).map(|(n, body)| (Mark::Replayed(n), body));
    }
    None
}

/// `K from=A to=B] ` after `[replay cut=`: the whole message, nothing after it.
fn cut(b: &[u8]) -> Option<(Mark, &[u8])> {
    let (cut, b) = digits(b)?;
    let (from, b) = digits(b.strip_prefix(b" from=")?)?;
    let (to, b) = digits(b.strip_prefix(b" to=")?)?;
    let body = b.strip_prefix(b"] ")?;
    Some((Mark::Cut { cut, from, to }, body))
}

/// `DIGITS] ` at the start of `b`: the number and what follows.
fn number(b: &[u8]) -> Option<(u64, &[u8])> {
    let (n, b) = digits(b)?;
    Some((n, b.strip_prefix(b"] ")?))
}

/// A decimal number at the start of `b` and what follows it.
fn digits(b: &[u8]) -> Option<(u64, &[u8])> {
    let digits = b
        .iter()
        .take(MAX_DIGITS + 1)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if digits == 0 || digits > MAX_DIGITS {
        return None;
    }
    // ASCII digits only, so the text is valid; the parse fails only on overflow.
    let n = std::str::from_utf8(&b[..digits]).ok()?.parse().ok()?;
    Some((n, &b[digits..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_mark_is_stripped_and_its_number_read() {
        assert_eq!(strip(b"[seq=7] #abc"), Some((Mark::Live(7), &b"#abc"[..])));
        assert_eq!(
            strip(b"[replay seq=18446744073709551615] x"),
            Some((Mark::Replayed(u64::MAX), &b"x"[..]))
        );
        assert_eq!(strip(b"[unstored] "), Some((Mark::Unstored, &b""[..])));
        assert_eq!(Mark::Live(3).seq(), Some(3));
        assert_eq!(Mark::Unstored.seq(), None);
    }

    #[test]
    fn a_cut_is_read_whole_or_not_at_all() {
        assert_eq!(
            strip(b"[replay cut=3 from=5 to=7] "),
            Some((
                Mark::Cut {
                    cut: 3,
                    from: 5,
                    to: 7
                },
                &b""[..]
            ))
        );
        assert_eq!(
            Mark::Cut {
                cut: 1,
                from: 1,
                to: 1
            }
            .seq(),
            None
        );
        for bad in [
            &b"[replay cut=3 from=5 to=7]"[..],
            b"[replay cut=3 from=5] ",
            b"[replay cut= from=5 to=7] ",
            b"[replay cut=3 to=7 from=5] ",
            b"[replay cut=99999999999999999999999 from=5 to=7] ",
            b"[replay cut=3 from=5 to=\xff] ",
        ] {
            assert_eq!(strip(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn hostile_or_foreign_messages_carry_no_mark() {
        for bad in [
            &b"[seq="[..],
            b"[seq=12",
            b"[seq=12]",
            b"[seq=12]x",
            b"[seq=] x",
            b"[seq=-1] x",
            b"[seq=1 2] x",
            b"[seq=18446744073709551616] x",
            b"[seq=99999999999999999999999999999999] x",
            b"[replay seq=",
            b"[replay seq=x] y",
            b"[unstored]",
            b"[SEQ=1] x",
            b" [seq=1] x",
            b"hello",
            b"",
            b"\xff\xfe[seq=1] x",
            b"[seq=\xff] x",
        ] {
            assert_eq!(strip(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        let long = [b"[seq=".as_slice(), &[b'9'; 100_000]].concat();
        assert_eq!(
            strip(&long),
            None,
            "a long run of digits is read no further than 21"
        );
    }

    #[test]
    fn the_body_after_a_mark_may_be_any_bytes() {
        let msg = b"[replay seq=5] \x00\xff\xfe binary";
        assert_eq!(
            strip(msg),
            Some((Mark::Replayed(5), &b"\x00\xff\xfe binary"[..]))
        );
    }
}
