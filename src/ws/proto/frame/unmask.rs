//! Unmasking (RFC 6455 5.3): XOR every payload byte with the 4-byte key, the key's phase
//! continuing across reads. It is the one pass the server makes over every payload byte, so
//! it goes 32 bytes at a time: the key repeated to a 32-byte pattern, rotated to the phase,
//! XORed into each chunk. Written as a plain array loop that LLVM turns into SIMD XORs, in
//! safe code: `std::simd` is not stable, and a crate for one XOR loop would add unsafe code
//! we would have to trust rather than a loop the compiler checks. The same loop is compiled
//! twice: for any x86-64 (two SSE2 XORs per chunk) and with AVX2 enabled (one), the second
//! chosen at run time when the CPU has AVX2 (`std::is_x86_feature_detected!`, cached by std).
//!
//! `unmask_extend` unmasks while it copies, for a message assembled from several reads: the
//! payload is read once and written once, instead of unmasked in the read buffer and then
//! copied.

use std::mem::MaybeUninit;

/// Bytes per step of the wide loop.
const WIDE: usize = 32;

/// XOR `buf` with the masking key, `offset` bytes into the payload.
pub fn unmask(buf: &mut [u8], mask: [u8; 4], offset: usize) {
    #[cfg(target_arch = "x86_64")]
    if buf.len() >= 2 * WIDE && std::is_x86_feature_detected!("avx2") {
        // SAFETY: `unmask_avx2` only asks that the CPU has AVX2, which was just checked.
        return unsafe { unmask_avx2(buf, mask, offset) };
    }
    unmask_wide(buf, mask, offset)
}

/// Append `src` to `dst` unmasked (`offset` bytes into the payload): one pass over the bytes.
pub fn unmask_extend(dst: &mut Vec<u8>, src: &[u8], mask: [u8; 4], offset: usize) {
    dst.reserve(src.len());
    let len = dst.len();
    let spare = &mut dst.spare_capacity_mut()[..src.len()];
    #[cfg(target_arch = "x86_64")]
    if src.len() >= 2 * WIDE && std::is_x86_feature_detected!("avx2") {
        // SAFETY: `xor_into_avx2` only asks that the CPU has AVX2, which was just checked.
        unsafe { xor_into_avx2(spare, src, mask, offset) };
        // SAFETY: `xor_into` writes every element of `spare`, the `src.len()` bytes after
        // `len` (all within the capacity reserved above), so they are initialized.
        unsafe { dst.set_len(len + src.len()) };
        return;
    }
    xor_into(spare, src, mask, offset);
    // SAFETY: as above: `xor_into` initialized the `src.len()` bytes after `len`.
    unsafe { dst.set_len(len + src.len()) };
}

/// The key repeated to `WIDE` bytes, starting at its byte `offset % 4`.
#[inline(always)]
fn pattern(mask: [u8; 4], offset: usize) -> [u8; WIDE] {
    let mut m = mask;
    m.rotate_left(offset % 4);
    let mut pattern = [0u8; WIDE];
    for (i, p) in pattern.iter_mut().enumerate() {
        *p = m[i % 4];
    }
    pattern
}

/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn unmask_avx2(buf: &mut [u8], mask: [u8; 4], offset: usize) {
    unmask_wide(buf, mask, offset)
}

/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn xor_into_avx2(dst: &mut [MaybeUninit<u8>], src: &[u8], mask: [u8; 4], offset: usize) {
    xor_into(dst, src, mask, offset)
}

/// The loop itself, inlined into each of its callers so that each is compiled for its
/// callers' target features.
#[inline(always)]
fn unmask_wide(buf: &mut [u8], mask: [u8; 4], offset: usize) {
    let pattern = pattern(mask, offset);
    let mut chunks = buf.chunks_exact_mut(WIDE);
    for c in &mut chunks {
        let c: &mut [u8; WIDE] = c.try_into().expect("a whole chunk");
        for (b, k) in c.iter_mut().zip(&pattern) {
            *b ^= k;
        }
    }
    // WIDE is a multiple of 4: the remainder starts at the same phase.
    for (b, k) in chunks.into_remainder().iter_mut().zip(pattern) {
        *b ^= k;
    }
}

/// `dst[i] = src[i] ^ key`, every element of `dst` written (`dst` and `src` have one length).
#[inline(always)]
fn xor_into(dst: &mut [MaybeUninit<u8>], src: &[u8], mask: [u8; 4], offset: usize) {
    assert_eq!(dst.len(), src.len());
    let pattern = pattern(mask, offset);
    let mut d = dst.chunks_exact_mut(WIDE);
    let mut s = src.chunks_exact(WIDE);
    for (dc, sc) in (&mut d).zip(&mut s) {
        let dc: &mut [MaybeUninit<u8>; WIDE] = dc.try_into().expect("a whole chunk");
        let sc: &[u8; WIDE] = sc.try_into().expect("a whole chunk");
        for i in 0..WIDE {
            dc[i].write(sc[i] ^ pattern[i]);
        }
    }
    for ((d, s), k) in d
        .into_remainder()
        .iter_mut()
        .zip(s.remainder())
        .zip(pattern)
    {
        d.write(s ^ k);
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

    type Unmask = fn(&mut [u8], [u8; 4], usize);

    /// Every implementation this CPU can run: the portable loop always, AVX2 when present
    /// (under Miri, which has no AVX2, only the portable one).
    fn implementations() -> Vec<(&'static str, Unmask)> {
        let mut all: Vec<(&'static str, Unmask)> =
            vec![("portable", unmask_wide), ("dispatched", unmask)];
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 was just detected.
            all.push(("avx2", |b, m, o| unsafe { unmask_avx2(b, m, o) }));
        }
        all
    }

    #[test]
    fn every_implementation_matches_the_definition_on_random_lengths_alignments_and_phases() {
        let rounds = if cfg!(miri) { 30 } else { 3000 };
        let backing = data(5000);
        for (name, f) in implementations() {
            for _ in 0..rounds {
                let len = fastrand::usize(..if cfg!(miri) { 200 } else { 4000 });
                let align = fastrand::usize(..64);
                let phase = fastrand::usize(..8);
                let mask = fastrand::u32(..).to_ne_bytes();
                let mut fast = backing[..align + len].to_vec();
                let mut slow = fast.clone();
                f(&mut fast[align..], mask, phase);
                unmask_bytewise(&mut slow[align..], mask, phase);
                assert_eq!(fast, slow, "{name}: len {len} align {align} phase {phase}");
            }
        }
    }

    #[test]
    fn unmask_extend_appends_what_unmasking_in_place_gives() {
        let rounds = if cfg!(miri) { 30 } else { 3000 };
        let backing = data(5000);
        for _ in 0..rounds {
            let len = fastrand::usize(..if cfg!(miri) { 200 } else { 4000 });
            let align = fastrand::usize(..64);
            let phase = fastrand::usize(..8);
            let mask = fastrand::u32(..).to_ne_bytes();
            let src = &backing[align..align + len];
            // Already holding some bytes, with and without spare capacity.
            let mut dst = data(fastrand::usize(..100));
            if fastrand::bool() {
                dst.reserve(fastrand::usize(..5000));
            }
            let mut want = dst.clone();
            let mut plain = src.to_vec();
            unmask_bytewise(&mut plain, mask, phase);
            want.extend_from_slice(&plain);
            unmask_extend(&mut dst, src, mask, phase);
            assert_eq!(dst, want, "len {len} align {align} phase {phase}");
        }
        // The portable loop, also where AVX2 would be chosen.
        let src = data(1000);
        let mut dst = Vec::with_capacity(1000);
        xor_into(&mut dst.spare_capacity_mut()[..1000], &src, [1, 2, 3, 4], 1);
        // SAFETY: `xor_into` wrote all 1000 bytes.
        unsafe { dst.set_len(1000) };
        let mut want = src.clone();
        unmask_bytewise(&mut want, [1, 2, 3, 4], 1);
        assert_eq!(dst, want);
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
