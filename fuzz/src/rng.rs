//! A small deterministic PRNG (SplitMix64): no dependency, reproducible from a seed.

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next_u64() % n as u64) as usize }
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: usize, den: usize) -> bool {
        self.below(den) < num
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }

    pub fn digits(&mut self, len: usize) -> String {
        (0..len).map(|_| char::from(b'0' + self.below(10) as u8)).collect()
    }

    pub fn hex(&mut self, len: usize) -> String {
        const HEX: &[u8] = b"0123456789abcdef";
        (0..len).map(|_| char::from(HEX[self.below(16)])).collect()
    }

    pub fn alnum(&mut self, len: usize) -> String {
        const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..len).map(|_| char::from(ALNUM[self.below(ALNUM.len())])).collect()
    }

    /// Any Unicode scalar value, weighted towards ASCII and the characters that matter here.
    pub fn any_char(&mut self) -> char {
        match self.below(10) {
            0..=3 => char::from(self.range(0x20, 0x7E) as u8),
            4 => char::from(self.below(0x80) as u8),
            5 => *self.pick(&['é', 'ç', 'ß', 'Ω', '€', '£', '\u{a0}', '\u{2028}', '\u{2029}', '\u{301}']),
            6 => *self.pick(&['✓', '漢', '。', '！', '😀', '👍', '\u{200d}', '🇫', '🇷', '\u{fe0f}']),
            7 => char::from_u32(self.range(0x80, 0x7FF) as u32).unwrap_or('x'),
            8 => char::from_u32(self.range(0x800, 0xFFFF) as u32).unwrap_or('y'),
            _ => char::from_u32(self.range(0x1_0000, 0x10_FFFF) as u32).unwrap_or('z'),
        }
    }

    pub fn unicode(&mut self, max_len: usize) -> String {
        let len = self.below(max_len + 1);
        (0..len).map(|_| self.any_char()).collect()
    }
}

/// A seed from the environment-independent clock, or the one given.
pub fn seed_from_time() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x5EED)
        ^ u64::from(std::process::id())
}
