//! f64 reference of `ops::rng`: the same counter-based bits as `rng_v1.wgsl`.

use crate::ops::rng::key;

fn mix(v: u32) -> u32 {
    let mut x = v;
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// The 32 random bits of counter `i` under `seed`.
pub fn bits_ref(seed: u64, i: u32) -> u32 {
    let (k0, k1) = key(seed);
    mix(mix(i ^ k0).wrapping_add(k1))
}

/// Uniform on [lo, hi).
pub fn uniform_ref(n: usize, seed: u64, lo: f64, hi: f64) -> Vec<f64> {
    (0..n as u32)
        .map(|i| lo + (hi - lo) * ((bits_ref(seed, i) >> 8) as f64 / 16_777_216.0))
        .collect()
}

/// Normal(mean, std) by Box-Muller, as the shader computes it.
pub fn normal_ref(n: usize, seed: u64, mean: f64, std: f64) -> Vec<f64> {
    (0..n as u32)
        .map(|i| {
            let u1 = ((bits_ref(seed, 2 * i) >> 8) + 1) as f64 / 16_777_216.0;
            let u2 = (bits_ref(seed, 2 * i + 1) >> 8) as f64 / 16_777_216.0;
            mean + std * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        })
        .collect()
}
