//! The first stage of form decoding with AVX2, for x86-64 processors that have it (detected at run time;
//! `pulp` holds the one `unsafe` call this needs). It gives exactly what the portable
//! [`decode_blocks`](super::decode_blocks_portable) gives, 32 bytes at a time: every byte decoded as if a
//! token started there (as `decode_block` does), and the kept bytes moved together with a byte shuffle, 8
//! at a time, instead of a shift network.

use core::arch::x86_64::__m256i;
use std::sync::LazyLock;

use pulp::x86::V3;

use super::{FormError, Pairs, SHUFFLE, SLACK, Splitter, finish, store_word, window};

/// Input bytes decoded per step.
const LANE: usize = 32;

/// The instruction sets, when this processor has them (checked once).
pub(super) static SIMD: LazyLock<Option<V3>> = LazyLock::new(V3::try_new);

/// [`decode_blocks`](super::decode_blocks_portable) with AVX2: `body` decoded and compacted, then
/// `SLACK` zeros; and its pairs.
pub(super) fn decode_blocks(simd: V3, body: &[u8]) -> Result<(Vec<u8>, Pairs), FormError> {
    simd.vectorize(
        #[inline(always)]
        || decode(simd, body),
    )
}

#[inline(always)]
fn decode(simd: V3, body: &[u8]) -> Result<(Vec<u8>, Pairs), FormError> {
    let (avx, avx2) = (simd.avx, simd.avx2);
    let steps = body.len().div_ceil(LANE);
    // Each word is stored whole (8 bytes) and the next one overwrites what is past its kept bytes.
    let mut text = vec![0u8; steps * LANE + SLACK];
    let zero = avx._mm256_setzero_si256();
    // The vector of the 32 bytes of `window` from `at`.
    let load = |window: &[u8; LANE + 4], at: usize| -> __m256i {
        window.get(at..at + LANE).and_then(|s| <[u8; LANE]>::try_from(s).ok()).map_or(zero, pulp::cast)
    };
    let splat = |b: u8| avx._mm256_set1_epi8(b as i8);
    let eq = |a: __m256i, b: u8| avx2._mm256_cmpeq_epi8(a, splat(b));
    // `a` at most `max`, unsigned.
    let at_most = |a: __m256i, max: u8| avx2._mm256_cmpeq_epi8(avx2._mm256_min_epu8(a, splat(max)), a);
    let is_hex = |b: __m256i| {
        let digit = at_most(avx2._mm256_sub_epi8(b, splat(b'0')), 9);
        let letter = at_most(avx2._mm256_sub_epi8(avx2._mm256_or_si256(b, splat(0x20)), splat(b'a')), 5);
        avx2._mm256_or_si256(digit, letter)
    };
    // A hex digit's value: its low nibble, plus 9 for a letter.
    let nibble = |b: __m256i| {
        let letter = eq(avx2._mm256_and_si256(b, splat(0x40)), 0x40);
        avx2._mm256_add_epi8(avx2._mm256_and_si256(b, splat(0x0F)), avx2._mm256_and_si256(letter, splat(9)))
    };
    let mut split = Splitter::new(body);
    let (mut malformed, mut at) = (zero, 0usize);
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
        let checks_next = avx2._mm256_or_si256(escape, first_digit);
        malformed = avx2._mm256_or_si256(malformed, avx2._mm256_andnot_si256(is_hex(next1), checks_next));
        // The digits of an escape are dropped.
        let digit = avx2._mm256_or_si256(first_digit, eq(before2, b'%'));
        // Not masked like the portable one's low nibble: for a hex digit it is at most 15, and any
        // other byte there has made the body malformed.
        let decoded = avx2._mm256_or_si256(
            avx2._mm256_and_si256(avx2._mm256_slli_epi16::<4>(nibble(next1)), splat(0xF0)),
            nibble(next2),
        );
        let plus = avx2._mm256_and_si256(eq(byte, b'+'), splat(b'+' ^ b' '));
        let vals = avx2._mm256_blendv_epi8(avx2._mm256_xor_si256(byte, plus), decoded, escape);
        let keep = !(avx2._mm256_movemask_epi8(digit) as u32);
        let separators =
            avx2._mm256_movemask_epi8(avx2._mm256_or_si256(eq(byte, b'&'), eq(byte, b'='))) as u32;
        let input = body.get(step * LANE..).unwrap_or_default();
        split.step(input, u64::from(separators), u64::from(keep), at);
        for (half, lane) in [avx._mm256_castsi256_si128(vals), avx2._mm256_extracti128_si256::<1>(vals)]
            .into_iter()
            .enumerate()
        {
            let (lo, hi) = ((keep >> (16 * half)) as u8, (keep >> (16 * half + 8)) as u8);
            let shuffle = |mask: u8| SHUFFLE.get(usize::from(mask)).copied().unwrap_or_default();
            // The high word's indices are 8 more (`0x80` stays a zero).
            let control =
                simd.sse2._mm_set_epi64x((shuffle(hi) | 0x0808_0808_0808_0808) as i64, shuffle(lo) as i64);
            let packed: [u64; 2] = pulp::cast(simd.ssse3._mm_shuffle_epi8(lane, control));
            store_word(&mut text, &mut at, packed[0], lo.count_ones());
            store_word(&mut text, &mut at, packed[1], hi.count_ones());
        }
    }
    if avx2._mm256_movemask_epi8(malformed) != 0 {
        return Err(FormError::MalformedEscape);
    }
    Ok(finish(text, at, steps * LANE - body.len(), split))
}
