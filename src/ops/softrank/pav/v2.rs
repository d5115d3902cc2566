//! PAV V2: one row per SIMD lane, for CPU drivers (see the module header of `pav`).

use std::sync::Arc;

use super::{Saved, SoftRankCall};
use crate::error::Result;
use crate::gpu::{Arg, Buf, Gpu, Kernel, Launch, grid_1d, uniform};
use crate::kernel;
use crate::ops::softrank::Regularization;
use crate::tensor::Tensor;

static SORT_V2: Kernel = kernel!("softrank_pav_sort_v2");
static ISOTONIC_V2: Kernel = kernel!("softrank_pav_isotonic_v2");
static BACKWARD_V2: Kernel = kernel!("softrank_pav_backward_v2");

/// Longest row of v2: its isotonic kernel runs up to 2.75 n loop iterations per row,
/// under llvmpipe's cap of 65,535.
pub(super) const V2_MAX_N: usize = 16384;
/// Run length v2 sorts in registers (`R` in softrank_pav_sort_v2.wgsl); pair buffers
/// have rows of n rounded up to it.
pub(super) const V2_RUN: usize = 64;

/// Whether the sort reads x as vec4s: rows of a multiple of 4 values (every row then
/// starts 16-byte aligned). Named in the tuning key (`pav::PavTuneKey`).
pub(super) fn reads_x4(n: usize) -> bool {
    n.is_multiple_of(4)
}

/// Row length of the pair buffers: n rounded up to whole runs.
pub(super) fn padded_row(n: usize) -> usize {
    n.next_multiple_of(V2_RUN).max(V2_RUN)
}

/// The isotonic kernel's entry for runs of `width` in rows of `npad`: `main4` merges
/// up to 4 runs, `main16` up to 16.
pub(super) fn isotonic_entry(width: usize, npad: usize) -> &'static str {
    if 4 * width >= npad { "main4" } else { "main16" }
}

/// Workgroup size of the one-row-per-invocation kernels: one SIMD vector of lavapipe
/// (8 lanes of 32 bits) on CPU drivers, so that few rows still spread over the cores;
/// 64 elsewhere.
pub(super) fn row_wg(gpu: &Gpu) -> u32 {
    if gpu.launch_as_cpu() { 8 } else { 64 }
}

crate::uniform! {
    struct SortV2Params {
        b: u32,
        n: u32,
        npad: u32,
        width: u32,
        scale: f32,
        _pad: [u32; 3],
    }
}

crate::uniform! {
    struct RowV2Params {
        b: u32,
        n: u32,
        npad: u32,
        scale: f32,
    }
}

/// Sorts every row of `x * scale` decreasingly into runs of (key, index) pairs with the
/// v2 kernels, until at most 16 runs are left; returns the buffer holding the runs, a free
/// one of the same size, and the run length.
pub(super) fn sort_v2(
    gpu: &Arc<Gpu>,
    x: &Tensor,
    job: &SoftRankCall,
    npad: usize,
) -> Result<(Buf, Buf, usize)> {
    let b = job.b;
    let bytes = 8 * (b * npad) as u64;
    let mut src = gpu.alloc(bytes, "soft rank sort buffer")?;
    let mut dst = gpu.alloc(bytes, "soft rank sort buffer")?;
    let wg = row_wg(gpu);
    let mut p = SortV2Params {
        b: b as u32,
        n: job.n as u32,
        npad: npad as u32,
        width: V2_RUN as u32,
        scale: job.scale,
        _pad: [0; 3],
    };
    // The shader reads x as vec4s when n % 4 == 0; otherwise it never touches binding 2,
    // which then gets a stand-in (a vec4 array binding must hold at least 16 bytes).
    let stand_in;
    let x4 = if reads_x4(job.n) {
        x.buf()
    } else {
        stand_in = gpu.alloc(16, "soft rank unused binding")?;
        &stand_in
    };
    let launch = |entry: &'static str, p: &SortV2Params, src: &Buf, dst: &Buf, threads: usize| {
        gpu.launch(Launch {
            kernel: &SORT_V2,
            entry,
            constants: &[("WG", wg as f64)],
            params: uniform(p),
            args: &[Arg::R(x.buf()), Arg::R(x4), Arg::W(src), Arg::W(dst)],
            workgroups: grid_1d((threads as u64).div_ceil(wg as u64)),
        })
    };
    // `runs` writes dst (binding 4); it reads no pairs.
    launch("runs", &p, &src, &dst, b * (npad / V2_RUN))?;
    std::mem::swap(&mut src, &mut dst);
    // 16-way passes until at most 16 runs are left (the isotonic kernel merges those):
    // a pass costs more than a wider tournament (NOTES.md, Soft rank, PAV).
    let fan = 16;
    while 16 * (p.width as usize) < npad {
        let groups = npad.div_ceil(fan * p.width as usize);
        launch("merge16", &p, &src, &dst, b * groups)?;
        std::mem::swap(&mut src, &mut dst);
        p.width *= fan as u32;
    }
    Ok((src, dst, p.width as usize))
}

pub(super) fn forward_v2(gpu: &Arc<Gpu>, x: &Tensor, job: &SoftRankCall) -> Result<(Tensor, Saved)> {
    let (b, n) = (job.b, job.n);
    let npad = padded_row(n);
    let out = Tensor::empty(gpu, &[b, n])?;
    let perm = gpu.alloc(4 * (b * npad) as u64, "soft rank permutation")?;
    if b * n > 0 {
        // Runs of `width` (at most 4 per row) in `runs`; the isotonic kernel merges them
        // into `merged` as it goes.
        let (runs, merged, width) = sort_v2(gpu, x, job, npad)?;
        let stack = gpu.alloc(8 * (b * npad) as u64, "soft rank block stack")?;
        let wg = row_wg(gpu);
        let p = SortV2Params {
            b: b as u32,
            n: n as u32,
            npad: npad as u32,
            width: width as u32,
            scale: job.scale,
            _pad: [0; 3],
        };
        gpu.launch(Launch {
            kernel: &ISOTONIC_V2,
            entry: isotonic_entry(width, npad),
            constants: &[("WG", wg as f64), ("REG", job.reg_code())],
            params: uniform(&p),
            args: &[
                Arg::R(&runs),
                Arg::W(&merged),
                Arg::W(&merged),
                Arg::W(&stack),
                Arg::W(out.buf()),
                Arg::W(&perm),
            ],
            workgroups: grid_1d((b as u64).div_ceil(wg as u64)),
        })?;
    }
    Ok((
        out,
        Saved {
            perm: Arc::new(perm),
            stride: npad,
        },
    ))
}

pub(super) fn backward_v2(
    gpu: &Arc<Gpu>,
    g: &Tensor,
    saved: &Saved,
    ranks: &Tensor,
    job: &SoftRankCall,
) -> Result<Tensor> {
    let (b, n) = (job.b, job.n);
    let dx = Tensor::empty(gpu, &[b, n])?;
    if b * n == 0 {
        return Ok(dx);
    }
    let npad = saved.stride;
    let scratch = 4 * (b * npad) as u64;
    let coef = gpu.alloc(scratch, "soft rank block coefficients")?;
    let us = gpu.alloc(scratch, "soft rank sorted cotangent")?;
    let rs = match job.reg {
        Regularization::Kl => Some(gpu.alloc(scratch, "soft rank sorted ranks")?),
        Regularization::L2 => None,
    };
    let wg = row_wg(gpu);
    let p = RowV2Params {
        b: b as u32,
        n: n as u32,
        npad: npad as u32,
        scale: job.scale,
    };
    gpu.launch(Launch {
        kernel: &BACKWARD_V2,
        entry: "main",
        constants: &[("WG", wg as f64), ("REG", job.reg_code())],
        params: uniform(&p),
        args: &[
            Arg::R(g.buf()),
            Arg::R(ranks.buf()),
            Arg::R(&saved.perm),
            Arg::W(&coef),
            Arg::W(&us),
            // l2 never touches rs4: any buffer will do.
            Arg::W(rs.as_ref().unwrap_or(&coef)),
            Arg::W(dx.buf()),
        ],
        workgroups: grid_1d((b as u64).div_ceil(wg as u64)),
    })?;
    Ok(dx)
}
