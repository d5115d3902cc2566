//! Helpers shared by the kernel tests: the shared device (outputs poisoned with NaN
//! so unwritten elements fail), seeded random inputs, and a comparison that reports.
#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

use cprl::autograd::gradcheck::worst_violation;
use cprl::reference::Tolerance;
use cprl::{Gpu, Tensor};

/// The device every test shares, with NaN poisoning of fresh outputs switched on.
pub fn gpu() -> Arc<Gpu> {
    let gpu = Gpu::shared().unwrap_or_else(|e| panic!("{e}"));
    gpu.set_poison(true);
    gpu
}

/// The run's base seed: `CPRL_TEST_SEED`, or fresh from the clock (printed on
/// failure, so a failing run can be replayed).
pub fn base_seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| {
        let seed = std::env::var("CPRL_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        // Every failure in this test binary names the seed that replays it, whatever
        // assertion raised it.
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            eprintln!("replay with CPRL_TEST_SEED={seed}");
        }));
        seed
    })
}

/// Uniform values in [-1, 1), drawn from the run's seed and a per-call salt.
pub fn rand_vec(salt: u64, n: usize) -> Vec<f32> {
    cprl::reference::rng::uniform_ref(n, base_seed() ^ salt.wrapping_mul(0x9E37_79B9), -1.0, 1.0)
        .into_iter()
        .map(|v| v as f32)
        .collect()
}

/// Uniform values in [lo, hi).
pub fn rand_range(salt: u64, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    rand_vec(salt, n)
        .into_iter()
        .map(|v| lo + (hi - lo) * (v + 1.0) * 0.5)
        .collect()
}

pub fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// A device tensor of random values, and the same values in f64 for the reference.
pub fn rand_tensor(gpu: &Arc<Gpu>, salt: u64, shape: &[usize]) -> (Tensor, Vec<f64>) {
    let n = shape.iter().product();
    let v = rand_vec(salt, n);
    (Tensor::from_slice(gpu, &v, shape).unwrap(), f64s(&v))
}

/// Panics with a report unless `|got - want| <= atol + rtol * |want|` everywhere
/// (NaN in `got` always fails: poisoned, unwritten elements show up as NaN).
pub fn assert_close(what: &str, got: &[f32], want: &[f64], atol: f64, rtol: f64) {
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: length {} vs reference {}",
        got.len(),
        want.len()
    );
    let got64 = f64s(got);
    if let Some((_, i)) = worst_violation(&got64, want, atol, rtol) {
        let max_diff = got64
            .iter()
            .zip(want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f64, |m, d| if d.is_nan() { f64::INFINITY } else { m.max(d) });
        let pairs: Vec<String> = got64
            .iter()
            .zip(want)
            .take(5)
            .map(|(a, b)| format!("({a:.6}, {b:.6})"))
            .collect();
        panic!(
            "{what}: mismatch at index {i}: got {} want {} (max |diff| {max_diff:.3e}, atol {atol}, rtol {rtol}, \
             seed CPRL_TEST_SEED={}); first (got, want): {}",
            got64[i],
            want[i],
            base_seed(),
            pairs.join(" ")
        );
    }
}

/// Downloads a tensor and compares it with the reference.
pub fn assert_tensor(what: &str, t: &Tensor, want: &[f64], atol: f64, rtol: f64) {
    assert_close(what, &t.to_vec().unwrap(), want, atol, rtol);
}

/// [`assert_close`] within a family's shared tolerance (`cprl::reference::*::tolerance`),
/// the bound the benchmark's validation holds the kernel to as well.
pub fn assert_within(what: &str, got: &[f32], want: &[f64], tol: Tolerance) {
    assert_close(what, got, want, tol.atol, tol.rtol);
}

/// [`assert_tensor`] within a family's shared tolerance.
pub fn assert_tensor_within(what: &str, t: &Tensor, want: &[f64], tol: Tolerance) {
    assert_within(what, &t.to_vec().unwrap(), want, tol);
}

/// One `#[test]` per line, each calling a check: `name: check(arguments);`.
#[allow(unused_macros)]
macro_rules! call_tests {
    ($($name:ident: $check:ident($($arg:expr),* $(,)?);)*) => {$(
        #[test]
        fn $name() {
            $check($($arg),*);
        }
    )*};
}

/// The subgroup sizes an adapter could build workgroups on (`LaunchOverride::lanes`),
/// those that keep whole subgroups of this adapter in a workgroup: its own and every
/// power of two above it up to 128 (Intel 8-32, NVIDIA and Apple 32, AMD 32/64,
/// Adreno up to 128). Without subgroups (GL) every one from 8.
pub fn launch_lanes_to_sweep(gpu: &Gpu) -> Vec<u32> {
    let own = if gpu.has_subgroups() {
        gpu.info().subgroup_max_size.max(1)
    } else {
        1
    };
    [8u32, 16, 32, 64, 128]
        .into_iter()
        .filter(|l| l % own == 0)
        .collect()
}
