//! The checks behind the fuzz targets in `fuzz_targets/`. They live in a library so that the
//! inputs kept in `seeds/` and `regressions/` replay with plain `cargo test` on stable Rust,
//! without libFuzzer.

pub mod client_response;
pub mod decode;
pub mod server_request;
pub mod target;

/// A fuzz input read front to back; running out yields zeros, so that every input is usable.
pub struct Input<'a>(pub &'a [u8]);

impl<'a> Input<'a> {
    pub fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }

    pub fn rest(self) -> &'a [u8] {
        self.0
    }
}

/// Where to cut `len` bytes into the pieces a socket might deliver: each size byte `s` makes
/// a piece of `s + 1` bytes, cycling through `sizes`. Returns the end of every piece, the last
/// one being `len`.
pub fn cuts(len: usize, sizes: &[u8]) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut at = 0;
    for &s in sizes.iter().cycle() {
        if at >= len {
            break;
        }
        at = (at + s as usize + 1).min(len);
        ends.push(at);
    }
    if ends.last() != Some(&len) {
        ends.push(len);
    }
    ends
}

/// Run `check` on every input kept for `target`: the hand-written seeds and the inputs that
/// once found a bug. For `cargo test`.
#[cfg(test)]
pub(crate) fn replay(target: &str, check: impl Fn(&[u8])) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for kind in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(kind).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("readable directory").path();
            eprintln!("{}", path.display());
            check(&std::fs::read(&path).expect("readable input"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::cuts;

    #[test]
    fn cuts_cover_the_input() {
        assert_eq!(cuts(0, &[]), vec![0]);
        assert_eq!(cuts(5, &[]), vec![5]);
        assert_eq!(cuts(5, &[0]), vec![1, 2, 3, 4, 5]);
        assert_eq!(cuts(7, &[1, 2]), vec![2, 5, 7]);
    }
}
