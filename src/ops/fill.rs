//! Fill: writes one f32 bit pattern into every element.
//!
//! v1 (`shaders/fill.wgsl`): one invocation per element. Used for constants and for
//! NaN poisoning of fresh outputs in tests.

use crate::error::Result;
use crate::gpu::{Arg, Kernel, Launch, grid_1d, uniform};
use crate::kernel;
use crate::tensor::Tensor;

static FILL: Kernel = kernel!("fill");
const WG: u32 = 256;

crate::uniform! {
    struct Params {
        n: u32,
        bits: u32,
    }
}

/// Writes `bits` (an f32 bit pattern) into every element of `t`, in place.
pub fn fill_bits(t: &Tensor, bits: u32) -> Result<()> {
    let n = t.numel() as u32;
    t.gpu().launch(Launch {
        kernel: &FILL,
        entry: "main",
        constants: &[("WG", WG as f64)],
        params: uniform(&Params { n, bits }),
        args: &[Arg::W(t.buf())],
        workgroups: grid_1d(n.div_ceil(WG) as u64),
    })
}

/// Writes `value` into every element of `t`, in place.
pub fn fill(t: &Tensor, value: f32) -> Result<()> {
    fill_bits(t, value.to_bits())
}
