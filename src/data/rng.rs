//! A small deterministic generator for the CPU side of the data layer (crops, flips,
//! shuffles, splits, noise of synthetic distortions): SplitMix64.
//!
//! Streams are derived from a seed and a few integers with [`SplitMix64::stream`], so
//! that a crop depends only on (seed, epoch, image) and never on thread scheduling.

/// SplitMix64 (Steele, Lea, Flood 2014): one 64-bit state, passes BigCrush, and any
/// seed (zero included) gives a good stream.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    #[must_use]
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// A generator for one (seed, keys...) tuple: each key is mixed in through a full
    /// SplitMix64 step, so neighbouring keys give unrelated streams.
    #[must_use]
    pub fn stream(seed: u64, keys: &[u64]) -> SplitMix64 {
        let mut s = SplitMix64(seed);
        for &k in keys {
            let h = s.next_u64();
            s = SplitMix64(h ^ k.wrapping_mul(0xD1B5_4A32_D192_ED03));
        }
        s
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform integer in [0, n) (n > 0), by Lemire's multiply-shift (bias below 2^-32
    /// for the sizes used here).
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    /// Standard normal by Box-Muller.
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.next_f64();
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}
