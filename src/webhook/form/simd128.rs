//! The first stage of form decoding with WebAssembly SIMD, when the module is built with it
//! (`-C target-feature=+simd128`, as `bindings/wasm/build.sh` does). It gives exactly what the portable
//! [`decode_blocks`](super::decode_blocks_portable) gives, 16 bytes at a time, as the AVX2 one does on
//! x86-64: every byte decoded as if a token started there, and the kept bytes moved together with a
//! byte shuffle (`i8x16.swizzle`), 8 at a time.

use core::arch::wasm32::{
    i8x16_swizzle, i16x8_shl, u8x16_add, u8x16_bitmask, u8x16_eq, u8x16_min, u8x16_splat, u8x16_sub, u64x2,
    u64x2_extract_lane, v128, v128_and, v128_andnot, v128_any_true, v128_bitselect, v128_or, v128_xor,
};

use super::{FormError, Pairs, SHUFFLE, SLACK, Splitter, finish, store_word, window};

/// Input bytes decoded per step.
const LANE: usize = 16;

/// The vector of the 16 bytes of `window` from `at` (zero where `window` ends).
#[inline(always)]
fn load(window: &[u8; LANE + 4], at: usize) -> v128 {
    let word = |from: usize| {
        window.get(from..from + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()).map_or(0, u64::from_le_bytes)
    };
    u64x2(word(at), word(at + 8))
}

/// [`decode_blocks`](super::decode_blocks_portable) with WebAssembly SIMD: `body` decoded and
/// compacted, then `SLACK` zeros; and its pairs.
pub(super) fn decode_blocks(body: &[u8]) -> Result<(Vec<u8>, Pairs), FormError> {
    let steps = body.len().div_ceil(LANE);
    // Each word is stored whole (8 bytes) and the next one overwrites what is past its kept bytes.
    let mut text = vec![0u8; steps * LANE + SLACK];
    let splat = u8x16_splat;
    let eq = |a: v128, b: u8| u8x16_eq(a, splat(b));
    // `a` at most `max`, unsigned.
    let at_most = |a: v128, max: u8| u8x16_eq(u8x16_min(a, splat(max)), a);
    let is_hex = |b: v128| {
        let digit = at_most(u8x16_sub(b, splat(b'0')), 9);
        let letter = at_most(u8x16_sub(v128_or(b, splat(0x20)), splat(b'a')), 5);
        v128_or(digit, letter)
    };
    // A hex digit's value: its low nibble, plus 9 for a letter.
    let nibble = |b: v128| {
        let letter = eq(v128_and(b, splat(0x40)), 0x40);
        u8x16_add(v128_and(b, splat(0x0F)), v128_and(letter, splat(9)))
    };
    let mut split = Splitter::new(body);
    let (mut malformed, mut at) = (splat(0), 0usize);
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
        let checks_next = v128_or(escape, first_digit);
        malformed = v128_or(malformed, v128_andnot(checks_next, is_hex(next1)));
        // The digits of an escape are dropped.
        let digit = v128_or(first_digit, eq(before2, b'%'));
        // Not masked like the portable one's low nibble: for a hex digit it is at most 15, and any
        // other byte there has made the body malformed.
        let decoded = v128_or(v128_and(i16x8_shl(nibble(next1), 4), splat(0xF0)), nibble(next2));
        let plus = v128_and(eq(byte, b'+'), splat(b'+' ^ b' '));
        let vals = v128_bitselect(decoded, v128_xor(byte, plus), escape);
        let keep = !u8x16_bitmask(digit);
        let amps = eq(byte, b'&');
        let separators = u8x16_bitmask(v128_or(amps, eq(byte, b'=')));
        let input = body.get(start..).unwrap_or_default();
        split.step(input, u64::from(separators), u64::from(keep), at);
        let (lo, hi) = (keep as u8, (keep >> 8) as u8);
        let shuffle = |mask: u8| SHUFFLE.get(usize::from(mask)).copied().unwrap_or_default();
        // The high word's indices are 8 more (`0x80` stays a zero).
        let control = u64x2(shuffle(lo), shuffle(hi) | 0x0808_0808_0808_0808);
        let packed = i8x16_swizzle(vals, control);
        store_word(&mut text, &mut at, u64x2_extract_lane::<0>(packed), lo.count_ones());
        store_word(&mut text, &mut at, u64x2_extract_lane::<1>(packed), hi.count_ones());
    }
    if v128_any_true(malformed) {
        return Err(FormError::MalformedEscape);
    }
    Ok(finish(text, at, steps * LANE - body.len(), split))
}
