//! PAV V1: the naive port (see the module header of `pav`).

use std::sync::Arc;

use super::{Saved, SoftRankCall};
use crate::error::Result;
use crate::gpu::{Arg, Buf, Gpu, Kernel, Launch, grid_1d, uniform};
use crate::kernel;
use crate::tensor::Tensor;

static FORWARD_V1: Kernel = kernel!("softrank_pav_forward_v1");
static BACKWARD_V1: Kernel = kernel!("softrank_pav_backward_v1");

/// Sorted positions one sequential v1 dispatch walks per row: the isotonic loop runs
/// at most 3 iterations per position, under llvmpipe's cap of 65,535.
pub(super) const V1_CHUNK: usize = 16384;
/// Workgroup size of the v1 kernels.
pub(super) const V1_WG: u32 = 64;

crate::uniform! {
    struct ForwardV1Params {
        b: u32,
        n: u32,
        width: u32,
        c0: u32,
        c1: u32,
        scale: f32,
        _pad: [u32; 2],
    }
}

pub(super) fn forward_v1(gpu: &Arc<Gpu>, x: &Tensor, job: &SoftRankCall) -> Result<(Tensor, Saved)> {
    let (b, n) = (job.b, job.n);
    let out = Tensor::empty(gpu, &[b, n])?;
    let perm = gpu.alloc(4 * job.elems(), "soft rank permutation")?;
    let saved = |perm| Saved {
        perm: Arc::new(perm),
        stride: n,
    };
    if b * n == 0 {
        return Ok((out, saved(perm)));
    }
    let mut src = gpu.alloc(8 * job.elems(), "soft rank sort buffer")?;
    let mut dst = gpu.alloc(8 * job.elems(), "soft rank sort buffer")?;
    let stack = gpu.alloc(8 * job.elems(), "soft rank block stack")?;
    let count = gpu.alloc(4 * b as u64, "soft rank block counts")?;
    let constants = [("WG", V1_WG as f64), ("REG", job.reg_code())];
    let mut params = ForwardV1Params {
        b: b as u32,
        n: n as u32,
        width: 1,
        c0: 0,
        c1: 0,
        scale: job.scale,
        _pad: [0; 2],
    };
    let per_elem = grid_1d(job.elems().div_ceil(V1_WG as u64));
    let per_row = grid_1d((b as u64).div_ceil(V1_WG as u64));
    let launch = |entry: &'static str, p: &ForwardV1Params, src: &Buf, dst: &Buf, wg: [u32; 3]| {
        gpu.launch(Launch {
            kernel: &FORWARD_V1,
            entry,
            constants: &constants,
            params: uniform(p),
            args: &[
                Arg::R(x.buf()),
                Arg::W(src),
                Arg::W(dst),
                Arg::W(&stack),
                Arg::W(&count),
                Arg::W(out.buf()),
                Arg::W(&perm),
            ],
            workgroups: wg,
        })
    };
    launch("init", &params, &src, &dst, per_elem)?;
    while (params.width as usize) < n {
        launch("merge", &params, &src, &dst, per_elem)?;
        std::mem::swap(&mut src, &mut dst);
        params.width *= 2;
    }
    for c0 in (0..n).step_by(V1_CHUNK) {
        params.c0 = c0 as u32;
        params.c1 = (c0 + V1_CHUNK).min(n) as u32;
        launch("isotonic", &params, &src, &dst, per_row)?;
    }
    launch("output", &params, &src, &dst, per_elem)?;
    Ok((out, saved(perm)))
}

crate::uniform! {
    struct BackwardV1Params {
        b: u32,
        n: u32,
        c0: u32,
        c1: u32,
        scale: f32,
        _pad: [u32; 3],
    }
}

pub(super) fn backward_v1(
    gpu: &Arc<Gpu>,
    g: &Tensor,
    perm: &Buf,
    ranks: &Tensor,
    job: &SoftRankCall,
) -> Result<Tensor> {
    let (b, n) = (job.b, job.n);
    let dx = Tensor::empty(gpu, &[b, n])?;
    if b * n == 0 {
        return Ok(dx);
    }
    let coef = gpu.alloc(4 * job.elems(), "soft rank block coefficients")?;
    let bstart = gpu.alloc(4 * job.elems(), "soft rank block starts")?;
    let state = gpu.alloc(8 * b as u64, "soft rank backward state")?;
    let constants = [("WG", V1_WG as f64), ("REG", job.reg_code())];
    let mut params = BackwardV1Params {
        b: b as u32,
        n: n as u32,
        c0: 0,
        c1: 0,
        scale: job.scale,
        _pad: [0; 3],
    };
    let launch = |entry: &'static str, p: &BackwardV1Params, wg: [u32; 3]| {
        gpu.launch(Launch {
            kernel: &BACKWARD_V1,
            entry,
            constants: &constants,
            params: uniform(p),
            args: &[
                Arg::R(g.buf()),
                Arg::R(perm),
                Arg::R(ranks.buf()),
                Arg::W(&coef),
                Arg::W(&bstart),
                Arg::W(&state),
                Arg::W(dx.buf()),
            ],
            workgroups: wg,
        })
    };
    for c0 in (0..n).step_by(V1_CHUNK) {
        params.c0 = c0 as u32;
        params.c1 = (c0 + V1_CHUNK).min(n) as u32;
        launch("block_sums", &params, grid_1d((b as u64).div_ceil(V1_WG as u64)))?;
    }
    launch("apply", &params, grid_1d(job.elems().div_ceil(V1_WG as u64)))?;
    Ok(dx)
}
