//! Counter-based random tensors (seeded): weight init, noise, random attack starts.
//!
//! v1 (`shaders/rng_v1.wgsl`): element i is a hash of (i, key), see the shader;
//! `reference::rng` computes the same bits on the CPU.

use std::sync::Arc;

use crate::error::Result;
use crate::gpu::{Arg, Gpu, Kernel, Launch, grid_1d};
use crate::kernel;
use crate::tensor::Tensor;

static RNG_V1: Kernel = kernel!("rng_v1");
const WG: u32 = 256;

crate::uniform! {
    struct Params {
        n: u32,
        k0: u32,
        k1: u32,
        dist: u32,
        a: f32,
        b: f32,
        _pad: [u32; 2],
    }
}

/// The two 32-bit key words of a 64-bit seed (a SplitMix64 step spreads its bits).
pub fn key(seed: u64) -> (u32, u32) {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z as u32, (z >> 32) as u32)
}

fn draw(gpu: &Arc<Gpu>, shape: &[usize], seed: u64, dist: u32, a: f32, b: f32) -> Result<Tensor> {
    let out = Tensor::empty(gpu, shape)?;
    let n = out.numel() as u32;
    let (k0, k1) = key(seed);
    gpu.launch(Launch {
        kernel: &RNG_V1,
        entry: "main",
        constants: &[("WG", WG as f64)],
        params: crate::gpu::uniform(&Params {
            n,
            k0,
            k1,
            dist,
            a,
            b,
            _pad: [0; 2],
        }),
        args: &[Arg::W(out.buf())],
        workgroups: grid_1d(n.div_ceil(WG) as u64),
    })?;
    Ok(out)
}

/// Uniform on [lo, hi).
pub fn uniform(gpu: &Arc<Gpu>, shape: &[usize], seed: u64, lo: f32, hi: f32) -> Result<Tensor> {
    draw(gpu, shape, seed, 0, lo, hi)
}

/// Normal with the given mean and standard deviation.
pub fn normal(gpu: &Arc<Gpu>, shape: &[usize], seed: u64, mean: f32, std: f32) -> Result<Tensor> {
    draw(gpu, shape, seed, 1, mean, std)
}
