//! Unmasking (RFC 6455 5.3): XOR every payload byte with the 4-byte key, the key's phase
//! continuing across reads. It is the one pass the server makes over every payload byte, so
//! it goes 32 bytes at a time: the key repeated to a 32-byte pattern, rotated to the phase,
//! XORed into each chunk. Written as a plain array loop that LLVM turns into SSE2 XORs
//! (two 16-byte loads and XORs per chunk on any x86-64, wider with AVX2 when built for
//! it), in safe code: `std::simd` is not stable, and a crate for one XOR loop would add
//! unsafe code we would have to trust rather than a loop the compiler checks.

/// Bytes per step of the wide loop.
const WIDE: usize = 32;

/// XOR `buf` with the masking key, `offset` bytes into the payload.
pub fn unmask(buf: &mut [u8], mask: [u8; 4], offset: usize) {
    let mut m = mask;
    m.rotate_left(offset % 4);
    let mut pattern = [0u8; WIDE];
    for (i, p) in pattern.iter_mut().enumerate() {
        *p = m[i % 4];
    }
    let mut chunks = buf.chunks_exact_mut(WIDE);
    for c in &mut chunks {
        xor_wide(c, &pattern);
    }
    // WIDE is a multiple of 4: the remainder starts at the same phase.
    for (b, k) in chunks.into_remainder().iter_mut().zip(pattern) {
        *b ^= k;
    }
}

#[inline(always)]
fn xor_wide(chunk: &mut [u8], pattern: &[u8; WIDE]) {
    let chunk: &mut [u8; WIDE] = chunk.try_into().expect("a whole chunk");
    for (b, k) in chunk.iter_mut().zip(pattern) {
        *b ^= k;
    }
}

/// The definition, one byte at a time: what the tests hold `unmask` to.
#[cfg(test)]
pub(crate) fn unmask_bytewise(buf: &mut [u8], mask: [u8; 4], offset: usize) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= mask[(offset + i) % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Not a constant: every byte position meets a different key byte.
    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 + 7) as u8).collect()
    }

    #[test]
    fn matches_the_bytewise_definition_for_every_length_alignment_and_phase() {
        let mask = [0xA1, 0xB2, 0xC3, 0xD4];
        // Miri runs the same test on fewer lengths (it is ~1000x slower).
        let max = if cfg!(miri) { 70 } else { 300 };
        let backing = data(max + 64);
        for len in 0..=max {
            // The slice's start within the allocation: every alignment to 32 bytes.
            for align in 0..32 {
                for phase in 0..4 {
                    let mut fast = backing[..align + len].to_vec();
                    let mut slow = fast.clone();
                    unmask(&mut fast[align..], mask, phase);
                    unmask_bytewise(&mut slow[align..], mask, phase);
                    assert_eq!(fast, slow, "len {len} align {align} phase {phase}");
                }
            }
        }
    }

    #[test]
    fn a_payload_split_across_reads_continues_the_phase() {
        let mask = [0x01, 0x80, 0xFF, 0x5A];
        let max = if cfg!(miri) { 70 } else { 300 };
        let plain = data(max);
        for len in [0, 1, 3, 4, 31, 32, 33, 64, 100, max] {
            let mut whole = plain[..len].to_vec();
            unmask_bytewise(&mut whole, mask, 0);
            // Two and three reads, at every split point.
            for a in 0..=len {
                for b in (a..=len).step_by(if cfg!(miri) { 17 } else { 1 }) {
                    let mut parts = plain[..len].to_vec();
                    let (first, rest) = parts.split_at_mut(a);
                    let (second, third) = rest.split_at_mut(b - a);
                    unmask(first, mask, 0);
                    unmask(second, mask, a);
                    unmask(third, mask, b);
                    assert_eq!(parts, whole, "len {len} split at {a} and {b}");
                }
            }
        }
    }

    #[test]
    fn unmasking_twice_gives_the_bytes_back() {
        let mut buf = data(1000);
        unmask(&mut buf, [9, 8, 7, 6], 3);
        assert_ne!(buf, data(1000));
        unmask(&mut buf, [9, 8, 7, 6], 3);
        assert_eq!(buf, data(1000));
    }
}
