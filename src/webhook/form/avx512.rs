//! The first stage of form decoding with AVX-512, for x86-64 processors of the x86-64-v4 level (AVX-512 F,
//! BW, CD, DQ and VL; it uses F and BW), detected at run time (`pulp` holds the one `unsafe` call this
//! needs). It gives exactly what the portable [`decode_blocks`](super::decode_blocks_portable) gives, 64
//! bytes at a time, with the same arithmetic as the AVX2 stage; the flags are bit masks straight from the
//! comparisons, and the kept bytes are moved together 16 at a time by a 32-bit compress (widened,
//! compressed, narrowed back).

use core::arch::x86_64::{__m128i, __m512i};
use std::sync::LazyLock;

use pulp::x86::V4;

use super::{FormError, Pairs, SLACK, Splitter, finish, window};

/// Input bytes decoded per step.
const LANE: usize = 64;

/// The instruction sets, when this processor has them (checked once).
pub(super) static SIMD: LazyLock<Option<V4>> = LazyLock::new(V4::try_new);

/// [`decode_blocks`](super::decode_blocks_portable) with AVX-512: `body` decoded and compacted, then
/// `SLACK` zeros; and its pairs.
pub(super) fn decode_blocks(simd: V4, body: &[u8]) -> Result<(Vec<u8>, Pairs), FormError> {
    simd.vectorize(
        #[inline(always)]
        || decode(simd, body),
    )
}

#[inline(always)]
fn decode(simd: V4, body: &[u8]) -> Result<(Vec<u8>, Pairs), FormError> {
    let (f, bw) = (simd.avx512f, simd.avx512bw);
    let steps = body.len().div_ceil(LANE);
    // Each 16-byte piece is stored whole and the next one overwrites what is past its kept bytes.
    let mut text = vec![0u8; steps * LANE + SLACK];
    let zero = f._mm512_setzero_si512();
    // The vector of the 64 bytes of `window` from `at`.
    let load = |window: &[u8; LANE + 4], at: usize| -> __m512i {
        window.get(at..at + LANE).and_then(|s| <[u8; LANE]>::try_from(s).ok()).map_or(zero, pulp::cast)
    };
    let splat = |b: u8| f._mm512_set1_epi8(b as i8);
    let eq = |a: __m512i, b: u8| bw._mm512_cmpeq_epi8_mask(a, splat(b));
    let is_hex = |b: __m512i| {
        let digit = bw._mm512_cmple_epu8_mask(bw._mm512_sub_epi8(b, splat(b'0')), splat(9));
        let lower = f._mm512_or_si512(b, splat(0x20));
        digit | bw._mm512_cmple_epu8_mask(bw._mm512_sub_epi8(lower, splat(b'a')), splat(5))
    };
    // A hex digit's value: its low nibble, plus 9 for a letter.
    let nibble = |b: __m512i| {
        let low = f._mm512_and_si512(b, splat(0x0F));
        bw._mm512_mask_add_epi8(low, bw._mm512_test_epi8_mask(b, splat(0x40)), low, splat(9))
    };
    let mut split = Splitter::new(body);
    let (mut malformed, mut at) = (0u64, 0usize);
    for step in 0..steps {
        // A step reads its bytes shifted by -2 to +2.
        let start = step * LANE;
        let mut edge = [0u8; LANE + 4];
        let window = window(body, start, &mut edge);
        let (byte, before1, before2, next1, next2) =
            (load(window, 2), load(window, 1), load(window, 0), load(window, 3), load(window, 4));
        let escape = eq(byte, b'%');
        let first_digit = eq(before1, b'%');
        // As in `decode_block`, each byte checks the next one when that is an escape's digit (this byte
        // or the one before it is `%`): every digit is checked, the last ones past the body too.
        malformed |= (escape | first_digit) & !is_hex(next1);
        // The digits of an escape are dropped.
        let keep = !(first_digit | eq(before2, b'%'));
        // Not masked like the portable one's low nibble: for a hex digit it is at most 15, and any
        // other byte there has made the body malformed.
        let high = f._mm512_and_si512(bw._mm512_slli_epi16::<4>(nibble(next1)), splat(0xF0));
        let decoded = f._mm512_or_si512(high, nibble(next2));
        let spaced = bw._mm512_mask_mov_epi8(byte, eq(byte, b'+'), splat(b' '));
        let vals = bw._mm512_mask_mov_epi8(spaced, escape, decoded);
        let separators = eq(byte, b'&') | eq(byte, b'=');
        let input = body.get(start..).unwrap_or_default();
        split.step(input, separators, keep, at);
        let quarters = [
            f._mm512_extracti32x4_epi32::<0>(vals),
            f._mm512_extracti32x4_epi32::<1>(vals),
            f._mm512_extracti32x4_epi32::<2>(vals),
            f._mm512_extracti32x4_epi32::<3>(vals),
        ];
        for (i, quarter) in quarters.into_iter().enumerate() {
            let mask = (keep >> (16 * i)) as u16;
            let packed = f._mm512_maskz_compress_epi32(mask, f._mm512_cvtepu8_epi32(quarter));
            let bytes: [u8; 16] = pulp::cast::<__m128i, _>(f._mm512_cvtepi32_epi8(packed));
            // `text` has room: at most one byte is kept per input byte, and `SLACK` more.
            if let Some(dst) = text.get_mut(at..at + 16) {
                dst.copy_from_slice(&bytes);
            }
            at += mask.count_ones() as usize;
        }
    }
    if malformed != 0 {
        return Err(FormError::MalformedEscape);
    }
    Ok(finish(text, at, steps * LANE - body.len(), split))
}
