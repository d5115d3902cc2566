//! The counter-based RNG kernel reproduces its CPU reference, and its moments are right.

mod common;

use common::*;
use cprl::ops::rng;
use cprl::reference::rng as r;

#[test]
fn rng_uniform_v1_matches_ref() {
    let gpu = gpu();
    for (n, seed) in [(1usize, 0u64), (255, 1), (1000, 42), (1 << 20, base_seed())] {
        let t = rng::uniform(&gpu, &[n], seed, -2.0, 3.0).unwrap();
        // Same bits; lo + (hi - lo) * u rounds once in f32.
        assert_tensor(
            &format!("uniform n={n}"),
            &t,
            &r::uniform_ref(n, seed, -2.0, 3.0),
            1e-6,
            1e-6,
        );
    }
}

#[test]
fn rng_normal_v1_matches_ref() {
    let gpu = gpu();
    for (n, seed) in [(1usize, 3u64), (1001, 9), (1 << 18, base_seed())] {
        let t = rng::normal(&gpu, &[n], seed, 0.5, 2.0).unwrap();
        // f32 log/sqrt/cos against f64: cos(2 pi u) carries ~4e-6 absolute error
        // (argument rounding near pi/2), scaled by std * r with r up to 5.8.
        assert_tensor(
            &format!("normal n={n}"),
            &t,
            &r::normal_ref(n, seed, 0.5, 2.0),
            1e-4,
            1e-5,
        );
    }
}

#[test]
fn rng_moments_and_seeds() {
    let n = 1 << 18;
    let u = r::uniform_ref(n, 7, 0.0, 1.0);
    let mean = u.iter().sum::<f64>() / n as f64;
    let var = u.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
    // Uniform(0,1): mean 1/2, variance 1/12; standard errors ~6e-4 and ~2e-4.
    assert!(
        (mean - 0.5).abs() < 3e-3 && (var - 1.0 / 12.0).abs() < 2e-3,
        "{mean} {var}"
    );
    let z = r::normal_ref(n, 7, 0.0, 1.0);
    let zm = z.iter().sum::<f64>() / n as f64;
    let zv = z.iter().map(|v| (v - zm).powi(2)).sum::<f64>() / n as f64;
    assert!(zm.abs() < 1e-2 && (zv - 1.0).abs() < 2e-2, "{zm} {zv}");
    assert_ne!(r::uniform_ref(8, 1, 0.0, 1.0), r::uniform_ref(8, 2, 0.0, 1.0));
}
